"""Courier webhooks: authenticated per provider, recorded once, handed to the courier-events queue."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib import inbox, resources
from chalicelib.errors import NotFound, Unauthorized, ValidationFailed
from chalicelib.observability import logger, metrics
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
