"""The webhook inbox: each provider message is recorded once, then handed to a queue for processing.

Providers resend whatever they are not sure we received; the inbox makes the second copy a no-op while a
copy whose hand-off to the queue failed is handed off again.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib import aws
from chalicelib.inbox import repository
from chalicelib.resources import QueueSpec


def accept(message_id: str, *, provider: str, reference: str, queue: QueueSpec, message: dict[str, Any]) -> bool:
    """True the first time a message is seen (and queued); False for a copy already queued."""
    if not repository.record_once(message_id, provider=provider, reference=reference) and \
            repository.was_queued(message_id):
        return False
    aws.client("sqs").send_message(QueueUrl=aws.queue_url(queue), MessageBody=json.dumps(message))
    repository.mark_queued(message_id)
    return True
