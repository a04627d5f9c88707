"""The HTTP contract of returns (see chalicelib.contract): the customer asks (signed in as the order's owner, or
as a guest with the order's access token) and sends the parcel back; staff decide, book a pickup and inspect."""

from __future__ import annotations

from chalicelib.contract import (
    GUEST_OR_SIGNED_IN,
    Access,
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
)
from chalicelib.orders.contract import ORDER_ID, ORDER_TOKEN_HEADERS, ORDER_TOKEN_QUERIES
from chalicelib.returns.domain import (
    COURIER,
    COURIER_MAX,
    COURIER_PATTERN,
    CUSTOMER,
    DECISION_NOTE_MAX,
    MAX_LINE_UNITS,
    MAX_PHOTOS,
    MAX_RETURN_LINES,
    NOTE_MAX,
    PHOTO_TYPES,
    REASONS,
    REJECT_REASON_MIN,
    RETURN_ID_MAX,
    RETURN_ID_PATTERN,
    RETURNED_TO_SENDER,
    STATUSES,
    WAYBILL_MAX,
    WAYBILL_PATTERN,
    WRITE_OFF_REASON_MAX,
)
from chalicelib.validation import SKU_PATTERN

STAFF: Access = signed_in("staff")

RETURN_ID = string(pattern=RETURN_ID_PATTERN, max_len=RETURN_ID_MAX,
                   description="<order id>-R<n>, e.g. TK-261201-AB12CD-R1")
SKU = string(pattern=SKU_PATTERN, max_len=64)

_GUEST = ("The order's owner (signed in), staff, or a guest holding the order's access token (X-Order-Token header"
          " or ?access_token=); anyone else gets 404.")

_UPLOAD = obj({
    "key": string(description="where the file goes in the private media bucket"),
    "method": string(enum=["POST"]),
    "url": string(description="POST the file here as multipart/form-data, with `fields` first"),
    "fields": str_map(string(), description="form fields to send with the file, as given"),
    "max_bytes": integer(minimum=1),
    "expires_in": integer(minimum=1, description="seconds the upload link is valid"),
}, description="A presigned S3 upload for one photo.")

_RETURN_FIELDS: dict[str, Schema] = {
    "return_id": RETURN_ID,
    "order_id": string(),
    "status": string(enum=STATUSES),
    "origin": string(enum=[CUSTOMER, COURIER], description="who opened it: the customer, or the courier's return"
                                                           " to sender"),
    "reason": string(enum=[*REASONS, RETURNED_TO_SENDER]),
    "note": string(description="the customer's words (may be empty)"),
    "lines": array(ref("ReturnLine")),
    "shop_at_fault": boolean(description="the shop pays the shipping back"),
    "refund_only": boolean(description="refunded without sending the goods back"),
    "decision_note": string(description="why staff rejected it, or what they said approving it (may be empty)"),
    "parcel": nullable(ref("ReturnParcel")),
    "refund": nullable(ref("ReturnRefund")),
    "photo_count": integer(minimum=0, maximum=MAX_PHOTOS),
    "attention": nullable(string(description="why the workflow stopped and a person must look")),
    "created_at": timestamp(),
    "updated_at": timestamp(),
    "history": array(ref("ReturnHistoryEntry")),
}

SCHEMAS: dict[str, Schema] = {
    "ReturnLine": obj({
        "sku": string(),
        "name": string(),
        "quantity": integer(minimum=1, description="units coming back"),
        "restocked": integer(minimum=0, description="units back on hand after inspection"),
        "written_off": integer(minimum=0, description="units written off after inspection"),
        "write_off_reason": string(description="empty unless units were written off"),
    }),
    "ReturnHistoryEntry": obj({
        "at": timestamp(),
        "status": string(enum=STATUSES),
        "note": string(),
        "actor": string(description="who did it: a user's sub, guest, courier or returns (the workflow)"),
        "event": nullable(string(description="the step (approve, reject, send_back, ...); null when opened")),
    }),
    "ReturnParcel": one_of(
        obj({
            "by": string(enum=["customer"]),
            "courier": string(),
            "waybill_id": string(),
            "at": timestamp(),
        }, description="the customer sent it with a courier of their choice"),
        obj({
            "by": string(enum=["pickup"]),
            "provider": string(),
            "booking_id": string(),
            "courier": string(),
            "service": string(),
            "waybill_id": nullable(string()),
            "tracking_id": nullable(string()),
            "label_url": nullable(string()),
            "price": money("what the courier charges the shop, whole Rupiah"),
            "status": string(),
            "at": timestamp(),
        }, description="staff booked a courier to collect it"),
        description="How the goods come back.",
    ),
    "ReturnRefund": obj({
        "goods": money("the units' paid price, whole Rupiah"),
        "shipping": money("shipping paid back when the shop is at fault, whole Rupiah"),
        "total": money("goods + shipping, whole Rupiah"),
        "amount": money("what was actually given back (never more than is left to refund), whole Rupiah"),
        "by": string(enum=["gateway", "payout", "none"], description="to the original payment, by bank transfer,"
                                                                    " or nothing was paid"),
        "payout_id": nullable(string(description="the bank transfer finance still has to make")),
        "units": str_map(integer(minimum=0), description="units refunded per SKU"),
        "refund_key": string(),
    }),
    "Return": obj(_RETURN_FIELDS, description="A return, its lines, parcel, refund and history."),
    "ReturnRequested": obj({
        **_RETURN_FIELDS,
        "photo_uploads": array(ref("ReturnPhotoUpload"), max_items=MAX_PHOTOS,
                               description="one presigned upload per photo asked for, in order"),
    }, description="The new return and where to upload its photos."),
    "ReturnForStaff": obj({
        **_RETURN_FIELDS,
        "photos": array(string(description="a short-lived download link"), max_items=MAX_PHOTOS),
    }, description="A return with short-lived links to the customer's photos."),
    "ReturnPhotoUpload": _UPLOAD,
    "OrderReturns": obj({
        "order_id": string(),
        "refunded_total": money("everything refunded on the order so far, whole Rupiah"),
        "items": array(ref("Return"), description="oldest first"),
    }),
    "ReturnPage": obj({
        "items": array(ref("Return")),
        "next_cursor": nullable(string(description="pass as ?cursor= for the next page; null on the last")),
    }),
}

_RETURN = Response("the return as it is now", ref("Return"))
_NO_RETURN = "no such return"
_STEP = ("the return's status does not allow this (return_step_refused, naming the status), or it kept changing"
         " meanwhile (return_conflict)")


def _optional(schema: Schema) -> Schema:
    """An optional request field: absent and null mean the same to the route."""
    return nullable(schema)


OPERATIONS = {
    "request_return": Operation(
        summary="Ask to return delivered units within the return window; photos go to the upload links answered.",
        description=_GUEST,
        access=GUEST_OR_SIGNED_IN,
        path={"order_id": ORDER_ID},
        headers=ORDER_TOKEN_HEADERS,
        query=ORDER_TOKEN_QUERIES,
        body=obj({
            "lines": array(obj({"sku": SKU, "quantity": integer(minimum=1, maximum=MAX_LINE_UNITS)}),
                           min_items=1, max_items=MAX_RETURN_LINES, description="each SKU once"),
            "reason": string(enum=REASONS),
        }, {
            "note": _optional(string(min_len=1, max_len=NOTE_MAX)),
            "photos": _optional(array(obj({"content_type": string(enum=sorted(PHOTO_TYPES))}),
                                      max_items=MAX_PHOTOS)),
        }),
        responses={201: Response("the return, requested; staff decide next", ref("ReturnRequested"))},
        errors={404: "no such order, or it is not yours",
                409: "the order changed meanwhile (return_conflict)",
                422: "the order is not delivered (order_not_returnable), the window closed (return_window_closed),"
                     " the order has too many returns (too_many_returns), or more units than were delivered and not"
                     " yet returned (return_exceeds_delivered)"},
    ),
    "order_returns": Operation(
        summary="The order's returns, oldest first, with their status and refund.",
        description=_GUEST,
        access=GUEST_OR_SIGNED_IN,
        path={"order_id": ORDER_ID},
        headers=ORDER_TOKEN_HEADERS,
        query=ORDER_TOKEN_QUERIES,
        responses={200: Response("the order's returns", ref("OrderReturns"))},
        errors={404: "no such order, or it is not yours"},
    ),
    "send_back": Operation(
        summary="The customer sent the parcel back: the courier and its waybill (nomor resi).",
        description=_GUEST + " Sending the same waybill again answers the return unchanged.",
        access=GUEST_OR_SIGNED_IN,
        path={"order_id": ORDER_ID, "return_id": RETURN_ID},
        headers=ORDER_TOKEN_HEADERS,
        query=ORDER_TOKEN_QUERIES,
        body=obj({
            "courier": string(pattern=COURIER_PATTERN, max_len=COURIER_MAX, example="JNE"),
            "waybill_id": string(pattern=WAYBILL_PATTERN, max_len=WAYBILL_MAX),
        }),
        responses={200: _RETURN},
        errors={404: "no such order (or not yours), or no such return on it",
                409: "the return is refunded without sending anything back (nothing_to_send); " + _STEP},
    ),
    "returns_in_status": Operation(
        summary="Returns in one status, oldest first, a page at a time.",
        access=STAFF,
        query={
            "status": string(enum=STATUSES, description="requested (waiting for a decision) when absent"),
            **page_query("returns", default=50),
        },
        responses={200: Response("a page of returns", ref("ReturnPage"))},
    ),
    "return_for_staff": Operation(
        summary="A return with short-lived links to the customer's photos.",
        access=STAFF,
        path={"return_id": RETURN_ID},
        responses={200: Response("the return", ref("ReturnForStaff"))},
        errors={404: _NO_RETURN},
    ),
    "approve": Operation(
        summary="Accept the return: the goods come back, or (refund_only) the customer keeps them and is refunded.",
        description="The body is optional. Approving an approved return the same way again answers it unchanged.",
        access=STAFF,
        path={"return_id": RETURN_ID},
        body=obj({}, {
            "refund_only": _optional(boolean(description="refund without asking for the goods back (false)")),
            "shop_at_fault": _optional(boolean(description="the shop pays the shipping back; when absent, as the"
                                                           " reason says")),
            "note": _optional(string(min_len=1, max_len=DECISION_NOTE_MAX)),
        }),
        body_required=False,
        responses={200: _RETURN},
        errors={404: _NO_RETURN, 409: _STEP},
    ),
    "reject": Operation(
        summary="Refuse the return with a reason; its units may be asked for again.",
        description="Rejecting a rejected return answers it unchanged.",
        access=STAFF,
        path={"return_id": RETURN_ID},
        body=obj({"reason": string(min_len=REJECT_REASON_MIN, max_len=DECISION_NOTE_MAX)}),
        responses={200: _RETURN},
        errors={404: _NO_RETURN, 409: _STEP},
    ),
    "book_pickup": Operation(
        summary="Book the order's courier to collect the parcel from the customer.",
        description="No body (or an empty object). Booking again answers the pickup booked before.",
        access=STAFF,
        path={"return_id": RETURN_ID},
        body=obj({}),
        body_required=False,
        responses={200: _RETURN},
        errors={404: _NO_RETURN,
                409: "only an approved return that sends its goods back gets a pickup (return_step_refused), or it"
                     " kept changing meanwhile (return_conflict)",
                422: "the courier refused the pickup (pickup_rejected)",
                503: "the courier is unavailable: try again later"},
    ),
    "receive": Operation(
        summary="The parcel arrived: per line, units restocked and units written off (with a reason).",
        description="Every line of the return is accounted for, each SKU once; units missing from the parcel count"
                    " neither way and are not refunded. Receiving again answers the first inspection.",
        access=STAFF,
        path={"return_id": RETURN_ID},
        body=obj({
            "lines": array(obj({"sku": SKU}, {
                "restock": _optional(integer(minimum=0, maximum=MAX_LINE_UNITS, description="0 when absent")),
                "write_off": _optional(integer(minimum=0, maximum=MAX_LINE_UNITS, description="0 when absent")),
                "write_off_reason": _optional(string(min_len=1, max_len=WRITE_OFF_REASON_MAX,
                                                     description="required when units are written off")),
            }), max_items=MAX_RETURN_LINES),
        }),
        responses={200: _RETURN},
        errors={404: _NO_RETURN,
                409: "the return is refunded without sending anything back, or not waiting for its parcel"
                     " (return_step_refused); or it kept changing meanwhile (return_conflict)"},
    ),
}
