"""Shipping's HTTP routes and events: quotes, the courier webhook and the consumer of courier events."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint
from chalice.app import SQSEvent

from chalicelib import resources
from chalicelib.batches import each_record
from chalicelib.cart.domain import CART_ID_PATTERN
from chalicelib.observability import logger
from chalicelib.shipping import service, webhooks
from chalicelib.web import api, optional_principal, raw_body, read_json

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
    outcome = webhooks.on_courier_update(webhooks.update_from_message(json.loads(record.body)))
    logger.info("courier update", extra={"outcome": outcome})


@shipping_routes.on_sqs_message(queue=resources.COURIER_EVENTS_QUEUE.physical_name, batch_size=10)
def courier_events(event: SQSEvent) -> dict[str, Any]:
    return each_record(event, _apply_courier_update)
