"""Loyalty use cases: spend points inside the checkout transaction, settle an order's points whenever its facts
change (completed, refunded, cancelled, expired), credit earnings once the return window closes, expire credits
that come of age and warn customers first, and show a customer's balance and ledger.

Each movement is one transaction (loyalty.repository) with its count in the day rollups (tallies), so a report's
points figures and the shop's outstanding points move exactly when a balance does.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import clock, config, db
from chalicelib.errors import Conflict
from chalicelib.loyalty import repository
from chalicelib.loyalty.domain import (
    ADJUSTED,
    EARNED,
    REDEEMED,
    RETURNED,
    REVERSED,
    Account,
    Entry,
    OrderFacts,
    OrderPoints,
    Rules,
    absorb,
    expiring_by,
    mature,
    move,
    redemption_discount,
    return_target,
    reversal_target,
)
from chalicelib.notifications import service as notifications
from chalicelib.observability import logger, metrics
from chalicelib.tallies import service as tallies

ATTEMPTS = 8
SYSTEM = "system"
MAX_CREDITS_PER_TRANSACTION = 80  # DynamoDB takes 100 items in one transaction: credits, account, entry, counts
COUNTERS = {EARNED: "points_earned", REDEEMED: "points_redeemed", RETURNED: "points_returned",
            REVERSED: "points_reversed", "expired": "points_expired", ADJUSTED: "points_adjusted"}


def rules() -> Rules:
    return Rules(earn_rupiah=config.points_earn_rupiah(), point_value=config.point_value_rupiah(),
                 max_share_percent=config.points_max_share_percent(),
                 expiry_months=config.points_expiry_months(), warning_days=config.points_warning_days(),
                 return_window_days=config.return_window_days())


class _Raced(Exception):
    """Another writer moved the account or the record first: read again and decide again."""


def _counts(entry: Entry) -> dict[str, int]:
    """What a ledger line adds to the day's rollup for the reports."""
    counts = {COUNTERS[entry.kind]: entry.delta if entry.kind == ADJUSTED else abs(entry.delta)}
    if entry.shortfall:
        counts["points_shortfall"] = entry.shortfall
    return counts


def _stage_entries(tx: TransactWrite, *entries: Entry) -> None:
    """New ledger lines and their counts for the reports (and the shop's outstanding points), in the caller's
    transaction; the counts of several lines go into one update of each rollup item."""
    for entry in entries:
        repository.stage_entry(tx, entry)
    if entries:
        tallies.stage_all(tx, [(tallies.SUMMARY, _counts(entry), entry.at, None) for entry in entries])
        tallies.stage_points_outstanding(tx, sum(entry.delta for entry in entries))


def _commit(stage: Callable[[TransactWrite], None]) -> None:
    """Run one transaction; _Raced when a condition or a concurrent transaction got in the way."""
    tx = db.transaction()
    try:
        with tx:
            stage(tx)
    except TransactWriteError as error:
        if tx.failed_conditions(error) or db.lost_to_another_transaction(error):
            raise _Raced() from error
        raise


def _retrying(attempt: Callable[[], Any], what: str) -> Any:
    for number in range(ATTEMPTS):
        try:
            return attempt()
        except _Raced:
            time.sleep(random.uniform(0, min(0.2, 0.01 * 2 ** number)))
    raise Conflict(f"{what} keeps changing; try again in a moment", code="points_busy")


# ---- checkout ----------------------------------------------------------------------------------------------


def account_read(customer_id: str) -> db.BatchRead[Account]:
    """The account, to be read (strongly consistent) in the checkout's batch read of the cart's stock and products,
    then handed to quote_redemption and stage_redemption instead of being read by each."""
    return repository.account_read(customer_id)


def quote_redemption(customer_id: str, points: int, *, goods_after_voucher: int,
                     account: Account | None = None) -> int:
    """What `points` take off an order (Rupiah), checked against the balance now and the order's limit (422).
    `account`: the customer's account just read (strongly consistent); read here otherwise."""
    current = account if account is not None else repository.get_account(customer_id)
    return redemption_discount(points, balance=current.balance, goods_after_voucher=goods_after_voucher,
                               rules=rules())


def stage_redemption(tx: TransactWrite, *, customer_id: str, order_id: str, points: int,
                     contact: dict[str, str], at: str, account: Account | None = None) -> None:
    """Spend points in the checkout's transaction (with the stock reservation and the order): the account is
    written only if it is still as read, so concurrent checkouts never spend the same points twice (the
    loser's transaction fails and is decided again on a fresh read; see checkout). `account`: the account the
    quote was made on, for the first attempt (its version condition guarantees it is still current); read here
    when not given, as every retry does."""
    if account is None:
        account = repository.get_account(customer_id)
    after, entry = move(replace(account, contact=dict(contact)), REDEEMED, -points, at=at, actor=customer_id,
                        note=f"spent on order {order_id}", order_id=order_id, rules=rules())
    repository.stage_account(tx, account, after, at=at)
    _stage_entries(tx, entry)
    repository.stage_order_points(tx, None, OrderPoints(order_id=order_id, customer_id=customer_id,
                                                        contact=dict(contact), redeemed=points))


TABLES = repository.physical_tables()


# ---- an order's facts changed ------------------------------------------------------------------------------


def settle(facts: OrderFacts) -> OrderPoints | None:
    """Bring an order's points in line with its facts; safe to call any number of times, in any order.

    Completed: its earning is planned for when the return window closes. Refunded (in part or in full) or ended
    unpaid/cancelled: the spent points go back and the credited ones are taken back, in proportion.
    """
    if not facts.customer_id:
        return None
    customer_id = facts.customer_id

    def attempt() -> OrderPoints:
        before = repository.get_order_points(facts.order_id)
        state = absorb(before or OrderPoints(order_id=facts.order_id, customer_id=customer_id), facts, rules())
        give_back = return_target(state) - state.returned
        take_back = reversal_target(state) - state.taken_back if state.earned_at else 0
        if before is not None and state == before and give_back <= 0 and take_back <= 0:
            return before
        if before is None and state.redeemed == 0 and state.earn_due_at is None:
            return state  # nothing spent, nothing to earn (yet): no record needed
        after = replace(state, returned=state.returned + max(0, give_back),
                        taken_back=state.taken_back + max(0, take_back))
        _move_for_order(before, after, give_back=give_back, take_back=take_back)
        return after

    settled: OrderPoints = _retrying(attempt, f"the points of order {facts.order_id}")
    return settled


def _move_for_order(before: OrderPoints | None, after: OrderPoints, *, give_back: int, take_back: int) -> None:
    at = clock.now_iso()
    account = repository.get_account(after.customer_id)
    credit = repository.get_entry(after.customer_id, after.lot) if take_back > 0 and after.lot else None
    current, entries = account, []
    if give_back > 0:
        current, entry = move(current, RETURNED, give_back, at=at, actor=SYSTEM, order_id=after.order_id,
                              note=f"points spent on order {after.order_id} given back", rules=rules())
        entries.append(entry)
    if take_back > 0:
        current, entry = move(current, REVERSED, -take_back, at=at, actor=SYSTEM, order_id=after.order_id,
                              note=f"order {after.order_id} refunded: its points taken back", rules=rules(),
                              matured_lot=bool(credit and credit[1]))
        entries.append(entry)
    if after.contact:
        current = replace(current, contact=after.contact)

    def stage(tx: TransactWrite) -> None:
        repository.stage_order_points(tx, before, after)
        if entries:
            repository.stage_account(tx, account, current, at=at)
            _stage_entries(tx, *entries)
        if credit is not None and not credit[1]:
            repository.stage_credit_reduced(tx, credit[0], min(take_back, credit[0].points))

    _commit(stage)
    for entry in entries:
        metrics.add_metric(name="PointsReturned" if entry.kind == RETURNED else "PointsReversed",
                           unit=MetricUnit.Count, value=abs(entry.delta))


# ---- schedules: earnings credited, credits expired, customers warned ----------------------------------------


def credit_due(now: datetime | None = None) -> dict[str, int]:
    """Credit every earning whose return window has closed by `now` (by default, the present)."""
    until = clock.iso(now or clock.now())
    credited = skipped = 0
    for order_id in list(repository.earnings_due(until)):
        try:
            if credit_earning(order_id, until=until):
                credited += 1
        except Conflict:
            skipped += 1  # the next run takes it
    if credited or skipped:
        logger.info("loyalty earnings credited", extra={"credited": credited, "skipped": skipped})
    return {"credited": credited, "skipped": skipped}


def credit_earning(order_id: str, *, until: str) -> bool:
    """Credit one order's earning, less what its refunds take back; once, however often it is asked."""
    credited: list[Entry] = []

    def attempt() -> bool:
        credited.clear()
        before = repository.get_order_points(order_id)
        if before is None or before.earned_at or not before.earn_due_at or before.earn_due_at > until:
            return False
        at = clock.now_iso()
        withheld = reversal_target(before)
        account = repository.get_account(before.customer_id)
        points = before.gross - withheld
        current, entry = account, None
        if points > 0:
            note = f"earned on order {order_id}"
            if withheld:
                note += f" ({withheld} of {before.gross} taken back for refunds)"
            current, entry = move(replace(account, contact=before.contact or account.contact), EARNED, points,
                                  at=at, actor=SYSTEM, order_id=order_id, rules=rules(), note=note)
        after = replace(before, earned_at=at, taken_back=withheld, lot=entry.seq if entry else None)

        def stage(tx: TransactWrite) -> None:
            repository.stage_order_points(tx, before, after)
            if entry is not None:
                repository.stage_account(tx, account, current, at=at)
                _stage_entries(tx, entry)

        _commit(stage)
        if entry is not None:
            credited.append(entry)
        return True

    done: bool = _retrying(attempt, f"the points of order {order_id}")
    for entry in credited:
        metrics.add_metric(name="PointsEarned", unit=MetricUnit.Count, value=entry.delta)
        _tell("points_earned", entry, repository.get_order_points(order_id),
              {"points": entry.delta, "balance": entry.balance, "expires_at": entry.expires_at,
               "point_value": rules().point_value})
    return done


def expire_due(now: datetime | None = None) -> dict[str, int]:
    """Credits whose expiry date has passed come of age; what is left of them expires (oldest first)."""
    at = clock.iso(now or clock.now())
    by_customer: dict[str, list[Entry]] = defaultdict(list)
    for credit in repository.credits_coming_of_age(at):
        by_customer[credit.customer_id].append(credit)
    expired = customers = 0
    for customer_id, credits in by_customer.items():
        for start in range(0, len(credits), MAX_CREDITS_PER_TRANSACTION):
            try:
                expired += _mature(customer_id, credits[start:start + MAX_CREDITS_PER_TRANSACTION], at=at)
            except Conflict:
                continue  # the next run takes them
        customers += 1
    if expired:
        metrics.add_metric(name="PointsExpired", unit=MetricUnit.Count, value=expired)
        logger.info("loyalty points expired", extra={"points": expired, "customers": customers})
    return {"customers": customers, "expired": expired}


def _mature(customer_id: str, credits: list[Entry], *, at: str) -> int:
    def attempt() -> int:
        fresh = [found[0] for credit in credits
                 if (found := repository.get_entry(customer_id, credit.seq)) is not None and not found[1]]
        if not fresh:
            return 0
        account = repository.get_account(customer_id)
        after, entry = mature(account, sum(credit.points for credit in fresh), at=at, rules=rules())

        def stage(tx: TransactWrite) -> None:
            repository.stage_account(tx, account, after, at=at)
            for credit in fresh:
                repository.stage_credit_matured(tx, credit, at=at)
            if entry is not None:
                _stage_entries(tx, entry)

        _commit(stage)
        return -entry.delta if entry else 0

    lost: int = _retrying(attempt, f"the points of customer {customer_id}")
    return lost


def warn_expiring(now: datetime | None = None) -> dict[str, int]:
    """Tell customers, once per credit, how many points will expire with it within the warning period."""
    moment = now or clock.now()
    until = clock.iso(moment + timedelta(days=rules().warning_days))
    by_customer: dict[str, list[Entry]] = defaultdict(list)
    for credit in repository.credits_coming_of_age(until, unwarned_only=True):
        by_customer[credit.customer_id].append(credit)
    warned = 0
    for customer_id, credits in by_customer.items():
        account = repository.get_account(customer_id)
        for credit, points in expiring_by(account, repository.open_credits(customer_id), until):
            if not any(credit.seq == mine.seq for mine in credits):
                continue
            if points > 0:
                _tell("points_expiring", credit, None, {"points": points, "expires_at": credit.expires_at,
                                                       "balance": account.balance}, contact=account.contact)
                warned += 1
            repository.mark_warned(credit)
    return {"warned": warned}


def expire_and_warn(now: datetime | None = None) -> dict[str, int]:
    """The daily schedule: expire what came of age, then warn about what comes of age soon."""
    return {**expire_due(now), **warn_expiring(now)}


def _tell(event: str, entry: Entry, record: OrderPoints | None, extra: dict[str, Any], *,
          contact: dict[str, str] | None = None) -> None:
    """A customer notification about points (Bahasa Indonesia, sent once per credit); a failure is logged."""
    who = contact or (record.contact if record else {})
    if not who.get("email") and not who.get("phone"):
        return
    reference = entry.order_id or entry.reference or f"points-{entry.seq}"
    try:
        notifications.request(event, {"order_id": reference, "customer": who}, extra,
                              key=f"{entry.customer_id}#{entry.seq}")
    except Exception as error:  # the movement is done; the outbox is a courtesy
        logger.warning("points notification not queued", extra={"event": event, "error": repr(error)})


# ---- staff adjustments --------------------------------------------------------------------------------------


def adjust(customer_id: str, *, points: int, reason: str, reference: str, actor: str) -> dict[str, Any]:
    """Staff add (goodwill) or take away (a correction) points, once per reference: a retry answers the same."""
    done = repository.adjustment_entry(customer_id, reference)
    if done is not None:
        return done.to_dict()

    def attempt() -> Entry:
        account = repository.get_account(customer_id)
        at = clock.now_iso()
        after, entry = move(account, ADJUSTED, points, at=at, actor=actor, reference=reference,
                            note=reason, rules=rules())

        def stage(tx: TransactWrite) -> None:
            repository.stage_account(tx, account, after, at=at)
            _stage_entries(tx, entry)
            repository.stage_adjustment_marker(tx, customer_id, reference, entry.seq)

        try:
            _commit(stage)
        except _Raced:
            if repository.adjustment_entry(customer_id, reference) is not None:
                return repository.adjustment_entry(customer_id, reference)  # type: ignore[return-value]
            raise
        return entry

    entry: Entry = _retrying(attempt, f"the points of customer {customer_id}")
    logger.info("points adjusted", extra={"customer_id": customer_id, "points": points, "actor": actor})
    return entry.to_dict()


# ---- reading ------------------------------------------------------------------------------------------------


def view(customer_id: str, *, limit: int = 20, cursor: str | None = None) -> dict[str, Any]:
    """Balance, its value, the next expiry, earnings still to come and one page of the ledger."""
    settings = rules()
    account = repository.get_account(customer_id)
    entries, next_cursor = repository.ledger(customer_id, limit=limit, cursor=cursor)
    now = clock.now()
    soon = clock.iso(now + timedelta(days=settings.warning_days))
    upcoming = [(credit, points) for credit, points in
                expiring_by(account, repository.open_credits(customer_id), "9999") if points > 0]
    next_expiry = ({"points": upcoming[0][1], "expires_at": upcoming[0][0].expires_at,
                    "soon": (upcoming[0][0].expires_at or "") <= soon} if upcoming else None)
    to_come = [record.to_dict() for record in repository.earnings_to_come(customer_id)]
    return {
        "customer_id": customer_id,
        "balance": account.balance,
        "balance_value": account.balance * settings.point_value,
        "totals": account.to_dict(),
        "next_expiry": next_expiry,
        "earnings_to_come": [record for record in to_come if record["earns"] > 0],
        "rules": {"earn_rupiah": settings.earn_rupiah, "point_value": settings.point_value,
                  "max_share_percent": settings.max_share_percent, "expiry_months": settings.expiry_months},
        "ledger": {"items": [entry.to_dict() for entry in entries], "cursor": next_cursor},
    }

