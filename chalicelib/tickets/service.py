"""Customer service tickets: customers open them (about an order, or a general question) and write; staff reply,
work the queue longest-waiting first and resolve; the customer rates the help once.

Every change is decided on a fresh read and saved only if the ticket is still at the version read (retried on a
lost race), so two messages posted at once are both kept. Notifications follow the saved change and never fail
the request: a lost email is logged, the message itself is on the ticket.

What the sales reports count of a change (the opening, the first staff response, each resolve, the rating: see
tickets.domain.counted) is added to the day rollups in the same DynamoDB transaction as the ticket's conditional
save, so a retried request or a lost race counts nothing.
"""

from __future__ import annotations

import random
import secrets
import string
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pynamodb.exceptions import TransactWriteError

from chalicelib import aws, clock, config, db
from chalicelib.auth import Principal
from chalicelib.errors import Conflict, Forbidden, NotFound, Unprocessable
from chalicelib.notifications import service as notifications
from chalicelib.observability import logger, metrics
from chalicelib.orders import service as orders
from chalicelib.tallies import service as tallies
from chalicelib.tickets import repository
from chalicelib.tickets.domain import (
    CUSTOMER,
    MAX_ATTACHMENTS,
    RESOLVED,
    STAFF,
    Ticket,
    TicketMessage,
    add_customer_message,
    add_staff_message,
    attachment_key,
    counted,
    new_ticket_id,
    open_ticket,
    opened_email,
    rate,
    reply_email,
    resolve,
)

ATTEMPTS = 8  # fresh reads before giving up on a ticket that keeps changing under us (or a busy day rollup)
_ID_ALPHABET = string.ascii_uppercase + string.digits


def _not_found(ticket_id: str) -> NotFound:
    return NotFound(f"ticket {ticket_id} not found", code="ticket_not_found")


def _load(ticket_id: str) -> Ticket:
    ticket = repository.get(ticket_id)
    if ticket is None:
        raise _not_found(ticket_id)
    return ticket


def _actor(principal: Principal | None) -> str:
    return principal.sub if principal else "guest"


def _message(author: str, by: str, text: str, attachment_types: list[str], *, ticket_id: str, number: int,
             at: str) -> TicketMessage:
    if len(attachment_types) > MAX_ATTACHMENTS:
        raise Unprocessable(f"at most {MAX_ATTACHMENTS} attachments", code="too_many_attachments")
    keys = tuple(attachment_key(ticket_id, number, index + 1, kind) for index, kind in enumerate(attachment_types))
    return TicketMessage(at=at, author=author, by=by, text=text, attachments=keys)


def _answer(ticket: Ticket, message: TicketMessage | None = None, types: list[str] | None = None) -> dict[str, Any]:
    """The ticket, with the presigned uploads of the message just written (if it has attachments)."""
    uploads = ([aws.private_upload(key, kind) for key, kind in zip(message.attachments, types or [], strict=True)]
               if message else [])
    return {**ticket.to_dict(), "attachment_uploads": uploads}


def _view(ticket: Ticket) -> dict[str, Any]:
    """The ticket with short-lived links to its attachments (the bucket stays private)."""
    data = ticket.to_dict()
    for message in data["messages"]:
        message["attachments"] = [{"key": key, "url": aws.private_link(key)} for key in message["attachments"]]
    return data


def _commit(before: Ticket | None, after: Ticket) -> bool:
    """Store a change (a new ticket when `before` is None) and what it counts for the reports, together: a change
    that counts something is one transaction of the ticket's conditional write and its rollup counters; one that
    counts nothing is the conditional update alone. False when nothing was written because someone got there first
    (the ticket changed since read, the new id is taken, or a concurrent transaction held an item): decide again."""
    counts = counted(before, after)
    if before is not None and not counts:
        return repository.save(before, after)
    tx = db.transaction()
    try:
        with tx:
            if before is None:
                repository.stage_create(tx, after)
            else:
                repository.stage_save(tx, before, after)
            tallies.stage_all(tx, [(count.key, count.counts, count.at, count.labels) for count in counts])
    except TransactWriteError as error:
        if tx.failed_conditions(error) or db.lost_to_another_transaction(error):
            return False
        raise
    return True


def _pause(attempt: int) -> None:
    time.sleep(random.uniform(0, min(0.2, 0.01 * 2 ** attempt)))


def _change(ticket_id: str, decide: Callable[[Ticket], Ticket], first: Ticket | None = None) -> Ticket:
    """Apply `decide` to a fresh read and save it at the version read; decide again after a lost race."""
    for attempt in range(ATTEMPTS):
        ticket, first = first or _load(ticket_id), None
        after = decide(ticket)
        if _commit(ticket, after):
            return after
        _pause(attempt)
    raise Conflict(f"ticket {ticket_id} keeps changing; try again", code="ticket_conflict")


def _create(build: Callable[[str], Ticket]) -> Ticket:
    for attempt in range(ATTEMPTS):
        ticket_id = new_ticket_id(clock.now(), "".join(secrets.choice(_ID_ALPHABET) for _ in range(8)))
        ticket = build(ticket_id)
        if _commit(None, ticket):
            return ticket
        _pause(attempt)
    raise Conflict("could not allocate a ticket id; try again", code="ticket_conflict")


def _tell_support(ticket: Ticket) -> None:
    """Email support staff about a new ticket; skipped without TOKOFLOW_SUPPORT_EMAIL, never failing the request."""
    email = config.support_email()
    if not email:
        logger.info("no support email configured", extra={"ticket_id": ticket.ticket_id})
        return
    subject, text = opened_email(ticket)
    try:
        notifications.tell_staff(ticket.ticket_id, "ticket_opened", email=email, subject=subject, text=text)
    except Exception as error:
        logger.warning("support was not told about a ticket", extra={"ticket_id": ticket.ticket_id,
                                                                     "error": repr(error)})


def _opened(ticket: Ticket, message: TicketMessage, types: list[str]) -> dict[str, Any]:
    metrics.add_metric(name="TicketsOpened", unit=MetricUnit.Count, value=1)
    _tell_support(ticket)
    return _answer(ticket, message, types)


# ---- the customer ----------------------------------------------------------------------------------------------


def open_about_order(order_id: str, principal: Principal | None, access_token: str | None, *, category: str,
                     text: str, attachment_types: list[str], return_id: str | None) -> dict[str, Any]:
    """A ticket about an order, by its owner, a guest with its token, or staff on the customer's behalf."""
    order = orders.visible_order(order_id, principal, access_token)
    if return_id and not return_id.startswith(f"{order.order_id}-R"):
        raise Unprocessable(f"return {return_id} is not a return of order {order.order_id}",
                            code="return_not_of_order")
    at = clock.now_iso()
    built: dict[str, TicketMessage] = {}

    def build(ticket_id: str) -> Ticket:
        message = _message(CUSTOMER, _actor(principal), text, attachment_types, ticket_id=ticket_id, number=1, at=at)
        built["message"] = message
        return open_ticket(ticket_id=ticket_id, category=category, message=message, customer_id=order.customer_id,
                           order_id=order.order_id, return_id=return_id)

    ticket = _create(build)
    return _opened(ticket, built["message"], attachment_types)


def open_general(principal: Principal, *, category: str, text: str, attachment_types: list[str],
                 email: str | None) -> dict[str, Any]:
    """A signed-in customer's question about no particular order; replies are emailed to `email` if given."""
    at = clock.now_iso()
    built: dict[str, TicketMessage] = {}

    def build(ticket_id: str) -> Ticket:
        message = _message(CUSTOMER, principal.sub, text, attachment_types, ticket_id=ticket_id, number=1, at=at)
        built["message"] = message
        return open_ticket(ticket_id=ticket_id, category=category, message=message, customer_id=principal.sub,
                           order_id=None, email=email or principal.email or None)

    ticket = _create(build)
    return _opened(ticket, built["message"], attachment_types)


def visible_ticket(ticket_id: str, principal: Principal | None, access_token: str | None) -> Ticket:
    """The ticket for staff, the order's owner or a guest with its token (order tickets), or the customer who
    opened it (general tickets); anyone else gets a plain 404."""
    ticket = _load(ticket_id)
    if principal and principal.is_staff:
        return ticket
    if ticket.order_id:
        try:
            orders.visible_order(ticket.order_id, principal, access_token)
        except NotFound:
            raise _not_found(ticket_id) from None
        return ticket
    if principal and ticket.customer_id and principal.sub == ticket.customer_id:
        return ticket
    raise _not_found(ticket_id)


def customer_view(ticket_id: str, principal: Principal | None, access_token: str | None) -> dict[str, Any]:
    return _view(visible_ticket(ticket_id, principal, access_token))


def _as_customer(ticket_id: str, principal: Principal | None, access_token: str | None) -> Ticket:
    if principal and principal.is_staff:  # refused for the role, whichever ticket it names
        raise Forbidden("staff write through /admin/tickets/{ticket_id}/...")
    return visible_ticket(ticket_id, principal, access_token)


def customer_message(ticket_id: str, principal: Principal | None, access_token: str | None, *, text: str,
                     attachment_types: list[str]) -> dict[str, Any]:
    """The customer writes: the ticket waits for staff again (a resolved one is reopened)."""
    current = _as_customer(ticket_id, principal, access_token)
    written: dict[str, TicketMessage] = {}

    def decide(ticket: Ticket) -> Ticket:
        message = _message(CUSTOMER, _actor(principal), text, attachment_types, ticket_id=ticket_id,
                           number=ticket.next_message_number, at=clock.now_iso())
        written["message"] = message
        return add_customer_message(ticket, message)

    after = _change(ticket_id, decide, current)
    if current.status == RESOLVED and after.status != RESOLVED:
        metrics.add_metric(name="TicketsReopened", unit=MetricUnit.Count, value=1)
    return _answer(after, written["message"], attachment_types)


def rate_help(ticket_id: str, principal: Principal | None, access_token: str | None, *, stars: int,
              comment: str) -> dict[str, Any]:
    current = _as_customer(ticket_id, principal, access_token)
    after = _change(ticket_id, lambda ticket: rate(ticket, stars=stars, comment=comment, at=clock.now_iso()),
                    current)
    return after.to_dict()


def of_customer(principal: Principal, *, limit: int, cursor: str | None) -> dict[str, Any]:
    items, next_cursor = repository.of_customer(principal.sub, limit=limit, cursor=cursor)
    return {"items": [ticket.to_dict() for ticket in items], "next_cursor": next_cursor}


# ---- staff -------------------------------------------------------------------------------------------------------


def staff_view(ticket_id: str) -> dict[str, Any]:
    return _view(_load(ticket_id))


def queue(status: str, *, limit: int, cursor: str | None) -> dict[str, Any]:
    """Tickets in `status`, the longest waiting first, a page at a time."""
    items, next_cursor = repository.in_status(status, limit=limit, cursor=cursor)
    return {"items": [ticket.to_dict() for ticket in items], "next_cursor": next_cursor}


def staff_message(ticket_id: str, principal: Principal, *, text: str, attachment_types: list[str]
                  ) -> dict[str, Any]:
    """Staff reply: the ticket waits for the customer, who is told in Bahasa Indonesia."""
    written: dict[str, TicketMessage] = {}

    def decide(ticket: Ticket) -> Ticket:
        message = _message(STAFF, principal.sub, text, attachment_types, ticket_id=ticket_id,
                           number=ticket.next_message_number, at=clock.now_iso())
        written["message"] = message
        return add_staff_message(ticket, message)

    after = _change(ticket_id, decide)
    _tell_customer(after, text)
    return _answer(after, written["message"], attachment_types)


def _tell_customer(ticket: Ticket, reply: str) -> None:
    """The order's customer by the ticket_replied template, a general ticket's customer by email if given; one
    notification per reply (keyed by the message's number), never failing the reply itself."""
    number = len(ticket.messages)
    try:
        if ticket.order_id:
            order = orders.load(ticket.order_id)
            notifications.request("ticket_replied", order.to_dict(), {"ticket_id": ticket.ticket_id, "reply": reply},
                                  key=f"{ticket.ticket_id}#{number}")
        elif ticket.email:
            subject, text = reply_email(ticket, reply)
            notifications.tell_staff(reference=ticket.ticket_id, event=f"ticket_replied#{number}",
                                     email=ticket.email, subject=subject, text=text)
    except Exception as error:
        logger.warning("customer was not told about a reply", extra={"ticket_id": ticket.ticket_id,
                                                                     "error": repr(error)})


def resolve_ticket(ticket_id: str) -> dict[str, Any]:
    after = _change(ticket_id, lambda ticket: resolve(ticket, at=clock.now_iso()))
    metrics.add_metric(name="TicketsResolved", unit=MetricUnit.Count, value=1)
    return after.to_dict()
