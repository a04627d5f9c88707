"""The payment gateway's webhook, the consumer that acts on it, and the reconciliation schedule."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint, Rate
from chalice.app import CloudWatchEvent, SQSEvent

from chalicelib import resources
from chalicelib.batches import each_record
from chalicelib.observability import logger
from chalicelib.payments import service
from chalicelib.web import api, raw_body

payment_routes = Blueprint(__name__)


@payment_routes.route("/webhooks/payments/midtrans", methods=["POST"])
@api
def midtrans_notification() -> Any:
    return service.receive_midtrans(raw_body(payment_routes.current_request))


def _process(record: SQSRecord) -> None:
    message = json.loads(record.body)
    logger.info("payment event", extra={"order_id": message.get("order_id"),
                                        "outcome": service.process_event(message)})


@payment_routes.on_sqs_message(queue=resources.PAYMENT_EVENTS_QUEUE.physical_name, batch_size=10)
def payment_events(event: SQSEvent) -> dict[str, Any]:
    return each_record(event, _process)


@payment_routes.schedule(Rate(15, unit=Rate.MINUTES), name="reconcile_payments")
def reconcile_payments(event: CloudWatchEvent) -> dict[str, int]:
    return service.reconcile()
