"""Every step of an order's journey after checkout, in one place.

The state machine (statemachines/fulfilment.asl.json) decides the order of steps; this module does the work
of each step it sends through SQS, and handles the outside events that let a waiting step continue:
payment confirmed or failed, staff packed the parcel, the courier reported a final status, the customer
cancelled. Every handler is idempotent: SQS delivers at least once and providers resend and reorder.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib import clock, config
from chalicelib.errors import Conflict, NotFound
from chalicelib.fulfilment import workflow
from chalicelib.inventory.domain import COMMIT, RESTOCK, Movement
from chalicelib.notifications import service as notifications
from chalicelib.observability import logger, metrics
from chalicelib.orders import repository as orders
from chalicelib.orders.domain import (
    CANCELLABLE,
    CANCELLED,
    COD,
    COMPLETED,
    CONFIRMED,
    DELIVERED,
    EXPIRED,
    IN_TRANSIT,
    NEEDS_ATTENTION,
    NEEDS_REVIEW,
    PACKED,
    PAID,
    PAYMENT_FAILED,
    PENDING_PAYMENT,
    READY_TO_PACK,
    RETURNED,
    SHIPPED,
    Order,
    is_payment_overdue,
)
from chalicelib.orders.service import move_stock_with_order, release_reservation
from chalicelib.payments import ledger
from chalicelib.payments.adapters import payment_gateway
from chalicelib.payments.gateway import GatewayError
from chalicelib.shipping import tracking
from chalicelib.shipping.adapters import courier
from chalicelib.shipping.couriers import Address, BookingRejected, BookingRequest, Contact, CourierError
from chalicelib.shipping.domain import ParcelItem

SYSTEM = "system"
# Attention values the payment processor leaves for the payment step when the gateway ends a payment.
PAYMENT_FAILED_MARK = "payment_failed"
PAYMENT_EXPIRED_MARK = "payment_expired"


class WorkerError(Exception):
    """A step failed in a way worth retrying (the message goes back to the queue)."""


def _load(order_id: str) -> Order:
    order = orders.get(order_id)
    if order is None:
        raise NotFound(f"order {order_id} not found", code="order_not_found")
    return order


def _notify(event: str, order: Order, extra: dict[str, Any] | None = None) -> None:
    notifications.request(event, order.to_dict(), extra)


# ---- starting --------------------------------------------------------------------------------------------


def start(order: Order) -> None:
    """Start the order's workflow; the reconciliation schedule starts any that a failure left unstarted."""
    seconds = 0
    if order.payment_deadline:
        seconds = int((clock.parse_iso(order.payment_deadline) - clock.now()).total_seconds())
    workflow.start(order.order_id, cod=order.payment_method == COD, payment_timeout_seconds=max(1, seconds))


# ---- the worker: one function per task the state machine sends --------------------------------------------


def handle_task(message: dict[str, Any]) -> str:
    """Run one step. Returns what was done, for the logs."""
    task, order_id, token = message["task"], message["order_id"], message["token"]
    handler = TASKS.get(task)
    if handler is None:
        workflow.fail(token, "UnknownTask", f"no worker for task {task}")
        return f"unknown task {task}"
    return handler(order_id, token, message)


def _store_token(order_id: str, step: str, token: str) -> Order:
    order = orders.update(order_id, set_values={orders.TOKEN_ATTRIBUTES[step]: token}, at=clock.now_iso())
    if order is None:
        raise NotFound(f"order {order_id} not found", code="order_not_found")
    return order


def await_payment(order_id: str, token: str, message: dict[str, Any]) -> str:
    """Park the token; if the payment or a cancel already happened, answer at once (no lost wake-ups)."""
    order = _store_token(order_id, "payment", token)
    if order.status == PAID:
        workflow.resume(token, {"paid": True})
        return "already paid"
    if order.cancel_requested:
        workflow.fail(token, "OrderCancelled", "the customer cancelled before paying")
        return "already cancelled"
    if order.attention == PAYMENT_FAILED_MARK:
        workflow.fail(token, "PaymentFailed", "the gateway ended the payment")
        return "already failed"
    if order.attention == PAYMENT_EXPIRED_MARK:
        workflow.fail(token, "PaymentExpired", "the gateway expired the payment")
        return "already expired"
    if order.status != PENDING_PAYMENT:
        workflow.fail(token, "OrderNotPayable", f"order is {order.status}")
        return f"not payable ({order.status})"
    return "waiting for payment"


def commit_stock(order_id: str, token: str, message: dict[str, Any]) -> str:
    """Reserved units become sold, exactly once: the order moves to READY_TO_PACK in the same transaction."""
    order = _load(order_id)
    if order.status not in (PAID, CONFIRMED):
        if order.status in (READY_TO_PACK, PACKED, SHIPPED, IN_TRANSIT, DELIVERED, COMPLETED):
            workflow.resume(token, {"committed": True})
            return "already committed"
        workflow.fail(token, "OrderNotCommittable", f"order is {order.status}")
        return f"not committable ({order.status})"
    after = order.with_status(READY_TO_PACK, at=clock.now_iso(), note="stock committed; waiting for packing",
                              actor=SYSTEM)
    movements = [
        Movement(sku=line["sku"], kind=COMMIT, delta_on_hand=-int(line["quantity"]),
                 delta_reserved=-int(line["quantity"]), reason="sold", actor=SYSTEM, reference=order_id)
        for line in order.lines
    ]
    try:
        move_stock_with_order(movements, order, after)
    except Conflict:
        raise WorkerError(f"order {order_id} changed while committing stock; retrying") from None
    workflow.resume(token, {"committed": True})
    return "stock committed"


def await_packing(order_id: str, token: str, message: dict[str, Any]) -> str:
    order = _store_token(order_id, "packing", token)
    if order.cancel_requested:
        workflow.fail(token, "OrderCancelled", "the customer cancelled before packing")
        return "already cancelled"
    if order.status == PACKED:
        workflow.resume(token, {"packed": True})
        return "already packed"
    return "waiting for packing"


def _booking_request(order: Order) -> BookingRequest:
    address = order.shipping_address
    city, province = config.shop_origin()
    items = tuple(
        ParcelItem(name=line["name"], weight_grams=max(1, int(line["weight_grams"]) // int(line["quantity"])),
                   quantity=int(line["quantity"]), value=int(line["unit_price"]))
        for line in order.lines
    )
    return BookingRequest(
        order_id=order.order_id,
        courier=order.shipping["courier"],
        service=order.shipping["service"],
        items=items,
        origin_contact=Contact(name="TokoKita", phone=config.get("TOKOFLOW_SHOP_PHONE", "+62274000000")),
        origin_address=Address(street=config.get("TOKOFLOW_SHOP_STREET", "Jl. Kemasan 1, Kotagede"), city=city,
                               province=province, postal_code=config.get("TOKOFLOW_SHOP_ORIGIN_POSTAL_CODE", "55173")),
        destination_contact=Contact(name=address["recipient"], phone=address["phone"],
                                    email=order.customer.get("email", "")),
        destination_address=Address(street=address["street"], city=address["city"], province=address["province"],
                                    postal_code=address["postal_code"], notes=address.get("notes", "")),
        cash_on_delivery_amount=int(order.totals["total"]) if order.payment_method == COD else 0,
        insurance_value=int(order.totals["subtotal"]),
    )


def book_shipment(order_id: str, token: str, message: dict[str, Any]) -> str:
    """Book the courier; an outage is retried by the state machine with back-off, a refusal needs a person."""
    order = _load(order_id)
    if order.shipment and order.status in (SHIPPED, IN_TRANSIT, DELIVERED, COMPLETED):
        workflow.resume(token, {"booking_id": order.shipment["booking_id"]})
        return "already booked"
    if order.status != PACKED:
        workflow.fail(token, "OrderNotBookable", f"order is {order.status}")
        return f"not bookable ({order.status})"
    try:
        booking = courier().book(_booking_request(order))
    except BookingRejected as refused:
        workflow.fail(token, "BookingRejected", str(refused))
        return "booking rejected"
    except CourierError as outage:
        workflow.fail(token, "CourierUnavailable", str(outage))
        return "courier unavailable"
    shipment = {**booking.to_dict(), "history": []}
    note = f"booked with {booking.courier} {booking.service}, waybill {booking.waybill_id}"
    updated = orders.update(order_id, set_values={"shipment": shipment, "shipment_ref": booking.booking_id},
                            status=SHIPPED, note=note, allowed_from={PACKED}, at=clock.now_iso())
    if updated is not None:
        _notify("shipped", updated, {"shipment": shipment})
    workflow.resume(token, {"booking_id": booking.booking_id, "waybill_id": booking.waybill_id})
    return "booked"


def await_delivery(order_id: str, token: str, message: dict[str, Any]) -> str:
    order = _store_token(order_id, "delivery", token)
    current = (order.shipment or {}).get("status")
    outcome = tracking.outcome(current) if current else None
    if outcome:
        workflow.resume(token, {"outcome": outcome, "status": current})
        return f"already {outcome}"
    return "waiting for delivery"


def complete_order(order_id: str, token: str, message: dict[str, Any]) -> str:
    """Delivered: the order is complete; for cash on delivery the courier's collection is the payment."""
    order = _load(order_id)
    if order.payment_method == COD:
        ledger.record(order_id, kind=ledger.COD_COLLECTED, amount=int(order.totals["total"]),
                      provider=(order.shipment or {}).get("provider", "courier"), reference=order_id, actor=SYSTEM,
                      method=COD)
    orders.update(order_id, status=COMPLETED, note="delivered and complete", allowed_from={DELIVERED},
                  at=clock.now_iso())
    workflow.resume(token, {"completed": True})
    return "completed"


def flag_return(order_id: str, token: str, message: dict[str, Any]) -> str:
    order = _load(order_id)
    status = (order.shipment or {}).get("status", "unknown")
    reason = f"courier reported '{status}': decide on refund and restock"
    orders.update(order_id, status=RETURNED, note=reason, allowed_from={SHIPPED, IN_TRANSIT, DELIVERED},
                  set_values={"attention": reason}, at=clock.now_iso())
    metrics.add_metric(name="ParcelsReturned", unit=MetricUnit.Count, value=1)
    logger.warning("parcel returned", extra={"order_id": order_id, "courier_status": status})
    workflow.resume(token, {"flagged": True})
    return "flagged for refund decision"


RELEASE_NOTES = {
    EXPIRED: ("payment deadline passed; stock released", "expired"),
    PAYMENT_FAILED: ("payment failed; stock released", "cancelled"),
    CANCELLED: ("cancelled by the customer before payment; stock released", "cancelled"),
}


def release_stock(order_id: str, token: str, message: dict[str, Any]) -> str:
    """Unpaid order ends: reserved units go back on sale. A payment that raced the end needs a person."""
    outcome = message["outcome"]
    note, event = RELEASE_NOTES[outcome]
    order = _load(order_id)
    if order.status == PENDING_PAYMENT:
        try:
            ended = release_reservation(order, status=outcome, note=note, actor=SYSTEM)
        except Conflict:
            raise WorkerError(f"order {order_id} changed while releasing stock; retrying") from None
        if outcome == CANCELLED and order.payment:
            _void_payment(order_id)
        _notify(event, ended, {"reason": note})
    elif order.status == PAID:
        reason = "paid as the payment window closed: refund or fulfil by hand (stock is still reserved)"
        orders.update(order_id, status=NEEDS_REVIEW, note=reason, allowed_from={PAID},
                      set_values={"attention": reason}, at=clock.now_iso())
    workflow.resume(token, {"released": order.status == PENDING_PAYMENT})
    return f"ended as {outcome}"


def _void_payment(order_id: str) -> None:
    """Close the unpaid virtual account or QR code so the customer cannot pay a cancelled order."""
    try:
        payment_gateway().cancel(order_id)
    except GatewayError as error:  # an unpaid charge also lapses at its own expiry; a late payment is flagged
        logger.warning("payment could not be voided", extra={"order_id": order_id, "error": str(error)})


def cancel_committed(order_id: str, token: str, message: dict[str, Any]) -> str:
    """Cancel after stock was committed but before packing: units back on hand, payment refunded."""
    order = _load(order_id)
    if order.status == CANCELLED:  # a retry after the refund failed: the refund is idempotent, finish it
        refunded = refund(order_id, reason="cancelled by the customer") if order.payment_method != COD else 0
        workflow.resume(token, {"cancelled": True, "refunded": refunded})
        return "already cancelled"
    if order.status != READY_TO_PACK:
        workflow.fail(token, "OrderNotCancellable", f"order is {order.status}")
        return f"not cancellable ({order.status})"
    after = order.with_status(CANCELLED, at=clock.now_iso(), note="cancelled by the customer; stock returned",
                              actor="customer")
    movements = [
        Movement(sku=line["sku"], kind=RESTOCK, delta_on_hand=int(line["quantity"]), delta_reserved=0,
                 reason="order cancelled before packing", actor=SYSTEM, reference=order_id)
        for line in order.lines
    ]
    try:
        move_stock_with_order(movements, order, after)
    except Conflict:
        raise WorkerError(f"order {order_id} changed while cancelling; retrying") from None
    refunded = 0
    if order.payment_method != COD:
        refunded = refund(order_id, reason="cancelled by the customer")
    _notify("cancelled", after, {"reason": "dibatalkan atas permintaan Anda", "refund_amount": refunded})
    workflow.resume(token, {"cancelled": True, "refunded": refunded})
    return "cancelled and refunded"


def refund(order_id: str, *, reason: str) -> int:
    """Refund whatever the ledger says we hold for the order; recorded once however often it runs."""
    held = ledger.balance(order_id)
    if held <= 0:
        return 0
    result = payment_gateway().refund(order_id, amount=held, reason=reason, refund_key=f"refund-{order_id}")
    ledger.record(order_id, kind=ledger.REFUND, amount=-result.amount, provider=payment_gateway().name,
                  reference=result.refund_key, actor=SYSTEM)
    return result.amount


def needs_attention(order_id: str, token: str, message: dict[str, Any]) -> str:
    """The workflow gave up on a step: flag the order for staff and raise the alarm (metric + error log)."""
    order = orders.get(order_id)
    reason = "the fulfilment workflow stopped; see the timeline"
    if order is not None and order.status not in (NEEDS_ATTENTION,):
        orders.update(order_id, status=NEEDS_ATTENTION, note=reason, set_values={"attention": reason},
                      at=clock.now_iso())
    metrics.add_metric(name="OrdersNeedingAttention", unit=MetricUnit.Count, value=1)
    logger.error("order needs attention", extra={"order_id": order_id})
    workflow.resume(token, {"flagged": True})
    return "flagged"


TASKS = {
    "await_payment": await_payment,
    "commit_stock": commit_stock,
    "await_packing": await_packing,
    "book_shipment": book_shipment,
    "await_delivery": await_delivery,
    "complete_order": complete_order,
    "flag_return": flag_return,
    "release_stock": release_stock,
    "cancel_committed": cancel_committed,
    "needs_attention": needs_attention,
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
                ended = release_reservation(order, status=EXPIRED, note=RELEASE_NOTES[EXPIRED][0], actor=SYSTEM)
            except Conflict:
                skipped += 1
                continue
            expired += 1
            _notify("expired", ended, {"reason": RELEASE_NOTES[EXPIRED][0]})
            if order.tokens.get("payment"):  # a workflow still waiting ends too (its release step is a no-op)
                workflow.fail(order.tokens["payment"], "PaymentExpired", "expired by the overdue-order sweep")
        if not cursor:
            break
    if expired or skipped:
        logger.info("overdue orders expired", extra={"expired": expired, "skipped": skipped})
    return {"expired": expired, "skipped": skipped}


# ---- outside events ---------------------------------------------------------------------------------------


def mark_packed(order_id: str, *, actor: str) -> dict[str, Any]:
    """Staff packed the parcel: the workflow books the courier next."""
    order = orders.update(order_id, status=PACKED, note="packed", actor=actor, allowed_from={READY_TO_PACK},
                          at=clock.now_iso())
    if order is None:
        current = _load(order_id)
        if current.status == PACKED:
            return current.to_dict()
        raise Conflict(f"order {order_id} is {current.status}: only orders ready to pack can be packed",
                       code="not_ready_to_pack")
    token = order.tokens.get("packing")
    if token:
        workflow.resume(token, {"packed": True, "by": actor})
    return order.to_dict()


def request_cancel(order: Order, *, actor: str) -> dict[str, Any]:
    """A customer cancels before packing; the workflow releases or returns the stock and refunds."""
    if order.status not in CANCELLABLE:
        raise Conflict(f"order is {order.status}: it can only be cancelled before it is packed",
                       code="not_cancellable")
    updated = orders.update(order.order_id, set_values={"cancel_requested": True}, allowed_from=CANCELLABLE,
                            at=clock.now_iso())
    if updated is None:
        raise Conflict("the order was packed meanwhile: it can no longer be cancelled", code="not_cancellable")
    step = "payment" if updated.status == PENDING_PAYMENT else "packing"
    token = updated.tokens.get(step)
    if token:
        workflow.fail(token, "OrderCancelled", f"cancelled by {actor}")
    logger.info("cancel requested", extra={"order_id": order.order_id, "status": updated.status})
    return updated.to_dict()


def on_courier_update(update: tracking.CourierUpdate) -> str:
    """A courier status (webhook): record it in the shipment history; a final status resumes the workflow."""
    order = orders.by_shipment(update.booking_id) if update.booking_id else None
    if order is None or not order.shipment:
        logger.warning("courier update for an unknown shipment", extra={"booking_id": update.booking_id})
        return "unknown shipment"
    event = update.event()
    if event is None:
        return _note_courier_detail(order, update)
    history = [tracking.TrackingEvent.from_dict(item) for item in order.shipment.get("history", [])]
    history, changed, current = tracking.apply_event(history, event)
    if not changed:
        return "duplicate"
    # the courier's raw payloads stay in the webhook inbox and logs, not on the order (400 KB item limit)
    shipment = {**order.shipment, "status": current,
                "history": [{key: value for key, value in item.to_dict().items() if key != "raw"}
                            for item in history]}
    status, note = _order_status_for(order, current)
    updated = orders.update(order.order_id, set_values={"shipment": shipment}, status=status, note=note,
                            actor=shipment.get("provider", "courier"), allowed_from={order.status},
                            expected_version=order.version, at=clock.now_iso())
    if updated is None:
        raise WorkerError(f"order {order.order_id} changed while recording a courier status; retrying")
    outcome = tracking.outcome(current)
    if outcome == "delivered" and order.status != DELIVERED:
        _notify("delivered", updated)
    token = updated.tokens.get("delivery")
    if outcome and token:
        workflow.resume(token, {"outcome": outcome, "status": current})
    return f"recorded {update.status} (now {current})"


def _order_status_for(order: Order, courier_status: str) -> tuple[str, str]:
    outcome = tracking.outcome(courier_status)
    if outcome == "delivered" and order.status in (SHIPPED, IN_TRANSIT):
        return DELIVERED, "delivered by the courier"
    if outcome is None and order.status == SHIPPED and tracking.rank(courier_status) >= tracking.rank("picked"):
        return IN_TRANSIT, f"courier: {courier_status}"
    return order.status, f"courier: {courier_status}"


def _note_courier_detail(order: Order, update: tracking.CourierUpdate) -> str:
    """order.price / order.waybill_id events: keep the new figure on the shipment, move nothing."""
    shipment = dict(order.shipment or {})
    if update.waybill_id:
        shipment["waybill_id"] = update.waybill_id
    if update.price is not None:
        shipment["actual_price"] = update.price
    if shipment == order.shipment:
        return "duplicate"
    if orders.update(order.order_id, set_values={"shipment": shipment}, expected_version=order.version,
                     at=clock.now_iso()) is None:
        raise WorkerError(f"order {order.order_id} changed while recording a courier detail; retrying")
    return f"recorded {update.kind}"
