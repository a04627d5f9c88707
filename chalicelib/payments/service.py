"""Payments from checkout to settlement: charging, Midtrans notifications, reconciliation, the money ledger.

A notification is only a hint: it is verified, recorded once in the inbox, acknowledged at once and
processed from a queue, where the gateway's status API is asked before anything moves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib import clock, config, resources
from chalicelib.errors import Conflict, NotFound, ServiceUnavailable, Unauthorized, ValidationFailed
from chalicelib.inbox import service as inbox
from chalicelib.notifications import service as notifications
from chalicelib.observability import logger, metrics
from chalicelib.orders import lifecycle, workflow
from chalicelib.orders import service as orders
from chalicelib.orders.domain import COD, Order
from chalicelib.orders.lifecycle import CANCELLED, EXPIRED, PAYMENT_FAILED, PENDING_PAYMENT, TransitionRefused
from chalicelib.payments import notification, refunds, repository
from chalicelib.payments import repository as ledger
from chalicelib.payments.adapters import payment_gateway, server_key
from chalicelib.payments.gateway import (
    BANK_TRANSFER,
    CONVENIENCE_STORE,
    ChargeRequest,
    GatewayError,
    GatewayStatus,
    OrderIdAlreadyUsed,
    OutcomeUnknown,
    PaymentInstructions,
    RefundDeferred,
    RefundRefused,
)
from chalicelib.payments.refunds import BankAccount, Payout

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
    request = ChargeRequest(order_id=order.order_id, amount=order.totals.total, method=order.payment_method,
                            customer_name=order.customer["name"], customer_email=order.customer["email"],
                            customer_phone=order.customer["phone"], expiry_minutes=minutes, **_channel(order))
    try:
        instructions = _charge_or_recover(request).to_dict()
    except GatewayError as error:
        logger.error("payment charge failed", extra={"order_id": order.order_id, "error": str(error)})
        metrics.add_metric(name="PaymentChargeFailures", unit=MetricUnit.Count, value=1)
        return None
    orders.attach_payment(order.order_id, instructions)
    return instructions


def _channel(order: Order) -> dict[str, str]:
    """The virtual account's bank or the convenience store the customer chose at checkout."""
    if order.payment_channel and order.payment_method == BANK_TRANSFER:
        return {"bank": order.payment_channel}
    if order.payment_channel and order.payment_method == CONVENIENCE_STORE:
        return {"store": order.payment_channel}
    return {}


def _charge_or_recover(request: ChargeRequest) -> PaymentInstructions:
    """Charge; when the answer is lost (a timeout, a 5xx) or the order id is already used (406: an earlier charge
    whose answer was lost), ask the gateway what it holds and rebuild the instructions from its status, charging
    again only when it has no record. Never two transactions, never a customer left without instructions."""
    gateway = payment_gateway()
    try:
        return gateway.charge(request)
    except (OutcomeUnknown, OrderIdAlreadyUsed) as lost:
        logger.warning("charge answer lost; asking the gateway", extra={"order_id": request.order_id,
                                                                          "error": str(lost)})
        metrics.add_metric(name="PaymentChargesRecovered", unit=MetricUnit.Count, value=1)
        recovered = gateway.recover(request)
        if recovered is not None:
            return recovered
        if isinstance(lost, OrderIdAlreadyUsed):
            raise GatewayError(f"the gateway holds a transaction for {request.order_id} but its instructions "
                               "cannot be rebuilt") from lost
        return gateway.charge(request)  # the gateway has no record: the first charge never happened


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
    try:
        fresh = inbox.accept(notification.notification_id(parsed), provider=MIDTRANS, reference=parsed.order_id,
                             queue=resources.PAYMENT_EVENTS_QUEUE, message=message)
    except Exception:  # not acknowledged: Midtrans sends it again, and the inbox lets that copy queue it
        logger.exception("midtrans notification not queued", extra={"order_id": parsed.order_id})
        raise ServiceUnavailable("the notification could not be queued; send it again",
                                 code="queue_unavailable") from None
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
    order = orders.find(order_id)
    if order is None:
        logger.warning("payment for an unknown order", extra={"order_id": order_id})
        return "unknown order"
    outcome = notification.outcome(status.transaction_status, status.fraud_status)
    amount = notification.amount_of(status.gross_amount)
    reference = status.transaction_id or order_id
    if outcome == notification.PAID:
        return _paid(order, amount=amount, reference=reference, method=status.payment_type, source=source)
    if outcome == notification.HELD:
        return _held(order, amount=amount)
    if outcome == notification.FAILED:
        if _received(order_id) > 0:
            return _reversed(order, status, source=source)
        return _failed(order, status.transaction_status)
    if outcome == notification.REFUNDED:
        return _refunded(order_id, status, source=source)
    if outcome == notification.CHARGEBACK:
        return _charged_back(order, status, source=source)
    return "still pending"


def _received(order_id: str) -> int:
    return sum(row["amount"] for row in ledger.entries(order_id) if row["kind"] == ledger.PAYMENT_RECEIVED)


def _held(order: Order, *, amount: int) -> str:
    """Fraud detection holds a card payment: the order waits for staff (its payment deadline stops), who accept
    or deny it at the gateway (POST /admin/orders/{id}/payment-review). Staff are alerted once."""
    if order.status != PENDING_PAYMENT or order.payment_held:
        return "already handled"
    held = orders.transition(order.order_id, lifecycle.HOLD_PAYMENT, actor="payments", first=order,
                             detail=f"Rp{amount:,} by card")
    metrics.add_metric(name="PaymentsHeldForReview", unit=MetricUnit.Count, value=1)
    logger.warning("card payment held for review", extra={"order_id": order.order_id, "amount": amount})
    email = config.support_email()
    if email:
        try:
            notifications.tell_staff(order.order_id, "payment_held", email=email,
                                     subject=f"Pembayaran kartu pesanan {order.order_id} ditahan untuk ditinjau",
                                     text=(f"Sistem anti-penipuan gateway menahan pembayaran kartu Rp{amount:,} "
                                           f"untuk pesanan {order.order_id}.\n\nTerima atau tolak lewat "
                                           f"POST /admin/orders/{order.order_id}/payment-review.\n"))
        except Exception as error:  # the order is flagged on its timeline and by the metric's alarm
            logger.warning("staff were not emailed about a held payment", extra={"error": repr(error)})
    token = held.tokens.get("payment")
    if token:
        workflow.fail(token, workflow.PAYMENT_HELD, "the card payment is held for review")
    return "held for review"


REVIEW_DECISIONS = ("accept", "deny")


def review_payment(order: Order, *, decision: str, actor: str) -> dict[str, Any]:
    """Staff accept or deny a card payment held for review, through the gateway's approve/deny API; what the
    gateway then says moves the order (paid, or payment failed and stock released). 409 when nothing is held."""
    if not order.payment_held:
        raise Conflict(f"order {order.order_id} has no payment held for review (it is {order.status})",
                       code="payment_not_held")
    gateway = payment_gateway()
    try:
        status = gateway.approve(order.order_id) if decision == "accept" else gateway.deny(order.order_id)
    except GatewayError as error:
        raise ServiceUnavailable(f"the payment gateway did not take the decision: {error}; try again",
                                 code="gateway_unavailable") from None
    logger.info("held payment reviewed", extra={"order_id": order.order_id, "decision": decision, "actor": actor})
    result = apply_gateway_status(order.order_id, status, source=f"review by {actor}")
    return {"decision": decision, "result": result, "order": orders.load(order.order_id).to_dict()}


def _reversed(order: Order, status: GatewayStatus, *, source: str) -> str:
    """The bank took a settled payment back (settlement -> deny/cancel, as Midtrans reports for some virtual
    accounts and convenience stores): recorded once; an order not yet packed stops (its stock goes back, nothing
    is refunded: the money is gone), one already packed or shipped is flagged for a person."""
    received = _received(order.order_id)
    reference = f"{status.transaction_id or order.order_id}:reversed"
    fresh = ledger.record(order.order_id, kind=ledger.REVERSAL, amount=-received, provider=source,
                          reference=reference, actor=source)
    if order.status in ENDED_UNPAID or order.status == CANCELLED:
        _count_reversals(order.order_id)
        return "reversal recorded" if fresh else "already handled"
    if order.allows(lifecycle.REQUEST_CANCEL) and not order.cancel_requested:
        stopped = orders.transition(order.order_id, lifecycle.REQUEST_CANCEL, actor="payments", first=order,
                                    detail=f"the bank reversed the payment ({status.transaction_status})")
        token = stopped.tokens.get("packing")
        if token:
            workflow.fail(token, workflow.ORDER_CANCELLED, "the payment was reversed")
        metrics.add_metric(name="PaymentsReversed", unit=MetricUnit.Count, value=1)
        return "reversed: order stopped"
    if fresh and order.status != lifecycle.NEEDS_REVIEW:
        _review(order, f"the bank reversed the Rp{received:,} payment ({status.transaction_status}) after the order "
                       "was packed: recover the parcel or the money")
        metrics.add_metric(name="PaymentsReversed", unit=MetricUnit.Count, value=1)
        _count_reversals(order.order_id)
        return "reversed: flagged for review"
    _count_reversals(order.order_id)
    return "already handled"


def _charged_back(order: Order, status: GatewayStatus, *, source: str) -> str:
    """A chargeback, in part or in full: the ledger holds what was charged back so far, so a partial one and a
    later full one are each recorded (only the part not recorded yet), and a resent one adds nothing."""
    gross = notification.amount_of(status.gross_amount)
    partial = status.transaction_status == "partial_chargeback"
    raw_total = status.raw.get("chargeback_amount") or (status.raw.get("refund_amount") if partial else None)
    total = notification.amount_of(raw_total) if isinstance(raw_total, str) else gross
    already = -sum(row["amount"] for row in ledger.entries(order.order_id) if row["kind"] == ledger.CHARGEBACK)
    missing = total - already
    if missing <= 0:
        return "chargeback already recorded"
    ledger.record(order.order_id, kind=ledger.CHARGEBACK, amount=-missing, provider=source,
                  reference=f"{status.transaction_id or order.order_id}:{total}", actor=source)
    _review(order, f"chargeback of Rp{missing:,} reported by the gateway (Rp{total:,} charged back in all)")
    return "chargeback flagged"


def _refunded(order_id: str, status: GatewayStatus, *, source: str) -> str:
    """Record each refund the gateway reports once, by its refund key.

    The shop records its own refund under the refund key it sent, so whichever arrives first, the shop's write or
    the gateway's report, the other finds the line already there. Without a per-refund list only the running
    total is known, and only the part the ledger does not hold yet is recorded.
    """
    listed = status.raw.get("refunds")
    if isinstance(listed, list) and listed:
        fresh = 0
        for refund in listed:
            amount = refund.get("refund_amount")
            if not isinstance(amount, str):
                continue
            # a refund made in the gateway's dashboard may carry no key: its own id names it instead
            key = refund.get("refund_key") or (f"{status.transaction_id or order_id}:"
                                               f"{refund.get('refund_chargeback_id') or refund.get('created_at')}")
            recorded = ledger.record(order_id, kind=ledger.REFUND, amount=-notification.amount_of(amount),
                                     provider=source, reference=key, actor=source)
            fresh += recorded
            if recorded:  # a refund made at the gateway (its dashboard) counts on the order too
                _count_on_order(order_id, key, notification.amount_of(amount), source=source)
        return "refund recorded" if fresh else "refund already recorded"
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


def _count_on_order(order_id: str, refund_key: str, amount: int, *, source: str) -> None:
    """The order's refunded total includes a refund the shop did not start (a key it already holds is kept)."""
    try:
        orders.commit_refund(order_id, refund_key, amount, captured=captured(order_id), clamp=True,
                             reason="refunded at the gateway", actor=source)
    except (TransitionRefused, NotFound) as refused:
        logger.warning("refund not counted on the order", extra={"order_id": order_id, "error": str(refused)})


def _review(order: Order, reason: str) -> None:
    orders.flag(order.order_id, lifecycle.FLAG_FOR_REVIEW, reason, actor="payments")
    metrics.add_metric(name="OrdersNeedingReview", unit=MetricUnit.Count, value=1)
    logger.warning("order needs review", extra={"order_id": order.order_id, "reason": reason})


ENDED_UNPAID = (EXPIRED, CANCELLED, PAYMENT_FAILED)


def _paid(order: Order, *, amount: int, reference: str, method: str, source: str) -> str:
    total = order.totals.total
    first_time = ledger.record(order.order_id, kind=ledger.PAYMENT_RECEIVED, amount=amount, provider=source,
                               reference=reference, actor=source, method=method or order.payment_method)
    if order.status == PENDING_PAYMENT and amount != total:
        _review(order, f"gateway reports Rp{amount:,} paid but the order total is Rp{total:,}")
        return "amount mismatch flagged"
    if order.status == PENDING_PAYMENT:
        try:
            paid = orders.transition(order.order_id, lifecycle.PAY, actor=source, first=order,
                                     detail=method or order.payment_method)
        except TransitionRefused:  # it expired or was cancelled while we decided: a late payment
            order = orders.load(order.order_id)
        else:
            metrics.add_metric(name="PaymentsReceived", unit=MetricUnit.Count, value=1)
            notifications.request("payment_received", paid.to_dict())
            token = paid.tokens.get("payment")
            if token:
                workflow.resume(token, {"paid": True, "amount": amount})
            return "paid"
    if first_time and order.status in ENDED_UNPAID:
        _review(order, f"Rp{amount:,} received after the order ended ({order.status}): refund it")
        return "late payment flagged"
    return "already handled"


# What each way the gateway ends a payment does to the order, and what the waiting workflow step is told.
PAYMENT_ENDS = {True: (lifecycle.EXPIRE, workflow.PAYMENT_EXPIRED, "expired"),
                False: (lifecycle.FAIL_PAYMENT, workflow.PAYMENT_FAILED, "cancelled")}


def _failed(order: Order, transaction_status: str) -> str:
    """The gateway ended the payment: the order ends, its reserved stock goes back on sale, the customer is
    told, and a workflow waiting for the payment moves on (its release step finds the work done)."""
    if order.status != PENDING_PAYMENT:
        orders.settle_points(order)  # a redelivered end finishes what a failed first try left undone
        return "already handled"
    event, error, told = PAYMENT_ENDS[transaction_status == "expire"]
    ended = orders.release_reservation(order, event, actor="payments", detail=f"gateway status {transaction_status}")
    notifications.request(told, ended.to_dict(), {"reason": ended.timeline[-1].note})
    token = ended.tokens.get("payment")
    if token:
        workflow.fail(token, error, f"gateway status {transaction_status}")
    return f"payment ended ({transaction_status})"


# ---- money going back ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GivenBack:
    """What a give-back did: money refunded through the gateway now, or a payout opened for finance."""

    refunded: int = 0
    payout: Payout | None = None


def _capabilities() -> dict[str, refunds.RefundCapability]:
    try:
        return refunds.capabilities_from(config.get(config.REFUND_CAPABILITIES))
    except ValueError as problem:
        raise RuntimeError(f"{config.REFUND_CAPABILITIES}: {problem}") from None


CAPTURED_KINDS = (ledger.PAYMENT_RECEIVED, ledger.COD_COLLECTED, ledger.CHARGEBACK, ledger.REVERSAL)


def captured(order_id: str) -> int:
    """What the shop holds money for: payments received and cash collected, less chargebacks."""
    return sum(row["amount"] for row in ledger.entries(order_id) if row["kind"] in CAPTURED_KINDS)


def give_back(order: Order, *, reason: str, refund_key: str, amount: int | None = None,
              actor: str = "payments") -> GivenBack:
    """Give back `amount` (None: all the money still held for the order) the way its payment allows: the
    gateway's refund API with an idempotent refund key when the capability table says it can, else a payout (a
    bank transfer finance makes once the customer gives an account).

    The refund is first promised on the order under its key (orders.commit_refund), which refuses (422) more
    than was captured and not yet refunded. Safe to run again: the same key never refunds or pays out twice.
    The order's loyalty points then follow the refund (spent ones back, earned ones taken back, in proportion),
    on every run, so a retry completes what a failure left undone.
    """
    given = _give_back(order, reason=reason, refund_key=refund_key, amount=amount, actor=actor)
    if not given.refunded and given.payout is None:  # nothing held any more: the bank may have taken it back
        _count_reversals(order.order_id)
    if order.customer_id:
        orders.settle_points(orders.load(order.order_id))
    return given


def _count_reversals(order_id: str) -> None:
    """Money the bank took back is money that went back to the customer: each reversal counts on the order as a
    refund under its ledger reference (once), so the reports' refunds and net sales include it. Only possible once
    the order's status says why (cancelled, or flagged for review); until then it is tried again later."""
    rows = ledger.entries(order_id)
    reversals = [row for row in rows if row["kind"] == ledger.REVERSAL]
    if not reversals:
        return
    order = orders.load(order_id)
    received = sum(row["amount"] for row in rows if row["kind"] == ledger.PAYMENT_RECEIVED)
    for row in reversals:
        if row["reference"] in order.refunds:
            continue
        try:
            orders.commit_refund(order_id, row["reference"], -row["amount"], captured=received, clamp=True,
                                 reason="the bank reversed the payment", actor="payments")
        except (TransitionRefused, NotFound) as refused:
            logger.info("reversal not counted on the order yet", extra={"order_id": order_id,
                                                                        "error": str(refused)})


def _give_back(order: Order, *, reason: str, refund_key: str, amount: int | None, actor: str) -> GivenBack:
    existing = repository.get_payout(refund_key)
    if existing is not None:
        return GivenBack(payout=existing)
    rows = ledger.entries(order.order_id)
    held_for = sum(row["amount"] for row in rows if row["kind"] in CAPTURED_KINDS)
    if held_for <= 0 and refund_key not in order.refunds:
        if amount is not None:  # asked to refund an order nothing was paid for: the order says why not
            orders.commit_refund(order.order_id, refund_key, amount, captured=0, reason=reason, actor=actor,
                                 first=order)
        return GivenBack()
    done = [row for row in rows if row["kind"] == ledger.REFUND and row["reference"] == refund_key]
    if done and refund_key in order.refunds:  # refunded on an earlier try; the ledger holds it
        return GivenBack(refunded=-done[0]["amount"])
    received = [row for row in rows if row["kind"] == ledger.PAYMENT_RECEIVED]
    payment_type = str(received[0]["method"] or order.payment_method) if received else order.payment_method
    paid_at = clock.parse_iso(received[0]["at"]) if received else None
    paid = sum(row["amount"] for row in received)
    capabilities = _capabilities()
    way = refunds.route(payment_type, paid_at=paid_at, now=clock.now(), amount=amount or held_for, paid=paid,
                        capabilities=capabilities)
    opens = refunds.quiet_until(capabilities.get(payment_type), clock.now()) if way == refunds.GATEWAY else None
    if opens is not None:  # nothing promised yet: the same refund is asked again once the gateway takes it
        raise RefundDeferred(f"{payment_type} refunds are not taken until {opens:%H:%M} WIB ({clock.iso(opens)})")
    committed = orders.commit_refund(order.order_id, refund_key, amount, captured=held_for, reason=reason,
                                     actor=actor, first=order)
    if committed <= 0:
        return GivenBack()
    if done:  # the gateway's report of this refund was recorded before the order knew of it
        return GivenBack(refunded=-done[0]["amount"])
    if way == refunds.GATEWAY:
        try:
            result = payment_gateway().refund(order.order_id, amount=committed, reason=reason, refund_key=refund_key)
        except RefundRefused as refused:  # the table said yes but the gateway says never: pay out instead
            logger.warning("gateway refused the refund", extra={"order_id": order.order_id, "error": str(refused)})
        else:
            ledger.record(order.order_id, kind=ledger.REFUND, amount=-result.amount, provider=payment_gateway().name,
                          reference=result.refund_key, actor=actor)
            metrics.add_metric(name="RefundsByGateway", unit=MetricUnit.Count, value=1)
            return GivenBack(refunded=result.amount)
    payout = repository.open_payout(refund_key, order_id=order.order_id, amount=committed, reason=reason)
    notifications.request("refund_account_needed", order.to_dict(), {"amount": committed, "payout_id": refund_key},
                          key=refund_key)
    metrics.add_metric(name="PayoutsOpened", unit=MetricUnit.Count, value=1)
    return GivenBack(payout=payout)


def refund(order: Order, *, amount: int, reason: str, refund_key: str, actor: str) -> dict[str, object]:
    """Staff give part of an order's money back (goodwill, a price error): the same paths and caps as a return.
    A gateway that is down or takes no refunds at this hour is a 503 naming when to try again (same key)."""
    try:
        given = give_back(order, reason=reason, refund_key=refund_key, amount=amount, actor=actor)
    except RefundDeferred as deferred:
        raise ServiceUnavailable(f"{deferred}: ask again then with the same refund_key", code="refund_deferred"
                                 ) from None
    except GatewayError as outage:
        raise ServiceUnavailable(f"the payment gateway did not answer ({outage}): ask again with the same "
                                 "refund_key, it never refunds twice") from None
    if given.refunded:
        notifications.request("refunded", orders.load(order.order_id).to_dict(),
                              {"amount": given.refunded, "reason": reason}, key=refund_key)
    return {"refund_key": refund_key, "amount": given.refunded or (given.payout.amount if given.payout else 0),
            "by": "payout" if given.payout else "gateway",
            "payout": given.payout.to_dict() if given.payout else None, **money_back(orders.load(order.order_id))}


def await_payout(payout_id: str, token: str) -> bool:
    """Park the workflow's token on the payout; True when finance already paid (answer at once)."""
    payout = repository.wait_for_payout(payout_id, token)
    return payout is not None and payout.status == refunds.PAID


def refund_account(order: Order, account: BankAccount) -> list[dict[str, object]]:
    """The customer says where to send the money of every payout of the order still waiting for it."""
    waiting = [payout for payout in repository.payouts_of(order.order_id) if payout.status != refunds.PAID]
    if not waiting:
        raise Conflict(f"order {order.order_id} has no refund waiting for a bank account", code="no_payout_waiting")
    given = [repository.give_account(payout.payout_id, account) for payout in waiting]
    return [payout.to_dict() for payout in given if payout is not None]


def mark_payout_paid(payout_id: str, *, reference: str, actor: str) -> dict[str, object]:
    """Finance transferred the money: the payout is paid, the ledger records it once, the workflow moves on."""
    payout = repository.mark_paid(payout_id, reference=reference, actor=actor)
    if payout is None:
        current = repository.get_payout(payout_id)
        if current is None:
            raise NotFound(f"payout {payout_id} not found", code="payout_not_found")
        if current.status == refunds.PAID:
            if current.transfer_reference != reference:
                raise Conflict(f"payout {payout_id} was already paid with reference {current.transfer_reference}",
                               code="payout_already_paid")
            payout = current
        else:
            raise Conflict(f"payout {payout_id} is {current.status}: the customer has not given a bank account yet",
                           code="payout_not_ready")
    ledger.record(payout.order_id, kind=ledger.PAYOUT, amount=-payout.amount, provider="bank_transfer",
                  reference=payout.payout_id, actor=actor, method="bank_transfer")
    order = orders.find(payout.order_id)
    if order is not None:
        notifications.request("refund_paid", order.to_dict(), {"amount": payout.amount,
                                                              "reference": payout.transfer_reference},
                              key=payout.payout_id)
    if payout.waiting_token:
        workflow.resume(payout.waiting_token, {"paid_out": payout.amount, "payout_id": payout.payout_id})
    return payout.to_dict(for_finance=True)


def payouts(status: str, *, limit: int) -> dict[str, object]:
    return {"items": [payout.to_dict(for_finance=True) for payout in repository.payouts_in(status, limit=limit)]}


def money_back(order: Order) -> dict[str, object]:
    """What the customer got back or is waiting for: refunds through the gateway and payouts, newest last."""
    every = ledger.entries(order.order_id)
    rows = [row for row in every if row["kind"] in (ledger.REFUND, ledger.PAYOUT)]
    return {"order_id": order.order_id, "returned_total": -sum(row["amount"] for row in rows),
            "refunded_total": order.refunded_total,
            "captured": sum(row["amount"] for row in every if row["kind"] in CAPTURED_KINDS),
            "refunds": [{"kind": row["kind"], "amount": -row["amount"], "reference": row["reference"],
                         "at": row["at"]} for row in rows],
            "payouts": [payout.to_dict() for payout in repository.payouts_of(order.order_id)]}


def record_cash_collected(order: Order, *, collector: str) -> None:
    """Cash on delivery: the courier collected the order's total; recorded once however often it runs."""
    ledger.record(order.order_id, kind=ledger.COD_COLLECTED, amount=order.totals.total, provider=collector,
                  reference=order.order_id, actor="payments", method=COD)


def void_charge(order_id: str) -> None:
    """Close the unpaid virtual account or QR code so the customer cannot pay a cancelled order."""
    try:
        payment_gateway().cancel(order_id)
    except GatewayError as error:  # an unpaid charge also lapses at its own expiry; a late payment is flagged
        logger.warning("payment could not be voided", extra={"order_id": order_id, "error": str(error)})


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
                orders.start_workflow(order)
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
