"""chalicelib.db.Transaction names the items whose conditions cancelled a transaction.

DynamoDB gives one cancellation reason per item in the order pynamodb sent them, and pynamodb sends condition
checks, deletes, puts and updates in that order whatever order they were staged in (db.SEND_ORDER). Here every
kind is staged in the reverse order and each in turn fails: if a pynamodb upgrade changes its sending order,
the wrong item is named and these tests fail.
"""

from __future__ import annotations

from typing import Any

import pytest
from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model

from chalicelib import db, resources
from chalicelib.db import StagedItem, meta_for


class Voucher(Model):
    Meta = meta_for(resources.VOUCHERS)
    code = UnicodeAttribute(hash_key=True)
    used = NumberAttribute(default=0)


class LedgerLine(Model):
    Meta = meta_for(resources.STOCK_LEDGER)
    sku = UnicodeAttribute(hash_key=True)
    entry_id = UnicodeAttribute(range_key=True)


class Product(Model):
    Meta = meta_for(resources.PRODUCTS)
    product_id = UnicodeAttribute(hash_key=True)


class Cart(Model):
    Meta = meta_for(resources.CARTS)
    cart_id = UnicodeAttribute(hash_key=True)


STAGED_ORDER = ("update", "save", "delete", "condition_check")  # the reverse of db.SEND_ORDER


def test_the_kinds_are_staged_here_in_the_reverse_of_the_sending_order() -> None:
    assert tuple(reversed(STAGED_ORDER)) == db.SEND_ORDER


@pytest.mark.parametrize("failing", STAGED_ORDER)
def test_a_cancelled_transaction_names_the_one_item_whose_condition_failed(aws: Any, failing: str) -> None:
    # GIVEN one item of each kind, all of whose conditions hold except the `failing` one
    Voucher("JOGJA10", used=1).save()
    Product("prd_1").save()
    Cart("cart-1").save()
    if failing == "save":
        LedgerLine("BTK-1", "2026-11-23#a").save()
    tx = db.transaction()

    # WHEN
    with pytest.raises(TransactWriteError) as raised, tx:
        tx.update(Voucher("JOGJA10"), actions=[Voucher.used.add(1)],
                  condition=Voucher.used == (0 if failing == "update" else 1))
        tx.save(LedgerLine("BTK-1", "2026-11-23#a"), condition=LedgerLine.entry_id.does_not_exist())
        tx.delete(Cart("cart-1"), condition=(Cart.cart_id.does_not_exist() if failing == "delete"
                                             else Cart.cart_id.exists()))
        tx.condition_check(Product, "prd_1", condition=(Product.product_id.does_not_exist()
                                                        if failing == "condition_check"
                                                        else Product.product_id.exists()))

    # THEN
    expected = {
        "update": StagedItem(resources.VOUCHERS.physical_name, {"code": "JOGJA10"}),
        "save": StagedItem(resources.STOCK_LEDGER.physical_name, {"sku": "BTK-1", "entry_id": "2026-11-23#a"}),
        "condition_check": StagedItem(resources.PRODUCTS.physical_name, {"product_id": "prd_1"}),
        "delete": StagedItem(resources.CARTS.physical_name, {"cart_id": "cart-1"}),
    }[failing]
    assert tx.failed_conditions(raised.value) == [expected]
