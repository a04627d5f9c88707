"""Customer notifications: queued by business code, delivered once per (order, event) by the queue consumer.

Business areas call `request()` after their own write succeeded; it only enqueues, so placing an order never
waits on SES or SNS. The consumer calls `deliver()`, which records every notification in the outbox table
before sending: a redelivered SQS message, a retried Step Functions task or a replayed webhook finds the
"sent" record and does not text the customer twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from chalicelib import aws, clock, resources
from chalicelib.notifications import domain as templates
from chalicelib.notifications import repository
from chalicelib.notifications.adapters import OutgoingNotification, notifier
from chalicelib.notifications.repository import (
    FAILED,
    PENDING,
    SENT,
    DeliveryInProgress,
    NotificationRecord,
)
from chalicelib.observability import logger

DUPLICATE = "duplicate"


def notification_id(order_id: str, event: str, key: str | None = None) -> str:
    """One message per (order, event), or per (order, event, key) where an order has several: returns, refunds."""
    return f"{order_id}#{event}#{key}" if key else f"{order_id}#{event}"


def _json_default(value: Any) -> Any:
    """Orders read through pynamodb map attributes carry Decimals; Rupiah amounts are whole numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def request(event: str, order: Mapping[str, Any], extra: Mapping[str, Any] | None = None, *,
            key: str | None = None) -> None:
    """Queue a notification for `order` (Order.to_dict()); rendering and sending happen in the consumer.

    Cheap and free of template concerns so it can follow any business write. An event with no template or
    an order without an id is a programming error and raises ValueError here, where the caller sees it,
    rather than in the dead-letter queue. SQS errors propagate: the caller decides whether to retry.
    """
    if event not in templates.EVENTS:
        raise ValueError(f"unknown notification event {event!r}; known events: {', '.join(templates.EVENTS)}")
    if not order.get("order_id"):
        raise ValueError("a notification needs the order's order_id")
    body = {"event": event, "order": dict(order), "extra": dict(extra or {}), "requested_at": clock.now_iso()}
    if key:
        body["key"] = key
    aws.client("sqs").send_message(
        QueueUrl=aws.queue_url(resources.NOTIFICATIONS_QUEUE),
        MessageBody=json.dumps(body, default=_json_default, ensure_ascii=False),
    )


def deliver(message_body: Mapping[str, Any]) -> str:
    """Send one queued notification at most once; "sent", or "duplicate" when it had already gone out.

    A failed send is recorded as "failed" with the error and re-raised, so SQS retries it and, after the
    queue's last attempt, the dead-letter queue keeps it for inspection.
    """
    event = str(message_body["event"])
    order: Mapping[str, Any] = message_body["order"]
    extra: Mapping[str, Any] = message_body.get("extra") or {}
    message = templates.render(event, order, extra)
    customer = order.get("customer") or {}
    outgoing = OutgoingNotification(
        notification_id=notification_id(str(order["order_id"]), event, message_body.get("key")),
        order_id=str(order["order_id"]),
        event=event,
        email=customer.get("email") or None,
        phone=customer.get("phone") or None,
        message=message,
    )
    return _send_once(outgoing)


def tell_staff(reference: str, event: str, *, email: str, subject: str, text: str) -> str:
    """An email to shop staff (finance: a report is ready), sent at most once per (reference, event)."""
    message = templates.Message(subject=subject, text=text, sms="")
    return _send_once(OutgoingNotification(notification_id=notification_id(reference, event), order_id=reference,
                                           event=event, email=email, phone=None, message=message))


def _send_once(outgoing: OutgoingNotification) -> str:
    event = outgoing.event
    sender = notifier()
    if not repository.claim(outgoing, channel=getattr(sender, "channel", "email+sms"), now=clock.now_iso()):
        logger.info("notification already sent", extra={"notification_id": outgoing.notification_id})
        return DUPLICATE
    try:
        provider_ids = sender.send(outgoing)
    except Exception as error:
        logger.warning("notification failed", extra={"notification_id": outgoing.notification_id,
                                                     "error": repr(error)})
        try:
            repository.mark_failed(outgoing.notification_id, repr(error))
        except Exception:  # the send error is the one worth retrying on; a lost "failed" mark just ages out
            logger.exception("could not mark notification failed",
                             extra={"notification_id": outgoing.notification_id})
        raise
    repository.mark_sent(outgoing.notification_id, provider_ids.split())
    logger.info("notification sent", extra={"notification_id": outgoing.notification_id, "event": event})
    return SENT


def outbox(order_id: str | None = None, limit: int = 50) -> list[NotificationRecord]:
    """Recent notifications, newest first: one order's, or every order's."""
    return repository.newest(order_id, limit) if limit > 0 else []


__all__ = ["DUPLICATE", "FAILED", "PENDING", "SENT", "DeliveryInProgress", "NotificationRecord",
           "deliver", "notification_id", "outbox", "request", "tell_staff"]
