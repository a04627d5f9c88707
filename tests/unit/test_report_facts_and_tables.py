"""Report facts and tables in plain Python: what each timeline entry of an order adds to which business day's
rollups (reports/facts.py), and the periods and tables built from the rollups (reports/domain.py).

Orders are built directly and moved with `Order.apply`, so every timeline here is one the lifecycle allows.
Business days are Asia/Jakarta (UTC+7, no daylight saving): 17:00:00Z is midnight WIB.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from chalicelib.errors import ValidationFailed
from chalicelib.orders import lifecycle as lc
from chalicelib.orders.domain import Order, OrderLine, OrderTotals, TimelineEntry
from chalicelib.reports import domain
from chalicelib.reports.domain import Catalog, custom_period, percentile, period_of
from chalicelib.reports.facts import Facts, facts
from chalicelib.tallies.domain import Delta

PLACED_AT = "2026-12-01T03:00:00.000Z"  # 10:00 WIB, business day 2026-12-01
D1, D2, D3 = "2026-12-01", "2026-12-02", "2026-12-03"
SHIPPING = 18_000


def a_line(sku: str, unit_price: int, quantity: int, product_id: str = "p-1") -> OrderLine:
    return OrderLine(sku=sku, product_id=product_id, name=f"Kain {sku}", options={}, unit_price=unit_price,
                     quantity=quantity, line_total=unit_price * quantity, weight_grams=300 * quantity)


def an_order(method: str = "bank_transfer", *, lines: Iterable[OrderLine] | None = None, discount: int = 0,
             customer_id: str | None = "cust-1", channel: str | None = None, utm_source: str | None = None,
             at: str = PLACED_AT) -> Order:
    """A placed order (one timeline entry, no event): 2 x BTK-A at 200,000 and 1 x BTK-B at 100,000 unless told."""
    chosen = tuple(lines or (a_line("BTK-A", 200_000, 2), a_line("BTK-B", 100_000, 1, "p-2")))
    subtotal = sum(line.line_total for line in chosen)
    total = subtotal - discount + SHIPPING
    status = lc.INITIAL["cod" if method == "cod" else "prepaid"]
    return Order(
        order_id="TK-261201-ABCDEF", status=status, created_at=at, updated_at=at,
        customer={"name": "Sari", "email": "Sari@Example.com", "phone": "+6281234567890"}, customer_id=customer_id,
        shipping_address={"city": "Yogyakarta"}, shipping={"courier": "jne", "service": "reg", "price": SHIPPING},
        payment_method=method, lines=chosen,
        totals=OrderTotals(subtotal=subtotal, discount=discount, shipping=SHIPPING, total=total,
                           ppn_included=(subtotal - discount) * 11 // 111, ppn_rate_percent=11,
                           weight_grams=sum(line.weight_grams for line in chosen)),
        cart_id="c" * 32, access_token_hash="h", channel=channel, utm_source=utm_source,
        timeline=(TimelineEntry(at=at, status=status, note="order placed"),))


def then(order: Order, *steps: tuple[str, str] | tuple[str, str, dict[str, Any]]) -> Order:
    """Apply (event, at[, data]) steps through the lifecycle table; `ship` books a shipment costing 15,500."""
    for step in steps:
        event, at, *rest = step
        data = rest[0] if rest else None
        changes: dict[str, Any] = {}
        if event == lc.SHIP:
            changes["shipment"] = {"booking_id": "b-1", "price": 15_500}
        order = order.apply(event, at=at, data=data, **changes)
    return order


def delivered(method: str = "card", **options: Any) -> Order:
    """Paid (prepaid) or confirmed (COD) on D1, packed, shipped on D1, delivered on D2 and, COD, completed D2."""
    order = an_order(method, **options)
    if method != "cod":
        order = then(order, (lc.PAY, "2026-12-01T04:00:00.000Z"))
    order = then(order, (lc.COMMIT_STOCK, "2026-12-01T04:00:01.000Z"), (lc.PACK, "2026-12-01T09:30:00.000Z"),
                 (lc.SHIP, "2026-12-01T11:00:00.000Z"), (lc.PICK_UP, "2026-12-01T12:00:00.000Z"),
                 (lc.DELIVER, "2026-12-02T05:00:00.000Z"))
    return then(order, (lc.COMPLETE, "2026-12-02T06:00:00.000Z"))


def rollup(deltas: Iterable[Delta]) -> dict[tuple[str, str], Counter[str]]:
    """Deltas summed per (day, key), zero counters dropped: what the rollups table would hold."""
    found: dict[tuple[str, str], Counter[str]] = {}
    for delta in deltas:
        found.setdefault((delta.day, delta.key), Counter()).update(delta.counts)
    return {place: Counter({name: value for name, value in counts.items() if value})
            for place, counts in found.items()}


def counted(order: Order, first_purchase_day: str | None = None) -> dict[tuple[str, str], Counter[str]]:
    return rollup(facts(order, 0, first_purchase_day=first_purchase_day).deltas)


def on_day(found: dict[tuple[str, str], Counter[str]], day: str, key: str = "summary") -> Counter[str]:
    return found.get((day, key), Counter())


# ---- what counts as a sale, and on which day -------------------------------------------------------------------


def test_placing_an_order_counts_it_and_its_amount_on_the_placement_day_and_nothing_else() -> None:
    order = an_order("qris")
    found = counted(order)

    assert on_day(found, D1) == {"orders_placed": 1, "placed_amount": 518_000}
    assert on_day(found, D1, "method#qris") == {"placed_count": 1, "placed_amount": 518_000}
    assert set(found) == {(D1, "summary"), (D1, "method#qris")}


def test_a_prepaid_sale_counts_on_the_day_of_its_payment_not_of_its_placement() -> None:
    order = then(an_order("card", discount=50_000, channel="instagram", utm_source="ig-dec"),
                 (lc.PAY, "2026-12-01T18:00:00.000Z"))  # 01:00 WIB on 2 December
    found = counted(order)
    total = 500_000 - 50_000 + SHIPPING

    assert on_day(found, D1) == {"orders_placed": 1, "placed_amount": total}
    assert on_day(found, D2) == {"orders_sold": 1, "units": 3, "gross": 500_000, "discount": 50_000,
                                 "shipping_charged": SHIPPING, "sales_total": total,
                                 "ppn": order.totals.ppn_included, "new_customers": 1}
    assert on_day(found, D2, "method#card") == {"paid_count": 1, "paid_amount": total}
    assert on_day(found, D2, "channel#instagram#ig-dec") == {"orders": 1, "sales_total": total}
    # the discount is shared by line totals: BTK-A holds 400,000 of 500,000, so 40,000 of the 50,000
    assert on_day(found, D2, "sku#BTK-A") == {"units": 2, "gross": 400_000, "net": 360_000}
    assert on_day(found, D2, "sku#BTK-B") == {"units": 1, "gross": 100_000, "net": 90_000}
    labels = {delta.key: delta.labels for delta in facts(order, 0, first_purchase_day=None).deltas if delta.labels}
    assert labels["sku#BTK-A"] == {"name": "Kain BTK-A", "product_id": "p-1"}
    assert labels["channel#instagram#ig-dec"] == {"channel": "instagram", "utm_source": "ig-dec"}


def test_an_order_without_channel_counts_as_direct() -> None:
    found = counted(then(an_order("card"), (lc.PAY, "2026-12-01T04:00:00.000Z")))
    assert on_day(found, D1, "channel#direct#-") == {"orders": 1, "sales_total": 518_000}


def test_a_cod_sale_counts_only_when_the_order_completes() -> None:
    order = delivered("cod")
    found = counted(order)
    sold_days = {day for (day, key), counts in found.items() if key == "summary" and counts["orders_sold"]}

    assert sold_days == {D2}
    assert on_day(found, D2)["sales_total"] == 518_000
    assert on_day(found, D2, "method#cod") == {"paid_count": 1, "paid_amount": 518_000}
    before_complete = rollup(facts(order, 0, len(order.timeline) - 1, first_purchase_day=None).deltas)
    assert all(not counts["orders_sold"] for counts in before_complete.values())
    assert on_day(before_complete, D2) == {"orders_delivered": 1}


def test_a_cod_parcel_refused_at_the_door_is_never_a_sale() -> None:
    order = then(an_order("cod"), (lc.COMMIT_STOCK, "2026-12-01T04:00:00.000Z"),
                 (lc.PACK, "2026-12-01T05:00:00.000Z"), (lc.SHIP, "2026-12-01T06:00:00.000Z"),
                 (lc.TRACK, "2026-12-02T03:00:00.000Z"), (lc.RETURN, "2026-12-02T04:00:00.000Z"))
    found = counted(order)

    assert order.status == lc.RETURNED
    assert not any(counts["orders_sold"] or counts["paid_amount"] or counts["sales_total"]
                   for counts in found.values())
    assert on_day(found, D2) == {"parcels_returned": 1}
    assert not any(key.startswith("sku#") for _, key in found)


def test_a_cod_parcel_refused_at_the_door_is_no_longer_waiting_for_payment() -> None:
    order = then(an_order("cod"), (lc.COMMIT_STOCK, "2026-12-01T04:00:00.000Z"),
                 (lc.PACK, "2026-12-01T05:00:00.000Z"), (lc.SHIP, "2026-12-01T06:00:00.000Z"),
                 (lc.RETURN, "2026-12-02T04:00:00.000Z"))
    rollups: dict[str, dict[str, dict[str, Any]]] = {}
    for (day, key), counts in counted(order).items():
        rollups.setdefault(day, {})[key] = dict(counts)

    (cod,) = domain.payment_methods_table(rollups, [D1, D2]).rows
    method, placed_count, placed, paid_count, paid, pending, _, _ = cod
    assert (method, placed_count, placed, paid_count, paid) == ("cod", 1, 518_000, 0, 0)
    assert pending == 0, "the parcel came back: this money will never be collected"


def test_a_paid_order_that_is_refunded_in_full_remains_a_sale_with_its_refund() -> None:
    order = then(an_order("ewallet"), (lc.PAY, "2026-12-01T04:00:00.000Z"),
                 (lc.REQUEST_CANCEL, "2026-12-01T05:00:00.000Z"), (lc.CANCEL, "2026-12-01T05:00:01.000Z"),
                 (lc.REFUND_IN_FULL, "2026-12-01T05:00:02.000Z", {"amount": 518_000, "refund_key": "refund-x"}))
    summary = on_day(counted(order), D1)
    assert (summary["orders_sold"], summary["sales_total"], summary["refunds"]) == (1, 518_000, 518_000)
    assert summary["orders_cancelled"] == 1 and summary["refund_count"] == 1


# ---- the business day of an entry: midnight WIB is 17:00Z ----------------------------------------------------


@pytest.mark.parametrize(("paid_at", "day"), [
    ("2026-12-01T16:59:59.000Z", D1),
    ("2026-12-01T16:59:59.999Z", D1),
    ("2026-12-01T17:00:00.000Z", D2),
    ("2026-12-01T17:00:00.001Z", D2),
    ("2026-11-30T17:00:00.000Z", D1),  # placed 10:00 WIB: this pay is earlier, but an entry's own time decides
])
def test_an_entry_counts_on_the_jakarta_day_of_its_own_time(paid_at: str, day: str) -> None:
    order = then(an_order("card"), (lc.PAY, paid_at))
    sold = {d for (d, key), counts in counted(order).items() if key == "summary" and counts["orders_sold"]}
    assert sold == {day}


def test_an_order_placed_just_before_midnight_wib_and_paid_just_after_splits_over_two_days() -> None:
    order = then(an_order("qris", at="2026-12-01T16:59:30.000Z"), (lc.PAY, "2026-12-01T17:00:30.000Z"))
    found = counted(order)
    assert on_day(found, D1) == {"orders_placed": 1, "placed_amount": 518_000}
    assert on_day(found, D2)["orders_sold"] == 1 and on_day(found, D2)["orders_placed"] == 0


# ---- refunds, cancellations, returns ---------------------------------------------------------------------------


def test_a_refund_counts_its_own_amount_on_its_own_day_never_on_the_sale_day() -> None:
    order = then(delivered("card"), (lc.REFUND, "2026-12-02T20:00:00.000Z", {"amount": 25_000, "refund_key": "k1"}),
                 (lc.REFUND, "2026-12-03T02:00:00.000Z", {"amount": 10_000, "refund_key": "k2"}))
    found = counted(order)

    assert on_day(found, D1)["orders_sold"] == 1 and on_day(found, D1)["refunds"] == 0
    assert on_day(found, D2)["refunds"] == 0
    assert (on_day(found, D3)["refunds"], on_day(found, D3)["refund_count"]) == (35_000, 2)
    assert on_day(found, D3, "method#card") == {"refunded_amount": 35_000}


def test_a_refund_entry_without_an_amount_counts_as_a_refund_of_nothing() -> None:
    order = then(delivered("card"), (lc.REFUND, "2026-12-03T02:00:00.000Z"))
    assert on_day(counted(order), D3) == {"refund_count": 1}


@pytest.mark.parametrize(("event", "counter"), [
    (lc.CANCEL, "orders_cancelled"), (lc.EXPIRE, "orders_expired"), (lc.FAIL_PAYMENT, "orders_failed")])
def test_an_unpaid_order_that_ends_takes_its_amount_out_of_pending(event: str, counter: str) -> None:
    order = an_order("bank_transfer")
    if event == lc.CANCEL:
        order = then(order, (lc.REQUEST_CANCEL, "2026-12-01T05:00:00.000Z"))
    order = then(order, (event, "2026-12-01T19:00:00.000Z"))
    found = counted(order)

    assert on_day(found, D2) == {counter: 1}
    assert on_day(found, D2, "method#bank_transfer") == {"ended_unpaid_amount": 518_000}
    assert not any(counts["orders_sold"] for counts in found.values())


def test_cancelling_a_paid_order_ends_it_but_takes_nothing_out_of_pending() -> None:
    order = then(an_order("bank_transfer"), (lc.PAY, "2026-12-01T04:00:00.000Z"),
                 (lc.COMMIT_STOCK, "2026-12-01T04:00:01.000Z"), (lc.REQUEST_CANCEL, "2026-12-01T19:00:00.000Z"),
                 (lc.CANCEL, "2026-12-01T19:00:01.000Z"))
    found = counted(order)

    assert on_day(found, D2) == {"orders_cancelled": 1}
    assert on_day(found, D2, "method#bank_transfer") == Counter()
    assert on_day(found, D1, "method#bank_transfer") == {"placed_count": 1, "placed_amount": 518_000,
                                                         "paid_count": 1, "paid_amount": 518_000}


def test_a_cancelled_cod_order_was_never_paid_so_its_amount_leaves_pending() -> None:
    order = then(an_order("cod"), (lc.REQUEST_CANCEL, "2026-12-01T05:00:00.000Z"),
                 (lc.CANCEL, "2026-12-01T05:00:01.000Z"))
    assert on_day(counted(order), D1, "method#cod") == {"placed_count": 1, "placed_amount": 518_000,
                                                        "ended_unpaid_amount": 518_000}


def test_returns_opened_count_by_reason_and_units_and_later_return_steps_count_nothing() -> None:
    order = then(delivered("card"),
                 (lc.NOTE_RETURN, "2026-12-02T07:00:00.000Z",
                  {"return": "opened", "return_id": "R1", "reason": "damaged", "units": {"BTK-A": 2, "BTK-B": 1}}),
                 (lc.NOTE_RETURN, "2026-12-02T08:00:00.000Z",
                  {"return": "approved", "return_id": "R1", "reason": "damaged", "units": {"BTK-A": 2, "BTK-B": 1}}),
                 (lc.NOTE_RETURN, "2026-12-02T18:00:00.000Z",
                  {"return": "opened", "return_id": "R2", "reason": "changed_mind", "units": {"BTK-A": 1}}),
                 (lc.NOTE_RETURN, "2026-12-02T18:30:00.000Z", {"return": "opened", "units": {"BTK-B": 1}}),
                 (lc.NOTE_RETURN, "2026-12-02T18:40:00.000Z"))  # a note without data: nothing
    found = counted(order)

    assert (on_day(found, D2)["returns_opened"], on_day(found, D2)["returned_units"]) == (1, 3)
    assert on_day(found, D2, "reason#damaged") == {"returns": 1, "units": 3}
    assert (on_day(found, D3)["returns_opened"], on_day(found, D3)["returned_units"]) == (2, 2)
    assert on_day(found, D3, "reason#changed_mind") == {"returns": 1, "units": 1}
    assert on_day(found, D3, "reason#other") == {"returns": 1, "units": 1}  # no reason given: "other"


# ---- fulfilment speed and shipping ---------------------------------------------------------------------------


def test_pack_ship_and_deliver_durations_land_in_whole_hour_buckets_on_the_day_each_stage_ended() -> None:
    order = then(an_order("card"), (lc.PAY, "2026-12-01T04:00:00.000Z"),
                 (lc.COMMIT_STOCK, "2026-12-01T04:00:01.000Z"),
                 (lc.PACK, "2026-12-01T09:59:59.000Z"),  # 5 h 59 min 59 s after payment: bucket h5
                 (lc.SHIP, "2026-12-01T10:00:00.000Z"),  # 1 s after packing: h0
                 (lc.DELIVER, "2026-12-03T10:00:00.000Z"))  # exactly 48 h after shipping: h48
    found = counted(order)

    assert on_day(found, D1, "kpi#paid_to_packed") == {"count": 1, "h5": 1}
    assert on_day(found, D1, "kpi#packed_to_shipped") == {"count": 1, "h0": 1}
    assert on_day(found, D3, "kpi#shipped_to_delivered") == {"count": 1, "h48": 1}
    assert on_day(found, D3)["orders_delivered"] == 1


def test_a_cod_order_is_timed_from_placement_and_very_slow_stages_share_the_last_bucket() -> None:
    order = then(an_order("cod"), (lc.COMMIT_STOCK, "2026-12-01T03:30:00.000Z"),
                 (lc.PACK, "2026-12-01T05:00:00.000Z"),  # 2 h after placement at 03:00Z
                 (lc.SHIP, "2026-12-01T06:00:00.000Z"), (lc.DELIVER, "2027-01-30T06:00:00.000Z"))
    found = counted(order)
    assert on_day(found, D1, "kpi#paid_to_packed") == {"count": 1, "h2": 1}
    assert on_day(found, "2027-01-30", "kpi#shipped_to_delivered") == {"count": 1, "h999": 1}


def test_shipping_counts_the_parcel_what_was_charged_and_what_the_courier_costs() -> None:
    order = delivered("card")
    deltas = facts(order, 0, first_purchase_day=None).deltas
    (ship,) = [delta for delta in deltas if delta.key.startswith("ship#")]

    assert (ship.day, ship.key) == (D1, "ship#jne#reg")
    assert ship.counts == {"parcels": 1, "charged": SHIPPING, "courier_cost": 15_500}
    assert ship.labels == {"courier": "jne", "service": "reg"}


def test_a_shipment_without_a_booked_price_costs_nothing_and_unknown_courier_is_a_dash() -> None:
    order = replace(then(an_order("card"), (lc.PAY, "2026-12-01T04:00:00.000Z"),
                         (lc.COMMIT_STOCK, "2026-12-01T04:00:01.000Z"), (lc.PACK, "2026-12-01T05:00:00.000Z")),
                    shipping={})
    order = order.apply(lc.SHIP, at="2026-12-01T06:00:00.000Z", shipment={"booking_id": "b-2"})
    assert on_day(counted(order), D1, "ship#-#-") == {"parcels": 1, "charged": SHIPPING}


# ---- first purchase: new or returning customer ---------------------------------------------------------------


def test_a_customer_never_seen_buying_is_new_and_the_sale_day_becomes_their_first_purchase_day() -> None:
    order = then(an_order("card"), (lc.PAY, "2026-12-01T18:00:00.000Z"))
    found = facts(order, 0, first_purchase_day=None)
    summary = rollup(found.deltas)[(D2, "summary")]
    assert found.first_purchase_day == D2
    assert (summary["new_customers"], summary["returning_customers"]) == (1, 0)


def test_a_customer_who_bought_before_is_returning_and_no_first_purchase_day_is_set() -> None:
    order = then(an_order("card"), (lc.PAY, "2026-12-01T18:00:00.000Z"))
    found = facts(order, 0, first_purchase_day="2026-10-05")
    summary = rollup(found.deltas)[(D2, "summary")]
    assert found.first_purchase_day is None
    assert (summary["new_customers"], summary["returning_customers"]) == (0, 1)


def test_entries_without_a_sale_set_no_first_purchase_day() -> None:
    order = then(an_order("bank_transfer"), (lc.EXPIRE, "2026-12-01T05:00:00.000Z"))
    assert facts(order, 0, first_purchase_day=None).first_purchase_day is None


# ---- counting in pieces changes nothing ----------------------------------------------------------------------


def long_history() -> Order:
    """A voucher order paid near midnight WIB, shipped, delivered, partly refunded, two returns, refunded again."""
    return then(
        an_order("card", discount=30_001, channel="tiktok", at="2026-12-01T16:59:30.000Z"),
        (lc.PAY, "2026-12-01T17:00:30.000Z"), (lc.COMMIT_STOCK, "2026-12-01T17:00:31.000Z"),
        (lc.PACK, "2026-12-02T02:00:00.000Z"), (lc.SHIP, "2026-12-02T03:00:00.000Z"),
        (lc.PICK_UP, "2026-12-02T04:00:00.000Z"), (lc.TRACK, "2026-12-02T09:00:00.000Z"),
        (lc.DELIVER, "2026-12-02T16:59:59.000Z"),
        (lc.REFUND, "2026-12-02T17:00:00.000Z", {"amount": 20_000, "refund_key": "manual-a"}),
        (lc.NOTE_RETURN, "2026-12-03T01:00:00.000Z",
         {"return": "opened", "return_id": "R1", "reason": "damaged", "units": {"BTK-A": 1}}),
        (lc.NOTE_RETURN, "2026-12-03T02:00:00.000Z",
         {"return": "approved", "return_id": "R1", "reason": "damaged", "units": {"BTK-A": 1}}),
        (lc.REFUND, "2026-12-03T03:00:00.000Z", {"amount": 194_000, "refund_key": "refund-R1"}),
        (lc.NOTE_RETURN, "2026-12-03T04:00:00.000Z",
         {"return": "opened", "return_id": "R2", "reason": "changed_mind", "units": {"BTK-B": 1}}),
        (lc.REFUND_IN_FULL, "2026-12-03T05:00:00.000Z", {"amount": 273_999, "refund_key": "refund-R2"}))


@pytest.mark.parametrize("known_first", [None, "2026-11-01"])
def test_counting_the_timeline_in_two_pieces_gives_the_same_totals_as_counting_it_at_once(
        known_first: str | None) -> None:
    order = long_history()
    size = len(order.timeline)
    whole = facts(order, 0, first_purchase_day=known_first)

    for cut in range(size + 1):
        head = facts(order, 0, cut, first_purchase_day=known_first)
        tail = facts(order, cut, first_purchase_day=known_first or head.first_purchase_day)
        assert rollup(head.deltas + tail.deltas) == rollup(whole.deltas), f"cut at {cut}"
        assert (head.first_purchase_day or tail.first_purchase_day) == whole.first_purchase_day, f"cut at {cut}"


def test_counting_one_entry_at_a_time_gives_the_same_totals_and_labels() -> None:
    order = long_history()
    pieces: list[Delta] = []
    first: str | None = None
    for index in range(len(order.timeline)):
        piece: Facts = facts(order, index, index + 1, first_purchase_day=first)
        first = first or piece.first_purchase_day
        pieces += piece.deltas
    whole = facts(order, 0, first_purchase_day=None).deltas

    def labels(deltas: list[Delta]) -> dict[tuple[str, str], dict[str, str]]:
        found: dict[tuple[str, str], dict[str, str]] = {}
        for delta in deltas:
            found.setdefault((delta.day, delta.key), {}).update(delta.labels)
        return found

    assert rollup(pieces) == rollup(whole) and labels(pieces) == labels(whole)
    summary = {day: on_day(rollup(whole), day) for day in (D1, D2, D3)}
    assert summary[D1] == {"orders_placed": 1, "placed_amount": 518_000 - 30_001}
    assert summary[D2]["orders_sold"] == 1 and summary[D2]["orders_delivered"] == 1
    assert summary[D3]["refunds"] == 20_000 + 194_000 + 273_999 and summary[D3]["returns_opened"] == 2
    # everything paid went back, in three refunds on the day after delivery (midnight WIB at 17:00:00Z)
    assert sum(on_day(rollup(whole), day)["refunds"] for day in (D1, D2, D3)) == 518_000 - 30_001


def test_an_empty_range_counts_nothing() -> None:
    order = long_history()
    assert facts(order, 3, 3, first_purchase_day=None) == Facts()
    assert facts(order, len(order.timeline), first_purchase_day=None) == Facts()


# ---- domain: percentiles -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("histogram", "median", "p90"), [
    ({"count": 3, "h1": 1, "h3": 1, "h10": 1}, 3, 10),
    ({"h2": 9, "h40": 1}, 2, 2),  # the 9th of 10 durations is still 2 h
    ({"h2": 8, "h40": 2}, 2, 40),
    ({"h24": 1}, 24, 24),
    ({"h0": 5, "h1": 5}, 0, 1),
    ({"h12": 2, "h3": 2, "count": 4}, 3, 12),  # buckets are ordered by hours, not by name
])
def test_percentile_is_the_whole_hour_bucket_holding_that_share_of_the_durations(
        histogram: dict[str, int], median: int, p90: int) -> None:
    assert (percentile(histogram, 0.5), percentile(histogram, 0.9)) == (median, p90)


@pytest.mark.parametrize("histogram", [{}, {"count": 0}, {"h3": 0}, {"count": 5, "label_x": 2}])
def test_percentile_of_no_durations_is_none(histogram: dict[str, int]) -> None:
    assert percentile(histogram, 0.5) is None and percentile(histogram, 0.9) is None


# ---- domain: periods -------------------------------------------------------------------------------------------


def test_a_daily_period_is_that_day() -> None:
    period = period_of(domain.DAILY, date(2026, 12, 1))
    assert (period.first, period.last, period.days) == (date(2026, 12, 1), date(2026, 12, 1), [D1])
    assert (period.report_id, period.prefix) == ("daily-2026-12-01", "reports/daily/2026/12/01/")


@pytest.mark.parametrize("any_day", [date(2026, 11, 30), date(2026, 12, 2), date(2026, 12, 6)])
def test_a_weekly_period_runs_monday_to_sunday(any_day: date) -> None:
    period = period_of(domain.WEEKLY, any_day)
    assert (period.first, period.last) == (date(2026, 11, 30), date(2026, 12, 6))
    assert period.first.weekday() == 0 and len(period.days) == 7
    assert (period.report_id, period.prefix) == ("weekly-2026-11-30", "reports/weekly/2026/11/30/")


def test_a_week_may_span_two_years() -> None:
    period = period_of(domain.WEEKLY, date(2027, 1, 1))
    assert (period.first, period.last) == (date(2026, 12, 28), date(2027, 1, 3))


@pytest.mark.parametrize(("any_day", "first", "last"), [
    (date(2026, 2, 14), date(2026, 2, 1), date(2026, 2, 28)),
    (date(2028, 2, 29), date(2028, 2, 1), date(2028, 2, 29)),  # a leap year
    (date(2026, 12, 31), date(2026, 12, 1), date(2026, 12, 31)),
    (date(2026, 12, 1), date(2026, 12, 1), date(2026, 12, 31)),
    (date(2026, 1, 31), date(2026, 1, 1), date(2026, 1, 31)),
    (date(2026, 4, 30), date(2026, 4, 1), date(2026, 4, 30)),
])
def test_a_monthly_period_is_the_calendar_month(any_day: date, first: date, last: date) -> None:
    period = period_of(domain.MONTHLY, any_day)
    assert (period.first, period.last) == (first, last)
    assert len(period.days) == (last - first).days + 1 and period.days[-1] == last.isoformat()
    assert period.report_id == f"monthly-{first.isoformat()}"
    assert period.prefix == f"reports/monthly/{first:%Y}/{first:%m}/"


def test_a_custom_period_names_both_ends_and_needs_its_last_day() -> None:
    period = period_of(domain.CUSTOM, date(2026, 12, 1), date(2026, 12, 3))
    assert period.days == [D1, D2, D3]
    assert (period.report_id, period.prefix) == ("custom-2026-12-01-2026-12-03",
                                                 "reports/custom/2026-12-01_2026-12-03/")
    with pytest.raises(ValueError):
        period_of(domain.CUSTOM, date(2026, 12, 1))


TODAY = date(2026, 12, 1)


def test_finances_custom_range_is_accepted_up_to_today_and_a_year_long() -> None:
    assert custom_period("2026-12-01", "2026-12-01", today=TODAY).days == [D1]
    longest = custom_period("2025-12-01", "2026-12-01", today=TODAY)  # 366 days: 2025-12-01 .. 2026-12-01
    assert len(longest.days) == 366 and longest.kind == domain.CUSTOM


@pytest.mark.parametrize(("date_from", "date_to", "field", "words"), [
    ("2026-11-30", "2026-11-29", "to", "before from"),
    ("2026-11-30", "2026-12-02", "to", "after today"),
    ("2025-11-30", "2026-12-01", "to", "at most 366 days"),
    ("2026-02-30", "2026-03-01", "from", "not a date"),
    ("2026-11-01", "2026-11-31", "to", "not a date"),
    ("yesterday", "2026-11-01", "from", "YYYY-MM-DD"),
    ("2026-1-01", "2026-11-01", "from", "YYYY-MM-DD"),
    ("2026-11-01", "", "to", "YYYY-MM-DD"),
    ("2026-11-01T00:00", "2026-11-02", "from", "YYYY-MM-DD"),
])
def test_a_bad_custom_range_is_refused_naming_the_field(date_from: str, date_to: str, field: str,
                                                         words: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        custom_period(date_from, date_to, today=TODAY)
    assert refused.value.field == field and words in refused.value.message


# ---- domain: tables --------------------------------------------------------------------------------------------


def summary_of(rollups: dict[str, Any], days: list[str]) -> dict[str, Any]:
    table = domain.summary_table(rollups, days)
    assert [column.key for column in table.columns] == ["metric", "label", "value"]
    return {row[0]: row[2] for row in table.rows}


def test_the_summary_adds_the_days_and_nets_refunds_off_the_sales_total() -> None:
    rollups = {
        D1: {"summary": {"orders_placed": 6, "orders_sold": 3, "units": 5, "gross": 700_000, "discount": 20_000,
                         "shipping_charged": 36_000, "sales_total": 716_000, "refunds": 0, "orders_cancelled": 1,
                         "ppn": 67_387}},
        D2: {"summary": {"orders_placed": 4, "orders_sold": 1, "units": 1, "gross": 100_000,
                         "shipping_charged": 18_000, "sales_total": 118_000, "refunds": 150_000,
                         "orders_expired": 1, "orders_cancelled": 1}},
        D3: {"summary": {"orders_placed": 99}},  # outside the days asked for
    }
    summary = summary_of(rollups, [D1, D2])

    assert summary["orders_placed"] == 10 and summary["orders_sold"] == 4 and summary["units"] == 6
    assert (summary["gross_sales"], summary["discounts"], summary["shipping_charged"]) == (800_000, 20_000, 54_000)
    assert (summary["sales_total"], summary["refunds"], summary["net_sales"]) == (834_000, -150_000, 684_000)
    assert summary["average_order_value"] == 834_000 // 4
    assert (summary["cancellation_rate"], summary["expiry_rate"]) == (20.0, 10.0)
    assert summary["ppn_included"] == 67_387


def test_the_summary_of_a_quiet_period_is_zeros_and_no_rates() -> None:
    summary = summary_of({}, [D1])
    assert summary["net_sales"] == 0 and summary["average_order_value"] == 0 and summary["refunds"] == 0
    assert summary["cancellation_rate"] is None and summary["expiry_rate"] is None


def test_net_sales_may_be_negative_on_a_day_of_refunds_only() -> None:
    summary = summary_of({D3: {"summary": {"refunds": 50_000, "refund_count": 1}}}, [D3])
    assert (summary["sales_total"], summary["refunds"], summary["net_sales"]) == (0, -50_000, -50_000)


def test_rates_are_percent_with_one_decimal() -> None:
    summary = summary_of({D1: {"summary": {"orders_placed": 3, "orders_cancelled": 1, "orders_expired": 2}}}, [D1])
    assert (summary["cancellation_rate"], summary["expiry_rate"]) == (33.3, 66.7)


TABLE_NAMES = ["summary", "sales_by_day", "sales_by_product", "sales_by_category", "payment_methods", "channels",
               "conversion", "retention", "shipping", "fulfilment", "returns", "inventory", "ratings",
               "customer_service", "loyalty"]


def test_build_tables_gives_the_fifteen_tables_in_order_from_counted_facts() -> None:
    order = long_history()
    rollups: dict[str, dict[str, dict[str, Any]]] = {}
    for delta in facts(order, 0, first_purchase_day=None).deltas:
        item = rollups.setdefault(delta.day, {}).setdefault(delta.key, {})
        for name, value in delta.counts.items():
            item[name] = item.get(name, 0) + value
        item.update({f"label_{name}": text for name, text in delta.labels.items()})
    catalog = Catalog(products={"p-1": {"name": "Batik Tulis", "category": "Batik"},
                                "p-2": {"name": "Selendang", "category": "Aksesoris"}},
                      stock=({"sku": "BTK-A", "name": "Batik Tulis", "on_hand": 4, "reserved": 1, "price": 200_000,
                              "low_stock": True},))
    days = [D1, D2, D3]

    tables = domain.build_tables(rollups, days, catalog)
    by_name = {table.name: table for table in tables}

    assert [table.name for table in tables] == TABLE_NAMES
    for table in tables:
        assert all(len(row) == len(table.columns) for row in table.rows), table.name
    total = 518_000 - 30_001
    refunds = 20_000 + 194_000 + 273_999
    assert [row[0] for row in by_name["sales_by_day"].rows] == days
    assert [row[-1] for row in by_name["sales_by_day"].rows] == [0, total, -refunds]
    assert summary_of(rollups, days)["net_sales"] == total - refunds
    products = {row[0]: row for row in by_name["sales_by_product"].rows}
    assert products["BTK-A"][1:7] == ("p-1", "Batik Tulis", "Batik", 2, 400_000, 400_000 - 24_001)
    assert by_name["sales_by_category"].rows == (("Batik", 2, 400_000, 375_999), ("Aksesoris", 1, 100_000, 94_000))
    (card,) = by_name["payment_methods"].rows
    assert card == ("card", 1, total, 1, total, 0, 0, refunds)
    assert by_name["channels"].rows == (("tiktok", "-", 1, total, 100.0),)
    assert dict((row[0], row[1]) for row in by_name["retention"].rows)["new_customers"] == 1
    assert by_name["shipping"].rows == (("jne", "reg", 1, SHIPPING, 15_500, SHIPPING - 15_500),)
    assert [row[:2] for row in by_name["fulfilment"].rows] == [("paid_to_packed", 1), ("packed_to_shipped", 1),
                                                               ("shipped_to_delivered", 1)]
    returns = {row[0]: row[1:] for row in by_name["returns"].rows}
    assert returns["all"] == (2, 2, 200.0) and returns["damaged"] == (1, 1, 50.0)
    assert by_name["inventory"].rows == (("BTK-A", "Batik Tulis", 4, 1, 200_000, 800_000, "ya"),)
