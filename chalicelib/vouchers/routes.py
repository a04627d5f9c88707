"""Staff routes for vouchers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.lazy import lazy_module
from chalicelib.validation import page
from chalicelib.web import api, json_response, jwt_authorizer, query_params, read_json, staff

if TYPE_CHECKING:
    from chalicelib.vouchers import service
else:
    service = lazy_module("chalicelib.vouchers.service")

voucher_routes = Blueprint(__name__)
PAGE_DEFAULT = 50


@voucher_routes.route("/admin/vouchers", methods=["GET"], authorizer=jwt_authorizer)
@api
def list_vouchers() -> Any:
    staff(voucher_routes.current_request)
    limit, cursor = page(query_params(voucher_routes.current_request), default=PAGE_DEFAULT)
    return service.list_vouchers(limit=limit, cursor=cursor)


@voucher_routes.route("/admin/vouchers", methods=["POST"], authorizer=jwt_authorizer)
@api
def create_voucher() -> Any:
    principal = staff(voucher_routes.current_request)
    return json_response(service.create_voucher(read_json(voucher_routes.current_request), actor=principal.sub),
                         status=201)
