"""Section (e): a month's sales report built at 10,000 and at 100,000 orders, and what keeping the rollups costs
per 1,000 orders.

Orders. N orders are placed at random over the previous calendar month (business days, Asia/Jakarta) and each
is taken through the lifecycle table (`lived`: what `Order.apply` gives event by event): placed, pay,
commit_stock, pack, ship, pick_up, courier scans, deliver, complete; some expire, fail or are cancelled (and
refunded), a cash-on-delivery parcel may be refused at the door, a delivered order may be returned and partly
refunded. Every timeline is cut at the present.

Build at scale. The month's rollups are the real `facts()` of every order, summed in memory and loaded as the
collector's ADD updates leave them (read back and checked): what the collector would have counted,
without its N transactions. Of the raw orders only what the build can reach is loaded: moto answers a Query by
scanning and sorting the whole table (DynamoDB reads one partition), so N orders and N progress markers in moto
would turn each of the build's Queries into a scan of them, a cost of the mock, not of the build. The build
reaches each day's collector watermark (loaded where the 5-minute collector leaves it: the day's last change
less its 120 s lag) and the orders that last changed after it, loaded with progress markers saying every entry
is counted: the build's `collect` reads them again and counts nothing. Then `reports.service.request` + `build`
of the monthly report, once uncounted (it snapshots the closed month's stock), three times timed and counted,
once under tracemalloc. The generated orders are dropped first: a heap of millions of objects would make
CPython's cyclic garbage collector, not the build, grow with the orders.

Rollup cost. The real collector (`reports.service.collect` over yesterday and today, as the 5-minute schedule
runs it) replays a window in the middle of the same month: the orders table, the markers and the watermarks are
set to where a run at the window's start left them; then every 5 minutes the orders that changed are written as
they were then (the order after that many timeline entries) and the collector runs, counted. What the runs
cost beyond idle runs (two watermark reads and two empty Queries each, a fixed cost of the schedule) is the
orders'; divided by the orders the window holds (timeline entries counted / entries per order), it is the cost
per order. The rollups the collector wrote are checked against `facts()` summed in memory over the same entries.

The generator, the in-memory tally and the cost arithmetic are plain Python and unit-tested.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import itertools
import math
import random
import statistics
import time
import tracemalloc
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from unittest import mock

from bench.journey import Assumptions, Prices, dynamodb_request_units, monthly_schedule_cost
from bench.request_count import ApiCall, AwsRequests, count_aws_requests

SIZES = (10_000, 100_000)
BUILD_RUNS = 3
COLLECT_EVERY_MINUTES = 5  # the collect_report_facts schedule
COLLECT_LAG = timedelta(seconds=120)  # reports.service.COLLECT_LAG_SECONDS, kept here so nothing imports early
REPLAY_ENTRIES = 200  # about how many timeline entries a collector replay window holds
SEED = 20261201
SETTLED_DAYS = 20  # an order's life (returns included) is over this long after it was placed

# ---- the shop: a batik catalog, how shoppers pay, where they come from, how parcels travel ----------------


@dataclass(frozen=True)
class Variant:
    sku: str
    product_id: str
    name: str
    price: int
    weight_grams: int
    options: Mapping[str, str]


_PRODUCTS: tuple[tuple[str, str, int, int, tuple[str, ...]], ...] = (
    # name, category, price, weight in grams, variants (sizes or colours)
    ("Batik Tulis Parang", "Batik", 450_000, 300, ("M", "L", "XL")),
    ("Batik Cap Kawung", "Batik", 225_000, 280, ("M", "L", "XL")),
    ("Batik Mega Mendung", "Batik", 325_000, 300, ("S", "M", "L")),
    ("Kemeja Batik Sogan", "Batik", 289_000, 320, ("M", "L", "XL")),
    ("Kain Batik Lasem", "Kain", 650_000, 450, ("2m", "2.5m")),
    ("Kain Tenun Ikat Sumba", "Kain", 890_000, 600, ("2m",)),
    ("Kain Songket Palembang", "Kain", 1_250_000, 700, ("2m",)),
    ("Kebaya Encim", "Kebaya", 385_000, 250, ("S", "M", "L")),
    ("Kebaya Kutubaru", "Kebaya", 335_000, 260, ("S", "M", "L")),
    ("Selendang Sutra", "Aksesoris", 175_000, 120, ("merah", "biru", "hijau")),
    ("Tas Anyaman Pandan", "Aksesoris", 145_000, 350, ("kecil", "besar")),
    ("Blangkon Solo", "Aksesoris", 95_000, 150, ("55", "57")),
    ("Masker Batik", "Aksesoris", 25_000, 30, ("isi 3",)),
    ("Daster Batik Pekalongan", "Busana Rumah", 89_000, 220, ("all size",)),
)
LINES_MIX = ((1, 55), (2, 28), (3, 12), (4, 5))  # lines per order
PAYMENT_MIX = (("bank_transfer", 35), ("ewallet", 20), ("qris", 15), ("card", 10), ("cod", 20))
CHANNEL_MIX: tuple[tuple[str | None, str | None, int], ...] = (
    (None, None, 35), ("instagram", "ig_ads", 20), ("tiktok", "tiktok_shop", 15), ("web", "google", 15),
    ("whatsapp", None, 10), ("web", "newsletter", 5))
COURIER_MIX = (("jne", "reg", 9_000, 45), ("jne", "yes", 18_000, 10), ("jnt", "ez", 8_500, 20),
               ("sicepat", "reg", 8_000, 17), ("anteraja", "reg", 7_500, 8))  # Rupiah per started kilogram
CITIES = (("Jakarta Selatan", "DKI Jakarta", "12110"), ("Bandung", "Jawa Barat", "40115"),
          ("Surabaya", "Jawa Timur", "60271"), ("Medan", "Sumatera Utara", "20112"),
          ("Makassar", "Sulawesi Selatan", "90111"), ("Yogyakarta", "DI Yogyakarta", "55271"),
          ("Denpasar", "Bali", "80361"), ("Semarang", "Jawa Tengah", "50132"))


def product_payloads() -> list[tuple[str, dict[str, Any]]]:
    """(product id, POST /admin/products body) for each product of the bench's catalog."""
    payloads = []
    for index, (name, category, price, weight, options) in enumerate(_PRODUCTS):
        stem = "".join(word[0] for word in name.split()).upper()
        variants = [{"sku": f"{stem}{index:02d}-{option.upper().replace(' ', '').replace('.', '')}",
                     "price": price + 10_000 * position, "weight_grams": weight, "options": {"varian": option}}
                    for position, option in enumerate(options)]
        payloads.append((f"prd_bench{index:02d}", {
            "name": name, "description": f"{name}, buatan pengrajin.", "category": category, "status": "active",
            "variants": variants, "initial_stock": {variant["sku"]: 500 for variant in variants}}))
    return payloads


def catalog_variants() -> list[Variant]:
    return [Variant(sku=variant["sku"], product_id=product_id, name=payload["name"], price=variant["price"],
                    weight_grams=variant["weight_grams"], options=dict(variant["options"]))
            for product_id, payload in product_payloads() for variant in payload["variants"]]


# ---- generating orders --------------------------------------------------------------------------------------


_CUMULATIVE: dict[int, list[int]] = {}


def _weighted(rng: random.Random, table: Sequence[tuple[Any, ...]]) -> tuple[Any, ...]:
    """A row of `table` drawn by the weight in its last column."""
    cumulative = _CUMULATIVE.get(id(table))
    if cumulative is None:
        cumulative = _CUMULATIVE[id(table)] = list(itertools.accumulate(row[-1] for row in table))
    return rng.choices(table, cum_weights=cumulative)[0]


def _between(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(seconds=rng.uniform(low, high))


def _typical(rng: random.Random, median_seconds: float, spread: float, cap_seconds: float) -> timedelta:
    """A log-normal wait: most near the median, a long tail up to the cap."""
    return timedelta(seconds=min(cap_seconds, rng.lognormvariate(math.log(median_seconds), spread)))


MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
Plan = list[tuple[str, datetime, dict[str, Any]]]  # (lifecycle event, when, Order.apply keyword arguments)


def plan(rng: random.Random, order: Any, placed: datetime, index: int) -> Plan:
    """The events of one order's life after it was placed."""
    from chalicelib.orders import lifecycle as lc
    from chalicelib.returns.domain import REASONS

    cod = order.payment_method == "cod"
    events: Plan = []
    at = placed

    def then(event: str, wait: timedelta, **kwargs: Any) -> None:
        nonlocal at
        at += wait
        events.append((event, at, kwargs))

    total = order.totals.total
    if not cod:
        chance = rng.random()
        if chance < 0.07:
            then(lc.EXPIRE, timedelta(hours=24))
            return events
        if chance < 0.09:
            then(lc.FAIL_PAYMENT, _between(rng, 2 * MINUTE, 30 * MINUTE), actor="gateway")
            return events
        then(lc.PAY, _typical(rng, 25 * MINUTE, 1.1, 23.5 * HOUR), actor="gateway")
    then(lc.COMMIT_STOCK, _between(rng, 1, 6))
    if rng.random() < 0.02:  # cancelled before packing; a prepaid order gets its money back
        then(lc.REQUEST_CANCEL, _between(rng, 10 * MINUTE, 3 * HOUR), actor="customer")
        then(lc.CANCEL, _between(rng, 2, 20))
        if not cod:
            then(lc.REFUND_IN_FULL, _between(rng, MINUTE, 30 * MINUTE), actor="gateway",
                 data={"amount": total, "refund_key": "cancel"}, refunds={"cancel": total})
        return events
    then(lc.PACK, _typical(rng, 8 * HOUR, 0.7, 96 * HOUR), actor="staff")
    courier, service = order.shipping["courier"], order.shipping["service"]
    cost = int(order.totals.shipping * rng.uniform(0.85, 1.0)) // 500 * 500
    shipment = {"provider": "sandbox", "booking_id": f"BK{index:09d}", "waybill_id": f"WB{index:011d}",
                "courier": courier, "service": service, "price": cost, "status": "allocated"}
    then(lc.SHIP, _typical(rng, 15 * MINUTE, 0.8, 6 * HOUR), shipment=shipment)
    then(lc.PICK_UP, _typical(rng, 5 * HOUR, 0.5, 30 * HOUR), actor="courier")
    for _ in range(rng.randint(1, 2)):
        then(lc.TRACK, _between(rng, 4 * HOUR, 20 * HOUR), actor="courier", detail="in transit")
    if cod and rng.random() < 0.04:  # refused at the door: back to the shop, nothing was paid
        then(lc.RETURN, _between(rng, DAY, 3 * DAY), actor="courier")
        return events
    then(lc.DELIVER, _between(rng, 6 * HOUR, 30 * HOUR), actor="courier")
    then(lc.COMPLETE, _between(rng, 2, 30))
    if rng.random() < 0.03:  # one unit of the first line comes back; its price is refunded
        line = order.lines[0]
        return_id = f"{order.order_id}-R1"
        units = {line.sku: 1}
        note = {"return_id": return_id, "reason": rng.choice(REASONS), "units": units}
        then(lc.NOTE_RETURN, _between(rng, 0.5 * DAY, 6 * DAY), actor="customer", detail=f"{return_id} requested",
             data={"return": "opened", **note}, returned_units=units, return_count=1)
        then(lc.NOTE_RETURN, _between(rng, 2 * HOUR, 30 * HOUR), actor="staff", detail=f"{return_id} approved",
             data={"return": "approved", **note})
        then(lc.NOTE_RETURN, _between(rng, 2 * DAY, 5 * DAY), actor="staff", detail=f"{return_id} received",
             data={"return": "received", **note})
        amount = min(line.unit_price, total)
        then(lc.REFUND, _between(rng, 0.5 * HOUR, 24 * HOUR), actor="returns", detail=f"Rp{amount:,}",
             data={"amount": amount, "refund_key": return_id}, refunds={return_id: amount})
        then(lc.NOTE_RETURN, _between(rng, 1, 30), actor="returns", detail=f"{return_id} closed",
             data={"return": "closed", **note})
    return events


def generate_orders(count: int, *, start: datetime, end: datetime, until: datetime,
                    variants: Sequence[Variant] | None = None, seed: int = SEED) -> list[Any]:
    """`count` orders placed at random in [start, end), each taken through the lifecycle up to `until`."""
    variants = list(variants or catalog_variants())
    rng = random.Random(seed)
    span = (end - start).total_seconds()
    placements = sorted(start + timedelta(seconds=rng.random() * span) for _ in range(count))
    customers = max(20, int(count * 0.55))
    orders = []
    for index, placed in enumerate(placements):
        if placed > until:
            break
        order = new_order(rng, index, placed, variants, customers)
        orders.append(lived(order, plan(rng, order, placed, index), until))
    return orders


def new_order(rng: random.Random, index: int, placed: datetime, variants: Sequence[Variant], customers: int) -> Any:
    """An order as checkout places it: 1 to 4 lines, a voucher now and then, a courier, a payment method, a
    channel, one of `customers` customers (a few buy often; two in five signed in, the others guests)."""
    from chalicelib import clock
    from chalicelib.orders.domain import Order, OrderLine, OrderTotals, TimelineEntry
    from chalicelib.orders.lifecycle import INITIAL

    method = _weighted(rng, PAYMENT_MIX)[0]
    channel, utm_source, _ = _weighted(rng, CHANNEL_MIX)
    courier, service, per_kg, _ = _weighted(rng, COURIER_MIX)
    lines = []
    for variant in rng.sample(list(variants), _weighted(rng, LINES_MIX)[0]):
        quantity = 1 if rng.random() < 0.8 else rng.choice((2, 3))
        lines.append(OrderLine(sku=variant.sku, product_id=variant.product_id, name=variant.name,
                               options=dict(variant.options), unit_price=variant.price, quantity=quantity,
                               line_total=variant.price * quantity, weight_grams=variant.weight_grams * quantity))
    subtotal, weight = sum(line.line_total for line in lines), sum(line.weight_grams for line in lines)
    discount = min(50_000, subtotal // 10) if rng.random() < 0.15 else 0
    shipping = per_kg * max(1, math.ceil(weight / 1000))
    goods = subtotal - discount
    who = int(customers * rng.random() ** 1.5)  # a few customers buy often
    city, province, postal_code = CITIES[who % len(CITIES)]
    customer = {"name": f"Pelanggan {who}", "email": f"pelanggan{who}@example.com", "phone": f"+62812{who:08d}"}
    at = clock.iso(placed)
    status = INITIAL["cod" if method == "cod" else "prepaid"]
    return Order(
        order_id=f"TK-{placed.astimezone(clock.JAKARTA):%y%m%d}-B{index:07d}", status=status, created_at=at,
        updated_at=at, customer=customer, customer_id=f"cust-{who:06d}" if who % 5 < 2 else None,
        shipping_address={"recipient": customer["name"], "phone": customer["phone"],
                          "street": f"Jl. Merdeka {who % 200 + 1}", "city": city, "province": province,
                          "postal_code": postal_code, "notes": ""},
        shipping={"courier": courier, "service": service, "price": shipping}, payment_method=method,
        lines=tuple(lines),
        totals=OrderTotals(subtotal=subtotal, discount=discount, shipping=shipping, total=goods + shipping,
                           ppn_included=round(goods * 11 / 111), ppn_rate_percent=11, weight_grams=weight),
        cart_id=f"{index:032x}", access_token_hash=f"{rng.getrandbits(128):032x}",
        payment_deadline=None if method == "cod" else clock.iso(placed + timedelta(hours=24)),
        voucher_code="HEMAT10" if discount else None, channel=channel, utm_source=utm_source,
        timeline=(TimelineEntry(at=at, status=status, note="order placed", actor="customer"),))


def iso_utc(moment: datetime) -> str:
    """clock.iso of a UTC datetime, twice as fast (a million timeline entries are written)."""
    if moment.utcoffset() != timedelta(0):
        raise ValueError(f"{moment!r} is not in UTC")
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"


def lived(order: Any, events: Plan, until: datetime) -> Any:
    """The order after the planned events up to `until`: what `Order.apply` gives event by event (the same
    lifecycle table refuses what it refuses), built at once instead of as one Order per event."""
    from chalicelib.orders import lifecycle
    from chalicelib.orders.domain import TimelineEntry

    status, cancel_requested = order.status, order.cancel_requested
    timeline, changes = list(order.timeline), {}
    for event, when, arguments in events:
        if when > until:
            break
        extra = dict(arguments)
        actor, detail, data = extra.pop("actor", "system"), extra.pop("detail", ""), extra.pop("data", None)
        if event in lifecycle.NEEDS_CAUSE:
            raise ValueError(f"the bench plans no {event}")
        transition = lifecycle.transition_for(event, status, cancel_requested=cancel_requested)
        cancel_requested = cancel_requested or event == lifecycle.REQUEST_CANCEL
        status = transition.to_status(status)
        note = f"{transition.note}: {detail}" if detail else transition.note
        timeline.append(TimelineEntry(at=iso_utc(when), status=status, note=note, actor=actor, event=event,
                                      data=data))
        changes.update(extra)
    if len(timeline) == len(order.timeline):
        return order
    return replace(order, status=status, updated_at=timeline[-1].at, version=order.version + len(timeline)
                   - len(order.timeline), timeline=tuple(timeline), cancel_requested=cancel_requested, **changes)


def version_at(order: Any, entries: int) -> Any:
    """The order as it was stored after its first `entries` timeline entries (what the orders table held then)."""
    from chalicelib.orders import lifecycle as lc

    if entries >= len(order.timeline):
        return order
    timeline = order.timeline[:entries]
    events = [entry.event for entry in timeline]
    refunds = {str(entry.data["refund_key"]): int(entry.data["amount"]) for entry in timeline
               if entry.event in (lc.REFUND, lc.REFUND_IN_FULL) and entry.data}
    opened = any(entry.event == lc.NOTE_RETURN and (entry.data or {}).get("return") == "opened"
                 for entry in timeline)
    return replace(order, status=timeline[-1].status, updated_at=timeline[-1].at, version=entries, timeline=timeline,
                   shipment=order.shipment if lc.SHIP in events else None, refunds=refunds,
                   returned_units=order.returned_units if opened else {}, return_count=order.return_count if opened
                   else 0, cancel_requested=lc.REQUEST_CANCEL in events)


def entries_until(order: Any, moment: str) -> int:
    """How many of the order's timeline entries happened at or before `moment` (ISO-8601 UTC, as stored)."""
    return bisect.bisect_right([entry.at for entry in order.timeline], moment)


# ---- the in-memory tally: what the collector counts, summed without DynamoDB ------------------------------


@dataclass
class Tally:
    """Rollup deltas merged per (day, key), as the rollups table would hold them; the customers' first days."""

    items: dict[tuple[str, str], Any] = field(default_factory=dict)
    first_days: dict[str, str] = field(default_factory=dict)
    entries: int = 0

    def add(self, deltas: Iterable[Any]) -> None:
        from chalicelib.tallies.domain import Delta

        for delta in deltas:
            seen = self.items.get((delta.day, delta.key))
            if seen is None:
                self.items[(delta.day, delta.key)] = Delta(delta.day, delta.key, dict(delta.counts),
                                                           dict(delta.labels))
                continue
            counts = seen.counts
            for name, amount in delta.counts.items():
                counts[name] = counts.get(name, 0) + amount
            seen.labels.update(delta.labels)

    def count(self, order: Any, start: int = 0, end: int | None = None) -> None:
        """Count the order's entries [start, end) as the collector does (first purchases remembered)."""
        from chalicelib.reports.facts import customer_identity, facts

        identity = customer_identity(order)
        found = facts(order, start, end, first_purchase_day=self.first_days.get(identity))
        if found.first_purchase_day:
            self.first_days.setdefault(identity, found.first_purchase_day)
        self.add(found.deltas)
        self.entries += (len(order.timeline) if end is None else end) - start

    def day(self, day: str) -> dict[str, dict[str, Any]]:
        """One day as rollups.read_day answers it: key -> counters and label_* texts."""
        return {key: {**delta.counts, **{f"label_{name}": text for name, text in delta.labels.items()}}
                for (item_day, key), delta in self.items.items() if item_day == day}


def tally(orders: Iterable[Any]) -> Tally:
    """Every entry of every order counted once, orders taken in the order they were placed."""
    counted = Tally()
    for order in orders:
        counted.count(order)
    return counted


RETENTION = ("new_customers", "returning_customers")


def rollup_differences(expected: Mapping[str, Mapping[str, Any]], actual: Mapping[str, Mapping[str, Any]]
                       ) -> list[str]:
    """Where two days' rollups (key -> counters) differ. New and returning customers are compared as their sum:
    which of two orders of one customer counts as the first purchase depends on the order the collector met them."""
    differences = []
    for key in sorted(set(expected) | set(actual)):
        want, got = dict(expected.get(key, {})), dict(actual.get(key, {}))
        if key == "summary":
            for values in (want, got):
                values["customers"] = sum(int(values.pop(name, 0)) for name in RETENTION)
        names = {name for name in set(want) | set(got) if not name.startswith("label_")}
        for name in sorted(names):
            if int(want.get(name, 0)) != int(got.get(name, 0)):
                differences.append(f"{key}.{name}: expected {want.get(name, 0)}, collector wrote {got.get(name, 0)}")
    return differences


# ---- DynamoDB units from counted calls --------------------------------------------------------------------


def read_units(calls: Iterable[ApiCall]) -> float:
    """Read request units, from the sizes of the items each read returned where the call noted them.

    GetItem and each BatchGetItem key: 1 RRU per started 4 KB (at least 1) when strongly consistent, half that
    otherwise. Query and Scan: the items' total size, in started 4 KB, per request (at least one). Transactional
    reads 2 RRU per item. Calls without noted sizes are estimated as `dynamodb_request_units` does.
    """
    units = 0.0
    for call in calls:
        if call.service != "dynamodb":
            continue
        sizes = call.answer.get("sizes")
        params = call.params
        if sizes is None or call.operation not in ("GetItem", "BatchGetItem", "Query", "Scan"):
            units += dynamodb_request_units([call])[1]
            continue
        if call.operation == "BatchGetItem":
            consistent = all(spec.get("ConsistentRead") for spec in params.get("RequestItems", {}).values())
            units += sum(max(1, math.ceil(size / 4096)) for size in sizes) * (1.0 if consistent else 0.5)
            continue
        # GetItem: its one item; Query and Scan: all items of the page together
        units += max(1, math.ceil(sum(sizes) / 4096)) * (1.0 if params.get("ConsistentRead") else 0.5)
    return units


def write_units(calls: Iterable[ApiCall]) -> float:
    return dynamodb_request_units(calls)[0]


def merged(requests: Iterable[AwsRequests]) -> AwsRequests:
    total = AwsRequests()
    for part in requests:
        total.update(part)
        total.calls.extend(part.calls)
    return total


# ---- (e) part 1: building a month's report -------------------------------------------------------------


@dataclass
class BuildResult:
    orders: int
    entries: int
    month: str  # "2026-11"
    days: int
    rollup_items: int  # written for the month's days
    items_read: int  # rollup items the build read (the days and the stock snapshot)
    bytes_read: int
    reread_orders: int  # orders the build's collect finds after the watermarks (and counts nothing of)
    setup_seconds: float
    first_build_seconds: float
    build_seconds: list[float]
    peak_bytes: int
    requests: AwsRequests  # one counted request + build
    first_requests: AwsRequests  # the first build (stock snapshot)
    s3_bytes: int
    files: int
    facts_counted: int  # by the builds' collect: must be 0
    moto_seconds: float  # of a build, inside moto (median of the timed builds)
    collect_seconds: float  # of a build, in its collect (median of the timed builds)
    refused_watermarks: int  # set_watermark calls of a build its condition refused
    collect_peak_bytes: int  # the build's peak when its collect (the first step) returned
    unlike: list[str]  # where the loaded rollups differ from the tally (must be none)

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.build_seconds)


def month_before(today: date) -> tuple[date, date]:
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def jakarta_midnight(day: date) -> datetime:
    from chalicelib import clock

    return datetime(day.year, day.month, day.day, tzinfo=clock.JAKARTA).astimezone(UTC)


def tail_of(orders: Iterable[Any], days: Iterable[str]) -> tuple[dict[str, str], list[Any]]:
    """Where the 5-minute collector leaves each day's watermark (the day's last change less the lag) and the
    orders the next `collect` of those days reads again: those that last changed after it."""
    from chalicelib import clock

    wanted = set(days)
    by_day: dict[str, list[Any]] = {}
    for order in orders:
        day = clock.business_day(order.updated_at)
        if day in wanted:
            by_day.setdefault(day, []).append(order)
    marks, tail = {}, []
    for day, changed in by_day.items():
        newest = max(order.updated_at for order in changed)
        marks[day] = clock.iso(clock.parse_iso(newest) - COLLECT_LAG)
        tail += [order for order in changed if order.updated_at > marks[day]]
    return marks, tail


def _seed_catalog() -> None:
    from chalicelib.catalog import service as catalog
    from chalicelib.validation import Fields

    for product_id, payload in product_payloads():
        catalog.create_product(Fields(payload), actor="bench", product_id=product_id)


def _put_orders(orders: Iterable[Any], applied: Mapping[str, int]) -> None:
    """Orders as stored (the orders repository's own item), each with its progress marker at `applied`."""
    from chalicelib import aws, resources
    from chalicelib.orders import repository

    dynamodb = aws.client("dynamodb")
    for order in orders:
        repository.to_model(order).save()
        if applied.get(order.order_id):
            dynamodb.put_item(TableName=resources.ROLLUPS.physical_name, Item={
                "pk": {"S": f"order#{order.order_id}"}, "sk": {"S": "facts"},
                "applied": {"N": str(applied[order.order_id])}})


def rollup_item(delta: Any) -> dict[str, Any]:
    """A rollup item as the rollups' ADD updates leave it: pk day, sk key, counters, label_<name> texts."""
    item: dict[str, Any] = {"pk": {"S": delta.day}, "sk": {"S": delta.key}}
    item.update({name: {"N": str(int(value))} for name, value in delta.counts.items()})
    item.update({f"label_{name}": {"S": text} for name, text in delta.labels.items()})
    return item


def _load_rollups(counted: Tally) -> None:
    from chalicelib import aws, resources

    dynamodb, table = aws.client("dynamodb"), resources.ROLLUPS.physical_name
    items = [rollup_item(delta) for delta in counted.items.values()]
    for start in range(0, len(items), 25):
        request: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]}
        while request:
            request = dynamodb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


@contextlib.contextmanager
def moto_time() -> Iterator[list[float]]:
    """Seconds spent inside moto answering (its botocore stubber) while the block runs: the mock's share."""
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.__call__
    spent = [0.0]

    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - started

    with mock.patch.object(BotocoreStubber, "__call__", timed):
        yield spent


def _rollups_by_day() -> dict[str, dict[str, dict[str, Any]]]:
    """The whole rollups table in one Scan, as rollups.read_day answers each day (moto answers each of a
    month's Queries by sorting the whole table: one Scan is the cheaper check)."""
    from chalicelib import aws, resources

    days: dict[str, dict[str, dict[str, Any]]] = {}
    kwargs: dict[str, Any] = {"TableName": resources.ROLLUPS.physical_name, "ConsistentRead": True}
    while True:
        answer = aws.client("dynamodb").scan(**kwargs)
        for item in answer.get("Items", []):
            days.setdefault(item["pk"]["S"], {})[item["sk"]["S"]] = {
                name: (int(value["N"]) if "N" in value else value.get("S")) for name, value in item.items()
                if name not in ("pk", "sk")}
        if not answer.get("LastEvaluatedKey"):
            return days
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _put_watermarks(marks: Mapping[str, str]) -> None:
    from chalicelib.tallies import service as rollups

    for day, since in marks.items():
        rollups.set_watermark(day, since)


def measure_build(order_count: int, counted: Tally, marks: Mapping[str, str], tail: list[Any], first: date,
                  last: date, *, runs: int = BUILD_RUNS, setup_seconds: float = 0.0) -> BuildResult:
    """The month's rollups, the days' watermarks and the orders changed after them loaded into a fresh mocked
    account, then the report built. The generated orders are gone by then: a heap of a million objects would
    make the collector of cyclic garbage, not the build, grow with the orders."""
    from chalicelib.reports import domain
    from chalicelib.reports import service as reports
    from local.offline import mocked_account

    period = domain.period_of(domain.MONTHLY, first)
    days = period.days
    loading = time.perf_counter()
    with mocked_account():
        _seed_catalog()
        _load_rollups(counted)
        _put_watermarks(marks)
        _put_orders(tail, {order.order_id: len(order.timeline) for order in tail})
        setup = setup_seconds + time.perf_counter() - loading

        def build() -> dict[str, Any]:
            report, _ = reports.request(period, actor="bench")
            return reports.build(report["report_id"])

        facts_counted, collecting, collect_peak = 0, [0.0], [0]
        original_collect = reports.collect

        def collect(build_days: Iterable[str]) -> dict[str, int]:  # the build's own collect, watched and timed
            nonlocal facts_counted
            started = time.perf_counter()
            result = original_collect(build_days)
            collecting[0] += time.perf_counter() - started
            if tracemalloc.is_tracing():  # the build's first step: the peak so far is the collect's
                collect_peak[0] = tracemalloc.get_traced_memory()[1]
            facts_counted += result["facts"]
            return result

        with mock.patch.object(reports, "collect", collect):
            gc.collect()
            with count_aws_requests() as first_requests:
                started = time.perf_counter()
                build()
                first_seconds = time.perf_counter() - started
            seconds, in_moto, in_collect, counted_requests = [], [], [], []
            for _ in range(runs):
                gc.collect()
                collecting[0] = 0.0
                with count_aws_requests() as seen, moto_time() as spent:
                    started = time.perf_counter()
                    report = build()
                    seconds.append(time.perf_counter() - started)
                counted_requests.append(seen)
                in_moto.append(spent[0])
                in_collect.append(collecting[0])
            gc.collect()
            tracemalloc.start()
            try:
                build()
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()

        stored = _rollups_by_day()
        read = [*days, f"stock#{period.last.isoformat()}"]
        items_read = sum(len(stored.get(day, {})) for day in read)
        unlike = [f"{day} {difference}" for day in days  # the loaded rollups must be what the tally counted
                  for difference in rollup_differences(counted.day(day), stored.get(day, {}))]
    requests = counted_requests[-1]
    bytes_read = sum(sum(call.answer.get("sizes", [])) for call in requests.calls
                     if call.operation == "Query" and call.params.get("TableName", "").endswith("report-rollups"))
    puts = [call for call in requests.calls if (call.service, call.operation) == ("s3", "PutObject")]
    return BuildResult(
        orders=order_count, entries=counted.entries, month=f"{first:%Y-%m}", days=len(days),
        rollup_items=sum(1 for (day, _) in counted.items if first.isoformat() <= day <= last.isoformat()),
        items_read=items_read, bytes_read=bytes_read, reread_orders=len(tail), setup_seconds=setup,
        first_build_seconds=first_seconds, build_seconds=seconds, peak_bytes=peak, requests=requests,
        first_requests=first_requests, s3_bytes=sum(len(call.params.get("Body", b"")) for call in puts),
        files=len(report["files"]), facts_counted=facts_counted,
        moto_seconds=statistics.median(in_moto), collect_seconds=statistics.median(in_collect), unlike=unlike,
        collect_peak_bytes=collect_peak[0],
        refused_watermarks=sum(1 for call in requests.calls if call.operation == "UpdateItem"
                               and call.answer.get("error") == "ConditionalCheckFailedException"))


# ---- (e) part 2: what the collector costs per order --------------------------------------------------


@dataclass
class CollectorResult:
    orders_per_month: int
    window_start: str
    window_minutes: int
    runs: int
    entries: int  # timeline entries counted in the window
    entries_per_order: float
    changed_orders: int  # orders that changed in the window
    requests: AwsRequests  # all counted runs
    idle: AwsRequests  # one idle run: what every run costs whatever the orders
    differences: list[str]
    missed: int  # orders whose marker does not say every entry up to the window's end is counted
    seconds: float

    @property
    def order_equivalents(self) -> float:
        return self.entries / self.entries_per_order if self.entries_per_order else 0.0

    def per_order(self) -> dict[str, float]:
        """Requests, items and request units per order beyond the idle runs'."""
        per = self.order_equivalents or 1.0
        calls = self.requests.calls
        idle_calls = self.idle.calls
        query_pages = [call for call in calls if call.operation == "Query"]
        batch_keys: Counter[str] = Counter()
        for call in calls:
            if call.operation == "BatchGetItem":
                for spec in call.params.get("RequestItems", {}).values():
                    for key in spec.get("Keys", []):
                        batch_keys[key["pk"]["S"].split("#", 1)[0]] += 1
        transactions = [len(call.params.get("TransactItems", [])) for call in calls
                        if call.operation == "TransactWriteItems"]
        return {
            "query_pages": (len(query_pages) - self.runs * self.idle["dynamodb:Query"]) / per,
            "orders_read": sum(len(call.answer.get("sizes", [])) for call in query_pages) / per,
            "batch_gets": self.requests["dynamodb:BatchGetItem"] / per,
            "progress_keys": batch_keys["order"] / per,
            "customer_keys": batch_keys["customer"] / per,
            "transactions": len(transactions) / per,
            "transaction_items": sum(transactions) / per,
            "watermark_updates": self.requests["dynamodb:UpdateItem"] / per,
            "requests": (self.requests.total() - self.runs * self.idle.total()) / per,
            "wru": (write_units(calls) - self.runs * write_units(idle_calls)) / per,
            "rru": (read_units(calls) - self.runs * read_units(idle_calls)) / per,
        }

    def transaction_sizes(self) -> Counter[int]:
        return Counter(len(call.params.get("TransactItems", [])) for call in self.requests.calls
                       if call.operation == "TransactWriteItems")


def replay_window(orders_per_month: int, first: date) -> tuple[datetime, int]:
    """A window in the middle of the month (from 10:00 WIB on the 20th) holding about REPLAY_ENTRIES entries."""
    entries_per_minute = orders_per_month * 8.5 / (30 * 24 * 60)
    minutes = max(15, min(12 * 60, REPLAY_ENTRIES / entries_per_minute))
    minutes = int(math.ceil(minutes / COLLECT_EVERY_MINUTES) * COLLECT_EVERY_MINUTES)
    return jakarta_midnight(first.replace(day=20)) + timedelta(hours=10), minutes


def measure_collector(orders: list[Any], orders_per_month: int, first: date, *, settled_before: str
                      ) -> CollectorResult:
    """The real collector every 5 minutes over a window of the month, from where a run at its start left it.

    moto copies a whole table for each item of a transaction and scans a whole table for each Query, so the
    tables hold what the collector can reach, no more: an order (and its marker, and its customer's first
    purchase) is written when it first changes in the window, and once the day's watermark has passed it and it
    changes no more its items are checked and removed. A Query never returns an order behind the watermark and a
    marker or customer record is read only for an order a Query returned, so the runs see what they would see
    with every item in place.
    """
    from chalicelib import aws, clock, resources
    from chalicelib.orders import repository as orders_table
    from chalicelib.reports import service as reports
    from chalicelib.reports.facts import customer_identity, is_sale
    from chalicelib.tallies import service as rollups
    from local.offline import mocked_account

    started = time.perf_counter()
    window_start, minutes = replay_window(orders_per_month, first)
    start_iso = clock.iso(window_start)
    ticks = [window_start + timedelta(minutes=COLLECT_EVERY_MINUTES * step)
             for step in range(1, minutes // COLLECT_EVERY_MINUTES + 1)]
    end_iso = clock.iso(ticks[-1])
    yesterday, today = clock.business_day(window_start - timedelta(days=1)), clock.business_day(window_start)

    before = {order.order_id: entries_until(order, start_iso) for order in orders}
    after = {order.order_id: entries_until(order, end_iso) for order in orders}
    changing = [order for order in orders if after[order.order_id] > before[order.order_id]]
    # the orders as stored when the window opens, those whose last change was yesterday or today
    recent = (yesterday, today)
    initial = [version_at(order, before[order.order_id]) for order in orders if before[order.order_id]
               and clock.business_day(order.timeline[before[order.order_id] - 1].at) in recent]
    marks, reachable = tail_of(initial, recent)
    # first purchases known when the window opens, for the customers whose orders change in it
    identities = {order.order_id: customer_identity(order) for order in changing}
    waiting = Counter(identities.values())  # orders of each customer still to change in the window
    first_days: dict[str, str] = {}
    for order in orders:
        identity = customer_identity(order)
        if identity not in waiting:
            continue
        for entry in order.timeline[:before[order.order_id]]:
            if is_sale(order, entry.event):
                day = clock.business_day(entry.at)
                first_days[identity] = min(first_days.get(identity, day), day)
    known_before = dict(first_days)
    by_id = {order.order_id: order for order in [*reachable, *changing]}  # whole orders win over versions
    last_change = {order.order_id: order.timeline[after[order.order_id] - 1].at for order in changing}

    with mocked_account():
        dynamodb = aws.client("dynamodb")
        table = resources.ROLLUPS.physical_name

        def key(kind: str, name: str, sort: str) -> dict[str, Any]:
            return {"pk": {"S": f"{kind}#{name}"}, "sk": {"S": sort}}

        _put_watermarks(marks)
        _put_orders(reachable, before)
        live = {order.order_id for order in reachable}  # in the orders table now
        started_ids: set[str] = set()
        missed = 0

        def check_and_remove(order_id: str) -> None:
            nonlocal missed
            orders_table.OrderModel(order_id).delete()
            if order_id not in last_change:  # a tail order that does not change in the window
                dynamodb.delete_item(TableName=table, Key=key("order", order_id, "facts"))
                return
            applied = rollups.progress_of([order_id]).get(order_id, 0)
            missed += applied != after[order_id]
            dynamodb.delete_item(TableName=table, Key=key("order", order_id, "facts"))
            identity = identities[order_id]
            waiting[identity] -= 1
            if not waiting[identity]:
                dynamodb.delete_item(TableName=table, Key=key("customer", identity, "first"))

        changes = sorted((entry.at, order.order_id) for order in changing
                         for entry in order.timeline[before[order.order_id]:after[order.order_id]])
        runs: list[AwsRequests] = []
        counted_entries, cursor = 0, 0
        for tick in ticks:
            moment = clock.iso(tick)
            changed: set[str] = set()
            while cursor < len(changes) and changes[cursor][0] <= moment:
                changed.add(changes[cursor][1])
                cursor += 1
            for order_id in sorted(changed - started_ids):  # first change in the window: its marker, its customer
                started_ids.add(order_id)
                if before[order_id] and order_id not in live:
                    dynamodb.put_item(TableName=table, Item={**key("order", order_id, "facts"),
                                                             "applied": {"N": str(before[order_id])}})
                identity = identities[order_id]
                if identity in first_days:
                    dynamodb.put_item(TableName=table, Item={**key("customer", identity, "first"),
                                                             "first_day": {"S": first_days.pop(identity)}})
            # the orders that changed since the last run, as the app saved them last
            _put_orders([version_at(by_id[order_id], entries_until(by_id[order_id], moment))
                         for order_id in sorted(changed)], {})
            live |= changed
            with count_aws_requests() as seen:
                counted_entries += reports.collect([clock.business_day(tick - timedelta(days=1)),
                                                    clock.business_day(tick)])["facts"]
            runs.append(seen)
            watermarks = {day: rollups.watermark(day) for day in (*recent, clock.business_day(tick))}
            for order_id in sorted(live):
                current = version_at(by_id[order_id], entries_until(by_id[order_id], moment))
                passed = current.updated_at <= watermarks.get(clock.business_day(current.updated_at), "")
                if passed and last_change.get(order_id, "") <= moment:
                    check_and_remove(order_id)
                    live.discard(order_id)
        for order_id in sorted(live):
            check_and_remove(order_id)
        with count_aws_requests() as idle:
            reports.collect(["2000-01-01", "2000-01-02"])  # no order ever changed on these days

        expected = Tally(first_days=known_before)
        for order in sorted(changing, key=lambda order: order.timeline[before[order.order_id]].at):
            expected.count(order, before[order.order_id], after[order.order_id])
        touched = sorted({day for day, _ in expected.items} | {clock.business_day(tick) for tick in ticks})
        differences = [f"{day} {difference}" for day in touched
                       for difference in rollup_differences(expected.day(day), rollups.read_day(day))]
    if counted_entries != expected.entries:
        differences.append(f"the collector counted {counted_entries} entries, the window holds {expected.entries}")
    settled = [order for order in orders if order.created_at < settled_before]  # lives over: every entry
    per_order = statistics.fmean(len(order.timeline) for order in settled or orders)
    return CollectorResult(orders_per_month=orders_per_month, window_start=start_iso, window_minutes=minutes,
                           runs=len(ticks), entries=expected.entries, entries_per_order=per_order,
                           changed_orders=len(changing), requests=merged(runs), idle=idle, differences=differences,
                           missed=missed, seconds=time.perf_counter() - started)


# ---- running both ----------------------------------------------------------------------------------------


@dataclass
class Measured:
    builds: list[BuildResult] = field(default_factory=list)
    collectors: list[CollectorResult] = field(default_factory=list)
    seconds: float = 0.0


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def measure(sizes: Sequence[int] = SIZES, *, runs: int = BUILD_RUNS, collector: bool = True) -> Measured:
    """For each size: generate the month, replay the collector over a window of it, build the report."""
    from bench.request_count import captured_stdout, install
    from local.offline import configure_environment

    configure_environment()
    install()  # before any client exists

    from chalicelib import clock

    started = time.perf_counter()
    first, last = month_before(date.fromisoformat(clock.business_day(clock.now())))
    measured = Measured()
    with captured_stdout(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        for size in sizes:
            setup_started = time.perf_counter()
            gc.disable()  # millions of new objects, none in a cycle: no collection needed while they are made
            try:
                orders = generate_orders(size, start=jakarta_midnight(first),
                                         end=jakarta_midnight(last + timedelta(days=1)), until=clock.now())
                counted = tally(orders)
                marks, tail = tail_of(orders, [day.isoformat() for day in _days(first, last)])
            finally:
                gc.enable()
            gc.freeze()  # and none for the collector of cyclic garbage to walk through while the replay runs
            setup = time.perf_counter() - setup_started
            if collector:
                measured.collectors.append(measure_collector(
                    orders, size, first, settled_before=clock.iso(clock.now() - timedelta(days=SETTLED_DAYS))))
            del orders
            gc.unfreeze()
            gc.collect()
            measured.builds.append(measure_build(size, counted, marks, tail, first, last, runs=runs,
                                                 setup_seconds=setup))
    measured.seconds = time.perf_counter() - started
    return measured


# ---- printing ------------------------------------------------------------------------------------------


def _mb(size: int) -> str:
    return f"{size / 1_048_576:.1f} MB"


def _kb(size: int) -> str:
    return f"{size / 1024:,.1f} KB"


def _table(names: list[str], *, width: int = 18) -> Any:
    """A row printer: a title, then one right-aligned column per name."""
    width = max(width, *(len(name) + 2 for name in names))

    def row(title: str, values: Iterable[Any]) -> None:
        print(f"    {title:<52}" + "".join(f"{value!s:>{width}}" for value in values))

    return row


def print_report_builds(measured: Measured, prices: Prices | None = None,
                        assumptions: Assumptions | None = None) -> None:
    """Section (e): the builds side by side, whether they grow with the orders, then the collector's cost."""
    prices = prices or Prices()
    assumptions = assumptions or Assumptions()
    builds = measured.builds
    if builds:
        _print_builds(builds, measured.seconds)
    print_collector_cost(measured.collectors, prices, assumptions)


def _print_builds(builds: list[BuildResult], seconds: float) -> None:
    sizes = " and ".join(f"{build.orders:,}" for build in builds)
    runs = len(builds[0].build_seconds)
    print(f"(e) Report build at scale: the monthly report of {builds[0].month} at {sizes} orders"
          f" (moto in-process, {seconds:.0f} s)")
    for line in (
            "Orders placed at random over the month, each taken through the lifecycle table (pay, commit_stock, pack,",
            "ship, pick_up, courier scans, deliver, complete; some expire, fail, are cancelled, refused at the door or",
            "returned and refunded), cut at the present. The rollups are the real facts() of every order, summed in",
            "memory and loaded as the collector's ADD updates leave them (checked: read back), its result without",
            "its transactions. Of the raw orders only what a build can reach is loaded: each day's watermark where the",
            "5-minute collector leaves it (the day's last change less its 120 s lag) and the orders changed after it,",
            "with markers saying every entry is counted. moto answers a Query by scanning and sorting the whole table",
            "(DynamoDB reads one partition): N orders in moto would time the mock, not the build. A build is",
            "reports.service.request + build (collect over the month's days first), run once uncounted (it snapshots",
            f"the closed month's stock), {runs} times timed and counted, once under tracemalloc (the peak of what it",
            "allocates, moto's copies of what it writes included).",
    ):
        print(f"    {line}")
    row = _table([f"{build.orders:,} orders" for build in builds])
    row("", [f"{build.orders:,} orders" for build in builds])
    row("timeline entries counted into the rollups", [f"{build.entries:,}" for build in builds])
    row("rollup items of the month's days (loaded = tally)",
        [f"{build.rollup_items:,} {'ok' if not build.unlike else f'{len(build.unlike)} DIFFER'}" for build in builds])
    row("rollup items read by a build (days + stock)", [f"{build.items_read:,}" for build in builds])
    row("rollup bytes read by a build", [_kb(build.bytes_read) for build in builds])
    row("orders the first build's collect reads again / facts counted",
        [f"{build.reread_orders:,} / {build.facts_counted}" for build in builds])
    row("setup: generate, facts(), load (s)", [f"{build.setup_seconds:.1f}" for build in builds])
    row("first build, snapshots the stock (s)", [f"{build.first_build_seconds:.2f}" for build in builds])
    row(f"build time, median of {runs} (s)", [f"{build.median_seconds:.2f}" for build in builds])
    row("  of which inside moto (s)", [f"{build.moto_seconds:.2f}" for build in builds])
    row("  of which its collect, moto included (s)", [f"{build.collect_seconds:.2f}" for build in builds])
    row("  min - max (s)", [f"{min(b.build_seconds):.2f} - {max(b.build_seconds):.2f}" for b in builds])
    row("peak memory of a build (tracemalloc)", [_mb(build.peak_bytes) for build in builds])
    row("  its peak when its collect returned", [_mb(build.collect_peak_bytes) for build in builds])
    row("files written / S3 bytes written", [f"{build.files} / {_kb(build.s3_bytes)}" for build in builds])
    print("    AWS requests of one request + build")
    for operation in sorted(set().union(*(build.requests.keys() for build in builds))):
        row(f"  {operation}", [build.requests[operation] for build in builds])
    row("  total", [build.requests.total() for build in builds])
    row("  the first build's extra (stock snapshot)",
        [build.first_requests.total() - build.requests.total() for build in builds])
    row("  UpdateItem of a watermark its condition refuses", [build.refused_watermarks for build in builds])
    row("DynamoDB units of a build: WRU / RRU",
        [f"{write_units(b.requests.calls):g} / {read_units(b.requests.calls):g}" for b in builds])
    for line in _growth(builds[0], builds[-1]) if len(builds) > 1 else []:
        print(f"    {line}")
    for build in builds:
        for difference in build.unlike[:5]:
            print(f"      {build.orders:,} orders: loaded rollups differ: {difference}")
    print()


def _growth(small: BuildResult, large: BuildResult) -> list[str]:
    """Whether time and memory grew with the orders, in words: the build apart from its collect, and the collect."""
    def ratio(big: float, little: float) -> float:
        return big / little if little > 0 else float("inf")

    rest_time = ratio(large.median_seconds - large.collect_seconds, small.median_seconds - small.collect_seconds)
    memory_growth = large.peak_bytes - small.peak_bytes
    collect_growth = large.collect_peak_bytes - small.collect_peak_bytes
    rest_memory = ratio(large.peak_bytes - collect_growth, small.peak_bytes)
    grows = rest_time > 1.5 or rest_memory > 1.5
    requests = (f"the same {small.requests.total()} requests" if small.requests == large.requests else
                f"{small.requests.total()} -> {large.requests.total()} requests")
    return [
        f"{large.orders / small.orders:g}x the orders: build time"
        f" x{ratio(large.median_seconds, small.median_seconds):.2f}, without its collect x{rest_time:.2f}; peak memory"
        f" {memory_growth / 1_048_576:+.1f} MB, of which",
        f"its collect {collect_growth / 1_048_576:+.1f} MB; {requests}. Apart from its collect, build time and"
        f" memory {'GROW' if grows else 'do not grow'}",
        "with the order count: a build reads the month's rollups, days x (summary, SKUs, methods, channels, couriers,",
        f"KPI stages, return reasons): {small.items_read:,} vs {large.items_read:,} items, bounded by the catalog"
        " and the ways the shop sells,",
        "not by the orders. The first collect after a day is over reads again the orders changed in its last 120 s",
        f"({small.reread_orders} vs {large.reread_orders}; none counted, their markers are complete) and moves the"
        " day's watermark to its last",
        "change: nothing can be filed under a closed day any more, so later builds and runs read nothing of it.",
    ]


def print_collector_cost(results: list[CollectorResult], prices: Prices, assumptions: Assumptions) -> None:
    if not results:
        return
    row = _table([f"{result.orders_per_month:,}/month" for result in results], width=22)
    for line in (
            "Keeping the rollups: the real collector (reports.service.collect of yesterday and today, as the schedule",
            f"runs it every {COLLECT_EVERY_MINUTES} min) replayed over a window of the month above, from where a run"
            " at its start left the",
            "orders table, markers and watermarks: every 5 minutes the orders that changed are written as they were",
            "then, and one run is counted. Per order: what the runs cost beyond idle runs, divided by the orders the",
            "window holds (timeline entries counted / entries per order). moto copies a whole table for each item of",
            "a transaction, so the tables hold only what the collector can reach (see measure_collector).",
    ):
        print(f"    {line}")
    per = [result.per_order() for result in results]
    row("orders a month", [f"{result.orders_per_month:,}" for result in results])
    row("window (UTC start, minutes, runs)",
        [f"{r.window_start[5:10]} {r.window_start[11:16]}Z {r.window_minutes}m {r.runs}" for r in results])
    row("orders changed / entries counted", [f"{r.changed_orders:,} / {r.entries:,}" for r in results])
    row("entries per order / orders in the window",
        [f"{r.entries_per_order:.1f} / {r.order_equivalents:.0f}" for r in results])
    row("per order: reads by the by-activity Query",
        [f"{p['orders_read']:.2f} ({p['orders_read'] / r.entries_per_order:.2f}/entry)"
         for p, r in zip(per, results, strict=True)])
    row("  Query pages beyond one per day and run", [f"{p['query_pages']:.2f}" for p in per])
    row("per order: BatchGetItem calls", [f"{p['batch_gets']:.2f}" for p in per])
    row("  keys: progress markers / customers' first days",
        [f"{p['progress_keys']:.2f} / {p['customer_keys']:.2f}" for p in per])
    row("per order: TransactWriteItems / items in them",
        [f"{p['transactions']:.2f} / {p['transaction_items']:.1f}" for p in per])
    row("per order: UpdateItem (the day's watermark)", [f"{p['watermark_updates']:.2f}" for p in per])
    row("per order: requests beyond idle runs", [f"{p['requests']:.2f}" for p in per])
    row("per order: DynamoDB WRU / RRU", [f"{p['wru']:.1f} / {p['rru']:.1f}" for p in per])
    costs = [rollup_cost_per_thousand(p, prices) for p in per]
    row("per 1,000 orders: DynamoDB writes (USD)", [f"{c['writes']:.4f}" for c in costs])
    row("per 1,000 orders: DynamoDB reads (USD)", [f"{c['reads']:.4f}" for c in costs])
    row("per 1,000 orders: keeping the rollups (USD)", [f"{c['total']:.4f}" for c in costs])
    row("rollups written = facts() summed, markers complete",
        ["ok" if not r.differences and not r.missed else f"{len(r.differences)} DIFFER, {r.missed} missed"
         for r in results])
    row("replay time (s)", [f"{r.seconds:.1f}" for r in results])
    for result in results:
        for difference in result.differences[:5]:
            print(f"      {result.orders_per_month:,}/month: {difference}")
    idle = results[0].idle
    invocations, lambda_cost = monthly_schedule_cost([COLLECT_EVERY_MINUTES], prices, assumptions)
    idle_rru = read_units(idle.calls) * invocations
    idle_calls = ", ".join(f"{name} x{count}" for name, count in sorted(idle.items()))
    for line in (
            f"Fixed whatever the orders: the schedule's {invocations:,} invocations a month (Lambda"
            f" ${lambda_cost:.4f} at {assumptions.lambda_memory_mb} MB x",
            f"{assumptions.lambda_average_ms:g} ms), each idle run {idle_calls} ({read_units(idle.calls):g} RRU):"
            f" {idle_rru:,.0f} RRU, ${idle_rru * prices.dynamodb_per_million_rru / 1e6:.4f}",
            "a month. A busier run lasts longer: Lambda duration is the assumption of (c), not measured. DynamoDB",
            f"on-demand at ${prices.dynamodb_per_million_wru:g} per 1M WRU, ${prices.dynamodb_per_million_rru:g}"
            " per 1M RRU; a transaction item 2 WRU, a consistent read 1 RRU per",
            "started 4 KB, a Query page its items' size in started 4 KB, half as it is eventually consistent (sizes",
            "as moto returned them).",
    ):
        print(f"    {line}")
    print()


def rollup_cost_per_thousand(per_order: Mapping[str, float], prices: Prices) -> dict[str, float]:
    writes = per_order["wru"] * 1000 * prices.dynamodb_per_million_wru / 1e6
    reads = per_order["rru"] * 1000 * prices.dynamodb_per_million_rru / 1e6
    return {"writes": writes, "reads": reads, "total": writes + reads}


def main() -> None:
    print_report_builds(measure())


if __name__ == "__main__":
    main()


