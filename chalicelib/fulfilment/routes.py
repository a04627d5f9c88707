"""HTTP routes and event handlers of the order journey: staff packing, customer cancel, courier webhooks,
and the worker that runs the state machine's Python steps.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint, Rate
from chalice.app import CloudWatchEvent, SQSEvent

from chalicelib import resources
from chalicelib.batches import each_record
from chalicelib.errors import NotFound
from chalicelib.fulfilment import service
from chalicelib.observability import logger
from chalicelib.orders import repository as orders
from chalicelib.orders.domain import may_view
from chalicelib.orders.routes import ORDER_ID_PATTERN
from chalicelib.shipping import webhooks
from chalicelib.validation import Fields
from chalicelib.web import api, json_response, jwt_authorizer, optional_principal, query_params, staff

fulfilment_routes = Blueprint(__name__)


def _order_id(order_id: str) -> str:
    return Fields({"order_id": order_id}).text("order_id", pattern=ORDER_ID_PATTERN, max_len=24)


@fulfilment_routes.route("/admin/orders/{order_id}/packed", methods=["POST"], authorizer=jwt_authorizer)
@api
def mark_packed(order_id: str) -> Any:
    principal = staff(fulfilment_routes.current_request)
    return service.mark_packed(_order_id(order_id), actor=principal.sub)


@fulfilment_routes.route("/orders/{order_id}/cancel", methods=["POST"])
@api
def cancel_order(order_id: str) -> Any:
    """The owner, staff, or a guest with the order's access token may cancel before packing."""
    request = fulfilment_routes.current_request
    principal = optional_principal(request)
    token = (request.headers or {}).get("x-order-token") or query_params(request).get("access_token")
    order = orders.get(_order_id(order_id))
    if order is None or not may_view(order, sub=principal.sub if principal else None,
                                     is_staff=bool(principal and principal.is_staff), access_token=token):
        raise NotFound(f"order {order_id} not found", code="order_not_found")
    actor = principal.sub if principal else "guest"
    return json_response(service.request_cancel(order, actor=actor), status=202)


@fulfilment_routes.route("/webhooks/couriers/{provider}", methods=["POST"],
                         content_types=["application/json", "text/plain", "application/octet-stream"])
@api
def courier_webhook(provider: str) -> Any:
    request = fulfilment_routes.current_request
    return webhooks.receive(provider, request.headers or {}, request.raw_body or b"")


def _run_task(record: SQSRecord) -> None:
    message = json.loads(record.body)
    outcome = service.handle_task(message)
    logger.info("fulfilment step", extra={"task": message["task"], "order_id": message["order_id"],
                                          "outcome": outcome})


@fulfilment_routes.on_sqs_message(queue=resources.FULFILMENT_TASKS_QUEUE.physical_name, batch_size=5)
def fulfilment_worker(event: SQSEvent) -> dict[str, Any]:
    return each_record(event, _run_task)


def _apply_courier_update(record: SQSRecord) -> None:
    outcome = service.on_courier_update(webhooks.update_from_message(json.loads(record.body)))
    logger.info("courier update", extra={"outcome": outcome})


@fulfilment_routes.on_sqs_message(queue=resources.COURIER_EVENTS_QUEUE.physical_name, batch_size=10)
def courier_events(event: SQSEvent) -> dict[str, Any]:
    return each_record(event, _apply_courier_update)


@fulfilment_routes.schedule(Rate(5, unit=Rate.MINUTES), name="expire_overdue_orders")
def expire_overdue_orders(event: CloudWatchEvent) -> dict[str, int]:
    return service.expire_overdue_orders()
