"""Money going back, end to end through the local stack: finance's partial refunds and the caps on them, the
gateway's refund notifications arriving twice, out of order or for a refund made in its dashboard, and a
return's refund step that fails after the gateway refunded and is retried by the returns workflow.

The sandbox gateway stands in for Midtrans (as strict about refunds), and the SQS drivers run the workers in
this test process, so a monkeypatched chalicelib function is the very one the running worker calls.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from chalicelib import resources
from chalicelib.errors import Conflict
from chalicelib.payments.sandbox import SandboxGateway
from chalicelib.returns import service as returns_service
from chalicelib.returns.domain import REFUND
from tests.e2e.shop import TIMEOUT
from tests.e2e.test_order_lifecycle import (
    assert_json_error,
    load,
    money,
    new_sku,
    post_midtrans,
    signed_notification,
    wait_drained,
    wait_for,
    wait_status,
)
from tests.e2e.test_returns import delivered, finance_headers, guest, request_return, staff_post, wait_return

pytestmark = pytest.mark.e2e


def finance_refund(api: str, order_id: str, amount: int, refund_key: str,
                   reason: str = "goodwill: late delivery") -> requests.Response:
    """Finance gives part of the order's money back: POST /admin/orders/{id}/refunds."""
    return requests.post(f"{api}/admin/orders/{order_id}/refunds", headers=finance_headers(), timeout=TIMEOUT,
                         json={"amount": amount, "reason": reason, "refund_key": refund_key})


def refund_lines(order_id: str) -> list[tuple[str, int]]:
    """(reference, amount) of the order's refund lines in the money ledger, by reference."""
    return sorted((row["reference"], row["amount"]) for row in money(order_id) if row["kind"] == "refund")


def gateway_refunds(order_id: str) -> list[dict[str, Any]]:
    """The refunds the sandbox gateway itself holds for the order (Midtrans' status API `refunds` list)."""
    status = SandboxGateway().status(order_id)
    assert status is not None, f"the sandbox gateway does not know {order_id}"
    return list(status.raw.get("refunds") or [])


# ================================================================================================================
# Finance's partial refunds
# ================================================================================================================


def test_partial_refunds_by_finance_are_each_recorded_once_capped_at_what_is_left_and_the_last_rupiah_refunds_in_full(
        stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "PARTREF", stock=5, price=300_000)
    placed = delivered(api, sku, 1, "card")
    order_id, total = placed["order_id"], placed["totals"]["total"]

    first = finance_refund(api, order_id, 50_000, "goodwill-1")
    assert first.status_code == 201, first.text
    assert (first.json()["refund_key"], first.json()["amount"], first.json()["by"]) == (
        "manual-goodwill-1", 50_000, "gateway")
    second = finance_refund(api, order_id, 70_000, "price-error-1", reason="price error on the product page")
    assert second.status_code == 201, second.text
    assert second.json()["amount"] == 70_000 and second.json()["refunded_total"] == 120_000

    order = load(order_id)
    assert order.status == "PARTIALLY_REFUNDED"
    assert order.refunded_total == 120_000
    assert order.refunds == {"manual-goodwill-1": 50_000, "manual-price-error-1": 70_000}
    assert refund_lines(order_id) == [("manual-goodwill-1", -50_000), ("manual-price-error-1", -70_000)]
    assert sorted((r["refund_key"], r["refund_amount"]) for r in gateway_refunds(order_id)) == [
        ("manual-goodwill-1", "50000.00"), ("manual-price-error-1", "70000.00")]

    # the same refund key again (a double click, a retried request) answers the same refund and adds nothing
    again = finance_refund(api, order_id, 50_000, "goodwill-1")
    assert again.status_code == 201, again.text
    assert (again.json()["refund_key"], again.json()["amount"]) == ("manual-goodwill-1", 50_000)
    assert again.json()["refunded_total"] == 120_000
    assert load(order_id).refunded_total == 120_000
    assert len(refund_lines(order_id)) == 2 and len(gateway_refunds(order_id)) == 2

    # more than is left (captured minus refunded) is refused and changes nothing anywhere
    left = total - 120_000
    before = load(order_id)
    assert_json_error(finance_refund(api, order_id, left + 1, "too-much-1"), 422, "refund_exceeds_paid")
    after = load(order_id)
    assert (after.status, after.refunds, after.timeline) == (before.status, before.refunds, before.timeline)
    assert len(refund_lines(order_id)) == 2 and len(gateway_refunds(order_id)) == 2

    # exactly what is left: the order is refunded in full
    rest = finance_refund(api, order_id, left, "rest-1")
    assert rest.status_code == 201, rest.text
    refunded = load(order_id)
    assert refunded.status == "REFUNDED" and refunded.refunded_total == total
    assert refund_lines(order_id) == sorted([("manual-goodwill-1", -50_000), ("manual-price-error-1", -70_000),
                                             ("manual-rest-1", -left)])
    assert sum(row["amount"] for row in money(order_id)) == 0
    assert SandboxGateway().status(order_id).transaction_status == "refund"  # type: ignore[union-attr]


# ================================================================================================================
# The gateway's refund notifications
# ================================================================================================================


def test_refund_notifications_delivered_twice_or_out_of_order_record_each_refund_once(stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "REFNOTE", stock=5, price=300_000)
    placed = delivered(api, sku, 1, "card")
    order_id = placed["order_id"]

    assert finance_refund(api, order_id, 40_000, "goodwill-1").status_code == 201
    older = signed_notification(order_id)  # what Midtrans sent after the first refund, delivered late
    assert finance_refund(api, order_id, 60_000, "goodwill-2").status_code == 201
    newer = signed_notification(order_id)
    assert older["transaction_status"] == newer["transaction_status"] == "partial_refund"
    assert (older["refund_amount"], newer["refund_amount"]) == ("40000.00", "100000.00")
    settled = load(order_id)
    assert settled.refunded_total == 100_000

    assert post_midtrans(api, newer).json() == {"status": "accepted"}
    assert post_midtrans(api, newer).json() == {"status": "duplicate"}  # the same notification resent
    # the older one arriving last is another state, so it is processed; the gateway's status API (both refunds,
    # each under its key) is what the worker acts on, and both are recorded already
    assert post_midtrans(api, older).json() == {"status": "accepted"}
    wait_drained(stack, resources.PAYMENT_EVENTS_QUEUE)

    assert refund_lines(order_id) == [("manual-goodwill-1", -40_000), ("manual-goodwill-2", -60_000)]
    after = load(order_id)
    assert (after.status, after.refunded_total, after.refunds) == ("PARTIALLY_REFUNDED", 100_000, settled.refunds)
    assert after.timeline == settled.timeline


def test_a_second_partial_refund_made_in_the_gateways_dashboard_is_not_dropped_as_a_duplicate_notification(
        stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "DASHREF", stock=5, price=300_000)
    placed = delivered(api, sku, 1, "card")
    order_id = placed["order_id"]

    # a first partial refund by the shop, and the gateway's notification of it
    assert finance_refund(api, order_id, 40_000, "goodwill-1").status_code == 201
    first = signed_notification(order_id)
    assert post_midtrans(api, first).json() == {"status": "accepted"}
    wait_drained(stack, resources.PAYMENT_EVENTS_QUEUE)
    assert refund_lines(order_id) == [("manual-goodwill-1", -40_000)]

    # a second partial refund someone made in the gateway's dashboard: same transaction status, new total
    SandboxGateway().refund(order_id, amount=25_000, reason="goodwill from the dashboard", refund_key="dashboard-1")
    second = signed_notification(order_id)
    assert second["transaction_status"] == first["transaction_status"] == "partial_refund"
    assert post_midtrans(api, second).json() == {"status": "accepted"}

    wait_for("the dashboard refund in the ledger", lambda: ("dashboard-1", -25_000) in refund_lines(order_id),
             describe=lambda: refund_lines(order_id))
    counted = wait_for("the dashboard refund counted on the order",
                       lambda: (order := load(order_id)).refunds.get("dashboard-1") == 25_000 and order,
                       describe=lambda: load(order_id).refunds)
    assert counted.refunded_total == 65_000 and counted.status == "PARTIALLY_REFUNDED"
    assert refund_lines(order_id) == [("dashboard-1", -25_000), ("manual-goodwill-1", -40_000)]


# ================================================================================================================
# A return's refund step retried
# ================================================================================================================


def test_a_return_refund_step_failing_after_the_gateway_refunded_is_retried_and_refunds_only_once(
        stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    api = stack.api_url
    sku = new_sku(api, "REFRETRY", stock=5, price=200_000)
    placed = delivered(api, sku, 1, "card")
    order_id, total = placed["order_id"], placed["totals"]["total"]

    asked = request_return(api, placed, {sku: 1}, "damaged")
    assert asked.status_code == 201, asked.text
    return_id = asked.json()["return_id"]
    key = returns_service.refund_key(return_id)

    real_advance = returns_service._advance
    failures: list[list[dict[str, Any]]] = []

    def advance_losing_the_first_refund_race(rid: str, event: str, **kwargs: Any) -> Any:
        """The refund step's write of the return loses a race the first time, after the gateway refunded."""
        if rid == return_id and event == REFUND and not failures:
            failures.append(gateway_refunds(order_id))
            raise Conflict("simulated lost race")
        return real_advance(rid, event, **kwargs)

    monkeypatch.setattr(returns_service, "_advance", advance_losing_the_first_refund_race)

    assert staff_post(api, f"/admin/returns/{return_id}/approve").status_code == 200
    sent = requests.post(f"{api}/orders/{order_id}/returns/{return_id}/shipment", headers=guest(placed),
                         json={"courier": "JNE", "waybill_id": "JNE0098765432"}, timeout=TIMEOUT)
    assert sent.status_code == 200, sent.text
    received = staff_post(api, f"/admin/returns/{return_id}/receive", {"lines": [{"sku": sku, "restock": 1}]})
    assert received.status_code == 200, received.text

    closed = wait_return(return_id, "closed")  # the Refund step's retry comes ~5 s after the failure

    assert len(failures) == 1
    assert [refund["refund_key"] for refund in failures[0]] == [key]  # the money had gone back when it failed
    assert closed.refund is not None
    assert (closed.refund["by"], closed.refund["amount"], closed.refund["refund_key"]) == ("gateway", total, key)
    assert [entry.event for entry in closed.history].count(REFUND) == 1
    assert [(row["reference"], row["amount"]) for row in money(order_id) if row["kind"] == "refund"] == [
        (key, -total)]
    assert [(refund["refund_key"], refund["refund_amount"]) for refund in gateway_refunds(order_id)] == [
        (key, f"{total}.00")]
    order = wait_status(order_id, "REFUNDED")
    assert order.refunds == {key: total}
