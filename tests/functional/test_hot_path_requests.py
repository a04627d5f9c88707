"""The hot paths read each item once: a cart's stock levels, products, voucher and points account in one request,
the SKU being added with its cart, nothing read again before checkout's transaction. A cart without its lines'
product ids (saved before it kept them), or with a wrong one, is still priced from the stock rows."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from botocore.client import BaseClient

from chalicelib import resources
from chalicelib.cart import repository as cart_repository
from tests.functional.helpers import (
    body_of,
    checkout,
    checkout_body,
    create_product,
    create_voucher,
    new_cart,
    put_item,
    send,
)

SARI = "cust-sari"
# In production these are HTTPS calls to the payment gateway and the courier, not AWS requests.
PROVIDER_TABLES = {resources.SANDBOX_PAYMENTS.physical_name, resources.SANDBOX_COURIERS.physical_name}


class Calls(list[tuple[str, dict[str, Any]]]):
    """(operation, parameters) of every AWS call, whichever client made it."""

    def shop(self) -> list[tuple[str, dict[str, Any]]]:
        return [(operation, params) for operation, params in self if params.get("TableName") not in PROVIDER_TABLES]

    def operations(self) -> Counter[str]:
        return Counter(operation for operation, _ in self.shop())

    def reads(self) -> list[tuple[str, set[str]]]:
        """Each read with the tables it reads, idempotency records aside (the checkout's own bookkeeping)."""
        found = []
        for operation, params in self.shop():
            if operation == "GetItem" and params["TableName"] != resources.IDEMPOTENCY.physical_name:
                found.append((operation, {params["TableName"]}))
            elif operation == "BatchGetItem":
                found.append((operation, set(params["RequestItems"])))
        return found


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    recorded = Calls()
    original = BaseClient._make_api_call

    def recording(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        recorded.append((operation_name, api_params))
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return recorded


@pytest.fixture
def shop(client: Any, auth_header: Any) -> dict[str, str]:
    staff = auth_header("staff")
    create_product(client, staff, sku="BTK-A", stock=20, price=200_000)
    create_product(client, staff, sku="BTK-B", stock=20, price=100_000)
    create_voucher(client, staff, "JOGJA10")
    return staff


STOCK, PRODUCTS, CARTS = (resources.STOCK.physical_name, resources.PRODUCTS.physical_name,
                          resources.CARTS.physical_name)


def test_adding_a_line_of_another_product_takes_three_requests(client: Any, shop: Any, calls: Calls) -> None:
    cart_id = new_cart(client)
    put_item(client, cart_id, "BTK-A", 1)
    calls.clear()

    view = put_item(client, cart_id, "BTK-B", 2)

    assert [line["sku"] for line in view["lines"]] == ["BTK-A", "BTK-B"]
    assert view["totals"]["subtotal"] == 400_000
    assert calls.operations() == {"BatchGetItem": 2, "PutItem": 1}
    assert calls.reads() == [("BatchGetItem", {CARTS, STOCK}), ("BatchGetItem", {STOCK, PRODUCTS})]


def test_a_cart_and_a_shipping_quote_read_stock_products_and_voucher_in_one_request(
        client: Any, shop: Any, calls: Calls) -> None:
    cart_id = new_cart(client)
    put_item(client, cart_id, "BTK-A", 1)
    put_item(client, cart_id, "BTK-B", 1)
    assert send(client, "POST", f"/carts/{cart_id}/voucher", {"code": "jogja10"}).status_code == 200
    calls.clear()

    assert client.http.get(f"/carts/{cart_id}").status_code == 200
    quote = send(client, "POST", "/shipping/quote", {"cart_id": cart_id, "destination": {
        "postal_code": "12110", "city": "Jakarta Selatan", "province": "DKI Jakarta"}})

    assert quote.status_code == 200, quote.body
    one_batch = ("BatchGetItem", {STOCK, PRODUCTS, resources.VOUCHERS.physical_name})
    assert calls.reads() == [("GetItem", {CARTS}), one_batch] * 2


def test_applying_a_voucher_reads_it_with_the_cart_once(client: Any, shop: Any, calls: Calls) -> None:
    cart_id = new_cart(client)
    put_item(client, cart_id, "BTK-A", 1)
    calls.clear()

    answer = send(client, "POST", f"/carts/{cart_id}/voucher", {"code": "jogja10"})

    assert answer.status_code == 200 and body_of(answer)["totals"]["discount"] == 20_000
    assert calls.reads() == [("BatchGetItem", {CARTS, resources.VOUCHERS.physical_name}),
                             ("BatchGetItem", {STOCK, PRODUCTS})]


def test_checkout_reads_the_cart_then_everything_else_once(client: Any, shop: Any, calls: Calls) -> None:
    cart_id = new_cart(client)
    put_item(client, cart_id, "BTK-A", 1)
    put_item(client, cart_id, "BTK-B", 2)
    assert send(client, "POST", f"/carts/{cart_id}/voucher", {"code": "JOGJA10"}).status_code == 200
    calls.clear()

    answer = checkout(client, checkout_body(cart_id))

    assert answer.status_code == 201, answer.body
    assert body_of(answer)["totals"]["discount"] == 40_000
    assert calls.reads() == [("GetItem", {CARTS}),
                             ("BatchGetItem", {STOCK, PRODUCTS, resources.VOUCHERS.physical_name})]
    assert calls.operations()["TransactWriteItems"] == 1
    assert calls.operations()["UpdateItem"] == 2  # the order's payment instructions, the idempotency record


def test_spending_points_reads_the_account_with_the_stock_once(client: Any, shop: Any, auth_header: Any,
                                                               calls: Calls) -> None:
    grant = send(client, "POST", f"/admin/customers/{SARI}/points",
                 {"points": 1_000, "reason": "welcome", "reference": "welcome-1"}, auth_header("admin"))
    assert grant.status_code == 201, grant.body
    sari = auth_header("customer", SARI)
    cart_id = new_cart(client, sari)
    put_item(client, cart_id, "BTK-A", 1, sari)
    calls.clear()

    answer = checkout(client, checkout_body(cart_id, redeem_points=500), sari)

    assert answer.status_code == 201, answer.body
    assert body_of(answer)["totals"]["points_redeemed"] == 500
    assert calls.reads() == [("GetItem", {CARTS}),
                             ("BatchGetItem", {STOCK, PRODUCTS, resources.LOYALTY.physical_name})]


@pytest.mark.parametrize("product_ids", [None, {"BTK-A": "prd_wrong", "BTK-B": "prd_wrong"}])
def test_a_cart_without_its_lines_products_or_with_wrong_ones_is_priced_from_the_stock_rows(
        client: Any, shop: Any, calls: Calls, product_ids: dict[str, str] | None) -> None:
    # GIVEN a cart saved before it kept its lines' product ids (or with wrong ones)
    cart_id = new_cart(client)
    put_item(client, cart_id, "BTK-A", 1)
    put_item(client, cart_id, "BTK-B", 1)
    item = cart_repository.CartModel.get(cart_id)
    item.product_ids = product_ids
    item.save()
    calls.clear()

    # WHEN it is read
    view = body_of(client.http.get(f"/carts/{cart_id}"))

    # THEN it is priced as before, with one more read for the products the stock rows name
    assert [(line["sku"], line["unit_price"], line["sellable"]) for line in view["lines"]] == [
        ("BTK-A", 200_000, True), ("BTK-B", 100_000, True)]
    assert [tables for _, tables in calls.reads()][1:] == [{STOCK} | ({PRODUCTS} if product_ids else set()),
                                                           {PRODUCTS}]
    # AND the next change stores the right ones, so later reads are one request again
    put_item(client, cart_id, "BTK-A", 2)
    assert cart_repository.get(cart_id).product_ids == {  # type: ignore[union-attr]
        line["sku"]: line["product_id"] for line in view["lines"]}
    calls.clear()
    assert client.http.get(f"/carts/{cart_id}").status_code == 200
    assert calls.reads() == [("GetItem", {CARTS}), ("BatchGetItem", {STOCK, PRODUCTS})]


def test_removing_a_line_forgets_its_product(client: Any, shop: Any) -> None:
    cart_id = new_cart(client)
    put_item(client, cart_id, "BTK-A", 1)
    put_item(client, cart_id, "BTK-B", 1)

    put_item(client, cart_id, "BTK-A", 0)

    assert set(cart_repository.get(cart_id).product_ids) == {"BTK-B"}  # type: ignore[union-attr]
