"""Payment providers as they really behave, under moto: a charge whose answer is lost (a timeout after or before
the gateway acted, a 5xx, a 406 for an order id already used) still leaves the customer with payment instructions
and exactly one transaction at the gateway."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import clock
from chalicelib.fulfilment import service as fulfilment
from chalicelib.inventory import repository as stock
from chalicelib.orders import repository as orders
from chalicelib.orders import workflow
from chalicelib.payments import repository as ledger
from chalicelib.payments import sandbox
from chalicelib.payments import service as payments
from chalicelib.payments.repository import SandboxPaymentModel
from tests.functional.helpers import body_of, create_product, place_order, send


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



def paid_order(client: Any, auth_header: Any, method: str = "bank_transfer") -> dict[str, Any]:
    create_product(client, auth_header("staff"), sku="BTK-F", stock=5, price=100_000)
    placed = place_order(client, "BTK-F", 2, payment_method=method)
    gateway = sandbox.SandboxGateway()
    gateway.settle(placed["order_id"])
    payments.process_event({"provider": "midtrans", "order_id": placed["order_id"]})
    assert orders.get(placed["order_id"]).status == "PAID"
    return placed


def test_a_payment_the_bank_reverses_before_packing_stops_the_order_without_a_refund(
        client: Any, auth_header: Any, resumed: list[Any]) -> None:
    placed = paid_order(client, auth_header)
    order_id = placed["order_id"]
    fulfilment.handle_task({"task": "commit_stock", "order_id": order_id, "token": "t"})
    fulfilment.handle_task({"task": "await_packing", "order_id": order_id, "token": "packing-token"})

    sandbox.SandboxGateway().reverse(order_id, to="deny")
    for _ in range(2):  # the notification, then its resend
        payments.process_event({"provider": "midtrans", "order_id": order_id})

    assert ("fail", "packing-token", workflow.ORDER_CANCELLED) in resumed
    fulfilment.handle_task({"task": "cancel_order", "order_id": order_id, "token": "cancel-token"})
    ended = orders.get(order_id)
    # nothing was refunded by the shop, but the money went back: the order (and so the reports) count it once
    assert ended.status == "CANCELLED" and ended.refunded_total == placed["totals"]["total"]
    assert [entry.event for entry in ended.timeline].count("refund_in_full") == 1
    assert "the bank reversed the payment" in ended.timeline[-1].note
    assert any("the bank reversed the payment (deny)" in entry.note for entry in ended.timeline)
    rows = ledger.entries(order_id)
    assert [row["kind"] for row in rows].count("reversal") == 1 and ledger.balance(order_id) == 0
    assert stock.read_level("BTK-F").on_hand == 5 and sandbox.SandboxGateway().status(order_id).transaction_status \
        == "deny"


def test_a_payment_reversed_after_shipping_is_flagged_for_a_person(
        client: Any, auth_header: Any, resumed: list[Any]) -> None:
    placed = paid_order(client, auth_header)
    order_id = placed["order_id"]
    fulfilment.handle_task({"task": "commit_stock", "order_id": order_id, "token": "t"})
    fulfilment.mark_packed(order_id, actor="staff-1")
    fulfilment.handle_task({"task": "book_shipment", "order_id": order_id, "token": "t"})

    sandbox.SandboxGateway().reverse(order_id, to="cancel")
    payments.process_event({"provider": "midtrans", "order_id": order_id})
    payments.process_event({"provider": "midtrans", "order_id": order_id})

    flagged = orders.get(order_id)
    assert flagged.status == "NEEDS_REVIEW" and "reversed" in (flagged.attention or "")
    assert flagged.refunded_total == placed["totals"]["total"]
    assert [entry.event for entry in flagged.timeline].count("flag_for_review") == 1
    assert ledger.balance(order_id) == 0


def test_a_held_card_payment_waits_for_staff_past_its_deadline_and_is_paid_when_accepted(
        client: Any, auth_header: Any, resumed: list[Any], at: Any) -> None:
    create_product(client, auth_header("staff"), sku="BTK-F", stock=5, price=100_000)
    placed = place_order(client, "BTK-F", 1, payment_method="card")
    order_id = placed["order_id"]
    fulfilment.handle_task({"task": "await_payment", "order_id": order_id, "token": "pay-token"})
    sandbox.SandboxGateway().hold(order_id)
    payments.process_event({"provider": "midtrans", "order_id": order_id})
    payments.process_event({"provider": "midtrans", "order_id": order_id})  # a resend alerts nobody twice

    assert ("fail", "pay-token", workflow.PAYMENT_HELD) in resumed
    held = orders.get(order_id)
    assert held.status == "PENDING_PAYMENT" and held.payment_held
    assert [entry.event for entry in held.timeline].count("hold_payment") == 1
    fulfilment.handle_task({"task": "await_payment_review", "order_id": order_id, "token": "review-token"})
    at(clock.iso(clock.now() + timedelta(hours=3)))  # long past the payment deadline
    assert fulfilment.expire_overdue_orders()["expired"] == 0

    staff = auth_header("staff")
    customer = send(client, "POST", f"/admin/orders/{order_id}/payment-review", {"decision": "accept"},
                    auth_header("customer", "cust-1"))
    assert customer.status_code == 403
    bad = send(client, "POST", f"/admin/orders/{order_id}/payment-review", {"decision": "maybe"}, staff)
    assert bad.status_code == 400
    accepted = send(client, "POST", f"/admin/orders/{order_id}/payment-review", {"decision": "accept"}, staff)
    assert accepted.status_code == 200, accepted.body
    assert body_of(accepted)["order"]["status"] == "PAID"
    assert ("resume", "review-token", {"paid": True, "amount": 100_000 + placed["totals"]["shipping"]}) in resumed
    again = send(client, "POST", f"/admin/orders/{order_id}/payment-review", {"decision": "accept"}, staff)
    assert again.status_code == 409 and body_of(again)["error"]["code"] == "payment_not_held"


def test_a_held_card_payment_denied_by_staff_ends_the_order_and_releases_its_stock(
        client: Any, auth_header: Any, resumed: list[Any]) -> None:
    create_product(client, auth_header("staff"), sku="BTK-F", stock=5, price=100_000)
    placed = place_order(client, "BTK-F", 2, payment_method="card")
    order_id = placed["order_id"]
    sandbox.SandboxGateway().hold(order_id)
    payments.process_event({"provider": "midtrans", "order_id": order_id})
    fulfilment.handle_task({"task": "await_payment_review", "order_id": order_id, "token": "review-token"})

    denied = send(client, "POST", f"/admin/orders/{order_id}/payment-review", {"decision": "deny"},
                  auth_header("staff"))

    assert denied.status_code == 200 and body_of(denied)["order"]["status"] == "PAYMENT_FAILED"
    assert ("fail", "review-token", workflow.PAYMENT_FAILED) in resumed
    level = stock.read_level("BTK-F")
    assert (level.on_hand, level.reserved) == (5, 0) and ledger.balance(order_id) == 0


def test_a_partial_chargeback_then_the_full_one_are_both_recorded_once(
        client: Any, auth_header: Any, resumed: list[Any]) -> None:
    placed = paid_order(client, auth_header, method="card")
    order_id, total = placed["order_id"], placed["totals"]["total"]
    status = sandbox.SandboxGateway().status(order_id)
    assert status is not None
    partial = replace(status, transaction_status="partial_chargeback",
                      raw={**status.raw, "transaction_status": "partial_chargeback", "chargeback_amount": "50000.00"})
    full = replace(status, transaction_status="chargeback", raw={**status.raw, "transaction_status": "chargeback"})
    for seen in (partial, partial, full, full):
        payments.apply_gateway_status(order_id, seen, source="midtrans")
    chargebacks = [row["amount"] for row in ledger.entries(order_id) if row["kind"] == "chargeback"]
    assert sorted(chargebacks) == sorted([-50_000, -(total - 50_000)])
    assert ledger.balance(order_id) == 0 and orders.get(order_id).status == "NEEDS_REVIEW"


def test_a_dropped_payment_notification_is_found_by_the_reconciliation(
        client: Any, auth_header: Any, resumed: list[Any], at: Any) -> None:
    create_product(client, auth_header("staff"), sku="BTK-F", stock=5, price=100_000)
    placed = place_order(client, "BTK-F", 1)
    order_id = placed["order_id"]
    gateway = sandbox.SandboxGateway()
    gateway.settle(order_id)
    sandbox.arm("notify", sandbox.DROP)
    assert gateway.deliveries(order_id, server_key="k") == []  # Midtrans never sends it
    assert payments.reconcile()["changed"] == 0  # a fresh order is left to its notification for 15 minutes

    at(clock.iso(clock.now() + timedelta(minutes=16)))
    assert payments.reconcile()["changed"] == 1
    assert orders.get(order_id).status == "PAID"
    assert [row["kind"] for row in ledger.entries(order_id)] == ["payment_received"]
