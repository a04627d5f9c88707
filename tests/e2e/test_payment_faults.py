"""Payment faults end to end on the local stack, produced by hand as `make payment-fault` and `make pay` do: a
charge whose answer is lost, notifications sent twice and out of order, a card held for fraud review that staff
accept, and a settlement the bank reverses before packing."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from click.testing import CliRunner

from chalicelib.payments.repository import SandboxPaymentModel
from tests.e2e.shop import TIMEOUT, staff_headers, stock_of
from tests.e2e.test_order_lifecycle import load, money, new_sku, place_order, read_order, wait_for, wait_status
from tools.cli import cli

pytestmark = pytest.mark.e2e


def run(stack: Any, *args: str, api: bool = True) -> str:
    extra = ["--api", stack.api_url] if api else []
    result = CliRunner().invoke(cli, [*args, *extra, "--moto", stack.moto_url])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_lost_charge_answer_and_repeated_or_reordered_notifications_pay_the_order_once(stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "PAYFAULT", stock=5)
    run(stack, "payment-fault", "charge:timeout_after", api=False)
    placed = place_order(api, sku, 1)
    order_id = placed["order_id"]
    assert placed["payment"]["va_number"], placed  # rebuilt from the gateway's record of the lost charge
    assert sum(1 for item in SandboxPaymentModel.scan() if item.order_id == order_id) == 1

    run(stack, "payment-fault", "notify:twice", api=False)
    twice = run(stack, "pay", order_id)
    assert twice.count("settlement notification -> HTTP 200") == 2 and '"duplicate"' in twice
    run(stack, "payment-fault", "notify:out_of_order", api=False)
    run(stack, "pay", order_id)  # the settlement again, then a stale "pending": neither moves anything

    paid = wait_status(order_id, "READY_TO_PACK")
    assert [entry.event for entry in paid.timeline].count("pay") == 1
    assert [row["kind"] for row in money(order_id)] == ["payment_received"]
    assert read_order(api, placed)["payment"]["transaction_id"] == placed["payment"]["transaction_id"]


def test_a_card_payment_held_for_review_waits_for_staff_who_accept_it_and_the_order_goes_on(stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "HELD", stock=5)
    placed = place_order(api, sku, 1, payment_method="card")
    order_id = placed["order_id"]

    run(stack, "pay", order_id, "--outcome", "hold")
    held = wait_for("the payment to be held", lambda: (order := read_order(api, placed))["timeline"][-1]["event"]
                    == "hold_payment" and order)
    assert held["status"] == "PENDING_PAYMENT"
    decided = requests.post(f"{api}/admin/orders/{order_id}/payment-review", json={"decision": "accept"},
                            headers=staff_headers(), timeout=TIMEOUT)
    assert decided.status_code == 200, decided.text

    wait_status(order_id, "READY_TO_PACK")  # the workflow's review step was resumed: stock committed
    assert stock_of(api, sku)["on_hand"] == 4


def test_a_settlement_the_bank_reverses_before_packing_cancels_the_order_and_restocks(stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "REVERSE", stock=5)
    placed = place_order(api, sku, 2)
    order_id = placed["order_id"]
    run(stack, "pay", order_id)
    wait_status(order_id, "READY_TO_PACK")

    run(stack, "pay", order_id, "--outcome", "reverse")

    wait_status(order_id, "CANCELLED")
    # the shop refunded nothing (the bank took the money back); the cancel step then counts that money as gone back
    cancelled = wait_for("the reversal to count on the order",
                         lambda: (order := load(order_id)).refunded_total == placed["totals"]["total"] and order)
    assert any("reversed the payment" in entry.note for entry in cancelled.timeline)
    assert sum(row["amount"] for row in money(order_id)) == 0
    level = stock_of(api, sku)
    assert (level["on_hand"], level["reserved"]) == (5, 0)
