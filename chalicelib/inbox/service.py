"""The webhook inbox: each provider message is recorded once, then handed to a queue for processing, once.

Providers resend whatever they are not sure we received, sometimes while the first copy is still being handled.
Exactly one copy hands a message to the queue: the first copy records it and holds the hand-off; any copy that
arrives while that hand-off is in progress, or after it is done, is a duplicate. A hand-off that failed is taken
over by the next copy: at once when the first copy saw the failure (it gives its claim up), after
HAND_OFF_LEASE when the process died between recording and sending. Taking over is a conditional write on the
claim it replaces, so of any number of copies exactly one wins.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib import aws, clock
from chalicelib.inbox import repository
from chalicelib.observability import logger, metrics
from chalicelib.resources import QueueSpec

# How long a copy holds the hand-off to the queue before another copy may take it over. The webhook's Lambda is
# stopped after 30 s, so a claim this old belongs to a process that is gone, never to one still sending.
HAND_OFF_LEASE = timedelta(seconds=30)


def accept(message_id: str, *, provider: str, reference: str, queue: QueueSpec, message: dict[str, Any]) -> bool:
    """True for the one copy that queues the message; False for a copy that finds it queued or being queued."""
    now = clock.now()
    at = clock.iso(now)
    if not repository.record_once(message_id, provider=provider, reference=reference, at=at):
        if not repository.claim(message_id, at=at, stale_before=clock.iso(now - HAND_OFF_LEASE)):
            return False
        metrics.add_metric(name="WebhookHandOffsTakenOver", unit=MetricUnit.Count, value=1)
        logger.warning("webhook hand-off taken over from a copy that did not finish it",
                       extra={"message_id": message_id, "provider": provider, "reference": reference})
    try:
        aws.client("sqs").send_message(QueueUrl=aws.queue_url(queue), MessageBody=json.dumps(message))
    except Exception:
        _give_up(message_id, claimed_at=at)
        raise
    repository.mark_queued(message_id)
    return True


def _give_up(message_id: str, *, claimed_at: str) -> None:
    """After a failed send: free the claim for the provider's next copy (the error still answers this one)."""
    try:
        repository.release(message_id, claimed_at=claimed_at)
    except Exception:  # the lease frees it anyway; the send's error is the one to report
        logger.exception("webhook claim not released", extra={"message_id": message_id})
