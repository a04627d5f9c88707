"""Returns and refunds end to end through the local stack: a return's workflow (statemachines/returns.asl.json)
run by moto's interpreter, staff and customers talking over HTTP, money going back through the sandbox gateway
(as strict as Midtrans) or by a payout finance confirms.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests

from chalicelib import clock
from chalicelib.auth import mint_dev_token
from chalicelib.orders.repository import OrderModel
from chalicelib.payments.gateway import RefundRefused
from chalicelib.payments.sandbox import SandboxGateway
from chalicelib.returns import repository as returns
from tests.e2e.shop import TIMEOUT, staff_headers, stock_of
from tests.e2e.test_order_lifecycle import (
    COURIER_JOURNEY,
    assert_json_error,
    courier_reports,
    load,
    minutes_from,
    money,
    new_sku,
    pack,
    pay,
    place_order,
    wait_for,
    wait_notified,
    wait_status,
)

pytestmark = pytest.mark.e2e


def finance_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_dev_token(role='finance', sub='finance-e2e')}"}


def delivered(api: str, sku: str, quantity: int, payment_method: str) -> dict[str, Any]:
    """An order paid (or cash on delivery), packed, shipped and delivered: COMPLETED."""
    placed = place_order(api, sku, quantity, payment_method)
    deliver(api, placed["order_id"], payment_method)
    return placed


def deliver(api: str, order_id: str, payment_method: str) -> None:
    """A placed order paid (or cash on delivery), packed, shipped and delivered: COMPLETED."""
    if payment_method != "cod":
        pay(api, order_id)
    wait_status(order_id, "READY_TO_PACK")
    assert pack(api, order_id).status_code == 200
    wait_status(order_id, "SHIPPED")
    start = clock.now()
    for minute, status in enumerate(COURIER_JOURNEY):
        courier_reports(api, order_id, status, minutes_from(start, minute))
    wait_status(order_id, "COMPLETED")


def guest(placed: dict[str, Any]) -> dict[str, str]:
    return {"X-Order-Token": placed["access_token"]}


def request_return(api: str, placed: dict[str, Any], lines: dict[str, int], reason: str = "damaged",
                   **extra: Any) -> requests.Response:
    body = {"lines": [{"sku": sku, "quantity": units} for sku, units in lines.items()], "reason": reason, **extra}
    return requests.post(f"{api}/orders/{placed['order_id']}/returns", json=body, headers=guest(placed),
                         timeout=TIMEOUT)


def staff_post(api: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
    return requests.post(f"{api}{path}", json=body or {}, headers=staff_headers(), timeout=TIMEOUT)


def wait_return(return_id: str, *statuses: str) -> Any:
    def reached() -> Any:
        ret = returns.get(return_id)
        return ret if ret is not None and ret.status in statuses else None

    return wait_for(f"return {return_id} to be {' or '.join(statuses)}", reached,
                    describe=lambda: returns.get(return_id))


def test_a_card_order_returned_is_restocked_and_refunded_through_the_gateway(stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "RETCARD", stock=10, price=200_000)
    placed = delivered(api, sku, 2, "card")
    order_id, total = placed["order_id"], placed["totals"]["total"]
    on_hand = stock_of(api, sku)["on_hand"]

    asked = request_return(api, placed, {sku: 1}, "damaged", note="retak di sudut",
                           photos=[{"content_type": "image/jpeg"}])
    assert asked.status_code == 201, asked.text
    return_id = asked.json()["return_id"]
    assert asked.json()["status"] == "requested" and len(asked.json()["photo_uploads"]) == 1
    queue = requests.get(f"{api}/admin/returns?status=requested", headers=staff_headers(), timeout=TIMEOUT)
    assert return_id in [item["return_id"] for item in queue.json()["items"]]

    assert staff_post(api, f"/admin/returns/{return_id}/approve").status_code == 200
    sent = requests.post(f"{api}/orders/{order_id}/returns/{return_id}/shipment", headers=guest(placed),
                         json={"courier": "JNE", "waybill_id": "JNE0012345678"}, timeout=TIMEOUT)
    assert sent.status_code == 200, sent.text
    received = staff_post(api, f"/admin/returns/{return_id}/receive", {"lines": [{"sku": sku, "restock": 1}]})
    assert received.status_code == 200, received.text

    closed = wait_return(return_id, "closed")
    unit_paid = 200_000
    shipping = placed["totals"]["shipping"]
    assert closed.refund["by"] == "gateway" and closed.refund["amount"] == unit_paid + shipping
    assert stock_of(api, sku)["on_hand"] == on_hand + 1
    order = wait_status(order_id, "PARTIALLY_REFUNDED")
    assert order.refunded_total == unit_paid + shipping < total
    assert [(row["kind"], row["amount"]) for row in money(order_id)] == [
        ("payment_received", total), ("refund", -(unit_paid + shipping))]
    seen = requests.get(f"{api}/orders/{order_id}/returns", headers=guest(placed), timeout=TIMEOUT).json()
    assert [item["status"] for item in seen["items"]] == ["closed"]
    assert any(entry["event"] == "note_return" for entry in load(order_id).to_dict()["timeline"])
    wait_notified(order_id, "refunded")


# ---- more return journeys ------------------------------------------------------------------------------------


def test_a_bank_transfer_order_returned_is_paid_back_by_a_payout_finance_confirms_before_the_return_closes(
        stack: Any) -> None:
    """A virtual account cannot be refunded through the gateway (the sandbox refuses it like Midtrans): the
    return's refund becomes a payout, the customer gives a bank account, finance transfers and confirms."""
    api = stack.api_url
    sku = new_sku(api, "RETVA", stock=5, price=150_000)
    placed = delivered(api, sku, 1, "bank_transfer")
    order_id, total = placed["order_id"], placed["totals"]["total"]

    asked = request_return(api, placed, {sku: 1}, "wrong_item")
    assert asked.status_code == 201, asked.text
    return_id = asked.json()["return_id"]
    assert staff_post(api, f"/admin/returns/{return_id}/approve").status_code == 200
    received = staff_post(api, f"/admin/returns/{return_id}/receive", {"lines": [{"sku": sku, "restock": 1}]})
    assert received.status_code == 200, received.text

    refunding = wait_return(return_id, "refunding")
    assert refunding.refund is not None
    payout_id = refunding.refund["payout_id"]
    assert (refunding.refund["by"], refunding.refund["amount"]) == ("payout", total)
    assert payout_id == f"refund-{return_id}"
    va = SandboxGateway().status(order_id)
    assert va is not None and va.transaction_status == "settlement" and "refunds" not in va.raw
    with pytest.raises(RefundRefused):
        SandboxGateway().refund(order_id, amount=total, reason="probe", refund_key="probe-va-1")
    seen = requests.get(f"{api}/orders/{order_id}/refunds", headers=guest(placed), timeout=TIMEOUT).json()
    assert [(p["payout_id"], p["status"], p["amount"]) for p in seen["payouts"]] == [
        (payout_id, "awaiting_account", total)]

    account = {"bank": "bca", "account_number": "1234567890", "account_holder": "Sari Dewi"}
    given = requests.post(f"{api}/orders/{order_id}/refund-account", json=account, headers=guest(placed),
                          timeout=TIMEOUT)
    assert given.status_code == 200, given.text
    pending = requests.get(f"{api}/admin/payouts", params={"status": "pending", "limit": 100},
                           headers=finance_headers(), timeout=TIMEOUT)
    assert pending.status_code == 200, pending.text
    mine = [p for p in pending.json()["items"] if p["payout_id"] == payout_id]
    assert len(mine) == 1 and mine[0]["amount"] == total and mine[0]["account"] == account
    assert returns.get(return_id).status == "refunding"  # type: ignore[union-attr]  # not closed before paid

    paid = requests.post(f"{api}/admin/payouts/{payout_id}/paid", json={"reference": "BCA-TRF-0042"},
                         headers=finance_headers(), timeout=TIMEOUT)
    assert paid.status_code == 200, paid.text

    closed = wait_return(return_id, "closed")
    assert closed.refund is not None and closed.refund["by"] == "payout" and closed.refund["amount"] == total
    rows = money(order_id)
    assert [(row["reference"], row["amount"]) for row in rows if row["kind"] == "payout"] == [(payout_id, -total)]
    assert sorted((row["kind"], row["amount"]) for row in rows) == [("payment_received", total), ("payout", -total)]
    order = load(order_id)
    assert (order.status, order.refunded_total) == ("REFUNDED", total)
    wait_notified(order_id, "refund_account_needed", "refund_paid")


def test_a_cod_parcel_refused_at_the_door_comes_back_as_a_courier_return_restocked_with_nothing_to_refund(
        stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "CODREFUSED", stock=5, price=180_000)
    before = stock_of(api, sku)
    placed = place_order(api, sku, 2, "cod")
    order_id = placed["order_id"]
    wait_status(order_id, "READY_TO_PACK")
    assert pack(api, order_id).status_code == 200
    wait_status(order_id, "SHIPPED")
    assert stock_of(api, sku)["on_hand"] == before["on_hand"] - 2

    start = clock.now()
    for minute, status in enumerate(("allocated", "picking_up", "picked", "dropping_off", "rejected")):
        courier_reports(api, order_id, status, minutes_from(start, minute))

    wait_status(order_id, "RETURNED")
    opened = wait_for("the courier return to be opened", lambda: [
        ret for ret in returns.of_order(order_id) if ret.origin == "courier"], describe=lambda: returns.of_order(
        order_id))
    assert len(opened) == 1 and len(returns.of_order(order_id)) == 1
    ret = opened[0]
    assert (ret.status, ret.reason, ret.units) == ("approved", "returned_to_sender", {sku: 2})
    assert not ret.shop_at_fault  # the customer refused it

    received = staff_post(api, f"/admin/returns/{ret.return_id}/receive", {"lines": [{"sku": sku, "restock": 2}]})
    assert received.status_code == 200, received.text
    closed = wait_return(ret.return_id, "closed")

    assert closed.refund is not None and (closed.refund["amount"], closed.refund["by"]) == (0, "none")
    after = stock_of(api, sku)
    assert (after["on_hand"], after["reserved"]) == (before["on_hand"], before["reserved"])
    assert money(order_id) == []
    order = load(order_id)
    assert (order.status, order.refunded_total) == ("RETURNED", 0)


def test_a_return_asked_after_the_return_window_is_refused_and_creates_nothing(stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "LATERET", stock=5, price=120_000)
    placed = delivered(api, sku, 1, "card")
    order_id = placed["order_id"]

    def delivered_days_ago(days: int) -> None:
        """Test setup shortcut: time passes by moving the stored order's delivery back."""
        item = OrderModel.get(order_id, consistent_read=True)
        entry = next(entry for entry in item.timeline if entry.event == "deliver")
        entry.at = clock.iso(clock.now() - timedelta(days=days))
        item.save(condition=OrderModel.version == item.version)
        assert load(order_id).delivered_at == entry.at

    delivered_days_ago(8)
    before = load(order_id)
    refused = request_return(api, placed, {sku: 1}, "changed_mind")
    assert_json_error(refused, 422, "return_window_closed")
    assert refused.json()["error"]["details"]["window_days"] == 7
    after = load(order_id)
    assert returns.of_order(order_id) == []
    assert (after.return_count, after.returned_units, after.timeline) == (0, {}, before.timeline)

    delivered_days_ago(6)  # inside the window the same request is accepted: the window was the reason
    assert request_return(api, placed, {sku: 1}, "changed_mind").status_code == 201


def test_a_return_of_more_units_than_delivered_and_not_yet_returned_is_refused(stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "OVERRET", stock=5, price=90_000)
    placed = delivered(api, sku, 2, "card")
    order_id = placed["order_id"]

    too_many = request_return(api, placed, {sku: 3})
    assert_json_error(too_many, 422, "return_exceeds_delivered")
    assert too_many.json()["error"]["details"]["lines"] == {sku: {"requested": 3, "returnable": 2}}
    assert returns.of_order(order_id) == []

    assert request_return(api, placed, {sku: 1}).status_code == 201
    two_more = request_return(api, placed, {sku: 2})
    assert_json_error(two_more, 422, "return_exceeds_delivered")
    assert two_more.json()["error"]["details"]["lines"] == {sku: {"requested": 2, "returnable": 1}}
    assert request_return(api, placed, {sku: 1}).status_code == 201
    assert_json_error(request_return(api, placed, {sku: 1}), 422, "return_exceeds_delivered")

    order = load(order_id)
    assert (order.returned_units, order.return_count) == ({sku: 2}, 2)
    assert [ret.units for ret in returns.of_order(order_id)] == [{sku: 1}, {sku: 1}]


def test_a_rejected_return_gives_its_units_back_so_they_can_be_asked_for_again(stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "REJRET", stock=5, price=110_000)
    placed = delivered(api, sku, 1, "card")
    order_id = placed["order_id"]

    first = request_return(api, placed, {sku: 1}, "not_as_described")
    assert first.status_code == 201, first.text
    return_id = first.json()["return_id"]
    assert_json_error(request_return(api, placed, {sku: 1}), 422, "return_exceeds_delivered")  # claimed

    reason = "foto tidak menunjukkan kerusakan"
    rejected = staff_post(api, f"/admin/returns/{return_id}/reject", {"reason": reason})
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    ret = wait_return(return_id, "rejected")
    assert ret.decision_note == reason and ret.refund is None
    assert load(order_id).returned_units == {}
    assert money(order_id) == [row for row in money(order_id) if row["kind"] == "payment_received"]

    again = request_return(api, placed, {sku: 1}, "not_as_described")
    assert again.status_code == 201, again.text
    assert again.json()["return_id"] != return_id and again.json()["status"] == "requested"
    assert load(order_id).returned_units == {sku: 1}
