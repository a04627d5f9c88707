"""The order's life in one table: every status, every event that moves an order, its guard and timeline note.

Plain Python, no AWS. `Order.apply(event, ...)` is the only way a status changes: it looks the event up here,
refuses it with `TransitionRefused` (a 409) when the order's state does not allow it, and otherwise returns
the order with its new status and one new timeline entry. The repository persists that result only if the
order is still at the version the decision was based on, so of two racing events exactly one wins.

The state is the status plus one pending intention: a customer's cancel request. Staff cannot pack an order
whose customer asked to cancel, and a customer cannot cancel an order that staff already packed.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.errors import Conflict

# ---- statuses -----------------------------------------------------------------------------------------------
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
RETURNED = "RETURNED"  # returned, rejected or no courier: the parcel comes back as a return
PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"  # part of what was paid went back (a return, a goodwill refund)
REFUNDED = "REFUNDED"  # everything paid went back
NEEDS_REVIEW = "NEEDS_REVIEW"  # money does not add up (amount differs, paid after expiry): a person decides
NEEDS_ATTENTION = "NEEDS_ATTENTION"  # the workflow is stuck (courier booking failed, worker gave up)
STATUSES = (
    PENDING_PAYMENT, CONFIRMED, PAID, READY_TO_PACK, PACKED, SHIPPED, IN_TRANSIT, DELIVERED, COMPLETED, EXPIRED,
    PAYMENT_FAILED, CANCELLED, RETURNED, PARTIALLY_REFUNDED, REFUNDED, NEEDS_REVIEW, NEEDS_ATTENTION,
)

# ---- events -------------------------------------------------------------------------------------------------
PAY = "pay"  # the gateway's status API confirms the money arrived
FAIL_PAYMENT = "fail_payment"  # the gateway denied, cancelled or failed the payment
EXPIRE = "expire"  # the payment window closed unpaid
HOLD_PAYMENT = "hold_payment"  # the gateway's fraud check holds a card payment: staff accept or deny it
REQUEST_CANCEL = "request_cancel"  # the customer (or staff for them) asks to cancel: an intention
CANCEL = "cancel"  # the workflow carried out the cancel request
COMMIT_STOCK = "commit_stock"  # reserved units became sold
PACK = "pack"  # staff packed the parcel
SHIP = "ship"  # the courier booked the parcel
PICK_UP = "pick_up"  # the courier has the parcel
DELIVER = "deliver"  # the courier delivered it
COMPLETE = "complete"  # delivered and settled (COD cash recorded)
RETURN = "return"  # the courier returned, rejected or could not deliver it
TRACK = "track"  # a courier scan that moves nothing, kept on the timeline
NOTE_RETURN = "note_return"  # a step of one of the order's returns (requested, approved, received...)
REFUND = "refund"  # part of the money paid goes back (gateway refund or payout)
REFUND_IN_FULL = "refund_in_full"  # the rest of the money paid goes back
FLAG_FOR_REVIEW = "flag_for_review"  # money does not add up: a person decides
FLAG_FOR_ATTENTION = "flag_for_attention"  # the workflow gave up on a step: a person looks

# Cancel guard values.
ANY, NO_CANCEL_PENDING, CANCEL_PENDING = "any", "no cancel pending", "cancel pending"

ALL_STATUSES = frozenset(STATUSES)
# Statuses a cancellable order can have after its stock was committed (sold): a cancel puts units back on hand.
STOCK_COMMITTED = frozenset({READY_TO_PACK})
HAS_SHIPMENT = frozenset({SHIPPED, IN_TRANSIT, DELIVERED, COMPLETED, RETURNED, PARTIALLY_REFUNDED, REFUNDED,
                          NEEDS_REVIEW, NEEDS_ATTENTION})
# Where a return can be on its way: after delivery (customer returns) or after the courier brought it back.
MAY_HAVE_RETURNS = frozenset({DELIVERED, COMPLETED, RETURNED, PARTIALLY_REFUNDED, REFUNDED, NEEDS_REVIEW,
                              NEEDS_ATTENTION})
# Money can go back from these statuses without moving the order: its status already says why.
REFUND_KEEPS = frozenset({CANCELLED, EXPIRED, PAYMENT_FAILED, NEEDS_REVIEW, NEEDS_ATTENTION})
REFUNDABLE = frozenset({DELIVERED, COMPLETED, RETURNED, PARTIALLY_REFUNDED}) | REFUND_KEEPS


@dataclass(frozen=True)
class Transition:
    """One row of the table: `event` moves an order from any of `sources` to `target` (None: it stays)."""

    event: str
    sources: frozenset[str]
    target: str | None
    note: str  # the timeline entry; a caller's detail is appended after a colon
    cancel: str = ANY  # the guard on the pending cancel request
    refusal_code: str = "transition_refused"
    refusal: str = ""  # why the event is refused, for the 409 message
    keeps: frozenset[str] = frozenset()  # sources the event leaves as they are (a refund of a cancelled order)

    def to_status(self, current: str) -> str:
        if current in self.keeps:
            return current
        return self.target or current


def _from(*statuses: str) -> frozenset[str]:
    return frozenset(statuses)


LIFECYCLE: tuple[Transition, ...] = (
    Transition(PAY, _from(PENDING_PAYMENT), PAID, "payment received"),
    Transition(FAIL_PAYMENT, _from(PENDING_PAYMENT), PAYMENT_FAILED, "payment failed; stock released"),
    Transition(EXPIRE, _from(PENDING_PAYMENT), EXPIRED, "payment deadline passed; stock released"),
    Transition(HOLD_PAYMENT, _from(PENDING_PAYMENT), None,
               "card payment held by the gateway's fraud check; staff accept or deny it"),
    Transition(REQUEST_CANCEL, _from(PENDING_PAYMENT, CONFIRMED, PAID, READY_TO_PACK), None,
               "cancellation requested", cancel=NO_CANCEL_PENDING, refusal_code="not_cancellable",
               refusal="it can only be cancelled before it is packed"),
    Transition(CANCEL, _from(PENDING_PAYMENT, CONFIRMED, PAID, READY_TO_PACK), CANCELLED, "cancelled",
               cancel=CANCEL_PENDING, refusal_code="not_cancellable",
               refusal="it can only be cancelled before it is packed"),
    Transition(COMMIT_STOCK, _from(PAID, CONFIRMED), READY_TO_PACK, "stock committed; waiting for packing"),
    Transition(PACK, _from(READY_TO_PACK), PACKED, "packed", cancel=NO_CANCEL_PENDING,
               refusal_code="not_ready_to_pack", refusal="only orders ready to pack, with no cancel request, "
               "can be packed"),
    Transition(SHIP, _from(PACKED), SHIPPED, "booked with the courier"),
    Transition(PICK_UP, _from(SHIPPED), IN_TRANSIT, "the courier has the parcel"),
    Transition(DELIVER, _from(SHIPPED, IN_TRANSIT), DELIVERED, "delivered by the courier"),
    Transition(COMPLETE, _from(DELIVERED), COMPLETED, "delivered and complete"),
    Transition(RETURN, _from(SHIPPED, IN_TRANSIT, DELIVERED), RETURNED,
               "parcel returned to the shop: received and refunded as a return"),
    Transition(TRACK, HAS_SHIPMENT, None, "courier"),
    Transition(NOTE_RETURN, MAY_HAVE_RETURNS, None, "return"),
    Transition(REFUND, REFUNDABLE, PARTIALLY_REFUNDED, "money refunded", keeps=REFUND_KEEPS,
               refusal_code="not_refundable", refusal="money goes back only after delivery or once the order ended"),
    Transition(REFUND_IN_FULL, REFUNDABLE, REFUNDED, "refunded in full", keeps=REFUND_KEEPS,
               refusal_code="not_refundable", refusal="money goes back only after delivery or once the order ended"),
    Transition(FLAG_FOR_REVIEW, ALL_STATUSES, NEEDS_REVIEW, "needs review"),
    Transition(FLAG_FOR_ATTENTION, ALL_STATUSES, NEEDS_ATTENTION, "needs attention"),
)
EVENTS = tuple(transition.event for transition in LIFECYCLE)
_BY_EVENT = {transition.event: transition for transition in LIFECYCLE}
# Events that must say why: the cause is the order's `attention` and the timeline entry's note.
NEEDS_CAUSE = frozenset({FLAG_FOR_REVIEW, FLAG_FOR_ATTENTION})
# Where a new order starts: cash on delivery needs no payment.
INITIAL = {"cod": CONFIRMED, "prepaid": PENDING_PAYMENT}


class TransitionRefused(Conflict):
    """The event is not allowed from the order's current state (answered 409, naming status and reason)."""

    def __init__(self, event: str, status: str, message: str, code: str) -> None:
        super().__init__(message, code=code, details={"event": event, "status": status})
        self.event, self.order_status = event, status


def transition_for(event: str, status: str, *, cancel_requested: bool) -> Transition:
    """The row that applies, or TransitionRefused naming the status and the reason."""
    transition = _BY_EVENT.get(event)
    if transition is None:
        raise ValueError(f"unknown order event {event!r}")
    allowed = status in transition.sources and (
        transition.cancel == ANY or (transition.cancel == CANCEL_PENDING) == cancel_requested)
    if not allowed:
        reason = transition.refusal or f"'{event}' is not allowed"
        if status in transition.sources and transition.cancel == NO_CANCEL_PENDING:
            reason = "the customer asked to cancel it" if event != REQUEST_CANCEL else "a cancel is already requested"
        raise TransitionRefused(event, status, f"order is {status}: {reason}", transition.refusal_code)
    return transition


def allows(event: str, status: str, *, cancel_requested: bool = False) -> bool:
    try:
        transition_for(event, status, cancel_requested=cancel_requested)
    except TransitionRefused:
        return False
    return True


def mermaid() -> str:
    """The table as a Mermaid state diagram (the README's lifecycle diagram is this text, checked by a test)."""
    lines = ["stateDiagram-v2"]
    lines += [f"    [*] --> {status}: {kind}" for kind, status in INITIAL.items()]
    for transition in LIFECYCLE:
        if transition.sources == ALL_STATUSES:
            lines.append(f"    note right of {transition.target}: '{transition.event}' from any status")
            continue
        guard = "" if transition.cancel == ANY else f" [{transition.cancel}]"
        for source in sorted(transition.sources, key=STATUSES.index):
            lines.append(f"    {source} --> {transition.to_status(source)}: {transition.event}{guard}")
    return "\n".join(lines)
