"""The webhook inbox in DynamoDB: one item per provider message, kept 30 days (longer than any provider retries).

Each item says whether the message was handed to its queue (`status`) and when a copy of it last took on that
hand-off (`claimed_at`): taking it on is a conditional write, so of any number of copies exactly one holds it.
"""

from __future__ import annotations

from datetime import timedelta

from pynamodb.attributes import TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.models import Model

from chalicelib import clock, resources
from chalicelib.db import meta_for

RECEIVED, QUEUED = "received", "queued"
KEEP_FOR = timedelta(days=30)  # longer than any provider keeps retrying
# A claim given up after a failed hand-off: older than any lease, so the next copy takes over at once.
RELEASED = "1970-01-01T00:00:00.000Z"


class InboxModel(Model):
    Meta = meta_for(resources.WEBHOOK_INBOX)
    message_id = UnicodeAttribute(hash_key=True)
    provider = UnicodeAttribute()
    reference = UnicodeAttribute()
    status = UnicodeAttribute()
    received_at = UnicodeAttribute()
    # when a copy last took on the hand-off to the queue (UTC ISO); absent on items written before claims
    claimed_at = UnicodeAttribute(null=True)
    expires_at = TTLAttribute()


def _refused(error: PutError | UpdateError) -> bool:
    return error.cause_response_code == "ConditionalCheckFailedException"


def record_once(message_id: str, *, provider: str, reference: str, at: str) -> bool:
    """True the first time a message id is recorded (its first copy then holds the hand-off, claimed `at`);
    False when it already was."""
    item = InboxModel(message_id, provider=provider, reference=reference, status=RECEIVED, received_at=at,
                      claimed_at=at, expires_at=clock.parse_iso(at) + KEEP_FOR)
    try:
        item.save(condition=InboxModel.message_id.does_not_exist())
    except PutError as error:
        if not _refused(error):
            raise
        return False
    return True


def claim(message_id: str, *, at: str, stale_before: str) -> bool:
    """Take over the hand-off of a message not queued yet whose last claim is older than `stale_before` (its
    holder died or gave up). True for exactly one copy: the write is conditional on the claim it replaces."""
    stale = (InboxModel.claimed_at < stale_before) | (
        InboxModel.claimed_at.does_not_exist() & (InboxModel.received_at < stale_before))
    condition = InboxModel.message_id.exists() & (InboxModel.status != QUEUED) & stale
    try:
        InboxModel(message_id).update(actions=[InboxModel.claimed_at.set(at)], condition=condition)
    except UpdateError as error:
        if not _refused(error):
            raise
        return False
    return True


def release(message_id: str, *, claimed_at: str) -> bool:
    """Give up the claim made `claimed_at` after its hand-off failed, so the next copy takes over without waiting
    for the lease; False when the message was queued or another copy holds it meanwhile."""
    condition = (InboxModel.status != QUEUED) & (InboxModel.claimed_at == claimed_at)
    try:
        InboxModel(message_id).update(actions=[InboxModel.claimed_at.set(RELEASED)], condition=condition)
    except UpdateError as error:
        if not _refused(error):
            raise
        return False
    return True


def mark_queued(message_id: str) -> None:
    InboxModel(message_id).update(actions=[InboxModel.status.set(QUEUED)])


def status_of(message_id: str) -> tuple[str, str | None] | None:
    """(status, claimed_at) of a recorded message, None when it is not recorded (for checks and tests)."""
    try:
        item = InboxModel.get(message_id, consistent_read=True)
    except InboxModel.DoesNotExist:
        return None
    return item.status, item.claimed_at
