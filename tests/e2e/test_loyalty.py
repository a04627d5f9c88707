"""Loyalty points end to end over HTTP on the local stack: a signed-in customer's delivered order earns points once
its return window closes, a partial refund takes some back, the rest pay part of the next order, and they come back
when that order's payment expires."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from chalicelib.auth import mint_dev_token
from chalicelib.payments.sandbox import SandboxGateway
from tests.e2e.shop import TIMEOUT, checkout_body
from tests.e2e.test_order_lifecycle import (
    new_sku,
    post_midtrans,
    signed_notification,
    wait_for,
    wait_notified,
    wait_status,
)
from tests.e2e.test_returns import deliver
from tools.cli import cli

pytestmark = pytest.mark.e2e


def buy(api: str, customer: dict[str, str], sku: str, quantity: int, **extra: Any) -> requests.Response:
    cart_id = requests.post(f"{api}/carts", headers=customer, timeout=TIMEOUT).json()["cart_id"]
    put = requests.put(f"{api}/carts/{cart_id}/items/{sku}", json={"quantity": quantity}, headers=customer,
                       timeout=TIMEOUT)
    assert put.status_code == 200, put.text
    return requests.post(f"{api}/checkout", json={**checkout_body(cart_id), **extra},
                         headers={**customer, "Idempotency-Key": str(uuid.uuid4())}, timeout=TIMEOUT)


def my_points(api: str, customer: dict[str, str]) -> dict[str, Any]:
    answer = requests.get(f"{api}/me/loyalty", headers=customer, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_points_earned_after_the_window_shrink_with_a_refund_pay_for_the_next_order_and_return_when_it_expires(
        stack: Any) -> None:
    api = stack.api_url
    customer = {"Authorization": f"Bearer {mint_dev_token(role='customer', sub=f'e2e-{uuid.uuid4().hex[:8]}')}"}
    finance = {"Authorization": f"Bearer {mint_dev_token(role='finance', sub='finance-e2e')}"}
    sku = new_sku(api, "POINTS", stock=5, price=250_000)

    placed = buy(api, customer, sku, 1)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order_id"]
    deliver(api, order_id, "bank_transfer")

    waiting = wait_for("the earning to be planned", lambda: my_points(api, customer)["earnings_to_come"])
    assert [(item["order_id"], item["earns"]) for item in waiting] == [(order_id, 25)]  # Rp250,000: 25 points
    assert my_points(api, customer)["balance"] == 0

    stack.schedule_driver.fire("credit_loyalty_points")  # the hourly schedule: the window is still open
    assert my_points(api, customer)["balance"] == 0
    # `make points-due`: the credit step as if the seven-day return window had closed (nobody waits a week)
    credited = CliRunner().invoke(cli, ["points-due", "--days", "8", "--moto", stack.moto_url])
    assert credited.exit_code == 0 and "earnings credited: " in credited.output, credited.output
    assert "earnings credited: 0" in CliRunner().invoke(cli, ["points-due", "--moto", stack.moto_url]).output
    earned = my_points(api, customer)
    assert earned["balance"] == 25 and earned["balance_value"] == 2_500
    assert [(entry["kind"], entry["delta"], entry["order_id"]) for entry in earned["ledger"]["items"]] == [
        ("earned", 25, order_id)]
    wait_notified(order_id, "points_earned")

    # finance gives half the goods' price back: half the points go back too (12 of 25, rounded for the customer)
    refund = {"amount": 125_000, "reason": "warna berbeda dari foto", "refund_key": f"goodwill-{order_id}"}
    for _ in range(2):  # asked twice with the same key: one refund, one reversal
        answer = requests.post(f"{api}/admin/orders/{order_id}/refunds", json=refund, headers=finance,
                               timeout=TIMEOUT)
        assert answer.status_code == 201, answer.text
    assert my_points(api, customer)["balance"] == 13

    over = buy(api, customer, sku, 1, redeem_points=14)
    assert over.status_code == 422 and over.json()["error"]["code"] == "insufficient_points"
    spending = buy(api, customer, sku, 1, redeem_points=10)
    assert spending.status_code == 201, spending.text
    totals = spending.json()["totals"]
    assert (totals["points_redeemed"], totals["points_discount"]) == (10, 1_000)
    assert totals["total"] == 250_000 - 1_000 + totals["shipping"]
    assert my_points(api, customer)["balance"] == 3

    unpaid_id = spending.json()["order_id"]
    SandboxGateway().expire(unpaid_id)
    assert post_midtrans(api, signed_notification(unpaid_id)).status_code == 200
    wait_status(unpaid_id, "EXPIRED")
    back = wait_for("the spent points to come back", lambda: my_points(api, customer)["balance"] == 13,
                    describe=lambda: my_points(api, customer)["ledger"])
    assert back
    kinds = [(entry["kind"], entry["delta"]) for entry in my_points(api, customer)["ledger"]["items"]]
    assert kinds == [("returned", 10), ("redeemed", -10), ("reversed", -12), ("earned", 25)]
