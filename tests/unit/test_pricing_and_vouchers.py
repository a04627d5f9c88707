"""Cart pricing and voucher rules, with no AWS at all."""

from __future__ import annotations

import pytest

from chalicelib.cart.domain import PricedLine, ppn_included, price
from chalicelib.validation import Fields
from chalicelib.vouchers.domain import FIXED, PERCENT, Voucher, discount, parse_voucher, problem

NOW = "2026-11-23T03:00:00.000Z"


def line(sku: str = "BTK-1", unit_price: int = 100_000, quantity: int = 1, available: int = 10,
         sellable: bool = True, weight: int = 250) -> PricedLine:
    return PricedLine(sku=sku, product_id="prd_1", name="Batik", options={}, unit_price=unit_price,
                      quantity=quantity, weight_grams=weight, available=available, sellable=sellable)


def test_ppn_is_the_tax_inside_a_tax_inclusive_price() -> None:
    # GIVEN prices that include 11% PPN WHEN extracting the tax THEN it is total*11/111 rounded half up
    assert ppn_included(111_000, 11) == 11_000
    assert ppn_included(900_000, 11) == 89_189  # 89189.19
    assert ppn_included(100_000, 12) == 10_714  # 10714.28
    assert ppn_included(0, 11) == 0


def test_cart_totals_add_lines_and_weights_and_flag_short_stock() -> None:
    priced = price([line("A", 150_000, 2, available=1), line("B", 50_000, 1)], voucher=None,
                   ppn_rate_percent=11, now_iso=NOW)
    assert priced.totals.subtotal == 350_000
    assert priced.totals.total == 350_000
    assert priced.totals.weight_grams == 750
    assert priced.short_skus == ["A"]


def test_unsellable_lines_are_shown_but_not_charged() -> None:
    priced = price([line("A", 150_000), line("GONE", 99_000, sellable=False)], voucher=None, ppn_rate_percent=11,
                   now_iso=NOW)
    assert priced.totals.subtotal == 150_000
    assert priced.unsellable_skus == ["GONE"]


def test_percent_voucher_is_capped_by_its_max_discount() -> None:
    voucher = Voucher(code="JOGJA10", kind=PERCENT, value=10, min_spend=200_000, max_discount=50_000)
    assert discount(voucher, 300_000) == 30_000
    assert discount(voucher, 900_000) == 50_000


def test_fixed_voucher_never_takes_more_than_the_subtotal() -> None:
    assert discount(Voucher(code="HEMAT25K", kind=FIXED, value=25_000), 20_000) == 20_000


@pytest.mark.parametrize(
    ("voucher", "subtotal", "expected"),
    [
        (Voucher(code="MIN", kind=FIXED, value=10_000, min_spend=200_000), 199_999, "minimum spend is Rp200.000"),
        (Voucher(code="OLD", kind=FIXED, value=10_000, valid_until="2026-01-01T00:00:00Z"), 500_000,
         "voucher has expired"),
        (Voucher(code="SOON", kind=FIXED, value=10_000, valid_from="2027-01-01T00:00:00Z"), 500_000,
         "voucher is valid from 2027-01-01T00:00:00Z"),
        (Voucher(code="USED", kind=FIXED, value=10_000, usage_limit=3, used=3), 500_000,
         "voucher has been fully used"),
        (Voucher(code="OFF", kind=FIXED, value=10_000, active=False), 500_000, "voucher is no longer active"),
        (Voucher(code="OK", kind=FIXED, value=10_000, min_spend=200_000), 200_000, None),
    ],
)
def test_voucher_applies_only_within_its_rules(voucher: Voucher, subtotal: int, expected: str | None) -> None:
    assert problem(voucher, subtotal=subtotal, now_iso=NOW) == expected


def test_a_voucher_that_stops_applying_stays_on_the_cart_but_takes_nothing_off() -> None:
    voucher = Voucher(code="JOGJA10", kind=PERCENT, value=10, min_spend=200_000)
    priced = price([line("A", 150_000)], voucher=voucher, ppn_rate_percent=11, now_iso=NOW)
    assert priced.totals.discount == 0
    assert priced.voucher_problem == "minimum spend is Rp200.000"
    assert priced.applied_voucher is None


def test_discount_reduces_the_total_and_the_ppn_inside_it() -> None:
    voucher = Voucher(code="JOGJA10", kind=PERCENT, value=10, min_spend=0)
    priced = price([line("A", 111_000)], voucher=voucher, ppn_rate_percent=11, now_iso=NOW)
    assert priced.totals.discount == 11_100
    assert priced.totals.total == 99_900
    assert priced.totals.ppn_included == ppn_included(99_900, 11)


def test_a_new_vouchers_window_is_stored_as_the_clock_writes_times_so_it_compares_as_text() -> None:
    # GIVEN a window sent to the second WHEN parsed THEN it is kept with milliseconds, like every other time
    voucher = parse_voucher(Fields({"code": "jogja10", "kind": PERCENT, "value": 10,
                                    "valid_from": "2026-11-23T03:00:00Z", "valid_until": "2026-12-01T00:00:00.5Z"}))
    assert voucher.code == "JOGJA10"
    assert (voucher.valid_from, voucher.valid_until) == ("2026-11-23T03:00:00.000Z", "2026-12-01T00:00:00.500Z")
    # AND the voucher applies from the very moment it opens (text comparison with the clock's own format)
    assert problem(voucher, subtotal=100_000, now_iso=NOW) is None


def test_a_vouchers_window_keeps_every_digit_of_an_early_year() -> None:
    voucher = parse_voucher(Fields({"code": "OLD", "kind": PERCENT, "value": 10, "valid_from": "0028-02-05T05:38:25Z"}))
    assert voucher.valid_from == "0028-02-05T05:38:25.000Z"
