"""Courier adapters behind one small interface, so checkout can move from the sandbox rate card to a real
aggregator API (RajaOngkir, Biteship, ...) without touching the order logic.

The port covers the whole shipment life: price (rates), book a pickup (book) and call it off (cancel).
Failures come in two kinds because the caller's reaction differs: CourierError is worth retrying later
(outage, throttling, bad credentials being fixed), BookingRejected is final for that request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

from chalicelib.shipping.domain import (
    DEFAULT_RATE_CARD,
    Destination,
    EmptyParcel,
    ParcelItem,
    RateCard,
    ShippingService,
    order_value_of,
    quote,
)
from chalicelib.validation import (
    address_notes,
    city,
    conform,
    contact_name,
    indonesian_phone,
    postal_code,
    province,
    street,
)

# ---------------------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------------------


class CourierError(Exception):
    """The courier could not be reached or could not act right now; the same request may succeed later.

    ``status`` and ``body`` keep the HTTP answer (when there was one) for logs and for recovery logic.
    """

    def __init__(self, message: str, *, status: int | None = None, body: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: Mapping[str, Any] = dict(body or {})


class BookingRejected(CourierError):
    """The courier refused this request (service not available, bad address, too late to cancel): do not retry."""


# ---------------------------------------------------------------------------------------------------------------------
# Courier names
# ---------------------------------------------------------------------------------------------------------------------

# Aggregator courier codes (Biteship's, which RajaOngkir shares) -> the names shoppers see on the rate card.
COURIER_NAMES: Mapping[str, str] = {"jne": "JNE", "jnt": "J&T", "sicepat": "SiCepat", "anteraja": "AnterAja"}
_CODE_ALIASES: Mapping[str, str] = {"j&t": "jnt", "j&t express": "jnt", "jnt express": "jnt", "anter aja": "anteraja"}


def courier_code(name: str) -> str:
    """Aggregator code for a courier name in any common spelling ("J&T" -> "jnt"); unknown names are lower-cased."""
    key = name.strip().casefold()
    return _CODE_ALIASES.get(key, key)


def courier_name(code: str) -> str:
    """Display name for an aggregator code ("jnt" -> "J&T"), falling back to the code in upper case."""
    key = courier_code(code)
    return COURIER_NAMES.get(key, code.strip().upper())


# ---------------------------------------------------------------------------------------------------------------------
# Booking value objects
# ---------------------------------------------------------------------------------------------------------------------

def _text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")


def _amount(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative whole Rupiah int, got {value!r}")


@dataclass(frozen=True)
class Contact:
    """Who hands over or receives the parcel; couriers phone this number, so it must be one.

    Checked and normalised by the rules checkout applies (chalicelib.validation): the phone becomes +62...
    """

    name: str
    phone: str
    email: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", conform("name", contact_name, self.name))
        object.__setattr__(self, "phone", conform("phone", indonesian_phone, self.phone))
        if not isinstance(self.email, str):
            raise ValueError(f"email must be a string, got {self.email!r}")
        object.__setattr__(self, "email", self.email.strip())


@dataclass(frozen=True)
class Address:
    """A street address as Indonesian couriers take it: free text street plus city, province and kode pos."""

    street: str
    city: str
    province: str
    postal_code: str
    notes: str = ""

    def __post_init__(self) -> None:
        # The same rules (and limits) checkout applies, so an address checkout stored is always bookable.
        object.__setattr__(self, "street", conform("street", street, self.street))
        object.__setattr__(self, "city", conform("city", city, self.city))
        object.__setattr__(self, "province", conform("province", province, self.province))
        object.__setattr__(self, "postal_code", conform("postal_code", postal_code, self.postal_code))
        object.__setattr__(self, "notes", conform("notes", address_notes, self.notes))

    def one_line(self) -> str:
        """Single-line form for APIs with one address field."""
        return f"{self.street}, {self.city}, {self.province} {self.postal_code}"


@dataclass(frozen=True)
class BookingRequest:
    """Everything a courier needs to pick up one order's parcel. order_id doubles as the idempotency key."""

    order_id: str
    courier: str
    service: str
    items: tuple[ParcelItem, ...]
    origin_contact: Contact
    origin_address: Address
    destination_contact: Contact
    destination_address: Address
    cash_on_delivery_amount: int = 0  # whole Rupiah the courier collects; 0 means prepaid
    insurance_value: int = 0  # declared value to insure; 0 means uninsured

    def __post_init__(self) -> None:
        _text("order_id", self.order_id)
        _text("courier", self.courier)
        _text("service", self.service)
        object.__setattr__(self, "items", tuple(self.items))
        if not self.items:
            raise EmptyParcel("cannot book a pickup for a parcel with no items")
        _amount("cash_on_delivery_amount", self.cash_on_delivery_amount)
        _amount("insurance_value", self.insurance_value)

    @property
    def destination(self) -> Destination:
        """The pricing view of the destination address."""
        address = self.destination_address
        return Destination(postal_code=address.postal_code, city=address.city, province=address.province)

    @property
    def order_value(self) -> int:
        return order_value_of(self.items)

    @property
    def is_cod(self) -> bool:
        return self.cash_on_delivery_amount > 0


@dataclass(frozen=True)
class Booking:
    """A confirmed pickup. waybill_id (the resi) may come later for some couriers, via a webhook."""

    provider: str
    booking_id: str
    courier: str
    service: str
    waybill_id: str | None
    tracking_id: str | None
    label_url: str | None
    price: int  # whole Rupiah the courier charges the shop
    status: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Booking:
        """Inverse of to_dict, for bookings read back from storage."""
        return cls(
            provider=data["provider"],
            booking_id=data["booking_id"],
            courier=data["courier"],
            service=data["service"],
            waybill_id=data.get("waybill_id"),
            tracking_id=data.get("tracking_id"),
            label_url=data.get("label_url"),
            price=int(data["price"]),
            status=data["status"],
        )


# ---------------------------------------------------------------------------------------------------------------------
# The port
# ---------------------------------------------------------------------------------------------------------------------


@runtime_checkable
class Courier(Protocol):
    """Anything that can price a parcel, book its pickup and cancel that booking."""

    name: str

    def rates(
        self, items: Sequence[ParcelItem], destination: Destination, *, order_value: int
    ) -> list[ShippingService]: ...

    def book(self, request: BookingRequest) -> Booking:
        """Book a pickup; raises CourierError (retry later) or BookingRejected (final)."""
        ...

    def cancel(self, booking_id: str) -> None:
        """Call off a booking that has not been picked up; raises BookingRejected when it is too late."""
        ...


# ---------------------------------------------------------------------------------------------------------------------
# Sandbox courier
# ---------------------------------------------------------------------------------------------------------------------

SANDBOX_LABEL_BASE_URL = "https://sandbox.tokoflow.local/labels"

# Waybill (resi) shapes as each courier prints them: (prefix, digits after the prefix).
_WAYBILL_SHAPES: Mapping[str, tuple[str, int]] = {
    "jne": ("0110", 12),  # 16 digits
    "jnt": ("JP", 10),
    "sicepat": ("00", 10),  # 12 digits
    "anteraja": ("1000", 11),  # 15 digits
}
_DEFAULT_WAYBILL_SHAPE = ("TKF", 12)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def sandbox_waybill(courier: str, seed: str) -> str:
    """A waybill shaped like the named courier's, derived from seed so the same booking always gets the same one."""
    prefix, digits = _WAYBILL_SHAPES.get(courier_code(courier), _DEFAULT_WAYBILL_SHAPE)
    number = int(_digest("waybill", seed), 16) % 10**digits
    return f"{prefix}{number:0{digits}d}"


class RateCardCourier:
    """Sandbox courier: prices from a static RateCard and books instantly, so local, test and demo stages need no
    third-party account. Bookings are a pure function of the request, which makes retries idempotent for free.
    """

    name = "sandbox"

    def __init__(
        self,
        *,
        origin_city: str,
        origin_province: str,
        rate_card: RateCard = DEFAULT_RATE_CARD,
        fail_orders: Iterable[str] = frozenset(),
    ) -> None:
        self.origin_city = origin_city
        self.origin_province = origin_province
        self.rate_card = rate_card
        # Order ids whose booking raises CourierError: lets tests simulate an outage without global state.
        self.fail_orders: frozenset[str] = frozenset(fail_orders)

    def rates(
        self, items: Sequence[ParcelItem], destination: Destination, *, order_value: int
    ) -> list[ShippingService]:
        """Quote every service on the card; raises EmptyParcel / UnknownDestination like domain.quote."""
        return quote(
            items,
            destination,
            origin_city=self.origin_city,
            origin_province=self.origin_province,
            rate_card=self.rate_card,
            order_value=order_value,
        )

    def book(self, request: BookingRequest) -> Booking:
        """Book at the rate card's price with a deterministic waybill, booking id and tracking id.

        Raises CourierError for an order in fail_orders, BookingRejected when the service does not serve the
        destination or cannot collect the requested cash on delivery.
        """
        if request.order_id in self.fail_orders:
            raise CourierError(f"sandbox courier unavailable for order {request.order_id}", status=503)
        try:
            offers = self.rates(request.items, request.destination, order_value=request.order_value)
        except ValueError as error:  # UnknownDestination: no zone, so no courier serves it
            raise BookingRejected(str(error)) from error
        offer = find_service(offers, request.courier, request.service)
        if offer is None:
            raise BookingRejected(f"{request.courier} {request.service} does not deliver this parcel there")
        if request.is_cod and not (offer.cod_available and request.cash_on_delivery_amount <= self._cod_limit(offer)):
            raise BookingRejected(f"{offer.courier} {offer.service} cannot collect cash on delivery for this order")

        seed = "\x1f".join((request.order_id, courier_code(offer.courier), offer.service.casefold()))
        booking_id = "sbx_" + _digest("booking", seed)[:24]
        return Booking(
            provider=self.name,
            booking_id=booking_id,
            courier=offer.courier,
            service=offer.service,
            waybill_id=sandbox_waybill(offer.courier, seed),
            tracking_id="trk_" + _digest("tracking", seed)[:24],
            label_url=f"{SANDBOX_LABEL_BASE_URL}/{booking_id}.pdf",
            price=offer.price,
            status="confirmed",
        )

    def cancel(self, booking_id: str) -> None:
        """Accept cancellation of any sandbox booking; the sandbox keeps no state, so the caller enforces timing."""
        if not isinstance(booking_id, str) or not booking_id.startswith("sbx_"):
            raise BookingRejected(f"not a sandbox booking: {booking_id!r}")

    def _cod_limit(self, offer: ShippingService) -> int:
        rate = self.rate_card.get(offer.courier, offer.service)
        return 0 if rate is None else rate.max_cod_value


def find_service(services: Iterable[ShippingService], courier: str, service: str) -> ShippingService | None:
    """The offer matching the customer's choice, so checkout charges the price just quoted.

    Case-insensitive, and courier spellings are compared by aggregator code, so "J&T" also matches "jnt".
    """
    wanted = (courier_code(courier), service.strip().casefold())
    for offer in services:
        if (courier_code(offer.courier), offer.service.strip().casefold()) == wanted:
            return offer
    return None
