"""HTTP routes for staff stock work, and the consumer of low-stock alerts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from chalice import Blueprint
from chalice.app import SQSEvent

from chalicelib import resources
from chalicelib.batches import each_record
from chalicelib.errors import ValidationFailed
from chalicelib.inventory.domain import (
    ADJUSTMENT,
    MAX_LEDGER_LINES,
    MAX_LEVELS_PAGE,
    MAX_LOW_STOCK_THRESHOLD,
    MAX_MOVEMENT,
    REASON_MAX,
    RESTOCK,
)
from chalicelib.lazy import lazy_module
from chalicelib.observability import logger, metrics
from chalicelib.validation import SKU_PATTERN, Fields, query_int
from chalicelib.web import api, jwt_authorizer, query_params, read_json, staff

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from chalicelib.inventory import service
else:
    service = lazy_module("chalicelib.inventory.service")

inventory_routes = Blueprint(__name__)
CURSOR_MAX = 256  # a SKU (the stock levels' cursor), or a low-stock report cursor standing for one


def _request() -> Any:
    return inventory_routes.current_request


def _sku(sku: str) -> str:
    return Fields({"sku": sku}).text("sku", max_len=64, pattern=SKU_PATTERN).upper()


@inventory_routes.route("/admin/inventory", methods=["GET"], authorizer=jwt_authorizer)
@api
def list_inventory() -> Any:
    staff(_request())
    params = query_params(_request())
    fields = Fields(params)
    low_only = fields.text("low_stock", required=False, default="false", choices=("true", "false")) == "true"
    limit = query_int(params, "limit", default=100, min_value=1, max_value=MAX_LEVELS_PAGE)
    cursor = fields.text("cursor", required=False, max_len=CURSOR_MAX)
    if low_only:  # the low-stock report, by SKU, a page at a time like every stock level
        return service.low_stock_page(limit=limit, cursor=cursor)
    return service.all_levels(limit=limit, cursor=cursor)


@inventory_routes.route("/admin/inventory/{sku}", methods=["GET"], authorizer=jwt_authorizer)
@api
def get_stock(sku: str) -> Any:
    staff(_request())
    limit = query_int(query_params(_request()), "ledger_limit", default=50, min_value=1, max_value=MAX_LEDGER_LINES)
    return service.level(_sku(sku), ledger_limit=limit)


@inventory_routes.route("/admin/inventory/{sku}/restock", methods=["POST"], authorizer=jwt_authorizer)
@api
def restock(sku: str) -> Any:
    """Goods arrived: {"quantity": n, "reason": "..."}; n is added to on hand."""
    principal = staff(_request())
    fields = read_json(_request())
    fields.reject_unknown({"quantity", "reason"})
    quantity = fields.integer("quantity", min_value=1, max_value=MAX_MOVEMENT)
    reason = fields.text("reason", required=False, default="restock", max_len=REASON_MAX)
    return service.adjust(_sku(sku), delta=quantity, kind=RESTOCK, reason=reason, actor=principal.sub)


@inventory_routes.route("/admin/inventory/{sku}/adjust", methods=["POST"], authorizer=jwt_authorizer)
@api
def adjust(sku: str) -> Any:
    """A stock count correction: {"delta": -2, "reason": "broken in the warehouse"}; the reason is required."""
    principal = staff(_request())
    fields = read_json(_request())
    fields.reject_unknown({"delta", "reason"})
    delta = fields.integer("delta", min_value=-MAX_MOVEMENT, max_value=MAX_MOVEMENT)
    if delta == 0:
        raise ValidationFailed("delta", "must not be zero")
    reason = fields.text("reason", max_len=REASON_MAX)
    return service.adjust(_sku(sku), delta=delta, kind=ADJUSTMENT, reason=reason, actor=principal.sub)


@inventory_routes.route("/admin/inventory/{sku}/threshold", methods=["PUT"], authorizer=jwt_authorizer)
@api
def set_threshold(sku: str) -> Any:
    principal = staff(_request())
    fields = read_json(_request())
    fields.reject_unknown({"low_stock_threshold"})
    threshold = fields.integer("low_stock_threshold", min_value=0, max_value=MAX_LOW_STOCK_THRESHOLD)
    return service.set_threshold(_sku(sku), threshold, actor=principal.sub)


def _handle_low_stock(record: SQSRecord) -> None:
    """Staff see low-stock alerts in the logs and as a metric; delivery is at-least-once, logging is harmless."""
    alert = json.loads(record.body)
    logger.warning(
        "low stock",
        extra={"sku": alert["sku"], "available": alert["available"], "threshold": alert["low_stock_threshold"]},
    )
    metrics.add_metric(name="LowStockAlerts", unit=MetricUnit.Count, value=1)


@inventory_routes.on_sqs_message(queue=resources.LOW_STOCK_QUEUE.physical_name, batch_size=10)
def low_stock_alerts(event: SQSEvent) -> dict[str, Any]:
    return each_record(event, _handle_low_stock)
