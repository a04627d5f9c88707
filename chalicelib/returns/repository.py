"""Returns in DynamoDB: one item per return, found by order and by status; saved only at the version read."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import JSONAttribute, ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import resources
from chalicelib.db import meta_for, page_cursor, start_key
from chalicelib.returns.domain import HistoryEntry, Return, ReturnLine


class ReturnsByOrder(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-order"
        projection = AllProjection()

    order_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class ReturnsByStatus(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class ReturnModel(Model):
    Meta = meta_for(resources.RETURNS)
    return_id = UnicodeAttribute(hash_key=True)  # "<order id>-R<n>": also the name of its workflow execution
    order_id = UnicodeAttribute()
    status = UnicodeAttribute()
    origin = UnicodeAttribute()
    reason = UnicodeAttribute()
    note = UnicodeAttribute(null=True)
    lines = JSONAttribute()
    shop_at_fault = NumberAttribute()  # 1 or 0
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    version = NumberAttribute()
    customer_id = UnicodeAttribute(null=True)
    photos = ListAttribute(of=UnicodeAttribute, null=True)
    refund_only = NumberAttribute(null=True)
    decision_note = UnicodeAttribute(null=True)
    parcel = JSONAttribute(null=True)
    refund = JSONAttribute(null=True)
    task_token = UnicodeAttribute(null=True)
    attention = UnicodeAttribute(null=True)
    history = JSONAttribute()
    by_order = ReturnsByOrder()
    by_status = ReturnsByStatus()


def to_return(item: ReturnModel) -> Return:
    return Return(
        return_id=item.return_id, order_id=item.order_id, status=item.status, origin=item.origin,
        reason=item.reason, note=item.note or "", lines=tuple(ReturnLine.from_dict(line) for line in item.lines),
        shop_at_fault=bool(item.shop_at_fault), created_at=item.created_at, updated_at=item.updated_at,
        version=int(item.version), customer_id=item.customer_id, photos=tuple(str(key) for key in item.photos or ()),
        refund_only=bool(item.refund_only), decision_note=item.decision_note or "", parcel=item.parcel,
        refund=item.refund, token=item.task_token, attention=item.attention,
        history=tuple(HistoryEntry(**entry) for entry in item.history or []),
    )


def to_model(ret: Return) -> ReturnModel:
    return ReturnModel(
        ret.return_id, order_id=ret.order_id, status=ret.status, origin=ret.origin, reason=ret.reason,
        note=ret.note or None, lines=[line.to_dict() for line in ret.lines], shop_at_fault=int(ret.shop_at_fault),
        created_at=ret.created_at, updated_at=ret.updated_at, version=ret.version, customer_id=ret.customer_id,
        photos=list(ret.photos) or None, refund_only=int(ret.refund_only) or None,
        decision_note=ret.decision_note or None, parcel=ret.parcel, refund=ret.refund, task_token=ret.token,
        attention=ret.attention, history=[entry.to_dict() for entry in ret.history],
    )


def get(return_id: str) -> Return | None:
    try:
        return to_return(ReturnModel.get(return_id, consistent_read=True))
    except ReturnModel.DoesNotExist:
        return None


def stage_create(tx: TransactWrite, ret: Return) -> None:
    tx.save(to_model(ret), condition=ReturnModel.return_id.does_not_exist())


_FIELDS = ("status", "note", "lines", "shop_at_fault", "updated_at", "version", "photos", "refund_only",
           "decision_note", "parcel", "refund", "attention", "history")


def _actions(before: Return, after: Return) -> list[Any]:
    """UpdateItem actions writing every field a step may change; the task token is not among them (steps park
    theirs with store_token, and a decision made on an older read must not erase it)."""
    if after.version != before.version + 1 or after.return_id != before.return_id:
        raise ValueError("a return is saved only as the next version of what was read")
    item = to_model(after)
    actions: list[Any] = []
    for name in _FIELDS:
        attribute, value = getattr(ReturnModel, name), getattr(item, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    return actions


def stage_save(tx: TransactWrite, before: Return, after: Return) -> None:
    tx.update(ReturnModel(before.return_id), actions=_actions(before, after),
              condition=ReturnModel.version == before.version)


def save(before: Return, after: Return) -> Return | None:
    """Store `after` if nobody changed the return since `before` was read: the return as stored (with any token
    parked meanwhile), or None when someone else changed it first."""
    item = ReturnModel(before.return_id)
    try:
        item.update(actions=_actions(before, after), condition=ReturnModel.version == before.version)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return to_return(item)


def store_token(return_id: str, token: str) -> Return | None:
    """Keep the task token the workflow waits with; the return as stored, to check what already happened."""
    item = ReturnModel(return_id)
    try:
        item.update(actions=[ReturnModel.task_token.set(token)], condition=ReturnModel.return_id.exists())
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return to_return(item)


def of_order(order_id: str) -> list[Return]:
    return [to_return(item) for item in ReturnModel.by_order.query(order_id)]


def in_status(status: str, *, limit: int, cursor: str | None = None) -> tuple[list[Return], str | None]:
    """One page, oldest first (staff work the queue in the order customers asked), and the next page's cursor."""
    result = ReturnModel.by_status.query(status, scan_index_forward=True, limit=limit,
                                         last_evaluated_key=_decode(cursor, status))
    items = [to_return(item) for item in result]
    return items, _encode(result.last_evaluated_key)


def _encode(key: dict[str, Any] | None) -> str | None:
    return page_cursor(key, item_key="return_id", range_name="created_at")


def _decode(cursor: str | None, status: str) -> dict[str, Any] | None:
    return start_key(cursor, item_key="return_id", range_name="created_at", hash_name="status", hash_value=status)
