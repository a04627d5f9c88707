"""HTTP route for shipping quotes."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.cart.routes import CART_ID_PATTERN
from chalicelib.shipping import service
from chalicelib.web import api, optional_principal, read_json

shipping_routes = Blueprint(__name__)


@shipping_routes.route("/shipping/quote", methods=["POST"])
@api
def quote() -> Any:
    request = shipping_routes.current_request
    fields = read_json(request)
    fields.reject_unknown({"cart_id", "destination"})
    cart_id = fields.text("cart_id", pattern=CART_ID_PATTERN, max_len=32)
    destination = service.parse_destination(fields.obj("destination"))
    return service.quote(cart_id, destination, optional_principal(request))
