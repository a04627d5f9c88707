"""The money ledger: every payment received, refund and cash collection, recorded once per reference."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
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
