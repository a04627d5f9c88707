"""Counting for reports: what an area sees and only it can count (a cart created, a product viewed) goes
straight into the day's rollups; order facts are counted once by the reports area (reports/service.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib import clock
from chalicelib.observability import logger
from chalicelib.tallies import repository
from chalicelib.tallies.domain import Delta

SUMMARY = "summary"


def count(key: str, counts: dict[str, int], *, at: str | None = None, labels: dict[str, str] | None = None) -> None:
    """Add to today's (or `at`'s) business-day counters. A failure is logged, never raised: a lost page view
    must not fail the request that caused it."""
    day = clock.business_day(at or clock.now_iso())
    try:
        repository.add([Delta(day, key, dict(counts), dict(labels or {}))])
    except Exception as error:  # counting is a side effect: the shopper's request goes on
        logger.warning("tally not counted", extra={"key": key, "error": repr(error)})


def stage(tx: TransactWrite, key: str, counts: dict[str, int], *, at: str,
          labels: dict[str, str] | None = None) -> None:
    """Count a fact in the caller's transaction, on the business day of `at` (exactly once with the fact)."""
    repository.stage(tx, [Delta(clock.business_day(at), key, dict(counts), dict(labels or {}))])


def stage_all(tx: TransactWrite, counts: Iterable[tuple[str, Mapping[str, int], str, Mapping[str, str] | None]]
              ) -> None:
    """Several facts' counts (key, counts, at, labels) in the caller's transaction: counts for the same item and
    business day are added together, since a transaction may write an item only once."""
    repository.stage(tx, [Delta(clock.business_day(at), key, dict(amounts), dict(labels or {}))
                          for key, amounts, at, labels in counts])


OUTSTANDING_POINTS = Delta("loyalty", "outstanding", {})  # one item: the points customers hold right now


def stage_points_outstanding(tx: TransactWrite, change: int) -> None:
    """Move the shop-wide outstanding points (the liability) with the ledger entry that moved a balance."""
    repository.stage(tx, [Delta(OUTSTANDING_POINTS.day, OUTSTANDING_POINTS.key, {"points": change})])


def points_outstanding() -> int:
    """The points every customer holds together, now (read with the day rollups to find a past day's figure)."""
    item = repository.read_item(OUTSTANDING_POINTS.day, OUTSTANDING_POINTS.key)
    return int(item.get("points", 0))


def summaries(days: list[str]) -> dict[str, dict[str, Any]]:
    """Each day's `summary` counters ({} for a day with none): one batched read per 100 days."""
    found = repository.read_items([(day, SUMMARY) for day in days])
    return {day: found.get((day, SUMMARY), {}) for day in days}


def cart_created(at: str) -> None:
    count(SUMMARY, {"carts_created": 1}, at=at)


def product_viewed(product_id: str, name: str) -> None:
    count(f"product#{product_id}", {"views": 1}, labels={"name": name})
    count(SUMMARY, {"product_views": 1})


# ---- what the reports area uses to count order facts once and to read a day -----------------------------------

MAX_ITEMS = repository.MAX_ITEMS
APPLIED, RACED, CUSTOMER_KNOWN = repository.APPLIED, repository.RACED, repository.CUSTOMER_KNOWN
items_for = repository.items_for
progress_of = repository.progress_of
first_days = repository.first_days
apply_once = repository.apply_once
read_day = repository.read_day
snapshot = repository.snapshot
watermark = repository.watermark
set_watermark = repository.set_watermark
add = repository.add
