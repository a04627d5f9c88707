"""HTTP routes for reading orders: a customer's own, one order (owner, staff or guest token), staff lists."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint
from chalice.app import Request

from chalicelib.lazy import lazy_module
from chalicelib.orders.domain import access_token_from, checked_order_id
from chalicelib.orders.lifecycle import PENDING_PAYMENT, STATUSES
from chalicelib.validation import Fields, page
from chalicelib.web import api, jwt_authorizer, optional_principal, query_params, signed_in, staff

if TYPE_CHECKING:
    from chalicelib.orders import service
else:
    service = lazy_module("chalicelib.orders.service")

order_routes = Blueprint(__name__)


def _request() -> Request:
    return order_routes.current_request


def _page(params: dict[str, str]) -> dict[str, Any]:
    limit, cursor = page(params)
    return {"limit": limit, "cursor": cursor}


@order_routes.route("/orders", methods=["GET"], authorizer=jwt_authorizer)
@api
def my_orders() -> Any:
    principal = signed_in(_request(), "customer")
    return service.list_for_customer(principal, **_page(query_params(_request())))


@order_routes.route("/orders/{order_id}", methods=["GET"])
@api
def get_order(order_id: str) -> Any:
    request = _request()
    return service.get_order(checked_order_id(order_id), optional_principal(request),
                             access_token_from(request.headers, request.query_params))


@order_routes.route("/admin/orders", methods=["GET"], authorizer=jwt_authorizer)
@api
def staff_orders() -> Any:
    staff(_request())
    params = query_params(_request())
    status = Fields(params).text("status", required=False, default=PENDING_PAYMENT, choices=STATUSES)
    return service.list_for_staff(status, **_page(params))
