"""Stock levels and the stock ledger in DynamoDB.

Each movement is one transaction: the level is updated only if its version is still the one we read
(optimistic locking), and the ledger line carrying the exact resulting levels is written with it.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.expressions.update import Action
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import clock, db, resources
from chalicelib.db import meta_for
from chalicelib.errors import Conflict
from chalicelib.inventory.domain import Movement, StockLevel

LOW = "Y"
T = TypeVar("T")


class LowStockIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "low-stock"
        projection = AllProjection()

    low_stock = UnicodeAttribute(hash_key=True)
    sku = UnicodeAttribute(range_key=True)


class StockModel(Model):
    Meta = meta_for(resources.STOCK)
    sku = UnicodeAttribute(hash_key=True)
    product_id = UnicodeAttribute()
    on_hand = NumberAttribute(default=0)
    reserved = NumberAttribute(default=0)
    available = NumberAttribute(default=0)
    low_stock_threshold = NumberAttribute(default=5)
    low_stock = UnicodeAttribute(null=True)  # present only while low: keys the sparse low-stock index
    version = NumberAttribute(default=0)
    updated_at = UnicodeAttribute(null=True)
    low_stock_index = LowStockIndex()


class LedgerModel(Model):
    Meta = meta_for(resources.STOCK_LEDGER)
    sku = UnicodeAttribute(hash_key=True)
    entry_id = UnicodeAttribute(range_key=True)
    at = UnicodeAttribute()
    kind = UnicodeAttribute()
    reason = UnicodeAttribute()
    actor = UnicodeAttribute()
    reference = UnicodeAttribute(null=True)
    delta_on_hand = NumberAttribute()
    delta_reserved = NumberAttribute()
    on_hand_after = NumberAttribute()
    reserved_after = NumberAttribute()
    available_after = NumberAttribute()


def to_level(item: StockModel) -> StockLevel:
    return StockLevel(
        sku=item.sku,
        product_id=item.product_id,
        on_hand=int(item.on_hand),
        reserved=int(item.reserved),
        low_stock_threshold=int(item.low_stock_threshold),
        version=int(item.version),
    )


def levels_read(skus: Iterable[str], *, consistent: bool = True) -> db.BatchRead[StockLevel]:
    """The levels of `skus` as one part of a batch read across tables (db.read_together). Strongly consistent
    unless asked: a reservation must never be computed from a stale level."""
    return db.BatchRead(StockModel, tuple(sorted(set(skus))), to_level, consistent=consistent)


def read_levels(skus: Iterable[str], *, consistent: bool = True) -> dict[str, StockLevel]:
    """Strongly consistent reads unless asked: a list of products only shows stock (half the read units)."""
    read = levels_read(skus, consistent=consistent)
    if not read.keys:
        return {}
    return db.read_together([read]).of(read)


def read_level(sku: str) -> StockLevel | None:
    return read_levels([sku]).get(sku)


def stage_new_level(tx: TransactWrite, level: StockLevel) -> None:
    """A new SKU row; the condition makes SKUs unique across the whole catalog."""
    tx.save(
        StockModel(
            level.sku,
            product_id=level.product_id,
            on_hand=level.on_hand,
            reserved=level.reserved,
            available=level.available,
            low_stock_threshold=level.low_stock_threshold,
            low_stock=LOW if level.is_low else None,
            version=level.version,
            updated_at=clock.now_iso(),
        ),
        condition=StockModel.sku.does_not_exist(),
    )


def stage_level(tx: TransactWrite, before: StockLevel, after: StockLevel, *, at: str | None = None) -> None:
    """Update the level if nobody else moved it since we read it."""
    at = at or clock.now_iso()
    actions: list[Action] = [
        StockModel.on_hand.set(after.on_hand),
        StockModel.reserved.set(after.reserved),
        StockModel.available.set(after.available),
        StockModel.version.set(after.version),
        StockModel.updated_at.set(at),
        StockModel.low_stock.set(LOW) if after.is_low else StockModel.low_stock.remove(),
    ]
    tx.update(StockModel(before.sku), actions=actions, condition=StockModel.version == before.version)


def stage_ledger_line(tx: TransactWrite, after: StockLevel, movement: Movement, at: str) -> None:
    tx.save(
        LedgerModel(
            movement.sku,
            f"{at}#{uuid.uuid4().hex[:12]}",
            at=at,
            kind=movement.kind,
            reason=movement.reason,
            actor=movement.actor,
            reference=movement.reference or None,
            delta_on_hand=movement.delta_on_hand,
            delta_reserved=movement.delta_reserved,
            on_hand_after=after.on_hand,
            reserved_after=after.reserved,
            available_after=after.available,
        ),
    )


def stage_threshold(tx: TransactWrite, before: StockLevel, after: StockLevel) -> None:
    tx.update(
        StockModel(before.sku),
        actions=[
            StockModel.low_stock_threshold.set(after.low_stock_threshold),
            StockModel.version.set(after.version),
            StockModel.low_stock.set(LOW) if after.is_low else StockModel.low_stock.remove(),
        ],
        condition=StockModel.version == before.version,
    )


class StockContention(Exception):
    """Someone else moved the same stock between our read and our write; read again and retry."""


def with_optimistic_retry(attempt: Callable[[], T], *, attempts: int = 30) -> T:
    """Run a read-decide-write attempt until it commits; the domain decides again on each fresh read.

    Jittered back-off spreads a burst of buyers of one SKU instead of letting them collide in lockstep.
    """
    for number in range(attempts):
        try:
            return attempt()
        except StockContention:
            time.sleep(random.uniform(0, min(0.2, 0.005 * 2**number)))
    raise Conflict("stock is changing too fast right now; try again in a moment", code="stock_busy")


def ledger(sku: str, *, limit: int = 50, since: str | None = None) -> list[dict[str, Any]]:
    condition = LedgerModel.entry_id >= since if since else None
    rows = LedgerModel.query(sku, range_key_condition=condition, scan_index_forward=False, limit=limit)
    return [
        {
            "at": row.at,
            "kind": row.kind,
            "reason": row.reason,
            "actor": row.actor,
            "reference": row.reference,
            "delta_on_hand": int(row.delta_on_hand),
            "delta_reserved": int(row.delta_reserved),
            "on_hand_after": int(row.on_hand_after),
            "reserved_after": int(row.reserved_after),
            "available_after": int(row.available_after),
        }
        for row in rows
    ]


def reserved_since(sku: str, since: str) -> int:
    """Units reserved by orders since a moment: the recent sales rate behind reorder suggestions."""
    rows = LedgerModel.query(sku, range_key_condition=LedgerModel.entry_id >= since)
    return sum(int(row.delta_reserved) for row in rows if row.kind == "reserve")


def low_stock_page(*, limit: int, cursor: str | None) -> tuple[list[StockLevel], str | None]:
    """A page of the SKUs at or under their threshold, by SKU, and the next page's cursor (None: the last page).
    The sparse index holds only those SKUs, so this reads nothing else."""
    start = db.start_key(cursor, item_key="sku", range_name="sku", hash_name="low_stock", hash_value=LOW)
    results = StockModel.low_stock_index.query(LOW, limit=limit, last_evaluated_key=start)
    levels = [to_level(item) for item in results]
    return levels, db.page_cursor(results.last_evaluated_key, item_key="sku", range_name="sku")


def low_stock_levels() -> Iterator[StockLevel]:
    """Every SKU at or under its threshold, by SKU, read a page at a time (for callers inside the shop)."""
    for item in StockModel.low_stock_index.query(LOW, page_size=200):
        yield to_level(item)


def scan_levels(*, limit: int, cursor: str | None) -> tuple[list[StockLevel], str | None]:
    kwargs: dict[str, Any] = {"limit": limit}
    if cursor:
        kwargs["last_evaluated_key"] = {"sku": {"S": cursor}}
    result = StockModel.scan(**kwargs)
    levels = [to_level(item) for item in result]
    last = result.last_evaluated_key
    return levels, (last["sku"]["S"] if last else None)
