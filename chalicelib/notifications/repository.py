"""The notifications table: one item per (order, event), the outbox record and the send-once guard in one."""

from __future__ import annotations

from datetime import timedelta
from typing import TypedDict

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib import clock, resources
from chalicelib.db import meta_for
from chalicelib.notifications.adapters import OutgoingNotification

PENDING, SENT, FAILED = "pending", "sent", "failed"
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
    # pynamodb annotates `of` as the element's Python type, but it takes the element's Attribute class.
    provider_ids = ListAttribute[str](of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    attempts = NumberAttribute(default=0)
    attempted_at = UnicodeAttribute(null=True)  # latest attempt: the claim lease is counted from here
    sent_at = UnicodeAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    by_order = ByOrderIndex()


def claim(outgoing: OutgoingNotification, *, channel: str, now: str) -> bool:
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


def mark_failed(notification_id: str, error: str) -> None:
    NotificationModel(notification_id).update(actions=[NotificationModel.status.set(FAILED),
                                                       NotificationModel.last_error.set(error[:MAX_ERROR_LENGTH])])


def mark_sent(notification_id: str, provider_ids: list[str]) -> None:
    NotificationModel(notification_id).update(actions=[NotificationModel.status.set(SENT),
                                                       NotificationModel.provider_ids.set(provider_ids),
                                                       NotificationModel.sent_at.set(clock.now_iso())])


def get(notification_id: str) -> NotificationRecord | None:
    try:
        return to_dict(NotificationModel.get(notification_id, consistent_read=True))
    except NotificationModel.DoesNotExist:
        return None


class NotificationRecord(TypedDict):
    """One outbox record as the CLI and tests read it."""

    notification_id: str
    order_id: str
    event: str
    created_at: str
    channel: str
    email: str | None
    phone: str | None
    subject: str
    text: str
    sms: str
    status: str
    provider_ids: list[str]
    attempts: int
    attempted_at: str | None
    sent_at: str | None
    last_error: str | None


def to_dict(item: NotificationModel) -> NotificationRecord:
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


def outbox(order_id: str | None = None, limit: int = 50) -> list[NotificationRecord]:
    """Recent notifications, newest first: one order's through the by-order index, else the whole table.

    The unfiltered form scans, which suits the local stack, support look-ups and tests, not a hot path.
    """
    if limit <= 0:
        return []
    if order_id:
        return [to_dict(item) for item in NotificationModel.by_order.query(order_id, scan_index_forward=False,
                                                                           limit=limit)]
    newest_first = sorted(NotificationModel.scan(), key=lambda item: item.created_at, reverse=True)
    return [to_dict(item) for item in newest_first[:limit]]


def newest(order_id: str | None, limit: int) -> list[NotificationRecord]:
    """Newest first: one order's through the by-order index, else a scan of the whole table (local stack,
    support look-ups and tests, not a hot path)."""
    if order_id:
        return [to_dict(item) for item in NotificationModel.by_order.query(order_id, scan_index_forward=False,
                                                                           limit=limit)]
    newest_first = sorted(NotificationModel.scan(), key=lambda item: item.created_at, reverse=True)
    return [to_dict(item) for item in newest_first[:limit]]
