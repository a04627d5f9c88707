"""Carts in DynamoDB, expired by TTL; edits are read-modify-write guarded by a version number."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pynamodb.attributes import JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import clock, config, db, resources
from chalicelib.db import meta_for
from chalicelib.errors import Conflict


class CartModel(Model):
    Meta = meta_for(resources.CARTS)
    cart_id = UnicodeAttribute(hash_key=True)
    owner_sub = UnicodeAttribute(null=True)
    items = JSONAttribute(default=dict)
    # sku -> product id of each line, kept when a line is added, so pricing reads a line's product in the same
    # request as its stock level (a SKU never changes product; a missing or wrong entry costs one more read only)
    product_ids = JSONAttribute(null=True)
    voucher_code = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    expires_at = TTLAttribute()
    order_id = UnicodeAttribute(null=True)  # set once, by the checkout transaction
    version = NumberAttribute(default=0)


@dataclass
class Cart:
    cart_id: str
    owner_sub: str | None
    items: dict[str, int] = field(default_factory=dict)
    voucher_code: str | None = None
    product_ids: dict[str, str] = field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""
    expires_at: int = 0
    order_id: str | None = None
    version: int = 0


def _to_cart(item: CartModel) -> Cart:
    return Cart(
        cart_id=item.cart_id,
        owner_sub=item.owner_sub,
        items={sku: int(quantity) for sku, quantity in (item.items or {}).items()},
        voucher_code=item.voucher_code,
        product_ids={sku: str(product_id) for sku, product_id in (item.product_ids or {}).items()},
        created_at=item.created_at,
        updated_at=item.updated_at,
        expires_at=int(item.expires_at.timestamp()) if item.expires_at else 0,
        order_id=item.order_id,
        version=int(item.version),
    )


def _expiry() -> datetime:
    return clock.now() + timedelta(days=config.cart_ttl_days())


def new_cart(owner_sub: str | None) -> Cart:
    now = clock.now_iso()
    item = CartModel(
        uuid.uuid4().hex,  # unguessable: for guests the id is the only key to the cart
        owner_sub=owner_sub,
        items={},
        created_at=now,
        updated_at=now,
        expires_at=_expiry(),
        version=1,
    )
    item.save(condition=CartModel.cart_id.does_not_exist())
    return _to_cart(item)


def get(cart_id: str) -> Cart | None:
    try:
        return _to_cart(CartModel.get(cart_id, consistent_read=True))
    except CartModel.DoesNotExist:
        return None


def cart_read(cart_id: str) -> db.BatchRead[Cart]:
    """A cart as one part of a batch read across tables (db.read_together), strongly consistent as `get`."""
    return db.BatchRead(CartModel, (cart_id,), _to_cart, consistent=True)


def save(cart: Cart) -> Cart:
    """Store edits if nobody else changed the cart since it was read; each edit pushes expiry back."""
    item = CartModel(
        cart.cart_id,
        owner_sub=cart.owner_sub,
        items=cart.items,
        product_ids={sku: product_id for sku, product_id in cart.product_ids.items() if sku in cart.items} or None,
        voucher_code=cart.voucher_code,
        created_at=cart.created_at,
        updated_at=clock.now_iso(),
        expires_at=_expiry(),
        version=cart.version + 1,
    )
    try:
        item.save(condition=(CartModel.version == cart.version) & CartModel.order_id.does_not_exist())
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise Conflict("the cart changed meanwhile (or was checked out); reload it", code="cart_conflict") from None
        raise
    return _to_cart(item)


def stage_checkout(tx: TransactWrite, cart: Cart, order_id: str) -> None:
    """Close the cart inside the checkout transaction, so one cart can become one order only."""
    tx.update(
        CartModel(cart.cart_id),
        actions=[CartModel.order_id.set(order_id), CartModel.updated_at.set(clock.now_iso())],
        condition=CartModel.order_id.does_not_exist() & (CartModel.version == cart.version),
    )
