"""The fulfilment's HTTP contract (see chalicelib.contract): staff packing and the customer's cancel."""

from __future__ import annotations

from chalicelib.contract import GUEST_OR_SIGNED_IN, Operation, Response, obj, ref, signed_in
from chalicelib.orders.contract import ORDER_ACCESS, ORDER_ID, ORDER_NOT_FOUND, ORDER_TOKEN_HEADERS, ORDER_TOKEN_QUERIES

NO_INPUT = obj({}, description="nothing: send no body, or an empty JSON object")

OPERATIONS = {
    "mark_packed": Operation(
        summary="Staff packed the parcel: the workflow books the courier next. Packing a packed order again answers"
                " it unchanged.",
        access=signed_in("staff"),
        path={"order_id": ORDER_ID},
        body=NO_INPUT,
        body_required=False,
        responses={200: Response("the order, PACKED", ref("Order"))},
        errors={404: "no such order (order_not_found)",
                409: "the order cannot be packed from its status, or the customer asked to cancel it (the table's"
                     " code names why; details give event and status), or it kept changing (order_conflict)"},
    ),
    "cancel_order": Operation(
        summary="Ask to cancel an order before it is packed: the workflow releases or restocks its stock and refunds"
                " what was paid. Asking again answers the pending request unchanged.",
        description=ORDER_ACCESS,
        access=GUEST_OR_SIGNED_IN,
        path={"order_id": ORDER_ID},
        headers=ORDER_TOKEN_HEADERS,
        query=ORDER_TOKEN_QUERIES,
        body=NO_INPUT,
        body_required=False,
        responses={202: Response("the order with cancel_requested; the workflow carries the cancel out",
                                 ref("Order"))},
        errors={404: ORDER_NOT_FOUND,
                409: "too late to cancel: the order is packed or further on, or it ended (the table's code names"
                     " why; details give event and status), or it kept changing (order_conflict)"},
    ),
}
