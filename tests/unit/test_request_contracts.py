"""The published request schemas of checkout, shipping quotes and order reads agree with the validators behind them.

What a route accepts, its schema must allow (a fuzzer sending what the schema forbids expects a refusal), and the
validators' limits are the ones the document publishes: one source for both.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from chalicelib.checkout.contract import OPERATIONS as CHECKOUT
from chalicelib.checkout.contract import SCHEMAS as CHECKOUT_SCHEMAS
from chalicelib.checkout.domain import parse_request
from chalicelib.contract import Schema, page_limit
from chalicelib.errors import ValidationFailed
from chalicelib.orders.contract import ORDER_ID
from chalicelib.orders.contract import SCHEMAS as ORDER_SCHEMAS
from chalicelib.orders.domain import checked_order_id
from chalicelib.shipping.contract import SCHEMAS as SHIPPING_SCHEMAS
from chalicelib.shipping.service import parse_destination
from chalicelib.validation import (
    CITY_MAX,
    CONTACT_NAME_MAX,
    PHONE_MAX_CHARS,
    STREET_MAX,
    Fields,
    city,
    query_int,
    street,
)

COMPONENTS = {"schemas": {**ORDER_SCHEMAS, **CHECKOUT_SCHEMAS, **SHIPPING_SCHEMAS}}


def valid(schema: Schema, value: Any) -> bool:
    return Draft202012Validator({"allOf": [schema], "components": COMPONENTS}).is_valid(value)


BODY: dict[str, Any] = {
    "cart_id": "a" * 32,
    "customer": {"name": "Rina Kartika", "email": "rina@example.id", "phone": "081334455667"},
    "shipping_address": {"recipient": "Rina Kartika", "phone": "081334455667", "street": "Jl. Arief Rahman Hakim 45",
                         "city": "Surabaya", "province": "Jawa Timur", "postal_code": "60111", "notes": "Pagar hijau"},
    "shipping": {"courier": "JNE", "service": "REG"},
    "payment_method": "bank_transfer",
}


def _changed(path: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(BODY)
    *parents, leaf = path.split(".")
    target = body
    for parent in parents:
        target = target[parent]
    if value is _ABSENT:
        target.pop(leaf, None)
    else:
        target[leaf] = value
    return body


_ABSENT = object()


def _checkout_variants() -> Iterator[Any]:
    edges: dict[str, list[Any]] = {
        "customer.name": ["R", "x" * CONTACT_NAME_MAX, "x" * (CONTACT_NAME_MAX + 1), "   ", "", None, 3],
        "customer.email": ["RINA@Example.ID", " rina@example.id ", "rina@", "x" * 250 + "@e.id", None],
        "customer.phone": ["0812-3456-7890", "+62 812 3456 7890", "0" * PHONE_MAX_CHARS, "0" * (PHONE_MAX_CHARS + 1),
                           " 081234567890 ", " " * 30 + "081234567890", 81234567890, None],
        "shipping_address.street": ["x" * STREET_MAX, "x" * (STREET_MAX + 1), " " + "x" * STREET_MAX, "  "],
        "shipping_address.city": ["x" * CITY_MAX, " " + "x" * (CITY_MAX - 1), " " + "x" * CITY_MAX],
        "shipping_address.postal_code": ["60111", "06011", "6011", "601111", 60111, None],
        "shipping_address.notes": [None, "", "   ", "x" * 300, "x" * 301, _ABSENT],
        "shipping.courier": ["J", "x" * 40, "x" * 41, ""],
        "payment_method": ["card", "cod", "paypal", None],
        "bank": ["bni", "mandiri", "BCA", None, _ABSENT],
        "store": ["alfamart", None],
        "redeem_points": [0, 5, 5.0, 5.5, -1, 10_000_000, 10_000_001, True, None],
        "channel": ["web", "app/ios 1.2", "", "x" * 60, "x" * 61, "web!", None],
        "utm_source": ["ig", "ig ads", None],
        "extra": ["unknown field"],
    }
    for path, values in edges.items():
        for value in values:
            shown = "absent" if value is _ABSENT else value if not isinstance(value, str) or len(value) < 30 \
                else f"{len(value)} chars"
            yield pytest.param(_changed(path, value), id=f"{path}={shown!r}")
    yield pytest.param({**BODY, "payment_method": "convenience_store", "store": "indomaret"}, id="store, its method")
    yield pytest.param({**BODY, "payment_method": "card", "bank": "bca"}, id="bank with card")
    yield pytest.param({**BODY, "payment_method": "card", "bank": None}, id="null bank with card")


@pytest.mark.parametrize("body", list(_checkout_variants()))
def test_every_checkout_body_the_validator_accepts_the_schema_allows(body: dict[str, Any]) -> None:
    schema = CHECKOUT["checkout"].body
    assert schema is not None
    try:
        parse_request(Fields(body))
    except ValidationFailed:
        return
    assert valid(schema, body), body


def test_the_checkout_schema_refuses_what_the_validator_refuses_by_its_limits() -> None:
    schema = CHECKOUT["checkout"].body
    assert schema is not None
    assert valid(schema, BODY)
    for path, value in [("customer.name", "x" * (CONTACT_NAME_MAX + 1)), ("shipping_address.postal_code", "06011"),
                        ("payment_method", "paypal"), ("redeem_points", -1), ("extra", 1), ("channel", "web!")]:
        assert not valid(schema, _changed(path, value)), path
    assert not valid(schema, {**BODY, "payment_method": "card", "bank": "bca"})
    assert valid(schema, {**BODY, "payment_method": "card", "bank": None})


@pytest.mark.parametrize("destination", [
    {"postal_code": "60111", "city": "Surabaya", "province": "Jawa Timur"},
    {"postal_code": " 60111", "city": " Surabaya ", "province": "Jawa Timur "},
    {"postal_code": "60111", "city": "x" * CITY_MAX, "province": "Jawa Timur"},
    {"postal_code": "60111", "city": "x" * CITY_MAX + " ", "province": "Jawa Timur"},
    {"postal_code": "60111", "city": "Surabaya", "province": "Jawa Timur", "notes": "x"},
    {"postal_code": "60111", "city": "Surabaya"},
])
def test_every_destination_a_quote_accepts_the_schema_allows(destination: dict[str, Any]) -> None:
    try:
        parse_destination(Fields(destination, path="destination"))
    except ValidationFailed:
        return
    assert valid(SHIPPING_SCHEMAS["ShippingDestination"], destination), destination


def test_a_line_of_text_is_measured_as_sent_like_every_other_text_field() -> None:
    """Surrounding blanks count toward the limit, so maxLength in the document means exactly what it says."""
    assert street("x" * STREET_MAX) == "x" * STREET_MAX
    assert city(" Surabaya ") == "Surabaya"
    with pytest.raises(ValueError, match="at most"):
        street(" " + "x" * STREET_MAX)
    with pytest.raises(ValueError, match="at most"):
        city("x" * CITY_MAX + " ")


@pytest.mark.parametrize(("raw", "accepted"), [
    ("5", 5), ("", None), ("100", 100), ("007", 7), ("101", None), ("0", None), ("-1", None), ("1.5", None),
    ("\u0663", None), ("\uff15", None), (" 5", None), ("+5", None),
])
def test_a_page_size_is_ascii_digits_in_range_and_an_empty_one_is_refused(raw: str, accepted: int | None) -> None:
    try:
        read = query_int({"limit": raw}, "limit", default=20, min_value=1, max_value=100)
    except ValidationFailed:
        read = None
    assert read == accepted
    if accepted is not None and raw != "007":  # a leading zero is read, not advertised
        assert valid(page_limit("orders"), int(raw))


@pytest.mark.parametrize(("raw", "accepted"), [
    ("TK-261123-7QX2MD", True), (" TK-261123-7QX2MD ", True), ("TK-\u0662\u0666\u0661\u0661\u0662\u0663-7QX2MD", False),
    ("TK-261123-7qx2md", False), ("TK-261123-7QX2MD7QX2MD", False),
])
def test_an_order_id_is_read_exactly_as_the_document_states_it(raw: str, accepted: bool) -> None:
    try:
        checked_order_id(raw)
        read = True
    except ValidationFailed:
        read = False
    assert read == accepted
    assert valid(ORDER_ID, raw) == accepted
