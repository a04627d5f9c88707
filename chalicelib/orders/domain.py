"""Order rules in plain Python: statuses, the timeline, and who may see an order."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field, replace
from typing import Any

PENDING_PAYMENT = "PENDING_PAYMENT"  # waiting for the gateway to confirm payment
CONFIRMED = "CONFIRMED"  # cash on delivery: accepted without payment
PAID = "PAID"  # payment confirmed, stock about to be committed
READY_TO_PACK = "READY_TO_PACK"  # stock committed (sold), waiting for staff to pack
PACKED = "PACKED"
SHIPPED = "SHIPPED"  # booked with the courier: waybill and label exist
IN_TRANSIT = "IN_TRANSIT"  # the courier has the parcel
DELIVERED = "DELIVERED"
COMPLETED = "COMPLETED"
EXPIRED = "EXPIRED"
PAYMENT_FAILED = "PAYMENT_FAILED"
CANCELLED = "CANCELLED"
RETURNED = "RETURNED"  # returned, rejected or no courier: staff decide on refund and restock
NEEDS_REVIEW = "NEEDS_REVIEW"  # money does not add up (amount differs, paid after expiry): a person decides
NEEDS_ATTENTION = "NEEDS_ATTENTION"  # the workflow is stuck (courier booking failed, worker gave up)
STATUSES = (
    PENDING_PAYMENT, CONFIRMED, PAID, READY_TO_PACK, PACKED, SHIPPED, IN_TRANSIT, DELIVERED, COMPLETED, EXPIRED,
    PAYMENT_FAILED, CANCELLED, RETURNED, NEEDS_REVIEW, NEEDS_ATTENTION,
)
FINAL = frozenset({COMPLETED, EXPIRED, PAYMENT_FAILED, CANCELLED})
# A customer may cancel until the parcel is packed.
CANCELLABLE = frozenset({PENDING_PAYMENT, CONFIRMED, PAID, READY_TO_PACK})
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
    payment: dict[str, Any] | None = None  # payment instructions from the gateway
    shipment: dict[str, Any] | None = None  # booking (waybill, label) and tracking history
    tokens: dict[str, str] = field(default_factory=dict)  # workflow step -> task token it waits with
    cancel_requested: bool = False
    attention: str | None = None  # why a person must look at the order

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
            "payment": self.payment,
            "shipment": self.shipment,
            "cancel_requested": self.cancel_requested,
            "attention": self.attention,
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
