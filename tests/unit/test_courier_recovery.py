"""Couriers as they really behave, on in-memory fakes: a booking whose answer was lost is looked up by the order's
reference before it is ever booked again (or handed to staff when the courier offers no lookup), and a shipment whose
webhooks were lost is caught up by polling the courier's tracking, through the same rules as a webhook."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib import clock, config
from chalicelib.errors import Conflict
from chalicelib.fulfilment import service as fulfilment
from chalicelib.orders import workflow
from chalicelib.shipping import service as shipping
from chalicelib.shipping import tracking
from chalicelib.shipping.couriers import (
    DROP_WEBHOOK,
    ERROR_5XX,
    MAY_HAVE_BOOKED,
    TIMEOUT_AFTER_BOOKING,
    UNKNOWN,
    Booking,
    BookingRejected,
    BookingRequest,
    CourierError,
    CourierOutcomeUnknown,
    RateCardCourier,
    SandboxFault,
    Unknown,
)
from tests.unit.order_fakes import ShopFakes, an_order

ORDER_ID = "TK-261201-ABCDEF"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> ShopFakes:
    fakes = ShopFakes().install(monkeypatch)
    monkeypatch.setattr(shipping, "courier", lambda: fakes.courier)
    return fakes


@pytest.fixture
def causes(shop: ShopFakes, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(error, cause) of every step failure, on top of ShopFakes' answers."""
    failed: list[tuple[str, str]] = []

    def fail(token: str, error: str, cause: str) -> bool:
        shop.answers.append(("fail", token, error))
        failed.append((error, cause))
        return True

    monkeypatch.setattr(workflow, "fail", fail)
    return failed


def task(name: str, token: str, **extra: Any) -> dict[str, Any]:
    return {"task": name, "order_id": ORDER_ID, "token": token, **extra}


def packed(shop: ShopFakes) -> None:
    shop.orders.add(an_order(status="PAID"))
    fulfilment.handle_task(task("commit_stock", "commit-token"))
    fulfilment.mark_packed(ORDER_ID, actor="staff-1")


def bookings(shop: ShopFakes) -> list[Booking]:
    return [parcel.booking for parcel in shop.courier.books.of_reference(ORDER_ID)]


# ---- a booking whose answer was lost --------------------------------------------------------------------------------


def test_a_retry_after_the_answer_was_lost_finds_the_first_booking_one_waybill_one_pickup(
        shop: ShopFakes, causes: list[tuple[str, str]]) -> None:
    # GIVEN the courier books the parcel and the answer is lost
    packed(shop)
    shop.courier.books.arm(SandboxFault(TIMEOUT_AFTER_BOOKING, remaining=1))
    first = fulfilment.handle_task(task("book_shipment", "book-1"))
    # WHEN the state machine's RecoverBooking sends the step again
    again = fulfilment.handle_task(task("book_shipment", "recover-1", recover=True))
    # THEN the first booking is found and shipped: one booking at the courier, its waybill on the order
    assert (first, again) == ("outcome unknown", "booking found again")
    assert causes[0][0] == workflow.COURIER_OUTCOME_UNKNOWN and causes[0][1].endswith(MAY_HAVE_BOOKED)
    [booking] = bookings(shop)
    order = shop.orders.get(ORDER_ID)
    assert order is not None and order.status == "SHIPPED"
    assert (order.shipment or {})["waybill_id"] == booking.waybill_id
    assert "found at the courier after its answer was lost" in order.timeline[-1].note
    assert ("resume", "recover-1", {"booking_id": booking.booking_id, "waybill_id": booking.waybill_id}) in \
        shop.answers


def test_a_5xx_that_booked_nothing_is_looked_up_then_booked_once(shop: ShopFakes) -> None:
    packed(shop)
    shop.courier.books.arm(SandboxFault(ERROR_5XX, remaining=1))
    assert fulfilment.handle_task(task("book_shipment", "book-1")) == "outcome unknown"
    assert bookings(shop) == []
    assert fulfilment.handle_task(task("book_shipment", "recover-1", recover=True)) == "booked"
    assert len(bookings(shop)) == 1


def test_a_refused_connection_is_retried_as_an_outage_without_any_lookup(shop: ShopFakes) -> None:
    packed(shop)
    shop.courier.fail_orders = frozenset({ORDER_ID})
    assert fulfilment.handle_task(task("book_shipment", "book-1")) == "courier unavailable"
    assert ("fail", "book-1", workflow.COURIER_UNAVAILABLE) in shop.answers
    shop.courier.fail_orders = frozenset()
    assert fulfilment.handle_task(task("book_shipment", "book-2")) == "booked"


class NoLookupCourier(RateCardCourier):
    """A courier like Biteship: it books, but cannot find a booking by the shop's reference."""

    booked: int = 0

    def book(self, request: BookingRequest) -> Booking:
        self.booked += 1
        return super().book(request)

    def find_booking(self, reference: str) -> Unknown:  # type: ignore[override]
        return UNKNOWN


def test_without_a_lookup_by_reference_a_retry_after_an_unknown_outcome_goes_to_staff_not_to_a_second_pickup(
        shop: ShopFakes, causes: list[tuple[str, str]]) -> None:
    # GIVEN a courier that cannot be asked for a booking by reference, whose first answer was lost
    shop.courier = NoLookupCourier(origin_city="Yogyakarta", origin_province="DI Yogyakarta")
    packed(shop)
    shop.courier.books.arm(SandboxFault(TIMEOUT_AFTER_BOOKING, remaining=1))
    fulfilment.handle_task(task("book_shipment", "book-1"))
    # WHEN RecoverBooking asks again
    outcome = fulfilment.handle_task(task("book_shipment", "recover-1", recover=True))
    # THEN nothing more is booked: the step fails BookingUncertain with the cause staff will read
    assert outcome == "booking uncertain" and shop.courier.booked == 1
    assert causes[-1] == (workflow.BOOKING_UNCERTAIN, MAY_HAVE_BOOKED)
    # AND NeedsAttention puts it on the order as the state machine's Catch hands it over
    fulfilment.handle_task(task("needs_attention", "attention-1",
                                failure={"Error": causes[-1][0], "Cause": causes[-1][1]}))
    order = shop.orders.get(ORDER_ID)
    assert order is not None and order.status == "NEEDS_ATTENTION"
    assert order.attention == ("BookingUncertain: the courier may have booked this parcel: check the courier's "
                               "dashboard before booking again")


def test_a_booking_that_could_not_be_saved_is_recovered_not_booked_again(
        shop: ShopFakes, causes: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    packed(shop)
    real_transition = fulfilment.orders.transition

    def lost_race(*args: Any, **kwargs: Any) -> Any:
        raise Conflict(f"order {ORDER_ID} keeps changing; try again", code="order_conflict")

    monkeypatch.setattr(fulfilment.orders, "transition", lost_race)
    assert fulfilment.handle_task(task("book_shipment", "book-1")).startswith("booked, not saved")
    [booking] = bookings(shop)
    assert causes[-1][0] == workflow.COURIER_OUTCOME_UNKNOWN and booking.booking_id in causes[-1][1]
    monkeypatch.setattr(fulfilment.orders, "transition", real_transition)
    assert fulfilment.handle_task(task("book_shipment", "recover-1", recover=True)) == "booking found again"
    assert bookings(shop) == [booking]


def test_the_state_machine_never_retries_an_unknown_outcome_as_a_fresh_booking() -> None:
    states = json.loads((ROOT / "statemachines" / "fulfilment.asl.json").read_text())["States"]
    book, recover = states["BookShipment"], states["RecoverBooking"]
    retried = {error for rule in book["Retry"] for error in rule["ErrorEquals"]}
    assert retried == {workflow.COURIER_UNAVAILABLE, workflow.WORKER_ERROR}  # the courier did not act
    (to_recovery,) = [rule for rule in book["Catch"] if rule["Next"] == "RecoverBooking"]
    assert set(to_recovery["ErrorEquals"]) == {workflow.COURIER_OUTCOME_UNKNOWN, "States.Timeout"}
    body = recover["Parameters"]["MessageBody"]
    assert (body["task"], body[workflow.RECOVER]) == (workflow.BOOK_SHIPMENT, True)
    assert workflow.COURIER_OUTCOME_UNKNOWN in {error for rule in recover["Retry"] for error in rule["ErrorEquals"]}
    assert recover["Next"] == book["Next"] and recover["ResultPath"] == book["ResultPath"]
    assert recover["Catch"][-1] == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NeedsAttention"}


def test_an_unknown_outcome_is_still_a_retryable_courier_error_but_never_a_rejection() -> None:
    # callers that only read (quotes, tracking) keep treating it as an outage; only booking looks before retrying
    assert issubclass(CourierOutcomeUnknown, CourierError) and not issubclass(CourierOutcomeUnknown, BookingRejected)


# ---- lost webhooks: polling ----------------------------------------------------------------------------------------


BOOKED_AT = "2026-12-01T03:00:00.000Z"  # 10:00 WIB


def hours_after_booking(hours: float) -> str:
    return clock.iso(clock.parse_iso(BOOKED_AT) + timedelta(hours=hours))


def shipped_with_journey(shop: ShopFakes, at: Any) -> Booking:
    """Packed and booked at BOOKED_AT, then followed by the courier to dropping_off two hours later; the webhooks up
    to there were received."""
    at(BOOKED_AT)
    packed(shop)
    fulfilment.handle_task(task("book_shipment", "book-1"))
    fulfilment.handle_task(task("await_delivery", "delivery-token"))
    booking = shop.courier.find_booking(ORDER_ID)
    assert isinstance(booking, Booking)
    from chalicelib.shipping import webhooks

    journey = [("picked", hours_after_booking(1)), ("dropping_off", hours_after_booking(2))]
    for body in shop.courier.report(ORDER_ID, journey):
        webhooks.on_courier_update(tracking.parse_biteship_webhook(body))
    return booking


def test_a_dropped_delivered_webhook_is_found_by_the_poll_once_and_a_second_poll_changes_nothing(
        shop: ShopFakes, at: Any) -> None:
    # GIVEN a parcel whose `delivered` webhook the courier never sent
    shipped_with_journey(shop, at)
    shop.courier.books.arm(SandboxFault(DROP_WEBHOOK, remaining=1, status="delivered"))
    assert shop.courier.report(ORDER_ID, [("delivered", hours_after_booking(3))]) == []
    assert shop.orders.get(ORDER_ID).status == "IN_TRANSIT"  # type: ignore[union-attr]
    # WHEN the hourly poll runs once the last news is more than six hours old, and again an hour later
    assert shipping.poll_stale_shipments(now=clock.parse_iso(hours_after_booking(7)))["polled"] == 0
    at(hours_after_booking(9))
    first = shipping.poll_stale_shipments(stale_after=timedelta(hours=6))
    at(hours_after_booking(10))
    second = shipping.poll_stale_shipments(stale_after=timedelta(hours=6))
    # THEN the order is delivered as by the webhook: the customer told once, the delivery step resumed once
    order = shop.orders.get(ORDER_ID)
    assert order is not None and order.status == "DELIVERED"
    assert [event["status"] for event in (order.shipment or {})["history"]][-1] == "delivered"
    # (the courier's history also holds the booking's own "confirmed", which no webhook had reported)
    assert first == {"checked": 1, "polled": 1, "updated": 1, "statuses": 2, "failed": 0}
    assert second == {"checked": 0, "polled": 0, "updated": 0, "statuses": 0, "failed": 0}  # no longer in flight
    assert shop.told.count(("delivered", ORDER_ID)) == 1
    resumed = [answer for answer in shop.answers if answer[1] == "delivery-token"]
    assert resumed == [("resume", "delivery-token", {"outcome": "delivered", "status": "delivered"})]


def test_a_shipment_with_recent_news_is_not_polled_and_one_without_news_but_nothing_new_writes_nothing(
        shop: ShopFakes, at: Any) -> None:
    shipped_with_journey(shop, at)
    at(hours_after_booking(3))
    assert shipping.poll_stale_shipments(stale_after=timedelta(hours=6))["polled"] == 0
    version = shop.orders.get(ORDER_ID).version  # type: ignore[union-attr]
    result = shipping.poll_stale_shipments(stale_after=timedelta(0))
    assert (result["polled"], result["statuses"]) == (1, 1)  # the booking's own "confirmed", never sent as a webhook
    again = shipping.poll_stale_shipments(stale_after=timedelta(0))
    assert (again["polled"], again["statuses"], again["updated"]) == (1, 0, 0)
    assert shop.orders.get(ORDER_ID).version == version + 1  # type: ignore[union-attr]


def test_a_courier_that_cannot_answer_for_one_parcel_does_not_stop_the_poll(
        shop: ShopFakes, at: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped_with_journey(shop, at)
    at(hours_after_booking(30))

    def down(booking: Booking) -> list[tracking.TrackingEvent]:
        raise CourierOutcomeUnknown("sandbox courier (500): tracking unavailable", status=500)

    monkeypatch.setattr(shop.courier, "tracking", down)
    assert shipping.poll_stale_shipments()["failed"] == 1


def test_last_news_is_the_newest_tracking_event_or_else_the_booking() -> None:
    booked = "2026-12-01T03:00:00.000Z"
    assert tracking.last_news_at([], booked) == booked
    history = [{"status": "picked", "at": "2026-12-01T05:00:00+07:00"},
               {"status": "dropping_off", "at": "2026-12-02T01:00:00Z"}]
    assert tracking.last_news_at(history, booked) == "2026-12-02T01:00:00.000Z"
    polled = [tracking.TrackingEvent(status="dropping_off", at="2026-12-02T08:00:00+07:00"),
              tracking.TrackingEvent(status="delivered", at="2026-12-02T04:00:00Z"),
              tracking.TrackingEvent(status="picked", at="2026-12-01T05:00:00+07:00")]
    assert [event.status for event in tracking.unseen(history, polled)] == ["delivered"]


def test_poll_after_hours_and_the_biteship_webhook_header_are_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.shipping import adapters

    monkeypatch.delenv(config.TRACKING_POLL_AFTER_HOURS, raising=False)
    monkeypatch.delenv(config.BITESHIP_WEBHOOK_HEADER, raising=False)
    assert config.tracking_poll_after_hours() == 6
    assert adapters.biteship_webhook_header() == tracking.BITESHIP_AUTH_HEADER == "x-biteship-secret"
    monkeypatch.setenv(config.TRACKING_POLL_AFTER_HOURS, "0.5")
    monkeypatch.setenv(config.BITESHIP_WEBHOOK_HEADER, " X-Tokoflow-Key ")
    assert config.tracking_poll_after_hours() == 0.5
    assert adapters.biteship_webhook_header() == "x-tokoflow-key"
    assert tracking.verify_biteship("whsec", {"X-Tokoflow-Key": "whsec"}, adapters.biteship_webhook_header())
    for bad in ("six", "-1", "1000"):
        monkeypatch.setenv(config.TRACKING_POLL_AFTER_HOURS, bad)
        with pytest.raises(ValueError, match=config.TRACKING_POLL_AFTER_HOURS):
            config.tracking_poll_after_hours()


def test_a_booking_step_delivered_again_after_a_crash_looks_before_it_books(shop: ShopFakes) -> None:
    # GIVEN a worker that booked the parcel and died before saving it (SQS then delivers the same task again)
    import json

    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from chalicelib.fulfilment import routes
    from chalicelib.shipping import service as shipping

    packed(shop)
    order = shop.orders.get(ORDER_ID)
    assert order is not None
    shop.courier.book(shipping.booking_request(order))
    redelivered = SQSRecord({"messageId": "m-1", "body": json.dumps(task("book_shipment", "book-1")),
                             "attributes": {"ApproximateReceiveCount": "2"}})
    # WHEN the redelivered task runs
    routes._run_task(redelivered)
    # THEN the first booking is found and used: still one pickup
    [booking] = bookings(shop)
    shipped = shop.orders.get(ORDER_ID)
    assert shipped is not None and (shipped.shipment or {})["booking_id"] == booking.booking_id
