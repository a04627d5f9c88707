"""Cart pricing in plain Python: lines at current prices, voucher discount, PPN included, weight, shortages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.vouchers.domain import Voucher, discount, problem

CART_ID_PATTERN = r"[a-f0-9]{32}"  # cart ids are uuid4 hex

MAX_LINES = 40  # checkout writes 2 items per line in one DynamoDB transaction (limit 100), plus cart, order,
# voucher and 5 for spent loyalty points: 88 at most; it reads a stock level and a product per line, the voucher
# and the points account in one BatchGetItem (limit 100 keys): 82 at most
MAX_QUANTITY = 99


@dataclass(frozen=True)
class PricedLine:
    sku: str
    product_id: str
    name: str
    options: dict[str, str]
    unit_price: int
    quantity: int
    weight_grams: int
    available: int
    sellable: bool
    dimensions: dict[str, int] | None = None

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity

    @property
    def short(self) -> bool:
        return self.quantity > self.available

    def to_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "product_id": self.product_id,
            "name": self.name,
            "options": self.options,
            "unit_price": self.unit_price,
            "quantity": self.quantity,
            "line_total": self.line_total,
            "weight_grams": self.weight_grams * self.quantity,
            "available": max(0, self.available),
            "stock_short": self.short,
            "sellable": self.sellable,
        }


@dataclass(frozen=True)
class Totals:
    subtotal: int
    discount: int
    total: int
    ppn_included: int
    ppn_rate_percent: int
    weight_grams: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "subtotal": self.subtotal,
            "discount": self.discount,
            "total": self.total,
            "ppn_included": self.ppn_included,
            "ppn_rate_percent": self.ppn_rate_percent,
            "weight_grams": self.weight_grams,
            "currency": "IDR",
        }


@dataclass(frozen=True)
class PricedCart:
    lines: list[PricedLine]
    totals: Totals
    voucher: Voucher | None = None
    voucher_problem: str | None = None

    @property
    def short_skus(self) -> list[str]:
        return [line.sku for line in self.lines if line.short]

    @property
    def unsellable_skus(self) -> list[str]:
        return [line.sku for line in self.lines if not line.sellable]

    @property
    def applied_voucher(self) -> Voucher | None:
        return self.voucher if self.voucher and not self.voucher_problem else None


def ppn_included(total: int, rate_percent: int) -> int:
    """The VAT inside a tax-inclusive price: total x rate / (100 + rate), rounded half up to whole Rupiah."""
    return (total * rate_percent * 2 + (100 + rate_percent)) // ((100 + rate_percent) * 2)


def price(lines: list[PricedLine], *, voucher: Voucher | None, ppn_rate_percent: int, now_iso: str) -> PricedCart:
    """Price sellable lines; a voucher that no longer applies stays on the cart but takes nothing off."""
    counted = [line for line in lines if line.sellable]
    subtotal = sum(line.line_total for line in counted)
    voucher_problem = problem(voucher, subtotal=subtotal, now_iso=now_iso) if voucher else None
    off = discount(voucher, subtotal) if voucher and not voucher_problem else 0
    total = subtotal - off
    totals = Totals(
        subtotal=subtotal,
        discount=off,
        total=total,
        ppn_included=ppn_included(total, ppn_rate_percent),
        ppn_rate_percent=ppn_rate_percent,
        weight_grams=sum(line.weight_grams * line.quantity for line in counted),
    )
    return PricedCart(lines=lines, totals=totals, voucher=voucher, voucher_problem=voucher_problem)
