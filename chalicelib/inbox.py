"""The webhook inbox: each provider message is recorded once, then handed to a queue for processing.

Providers resend whatever they are not sure we received; the inbox makes the second copy a no-op while a
copy whose hand-off to the queue failed is handed off again.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from pynamodb.attributes import TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from chalicelib import aws, clock, resources
from chalicelib.db import meta_for
from chalicelib.resources import QueueSpec

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


def accept(message_id: str, *, provider: str, reference: str, queue: QueueSpec, message: dict[str, Any]) -> bool:
    """True the first time a message is seen (and queued); False for a copy already queued."""
    item = InboxModel(message_id, provider=provider, reference=reference, status=RECEIVED,
                      received_at=clock.now_iso(), expires_at=clock.now() + KEEP_FOR)
    try:
        item.save(condition=InboxModel.message_id.does_not_exist())
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        if InboxModel.get(message_id, consistent_read=True).status == QUEUED:
            return False
    aws.client("sqs").send_message(QueueUrl=aws.queue_url(queue), MessageBody=json.dumps(message))
    item.update(actions=[InboxModel.status.set(QUEUED)])
    return True
