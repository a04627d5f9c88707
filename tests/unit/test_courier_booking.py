"""Unit tests for booking through the sandbox courier: deterministic, realistic per courier, keeping its bookings under
the shop's reference like a real courier (asked twice, it books twice), and able to fail on demand (outages, lost
answers, 5xx, dropped, doubled and reordered webhooks) so order workflows can be tested against couriers as they
really behave."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from chalicelib import clock
from chalicelib.shipping.couriers import (
    DROP_WEBHOOK,
    ERROR_5XX,
    TIMEOUT_AFTER_BOOKING,
    TIMEOUT_BEFORE_BOOKING,
    WEBHOOK_TWICE,
    WEBHOOKS_OUT_OF_ORDER,
    Address,
    Booking,
    BookingRejected,
    BookingRequest,
    Contact,
    Courier,
    CourierError,
    CourierOutcomeUnknown,
    MemoryBooks,
    RateCardCourier,
    SandboxFault,
    courier_code,
    courier_name,
)
from chalicelib.shipping.domain import EmptyParcel, ParcelItem

BATIK = ParcelItem(name="Kain batik tulis", weight_grams=300, quantity=2, value=450_000)
SHOP = Contact(name="Toko Batik Sekar", phone="081227001122", email="gudang@batiksekar.id")
WAREHOUSE = Address(street="Jl. C. Simanjuntak No. 12", city="Yogyakarta", province="DI Yogyakarta",
                    postal_code="55213")
BUYER = Contact(name="Rina Kartika", phone="+62 813-3445-5667")
SURABAYA = Address(street="Jl. Arief Rahman Hakim No. 45", city="Surabaya", province="Jawa Timur",
                   postal_code="60111", notes="Pagar hijau")
JAYAPURA = Address(street="Jl. Ahmad Yani No. 7", city="Jayapura", province="Papua", postal_code="99111")


def request(order_id: str = "ord_01HZX3K9Q2", courier: str = "JNE", service: str = "REG", **changes: object
            ) -> BookingRequest:
    fields: dict[str, object] = {
        "order_id": order_id, "courier": courier, "service": service, "items": (BATIK,),
        "origin_contact": SHOP, "origin_address": WAREHOUSE, "destination_contact": BUYER,
        "destination_address": SURABAYA,
    }
    fields.update(changes)
    return BookingRequest(**fields)  # type: ignore[arg-type]


def sandbox(**kwargs: object) -> RateCardCourier:
    return RateCardCourier(origin_city="Yogyakarta", origin_province="DI Yogyakarta", **kwargs)  # type: ignore[arg-type]


def test_sandbox_booking_is_confirmed_at_the_rate_card_price() -> None:
    # GIVEN the sandbox courier and a 600 g parcel to Surabaya (Java-Bali zone, JNE REG Rp 20,000/kg)
    courier = sandbox()
    # WHEN the pickup is booked
    booking = courier.book(request())
    # THEN it is confirmed at the price checkout quoted, with a label and ids shaped like the sandbox's
    assert isinstance(courier, Courier)
    assert (booking.provider, booking.courier, booking.service, booking.status) == ("sandbox", "JNE", "REG",
                                                                                    "confirmed")
    assert booking.price == 20_000
    assert re.fullmatch(r"sbx_[0-9a-f]{24}", booking.booking_id)
    assert re.fullmatch(r"trk_[0-9a-f]{24}", booking.tracking_id or "")
    assert booking.label_url == f"https://sandbox.tokoflow.local/labels/{booking.booking_id}.pdf"


def test_the_first_booking_of_an_order_looks_the_same_in_every_sandbox() -> None:
    # GIVEN two sandboxes with books of their own
    # WHEN each books the same order
    first, second = sandbox().book(request()), sandbox().book(request())
    # THEN the bookings are identical (ids derive from the reference), and another order gets different ids
    assert first == second
    other = sandbox().book(request(order_id="ord_01HZX3K9Q3"))
    assert len({first.booking_id, other.booking_id}) == 2
    assert len({first.waybill_id, other.waybill_id}) == 2
    assert len({first.tracking_id, other.tracking_id}) == 2


@pytest.mark.parametrize(
    ("courier", "service", "pattern"),
    [
        ("JNE", "REG", r"0110\d{12}"),
        ("JNE", "YES", r"0110\d{12}"),
        ("J&T", "EZ", r"JP\d{10}"),
        ("jnt", "ez", r"JP\d{10}"),
        ("SiCepat", "REG", r"00\d{10}"),
        ("SiCepat", "BEST", r"00\d{10}"),
        ("AnterAja", "REG", r"1000\d{11}"),
    ],
)
def test_sandbox_waybills_look_like_each_couriers_resi(courier: str, service: str, pattern: str) -> None:
    booking = sandbox().book(request(courier=courier, service=service))
    assert re.fullmatch(pattern, booking.waybill_id or ""), booking.waybill_id
    assert booking.courier == courier_name(courier)


def test_fail_orders_simulates_a_courier_outage_as_a_retryable_error() -> None:
    # GIVEN a sandbox told that order ord_down hits an outage
    courier = sandbox(fail_orders=frozenset({"ord_down"}))
    # WHEN that order is booked
    with pytest.raises(CourierError) as raised:
        courier.book(request(order_id="ord_down"))
    # THEN the error says the courier did not act (retry freely), and other orders still book
    assert type(raised.value) is CourierError
    assert courier.find_booking("ord_down") is None
    assert courier.book(request(order_id="ord_up")).status == "confirmed"


# --- the sandbox keeps its bookings like a real courier ---------------------------------------------------------------


def test_a_sandbox_asked_twice_books_two_pickups_and_finds_the_first_by_reference() -> None:
    # GIVEN one sandbox (one courier account)
    courier = sandbox()
    # WHEN the same order is booked twice, as a blind retry would
    first, second = courier.book(request()), courier.book(request())
    # THEN the courier now holds two pickups with two waybills, and the lookup by reference names the first
    assert first.booking_id != second.booking_id and first.waybill_id != second.waybill_id
    assert [parcel.booking for parcel in courier.books.of_reference("ord_01HZX3K9Q2")] == [first, second]
    assert courier.find_booking("ord_01HZX3K9Q2") == first
    assert courier.find_booking("ord_never_booked") is None


def test_timeout_after_booking_books_the_parcel_and_loses_the_answer_once() -> None:
    # GIVEN the fault armed once for this order
    courier = sandbox()
    courier.books.arm(SandboxFault(TIMEOUT_AFTER_BOOKING, remaining=1, reference="ord_01HZX3K9Q2"))
    # WHEN the order is booked
    with pytest.raises(CourierOutcomeUnknown, match="the answer was lost"):
        courier.book(request())
    # THEN the courier holds the booking, findable by the reference, and the fault is used up
    found = courier.find_booking("ord_01HZX3K9Q2")
    assert isinstance(found, Booking) and found.waybill_id
    assert courier.books.armed() == []
    assert len(courier.books.of_reference("ord_01HZX3K9Q2")) == 1


@pytest.mark.parametrize("fault", [TIMEOUT_BEFORE_BOOKING, ERROR_5XX])
def test_timeout_before_booking_and_5xx_book_nothing_but_leave_the_outcome_unknown(fault: str) -> None:
    courier = sandbox()
    courier.books.arm(SandboxFault(fault, remaining=2))
    for _ in range(2):
        with pytest.raises(CourierOutcomeUnknown):
            courier.book(request())
    assert courier.find_booking("ord_01HZX3K9Q2") is None
    assert courier.book(request()).status == "confirmed"  # used up after two bookings


def test_a_fault_armed_for_one_order_leaves_the_others_alone() -> None:
    courier = sandbox()
    courier.books.arm(SandboxFault(ERROR_5XX, remaining=1, reference="ord_other"))
    assert courier.book(request()).status == "confirmed"
    with pytest.raises(CourierOutcomeUnknown):
        courier.book(request(order_id="ord_other"))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SandboxFault("lost_parcel", remaining=1), "unknown sandbox courier fault"),
        (lambda: SandboxFault(ERROR_5XX, remaining=-1), "remaining"),
        (lambda: SandboxFault(ERROR_5XX, remaining=1, status="delivered"), "only webhook faults"),
        (lambda: SandboxFault(DROP_WEBHOOK, remaining=1, status="teleported"), "unknown courier status"),
    ],
)
def test_faults_are_checked_when_armed(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


# --- the parcel's journey: tracking and webhooks ----------------------------------------------------------------------

def hours_from_now(hours: int) -> str:
    return clock.iso(clock.now() + timedelta(hours=hours))


JOURNEY = [("picked", hours_from_now(1)), ("dropping_off", hours_from_now(20)), ("delivered", hours_from_now(23))]


def booked(**kwargs: object) -> RateCardCourier:
    courier = sandbox(books=MemoryBooks(), **kwargs)
    courier.book(request())
    return courier


def test_report_records_the_journey_for_tracking_and_sends_one_webhook_per_status() -> None:
    courier = booked()
    sent = courier.report("ord_01HZX3K9Q2", JOURNEY)
    booking = courier.find_booking("ord_01HZX3K9Q2")
    assert isinstance(booking, Booking)
    assert [(body["status"], body["reference_id"], body["order_id"]) for body in sent] == [
        (status, "ord_01HZX3K9Q2", booking.booking_id) for status, _ in JOURNEY]
    assert [event.status for event in courier.tracking(booking)] == ["confirmed", "picked", "dropping_off",
                                                                     "delivered"]


def test_a_dropped_webhook_is_never_sent_but_tracking_knows_the_status() -> None:
    courier = booked()
    courier.books.arm(SandboxFault(DROP_WEBHOOK, remaining=1, status="delivered"))
    sent = courier.report("ord_01HZX3K9Q2", JOURNEY)
    assert [body["status"] for body in sent] == ["picked", "dropping_off"]
    booking = courier.find_booking("ord_01HZX3K9Q2")
    assert isinstance(booking, Booking) and courier.tracking(booking)[-1].status == "delivered"


def test_webhooks_sent_twice_and_out_of_order() -> None:
    courier = booked()
    courier.books.arm(SandboxFault(WEBHOOK_TWICE, remaining=1))
    assert [body["status"] for body in courier.report("ord_01HZX3K9Q2", JOURNEY[:2])] == [
        "picked", "picked", "dropping_off"]
    courier.books.arm(SandboxFault(WEBHOOKS_OUT_OF_ORDER, remaining=2))
    # a single webhook is followed by the status before it; a batch arrives newest first
    assert [body["status"] for body in courier.report("ord_01HZX3K9Q2", JOURNEY[2:])] == ["delivered",
                                                                                          "dropping_off"]
    assert [body["status"] for body in courier.report("ord_01HZX3K9Q2", [("returned", hours_from_now(40)),
                                                                         ("disposed", hours_from_now(50))])] == [
        "disposed", "returned"]


def test_report_and_tracking_need_a_booking_the_sandbox_holds() -> None:
    courier = sandbox()
    with pytest.raises(BookingRejected, match="no live booking"):
        courier.report("ord_never_booked", JOURNEY)
    stranger = Booking(provider="sandbox", booking_id="sbx_unknown", courier="JNE", service="REG", waybill_id=None,
                       tracking_id=None, label_url=None, price=0, status="confirmed")
    with pytest.raises(BookingRejected, match="no booking"):
        courier.tracking(stranger)


def test_a_service_that_does_not_serve_the_destination_is_rejected() -> None:
    # JNE YES and AnterAja do not reach Papua on the default rate card.
    with pytest.raises(BookingRejected, match="YES"):
        sandbox().book(request(service="YES", destination_address=JAYAPURA))
    with pytest.raises(BookingRejected, match="AnterAja"):
        sandbox().book(request(courier="AnterAja", destination_address=JAYAPURA))
    with pytest.raises(BookingRejected):
        sandbox().book(request(courier="Pos Indonesia", service="KILAT"))


def test_cash_on_delivery_is_only_booked_where_the_courier_collects_it() -> None:
    assert sandbox().book(request(cash_on_delivery_amount=919_000)).status == "confirmed"
    with pytest.raises(BookingRejected, match="cash on delivery"):
        sandbox().book(request(service="YES", cash_on_delivery_amount=934_000))
    too_much = ParcelItem(name="Kain batik sutra", weight_grams=400, quantity=8, value=900_000)
    with pytest.raises(BookingRejected, match="cash on delivery"):
        sandbox().book(request(courier="J&T", service="EZ", items=(too_much,), cash_on_delivery_amount=7_219_000))


def test_an_unknown_province_is_rejected() -> None:
    atlantis = Address(street="Jl. Laut 1", city="Atlantis", province="Atlantis", postal_code="10001")
    with pytest.raises(BookingRejected, match="province"):
        sandbox().book(request(destination_address=atlantis))


def test_cancel_accepts_sandbox_bookings_only_until_pickup() -> None:
    courier = sandbox()
    courier.cancel(courier.book(request()).booking_id)
    assert courier.find_booking("ord_01HZX3K9Q2") is None  # a cancelled booking is not found again
    with pytest.raises(BookingRejected):
        courier.cancel("6641f3a2c1d4e5001c7b9a21")
    picked = courier.book(request())
    courier.report("ord_01HZX3K9Q2", JOURNEY[:1])
    with pytest.raises(BookingRejected, match="too late"):
        courier.cancel(picked.booking_id)


def test_booking_round_trips_through_its_dict() -> None:
    booking = sandbox().book(request())
    assert Booking.from_dict(booking.to_dict()) == booking
    assert set(booking.to_dict()) == {"provider", "booking_id", "courier", "service", "waybill_id", "tracking_id",
                                      "label_url", "price", "status"}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Contact(name="Rina", phone="call me"), "phone"),
        (lambda: Contact(name=" ", phone="081334455667"), "name"),
        (lambda: Address(street="Jl. A", city="Surabaya", province="Jawa Timur", postal_code="6011"), "postal_code"),
        (lambda: request(items=()), "no items"),
        (lambda: request(cash_on_delivery_amount=-1), "cash_on_delivery_amount"),
        (lambda: request(insurance_value=1.5), "insurance_value"),
        (lambda: request(order_id=""), "order_id"),
    ],
)
def test_booking_inputs_are_validated(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_booking_request_items_become_a_tuple_and_empty_parcels_are_empty_parcel_errors() -> None:
    assert request(items=[BATIK]).items == (BATIK,)
    with pytest.raises(EmptyParcel):
        request(items=[])


def test_courier_spellings_map_to_aggregator_codes_and_back() -> None:
    assert [courier_code(n) for n in ("JNE", "J&T", "J&T Express", "SiCepat", "AnterAja")] == [
        "jne", "jnt", "jnt", "sicepat", "anteraja"]
    assert [courier_name(c) for c in ("jne", "jnt", "sicepat", "anteraja", "tiki")] == [
        "JNE", "J&T", "SiCepat", "AnterAja", "TIKI"]
