"""Customer notifications: queued by business code, delivered once per (order, event) by the queue consumer.

Business areas call `request()` after their own write succeeded; it only enqueues, so placing an order never
waits on SES or SNS. The consumer calls `deliver()`, which records every notification in the outbox table
before sending: a redelivered SQS message, a retried Step Functions task or a replayed webhook finds the
"sent" record and does not text the customer twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib import aws, clock, resources
from chalicelib.db import meta_for
from chalicelib.notifications import templates
from chalicelib.notifications.notifier import OutgoingNotification, notifier
from chalicelib.observability import logger

PENDING, SENT, FAILED = "pending", "sent", "failed"
DUPLICATE = "duplicate"
MAX_ERROR_LENGTH = 1000
# A "pending" record younger than this belongs to a consumer that may still be sending; an older one was left
# by a consumer that died mid-send (Lambda timeout) and may be taken over. SQS hides a message for as long.
CLAIM_LEASE = timedelta(seconds=resources.NOTIFICATIONS_QUEUE.visibility_timeout_seconds)


class DeliveryInProgress(RuntimeError):
    """Another consumer is sending this notification right now; raised so SQS offers the message again later."""


class ByOrderIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-order"
        projection = AllProjection()

    order_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class NotificationModel(Model):
    """One item per (order, event): the outbox record and the send-once guard in one."""

    Meta = meta_for(resources.NOTIFICATIONS)
    notification_id = UnicodeAttribute(hash_key=True)  # "<order_id>#<event>"
    order_id = UnicodeAttribute()
    event = UnicodeAttribute()
    created_at = UnicodeAttribute()  # first attempt, UTC ISO-8601
    channel = UnicodeAttribute()  # "outbox" or "email+sms"
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    subject = UnicodeAttribute()
    text = UnicodeAttribute()
    sms = UnicodeAttribute()
    status = UnicodeAttribute()  # pending, sent, failed
    provider_ids = ListAttribute(of=UnicodeAttribute, default=list)
    attempts = NumberAttribute(default=0)
    attempted_at = UnicodeAttribute(null=True)  # latest attempt: the claim lease is counted from here
    sent_at = UnicodeAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    by_order = ByOrderIndex()


def notification_id(order_id: str, event: str) -> str:
    return f"{order_id}#{event}"


def _json_default(value: Any) -> Any:
    """Orders read through pynamodb map attributes carry Decimals; Rupiah amounts are whole numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def request(event: str, order: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> None:
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
    aws.client("sqs").send_message(
        QueueUrl=aws.queue_url(resources.NOTIFICATIONS_QUEUE),
        MessageBody=json.dumps(body, default=_json_default, ensure_ascii=False),
    )


def _claim(outgoing: OutgoingNotification, *, channel: str, now: str) -> bool:
    """Record the notification as pending unless it was sent or another consumer holds a fresh claim.

    An update rather than a put keeps created_at and counts attempts across retries. False when the
    record is already sent; DeliveryInProgress when a live claim exists.
    """
    message = outgoing.message
    item = NotificationModel(outgoing.notification_id)
    cutoff = clock.iso(clock.parse_iso(now) - CLAIM_LEASE)
    try:
        item.update(
            actions=[
                NotificationModel.order_id.set(outgoing.order_id),
                NotificationModel.event.set(outgoing.event),
                NotificationModel.created_at.set(NotificationModel.created_at | now),
                NotificationModel.channel.set(channel),
                NotificationModel.email.set(outgoing.email) if outgoing.email else NotificationModel.email.remove(),
                NotificationModel.phone.set(outgoing.phone) if outgoing.phone else NotificationModel.phone.remove(),
                NotificationModel.subject.set(message.subject),
                NotificationModel.text.set(message.text),
                NotificationModel.sms.set(message.sms),
                NotificationModel.status.set(PENDING),
                NotificationModel.attempts.add(1),
                NotificationModel.attempted_at.set(now),
            ],
            condition=(
                NotificationModel.notification_id.does_not_exist()
                | (NotificationModel.status == FAILED)
                | ((NotificationModel.status == PENDING) & (NotificationModel.attempted_at < cutoff))
            ),
        )
        return True
    except UpdateError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
    current = NotificationModel.get(outgoing.notification_id, consistent_read=True)
    if current.status == SENT:
        return False
    raise DeliveryInProgress(f"notification {outgoing.notification_id} is being sent by another consumer "
                             f"(claimed {current.attempted_at})")


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
        notification_id=notification_id(str(order["order_id"]), event),
        order_id=str(order["order_id"]),
        event=event,
        email=customer.get("email") or None,
        phone=customer.get("phone") or None,
        message=message,
    )
    sender = notifier()
    if not _claim(outgoing, channel=getattr(sender, "channel", "email+sms"), now=clock.now_iso()):
        logger.info("notification already sent", extra={"notification_id": outgoing.notification_id})
        return DUPLICATE
    record = NotificationModel(outgoing.notification_id)
    try:
        provider_ids = sender.send(outgoing)
    except Exception as error:
        logger.warning("notification failed", extra={"notification_id": outgoing.notification_id,
                                                     "error": repr(error)})
        try:
            record.update(actions=[NotificationModel.status.set(FAILED),
                                   NotificationModel.last_error.set(repr(error)[:MAX_ERROR_LENGTH])])
        except Exception:  # the send error is the one worth retrying on; a lost "failed" mark just ages out
            logger.exception("could not mark notification failed", extra={"notification_id": record.notification_id})
        raise
    record.update(actions=[NotificationModel.status.set(SENT),
                           NotificationModel.provider_ids.set(provider_ids.split()),
                           NotificationModel.sent_at.set(clock.now_iso())])
    logger.info("notification sent", extra={"notification_id": outgoing.notification_id, "event": event})
    return SENT


def to_dict(item: NotificationModel) -> dict[str, Any]:
    return {
        "notification_id": item.notification_id,
        "order_id": item.order_id,
        "event": item.event,
        "created_at": item.created_at,
        "channel": item.channel,
        "email": item.email,
        "phone": item.phone,
        "subject": item.subject,
        "text": item.text,
        "sms": item.sms,
        "status": item.status,
        "provider_ids": list(item.provider_ids or []),
        "attempts": int(item.attempts or 0),
        "attempted_at": item.attempted_at,
        "sent_at": item.sent_at,
        "last_error": item.last_error,
    }


def outbox(order_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Recent notifications, newest first: one order's through the by-order index, else the whole table.

    The unfiltered form scans, which suits the local stack, support look-ups and tests, not a hot path.
    """
    if limit <= 0:
        return []
    if order_id:
        items = NotificationModel.by_order.query(order_id, scan_index_forward=False, limit=limit)
        return [to_dict(item) for item in items]
    items = sorted(NotificationModel.scan(), key=lambda item: item.created_at, reverse=True)
    return [to_dict(item) for item in items[:limit]]


__all__ = ["DUPLICATE", "FAILED", "PENDING", "SENT", "DeliveryInProgress", "NotificationModel", "deliver",
           "notification_id", "outbox", "request", "to_dict"]
