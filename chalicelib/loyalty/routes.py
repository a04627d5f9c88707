"""HTTP routes of loyalty points (a customer's balance and ledger, staff views and adjustments) and the schedules
that credit earnings once the return window closes and expire points that came of age."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Rate
from chalice.app import CloudWatchEvent

from chalicelib.errors import ValidationFailed
from chalicelib.lazy import lazy_module
from chalicelib.validation import Fields, page
from chalicelib.web import api, json_response, jwt_authorizer, query_params, read_json, signed_in

if TYPE_CHECKING:
    from chalicelib.loyalty import service
else:
    service = lazy_module("chalicelib.loyalty.service")

loyalty_routes = Blueprint(__name__)
CUSTOMER_ID_PATTERN = r"[A-Za-z0-9_\-.:@]{1,128}"
REFERENCE_PATTERN = r"[A-Za-z0-9_\-.:#]{3,64}"
MAX_ADJUSTMENT = 1_000_000


def _customer_id(customer_id: str) -> str:
    return Fields({"customer_id": customer_id}).text("customer_id", pattern=CUSTOMER_ID_PATTERN, max_len=128)


@loyalty_routes.route("/me/loyalty", methods=["GET"], authorizer=jwt_authorizer)
@api
def my_points() -> Any:
    """The signed-in customer's balance, its value, the next expiry, earnings to come, the ledger (paged)."""
    principal = signed_in(loyalty_routes.current_request, "customer")
    limit, cursor = page(query_params(loyalty_routes.current_request))
    return service.view(principal.sub, limit=limit, cursor=cursor)


@loyalty_routes.route("/admin/customers/{customer_id}/loyalty", methods=["GET"], authorizer=jwt_authorizer)
@api
def customer_points(customer_id: str) -> Any:
    """Customer service and finance read any customer's points."""
    signed_in(loyalty_routes.current_request, "staff", "finance")
    checked = _customer_id(customer_id)
    limit, cursor = page(query_params(loyalty_routes.current_request))
    return service.view(checked, limit=limit, cursor=cursor)


@loyalty_routes.route("/admin/customers/{customer_id}/points", methods=["POST"], authorizer=jwt_authorizer)
@api
def adjust_points(customer_id: str) -> Any:
    """An admin adds (goodwill) or takes away (a correction) points with a reason, once per `reference`."""
    principal = signed_in(loyalty_routes.current_request, "admin")
    checked = _customer_id(customer_id)
    fields = read_json(loyalty_routes.current_request)
    fields.reject_unknown({"points", "reason", "reference"})
    points = fields.integer("points", min_value=-MAX_ADJUSTMENT, max_value=MAX_ADJUSTMENT)
    if points == 0:
        raise ValidationFailed("points", "must not be 0: positive adds points, negative takes them away")
    reason = fields.text("reason", min_len=3, max_len=200)
    reference = fields.text("reference", pattern=REFERENCE_PATTERN, max_len=64)
    entry = service.adjust(checked, points=points, reason=reason, reference=reference, actor=principal.sub)
    return json_response(entry, status=201)


@loyalty_routes.schedule(Rate(1, unit=Rate.HOURS), name="credit_loyalty_points")
def credit_loyalty_points(event: CloudWatchEvent) -> dict[str, int]:
    return service.credit_due()


@loyalty_routes.schedule(Rate(1, unit=Rate.DAYS), name="expire_loyalty_points")
def expire_loyalty_points(event: CloudWatchEvent) -> dict[str, int]:
    return service.expire_and_warn()
