"""Cart use cases. A cart belongs to whoever created it: a signed-in customer, or any holder of its id."""

from __future__ import annotations

from typing import Any

from chalicelib import clock, config
from chalicelib.auth import Principal
from chalicelib.cart import repository
from chalicelib.cart.domain import MAX_LINES, PricedCart, PricedLine, price
from chalicelib.cart.repository import Cart
from chalicelib.catalog import repository as catalog
from chalicelib.errors import Conflict, NotFound, Unprocessable
from chalicelib.inventory import repository as stock
from chalicelib.tallies import service as tallies
from chalicelib.vouchers import repository as vouchers
from chalicelib.vouchers.domain import normalise_code, problem


def load(cart_id: str, principal: Principal | None, *, for_update: bool = False) -> Cart:
    """A live cart the caller may use; someone else's or an expired cart is simply not found. A signed-in
    customer's cart is theirs only: staff and admins see the orders it becomes, never the cart itself (they
    could otherwise change what a customer is about to buy, or check it out)."""
    cart = repository.get(cart_id)
    if cart is None or cart.expires_at < int(clock.now().timestamp()):
        raise NotFound(f"cart {cart_id} not found", code="cart_not_found")
    if cart.owner_sub and not (principal and principal.sub == cart.owner_sub):
        raise NotFound(f"cart {cart_id} not found", code="cart_not_found")
    if for_update and cart.order_id:
        raise Conflict(f"cart was already checked out as order {cart.order_id}", code="cart_checked_out",
                       details={"order_id": cart.order_id})
    return cart


def priced(cart: Cart) -> PricedCart:
    """Live prices and stock for every line: 1 stock batch read, 1 product batch read, 1 voucher read."""
    levels = stock.read_levels(cart.items)
    products = catalog.get_many(level.product_id for level in levels.values())
    lines = []
    for sku, quantity in cart.items.items():
        level = levels.get(sku)
        product = products.get(level.product_id) if level else None
        variant = product.variant(sku) if product else None
        if level is None or product is None or variant is None:
            lines.append(PricedLine(sku=sku, product_id="", name="(no longer sold)", options={}, unit_price=0,
                                    quantity=quantity, weight_grams=0, available=0, sellable=False))
            continue
        dimensions = variant.dimensions.__dict__ if variant.dimensions else None
        lines.append(PricedLine(sku=sku, product_id=product.product_id, name=product.name, options=variant.options,
                                unit_price=variant.price, quantity=quantity, weight_grams=variant.weight_grams,
                                available=level.available, sellable=product.is_sellable(sku), dimensions=dimensions))
    voucher = vouchers.get(cart.voucher_code) if cart.voucher_code else None
    return price(lines, voucher=voucher, ppn_rate_percent=config.ppn_rate_percent(), now_iso=clock.now_iso())


def view(cart: Cart, priced_cart: PricedCart | None = None) -> dict[str, Any]:
    result = priced_cart or priced(cart)
    voucher = None
    if cart.voucher_code:
        voucher = {"code": cart.voucher_code, "applied": result.voucher_problem is None and result.voucher is not None,
                   "problem": result.voucher_problem if result.voucher else "voucher no longer exists"}
    return {
        "cart_id": cart.cart_id,
        "lines": [line.to_dict() for line in result.lines],
        "voucher": voucher,
        "totals": result.totals.to_dict(),
        "stock_short_skus": result.short_skus,
        "unavailable_skus": result.unsellable_skus,
        "order_id": cart.order_id,
        "expires_at": clock.iso(clock.datetime.fromtimestamp(cart.expires_at, clock.UTC)),
        "updated_at": cart.updated_at,
    }


def create(principal: Principal | None) -> dict[str, Any]:
    owner = principal.sub if principal and principal.role == "customer" else None
    cart = repository.new_cart(owner)
    tallies.cart_created(cart.created_at)
    return view(cart)


def get(cart_id: str, principal: Principal | None) -> dict[str, Any]:
    return view(load(cart_id, principal))


def set_quantity(cart_id: str, sku: str, quantity: int, principal: Principal | None) -> dict[str, Any]:
    """Quantity 0 removes the line. More than is in stock is allowed but flagged: checkout will refuse it.

    The cart is priced with the change before it is saved: the same reads check that the SKU is for sale
    and build the answer, and a SKU that is not for sale is refused without writing anything.
    """
    cart = load(cart_id, principal, for_update=True)
    if quantity == 0:
        cart.items.pop(sku, None)
        return view(repository.save(cart))
    if sku not in cart.items and len(cart.items) >= MAX_LINES:
        raise Unprocessable(f"a cart holds at most {MAX_LINES} different items", code="cart_full")
    cart.items[sku] = quantity
    priced_cart = priced(cart)
    if any(line.sku == sku and not line.sellable for line in priced_cart.lines):
        raise NotFound(f"SKU {sku} is not for sale", code="sku_not_found")
    return view(repository.save(cart), priced_cart)


def apply_voucher(cart_id: str, code: str, principal: Principal | None) -> dict[str, Any]:
    cart = load(cart_id, principal, for_update=True)
    voucher = vouchers.get(normalise_code(code))
    if voucher is None:
        raise NotFound(f"voucher {normalise_code(code)} does not exist", code="voucher_not_found")
    cart.voucher_code = voucher.code
    current = priced(cart)
    reason = problem(voucher, subtotal=current.totals.subtotal, now_iso=clock.now_iso())
    if reason:
        raise Unprocessable(f"voucher {voucher.code} cannot be used: {reason}", code="voucher_not_applicable")
    return view(repository.save(cart), current)


def remove_voucher(cart_id: str, principal: Principal | None) -> dict[str, Any]:
    cart = load(cart_id, principal, for_update=True)
    cart.voucher_code = None
    return view(repository.save(cart))
