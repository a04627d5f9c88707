"""Couriers as they really behave, through the real app on a mocked AWS account: the sandbox courier's books and armed
faults in its DynamoDB table (what tests, the local stack and `make courier-fault` share), a booking whose answer was
lost found again by the order's reference, and a lost `delivered` webhook caught up by the hourly poll schedule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chalicelib import clock, config
from chalicelib.fulfilment import service as fulfilment
from chalicelib.orders import repository as orders
from chalicelib.orders import workflow
from chalicelib.payments import service as payments
from chalicelib.payments.sandbox import SandboxGateway
from chalicelib.shipping import adapters, tracking, webhooks
from chalicelib.shipping.couriers import (
    DROP_WEBHOOK,
    TIMEOUT_AFTER_BOOKING,
    WEBHOOK_TWICE,
    Booking,
    CourierOutcomeUnknown,
    SandboxFault,
)
from chalicelib.shipping.repository import DynamoSandboxBooks
from tests.functional.helpers import create_product, place_order


def task(name: str, order_id: str, token: str, **extra: Any) -> dict[str, Any]:
    return {"task": name, "order_id": order_id, "token": token, **extra}


def packed_order(client: Any, auth_header: Any) -> str:
    create_product(client, auth_header("staff"), sku="BTK-A", stock=5, price=200_000)
    order_id = place_order(client, "BTK-A", qty=1, payment_method="card")["order_id"]
    SandboxGateway().settle(order_id)
    payments.process_event({"provider": "midtrans", "order_id": order_id})
    fulfilment.handle_task(task("commit_stock", order_id, "commit"))
    fulfilment.mark_packed(order_id, actor="staff-1")
    return order_id


def test_the_sandbox_books_and_faults_live_in_its_table_for_every_process(aws: Any) -> None:
    # GIVEN a fault armed the way `make courier-fault` arms it
    armed = adapters.arm_sandbox_fault(WEBHOOK_TWICE, times=2, order_id="TK-1", status="Delivered")
    # THEN another sandbox (another process: the local stack's worker) sees it and uses it up, once per take
    books = DynamoSandboxBooks()
    assert armed == SandboxFault(WEBHOOK_TWICE, remaining=2, reference="TK-1", status="delivered")
    assert books.armed() == [armed]
    assert books.take_fault((WEBHOOK_TWICE,), reference="TK-2", status="delivered") is None  # another order
    assert books.take_fault((WEBHOOK_TWICE,), reference="TK-1", status="picked") is None  # another status
    assert books.take_fault((DROP_WEBHOOK,), reference="TK-1", status="delivered") is None  # another fault
    assert [books.take_fault((WEBHOOK_TWICE,), reference="TK-1", status="delivered") for _ in range(3)] == [
        WEBHOOK_TWICE, WEBHOOK_TWICE, None]
    assert books.armed() == []
    with pytest.raises(ValueError, match="unknown sandbox courier fault"):
        adapters.arm_sandbox_fault("lost_in_the_jungle")


def test_the_sandbox_keeps_each_booking_under_the_reference_with_its_journey(
        client: Any, auth_header: Any, resumed: list) -> None:
    order_id = packed_order(client, auth_header)
    courier = adapters.sandbox_courier()
    fulfilment.handle_task(task("book_shipment", order_id, "book"))
    booking = courier.find_booking(order_id)
    assert isinstance(booking, Booking)
    assert booking.booking_id == orders.get(order_id).shipment["booking_id"]  # type: ignore[union-attr]
    sent = courier.report(order_id, [("picked", clock.now_iso())])
    assert [body["status"] for body in sent] == ["picked"]
    fresh = adapters.sandbox_courier()  # what a new process (the local stack's worker) reads back
    assert [event.status for event in fresh.tracking(booking)] == ["confirmed", "picked"]


def test_a_lost_booking_answer_is_recovered_by_the_orders_reference_one_booking_one_waybill(
        client: Any, auth_header: Any, resumed: list) -> None:
    # GIVEN the sandbox courier books the next parcel and loses its answer
    order_id = packed_order(client, auth_header)
    adapters.arm_sandbox_fault(TIMEOUT_AFTER_BOOKING, order_id=order_id)
    # WHEN the workflow books it, then RecoverBooking asks again
    first = fulfilment.handle_task(task("book_shipment", order_id, "book"))
    again = fulfilment.handle_task(task("book_shipment", order_id, "recover", **{workflow.RECOVER: True}))
    # THEN the first booking is reused: one pickup at the courier, its waybill on the shipped order
    assert (first, again) == ("outcome unknown", "booking found again")
    assert ("fail", "book", workflow.COURIER_OUTCOME_UNKNOWN) in resumed
    [parcel] = DynamoSandboxBooks().of_reference(order_id)
    order = orders.get(order_id)
    assert order is not None and order.status == "SHIPPED"
    assert order.shipment and order.shipment["waybill_id"] == parcel.booking.waybill_id
    assert [entry.status for entry in order.timeline].count("SHIPPED") == 1


def test_a_dropped_delivered_webhook_is_delivered_by_the_poll_schedule_once(
        client: Any, auth_header: Any, resumed: list, at: Any) -> None:
    # GIVEN a parcel the courier delivered at 12:00 UTC, whose `delivered` webhook was dropped
    at("2026-12-01T03:00:00.000Z")
    order_id = packed_order(client, auth_header)
    fulfilment.handle_task(task("book_shipment", order_id, "book"))
    fulfilment.handle_task(task("await_delivery", order_id, "delivery"))
    courier = adapters.sandbox_courier()
    for body in courier.report(order_id, [("picked", "2026-12-01T05:00:00Z")]):
        webhooks.on_courier_update(tracking.parse_biteship_webhook(body))
    adapters.arm_sandbox_fault(DROP_WEBHOOK, order_id=order_id, status="delivered")
    assert courier.report(order_id, [("delivered", "2026-12-01T12:00:00Z")]) == []
    assert orders.get(order_id).status == "IN_TRANSIT"  # type: ignore[union-attr]

    # WHEN the hourly schedule runs, first 5 hours after the last news (too early), then 7 hours after
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                            resources=["arn:aws:events:ap-southeast-3:123456789012:rule/poll"])
    at("2026-12-01T10:00:00.000Z")
    early = client.lambda_.invoke("poll_stale_shipments", event).payload
    at("2026-12-01T12:30:00.000Z")
    first = client.lambda_.invoke("poll_stale_shipments", event).payload
    second = client.lambda_.invoke("poll_stale_shipments", event).payload

    # THEN the order is delivered once, as by the webhook, and the workflow's delivery step is resumed once
    assert early["polled"] == 0 and first["polled"] == 1 and first["failed"] == 0
    assert second["polled"] == 0  # delivered: no longer a parcel on its way
    order = orders.get(order_id)
    assert order is not None and order.status == "DELIVERED"
    assert [event["status"] for event in (order.shipment or {})["history"]] == ["confirmed", "picked", "delivered"]
    assert [entry.event for entry in order.timeline].count("deliver") == 1
    assert [call for call in resumed if call[1] == "delivery"] == [
        ("resume", "delivery", {"outcome": "delivered", "status": "delivered"})]


def test_the_poll_after_setting_moves_the_threshold(client: Any, auth_header: Any, resumed: list, at: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    at("2026-12-01T03:00:00.000Z")
    order_id = packed_order(client, auth_header)
    fulfilment.handle_task(task("book_shipment", order_id, "book"))
    at("2026-12-01T05:00:00.000Z")  # two hours without news
    from chalicelib.shipping import service

    monkeypatch.setenv(config.TRACKING_POLL_AFTER_HOURS, "3")
    assert service.poll_stale_shipments()["polled"] == 0
    monkeypatch.setenv(config.TRACKING_POLL_AFTER_HOURS, "1.5")
    assert service.poll_stale_shipments()["polled"] == 1


def test_a_courier_timeout_while_tracking_is_counted_and_the_next_run_tries_again(
        client: Any, auth_header: Any, resumed: list, at: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    at("2026-12-01T03:00:00.000Z")
    order_id = packed_order(client, auth_header)
    fulfilment.handle_task(task("book_shipment", order_id, "book"))
    at("2026-12-02T03:00:00.000Z")
    from chalicelib.shipping import service

    courier = adapters.sandbox_courier()

    def lost(booking: Booking) -> list[tracking.TrackingEvent]:
        raise CourierOutcomeUnknown("sandbox courier: tracking timed out")

    with monkeypatch.context() as patch:
        patch.setattr(courier, "tracking", lost)
        assert service.poll_stale_shipments(stale_after=timedelta(hours=6))["failed"] == 1
    assert service.poll_stale_shipments(stale_after=timedelta(hours=6))["failed"] == 0
