"""Payment providers as they really behave, under moto: a charge whose answer is lost (a timeout after or before
the gateway acted, a 5xx, a 406 for an order id already used) still leaves the customer with payment instructions
and exactly one transaction at the gateway."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.orders import repository as orders
from chalicelib.payments import sandbox
from chalicelib.payments import service as payments
from chalicelib.payments.repository import SandboxPaymentModel
from tests.functional.helpers import body_of, create_product, place_order


def transactions() -> int:
    return sum(1 for item in SandboxPaymentModel.scan() if not item.order_id.startswith("fault#"))


@pytest.mark.parametrize("fault", sandbox.CHARGE_FAULTS)
def test_a_checkout_whose_charge_answer_is_lost_still_answers_with_the_one_transactions_instructions(
        client: Any, auth_header: Any, fault: str) -> None:
    create_product(client, auth_header("staff"), sku="BTK-F", stock=5, price=100_000)
    sandbox.arm("charge", fault)
    placed = place_order(client, "BTK-F", 1)

    payment = placed["payment"]
    assert payment is not None and payment["va_number"], fault
    assert transactions() == 1
    held = sandbox.SandboxGateway().status(placed["order_id"])
    assert held is not None and held.transaction_id == payment["transaction_id"]
    assert orders.get(placed["order_id"]).payment == payment


def test_a_charge_that_failed_twice_is_made_by_the_reconciliation_schedule(client: Any, auth_header: Any) -> None:
    create_product(client, auth_header("staff"), sku="BTK-F", stock=5, price=100_000)
    sandbox.arm("charge", sandbox.TIMEOUT_BEFORE, times=2)  # the charge and its retry both time out
    placed = place_order(client, "BTK-F", 1)
    assert placed["payment"] is None and transactions() == 0

    counts = payments.reconcile(older_than_minutes=0)

    assert counts["charges_retried"] == 1 and transactions() == 1
    stored = orders.get(placed["order_id"]).payment
    assert stored is not None and stored["va_number"]
    body = body_of(client.http.get(f"/orders/{placed['order_id']}",
                                   headers={"X-Order-Token": placed["access_token"]}))
    assert body["payment"] == stored


def test_faults_are_named_and_counted(aws: Any) -> None:
    with pytest.raises(ValueError, match="charge:timeout_after"):
        sandbox.arm("charge", "meteor_strike")
    sandbox.arm("notify", sandbox.DROP, times=0)  # disarmed
