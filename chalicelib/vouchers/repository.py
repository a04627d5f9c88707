"""Vouchers in DynamoDB; a use is counted inside the checkout transaction, guarded by the usage limit."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import db, resources
from chalicelib.db import meta_for
from chalicelib.errors import Conflict
from chalicelib.vouchers.domain import Voucher


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
    )
    try:
        item.save(condition=VoucherModel.code.does_not_exist())
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise Conflict(f"voucher {voucher.code} already exists", code="voucher_exists") from None
        raise


def all_vouchers() -> list[Voucher]:
    return sorted((_to_voucher(item) for item in VoucherModel.scan()), key=lambda voucher: voucher.code)


def stage_use(tx: TransactWrite, voucher: Voucher) -> None:
    """Count one use; fails the whole checkout if the last use went to someone else meanwhile."""
    condition = VoucherModel.active == True
    if voucher.usage_limit is not None:
        condition &= VoucherModel.used < voucher.usage_limit
    tx.update(VoucherModel(voucher.code), actions=[VoucherModel.used.add(1)], condition=condition)
