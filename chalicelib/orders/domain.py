"""Order rules in plain Python: statuses, the timeline, and who may see an order."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from chalicelib.errors import Unprocessable
from chalicelib.loyalty.domain import OrderFacts
from chalicelib.orders import lifecycle
from chalicelib.orders.lifecycle import PENDING_PAYMENT
from chalicelib.validation import Fields

ORDER_ID_PATTERN = r"TK-[0-9]{6}-[A-Z0-9]{6,10}"  # ASCII digits only, unlike a Python \d
PAYMENT_METHODS = ("card", "bank_transfer", "ewallet", "qris", "convenience_store", "cod")
COD = "cod"
BANK_TRANSFER, CONVENIENCE_STORE = "bank_transfer", "convenience_store"
VA_BANKS = ("bca", "bni", "bri", "permata", "mandiri")  # the bank of a virtual account (Mandiri: bill payment)
STORES = ("indomaret", "alfamart")


@dataclass(frozen=True)
class OrderLine:
    """One line as sold: prices frozen at checkout; `weight_grams` is the line's total weight."""

    sku: str
    product_id: str
    name: str
    options: dict[str, str]
    unit_price: int
    quantity: int
    line_total: int
    weight_grams: int

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OrderLine:
        return cls(sku=data["sku"], product_id=data["product_id"], name=data["name"],
                   options=dict(data.get("options") or {}), unit_price=int(data["unit_price"]),
                   quantity=int(data["quantity"]), line_total=int(data["line_total"]),
                   weight_grams=int(data["weight_grams"]))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class OrderTotals:
    """Whole Rupiah. `total` = goods after discount + shipping; PPN is included in the goods, not added.

    `discount` is every discount on the goods: the voucher's and `points_discount`, the value of the
    `points_redeemed` loyalty points spent at checkout (shares of it follow the goods into refunds).
    """

    subtotal: int
    discount: int
    shipping: int
    total: int
    ppn_included: int
    ppn_rate_percent: int
    weight_grams: int
    currency: str = "IDR"
    points_redeemed: int = 0
    points_discount: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OrderTotals:
        return cls(subtotal=int(data["subtotal"]), discount=int(data["discount"]), shipping=int(data["shipping"]),
                   total=int(data["total"]), ppn_included=int(data["ppn_included"]),
                   ppn_rate_percent=int(data["ppn_rate_percent"]), weight_grams=int(data["weight_grams"]),
                   currency=str(data.get("currency") or "IDR"), points_redeemed=int(data.get("points_redeemed") or 0),
                   points_discount=int(data.get("points_discount") or 0))

    @property
    def goods_paid(self) -> int:
        """The goods after every discount: what earns loyalty points."""
        return self.total - self.shipping

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TimelineEntry:
    at: str
    status: str
    note: str
    actor: str = "system"
    event: str | None = None  # the lifecycle event that wrote it (None: the order was placed)
    data: dict[str, Any] | None = None  # figures the step moved, for reports: a refund's amount, a return's units

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"at": self.at, "status": self.status, "note": self.note, "actor": self.actor,
                                 "event": self.event}
        if self.data:
            entry["data"] = self.data
        return entry


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
    lines: tuple[OrderLine, ...]
    totals: OrderTotals
    cart_id: str
    access_token_hash: str
    payment_deadline: str | None = None
    voucher_code: str | None = None
    payment_channel: str | None = None  # the virtual account's bank or the convenience store
    channel: str | None = None
    utm_source: str | None = None  # the campaign that brought the shopper (utm_source), captured at checkout
    timeline: tuple[TimelineEntry, ...] = field(default_factory=tuple)
    updated_at: str = ""
    version: int = 1
    payment: dict[str, Any] | None = None  # payment instructions from the gateway
    shipment: dict[str, Any] | None = None  # booking (waybill, label) and tracking history
    tokens: dict[str, str] = field(default_factory=dict)  # workflow step -> task token it waits with
    cancel_requested: bool = False
    attention: str | None = None  # why a person must look at the order
    refunds: dict[str, int] = field(default_factory=dict)  # refund key -> Rupiah going back (gateway or payout)
    returned_units: dict[str, int] = field(default_factory=dict)  # SKU -> units claimed by open or done returns
    return_count: int = 0  # returns ever opened: names the next one

    @property
    def refunded_total(self) -> int:
        return sum(self.refunds.values())

    @property
    def payment_held(self) -> bool:
        """A card payment the gateway holds for review: the order waits for staff, its deadline no longer runs."""
        return self.status == PENDING_PAYMENT and any(entry.event == lifecycle.HOLD_PAYMENT for entry in self.timeline)

    @property
    def delivered_at(self) -> str | None:
        """When the courier delivered it (the timeline's deliver entry), the start of the return window."""
        return next((entry.at for entry in self.timeline if entry.event == lifecycle.DELIVER), None)

    def apply(self, event: str, *, at: str, actor: str = "system", detail: str = "",
              data: dict[str, Any] | None = None, **changes: Any) -> Order:
        """The order after `event` (see lifecycle.LIFECYCLE), with one timeline entry saying what happened.

        Raises lifecycle.TransitionRefused when the event is not allowed from the current state. `detail` is
        appended to the table's note; for the flagging events it is the cause and is required. `changes` are
        other fields the same step sets (the shipment on booking, ...).
        """
        transition = lifecycle.transition_for(event, self.status, cancel_requested=self.cancel_requested)
        if event in lifecycle.NEEDS_CAUSE:
            if not detail:
                raise ValueError(f"{event} needs a cause")
            changes["attention"] = detail
        if event == lifecycle.REQUEST_CANCEL:
            changes["cancel_requested"] = True
        status = transition.to_status(self.status)
        note = f"{transition.note}: {detail}" if detail else transition.note
        entry = TimelineEntry(at=at, status=status, note=note, actor=actor, event=event, data=data)
        return replace(self, status=status, updated_at=at, version=self.version + 1,
                       timeline=(*self.timeline, entry), **changes)

    def allows(self, event: str) -> bool:
        return lifecycle.allows(event, self.status, cancel_requested=self.cancel_requested)

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
            "payment_channel": self.payment_channel,
            "payment_deadline": self.payment_deadline,
            "lines": [line.to_dict() for line in self.lines],
            "totals": self.totals.to_dict(),
            "voucher_code": self.voucher_code,
            "channel": self.channel,
            "utm_source": self.utm_source,
            "payment": self.payment,
            "shipment": self.shipment,
            "cancel_requested": self.cancel_requested,
            "attention": self.attention,
            "refunded_total": self.refunded_total,
            "returned_units": dict(self.returned_units),
            "timeline": [entry.to_dict() for entry in self.timeline],
        }


class RefundExceedsPaid(Unprocessable):
    code = "refund_exceeds_paid"


def refund_to_commit(order: Order, refund_key: str, amount: int | None, *, refundable: int) -> int:
    """How much a refund under `refund_key` gives back: the amount asked (or all that is left when None), never
    more than `refundable` (captured minus what already went back or is promised). A key already used answers
    with its own amount, so a retried refund never gives back twice. Raises RefundExceedsPaid (422)."""
    if refund_key in order.refunds:
        return order.refunds[refund_key]
    left = max(0, refundable)
    if amount is None:
        return left
    if amount <= 0:
        raise RefundExceedsPaid("a refund must be at least Rp1", details={"amount": amount})
    if amount > left:
        raise RefundExceedsPaid(f"Rp{amount:,} is more than the Rp{left:,} paid and not yet refunded",
                                details={"amount": amount, "refundable": left})
    return amount


def refund_event(order: Order, amount: int, *, captured: int) -> str:
    """REFUND_IN_FULL when this refund brings what went back up to everything captured, else REFUND."""
    return lifecycle.REFUND_IN_FULL if order.refunded_total + amount >= captured else lifecycle.REFUND


def checked_order_id(order_id: str) -> str:
    """An order id from a path or message, refused (400) unless it has the shape this shop gives out."""
    return Fields({"order_id": order_id}).text("order_id", pattern=ORDER_ID_PATTERN, max_len=24)


def access_token_from(headers: Mapping[str, str] | None, query: Mapping[str, str] | None) -> str | None:
    """A guest's order access token: the X-Order-Token header, or ?access_token= for links in messages."""
    return (headers or {}).get("x-order-token") or (query or {}).get("access_token")


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


# Orders that ended without a sale: whatever they spent in points goes back in full.
UNWOUND = frozenset({lifecycle.EXPIRED, lifecycle.PAYMENT_FAILED, lifecycle.CANCELLED})


def points_facts(order: Order) -> OrderFacts:
    """What the order says about its loyalty points (the loyalty area sits below orders and reads plain values).

    A cash-on-delivery parcel the courier brought back was never paid: it ended without a sale too.
    """
    unwound = order.status in UNWOUND or (order.status == lifecycle.RETURNED and order.payment_method == COD)
    contact = {key: str(order.customer.get(key) or "") for key in ("name", "email", "phone")}
    return OrderFacts(order_id=order.order_id, customer_id=order.customer_id, contact=contact,
                      redeemed=order.totals.points_redeemed, goods_paid=order.totals.goods_paid,
                      refunded=order.refunded_total, unwound=unwound,
                      delivered_at=order.delivered_at, completed=order.status == lifecycle.COMPLETED
                      or any(entry.event == lifecycle.COMPLETE for entry in order.timeline))


def is_payment_overdue(order: Order, now_iso: str) -> bool:
    """Past its payment deadline and unpaid; a payment held for review is not overdue (staff decide its end)."""
    return (order.status == PENDING_PAYMENT and order.payment_deadline is not None
            and order.payment_deadline < now_iso and not order.payment_held)
