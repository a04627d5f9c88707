"""Unit tests for the Biteship adapter against recorded answers (no network): requests sent, answers parsed,
HTTP failures mapped to retryable CourierError or final BookingRejected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.shipping import adapters
from chalicelib.shipping.biteship import BiteshipCourier
from chalicelib.shipping.couriers import (
    UNKNOWN,
    Address,
    Booking,
    BookingRejected,
    BookingRequest,
    Contact,
    Courier,
    CourierError,
    CourierOutcomeUnknown,
    RateCardCourier,
    find_service,
)
from chalicelib.shipping.domain import Destination, EmptyParcel, ParcelItem
from tests.fakes import FakeTransport

# Every answer under tests/fixtures/biteship is reconstructed from Biteship's public API documentation
# (biteship.com/docs/api: the example answers of rates, orders create / retrieve / cancel and trackings retrieve, the
# order error codes of /docs/api/orders/error), with this shop's data filled in; none was recorded from live traffic.
# order_error_duplicate.json is hypothetical: Biteship documents no error for a reference_id used twice.
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "biteship"
API_KEY = "biteship_test.eyJhbGciOiJIUzI1NiJ9.dG9rb2Zsb3c"


def recorded(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def biteship(*answers: tuple[int, bytes] | Exception) -> tuple[BiteshipCourier, FakeTransport]:
    transport = FakeTransport(list(answers))
    courier = BiteshipCourier(api_key=API_KEY, origin_postal_code="55213", transport=transport)
    return courier, transport


BATIK = ParcelItem(name="Kain batik tulis", weight_grams=300, quantity=2, value=450_000)
BASKET = ParcelItem(
    name="Keranjang rotan", weight_grams=800, quantity=1, value=175_000, length_cm=40, width_cm=40, height_cm=30
)
SURABAYA = Destination(postal_code="60111", city="Surabaya", province="Jawa Timur")

REQUEST = BookingRequest(
    order_id="ord_01HZX3K9Q2",
    courier="JNE",
    service="REG",
    items=(BATIK,),
    origin_contact=Contact(name="Toko Batik Sekar", phone="081227001122", email="gudang@batiksekar.id"),
    origin_address=Address(street="Jl. C. Simanjuntak No. 12", city="Yogyakarta", province="DI Yogyakarta",
                           postal_code="55213", notes="Gudang belakang"),
    destination_contact=Contact(name="Rina Kartika", phone="081334455667", email="rina@example.id"),
    destination_address=Address(street="Jl. Arief Rahman Hakim No. 45", city="Surabaya", province="Jawa Timur",
                                postal_code="60111", notes="Pagar hijau"),
)


# --- rates ------------------------------------------------------------------------------------------------------------


def test_rates_posts_postal_codes_couriers_and_items_with_the_api_key() -> None:
    # GIVEN Biteship answering the recorded pricing list
    courier, transport = biteship((200, recorded("rates.json")))
    # WHEN a measured basket and batik cloths are quoted to Surabaya
    courier.rates([BATIK, BASKET], SURABAYA, order_value=1_075_000)
    # THEN one JSON POST goes to the rates endpoint with the raw key as authorization
    [call] = transport.calls
    assert (call.method, call.url) == ("POST", "https://api.biteship.com/v1/rates/couriers")
    assert call.headers["authorization"] == API_KEY
    assert call.headers["content-type"] == "application/json"
    assert call.json == {
        "origin_postal_code": 55213,
        "destination_postal_code": 60111,
        "couriers": "jne,jnt,sicepat,anteraja",
        "items": [
            {"name": "Kain batik tulis", "value": 450_000, "weight": 300, "quantity": 2},
            {"name": "Keranjang rotan", "value": 175_000, "weight": 800, "quantity": 1,
             "length": 40, "width": 40, "height": 30},
        ],
    }


def test_rates_answer_becomes_shipping_services_in_the_rate_card_vocabulary() -> None:
    courier, _ = biteship((200, recorded("rates.json")))
    services = courier.rates([BATIK], SURABAYA, order_value=900_000)
    # THEN cheapest first, courier names as shoppers know them, ETD as "2-3", COD flags carried over
    assert [(s.courier, s.service, s.price, s.etd_days, s.cod_available) for s in services] == [
        ("SiCepat", "REG", 18_000, "2-3", True),
        ("J&T", "EZ", 19_000, "2-4", True),
        ("JNE", "REG", 20_000, "2-3", True),
        ("SiCepat", "BEST", 30_000, "1", False),
        ("JNE", "YES", 34_000, "1", False),
    ]
    # AND checkout's find_service accepts either spelling of J&T
    assert find_service(services, "jnt", "ez") == find_service(services, "J&T", "EZ") == services[1]


def test_rates_of_an_empty_parcel_never_reach_the_network() -> None:
    courier, transport = biteship()
    with pytest.raises(EmptyParcel):
        courier.rates([], SURABAYA, order_value=0)
    assert transport.calls == []


# --- booking ----------------------------------------------------------------------------------------------------------


def test_book_posts_contacts_addresses_courier_and_reference_id() -> None:
    courier, transport = biteship((200, recorded("order_created.json")))
    courier.book(REQUEST)
    [call] = transport.calls
    assert (call.method, call.url) == ("POST", "https://api.biteship.com/v1/orders")
    body = call.json
    assert body["reference_id"] == "ord_01HZX3K9Q2"
    assert (body["courier_company"], body["courier_type"], body["delivery_type"]) == ("jne", "reg", "now")
    assert (body["origin_contact_name"], body["origin_contact_phone"]) == ("Toko Batik Sekar", "081227001122")
    assert body["shipper_contact_email"] == "gudang@batiksekar.id"
    assert body["origin_address"] == "Jl. C. Simanjuntak No. 12, Yogyakarta, DI Yogyakarta 55213"
    assert (body["origin_postal_code"], body["destination_postal_code"]) == (55213, 60111)
    assert (body["destination_contact_name"], body["destination_note"]) == ("Rina Kartika", "Pagar hijau")
    assert body["items"] == [{"name": "Kain batik tulis", "value": 450_000, "weight": 300, "quantity": 2}]
    assert "destination_cash_on_delivery" not in body
    assert "courier_insurance" not in body


def test_book_parses_the_created_order_into_a_booking() -> None:
    courier, _ = biteship((200, recorded("order_created.json")))
    booking = courier.book(REQUEST)
    assert booking.to_dict() == {
        "provider": "biteship",
        "booking_id": "6641f3a2c1d4e5001c7b9a21",
        "courier": "JNE",
        "service": "REG",
        "waybill_id": "0110912345678901",
        "tracking_id": "6641f3a3c1d4e5001c7b9a24",
        "label_url": "https://track.biteship.com/6641f3a3c1d4e5001c7b9a24",
        "price": 20_000,
        "status": "confirmed",
    }


def test_cash_on_delivery_and_insurance_are_sent_when_asked_for() -> None:
    courier, transport = biteship((200, recorded("order_created.json")))
    cod = BookingRequest(**{**REQUEST.__dict__, "courier": "J&T", "service": "EZ",
                            "cash_on_delivery_amount": 919_000, "insurance_value": 900_000})
    courier.book(cod)
    body = transport.calls[0].json
    assert (body["courier_company"], body["courier_type"]) == ("jnt", "ez")
    assert body["destination_cash_on_delivery"] == 919_000
    assert body["destination_cash_on_delivery_type"] == "7_days"
    assert body["courier_insurance"] == 900_000


def test_a_400_answer_is_a_final_rejection_carrying_biteships_message() -> None:
    # 40002010 as Biteship documents it (/docs/api/orders/error): a validation error, refused before anything is booked
    courier, _ = biteship((400, recorded("order_error_400.json")))
    with pytest.raises(BookingRejected, match="destination needs to have postal code or coordinate") as raised:
        courier.book(REQUEST)
    assert (raised.value.status, raised.value.body["code"]) == (400, 40002010)


def test_a_retried_booking_that_biteship_already_has_returns_the_existing_order() -> None:
    # GIVEN the first create timed out after Biteship had stored the order
    courier, transport = biteship((400, recorded("order_error_duplicate.json")), (200, recorded("order_created.json")))
    # WHEN the booking is retried
    booking = courier.book(REQUEST)
    # THEN the existing order is fetched and returned instead of failing
    assert [c.method + " " + c.url for c in transport.calls] == [
        "POST https://api.biteship.com/v1/orders",
        "GET https://api.biteship.com/v1/orders/6641f3a2c1d4e5001c7b9a21",
    ]
    assert booking.booking_id == "6641f3a2c1d4e5001c7b9a21"


def test_a_duplicate_belonging_to_another_order_is_not_taken_over() -> None:
    courier, _ = biteship((400, recorded("order_error_duplicate.json")), (200, recorded("order_created.json")))
    other = BookingRequest(**{**REQUEST.__dict__, "order_id": "ord_other"})
    with pytest.raises(BookingRejected, match="already exists"):
        courier.book(other)


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"success": False, "error": "Failed due to invalid or missing postal code.", "code": 40002020},
         BookingRejected),
        (404, {"success": False, "error": "Order not found"}, BookingRejected),
        (422, {"success": False, "error": "courier_type is required"}, BookingRejected),
        (200, {"success": False, "error": "Courier is not supported"}, BookingRejected),
        (400, {"success": False, "error": "No sufficient balance. Please top up your balance"}, CourierError),
        (401, {"success": False, "error": "Authorization failed"}, CourierError),
        (403, {"success": False, "error": "Forbidden"}, CourierError),
        (429, {"success": False, "error": "Too many requests"}, CourierError),
        (500, {"success": False, "error": "Internal server error"}, CourierOutcomeUnknown),
        (503, {"success": False, "error": "Service unavailable"}, CourierOutcomeUnknown),
    ],
)
def test_http_failures_map_to_final_or_retryable_errors(status: int, body: dict[str, Any], error: type) -> None:
    courier, _ = biteship((status, json.dumps(body).encode()))
    with pytest.raises(CourierError) as raised:
        courier.book(REQUEST)
    assert type(raised.value) is error
    assert raised.value.status == status


def test_network_failures_and_html_error_pages_are_retryable_and_say_whether_biteship_may_have_acted() -> None:
    courier, _ = biteship(CourierError("Biteship unreachable: connection refused"))
    with pytest.raises(CourierError) as raised:
        courier.book(REQUEST)
    assert type(raised.value) is CourierError  # never sent: safe to book again

    courier, _ = biteship((502, b"<html><body>502 Bad Gateway</body></html>"))
    with pytest.raises(CourierError, match="non-JSON") as raised:
        courier.rates([BATIK], SURABAYA, order_value=900_000)
    assert type(raised.value) is CourierOutcomeUnknown  # a gateway error after sending: it may have acted
    courier, _ = biteship((429, b"<html>slow down</html>"))
    with pytest.raises(CourierError, match="non-JSON") as raised:
        courier.book(REQUEST)
    assert type(raised.value) is CourierError


def test_biteship_offers_no_lookup_by_reference_so_find_booking_is_unknown_without_a_request() -> None:
    # GIVEN Biteship, whose Orders API finds an order by its own id only (GET /v1/orders/:id)
    courier, transport = biteship()
    # WHEN the shop asks for the booking of its order after a lost answer
    # THEN the answer is UNKNOWN (the conservative path: a person checks the dashboard), and nothing was sent
    assert courier.find_booking(REQUEST.order_id) is UNKNOWN
    assert transport.calls == []


def test_tracking_reads_the_orders_history_by_biteships_order_id() -> None:
    # GIVEN a booking whose delivered webhook never came
    courier, transport = biteship((200, recorded("order_retrieved.json")))
    booking = Booking(provider="biteship", booking_id="6641f3a2c1d4e5001c7b9a21", courier="JNE", service="REG",
                      waybill_id=None, tracking_id=None, label_url=None, price=20_000, status="confirmed")
    # WHEN the poll asks Biteship where the parcel is
    events = courier.tracking(booking)
    # THEN one GET of the order (no tracking id needed) gives its history, oldest first, with the waybill
    [call] = transport.calls
    assert (call.method, call.url, call.body) == (
        "GET", "https://api.biteship.com/v1/orders/6641f3a2c1d4e5001c7b9a21", None)
    assert [e.status for e in events] == ["confirmed", "picked", "dropping_off", "delivered"]
    assert events[-1].at == "2026-03-04T04:47:12.000Z" and {e.waybill_id for e in events} == {"0110912345678901"}


# --- cancel and track -------------------------------------------------------------------------------------------------


def test_cancel_posts_to_the_cancel_endpoint_with_a_reason() -> None:
    courier, transport = biteship((200, recorded("order_cancelled.json")))
    courier.cancel("6641f3a2c1d4e5001c7b9a21")
    [call] = transport.calls
    assert (call.method, call.url) == ("POST", "https://api.biteship.com/v1/orders/6641f3a2c1d4e5001c7b9a21/cancel")
    assert call.json["cancellation_reason_code"] == "others"
    assert call.json["cancellation_reason"]


def test_cancel_after_pickup_is_rejected() -> None:
    answer = {"success": False, "error": "Order cannot be cancelled because it has been picked up"}
    courier, _ = biteship((400, json.dumps(answer).encode()))
    with pytest.raises(BookingRejected, match="picked up"):
        courier.cancel("6641f3a2c1d4e5001c7b9a21")


def test_track_returns_the_history_in_time_order_without_duplicates() -> None:
    courier, transport = biteship((200, recorded("tracking.json")))
    events = courier.track("6641f3a3c1d4e5001c7b9a24")
    assert (transport.calls[0].method, transport.calls[0].url, transport.calls[0].body) == (
        "GET", "https://api.biteship.com/v1/trackings/6641f3a3c1d4e5001c7b9a24", None)
    assert [e.status for e in events] == ["confirmed", "allocated", "picking_up", "picked", "dropping_off",
                                          "delivered"]
    assert events[-1].at == "2026-03-04T04:47:12.000Z"
    assert events[-1].note.startswith("Delivered to RINA KARTIKA")
    assert {e.waybill_id for e in events} == {"0110912345678901"}


def test_ids_are_escaped_in_urls() -> None:
    courier, transport = biteship((200, recorded("tracking.json")))
    courier.track("../v1/orders")
    assert transport.calls[0].url == "https://api.biteship.com/v1/trackings/..%2Fv1%2Forders"


# --- construction and configuration -----------------------------------------------------------------------------------


def test_biteship_courier_satisfies_the_port_and_validates_its_setup() -> None:
    courier, _ = biteship()
    assert isinstance(courier, Courier)
    with pytest.raises(ValueError, match="API key"):
        BiteshipCourier(api_key="", origin_postal_code="55213")
    with pytest.raises(ValueError, match="origin_postal_code"):
        BiteshipCourier(api_key=API_KEY, origin_postal_code="5521")


def test_adapters_pick_the_courier_from_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    adapters.reset()
    monkeypatch.delenv("TOKOFLOW_COURIER", raising=False)
    assert isinstance(adapters.courier(), RateCardCourier)
    assert adapters.courier() is adapters.courier()

    monkeypatch.setenv("TOKOFLOW_COURIER", "biteship")
    monkeypatch.delenv("TOKOFLOW_BITESHIP_API_KEY", raising=False)
    with pytest.raises(RuntimeError, match="TOKOFLOW_BITESHIP_API_KEY"):
        adapters.courier()

    monkeypatch.setenv("TOKOFLOW_BITESHIP_API_KEY", API_KEY)
    monkeypatch.setenv("TOKOFLOW_BITESHIP_BASE_URL", "https://api.biteship.test/")
    monkeypatch.delenv("TOKOFLOW_SHOP_ORIGIN_POSTAL_CODE", raising=False)
    live = adapters.courier()
    assert isinstance(live, BiteshipCourier)
    assert (live.origin_postal_code, live.base_url) == ("55173", "https://api.biteship.test")  # Kotagede

    monkeypatch.setenv("TOKOFLOW_SHOP_ORIGIN_POSTAL_CODE", " 55213 ")
    moved = adapters.courier()
    assert isinstance(moved, BiteshipCourier) and moved.origin_postal_code == "55213"  # the setting, read on use

    monkeypatch.setenv("TOKOFLOW_COURIER", "pos-indonesia")
    with pytest.raises(RuntimeError, match="sandbox, biteship"):
        adapters.courier()

    monkeypatch.setenv("TOKOFLOW_COURIER_WEBHOOK_SECRET", " whsec_123 ")
    assert adapters.webhook_secret() == "whsec_123"
    adapters.reset()


# --- default transport ------------------------------------------------------------------------------------------------


def test_urllib_transport_returns_http_errors_as_answers_and_raises_when_unreachable() -> None:
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from chalicelib.shipping.biteship import urllib_transport

    seen: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen["authorization"] = self.headers["authorization"]
            seen["body"] = self.rfile.read(int(self.headers["content-length"]))
            answer = recorded("order_error_400.json")
            self.send_response(400)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        courier = BiteshipCourier(api_key=API_KEY, origin_postal_code="55213", base_url=base,
                                  transport=urllib_transport)
        with pytest.raises(BookingRejected, match="destination needs to have postal code"):
            courier.book(REQUEST)
        assert seen["authorization"] == API_KEY
        assert json.loads(seen["body"])["reference_id"] == REQUEST.order_id
    finally:
        server.shutdown()
        server.server_close()

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(CourierError, match="unreachable") as refused:
        urllib_transport("GET", f"http://127.0.0.1:{closed_port}/v1/trackings/x", {}, None)
    assert type(refused.value) is CourierError  # refused: nothing was sent, a booking may simply be tried again


def test_urllib_transport_calls_a_request_sent_without_an_answer_an_unknown_outcome(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from chalicelib.shipping import biteship as module

    # GIVEN a server that takes the connection and the request but never answers (the kernel accepts for it)
    monkeypatch.setattr(module, "TIMEOUT_SECONDS", 0.2)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        # WHEN a booking is posted to it
        with pytest.raises(CourierOutcomeUnknown, match="did not answer"):
            module.urllib_transport("POST", f"http://127.0.0.1:{port}/v1/orders", {}, b"{}")
    # THEN the outcome is unknown: Biteship may have booked the parcel, so the booking is never simply retried
