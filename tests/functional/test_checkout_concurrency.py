"""Stock is never sold twice: many shoppers race for the last units of one SKU."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib.cart import service as carts
from chalicelib.catalog import service as catalog
from chalicelib.checkout.domain import CheckoutRequest
from chalicelib.checkout.service import place_order
from chalicelib.errors import Conflict
from chalicelib.inventory import repository as stock
from chalicelib.orders.repository import OrderModel
from chalicelib.validation import Fields

SHOPPERS = 50
UNITS = 7


def checkout_request(cart_id: str) -> CheckoutRequest:
    return CheckoutRequest(
        cart_id=cart_id,
        customer={"name": "Sari", "email": "sari@example.com", "phone": "+6281234567890"},
        shipping_address={"recipient": "Sari", "phone": "+6281234567890", "street": "Jl. Malioboro 1",
                          "city": "Yogyakarta", "province": "DI Yogyakarta", "postal_code": "55213", "notes": ""},
        courier="JNE", service="REG", payment_method="qris", channel=None,
    )


def test_fifty_concurrent_checkouts_for_seven_units_sell_exactly_seven(aws: Any, atomic_requests: None) -> None:
    # GIVEN a SKU with 7 available and 50 shoppers, each with that SKU in their own cart
    catalog.create_product(Fields({
        "name": "Topeng Kayu Panji", "category": "Kerajinan Kayu", "status": "active",
        "variants": [{"sku": "TPG-PANJI", "price": 300_000, "weight_grams": 800}],
        "initial_stock": {"TPG-PANJI": UNITS}, "low_stock_threshold": 2,
    }), actor="staff-1")
    cart_ids = []
    for _ in range(SHOPPERS):
        cart_id = carts.create(None)["cart_id"]
        carts.set_quantity(cart_id, "TPG-PANJI", 1, None)
        cart_ids.append(cart_id)

    # WHEN all of them check out at the same time
    def attempt(index: int) -> str:
        try:
            place_order(checkout_request(cart_ids[index]), None, idempotency_key=f"race-key-{index:04d}")
            return "sold"
        except Conflict as refused:
            return refused.code

    with ThreadPoolExecutor(max_workers=SHOPPERS) as pool:
        outcomes = list(pool.map(attempt, range(SHOPPERS)))

    # THEN exactly 7 orders exist, everyone else was told the stock ran out
    assert outcomes.count("sold") == UNITS
    assert set(outcomes) == {"sold", "insufficient_stock"}
    assert OrderModel.count() == UNITS
    level = stock.read_level("TPG-PANJI")
    assert (level.on_hand, level.reserved, level.available) == (UNITS, UNITS, 0)
    # AND the ledger adds up: opening stock plus one reservation per order, each recording its result
    ledger = stock.ledger("TPG-PANJI", limit=100)
    reservations = [row for row in ledger if row["kind"] == "reserve"]
    assert len(reservations) == UNITS
    assert sum(row["delta_on_hand"] for row in ledger) == level.on_hand
    assert sum(row["delta_reserved"] for row in ledger) == level.reserved
    assert sorted(row["reserved_after"] for row in reservations) == list(range(1, UNITS + 1))
    assert len({row["reference"] for row in reservations}) == UNITS
