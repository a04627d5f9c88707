"""Tickets in DynamoDB: one item per ticket with its messages inside; saved only at the version read.

A change the reports count (tickets.domain.counted) is staged into the caller's transaction instead (`stage_create`,
`stage_save`), with its counters, so the ticket and its count are written together or not at all."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import resources
from chalicelib.db import meta_for, page_cursor, start_key
from chalicelib.tickets.domain import Ticket, TicketMessage


class TicketsByStatus(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    waiting_since = UnicodeAttribute(range_key=True)


class TicketsByOrder(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-order"
        projection = AllProjection()

    order_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class TicketsByCustomer(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-customer"
        projection = AllProjection()

    customer_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class TicketModel(Model):
    Meta = meta_for(resources.TICKETS)
    ticket_id = UnicodeAttribute(hash_key=True)
    category = UnicodeAttribute()
    status = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    waiting_since = UnicodeAttribute()
    customer_id = UnicodeAttribute(null=True)
    order_id = UnicodeAttribute(null=True)
    return_id = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    messages = JSONAttribute()
    version = NumberAttribute()
    reopened = NumberAttribute()
    first_response_seconds = NumberAttribute(null=True)
    resolution_seconds = NumberAttribute(null=True)
    resolved_at = UnicodeAttribute(null=True)
    unresolved_seconds = NumberAttribute()
    unresolved_since = UnicodeAttribute(null=True)
    rating = JSONAttribute(null=True)
    by_status = TicketsByStatus()
    by_order = TicketsByOrder()
    by_customer = TicketsByCustomer()


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def to_ticket(item: TicketModel) -> Ticket:
    return Ticket(
        ticket_id=item.ticket_id, category=item.category, status=item.status, created_at=item.created_at,
        updated_at=item.updated_at, waiting_since=item.waiting_since, customer_id=item.customer_id,
        order_id=item.order_id, return_id=item.return_id, email=item.email,
        messages=tuple(TicketMessage.from_dict(message) for message in item.messages or []),
        version=int(item.version), reopened=int(item.reopened),
        first_response_seconds=_int_or_none(item.first_response_seconds),
        resolution_seconds=_int_or_none(item.resolution_seconds), resolved_at=item.resolved_at,
        unresolved_seconds=int(item.unresolved_seconds), unresolved_since=item.unresolved_since, rating=item.rating,
    )


def to_model(ticket: Ticket) -> TicketModel:
    return TicketModel(
        ticket.ticket_id, category=ticket.category, status=ticket.status, created_at=ticket.created_at,
        updated_at=ticket.updated_at, waiting_since=ticket.waiting_since, customer_id=ticket.customer_id,
        order_id=ticket.order_id, return_id=ticket.return_id, email=ticket.email,
        messages=[message.to_dict() for message in ticket.messages], version=ticket.version,
        reopened=ticket.reopened, first_response_seconds=ticket.first_response_seconds,
        resolution_seconds=ticket.resolution_seconds, resolved_at=ticket.resolved_at,
        unresolved_seconds=ticket.unresolved_seconds, unresolved_since=ticket.unresolved_since, rating=ticket.rating,
    )


def get(ticket_id: str) -> Ticket | None:
    try:
        return to_ticket(TicketModel.get(ticket_id, consistent_read=True))
    except TicketModel.DoesNotExist:
        return None


def stage_create(tx: TransactWrite, ticket: Ticket) -> None:
    """A new ticket in the caller's transaction, conditional on its id being free."""
    tx.save(to_model(ticket), condition=TicketModel.ticket_id.does_not_exist())


# Every field a change may touch; the id, category, owner, order, return and creation time never change.
_FIELDS = ("status", "updated_at", "waiting_since", "email", "messages", "version", "reopened",
           "first_response_seconds", "resolution_seconds", "resolved_at", "unresolved_seconds", "unresolved_since",
           "rating")


def _checked(before: Ticket, after: Ticket) -> list[Any]:
    if after.version != before.version + 1 or after.ticket_id != before.ticket_id:
        raise ValueError("a ticket is saved only as the next version of what was read")
    item = to_model(after)
    actions: list[Any] = []
    for name in _FIELDS:
        attribute, value = getattr(TicketModel, name), getattr(item, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    return actions


def stage_save(tx: TransactWrite, before: Ticket, after: Ticket) -> None:
    """`after` in the caller's transaction, conditional on the ticket still being at `before`'s version."""
    tx.update(TicketModel(before.ticket_id), actions=_checked(before, after),
              condition=TicketModel.version == before.version)


def save(before: Ticket, after: Ticket) -> bool:
    """Store `after` if nobody changed the ticket since `before` was read; False when someone else did first."""
    actions = _checked(before, after)
    try:
        TicketModel(before.ticket_id).update(actions=actions, condition=TicketModel.version == before.version)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def in_status(status: str, *, limit: int, cursor: str | None = None) -> tuple[list[Ticket], str | None]:
    """One page of tickets in `status`, longest waiting first, and the next page's cursor."""
    result = TicketModel.by_status.query(status, scan_index_forward=True, limit=limit,
                                         last_evaluated_key=_decode(cursor, "status", status, "waiting_since"))
    items = [to_ticket(item) for item in result]
    return items, _encode(result.last_evaluated_key, "waiting_since")


def of_customer(customer_id: str, *, limit: int, cursor: str | None = None) -> tuple[list[Ticket], str | None]:
    """One page of a customer's tickets, newest first, and the next page's cursor."""
    result = TicketModel.by_customer.query(customer_id, scan_index_forward=False, limit=limit,
                                           last_evaluated_key=_decode(cursor, "customer_id", customer_id,
                                                                      "created_at"))
    items = [to_ticket(item) for item in result]
    return items, _encode(result.last_evaluated_key, "created_at")


def _encode(key: dict[str, Any] | None, range_name: str) -> str | None:
    return page_cursor(key, item_key="ticket_id", range_name=range_name)


def _decode(cursor: str | None, hash_name: str, hash_value: str, range_name: str) -> dict[str, Any] | None:
    return start_key(cursor, item_key="ticket_id", range_name=range_name, hash_name=hash_name, hash_value=hash_value)
