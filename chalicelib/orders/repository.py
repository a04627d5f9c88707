"""Orders in DynamoDB: one item per order holding its frozen lines, totals and timeline."""

from __future__ import annotations

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

from chalicelib import clock, resources
from chalicelib.db import meta_for, page_cursor, start_key
from chalicelib.orders.domain import Order, OrderLine, OrderTotals, TimelineEntry


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


class ByActivityIndex(GlobalSecondaryIndex):
    """Orders by the business day (Asia/Jakarta) they last changed: what the report facts collector reads."""

    class Meta:
        index_name = "by-activity"
        projection = AllProjection()

    activity_day = UnicodeAttribute(hash_key=True)
    updated_at = UnicodeAttribute(range_key=True)


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
    event = UnicodeAttribute(null=True)
    data = JSONAttribute(null=True)


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
    payment_channel = UnicodeAttribute(null=True)
    payment_deadline = UnicodeAttribute(null=True)
    lines = JSONAttribute()
    totals = JSONAttribute()
    cart_id = UnicodeAttribute()
    access_token_hash = UnicodeAttribute()
    voucher_code = UnicodeAttribute(null=True)
    channel = UnicodeAttribute(null=True)
    utm_source = UnicodeAttribute(null=True)
    activity_day = UnicodeAttribute(null=True)
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
    refunds = JSONAttribute(null=True)  # refund key -> Rupiah
    returned_units = JSONAttribute(null=True)  # SKU -> units claimed by returns
    return_count = NumberAttribute(null=True)
    by_customer = ByCustomerIndex()
    by_status = ByStatusIndex()
    by_shipment = ByShipmentIndex()
    by_activity = ByActivityIndex()

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
        payment_channel=item.payment_channel,
        payment_deadline=item.payment_deadline,
        lines=tuple(OrderLine.from_dict(line) for line in item.lines),
        totals=OrderTotals.from_dict(item.totals),
        cart_id=item.cart_id,
        access_token_hash=item.access_token_hash,
        voucher_code=item.voucher_code,
        channel=item.channel,
        utm_source=item.utm_source,
        timeline=tuple(TimelineEntry(at=entry.at, status=entry.status, note=entry.note, actor=entry.actor,
                                     event=entry.event, data=entry.data) for entry in item.timeline or []),
        version=int(item.version),
        payment=item.payment,
        shipment=item.shipment,
        tokens={step: getattr(item, name) for step, name in TOKEN_ATTRIBUTES.items() if getattr(item, name)},
        cancel_requested=bool(item.cancel_requested),
        attention=item.attention,
        refunds={key: int(value) for key, value in (item.refunds or {}).items()},
        returned_units={sku: int(units) for sku, units in (item.returned_units or {}).items()},
        return_count=int(item.return_count or 0),
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
        payment_channel=order.payment_channel,
        payment_deadline=order.payment_deadline,
        lines=[line.to_dict() for line in order.lines],
        totals=order.totals.to_dict(),
        cart_id=order.cart_id,
        access_token_hash=order.access_token_hash,
        voucher_code=order.voucher_code,
        channel=order.channel,
        utm_source=order.utm_source,
        activity_day=clock.business_day(order.updated_at or order.created_at),
        timeline=[_timeline_entry(entry) for entry in order.timeline],
        version=order.version,
        payment=order.payment,
        shipment=order.shipment,
        shipment_ref=(order.shipment or {}).get("booking_id"),
        cancel_requested=order.cancel_requested or None,
        attention=order.attention,
        payment_token=order.tokens.get("payment"),
        packing_token=order.tokens.get("packing"),
        delivery_token=order.tokens.get("delivery"),
        refunds=order.refunds or None,
        returned_units=order.returned_units or None,
        return_count=order.return_count or None,
    )


def get(order_id: str) -> Order | None:
    try:
        return to_order(OrderModel.get(order_id, consistent_read=True))
    except OrderModel.DoesNotExist:
        return None


def stage_create(tx: TransactWrite, order: Order) -> None:
    tx.save(to_model(order), condition=OrderModel.order_id.does_not_exist())


def _timeline_entry(entry: TimelineEntry) -> TimelineEntryAttribute:
    return TimelineEntryAttribute(at=entry.at, status=entry.status, note=entry.note, actor=entry.actor,
                                  event=entry.event, data=entry.data)


# Fields a decision may change, as (Order field, OrderModel attribute, how it is stored).
_CHANGEABLE = {
    "status": lambda order: order.status,
    "payment": lambda order: order.payment,
    "shipment": lambda order: order.shipment,
    "shipment_ref": lambda order: (order.shipment or {}).get("booking_id"),
    "cancel_requested": lambda order: order.cancel_requested or None,
    "attention": lambda order: order.attention,
    "refunds": lambda order: order.refunds or None,
    "returned_units": lambda order: order.returned_units or None,
    "return_count": lambda order: order.return_count or None,
}


def _changes(before: Order, after: Order) -> list[Any]:
    """UpdateItem actions turning the stored `before` into `after`: the changed fields, new timeline entries,
    the next version. Task tokens are not among them: steps store those on their own (store_token)."""
    if after.order_id != before.order_id or after.version != before.version + 1:
        raise ValueError("an order is saved only as the next version of what was read")
    if after.timeline[:len(before.timeline)] != before.timeline:
        raise ValueError("the timeline only grows")
    actions: list[Any] = [OrderModel.updated_at.set(after.updated_at), OrderModel.version.set(after.version),
                          OrderModel.activity_day.set(clock.business_day(after.updated_at))]
    for name, read in _CHANGEABLE.items():
        old, new = read(before), read(after)
        if old != new:
            attribute = getattr(OrderModel, name)
            actions.append(attribute.remove() if new is None else attribute.set(new))
    added = [_timeline_entry(entry) for entry in after.timeline[len(before.timeline):]]
    if added:
        actions.append(OrderModel.timeline.set(OrderModel.timeline.append(added)))
    return actions


def _is_current(before: Order) -> Any:
    return OrderModel.version == before.version


def save(before: Order, after: Order) -> Order | None:
    """Store `after` only if the order is still at `before`'s version; the order as stored (with the tokens
    steps stored meanwhile), or None when someone else changed it first (decide again on a fresh read)."""
    item = OrderModel(before.order_id)
    try:
        item.update(actions=_changes(before, after), condition=_is_current(before))
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return to_order(item)


def stage_save(tx: TransactWrite, before: Order, after: Order) -> None:
    """`save` inside a transaction that also moves stock: both happen or neither does."""
    tx.update(OrderModel(before.order_id), actions=_changes(before, after), condition=_is_current(before))


def store_token(order_id: str, step: str, token: str) -> Order | None:
    """Keep the task token a workflow step waits with; the version is untouched (no decision is made)."""
    item = OrderModel(order_id)
    try:
        item.update(actions=[getattr(OrderModel, TOKEN_ATTRIBUTES[step]).set(token)],
                    condition=OrderModel.order_id.exists())
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return to_order(item)


def attach_payment(order_id: str, instructions: dict[str, Any], *, at: str) -> None:
    """Payment instructions from the gateway (virtual account, QR string); they decide nothing."""
    OrderModel(order_id).update(actions=[OrderModel.payment.set(instructions), OrderModel.updated_at.set(at)],
                                condition=OrderModel.order_id.exists())


def _encode(key: dict[str, Any] | None) -> str | None:
    return page_cursor(key, item_key="order_id", range_name="created_at")


def _decode(cursor: str | None, index_key: str, index_value: str) -> dict[str, Any] | None:
    return start_key(cursor, item_key="order_id", range_name="created_at", hash_name=index_key,
                     hash_value=index_value)


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


def by_shipment(shipment_ref: str) -> Order | None:
    for item in OrderModel.by_shipment.query(shipment_ref, limit=1):
        return get(item.order_id)
    return None


def active_on(day: str, *, since: str, limit: int, cursor: dict[str, Any] | None) -> tuple[list[Order], Any]:
    """Orders that last changed on business day `day` after `since`, oldest change first; the raw next key."""
    result = OrderModel.by_activity.query(day, OrderModel.updated_at > since, scan_index_forward=True, limit=limit,
                                          last_evaluated_key=cursor)
    orders = [to_order(item) for item in result]
    return orders, result.last_evaluated_key
