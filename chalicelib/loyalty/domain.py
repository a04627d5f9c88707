"""Loyalty points in plain Python: what an order earns and when, what a refund takes back, what a checkout may
spend, and which points expire first.

The rules, all from configuration (`Rules`):
- an order earns 1 point per `earn_rupiah` of goods paid after every discount (vouchers and points), credited
  once the order is complete and its return window has closed, so a return inside the window earns nothing;
- a refund takes back the order's points in proportion to the money refunded against the goods paid (cumulative:
  two partial refunds take back what one refund of their sum would; a refund of all the goods takes them all),
  never pushing a balance below zero: what could not be taken is recorded as a shortfall;
- a checkout may spend points worth at most `max_share_percent` of the goods after the voucher; an order that
  ends unpaid or is cancelled gives them all back, a refund gives back the same share of them as of the money;
- points expire `expiry_months` after they were credited, oldest first: spending uses the oldest points, so
  what expires is what is left of the credits that have come of age.

Every movement is computed as a target minus what was already moved, so applying the same facts twice moves
nothing the second time: retried events and racing callers are harmless.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib import clock
from chalicelib.errors import Unprocessable

EARNED = "earned"  # credited for an order once its return window closed
REDEEMED = "redeemed"  # spent at checkout
RETURNED = "returned"  # spent points given back: the order ended unpaid, was cancelled or refunded
REVERSED = "reversed"  # earned points taken back after a refund
EXPIRED = "expired"  # credits that came of age unspent
ADJUSTED = "adjusted"  # staff goodwill or a correction, with a reason
KINDS = (EARNED, REDEEMED, RETURNED, REVERSED, EXPIRED, ADJUSTED)


@dataclass(frozen=True)
class Rules:
    earn_rupiah: int  # Rupiah of goods paid per point earned
    point_value: int  # Rupiah one point takes off at checkout
    max_share_percent: int  # the most of the goods (after the voucher) points may pay
    expiry_months: int
    warning_days: int  # how long before expiry the customer is told
    return_window_days: int  # earnings wait until the order's return window has closed


class InsufficientPoints(Unprocessable):
    code = "insufficient_points"


class PointsOverLimit(Unprocessable):
    code = "points_over_limit"


def points_for(goods_paid: int, rules: Rules) -> int:
    """Points an order's goods earn: whole points only, rounded down."""
    return max(0, goods_paid) // rules.earn_rupiah


def most_redeemable(goods_after_voucher: int, rules: Rules) -> int:
    """The most points one order may spend: their value stays within the share of the goods."""
    return max(0, goods_after_voucher) * rules.max_share_percent // 100 // rules.point_value


def redemption_discount(points: int, *, balance: int, goods_after_voucher: int, rules: Rules) -> int:
    """What spending `points` takes off the order, in Rupiah; refused (422) beyond the balance or the limit."""
    if points > balance:
        raise InsufficientPoints(f"you have {balance} points; this checkout asks for {points}",
                                 details={"balance": balance, "redeem_points": points})
    limit = most_redeemable(goods_after_voucher, rules)
    if points > limit:
        raise PointsOverLimit(f"at most {limit} points may pay for this order ({rules.max_share_percent}% of the "
                              f"goods at Rp{rules.point_value:,} a point)",
                              details={"max_points": limit, "redeem_points": points})
    return points * rules.point_value


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time `months` later (the month's last day when it is shorter: 31 Jan + 1 = 28/29 Feb)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def share(points: int, part: int, whole: int) -> int:
    """`points` in proportion to part/whole, rounded down (the customer keeps the fraction), at most `points`."""
    if whole <= 0 or part <= 0:
        return 0
    return min(points, points * part // whole)


@dataclass(frozen=True)
class OrderFacts:
    """What an order says about its points, as the orders area reads it (plain values: loyalty sits below orders)."""

    order_id: str
    customer_id: str | None  # guests earn and spend nothing
    contact: dict[str, str]  # name, email, phone: who is told about points
    redeemed: int  # points spent at its checkout
    goods_paid: int  # goods after every discount: what earns points, and what refunds are measured against
    refunded: int  # money given back so far
    unwound: bool  # ended without a sale (expired, payment failed, cancelled): everything goes back
    delivered_at: str | None
    completed: bool


@dataclass(frozen=True)
class OrderPoints:
    """The loyalty side of one order: what it spent, what it earns, what went back so far."""

    order_id: str
    customer_id: str
    contact: dict[str, str] = field(default_factory=dict)
    redeemed: int = 0
    returned: int = 0  # of the redeemed points, given back
    gross: int = 0  # points the order earns before refunds (known once complete)
    earn_due_at: str | None = None  # when the return window closes
    earned_at: str | None = None  # when the earning was credited (None: not yet)
    lot: int | None = None  # the ledger entry (sequence number) that credited it
    taken_back: int = 0  # of gross, withheld at crediting or reversed since (shortfalls included)
    goods_paid: int = 0  # what refunds are measured against (a refund of the shipping fee too counts in full)
    refunded: int = 0
    unwound: bool = False
    version: int = 0

    @property
    def credited(self) -> int:
        return self.gross - self.taken_back if self.earned_at else 0

    def to_dict(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "redeemed": self.redeemed, "returned": self.returned,
                "earns": self.gross - reversal_target(self) if not self.unwound else 0,
                "earn_due_at": self.earn_due_at, "earned_at": self.earned_at, "credited": self.credited}


def reversal_target(state: OrderPoints) -> int:
    """Of the points the order earns, how many its refunds take back."""
    if state.unwound:
        return state.gross
    return share(state.gross, state.refunded, state.goods_paid)


def return_target(state: OrderPoints) -> int:
    """Of the points the order spent, how many go back to the customer."""
    if state.unwound:
        return state.redeemed
    return share(state.redeemed, state.refunded, state.goods_paid)


def absorb(state: OrderPoints, facts: OrderFacts, rules: Rules) -> OrderPoints:
    """The record after the order's latest facts: refunds only grow, the earning is planned once it completes."""
    changes: dict[str, Any] = {
        "contact": dict(facts.contact) or state.contact,
        "goods_paid": facts.goods_paid or state.goods_paid,
        "refunded": max(state.refunded, facts.refunded),
        "unwound": state.unwound or facts.unwound,
    }
    if facts.completed and facts.delivered_at and state.earn_due_at is None and not facts.unwound:
        due = clock.parse_iso(facts.delivered_at) + timedelta(days=rules.return_window_days)
        changes.update(gross=points_for(facts.goods_paid, rules), earn_due_at=clock.iso(due))
    return replace(state, **changes)




@dataclass(frozen=True)
class Account:
    """A customer's points: the balance and the totals that decide what expires (oldest credits first)."""

    customer_id: str
    balance: int = 0
    seq: int = 0  # the last ledger entry's number
    earned: int = 0
    redeemed: int = 0
    returned: int = 0
    reversed: int = 0  # taken from the balance after refunds
    shortfall: int = 0  # what refunds should have taken back but the balance no longer held
    expired: int = 0
    adjusted_in: int = 0
    adjusted_out: int = 0
    matured: int = 0  # credits whose expiry date has passed (less what refunds took back from them)
    contact: dict[str, str] = field(default_factory=dict)
    version: int = 0

    @property
    def spent(self) -> int:
        """Debits that use credits up, oldest first."""
        return self.redeemed - self.returned + self.adjusted_out

    def to_dict(self) -> dict[str, Any]:
        return {"balance": self.balance, "earned": self.earned, "redeemed": self.redeemed,
                "returned": self.returned, "reversed": self.reversed, "shortfall": self.shortfall,
                "expired": self.expired, "adjusted": self.adjusted_in - self.adjusted_out}


@dataclass(frozen=True)
class Entry:
    """One line of the points ledger: who, when, why, the change, the balance after it, the order."""

    customer_id: str
    seq: int
    at: str
    kind: str
    delta: int  # what the balance moved (a reversal may move less than it should: see shortfall)
    balance: int  # after this entry
    note: str
    actor: str
    order_id: str | None = None
    reference: str | None = None  # a staff adjustment's reference (a ticket, a campaign)
    shortfall: int = 0
    expires_at: str | None = None  # credits only: when what is left of them expires
    points: int = 0  # credits only: the credit, less what refunds took back from it since

    @property
    def is_credit(self) -> bool:
        return self.expires_at is not None

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"seq": self.seq, "at": self.at, "kind": self.kind, "delta": self.delta,
                                 "balance": self.balance, "note": self.note, "order_id": self.order_id}
        if self.reference:
            entry["reference"] = self.reference
        if self.shortfall:
            entry["shortfall"] = self.shortfall
        if self.expires_at:
            entry["expires_at"] = self.expires_at
        return entry


_COUNTERS = {EARNED: "earned", REDEEMED: "redeemed", RETURNED: "returned", REVERSED: "reversed",
             EXPIRED: "expired"}


def move(account: Account, kind: str, delta: int, *, at: str, note: str, actor: str, rules: Rules,
         order_id: str | None = None, reference: str | None = None,
         matured_lot: bool = False) -> tuple[Account, Entry]:
    """The account and its new ledger entry after one movement.

    Spending, expiring and taking points away by hand never go below zero (refused: the caller checked); a
    reversal takes what the balance holds and records the rest as a shortfall. `matured_lot`: the reversal's
    credit has already come of age, so its reduction also lowers what has matured.
    """
    if kind not in KINDS or delta == 0:
        raise ValueError(f"no movement: {kind} {delta}")
    changes: dict[str, Any] = {}
    shortfall = 0
    if kind == REVERSED:
        due = -delta
        delta = -min(due, account.balance)
        shortfall = due + delta
        changes.update(reversed=account.reversed - delta, shortfall=account.shortfall + shortfall)
        if matured_lot:
            changes["matured"] = account.matured - due
    elif kind == ADJUSTED:
        if delta > 0:
            changes["adjusted_in"] = account.adjusted_in + delta
        else:
            changes["adjusted_out"] = account.adjusted_out - delta
    else:
        changes[_COUNTERS[kind]] = getattr(account, _COUNTERS[kind]) + abs(delta)
    balance = account.balance + delta
    if balance < 0:
        raise InsufficientPoints(f"the balance is {account.balance} points; {kind} asks for {-delta}",
                                 details={"balance": account.balance})
    seq = account.seq + 1
    credit = kind == EARNED or (kind == ADJUSTED and delta > 0)
    expires = clock.iso(add_months(clock.parse_iso(at), rules.expiry_months)) if credit else None
    after = replace(account, balance=balance, seq=seq, **changes)
    entry = Entry(customer_id=account.customer_id, seq=seq, at=at, kind=kind, delta=delta, balance=balance,
                  note=note, actor=actor, order_id=order_id, reference=reference, shortfall=shortfall,
                  expires_at=expires, points=delta if credit else 0)
    return after, entry


def expiring(account: Account, coming_of_age: int) -> int:
    """Points that expire once credits worth `coming_of_age` more come of age: what is left of all matured credits
    after every debit (oldest first), never more than the balance. A shortfall is a debit no credit paid for."""
    matured = account.matured + coming_of_age
    return max(0, min(account.balance, matured - account.spent + account.shortfall - account.expired))


def mature(account: Account, coming_of_age: int, *, at: str, rules: Rules) -> tuple[Account, Entry | None]:
    """Credits worth `coming_of_age` reach their expiry date: what is left of them expires."""
    lost = expiring(account, coming_of_age)
    aged = replace(account, matured=account.matured + coming_of_age)
    if lost <= 0:
        return aged, None
    return move(aged, EXPIRED, -lost, at=at, note="points expired", actor="system", rules=rules)


def expiring_by(account: Account, credits: list[Entry], until: str) -> list[tuple[Entry, int]]:
    """For each credit that comes of age by `until` (oldest first), how many points will expire with it."""
    result: list[tuple[Entry, int]] = []
    aged = before = 0
    for credit in sorted(credits, key=lambda entry: (entry.expires_at or "", entry.seq)):
        if (credit.expires_at or "") > until:
            break
        aged += credit.points
        lost = expiring(account, aged)
        result.append((credit, max(0, lost - before)))
        before = max(before, lost)
    return result
