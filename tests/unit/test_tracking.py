"""Unit tests for the pure tracking rules: status order, history merging, webhook parsing and authentication."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.shipping.couriers import Booking
from chalicelib.shipping.tracking import (
    BITESHIP_AUTH_HEADER,
    EVENT_PRICE,
    EVENT_STATUS,
    EVENT_WAYBILL,
    SANDBOX_SIGNATURE_HEADER,
    STATUSES,
    TERMINAL_STATUSES,
    InvalidWebhook,
    TrackingEvent,
    apply_event,
    can_cancel,
    canonical_body,
    current_status,
    is_registration_ping,
    is_terminal,
    outcome,
    parse_biteship_webhook,
    rank,
    sandbox_signature,
    sandbox_webhook,
    verify_biteship,
    verify_sandbox,
)

# Reconstructed from Biteship's public documentation (the order.status / order.price / order.waybill_id events of its
# webhook guide, the example answer of biteship.com/docs/api/trackings/retrieve), not recorded from live traffic.
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "biteship"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def event(status: str, at: str) -> TrackingEvent:
    return TrackingEvent(status=status, at=at)


def replay(events: list[TrackingEvent]) -> tuple[list[TrackingEvent], str]:
    history: list[TrackingEvent] = []
    current = ""
    for item in events:
        history, _, current = apply_event(history, item)
    return history, current


PICKED = event("picked", "2026-03-02T15:21:55+07:00")
DROPPING_OFF = event("dropping_off", "2026-03-04T08:05:30+07:00")
DELIVERED = event("delivered", "2026-03-04T11:47:12+07:00")


# --- statuses ---------------------------------------------------------------------------------------------------------


def test_rank_follows_the_journey_of_a_parcel() -> None:
    # GIVEN Biteship's statuses in the order a successful parcel passes through them
    journey = ["confirmed", "scheduled", "allocated", "picking_up", "picked", "on_hold", "dropping_off", "delivered"]
    # WHEN they are ranked
    ranks = [rank(status) for status in journey]
    # THEN each step is strictly further along than the one before
    assert ranks == sorted(ranks)
    assert len(set(ranks)) == len(ranks)


def test_a_return_is_further_along_than_a_delivery_attempt_and_ends_in_returned() -> None:
    assert rank("dropping_off") < rank("return_in_transit") < rank("returned")
    assert not is_terminal("return_in_transit")


def test_terminal_statuses_and_their_outcomes() -> None:
    # GIVEN every status Biteship documents
    # WHEN each is classified
    outcomes = {status: outcome(status) for status in STATUSES}
    # THEN only the six final ones are terminal, each mapped to the shop's outcome vocabulary
    assert TERMINAL_STATUSES == {"delivered", "returned", "rejected", "disposed", "courier_not_found", "cancelled"}
    assert {s for s in STATUSES if is_terminal(s)} == TERMINAL_STATUSES
    assert outcomes["delivered"] == "delivered"
    assert outcomes["returned"] == "returned"
    assert outcomes["rejected"] == outcomes["disposed"] == outcomes["courier_not_found"] == "failed"
    assert outcomes["cancelled"] == "cancelled"
    assert all(outcomes[s] is None for s in STATUSES if s not in TERMINAL_STATUSES)


def test_on_hold_is_not_terminal_and_cancel_is_only_possible_before_pickup() -> None:
    assert not is_terminal("on_hold")
    assert outcome("on_hold") is None
    assert [s for s in STATUSES if can_cancel(s)] == ["confirmed", "scheduled", "allocated", "picking_up"]


def test_status_spellings_are_normalised_and_unknown_statuses_rank_below_everything() -> None:
    assert rank("droppingOff") == rank("Dropping_Off") == rank("dropping_off")
    assert is_terminal("DELIVERED")
    assert rank("teleported") == 0 < rank("confirmed")
    assert outcome("teleported") is None


# --- history ----------------------------------------------------------------------------------------------------------


def test_reordered_webhooks_still_end_delivered() -> None:
    # GIVEN delivered arrives first, then dropping_off, then picked (webhooks retried out of order)
    # WHEN they are applied one by one
    history, current = replay([DELIVERED, DROPPING_OFF, PICKED])
    # THEN the shipment is delivered and the history reads in time order
    assert current == "delivered"
    assert [e.status for e in history] == ["picked", "dropping_off", "delivered"]


def test_a_stale_event_is_recorded_but_does_not_move_the_shipment_backwards() -> None:
    # GIVEN a parcel already out for delivery
    history, current = replay([PICKED, DROPPING_OFF])
    assert current == "dropping_off"
    # WHEN a late on_hold from earlier in the day arrives
    late = event("on_hold", "2026-03-03T09:00:00+07:00")
    history, changed, current = apply_event(history, late)
    # THEN it joins the history in time order but the shipment stays out for delivery
    assert changed is True
    assert current == "dropping_off"
    assert [e.status for e in history] == ["picked", "on_hold", "dropping_off"]


def test_on_hold_after_pickup_moves_the_shipment_forward() -> None:
    _, current = replay([PICKED, event("on_hold", "2026-03-03T09:00:00+07:00")])
    assert current == "on_hold"


def test_identical_events_are_deduplicated_even_with_different_timezone_spelling() -> None:
    # GIVEN a history holding the picked event
    history, _ = replay([PICKED])
    # WHEN the same event is redelivered with its time written in UTC
    again = event("picked", "2026-03-02T08:21:55Z")
    merged, changed, current = apply_event(history, again)
    # THEN nothing changes
    assert changed is False
    assert merged == history
    assert current == "picked"


def test_events_are_stored_as_utc_iso_and_round_trip_through_dicts() -> None:
    assert PICKED.at == "2026-03-02T08:21:55.000Z"
    assert TrackingEvent.from_dict(PICKED.to_dict()) == PICKED


def test_between_two_terminal_statuses_the_later_one_wins_whatever_the_arrival_order() -> None:
    rejected = event("rejected", "2026-03-04T09:00:00+07:00")
    returned = event("returned", "2026-03-08T09:00:00+07:00")
    assert replay([returned, rejected])[1] == replay([rejected, returned])[1] == "returned"


def test_current_status_of_an_empty_history_is_none() -> None:
    assert current_status([]) is None


def test_tracking_event_rejects_a_missing_status_or_bad_timestamp() -> None:
    with pytest.raises(ValueError, match="status"):
        TrackingEvent(status=" ", at="2026-03-02T08:21:55Z")
    with pytest.raises(ValueError, match="at"):
        TrackingEvent(status="picked", at="yesterday")


# --- webhook parsing --------------------------------------------------------------------------------------------------


def test_order_status_webhook_parses_into_a_tracking_event() -> None:
    # GIVEN Biteship's order.status payload for a picked parcel
    # WHEN it is parsed
    update = parse_biteship_webhook(fixture("webhook_status_picked.json"))
    # THEN every identifier is kept and the time is normalised to UTC
    assert update.kind == EVENT_STATUS
    assert update.booking_id == "6641f3a2c1d4e5001c7b9a21"
    assert update.waybill_id == "0110912345678901"
    assert update.tracking_id == "6641f3a3c1d4e5001c7b9a24"
    assert update.status == "picked"
    assert update.price == 20000
    assert update.at == "2026-03-02T08:21:55.000Z"
    tracking_event = update.event()
    assert tracking_event is not None
    assert (tracking_event.status, tracking_event.at, tracking_event.waybill_id) == (
        "picked", "2026-03-02T08:21:55.000Z", "0110912345678901")


def test_delivered_webhook_after_picked_ends_delivered() -> None:
    updates = [parse_biteship_webhook(fixture(name))
               for name in ("webhook_status_delivered.json", "webhook_status_picked.json")]
    events = [u.event() for u in updates]
    assert all(e is not None for e in events)
    _, current = replay([e for e in events if e is not None])
    assert current == "delivered"
    assert outcome(current) == "delivered"


def test_price_and_waybill_webhooks_parse_but_are_not_tracking_events() -> None:
    price = parse_biteship_webhook(fixture("webhook_price.json"))
    waybill = parse_biteship_webhook(fixture("webhook_waybill.json"))
    assert (price.kind, price.price, price.event()) == (EVENT_PRICE, 40000, None)
    assert (waybill.kind, waybill.waybill_id, waybill.event()) == (EVENT_WAYBILL, "0110912345678901", None)


@pytest.mark.parametrize(
    ("fixture_name", "missing"),
    [
        ("webhook_status_picked.json", "status"),
        ("webhook_status_picked.json", "updated_at"),
        ("webhook_status_picked.json", "order_id"),
        ("webhook_status_picked.json", "event"),
        ("webhook_price.json", "price"),
        ("webhook_waybill.json", "courier_waybill_id"),
    ],
)
def test_a_webhook_missing_a_required_field_is_rejected_naming_it(fixture_name: str, missing: str) -> None:
    payload = fixture(fixture_name)
    del payload[missing]
    with pytest.raises(InvalidWebhook, match=missing):
        parse_biteship_webhook(payload)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"event": "order.teleported"}, "unsupported event"),
        ({"updated_at": "last tuesday"}, "updated_at"),
        ({"event": "order.price", "price": -5}, "price"),
        ({"event": "order.price", "price": "dua puluh ribu"}, "price"),
    ],
)
def test_malformed_webhooks_are_rejected(change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidWebhook, match=message):
        parse_biteship_webhook({**fixture("webhook_status_picked.json"), **change})


def test_a_webhook_body_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(InvalidWebhook, match="object"):
        parse_biteship_webhook(["order.status"])  # type: ignore[arg-type]


def test_registration_ping_is_an_empty_body() -> None:
    assert is_registration_ping(b"")
    assert is_registration_ping(b"  \n")
    assert is_registration_ping(b"{}")
    assert not is_registration_ping(canonical_body(fixture("webhook_status_picked.json")))


# --- sandbox webhooks -------------------------------------------------------------------------------------------------

BOOKING = Booking(
    provider="sandbox", booking_id="sbx_0123456789abcdef01234567", courier="J&T", service="EZ",
    waybill_id="JP0123456789", tracking_id="trk_0123456789abcdef01234567",
    label_url="https://sandbox.tokoflow.local/labels/sbx_0123456789abcdef01234567.pdf", price=19000,
    status="confirmed",
)


def test_sandbox_webhook_speaks_biteships_dialect() -> None:
    # GIVEN a sandbox booking
    # WHEN the sandbox courier reports it delivered
    payload = sandbox_webhook("ord_42", BOOKING, "delivered", "2026-03-04T11:47:12+07:00")
    # THEN the body parses through the Biteship code path with every identifier intact
    update = parse_biteship_webhook(json.loads(canonical_body(payload)))
    assert payload["courier_company"] == "jnt"
    assert (update.kind, update.booking_id, update.reference_id) == (EVENT_STATUS, BOOKING.booking_id, "ord_42")
    assert (update.waybill_id, update.tracking_id, update.status) == ("JP0123456789", BOOKING.tracking_id,
                                                                      "delivered")
    assert update.at == "2026-03-04T04:47:12.000Z"


def test_sandbox_webhook_refuses_an_unknown_status() -> None:
    with pytest.raises(ValueError, match="unknown courier status"):
        sandbox_webhook("ord_42", BOOKING, "teleported", "2026-03-04T11:47:12Z")


# --- authentication ---------------------------------------------------------------------------------------------------

SECRET = "whsec_sandbox_3f9a"
BODY = canonical_body(sandbox_webhook("ord_42", BOOKING, "picked", "2026-03-02T15:21:55+07:00"))


def test_sandbox_signature_verifies_the_exact_body() -> None:
    signature = sandbox_signature(SECRET, BODY)
    assert SANDBOX_SIGNATURE_HEADER == "x-sandbox-signature"
    assert len(signature) == 64
    assert verify_sandbox(SECRET, BODY, signature)
    assert verify_sandbox(SECRET, BODY, signature.upper())


def test_forged_or_tampered_sandbox_webhooks_are_refused() -> None:
    signature = sandbox_signature(SECRET, BODY)
    tampered = BODY.replace(b"picked", b"delivered")
    assert not verify_sandbox(SECRET, tampered, signature)
    assert not verify_sandbox(SECRET, BODY, sandbox_signature("guessed-secret", BODY))
    assert not verify_sandbox(SECRET, BODY, None)
    assert not verify_sandbox(SECRET, BODY, "")


def test_an_empty_sandbox_secret_refuses_everything() -> None:
    assert not verify_sandbox("", BODY, sandbox_signature("", BODY))


def test_biteship_static_header_is_compared_case_insensitively_by_name() -> None:
    assert BITESHIP_AUTH_HEADER == "x-biteship-secret"
    assert verify_biteship(SECRET, {"X-Biteship-Secret": SECRET, "Content-Type": "application/json"})
    assert verify_biteship(SECRET, {"x-tokoflow-key": SECRET}, header_name="X-Tokoflow-Key")


def test_forged_missing_or_unconfigured_biteship_secrets_are_refused() -> None:
    assert not verify_biteship(SECRET, {BITESHIP_AUTH_HEADER: "whsec_guess"})
    assert not verify_biteship(SECRET, {BITESHIP_AUTH_HEADER: "rahasia-ünïcode"})
    assert not verify_biteship(SECRET, {})
    assert not verify_biteship("", {BITESHIP_AUTH_HEADER: ""})
    assert not verify_biteship("", {BITESHIP_AUTH_HEADER: "anything"})
