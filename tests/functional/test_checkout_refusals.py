"""Which refusal a checkout answers when several things are wrong at once, and what it answers when another writer
changes the stock, the cart, the voucher or the points between the checkout's reads and its transaction (the
transaction's conditions catch it: the cancellation is mapped to the same answer a fresh read would give).

Checked before the transaction, in this order: the cart (not found, checked out), empty, a SKU no longer for sale,
the voucher, short stock, shipping, points. A cancelled transaction: stock or points moved meanwhile are decided
again on fresh reads; otherwise the cart, then the voucher.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.cart import repository as cart_repository
from chalicelib.inventory import service as inventory
from chalicelib.inventory.domain import ADJUSTMENT
from chalicelib.loyalty import repository as points_repository
from chalicelib.loyalty import service as loyalty
from chalicelib.vouchers.repository import VoucherModel
from tests.functional.helpers import (
    body_of,
    checkout,
    checkout_body,
    create_product,
    create_voucher,
    new_cart,
    put_item,
    send,
    snapshot,
)

SARI = "cust-sari"


@pytest.fixture
def staff(client: Any, auth_header: Any) -> dict[str, str]:
    headers: dict[str, str] = auth_header("staff")
    return headers


def error_of(answer: Any) -> tuple[int, str, str, Any]:
    error = body_of(answer)["error"]
    return answer.status_code, error["code"], error["message"], error.get("details")


def grant(client: Any, auth_header: Any, points: int) -> None:
    answer = send(client, "POST", f"/admin/customers/{SARI}/points",
                  {"points": points, "reason": "welcome", "reference": "welcome-1"}, auth_header("admin"))
    assert answer.status_code == 201, answer.body


def cart_with(client: Any, lines: dict[str, int], *, voucher: str | None = None,
              headers: dict[str, str] | None = None) -> str:
    cart_id = new_cart(client, headers)
    for sku, quantity in lines.items():
        put_item(client, cart_id, sku, quantity, headers)
    if voucher:
        assert send(client, "POST", f"/carts/{cart_id}/voucher", {"code": voucher}, headers).status_code == 200
    return cart_id


def deactivate(code: str) -> None:
    VoucherModel(code).update(actions=[VoucherModel.active.set(False)])


# ---- several problems at once, all seen before the transaction ---------------------------------------------


def test_a_sku_no_longer_for_sale_wins_over_the_voucher_and_short_stock(client: Any, staff: Any) -> None:
    archived = create_product(client, staff, sku="BTK-OLD", stock=5)
    create_product(client, staff, sku="BTK-A", stock=1, price=200_000)
    create_voucher(client, staff, "JOGJA10")
    cart_id = cart_with(client, {"BTK-OLD": 1, "BTK-A": 3}, voucher="JOGJA10")
    deactivate("JOGJA10")
    assert client.http.post(f"/admin/products/{archived['product_id']}/archive", headers=staff).status_code == 200

    assert error_of(checkout(client, checkout_body(cart_id))) == (
        409, "sku_unavailable", "no longer for sale: BTK-OLD", {"skus": ["BTK-OLD"]})


def test_a_voucher_that_no_longer_applies_wins_over_short_stock(client: Any, staff: Any) -> None:
    create_product(client, staff, sku="BTK-A", stock=1, price=200_000)
    create_voucher(client, staff, "JOGJA10")
    cart_id = cart_with(client, {"BTK-A": 3}, voucher="JOGJA10")
    deactivate("JOGJA10")

    assert error_of(checkout(client, checkout_body(cart_id))) == (
        422, "voucher_not_applicable", "voucher JOGJA10 cannot be used: voucher is no longer active", None)


def test_short_stock_wins_over_points_the_customer_does_not_have(client: Any, staff: Any, auth_header: Any) -> None:
    create_product(client, staff, sku="BTK-A", stock=1, price=200_000)
    grant(client, auth_header, 100)
    sari = auth_header("customer", SARI)
    cart_id = cart_with(client, {"BTK-A": 2}, headers=sari)

    assert error_of(checkout(client, checkout_body(cart_id, redeem_points=500), sari)) == (
        409, "insufficient_stock", "not enough stock for BTK-A",
        {"skus": {"BTK-A": {"requested": 2, "available": 1}}})


def test_points_beyond_the_balance_win_over_points_beyond_the_limit(client: Any, staff: Any,
                                                                    auth_header: Any) -> None:
    create_product(client, staff, sku="BTK-A", stock=5, price=200_000)
    grant(client, auth_header, 100)
    sari = auth_header("customer", SARI)
    cart_id = cart_with(client, {"BTK-A": 1}, headers=sari)

    assert error_of(checkout(client, checkout_body(cart_id, redeem_points=5_000), sari)) == (
        422, "insufficient_points", "you have 100 points; this checkout asks for 5000",
        {"balance": 100, "redeem_points": 5_000})


def test_a_cart_already_checked_out_wins_over_everything_else(client: Any, staff: Any) -> None:
    create_product(client, staff, sku="BTK-A", stock=2, price=200_000)
    cart_id = cart_with(client, {"BTK-A": 2})
    placed = checkout(client, checkout_body(cart_id))
    assert placed.status_code == 201, placed.body

    status, code, _, details = error_of(checkout(client, checkout_body(cart_id)))

    assert (status, code, details) == (409, "cart_checked_out", {"order_id": body_of(placed)["order_id"]})


# ---- another writer between the checkout's reads and its transaction ----------------------------------------


@pytest.fixture
def meanwhile(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Run the given changes once, after the checkout has read and decided and before its transaction."""

    def arrange(*changes: Callable[[], Any]) -> None:
        original = inventory.commit_movements
        pending = list(changes)

        def commit_movements(*args: Any, **kwargs: Any) -> Any:
            while pending:
                pending.pop(0)()
            return original(*args, **kwargs)

        monkeypatch.setattr(inventory, "commit_movements", commit_movements)

    return arrange


def take_stock(sku: str, units: int) -> Callable[[], Any]:
    return lambda: inventory.adjust(sku, delta=-units, kind=ADJUSTMENT, reason="breakage", actor="staff-1")


def touch_cart(cart_id: str) -> Callable[[], Any]:
    return lambda: cart_repository.save(cart_repository.get(cart_id))  # type: ignore[arg-type]


def use_up(code: str) -> Callable[[], Any]:
    return lambda: VoucherModel(code).update(actions=[VoucherModel.used.set(1)])


def test_stock_taken_meanwhile_is_refused_with_the_fresh_availability(
        client: Any, staff: Any, aws: Any, meanwhile: Callable[..., None]) -> None:
    create_product(client, staff, sku="BTK-A", stock=3, price=200_000)
    cart_id = cart_with(client, {"BTK-A": 2})
    meanwhile(take_stock("BTK-A", 2))

    answer = checkout(client, checkout_body(cart_id))

    assert error_of(answer) == (409, "insufficient_stock", "not enough stock for BTK-A",
                                {"skus": {"BTK-A": {"requested": 2, "available": 1}}})
    assert snapshot(aws)["orders"] == []


def test_stock_moved_meanwhile_but_still_enough_is_sold(client: Any, staff: Any,
                                                         meanwhile: Callable[..., None]) -> None:
    create_product(client, staff, sku="BTK-A", stock=5, price=200_000)
    cart_id = cart_with(client, {"BTK-A": 2})
    meanwhile(take_stock("BTK-A", 1))

    answer = checkout(client, checkout_body(cart_id))

    assert answer.status_code == 201, answer.body
    level = inventory.level("BTK-A")
    assert (level["on_hand"], level["reserved"]) == (4, 2)


def test_a_cart_changed_meanwhile_is_a_cart_conflict(client: Any, staff: Any,
                                                     meanwhile: Callable[..., None]) -> None:
    create_product(client, staff, sku="BTK-A", stock=5, price=200_000)
    cart_id = cart_with(client, {"BTK-A": 1})
    meanwhile(touch_cart(cart_id))

    assert error_of(checkout(client, checkout_body(cart_id))) == (
        409, "cart_conflict", "the cart changed or was checked out meanwhile; reload it", None)


def test_a_voucher_used_up_meanwhile_is_refused_as_used_up(client: Any, staff: Any,
                                                           meanwhile: Callable[..., None]) -> None:
    create_product(client, staff, sku="BTK-A", stock=5, price=200_000)
    create_voucher(client, staff, "JOGJA10", usage_limit=1)
    cart_id = cart_with(client, {"BTK-A": 1}, voucher="JOGJA10")
    meanwhile(use_up("JOGJA10"))

    assert error_of(checkout(client, checkout_body(cart_id))) == (
        409, "voucher_used_up", "voucher JOGJA10 has just been used up", None)


@pytest.mark.parametrize(("changes", "expected"), [
    (("cart", "voucher"), "cart_conflict"),
    (("stock", "voucher"), "voucher_used_up"),
    (("stock", "cart", "voucher"), "cart_conflict"),
    (("short", "cart", "voucher"), "insufficient_stock"),
])
def test_when_several_things_changed_meanwhile_the_same_refusal_wins(
        client: Any, staff: Any, meanwhile: Callable[..., None], changes: tuple[str, ...], expected: str) -> None:
    create_product(client, staff, sku="BTK-A", stock=5, price=200_000)
    create_voucher(client, staff, "JOGJA10", usage_limit=1)
    cart_id = cart_with(client, {"BTK-A": 2}, voucher="JOGJA10")
    meanwhile(*[{"cart": touch_cart(cart_id), "voucher": use_up("JOGJA10"), "stock": take_stock("BTK-A", 1),
                 "short": take_stock("BTK-A", 4)}[change] for change in changes])

    answer = checkout(client, checkout_body(cart_id))

    assert answer.status_code == 409 and body_of(answer)["error"]["code"] == expected, answer.body


def test_points_spent_meanwhile_are_refused_and_nothing_is_sold(
        client: Any, staff: Any, auth_header: Any, aws: Any, meanwhile: Callable[..., None]) -> None:
    create_product(client, staff, sku="BTK-A", stock=5, price=200_000)
    grant(client, auth_header, 1_000)
    sari = auth_header("customer", SARI)
    cart_id = cart_with(client, {"BTK-A": 1}, headers=sari)
    meanwhile(lambda: loyalty.adjust(SARI, points=-600, reason="correction", reference="fix-1", actor="admin-1"))

    answer = checkout(client, checkout_body(cart_id, redeem_points=500), sari)

    assert error_of(answer) == (422, "insufficient_points", "the balance is 400 points; redeemed asks for 500",
                                {"balance": 400})
    assert snapshot(aws)["orders"] == []
    assert points_repository.get_account(SARI).balance == 400
    assert inventory.level("BTK-A")["reserved"] == 0
