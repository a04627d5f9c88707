"""A sales report from the day rollups: periods, and the tables finance reads. Plain Python.

Building reads only the rollups of the period's days (plus the catalog and stock for names, categories and
stock value), so its cost grows with days and products, never with the number of orders.

Money is whole Rupiah. Definitions, as the summary states them:
- gross sales: the goods sold at their prices (PPN included); discounts: vouchers; shipping charged;
- sales total: what customers paid (gross - discounts + shipping), on the day the money became the shop's;
- refunds: money going back, on the day the shop gives it back (a gateway refund at once; a bank-transfer payout
  on the day the shop commits to it, whenever finance then transfers); net sales: sales total - refunds.

After the sale, from the same rollups (each counted by its area in the transaction of the fact itself):
- reviews on the day staff approved them (reviews), tickets on the day each was opened, first answered, resolved
  and rated (tickets);
- loyalty points moved per day (loyalty); the points liability at the end of a period is the points outstanding
  now minus what moved balances on every day after the period up to today (`points_liability`), valued at the
  configured Rupiah per point.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from chalicelib.errors import ValidationFailed
from chalicelib.reports.facts import KPI_STAGES, SUMMARY
from chalicelib.reports.tables import Cell, Column, ReportTable

DAILY, WEEKLY, MONTHLY, CUSTOM = "daily", "weekly", "monthly", "custom"
PERIODS = (DAILY, WEEKLY, MONTHLY, CUSTOM)
MAX_CUSTOM_DAYS = 366
DATE_PATTERN = r"\d{4}-\d{2}-\d{2}"  # a business day (Asia/Jakarta), YYYY-MM-DD
REPORT_ID_PATTERN = r"(daily|weekly|monthly)-\d{4}-\d{2}-\d{2}|custom-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}"
REPORT_ID_MAX = 40
QUEUED, BUILDING, READY, FAILED = "queued", "building", "ready", "failed"

Rollups = Mapping[str, Mapping[str, Mapping[str, Any]]]  # day -> key -> {counter: int, label_x: text}


@dataclass(frozen=True)
class Period:
    kind: str
    first: date
    last: date

    @property
    def days(self) -> list[str]:
        span = (self.last - self.first).days + 1
        return [(self.first + timedelta(days=offset)).isoformat() for offset in range(span)]

    @property
    def report_id(self) -> str:
        """Stable per period: rebuilding a closed period replaces its files, the CSVs byte for byte identical (the
        workbook and manifest carry the new build time)."""
        if self.kind == CUSTOM:
            return f"custom-{self.first.isoformat()}-{self.last.isoformat()}"
        return f"{self.kind}-{self.first.isoformat()}"

    @property
    def prefix(self) -> str:
        """Where its files go in the reports bucket: reports/daily/2026/12/01/, reports/monthly/2026/12/, ..."""
        if self.kind == MONTHLY:
            return f"reports/monthly/{self.first:%Y/%m}/"
        if self.kind == CUSTOM:
            return f"reports/custom/{self.first.isoformat()}_{self.last.isoformat()}/"
        return f"reports/{self.kind}/{self.first:%Y/%m/%d}/"


def period_of(kind: str, first: date, last: date | None = None) -> Period:
    """The period of `kind` starting at `first` (daily: that day; weekly: Monday to Sunday; monthly: the
    calendar month); custom needs `last`."""
    if kind == DAILY:
        return Period(kind, first, first)
    if kind == WEEKLY:
        monday = first - timedelta(days=first.weekday())
        return Period(kind, monday, monday + timedelta(days=6))
    if kind == MONTHLY:
        start = first.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return Period(kind, start, following - timedelta(days=1))
    if last is None:
        raise ValueError("a custom period needs its last day")
    return Period(CUSTOM, first, last)


def custom_period(date_from: str, date_to: str, *, today: date) -> Period:
    """Finance's range, checked: ISO dates, from <= to, not in the future, at most a year."""
    first, last = _day("from", date_from), _day("to", date_to)
    if last < first:
        raise ValidationFailed("to", "must not be before from")
    if last > today:
        raise ValidationFailed("to", f"must not be after today ({today.isoformat()}, Asia/Jakarta)")
    if (last - first).days + 1 > MAX_CUSTOM_DAYS:
        raise ValidationFailed("to", f"a report covers at most {MAX_CUSTOM_DAYS} days")
    return Period(CUSTOM, first, last)


def _day(field: str, text: str) -> date:
    if not re.fullmatch(DATE_PATTERN, text or ""):
        raise ValidationFailed(field, "must be a date YYYY-MM-DD (Asia/Jakarta business day)")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(field, f"{text} is not a date") from None


# ---- reading the rollups -----------------------------------------------------------------------------------


def _sum(rollups: Rollups, days: Iterable[str], key: str) -> dict[str, int]:
    total: dict[str, int] = {}
    for day in days:
        for name, value in (rollups.get(day, {}).get(key) or {}).items():
            if isinstance(value, int):
                total[name] = total.get(name, 0) + value
    return total


def _keys(rollups: Rollups, days: Iterable[str], prefix: str) -> dict[str, dict[str, Any]]:
    """Every rollup key of the days starting with `prefix`, its counters summed and its latest labels."""
    found: dict[str, dict[str, Any]] = {}
    for day in days:
        for key, values in (rollups.get(day) or {}).items():
            if not key.startswith(prefix):
                continue
            merged = found.setdefault(key, {})
            for name, value in values.items():
                if isinstance(value, int):
                    merged[name] = merged.get(name, 0) + value
                elif value is not None:
                    merged[name] = value
    return found


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def average(total: int, count: int, *, per: int = 1) -> float | None:
    """total / count (divided again by `per`, e.g. 3600 for seconds to hours), half up to one decimal; None when
    there is nothing to average (an empty cell in the report, never 0)."""
    if count <= 0:
        return None
    exact = Decimal(total) / (Decimal(count) * Decimal(per))
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def percentile(histogram: Mapping[str, int], fraction: float) -> int | None:
    """The whole-hour bucket holding the given fraction of the counted durations ({"h12": 3, ...})."""
    buckets = sorted((int(name[1:]), count) for name, count in histogram.items()
                     if re.fullmatch(r"h\d+", name) and count > 0)
    total = sum(count for _, count in buckets)
    if not total:
        return None
    rank, seen = fraction * total, 0
    for hours, count in buckets:
        seen += count
        if seen >= rank:
            return hours
    return buckets[-1][0]


# ---- loyalty points: what moved balances, and the liability at a period's end ------------------------------------

POINT_COUNTERS = ("points_earned", "points_redeemed", "points_returned", "points_reversed", "points_shortfall",
                  "points_expired", "points_adjusted")
# How each counter moved customers' balances; a shortfall (reversal points a balance could not cover) moved none,
# and an adjustment is counted signed.
_POINTS_MOVE = {"points_earned": 1, "points_redeemed": -1, "points_returned": 1, "points_reversed": -1,
                "points_expired": -1, "points_adjusted": 1}


def points_moved(summary: Mapping[str, Any]) -> int:
    """By how much one day's (or a sum of days') point counters moved the points customers hold together."""
    return sum(sign * int(summary.get(name) or 0) for name, sign in _POINTS_MOVE.items())


def days_after(last: date, today: date) -> list[str]:
    """The business days after `last` up to and including `today`: none when a period ends today or later."""
    return [(last + timedelta(days=offset)).isoformat() for offset in range(1, (today - last).days + 1)]


def points_liability(outstanding_now: int, later: Rollups) -> int:
    """The points customers held at the end of a period's last day: the points outstanding now minus what moved
    balances on each day after it up to today (`later`: the rollups of exactly those days, see `days_after`)."""
    return outstanding_now - sum(points_moved((items or {}).get(SUMMARY) or {}) for items in later.values())


@dataclass(frozen=True)
class Points:
    """What the build reads for the points liability besides the period's rollups."""

    outstanding_now: int = 0  # tallies.service.points_outstanding() when the report is built
    later: Rollups = field(default_factory=dict)  # the rollups of the days after the period, up to today
    point_value: int = 0  # Rupiah per point (config.point_value_rupiah)

    @property
    def liability(self) -> int:
        return points_liability(self.outstanding_now, self.later)


# ---- the tables ------------------------------------------------------------------------------------------------

RP, INT, PCT, HRS, DEC = "rupiah", "int", "percent", "hours", "decimal"
HOUR = 3600
SATISFIED = "csat_satisfied"  # ratings of 4 or 5 stars, counted by tickets


def _cols(*specs: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(key, title, kind) for key, title, kind in specs)


@dataclass(frozen=True)
class Catalog:
    """What the build reads besides the rollups: product names and categories, stock levels and prices."""

    products: Mapping[str, Mapping[str, str]]  # product_id -> {"name", "category"}
    stock: tuple[Mapping[str, Any], ...] = ()  # [{sku, product_id, name, on_hand, reserved, price, low_stock}]
    ratings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # product_id -> {"average", "count"}


def summary_table(rollups: Rollups, days: list[str], points: Points | None = None) -> ReportTable:
    s = _sum(rollups, days, SUMMARY)
    g = s.get
    points = points or Points()
    liability = points.liability
    sales_total, refunds = g("sales_total", 0), g("refunds", 0)
    sold, placed = g("orders_sold", 0), g("orders_placed", 0)
    rows: list[tuple[str, str, int | float | None]] = [
        ("orders_placed", "Pesanan dibuat / orders placed", placed),
        ("orders_sold", "Pesanan terjual (dibayar) / orders sold", sold),
        ("units", "Unit terjual / units sold", g("units", 0)),
        ("gross_sales", "Penjualan kotor / gross sales", g("gross", 0)),
        ("discounts", "Diskon / discounts", g("discount", 0)),
        ("shipping_charged", "Ongkos kirim ditagih / shipping charged", g("shipping_charged", 0)),
        ("sales_total", "Total penjualan / sales total", sales_total),
        ("refunds", "Pengembalian dana / refunds", -refunds),
        ("net_sales", "Penjualan bersih / net sales", sales_total - refunds),
        ("ppn_included", "PPN termasuk / PPN included", g("ppn", 0)),
        ("average_order_value", "Rata-rata nilai pesanan / average order value", sales_total // sold if sold else 0),
        ("cancellation_rate", "Tingkat pembatalan % / cancellation rate", _rate(g("orders_cancelled", 0), placed)),
        ("expiry_rate", "Tingkat kedaluwarsa % / expiry rate", _rate(g("orders_expired", 0), placed)),
        ("reviews_approved", "Ulasan disetujui / reviews approved", g("reviews_approved", 0)),
        ("average_rating", "Rata-rata bintang ulasan (periode) / average rating (period)",
         average(g("review_stars", 0), g("reviews_approved", 0))),
        ("tickets_opened", "Tiket dibuka / tickets opened", g("tickets_opened", 0)),
        ("average_first_response_hours", "Rata-rata respons pertama (jam) / average first response (hours)",
         average(g("first_response_seconds", 0), g("tickets_first_responses", 0), per=HOUR)),
        ("average_resolution_hours", "Rata-rata waktu penyelesaian (jam) / average resolution time (hours)",
         average(g("resolution_seconds", 0), g("tickets_resolved", 0), per=HOUR)),
        ("csat_average", "CSAT rata-rata (1-5) / CSAT average", average(g("csat_score", 0), g("csat_ratings", 0))),
        ("csat_satisfied_rate", "CSAT puas % (4-5 bintang) / CSAT satisfied % (4-5 stars)",
         _rate(g(SATISFIED, 0), g("csat_ratings", 0))),
        ("points_earned", "Poin diberikan / points earned", g("points_earned", 0)),
        ("points_redeemed", "Poin ditukar / points redeemed", g("points_redeemed", 0)),
        ("points_reversed", "Poin ditarik kembali / points reversed", g("points_reversed", 0)),
        ("points_expired", "Poin kedaluwarsa / points expired", g("points_expired", 0)),
        ("points_liability", "Kewajiban poin akhir periode (poin) / points liability at period end (points)",
         liability),
        ("points_liability_value", "Kewajiban poin akhir periode (Rp) / points liability at period end (Rupiah)",
         liability * points.point_value),
    ]
    return ReportTable("summary", "Ringkasan penjualan", _cols(("metric", "Metric", "text"),
                                                                ("label", "Keterangan", "text"),
                                                                ("value", "Nilai", "text")),
                       tuple((key, label, value) for key, label, value in rows),
                       notes=("Net sales = sales total - refunds; a refund counts on the day it was made.",
                              "Reviews count on the day approved; first responses, resolutions and ratings of "
                              "tickets on the day they happened. A resolution's time is the ticket's whole unresolved "
                              "time up to it (a reopened ticket's next resolution counts again, with its new "
                              "total). An empty cell: nothing to average.",
                              "Points liability: the points customers hold at the end of the period's last day, "
                              "valued at the shop's Rupiah per point."))


def by_day_table(rollups: Rollups, days: list[str]) -> ReportTable:
    rows = []
    for day in days:
        s = _sum(rollups, [day], SUMMARY)
        total, refunds = s.get("sales_total", 0), s.get("refunds", 0)
        rows.append((day, s.get("orders_placed", 0), s.get("orders_sold", 0), s.get("units", 0), s.get("gross", 0),
                     s.get("discount", 0), s.get("shipping_charged", 0), total, -refunds, total - refunds))
    return ReportTable("sales_by_day", "Penjualan per hari", _cols(
        ("day", "Tanggal", "text"), ("orders_placed", "Pesanan dibuat", INT), ("orders_sold", "Pesanan terjual", INT),
        ("units", "Unit", INT), ("gross_sales", "Penjualan kotor", RP), ("discounts", "Diskon", RP),
        ("shipping_charged", "Ongkir ditagih", RP), ("sales_total", "Total penjualan", RP),
        ("refunds", "Pengembalian dana", RP), ("net_sales", "Penjualan bersih", RP)),
        tuple(rows), chart="line", chart_value="net_sales")


def by_product_table(rollups: Rollups, days: list[str], catalog: Catalog) -> ReportTable:
    skus = _keys(rollups, days, "sku#")
    rows = []
    for key, values in sorted(skus.items(), key=lambda item: (-item[1].get("net", 0), item[0])):
        product_id = str(values.get("label_product_id") or "")
        product = catalog.products.get(product_id) or {}
        rows.append((key.removeprefix("sku#"), product_id, str(product.get("name") or values.get("label_name") or ""),
                     str(product.get("category") or ""), values.get("units", 0), values.get("gross", 0),
                     values.get("net", 0)))
    return ReportTable("sales_by_product", "Penjualan per produk", _cols(
        ("sku", "SKU", "text"), ("product_id", "Produk", "text"), ("name", "Nama", "text"),
        ("category", "Kategori", "text"), ("units", "Unit", INT), ("gross_sales", "Penjualan kotor", RP),
        ("net_of_discount", "Setelah diskon", RP)), tuple(rows),
        notes=("Units and sales on the day each order was paid; refunds are not split by product.",))


def by_category_table(products: ReportTable) -> ReportTable:
    totals: dict[str, list[int]] = {}
    for row in products.rows:
        category = str(row[3] or "(tanpa kategori)")
        units, gross, net = (int(value or 0) for value in row[4:7])
        entry = totals.setdefault(category, [0, 0, 0])
        entry[0] += units
        entry[1] += gross
        entry[2] += net
    rows: tuple[tuple[Cell, ...], ...] = tuple(
        (category, values[0], values[1], values[2])
        for category, values in sorted(totals.items(), key=lambda item: (-item[1][2], item[0])))
    return ReportTable("sales_by_category", "Penjualan per kategori", _cols(
        ("category", "Kategori", "text"), ("units", "Unit", INT), ("gross_sales", "Penjualan kotor", RP),
        ("net_of_discount", "Setelah diskon", RP)), rows, chart="column", chart_value="net_of_discount")


def payment_methods_table(rollups: Rollups, days: list[str]) -> ReportTable:
    rows = []
    for key, v in sorted(_keys(rollups, days, "method#").items()):
        placed, paid, ended = v.get("placed_amount", 0), v.get("paid_amount", 0), v.get("ended_unpaid_amount", 0)
        rows.append((key.removeprefix("method#"), v.get("placed_count", 0), placed, v.get("paid_count", 0), paid,
                     max(0, placed - paid - ended), ended, v.get("refunded_amount", 0)))
    return ReportTable("payment_methods", "Metode pembayaran", _cols(
        ("method", "Metode", "text"), ("orders_placed", "Pesanan dibuat", INT), ("placed_amount", "Nilai dibuat", RP),
        ("orders_paid", "Pesanan dibayar", INT), ("paid_amount", "Dibayar", RP), ("pending_amount", "Menunggu", RP),
        ("ended_unpaid_amount", "Batal tanpa bayar", RP), ("refunded_amount", "Dikembalikan", RP)), tuple(rows),
        chart="pie", chart_value="paid_amount",
        notes=("Pending = placed - paid - ended unpaid within the period: orders placed near its end may still "
               "be paid after it.",))


def channels_table(rollups: Rollups, days: list[str]) -> ReportTable:
    found = _keys(rollups, days, "channel#")
    total = sum(values.get("sales_total", 0) for values in found.values())
    rows = tuple((str(v.get("label_channel") or key.split("#")[1]), str(v.get("label_utm_source") or "-"),
                  v.get("orders", 0), v.get("sales_total", 0), _rate(v.get("sales_total", 0), total))
                 for key, v in sorted(found.items(), key=lambda item: -item[1].get("sales_total", 0)))
    return ReportTable("channels", "Kanal pemasaran", _cols(
        ("channel", "Kanal", "text"), ("utm_source", "UTM source", "text"), ("orders_sold", "Pesanan terjual", INT),
        ("sales_total", "Total penjualan", RP), ("share", "Porsi %", PCT)), rows)


def conversion_table(rollups: Rollups, days: list[str]) -> ReportTable:
    s = _sum(rollups, days, SUMMARY)
    carts, placed, views, sold = (s.get("carts_created", 0), s.get("orders_placed", 0), s.get("product_views", 0),
                                  s.get("orders_sold", 0))
    rows = (("carts_to_orders", carts, placed, _rate(placed, carts)),
            ("views_to_orders", views, sold, _rate(sold, views) if views else None))
    return ReportTable("conversion", "Konversi", _cols(
        ("step", "Tahap", "text"), ("from_count", "Dari", INT), ("to_count", "Menjadi", INT),
        ("rate", "Konversi %", PCT)), rows,
        notes=("Product views count only where the storefront reports them (POST /products/{id}/views).",))


def retention_table(rollups: Rollups, days: list[str]) -> ReportTable:
    s = _sum(rollups, days, SUMMARY)
    new, returning = s.get("new_customers", 0), s.get("returning_customers", 0)
    rows = (("new_customers", new), ("returning_customers", returning),
            ("repeat_purchase_rate", _rate(returning, new + returning)))
    return ReportTable("retention", "Retensi pelanggan",
                       _cols(("metric", "Metric", "text"), ("value", "Nilai", "text")), rows,
                       notes=("A customer is their account, or for guests their email address (hashed).",))


def shipping_table(rollups: Rollups, days: list[str]) -> ReportTable:
    rows = tuple((str(v.get("label_courier") or key.split("#")[1]), str(v.get("label_service") or key.split("#")[2]),
                  v.get("parcels", 0), v.get("charged", 0), v.get("courier_cost", 0),
                  v.get("charged", 0) - v.get("courier_cost", 0))
                 for key, v in sorted(_keys(rollups, days, "ship#").items()))
    return ReportTable("shipping", "Pengiriman", _cols(
        ("courier", "Kurir", "text"), ("service", "Layanan", "text"), ("parcels", "Paket", INT),
        ("charged", "Ongkir ditagih", RP), ("courier_cost", "Biaya kurir", RP), ("difference", "Selisih", RP)),
        rows, notes=("Courier cost as booked; a later weight correction by the courier is not included.",))


def fulfilment_table(rollups: Rollups, days: list[str]) -> ReportTable:
    rows = []
    for stage in KPI_STAGES:
        histogram = _sum(rollups, days, f"kpi#{stage}")
        rows.append((stage, histogram.get("count", 0), percentile(histogram, 0.5), percentile(histogram, 0.9)))
    return ReportTable("fulfilment", "Kecepatan pemrosesan", _cols(
        ("stage", "Tahap", "text"), ("orders", "Pesanan", INT), ("median_hours", "Median (jam)", HRS),
        ("p90_hours", "Persentil 90 (jam)", HRS)), tuple(rows),
        notes=("Hours counted per whole hour, on the day the stage ended; COD orders count from placement.",))


def returns_table(rollups: Rollups, days: list[str]) -> ReportTable:
    s = _sum(rollups, days, SUMMARY)
    opened, delivered = s.get("returns_opened", 0), s.get("orders_delivered", 0)
    rows: list[tuple[str, int, int, float | None]] = [("all", opened, s.get("returned_units", 0),
                                                       _rate(opened, delivered))]
    for key, v in sorted(_keys(rollups, days, "reason#").items()):
        rows.append((key.removeprefix("reason#"), v.get("returns", 0), v.get("units", 0),
                     _rate(v.get("returns", 0), opened)))
    return ReportTable("returns", "Retur", _cols(
        ("reason", "Alasan", "text"), ("returns", "Retur", INT), ("units", "Unit", INT), ("rate", "Persen %", PCT)),
        tuple(rows), notes=("The 'all' rate is returns opened per order delivered in the period; a reason's rate is "
                            "its share of the returns.",))


def inventory_table(catalog: Catalog) -> ReportTable:
    rows = []
    for level in sorted(catalog.stock, key=lambda item: str(item["sku"])):
        on_hand, price = int(level.get("on_hand") or 0), int(level.get("price") or 0)
        rows.append((str(level["sku"]), str(level.get("name") or ""), on_hand, int(level.get("reserved") or 0),
                     price, on_hand * price, "ya" if level.get("low_stock") else ""))
    return ReportTable("inventory", "Persediaan", _cols(
        ("sku", "SKU", "text"), ("name", "Nama", "text"), ("on_hand", "Stok", INT), ("reserved", "Dipesan", INT),
        ("price", "Harga", RP), ("stock_value", "Nilai stok (harga jual)", RP), ("low_stock", "Stok menipis", "text")),
        tuple(rows), notes=("Stock at the end of the period's last day (taken by the first build after it; for a "
                            "period ending today, stock now), valued at selling price (PPN included).",))


def _reviewed(rollups: Rollups, days: Iterable[str]) -> dict[str, dict[str, Any]]:
    return {key: values for key, values in _keys(rollups, days, "product#").items()
            if values.get("reviews_approved", 0) > 0}


def reviewed_products(rollups: Rollups, days: list[str]) -> list[str]:
    """The products with reviews approved on these days (the rows of the ratings table)."""
    return sorted(key.removeprefix("product#") for key in _reviewed(rollups, days))


def ratings_table(rollups: Rollups, days: list[str], catalog: Catalog) -> ReportTable:
    rows = []
    reviewed = _reviewed(rollups, days)
    for key, values in sorted(reviewed.items(), key=lambda item: (-item[1]["reviews_approved"], item[0])):
        product_id = key.removeprefix("product#")
        product = catalog.products.get(product_id) or {}
        all_time = catalog.ratings.get(product_id) or {}
        count = values["reviews_approved"]
        rows.append((product_id, str(product.get("name") or values.get("label_name") or ""), count,
                     average(values.get("review_stars", 0), count), all_time.get("average"), all_time.get("count")))
    return ReportTable("ratings", "Ulasan produk", _cols(
        ("product_id", "Produk", "text"), ("name", "Nama", "text"), ("reviews_approved", "Ulasan disetujui", INT),
        ("average_stars", "Rata-rata bintang", DEC), ("all_time_average", "Rata-rata sepanjang waktu", DEC),
        ("all_time_reviews", "Ulasan sepanjang waktu", INT)), tuple(rows),
        notes=("Products with reviews approved in the period, counted on the day each was approved. All-time: the "
               "product's rating over every approved review, for a period ending today as it is now, else as recorded "
               "by the first build after the period's last day (so rebuilding it shows the same).",))


def customer_service_table(rollups: Rollups, days: list[str]) -> ReportTable:
    opened = _sum(rollups, days, SUMMARY).get("tickets_opened", 0)
    rows: list[tuple[str, int, float | None]] = [("all", opened, _rate(opened, opened))]
    categories = _keys(rollups, days, "ticket_category#")
    for key, values in sorted(categories.items(), key=lambda item: (-item[1].get("tickets_opened", 0), item[0])):
        count = values.get("tickets_opened", 0)
        rows.append((str(values.get("label_name") or key.removeprefix("ticket_category#")), count,
                     _rate(count, opened)))
    return ReportTable("customer_service", "Layanan pelanggan", _cols(
        ("category", "Kategori", "text"), ("tickets_opened", "Tiket dibuka", INT), ("share", "Porsi %", PCT)),
        tuple(rows), notes=("Tickets on the day each was opened; 'all' is every ticket of the period. First-response "
                            "and resolution times and the customers' ratings are in the summary.",))


def loyalty_table(rollups: Rollups, days: list[str], points: Points) -> ReportTable:
    """Points moved per day, and what customers held at the end of each day (the last one: the liability at the
    period's end), worked back from the points outstanding now."""
    moved = [_sum(rollups, [day], SUMMARY) for day in days]
    balance = points.liability
    balances: list[int] = []
    for summary in reversed(moved):  # the end of a day = the end of the next day minus what moved on the next day
        balances.append(balance)
        balance -= points_moved(summary)
    balances.reverse()
    rows: list[tuple[Cell, ...]] = []
    for day, summary, held in zip(days, moved, balances, strict=True):
        rows.append((day, *(summary.get(name, 0) for name in POINT_COUNTERS), points_moved(summary), held,
                     held * points.point_value))
    whole = _sum(rollups, days, SUMMARY)
    rows.append(("total", *(whole.get(name, 0) for name in POINT_COUNTERS), points_moved(whole), points.liability,
                 points.liability * points.point_value))
    return ReportTable("loyalty", "Poin loyalitas", _cols(
        ("day", "Tanggal", "text"), ("points_earned", "Poin diberikan", INT), ("points_redeemed", "Poin ditukar", INT),
        ("points_returned", "Poin dikembalikan (batal)", INT), ("points_reversed", "Poin ditarik (refund)", INT),
        ("points_shortfall", "Poin tak tertarik (saldo kurang)", INT), ("points_expired", "Poin kedaluwarsa", INT),
        ("points_adjusted", "Penyesuaian staf", INT), ("net_change", "Perubahan bersih", INT),
        ("points_outstanding", "Saldo poin akhir hari", INT), ("outstanding_value", "Nilai saldo (Rp)", RP)),
        tuple(rows), notes=(
            "Net change = earned - redeemed + returned - reversed - expired + adjusted (adjustments are signed; a "
            "shortfall is reversal points a balance could not cover, so it moves nothing).",
            "Balance: the points customers hold at the end of the day, worked back from the points outstanding when "
            "the report was built; the 'total' row's balance is the liability at the end of the period, valued at "
            f"Rp {points.point_value} a point.",
        ))


def build_tables(rollups: Rollups, days: list[str], catalog: Catalog,
                 points: Points | None = None) -> list[ReportTable]:
    points = points or Points()
    products = by_product_table(rollups, days, catalog)
    return [summary_table(rollups, days, points), by_day_table(rollups, days), products, by_category_table(products),
            payment_methods_table(rollups, days), channels_table(rollups, days), conversion_table(rollups, days),
            retention_table(rollups, days), shipping_table(rollups, days), fulfilment_table(rollups, days),
            returns_table(rollups, days), inventory_table(catalog), ratings_table(rollups, days, catalog),
            customer_service_table(rollups, days), loyalty_table(rollups, days, points)]
