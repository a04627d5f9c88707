"""Midtrans notification rules: signature, parsing, amounts, what each status means, and ordering."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.payments.notification import (
    CHARGEBACK,
    FAILED,
    HELD,
    PAID,
    PENDING,
    REFUNDED,
    InvalidNotification,
    MidtransNotification,
    amount_of,
    is_newer,
    notification_id,
    outcome,
    parse_notification,
    rank,
    signature,
    verify_signature,
)

SERVER_KEY = "SB-Mid-server-TEST-KEY"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "midtrans"
NOTIFICATIONS = (
    "notification_settlement_bank_transfer.json",
    "notification_capture_accept_credit_card.json",
    "notification_expire.json",
)


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def signed(**fields: Any) -> dict[str, Any]:
    payload = {
        "order_id": "TF-1",
        "status_code": "200",
        "gross_amount": "150000.00",
        "transaction_status": "settlement",
        "transaction_id": "9aed5972-5b6a-401e-894b-a32c91ed1a3a",
        "fraud_status": "accept",
        "payment_type": "bank_transfer",
        **fields,
    }
    payload["signature_key"] = signature(
        payload["order_id"], payload["status_code"], payload["gross_amount"], SERVER_KEY
    )
    return payload


# -- signature ---------------------------------------------------------------------------------------------------


def test_signature_is_lowercase_sha512_of_the_concatenated_fields() -> None:
    expected = hashlib.sha512(b"TF-1200150000.00" + SERVER_KEY.encode()).hexdigest()
    assert signature("TF-1", "200", "150000.00", SERVER_KEY) == expected
    assert expected == expected.lower() and len(expected) == 128


@pytest.mark.parametrize("name", NOTIFICATIONS)
def test_recorded_notifications_verify_with_the_test_server_key(name: str) -> None:
    payload = fixture(name)
    assert verify_signature(payload, SERVER_KEY)
    assert not verify_signature(payload, "SB-Mid-server-OTHER-KEY")


def test_a_reformatted_gross_amount_fails_verification() -> None:
    payload = signed()
    assert verify_signature(payload, SERVER_KEY)
    for reformatted in ("150000", "150000.0", "150,000.00", " 150000.00"):
        assert not verify_signature({**payload, "gross_amount": reformatted}, SERVER_KEY)


@pytest.mark.parametrize(
    "change",
    [
        {"order_id": "TF-2"},
        {"status_code": "201"},
        {"gross_amount": "1.00"},
        {"signature_key": "0" * 128},
        {"signature_key": ""},
    ],
)
def test_any_tampered_signed_field_fails_verification(change: dict[str, str]) -> None:
    assert not verify_signature({**signed(), **change}, SERVER_KEY)


def test_an_unsigned_field_is_not_covered_by_the_signature() -> None:
    """Why the shop must confirm with the status API: transaction_status is not part of what Midtrans signs."""
    assert verify_signature({**signed(), "transaction_status": "expire"}, SERVER_KEY)


@pytest.mark.parametrize("missing", ["order_id", "status_code", "gross_amount", "signature_key"])
def test_verification_fails_when_a_field_is_missing(missing: str) -> None:
    payload = signed()
    del payload[missing]
    assert not verify_signature(payload, SERVER_KEY)


@pytest.mark.parametrize("field", ["order_id", "status_code", "gross_amount", "signature_key"])
def test_verification_fails_when_a_field_is_not_a_string(field: str) -> None:
    payload = signed()
    payload[field] = 150000 if field == "gross_amount" else None
    assert not verify_signature(payload, SERVER_KEY)


def test_verification_fails_without_a_server_key() -> None:
    payload = {**signed(), "signature_key": signature("TF-1", "200", "150000.00", "")}
    assert not verify_signature(payload, "")


# -- parsing -----------------------------------------------------------------------------------------------------


def test_parse_a_bank_transfer_settlement() -> None:
    payload = fixture("notification_settlement_bank_transfer.json")
    parsed = parse_notification(payload)
    assert parsed.order_id == "TF-20240514-0001"
    assert parsed.transaction_status == "settlement" and parsed.fraud_status == "accept"
    assert parsed.gross_amount == "150000.00" and parsed.status_code == "200"
    assert parsed.payment_type == "bank_transfer"
    assert parsed.settlement_time == "2024-05-14 10:47:12"
    assert parsed.va_numbers == (("bca", "1234554820193746"),)
    assert parsed.raw == payload
    assert parsed.outcome == PAID and parsed.rank == 2


def test_parse_a_card_capture_without_va_numbers() -> None:
    parsed = parse_notification(fixture("notification_capture_accept_credit_card.json"))
    assert (parsed.transaction_status, parsed.fraud_status, parsed.payment_type) == ("capture", "accept", "credit_card")
    assert parsed.va_numbers == () and parsed.settlement_time is None
    assert parsed.outcome == PAID


def test_parse_collects_a_permata_va_number() -> None:
    parsed = parse_notification(signed(permata_va_number="8778004890127981"))
    assert parsed.va_numbers == (("permata", "8778004890127981"),)


@pytest.mark.parametrize("missing", ["order_id", "status_code", "gross_amount", "transaction_status", "signature_key"])
def test_parse_names_a_missing_required_field(missing: str) -> None:
    payload = signed()
    del payload[missing]
    with pytest.raises(InvalidNotification, match=missing):
        parse_notification(payload)


@pytest.mark.parametrize("field", ["order_id", "status_code", "gross_amount", "transaction_status", "signature_key"])
def test_parse_refuses_a_required_field_that_is_not_a_string(field: str) -> None:
    with pytest.raises(InvalidNotification, match=field):
        parse_notification({**signed(), field: 200})


def test_parse_refuses_an_empty_required_field() -> None:
    with pytest.raises(InvalidNotification, match="order_id"):
        parse_notification(signed(order_id=""))


def test_parse_refuses_an_overlong_order_id() -> None:
    assert parse_notification(signed(order_id="A" * 64)).order_id == "A" * 64
    with pytest.raises(InvalidNotification, match="order_id"):
        parse_notification(signed(order_id="A" * 65))


@pytest.mark.parametrize("raw", [None, "settlement", ["order_id"], 42])
def test_parse_refuses_a_body_that_is_not_an_object(raw: Any) -> None:
    with pytest.raises(InvalidNotification):
        parse_notification(raw)


@pytest.mark.parametrize(
    ("field", "value"),
    [("fraud_status", 1), ("transaction_id", ["x"]), ("va_numbers", "bca"), ("va_numbers", [{"bank": "bca"}])],
)
def test_parse_refuses_malformed_optional_fields(field: str, value: Any) -> None:
    with pytest.raises(InvalidNotification, match=field):
        parse_notification({**signed(), field: value})


def test_parsed_notifications_are_immutable() -> None:
    parsed = parse_notification(signed())
    with pytest.raises(AttributeError):
        parsed.transaction_status = "expire"  # type: ignore[misc]


# -- amounts -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount"),
    [("150000.00", 150000), ("150000", 150000), ("150000.0", 150000), ("0.00", 0), ("1", 1), ("007", 7)],
)
def test_amount_of_whole_rupiah(text: str, amount: int) -> None:
    assert amount_of(text) == amount


@pytest.mark.parametrize(
    "text",
    ["150000.50", "0.01", "-150000.00", "-1", "", "abc", "1e5", "150,000", " 150000", "150000.", ".00", "+5", "١٢٣"],
)
def test_amount_of_refuses_non_rupiah(text: str) -> None:
    with pytest.raises(InvalidNotification, match="gross_amount"):
        amount_of(text)


def test_amount_of_refuses_a_number_that_is_not_text() -> None:
    with pytest.raises(InvalidNotification):
        amount_of(150000)  # type: ignore[arg-type]


# -- outcomes ----------------------------------------------------------------------------------------------------

OUTCOME_TABLE = [
    ("settlement", "accept", PAID),
    ("settlement", None, PAID),
    ("capture", "accept", PAID),
    ("capture", "challenge", HELD),  # staff accept or deny it
    ("capture", "deny", FAILED),
    ("capture", None, PENDING),
    ("pending", None, PENDING),
    ("pending", "accept", PENDING),
    ("authorize", "accept", PENDING),
    ("expire", "accept", FAILED),
    ("cancel", "accept", FAILED),
    ("deny", "deny", FAILED),
    ("failure", None, FAILED),
    ("refund", "accept", REFUNDED),
    ("partial_refund", "accept", REFUNDED),
    ("chargeback", "accept", CHARGEBACK),
    ("partial_chargeback", "accept", CHARGEBACK),
    ("something_new", None, PENDING),
    ("", None, PENDING),
    ("SETTLEMENT", "ACCEPT", PAID),
]


@pytest.mark.parametrize(("status", "fraud", "expected"), OUTCOME_TABLE)
def test_outcome(status: str, fraud: str | None, expected: str) -> None:
    assert outcome(status, fraud) == expected


# -- ordering ----------------------------------------------------------------------------------------------------

RANK_TABLE = [
    ("pending", None, 0),
    ("authorize", "accept", 0),
    ("something_new", None, 0),
    ("capture", "challenge", 1),
    ("capture", "accept", 2),
    ("capture", "deny", 2),
    ("settlement", "accept", 2),
    ("expire", None, 2),
    ("cancel", None, 2),
    ("deny", "deny", 2),
    ("failure", None, 2),
    ("refund", "accept", 3),
    ("partial_refund", "accept", 3),
    ("chargeback", None, 3),
    ("partial_chargeback", None, 3),
]


@pytest.mark.parametrize(("status", "fraud", "expected"), RANK_TABLE)
def test_rank(status: str, fraud: str | None, expected: int) -> None:
    assert rank(status, fraud) == expected


def test_is_newer_only_moves_forward() -> None:
    assert is_newer(None, ("pending", None))
    assert is_newer(("pending", None), ("settlement", "accept"))
    assert is_newer(("capture", "challenge"), ("capture", "accept"))
    assert is_newer(("settlement", "accept"), ("refund", "accept"))
    assert not is_newer(("settlement", "accept"), ("pending", "accept"))  # late pending after payment
    assert not is_newer(("expire", None), ("pending", None))
    assert not is_newer(("refund", None), ("settlement", "accept"))


def test_is_newer_treats_equal_rank_as_a_duplicate() -> None:
    assert not is_newer(("settlement", "accept"), ("settlement", "accept"))
    assert not is_newer(("capture", "accept"), ("settlement", "accept"))
    assert not is_newer(("expire", None), ("settlement", "accept"))  # a final state is not overturned by another
    assert not is_newer(("pending", None), ("authorize", None))


# -- dedupe key --------------------------------------------------------------------------------------------------


def test_notification_id_is_stable_for_redeliveries_and_changes_with_state() -> None:
    first = parse_notification(signed())
    again = parse_notification(dict(signed()))
    assert notification_id(first) == notification_id(again)
    assert notification_id(first).startswith("midtrans:")
    assert len(notification_id(first)) == len("midtrans:") + 64
    others = [
        signed(transaction_status="refund"),
        signed(fraud_status="challenge"),
        signed(status_code="201"),
        signed(gross_amount="150000"),
        signed(transaction_id="other"),
        signed(order_id="TF-2"),
    ]
    ids = {notification_id(parse_notification(payload)) for payload in others}
    assert len(ids) == len(others) and notification_id(first) not in ids


def test_notification_id_ignores_unsigned_noise() -> None:
    base = parse_notification(signed())
    noisy = parse_notification(signed(status_message="midtrans payment notification", currency="IDR"))
    assert notification_id(base) == notification_id(noisy)
    assert isinstance(base, MidtransNotification)
