"""The money ledger in DynamoDB: every payment received, refund, chargeback and cash collection, recorded once
per reference. The rest of the shop reads and writes it only through these functions."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from chalicelib import clock, resources
from chalicelib.db import meta_for

PAYMENT_RECEIVED, REFUND, COD_COLLECTED, CHARGEBACK = "payment_received", "refund", "cod_collected", "chargeback"


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
