"""The customer chooses how to pay at checkout: a virtual account at BCA, BNI, BRI, Permata or Mandiri (a bill
payment), or a convenience store's cashier; each gets its own instructions, and a choice that does not fit the
payment method is a 400 that changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.functional.helpers import body_of, checkout, checkout_body, create_product, new_cart, put_item, snapshot


def buy(client: Any, auth_header: Any, **body: Any) -> Any:
    create_product(client, auth_header("staff"), sku="BTK-P", stock=5, price=100_000)
    cart_id = new_cart(client)
    put_item(client, cart_id, "BTK-P", 1)
    return checkout(client, checkout_body(cart_id, **body))


@pytest.mark.parametrize(("bank", "field"), [("bni", "va_number"), ("bri", "va_number"), ("permata", "va_number"),
                                             ("mandiri", "bill_key")])
def test_a_virtual_account_opens_at_the_bank_the_customer_chose(client: Any, auth_header: Any, bank: str,
                                                                field: str) -> None:
    placed = body_of(buy(client, auth_header, payment_method="bank_transfer", bank=bank))
    assert placed["payment_channel"] == bank
    assert placed["payment"]["bank"] == bank and placed["payment"][field]


def test_without_a_bank_the_virtual_account_is_bcas(client: Any, auth_header: Any) -> None:
    placed = body_of(buy(client, auth_header, payment_method="bank_transfer"))
    assert placed["payment_channel"] == "bca" and placed["payment"]["bank"] == "bca"


@pytest.mark.parametrize("store", ["indomaret", "alfamart"])
def test_a_convenience_store_payment_gives_a_code_for_the_cashier(client: Any, auth_header: Any, store: str) -> None:
    placed = body_of(buy(client, auth_header, payment_method="convenience_store", store=store))
    assert placed["payment"]["store"] == store and len(placed["payment"]["payment_code"]) == 16


@pytest.mark.parametrize(("body", "field"), [
    ({"payment_method": "card", "bank": "bni"}, "bank"),
    ({"payment_method": "bank_transfer", "bank": "mybank"}, "bank"),
    ({"payment_method": "bank_transfer", "store": "indomaret"}, "store"),
    ({"payment_method": "convenience_store", "store": "warung"}, "store"),
])
def test_a_payment_choice_that_does_not_fit_is_a_400_naming_it(client: Any, auth_header: Any, aws: Any,
                                                              body: dict[str, Any], field: str) -> None:
    create_product(client, auth_header("staff"), sku="BTK-P", stock=5, price=100_000)
    cart_id = new_cart(client)
    put_item(client, cart_id, "BTK-P", 1)
    before = snapshot(aws)
    answer = checkout(client, checkout_body(cart_id, **body))
    assert answer.status_code == 400 and body_of(answer)["error"]["details"]["field"] == field
    assert snapshot(aws) == before
