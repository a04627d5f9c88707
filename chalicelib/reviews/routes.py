"""HTTP routes of reviews: the buyer writes one per order line, staff moderate and reply, shoppers read the
approved ones."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.lazy import lazy_module
from chalicelib.orders.domain import access_token_from, checked_order_id
from chalicelib.reviews.domain import (
    MAX_REPLY,
    REJECT_REASON_MAX,
    REJECT_REASON_MIN,
    REVIEW_ID_MAX,
    REVIEW_ID_PATTERN,
    STATUSES,
)
from chalicelib.validation import ID_PATTERN, Fields, page
from chalicelib.web import (
    api,
    expect_no_body,
    json_response,
    jwt_authorizer,
    optional_principal,
    query_params,
    read_json,
    staff,
)

if TYPE_CHECKING:
    from chalicelib.reviews import service
else:
    service = lazy_module("chalicelib.reviews.service")

review_routes = Blueprint(__name__)


def _request() -> Any:
    return review_routes.current_request


def _review_id(review_id: str) -> str:
    return Fields({"review_id": review_id}).text("review_id", pattern=REVIEW_ID_PATTERN, max_len=REVIEW_ID_MAX)


@review_routes.route("/orders/{order_id}/reviews", methods=["POST"])
@api
def write_review(order_id: str) -> Any:
    """The buyer (owner or guest with the order token) reviews one line of a completed order (201)."""
    request = _request()
    answer = service.write_review(checked_order_id(order_id), optional_principal(request),
                                  access_token_from(request.headers, request.query_params), read_json(request))
    return json_response(answer, status=201)


@review_routes.route("/products/{product_id}/reviews", methods=["GET"])
@api
def product_reviews(product_id: str) -> Any:
    product_id = Fields({"product_id": product_id}).text("product_id", pattern=ID_PATTERN)
    limit, cursor = page(query_params(_request()), empty_cursor=True)
    return service.product_reviews(product_id, limit=limit, cursor=cursor)


@review_routes.route("/admin/reviews", methods=["GET"], authorizer=jwt_authorizer)
@api
def reviews_in_status() -> Any:
    staff(_request())
    params = query_params(_request())
    status = Fields(params).text("status", required=False, default="pending", choices=STATUSES)
    limit, cursor = page(params, default=50, empty_cursor=True)
    return service.in_status(status, limit=limit, cursor=cursor)


@review_routes.route("/admin/reviews/{review_id}/approve", methods=["POST"], authorizer=jwt_authorizer)
@api
def approve(review_id: str) -> Any:
    principal = staff(_request())
    expect_no_body(_request())
    return service.approve(_review_id(review_id), actor=principal.sub)


@review_routes.route("/admin/reviews/{review_id}/reject", methods=["POST"], authorizer=jwt_authorizer)
@api
def reject(review_id: str) -> Any:
    principal = staff(_request())
    fields = read_json(_request())
    fields.reject_unknown({"reason"})
    return service.reject(_review_id(review_id), actor=principal.sub,
                          reason=fields.text("reason", min_len=REJECT_REASON_MIN, max_len=REJECT_REASON_MAX))


@review_routes.route("/admin/reviews/{review_id}/reply", methods=["POST"], authorizer=jwt_authorizer)
@api
def reply(review_id: str) -> Any:
    principal = staff(_request())
    fields = read_json(_request())
    fields.reject_unknown({"text"})
    return service.reply(_review_id(review_id), actor=principal.sub, text=fields.text("text", max_len=MAX_REPLY))
