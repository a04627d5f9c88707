"""The cart's HTTP contract (see chalicelib.contract): open to guests, the cart id is the key."""

from __future__ import annotations

from chalicelib.cart.domain import CART_ID_PATTERN, MAX_QUANTITY
from chalicelib.contract import (
    GUEST_OR_SIGNED_IN,
    Operation,
    Response,
    Schema,
    array,
    boolean,
    integer,
    money,
    nullable,
    obj,
    ref,
    str_map,
    string,
    timestamp,
)
from chalicelib.validation import SKU_PATTERN

CART_ID = string(pattern=CART_ID_PATTERN, description="32 lowercase hex characters, given by POST /carts")
SKU = string(pattern=SKU_PATTERN, description="the variant's SKU (case-insensitive)")

SCHEMAS: dict[str, Schema] = {
    "CartLine": obj({
        "sku": string(),
        "product_id": string(description="empty when the SKU is no longer sold"),
        "name": string(),
        "options": str_map(string(), description="the variant's options, e.g. {\"size\": \"M\"}"),
        "unit_price": money(),
        "quantity": integer(minimum=1, maximum=MAX_QUANTITY),
        "line_total": money(),
        "weight_grams": integer(minimum=0, description="of the whole line"),
        "available": integer(minimum=0, description="units in stock now"),
        "stock_short": boolean(description="more asked for than is in stock: checkout will refuse it"),
        "sellable": boolean(description="false when the product or variant is no longer for sale"),
    }),
    "CartTotals": obj({
        "subtotal": money(),
        "discount": money(description="the voucher's discount, whole Rupiah"),
        "total": money(),
        "ppn_included": money(description="the VAT (PPN) contained in the total"),
        "ppn_rate_percent": integer(minimum=0),
        "weight_grams": integer(minimum=0),
        "currency": string(enum=["IDR"]),
    }),
    "Cart": obj({
        "cart_id": CART_ID,
        "lines": array(ref("CartLine")),
        "voucher": nullable(obj({
            "code": string(),
            "applied": boolean(),
            "problem": nullable(string(description="why the voucher does not apply now")),
        })),
        "totals": ref("CartTotals"),
        "stock_short_skus": array(string()),
        "unavailable_skus": array(string()),
        "order_id": nullable(string(description="the order this cart became, once checked out")),
        "expires_at": timestamp(),
        "updated_at": timestamp(),
    }, description="A cart priced live: current prices, stock and voucher."),
}

_CART = Response("the cart, priced live", ref("Cart"))
_NOT_FOUND = "no such cart, it expired, or it is another customer's"
_CHECKED_OUT = "the cart was already checked out (cart_checked_out; details.order_id names the order)"

OPERATIONS = {
    "create_cart": Operation(
        summary="Open a cart. Signed in as a customer, the cart is yours only; as a guest, its id is the key.",
        access=GUEST_OR_SIGNED_IN,
        responses={201: Response("the new, empty cart", ref("Cart"))},
    ),
    "get_cart": Operation(
        summary="A cart with live prices, stock and its voucher.",
        access=GUEST_OR_SIGNED_IN,
        path={"cart_id": CART_ID},
        responses={200: _CART},
        errors={404: _NOT_FOUND},
        owner_only="cart_not_found",
    ),
    "set_item": Operation(
        summary="Set a line's quantity (0 removes it). More than is in stock is kept but flagged.",
        access=GUEST_OR_SIGNED_IN,
        path={"cart_id": CART_ID, "sku": SKU},
        body=obj({"quantity": integer(minimum=0, maximum=MAX_QUANTITY)}),
        responses={200: _CART},
        errors={404: f"{_NOT_FOUND}; or the SKU is not for sale (sku_not_found)", 409: _CHECKED_OUT,
                422: "the cart already holds the most different items (cart_full)"},
        owner_only="cart_not_found",
    ),
    "remove_item": Operation(
        summary="Remove a line.",
        access=GUEST_OR_SIGNED_IN,
        path={"cart_id": CART_ID, "sku": SKU},
        responses={200: _CART},
        errors={404: _NOT_FOUND, 409: _CHECKED_OUT},
        owner_only="cart_not_found",
    ),
    "apply_voucher": Operation(
        summary="Apply a voucher code to the cart (one voucher per cart; a new one replaces the old).",
        access=GUEST_OR_SIGNED_IN,
        path={"cart_id": CART_ID},
        body=obj({"code": string(min_len=1, max_len=32)}),
        responses={200: _CART},
        errors={404: f"{_NOT_FOUND}; or no such voucher (voucher_not_found)", 409: _CHECKED_OUT,
                422: "the voucher cannot be used on this cart now (voucher_not_applicable)"},
        owner_only="cart_not_found",
    ),
    "remove_voucher": Operation(
        summary="Take the voucher off the cart.",
        access=GUEST_OR_SIGNED_IN,
        path={"cart_id": CART_ID},
        responses={200: _CART},
        errors={404: _NOT_FOUND, 409: _CHECKED_OUT},
        owner_only="cart_not_found",
    ),
}
