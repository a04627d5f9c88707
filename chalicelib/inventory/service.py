"""Stock movements as the rest of the shop uses them: restock, adjust, reserve, release, report low stock."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import aws, clock, db, resources
from chalicelib.errors import DomainError, NotFound
from chalicelib.inventory import repository
from chalicelib.inventory.domain import (
    ADJUSTMENT,
    RESTOCK,
    InsufficientStock,
    Movement,
    StockLevel,
    apply,
    crossed_into_low_stock,
    suggest_reorder,
)
from chalicelib.observability import logger, metrics

StageExtra = Callable[[TransactWrite], None]
ExplainFailure = Callable[[set[str]], DomainError | None]


def commit_movements(
    movements: Sequence[Movement],
    *,
    stage_extra: StageExtra | None = None,
    explain_failure: ExplainFailure | None = None,
    retry_tables: frozenset[str] = frozenset(),
    levels: Mapping[str, StockLevel] | None = None,
) -> dict[str, tuple[StockLevel, StockLevel]]:
    """Apply movements and any extra writes in one all-or-nothing transaction: each SKU's level is written once,
    each movement is its own ledger line (a return restocks some units and writes others off).

    Retries while other writers race us for the same SKUs; refuses with InsufficientStock naming every
    short SKU once a fresh read shows there is not enough. `explain_failure` maps the physical names of the
    tables whose extra items failed their condition to a domain error; a failed condition on `retry_tables` means
    another writer got there first, and the whole attempt is decided again on fresh reads (`stage_extra` reads
    what it stages on each attempt). Returns {sku: (before, after)}.

    `levels`: every SKU's level as the caller has just read it, strongly consistent (checkout, for pricing). The
    first attempt decides on them instead of reading again: each level is written only if its version is still
    the one read, so a level that moved meanwhile fails the transaction and the retry reads afresh.
    """
    skus = list(dict.fromkeys(movement.sku for movement in movements))
    given = [dict(levels)] if levels is not None and set(skus) <= set(levels) else []

    def attempt() -> dict[str, tuple[StockLevel, StockLevel]]:
        levels = given.pop() if given else repository.read_levels(skus)
        missing = sorted(set(skus) - set(levels))
        if missing:
            raise NotFound(f"unknown SKU {', '.join(missing)}", details={"skus": missing})
        changes: dict[str, tuple[StockLevel, StockLevel]] = {}
        steps: list[tuple[StockLevel, Movement]] = []  # each movement with the level it leaves
        shortages: dict[str, dict[str, int]] = {}
        for movement in movements:
            before, current = changes.get(movement.sku, (levels[movement.sku], levels[movement.sku]))
            try:
                after = apply(current, movement)
            except InsufficientStock as short:
                shortages.update(short.shortages)
                continue
            changes[movement.sku] = (before, after)
            steps.append((after, movement))
        if shortages:
            raise InsufficientStock(shortages)
        tx = db.transaction()
        try:
            with tx:
                for before, after in changes.values():
                    repository.stage_level(tx, before, after)
                for after, movement in steps:
                    repository.stage_ledger_line(tx, after, movement, clock.now_iso())
                if stage_extra:
                    stage_extra(tx)
        except TransactWriteError as error:
            failed = tx.failed_conditions(error)
            if any(item.table_name == resources.STOCK.physical_name or item.table_name in retry_tables
                   for item in failed) or db.lost_to_another_transaction(error):
                raise repository.StockContention() from error
            explained = explain_failure({item.table_name for item in failed}) if explain_failure else None
            if explained:
                raise explained from error
            raise
        return changes

    if not movements:
        raise ValueError("no stock movements")
    changes = repository.with_optimistic_retry(attempt)
    _after_commit(changes)
    return changes



def _after_commit(changes: dict[str, tuple[StockLevel, StockLevel]]) -> None:
    for before, after in changes.values():
        if after.available == 0 and before.available > 0:
            metrics.add_metric(name="StockOuts", unit=MetricUnit.Count, value=1)
        if crossed_into_low_stock(before, after):
            announce_low_stock(after)


def announce_low_stock(level: StockLevel) -> None:
    """One message per crossing; the version check on the level guarantees a single writer saw it."""
    body = {"type": "stock.low", "at": clock.now_iso(), **level.to_dict()}
    aws.client("sqs").send_message(QueueUrl=aws.queue_url(resources.LOW_STOCK_QUEUE), MessageBody=json.dumps(body))
    logger.info("low stock announced", extra={"sku": level.sku, "available": level.available})


def adjust(sku: str, *, delta: int, kind: str, reason: str, actor: str) -> dict[str, Any]:
    """Staff restock (positive) or correct a count (either sign); the ledger records who and why."""
    if kind not in (RESTOCK, ADJUSTMENT):
        raise ValueError(kind)
    movement = Movement(sku=sku, kind=kind, delta_on_hand=delta, delta_reserved=0, reason=reason, actor=actor)
    _, after = commit_movements([movement])[sku]
    return after.to_dict()


def set_threshold(sku: str, threshold: int, *, actor: str) -> dict[str, Any]:
    def attempt() -> StockLevel:
        before = repository.read_level(sku)
        if before is None:
            raise NotFound(f"unknown SKU {sku}")
        after = replace(before, low_stock_threshold=threshold, version=before.version + 1)
        try:
            with db.transaction() as tx:
                repository.stage_threshold(tx, before, after)
        except TransactWriteError as error:
            raise repository.StockContention() from error
        if crossed_into_low_stock(before, after):
            announce_low_stock(after)
        return after

    after = repository.with_optimistic_retry(attempt)
    logger.info("low-stock threshold set", extra={"sku": sku, "threshold": threshold, "actor": actor})
    return after.to_dict()


def level(sku: str, *, ledger_limit: int = 50) -> dict[str, Any]:
    current = repository.read_level(sku)
    if current is None:
        raise NotFound(f"unknown SKU {sku}")
    return {**current.to_dict(), "ledger": repository.ledger(sku, limit=ledger_limit)}


def low_stock_page(*, limit: int, cursor: str | None, lead_time_days: int = 14) -> dict[str, Any]:
    """A page of the low-stock report (the staff list), by SKU: the SKUs at or under their threshold with how many
    to reorder."""
    levels, next_cursor = repository.low_stock_page(limit=limit, cursor=cursor)
    return {"items": list(_reorder_lines(levels, lead_time_days=lead_time_days)), "next_cursor": next_cursor}


def low_stock_report(*, lead_time_days: int = 14) -> Iterator[dict[str, Any]]:
    """Every line of the low-stock report, by SKU, read a page at a time (for callers inside the shop; staff page
    it through low_stock_page)."""
    return _reorder_lines(repository.low_stock_levels(), lead_time_days=lead_time_days)


def _reorder_lines(levels: Iterable[StockLevel], *, lead_time_days: int) -> Iterator[dict[str, Any]]:
    """Each level with how many to reorder, from the last 30 days of reservations."""
    since = clock.iso(clock.now() - timedelta(days=30))
    for stock in levels:
        sold = repository.reserved_since(stock.sku, since)
        yield {
            **stock.to_dict(),
            "reserved_last_30_days": sold,
            "suggested_reorder": suggest_reorder(stock, sold, lead_time_days=lead_time_days),
        }


def all_levels(*, limit: int = 100, cursor: str | None = None) -> dict[str, Any]:
    levels, next_cursor = repository.scan_levels(limit=limit, cursor=cursor)
    return {"items": [stock.to_dict() for stock in levels], "next_cursor": next_cursor}
