"""The orders' HTTP contract (see chalicelib.contract): a customer's own orders, one order, staff lists.

The Order schema is the one every area answering with an order refers to (checkout, fulfilment, payments).
"""

from __future__ import annotations

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
    one_of,
    page_query,
    ref,
    signed_in,
    str_map,
    string,
    timestamp,
    trimmed,
)
from chalicelib.orders.domain import ORDER_ID_PATTERN, PAYMENT_METHODS, STORES, VA_BANKS
from chalicelib.orders.lifecycle import EVENTS, PENDING_PAYMENT, STATUSES
from chalicelib.validation import CITY_MAX, PHONE_MAX_CHARS, POSTAL_CODE_PATTERN, PROVINCE_MAX

ORDER_ID = string(pattern=trimmed(ORDER_ID_PATTERN), max_len=24, description="the order's id, e.g. TK-261123-7QX2MD")
ORDER_TOKEN_HEADER = "X-Order-Token"
ORDER_TOKEN_QUERY = "access_token"
ORDER_TOKEN = string(description="the order's access token, given once by POST /checkout: lets a guest (or anyone"
                                 " holding it) read and act on this order without signing in")

# How an order is reached by someone who is neither its signed-in owner nor staff: its access token, in a header
# or (for links in messages) the query. Operations on one order spread these into their headers and query.
ORDER_TOKEN_HEADERS: dict[str, Schema] = {ORDER_TOKEN_HEADER: ORDER_TOKEN}
ORDER_TOKEN_QUERIES: dict[str, Schema] = {ORDER_TOKEN_QUERY: ORDER_TOKEN}
ORDER_ACCESS = (
    "Who: the signed-in customer who placed the order, staff (admin), or anyone sending the order's access token"
    f" ({ORDER_TOKEN_HEADER} header, or ?{ORDER_TOKEN_QUERY}= for links in messages); anyone else gets 404."
)
ORDER_NOT_FOUND = "no such order, or the caller may not see it (order_not_found)"


# What checkout, quotes and courier booking accept (chalicelib.validation's rules), as the requests spell them.
PHONE = string(min_len=1, max_len=PHONE_MAX_CHARS,
               description="an Indonesian number as people type it (0812-3456-7890, +62 812 3456 7890, (0274) 512345):"
                           " digits grouped by single spaces, dots or hyphens; 10 to 13 digits with the leading 0 for"
                           " a mobile, 9 to 13 for a landline; kept as +62...")
POSTAL_CODE = string(pattern=trimmed(POSTAL_CODE_PATTERN), max_len=20,
                     description="an Indonesian kode pos: 5 digits, not starting with 0")


def text_line(max_len: int, description: str) -> Schema:
    """A line of text as validation's rules read it: not blank, at most `max_len` characters."""
    return string(min_len=1, max_len=max_len, description=f"{description} (not blank)")


CITY = text_line(CITY_MAX, "city or regency")
PROVINCE = text_line(PROVINCE_MAX, "one of Indonesia's provinces (an unknown one is refused)")


SCHEMAS: dict[str, Schema] = {
    "OrderLine": obj({
        "sku": string(),
        "product_id": string(),
        "name": string(),
        "options": str_map(string(), description="the variant's options, e.g. {\"size\": \"M\"}"),
        "unit_price": money("whole Rupiah, frozen at checkout"),
        "quantity": integer(minimum=1),
        "line_total": money(),
        "weight_grams": integer(minimum=0, description="of the whole line"),
    }),
    "OrderTotals": obj({
        "subtotal": money(),
        "discount": money(description="every discount on the goods: the voucher's and points_discount"),
        "shipping": money(),
        "total": money(description="goods after discount + shipping"),
        "ppn_included": money(description="the VAT (PPN) contained in the goods"),
        "ppn_rate_percent": integer(minimum=0),
        "weight_grams": integer(minimum=0),
        "currency": string(enum=["IDR"]),
        "points_redeemed": integer(minimum=0, description="loyalty points spent at checkout"),
        "points_discount": money(description="what the points took off the goods"),
    }),
    "OrderCustomer": obj({
        "name": string(),
        "email": string(),
        "phone": string(description="E.164, e.g. +6281234567890"),
    }),
    "OrderAddress": obj({
        "recipient": string(),
        "phone": string(description="E.164, e.g. +6281234567890"),
        "street": string(),
        "city": string(),
        "province": string(),
        "postal_code": string(),
        "notes": string(description="directions for the courier; may be empty"),
    }),
    "OrderShipping": obj({
        "courier": string(),
        "service": string(),
        "price": money("whole Rupiah for the whole parcel, as quoted at checkout"),
        "etd_days": string(description="estimated days in transit as the courier publishes it, e.g. \"2-3\""),
        "cod_available": boolean(),
    }, description="The courier service chosen at checkout, priced by the shop."),
    "OrderPayment": obj(
        {
            "provider": string(description="the payment gateway"),
            "method": string(enum=PAYMENT_METHODS),
            "transaction_id": string(),
            "amount": money(),
            "expires_at": timestamp(),
        },
        {
            "bank": string(description="virtual account: the bank"),
            "va_number": string(description="virtual account: the number to pay to"),
            "biller_code": string(description="Mandiri bill payment: the company code"),
            "bill_key": string(description="Mandiri bill payment: the bill key"),
            "store": string(description="convenience store: where to pay"),
            "payment_code": string(description="convenience store: the code the cashier takes"),
            "qr_string": string(description="QRIS: the QR code's content"),
            "deeplink_url": string(description="e-wallet: opens the wallet's app"),
            "redirect_url": string(description="card: the page that takes the card"),
        },
        description="How to pay: given by the gateway at checkout (fields by payment method).",
    ),
    "OrderTrackingEvent": obj({
        "status": string(description="the courier's status, lower snake case (picked, delivered, ...)"),
        "at": timestamp(),
        "note": string(),
        "waybill_id": nullable(string()),
    }),
    "OrderShipment": obj(
        {
            "provider": string(description="the courier integration (sandbox, biteship)"),
            "booking_id": string(description="the courier's id of the booking"),
            "courier": string(),
            "service": string(),
            "waybill_id": nullable(string(description="the resi; some couriers give it later")),
            "tracking_id": nullable(string()),
            "label_url": nullable(string()),
            "price": money("whole Rupiah the courier charges the shop"),
            "status": string(description="the parcel's furthest status"),
            "history": array(ref("OrderTrackingEvent"), description="every courier status, oldest first"),
        },
        {"actual_price": money("what the courier finally charged, when it says so")},
        description="The courier booking and the parcel's tracking.",
    ),
    "OrderTimelineEntry": obj(
        {
            "at": timestamp(),
            "status": string(enum=STATUSES, description="the order's status after this step"),
            "note": string(),
            "actor": string(description="who did it: a user id, guest, system, or the courier"),
            "event": nullable(string(enum=EVENTS, description="the lifecycle event; null: the order was placed")),
        },
        {"data": one_of(
            obj({"amount": money(), "refund_key": string()}, description="a refund promised on the order"),
            obj({"return": string(description="the return's status after this step (opened when it was opened)"),
                 "return_id": string(), "reason": string(),
                 "units": str_map(integer(minimum=0), description="SKU -> units")},
                description="a step of one of the order's returns"),
            description="figures the step moved",
        )},
    ),
    "Order": obj({
        "order_id": ORDER_ID,
        "status": string(enum=STATUSES),
        "created_at": timestamp(),
        "updated_at": timestamp(),
        "customer": ref("OrderCustomer"),
        "shipping_address": ref("OrderAddress"),
        "shipping": ref("OrderShipping"),
        "payment_method": string(enum=PAYMENT_METHODS),
        "payment_channel": nullable(string(enum=(*VA_BANKS, *STORES),
                                           description="the virtual account's bank or the convenience store")),
        "payment_deadline": nullable(timestamp("when an unpaid order expires; null for cash on delivery")),
        "lines": array(ref("OrderLine")),
        "totals": ref("OrderTotals"),
        "voucher_code": nullable(string()),
        "channel": nullable(string(description="where the order was placed (web, app, ...)")),
        "utm_source": nullable(string(description="the campaign that brought the shopper")),
        "payment": nullable(ref("OrderPayment")),
        "shipment": nullable(ref("OrderShipment")),
        "cancel_requested": boolean(description="the customer asked to cancel; the workflow carries it out"),
        "attention": nullable(string(description="why a person must look at the order")),
        "refunded_total": money("money promised back so far (gateway refunds and payouts)"),
        "returned_units": str_map(integer(minimum=0), description="SKU -> units claimed by returns"),
        "timeline": array(ref("OrderTimelineEntry"), description="every step, oldest first"),
    }, description="An order as the shop keeps it: prices frozen at checkout, payment, shipment and timeline."),
    "OrderPage": obj({
        "items": array(ref("Order")),
        "next_cursor": nullable(string(description="pass as ?cursor= for the next page; null on the last")),
    }),
}

OPERATIONS = {
    "my_orders": Operation(
        summary="The signed-in customer's orders, newest first.",
        access=signed_in("customer"),
        query=page_query("orders"),
        responses={200: Response("one page of the customer's orders", ref("OrderPage"))},
    ),
    "get_order": Operation(
        summary="One order: lines, totals, payment instructions, shipment and timeline.",
        description=ORDER_ACCESS,
        access=GUEST_OR_SIGNED_IN,
        path={"order_id": ORDER_ID},
        headers=ORDER_TOKEN_HEADERS,
        query=ORDER_TOKEN_QUERIES,
        responses={200: Response("the order", ref("Order"))},
        errors={404: ORDER_NOT_FOUND},
    ),
    "staff_orders": Operation(
        summary="Orders in one status, newest first (staff).",
        access=signed_in("staff"),
        query={"status": string(enum=STATUSES, description=f"default {PENDING_PAYMENT}"),
               **page_query("orders")},
        responses={200: Response("one page of orders in the status", ref("OrderPage"))},
    ),
}
