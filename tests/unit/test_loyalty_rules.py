"""The loyalty rules in plain Python: earning, the redemption limit, proportional give-backs and take-backs, the
ledger's balance, shortfalls, and oldest-first expiry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from chalicelib.loyalty.domain import (
    ADJUSTED,
    EARNED,
    EXPIRED,
    REDEEMED,
    REVERSED,
    Account,
    Entry,
    InsufficientPoints,
    OrderFacts,
    OrderPoints,
    PointsOverLimit,
    Rules,
    absorb,
    add_months,
    expiring,
    expiring_by,
    mature,
    most_redeemable,
    move,
    points_for,
    redemption_discount,
    return_target,
    reversal_target,
)

RULES = Rules(earn_rupiah=10_000, point_value=100, max_share_percent=50, expiry_months=12, warning_days=30,
              return_window_days=7)
AT = "2026-12-01T03:00:00.000Z"


def facts(**changes: object) -> OrderFacts:
    base = OrderFacts(order_id="TK-261201-ABCDEF", customer_id="cust-1", contact={"email": "sari@example.com"},
                      redeemed=0, goods_paid=250_000, refunded=0, unwound=False,
                      delivered_at="2026-12-03T05:00:00.000Z", completed=True)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_an_order_earns_one_point_per_ten_thousand_rupiah_of_goods_rounded_down() -> None:
    assert points_for(259_999, RULES) == 25
    assert points_for(9_999, RULES) == 0
    assert points_for(-5, RULES) == 0


def test_points_pay_at_most_the_configured_share_of_the_goods() -> None:
    assert most_redeemable(300_000, RULES) == 1_500  # half of Rp300,000 at Rp100 a point
    assert redemption_discount(1_500, balance=2_000, goods_after_voucher=300_000, rules=RULES) == 150_000
    with pytest.raises(PointsOverLimit) as over:
        redemption_discount(1_501, balance=2_000, goods_after_voucher=300_000, rules=RULES)
    assert over.value.details["max_points"] == 1_500


def test_spending_more_points_than_the_balance_is_refused_with_the_balance() -> None:
    with pytest.raises(InsufficientPoints) as short:
        redemption_discount(101, balance=100, goods_after_voucher=1_000_000, rules=RULES)
    assert short.value.status == 422 and short.value.details == {"balance": 100, "redeem_points": 101}


def test_a_completed_order_plans_its_earning_for_when_the_return_window_closes() -> None:
    state = absorb(OrderPoints(order_id="TK-261201-ABCDEF", customer_id="cust-1"), facts(), RULES)
    assert state.gross == 25 and state.earn_due_at == "2026-12-10T05:00:00.000Z"
    again = absorb(state, facts(goods_paid=999_999), RULES)
    assert again.gross == 25, "the earning is planned once"


def test_refunds_take_back_earned_points_in_proportion_and_cumulatively() -> None:
    state = OrderPoints(order_id="o", customer_id="c", gross=25, goods_paid=250_000, earned_at=AT)
    assert reversal_target(replace(state, refunded=62_500)) == 6  # a quarter of 25, rounded down
    assert reversal_target(replace(state, refunded=125_000)) == 12
    assert reversal_target(replace(state, refunded=250_000)) == 25
    assert reversal_target(replace(state, refunded=268_000)) == 25, "the shipping fee refunded too: never more"
    assert reversal_target(replace(state, unwound=True)) == 25


def test_spent_points_go_back_in_full_when_the_order_ends_unpaid_and_in_part_with_a_refund() -> None:
    state = OrderPoints(order_id="o", customer_id="c", redeemed=500, goods_paid=100_000)
    assert return_target(state) == 0
    assert return_target(replace(state, refunded=50_000)) == 250
    assert return_target(replace(state, unwound=True)) == 500


def test_refunds_only_grow_whatever_order_the_facts_arrive_in() -> None:
    state = absorb(OrderPoints(order_id="o", customer_id="c"), facts(refunded=50_000), RULES)
    older = absorb(state, facts(refunded=20_000), RULES)
    assert older.refunded == 50_000


def test_each_ledger_entry_carries_the_balance_after_it_and_credits_expire_a_year_later() -> None:
    account = Account(customer_id="c")
    account, earned = move(account, EARNED, 25, at=AT, note="earned", actor="system", rules=RULES, order_id="o")
    account, spent = move(account, REDEEMED, -10, at=AT, note="spent", actor="c", rules=RULES, order_id="p")
    assert (earned.seq, earned.balance, earned.expires_at, earned.points) == (1, 25, "2027-12-01T03:00:00.000Z", 25)
    assert (spent.seq, spent.delta, spent.balance, spent.expires_at) == (2, -10, 15, None)
    assert account.balance == 15 and account.earned == 25 and account.redeemed == 10


def test_a_reversal_never_takes_the_balance_below_zero_and_records_the_shortfall() -> None:
    account = Account(customer_id="c", balance=4, earned=25, redeemed=21, seq=2)
    after, entry = move(account, REVERSED, -10, at=AT, note="refund", actor="system", rules=RULES)
    assert (entry.delta, entry.shortfall, entry.balance) == (-4, 6, 0)
    assert after.reversed == 4 and after.shortfall == 6


def test_spending_or_taking_away_more_than_the_balance_is_refused() -> None:
    with pytest.raises(InsufficientPoints):
        move(Account(customer_id="c", balance=5), REDEEMED, -6, at=AT, note="x", actor="c", rules=RULES)
    with pytest.raises(InsufficientPoints):
        move(Account(customer_id="c", balance=5), ADJUSTED, -6, at=AT, note="x", actor="admin", rules=RULES)


def test_what_expires_is_what_is_left_of_the_oldest_credits_after_spending() -> None:
    account = Account(customer_id="c")
    account, _ = move(account, EARNED, 100, at=AT, note="a", actor="s", rules=RULES)
    account, _ = move(account, EARNED, 50, at="2027-03-01T03:00:00.000Z", note="b", actor="s", rules=RULES)
    account, _ = move(account, REDEEMED, -70, at=AT, note="spent", actor="c", rules=RULES)
    assert expiring(account, 100) == 30  # the first credit's 100 paid for the 70 spent
    account, entry = mature(account, 100, at="2027-12-01T03:00:00.000Z", rules=RULES)
    assert entry is not None and (entry.kind, entry.delta, account.balance) == (EXPIRED, -30, 50)
    assert expiring(account, 50) == 50
    account, none = mature(account, 0, at="2027-12-02T03:00:00.000Z", rules=RULES)
    assert none is None and account.balance == 50


def test_a_shortfall_counts_as_spending_no_credit_paid_for() -> None:
    account = Account(customer_id="c")
    account, _ = move(account, EARNED, 100, at=AT, note="a", actor="s", rules=RULES)
    account, _ = move(account, REDEEMED, -100, at=AT, note="spent", actor="c", rules=RULES)
    account, entry = move(account, REVERSED, -100, at=AT, note="refunded", actor="s", rules=RULES)
    assert entry.shortfall == 100
    account, _ = mature(account, 0, at=AT, rules=RULES)  # the first credit was reduced to nothing by the refund
    account, _ = move(account, EARNED, 50, at=AT, note="b", actor="s", rules=RULES)
    assert expiring(account, 50) == 50, "the later credit was never spent: it all expires when it comes of age"


def test_customers_are_warned_per_credit_of_what_will_expire_with_it() -> None:
    account = Account(customer_id="c", balance=120, earned=150, redeemed=30)
    credits = [Entry(customer_id="c", seq=1, at=AT, kind=EARNED, delta=100, balance=100, note="", actor="s",
                     expires_at="2027-01-01T00:00:00.000Z", points=100),
               Entry(customer_id="c", seq=2, at=AT, kind=EARNED, delta=50, balance=150, note="", actor="s",
                     expires_at="2027-02-01T00:00:00.000Z", points=50)]
    assert [(credit.seq, points) for credit, points in expiring_by(account, credits, "2027-01-15")] == [(1, 70)]
    assert [points for _, points in expiring_by(account, credits, "2027-03-01")] == [70, 50]


def test_months_are_added_to_the_last_day_of_a_shorter_month() -> None:
    assert add_months(datetime(2027, 1, 31, 10, tzinfo=UTC), 1) == datetime(2027, 2, 28, 10, tzinfo=UTC)
    assert add_months(datetime(2026, 12, 1, tzinfo=UTC), 12) == datetime(2027, 12, 1, tzinfo=UTC)
