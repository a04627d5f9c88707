"""Stock invariants, low-stock crossings and reorder suggestions, with no AWS at all."""

from __future__ import annotations

import pytest

from chalicelib.inventory.domain import (
    ADJUSTMENT,
    RELEASE,
    RESERVE,
    RESTOCK,
    InsufficientStock,
    InvalidMovement,
    Movement,
    StockLevel,
    apply,
    crossed_into_low_stock,
    suggest_reorder,
)


def move(kind: str, on_hand: int = 0, reserved: int = 0) -> Movement:
    return Movement(sku="BTK-1", kind=kind, delta_on_hand=on_hand, delta_reserved=reserved, reason="r", actor="a")


def test_reserving_moves_units_from_available_to_reserved_and_bumps_the_version() -> None:
    after = apply(StockLevel("BTK-1", "p", on_hand=10, reserved=2, version=4), move(RESERVE, reserved=3))
    assert (after.on_hand, after.reserved, after.available, after.version) == (10, 5, 5, 5)


def test_reserving_more_than_available_is_refused_naming_the_sku() -> None:
    with pytest.raises(InsufficientStock) as refused:
        apply(StockLevel("BTK-1", "p", on_hand=10, reserved=8), move(RESERVE, reserved=3))
    assert refused.value.shortages == {"BTK-1": {"requested": 3, "available": 2}}
    assert refused.value.status == 409


def test_stock_never_goes_negative() -> None:
    with pytest.raises(InvalidMovement):
        apply(StockLevel("BTK-1", "p", on_hand=2), move(ADJUSTMENT, on_hand=-3))


def test_on_hand_cannot_drop_below_what_open_orders_reserved() -> None:
    with pytest.raises(InvalidMovement, match="below the 4 reserved"):
        apply(StockLevel("BTK-1", "p", on_hand=5, reserved=4), move(ADJUSTMENT, on_hand=-2))


def test_release_cannot_return_more_than_was_reserved() -> None:
    with pytest.raises(InvalidMovement):
        apply(StockLevel("BTK-1", "p", on_hand=5, reserved=1), move(RELEASE, reserved=-2))


def test_low_stock_is_announced_once_when_crossing_not_while_staying_low() -> None:
    level = StockLevel("BTK-1", "p", on_hand=7, low_stock_threshold=5)
    first = apply(level, move(RESERVE, reserved=2))  # 5 available: at threshold, crossing
    second = apply(first, move(RESERVE, reserved=1))  # 4 available: still low, no new alert
    restocked = apply(second, move(RESTOCK, on_hand=20))
    again = apply(restocked, move(RESERVE, reserved=19))
    assert crossed_into_low_stock(level, first)
    assert not crossed_into_low_stock(first, second)
    assert not crossed_into_low_stock(second, restocked)
    assert crossed_into_low_stock(restocked, again)


def test_reorder_suggestion_covers_lead_time_and_a_month_of_recent_sales() -> None:
    level = StockLevel("BTK-1", "p", on_hand=3, low_stock_threshold=5)
    # 30 sold in 30 days = 1/day; (14 + 30) days + threshold 5 = 49 target, minus 3 available
    assert suggest_reorder(level, 30) == 46
    # no recent sales: at least twice the threshold
    assert suggest_reorder(level, 0) == 7
