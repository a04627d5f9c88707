"""Staff routes for vouchers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.lazy import lazy_module
from chalicelib.web import api, json_response, jwt_authorizer, read_json, staff

if TYPE_CHECKING:
    from chalicelib.vouchers import service
else:
    service = lazy_module("chalicelib.vouchers.service")

voucher_routes = Blueprint(__name__)


@voucher_routes.route("/admin/vouchers", methods=["GET"], authorizer=jwt_authorizer)
@api
def list_vouchers() -> Any:
    staff(voucher_routes.current_request)
    return service.list_vouchers()


@voucher_routes.route("/admin/vouchers", methods=["POST"], authorizer=jwt_authorizer)
@api
def create_voucher() -> Any:
    principal = staff(voucher_routes.current_request)
    return json_response(service.create_voucher(read_json(voucher_routes.current_request), actor=principal.sub),
                         status=201)
