"""A customer service ticket: its messages, its status and the times it took, as plain Python.

Statuses: `open` (the customer waits for staff), `waiting_for_customer` (staff replied), `resolved`.
A customer message makes the ticket `open` again (from `resolved` that is a reopen, counted in `reopened`); a staff
message makes it `waiting_for_customer`; staff resolve it. Every change is a new version: the repository saves it
only if the ticket is still at the version it was read at.

Times recorded on the ticket:
- `first_response_seconds`: from opening to the first staff message (set once, never changed afterwards).
- `resolution_seconds`: the total time the ticket spent unresolved (`open` or `waiting_for_customer`) from opening
  to its latest resolve. A reopened ticket adds the span from its reopen to its next resolve; the time it sat
  resolved between the two is not counted. While a reopened ticket is unresolved the value is cleared (None).
- `waiting_since`: since when the ticket has waited in its current status (the staff queue's order, oldest first):
  for `open` the first customer message staff have not answered yet, for `waiting_for_customer` the staff reply,
  for `resolved` the resolve.

Rating: the customer rates a resolved ticket once (1 to 5 stars). A later reopen keeps the rating (it judged the
help given until then) and the ticket cannot be rated again.

What a change counts for the sales reports (`counted`): the opening, the first staff response, each resolve (with
the `resolution_seconds` recorded by that resolve) and the rating, each on the business day it happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from chalicelib import clock
from chalicelib.errors import Conflict

OPEN = "open"
WAITING_FOR_CUSTOMER = "waiting_for_customer"
RESOLVED = "resolved"
STATUSES = (OPEN, WAITING_FOR_CUSTOMER, RESOLVED)

CUSTOMER = "customer"
STAFF = "staff"

CATEGORIES = ("order", "payment", "shipping", "return", "product", "other")
MAX_MESSAGE_CHARS = 4000
MAX_MESSAGES = 200
# A DynamoDB item holds at most 400 KB: the messages' text together stays well under it (4000 characters of
# multi-byte text are up to 16 KB, so 200 such messages would not fit).
MAX_TEXT_BYTES = 300_000
MAX_ATTACHMENTS = 3
ATTACHMENT_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "application/pdf": "pdf"}
TICKET_ID_PATTERN = r"TKT-[0-9]{6}-[A-Z0-9]{8}"
TICKET_ID_MAX = 20
RETURN_ID_PATTERN, RETURN_ID_MAX = r"[A-Z0-9][A-Z0-9\-]{5,28}", 32  # a return of the ticket's order
EMAIL_MAX = 254  # where a general ticket's replies go
MIN_STARS, MAX_STARS = 1, 5
MAX_COMMENT_CHARS = 1000


class TicketRefused(Conflict):
    """The ticket's state does not allow the change (409)."""


def new_ticket_id(at: datetime, suffix: str) -> str:
    """"TKT-<yymmdd>-<8 upper-case letters or digits>": path-safe, sorts by day, unguessable enough to share."""
    return f"TKT-{at:%y%m%d}-{suffix}"


def attachment_key(ticket_id: str, number: int, index: int, content_type: str) -> str:
    """Where message `number`'s attachment `index` (both from 1) is uploaded in the media bucket (private)."""
    return f"tickets/{ticket_id}/message-{number}-{index}.{ATTACHMENT_TYPES[content_type]}"


def seconds_between(start: str, end: str) -> int:
    return max(0, int((clock.parse_iso(end) - clock.parse_iso(start)).total_seconds()))


@dataclass(frozen=True)
class TicketMessage:
    at: str
    author: str  # customer | staff
    by: str  # the principal's sub, or "guest"
    text: str
    attachments: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at, "author": self.author, "by": self.by, "text": self.text,
                "attachments": list(self.attachments)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TicketMessage:
        return cls(at=str(data["at"]), author=str(data["author"]), by=str(data["by"]), text=str(data["text"]),
                   attachments=tuple(str(key) for key in data.get("attachments") or ()))


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    category: str
    status: str
    created_at: str
    updated_at: str
    waiting_since: str
    customer_id: str | None = None  # the signed-in owner; None for a guest's order
    order_id: str | None = None  # None for a general question
    return_id: str | None = None
    email: str | None = None  # where a general ticket's replies go (optional)
    messages: tuple[TicketMessage, ...] = ()
    version: int = 1
    reopened: int = 0
    first_response_seconds: int | None = None
    resolution_seconds: int | None = None
    resolved_at: str | None = None
    unresolved_seconds: int = 0  # unresolved time of the spans before the current one
    unresolved_since: str | None = None  # start of the current unresolved span; None while resolved
    rating: dict[str, Any] | None = field(default=None)

    @property
    def next_message_number(self) -> int:
        return len(self.messages) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticket_id": self.ticket_id, "category": self.category, "status": self.status,
            "order_id": self.order_id, "return_id": self.return_id, "customer_id": self.customer_id,
            "email": self.email, "created_at": self.created_at, "updated_at": self.updated_at,
            "waiting_since": self.waiting_since, "reopened": self.reopened,
            "first_response_seconds": self.first_response_seconds, "resolution_seconds": self.resolution_seconds,
            "resolved_at": self.resolved_at, "rating": self.rating, "version": self.version,
            "messages": [message.to_dict() for message in self.messages],
        }


def _checked_room(ticket: Ticket, message: TicketMessage) -> None:
    if len(ticket.messages) >= MAX_MESSAGES:
        raise TicketRefused(f"ticket {ticket.ticket_id} has {MAX_MESSAGES} messages; open a new ticket",
                            code="ticket_full")
    used = sum(len(existing.text.encode("utf-8")) for existing in ticket.messages)
    if used + len(message.text.encode("utf-8")) > MAX_TEXT_BYTES:
        raise TicketRefused(f"ticket {ticket.ticket_id} is full; open a new ticket", code="ticket_full")


def open_ticket(*, ticket_id: str, category: str, message: TicketMessage, customer_id: str | None,
                order_id: str | None, return_id: str | None = None, email: str | None = None) -> Ticket:
    """A new ticket with the customer's first message: open, waiting for staff since now."""
    if message.author != CUSTOMER:
        raise ValueError("a ticket opens with the customer's message")
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    at = message.at
    return Ticket(ticket_id=ticket_id, category=category, status=OPEN, created_at=at, updated_at=at,
                  waiting_since=at, customer_id=customer_id, order_id=order_id, return_id=return_id, email=email,
                  messages=(message,), unresolved_since=at)


def add_customer_message(ticket: Ticket, message: TicketMessage) -> Ticket:
    """The customer writes: the ticket waits for staff again; on a resolved ticket that is a reopen."""
    _checked_room(ticket, message)
    at = message.at
    changes: dict[str, Any] = {}
    if ticket.status == RESOLVED:
        changes = {"status": OPEN, "waiting_since": at, "reopened": ticket.reopened + 1, "unresolved_since": at,
                   "resolution_seconds": None, "resolved_at": None}
    elif ticket.status == WAITING_FOR_CUSTOMER:
        changes = {"status": OPEN, "waiting_since": at}
    return replace(ticket, **changes, messages=(*ticket.messages, message), updated_at=at,
                   version=ticket.version + 1)


def add_staff_message(ticket: Ticket, message: TicketMessage) -> Ticket:
    """Staff reply: the ticket waits for the customer; the first reply fixes the first response time."""
    if ticket.status == RESOLVED:
        raise TicketRefused(f"ticket {ticket.ticket_id} is resolved; the customer reopens it by replying",
                            code="ticket_resolved")
    _checked_room(ticket, message)
    at = message.at
    first = ticket.first_response_seconds
    if first is None:
        first = seconds_between(ticket.created_at, at)
    return replace(ticket, status=WAITING_FOR_CUSTOMER, waiting_since=at, first_response_seconds=first,
                   messages=(*ticket.messages, message), updated_at=at, version=ticket.version + 1)


def resolve(ticket: Ticket, *, at: str) -> Ticket:
    """Staff close the ticket: the span since opening (or the last reopen) joins the unresolved total."""
    if ticket.status == RESOLVED:
        raise TicketRefused(f"ticket {ticket.ticket_id} is resolved already", code="ticket_resolved")
    total = ticket.unresolved_seconds + seconds_between(ticket.unresolved_since or ticket.created_at, at)
    return replace(ticket, status=RESOLVED, waiting_since=at, resolved_at=at, resolution_seconds=total,
                   unresolved_seconds=total, unresolved_since=None, updated_at=at, version=ticket.version + 1)


def rate(ticket: Ticket, *, stars: int, comment: str, at: str) -> Ticket:
    """The customer rates the help once, after the ticket is resolved."""
    if ticket.rating is not None:
        raise TicketRefused(f"ticket {ticket.ticket_id} is rated already", code="ticket_rated")
    if ticket.status != RESOLVED:
        raise TicketRefused(f"ticket {ticket.ticket_id} is {ticket.status}: a ticket is rated once resolved",
                            code="ticket_not_resolved")
    if not MIN_STARS <= stars <= MAX_STARS:
        raise ValueError(f"stars must be {MIN_STARS} to {MAX_STARS}")
    return replace(ticket, rating={"stars": stars, "comment": comment, "at": at}, updated_at=at,
                   version=ticket.version + 1)


SUMMARY = "summary"  # the day rollups' shop-wide item (tallies)
SATISFIED_FROM_STARS = 4  # a rating of 4 or 5 stars counts as satisfied (CSAT)


@dataclass(frozen=True)
class Count:
    """What one ticket change adds to one rollup item, on the business day of `at`."""

    key: str  # "summary" or "ticket_category#<category>"
    counts: dict[str, int]
    at: str
    labels: dict[str, str] = field(default_factory=dict)


def category_key(category: str) -> str:
    return f"ticket_category#{category}"


def counted(before: Ticket | None, after: Ticket) -> list[Count]:
    """What saving `after` over `before` (None: a new ticket) adds to the day rollups. Saved in one transaction
    with the ticket at the version read, so each fact counts once: the opening; the first staff response (never a
    later one); the first resolve, and the unresolved time each resolve adds (a reopened ticket's too); the rating
    (given once per ticket)."""
    found: list[Count] = []
    if before is None:
        found.append(Count(SUMMARY, {"tickets_opened": 1}, after.created_at))
        found.append(Count(category_key(after.category), {"tickets_opened": 1}, after.created_at,
                           {"name": after.category}))
        return found
    if before.first_response_seconds is None and after.first_response_seconds is not None:
        found.append(Count(SUMMARY, {"tickets_first_responses": 1,
                                     "first_response_seconds": after.first_response_seconds}, after.updated_at))
    if before.status != RESOLVED and after.status == RESOLVED and after.resolution_seconds is not None:
        # A ticket counts as resolved once; a reopened one adds only the time it was open again, so the average
        # resolution time is per ticket: its whole unresolved time, whatever the number of reopens.
        counts = {"resolution_seconds": after.resolution_seconds - before.unresolved_seconds}
        if before.reopened == 0:  # only a resolved ticket is ever reopened
            counts["tickets_resolved"] = 1
        found.append(Count(SUMMARY, counts, after.resolved_at or after.updated_at))
    if before.rating is None and after.rating is not None:
        stars = int(after.rating["stars"])
        found.append(Count(SUMMARY, {"csat_ratings": 1, "csat_score": stars,
                                     "csat_satisfied": 1 if stars >= SATISFIED_FROM_STARS else 0},
                           str(after.rating.get("at") or after.updated_at)))
    return found


def reply_email(ticket: Ticket, reply: str) -> tuple[str, str]:
    """Subject and text of the email telling a general ticket's customer (no order) that staff replied."""
    subject = f"Balasan tim TokoKita untuk tiket {ticket.ticket_id}"
    text = (f"Halo,\n\nTim layanan pelanggan TokoKita membalas tiket {ticket.ticket_id}:\n\n{reply}\n\n"
            "Balas lewat halaman tiket di aplikasi atau situs TokoKita jika masih ada yang perlu kami bantu.\n\n"
            "Salam hangat,\nTim TokoKita\n")
    return subject, text


def opened_email(ticket: Ticket) -> tuple[str, str]:
    """Subject and text of the email telling support staff a ticket was opened."""
    about = f"pesanan {ticket.order_id}" if ticket.order_id else "pertanyaan umum"
    if ticket.return_id:
        about += f", retur {ticket.return_id}"
    first = ticket.messages[0].text if ticket.messages else ""
    subject = f"Tiket baru {ticket.ticket_id} ({ticket.category}): {about}"
    text = (f"Tiket {ticket.ticket_id} dibuka {ticket.created_at} ({about}, kategori {ticket.category}).\n\n"
            f"{first}\n\nBalas lewat POST /admin/tickets/{ticket.ticket_id}/messages.\n")
    return subject, text
