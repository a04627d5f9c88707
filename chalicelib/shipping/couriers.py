"""Courier adapters behind one small interface, so checkout can move from the sandbox rate card to a real
aggregator API (RajaOngkir, Biteship, ...) without touching the order logic.

The port covers the whole shipment life: price (rates), book a pickup (book), look a booking up by the shop's
reference (find_booking), read a parcel's journey (tracking) and call a booking off (cancel).
Failures come in three kinds because the caller's reaction differs: CourierError means the courier did not act and
the same request may succeed later (connection refused, throttled, bad credentials being fixed);
CourierOutcomeUnknown means it may have acted (a timeout after sending, a 5xx), so a booking must be looked up
before it is tried again; BookingRejected is final for that request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Final, Protocol, final, runtime_checkable

from chalicelib import clock
from chalicelib.shipping import tracking
from chalicelib.shipping.domain import COURIER_NAMES as COURIER_NAMES  # courier names: importable from here too
from chalicelib.shipping.domain import (
    DEFAULT_RATE_CARD,
    Destination,
    EmptyParcel,
    ParcelItem,
    RateCard,
    ShippingService,
    courier_code,
    order_value_of,
    quote,
)
from chalicelib.shipping.domain import courier_name as courier_name
from chalicelib.shipping.tracking import TrackingEvent
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
    """The courier could not be reached or could not act right now, and did not act: the same request may succeed
    later (connection refused, throttled, credentials being rotated, a balance to top up).

    ``status`` and ``body`` keep the HTTP answer (when there was one) for logs and for recovery logic.
    """

    def __init__(self, message: str, *, status: int | None = None, body: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: Mapping[str, Any] = dict(body or {})


class CourierOutcomeUnknown(CourierError):
    """The request may have reached the courier and no usable answer came back (a timeout after sending, a reset,
    a 5xx): the courier may have acted. A read may simply be retried; a booking must first be looked up by the
    shop's reference (Courier.find_booking), or handed to a person where the courier offers no lookup."""


class BookingRejected(CourierError):
    """The courier refused this request (service not available, bad address, too late to cancel): do not retry."""


@final
class Unknown:
    """What find_booking answers when the courier offers no way to look a booking up by the shop's reference."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = Unknown()

# What staff are told when a booking's outcome is unknown and the courier cannot be asked for it by reference.
MAY_HAVE_BOOKED = "the courier may have booked this parcel: check the courier's dashboard before booking again"


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
    """Anything that can price a parcel, book its pickup, find that booking again, follow it and cancel it."""

    name: str

    def rates(
        self, items: Sequence[ParcelItem], destination: Destination, *, order_value: int
    ) -> list[ShippingService]: ...

    def book(self, request: BookingRequest) -> Booking:
        """Book a pickup; raises CourierError (not booked: retry later), CourierOutcomeUnknown (may be booked: look
        it up before booking again) or BookingRejected (final)."""
        ...

    def find_booking(self, reference: str) -> Booking | Unknown | None:
        """The live booking the courier holds for the shop's reference (BookingRequest.order_id), None when it
        holds none, UNKNOWN when it offers no lookup by reference; raises CourierError when it cannot answer now."""
        ...

    def tracking(self, booking: Booking) -> list[TrackingEvent]:
        """The courier's history of a booked parcel, oldest first: what the shop polls when webhooks were lost."""
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


# Faults the sandbox courier produces on demand, as real couriers do between the happy paths. They are armed in the
# sandbox's own books (a DynamoDB table outside tests), so a test, the running local stack and
# `make courier-fault` all see them. Booking faults:
TIMEOUT_AFTER_BOOKING = "timeout_after_booking"  # the parcel is booked, then the answer is lost
TIMEOUT_BEFORE_BOOKING = "timeout_before_booking"  # the request times out before anything is booked
ERROR_5XX = "error_5xx"  # a 500 answer; nothing is booked, but the shop cannot know that
# Webhook faults, applied where the sandbox sends its webhooks (report):
DROP_WEBHOOK = "drop_webhook"  # the webhook is never sent; only polling the courier's tracking finds the status
WEBHOOK_TWICE = "webhook_twice"  # the same webhook arrives twice
WEBHOOKS_OUT_OF_ORDER = "webhooks_out_of_order"  # newest first; a single webhook is followed by the one before it
BOOKING_FAULTS = (TIMEOUT_AFTER_BOOKING, TIMEOUT_BEFORE_BOOKING, ERROR_5XX)
WEBHOOK_FAULTS = (DROP_WEBHOOK, WEBHOOK_TWICE, WEBHOOKS_OUT_OF_ORDER)
SANDBOX_FAULTS = BOOKING_FAULTS + WEBHOOK_FAULTS
BOOKING, WEBHOOK = "booking", "webhook"  # the two operations a fault is armed for, one fault each at a time


def fault_operation(fault: str) -> str:
    """"booking" or "webhook": the operation a fault name belongs to; ValueError naming the known ones otherwise."""
    if fault in BOOKING_FAULTS:
        return BOOKING
    if fault in WEBHOOK_FAULTS:
        return WEBHOOK
    raise ValueError(f"unknown sandbox courier fault {fault!r}: one of {', '.join(SANDBOX_FAULTS)}")


@dataclass(frozen=True)
class SandboxFault:
    """A fault armed for the next `remaining` bookings or webhooks, optionally only for one order (`reference`) and,
    for webhook faults, only for webhooks reporting one courier status."""

    fault: str
    remaining: int
    reference: str | None = None
    status: str | None = None

    def __post_init__(self) -> None:
        fault_operation(self.fault)
        if not isinstance(self.remaining, int) or isinstance(self.remaining, bool) or self.remaining < 0:
            raise ValueError("remaining must be 0 (disarmed) or more")
        if self.status is not None:
            if self.fault not in WEBHOOK_FAULTS:
                raise ValueError("only webhook faults can be limited to a courier status")
            status = tracking.normalise_status(self.status)
            if status not in tracking.STATUSES:
                raise ValueError(f"unknown courier status {self.status!r}")
            object.__setattr__(self, "status", status)

    @property
    def operation(self) -> str:
        return fault_operation(self.fault)

    def applies(self, kinds: Collection[str], *, reference: str, status: str | None = None) -> bool:
        return (self.remaining > 0 and self.fault in kinds and self.reference in (None, reference)
                and (self.status is None or self.status == status))


@dataclass(frozen=True)
class SandboxParcel:
    """One booking as the sandbox courier keeps it, like a real courier: under the shop's reference (the order id),
    with the parcel's journey so far (oldest first) and whether it was cancelled."""

    reference: str
    booking: Booking
    booked_at: str
    history: tuple[TrackingEvent, ...] = ()
    cancelled: bool = False

    @property
    def status(self) -> str:
        return tracking.current_status(self.history) or tracking.CONFIRMED


class SandboxBooks(Protocol):
    """Where the sandbox courier keeps its bookings and armed faults (in memory, or its DynamoDB table)."""

    def add(self, parcel: SandboxParcel) -> None: ...

    def of_reference(self, reference: str) -> list[SandboxParcel]:
        """Every booking made for the reference, oldest first (more than one is a double booking)."""
        ...

    def get(self, booking_id: str) -> SandboxParcel | None: ...

    def save(self, parcel: SandboxParcel) -> None:
        """Store a booked parcel's new history or cancellation."""
        ...

    def arm(self, fault: SandboxFault) -> None:
        """Arm `fault` for its operation, replacing what was armed for it (remaining=0 disarms)."""
        ...

    def armed(self) -> list[SandboxFault]: ...

    def take_fault(self, kinds: Collection[str], *, reference: str, status: str | None = None) -> str | None:
        """The armed fault among `kinds` that applies, used up once (two callers never take the same one)."""
        ...


@dataclass
class MemoryBooks:
    """SandboxBooks in a dict: the sandbox a test builds on its own, with no AWS."""

    parcels: dict[str, SandboxParcel] = field(default_factory=dict)
    faults: dict[str, SandboxFault] = field(default_factory=dict)

    def add(self, parcel: SandboxParcel) -> None:
        self.parcels[parcel.booking.booking_id] = parcel

    def of_reference(self, reference: str) -> list[SandboxParcel]:
        return sorted((p for p in self.parcels.values() if p.reference == reference), key=lambda p: p.booked_at)

    def get(self, booking_id: str) -> SandboxParcel | None:
        return self.parcels.get(booking_id)

    def save(self, parcel: SandboxParcel) -> None:
        self.parcels[parcel.booking.booking_id] = parcel

    def arm(self, fault: SandboxFault) -> None:
        self.faults[fault.operation] = fault

    def armed(self) -> list[SandboxFault]:
        return [fault for fault in self.faults.values() if fault.remaining > 0]

    def take_fault(self, kinds: Collection[str], *, reference: str, status: str | None = None) -> str | None:
        for operation, fault in self.faults.items():
            if fault.applies(kinds, reference=reference, status=status):
                self.faults[operation] = replace(fault, remaining=fault.remaining - 1)
                return fault.fault
        return None


class RateCardCourier:
    """Sandbox courier: prices from a static RateCard and books instantly, so local, test and demo stages need no
    third-party account. Like a real courier it keeps its bookings under the shop's reference (in `books`): asked
    twice, it books two pickups, and find_booking finds the first again. Waybills and ids are derived from the
    reference (and how many bookings it already has), so the first booking of an order always looks the same.
    On demand it times out, answers 5xx, and drops, repeats or reorders its webhooks (SANDBOX_FAULTS).
    """

    name = "sandbox"

    def __init__(
        self,
        *,
        origin_city: str,
        origin_province: str,
        rate_card: RateCard = DEFAULT_RATE_CARD,
        fail_orders: Iterable[str] = frozenset(),
        books: SandboxBooks | None = None,
    ) -> None:
        self.origin_city = origin_city
        self.origin_province = origin_province
        self.rate_card = rate_card
        # Order ids whose booking is refused before anything is sent (a connection refused): a retryable CourierError.
        self.fail_orders: frozenset[str] = frozenset(fail_orders)
        self.books: SandboxBooks = books if books is not None else MemoryBooks()

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
        """Book at the rate card's price with a waybill, booking id and tracking id derived from the reference.

        Raises CourierError for an order in fail_orders (nothing sent), CourierOutcomeUnknown for an armed timeout
        or 5xx (after booking for timeout_after_booking), BookingRejected when the service does not serve the
        destination or cannot collect the requested cash on delivery.
        """
        reference = request.order_id
        if reference in self.fail_orders:
            raise CourierError(f"sandbox courier refused the connection (booking {reference} was not sent)")
        fault = self.books.take_fault(BOOKING_FAULTS, reference=reference)
        if fault == TIMEOUT_BEFORE_BOOKING:
            raise CourierOutcomeUnknown(f"sandbox courier: booking {reference} timed out (nothing was booked)")
        if fault == ERROR_5XX:
            raise CourierOutcomeUnknown(f"sandbox courier (500): internal error booking {reference}", status=500)
        try:
            offers = self.rates(request.items, request.destination, order_value=request.order_value)
        except ValueError as error:  # UnknownDestination: no zone, so no courier serves it
            raise BookingRejected(str(error)) from error
        offer = find_service(offers, request.courier, request.service)
        if offer is None:
            raise BookingRejected(f"{request.courier} {request.service} does not deliver this parcel there")
        if request.is_cod and not (offer.cod_available and request.cash_on_delivery_amount <= self._cod_limit(offer)):
            raise BookingRejected(f"{offer.courier} {offer.service} cannot collect cash on delivery for this order")

        earlier = len(self.books.of_reference(reference))  # a second booking of the same parcel is a second pickup
        seed = "\x1f".join((reference, courier_code(offer.courier), offer.service.casefold()))
        seed += f"\x1f{earlier}" if earlier else ""
        booking_id = "sbx_" + _digest("booking", seed)[:24]
        booking = Booking(
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
        now = clock.now_iso()
        confirmed = TrackingEvent(status=tracking.CONFIRMED, at=now, note="Order has been confirmed.",
                                  waybill_id=booking.waybill_id)
        self.books.add(SandboxParcel(reference=reference, booking=booking, booked_at=now, history=(confirmed,)))
        if fault == TIMEOUT_AFTER_BOOKING:
            raise CourierOutcomeUnknown(f"sandbox courier: booking {reference} timed out (the parcel was booked as "
                                        f"{booking_id}; the answer was lost)")
        return booking

    def find_booking(self, reference: str) -> Booking | None:
        """The first booking not cancelled that the sandbox holds for the reference, None when there is none."""
        live = [parcel for parcel in self.books.of_reference(reference) if not parcel.cancelled]
        return live[0].booking if live else None

    def tracking(self, booking: Booking) -> list[TrackingEvent]:
        """The parcel's journey as the sandbox recorded it (report), oldest first; BookingRejected if unknown."""
        return list(self._parcel(booking.booking_id).history)

    def cancel(self, booking_id: str) -> None:
        """Cancel a sandbox booking up to picking_up, as Biteship does; BookingRejected for any other id or later."""
        if not isinstance(booking_id, str) or not booking_id.startswith("sbx_"):
            raise BookingRejected(f"not a sandbox booking: {booking_id!r}")
        parcel = self._parcel(booking_id)
        if parcel.cancelled:
            return
        if not tracking.can_cancel(parcel.status):
            raise BookingRejected(f"sandbox booking {booking_id} is {parcel.status}: too late to cancel")
        event = TrackingEvent(status=tracking.CANCELLED, at=clock.now_iso(), note="Order is cancelled.",
                              waybill_id=parcel.booking.waybill_id)
        history, _, _ = tracking.apply_event(parcel.history, event)
        self.books.save(replace(parcel, history=tuple(history), cancelled=True))

    def report(self, reference: str, updates: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        """The courier moves the reference's parcel: each (status, at) joins its history, and the answer is the
        order.status webhooks the courier sends for them, in the order it sends them, after any armed webhook fault
        (dropped, sent twice, out of order). Raises BookingRejected when the reference has no live booking."""
        live = [parcel for parcel in self.books.of_reference(reference) if not parcel.cancelled]
        if not live:
            raise BookingRejected(f"the sandbox courier holds no live booking for {reference}")
        parcel = live[0]
        before = parcel.history
        history = list(before)
        events = [TrackingEvent(status=status, at=at, note=f"sandbox courier: {tracking.normalise_status(status)}",
                                waybill_id=parcel.booking.waybill_id) for status, at in updates]
        for event in events:
            history, _, _ = tracking.apply_event(history, event)
        self.books.save(replace(parcel, history=tuple(history)))

        sent = [tracking.sandbox_webhook(reference, parcel.booking, event.status, event.at) for event in events]
        if not sent:
            return []
        reorder = self.books.take_fault((WEBHOOKS_OUT_OF_ORDER,), reference=reference, status=sent[-1]["status"])
        delivered: list[dict[str, Any]] = []
        for body in sent:
            fault = self.books.take_fault((DROP_WEBHOOK, WEBHOOK_TWICE), reference=reference, status=body["status"])
            if fault == DROP_WEBHOOK:
                continue
            delivered += [body, dict(body)] if fault == WEBHOOK_TWICE else [body]
        if reorder and len(delivered) > 1:
            delivered.reverse()
        elif reorder and delivered and before:  # one webhook: the status before it arrives after it
            stale = before[-1]
            delivered.append(tracking.sandbox_webhook(reference, parcel.booking, stale.status, stale.at))
        return delivered

    def _parcel(self, booking_id: str) -> SandboxParcel:
        parcel = self.books.get(booking_id)
        if parcel is None:
            raise BookingRejected(f"the sandbox courier has no booking {booking_id}", status=404)
        return parcel

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
