"""Courier updates that arrive too early (before the shop saved the booking) or too late (after delivery), on the
in-memory fakes: an early one is kept until the booking is saved, a late one adds nothing to the order's timeline,
and a redelivered final status finishes what a crash interrupted."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from chalice.local import LambdaContext

from chalicelib.orders import lifecycle, workflow
from chalicelib.orders.domain import Order
from chalicelib.shipping import routes, tracking, webhooks
from tests.unit.order_fakes import AT, ShopFakes, an_order

ORDER_ID = "TK-261201-ABCDEF"
BOOKING_ID = "bk-early-1"
BOOKING = {"provider": "sandbox", "booking_id": BOOKING_ID, "courier": "JNE", "service": "REG",
           "waybill_id": "0110000000000001", "tracking_id": "trk-1", "label_url": None, "price": 18_000,
           "status": "confirmed", "history": []}


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> ShopFakes:
    return ShopFakes().install(monkeypatch)


@pytest.fixture
def warned(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    said: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(webhooks.logger, "warning", lambda text, extra=None, **_: said.append((text, extra or {})))
    return said


def status(name: str, at: str, booking_id: str = BOOKING_ID) -> tracking.CourierUpdate:
    return tracking.CourierUpdate(kind=tracking.EVENT_STATUS, booking_id=booking_id, waybill_id=None,
                                  tracking_id=None, status=name, price=None, at=at)


def stored(shop: ShopFakes) -> Order:
    order = shop.orders.get(ORDER_ID)
    assert order is not None
    return order


def save_booking(shop: ShopFakes) -> Order:
    """What the booking step does once the courier's answer is back: the shipment saved on the order."""
    before = stored(shop)
    assert shop.orders.save(before, before.apply(lifecycle.SHIP, at=AT, shipment=dict(BOOKING))) is not None
    return stored(shop)


def shipped(shop: ShopFakes) -> Order:
    shop.orders.add(an_order(status="PACKED"))
    return save_booking(shop)


def force_status(shop: ShopFakes, name: str) -> Order:
    """Steps of other areas (completion, refunds) moved the order on; only its status matters here."""
    before = stored(shop)
    shop.orders.orders[ORDER_ID] = replace(before, status=name)
    return stored(shop)


def sqs_event(*updates: tuple[str, tracking.CourierUpdate]) -> dict[str, Any]:
    """The courier-events queue's Lambda event for (message id, update) pairs, as the webhook queued them."""
    return {"Records": [{"messageId": message_id, "receiptHandle": f"r-{message_id}", "eventSource": "aws:sqs",
                         "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                         "body": json.dumps({"provider": "sandbox", "update": update.to_dict(),
                                             "raw": {"event": update.kind, "order_id": update.booking_id,
                                                     "status": update.status, "updated_at": update.at}})}
                        for message_id, update in updates]}


def courier_events(event: dict[str, Any]) -> Any:
    """The courier-events consumer as Lambda calls it (with a context, which the app's middleware reads)."""
    return routes.courier_events(event, LambdaContext("courier_events", 512))


# ---- too early: the courier's webhook overtakes the booking call's answer -------------------------------------


def test_an_update_for_a_booking_not_saved_yet_is_kept_and_applied_once_the_booking_is_saved(
        shop: ShopFakes, warned: list) -> None:
    shop.orders.add(an_order(status="PACKED"))
    picked = status("picked", "2026-12-02T01:00:00Z")

    with pytest.raises(webhooks.BookingNotYetKnown) as early:
        webhooks.on_courier_update(picked, attempt=1)
    assert early.value.booking_id == BOOKING_ID
    assert stored(shop).status == "PACKED"
    assert [(extra["booking_id"], extra["attempt"]) for _, extra in warned] == [(BOOKING_ID, 1)]
    assert "not recorded yet" in warned[0][0]

    save_booking(shop)
    assert webhooks.on_courier_update(picked, attempt=2).startswith("recorded picked")
    order = stored(shop)
    assert order.status == "IN_TRANSIT"
    assert [item["status"] for item in (order.shipment or {})["history"]] == ["picked"]
    assert webhooks.on_courier_update(picked, attempt=3) == "duplicate"


def test_the_last_attempt_for_an_unknown_booking_says_it_goes_to_the_dead_letter_queue(
        shop: ShopFakes, warned: list) -> None:
    shop.orders.add(an_order(status="PACKED"))
    with pytest.raises(webhooks.BookingNotYetKnown):
        webhooks.on_courier_update(status("picked", "2026-12-02T01:00:00Z"), attempt=5)
    assert "dead-letter queue" in warned[0][0]


def test_the_consumer_reports_an_update_for_an_unknown_booking_as_a_failed_item_and_applies_the_others(
        shop: ShopFakes, warned: list) -> None:
    shipped(shop)
    known = status("picked", "2026-12-02T01:00:00Z")
    early = status("picked", "2026-12-02T01:00:00Z", booking_id="bk-not-saved-yet")

    assert courier_events(sqs_event(("m-known", known), ("m-early", early))) == {
        "batchItemFailures": [{"itemIdentifier": "m-early"}]}
    assert stored(shop).status == "IN_TRANSIT"
    # a batch of nothing but early updates is reported per item too, not as an invocation error
    assert courier_events(sqs_event(("m-early", early))) == {
        "batchItemFailures": [{"itemIdentifier": "m-early"}]}


def test_a_batch_whose_every_record_fails_for_another_reason_still_raises(shop: ShopFakes) -> None:
    event = sqs_event(("m-bad", status("picked", "2026-12-02T01:00:00Z")))
    event["Records"][0]["body"] = "not json"
    with pytest.raises(Exception, match="All records failed"):
        courier_events(event)


# ---- too late: after delivery the timeline is done -------------------------------------------------------------


@pytest.mark.parametrize("later", ["DELIVERED", "COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED"])
def test_late_courier_updates_after_delivery_add_nothing_to_the_timeline(shop: ShopFakes, later: str) -> None:
    shipped(shop)
    webhooks.on_courier_update(status("picked", "2026-12-02T01:00:00Z"))
    webhooks.on_courier_update(status("delivered", "2026-12-03T05:00:00Z"))
    assert stored(shop).status == "DELIVERED"
    before = force_status(shop, later)

    late = [status("dropping_off", "2026-12-03T02:00:00Z"),  # older than the delivery, arriving after it
            status("picking_up", "2026-12-01T09:00:00Z"),
            status("on_hold", "2026-12-04T08:00:00Z"),  # newer, but the parcel was delivered already
            status("delivered", "2026-12-04T09:00:00Z"),  # the delivery reported again, at another time
            status("in_warehouse", "2026-12-04T10:00:00Z")]  # a status this code does not know
    for update in late:
        webhooks.on_courier_update(update)
    for update in late:
        assert webhooks.on_courier_update(update) == "duplicate"

    after = stored(shop)
    assert after.timeline == before.timeline
    assert after.status == later
    assert (after.shipment or {})["status"] == "delivered"
    assert {item["status"] for item in (after.shipment or {})["history"]} == {
        "picked", "delivered", "dropping_off", "picking_up", "on_hold", "in_warehouse"}
    # nothing new to tell: at most the delivery again, which the outbox sends once per order however often asked
    assert {event for event, _ in shop.told} == {"delivered"}


def test_a_late_price_or_waybill_after_delivery_is_kept_without_a_timeline_entry(shop: ShopFakes) -> None:
    shipped(shop)
    webhooks.on_courier_update(status("delivered", "2026-12-03T05:00:00Z"))
    before = force_status(shop, "COMPLETED")

    price = tracking.CourierUpdate(kind=tracking.EVENT_PRICE, booking_id=BOOKING_ID, waybill_id=None,
                                   tracking_id=None, status=None, price=21_000, at=None)
    waybill = tracking.CourierUpdate(kind=tracking.EVENT_WAYBILL, booking_id=BOOKING_ID, waybill_id="0110999",
                                     tracking_id=None, status=None, price=None, at=None)
    assert webhooks.on_courier_update(price) == "recorded order.price"
    assert webhooks.on_courier_update(waybill) == "recorded order.waybill_id"
    assert webhooks.on_courier_update(price) == "duplicate"

    after = stored(shop)
    assert (after.shipment or {})["actual_price"] == 21_000
    assert (after.shipment or {})["waybill_id"] == "0110999"
    assert after.timeline == before.timeline and after.status == "COMPLETED"


def test_a_price_before_delivery_is_still_noted_on_the_timeline(shop: ShopFakes) -> None:
    before = shipped(shop)
    price = tracking.CourierUpdate(kind=tracking.EVENT_PRICE, booking_id=BOOKING_ID, waybill_id=None,
                                   tracking_id=None, status=None, price=21_000, at=None)
    webhooks.on_courier_update(price)
    after = stored(shop)
    assert len(after.timeline) == len(before.timeline) + 1
    assert "Rp21,000" in after.timeline[-1].note


def test_an_older_scan_before_delivery_is_kept_in_the_history_without_a_timeline_entry(shop: ShopFakes) -> None:
    shipped(shop)
    webhooks.on_courier_update(status("dropping_off", "2026-12-02T05:00:00Z"))
    before = stored(shop)
    assert before.status == "IN_TRANSIT"

    assert webhooks.on_courier_update(status("picked", "2026-12-02T01:00:00Z")).startswith("recorded picked")
    assert webhooks.on_courier_update(status("picked", "2026-12-02T01:00:00Z")) == "duplicate"

    after = stored(shop)
    assert after.timeline == before.timeline
    assert [item["status"] for item in (after.shipment or {})["history"]] == ["picked", "dropping_off"]
    assert (after.shipment or {})["status"] == "dropping_off"


# ---- a crash between the save and what follows it ---------------------------------------------------------------


def test_a_redelivered_delivery_finishes_the_wake_up_a_crash_interrupted(
        shop: ShopFakes, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped(shop)
    shop.orders.store_token(ORDER_ID, "delivery", "delivery-token")
    answers: list[tuple[str, Any]] = []

    def step_functions_down_once(token: str, output: dict[str, Any]) -> bool:
        answers.append((token, output))
        if len(answers) == 1:
            raise ConnectionError("states endpoint unreachable")
        return True

    monkeypatch.setattr(workflow, "resume", step_functions_down_once)
    delivered = status("delivered", "2026-12-03T05:00:00Z")

    with pytest.raises(ConnectionError):  # the save happened, the wake-up did not: SQS delivers it again
        webhooks.on_courier_update(delivered)
    assert stored(shop).status == "DELIVERED"

    assert webhooks.on_courier_update(delivered) == "duplicate"
    assert answers[-1] == ("delivery-token", {"outcome": "delivered", "status": "delivered"})
    assert ("delivered", ORDER_ID) in shop.told

    # once the workflow completed the order, another copy wakes nothing
    force_status(shop, "COMPLETED")
    webhooks.on_courier_update(delivered)
    assert len(answers) == 2


def test_a_late_scan_after_delivery_does_not_wake_the_workflow_again(shop: ShopFakes) -> None:
    shipped(shop)
    shop.orders.store_token(ORDER_ID, "delivery", "delivery-token")
    webhooks.on_courier_update(status("delivered", "2026-12-03T05:00:00Z"))
    webhooks.on_courier_update(status("picked", "2026-12-02T01:00:00Z"))
    assert [answer for answer in shop.answers if answer[0] == "resume"] == [
        ("resume", "delivery-token", {"outcome": "delivered", "status": "delivered"})]
    assert shop.told == [("delivered", ORDER_ID)]
