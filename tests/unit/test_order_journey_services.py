"""The order's journey through the services, on in-memory fakes: every status change goes through the lifecycle,
races are decided by the version, and each step is safe to run twice. DynamoDB itself is proven in
tests/functional (conditions, transactions); here only the rules."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.fulfilment import service as fulfilment
from chalicelib.orders import lifecycle
from chalicelib.orders.domain import Order
from chalicelib.orders.lifecycle import TransitionRefused
from chalicelib.payments import service as payments
from chalicelib.payments.gateway import GatewayStatus
from tests.unit.order_fakes import ShopFakes, an_order

ORDER_ID = "TK-261201-ABCDEF"


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> ShopFakes:
    return ShopFakes().install(monkeypatch)


def task(name: str, token: str = "token-1", **extra: Any) -> dict[str, Any]:
    return {"task": name, "order_id": ORDER_ID, "token": token, **extra}


def settled(amount: int, status: str = "settlement") -> GatewayStatus:
    return GatewayStatus(order_id=ORDER_ID, transaction_status=status, fraud_status="accept",
                         gross_amount=f"{amount}.00", payment_type="bank_transfer", transaction_id="tx-1", raw={})


def ready_to_pack(shop: ShopFakes) -> None:
    shop.orders.add(an_order(status="PAID"))
    fulfilment.handle_task(task("commit_stock"))


def paid_and_ready_to_pack(shop: ShopFakes, payment_type: str) -> Order:
    """An order ready to pack whose payment the ledger holds, paid with the gateway's `payment_type`."""
    ready_to_pack(shop)
    order = shop.orders.get(ORDER_ID)
    assert order is not None
    shop.ledger.record(ORDER_ID, kind="payment_received", amount=order.totals.total, reference="tx-1",
                       method=payment_type)
    return order


def test_a_payment_moves_the_order_once_and_wakes_the_waiting_step(shop: ShopFakes) -> None:
    order = shop.orders.add(an_order())
    fulfilment.handle_task(task("await_payment", token="pay-token"))

    first = payments.apply_gateway_status(ORDER_ID, settled(order.totals.total), source="midtrans")
    again = payments.apply_gateway_status(ORDER_ID, settled(order.totals.total), source="midtrans")

    stored = shop.orders.get(ORDER_ID)
    assert (first, again) == ("paid", "already handled")
    assert stored is not None and stored.status == "PAID" and stored.timeline[-1].event == lifecycle.PAY
    assert shop.answers == [("resume", "pay-token", {"paid": True, "amount": order.totals.total})]
    assert shop.told == [("order_placed", ORDER_ID), ("payment_received", ORDER_ID)]  # the first step tells first


def test_a_wrong_amount_is_flagged_for_review_with_both_figures(shop: ShopFakes) -> None:
    order = shop.orders.add(an_order())
    assert payments.apply_gateway_status(ORDER_ID, settled(order.totals.total - 1), source="midtrans") == \
        "amount mismatch flagged"
    stored = shop.orders.get(ORDER_ID)
    assert stored is not None and stored.status == "NEEDS_REVIEW"
    assert stored.attention == f"gateway reports Rp{order.totals.total - 1:,} paid but the order total is " \
                               f"Rp{order.totals.total:,}"


def test_a_payment_after_the_order_expired_is_flagged_to_be_refunded(shop: ShopFakes) -> None:
    order = shop.orders.add(an_order(status="EXPIRED"))
    assert payments.apply_gateway_status(ORDER_ID, settled(order.totals.total), source="midtrans") == \
        "late payment flagged"
    stored = shop.orders.get(ORDER_ID)
    assert stored is not None and stored.status == "NEEDS_REVIEW" and "after the order ended (EXPIRED)" in \
        str(stored.attention)


def test_a_denied_payment_ends_the_order_releases_its_stock_and_fails_the_waiting_step(shop: ShopFakes) -> None:
    shop.orders.add(an_order())
    fulfilment.handle_task(task("await_payment", token="pay-token"))
    assert payments.apply_gateway_status(ORDER_ID, settled(0, "deny"), source="midtrans") == "payment ended (deny)"
    stored = shop.orders.get(ORDER_ID)
    assert stored is not None and stored.status == "PAYMENT_FAILED"
    assert shop.stock.moves == [("release", "BTK-A", 0, -2)]
    assert ("fail", "pay-token", "PaymentFailed") in shop.answers
    # the state machine's FailPayment step then finds the work done and changes nothing
    fulfilment.handle_task(task("release_stock", token="release-token", event=lifecycle.FAIL_PAYMENT))
    assert shop.stock.moves == [("release", "BTK-A", 0, -2)]
    # ...but settles the order's points again, in case the first try stopped before doing so
    assert [facts.unwound for facts in shop.points.settled] == [True, True]


def test_the_whole_prepaid_journey_goes_through_the_table(shop: ShopFakes) -> None:
    ready_to_pack(shop)
    fulfilment.handle_task(task("await_packing", token="packing-token"))
    fulfilment.mark_packed(ORDER_ID, actor="staff-1")
    fulfilment.handle_task(task("book_shipment", token="book-token"))
    booking_id = shop.orders.get(ORDER_ID).shipment["booking_id"]  # type: ignore[union-attr]
    from chalicelib.shipping import tracking, webhooks

    for status, at in (("picked", "2026-12-01T05:00:00Z"), ("delivered", "2026-12-02T05:00:00Z")):
        webhooks.on_courier_update(tracking.CourierUpdate(kind="order.status", booking_id=booking_id,
                                                          waybill_id=None, tracking_id=None, status=status,
                                                          price=None, at=at))
    fulfilment.handle_task(task("complete_order", token="complete-token"))

    stored = shop.orders.get(ORDER_ID)
    assert stored is not None
    assert [entry.event for entry in stored.timeline[1:]] == ["commit_stock", "pack", "ship", "pick_up", "deliver",
                                                              "complete"]
    assert [entry.status for entry in stored.timeline[1:]] == ["READY_TO_PACK", "PACKED", "SHIPPED", "IN_TRANSIT",
                                                               "DELIVERED", "COMPLETED"]
    assert shop.stock.moves == [("commit", "BTK-A", -2, -2)]
    assert [event for event, _ in shop.told] == ["shipped", "delivered"]
    completed = shop.points.last(ORDER_ID)  # the earning is planned from the completed order's facts
    assert (completed.completed, completed.unwound, completed.delivered_at) == (True, False, stored.delivered_at)
    assert completed.goods_paid == 400_000 and completed.customer_id == "cust-1"


def test_a_cancel_and_a_packing_on_the_same_read_cannot_both_win(shop: ShopFakes) -> None:
    ready_to_pack(shop)
    read_by_customer = shop.orders.get(ORDER_ID)
    assert read_by_customer is not None
    fulfilment.mark_packed(ORDER_ID, actor="staff-1")
    with pytest.raises(TransitionRefused) as refused:
        fulfilment.request_cancel(read_by_customer, actor="customer")
    assert (refused.value.code, refused.value.order_status) == ("not_cancellable", "PACKED")


def test_a_pending_cancel_wins_over_a_later_packing_and_ends_cancelled_refunded_and_restocked(
        shop: ShopFakes) -> None:
    order = paid_and_ready_to_pack(shop, "credit_card")
    fulfilment.handle_task(task("await_packing", token="packing-token"))

    answer = fulfilment.request_cancel(order, actor="customer")
    with pytest.raises(TransitionRefused, match="the customer asked to cancel it"):
        fulfilment.mark_packed(ORDER_ID, actor="staff-1")
    assert ("fail", "packing-token", "OrderCancelled") in shop.answers
    first = fulfilment.handle_task(task("cancel_order", token="cancel-1"))
    again = fulfilment.handle_task(task("cancel_order", token="cancel-2"))

    assert answer["cancel_requested"] is True
    assert first == again == f"cancelled, refunded Rp{order.totals.total:,}"  # the retry refunds nothing more
    assert shop.stock.moves == [("commit", "BTK-A", -2, -2), ("restock", "BTK-A", 2, 0)]
    assert shop.ledger.balance(ORDER_ID) == 0 and len(shop.gateway.refunds) == 1
    assert shop.orders.get(ORDER_ID).status == "CANCELLED"  # type: ignore[union-attr]


def test_a_bank_transfer_the_gateway_cannot_refund_becomes_a_payout_the_workflow_waits_for(shop: ShopFakes) -> None:
    order = paid_and_ready_to_pack(shop, "bank_transfer")
    fulfilment.request_cancel(order, actor="customer")
    first = fulfilment.handle_task(task("cancel_order", token="cancel-1"))
    again = fulfilment.handle_task(task("cancel_order", token="cancel-2"))

    payout_id = f"refund-{ORDER_ID}"
    assert first == again == f"cancelled, payout {payout_id} of Rp{order.totals.total:,} awaiting_account"
    assert shop.gateway.refunds == [] and list(shop.ledger.payouts) == [payout_id]
    assert ("resume", "cancel-1", {"cancelled": True, "refunded": 0, "payout_id": payout_id}) in shop.answers
    assert ("refund_account_needed", ORDER_ID) in shop.told and shop.ledger.balance(ORDER_ID) == order.totals.total


def test_a_card_refund_the_gateway_refuses_for_good_becomes_a_payout_instead_of_a_stuck_order(
        shop: ShopFakes) -> None:
    order = paid_and_ready_to_pack(shop, "credit_card")
    shop.gateway.refuses_refunds = True
    fulfilment.request_cancel(order, actor="customer")
    outcome = fulfilment.handle_task(task("cancel_order", token="cancel-1"))
    assert outcome.endswith("awaiting_account") and list(shop.ledger.payouts) == [f"refund-{ORDER_ID}"]
    assert shop.orders.get(ORDER_ID).status == "CANCELLED"  # type: ignore[union-attr]


def test_a_shopeepay_refund_at_night_waits_for_0600_wib_without_promising_anything(
        shop: ShopFakes, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import clock

    order = paid_and_ready_to_pack(shop, "shopeepay")
    fulfilment.request_cancel(order, actor="customer")
    monkeypatch.setattr(clock, "now", lambda: clock.parse_iso("2026-12-01T17:30:00Z"))  # 00:30 WIB
    night = fulfilment.handle_task(task("cancel_order", token="cancel-1"))
    monkeypatch.setattr(clock, "now", lambda: clock.parse_iso("2026-12-01T23:05:00Z"))  # 06:05 WIB
    morning = fulfilment.handle_task(task("cancel_order", token="cancel-2"))

    assert night.startswith("deferred") and "06:00 WIB" in night
    assert ("fail", "cancel-1", "RefundDeferred") in shop.answers
    assert morning == f"cancelled, refunded Rp{order.totals.total:,}" and len(shop.gateway.refunds) == 1
    stored = shop.orders.get(ORDER_ID)
    assert stored is not None and stored.refunds == {f"refund-{ORDER_ID}": order.totals.total}


def test_finance_asking_for_a_shopeepay_refund_at_night_gets_a_503_naming_when_and_nothing_is_promised(
        shop: ShopFakes, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import clock
    from chalicelib.errors import ServiceUnavailable

    order = paid_and_ready_to_pack(shop, "shopeepay")
    shop.orders.add(replace(shop.orders.get(ORDER_ID), status="COMPLETED"))  # type: ignore[type-var]
    monkeypatch.setattr(clock, "now", lambda: clock.parse_iso("2026-12-01T17:30:00Z"))  # 00:30 WIB
    with pytest.raises(ServiceUnavailable) as deferred:
        payments.refund(order, amount=10_000, reason="goodwill", refund_key="manual-1", actor="finance-1")
    assert deferred.value.code == "refund_deferred" and "06:00 WIB" in deferred.value.message
    assert shop.orders.get(ORDER_ID).refunds == {} and shop.gateway.refunds == []  # type: ignore[union-attr]


def test_cancelling_an_unpaid_order_releases_the_reservation_and_voids_the_charge(shop: ShopFakes) -> None:
    shop.orders.add(replace(an_order(), payment={"va_number": "1234"}))
    fulfilment.handle_task(task("await_payment", token="pay-token"))
    fulfilment.request_cancel(shop.orders.get(ORDER_ID), actor="guest")  # type: ignore[arg-type]
    fulfilment.handle_task(task("cancel_order", token="cancel-token"))
    assert shop.orders.get(ORDER_ID).status == "CANCELLED"  # type: ignore[union-attr]
    assert shop.stock.moves == [("release", "BTK-A", 0, -2)]
    assert shop.gateway.voided == [ORDER_ID] and shop.gateway.refunds == []
    assert ("fail", "pay-token", "OrderCancelled") in shop.answers
    assert shop.points.last(ORDER_ID).unwound, "the points it spent go back"


def test_asking_to_cancel_twice_answers_the_pending_request(shop: ShopFakes) -> None:
    shop.orders.add(an_order())
    first = fulfilment.request_cancel(shop.orders.get(ORDER_ID), actor="guest")  # type: ignore[arg-type]
    second = fulfilment.request_cancel(shop.orders.get(ORDER_ID), actor="guest")  # type: ignore[arg-type]
    assert first == second and [e["event"] for e in second["timeline"]].count("request_cancel") == 1


def test_a_step_that_loses_its_transaction_to_another_writer_is_retried_by_the_state_machine(
        shop: ShopFakes) -> None:
    order = shop.orders.add(an_order(status="PAID"))
    shop.orders.add(replace(order, version=order.version + 1))  # someone wrote after the step read
    original_get = shop.orders.get
    shop.orders.get = lambda order_id: order  # type: ignore[method-assign]  # the step still sees the old one
    outcome = fulfilment.handle_task(task("commit_stock"))
    shop.orders.get = original_get  # type: ignore[method-assign]
    assert outcome.startswith("retry") and shop.answers == [("fail", "token-1", "WorkerError")]
    assert shop.stock.moves == []


def test_the_payment_window_closing_on_a_paid_order_is_flagged_not_released(shop: ShopFakes) -> None:
    shop.orders.add(an_order(status="PAID"))
    fulfilment.handle_task(task("release_stock", event=lifecycle.EXPIRE))
    stored = shop.orders.get(ORDER_ID)
    assert stored is not None and stored.status == "NEEDS_REVIEW" and "payment window closed" in str(stored.attention)
    assert shop.stock.moves == [] and shop.answers == [("resume", "token-1", {"released": False})]


def test_a_stuck_workflow_puts_the_failed_steps_error_and_cause_on_the_timeline(shop: ShopFakes) -> None:
    shop.orders.add(an_order(status="PACKED"))
    failure = {"Error": "CourierUnavailable", "Cause": "the courier is unavailable: 503 from Biteship"}
    fulfilment.handle_task(task("needs_attention", failure=failure))
    fulfilment.handle_task(task("needs_attention", token="again", failure=failure))  # a redelivery
    stored = shop.orders.get(ORDER_ID)
    assert stored is not None and stored.status == "NEEDS_ATTENTION"
    assert stored.attention == "CourierUnavailable: the courier is unavailable: 503 from Biteship"
    assert [entry.event for entry in stored.timeline].count("flag_for_attention") == 1


def test_the_sweep_expires_only_overdue_unpaid_orders_and_ends_their_waiting_step(
        shop: ShopFakes, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import clock

    monkeypatch.setattr(clock, "now_iso", lambda: "2026-12-01T05:00:00Z")
    monkeypatch.setattr(clock, "now", lambda: clock.parse_iso("2026-12-01T05:00:00Z"))
    shop.orders.add(an_order())
    shop.orders.add(replace(an_order("TK-261201-GHJKLM"), payment_deadline="2026-12-01T06:00:00Z"))
    shop.orders.store_token(ORDER_ID, "payment", "pay-token")

    assert fulfilment.expire_overdue_orders() == {"expired": 1, "skipped": 0}
    assert shop.orders.get(ORDER_ID).status == "EXPIRED"  # type: ignore[union-attr]
    assert shop.orders.get("TK-261201-GHJKLM").status == "PENDING_PAYMENT"  # type: ignore[union-attr]
    assert shop.answers == [("fail", "pay-token", "PaymentExpired")] and shop.told == [("expired", ORDER_ID)]


# ---- the steps that decide where a Choice state would (each Choice costs every order a state transition) ---------


@pytest.mark.parametrize(("status", "answer"), [("PENDING_PAYMENT", None), ("PAID", "resume"),
                                                ("PAYMENT_FAILED", "fail")])
def test_the_first_step_tells_the_customer_the_order_is_placed_whatever_became_of_its_payment(
        shop: ShopFakes, monkeypatch: pytest.MonkeyPatch, status: str, answer: str | None) -> None:
    told: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
    monkeypatch.setattr(fulfilment.notifications, "request",
                        lambda event, order, extra=None, key=None: told.append((event, order, extra)))
    instructions = {"method": "bank_transfer", "bank": "bca", "va_number": "12345678901"}
    shop.orders.add(replace(an_order(status=status), payment=instructions))

    fulfilment.handle_task(task("await_payment", token="pay-token"))

    ((event, order, extra),) = told
    assert (event, order["order_id"], extra) == ("order_placed", ORDER_ID, {"payment": instructions})
    assert [kind for kind, _, _ in shop.answers] == ([answer] if answer else [])


def test_cash_on_delivery_waits_for_no_payment_the_first_step_answers_at_once(shop: ShopFakes) -> None:
    shop.orders.add(an_order(status="CONFIRMED", method="cod"))
    assert fulfilment.handle_task(task("await_payment", token="pay-token")) == "cash on delivery: nothing to wait for"
    assert shop.answers == [("resume", "pay-token", {"paid": False, "cash_on_delivery": True})]
    assert shop.told == [("order_placed", ORDER_ID)]


def test_a_cash_on_delivery_order_whose_first_step_timed_out_is_refused_to_a_person_not_expired(
        shop: ShopFakes) -> None:
    shop.orders.add(an_order(status="CONFIRMED", method="cod"))
    assert fulfilment.handle_task(task("release_stock", event=lifecycle.EXPIRE)) == "refused (cash on delivery)"
    assert shop.answers == [("fail", "token-1", "StepRefused")]
    assert shop.orders.get(ORDER_ID).status == "CONFIRMED" and shop.stock.moves == []  # type: ignore[union-attr]


@pytest.mark.parametrize("courier_status", ["returned", "rejected", "courier_not_found", "cancelled"])
def test_a_parcel_the_courier_did_not_deliver_fails_completion_into_the_returned_parcel_step(
        shop: ShopFakes, courier_status: str) -> None:
    shop.orders.add(replace(an_order(status="IN_TRANSIT"), shipment={"booking_id": "b-1", "status": courier_status}))

    outcome = fulfilment.handle_task(task("complete_order", token="complete-token"))

    assert outcome == f"not delivered ({courier_status})"
    assert shop.answers == [("fail", "complete-token", "ParcelNotDelivered")]
    assert shop.orders.get(ORDER_ID).status == "IN_TRANSIT"  # type: ignore[union-attr]  # FlagReturnedParcel's work


def test_a_delivered_parcel_completes_even_when_the_courier_says_more_later(shop: ShopFakes) -> None:
    shop.orders.add(replace(an_order(status="DELIVERED"), shipment={"booking_id": "b-1", "status": "returned"}))
    assert fulfilment.handle_task(task("complete_order", token="complete-token")) == "completed"
    assert shop.answers == [("resume", "complete-token", {"completed": True})]


@pytest.mark.parametrize(("method", "timeout"), [("cod", 3600), ("bank_transfer", 1800)])
def test_the_first_step_waits_until_the_payment_deadline_or_an_hour_for_cash_on_delivery(
        monkeypatch: pytest.MonkeyPatch, method: str, timeout: int) -> None:
    from chalicelib import clock
    from chalicelib.orders import service as orders
    from chalicelib.orders import workflow

    started: list[tuple[str, int]] = []
    monkeypatch.setattr(workflow, "start", lambda order_id, *, payment_timeout_seconds: started.append(
        (order_id, payment_timeout_seconds)))
    monkeypatch.setattr(clock, "now", lambda: clock.parse_iso("2026-12-01T03:30:00Z"))  # the deadline is at 04:00
    order = an_order(method=method, status="CONFIRMED" if method == "cod" else "PENDING_PAYMENT")
    orders.start_workflow(replace(order, payment_deadline=None) if method == "cod" else order)
    assert started == [(ORDER_ID, timeout)]
