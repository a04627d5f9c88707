"""HTTP routes and event handlers of the order journey: staff packing, customer cancel, the worker that runs
the state machine's Python steps, and the sweep that expires overdue unpaid orders.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Rate
from chalice.app import CloudWatchEvent, SQSEvent

from chalicelib import resources
from chalicelib.batches import each_record
from chalicelib.lazy import lazy_module
from chalicelib.observability import logger
from chalicelib.orders import workflow
from chalicelib.orders.domain import access_token_from, checked_order_id
from chalicelib.web import api, expect_no_body, json_response, jwt_authorizer, optional_principal, staff

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from chalicelib.fulfilment import service
    from chalicelib.orders import service as orders
else:
    service = lazy_module("chalicelib.fulfilment.service")
    orders = lazy_module("chalicelib.orders.service")

fulfilment_routes = Blueprint(__name__)


@fulfilment_routes.route("/admin/orders/{order_id}/packed", methods=["POST"], authorizer=jwt_authorizer)
@api
def mark_packed(order_id: str) -> Any:
    request = fulfilment_routes.current_request
    principal = staff(request)
    expect_no_body(request)
    return service.mark_packed(checked_order_id(order_id), actor=principal.sub)


@fulfilment_routes.route("/orders/{order_id}/cancel", methods=["POST"])
@api
def cancel_order(order_id: str) -> Any:
    """The owner, staff, or a guest with the order's access token may cancel before packing."""
    request = fulfilment_routes.current_request
    principal = optional_principal(request)
    expect_no_body(request)
    token = access_token_from(request.headers, request.query_params)
    order = orders.visible_order(checked_order_id(order_id), principal, token)
    actor = principal.sub if principal else "guest"
    return json_response(service.request_cancel(order, actor=actor), status=202)


def _run_task(record: SQSRecord) -> None:
    message = json.loads(record.body)
    if int(record.attributes.get("ApproximateReceiveCount") or 1) > 1 and message.get("task") == workflow.BOOK_SHIPMENT:
        # delivered again: an earlier run may have booked and died before saving it, so look before booking
        message[workflow.RECOVER] = True
    outcome = service.handle_task(message)
    logger.info("fulfilment step", extra={"task": message["task"], "order_id": message["order_id"],
                                          "outcome": outcome})


@fulfilment_routes.on_sqs_message(queue=resources.FULFILMENT_TASKS_QUEUE.physical_name, batch_size=5)
def fulfilment_worker(event: SQSEvent) -> dict[str, Any]:
    return each_record(event, _run_task)


@fulfilment_routes.schedule(Rate(5, unit=Rate.MINUTES), name="expire_overdue_orders")
def expire_overdue_orders(event: CloudWatchEvent) -> dict[str, int]:
    return service.expire_overdue_orders()
