"""One set of phone, kode pos and address rules for checkout, shipping quotes and courier booking.

The property that matters: whatever checkout accepts, every courier adapter can book (sandbox rate card and
Biteship), and whatever a booking accepts, checkout accepts too. A paid order whose phone the courier refuses
sits PACKED until a person fixes it, so the two sides must never disagree.
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib import config
from chalicelib.checkout.domain import CheckoutRequest, parse_request
from chalicelib.errors import ValidationFailed
from chalicelib.shipping.biteship import BiteshipCourier
from chalicelib.shipping.couriers import Address, BookingRequest, Contact, RateCardCourier
from chalicelib.shipping.domain import Destination, ParcelItem
from chalicelib.shipping.service import parse_destination
from chalicelib.validation import (
    ADDRESS_NOTES_MAX,
    CITY_MAX,
    CONTACT_NAME_MAX,
    PROVINCE_MAX,
    STREET_MAX,
    Fields,
    indonesian_phone,
    national_phone,
    postal_code,
)
from tests.fakes import FakeTransport

# Biteship's documented POST /v1/orders answer (biteship.com/docs/api/orders/create): reconstructed, not recorded.
ORDER_CREATED = (Path(__file__).resolve().parent.parent / "fixtures" / "biteship" / "order_created.json").read_bytes()
BATIK = ParcelItem(name="Kain batik tulis", weight_grams=300, quantity=2, value=450_000)
SHOP = config.Shop(name="TokoKita", phone="+62274000000", street="Jl. Kemasan 1, Kotagede", city="Yogyakarta",
                   province="DI Yogyakarta", postal_code="55173")
ADDRESS: dict[str, Any] = {
    "recipient": "Rina Kartika",
    "phone": "081334455667",
    "street": "Jl. Arief Rahman Hakim No. 45",
    "city": "Surabaya",
    "province": "Jawa Timur",
    "postal_code": "60111",
    "notes": "Pagar hijau",
}


def checkout_body(**address_changes: Any) -> dict[str, Any]:
    address = {**copy.deepcopy(ADDRESS), **address_changes}
    return {
        "cart_id": "a" * 32,
        "customer": {"name": "Rina Kartika", "email": "rina@example.id", "phone": "081334455667"},
        "shipping_address": {key: value for key, value in address.items() if value is not None},
        "shipping": {"courier": "JNE", "service": "REG"},
        "payment_method": "bank_transfer",
    }


def booking(address: dict[str, Any], order_id: str = "TK-261123-7QX2MD") -> BookingRequest:
    """The booking fulfilment builds for an order shipped to `address` (chalicelib/fulfilment/service.py)."""
    return BookingRequest(
        order_id=order_id,
        courier="JNE",
        service="REG",
        items=(BATIK,),
        origin_contact=Contact(name=SHOP.name, phone=SHOP.phone),
        origin_address=Address(street=SHOP.street, city=SHOP.city, province=SHOP.province,
                               postal_code=SHOP.postal_code),
        destination_contact=Contact(name=address["recipient"], phone=address["phone"], email="rina@example.id"),
        destination_address=Address(street=address["street"], city=address["city"], province=address["province"],
                                    postal_code=address["postal_code"], notes=address["notes"] or ""),
    )


def checkout_accepts(body: dict[str, Any]) -> CheckoutRequest | None:
    try:
        return parse_request(Fields(body))
    except ValidationFailed:
        return None


def booking_builds(address: dict[str, Any]) -> BookingRequest | None:
    try:
        return booking(address)
    except ValueError:
        return None


def book_with_every_courier(request: BookingRequest) -> None:
    """Both adapters take the request: the sandbox books it, Biteship builds its body and books it."""
    RateCardCourier(origin_city=SHOP.city, origin_province=SHOP.province).book(request)
    transport = FakeTransport([(200, ORDER_CREATED)])
    BiteshipCourier(api_key="biteship_test.key", origin_postal_code=SHOP.postal_code, transport=transport).book(request)
    sent = transport.last.json
    assert sent["destination_contact_phone"] == national_phone(request.destination_contact.phone)
    assert sent["destination_postal_code"] == int(request.destination_address.postal_code)


# ---- the rules themselves ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "stored"), [
    ("081234567890", "+6281234567890"),
    ("0812-3456-7890", "+6281234567890"),
    ("0812 3456 7890", "+6281234567890"),
    ("0812.3456.7890", "+6281234567890"),
    (" +62 812-3456-7890 ", "+6281234567890"),
    ("6281234567890", "+6281234567890"),
    ("81234567890", "+6281234567890"),
    ("0812345678", "+62812345678"),  # the shortest mobile numbers: 10 digits with the 0
    ("0812-3456-78901", "+62812345678901"),  # the longest: 13
    ("(0274) 512345", "+62274512345"),
    ("(021) 5082-0000", "+622150820000"),
    ("+62 (274) 512345", "+62274512345"),
    ("0274-512345", "+62274512345"),
])
def test_phones_are_stored_in_one_international_form(typed: str, stored: str) -> None:
    assert indonesian_phone(typed) == stored
    assert indonesian_phone(stored) == stored
    assert national_phone(typed) == "0" + stored[3:]


FULL_WIDTH_PHONE = "081234567890".translate({ord(digit): ord(digit) + 0xFEE0 for digit in "0123456789"})
BAD_PHONES = [
    pytest.param("0812345678-", "single spaces, dots or hyphens", id="trailing-hyphen"),
    pytest.param("0812345", "10 to 13 digits", id="too-short-mobile"),
    pytest.param("0-------", "single spaces, dots or hyphens", id="a-zero-and-hyphens"),
    pytest.param("0274 5123", "9 to 13 digits", id="too-short-landline"),
    pytest.param("0812-3456-7890-1234", "10 to 13 digits", id="too-long"),
    pytest.param("0812--3456-7890", "single spaces, dots or hyphens", id="double-hyphen"),
    pytest.param("-081234567890", "single spaces, dots or hyphens", id="leading-hyphen"),
    pytest.param("+6581234567", "Indonesian number", id="singapore"),
    pytest.param("+62 0812 3456 7890", "not another 0", id="zero-after-country-code"),
    pytest.param("0081234567890", "not another 0", id="double-zero"),
    pytest.param("7123456789", "must start with 0, 62 or +62", id="no-leading-zero"),
    pytest.param("08123456789O", "single spaces, dots or hyphens", id="letter-o"),
    pytest.param(FULL_WIDTH_PHONE, "single spaces, dots or hyphens", id="full-width-digits"),
    pytest.param("(0274 512345", "single spaces, dots or hyphens", id="unclosed-parenthesis"),
    pytest.param("call me", "single spaces, dots or hyphens", id="words"),
    pytest.param("", "must not be empty", id="empty"),
    pytest.param(81234567890, "must be a string", id="a-number"),
]


@pytest.mark.parametrize(("typed", "problem"), BAD_PHONES)
def test_what_is_not_an_indonesian_phone_is_refused_saying_why(typed: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        indonesian_phone(typed)


@pytest.mark.parametrize(("typed", "problem"), BAD_PHONES)
@pytest.mark.parametrize("field", ["customer.phone", "shipping_address.phone"])
def test_checkout_refuses_each_bad_phone_with_a_400_naming_the_field(typed: Any, problem: str, field: str) -> None:
    body = checkout_body()
    section, name = field.split(".")
    body[section][name] = typed
    with pytest.raises(ValidationFailed) as refused:
        parse_request(Fields(body))
    error = refused.value.to_dict()["error"]
    assert refused.value.status == 400
    assert (error["code"], error["details"]) == ("validation_failed", {"field": field})
    assert error["message"].startswith(f"{field}: ") and problem in error["message"]


@pytest.mark.parametrize(("typed", "problem"), BAD_PHONES)
def test_courier_booking_refuses_the_same_phones(typed: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=f"phone: .*{re.escape(problem)}"):
        Contact(name="Rina", phone=typed)


def test_checkout_stores_the_normalised_phone_and_trimmed_address() -> None:
    accepted = parse_request(Fields(checkout_body(phone=" 0813-3445-5667 ", postal_code=" 60111 ",
                                                  street="  Jl. Arief Rahman Hakim No. 45  ")))
    assert accepted.shipping_address["phone"] == "+6281334455667"
    assert accepted.customer["phone"] == "+6281334455667"
    assert accepted.shipping_address["postal_code"] == "60111"
    assert accepted.shipping_address["street"] == "Jl. Arief Rahman Hakim No. 45"


@pytest.mark.parametrize("code", ["1211", "121100", "01234", "ABCDE", "12 110", "١٢١١٠", "", 12110])
def test_a_kode_pos_is_five_ascii_digits_not_starting_with_zero(code: Any) -> None:
    with pytest.raises(ValueError):
        postal_code(code)
    with pytest.raises(ValueError, match="postal_code"):
        Destination(postal_code=code, city="Jakarta Selatan", province="DKI Jakarta")
    with pytest.raises(ValidationFailed) as refused:
        parse_destination(Fields({"postal_code": code, "city": "Jakarta Selatan", "province": "DKI Jakarta"},
                                 path="destination"))
    assert refused.value.field == "destination.postal_code"


def test_quotes_booking_and_checkout_read_a_destination_alike() -> None:
    quoted = parse_destination(Fields({"postal_code": " 60111", "city": " Surabaya ", "province": "Jawa Timur "},
                                      path="destination"))
    assert quoted == Destination(postal_code="60111", city="Surabaya", province="Jawa Timur")
    assert booking({**ADDRESS, "postal_code": " 60111", "city": " Surabaya "}).destination == quoted


# ---- the property: checkout accepts <=> a booking builds (and books) ---------------------------------------------


def _variants() -> Iterator[Any]:
    """One field changed at a time from a valid address, over the edges of every rule (the province variants are
    spellings of a real province, so the sandbox can zone every accepted one)."""
    for phone in ["081334455667", "0813-3445-5667", "+62 813 3445 5667", "6281334455667", "81334455667",
                  "(031) 5912345", "0813 3445 5667 ", "0812345678-", "0812345", "0-------", "0813 3445  5667",
                  "+1 415 555 0100", "", "  ", None, 81334455667, "0813/3445/5667", "08133445566701"]:
        yield pytest.param({"phone": phone}, id=f"phone={phone!r}")
    for code in ["60111", " 60111 ", "99111", "10110", "6011", "601111", "06011", "6O111", "", None, 60111]:
        yield pytest.param({"postal_code": code}, id=f"postal_code={code!r}")
    limits = {"recipient": CONTACT_NAME_MAX, "street": STREET_MAX, "city": CITY_MAX, "province": PROVINCE_MAX}
    for field, limit in limits.items():
        base = ADDRESS[field]
        for value in [base, f"  {base}  ", base.ljust(limit, "."), base.ljust(limit + 1, "."), "", "   ", None, 7,
                      ["x"]]:
            shown = value if not isinstance(value, str) or len(value) < 40 else f"{len(value)} chars"
            yield pytest.param({field: value}, id=f"{field}={shown!r}")
    for notes in ["", None, "   ", "x" * ADDRESS_NOTES_MAX, "x" * (ADDRESS_NOTES_MAX + 1), 3]:
        shown = notes if not isinstance(notes, str) or len(notes) < 40 else f"{len(notes)} chars"
        yield pytest.param({"notes": notes}, id=f"notes={shown!r}")


@pytest.mark.parametrize("changes", list(_variants()))
def test_checkout_accepts_exactly_what_every_courier_can_book(changes: dict[str, Any]) -> None:
    raw_address = {**ADDRESS, **changes}
    accepted = checkout_accepts(checkout_body(**changes))
    built = booking_builds(raw_address)
    assert (accepted is not None) == (built is not None), (accepted, built)
    if accepted is None or built is None:
        return
    # What checkout stored books just like what the shopper typed, with the same normalised values.
    from_order = booking(accepted.shipping_address)
    assert from_order == built
    book_with_every_courier(from_order)


def test_random_phone_like_text_is_accepted_by_checkout_exactly_when_a_booking_takes_it() -> None:
    """A seeded fuzz over digits, separators and stray characters: thousands of cases both sides must agree on."""
    chance = random.Random(20261123)
    alphabet = "0123456789" * 4 + "+ -.()" + "x/"
    cases = ["".join(chance.choice(alphabet) for _ in range(chance.randint(0, 22))) for _ in range(3000)]
    cases += [chance.choice(["0", "62", "+62", "+62 ", "8", "(0"]) + "".join(chance.choice("0123456789 -")
                                                                         for _ in range(chance.randint(5, 16)))
              for _ in range(3000)]
    agreed = accepted = 0
    for phone in cases:
        in_checkout = checkout_accepts(checkout_body(phone=phone))
        in_booking = booking_builds({**ADDRESS, "phone": phone})
        assert (in_checkout is not None) == (in_booking is not None), phone
        if in_checkout is not None and in_booking is not None:
            assert in_checkout.shipping_address["phone"] == in_booking.destination_contact.phone
            accepted += 1
        agreed += 1
    assert agreed == len(cases) and accepted > 500  # the fuzz reaches both sides of the rule


def test_the_default_shop_is_bookable_as_an_origin() -> None:
    assert config.shop() == SHOP
    book_with_every_courier(booking(ADDRESS))
