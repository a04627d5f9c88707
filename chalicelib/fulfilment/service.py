"""The worker steps of an order's journey after checkout, staff packing and the customer's cancel.

The state machine (statemachines/fulfilment.asl.json) decides the order of steps; this module does the work
of each step it sends through SQS. Every status change goes through the order's lifecycle table
(orders/lifecycle.py). Every step is idempotent: SQS delivers at least once and providers resend and reorder.
A step that lost a race or hit an outage reports WorkerError, which the state machine retries with back-off;
a step the order's state does not allow reports StepRefused, and the order is flagged with that cause.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib import clock
from chalicelib.errors import Conflict, NotFound
from chalicelib.inventory.domain import COMMIT, RELEASE, RESTOCK
from chalicelib.notifications import service as notifications
from chalicelib.notifications.domain import ORDER_PLACED
from chalicelib.observability import logger, metrics
from chalicelib.orders import lifecycle, workflow
from chalicelib.orders import service as orders
from chalicelib.orders.domain import COD, Order, is_payment_overdue
from chalicelib.orders.lifecycle import (
    CANCELLED,
    COMPLETED,
    DELIVERED,
    EXPIRED,
    IN_TRANSIT,
    NEEDS_ATTENTION,
    PACKED,
    PAID,
    PAYMENT_FAILED,
    PENDING_PAYMENT,
    READY_TO_PACK,
    RETURNED,
    SHIPPED,
    TransitionRefused,
)
from chalicelib.payments import service as payments
from chalicelib.payments.gateway import GatewayError, RefundDeferred
from chalicelib.payments.refunds import PAID as PAYOUT_PAID
from chalicelib.returns import service as returns
from chalicelib.shipping import service as shipping
from chalicelib.shipping import tracking
from chalicelib.shipping.adapters import courier
from chalicelib.shipping.couriers import (
    MAY_HAVE_BOOKED,
    Booking,
    BookingRejected,
    CourierError,
    CourierOutcomeUnknown,
    Unknown,
)

SYSTEM = orders.SYSTEM
Message = dict[str, Any]


def _notify(event: str, order: Order, extra: dict[str, Any] | None = None) -> None:
    notifications.request(event, order.to_dict(), extra)


def _tell_order_placed(order: Order) -> None:
    """The order-placed message with the payment instructions the order holds. Asked for by the workflow's first step,
    not by the checkout, so placing an order sends nothing to SQS itself; a redelivered step asks again, and the
    notifications area still sends one message per (order, event)."""
    _notify(ORDER_PLACED, order, {"payment": order.payment})


# ---- the worker: one function per task the state machine sends --------------------------------------------


def handle_task(message: Message) -> str:
    """Run one step and answer its task token; returns what was done, for the logs."""
    task, order_id, token = message["task"], message["order_id"], message["token"]
    handler = TASKS.get(task)
    if handler is None:
        workflow.fail(token, workflow.UNKNOWN_TASK, f"no worker for task {task}")
        return f"unknown task {task}"
    try:
        return handler(order_id, token, message)
    except RefundDeferred as deferred:  # the gateway's quiet hours: the state machine asks again later
        workflow.fail(token, workflow.REFUND_DEFERRED, f"{task}: {deferred}")
        return f"deferred ({deferred})"
    except (GatewayError, CourierError) as error:  # an outage: worth the state machine's retry with back-off
        workflow.fail(token, workflow.WORKER_ERROR, f"{task}: {error}")
        return f"retry ({error})"
    except (TransitionRefused, NotFound) as refused:
        workflow.fail(token, workflow.STEP_REFUSED, f"{task}: {refused.message}")
        return f"refused ({refused.message})"
    except Conflict as conflict:  # the order changed under a transaction: decide again on a fresh read
        workflow.fail(token, workflow.WORKER_ERROR, f"{task}: {conflict.message}")
        return f"retry ({conflict.message})"


def await_payment(order_id: str, token: str, message: Message) -> str:
    """The order's first step: tell the customer the order is placed, whatever happens to its payment, then park the
    token; if the payment, its end or a cancel already happened, answer at once (no lost wake-ups). Cash on delivery
    waits for no payment: answered at once, where a Choice state would cost every order a transition."""
    order = orders.store_token(order_id, "payment", token)
    _tell_order_placed(order)
    if order.payment_method == COD:
        workflow.resume(token, {"paid": False, "cash_on_delivery": True})
        return "cash on delivery: nothing to wait for"
    ended = {EXPIRED: workflow.PAYMENT_EXPIRED, PAYMENT_FAILED: workflow.PAYMENT_FAILED,
             CANCELLED: workflow.ORDER_CANCELLED}
    if order.status == PAID:
        workflow.resume(token, {"paid": True})
        return "already paid"
    if order.status in ended:
        workflow.fail(token, ended[order.status], f"the order is already {order.status}")
        return f"already {order.status}"
    if order.status == PENDING_PAYMENT and order.cancel_requested:
        workflow.fail(token, workflow.ORDER_CANCELLED, "the customer cancelled before paying")
        return "already cancelled"
    if order.payment_held:
        workflow.fail(token, workflow.PAYMENT_HELD, "the card payment is held for review")
        return "held for review"
    if order.status != PENDING_PAYMENT:  # no payment can come for it: refused with the table's reason
        lifecycle.transition_for(lifecycle.PAY, order.status, cancel_requested=order.cancel_requested)
    return "waiting for payment"


def await_payment_review(order_id: str, token: str, message: Message) -> str:
    """A card payment held for fraud review: park the token until staff accept (the payment resumes it) or deny
    (the gateway's deny fails it); if the decision already came, answer at once."""
    order = orders.store_token(order_id, "payment", token)
    if order.status == PAID:
        workflow.resume(token, {"paid": True})
        return "already paid"
    if order.status in (PAYMENT_FAILED, EXPIRED):
        workflow.fail(token, workflow.PAYMENT_FAILED, f"the order is already {order.status}")
        return f"already {order.status}"
    if order.status == CANCELLED or (order.status == PENDING_PAYMENT and order.cancel_requested):
        workflow.fail(token, workflow.ORDER_CANCELLED, "cancelled while the payment was held")
        return "already cancelled"
    if order.status != PENDING_PAYMENT:  # no payment can come for it: refused with the table's reason
        lifecycle.transition_for(lifecycle.PAY, order.status, cancel_requested=order.cancel_requested)
    return "waiting for the payment review"


AFTER_COMMIT = frozenset({READY_TO_PACK, PACKED, SHIPPED, IN_TRANSIT, DELIVERED, COMPLETED})


def commit_stock(order_id: str, token: str, message: Message) -> str:
    """Reserved units become sold, exactly once: the order moves to READY_TO_PACK in the same transaction."""
    order = orders.load(order_id)
    if order.status in AFTER_COMMIT:
        workflow.resume(token, {"committed": True})
        return "already committed"
    orders.transition_with_stock(order, lifecycle.COMMIT_STOCK, COMMIT, reason="sold")
    workflow.resume(token, {"committed": True})
    return "stock committed"


def await_packing(order_id: str, token: str, message: Message) -> str:
    order = orders.store_token(order_id, "packing", token)
    if order.status == READY_TO_PACK and order.cancel_requested:
        workflow.fail(token, workflow.ORDER_CANCELLED, "the customer cancelled before packing")
        return "already cancelled"
    if order.status in AFTER_COMMIT - {READY_TO_PACK}:
        workflow.resume(token, {"packed": True})
        return "already packed"
    if order.status != READY_TO_PACK:  # nothing to pack: refused with the table's reason
        lifecycle.transition_for(lifecycle.PACK, order.status, cancel_requested=order.cancel_requested)
    return "waiting for packing"


def book_shipment(order_id: str, token: str, message: Message) -> str:
    """Book the courier once per order. An outage where the courier did not act is retried by the state machine
    with back-off; an answer lost after sending (a timeout, a 5xx) fails CourierOutcomeUnknown, and the state
    machine's RecoverBooking sends this step again with `recover`: the booking is then looked up by the order's
    reference and reused, booked only when the courier holds none, and handed to staff (BookingUncertain) when the
    courier offers no lookup. A refusal needs a person."""
    order = orders.load(order_id)
    if order.shipment and order.status in (SHIPPED, IN_TRANSIT, DELIVERED, COMPLETED):
        workflow.resume(token, {"booking_id": order.shipment["booking_id"]})
        return "already booked"
    lifecycle.transition_for(lifecycle.SHIP, order.status, cancel_requested=order.cancel_requested)
    carrier = courier()
    booking: Booking | None = None
    if message.get(workflow.RECOVER):
        try:
            found = carrier.find_booking(order_id)
        except CourierError as outage:
            workflow.fail(token, workflow.COURIER_UNAVAILABLE, f"the courier could not look the booking up: {outage}")
            return "courier unavailable"
        if isinstance(found, Unknown):
            workflow.fail(token, workflow.BOOKING_UNCERTAIN, MAY_HAVE_BOOKED)
            return "booking uncertain"
        booking = found
    found_again = booking is not None
    if booking is None:
        try:
            booking = carrier.book(shipping.booking_request(order))
        except (BookingRejected, ValueError) as refused:
            workflow.fail(token, workflow.BOOKING_REJECTED, f"the courier refused the booking: {refused}")
            return "booking rejected"
        except CourierOutcomeUnknown as lost:
            workflow.fail(token, workflow.COURIER_OUTCOME_UNKNOWN,
                          f"no answer from the courier ({lost}); {MAY_HAVE_BOOKED}")
            return "outcome unknown"
        except CourierError as outage:
            workflow.fail(token, workflow.COURIER_UNAVAILABLE, f"the courier is unavailable: {outage}")
            return "courier unavailable"
    shipment = {**booking.to_dict(), "history": []}
    detail = f"{booking.courier} {booking.service}, waybill {booking.waybill_id}"
    try:
        shipped = orders.transition(order_id, lifecycle.SHIP, first=order,
                                    detail=detail + (" (found at the courier after its answer was lost)"
                                                     if found_again else ""),
                                    changes=lambda _: {"shipment": shipment})
    except TransitionRefused as refused:  # the order moved on while the courier booked: a person cancels the pickup
        workflow.fail(token, workflow.STEP_REFUSED, f"the courier booked {booking.booking_id} ({detail}) but "
                      f"{refused.message}: cancel that booking with the courier")
        return f"refused ({refused.message})"
    except Conflict as conflict:  # booked, not saved: the next attempt must find this booking, not book another
        workflow.fail(token, workflow.COURIER_OUTCOME_UNKNOWN, f"the courier booked {booking.booking_id} ({detail}) "
                      f"but it could not be saved on the order ({conflict.message})")
        return f"booked, not saved ({conflict.message})"
    _notify("shipped", shipped, {"shipment": shipment})
    workflow.resume(token, {"booking_id": booking.booking_id, "waybill_id": booking.waybill_id})
    return "booking found again" if found_again else "booked"


def await_delivery(order_id: str, token: str, message: Message) -> str:
    order = orders.store_token(order_id, "delivery", token)
    current = (order.shipment or {}).get("status")
    outcome = tracking.outcome(current) if current else None
    if outcome:
        workflow.resume(token, {workflow.OUTCOME: outcome, "status": current})
        return f"already {outcome}"
    return "waiting for delivery"


def complete_order(order_id: str, token: str, message: Message) -> str:
    """Delivered: the order is complete; for cash on delivery the courier's collection is the payment. Its loyalty
    earning is planned (once, however often this step runs) for when the return window closes. A parcel the courier
    ended otherwise fails ParcelNotDelivered, which the state machine catches into FlagReturnedParcel: deciding here
    saves every delivered order the transition of a Choice on the outcome."""
    order = orders.load(order_id)
    courier_status = _not_delivered(order)
    if courier_status:
        workflow.fail(token, workflow.PARCEL_NOT_DELIVERED, f"the courier reported '{courier_status}'")
        return f"not delivered ({courier_status})"
    if order.status != COMPLETED:
        if order.payment_method == COD:
            payments.record_cash_collected(order, collector=(order.shipment or {}).get("provider", "courier"))
        order = orders.transition(order_id, lifecycle.COMPLETE, first=order)
    orders.settle_points(order)  # its points are credited once the return window closes
    workflow.resume(token, {"completed": True})
    return "completed"


def _not_delivered(order: Order) -> str | None:
    """The courier's final status of a parcel that did not reach the customer (returned, rejected, lost), or None."""
    if order.status in (DELIVERED, COMPLETED):
        return None
    courier_status = (order.shipment or {}).get("status")
    outcome = tracking.outcome(courier_status) if courier_status else None
    return courier_status if outcome is not None and outcome != workflow.DELIVERED else None


def flag_return(order_id: str, token: str, message: Message) -> str:
    """Returned, rejected or no courier (a refused COD too): the parcel comes back to the shop as a return,
    which staff receive and inspect like any other and which refunds what was paid."""
    order = orders.load(order_id)
    courier_status = (order.shipment or {}).get("status", "unknown")
    if order.status != RETURNED:
        order = orders.transition(order_id, lifecycle.RETURN, first=order,
                                  detail=f"courier reported '{courier_status}'")
        metrics.add_metric(name="ParcelsReturned", unit=MetricUnit.Count, value=1)
        logger.warning("parcel returned", extra={"order_id": order_id, "courier_status": courier_status})
    opened = returns.open_courier_return(order, courier_status=courier_status)
    workflow.resume(token, {"flagged": True, "return_id": opened.return_id})
    return f"returned to sender: {opened.return_id}"


# The unpaid ends the workflow carries out, and what the customer is told.
UNPAID_ENDS = {lifecycle.EXPIRE: (EXPIRED, "expired"), lifecycle.FAIL_PAYMENT: (PAYMENT_FAILED, "cancelled")}


def end_unpaid(order: Order, event: str) -> Order:
    """Expire or fail an unpaid order: reserved units go back on sale and the customer is told why."""
    ended = orders.release_reservation(order, event)
    _notify(UNPAID_ENDS[event][1], ended, {"reason": ended.timeline[-1].note})
    return ended


def release_stock(order_id: str, token: str, message: Message) -> str:
    """Unpaid order ends: reserved units go back on sale. A payment that raced the end needs a person."""
    event = message["event"]
    target, _ = UNPAID_ENDS[event]
    order = orders.load(order_id)
    if order.payment_method == COD:  # its first step was never answered (the worker down for the whole wait)
        workflow.fail(token, workflow.STEP_REFUSED, f"cash on delivery order is {order.status}: there is no payment "
                      "to end, but its first workflow step was not answered in time")
        return "refused (cash on delivery)"
    if order.status == PENDING_PAYMENT:
        end_unpaid(order, event)
    elif order.status == PAID:
        orders.flag(order_id, lifecycle.FLAG_FOR_REVIEW,
                    "paid as the payment window closed: refund or fulfil by hand (stock is still reserved)")
    elif order.status == target:
        orders.settle_points(order)  # ended by a retry's first try or the gateway: finish giving points back
    workflow.resume(token, {"released": order.status in (PENDING_PAYMENT, target)})
    return f"ended ({event})"


def cancel_order(order_id: str, token: str, message: Message) -> str:
    """Carry out the customer's cancel: reserved units released or sold units restocked, payment voided or
    refunded, the customer told. A retry after a failed refund finishes the refund (it is idempotent)."""
    order = orders.load(order_id)
    if order.status != CANCELLED:
        unpaid, committed = order.status == PENDING_PAYMENT, orders.stock_was_committed(order)
        order = orders.transition_with_stock(
            order, lifecycle.CANCEL, RESTOCK if committed else RELEASE, actor=SYSTEM,
            detail="sold units back on hand" if committed else "reserved units back on sale")
        if unpaid and order.payment:
            payments.void_charge(order_id)
    # give_back also settles the order's points: the points it spent go back whether or not money was paid
    given = payments.give_back(order, reason="cancelled by the customer", refund_key=f"refund-{order_id}")
    owed = given.refunded or (given.payout.amount if given.payout else 0)
    # delivered once per (order, event): a retried step does not tell the customer twice
    reason = ("pembayaran Anda dibatalkan oleh bank" if _stopped_by_payments(order)
              else "dibatalkan atas permintaan Anda")
    _notify("cancelled", order, {"reason": reason, "refund_amount": owed,
                                 "refund_by": "payout" if given.payout else "gateway"})
    output: dict[str, Any] = {"cancelled": True, "refunded": given.refunded}
    if given.payout and given.payout.status != PAYOUT_PAID:  # the workflow waits for finance's transfer
        output[workflow.PAYOUT_ID] = given.payout.payout_id
    workflow.resume(token, output)
    if given.payout:
        return f"cancelled, payout {given.payout.payout_id} of Rp{given.payout.amount:,} {given.payout.status}"
    return "cancelled" + (f", refunded Rp{given.refunded:,}" if given.refunded else "")


def _stopped_by_payments(order: Order) -> bool:
    """The cancel came from the payment side (the bank reversed the payment), not from the customer."""
    asked = [entry for entry in order.timeline if entry.event == lifecycle.REQUEST_CANCEL]
    return bool(asked) and asked[-1].actor == "payments"


def await_payout(order_id: str, token: str, message: Message) -> str:
    """Wait for finance to confirm the bank transfer of a refund the gateway could not make."""
    payout_id = message[workflow.PAYOUT_ID]
    if payments.await_payout(payout_id, token):
        workflow.resume(token, {"paid_out": True, workflow.PAYOUT_ID: payout_id})
        return "already paid out"
    return "waiting for the payout"


def needs_attention(order_id: str, token: str, message: Message) -> str:
    """The workflow gave up on a step: flag the order with the real cause and raise the alarm."""
    failure = message.get("failure") or {}
    cause = f"{failure.get('Error') or 'the workflow stopped'}: {failure.get('Cause') or 'no cause given'}"
    order = orders.find(order_id)
    if order is not None and not (order.status == NEEDS_ATTENTION and order.attention == cause):
        orders.flag(order_id, lifecycle.FLAG_FOR_ATTENTION, cause)
    metrics.add_metric(name="OrdersNeedingAttention", unit=MetricUnit.Count, value=1)
    logger.error("order needs attention", extra={"order_id": order_id, "cause": cause})
    workflow.resume(token, {"flagged": True})
    return "flagged"


TASKS: dict[str, Callable[[str, str, Message], str]] = {
    workflow.AWAIT_PAYMENT: await_payment,
    workflow.AWAIT_PAYMENT_REVIEW: await_payment_review,
    workflow.COMMIT_STOCK: commit_stock,
    workflow.AWAIT_PACKING: await_packing,
    workflow.BOOK_SHIPMENT: book_shipment,
    workflow.AWAIT_DELIVERY: await_delivery,
    workflow.COMPLETE_ORDER: complete_order,
    workflow.FLAG_RETURN: flag_return,
    workflow.RELEASE_STOCK: release_stock,
    workflow.CANCEL_ORDER: cancel_order,
    workflow.AWAIT_PAYOUT: await_payout,
    workflow.NEEDS_ATTENTION: needs_attention,
}


# ---- the safety net --------------------------------------------------------------------------------------

SWEEP_GRACE = timedelta(minutes=10)


def expire_overdue_orders(*, batch: int = 100) -> dict[str, int]:
    """Scheduled sweep: unpaid orders past their payment deadline expire and release their stock.

    The workflow ends unpaid orders at their deadline; this catches orders whose workflow never started or
    stopped, so it waits a grace period first. Each expiry is a conditional transaction: safe to run twice.
    """
    overdue_before = clock.iso(clock.now() - SWEEP_GRACE)
    expired = skipped = 0
    cursor: str | None = None
    while True:
        pending, cursor = orders.by_status(PENDING_PAYMENT, limit=batch, cursor=cursor)
        for order in pending:
            if not is_payment_overdue(order, overdue_before):
                continue
            try:
                end_unpaid(order, lifecycle.EXPIRE)
            except Conflict:
                skipped += 1
                continue
            expired += 1
            if order.tokens.get("payment"):  # a workflow still waiting ends too (its release step is a no-op)
                workflow.fail(order.tokens["payment"], workflow.PAYMENT_EXPIRED, "expired by the overdue-order sweep")
        if not cursor:
            break
    if expired or skipped:
        logger.info("overdue orders expired", extra={"expired": expired, "skipped": skipped})
    return {"expired": expired, "skipped": skipped}


# ---- staff and customer actions ---------------------------------------------------------------------------


def mark_packed(order_id: str, *, actor: str) -> dict[str, Any]:
    """Staff packed the parcel: the workflow books the courier next. Refused (409) once the customer asked to
    cancel; packing an already packed order again answers with it unchanged."""
    try:
        order = orders.transition(order_id, lifecycle.PACK, actor=actor)
    except TransitionRefused:
        current = orders.load(order_id)
        if current.status == PACKED:
            return current.to_dict()
        raise
    token = order.tokens.get("packing")
    if token:
        workflow.resume(token, {"packed": True, "by": actor})
    return order.to_dict()


def request_cancel(order: Order, *, actor: str) -> dict[str, Any]:
    """A customer asks to cancel before packing; the workflow releases or restocks the stock and refunds.

    Refused (409) once staff packed the order. Asking twice answers with the pending request unchanged.
    """
    if order.cancel_requested and order.allows(lifecycle.CANCEL):
        return order.to_dict()
    try:
        updated = orders.transition(order.order_id, lifecycle.REQUEST_CANCEL, actor=actor, first=order)
    except TransitionRefused:
        current = orders.load(order.order_id)
        if current.cancel_requested and current.allows(lifecycle.CANCEL):
            return current.to_dict()
        raise
    step = "payment" if updated.status == PENDING_PAYMENT else "packing"
    token = updated.tokens.get(step)
    if token:
        workflow.fail(token, workflow.ORDER_CANCELLED, f"cancelled by {actor}")
    logger.info("cancel requested", extra={"order_id": order.order_id, "status": updated.status})
    return updated.to_dict()

