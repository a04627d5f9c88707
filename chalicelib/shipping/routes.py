"""Shipping's HTTP routes and events: quotes, the courier webhook and the consumer of courier events."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Rate
from chalice.app import CloudWatchEvent, SQSEvent

from chalicelib import resources
from chalicelib.batches import each_record
from chalicelib.cart.domain import CART_ID_PATTERN
from chalicelib.lazy import lazy_module
from chalicelib.observability import logger
from chalicelib.web import api, optional_principal, raw_body, read_json

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from chalicelib.shipping import service, webhooks
else:
    service = lazy_module("chalicelib.shipping.service")
    webhooks = lazy_module("chalicelib.shipping.webhooks")

shipping_routes = Blueprint(__name__)


@shipping_routes.route("/shipping/quote", methods=["POST"])
@api
def quote() -> Any:
    request = shipping_routes.current_request
    fields = read_json(request)
    fields.reject_unknown({"cart_id", "destination"})
    cart_id = fields.text("cart_id", pattern=CART_ID_PATTERN, max_len=32)
    destination = service.parse_destination(fields.obj("destination"))
    return service.quote(cart_id, destination, optional_principal(request))


@shipping_routes.route("/webhooks/couriers/{provider}", methods=["POST"],
                       content_types=["application/json", "text/plain", "application/octet-stream"])
@api
def courier_webhook(provider: str) -> Any:
    request = shipping_routes.current_request
    return webhooks.receive(provider, request.headers or {}, raw_body(request))


def _apply_courier_update(record: SQSRecord) -> None:
    """An update for a booking not saved yet raises webhooks.BookingNotYetKnown: reported as a failed item, so
    SQS delivers it again after the visibility timeout (the dead-letter queue keeps it after the last attempt)."""
    attempt = int(record.attributes.get("ApproximateReceiveCount") or 1)
    outcome = webhooks.on_courier_update(webhooks.update_from_message(json.loads(record.body)), attempt=attempt)
    logger.info("courier update", extra={"outcome": outcome})


@shipping_routes.on_sqs_message(queue=resources.COURIER_EVENTS_QUEUE.physical_name, batch_size=10)
def courier_events(event: SQSEvent) -> dict[str, Any]:
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError  # loaded with the batch

    try:
        return each_record(event, _apply_courier_update)
    except BatchProcessingError as failed:
        # every record failed: when each only waits for its booking, that is a normal wait, reported per record
        # (no invocation error); anything else stays an error, with its tracebacks
        if not all(isinstance(error, webhooks.BookingNotYetKnown) for _, error, _ in failed.child_exceptions):
            raise
        return {"batchItemFailures": [{"itemIdentifier": record["messageId"]}
                                      for record in event.to_dict()["Records"]]}


@shipping_routes.schedule(Rate(1, unit=Rate.HOURS), name="poll_stale_shipments")
def poll_stale_shipments(event: CloudWatchEvent) -> dict[str, int]:
    """Courier webhooks get lost: shipments with no news for hours are asked for through the courier's tracking."""
    return service.poll_stale_shipments()
