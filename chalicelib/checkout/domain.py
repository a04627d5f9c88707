"""What a checkout request must say, and the order it becomes, in plain Python."""

from __future__ import annotations

import secrets
import string
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib import clock
from chalicelib.cart.domain import CART_ID_PATTERN, PricedCart, ppn_included
from chalicelib.errors import ValidationFailed
from chalicelib.orders.domain import (
    BANK_TRANSFER,
    COD,
    CONVENIENCE_STORE,
    PAYMENT_METHODS,
    STORES,
    VA_BANKS,
    Order,
    OrderLine,
    OrderTotals,
    TimelineEntry,
)
from chalicelib.orders.lifecycle import INITIAL
from chalicelib.validation import (
    EMAIL_PATTERN,
    Fields,
    address_notes,
    city,
    contact_name,
    indonesian_phone,
    postal_code,
    province,
    street,
)

IDEMPOTENCY_KEY_PATTERN = r"[A-Za-z0-9_\-:.]{8,100}"
MAX_REDEEM_POINTS = 10_000_000
CHANNEL_PATTERN = r"[A-Za-z0-9_\-.:/ ]+"
UTM_SOURCE_PATTERN = r"[A-Za-z0-9_\-.]+"


@dataclass(frozen=True)
class CheckoutRequest:
    cart_id: str
    customer: dict[str, str]
    shipping_address: dict[str, str]
    courier: str
    service: str
    payment_method: str
    channel: str | None
    utm_source: str | None = None
    redeem_points: int = 0  # loyalty points to spend on this order (signed-in customers)
    payment_channel: str | None = None  # the virtual account's bank, or the convenience store

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_request(fields: Fields) -> CheckoutRequest:
    """The checkout body, with names, phones and the address read by the same rules courier booking applies
    (chalicelib.validation), so an order that is placed can always be booked; phones are stored as +62...
    """
    fields.reject_unknown({"cart_id", "customer", "shipping_address", "shipping", "payment_method", "channel",
                           "utm_source", "redeem_points", "bank", "store"})
    customer = fields.obj("customer")
    customer.reject_unknown({"name", "email", "phone"})
    address = fields.obj("shipping_address")
    address.reject_unknown({"recipient", "phone", "street", "city", "province", "postal_code", "notes"})
    shipping = fields.obj("shipping")
    shipping.reject_unknown({"courier", "service"})
    method = fields.text("payment_method", choices=PAYMENT_METHODS)
    return CheckoutRequest(
        cart_id=fields.text("cart_id", pattern=CART_ID_PATTERN, max_len=32),
        customer={
            "name": customer.checked("name", contact_name),
            "email": customer.text("email", max_len=254, pattern=EMAIL_PATTERN).lower(),
            "phone": customer.checked("phone", indonesian_phone),
        },
        shipping_address={
            "recipient": address.checked("recipient", contact_name),
            "phone": address.checked("phone", indonesian_phone),
            "street": address.checked("street", street),
            "city": address.checked("city", city),
            "province": address.checked("province", province),
            "postal_code": address.checked("postal_code", postal_code),
            "notes": address.checked("notes", address_notes, required=False),
        },
        courier=shipping.text("courier", max_len=40),
        service=shipping.text("service", max_len=40),
        payment_method=method,
        payment_channel=_payment_channel(fields, method),
        channel=fields.text("channel", required=False, max_len=60, pattern=CHANNEL_PATTERN),
        utm_source=fields.text("utm_source", required=False, max_len=60, pattern=UTM_SOURCE_PATTERN),
        redeem_points=fields.integer("redeem_points", required=False, default=0, min_value=0,
                                     max_value=MAX_REDEEM_POINTS),
    )


def _payment_channel(fields: Fields, method: str) -> str | None:
    """The bank of a virtual account (BCA by default) or the convenience store (Indomaret by default); each only
    with its own payment method."""
    for name, owner in (("bank", BANK_TRANSFER), ("store", CONVENIENCE_STORE)):
        if fields.has(name) and method != owner:
            raise ValidationFailed(name, f"goes only with payment_method {owner}")
    if method == BANK_TRANSFER:
        return fields.text("bank", required=False, default="bca", choices=VA_BANKS)
    if method == CONVENIENCE_STORE:
        return fields.text("store", required=False, default="indomaret", choices=STORES)
    return None


def check_idempotency_key(key: str | None) -> str:
    if not key:
        raise ValidationFailed("Idempotency-Key", "header is required: a unique value per checkout attempt")
    return Fields({"Idempotency-Key": key}).text("Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN, max_len=100)


def new_order_id(moment: datetime) -> str:
    """Short, readable over the phone, dated by the Jakarta business day: TK-261123-7QX2MD."""
    alphabet = string.ascii_uppercase.replace("O", "").replace("I", "") + "23456789"
    suffix = "".join(secrets.choice(alphabet) for _ in range(6))
    return f"TK-{moment.astimezone(clock.JAKARTA):%y%m%d}-{suffix}"


def build_order(
    request: CheckoutRequest,
    priced: PricedCart,
    *,
    order_id: str,
    customer_id: str | None,
    shipping: dict[str, Any],
    access_token_hash: str,
    now: datetime,
    payment_window_seconds: int,
    points_discount: int = 0,
) -> Order:
    """Freeze prices, discounts (the voucher's and the points') and shipping into the order; COD is confirmed at
    once and paid on delivery."""
    goods_total = priced.totals.total - points_discount
    totals = OrderTotals(
        subtotal=priced.totals.subtotal,
        discount=priced.totals.discount + points_discount,
        shipping=int(shipping["price"]),
        total=goods_total + int(shipping["price"]),
        ppn_included=ppn_included(goods_total, priced.totals.ppn_rate_percent),
        ppn_rate_percent=priced.totals.ppn_rate_percent,
        weight_grams=priced.totals.weight_grams,
        points_redeemed=request.redeem_points if points_discount else 0,
        points_discount=points_discount,
    )
    lines = tuple(
        OrderLine(sku=line.sku, product_id=line.product_id, name=line.name, options=dict(line.options),
                  unit_price=line.unit_price, quantity=line.quantity, line_total=line.line_total,
                  weight_grams=line.weight_grams * line.quantity)
        for line in priced.lines
    )
    at = clock.iso(now)
    cod = request.payment_method == COD
    status = INITIAL["cod" if cod else "prepaid"]
    note = "order placed, cash on delivery" if cod else "order placed, waiting for payment"
    return Order(
        order_id=order_id,
        status=status,
        created_at=at,
        updated_at=at,
        customer=request.customer,
        customer_id=customer_id,
        shipping_address=request.shipping_address,
        shipping=shipping,
        payment_method=request.payment_method,
        payment_channel=request.payment_channel,
        lines=lines,
        totals=totals,
        cart_id=request.cart_id,
        access_token_hash=access_token_hash,
        payment_deadline=None if cod else clock.iso(now + timedelta(seconds=payment_window_seconds)),
        voucher_code=priced.applied_voucher.code if priced.applied_voucher else None,
        channel=request.channel,
        utm_source=request.utm_source,
        timeline=(TimelineEntry(at=at, status=status, note=note, actor=customer_id or "guest"),),
    )
