"""HTTP routes of customer service tickets: customers open and write, staff reply, resolve and work the queue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.lazy import lazy_module
from chalicelib.orders.domain import access_token_from, checked_order_id
from chalicelib.tickets.domain import (
    ATTACHMENT_TYPES,
    CATEGORIES,
    EMAIL_MAX,
    MAX_ATTACHMENTS,
    MAX_COMMENT_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_STARS,
    MIN_STARS,
    OPEN,
    RETURN_ID_MAX,
    RETURN_ID_PATTERN,
    STATUSES,
    TICKET_ID_MAX,
    TICKET_ID_PATTERN,
)
from chalicelib.validation import EMAIL_PATTERN, Fields, page
from chalicelib.web import (
    api,
    expect_no_body,
    json_response,
    jwt_authorizer,
    optional_principal,
    query_params,
    read_json,
    signed_in,
    staff,
)

if TYPE_CHECKING:
    from chalicelib.tickets import service
else:
    service = lazy_module("chalicelib.tickets.service")

ticket_routes = Blueprint(__name__)


def _ticket_id(ticket_id: str) -> str:
    return Fields({"ticket_id": ticket_id}).text("ticket_id", pattern=TICKET_ID_PATTERN, max_len=TICKET_ID_MAX)


def _token() -> str | None:
    request = ticket_routes.current_request
    return access_token_from(request.headers, request.query_params)


def _message(fields: Fields, extra: set[str] | None = None) -> tuple[str, list[str]]:
    """The message text and its attachments' content types, each refused by name."""
    fields.reject_unknown({"message", "attachments", *(extra or set())})
    text = fields.text("message", max_len=MAX_MESSAGE_CHARS)
    types = []
    for index, raw in enumerate(fields.array("attachments", required=False, max_items=MAX_ATTACHMENTS)):
        attachment = Fields(raw, path=f"body.attachments[{index}]")
        attachment.reject_unknown({"content_type"})
        types.append(attachment.text("content_type", choices=sorted(ATTACHMENT_TYPES)))
    return text, types


@ticket_routes.route("/orders/{order_id}/tickets", methods=["POST"])
@api
def open_about_order(order_id: str) -> Any:
    """A question about an order by its owner, staff, or a guest with the order token."""
    request = ticket_routes.current_request
    principal = optional_principal(request)
    checked = checked_order_id(order_id)
    fields = read_json(request)
    text, types = _message(fields, {"category", "return_id"})
    category = fields.text("category", choices=CATEGORIES)
    return_id = fields.text("return_id", required=False, default="", pattern=RETURN_ID_PATTERN,
                            max_len=RETURN_ID_MAX) or None
    answer = service.open_about_order(checked, principal, _token(), category=category, text=text,
                                      attachment_types=types, return_id=return_id)
    return json_response(answer, status=201)


@ticket_routes.route("/tickets", methods=["POST"], authorizer=jwt_authorizer)
@api
def open_general() -> Any:
    """A signed-in customer's general question; `email` (optional) receives staff replies."""
    principal = signed_in(ticket_routes.current_request, "customer")
    fields = read_json(ticket_routes.current_request)
    text, types = _message(fields, {"category", "email"})
    category = fields.text("category", choices=CATEGORIES)
    email = fields.text("email", required=False, default="", max_len=EMAIL_MAX, pattern=EMAIL_PATTERN).lower() or None
    answer = service.open_general(principal, category=category, text=text, attachment_types=types, email=email)
    return json_response(answer, status=201)


@ticket_routes.route("/tickets", methods=["GET"], authorizer=jwt_authorizer)
@api
def my_tickets() -> Any:
    principal = signed_in(ticket_routes.current_request, "customer")
    limit, cursor = page(query_params(ticket_routes.current_request))
    return service.of_customer(principal, limit=limit, cursor=cursor)


@ticket_routes.route("/tickets/{ticket_id}", methods=["GET"])
@api
def ticket(ticket_id: str) -> Any:
    principal = optional_principal(ticket_routes.current_request)
    return service.customer_view(_ticket_id(ticket_id), principal, _token())


@ticket_routes.route("/tickets/{ticket_id}/messages", methods=["POST"])
@api
def customer_message(ticket_id: str) -> Any:
    request = ticket_routes.current_request
    principal = optional_principal(request)
    checked = _ticket_id(ticket_id)
    text, types = _message(read_json(request))
    answer = service.customer_message(checked, principal, _token(), text=text, attachment_types=types)
    return json_response(answer, status=201)


@ticket_routes.route("/tickets/{ticket_id}/rating", methods=["POST"])
@api
def rating(ticket_id: str) -> Any:
    request = ticket_routes.current_request
    principal = optional_principal(request)
    checked = _ticket_id(ticket_id)
    fields = read_json(request)
    fields.reject_unknown({"stars", "comment"})
    stars = fields.integer("stars", min_value=MIN_STARS, max_value=MAX_STARS)
    comment = fields.text("comment", required=False, default="", min_len=0, max_len=MAX_COMMENT_CHARS)
    return service.rate_help(checked, principal, _token(), stars=stars, comment=comment)


@ticket_routes.route("/admin/tickets", methods=["GET"], authorizer=jwt_authorizer)
@api
def queue() -> Any:
    """Tickets by status, the longest waiting first (`open`: waiting for staff)."""
    staff(ticket_routes.current_request)
    params = query_params(ticket_routes.current_request)
    status = Fields(params).text("status", required=False, default=OPEN, choices=STATUSES)
    limit, cursor = page(params)
    return service.queue(status, limit=limit, cursor=cursor)


@ticket_routes.route("/admin/tickets/{ticket_id}", methods=["GET"], authorizer=jwt_authorizer)
@api
def ticket_for_staff(ticket_id: str) -> Any:
    staff(ticket_routes.current_request)
    return service.staff_view(_ticket_id(ticket_id))


@ticket_routes.route("/admin/tickets/{ticket_id}/messages", methods=["POST"], authorizer=jwt_authorizer)
@api
def staff_message(ticket_id: str) -> Any:
    principal = staff(ticket_routes.current_request)
    checked = _ticket_id(ticket_id)
    text, types = _message(read_json(ticket_routes.current_request))
    answer = service.staff_message(checked, principal, text=text, attachment_types=types)
    return json_response(answer, status=201)


@ticket_routes.route("/admin/tickets/{ticket_id}/resolve", methods=["POST"], authorizer=jwt_authorizer)
@api
def resolve(ticket_id: str) -> Any:
    staff(ticket_routes.current_request)
    checked = _ticket_id(ticket_id)
    expect_no_body(ticket_routes.current_request)
    return service.resolve_ticket(checked)
