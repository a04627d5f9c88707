"""Shipping's HTTP contract (see chalicelib.contract): quotes for a cart, and the couriers' webhook."""

from __future__ import annotations

from chalicelib.cart.domain import CART_ID_PATTERN
from chalicelib.config import DEFAULT_BITESHIP_WEBHOOK_HEADER
from chalicelib.contract import (
    GUEST_OR_SIGNED_IN,
    WEBHOOK,
    Operation,
    Response,
    Schema,
    array,
    boolean,
    integer,
    money,
    obj,
    ref,
    string,
)
from chalicelib.orders.contract import CITY, POSTAL_CODE, PROVINCE, trimmed
from chalicelib.shipping.tracking import EVENTS, SANDBOX_SIGNATURE_HEADER
from chalicelib.shipping.webhooks import PROVIDERS

_TEXT_OR_NUMBER = {"type": ["string", "integer", "null"]}

SCHEMAS: dict[str, Schema] = {
    "ShippingDestination": obj({
        "postal_code": POSTAL_CODE,
        "city": CITY,
        "province": PROVINCE,
    }),
    "ShippingService": obj({
        "courier": string(),
        "service": string(),
        "price": money("whole Rupiah for the whole parcel"),
        "etd_days": string(description="estimated days in transit as the courier publishes it, e.g. \"2-3\""),
        "cod_available": boolean(description="the service collects cash on delivery for this parcel"),
    }, description="One priced courier service; checkout takes its courier and service."),
    "ShippingQuote": obj({
        "cart_id": string(),
        "destination": ref("ShippingDestination"),
        "weight_grams": integer(minimum=0, description="of the cart's goods"),
        "services": array(ref("ShippingService")),
    }),
    "CourierUpdate": {
        "type": "object",
        "description": "A courier's news about a booking, in Biteship's webhook shape (the sandbox courier sends the"
                       " same). order.status needs status and updated_at; order.price needs price; order.waybill_id"
                       " needs courier_waybill_id. Fields not listed are accepted and kept as sent.",
        "required": ["event", "order_id"],
        "properties": {
            "event": string(enum=EVENTS),
            "order_id": {"type": ["string", "integer"], "minLength": 1,
                         "description": "the courier's id of the booking"},
            "reference_id": {**_TEXT_OR_NUMBER, "description": "the shop's order id, when the courier sends it"},
            "status": {**_TEXT_OR_NUMBER, "description": "the parcel's status (picked, dropping_off, delivered, ...)"},
            "updated_at": {"type": ["string", "null"], "description": "when the status happened, ISO 8601"},
            "courier_waybill_id": _TEXT_OR_NUMBER,
            "courier_tracking_id": _TEXT_OR_NUMBER,
            "price": {"type": ["integer", "number", "string", "null"],
                      "description": "order.price: whole Rupiah (a number, or its digits as text)"},
            "order_price": {"type": ["integer", "number", "string", "null"]},
            "note": {},
        },
    },
}

_ACK = obj({"status": string(enum=["ok", "accepted", "duplicate"],
                             description="accepted: recorded and queued; duplicate: this very message came before;"
                                         " ok: Biteship's registration check")})

OPERATIONS = {
    "quote": Operation(
        summary="The courier services that deliver the cart to a destination, with their prices.",
        access=GUEST_OR_SIGNED_IN,
        body=obj({"cart_id": string(pattern=trimmed(CART_ID_PATTERN), max_len=32),
                   "destination": ref("ShippingDestination")}),
        responses={200: Response("the services, cheapest first", ref("ShippingQuote"))},
        errors={404: "no such cart, it expired, or it is another customer's (cart_not_found)",
                422: "the cart is empty (cart_empty) or the courier cannot take the parcel (shipping_unavailable)",
                503: "the courier did not answer (provider_unavailable): try again shortly"},
        owner_only="cart_not_found",
    ),
    "courier_webhook": Operation(
        summary="A courier reports on a parcel: authenticated, recorded once, queued; the order moves from it.",
        description=f"The sandbox courier signs the raw body (hex HMAC-SHA256 in {SANDBOX_SIGNATURE_HEADER}); Biteship"
                    f" sends the configured shared secret in a header ({DEFAULT_BITESHIP_WEBHOOK_HEADER} unless"
                    " configured otherwise). Biteship's registration check (an empty body or {}) is answered 200"
                    " before any authentication.",
        access=WEBHOOK,
        path={"provider": string(enum=PROVIDERS)},
        headers={SANDBOX_SIGNATURE_HEADER: string(description="sandbox: hex HMAC-SHA256 of the raw body"),
                 DEFAULT_BITESHIP_WEBHOOK_HEADER: string(description="biteship: the shared secret")},
        body={"anyOf": [obj({}, description="Biteship's registration check"), ref("CourierUpdate")]},
        body_required=False,
        responses={200: Response("acknowledged", _ACK)},
        errors={401: "the signature or shared secret is missing or wrong (invalid_signature)",
                404: "no such courier provider (unknown_provider)",
                503: "the update could not be queued (queue_unavailable): the courier sends it again"},
    ),
}
