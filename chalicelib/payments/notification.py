"""Midtrans HTTP notifications: signature, parsing and what a transaction status means for the shop.

Pure rules, no AWS, Chalice or HTTP: the webhook route, the status poller and the sandbox all share them, so
"is this genuine", "is this paid" and "is this news" are decided the same way everywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_ORDER_ID_LENGTH = 64
REQUIRED_FIELDS = ("order_id", "status_code", "gross_amount", "transaction_status", "signature_key")
_SIGNED_FIELDS = ("order_id", "status_code", "gross_amount")
_OPTIONAL_TEXT_FIELDS = (
    "transaction_id",
    "fraud_status",
    "payment_type",
    "transaction_time",
    "settlement_time",
    "permata_va_number",
)

# What a notification means for the shop's order.
PAID, FAILED, PENDING, REFUNDED, CHARGEBACK = "paid", "failed", "pending", "refunded", "chargeback"
HELD = "held"  # a card capture fraud detection holds for the merchant's review (fraud_status "challenge")
OUTCOMES = (PAID, FAILED, PENDING, REFUNDED, CHARGEBACK, HELD)

_PENDING_STATUSES = frozenset({"pending", "authorize"})
_FAILED_STATUSES = frozenset({"expire", "cancel", "deny", "failure"})
_REFUND_STATUSES = frozenset({"refund", "partial_refund"})
_CHARGEBACK_STATUSES = frozenset({"chargeback", "partial_chargeback"})

# Ranks: a notification may only move a payment forward along pending -> challenged -> final -> reversed.
RANK_PENDING, RANK_CHALLENGE, RANK_FINAL, RANK_REVERSED = 0, 1, 2, 3

_AMOUNT = re.compile(r"(?P<whole>[0-9]+)(?:\.(?P<fraction>[0-9]+))?")  # ASCII digits only, not any Unicode digit


class InvalidNotification(ValueError):
    """The body is not a usable Midtrans notification; the message names the offending field."""


@dataclass(frozen=True)
class MidtransNotification:
    """The fields the shop acts on, as received: gross_amount stays text so the signature can be checked."""

    order_id: str
    transaction_status: str
    status_code: str
    gross_amount: str
    signature_key: str
    transaction_id: str = ""
    fraud_status: str | None = None
    payment_type: str = ""
    transaction_time: str | None = None
    settlement_time: str | None = None
    va_numbers: tuple[tuple[str, str], ...] = ()  # (bank, va_number); Permata's single number included
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def outcome(self) -> str:
        return outcome(self.transaction_status, self.fraud_status)

    @property
    def rank(self) -> int:
        return rank(self.transaction_status, self.fraud_status)


def signature(order_id: str, status_code: str, gross_amount: str, server_key: str) -> str:
    """sha512(order_id + status_code + gross_amount + server_key) as lowercase hex, exactly as Midtrans signs."""
    return hashlib.sha512(f"{order_id}{status_code}{gross_amount}{server_key}".encode()).hexdigest()


def verify_signature(payload: Mapping[str, Any], server_key: str) -> bool:
    """True only for a body signed with our server key; the amount text is used as received, never reformatted.

    Constant-time comparison, so the expected signature cannot be discovered byte by byte.
    """
    if not server_key or not isinstance(server_key, str) or not isinstance(payload, Mapping):
        return False
    values = [payload.get(name) for name in (*_SIGNED_FIELDS, "signature_key")]
    texts = [value for value in values if isinstance(value, str)]
    if len(texts) != len(values):
        return False
    order_id, status_code, gross_amount, received = texts
    expected = signature(order_id, status_code, gross_amount, server_key)
    return hmac.compare_digest(expected.encode(), received.lower().encode())


def parse_notification(raw: Any) -> MidtransNotification:
    """Check the shape of a notification body (not its signature: see verify_signature)."""
    if not isinstance(raw, Mapping):
        raise InvalidNotification("notification: expected a JSON object")
    for name in REQUIRED_FIELDS:
        value = raw.get(name)
        if value is None or value == "":
            raise InvalidNotification(f"{name}: missing")
        if not isinstance(value, str):
            raise InvalidNotification(f"{name}: expected a string")
    if len(raw["order_id"]) > MAX_ORDER_ID_LENGTH:
        raise InvalidNotification(f"order_id: longer than {MAX_ORDER_ID_LENGTH} characters")
    for name in _OPTIONAL_TEXT_FIELDS:
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidNotification(f"{name}: expected a string")
    return MidtransNotification(
        order_id=raw["order_id"],
        transaction_status=raw["transaction_status"],
        status_code=raw["status_code"],
        gross_amount=raw["gross_amount"],
        signature_key=raw["signature_key"],
        transaction_id=raw.get("transaction_id") or "",
        fraud_status=raw.get("fraud_status") or None,
        payment_type=raw.get("payment_type") or "",
        transaction_time=raw.get("transaction_time") or None,
        settlement_time=raw.get("settlement_time") or None,
        va_numbers=_va_numbers(raw),
        raw=dict(raw),
    )


def _va_numbers(raw: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    entries = raw.get("va_numbers")
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise InvalidNotification("va_numbers: expected a list")
    numbers: list[tuple[str, str]] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise InvalidNotification("va_numbers: expected objects with bank and va_number")
        bank, number = entry.get("bank"), entry.get("va_number")
        if not isinstance(bank, str) or not isinstance(number, str):
            raise InvalidNotification("va_numbers: bank and va_number must be strings")
        numbers.append((bank, number))
    if raw.get("permata_va_number"):
        numbers.append(("permata", raw["permata_va_number"]))
    return tuple(numbers)


def amount_of(gross_amount: str) -> int:
    """Whole Rupiah from Midtrans' text amount ("150000.00" -> 150000).

    Rupiah has no minor unit, so a non-zero fraction means a mismatch to investigate, not something to round.
    """
    if not isinstance(gross_amount, str):
        raise InvalidNotification("gross_amount: expected a string")
    if gross_amount.startswith("-"):
        raise InvalidNotification(f"gross_amount: negative amount {gross_amount!r}")
    match = _AMOUNT.fullmatch(gross_amount)
    if match is None:
        raise InvalidNotification(f"gross_amount: not a number {gross_amount!r}")
    if (match.group("fraction") or "0").strip("0"):
        raise InvalidNotification(f"gross_amount: Rupiah has no fraction, got {gross_amount!r}")
    return int(match.group("whole"))


def _normal(text: str | None) -> str:
    return (text or "").strip().lower()


def outcome(transaction_status: str, fraud_status: str | None) -> str:
    """What the status means for the order. Unknown statuses are PENDING: confirm with the status API, never
    guess paid or failed."""
    status, fraud = _normal(transaction_status), _normal(fraud_status)
    if status == "settlement":
        return PAID
    if status == "capture":
        return {"accept": PAID, "deny": FAILED, "challenge": HELD}.get(fraud, PENDING)
    if status in _FAILED_STATUSES:
        return FAILED
    if status in _REFUND_STATUSES:
        return REFUNDED
    if status in _CHARGEBACK_STATUSES:
        return CHARGEBACK
    return PENDING


def rank(transaction_status: str, fraud_status: str | None) -> int:
    """How far along its life a transaction is; notifications arrive duplicated and out of order, and a lower
    rank must never overwrite a higher one (a late "pending" after "settlement" changes nothing)."""
    status, fraud = _normal(transaction_status), _normal(fraud_status)
    if status in _REFUND_STATUSES or status in _CHARGEBACK_STATUSES:
        return RANK_REVERSED
    if status == "settlement" or status in _FAILED_STATUSES:
        return RANK_FINAL
    if status == "capture":
        return RANK_FINAL if fraud in ("accept", "deny") else RANK_CHALLENGE
    return RANK_PENDING


def is_newer(current: tuple[str, str | None] | None, incoming: tuple[str, str | None]) -> bool:
    """Whether `incoming` (transaction_status, fraud_status) should replace `current`; equal rank is not news,
    so a redelivered or reordered notification of the same stage is ignored."""
    if current is None:
        return True
    return rank(*incoming) > rank(*current)


def notification_id(n: MidtransNotification) -> str:
    """A stable dedupe key: the same notification delivered twice gets the same id, any state change a new one.

    A refund changes the running `refund_amount` but not the status of a second partial refund, so the running
    total is part of the key: each refund is a new notification, a resent one is not.
    """
    refunded = n.raw.get("refund_amount")
    parts = (n.order_id, n.transaction_id, n.transaction_status, n.fraud_status or "", n.status_code, n.gross_amount,
             refunded if isinstance(refunded, str) else "")
    return "midtrans:" + hashlib.sha256("|".join(parts).encode()).hexdigest()


__all__ = [
    "CHARGEBACK",
    "FAILED",
    "HELD",
    "OUTCOMES",
    "PAID",
    "PENDING",
    "REFUNDED",
    "InvalidNotification",
    "MidtransNotification",
    "amount_of",
    "is_newer",
    "notification_id",
    "outcome",
    "parse_notification",
    "rank",
    "signature",
    "verify_signature",
]
