"""Order rules in plain Python: statuses, the timeline, and who may see an order."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field, replace
from typing import Any

PENDING_PAYMENT = "PENDING_PAYMENT"
CONFIRMED = "CONFIRMED"
EXPIRED = "EXPIRED"
CANCELLED = "CANCELLED"
STATUSES = (PENDING_PAYMENT, CONFIRMED, EXPIRED, CANCELLED)
PAYMENT_METHODS = ("card", "bank_transfer", "ewallet", "qris", "cod")
COD = "cod"


@dataclass(frozen=True)
class TimelineEntry:
    at: str
    status: str
    note: str
    actor: str = "system"

    def to_dict(self) -> dict[str, str]:
        return {"at": self.at, "status": self.status, "note": self.note, "actor": self.actor}


@dataclass(frozen=True)
class Order:
    order_id: str
    status: str
    created_at: str
    customer: dict[str, str]
    customer_id: str | None
    shipping_address: dict[str, str]
    shipping: dict[str, Any]
    payment_method: str
    lines: list[dict[str, Any]]
    totals: dict[str, Any]
    cart_id: str
    access_token_hash: str
    payment_deadline: str | None = None
    voucher_code: str | None = None
    channel: str | None = None
    timeline: tuple[TimelineEntry, ...] = field(default_factory=tuple)
    updated_at: str = ""
    version: int = 1

    def with_status(self, status: str, *, at: str, note: str, actor: str = "system") -> Order:
        return replace(self, status=status, updated_at=at, version=self.version + 1,
                       timeline=(*self.timeline, TimelineEntry(at=at, status=status, note=note, actor=actor)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "status": self.status,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "customer": self.customer,
            "shipping_address": self.shipping_address,
            "shipping": self.shipping,
            "payment_method": self.payment_method,
            "payment_deadline": self.payment_deadline,
            "lines": self.lines,
            "totals": self.totals,
            "voucher_code": self.voucher_code,
            "channel": self.channel,
            "timeline": [entry.to_dict() for entry in self.timeline],
        }


def new_access_token() -> tuple[str, str]:
    """A secret for guests to read their order; only its hash is stored."""
    token = secrets.token_urlsafe(24)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(order: Order, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(order.access_token_hash, hash_token(token or ""))


def may_view(order: Order, *, sub: str | None, is_staff: bool, access_token: str | None) -> bool:
    if is_staff:
        return True
    if sub and order.customer_id == sub:
        return True
    return token_matches(order, access_token)


def is_payment_overdue(order: Order, now_iso: str) -> bool:
    return order.status == PENDING_PAYMENT and order.payment_deadline is not None and order.payment_deadline < now_iso
