"""The money ledger in DynamoDB: every payment received, refund, chargeback and cash collection, recorded once
per reference. The rest of the shop reads and writes it only through these functions."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib import clock, resources
from chalicelib.db import meta_for
from chalicelib.payments.refunds import AWAITING_ACCOUNT, PAID, PENDING, BankAccount, Payout

PAYMENT_RECEIVED, REFUND, COD_COLLECTED, CHARGEBACK = "payment_received", "refund", "cod_collected", "chargeback"
PAYOUT = "payout"  # a refund the shop paid by bank transfer (the gateway could not refund that payment)
REVERSAL = "reversal"  # a settled payment the bank took back (settlement -> deny/cancel): the money never stayed


class PaymentLedgerModel(Model):
    Meta = meta_for(resources.PAYMENT_LEDGER)
    order_id = UnicodeAttribute(hash_key=True)
    entry_id = UnicodeAttribute(range_key=True)  # "<kind>#<reference>": the same event is recorded once
    kind = UnicodeAttribute()
    amount = NumberAttribute()  # whole Rupiah; refunds and chargebacks are negative
    provider = UnicodeAttribute()
    reference = UnicodeAttribute()
    method = UnicodeAttribute(null=True)
    at = UnicodeAttribute()
    actor = UnicodeAttribute()


def record(order_id: str, *, kind: str, amount: int, provider: str, reference: str, actor: str,
           method: str | None = None) -> bool:
    """Append a money movement; False when this exact movement was already recorded (a redelivered event)."""
    entry = PaymentLedgerModel(order_id, f"{kind}#{reference}", kind=kind, amount=amount, provider=provider,
                               reference=reference, method=method, at=clock.now_iso(), actor=actor)
    try:
        entry.save(condition=PaymentLedgerModel.entry_id.does_not_exist())
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def entries(order_id: str) -> list[dict[str, Any]]:
    return [
        {"kind": row.kind, "amount": int(row.amount), "provider": row.provider, "reference": row.reference,
         "method": row.method, "at": row.at, "actor": row.actor}
        for row in PaymentLedgerModel.query(order_id)
    ]


def balance(order_id: str) -> int:
    """Money held for the order: received and collected minus refunded and charged back."""
    return sum(row["amount"] for row in entries(order_id))



# ---- payouts: refunds the shop pays by bank transfer ---------------------------------------------------------


class PayoutsByStatus(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class PayoutsByOrder(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-order"
        projection = AllProjection()

    order_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class PayoutModel(Model):
    Meta = meta_for(resources.PAYOUTS)
    payout_id = UnicodeAttribute(hash_key=True)  # the refund key: one payout per refund, however often asked
    order_id = UnicodeAttribute()
    amount = NumberAttribute()  # whole Rupiah
    reason = UnicodeAttribute()
    status = UnicodeAttribute()  # awaiting_account, pending, paid
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    account = JSONAttribute(null=True)  # {bank, account_number, account_holder} given by the customer
    transfer_reference = UnicodeAttribute(null=True)  # the bank transfer's reference, from finance
    paid_by = UnicodeAttribute(null=True)
    paid_at = UnicodeAttribute(null=True)
    task_token = UnicodeAttribute(null=True)  # the workflow step waiting for the transfer
    by_status = PayoutsByStatus()
    by_order = PayoutsByOrder()


def _payout(item: PayoutModel) -> Payout:
    account = BankAccount(**item.account) if item.account else None
    return Payout(payout_id=item.payout_id, order_id=item.order_id, amount=int(item.amount), reason=item.reason,
                  status=item.status, created_at=item.created_at, account=account,
                  transfer_reference=item.transfer_reference, paid_by=item.paid_by, paid_at=item.paid_at,
                  waiting_token=item.task_token)


def open_payout(payout_id: str, *, order_id: str, amount: int, reason: str) -> Payout:
    """Create the payout once; asking again with the same id returns the one already there."""
    now = clock.now_iso()
    item = PayoutModel(payout_id, order_id=order_id, amount=amount, reason=reason, status=AWAITING_ACCOUNT,
                       created_at=now, updated_at=now)
    try:
        item.save(condition=PayoutModel.payout_id.does_not_exist())
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        return _payout(PayoutModel.get(payout_id, consistent_read=True))
    return _payout(item)


def get_payout(payout_id: str) -> Payout | None:
    try:
        return _payout(PayoutModel.get(payout_id, consistent_read=True))
    except PayoutModel.DoesNotExist:
        return None


def payouts_of(order_id: str) -> list[Payout]:
    return [_payout(item) for item in PayoutModel.by_order.query(order_id)]


def payouts_in(status: str, *, limit: int) -> list[Payout]:
    return [_payout(item) for item in PayoutModel.by_status.query(status, scan_index_forward=True, limit=limit)]


def _update(payout_id: str, actions: list[Any], condition: Any) -> Payout | None:
    item = PayoutModel(payout_id)
    try:
        item.update(actions=[*actions, PayoutModel.updated_at.set(clock.now_iso())],
                    condition=PayoutModel.payout_id.exists() & condition)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return _payout(item)


def give_account(payout_id: str, account: BankAccount) -> Payout | None:
    """Where to send the money; only while finance has not paid yet (None otherwise)."""
    return _update(payout_id, [PayoutModel.account.set(account.to_dict()), PayoutModel.status.set(PENDING)],
                   PayoutModel.status.is_in(AWAITING_ACCOUNT, PENDING))


def mark_paid(payout_id: str, *, reference: str, actor: str) -> Payout | None:
    """Finance made the transfer; only a pending payout (account known, not paid yet) can be marked paid."""
    return _update(payout_id, [PayoutModel.status.set(PAID), PayoutModel.transfer_reference.set(reference),
                               PayoutModel.paid_by.set(actor), PayoutModel.paid_at.set(clock.now_iso())],
                   PayoutModel.status == PENDING)


def wait_for_payout(payout_id: str, token: str) -> Payout | None:
    return _update(payout_id, [PayoutModel.task_token.set(token)], PayoutModel.payout_id.exists())


# ---- the sandbox gateway's own record (payments/sandbox.py plays Midtrans locally) ------------------------


class SandboxPaymentModel(Model):
    """One sandbox transaction per order, as Midtrans keeps one per order_id."""

    Meta = meta_for(resources.SANDBOX_PAYMENTS)
    order_id = UnicodeAttribute(hash_key=True)
    amount = NumberAttribute()  # what was charged, whole Rupiah
    method = UnicodeAttribute()
    transaction_id = UnicodeAttribute()
    transaction_status = UnicodeAttribute()
    fraud_status = UnicodeAttribute(null=True)
    payment_type = UnicodeAttribute()
    va_number = UnicodeAttribute(null=True)
    bank = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    expires_at = UnicodeAttribute()
    paid_amount = NumberAttribute(null=True)  # what the "shopper" paid; settle may simulate an underpayment
    settled_at = UnicodeAttribute(null=True)
    refunds = JSONAttribute(default=dict)  # refund_key -> {amount, reason, created_at}
    version = VersionAttribute()  # optimistic locking: concurrent transitions never overwrite each other


class SandboxFaultModel(Model):
    """A fault the sandbox gateway is told to produce the next `remaining` times an operation runs (item
    "fault#<operation>" in the sandbox's own table): timeouts, 5xx, 406, dropped or repeated notifications."""

    Meta = meta_for(resources.SANDBOX_PAYMENTS)
    order_id = UnicodeAttribute(hash_key=True)  # "fault#charge", "fault#notify"
    fault = UnicodeAttribute()
    remaining = NumberAttribute()


def arm_sandbox_fault(operation: str, fault: str, times: int) -> None:
    SandboxFaultModel(f"fault#{operation}", fault=fault, remaining=times).save()


def take_sandbox_fault(operation: str) -> str | None:
    """The fault armed for `operation`, used up once (a conditional decrement: two callers never take one)."""
    try:
        item = SandboxFaultModel.get(f"fault#{operation}", consistent_read=True)
    except SandboxFaultModel.DoesNotExist:
        return None
    if int(item.remaining) <= 0:
        return None
    try:
        item.update(actions=[SandboxFaultModel.remaining.add(-1)],
                    condition=(SandboxFaultModel.remaining > 0) & (SandboxFaultModel.fault == item.fault))
    except UpdateError:
        return None
    return item.fault

