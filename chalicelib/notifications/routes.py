"""The consumer that sends customer notifications (SES and SNS on AWS, the outbox locally)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chalice import Blueprint
from chalice.app import SQSEvent

from chalicelib import resources
from chalicelib.batches import each_record
from chalicelib.lazy import lazy_module

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from chalicelib.notifications import service
else:
    service = lazy_module("chalicelib.notifications.service")

notification_routes = Blueprint(__name__)


def _deliver(record: SQSRecord) -> None:
    service.deliver(json.loads(record.body))


@notification_routes.on_sqs_message(queue=resources.NOTIFICATIONS_QUEUE.physical_name, batch_size=10)
def notification_sender(event: SQSEvent) -> dict[str, Any]:
    return each_record(event, _deliver)
