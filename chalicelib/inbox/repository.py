"""The webhook inbox in DynamoDB: one item per provider message, kept 30 days (longer than any provider retries)."""

from __future__ import annotations

from datetime import timedelta

from pynamodb.attributes import TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from chalicelib import clock, resources
from chalicelib.db import meta_for

RECEIVED, QUEUED = "received", "queued"
KEEP_FOR = timedelta(days=30)  # longer than any provider keeps retrying


class InboxModel(Model):
    Meta = meta_for(resources.WEBHOOK_INBOX)
    message_id = UnicodeAttribute(hash_key=True)
    provider = UnicodeAttribute()
    reference = UnicodeAttribute()
    status = UnicodeAttribute()
    received_at = UnicodeAttribute()
    expires_at = TTLAttribute()


def record_once(message_id: str, *, provider: str, reference: str) -> bool:
    """True the first time a message id is recorded; False when it already was."""
    item = InboxModel(message_id, provider=provider, reference=reference, status=RECEIVED,
                      received_at=clock.now_iso(), expires_at=clock.now() + KEEP_FOR)
    try:
        item.save(condition=InboxModel.message_id.does_not_exist())
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True


def was_queued(message_id: str) -> bool:
    return InboxModel.get(message_id, consistent_read=True).status == QUEUED


def mark_queued(message_id: str) -> None:
    InboxModel(message_id).update(actions=[InboxModel.status.set(QUEUED)])
