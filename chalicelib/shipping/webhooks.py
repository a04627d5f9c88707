"""What happens when a courier reports on a parcel, in one place.

The webhook is authenticated per provider, recorded once in the inbox and handed to the courier-events queue;
the consumer records the status in the shipment's history and moves the order through its lifecycle
(delivered, in transit), then wakes the workflow step waiting for delivery.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib import clock, resources
from chalicelib.errors import NotFound, Unauthorized, ValidationFailed
from chalicelib.inbox import service as inbox
from chalicelib.notifications import service as notifications
from chalicelib.observability import logger, metrics
from chalicelib.orders import lifecycle, workflow
from chalicelib.orders import service as orders
from chalicelib.orders.domain import Order
from chalicelib.shipping import tracking
from chalicelib.shipping.adapters import BITESHIP, SANDBOX, webhook_secret

PROVIDERS = (SANDBOX, BITESHIP)


def _authentic(provider: str, headers: Mapping[str, str], body: bytes) -> bool:
    secret = webhook_secret()
    if provider == SANDBOX:
        return tracking.verify_sandbox(secret, body, tracking.header(headers, tracking.SANDBOX_SIGNATURE_HEADER))
    return tracking.verify_biteship(secret, headers)


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
    fresh = inbox.accept(message_id, provider=provider, reference=update.booking_id,
                         queue=resources.COURIER_EVENTS_QUEUE, message=message)
    return {"status": "accepted" if fresh else "duplicate"}


def update_from_message(message: Mapping[str, Any]) -> tracking.CourierUpdate:
    """Rebuild the parsed update from the queued message (the raw payload is re-parsed: one parser only)."""
    return tracking.parse_biteship_webhook(message["raw"])


# ---- what a courier's word does to an order (courier-events queue) -----------------------------------------


def _lifecycle_event(order: Order, courier_status: str) -> tuple[str, str]:
    """The order event a courier status means: delivered moves a shipped order on, a pickup puts it in transit,
    anything else (including a return, which the workflow's own step handles) is a tracking note."""
    if tracking.outcome(courier_status) == workflow.DELIVERED and order.allows(lifecycle.DELIVER):
        return lifecycle.DELIVER, ""
    if (tracking.outcome(courier_status) is None and order.allows(lifecycle.PICK_UP)
            and tracking.rank(courier_status) >= tracking.rank(tracking.PICKED)):
        return lifecycle.PICK_UP, courier_status
    return lifecycle.TRACK, courier_status


def on_courier_update(update: tracking.CourierUpdate) -> str:
    """A courier status: record it in the shipment history and move the order (delivered, in transit); a
    final status resumes the workflow waiting for delivery. Duplicates and late, older statuses change nothing.
    """
    order = orders.by_shipment(update.booking_id) if update.booking_id else None
    if order is None or not order.shipment:
        logger.warning("courier update for an unknown shipment", extra={"booking_id": update.booking_id})
        return "unknown shipment"
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
        new_shipment = {**shipment, "status": current,
                        "history": [{key: value for key, value in item.to_dict().items() if key != "raw"}
                                    for item in history]}
        lifecycle_event, note = _lifecycle_event(before, current)
        return before.apply(lifecycle_event, at=clock.now_iso(), actor=shipment.get("provider", "courier"),
                            detail=note, shipment=new_shipment)

    updated = orders.decide_and_save(order.order_id, decide, first=order)
    if updated is None:
        return "duplicate"
    current = (updated.shipment or {})["status"]
    outcome = tracking.outcome(current)
    if updated.timeline[-1].event == lifecycle.DELIVER:
        notifications.request("delivered", updated.to_dict())
    token = updated.tokens.get("delivery")
    if outcome and token:
        workflow.resume(token, {workflow.OUTCOME: outcome, "status": current})
    return f"recorded {update.status} (now {current})"


def _note_courier_detail(order: Order, update: tracking.CourierUpdate) -> str:
    """order.price / order.waybill_id events: keep the new figure on the shipment and the timeline."""

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
        return before.apply(lifecycle.TRACK, at=clock.now_iso(), actor=shipment.get("provider", "courier"),
                            detail="; ".join(notes), shipment=shipment)

    if orders.decide_and_save(order.order_id, decide, first=order) is None:
        return "duplicate"
    return f"recorded {update.kind}"
