"""Section (e) of the bench: the generated month of orders, the in-memory tally that stands in for the collector,
the order versions the collector replay writes, the read units from answered calls, and what is printed."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import reduce
from typing import Any

import pytest

from bench import reports
from bench.journey import Assumptions, Prices
from bench.reports import BuildResult, CollectorResult, Tally
from bench.request_count import ApiCall, AwsRequests
from chalicelib import clock
from chalicelib.orders import lifecycle
from chalicelib.reports.facts import facts
from chalicelib.tallies.domain import Delta

START = datetime(2026, 10, 31, 17, 0, tzinfo=UTC)  # 1 November 2026, 00:00 in Jakarta
END = START + timedelta(days=30)
LATER = END + timedelta(days=60)  # every life over


def month(count: int = 400, *, until: datetime = LATER, seed: int = 7) -> list[Any]:
    return reports.generate_orders(count, start=START, end=END, until=until, seed=seed)


def test_lived_gives_what_order_apply_gives_event_by_event() -> None:
    rng = random.Random(3)
    variants = reports.catalog_variants()
    for index in range(300):
        placed = START + timedelta(minutes=7 * index)
        order = reports.new_order(rng, index, placed, variants, customers=50)
        events = reports.plan(rng, order, placed, index)
        for until in (LATER, placed + timedelta(hours=30)):
            kept = [(event, when, arguments) for event, when, arguments in events if when <= until]
            applied = reduce(lambda before, step: before.apply(step[0], at=clock.iso(step[1]), **step[2]), kept,
                             order)
            assert reports.lived(order, events, until) == applied


def test_timeline_times_are_written_as_the_clock_writes_them() -> None:
    rng = random.Random(5)
    for _ in range(1_000):
        moment = START + timedelta(seconds=rng.uniform(0, 90 * 86400))
        assert reports.iso_utc(moment) == clock.iso(moment)
    with pytest.raises(ValueError, match="not in UTC"):
        reports.iso_utc(START.astimezone(clock.JAKARTA))


def test_a_generated_month_is_a_mix_of_lives_cut_at_the_present() -> None:
    until = START + timedelta(days=20)
    orders = month(1_000, until=until)

    assert 0 < len(orders) < 1_000  # those placed after `until` do not exist yet
    assert all(START.isoformat() <= clock.parse_iso(order.created_at).isoformat() <= until.isoformat()
               for order in orders)
    assert all(entry.at <= clock.iso(until) for order in orders for entry in order.timeline)
    assert len({order.order_id for order in orders}) == len(orders)
    statuses = Counter(order.status for order in orders)
    assert {lifecycle.COMPLETED, lifecycle.EXPIRED, lifecycle.IN_TRANSIT} <= set(statuses)
    assert statuses[lifecycle.COMPLETED] > len(orders) / 2
    methods = Counter(order.payment_method for order in orders)
    assert set(methods) == {method for method, _ in reports.PAYMENT_MIX}


def test_the_same_seed_gives_the_same_month() -> None:
    assert month(50) == month(50)
    assert month(50) != month(50, seed=8)


def test_a_version_is_the_order_as_stored_after_that_many_entries() -> None:
    for order in month(200):
        whole = len(order.timeline)
        assert reports.version_at(order, whole) is order
        for entries in range(1, whole):
            version = reports.version_at(order, entries)
            assert version.timeline == order.timeline[:entries]
            assert (version.status, version.updated_at, version.version) == (
                order.timeline[entries - 1].status, order.timeline[entries - 1].at, entries)
            events = {entry.event for entry in version.timeline}
            assert (version.shipment is not None) == (lifecycle.SHIP in events)
            assert version.refunded_total == sum(int((entry.data or {}).get("amount", 0)) for entry in version.timeline
                                                 if entry.event in (lifecycle.REFUND, lifecycle.REFUND_IN_FULL))
            # what the collector counts of a version is what it counts of those entries of the whole order
            assert facts(version, 0, first_purchase_day=None) == facts(order, 0, entries, first_purchase_day=None)


def test_counting_an_order_in_pieces_adds_up_to_counting_it_at_once() -> None:
    orders = month(300)
    whole = reports.tally(orders)
    pieces = Tally()
    for order in orders:
        middle = len(order.timeline) // 2
        pieces.count(order, 0, middle)
        pieces.count(order, middle)

    assert pieces.entries == whole.entries == sum(len(order.timeline) for order in orders)
    assert {key: delta.counts for key, delta in pieces.items.items()} == \
        {key: delta.counts for key, delta in whole.items.items()}
    assert pieces.first_days == whole.first_days


def test_the_tally_counts_each_sale_and_each_customer_once() -> None:
    orders = month(500)
    counted = reports.tally(orders)
    days = {day for day, _ in counted.items}
    summary = [counted.day(day).get("summary", {}) for day in days]

    sold = sum(day.get("orders_sold", 0) for day in summary)
    assert sold == sum(1 for order in orders for entry in order.timeline
                       if (entry.event == lifecycle.PAY and order.payment_method != "cod")
                       or (entry.event == lifecycle.COMPLETE and order.payment_method == "cod"))
    assert sum(day.get("new_customers", 0) for day in summary) == len(counted.first_days)
    assert sum(day.get("new_customers", 0) + day.get("returning_customers", 0) for day in summary) == sold
    assert sum(day.get("orders_placed", 0) for day in summary) == len(orders)


def test_rollup_differences_name_the_counter_and_take_new_and_returning_customers_together() -> None:
    expected: dict[str, dict[str, Any]] = {"summary": {"orders_sold": 3, "new_customers": 2, "returning_customers": 1},
                                           "sku#A": {"units": 4, "label_name": "Batik"}}
    same: dict[str, dict[str, Any]] = {"summary": {"orders_sold": 3, "new_customers": 1, "returning_customers": 2},
                                       "sku#A": {"units": 4, "label_name": "Batik tulis"}}
    other: dict[str, dict[str, Any]] = {"summary": {"orders_sold": 2, "new_customers": 2, "returning_customers": 1},
                                        "sku#B": {"units": 1}}

    assert reports.rollup_differences(expected, same) == []
    assert reports.rollup_differences(expected, other) == [
        "sku#A.units: expected 4, collector wrote 0", "sku#B.units: expected 0, collector wrote 1",
        "summary.orders_sold: expected 3, collector wrote 2"]


def test_loaded_rollups_read_back_as_the_collectors_updates_leave_them(aws: Any) -> None:
    from chalicelib.tallies import service as rollups

    deltas = [Delta("2026-11-02", "summary", {"orders_sold": 2, "sales_total": 900_000}),
              Delta("2026-11-02", "sku#BTP00-M", {"units": 3, "gross": 1_350_000},
                    {"name": "Batik", "product_id": "p"}),
              Delta("2026-11-02", "kpi#paid_to_packed", {"count": 2, "h5": 1, "h30": 1})]
    counted = Tally()
    counted.add(deltas)
    reports._load_rollups(counted)
    rollups.add([Delta("2026-11-03", delta.key, delta.counts, delta.labels) for delta in deltas])

    loaded, updated = rollups.read_day("2026-11-02"), rollups.read_day("2026-11-03")
    assert loaded == updated == counted.day("2026-11-02")


def test_the_tail_is_what_changed_in_the_last_120_seconds_of_each_day() -> None:
    orders = month(2_000)
    days = sorted({clock.business_day(order.updated_at) for order in orders})
    marks, tail = reports.tail_of(orders, days)

    for day in days:
        last = max(order.updated_at for order in orders if clock.business_day(order.updated_at) == day)
        assert marks[day] == clock.iso(clock.parse_iso(last) - timedelta(seconds=120))
    assert {order.order_id for order in tail} == {
        order.order_id for order in orders if order.updated_at > marks[clock.business_day(order.updated_at)]}
    assert 0 < len(tail) < len(orders) / 10


def call(operation: str, sizes: list[int] | None = None, **params: Any) -> ApiCall:
    answered = ApiCall("dynamodb", operation, params)
    if sizes is not None:
        answered.answer["sizes"] = sizes
    return answered


def test_read_units_follow_the_sizes_the_reads_returned() -> None:
    assert reports.read_units([call("GetItem", [5_000], ConsistentRead=True)]) == 2  # two started 4 KB
    assert reports.read_units([call("GetItem", [], ConsistentRead=True)]) == 1  # nothing found still costs
    assert reports.read_units([call("Query", [3_000] * 4)]) == 1.5  # 12 KB together, eventually consistent
    assert reports.read_units([call("Query", [])]) == 0.5
    assert reports.read_units([call("BatchGetItem", [100, 9_000], RequestItems={"t": {"ConsistentRead": True}})]) == 4
    assert reports.read_units([call("Query", None), call("PutItem", None)]) == 0.5  # unnoted: one item, as (c)
    assert reports.write_units([call("TransactWriteItems", None, TransactItems=[{}, {}, {}])]) == 6


def test_rollup_cost_per_thousand_orders_at_todays_dynamodb_prices() -> None:
    cost = reports.rollup_cost_per_thousand({"wru": 40.0, "rru": 20.0}, Prices())
    assert cost["writes"] == pytest.approx(40_000 * 0.625 / 1e6)
    assert cost["reads"] == pytest.approx(20_000 * 0.125 / 1e6)
    assert cost["total"] == pytest.approx(0.0275)


def test_the_replay_window_holds_about_the_same_entries_whatever_the_rate() -> None:
    first = datetime(2026, 11, 1).date()
    busy, busy_minutes = reports.replay_window(100_000, first)
    quiet, quiet_minutes = reports.replay_window(10_000, first)

    assert busy == quiet == datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 10:00 in Jakarta on the 20th
    assert busy_minutes % 5 == quiet_minutes % 5 == 0
    assert quiet_minutes == pytest.approx(10 * busy_minutes, rel=0.35)


def _requests(*calls: ApiCall) -> AwsRequests:
    requests = AwsRequests()
    for one in calls:
        requests[f"{one.service}:{one.operation}"] += 1
        requests.calls.append(one)
    return requests


def _build(orders: int, *, seconds: float, collect: float, peak: int, collect_peak: int) -> BuildResult:
    requests = _requests(call("Query", [2_000] * 50, ConsistentRead=True, TableName="tokoflow-dev-report-rollups"),
                         ApiCall("s3", "PutObject", {"Body": b"x" * 3_000}))
    return BuildResult(orders=orders, entries=orders * 9, month="2026-11", days=30, rollup_items=1_650,
                       items_read=1_680, bytes_read=100_000, reread_orders=orders // 600, setup_seconds=1.0,
                       first_build_seconds=seconds + 0.5, build_seconds=[seconds, seconds + 0.1, seconds - 0.1],
                       peak_bytes=peak, requests=requests, first_requests=requests, s3_bytes=3_000, files=14,
                       facts_counted=0, moto_seconds=seconds * 0.8, collect_seconds=collect, refused_watermarks=30,
                       collect_peak_bytes=collect_peak, unlike=[])


def _collector(per_month: int) -> CollectorResult:
    run = _requests(call("Query", [3_000, 3_000]), call("BatchGetItem", [30, 30], RequestItems={
        "t": {"Keys": [{"pk": {"S": "order#1"}}, {"pk": {"S": "customer#a"}}], "ConsistentRead": True}}),
        call("TransactWriteItems", None, TransactItems=[{}, {}, {}]))
    idle = _requests(call("GetItem", [], ConsistentRead=True), call("Query", []))
    return CollectorResult(orders_per_month=per_month, window_start="2026-11-20T03:00:00.000Z", window_minutes=30,
                           runs=1, entries=9, entries_per_order=9.0, changed_orders=1, requests=run, idle=idle,
                           differences=[], missed=0, seconds=1.0)


def test_per_order_figures_leave_out_what_idle_runs_cost() -> None:
    per = _collector(10_000).per_order()

    assert per["requests"] == 3 - 2
    assert (per["progress_keys"], per["customer_keys"], per["transaction_items"]) == (1, 1, 3)
    assert per["wru"] == 6
    assert per["rru"] == (1 + 2) - (1 + 0.5)  # a 6 KB page (two started 4 KB, halved), two consistent keys,
    # less the idle run's consistent GetItem and empty Query


def test_the_section_says_whether_build_time_and_memory_grow(capsys: pytest.CaptureFixture[str]) -> None:
    measured = reports.Measured(builds=[_build(10_000, seconds=2.0, collect=0.4, peak=5_000_000,
                                               collect_peak=800_000),
                                        _build(100_000, seconds=2.7, collect=1.0, peak=6_300_000,
                                               collect_peak=2_100_000)],
                                collectors=[_collector(10_000), _collector(100_000)], seconds=60)

    reports.print_report_builds(measured, Prices(), Assumptions())

    out = capsys.readouterr().out
    text = out.replace("\n    ", " ")  # the section's lines, joined
    assert out.startswith("(e) Report build at scale: the monthly report of 2026-11 at 10,000 and 100,000 orders")
    assert "10x the orders: build time x1.35, without its collect x1.06; peak memory +1.2 MB, of which its" \
           " collect +1.2 MB; the same 2 requests. Apart from its collect, build time and memory do not grow" in text
    assert "per 1,000 orders: keeping the rollups (USD)" in out
    assert "8,640 invocations a month" in out
    assert "$0.625 per 1M WRU, $0.125 per 1M RRU" in out
    assert max(len(line) for line in out.splitlines()) <= 120


def test_a_build_that_grows_is_called_so(capsys: pytest.CaptureFixture[str]) -> None:
    measured = reports.Measured(builds=[_build(10_000, seconds=2.0, collect=0.4, peak=5_000_000,
                                               collect_peak=800_000),
                                        _build(100_000, seconds=9.0, collect=0.4, peak=5_000_000,
                                               collect_peak=800_000)])

    reports.print_report_builds(measured, Prices(), Assumptions())

    text = capsys.readouterr().out.replace("\n    ", " ")
    assert "Apart from its collect, build time and memory GROW with the order count" in text


def test_make_bench_runs_section_e_unless_skipped(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from bench import run

    ran: list[str] = []
    monkeypatch.setattr(run, "print_reports", lambda: ran.append("e"))
    skip_others = ["--skip-cold-import", "--skip-requests", "--skip-journey", "--skip-returns", "--skip-package",
                   "--skip-load", "--skip-catalog"]

    assert run.main(skip_others) == 0
    assert run.main([*skip_others, "--skip-reports"]) == 0
    assert ran == ["e"]
    assert "bench finished" in capsys.readouterr().out
