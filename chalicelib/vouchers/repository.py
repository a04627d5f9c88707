"""Vouchers in DynamoDB; a use is counted inside the checkout transaction, guarded by the usage limit.

Every voucher carries the one `listing` value that keys the by-code index: staff page through the vouchers in code
order, one Query of a page's rows each.
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import db, resources
from chalicelib.db import meta_for
from chalicelib.errors import Conflict
from chalicelib.vouchers.domain import Voucher

LISTING = "vouchers"  # the one partition of the by-code index: every voucher


class VouchersByCode(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-code"
        projection = AllProjection()

    listing = UnicodeAttribute(hash_key=True)
    code = UnicodeAttribute(range_key=True)


class VoucherModel(Model):
    Meta = meta_for(resources.VOUCHERS)
    code = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()
    value = NumberAttribute()
    min_spend = NumberAttribute(default=0)
    max_discount = NumberAttribute(null=True)
    usage_limit = NumberAttribute(null=True)
    used = NumberAttribute(default=0)
    valid_from = UnicodeAttribute(null=True)
    valid_until = UnicodeAttribute(null=True)
    active = BooleanAttribute(default=True)
    created_by = UnicodeAttribute(null=True)
    listing = UnicodeAttribute(null=True)  # LISTING; absent only on vouchers written before the index (stamp_listing)
    by_code = VouchersByCode()


def _to_voucher(item: VoucherModel) -> Voucher:
    return Voucher(
        code=item.code,
        kind=item.kind,
        value=int(item.value),
        min_spend=int(item.min_spend),
        max_discount=int(item.max_discount) if item.max_discount is not None else None,
        usage_limit=int(item.usage_limit) if item.usage_limit is not None else None,
        used=int(item.used),
        valid_from=item.valid_from,
        valid_until=item.valid_until,
        active=bool(item.active),
    )


def get(code: str) -> Voucher | None:
    try:
        return _to_voucher(VoucherModel.get(code))
    except VoucherModel.DoesNotExist:
        return None


def voucher_read(code: str) -> db.BatchRead[Voucher]:
    """A voucher as one part of a batch read across tables (db.read_together), read as `get` reads it."""
    return db.BatchRead(VoucherModel, (code,), _to_voucher)


def create(voucher: Voucher, *, actor: str) -> None:
    item = VoucherModel(
        voucher.code,
        kind=voucher.kind,
        value=voucher.value,
        min_spend=voucher.min_spend,
        max_discount=voucher.max_discount,
        usage_limit=voucher.usage_limit,
        used=0,
        valid_from=voucher.valid_from,
        valid_until=voucher.valid_until,
        active=voucher.active,
        created_by=actor,
        listing=LISTING,
    )
    try:
        item.save(condition=VoucherModel.code.does_not_exist())
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise Conflict(f"voucher {voucher.code} already exists", code="voucher_exists") from None
        raise


def by_code(*, limit: int, cursor: str | None) -> tuple[list[Voucher], str | None]:
    """A page of the vouchers in code order (the staff list), and the next page's cursor (None: the last page)."""
    start = db.start_key(cursor, item_key="code", range_name="code", hash_name="listing", hash_value=LISTING)
    results = VoucherModel.by_code.query(LISTING, limit=limit, last_evaluated_key=start)
    vouchers = [_to_voucher(item) for item in results]
    return vouchers, db.page_cursor(results.last_evaluated_key, item_key="code", range_name="code")


def stamp_listing() -> int:
    """Give every voucher written before the by-code index its key, so the staff list shows it; how many were
    stamped (0 once all are). Safe to run again, and while the shop runs: `used` is left as it is."""
    stamped = 0
    for item in VoucherModel.scan(VoucherModel.listing.does_not_exist(), page_size=200):
        try:
            item.update(actions=[VoucherModel.listing.set(LISTING)], condition=VoucherModel.code.exists())
        except UpdateError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise
            continue
        stamped += 1
    return stamped


def stage_use(tx: TransactWrite, voucher: Voucher) -> None:
    """Count one use; fails the whole checkout if the last use went to someone else meanwhile."""
    condition = VoucherModel.active == True
    if voucher.usage_limit is not None:
        condition &= VoucherModel.used < voucher.usage_limit
    tx.update(VoucherModel(voucher.code), actions=[VoucherModel.used.add(1)], condition=condition)
