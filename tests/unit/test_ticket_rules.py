"""Ticket rules as plain Python: status transitions, the first response and resolution times across a staff reply,
a resolve, a reopen by the customer and a second resolve, the message caps and the rating once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.tickets.domain import (
    MAX_MESSAGES,
    OPEN,
    RESOLVED,
    WAITING_FOR_CUSTOMER,
    Ticket,
    TicketMessage,
    TicketRefused,
    add_customer_message,
    add_staff_message,
    attachment_key,
    new_ticket_id,
    open_ticket,
    rate,
    resolve,
)

T0 = "2026-12-01T01:00:00.000Z"


def at(minutes: int) -> str:
    """T0 plus `minutes`, as the clock writes it."""
    hours, rest = divmod(60 + minutes, 60)
    days, hours = divmod(hours, 24)
    return f"2026-12-{1 + days:02d}T{hours:02d}:{rest:02d}:00.000Z"


def customer(minutes: int, text: str = "Paket belum sampai") -> TicketMessage:
    return TicketMessage(at=at(minutes), author="customer", by="cust-1", text=text)


def staff(minutes: int, text: str = "Kami cek ke kurir") -> TicketMessage:
    return TicketMessage(at=at(minutes), author="staff", by="staff-1", text=text)


def opened() -> Ticket:
    return open_ticket(ticket_id="TKT-261201-ABCD1234", category="shipping", message=customer(0),
                       customer_id="cust-1", order_id="TK-261201-AAAAAA")


def test_a_new_ticket_is_open_and_waits_for_staff_from_its_first_message() -> None:
    ticket = opened()
    assert (ticket.status, ticket.waiting_since, ticket.version, ticket.reopened) == (OPEN, T0, 1, 0)
    assert ticket.first_response_seconds is None and ticket.resolution_seconds is None
    assert [message.author for message in ticket.messages] == ["customer"]


def test_ticket_ids_are_path_safe_and_attachments_live_under_the_ticket() -> None:
    ticket_id = new_ticket_id(datetime(2026, 12, 1, tzinfo=UTC), "AB12CD34")
    assert ticket_id == "TKT-261201-AB12CD34"
    assert attachment_key(ticket_id, 2, 1, "image/png") == "tickets/TKT-261201-AB12CD34/message-2-1.png"


def test_a_second_customer_message_keeps_the_original_waiting_time() -> None:
    ticket = add_customer_message(opened(), customer(10, "Halo?"))
    assert (ticket.status, ticket.waiting_since, ticket.version) == (OPEN, T0, 2)


def test_a_staff_reply_waits_for_the_customer_and_fixes_the_first_response_time() -> None:
    replied = add_staff_message(opened(), staff(30))
    assert (replied.status, replied.waiting_since, replied.first_response_seconds) == (
        WAITING_FOR_CUSTOMER, at(30), 1800)
    again = add_staff_message(replied, staff(45, "Update: paket di gudang"))
    assert again.first_response_seconds == 1800  # only the first reply counts
    answered = add_customer_message(again, customer(50, "Terima kasih"))
    assert (answered.status, answered.waiting_since) == (OPEN, at(50))


def test_ticket_times_across_a_reply_a_resolve_a_reopen_and_a_second_resolve() -> None:
    ticket = add_staff_message(opened(), staff(30))  # first response after 30 minutes
    ticket = resolve(ticket, at=at(60))  # resolved after 60 minutes open
    assert (ticket.status, ticket.resolution_seconds, ticket.resolved_at) == (RESOLVED, 3600, at(60))

    ticket = add_customer_message(ticket, customer(24 * 60, "Ternyata barangnya rusak"))  # reopened a day later
    assert (ticket.status, ticket.reopened, ticket.waiting_since) == (OPEN, 1, at(24 * 60))
    assert ticket.resolution_seconds is None and ticket.resolved_at is None
    assert ticket.first_response_seconds == 1800

    ticket = add_staff_message(ticket, staff(24 * 60 + 10, "Kami kirim pengganti"))
    assert ticket.first_response_seconds == 1800
    ticket = resolve(ticket, at=at(24 * 60 + 20))
    # 60 minutes before the first resolve plus 20 minutes after the reopen; the day it sat resolved is not counted
    assert ticket.resolution_seconds == (60 + 20) * 60
    assert (ticket.status, ticket.reopened, ticket.version) == (RESOLVED, 1, 6)


def test_staff_cannot_reply_to_or_resolve_a_resolved_ticket() -> None:
    resolved = resolve(opened(), at=at(5))
    with pytest.raises(TicketRefused) as replied:
        add_staff_message(resolved, staff(6))
    with pytest.raises(TicketRefused) as again:
        resolve(resolved, at=at(7))
    assert replied.value.status == again.value.status == 409


def test_a_ticket_holds_at_most_200_messages() -> None:
    ticket = opened()
    for minute in range(1, MAX_MESSAGES):
        ticket = add_customer_message(ticket, customer(minute, "lagi"))
    assert len(ticket.messages) == MAX_MESSAGES
    with pytest.raises(TicketRefused) as full:
        add_customer_message(ticket, customer(MAX_MESSAGES, "satu lagi"))
    assert full.value.code == "ticket_full"


def test_a_ticket_stays_under_the_item_size_limit_with_long_multibyte_messages() -> None:
    ticket = opened()
    long_text = "ё" * 4000  # 8,000 bytes each
    with pytest.raises(TicketRefused) as full:
        for minute in range(1, MAX_MESSAGES):
            ticket = add_customer_message(ticket, customer(minute, long_text))
    assert full.value.code == "ticket_full"
    assert sum(len(message.text.encode()) for message in ticket.messages) <= 300_000


def test_the_help_is_rated_once_after_resolution_and_a_reopen_keeps_the_rating() -> None:
    with pytest.raises(TicketRefused) as early:
        rate(opened(), stars=5, comment="", at=at(1))
    assert early.value.code == "ticket_not_resolved"
    rated = rate(resolve(opened(), at=at(5)), stars=4, comment="Cepat", at=at(6))
    assert rated.rating == {"stars": 4, "comment": "Cepat", "at": at(6)}
    with pytest.raises(TicketRefused) as twice:
        rate(rated, stars=5, comment="", at=at(7))
    assert twice.value.code == "ticket_rated"
    reopened = add_customer_message(rated, customer(8, "Masih ada masalah"))
    assert reopened.rating == rated.rating
    with pytest.raises(TicketRefused):
        rate(resolve(reopened, at=at(9)), stars=1, comment="", at=at(10))
