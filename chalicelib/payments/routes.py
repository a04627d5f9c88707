"""The payment gateway's webhook, the consumer that acts on it, the reconciliation schedule, and money going
back: what a customer got back, the bank account a payout goes to, finance's payouts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Rate
from chalice.app import CloudWatchEvent, SQSEvent

from chalicelib import resources
from chalicelib.auth.domain import ADMIN, FINANCE
from chalicelib.batches import each_record
from chalicelib.lazy import lazy_module
from chalicelib.observability import logger
from chalicelib.orders.domain import access_token_from, checked_order_id
from chalicelib.payments.refunds import (
    BANKS,
    PAYOUT_STATUSES,
    TRANSFER_REFERENCE_PATTERN,
    BankAccount,
    account_number,
)
from chalicelib.validation import ID_PATTERN, Fields, contact_name, query_int
from chalicelib.web import (
    api,
    json_response,
    jwt_authorizer,
    optional_principal,
    query_params,
    raw_body,
    read_json,
    signed_in,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from chalicelib.orders import service as orders
    from chalicelib.payments import service
else:
    orders = lazy_module("chalicelib.orders.service")
    service = lazy_module("chalicelib.payments.service")

payment_routes = Blueprint(__name__)


@payment_routes.route("/webhooks/payments/midtrans", methods=["POST"])
@api
def midtrans_notification() -> Any:
    return service.receive_midtrans(raw_body(payment_routes.current_request))


def _process(record: SQSRecord) -> None:
    message = json.loads(record.body)
    logger.info("payment event", extra={"order_id": message.get("order_id"),
                                        "outcome": service.process_event(message)})


@payment_routes.on_sqs_message(queue=resources.PAYMENT_EVENTS_QUEUE.physical_name, batch_size=10)
def payment_events(event: SQSEvent) -> dict[str, Any]:
    return each_record(event, _process)


@payment_routes.schedule(Rate(15, unit=Rate.MINUTES), name="reconcile_payments")
def reconcile_payments(event: CloudWatchEvent) -> dict[str, int]:
    return service.reconcile()


def _order(order_id: str) -> Any:
    """The order, for its owner, staff or a guest with its access token (anyone else: 404)."""
    request = payment_routes.current_request
    return orders.visible_order(checked_order_id(order_id), optional_principal(request),
                                access_token_from(request.headers, request.query_params))


@payment_routes.route("/orders/{order_id}/refunds", methods=["GET"])
@api
def money_back(order_id: str) -> Any:
    return service.money_back(_order(order_id))


@payment_routes.route("/orders/{order_id}/refund-account", methods=["POST"])
@api
def refund_account(order_id: str) -> Any:
    """Where a refund the gateway cannot make is transferred to: the customer's own bank account."""
    order = _order(order_id)
    fields = read_json(payment_routes.current_request)
    fields.reject_unknown({"bank", "account_number", "account_holder"})
    account = BankAccount(bank=fields.text("bank", max_len=20, choices=BANKS),
                          account_number=fields.checked("account_number", account_number),
                          account_holder=fields.checked("account_holder", contact_name))
    return {"items": service.refund_account(order, account)}


@payment_routes.route("/admin/payouts", methods=["GET"], authorizer=jwt_authorizer)
@api
def payouts() -> Any:
    signed_in(payment_routes.current_request, FINANCE, ADMIN)
    params = query_params(payment_routes.current_request)
    status = Fields(params).text("status", required=False, default="pending", choices=PAYOUT_STATUSES)
    return service.payouts(status, limit=query_int(params, "limit", default=50, min_value=1, max_value=100))


@payment_routes.route("/admin/payouts/{payout_id}/paid", methods=["POST"], authorizer=jwt_authorizer)
@api
def payout_paid(payout_id: str) -> Any:
    """Finance made the bank transfer: its reference closes the payout and the refund is recorded."""
    principal = signed_in(payment_routes.current_request, FINANCE, ADMIN)
    payout_id = Fields({"payout_id": payout_id}).text("payout_id", pattern=ID_PATTERN, max_len=64)
    fields = read_json(payment_routes.current_request)
    fields.reject_unknown({"reference"})
    reference = fields.text("reference", max_len=64, pattern=TRANSFER_REFERENCE_PATTERN)
    return service.mark_payout_paid(payout_id, reference=reference, actor=principal.sub)


@payment_routes.route("/admin/orders/{order_id}/refunds", methods=["POST"], authorizer=jwt_authorizer)
@api
def refund(order_id: str) -> Any:
    """Finance gives part of an order's money back (goodwill, a price error) under its own refund key: asking
    again with the same key answers the same refund; more than captured minus refunded is refused (422)."""
    principal = signed_in(payment_routes.current_request, FINANCE, ADMIN)
    order = orders.load(checked_order_id(order_id))
    fields = read_json(payment_routes.current_request)
    fields.reject_unknown({"amount", "reason", "refund_key"})
    amount = fields.integer("amount", min_value=1)
    reason = fields.text("reason", min_len=3, max_len=200)
    key = fields.text("refund_key", pattern=ID_PATTERN, max_len=64)
    return json_response(service.refund(order, amount=amount, reason=reason, refund_key=f"manual-{key}",
                                        actor=principal.sub), status=201)


@payment_routes.route("/admin/orders/{order_id}/payment-review", methods=["POST"], authorizer=jwt_authorizer)
@api
def payment_review(order_id: str) -> Any:
    """Staff accept or deny a card payment the gateway's fraud check holds (`{"decision": "accept"|"deny"}`):
    taken to the gateway's approve/deny API; 409 `payment_not_held` when nothing is held."""
    principal = signed_in(payment_routes.current_request, "staff")
    order = orders.load(checked_order_id(order_id))
    fields = read_json(payment_routes.current_request)
    fields.reject_unknown({"decision"})
    decision = fields.text("decision", choices=service.REVIEW_DECISIONS)
    return service.review_payment(order, decision=decision, actor=principal.sub)
