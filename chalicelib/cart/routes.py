"""HTTP routes of the cart. Open to guests: the cart id is the key; signed-in carts are the owner's only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.cart.domain import CART_ID_PATTERN, MAX_QUANTITY
from chalicelib.lazy import lazy_module
from chalicelib.validation import SKU_PATTERN, Fields
from chalicelib.web import api, expect_no_body, json_response, optional_principal, read_json

if TYPE_CHECKING:
    from chalicelib.cart import service
else:
    service = lazy_module("chalicelib.cart.service")

cart_routes = Blueprint(__name__)


def _request() -> Any:
    return cart_routes.current_request


def _cart_id(cart_id: str) -> str:
    return Fields({"cart_id": cart_id}).text("cart_id", pattern=CART_ID_PATTERN, max_len=32)


def _sku(sku: str) -> str:
    return Fields({"sku": sku}).text("sku", max_len=64, pattern=SKU_PATTERN).upper()


@cart_routes.route("/carts", methods=["POST"])
@api
def create_cart() -> Any:
    expect_no_body(_request())
    return json_response(service.create(optional_principal(_request())), status=201)


@cart_routes.route("/carts/{cart_id}", methods=["GET"])
@api
def get_cart(cart_id: str) -> Any:
    return service.get(_cart_id(cart_id), optional_principal(_request()))


@cart_routes.route("/carts/{cart_id}/items/{sku}", methods=["PUT"])
@api
def set_item(cart_id: str, sku: str) -> Any:
    fields = read_json(_request())
    fields.reject_unknown({"quantity"})
    quantity = fields.integer("quantity", min_value=0, max_value=MAX_QUANTITY)
    return service.set_quantity(_cart_id(cart_id), _sku(sku), quantity, optional_principal(_request()))


@cart_routes.route("/carts/{cart_id}/items/{sku}", methods=["DELETE"])
@api
def remove_item(cart_id: str, sku: str) -> Any:
    expect_no_body(_request())
    return service.set_quantity(_cart_id(cart_id), _sku(sku), 0, optional_principal(_request()))


@cart_routes.route("/carts/{cart_id}/voucher", methods=["POST"])
@api
def apply_voucher(cart_id: str) -> Any:
    fields = read_json(_request())
    fields.reject_unknown({"code"})
    code = fields.text("code", max_len=32)
    return service.apply_voucher(_cart_id(cart_id), code, optional_principal(_request()))


@cart_routes.route("/carts/{cart_id}/voucher", methods=["DELETE"])
@api
def remove_voucher(cart_id: str) -> Any:
    expect_no_body(_request())
    return service.remove_voucher(_cart_id(cart_id), optional_principal(_request()))
