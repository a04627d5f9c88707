"""HTTP routes of returns (the customer's request, staff decisions and inspection) and the worker that runs
the returns state machine's Python steps."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chalice import Blueprint
from chalice.app import SQSEvent

from chalicelib import resources
from chalicelib.batches import each_record
from chalicelib.errors import ValidationFailed
from chalicelib.lazy import lazy_module
from chalicelib.observability import logger
from chalicelib.orders.domain import Order, access_token_from, checked_order_id
from chalicelib.returns.domain import (
    COURIER_MAX,
    COURIER_PATTERN,
    DECISION_NOTE_MAX,
    MAX_LINE_UNITS,
    MAX_PHOTOS,
    MAX_RETURN_LINES,
    NOTE_MAX,
    PHOTO_TYPES,
    REASONS,
    REJECT_REASON_MIN,
    RETURN_ID_MAX,
    RETURN_ID_PATTERN,
    STATUSES,
    WAYBILL_MAX,
    WAYBILL_PATTERN,
    WRITE_OFF_REASON_MAX,
)
from chalicelib.validation import SKU_PATTERN, Fields, page
from chalicelib.web import (
    api,
    expect_no_body,
    json_response,
    jwt_authorizer,
    optional_principal,
    query_params,
    raw_body,
    read_json,
    staff,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from chalicelib.orders import service as orders
    from chalicelib.returns import service
else:
    orders = lazy_module("chalicelib.orders.service")
    service = lazy_module("chalicelib.returns.service")

return_routes = Blueprint(__name__)


def _order(order_id: str) -> tuple[Order, str]:
    """The order for its owner, staff or a guest with its access token (anyone else: 404), and who is asking."""
    request = return_routes.current_request
    principal = optional_principal(request)
    order = orders.visible_order(checked_order_id(order_id), principal,
                                 access_token_from(request.headers, request.query_params))
    return order, principal.sub if principal else "guest"


def _return_id(return_id: str) -> str:
    return Fields({"return_id": return_id}).text("return_id", pattern=RETURN_ID_PATTERN, max_len=RETURN_ID_MAX)


def _units(fields: Fields) -> dict[str, int]:
    units: dict[str, int] = {}
    for index, raw in enumerate(fields.array("lines", max_items=MAX_RETURN_LINES)):
        line = Fields(raw, path=f"body.lines[{index}]")
        line.reject_unknown({"sku", "quantity"})
        sku = line.text("sku", pattern=SKU_PATTERN, max_len=64)
        if sku in units:
            raise ValidationFailed(f"body.lines[{index}].sku", f"{sku} is listed twice")
        units[sku] = line.integer("quantity", min_value=1, max_value=MAX_LINE_UNITS)
    return units


@return_routes.route("/orders/{order_id}/returns", methods=["POST"])
@api
def request_return(order_id: str) -> Any:
    """Return delivered units within the return window; photos are uploaded to the links in the answer."""
    order, actor = _order(order_id)
    fields = read_json(return_routes.current_request)
    fields.reject_unknown({"lines", "reason", "note", "photos"})
    units = _units(fields)
    reason = fields.text("reason", choices=REASONS)
    note = fields.text("note", required=False, default="", max_len=NOTE_MAX)
    photo_types = []
    for index, raw in enumerate(fields.array("photos", required=False, max_items=MAX_PHOTOS)):
        photo = Fields(raw, path=f"body.photos[{index}]")
        photo.reject_unknown({"content_type"})
        photo_types.append(photo.text("content_type", choices=sorted(PHOTO_TYPES)))
    answer = service.request_return(order, units=units, reason=reason, note=note, photo_types=photo_types,
                                    actor=actor)
    return json_response(answer, status=201)


@return_routes.route("/orders/{order_id}/returns", methods=["GET"])
@api
def order_returns(order_id: str) -> Any:
    order, _ = _order(order_id)
    return service.returns_of(order)


@return_routes.route("/orders/{order_id}/returns/{return_id}/shipment", methods=["POST"])
@api
def send_back(order_id: str, return_id: str) -> Any:
    """The customer sent the parcel back: which courier and its waybill (nomor resi)."""
    order, actor = _order(order_id)
    fields = read_json(return_routes.current_request)
    fields.reject_unknown({"courier", "waybill_id"})
    return service.send_back(order, _return_id(return_id), actor=actor,
                             courier_code=fields.text("courier", pattern=COURIER_PATTERN, max_len=COURIER_MAX),
                             waybill_id=fields.text("waybill_id", pattern=WAYBILL_PATTERN, max_len=WAYBILL_MAX))


@return_routes.route("/admin/returns", methods=["GET"], authorizer=jwt_authorizer)
@api
def returns_in_status() -> Any:
    staff(return_routes.current_request)
    params = query_params(return_routes.current_request)
    fields = Fields(params)
    status = fields.text("status", required=False, default="requested", choices=STATUSES)
    limit, cursor = page(params, default=50)
    return service.in_status(status, limit=limit, cursor=cursor)


@return_routes.route("/admin/returns/{return_id}", methods=["GET"], authorizer=jwt_authorizer)
@api
def return_for_staff(return_id: str) -> Any:
    staff(return_routes.current_request)
    return service.staff_view(_return_id(return_id))


@return_routes.route("/admin/returns/{return_id}/approve", methods=["POST"], authorizer=jwt_authorizer)
@api
def approve(return_id: str) -> Any:
    """Accept the return: the goods come back, or (refund_only) the customer keeps them and is refunded."""
    principal = staff(return_routes.current_request)
    request = return_routes.current_request
    fields = read_json(request) if raw_body(request).strip() else Fields({})
    fields.reject_unknown({"refund_only", "shop_at_fault", "note"})
    fault = fields.flag("shop_at_fault") if fields.has("shop_at_fault") else None
    note = fields.text("note", required=False, default="", max_len=DECISION_NOTE_MAX)
    return service.approve(_return_id(return_id), actor=principal.sub, refund_only=fields.flag("refund_only"),
                           shop_at_fault=fault, note=note)


@return_routes.route("/admin/returns/{return_id}/reject", methods=["POST"], authorizer=jwt_authorizer)
@api
def reject(return_id: str) -> Any:
    principal = staff(return_routes.current_request)
    fields = read_json(return_routes.current_request)
    fields.reject_unknown({"reason"})
    return service.reject(_return_id(return_id), actor=principal.sub,
                          reason=fields.text("reason", min_len=REJECT_REASON_MIN, max_len=DECISION_NOTE_MAX))


@return_routes.route("/admin/returns/{return_id}/pickup", methods=["POST"], authorizer=jwt_authorizer)
@api
def book_pickup(return_id: str) -> Any:
    """Book the order's courier to collect the parcel from the customer."""
    principal = staff(return_routes.current_request)
    expect_no_body(return_routes.current_request)
    return service.book_pickup(_return_id(return_id), actor=principal.sub)


@return_routes.route("/admin/returns/{return_id}/receive", methods=["POST"], authorizer=jwt_authorizer)
@api
def receive(return_id: str) -> Any:
    """The parcel arrived: per line, units restocked and units written off (with a reason)."""
    principal = staff(return_routes.current_request)
    fields = read_json(return_routes.current_request)
    fields.reject_unknown({"lines"})
    results: dict[str, tuple[int, int, str]] = {}
    for index, raw in enumerate(fields.array("lines", max_items=MAX_RETURN_LINES)):
        line = Fields(raw, path=f"body.lines[{index}]")
        line.reject_unknown({"sku", "restock", "write_off", "write_off_reason"})
        sku = line.text("sku", pattern=SKU_PATTERN, max_len=64)
        if sku in results:
            raise ValidationFailed(f"body.lines[{index}].sku", f"{sku} is listed twice")
        results[sku] = (line.integer("restock", required=False, default=0, max_value=MAX_LINE_UNITS),
                        line.integer("write_off", required=False, default=0, max_value=MAX_LINE_UNITS),
                        line.text("write_off_reason", required=False, default="", max_len=WRITE_OFF_REASON_MAX))
    return service.receive(_return_id(return_id), results=results, actor=principal.sub)


def _run_task(record: SQSRecord) -> None:
    message = json.loads(record.body)
    outcome = service.handle_task(message)
    logger.info("return step", extra={"task": message["task"], "return_id": message["return_id"],
                                       "outcome": outcome})


@return_routes.on_sqs_message(queue=resources.RETURN_TASKS_QUEUE.physical_name, batch_size=5)
def return_worker(event: SQSEvent) -> dict[str, Any]:
    return each_record(event, _run_task)
