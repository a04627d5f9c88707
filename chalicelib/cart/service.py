"""Cart use cases. A cart belongs to whoever created it: a signed-in customer, or any holder of its id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib import clock, config, db
from chalicelib.auth import Principal
from chalicelib.cart import repository
from chalicelib.cart.domain import MAX_LINES, PricedCart, PricedLine, price
from chalicelib.cart.repository import Cart
from chalicelib.catalog import repository as catalog
from chalicelib.catalog.domain import Product
from chalicelib.errors import Conflict, NotFound, Unprocessable
from chalicelib.inventory import repository as stock
from chalicelib.inventory.domain import StockLevel
from chalicelib.tallies import service as tallies
from chalicelib.vouchers import repository as vouchers
from chalicelib.vouchers.domain import Voucher, normalise_code, problem


def _check(cart: Cart | None, cart_id: str, principal: Principal | None, *, for_update: bool) -> Cart:
    if cart is None or cart.expires_at < int(clock.now().timestamp()):
        raise NotFound(f"cart {cart_id} not found", code="cart_not_found")
    if cart.owner_sub and not (principal and principal.sub == cart.owner_sub):
        raise NotFound(f"cart {cart_id} not found", code="cart_not_found")
    if for_update and cart.order_id:
        raise Conflict(f"cart was already checked out as order {cart.order_id}", code="cart_checked_out",
                       details={"order_id": cart.order_id})
    return cart


def load(cart_id: str, principal: Principal | None, *, for_update: bool = False) -> Cart:
    """A live cart the caller may use; someone else's or an expired cart is simply not found. A signed-in
    customer's cart is theirs only: staff and admins see the orders it becomes, never the cart itself (they
    could otherwise change what a customer is about to buy, or check it out)."""
    return _check(repository.get(cart_id), cart_id, principal, for_update=for_update)


def load_with(cart_id: str, principal: Principal | None, also: Sequence[db.BatchRead[Any]], *,
              for_update: bool = False) -> tuple[Cart, db.BatchResult]:
    """`load`, with other items the caller needs read in the same request (e.g. the SKU being added)."""
    read = repository.cart_read(cart_id)
    found = db.read_together([read, *also])
    return _check(found.one(read), cart_id, principal, for_update=for_update), found


@dataclass(frozen=True)
class Reads:
    """What pricing a cart read: stock levels (strongly consistent, with the versions a checkout's transaction is
    conditioned on), products, the voucher, and whatever the caller asked to read in the same request."""

    levels: dict[str, StockLevel]
    products: dict[str, Product]
    voucher: Voucher | None
    found: db.BatchResult


def read(cart: Cart, *, levels: Mapping[str, StockLevel] | None = None, voucher: Voucher | None = None,
         also: Sequence[db.BatchRead[Any]] = ()) -> Reads:
    """One request for every line's stock level and product, the voucher and `also`: each line's product id is
    kept on the cart, so products need not wait for the stock levels. `levels` and `voucher` just read are not
    read again. Lines whose product id the cart lacks (or which disagrees with the stock row) cost one more read.
    """
    known = {sku: level for sku, level in (levels or {}).items() if sku in cart.items}
    hinted = {cart.product_ids[sku] for sku in cart.items if sku in cart.product_ids}
    hinted |= {level.product_id for level in known.values()}
    level_read = stock.levels_read(sku for sku in cart.items if sku not in known)
    product_read = catalog.products_read(hinted)
    voucher_read = None
    if cart.voucher_code and not (voucher and voucher.code == cart.voucher_code):
        voucher_read = vouchers.voucher_read(cart.voucher_code)
    found = db.read_together([part for part in (level_read, product_read, voucher_read) if part and part.keys]
                             + list(also))
    known.update(found.of(level_read))
    products = found.of(product_read)
    unread = {level.product_id for level in known.values()} - hinted
    if unread:
        products.update(catalog.get_many(unread))
    if voucher_read is not None:
        voucher = found.one(voucher_read)
    return Reads(levels=known, products=products, voucher=voucher if cart.voucher_code else None, found=found)


def priced_from(cart: Cart, reads: Reads) -> PricedCart:
    """Every line at its live price and stock, from what `read` found."""
    lines = []
    for sku, quantity in cart.items.items():
        level = reads.levels.get(sku)
        product = reads.products.get(level.product_id) if level else None
        variant = product.variant(sku) if product else None
        if level is None or product is None or variant is None:
            lines.append(PricedLine(sku=sku, product_id="", name="(no longer sold)", options={}, unit_price=0,
                                    quantity=quantity, weight_grams=0, available=0, sellable=False))
            continue
        dimensions = variant.dimensions.__dict__ if variant.dimensions else None
        lines.append(PricedLine(sku=sku, product_id=product.product_id, name=product.name, options=variant.options,
                                unit_price=variant.price, quantity=quantity, weight_grams=variant.weight_grams,
                                available=level.available, sellable=product.is_sellable(sku), dimensions=dimensions))
    return price(lines, voucher=reads.voucher, ppn_rate_percent=config.ppn_rate_percent(), now_iso=clock.now_iso())


def priced(cart: Cart) -> PricedCart:
    """Live prices and stock for every line: one batch read of stock levels, products and the voucher."""
    return priced_from(cart, read(cart))


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
    and build the answer, and a SKU that is not for sale is refused without writing anything. The SKU's stock
    level is read with the cart (it names the SKU's product), the other lines and every product in one more
    request: three requests with the save.
    """
    if quantity == 0:
        cart = load(cart_id, principal, for_update=True)
        cart.items.pop(sku, None)
        return view(repository.save(cart))
    level_read = stock.levels_read([sku])
    cart, found = load_with(cart_id, principal, [level_read], for_update=True)
    if sku not in cart.items and len(cart.items) >= MAX_LINES:
        raise Unprocessable(f"a cart holds at most {MAX_LINES} different items", code="cart_full")
    cart.items[sku] = quantity
    reads = read(cart, levels=found.of(level_read))
    priced_cart = priced_from(cart, reads)
    if any(line.sku == sku and not line.sellable for line in priced_cart.lines):
        raise NotFound(f"SKU {sku} is not for sale", code="sku_not_found")
    cart.product_ids = {line: level.product_id for line, level in reads.levels.items()}
    return view(repository.save(cart), priced_cart)


def apply_voucher(cart_id: str, code: str, principal: Principal | None) -> dict[str, Any]:
    """The voucher is read with the cart, and the priced answer reuses it."""
    voucher_read = vouchers.voucher_read(normalise_code(code))
    cart, found = load_with(cart_id, principal, [voucher_read], for_update=True)
    voucher = found.one(voucher_read)
    if voucher is None:
        raise NotFound(f"voucher {normalise_code(code)} does not exist", code="voucher_not_found")
    cart.voucher_code = voucher.code
    current = priced_from(cart, read(cart, voucher=voucher))
    reason = problem(voucher, subtotal=current.totals.subtotal, now_iso=clock.now_iso())
    if reason:
        raise Unprocessable(f"voucher {voucher.code} cannot be used: {reason}", code="voucher_not_applicable")
    return view(repository.save(cart), current)


def remove_voucher(cart_id: str, principal: Principal | None) -> dict[str, Any]:
    cart = load(cart_id, principal, for_update=True)
    cart.voucher_code = None
    return view(repository.save(cart))
