"""Orders in DynamoDB: one item per order holding its frozen lines, totals and timeline."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.exceptions import UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import resources
from chalicelib.db import meta_for
from chalicelib.errors import ValidationFailed
from chalicelib.orders.domain import Order, TimelineEntry


class ByCustomerIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-customer"
        projection = AllProjection()

    customer_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class ByStatusIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class ByShipmentIndex(GlobalSecondaryIndex):
    """Courier webhooks name the booking, not our order: this finds the order from the courier's reference."""

    class Meta:
        index_name = "by-shipment"
        projection = AllProjection()

    shipment_ref = UnicodeAttribute(hash_key=True)


class TimelineEntryAttribute(MapAttribute):
    at = UnicodeAttribute()
    status = UnicodeAttribute()
    note = UnicodeAttribute()
    actor = UnicodeAttribute()


class OrderModel(Model):
    Meta = meta_for(resources.ORDERS)
    order_id = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    customer = JSONAttribute()
    customer_id = UnicodeAttribute(null=True)  # absent for guests: keeps the customer index sparse
    shipping_address = JSONAttribute()
    shipping = JSONAttribute()
    payment_method = UnicodeAttribute()
    payment_deadline = UnicodeAttribute(null=True)
    lines = JSONAttribute()
    totals = JSONAttribute()
    cart_id = UnicodeAttribute()
    access_token_hash = UnicodeAttribute()
    voucher_code = UnicodeAttribute(null=True)
    channel = UnicodeAttribute(null=True)
    timeline = ListAttribute(of=TimelineEntryAttribute, default=list)
    version = NumberAttribute(default=1)
    payment = JSONAttribute(null=True)
    shipment = JSONAttribute(null=True)
    shipment_ref = UnicodeAttribute(null=True)
    payment_token = UnicodeAttribute(null=True)
    packing_token = UnicodeAttribute(null=True)
    delivery_token = UnicodeAttribute(null=True)
    cancel_requested = BooleanAttribute(null=True)
    attention = UnicodeAttribute(null=True)
    by_customer = ByCustomerIndex()
    by_status = ByStatusIndex()
    by_shipment = ByShipmentIndex()

# The task token attribute for each workflow step that waits on the outside world.
TOKEN_ATTRIBUTES = {"payment": "payment_token", "packing": "packing_token", "delivery": "delivery_token"}


def to_order(item: OrderModel) -> Order:
    return Order(
        order_id=item.order_id,
        status=item.status,
        created_at=item.created_at,
        updated_at=item.updated_at,
        customer=item.customer,
        customer_id=item.customer_id,
        shipping_address=item.shipping_address,
        shipping=item.shipping,
        payment_method=item.payment_method,
        payment_deadline=item.payment_deadline,
        lines=item.lines,
        totals=item.totals,
        cart_id=item.cart_id,
        access_token_hash=item.access_token_hash,
        voucher_code=item.voucher_code,
        channel=item.channel,
        timeline=tuple(TimelineEntry(at=entry.at, status=entry.status, note=entry.note, actor=entry.actor)
                       for entry in item.timeline or []),
        version=int(item.version),
        payment=item.payment,
        shipment=item.shipment,
        tokens={step: getattr(item, name) for step, name in TOKEN_ATTRIBUTES.items() if getattr(item, name)},
        cancel_requested=bool(item.cancel_requested),
        attention=item.attention,
    )


def to_model(order: Order) -> OrderModel:
    return OrderModel(
        order.order_id,
        status=order.status,
        created_at=order.created_at,
        updated_at=order.updated_at or order.created_at,
        customer=order.customer,
        customer_id=order.customer_id,
        shipping_address=order.shipping_address,
        shipping=order.shipping,
        payment_method=order.payment_method,
        payment_deadline=order.payment_deadline,
        lines=order.lines,
        totals=order.totals,
        cart_id=order.cart_id,
        access_token_hash=order.access_token_hash,
        voucher_code=order.voucher_code,
        channel=order.channel,
        timeline=[TimelineEntryAttribute(**entry.to_dict()) for entry in order.timeline],
        version=order.version,
        payment=order.payment,
        shipment=order.shipment,
        shipment_ref=(order.shipment or {}).get("booking_id"),
        cancel_requested=order.cancel_requested or None,
        attention=order.attention,
        **{name: order.tokens.get(step) for step, name in TOKEN_ATTRIBUTES.items()},
    )


def get(order_id: str) -> Order | None:
    try:
        return to_order(OrderModel.get(order_id, consistent_read=True))
    except OrderModel.DoesNotExist:
        return None


def stage_create(tx: TransactWrite, order: Order) -> None:
    tx.save(to_model(order), condition=OrderModel.order_id.does_not_exist())


def stage_transition(tx: TransactWrite, before: Order, after: Order) -> None:
    """Replace the order only if it is still exactly what the decision was based on."""
    tx.save(to_model(after), condition=(OrderModel.version == before.version) & (OrderModel.status == before.status))


def _encode(key: dict[str, Any] | None) -> str | None:
    """Only the order id and creation time go into a cursor; the index's own key is rebuilt on the way in."""
    if not key:
        return None
    position = [key["order_id"]["S"], key["created_at"]["S"]]
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def _decode(cursor: str | None, index_key: str, index_value: str) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error):
        raise ValidationFailed("cursor", "is not a cursor this API returned") from None
    if (not isinstance(position, list) or len(position) != 2
            or not all(isinstance(part, str) and 0 < len(part) <= 64 for part in position)):
        raise ValidationFailed("cursor", "is not a cursor this API returned")
    order_id, created_at = position
    return {"order_id": {"S": order_id}, "created_at": {"S": created_at}, index_key: {"S": index_value}}


def _page(result: Any) -> tuple[list[Order], str | None]:
    orders = [to_order(item) for item in result]
    return orders, _encode(result.last_evaluated_key)


def by_customer(customer_id: str, *, limit: int, cursor: str | None) -> tuple[list[Order], str | None]:
    return _page(OrderModel.by_customer.query(customer_id, scan_index_forward=False, limit=limit,
                                              last_evaluated_key=_decode(cursor, "customer_id", customer_id)))


def by_status(status: str, *, limit: int, cursor: str | None, created_before: str | None = None
              ) -> tuple[list[Order], str | None]:
    condition = OrderModel.created_at <= created_before if created_before else None
    return _page(OrderModel.by_status.query(status, range_key_condition=condition, scan_index_forward=False,
                                            limit=limit, last_evaluated_key=_decode(cursor, "status", status)))


def update(
    order_id: str,
    *,
    set_values: dict[str, Any] | None = None,
    status: str | None = None,
    note: str = "",
    actor: str = "system",
    allowed_from: frozenset[str] | set[str] | None = None,
    expected_version: int | None = None,
    at: str,
) -> Order | None:
    """Change an order in one conditional UpdateItem and return it as stored afterwards.

    With `status`, the order moves only from one of `allowed_from` and a timeline entry is appended, so two
    racing events cannot both move it. Returns None when the order is not in an allowed status, not at
    `expected_version`, or absent.
    """
    actions = [OrderModel.updated_at.set(at), OrderModel.version.add(1)]
    for name, value in (set_values or {}).items():
        attribute = getattr(OrderModel, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    condition = OrderModel.order_id.exists()
    if status:
        entry = TimelineEntryAttribute(at=at, status=status, note=note, actor=actor)
        actions += [OrderModel.status.set(status), OrderModel.timeline.set(OrderModel.timeline.append([entry]))]
    if allowed_from is not None:
        condition &= OrderModel.status.is_in(*sorted(allowed_from))
    if expected_version is not None:  # read-modify-write of a JSON attribute: refuse if anyone wrote since
        condition &= OrderModel.version == expected_version
    item = OrderModel(order_id)
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return to_order(item)


def add_timeline_note(order_id: str, *, note: str, actor: str, at: str) -> Order | None:
    """A timeline entry that does not change the status (a courier scan, a staff remark)."""
    current = get(order_id)
    if current is None:
        return None
    return update(order_id, status=current.status, note=note, actor=actor, allowed_from={current.status}, at=at)


def by_shipment(shipment_ref: str) -> Order | None:
    for item in OrderModel.by_shipment.query(shipment_ref, limit=1):
        return get(item.order_id)
    return None
