"""Shipment tracking rules: courier statuses, their progress order, webhook parsing and webhook authentication.

Pure on purpose (no HTTP, no AWS, no clock reads): couriers deliver webhooks late, twice and out of order, so the
rules that decide where a shipment *is* must be testable in isolation. Status names are Biteship's, and the sandbox
courier speaks the same dialect, so one code path handles both.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.clock import iso, parse_iso
from chalicelib.shipping.domain import courier_code

# ---------------------------------------------------------------------------------------------------------------------
# Statuses
# ---------------------------------------------------------------------------------------------------------------------

CONFIRMED = "confirmed"
SCHEDULED = "scheduled"
ALLOCATED = "allocated"
PICKING_UP = "picking_up"
PICKED = "picked"
ON_HOLD = "on_hold"
DROPPING_OFF = "dropping_off"
RETURN_IN_TRANSIT = "return_in_transit"
DELIVERED = "delivered"
RETURNED = "returned"
REJECTED = "rejected"
DISPOSED = "disposed"
COURIER_NOT_FOUND = "courier_not_found"
CANCELLED = "cancelled"

_TERMINAL_RANK = 100

# Progress order. on_hold sits between picked and dropping_off: it can move a parcel forward from "picked" (the hub
# holds it), but a late "on_hold" never drags a parcel that is already out for delivery backwards. A return is
# further along than a delivery attempt. Every terminal status shares the top rank; among them the later one wins.
_RANKS: Mapping[str, int] = {
    CONFIRMED: 10,
    SCHEDULED: 20,
    ALLOCATED: 30,
    PICKING_UP: 40,
    PICKED: 50,
    ON_HOLD: 60,
    DROPPING_OFF: 70,
    RETURN_IN_TRANSIT: 80,
    DELIVERED: _TERMINAL_RANK,
    RETURNED: _TERMINAL_RANK,
    REJECTED: _TERMINAL_RANK,
    DISPOSED: _TERMINAL_RANK,
    COURIER_NOT_FOUND: _TERMINAL_RANK,
    CANCELLED: _TERMINAL_RANK,
}

STATUSES: tuple[str, ...] = tuple(_RANKS)
TERMINAL_STATUSES: frozenset[str] = frozenset(s for s, r in _RANKS.items() if r == _TERMINAL_RANK)
CANCELLABLE_STATUSES: frozenset[str] = frozenset({CONFIRMED, SCHEDULED, ALLOCATED, PICKING_UP})  # Biteship's rule

_OUTCOMES: Mapping[str, str] = {
    DELIVERED: "delivered",
    RETURNED: "returned",
    REJECTED: "failed",
    DISPOSED: "failed",
    COURIER_NOT_FOUND: "failed",
    CANCELLED: "cancelled",
}


def normalise_status(status: str) -> str:
    """Lower snake case, so "droppingOff" (seen in some SDKs) and "Dropping_Off" compare equal to dropping_off."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", status.strip())
    return re.sub(r"[\s\-]+", "_", text).lower()


def rank(status: str) -> int:
    """Progress of a status; 0 for a status this code does not know, so a new courier status never moves a
    shipment forward on its own (it is still recorded in the history)."""
    return _RANKS.get(normalise_status(status), 0)


def is_terminal(status: str) -> bool:
    """True once nothing more will happen to the parcel (delivered, returned, failed or cancelled)."""
    return normalise_status(status) in TERMINAL_STATUSES


def outcome(status: str) -> str | None:
    """How the shipment ended: "delivered", "returned", "failed", "cancelled", or None while still moving."""
    return _OUTCOMES.get(normalise_status(status))


def can_cancel(status: str) -> bool:
    """Biteship only cancels an order up to picking_up; after pickup the parcel must be returned instead."""
    return normalise_status(status) in CANCELLABLE_STATUSES


# ---------------------------------------------------------------------------------------------------------------------
# Events and history
# ---------------------------------------------------------------------------------------------------------------------


def _utc_iso(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be an ISO-8601 timestamp")
    try:
        return iso(parse_iso(value.strip()))
    except ValueError:
        raise ValueError(f"{name} is not an ISO-8601 timestamp: {value!r}") from None


@dataclass(frozen=True)
class TrackingEvent:
    """One status reported by the courier at one moment; ``at`` is normalised to UTC ISO so events sort lexically."""

    status: str
    at: str
    note: str = ""
    waybill_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.status, str) or not self.status.strip():
            raise ValueError("status must be a non-empty string")
        object.__setattr__(self, "status", normalise_status(self.status))
        object.__setattr__(self, "at", _utc_iso("at", self.at))
        object.__setattr__(self, "raw", dict(self.raw))

    @property
    def key(self) -> tuple[str, str]:
        """Identity for de-duplication: couriers resend the same status with the same timestamp."""
        return (self.status, self.at)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "at": self.at, "note": self.note, "waybill_id": self.waybill_id,
                "raw": dict(self.raw)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrackingEvent:
        """Inverse of to_dict, for history read back from storage."""
        return cls(status=data["status"], at=data["at"], note=data.get("note") or "",
                   waybill_id=data.get("waybill_id"), raw=data.get("raw") or {})


def _time_order(event: TrackingEvent) -> tuple[str, int, str]:
    return (event.at, rank(event.status), event.status)


def current_status(history: Iterable[TrackingEvent]) -> str | None:
    """Furthest status reached: highest rank, the later one on a tie. None for an empty history.

    Using rank rather than arrival order means "delivered, then a late dropping_off" still reads delivered.
    """
    best = max(history, key=lambda e: (rank(e.status), e.at), default=None)
    return None if best is None else best.status


def apply_event(history: Sequence[TrackingEvent], event: TrackingEvent) -> tuple[list[TrackingEvent], bool, str]:
    """Merge one event into a shipment's history.

    Returns (history sorted by time, changed, current status). ``changed`` is False when the event was already
    recorded (same status and timestamp), so a redelivered webhook costs no write; compare the current status
    with the one before the call to know whether the shipment actually moved.
    """
    ordered = sorted(history, key=_time_order)
    if any(existing.key == event.key for existing in ordered):
        return ordered, False, current_status(ordered) or event.status
    merged = sorted([*ordered, event], key=_time_order)
    return merged, True, current_status(merged) or event.status


def last_news_at(history: Iterable[Mapping[str, Any]], booked_at: str) -> str:
    """When the shop last heard of a parcel (UTC ISO): its newest recorded tracking event, or its booking.

    A shipment whose last news is older than the polling threshold is asked for through the courier's tracking
    API, since a lost webhook (a `delivered` above all) would otherwise leave the order waiting for ever.
    """
    times = [_utc_iso("at", item["at"]) for item in history if item.get("at")]
    return max([*times, _utc_iso("booked_at", booked_at)])


def unseen(history: Iterable[Mapping[str, Any]], polled: Iterable[TrackingEvent]) -> list[TrackingEvent]:
    """The polled events the shipment's recorded history lacks (by status and time), oldest first: only these are
    applied, so a poll that brings nothing new writes nothing."""
    known = {(normalise_status(str(item["status"])), _utc_iso("at", item["at"])) for item in history
             if item.get("status") and item.get("at")}
    return sorted((event for event in polled if event.key not in known), key=_time_order)


# ---------------------------------------------------------------------------------------------------------------------
# Webhooks
# ---------------------------------------------------------------------------------------------------------------------

EVENT_STATUS = "order.status"
EVENT_PRICE = "order.price"
EVENT_WAYBILL = "order.waybill_id"
EVENTS: tuple[str, ...] = (EVENT_STATUS, EVENT_PRICE, EVENT_WAYBILL)


class InvalidWebhook(ValueError):
    """The payload is not a courier update this shop understands; the message names the offending field."""


@dataclass(frozen=True)
class CourierUpdate:
    """One courier webhook, whichever of the three events it is.

    booking_id is the courier's order id (Biteship's ``order_id``), which is how a shipment is found again;
    reference_id is the shop's own order id when the sender includes it (the sandbox always does).
    """

    kind: str  # one of EVENTS
    booking_id: str
    waybill_id: str | None
    tracking_id: str | None
    status: str | None
    price: int | None
    at: str | None  # UTC ISO
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    reference_id: str | None = None

    def event(self) -> TrackingEvent | None:
        """The tracking event an order.status update stands for; None for price and waybill updates."""
        if self.kind != EVENT_STATUS or self.status is None or self.at is None:
            return None
        return TrackingEvent(status=self.status, at=self.at, note=str(self.raw.get("note") or ""),
                             waybill_id=self.waybill_id, raw=self.raw)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "booking_id": self.booking_id, "waybill_id": self.waybill_id,
                "tracking_id": self.tracking_id, "status": self.status, "price": self.price, "at": self.at,
                "reference_id": self.reference_id}


def _optional_text(payload: Mapping[str, Any], name: str) -> str | None:
    value = payload.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise InvalidWebhook(f"{name} must be a string")
    return str(value)


def _required_text(payload: Mapping[str, Any], name: str) -> str:
    value = _optional_text(payload, name)
    if value is None:
        raise InvalidWebhook(f"missing field: {name}")
    return value


def _price(payload: Mapping[str, Any], name: str) -> int:
    value = payload.get(name)
    if value is None or value == "":
        raise InvalidWebhook(f"missing field: {name}")
    if isinstance(value, bool):
        raise InvalidWebhook(f"{name} must be a whole Rupiah amount")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\d+(\.0+)?", value.strip()):
        value = int(value.strip().split(".")[0])
    if not isinstance(value, int) or value < 0:
        raise InvalidWebhook(f"{name} must be a whole Rupiah amount, got {value!r}")
    return value


def parse_biteship_webhook(payload: Mapping[str, Any]) -> CourierUpdate:
    """Turn a Biteship (or sandbox) webhook body into a CourierUpdate.

    order.status needs status and updated_at (the timestamp is what orders reordered deliveries); order.price needs
    price; order.waybill_id needs courier_waybill_id. Raises InvalidWebhook naming the first missing field.
    """
    if not isinstance(payload, Mapping):
        raise InvalidWebhook("payload must be a JSON object")
    kind = _required_text(payload, "event")
    if kind not in EVENTS:
        raise InvalidWebhook(f"unsupported event: {kind!r}")
    booking_id = _required_text(payload, "order_id")
    waybill_id = _optional_text(payload, "courier_waybill_id")
    status = _optional_text(payload, "status")
    updated_at = _optional_text(payload, "updated_at")
    price: int | None = None

    if kind == EVENT_STATUS:
        status = _required_text(payload, "status")
        updated_at = _required_text(payload, "updated_at")
    elif kind == EVENT_PRICE:
        price = _price(payload, "price")
    else:
        waybill_id = _required_text(payload, "courier_waybill_id")
    if kind != EVENT_PRICE and payload.get("order_price") not in (None, ""):
        price = _price(payload, "order_price")

    try:
        at = None if updated_at is None else _utc_iso("updated_at", updated_at)
    except ValueError as error:
        raise InvalidWebhook(str(error)) from None
    return CourierUpdate(
        kind=kind,
        booking_id=booking_id,
        waybill_id=waybill_id,
        tracking_id=_optional_text(payload, "courier_tracking_id"),
        status=None if status is None else normalise_status(status),
        price=price,
        at=at,
        raw=dict(payload),
        reference_id=_optional_text(payload, "reference_id"),
    )


def is_registration_ping(body: bytes) -> bool:
    """Biteship checks a new webhook URL with an empty POST that must be answered 200 before any auth applies."""
    stripped = body.strip()
    return stripped in (b"", b"{}")


class BookingLike(Protocol):
    """The fields of a couriers.Booking that a webhook carries (kept structural so this module stays pure)."""

    @property
    def booking_id(self) -> str: ...
    @property
    def courier(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def waybill_id(self) -> str | None: ...
    @property
    def tracking_id(self) -> str | None: ...
    @property
    def price(self) -> int: ...


def sandbox_webhook(order_id: str, booking: BookingLike, status: str, at: str) -> dict[str, Any]:
    """An order.status body in Biteship's shape, so the sandbox courier exercises the real webhook code path.

    ``order_id`` is the shop's order, sent as reference_id; Biteship's own ``order_id`` field is the booking id.
    """
    normalised = normalise_status(status)
    if normalised not in _RANKS:
        raise ValueError(f"unknown courier status: {status!r}")
    return {
        "event": EVENT_STATUS,
        "order_id": booking.booking_id,
        "reference_id": order_id,
        "courier_tracking_id": booking.tracking_id,
        "courier_waybill_id": booking.waybill_id,
        "courier_company": courier_code(booking.courier),
        "courier_type": booking.service.lower(),
        "order_price": booking.price,
        "status": normalised,
        "updated_at": _utc_iso("at", at),
    }


# ---------------------------------------------------------------------------------------------------------------------
# Webhook authentication
# ---------------------------------------------------------------------------------------------------------------------

SANDBOX_SIGNATURE_HEADER = "x-sandbox-signature"
BITESHIP_AUTH_HEADER = "x-biteship-secret"


def sandbox_signature(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of the raw body: what the sandbox courier puts in SANDBOX_SIGNATURE_HEADER."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_sandbox(secret: str, body: bytes, header_value: str | None) -> bool:
    """Constant-time check of the sandbox signature; an unset secret rejects everything rather than nothing."""
    if not secret or not header_value:
        return False
    expected = sandbox_signature(secret, body)
    return hmac.compare_digest(expected.encode("ascii"), header_value.strip().lower().encode("utf-8"))


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works for plain dicts as well as Chalice's header mapping."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def verify_biteship(secret: str, headers: Mapping[str, str], header_name: str = BITESHIP_AUTH_HEADER) -> bool:
    """Constant-time comparison of the static header Biteship is configured to send.

    Biteship's webhook authentication is not confirmed by its public docs (the dashboard offers an optional
    header key and secret), so both the header name and the value are configuration. An empty secret is
    always False, so a missing configuration fails closed.
    """
    if not secret:
        return False
    value = header(headers, header_name)
    if not value:
        return False
    return hmac.compare_digest(secret.encode("utf-8"), value.encode("utf-8"))


def canonical_body(payload: Mapping[str, Any]) -> bytes:
    """Stable JSON encoding, so the sandbox signs exactly the bytes it sends."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8")
