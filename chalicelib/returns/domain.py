"""Returns in plain Python: what a customer may send back, a return's steps, and how much money goes back.

A return moves through one small table (RETURN_FLOW) the way an order moves through its lifecycle: requested,
then a staff decision (approved, rejected, or approved as a refund without sending anything back), the parcel
sent back (a waybill the customer gives, or a pickup staff book), received and inspected per line (restocked or
written off), refunded, closed. A courier's return-to-sender opens a return that is already approved.

The refund is computed here: each line's paid price (its share of the voucher discount taken off), shipping
when the shop is at fault, never more than what is left to refund.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from typing import Any

from chalicelib import clock
from chalicelib.errors import Conflict, Unprocessable, ValidationFailed
from chalicelib.orders import lifecycle
from chalicelib.orders.domain import Order

# ---- what a customer may ask --------------------------------------------------------------------------------
DAMAGED, WRONG_ITEM, NOT_AS_DESCRIBED, INCOMPLETE, CHANGED_MIND, OTHER = (
    "damaged", "wrong_item", "not_as_described", "incomplete", "changed_mind", "other")
REASONS = (DAMAGED, WRONG_ITEM, NOT_AS_DESCRIBED, INCOMPLETE, CHANGED_MIND, OTHER)
RETURNED_TO_SENDER = "returned_to_sender"  # the courier brought the parcel back (not a customer's choice)
# The shop pays the shipping back when the fault is its own; a change of mind costs the customer the shipping.
SHOP_AT_FAULT = frozenset({DAMAGED, WRONG_ITEM, NOT_AS_DESCRIBED, INCOMPLETE})
MAX_PHOTOS = 5
PHOTO_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
MAX_RETURNS_PER_ORDER = 20
CUSTOMER, COURIER = "customer", "courier"  # who opened the return
RETURN_ID_PATTERN = r"TK-\d{6}-[A-Z0-9]{6,10}-R\d{1,2}"
RETURN_ID_MAX = 32
MAX_RETURN_LINES = 50  # lines in one request or one inspection
MAX_LINE_UNITS = 1000  # units of one line in one request or one inspection
NOTE_MAX = 1000  # the customer's note
DECISION_NOTE_MAX = 500  # what staff say approving or rejecting (a rejection needs REJECT_REASON_MIN characters)
REJECT_REASON_MIN = 3
WRITE_OFF_REASON_MAX = 200
# The courier and waybill (nomor resi) a customer gives when sending the parcel back.
COURIER_PATTERN, COURIER_MAX = r"[A-Za-z0-9][A-Za-z0-9 &._\-]{1,29}", 30
WAYBILL_PATTERN, WAYBILL_MAX = r"[A-Za-z0-9][A-Za-z0-9\-]{5,39}", 40

# ---- a return's life ----------------------------------------------------------------------------------------
REQUESTED = "requested"  # waiting for staff to decide
APPROVED = "approved"  # waiting for the parcel (or, refund without return, for the refund)
SENT_BACK = "sent_back"  # on its way back: the customer's waybill or a pickup staff booked
RECEIVED = "received"  # inspected: units restocked or written off; the refund comes next
REFUNDING = "refunding"  # the money goes back by bank transfer: waiting for finance
CLOSED = "closed"  # refunded (or nothing to refund): done
REJECTED = "rejected"  # staff said no, with a reason
EXPIRED = "expired"  # the parcel never arrived within the wait
NEEDS_ATTENTION = "needs_attention"  # the workflow gave up on a step: a person looks
STATUSES = (REQUESTED, APPROVED, SENT_BACK, RECEIVED, REFUNDING, CLOSED, REJECTED, EXPIRED, NEEDS_ATTENTION)
FINAL = frozenset({CLOSED, REJECTED, EXPIRED})
# Returns whose units no longer count against what may still be returned.
RELEASED = frozenset({REJECTED, EXPIRED})

APPROVE, REJECT, SEND_BACK, RECEIVE, REFUND, CLOSE, EXPIRE, FLAG = (
    "approve", "reject", "send_back", "receive", "refund", "close", "expire", "flag")


@dataclass(frozen=True)
class Step:
    event: str
    sources: frozenset[str]
    target: str
    note: str


RETURN_FLOW: tuple[Step, ...] = (
    Step(APPROVE, frozenset({REQUESTED}), APPROVED, "approved"),
    Step(REJECT, frozenset({REQUESTED}), REJECTED, "rejected"),
    Step(SEND_BACK, frozenset({APPROVED, SENT_BACK}), SENT_BACK, "sent back"),
    Step(RECEIVE, frozenset({APPROVED, SENT_BACK}), RECEIVED, "received and inspected"),
    Step(REFUND, frozenset({RECEIVED, APPROVED}), REFUNDING, "refund by bank transfer, waiting for finance"),
    Step(CLOSE, frozenset({RECEIVED, APPROVED, REFUNDING}), CLOSED, "closed"),
    Step(EXPIRE, frozenset({APPROVED, SENT_BACK}), EXPIRED, "the parcel did not arrive in time"),
    Step(FLAG, frozenset(STATUSES) - FINAL, NEEDS_ATTENTION, "needs attention"),
)
_STEPS = {step.event: step for step in RETURN_FLOW}


class StepRefused(Conflict):
    """The return's status does not allow the step (answered 409, naming the status)."""

    code = "return_step_refused"


@dataclass(frozen=True)
class ReturnLine:
    """Units of one order line coming back, and what inspection made of them."""

    sku: str
    name: str
    quantity: int
    restocked: int = 0
    written_off: int = 0
    write_off_reason: str = ""

    @property
    def inspected(self) -> int:
        return self.restocked + self.written_off

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReturnLine:
        return cls(sku=str(data["sku"]), name=str(data["name"]), quantity=int(data["quantity"]),
                   restocked=int(data.get("restocked") or 0), written_off=int(data.get("written_off") or 0),
                   write_off_reason=str(data.get("write_off_reason") or ""))


@dataclass(frozen=True)
class HistoryEntry:
    at: str
    status: str
    note: str
    actor: str
    event: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Return:
    return_id: str
    order_id: str
    status: str
    origin: str  # CUSTOMER or COURIER
    reason: str
    note: str
    lines: tuple[ReturnLine, ...]
    shop_at_fault: bool
    created_at: str
    updated_at: str
    version: int = 1
    customer_id: str | None = None
    photos: tuple[str, ...] = ()  # S3 keys of the customer's photos (private; staff get short-lived links)
    refund_only: bool = False  # staff refund without asking for the goods back
    decision_note: str = ""  # why staff rejected it (or what they said approving it)
    parcel: dict[str, Any] | None = None  # how it comes back: courier and waybill, or the pickup booked
    refund: dict[str, Any] | None = None  # what went back: amount, goods, shipping, by (gateway|payout|none)
    token: str | None = None  # the task token the workflow waits with
    attention: str | None = None
    history: tuple[HistoryEntry, ...] = field(default_factory=tuple)

    def apply(self, event: str, *, at: str, actor: str, detail: str = "", **changes: Any) -> Return:
        """The return after `event` (RETURN_FLOW), with one history entry; StepRefused (409) when not allowed."""
        step = _STEPS[event]
        if self.status not in step.sources:
            raise StepRefused(f"return {self.return_id} is {self.status}: it cannot be {step.note} now",
                              details={"return_id": self.return_id, "status": self.status, "event": event})
        if event == FLAG:
            changes["attention"] = detail
        note = f"{step.note}: {detail}" if detail else step.note
        entry = HistoryEntry(at=at, status=step.target, note=note, actor=actor, event=event)
        return replace(self, status=step.target, updated_at=at, version=self.version + 1,
                       history=(*self.history, entry), **changes)

    def allows(self, event: str) -> bool:
        return self.status in _STEPS[event].sources

    @property
    def units(self) -> dict[str, int]:
        return {line.sku: line.quantity for line in self.lines}

    def to_dict(self) -> dict[str, Any]:
        return {
            "return_id": self.return_id, "order_id": self.order_id, "status": self.status, "origin": self.origin,
            "reason": self.reason, "note": self.note, "lines": [line.to_dict() for line in self.lines],
            "shop_at_fault": self.shop_at_fault, "refund_only": self.refund_only,
            "decision_note": self.decision_note, "parcel": self.parcel, "refund": self.refund,
            "photo_count": len(self.photos), "attention": self.attention, "created_at": self.created_at,
            "updated_at": self.updated_at, "history": [entry.to_dict() for entry in self.history],
        }


# ---- who may return what ------------------------------------------------------------------------------------


class OutsideReturnWindow(Unprocessable):
    code = "return_window_closed"


class TooManyUnits(Unprocessable):
    code = "return_exceeds_delivered"


RETURNABLE_ORDER = frozenset({lifecycle.DELIVERED, lifecycle.COMPLETED, lifecycle.PARTIALLY_REFUNDED})


def check_window(order: Order, *, now_iso: str, window_days: int) -> None:
    """A customer returns delivered goods only, within `window_days` of delivery (422 after it)."""
    delivered_at = order.delivered_at
    if order.status not in RETURNABLE_ORDER or delivered_at is None:
        raise Unprocessable(f"order {order.order_id} is {order.status}: only delivered orders can be returned",
                            code="order_not_returnable", details={"status": order.status})
    closes = clock.parse_iso(delivered_at) + timedelta(days=window_days)
    if clock.parse_iso(now_iso) > closes:
        raise OutsideReturnWindow(f"returns for order {order.order_id} closed {window_days} days after delivery, "
                                  f"on {clock.iso(closes)}", details={"delivered_at": delivered_at,
                                                                     "window_days": window_days,
                                                                     "closed_at": clock.iso(closes)})
    if order.return_count >= MAX_RETURNS_PER_ORDER:
        raise Unprocessable(f"order {order.order_id} already has {order.return_count} returns",
                            code="too_many_returns")


def returnable_units(order: Order) -> dict[str, int]:
    """Units of each SKU delivered and not yet claimed by a return (rejected and expired returns give theirs
    back)."""
    delivered: dict[str, int] = {}
    for line in order.lines:
        delivered[line.sku] = delivered.get(line.sku, 0) + line.quantity
    return {sku: units - order.returned_units.get(sku, 0) for sku, units in delivered.items()}


def requested_lines(order: Order, asked: Mapping[str, int]) -> tuple[ReturnLine, ...]:
    """The return's lines from {sku: units}; refused (422) beyond what was delivered and not yet returned."""
    if not asked:
        raise ValidationFailed("lines", "must name at least one line")
    left = returnable_units(order)
    names = {line.sku: line.name for line in order.lines}
    unknown = sorted(sku for sku in asked if sku not in left)
    if unknown:
        raise ValidationFailed("lines", f"{', '.join(unknown)} is not on order {order.order_id}")
    over = {sku: {"requested": units, "returnable": left[sku]} for sku, units in asked.items() if units > left[sku]}
    if over:
        names_over = ", ".join(f"{sku} ({value['returnable']} left)" for sku, value in sorted(over.items()))
        raise TooManyUnits(f"more units than were delivered and not yet returned: {names_over}",
                           details={"lines": over})
    return tuple(ReturnLine(sku=sku, name=names[sku], quantity=units) for sku, units in asked.items())


def claim(order: Order, units: Mapping[str, int], *, sign: int = 1) -> dict[str, int]:
    """The order's claimed units after a return claims (`sign` 1) or gives back (-1) its units."""
    claimed = dict(order.returned_units)
    for sku, count in units.items():
        claimed[sku] = claimed.get(sku, 0) + sign * count
        if claimed[sku] <= 0:
            del claimed[sku]
    return claimed


def next_return_id(order: Order) -> str:
    return f"{order.order_id}-R{order.return_count + 1}"


# ---- inspection ----------------------------------------------------------------------------------------------


def inspected_lines(ret: Return, results: Mapping[str, tuple[int, int, str]]) -> tuple[ReturnLine, ...]:
    """The lines after inspection from {sku: (restock, write_off, reason)}; every line must be accounted for,
    units missing from the parcel count neither way (and are not refunded)."""
    unknown = sorted(set(results) - set(ret.units))
    if unknown:
        raise ValidationFailed("lines", f"{', '.join(unknown)} is not on return {ret.return_id}")
    missing = sorted(set(ret.units) - set(results))
    if missing:
        raise ValidationFailed("lines", f"say what happened to {', '.join(missing)} (restock and write_off)")
    lines = []
    for line in ret.lines:
        restock, write_off, reason = results[line.sku]
        if restock + write_off > line.quantity:
            raise ValidationFailed("lines", f"{line.sku}: {restock + write_off} units inspected but only "
                                   f"{line.quantity} were returned")
        if write_off and not reason:
            raise ValidationFailed("lines", f"{line.sku}: a write-off needs a write_off_reason")
        lines.append(replace(line, restocked=restock, written_off=write_off,
                             write_off_reason=reason if write_off else ""))
    return tuple(lines)


# ---- the refund -------------------------------------------------------------------------------------------------


def paid_per_line(order: Order) -> dict[str, int]:
    """What the customer paid for each SKU's units: the line total less its share of the voucher discount,
    shared in proportion to line totals with the Rupiah left by rounding going to the largest remainders, so the
    shares add up to the discount exactly."""
    totals: dict[str, int] = {}
    for line in order.lines:
        totals[line.sku] = totals.get(line.sku, 0) + line.line_total
    subtotal = sum(totals.values())
    discount = min(order.totals.discount, subtotal)
    if not subtotal or not discount:
        return totals
    shares = {sku: discount * amount // subtotal for sku, amount in totals.items()}
    remainders = sorted(totals, key=lambda sku: (-(discount * totals[sku] % subtotal), sku))
    for sku in remainders[:discount - sum(shares.values())]:
        shares[sku] += 1
    return {sku: amount - shares[sku] for sku, amount in totals.items()}


@dataclass(frozen=True)
class RefundQuote:
    goods: int
    shipping: int

    @property
    def total(self) -> int:
        return self.goods + self.shipping

    def to_dict(self) -> dict[str, int]:
        return {"goods": self.goods, "shipping": self.shipping, "total": self.total}


def quote(order: Order, units: Mapping[str, int], *, refunded_before: Mapping[str, int], shop_at_fault: bool,
          shipping_refunded: bool) -> RefundQuote:
    """The refund for `units` {sku: n}: each unit's share of its line's paid price, counted from the units
    refunded before so that every unit of a line, over all returns, adds up to exactly what the line cost;
    plus the shipping fee once per order when the shop is at fault."""
    paid = paid_per_line(order)
    ordered: dict[str, int] = {}
    for line in order.lines:
        ordered[line.sku] = ordered.get(line.sku, 0) + line.quantity
    goods = 0
    for sku, count in units.items():
        if count <= 0:
            continue
        before = min(refunded_before.get(sku, 0), ordered[sku])
        after = min(before + count, ordered[sku])
        goods += paid[sku] * after // ordered[sku] - paid[sku] * before // ordered[sku]
    shipping = order.totals.shipping if shop_at_fault and not shipping_refunded and goods else 0
    return RefundQuote(goods=goods, shipping=shipping)


def refunded_units(returns: list[Return], *, excluding: str) -> dict[str, int]:
    """Units other returns of the order already refunded (or are refunding)."""
    counted: dict[str, int] = {}
    for other in returns:
        if other.return_id == excluding or not other.refund:
            continue
        for sku, count in (other.refund.get("units") or {}).items():
            counted[sku] = counted.get(sku, 0) + int(count)
    return counted


def refund_units(ret: Return) -> dict[str, int]:
    """Units the refund pays for: all requested ones for a refund without return, else the ones that arrived."""
    if ret.refund_only:
        return ret.units
    return {line.sku: line.inspected for line in ret.lines if line.inspected}
