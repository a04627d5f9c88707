"""The checkout's HTTP contract (see chalicelib.contract): guests and signed-in customers, one Idempotency-Key each."""

from __future__ import annotations

from typing import Any

from chalicelib.cart.domain import CART_ID_PATTERN
from chalicelib.checkout.domain import CHANNEL_PATTERN, IDEMPOTENCY_KEY_PATTERN, MAX_REDEEM_POINTS, UTM_SOURCE_PATTERN
from chalicelib.contract import (
    GUEST_OR_SIGNED_IN,
    Operation,
    Response,
    Schema,
    integer,
    nullable,
    obj,
    ref,
    string,
)
from chalicelib.orders.contract import CITY, PHONE, POSTAL_CODE, PROVINCE, text_line, trimmed
from chalicelib.orders.contract import SCHEMAS as ORDER_SCHEMAS
from chalicelib.orders.domain import BANK_TRANSFER, CONVENIENCE_STORE, PAYMENT_METHODS, STORES, VA_BANKS
from chalicelib.validation import ADDRESS_NOTES_MAX, CONTACT_NAME_MAX, EMAIL_PATTERN, STREET_MAX


def _only_with(field: str, method: str) -> Schema:
    """`field` (when given, not null) goes only with payment_method `method`."""
    return {"if": {"required": [field], "properties": {field: {"type": "string"}}},
            "then": {"properties": {"payment_method": {"const": method}}}}


CUSTOMER = obj({
    "name": text_line(CONTACT_NAME_MAX, "the buyer's name"),
    "email": string(max_len=254, pattern=trimmed(EMAIL_PATTERN), description="where the order's messages go"),
    "phone": PHONE,
})
ADDRESS = obj(
    {
        "recipient": text_line(CONTACT_NAME_MAX, "who receives the parcel, as the courier writes it on the label"),
        "phone": PHONE,
        "street": text_line(STREET_MAX, "street, number, RT/RW, kelurahan, kecamatan"),
        "city": CITY,
        "province": PROVINCE,
        "postal_code": POSTAL_CODE,
    },
    {"notes": nullable(string(max_len=ADDRESS_NOTES_MAX, description="directions for the courier; may be empty"))},
)

REQUEST: dict[str, Any] = obj(
    {
        "cart_id": string(pattern=trimmed(CART_ID_PATTERN), max_len=32, description="the cart to check out"),
        "customer": CUSTOMER,
        "shipping_address": ADDRESS,
        "shipping": obj({
            "courier": string(min_len=1, max_len=40, description="a courier offered by POST /shipping/quote"),
            "service": string(min_len=1, max_len=40, description="its service; the price is computed again here"),
        }),
        "payment_method": string(enum=PAYMENT_METHODS),
    },
    {
        "bank": nullable(string(enum=VA_BANKS, description=f"only with {BANK_TRANSFER}: the virtual account's bank"
                                                            " (default bca)")),
        "store": nullable(string(enum=STORES, description=f"only with {CONVENIENCE_STORE}: where to pay (default"
                                                           " indomaret)")),
        "redeem_points": nullable(integer(minimum=0, maximum=MAX_REDEEM_POINTS,
                                          description="loyalty points to spend (signed-in customers only)")),
        "channel": nullable(string(max_len=60, pattern=trimmed(CHANNEL_PATTERN),
                                   description="where the order is placed (web, app, ...)")),
        "utm_source": nullable(string(max_len=60, pattern=trimmed(UTM_SOURCE_PATTERN),
                                      description="the campaign that brought the shopper")),
    },
)
REQUEST["allOf"] = [_only_with("bank", BANK_TRANSFER), _only_with("store", CONVENIENCE_STORE)]

SCHEMAS: dict[str, Schema] = {
    "CheckoutRequest": REQUEST,
    "PlacedOrder": {
        **ORDER_SCHEMAS["Order"],
        "properties": {
            **ORDER_SCHEMAS["Order"]["properties"],
            "access_token": string(description="the order's access token: keep it; a guest reads and cancels the"
                                               " order with it (X-Order-Token). Given only here."),
        },
        "required": [*ORDER_SCHEMAS["Order"]["required"], "access_token"],
        "description": "The order just placed, with its payment instructions and its access token.",
    },
}

OPERATIONS = {
    "checkout": Operation(
        summary="Place an order from a cart: prices, stock, voucher, shipping and points are checked again, stock"
                " is reserved and payment instructions are given.",
        description="Idempotent per caller and Idempotency-Key: the same body with the same key answers the first"
                    " order again; a signed-in customer's order is theirs, a guest's is reached with its"
                    " access_token.",
        access=GUEST_OR_SIGNED_IN,
        headers={"Idempotency-Key": string(pattern=IDEMPOTENCY_KEY_PATTERN, max_len=100,
                                           description="unique per checkout attempt; resend it when retrying")},
        required_headers=("Idempotency-Key",),
        body=ref("CheckoutRequest"),
        responses={201: Response("the order placed (or the first answer again, for a replayed key)",
                                 ref("PlacedOrder"))},
        errors={
            404: "no such cart, it expired, or it is another customer's (cart_not_found)",
            409: "the cart was already checked out (cart_checked_out), changed meanwhile (cart_conflict), holds an"
                 " item no longer sold (sku_unavailable) or more than is in stock (insufficient_stock); the voucher"
                 " was just used up (voucher_used_up); or a checkout with this key is still running"
                 " (checkout_in_progress)",
            422: "the cart is empty (cart_empty); the voucher does not apply (voucher_not_applicable); the courier"
                 " service does not deliver there (shipping_unavailable) or offers no cash on delivery"
                 " (cod_unavailable); points need a signed-in customer (sign_in_required), more than the balance"
                 " (insufficient_points) or over the order's limit (points_over_limit); or the key was used for a"
                 " different checkout (idempotency_key_reused)",
            503: "the courier did not answer the price check (provider_unavailable): retry with the same key",
        },
        owner_only="cart_not_found",
    ),
}
