"""Stock rules: levels never go negative, reserved never exceeds on hand, every movement is explained."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from chalicelib.errors import Conflict

RESTOCK, ADJUSTMENT, INITIAL = "restock", "adjustment", "initial"
RESERVE, RELEASE, COMMIT = "reserve", "release", "commit"
# A customer's return: units back on hand after inspection, or written off (the unit is gone for good; the
# ledger line moves nothing but says which units, why and on which return).
RETURNED, WRITE_OFF = "returned", "write_off"
KINDS = (INITIAL, RESTOCK, ADJUSTMENT, RESERVE, RELEASE, COMMIT, RETURNED, WRITE_OFF)
MAX_ON_HAND = 1_000_000
MAX_MOVEMENT = 100_000  # units one restock or count correction may move
DEFAULT_LOW_STOCK_THRESHOLD = 5
MAX_LOW_STOCK_THRESHOLD = 100_000
REASON_MAX = 200
MAX_LEVELS_PAGE = 500  # stock levels in one page of the staff listing
MAX_LEDGER_LINES = 500  # ledger lines shown with one SKU's level


@dataclass(frozen=True)
class StockLevel:
    sku: str
    product_id: str
    on_hand: int = 0
    reserved: int = 0
    low_stock_threshold: int = DEFAULT_LOW_STOCK_THRESHOLD
    version: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @property
    def is_low(self) -> bool:
        return self.available <= self.low_stock_threshold

    def to_dict(self) -> dict[str, int | str | bool]:
        return {
            "sku": self.sku,
            "product_id": self.product_id,
            "on_hand": self.on_hand,
            "reserved": self.reserved,
            "available": self.available,
            "low_stock_threshold": self.low_stock_threshold,
            "low_stock": self.is_low,
        }


@dataclass(frozen=True)
class Movement:
    """One line of the stock ledger: who moved how much of what, why, and the levels it left."""

    sku: str
    kind: str
    delta_on_hand: int
    delta_reserved: int
    reason: str
    actor: str
    reference: str = ""


class InsufficientStock(Conflict):
    code = "insufficient_stock"

    def __init__(self, shortages: dict[str, dict[str, int]]) -> None:
        names = ", ".join(sorted(shortages))
        super().__init__(f"not enough stock for {names}", details={"skus": shortages})
        self.shortages = shortages


class InvalidMovement(Conflict):
    code = "invalid_stock_movement"


def apply(level: StockLevel, movement: Movement) -> StockLevel:
    """The level after a movement, or an error if it would break a stock invariant."""
    on_hand = level.on_hand + movement.delta_on_hand
    reserved = level.reserved + movement.delta_reserved
    if reserved < 0:
        raise InvalidMovement(f"{level.sku}: cannot release more than is reserved ({level.reserved})")
    if on_hand < 0:
        raise InvalidMovement(f"{level.sku}: on hand would become {on_hand}")
    if on_hand > MAX_ON_HAND:
        raise InvalidMovement(f"{level.sku}: on hand would exceed {MAX_ON_HAND}")
    if reserved > on_hand:
        if movement.kind == RESERVE:
            raise InsufficientStock({level.sku: {"requested": movement.delta_reserved, "available": level.available}})
        raise InvalidMovement(
            f"{level.sku}: on hand {on_hand} would fall below the {reserved} reserved for open orders"
        )
    return replace(level, on_hand=on_hand, reserved=reserved, version=level.version + 1)


def crossed_into_low_stock(before: StockLevel, after: StockLevel) -> bool:
    """Alert once when a SKU falls to its threshold, not on every sale while it stays low."""
    return after.is_low and not before.is_low


def suggest_reorder(level: StockLevel, sold_last_30_days: int, *, lead_time_days: int = 14) -> int:
    """Enough to cover the supplier's lead time plus a month of sales at the recent rate, above the threshold."""
    daily_rate = sold_last_30_days / 30
    target = math.ceil(daily_rate * (lead_time_days + 30)) + level.low_stock_threshold
    target = max(target, level.low_stock_threshold * 2)
    return max(0, target - level.available)
