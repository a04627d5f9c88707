"""Loyalty points in DynamoDB. Every movement is one transaction: the account (conditional on the version it was
read at), its new ledger entry (never overwritten), the order's loyalty record (conditional on its version) and
whatever credit it reduces or retires, so of two racing writers exactly one moves the balance.

Items of the `loyalty` table, by customer: sk "account", sk "entry#<seq, 10 digits>", sk "adjust#<reference>"
(a staff adjustment made once per reference). The `loyalty-orders` table holds one record per order.
"""

from __future__ import annotations

from collections.abc import Iterator

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.expressions.condition import Condition
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import db, resources
from chalicelib.db import meta_for, page_cursor, start_key
from chalicelib.loyalty.domain import Account, Entry, OrderPoints

ACCOUNT = "account"
EARN_BUCKET = "earn"  # the by-due index's one partition: earnings waiting for their return window
CREDIT_BUCKET = "credit"  # the by-expiry index's one partition: credits not yet of age


def entry_key(seq: int) -> str:
    return f"entry#{seq:010d}"


class CreditsByExpiry(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-expiry"
        projection = AllProjection()

    expiry_bucket = UnicodeAttribute(hash_key=True)
    expires_at = UnicodeAttribute(range_key=True)


class LoyaltyModel(Model):
    """The account and the ledger entries of a customer share a partition: one query reads the ledger."""

    Meta = meta_for(resources.LOYALTY)
    customer_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    balance = NumberAttribute(null=True)
    # the account
    seq = NumberAttribute(null=True)
    totals = JSONAttribute(null=True)  # earned, redeemed, returned, reversed, shortfall, expired, adjusted_*, matured
    contact = JSONAttribute(null=True)
    version = NumberAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    # a ledger entry
    at = UnicodeAttribute(null=True)
    kind = UnicodeAttribute(null=True)
    delta = NumberAttribute(null=True)
    note = UnicodeAttribute(null=True)
    actor = UnicodeAttribute(null=True)
    order_id = UnicodeAttribute(null=True)
    reference = UnicodeAttribute(null=True)
    shortfall = NumberAttribute(null=True)
    expires_at = UnicodeAttribute(null=True)
    points = NumberAttribute(null=True)
    expiry_bucket = UnicodeAttribute(null=True)  # set while a credit has not come of age
    warned = BooleanAttribute(null=True)  # the customer was told the credit is about to expire
    matured_at = UnicodeAttribute(null=True)
    by_expiry = CreditsByExpiry()


class EarningsDue(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-due"
        projection = AllProjection()

    due_bucket = UnicodeAttribute(hash_key=True)
    earn_due_at = UnicodeAttribute(range_key=True)


class EarningsByCustomer(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-customer"
        projection = AllProjection()

    customer_id = UnicodeAttribute(hash_key=True)
    earn_due_at = UnicodeAttribute(range_key=True)


class OrderPointsModel(Model):
    Meta = meta_for(resources.LOYALTY_ORDERS)
    order_id = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()
    contact = JSONAttribute(null=True)
    redeemed = NumberAttribute(default=0)
    returned = NumberAttribute(default=0)
    gross = NumberAttribute(default=0)
    earn_due_at = UnicodeAttribute(null=True)
    earned_at = UnicodeAttribute(null=True)
    lot = NumberAttribute(null=True)
    taken_back = NumberAttribute(default=0)
    goods_paid = NumberAttribute(default=0)
    refunded = NumberAttribute(default=0)
    unwound = BooleanAttribute(default=False)
    version = NumberAttribute(default=0)
    due_bucket = UnicodeAttribute(null=True)  # set while the earning waits: the schedule finds it by-due
    by_due = EarningsDue()
    by_customer = EarningsByCustomer()


_TOTALS = ("earned", "redeemed", "returned", "reversed", "shortfall", "expired", "adjusted_in", "adjusted_out",
           "matured")


# ---- accounts and entries -----------------------------------------------------------------------------------


def _to_account(item: LoyaltyModel) -> Account:
    totals = item.totals or {}
    return Account(customer_id=item.customer_id, balance=int(item.balance or 0), seq=int(item.seq or 0),
                   contact=dict(item.contact or {}), version=int(item.version or 0),
                   **{name: int(totals.get(name, 0)) for name in _TOTALS})


def get_account(customer_id: str) -> Account:
    """The account as it is now (a strongly consistent read), or an empty one."""
    try:
        return _to_account(LoyaltyModel.get(customer_id, ACCOUNT, consistent_read=True))
    except LoyaltyModel.DoesNotExist:
        return Account(customer_id=customer_id)


def account_read(customer_id: str) -> db.BatchRead[Account]:
    """The account as one part of a batch read across tables (db.read_together): strongly consistent, as
    get_account, and an empty account when the customer has none yet."""
    return db.BatchRead(LoyaltyModel, ((customer_id, ACCOUNT),), _to_account, consistent=True,
                        missing=lambda key: Account(customer_id=key[0]))


def stage_account(tx: TransactWrite, before: Account, after: Account, *, at: str) -> None:
    """Write the account only if nobody moved it since `before` was read."""
    item = LoyaltyModel(after.customer_id, ACCOUNT, balance=after.balance, seq=after.seq, contact=after.contact,
                        version=before.version + 1, updated_at=at,
                        totals={name: getattr(after, name) for name in _TOTALS})
    condition: Condition = (LoyaltyModel.sk.does_not_exist() if before.version == 0
                            else LoyaltyModel.version == before.version)
    tx.save(item, condition=condition)


def _to_entry(item: LoyaltyModel) -> Entry:
    return Entry(customer_id=item.customer_id, seq=int(item.sk.removeprefix("entry#")), at=item.at or "",
                 kind=item.kind or "", delta=int(item.delta or 0), balance=int(item.balance or 0),
                 note=item.note or "", actor=item.actor or "", order_id=item.order_id, reference=item.reference,
                 shortfall=int(item.shortfall or 0), expires_at=item.expires_at, points=int(item.points or 0))


def stage_entry(tx: TransactWrite, entry: Entry) -> None:
    """A new ledger line; a credit joins the by-expiry index until it comes of age."""
    item = LoyaltyModel(entry.customer_id, entry_key(entry.seq), at=entry.at, kind=entry.kind, delta=entry.delta,
                        balance=entry.balance, note=entry.note, actor=entry.actor, order_id=entry.order_id,
                        reference=entry.reference, shortfall=entry.shortfall or None, expires_at=entry.expires_at,
                        points=entry.points if entry.is_credit else None,
                        expiry_bucket=CREDIT_BUCKET if entry.is_credit and entry.points > 0 else None)
    tx.save(item, condition=LoyaltyModel.sk.does_not_exist())


def get_entry(customer_id: str, seq: int) -> tuple[Entry, bool] | None:
    """A ledger entry and whether it is a credit that has come of age."""
    try:
        item = LoyaltyModel.get(customer_id, entry_key(seq), consistent_read=True)
    except LoyaltyModel.DoesNotExist:
        return None
    return _to_entry(item), item.expiry_bucket is None


def stage_credit_reduced(tx: TransactWrite, entry: Entry, points: int) -> None:
    """A refund takes `points` back from the credit it earned: less of it is left to expire."""
    tx.update(LoyaltyModel(entry.customer_id, entry_key(entry.seq)), actions=[LoyaltyModel.points.add(-points)],
              condition=LoyaltyModel.points == entry.points)


def stage_credit_matured(tx: TransactWrite, entry: Entry, *, at: str) -> None:
    """The credit came of age (counted into the account's matured total in the same transaction)."""
    tx.update(LoyaltyModel(entry.customer_id, entry_key(entry.seq)),
              actions=[LoyaltyModel.expiry_bucket.remove(), LoyaltyModel.matured_at.set(at)],
              condition=LoyaltyModel.expiry_bucket.exists() & (LoyaltyModel.points == entry.points))


def mark_warned(entry: Entry) -> None:
    LoyaltyModel(entry.customer_id, entry_key(entry.seq)).update(
        actions=[LoyaltyModel.warned.set(True)], condition=LoyaltyModel.sk.exists())


def credits_coming_of_age(until: str, *, unwarned_only: bool = False) -> Iterator[Entry]:
    """Credits (of every customer) whose expiry date is at or before `until` and that have not come of age yet."""
    condition = (LoyaltyModel.warned.does_not_exist()) if unwarned_only else None
    for item in LoyaltyModel.by_expiry.query(CREDIT_BUCKET, LoyaltyModel.expires_at <= until,
                                             filter_condition=condition):
        yield _to_entry(item)


def open_credits(customer_id: str) -> list[Entry]:
    """The customer's credits not yet of age (what may still expire), oldest first."""
    items = LoyaltyModel.query(customer_id, LoyaltyModel.sk.startswith("entry#"),
                               filter_condition=LoyaltyModel.expiry_bucket.exists(), consistent_read=True)
    return [_to_entry(item) for item in items]


def ledger(customer_id: str, *, limit: int, cursor: str | None) -> tuple[list[Entry], str | None]:
    """One page of the ledger, newest first, and the next page's cursor."""
    result = LoyaltyModel.query(
        customer_id, LoyaltyModel.sk.startswith("entry#"), scan_index_forward=False, limit=limit,
        last_evaluated_key=start_key(cursor, item_key="customer_id", range_name="sk", hash_name="customer_id",
                                     hash_value=customer_id, max_len=128))
    entries = [_to_entry(item) for item in result]
    return entries, page_cursor(result.last_evaluated_key, item_key="customer_id", range_name="sk")


def stage_adjustment_marker(tx: TransactWrite, customer_id: str, reference: str, seq: int) -> None:
    """A staff adjustment is made once per reference: a retried request finds the marker and moves nothing."""
    tx.save(LoyaltyModel(customer_id, f"adjust#{reference}", seq=seq), condition=LoyaltyModel.sk.does_not_exist())


def adjustment_entry(customer_id: str, reference: str) -> Entry | None:
    try:
        marker = LoyaltyModel.get(customer_id, f"adjust#{reference}", consistent_read=True)
    except LoyaltyModel.DoesNotExist:
        return None
    found = get_entry(customer_id, int(marker.seq or 0))
    return found[0] if found else None


# ---- orders -------------------------------------------------------------------------------------------------


def _to_order_points(item: OrderPointsModel) -> OrderPoints:
    return OrderPoints(order_id=item.order_id, customer_id=item.customer_id, contact=dict(item.contact or {}),
                       redeemed=int(item.redeemed), returned=int(item.returned), gross=int(item.gross),
                       earn_due_at=item.earn_due_at, earned_at=item.earned_at,
                       lot=int(item.lot) if item.lot is not None else None, taken_back=int(item.taken_back),
                       goods_paid=int(item.goods_paid), refunded=int(item.refunded), unwound=bool(item.unwound),
                       version=int(item.version))


def get_order_points(order_id: str) -> OrderPoints | None:
    try:
        return _to_order_points(OrderPointsModel.get(order_id, consistent_read=True))
    except OrderPointsModel.DoesNotExist:
        return None


def stage_order_points(tx: TransactWrite, before: OrderPoints | None, after: OrderPoints) -> None:
    """Write the order's record only if it is still as read (absent when `before` is None)."""
    waiting = after.earn_due_at is not None and after.earned_at is None and after.gross > 0 and not after.unwound
    item = OrderPointsModel(
        after.order_id, customer_id=after.customer_id, contact=after.contact, redeemed=after.redeemed,
        returned=after.returned, gross=after.gross, earn_due_at=after.earn_due_at, earned_at=after.earned_at,
        lot=after.lot, taken_back=after.taken_back, goods_paid=after.goods_paid, refunded=after.refunded,
        unwound=after.unwound, version=(before.version if before else 0) + 1,
        due_bucket=EARN_BUCKET if waiting else None)
    condition: Condition = (OrderPointsModel.order_id.does_not_exist() if before is None
                            else OrderPointsModel.version == before.version)
    tx.save(item, condition=condition)


def earnings_due(until: str) -> Iterator[str]:
    """Orders whose earning waits and whose return window closed by `until`, oldest first."""
    for item in OrderPointsModel.by_due.query(EARN_BUCKET, OrderPointsModel.earn_due_at <= until):
        yield item.order_id


def earnings_to_come(customer_id: str, *, limit: int = 20) -> list[OrderPoints]:
    """The customer's earnings still waiting for their return window, soonest first."""
    items = OrderPointsModel.by_customer.query(customer_id, limit=limit * 2,
                                               filter_condition=OrderPointsModel.due_bucket.exists())
    return [_to_order_points(item) for item in items][:limit]


def physical_tables() -> frozenset[str]:
    return frozenset({resources.LOYALTY.physical_name, resources.LOYALTY_ORDERS.physical_name})

