"""The fulfilment worker's steps and the outside events, each safe to run twice (SQS delivers at least once)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.errors import Conflict
from chalicelib.fulfilment import service as fulfilment
from chalicelib.inventory import repository as stock
from chalicelib.orders import repository as orders
from chalicelib.orders import workflow
from chalicelib.orders.lifecycle import TransitionRefused
from chalicelib.payments import service as payments
from chalicelib.payments.sandbox import SandboxGateway
from chalicelib.shipping import tracking, webhooks
from tests.functional.helpers import body_of, create_product, place_order, send


def task(name: str, order_id: str, token: str = "token-1", **extra: Any) -> dict[str, Any]:
    return {"task": name, "order_id": order_id, "token": token, **extra}


def paid_order(client: Any, auth_header: Any, quantity: int = 2, method: str = "card") -> str:
    create_product(client, auth_header("staff"), sku="BTK-A", stock=5, price=200_000)
    order_id = place_order(client, "BTK-A", qty=quantity, payment_method=method)["order_id"]
    SandboxGateway().settle(order_id)
    payments.process_event({"provider": "midtrans", "order_id": order_id})
    return order_id


def test_a_step_that_no_longer_waits_is_reported_not_raised(aws: Any) -> None:
    # GIVEN Step Functions answering as AWS does for a token whose step timed out or was already resumed
    from botocore.stub import Stubber

    from chalicelib import aws as clients

    stepfunctions = clients.client("stepfunctions")
    with Stubber(stepfunctions) as stub:
        stub.add_client_error("send_task_success", service_error_code="TaskTimedOut")
        stub.add_client_error("send_task_failure", service_error_code="InvalidToken")
        stub.add_client_error("send_task_success", service_error_code="ThrottlingException")
        assert workflow.resume("old-token", {"ok": True}) is False
        assert workflow.fail("old-token", workflow.PAYMENT_FAILED, "nobody waits") is False
        with pytest.raises(stepfunctions.exceptions.ClientError):
            workflow.resume("old-token", {"ok": True})  # anything else is a real failure: retried by SQS


def test_payment_step_answers_at_once_when_the_payment_came_first(
        client: Any, auth_header: Any, resumed: list) -> None:
    order_id = paid_order(client, auth_header)
    assert fulfilment.handle_task(task("await_payment", order_id)) == "already paid"
    assert resumed == [("resume", "token-1", {"paid": True})]


def test_committing_stock_sells_reserved_units_exactly_once(client: Any, auth_header: Any, resumed: list) -> None:
    order_id = paid_order(client, auth_header, quantity=2)
    first = fulfilment.handle_task(task("commit_stock", order_id))
    again = fulfilment.handle_task(task("commit_stock", order_id, token="token-2"))
    level = stock.read_level("BTK-A")
    assert (first, again) == ("stock committed", "already committed")
    assert (level.on_hand, level.reserved) == (3, 0)
    assert orders.get(order_id).status == "READY_TO_PACK"
    assert [call[0] for call in resumed] == ["resume", "resume"]


def test_packing_then_booking_ships_the_parcel_once(client: Any, auth_header: Any, resumed: list) -> None:
    order_id = paid_order(client, auth_header)
    fulfilment.handle_task(task("commit_stock", order_id))
    fulfilment.handle_task(task("await_packing", order_id, token="packing-token"))
    fulfilment.mark_packed(order_id, actor="staff-1")
    assert ("resume", "packing-token", {"packed": True, "by": "staff-1"}) in resumed

    booked = fulfilment.handle_task(task("book_shipment", order_id, token="book-1"))
    again = fulfilment.handle_task(task("book_shipment", order_id, token="book-2"))

    order = orders.get(order_id)
    assert (booked, again) == ("booked", "already booked")
    assert order.status == "SHIPPED"
    assert order.shipment["waybill_id"].startswith("0110")  # JNE waybills from the sandbox courier
    with pytest.raises(Conflict):
        fulfilment.mark_packed(order_id, actor="staff-1")


def test_courier_statuses_arriving_out_of_order_end_delivered_and_wake_the_workflow(
        client: Any, auth_header: Any, resumed: list) -> None:
    order_id = paid_order(client, auth_header)
    fulfilment.handle_task(task("commit_stock", order_id))
    fulfilment.mark_packed(order_id, actor="staff-1")
    fulfilment.handle_task(task("book_shipment", order_id))
    fulfilment.handle_task(task("await_delivery", order_id, token="delivery-token"))
    booking_id = orders.get(order_id).shipment["booking_id"]

    def update(status: str, at: str) -> str:
        return webhooks.on_courier_update(tracking.CourierUpdate(
            kind="order.status", booking_id=booking_id, waybill_id=None, tracking_id=None, status=status,
            price=None, at=at))

    assert update("delivered", "2026-11-24T05:00:00Z").startswith("recorded delivered")
    update("picked", "2026-11-23T09:00:00Z")
    assert update("picked", "2026-11-23T09:00:00Z") == "duplicate"

    order = orders.get(order_id)
    assert order.status == "DELIVERED"
    assert order.shipment["status"] == "delivered"
    assert [event["status"] for event in order.shipment["history"]] == ["picked", "delivered"]
    assert ("resume", "delivery-token", {"outcome": "delivered", "status": "delivered"}) in resumed


def test_cancel_before_payment_fails_the_payment_step_and_release_ends_the_order(
        client: Any, auth_header: Any, resumed: list) -> None:
    create_product(client, auth_header("staff"), sku="BTK-A", stock=5)
    order_id = place_order(client, "BTK-A", qty=2)["order_id"]
    fulfilment.handle_task(task("await_payment", order_id, token="pay-token"))

    fulfilment.request_cancel(orders.get(order_id), actor="guest")
    fulfilment.handle_task(task("cancel_order", order_id))

    assert ("fail", "pay-token", "OrderCancelled") in resumed
    assert orders.get(order_id).status == "CANCELLED"
    assert stock.read_level("BTK-A").reserved == 0
    assert SandboxGateway().status(order_id).transaction_status == "cancel"  # the VA can no longer be paid


def test_cancel_after_payment_returns_stock_and_refunds_the_payment(
        client: Any, auth_header: Any, resumed: list) -> None:
    from chalicelib.payments import repository as ledger

    order_id = paid_order(client, auth_header, quantity=2)
    fulfilment.handle_task(task("commit_stock", order_id))
    total = orders.get(order_id).totals.total

    fulfilment.request_cancel(orders.get(order_id), actor="guest")
    first = fulfilment.handle_task(task("cancel_order", order_id))
    again = fulfilment.handle_task(task("cancel_order", order_id, token="t2"))

    # the retry answers with the same refund and refunds nothing more (the ledger below holds one refund line)
    assert first == again == f"cancelled, refunded Rp{total:,}"
    level = stock.read_level("BTK-A")
    assert (level.on_hand, level.reserved) == (5, 0)
    assert [(e["kind"], e["amount"]) for e in ledger.entries(order_id)] == [("payment_received", total),
                                                                           ("refund", -total)]
    assert SandboxGateway().status(order_id).transaction_status == "refund"


def test_a_packed_order_can_no_longer_be_cancelled(client: Any, auth_header: Any, resumed: list) -> None:
    order_id = paid_order(client, auth_header)
    fulfilment.handle_task(task("commit_stock", order_id))
    fulfilment.mark_packed(order_id, actor="staff-1")
    with pytest.raises(Conflict) as refused:
        fulfilment.request_cancel(orders.get(order_id), actor="guest")
    assert refused.value.code == "not_cancellable" and "PACKED" in refused.value.message


def test_of_a_cancel_and_a_packing_racing_on_the_same_read_exactly_one_wins(
        client: Any, auth_header: Any, resumed: list) -> None:
    # GIVEN an order ready to pack, read by the customer's cancel request before staff packed it
    order_id = paid_order(client, auth_header)
    fulfilment.handle_task(task("commit_stock", order_id))
    seen_by_customer = orders.get(order_id)
    # WHEN staff pack first and the cancel lands with its older read
    fulfilment.mark_packed(order_id, actor="staff-1")
    with pytest.raises(TransitionRefused) as refused:
        fulfilment.request_cancel(seen_by_customer, actor="guest")
    # THEN the cancel is refused with the truth, and the order is packed with no cancel pending
    assert refused.value.order_status == "PACKED" and refused.value.code == "not_cancellable"
    stored = orders.get(order_id)
    assert (stored.status, stored.cancel_requested) == ("PACKED", False)


def test_once_the_customer_asked_to_cancel_staff_cannot_pack(client: Any, auth_header: Any, resumed: list) -> None:
    order_id = paid_order(client, auth_header)
    fulfilment.handle_task(task("commit_stock", order_id))
    fulfilment.handle_task(task("await_packing", order_id, token="packing-token"))

    answer = fulfilment.request_cancel(orders.get(order_id), actor="guest")
    with pytest.raises(TransitionRefused) as refused:
        fulfilment.mark_packed(order_id, actor="staff-1")

    assert answer["cancel_requested"] is True and answer["timeline"][-1]["note"] == "cancellation requested"
    assert refused.value.code == "not_ready_to_pack" and "asked to cancel" in refused.value.message
    assert ("fail", "packing-token", "OrderCancelled") in resumed
    fulfilment.handle_task(task("cancel_order", order_id, token="cancel-token"))
    assert orders.get(order_id).status == "CANCELLED"
    level = stock.read_level("BTK-A")
    assert (level.on_hand, level.reserved) == (5, 0)


def test_a_payment_that_races_the_deadline_is_flagged_not_released(
        client: Any, auth_header: Any, resumed: list) -> None:
    order_id = paid_order(client, auth_header)
    fulfilment.handle_task(task("release_stock", order_id, event="expire"))
    order = orders.get(order_id)
    assert order.status == "NEEDS_REVIEW"
    assert stock.read_level("BTK-A").reserved == 2


def test_a_stuck_workflow_flags_the_order_for_staff(client: Any, auth_header: Any, resumed: list) -> None:
    order_id = paid_order(client, auth_header)
    failure = {"Error": "BookingRejected", "Cause": "the courier refused the booking: no service to 99999"}
    fulfilment.handle_task(task("needs_attention", order_id, failure=failure))
    order = orders.get(order_id)
    assert order.status == "NEEDS_ATTENTION"
    assert order.attention == "BookingRejected: the courier refused the booking: no service to 99999"
    assert order.timeline[-1].note == f"needs attention: {order.attention}"


def test_a_step_that_loses_a_race_asks_the_state_machine_to_retry_it(
        client: Any, auth_header: Any, resumed: list, monkeypatch: pytest.MonkeyPatch) -> None:
    order_id = paid_order(client, auth_header)

    def lost_race(*args: Any, **kwargs: Any) -> None:
        raise Conflict(f"order {order_id} changed meanwhile", code="order_conflict")

    monkeypatch.setattr(fulfilment.orders, "transition_with_stock", lost_race)
    outcome = fulfilment.handle_task(task("commit_stock", order_id))
    assert outcome.startswith("retry") and resumed == [("fail", "token-1", "WorkerError")]


def test_a_step_the_order_is_in_no_state_for_is_refused_with_its_reason(
        client: Any, auth_header: Any, resumed: list) -> None:
    order_id = paid_order(client, auth_header)
    outcome = fulfilment.handle_task(task("book_shipment", order_id))
    assert outcome.startswith("refused (order is PAID") and resumed == [("fail", "token-1", "StepRefused")]


def test_the_cancel_and_packed_routes_take_no_body_and_refuse_one(
        client: Any, auth_header: Any, resumed: list) -> None:
    order = place_order_with_token(client, auth_header)
    guest = {"X-Order-Token": order["access_token"]}
    path = f"/orders/{order['order_id']}"

    refused_cancel = send(client, "POST", f"{path}/cancel", {"reason": "changed my mind"}, guest)
    refused_pack = send(client, "POST", f"/admin{path}/packed", {"note": "fragile"}, auth_header("staff"))

    assert refused_cancel.status_code == 400 and body_of(refused_cancel)["error"]["details"]["field"] == "reason"
    assert refused_pack.status_code == 400 and body_of(refused_pack)["error"]["details"]["field"] == "note"
    assert not orders.get(order["order_id"]).cancel_requested  # the refused request changed nothing
    assert send(client, "POST", f"{path}/cancel", {}, guest).status_code == 202


def place_order_with_token(client: Any, auth_header: Any) -> dict[str, Any]:
    create_product(client, auth_header("staff"), sku="BTK-A", stock=5)
    return place_order(client, "BTK-A", qty=1)


def test_a_bank_transfer_cancelled_after_payment_is_paid_back_by_a_payout_finance_confirms(
        client: Any, auth_header: Any, resumed: list) -> None:
    from chalicelib.payments import repository as ledger

    # GIVEN a virtual-account order, paid and committed, whose customer cancels before packing
    create_product(client, auth_header("staff"), sku="BTK-A", stock=5, price=200_000)
    placed = place_order(client, "BTK-A", qty=1, payment_method="bank_transfer")
    order_id, guest = placed["order_id"], {"X-Order-Token": placed["access_token"]}
    SandboxGateway().settle(order_id)
    payments.process_event({"provider": "midtrans", "order_id": order_id})
    fulfilment.handle_task(task("commit_stock", order_id))
    fulfilment.request_cancel(orders.get(order_id), actor="guest")
    total = orders.get(order_id).totals.total

    # WHEN the cancel step runs (twice, as SQS may deliver it) and waits for the payout
    assert fulfilment.handle_task(task("cancel_order", order_id, token="cancel-1")).endswith("awaiting_account")
    fulfilment.handle_task(task("cancel_order", order_id, token="cancel-2"))
    payout_id = f"refund-{order_id}"
    assert ("resume", "cancel-1", {"cancelled": True, "refunded": 0, "payout_id": payout_id}) in resumed
    assert fulfilment.handle_task(task("await_payout", order_id, token="payout-token", payout_id=payout_id)) == \
        "waiting for the payout"
    assert SandboxGateway().status(order_id).transaction_status == "settlement"  # the gateway refunded nothing

    # THEN finance cannot pay before the customer gives an account, and nobody else may see payouts
    finance = auth_header("finance")
    early = send(client, "POST", f"/admin/payouts/{payout_id}/paid", {"reference": "TRF-001"}, finance)
    assert early.status_code == 409 and body_of(early)["error"]["code"] == "payout_not_ready"
    assert send(client, "GET", "/admin/payouts", headers=auth_header("customer")).status_code == 403
    bad_bank = send(client, "POST", f"/orders/{order_id}/refund-account",
                    {"bank": "bank-of-nowhere", "account_number": "1234567890", "account_holder": "Sari"}, guest)
    assert bad_bank.status_code == 400 and body_of(bad_bank)["error"]["details"]["field"] == "bank"
    given = send(client, "POST", f"/orders/{order_id}/refund-account",
                 {"bank": "bca", "account_number": "1234 5678 90", "account_holder": "Sari Wulandari"}, guest)
    assert given.status_code == 200 and body_of(given)["items"][0]["account"]["account_number"] == "******7890"
    listed = body_of(send(client, "GET", "/admin/payouts?status=pending", headers=finance))["items"]
    assert [(p["payout_id"], p["amount"], p["account"]["account_number"]) for p in listed] == \
        [(payout_id, total, "1234567890")]

    paid = send(client, "POST", f"/admin/payouts/{payout_id}/paid", {"reference": "TRF-001"}, finance)
    again = send(client, "POST", f"/admin/payouts/{payout_id}/paid", {"reference": "TRF-001"}, finance)
    other = send(client, "POST", f"/admin/payouts/{payout_id}/paid", {"reference": "TRF-999"}, finance)
    assert (paid.status_code, again.status_code, other.status_code) == (200, 200, 409)
    assert ("resume", "payout-token", {"paid_out": total, "payout_id": payout_id}) in resumed
    assert ledger.balance(order_id) == 0
    assert [(row["kind"], row["amount"]) for row in ledger.entries(order_id) if row["kind"] == "payout"] == \
        [("payout", -total)]
    back = body_of(send(client, "GET", f"/orders/{order_id}/refunds", headers=guest))
    assert back["returned_total"] == total and back["payouts"][0]["status"] == "paid"
