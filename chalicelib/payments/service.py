"""Payments from checkout to settlement: charging, Midtrans notifications, reconciliation, the money ledger.

A notification is only a hint: it is verified, recorded once in the inbox, acknowledged at once and
processed from a queue, where the gateway's status API is asked before anything moves.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib import clock, inbox, resources
from chalicelib.errors import Unauthorized, ValidationFailed
from chalicelib.fulfilment import service as fulfilment
from chalicelib.fulfilment import workflow
from chalicelib.notifications import service as notifications
from chalicelib.observability import logger, metrics
from chalicelib.orders import repository as orders
from chalicelib.orders.domain import (
    CANCELLED,
    COD,
    EXPIRED,
    NEEDS_REVIEW,
    PAID,
    PAYMENT_FAILED,
    PENDING_PAYMENT,
    Order,
)
from chalicelib.payments import ledger, notification
from chalicelib.payments.adapters import payment_gateway, server_key
from chalicelib.payments.gateway import ChargeRequest, GatewayError, GatewayStatus

MIDTRANS = "midtrans"


# ---- at checkout --------------------------------------------------------------------------------------------


def start_payment(order: Order) -> dict[str, Any] | None:
    """Ask the gateway for payment instructions and keep them on the order; COD needs none.

    A gateway outage does not lose the order: it stays pending, the reconciliation schedule charges again,
    and the customer finds the instructions in GET /orders/{id}.
    """
    if order.payment_method == COD:
        return None
    minutes = max(1, int((clock.parse_iso(order.payment_deadline or clock.now_iso()) - clock.now())
                         .total_seconds() // 60))
    request = ChargeRequest(order_id=order.order_id, amount=int(order.totals["total"]), method=order.payment_method,
                            customer_name=order.customer["name"], customer_email=order.customer["email"],
                            customer_phone=order.customer["phone"], expiry_minutes=minutes)
    try:
        instructions = payment_gateway().charge(request).to_dict()
    except GatewayError as error:
        logger.error("payment charge failed", extra={"order_id": order.order_id, "error": str(error)})
        metrics.add_metric(name="PaymentChargeFailures", unit=MetricUnit.Count, value=1)
        return None
    orders.update(order.order_id, set_values={"payment": instructions}, at=clock.now_iso())
    return instructions


# ---- the webhook ----------------------------------------------------------------------------------------------


def receive_midtrans(raw_body: bytes) -> dict[str, str]:
    """Verify, record once, queue, acknowledge: Midtrans gives up after 15 s and resends what fails."""
    try:
        payload = json.loads(raw_body or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValidationFailed("body", "is not valid JSON") from None
    if not isinstance(payload, dict):
        raise ValidationFailed("body", "must be a JSON object")
    if not notification.verify_signature(payload, server_key()):
        metrics.add_metric(name="WebhookSignatureFailures", unit=MetricUnit.Count, value=1)
        logger.warning("midtrans signature refused", extra={"order_id": str(payload.get("order_id"))[:64]})
        raise Unauthorized("signature_key does not match", code="invalid_signature")
    try:
        parsed = notification.parse_notification(payload)
        notification.amount_of(parsed.gross_amount)
    except notification.InvalidNotification as error:
        raise ValidationFailed("body", str(error)) from None
    message = {"provider": MIDTRANS, "order_id": parsed.order_id, "notification": payload}
    fresh = inbox.accept(notification.notification_id(parsed), provider=MIDTRANS, reference=parsed.order_id,
                         queue=resources.PAYMENT_EVENTS_QUEUE, message=message)
    return {"status": "accepted" if fresh else "duplicate"}


# ---- processing (payment-events queue) ------------------------------------------------------------------------


def process_event(message: dict[str, Any]) -> str:
    """Act on what the gateway's status API says now, not on the notification's claim."""
    order_id = message["order_id"]
    status = payment_gateway().status(order_id)
    if status is None:
        logger.warning("gateway does not know the order", extra={"order_id": order_id})
        return "unknown to the gateway"
    return apply_gateway_status(order_id, status, source=message.get("provider", MIDTRANS))


def apply_gateway_status(order_id: str, status: GatewayStatus, *, source: str) -> str:
    order = orders.get(order_id)
    if order is None:
        logger.warning("payment for an unknown order", extra={"order_id": order_id})
        return "unknown order"
    outcome = notification.outcome(status.transaction_status, status.fraud_status)
    amount = notification.amount_of(status.gross_amount)
    reference = status.transaction_id or order_id
    if outcome == notification.PAID:
        return _paid(order, amount=amount, reference=reference, method=status.payment_type, source=source)
    if outcome == notification.FAILED:
        return _failed(order, status.transaction_status)
    if outcome == notification.REFUNDED:
        return _refunded(order_id, status, source=source)
    if outcome == notification.CHARGEBACK:
        ledger.record(order_id, kind=ledger.CHARGEBACK, amount=-amount, provider=source, reference=reference,
                      actor=source)
        _review(order, f"chargeback of Rp{amount:,} reported by the gateway")
        return "chargeback flagged"
    return "still pending"


def _refunded(order_id: str, status: GatewayStatus, *, source: str) -> str:
    """Record only what the gateway refunded beyond what the ledger already holds as refunded.

    The shop's own refund (customer cancel) is recorded when it asks for it; the gateway's later refund
    notification reports the running total, so only the difference is new money going out.
    """
    raw_total = status.raw.get("refund_amount")
    refunded_total = notification.amount_of(raw_total) if isinstance(raw_total, str) else \
        notification.amount_of(status.gross_amount)
    already = -sum(entry["amount"] for entry in ledger.entries(order_id) if entry["kind"] == ledger.REFUND)
    missing = refunded_total - already
    if missing <= 0:
        return "refund already recorded"
    ledger.record(order_id, kind=ledger.REFUND, amount=-missing, provider=source,
                  reference=f"{status.transaction_id or order_id}:{refunded_total}", actor=source)
    return "refund recorded"


def _review(order: Order, reason: str) -> None:
    orders.update(order.order_id, status=NEEDS_REVIEW, note=reason, set_values={"attention": reason},
                  at=clock.now_iso())
    metrics.add_metric(name="OrdersNeedingReview", unit=MetricUnit.Count, value=1)
    logger.warning("order needs review", extra={"order_id": order.order_id, "reason": reason})


def _paid(order: Order, *, amount: int, reference: str, method: str, source: str) -> str:
    total = int(order.totals["total"])
    first_time = ledger.record(order.order_id, kind=ledger.PAYMENT_RECEIVED, amount=amount, provider=source,
                               reference=reference, actor=source, method=method or order.payment_method)
    if order.status != PENDING_PAYMENT:
        if first_time and order.status in (EXPIRED, CANCELLED, PAYMENT_FAILED):
            _review(order, f"Rp{amount:,} received after the order ended ({order.status}): refund it")
            return "late payment flagged"
        return "already handled"
    if amount != total:
        _review(order, f"gateway reports Rp{amount:,} paid but the order total is Rp{total:,}")
        return "amount mismatch flagged"
    paid = orders.update(order.order_id, status=PAID, note=f"payment received ({method or order.payment_method})",
                         actor=source, allowed_from={PENDING_PAYMENT}, set_values={"attention": None},
                         at=clock.now_iso())
    if paid is None:
        return "already handled"
    metrics.add_metric(name="PaymentsReceived", unit=MetricUnit.Count, value=1)
    notifications.request("payment_received", paid.to_dict())
    token = paid.tokens.get("payment")
    if token:
        workflow.resume(token, {"paid": True, "amount": amount})
    return "paid"


def _failed(order: Order, transaction_status: str) -> str:
    """Mark the failure for the workflow's payment step, which releases the stock."""
    if order.status != PENDING_PAYMENT:
        return "already handled"
    expired = transaction_status == "expire"
    mark = fulfilment.PAYMENT_EXPIRED_MARK if expired else fulfilment.PAYMENT_FAILED_MARK
    marked = orders.update(order.order_id, set_values={"attention": mark}, allowed_from={PENDING_PAYMENT},
                           at=clock.now_iso())
    token = marked.tokens.get("payment") if marked else None
    if token:
        workflow.fail(token, "PaymentExpired" if expired else "PaymentFailed", f"gateway status {transaction_status}")
    return f"payment ended ({transaction_status})"


# ---- reconciliation (schedule) ------------------------------------------------------------------------------


def reconcile(*, older_than_minutes: int = 15, batch: int = 100) -> dict[str, int]:
    """Ask the gateway about orders still pending past a threshold; charge again where the charge failed at
    checkout, and start any workflow that never started."""
    cutoff = clock.iso(clock.now() - timedelta(minutes=older_than_minutes))
    counts = {"checked": 0, "changed": 0, "charges_retried": 0, "workflows_started": 0}
    cursor: str | None = None
    while True:
        pending, cursor = orders.by_status(PENDING_PAYMENT, limit=batch, cursor=cursor, created_before=cutoff)
        for order in pending:
            counts["checked"] += 1
            if order.payment is None and order.payment_method != COD and start_payment(order) is not None:
                counts["charges_retried"] += 1
            if "payment" not in order.tokens:
                fulfilment.start(order)
                counts["workflows_started"] += 1
            try:
                status = payment_gateway().status(order.order_id)
            except GatewayError as error:
                logger.warning("reconciliation skipped an order", extra={"order_id": order.order_id,
                                                                          "error": str(error)})
                continue
            if status is None:
                continue
            result = apply_gateway_status(order.order_id, status, source="reconciliation")
            if not result.startswith(("already", "still", "unknown")):
                counts["changed"] += 1
        if not cursor:
            break
    logger.info("payments reconciled", extra=counts)
    return counts
