"""The HTTP contract of customer service tickets (see chalicelib.contract): customers open and write (about an
order as its owner or as a guest with the order's access token; general questions signed in), staff reply,
resolve and work the queue."""

from __future__ import annotations

from chalicelib.contract import (
    GUEST_OR_SIGNED_IN,
    Access,
    Operation,
    Response,
    Schema,
    array,
    guest_or,
    integer,
    nullable,
    obj,
    page_query,
    ref,
    signed_in,
    str_map,
    string,
    timestamp,
)
from chalicelib.orders.contract import ORDER_ID, ORDER_TOKEN_HEADERS, ORDER_TOKEN_QUERIES
from chalicelib.tickets.domain import (
    ATTACHMENT_TYPES,
    CATEGORIES,
    CUSTOMER,
    EMAIL_MAX,
    MAX_ATTACHMENTS,
    MAX_COMMENT_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_STARS,
    MIN_STARS,
    RETURN_ID_MAX,
    RETURN_ID_PATTERN,
    STAFF,
    STATUSES,
    TICKET_ID_MAX,
    TICKET_ID_PATTERN,
)
from chalicelib.validation import EMAIL_PATTERN

STAFF_ONLY: Access = signed_in("staff")
CUSTOMER_ONLY: Access = signed_in("customer")

TICKET_ID = string(pattern=TICKET_ID_PATTERN, max_len=TICKET_ID_MAX, description="e.g. TKT-261201-AB12CD34")

PAGE_QUERY = page_query("tickets")
_WHO = ("Staff; for a ticket about an order, its owner (signed in) or a guest holding the order's access token"
        " (X-Order-Token header or ?access_token=); for a general question, the customer who asked. Anyone else"
        " gets 404.")

_TICKET_FIELDS: dict[str, Schema] = {
    "ticket_id": TICKET_ID,
    "category": string(enum=CATEGORIES),
    "status": string(enum=STATUSES, description="open: waiting for staff; waiting_for_customer: staff replied"),
    "order_id": nullable(string(description="null for a general question")),
    "return_id": nullable(string()),
    "customer_id": nullable(string(description="the signed-in customer; null for a guest's order")),
    "email": nullable(string(description="where a general ticket's replies are emailed")),
    "created_at": timestamp(),
    "updated_at": timestamp(),
    "waiting_since": timestamp(description="since when it waits in its status (the queue's order), UTC"),
    "reopened": integer(minimum=0, description="times the customer reopened it by writing after it was resolved"),
    "first_response_seconds": nullable(integer(minimum=0, description="opening to the first staff reply")),
    "resolution_seconds": nullable(integer(minimum=0, description="time spent unresolved up to the latest resolve;"
                                                                  " null while unresolved")),
    "resolved_at": nullable(timestamp()),
    "rating": nullable(ref("TicketRating")),
    "version": integer(minimum=1),
}


def _message_schema(attachments: Schema, description: str) -> Schema:
    return obj({
        "at": timestamp(),
        "author": string(enum=[CUSTOMER, STAFF]),
        "by": string(description="the writer's sub, or guest"),
        "text": string(),
        "attachments": array(attachments, max_items=MAX_ATTACHMENTS),
    }, description=description)


SCHEMAS: dict[str, Schema] = {
    "TicketRating": obj({
        "stars": integer(minimum=MIN_STARS, maximum=MAX_STARS),
        "comment": string(),
        "at": timestamp(),
    }),
    "TicketMessage": _message_schema(string(description="the attachment's key in the private media bucket"),
                                     "A message; attachments by their keys."),
    "TicketMessageWithLinks": _message_schema(
        obj({"key": string(), "url": string(description="a short-lived download link")}),
        "A message with short-lived links to its attachments."),
    "TicketAttachmentUpload": obj({
        "key": string(description="where the file goes in the private media bucket"),
        "method": string(enum=["POST"]),
        "url": string(description="POST the file here as multipart/form-data, with `fields` first"),
        "fields": str_map(string(), description="form fields to send with the file, as given"),
        "max_bytes": integer(minimum=1),
        "expires_in": integer(minimum=1, description="seconds the upload link is valid"),
    }, description="A presigned S3 upload for one attachment."),
    "Ticket": obj({**_TICKET_FIELDS, "messages": array(ref("TicketMessage"))},
                  description="A ticket and its messages."),
    "TicketWithLinks": obj({**_TICKET_FIELDS, "messages": array(ref("TicketMessageWithLinks"))},
                           description="A ticket with short-lived links to its messages' attachments."),
    "TicketWritten": obj({
        **_TICKET_FIELDS,
        "messages": array(ref("TicketMessage")),
        "attachment_uploads": array(ref("TicketAttachmentUpload"), max_items=MAX_ATTACHMENTS,
                                    description="one presigned upload per attachment of the message just written,"
                                                " in order"),
    }, description="The ticket after a message, and where to upload that message's attachments."),
    "TicketPage": obj({
        "items": array(ref("Ticket")),
        "next_cursor": nullable(string(description="pass as ?cursor= for the next page; null on the last")),
    }),
}


def _optional(schema: Schema) -> Schema:
    """An optional request field: absent and null mean the same to the route."""
    return nullable(schema)


_MESSAGE: dict[str, Schema] = {"message": string(min_len=1, max_len=MAX_MESSAGE_CHARS)}
_ATTACHMENTS: dict[str, Schema] = {
    "attachments": _optional(array(obj({"content_type": string(enum=sorted(ATTACHMENT_TYPES))}),
                                   max_items=MAX_ATTACHMENTS,
                                   description="one per file to upload; the answer gives an upload link for each")),
}
_WRITTEN = Response("the ticket with the message, and upload links for its attachments", ref("TicketWritten"))
_NO_TICKET = "no such ticket, or not yours"
_CHANGING = "the ticket kept changing meanwhile (ticket_conflict)"
_FULL = "the ticket holds the most messages or text (ticket_full): open a new one"

OPERATIONS = {
    "open_about_order": Operation(
        summary="Ask about an order (its owner, a guest with the order's access token, or staff on the customer's"
                " behalf).",
        description="Support staff are emailed about the new ticket.",
        access=GUEST_OR_SIGNED_IN,
        path={"order_id": ORDER_ID},
        headers=ORDER_TOKEN_HEADERS,
        query=ORDER_TOKEN_QUERIES,
        body=obj({**_MESSAGE, "category": string(enum=CATEGORIES)}, {
            **_ATTACHMENTS,
            "return_id": _optional(string(pattern=RETURN_ID_PATTERN, max_len=RETURN_ID_MAX,
                                          description="a return of this order the question is about")),
        }),
        responses={201: Response("the new ticket, open", ref("TicketWritten"))},
        errors={404: "no such order, or it is not yours",
                409: "no ticket id could be allocated (ticket_conflict): try again",
                422: "the return is not one of this order's (return_not_of_order)"},
    ),
    "open_general": Operation(
        summary="A signed-in customer's general question (about no particular order).",
        description="Staff replies are emailed to `email` (or the account's email) when there is one.",
        access=CUSTOMER_ONLY,
        body=obj({**_MESSAGE, "category": string(enum=CATEGORIES)}, {
            **_ATTACHMENTS,
            "email": _optional(string(pattern=EMAIL_PATTERN, max_len=EMAIL_MAX)),
        }),
        responses={201: Response("the new ticket, open", ref("TicketWritten"))},
        errors={409: "no ticket id could be allocated (ticket_conflict): try again"},
    ),
    "my_tickets": Operation(
        summary="The signed-in customer's tickets, a page at a time.",
        access=CUSTOMER_ONLY,
        query=PAGE_QUERY,
        responses={200: Response("a page of tickets", ref("TicketPage"))},
    ),
    "ticket": Operation(
        summary="A ticket with its messages and short-lived links to their attachments.",
        description=_WHO,
        access=GUEST_OR_SIGNED_IN,
        path={"ticket_id": TICKET_ID},
        headers=ORDER_TOKEN_HEADERS,
        query=ORDER_TOKEN_QUERIES,
        responses={200: Response("the ticket", ref("TicketWithLinks"))},
        errors={404: _NO_TICKET},
    ),
    "customer_message": Operation(
        summary="The customer writes: the ticket waits for staff again (a resolved one is reopened).",
        description=_WHO + " Staff write through POST /admin/tickets/{ticket_id}/messages.",
        access=guest_or("customer", "finance"),
        path={"ticket_id": TICKET_ID},
        headers=ORDER_TOKEN_HEADERS,
        query=ORDER_TOKEN_QUERIES,
        body=obj(_MESSAGE, _ATTACHMENTS),
        responses={201: _WRITTEN},
        errors={403: "staff write through /admin/tickets/{ticket_id}/messages", 404: _NO_TICKET,
                409: f"{_FULL}; or {_CHANGING}"},
    ),
    "rating": Operation(
        summary="Rate the help on a resolved ticket, once.",
        description=_WHO,
        access=guest_or("customer", "finance"),
        path={"ticket_id": TICKET_ID},
        headers=ORDER_TOKEN_HEADERS,
        query=ORDER_TOKEN_QUERIES,
        body=obj({"stars": integer(minimum=MIN_STARS, maximum=MAX_STARS)},
                 {"comment": _optional(string(max_len=MAX_COMMENT_CHARS))}),
        responses={200: Response("the ticket, rated", ref("Ticket"))},
        errors={403: "staff do not rate tickets", 404: _NO_TICKET,
                409: "the ticket is rated already (ticket_rated) or not resolved (ticket_not_resolved); or "
                     + _CHANGING},
    ),
    "queue": Operation(
        summary="Tickets in one status, the longest waiting first, a page at a time.",
        access=STAFF_ONLY,
        query={"status": string(enum=STATUSES, description="open (waiting for staff) when absent"), **PAGE_QUERY},
        responses={200: Response("a page of tickets", ref("TicketPage"))},
    ),
    "ticket_for_staff": Operation(
        summary="Any ticket, with short-lived links to its messages' attachments.",
        access=STAFF_ONLY,
        path={"ticket_id": TICKET_ID},
        responses={200: Response("the ticket", ref("TicketWithLinks"))},
        errors={404: "no such ticket"},
    ),
    "staff_message": Operation(
        summary="Reply: the ticket waits for the customer, who is told.",
        access=STAFF_ONLY,
        path={"ticket_id": TICKET_ID},
        body=obj(_MESSAGE, _ATTACHMENTS),
        responses={201: _WRITTEN},
        errors={404: "no such ticket",
                409: f"the ticket is resolved (ticket_resolved; the customer reopens it by writing); {_FULL}; or"
                     f" {_CHANGING}"},
    ),
    "resolve": Operation(
        summary="Resolve the ticket.",
        description="No body (or an empty object).",
        access=STAFF_ONLY,
        path={"ticket_id": TICKET_ID},
        body=obj({}),
        body_required=False,
        responses={200: Response("the ticket, resolved", ref("Ticket"))},
        errors={404: "no such ticket", 409: f"the ticket is resolved already (ticket_resolved); or {_CHANGING}"},
    ),
}
