"""Catalog validation and browsing, checkout totals and order visibility, with no AWS at all."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from chalicelib.cart.domain import PricedLine, price
from chalicelib.catalog.domain import Browse, Product, Variant, page, parse_new_product
from chalicelib.checkout.domain import CheckoutRequest, build_order, new_order_id
from chalicelib.errors import ValidationFailed
from chalicelib.orders.domain import may_view, new_access_token
from chalicelib.orders.lifecycle import CONFIRMED, PENDING_PAYMENT
from chalicelib.validation import Fields


def product(pid: str, name: str, prices: list[int], created: str, category: str = "Batik") -> Product:
    variants = tuple(Variant(sku=f"{pid}-{i}", price=p, weight_grams=100) for i, p in enumerate(prices))
    return Product(product_id=pid, name=name, description="", category=category, status="active",
                   variants=variants, created_at=created)


CATALOG = [
    product("a", "Batik Tulis Parang", [450_000, 500_000], "2026-11-01"),
    product("b", "Keranjang Rotan", [85_000], "2026-11-03", "Anyaman"),
    product("c", "Batik Cap Kawung", [150_000], "2026-11-02"),
    product("d", "Topeng Kayu Panji", [300_000], "2026-11-04", "Kerajinan Kayu"),
]


def test_text_search_matches_every_term_ignoring_case() -> None:
    rows, _ = page(CATALOG, Browse(q="BATIK parang"))
    assert [p.product_id for p in rows] == ["a"]


def test_price_filter_keeps_products_with_any_variant_in_range() -> None:
    rows, _ = page(CATALOG, Browse(min_price=480_000, sort="price_asc"))
    assert [p.product_id for p in rows] == ["a"]
    rows, _ = page(CATALOG, Browse(max_price=150_000, sort="price_asc"))
    assert [p.product_id for p in rows] == ["b", "c"]


def test_category_filter_uses_the_slug() -> None:
    rows, _ = page(CATALOG, Browse(category="kerajinan-kayu"))
    assert [p.product_id for p in rows] == ["d"]


def test_cursor_pages_walk_the_whole_sorted_list_without_repeats() -> None:
    seen, cursor = [], None
    while True:
        rows, cursor = page(CATALOG, Browse(sort="price_desc", limit=3, cursor=cursor))
        seen += [p.product_id for p in rows]
        if not cursor:
            break
    assert seen == ["a", "d", "c", "b"]
    newest, _ = page(CATALOG, Browse(sort="newest"))
    assert [p.product_id for p in newest] == ["d", "b", "c", "a"]


def test_a_cursor_from_another_sort_or_garbage_is_refused() -> None:
    _, cursor = page(CATALOG, Browse(sort="price_asc", limit=1))
    with pytest.raises(ValidationFailed):
        page(CATALOG, Browse(sort="newest", cursor=cursor))
    with pytest.raises(ValidationFailed):
        page(CATALOG, Browse(cursor="!!not-a-cursor"))


@pytest.mark.parametrize(
    ("variant", "field"),
    [
        ({"sku": "A-1", "price": "450000", "weight_grams": 100}, "variants[0].price"),
        ({"sku": "A-1", "price": 1.5, "weight_grams": 100}, "variants[0].price"),
        ({"sku": "A-1", "price": True, "weight_grams": 100}, "variants[0].price"),
        ({"sku": "A-1", "price": 0, "weight_grams": 100}, "variants[0].price"),
        ({"sku": "A 1", "price": 1000, "weight_grams": 100}, "variants[0].sku"),
        ({"sku": "A-1", "price": 1000}, "variants[0].weight_grams"),
    ],
)
def test_invalid_variants_are_refused_naming_the_field(variant: dict, field: str) -> None:
    payload = {"name": "Batik", "category": "Batik", "variants": [variant]}
    with pytest.raises(ValidationFailed) as refused:
        parse_new_product(Fields(payload), product_id="p", now="now")
    assert refused.value.field == field


def request(payment_method: str = "bank_transfer") -> CheckoutRequest:
    return CheckoutRequest(cart_id="c" * 32, customer={"name": "Sari", "email": "s@x.id", "phone": "0812"},
                           shipping_address={"city": "Bandung"}, courier="JNE", service="REG",
                           payment_method=payment_method, channel=None)


def priced_cart():  # type: ignore[no-untyped-def]
    line = PricedLine(sku="A", product_id="p", name="Batik", options={}, unit_price=200_000, quantity=2,
                      weight_grams=300, available=5, sellable=True)
    return price([line], voucher=None, ppn_rate_percent=11, now_iso="2026-11-23T00:00:00Z")


def test_order_freezes_goods_and_shipping_into_its_total() -> None:
    now = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
    order = build_order(request(), priced_cart(), order_id="TK-1", customer_id=None,
                        shipping={"courier": "JNE", "service": "REG", "price": 18_000}, access_token_hash="h",
                        now=now, payment_window_seconds=3600)
    assert order.totals.subtotal == 400_000
    assert order.totals.shipping == 18_000
    assert order.totals.total == 418_000
    assert order.status == PENDING_PAYMENT
    assert order.payment_deadline == "2026-11-23T21:00:00.000Z"


def test_cash_on_delivery_orders_are_confirmed_without_a_payment_deadline() -> None:
    order = build_order(request("cod"), priced_cart(), order_id="TK-1", customer_id="cust-1",
                        shipping={"price": 18_000}, access_token_hash="h", now=datetime.now(UTC),
                        payment_window_seconds=3600)
    assert order.status == CONFIRMED
    assert order.payment_deadline is None


def test_order_ids_carry_the_jakarta_business_day() -> None:
    # 20:00 UTC on 23 November is already 24 November in Jakarta (UTC+7)
    assert re.fullmatch(r"TK-261124-[A-Z2-9]{6}", new_order_id(datetime(2026, 11, 23, 20, 0, tzinfo=UTC)))


def test_orders_are_visible_to_owner_staff_or_token_holder_only() -> None:
    token, token_hash = new_access_token()
    order = build_order(request(), priced_cart(), order_id="TK-1", customer_id="cust-1", shipping={"price": 0},
                        access_token_hash=token_hash, now=datetime.now(UTC), payment_window_seconds=3600)
    assert may_view(order, sub="cust-1", is_staff=False, access_token=None)
    assert may_view(order, sub="someone", is_staff=True, access_token=None)
    assert may_view(order, sub=None, is_staff=False, access_token=token)
    assert not may_view(order, sub="cust-2", is_staff=False, access_token=None)
    assert not may_view(order, sub=None, is_staff=False, access_token=token + "x")
