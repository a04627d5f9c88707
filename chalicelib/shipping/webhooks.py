"""What happens when a courier reports on a parcel, in one place.

The webhook is authenticated per provider, recorded once in the inbox and handed to the courier-events queue;
the consumer records the status in the shipment's history and moves the order through its lifecycle
(delivered, in transit), then wakes the workflow step waiting for delivery.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib import clock, resources
from chalicelib.errors import NotFound, ServiceUnavailable, Unauthorized, ValidationFailed
from chalicelib.inbox import service as inbox
from chalicelib.notifications import service as notifications
from chalicelib.observability import logger, metrics
from chalicelib.orders import lifecycle, workflow
from chalicelib.orders import service as orders
from chalicelib.orders.domain import Order
from chalicelib.shipping import tracking
from chalicelib.shipping.adapters import BITESHIP, SANDBOX, biteship_webhook_header, webhook_secret

PROVIDERS = (SANDBOX, BITESHIP)


def _authentic(provider: str, headers: Mapping[str, str], body: bytes) -> bool:
    secret = webhook_secret()
    if provider == SANDBOX:
        return tracking.verify_sandbox(secret, body, tracking.header(headers, tracking.SANDBOX_SIGNATURE_HEADER))
    return tracking.verify_biteship(secret, headers, biteship_webhook_header())


def receive(provider: str, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """Acknowledge fast; the courier-events consumer does the work. Biteship's registration ping gets 200."""
    if provider not in PROVIDERS:
        raise NotFound(f"unknown courier provider {provider}", code="unknown_provider")
    if provider == BITESHIP and tracking.is_registration_ping(body):
        return {"status": "ok"}
    if not _authentic(provider, headers, body):
        metrics.add_metric(name="WebhookSignatureFailures", unit=MetricUnit.Count, value=1)
        logger.warning("courier webhook refused", extra={"provider": provider})
        raise Unauthorized("courier webhook authentication failed", code="invalid_signature")
    try:
        payload = json.loads(body)
        update = tracking.parse_biteship_webhook(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise ValidationFailed("body", str(error) or "is not valid JSON") from None
    message_id = f"{provider}:{hashlib.sha256(tracking.canonical_body(payload)).hexdigest()}"
    message = {"provider": provider, "update": update.to_dict(), "raw": payload}
    try:
        fresh = inbox.accept(message_id, provider=provider, reference=update.booking_id,
                             queue=resources.COURIER_EVENTS_QUEUE, message=message)
    except Exception:  # not acknowledged: the courier sends it again, and the inbox lets that copy queue it
        logger.exception("courier update not queued", extra={"provider": provider, "booking_id": update.booking_id})
        raise ServiceUnavailable("the update could not be queued; send it again", code="queue_unavailable") from None
    return {"status": "accepted" if fresh else "duplicate"}


def update_from_message(message: Mapping[str, Any]) -> tracking.CourierUpdate:
    """Rebuild the parsed update from the queued message (the raw payload is re-parsed: one parser only)."""
    return tracking.parse_biteship_webhook(message["raw"])


# ---- what a courier's word does to an order (courier-events queue) -----------------------------------------


class BookingNotYetKnown(Exception):
    """A courier update for a booking no order carries yet: the courier's first webhook often overtakes the
    answer to the booking call, before the shop saved the shipment on the order. Raised so the courier-events
    consumer reports the message as a failed item: SQS delivers it again after the queue's visibility timeout,
    when the booking is saved, and keeps it in the dead-letter queue (alarmed) after the queue's last attempt."""

    def __init__(self, booking_id: str) -> None:
        super().__init__(f"no order carries courier booking {booking_id} yet")
        self.booking_id = booking_id


def _lifecycle_event(order: Order, courier_status: str) -> tuple[str, str]:
    """The order event a courier status means: delivered moves a shipped order on, a pickup puts it in transit,
    anything else (including a return, which the workflow's own step handles) is a tracking note."""
    if tracking.outcome(courier_status) == workflow.DELIVERED and order.allows(lifecycle.DELIVER):
        return lifecycle.DELIVER, ""
    if (tracking.outcome(courier_status) is None and order.allows(lifecycle.PICK_UP)
            and tracking.rank(courier_status) >= tracking.rank(tracking.PICKED)):
        return lifecycle.PICK_UP, courier_status
    return lifecycle.TRACK, courier_status


def _delivered(order: Order) -> bool:
    """The parcel reached the customer: whatever the courier says later is history, not news for the order."""
    return order.delivered_at is not None or (order.shipment or {}).get("status") == tracking.DELIVERED


def _quietly(order: Order, **changes: Any) -> Order:
    """The order with courier details changed and nothing on its timeline: its status does not move."""
    return replace(order, updated_at=clock.now_iso(), version=order.version + 1, **changes)


def _unknown_booking(update: tracking.CourierUpdate, attempt: int) -> BookingNotYetKnown:
    last = attempt >= resources.COURIER_EVENTS_QUEUE.max_receive_count
    metrics.add_metric(name="CourierUpdatesBeforeBooking", unit=MetricUnit.Count, value=1)
    logger.warning("courier update for a booking not recorded yet: "
                   + ("last attempt, the dead-letter queue keeps it" if last else "it will be delivered again"),
                   extra={"booking_id": update.booking_id, "kind": update.kind, "courier_status": update.status,
                          "reference_id": update.reference_id, "attempt": attempt})
    return BookingNotYetKnown(update.booking_id)


def on_courier_update(update: tracking.CourierUpdate, *, attempt: int = 1) -> str:
    """A courier status: record it in the shipment history and move the order (delivered, in transit); a
    final status resumes the workflow waiting for delivery. Duplicates and late, older statuses change nothing
    on the order's timeline; once the parcel is delivered, later statuses are only kept in the shipment history.

    Raises BookingNotYetKnown when no order carries the booking yet (`attempt` is the message's delivery count,
    for the log): the update is applied by a later delivery of the same message, once the booking is saved.
    """
    if not update.booking_id:
        logger.warning("courier update without a booking id", extra={"kind": update.kind})
        return "no booking id"
    order = orders.by_shipment(update.booking_id)
    if order is None or not order.shipment:
        raise _unknown_booking(update, attempt)
    event = update.event()
    if event is None:
        return _note_courier_detail(order, update)

    def decide(before: Order) -> Order | None:
        shipment = before.shipment or {}
        history = [tracking.TrackingEvent.from_dict(item) for item in shipment.get("history", [])]
        history, changed, current = tracking.apply_event(history, event)
        if not changed:
            return None
        # the courier's raw payloads stay in the webhook inbox and logs, not on the order (400 KB item limit)
        recorded = [{key: value for key, value in item.to_dict().items() if key != "raw"} for item in history]
        if _delivered(before):  # a late scan after delivery: kept in the history, the order stays as it is
            return _quietly(before, shipment={**shipment, "history": recorded})
        new_shipment = {**shipment, "status": current, "history": recorded}
        if current == shipment.get("status"):  # an older or repeated scan: the parcel did not move
            return _quietly(before, shipment=new_shipment)
        lifecycle_event, note = _lifecycle_event(before, current)
        return before.apply(lifecycle_event, at=clock.now_iso(), actor=shipment.get("provider", "courier"),
                            detail=note, shipment=new_shipment)

    updated = orders.decide_and_save(order.order_id, decide, first=order)
    # a redelivered copy of a final status finds it saved already and finishes what followed it, in case the
    # process stopped between the save and those calls (both are safe to repeat)
    _wake_on_final_status(updated or order, event.status)
    if updated is None:
        return "duplicate"
    return f"recorded {update.status} (now {(updated.shipment or {})['status']})"


def _wake_on_final_status(order: Order, status: str) -> None:
    """When `status` is the shipment's final status and the order still waits on it: tell the customer it was
    delivered and resume the workflow step waiting for delivery."""
    current = (order.shipment or {}).get("status")
    outcome = tracking.outcome(current) if current else None
    if outcome is None or status != current:
        return
    if outcome == workflow.DELIVERED:
        if order.status != lifecycle.DELIVERED:  # completed (or later): the workflow moved on
            return
        notifications.request("delivered", order.to_dict())  # one message per order and event, however often
    elif order.status not in (lifecycle.SHIPPED, lifecycle.IN_TRANSIT):  # the return step already ran
        return
    token = order.tokens.get("delivery")
    if token:
        workflow.resume(token, {workflow.OUTCOME: outcome, "status": current})


def _note_courier_detail(order: Order, update: tracking.CourierUpdate) -> str:
    """order.price / order.waybill_id events: keep the new figure on the shipment and, until the parcel is
    delivered, a note on the timeline (after delivery the figure is kept without one)."""

    def decide(before: Order) -> Order | None:
        shipment = dict(before.shipment or {})
        notes = []
        if update.waybill_id and shipment.get("waybill_id") != update.waybill_id:
            shipment["waybill_id"] = update.waybill_id
            notes.append(f"waybill now {update.waybill_id}")
        if update.price is not None and shipment.get("actual_price") != update.price:
            shipment["actual_price"] = update.price
            notes.append(f"courier's actual price Rp{update.price:,}")
        if not notes:
            return None
        if _delivered(before):
            return _quietly(before, shipment=shipment)
        return before.apply(lifecycle.TRACK, at=clock.now_iso(), actor=shipment.get("provider", "courier"),
                            detail="; ".join(notes), shipment=shipment)

    if orders.decide_and_save(order.order_id, decide, first=order) is None:
        return "duplicate"
    return f"recorded {update.kind}"
