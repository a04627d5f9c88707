"""HTTP route for checkout. Guests and signed-in customers alike; an Idempotency-Key header is required."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.checkout.domain import check_idempotency_key, parse_request
from chalicelib.lazy import lazy_module
from chalicelib.web import api, json_response, optional_principal, read_json

if TYPE_CHECKING:
    from chalicelib.checkout import service
else:
    service = lazy_module("chalicelib.checkout.service")

checkout_routes = Blueprint(__name__)


@checkout_routes.route("/checkout", methods=["POST"])
@api
def checkout() -> Any:
    request = checkout_routes.current_request
    key = check_idempotency_key(request.headers.get("idempotency-key"))
    checkout_request = parse_request(read_json(request))
    principal = optional_principal(request)
    order = service.place_order(checkout_request, principal, idempotency_key=key,
                                lambda_context=checkout_routes.lambda_context)
    return json_response(order, status=201)
