"""Biteship adapter: the Courier port over Biteship's HTTP API (JNE, J&T, SiCepat, AnterAja through one account).

Biteship's Orders API offers POST /v1/orders, GET /v1/orders/:id, POST /v1/orders/:id and POST
/v1/orders/:id/cancel (https://biteship.com/docs/api/orders/overview): an order is found by Biteship's own id only,
never by the shop's reference_id, so find_booking answers UNKNOWN and a booking whose answer was lost goes to staff.

Uses urllib.request only, because it ships inside the Lambda package and every dependency there costs cold-start
time. The HTTP call is an injectable ``transport`` so tests replay recorded answers without a network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote as url_quote

from chalicelib.http_client import Unreachable, exchange
from chalicelib.shipping.couriers import (
    UNKNOWN,
    Booking,
    BookingRejected,
    BookingRequest,
    CourierError,
    CourierOutcomeUnknown,
    Unknown,
    courier_code,
    courier_name,
)
from chalicelib.shipping.domain import Destination, EmptyParcel, ParcelItem, ShippingService
from chalicelib.shipping.tracking import TrackingEvent, apply_event
from chalicelib.validation import conform, national_phone, postal_code

DEFAULT_BASE_URL = "https://api.biteship.com"
DEFAULT_COURIERS = ("jne", "jnt", "sicepat", "anteraja")
TIMEOUT_SECONDS = 8.0  # well inside API Gateway's 29 s, and leaves room for one retry in a Lambda invocation
COD_DISBURSEMENT = "7_days"  # Biteship pays collected COD cash out after 3, 5 or 7 days; 7 is the cheapest fee
CANCELLATION_REASON_CODE = "others"

# method, url, headers, body -> (HTTP status, response body). Raises CourierError when no answer came back.
Transport = Callable[[str, str, Mapping[str, str], bytes | None], tuple[int, bytes]]

# HTTP answers that mean "this request is wrong", as opposed to "try again later".
_REJECTED_STATUSES = frozenset({400, 404, 409, 422})
# A 400 that is really a temporary condition on the shop's side: the booking succeeds once the balance is topped up.
_RETRYABLE_ERROR_HINTS = ("balance",)


def urllib_transport(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> tuple[int, bytes]:
    """Default transport: one HTTPS request with an 8 s timeout; HTTP errors are answers, network errors raise:
    CourierError when the request never left (refused, DNS), CourierOutcomeUnknown when it may have been acted on."""
    try:
        return exchange(method, url, headers, body, timeout=TIMEOUT_SECONDS)
    except Unreachable as error:
        if error.sent:
            raise CourierOutcomeUnknown(f"Biteship did not answer: {error}") from error
        raise CourierError(f"Biteship unreachable: {error}") from error


def _int(value: object, default: int = 0) -> int:
    """Biteship sends prices as JSON numbers; Rupiah have no minor unit, so round anything fractional."""
    if isinstance(value, bool) or value is None:
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return round(value)
    if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value.strip()):
        return round(float(value))
    return default


def _etd_days(pricing: Mapping[str, Any]) -> str:
    """Biteship's "1 - 2" days becomes "1-2", the rate card's shape; hour-based (instant) services read "1"."""
    unit = str(pricing.get("shipment_duration_unit") or "days").lower()
    text = str(pricing.get("shipment_duration_range") or pricing.get("duration") or "")
    numbers = re.findall(r"\d+", text)
    if not numbers:
        return ""
    if unit.startswith("hour"):
        return "1"
    return "-".join(numbers[:2]) if len(numbers) > 1 and numbers[0] != numbers[1] else numbers[0]


def _item(item: ParcelItem) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": item.name,
        "value": item.value,
        "weight": item.weight_grams,
        "quantity": item.quantity,
    }
    if item.has_dimensions:
        payload.update(length=item.length_cm, width=item.width_cm, height=item.height_cm)
    return payload


class BiteshipCourier:
    """Courier port implementation backed by Biteship."""

    name = "biteship"

    def __init__(
        self,
        *,
        api_key: str,
        origin_postal_code: str,
        base_url: str = DEFAULT_BASE_URL,
        couriers: Sequence[str] = DEFAULT_COURIERS,
        transport: Transport = urllib_transport,
    ) -> None:
        if not api_key:
            raise ValueError("a Biteship API key is required")
        self._api_key = api_key
        self.origin_postal_code = conform("origin_postal_code", postal_code, origin_postal_code)
        self.base_url = base_url.rstrip("/")
        self.couriers = tuple(courier_code(c) for c in couriers)
        self._transport = transport

    # -- HTTP --------------------------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, payload: Mapping[str, Any] | None = None) -> dict[str, Any]:
        headers = {"authorization": self._api_key, "accept": "application/json"}
        body = None
        if payload is not None:
            headers["content-type"] = "application/json"
            body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        status, raw = self._transport(method, f"{self.base_url}{path}", headers, body)
        try:
            answer = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except (UnicodeDecodeError, ValueError):
            answer = None
        if not isinstance(answer, dict):
            unreadable = CourierOutcomeUnknown if status >= 500 or 200 <= status < 300 else CourierError
            raise unreadable(f"Biteship {method} {path}: HTTP {status} with a non-JSON answer", status=status)
        if 200 <= status < 300 and answer.get("success", True) is not False:
            return answer
        raise self._error(method, path, status, answer)

    @staticmethod
    def _error(method: str, path: str, status: int, answer: Mapping[str, Any]) -> CourierError:
        message = str(answer.get("error") or answer.get("message") or f"HTTP {status}")
        text = f"Biteship {method} {path}: {message}"
        temporary = any(hint in message.lower() for hint in _RETRYABLE_ERROR_HINTS)
        if (status in _REJECTED_STATUSES or 200 <= status < 300) and not temporary:
            return BookingRejected(text, status=status, body=answer)
        if status >= 500:  # Biteship's servers failed somewhere after taking the request: it may have acted
            return CourierOutcomeUnknown(text, status=status, body=answer)
        # 401/403 (key being rotated), 429 (throttled) and anything unexpected: refused, worth retrying later.
        return CourierError(text, status=status, body=answer)

    # -- rates -------------------------------------------------------------------------------------------------------

    def rates(
        self, items: Sequence[ParcelItem], destination: Destination, *, order_value: int
    ) -> list[ShippingService]:
        """Live prices for the configured couriers, cheapest first, in the same shape as the sandbox rate card.

        Raises EmptyParcel for no items, BookingRejected when Biteship refuses the route, CourierError otherwise.
        """
        items = list(items)
        if not items:
            raise EmptyParcel("cannot quote shipping for a parcel with no items")
        answer = self._call("POST", "/v1/rates/couriers", {
            "origin_postal_code": int(self.origin_postal_code),
            "destination_postal_code": int(destination.postal_code),
            "couriers": ",".join(self.couriers),
            "items": [_item(item) for item in items],
        })
        offers = [self._service(pricing) for pricing in answer.get("pricing") or [] if isinstance(pricing, dict)]
        offers.sort(key=lambda s: (s.price, s.courier.casefold(), s.service.casefold()))
        return offers

    @staticmethod
    def _service(pricing: Mapping[str, Any]) -> ShippingService:
        code = str(pricing.get("courier_code") or pricing.get("company") or pricing.get("courier_name") or "")
        return ShippingService(
            courier=courier_name(code),
            service=str(pricing.get("courier_service_code") or pricing.get("type") or "").upper(),
            price=max(_int(pricing.get("price")), 0),
            etd_days=_etd_days(pricing),
            cod_available=bool(pricing.get("available_for_cash_on_delivery")),
        )

    # -- orders ------------------------------------------------------------------------------------------------------

    def order_payload(self, request: BookingRequest) -> dict[str, Any]:
        """The POST /v1/orders body for a booking request (public so it can be logged or inspected).

        Phones go in the local form (0812...) that Indonesian couriers print on labels; the request holds +62....
        """
        origin, destination = request.origin_address, request.destination_address
        origin_phone = national_phone(request.origin_contact.phone)
        payload: dict[str, Any] = {
            "shipper_contact_name": request.origin_contact.name,
            "shipper_contact_phone": origin_phone,
            "shipper_contact_email": request.origin_contact.email,
            "origin_contact_name": request.origin_contact.name,
            "origin_contact_phone": origin_phone,
            "origin_address": origin.one_line(),
            "origin_note": origin.notes,
            "origin_postal_code": int(origin.postal_code),
            "destination_contact_name": request.destination_contact.name,
            "destination_contact_phone": national_phone(request.destination_contact.phone),
            "destination_contact_email": request.destination_contact.email,
            "destination_address": destination.one_line(),
            "destination_note": destination.notes,
            "destination_postal_code": int(destination.postal_code),
            "courier_company": courier_code(request.courier),
            "courier_type": request.service.strip().lower(),
            "delivery_type": "now",
            "reference_id": request.order_id,
            "items": [_item(item) for item in request.items],
        }
        if request.insurance_value:
            payload["courier_insurance"] = request.insurance_value
        if request.is_cod:
            payload["destination_cash_on_delivery"] = request.cash_on_delivery_amount
            payload["destination_cash_on_delivery_type"] = COD_DISBURSEMENT
        return payload

    def book(self, request: BookingRequest) -> Booking:
        """Create the Biteship order; reference_id is the shop's order id.

        If Biteship says the order already exists and names it (a retry after a timed-out create), the existing
        order is fetched and returned, so booking stays idempotent per shop order.
        """
        try:
            answer = self._call("POST", "/v1/orders", self.order_payload(request))
        except BookingRejected as error:
            existing = self._existing_order(error, request.order_id)
            if existing is None:
                raise
            answer = existing
        return self._booking(answer, request)

    def _existing_order(self, error: BookingRejected, order_id: str) -> dict[str, Any] | None:
        details = error.body.get("details")
        if not isinstance(details, Mapping) or not details.get("order_id"):
            return None
        answer = self._call("GET", f"/v1/orders/{url_quote(str(details['order_id']), safe='')}")
        return answer if answer.get("reference_id") == order_id else None

    def _booking(self, answer: Mapping[str, Any], request: BookingRequest) -> Booking:
        found = answer.get("courier")
        courier: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        booking_id = answer.get("id")
        if not booking_id:
            raise CourierError("Biteship created an order but returned no id", body=answer)
        return Booking(
            provider=self.name,
            booking_id=str(booking_id),
            courier=courier_name(str(courier.get("company") or request.courier)),
            service=str(courier.get("type") or request.service).upper(),
            waybill_id=courier.get("waybill_id") or None,
            tracking_id=courier.get("tracking_id") or None,
            label_url=courier.get("link") or None,
            price=_int(answer.get("price")),
            status=str(answer.get("status") or "confirmed"),
        )

    def cancel(self, booking_id: str, *, reason: str = "Pesanan dibatalkan oleh toko") -> None:
        """POST /v1/orders/{id}/cancel (Biteship's current endpoint; DELETE /v1/orders/{id} is deprecated).

        Biteship only cancels up to picking_up; later it answers 400, raised here as BookingRejected.
        """
        self._call("POST", f"/v1/orders/{url_quote(booking_id, safe='')}/cancel",
                   {"cancellation_reason_code": CANCELLATION_REASON_CODE, "cancellation_reason": reason})

    def find_booking(self, reference: str) -> Unknown:
        """Always UNKNOWN: Biteship finds an order by its own id only (GET /v1/orders/:id), not by reference_id."""
        return UNKNOWN

    # -- tracking ----------------------------------------------------------------------------------------------------

    def tracking(self, booking: Booking) -> list[TrackingEvent]:
        """The parcel's history from GET /v1/orders/{booking id} ("Retrieve an Order": courier.history, each with
        status, note and updated_at), oldest first without duplicates; works before a tracking id exists."""
        answer = self._call("GET", f"/v1/orders/{url_quote(booking.booking_id, safe='')}")
        found = answer.get("courier")
        courier: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        return self._history(courier.get("history"), courier.get("waybill_id") or booking.waybill_id)

    def track(self, tracking_id: str) -> list[TrackingEvent]:
        """The courier's history for a shipment, oldest first and without duplicates (GET /v1/trackings/{id})."""
        answer = self._call("GET", f"/v1/trackings/{url_quote(tracking_id, safe='')}")
        return self._history(answer.get("history"), answer.get("waybill_id") or None)

    @staticmethod
    def _history(entries: object, waybill_id: str | None) -> list[TrackingEvent]:
        events: list[TrackingEvent] = []
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, Mapping) or not entry.get("status") or not entry.get("updated_at"):
                continue
            try:
                event = TrackingEvent(status=str(entry["status"]), at=str(entry["updated_at"]),
                                      note=str(entry.get("note") or ""), waybill_id=waybill_id, raw=entry)
            except ValueError:
                continue  # one garbled history line must not hide the rest of the parcel's journey
            events, _, _ = apply_event(events, event)
        return events
