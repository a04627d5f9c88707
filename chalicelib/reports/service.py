"""Sales reports: counting order facts into the day rollups exactly once, building a period's report from the
rollups into CSV, XLSX and a manifest in S3, and handing finance short-lived download links. The after-sale
figures (reviews, tickets, loyalty points) are counted into the same rollups by their own areas, each in the
transaction of its fact; a build only reads them, with the points outstanding now for the liability.

Why a collector, not a stream: every fact is an entry on its order's timeline, written with the order in one
version-conditioned save. The collector reads the orders that changed (the orders table's `by-activity` index,
by business day and time of change) and counts the entries it has not counted yet, in one transaction with the
order's progress marker in the rollups table (item `order#<id>` / `facts`, attribute `applied`). So an entry
is counted once however often the collector runs, meets it again or races another run, and nothing is lost when
a queue or a workflow delivers twice. It runs every 5 minutes and before every build (over the period's days).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib import aws, clock, config, resources
from chalicelib.catalog import service as catalog
from chalicelib.errors import NotFound
from chalicelib.inventory import service as inventory
from chalicelib.notifications import service as notifications
from chalicelib.observability import logger, metrics
from chalicelib.orders import service as orders
from chalicelib.orders.domain import Order
from chalicelib.reports import domain, files, repository
from chalicelib.reports.domain import CUSTOM, DAILY, MONTHLY, WEEKLY, Catalog, Period, Points
from chalicelib.reports.facts import SUMMARY, customer_identity, facts, is_sale
from chalicelib.reports.tables import ReportMeta
from chalicelib.tallies import service as rollups
from chalicelib.tallies.domain import Delta

COLLECT_LAG_SECONDS = 120  # the index is eventually consistent: look a little behind the last change seen
DOWNLOAD_SECONDS = 900
STALE_BUILD = timedelta(minutes=30)  # longer than the builder's timeout and the queue's visibility: it died


# ---- counting facts ---------------------------------------------------------------------------------------------


def _watermark_key(day: str) -> tuple[str, str]:
    return f"collected#{day}", "mark"


def collect(days: Iterable[str]) -> dict[str, int]:
    """Count the not yet counted timeline entries of every order that changed on these business days."""
    counts = {"orders": 0, "facts": 0, "raced": 0}
    for day in days:
        since = rollups.watermark(day)
        cursor: Any = None
        newest = since
        while True:
            page, cursor = orders.active_on(day, since=since, cursor=cursor)
            _count_page(page, counts)
            if page:
                newest = max(newest, max(order.updated_at for order in page))
            if not cursor:
                break
        # Behind the newest change by the index's lag while the day is open; once it is long over nothing new can
        # be indexed under it (a later change files the order under the later day), so up to the newest change.
        if _closed(day):
            target = newest
        elif newest > since:
            target = max(since, clock.iso(clock.parse_iso(newest) - timedelta(seconds=COLLECT_LAG_SECONDS)))
        else:
            target = since
        if target > since:
            rollups.set_watermark(day, target)
    if counts["facts"]:
        metrics.add_metric(name="ReportFactsCounted", unit=MetricUnit.Count, value=counts["facts"])
    return counts


def _closed(day: str) -> bool:
    """The business day ended (midnight WIB) more than the index's lag ago."""
    end = clock.parse_iso(f"{date.fromisoformat(day) + timedelta(days=1)}T00:00:00+07:00")
    return clock.now() > end + timedelta(seconds=2 * COLLECT_LAG_SECONDS)


def _count_page(page: list[Order], counts: dict[str, int]) -> None:
    if not page:
        return
    progress = rollups.progress_of([order.order_id for order in page])
    pending = [order for order in page if progress.get(order.order_id, 0) < len(order.timeline)]
    if not pending:
        return
    buying = {customer_identity(order) for order in pending  # only a sale needs to know the customer
              if any(is_sale(order, entry.event) for entry in order.timeline[progress.get(order.order_id, 0):])}
    known = rollups.first_days(sorted(buying)) if buying else {}
    for order in pending:
        counts["orders"] += 1
        identity = customer_identity(order)
        counted = count_order(order, applied=progress.get(order.order_id), first_day=known.get(identity))
        if counted is None:
            counts["raced"] += 1
            continue
        counts["facts"] += counted
        if counted and any(is_sale(order, entry.event) for entry in order.timeline):
            known.setdefault(identity, "seen")


def count_order(order: Order, *, applied: int | None, first_day: str | None) -> int | None:
    """Count the order's entries after `applied`, in transactions of at most DynamoDB's 100 items, each moving
    the order's marker on; None when another run counted them first."""
    start, done = applied or 0, 0
    before = applied
    identity = customer_identity(order)
    while start < len(order.timeline):
        end = start + 1
        batch = facts(order, start, end, first_purchase_day=first_day)
        while end < len(order.timeline):  # as many entries as fit in one transaction
            wider = facts(order, start, end + 1, first_purchase_day=first_day)
            if rollups.items_for(wider.deltas, 1) > rollups.MAX_ITEMS:
                break
            batch, end = wider, end + 1
        new_customers = {identity: batch.first_purchase_day} if batch.first_purchase_day else {}
        outcome = rollups.apply_once(order.order_id, applied_before=before, applied_after=end, deltas=batch.deltas,
                                     new_customers=new_customers)
        if outcome == rollups.CUSTOMER_KNOWN:  # another run recorded this customer first: count as returning
            known = rollups.first_days([identity]).get(identity)
            if known is None:
                raise RuntimeError(f"customer of {order.order_id} is recorded and not found")
            first_day = known
            continue
        if outcome == rollups.RACED:
            return None if not done else done
        if batch.first_purchase_day:
            first_day = batch.first_purchase_day
        done += end - start
        before, start = end, end
    return done


# ---- building a report -----------------------------------------------------------------------------------------


def today() -> date:
    return date.fromisoformat(clock.business_day(clock.now()))


def request(period: Period, *, actor: str, rebuild: bool = True) -> tuple[dict[str, Any], bool]:
    """Queue a build (202); asking again while it is queued or building answers the same report. Without
    `rebuild`, a report that exists at all is left as it is (the schedule)."""
    now = clock.now()
    report, new = repository.queue(period.report_id, period=period.kind, date_from=period.first.isoformat(),
                                   date_to=period.last.isoformat(), prefix=period.prefix, requested_by=actor,
                                   requested_at=clock.iso(now), stale_before=clock.iso(now - STALE_BUILD),
                                   rebuild=rebuild)
    if new:
        aws.client("sqs").send_message(QueueUrl=aws.queue_url(resources.REPORT_BUILDS_QUEUE),
                                       MessageBody=json.dumps({"report_id": period.report_id}))
    return report, new


def period_of_report(report: dict[str, Any]) -> Period:
    first, last = date.fromisoformat(report["from"]), date.fromisoformat(report["to"])
    return domain.period_of(report["period"], first, last)


def _catalog(period: Period) -> Catalog:
    products: dict[str, dict[str, str]] = {}
    ratings: dict[str, dict[str, Any]] = {}  # all-time, as the catalog holds it now: {"average", "count"}
    prices: dict[str, tuple[str, str, int]] = {}
    for status in ("active", "draft", "archived"):
        for product in catalog.every_product(status):
            products[product["product_id"]] = {"name": product["name"], "category": product["category"]["name"]}
            ratings[product["product_id"]] = dict(product.get("rating") or {})
            for variant in product["variants"]:
                prices[variant["sku"]] = (product["product_id"], product["name"], int(variant["price"]))
    stock = []
    cursor: str | None = None
    while True:
        page = inventory.all_levels(limit=100, cursor=cursor)
        for level in page["items"]:
            product_id, name, price = prices.get(level["sku"], (level.get("product_id", ""), "", 0))
            stock.append({"sku": level["sku"], "product_id": product_id, "name": name, "on_hand": level["on_hand"],
                          "reserved": level["reserved"], "price": price, "low_stock": level["low_stock"]})
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return Catalog(products=products, stock=tuple(stock), ratings=ratings)


def _stock_as_of(period: Period, live: Catalog) -> Catalog:
    """Stock as at the end of the period's last day: a closed day keeps the snapshot first taken after it (in
    the rollups), so rebuilding a closed period gives the same inventory table; an open day shows stock now."""
    last = period.last.isoformat()
    if period.last >= today():
        return live
    saved = rollups.read_day(f"stock#{last}")
    if not saved:
        rollups.snapshot([Delta(f"stock#{last}", f"sku#{row['sku']}",
                                {"on_hand": int(row["on_hand"]), "reserved": int(row["reserved"]),
                                 "price": int(row["price"]), "low_stock": int(bool(row["low_stock"]))},
                                {"name": str(row["name"]), "product_id": str(row["product_id"])})
                          for row in live.stock])
        saved = rollups.read_day(f"stock#{last}")
    stock = tuple({"sku": key.removeprefix("sku#"), "name": values.get("label_name", ""),
                   "product_id": values.get("label_product_id", ""), "on_hand": values.get("on_hand", 0),
                   "reserved": values.get("reserved", 0), "price": values.get("price", 0),
                   "low_stock": bool(values.get("low_stock"))} for key, values in saved.items())
    return Catalog(products=live.products, stock=stock, ratings=live.ratings)


def _ratings_as_of(period: Period, live: Catalog, product_ids: list[str]) -> Catalog:
    """The all-time rating of the period's reviewed products as the ratings table shows it: now for a period
    ending today, else as recorded (in the rollups) by the first build that needed it after the period's last day,
    as for stock, so rebuilding a closed period gives the same table."""
    if period.last >= today() or not product_ids:
        return live
    saved_day = f"ratings#{period.last.isoformat()}"
    saved = rollups.read_day(saved_day)
    missing = [product_id for product_id in product_ids  # a product no longer in the catalog has no rating
               if f"product#{product_id}" not in saved and product_id in live.ratings]
    if missing:
        deltas = []
        for product_id in missing:
            rating = live.ratings.get(product_id) or {}
            counts = {"count": int(rating.get("count") or 0)}
            if rating.get("average") is not None:
                counts["average_tenths"] = round(float(rating["average"]) * 10)
            deltas.append(Delta(saved_day, f"product#{product_id}", counts))
        rollups.snapshot(deltas)
        saved = rollups.read_day(saved_day)
    ratings = {key.removeprefix("product#"): {
        "count": int(values.get("count") or 0),
        "average": None if values.get("average_tenths") is None else int(values["average_tenths"]) / 10}
        for key, values in saved.items()}
    return Catalog(products=live.products, stock=live.stock, ratings=ratings)


POINTS_READS = 3  # tries at reading the outstanding points and today's counters with nothing moving in between


def _points(period: Period) -> Points:
    """What the points liability at the period's end is worked back from (reports.domain.points_liability): the
    points outstanding now and the day counters of every day after the period up to today. Today's counters are
    read before and after the outstanding points and the pair taken only if they agree, so a points movement
    committed meanwhile (its counters and the outstanding points move in one transaction) is in both or neither
    (after POINTS_READS busy tries the last pair is taken: off by at most what moved between its two reads).

    Cost: the `summary` item of each day after the period, 100 days per batched read, so rebuilding a period a
    year old adds 4 reads."""
    later_days = domain.days_after(period.last, today())
    point_value = config.point_value_rupiah()
    if not later_days:
        return Points(outstanding_now=rollups.points_outstanding(), point_value=point_value)
    later: dict[str, dict[str, dict[str, Any]]] = {
        day: {SUMMARY: counters} for day, counters in rollups.summaries(later_days[:-1]).items()}
    last = later_days[-1]

    def last_summary() -> dict[str, Any]:
        return rollups.summaries([last])[last]

    before = last_summary()
    for _ in range(POINTS_READS):
        outstanding = rollups.points_outstanding()
        after = last_summary()
        if after == before:
            break
        before = after
    later[last] = {SUMMARY: before}
    return Points(outstanding_now=outstanding, later=later, point_value=point_value)


def build(report_id: str) -> dict[str, Any]:
    """Build one queued report: count what is not counted yet, read the period's rollups, write the files."""
    report = repository.get(report_id)
    if report is None:
        raise NotFound(f"report {report_id} not found", code="report_not_found")
    period = period_of_report(report)
    repository.mark(report_id, domain.BUILDING, error=None, requested_at=clock.now_iso())
    try:
        # the day after too: an order that changed again just after midnight is indexed under the new day
        following = (period.last + timedelta(days=1))
        collect(period.days + ([following.isoformat()] if following <= today() else []))
        day_rollups = {day: rollups.read_day(day) for day in period.days}
        catalog_then = _ratings_as_of(period, _stock_as_of(period, _catalog(period)),
                                      domain.reviewed_products(day_rollups, period.days))
        tables = domain.build_tables(day_rollups, period.days, catalog_then, _points(period))
        built_at = clock.now_iso()
        meta = ReportMeta(report_id=report_id, period=period.kind, date_from=period.first.isoformat(),
                          date_to=period.last.isoformat(), generated_at=built_at, shop=config.shop().name)
        written = files.report_files(tables, meta)
        listing = []
        for name, body in sorted(written.items()):
            key = period.prefix + name
            repository.put_file(key, body)
            listing.append({"name": name, "key": key, "bytes": len(body),
                            "sha256": hashlib.sha256(body).hexdigest()})
    except Exception as error:
        repository.mark(report_id, domain.FAILED, error=f"{type(error).__name__}: {error}"[:500])
        raise
    repository.mark(report_id, domain.READY, built_at=built_at, files=listing,
                    rows={table.name: len(table.rows) for table in tables})
    metrics.add_metric(name="ReportsBuilt", unit=MetricUnit.Count, value=1)
    logger.info("report built", extra={"report_id": report_id, "days": len(period.days)})
    if period.kind == MONTHLY:
        _tell_finance(report_id, period)
    return view(report_id)


def _tell_finance(report_id: str, period: Period) -> None:
    email = config.get(config.FINANCE_EMAIL)
    if not email:
        return
    link = download_link(f"{period.prefix}report.xlsx", seconds=7 * 86400)
    try:
        notifications.tell_staff(report_id, "report_ready", email=email,
                                 subject=f"Laporan penjualan {period.first:%B %Y} siap",
                                 text=(f"Laporan penjualan bulanan {period.first.isoformat()} s.d. "
                                       f"{period.last.isoformat()} sudah jadi.\n\nUnduh (berlaku 7 hari): {link}\n\n"
                                       f"Semua berkas: GET /admin/reports/{report_id}\n"))
    except Exception as error:  # the report is ready either way; the outbox records the failed send
        logger.warning("finance was not told of the report", extra={"report_id": report_id, "error": repr(error)})


def download_link(key: str, *, seconds: int = DOWNLOAD_SECONDS) -> str:
    return repository.download_url(key, seconds=seconds)


def view(report_id: str) -> dict[str, Any]:
    """The report's status and, once ready, a short-lived download link for each file."""
    report = repository.get(report_id)
    if report is None:
        raise NotFound(f"report {report_id} not found", code="report_not_found")
    if report["status"] == domain.READY:
        report["files"] = [{**item, "url": download_link(item["key"]), "expires_in": DOWNLOAD_SECONDS}
                           for item in report["files"]]
    return report


def listing(period: str, *, date_from: str, date_to: str, limit: int, cursor: str | None = None) -> dict[str, Any]:
    """A page of the reports of one period kind starting between the two days, newest first."""
    reports, next_cursor = repository.in_period(period, date_from=date_from, date_to=date_to, limit=limit,
                                                cursor=cursor)
    return {"items": reports, "next_cursor": next_cursor}


# ---- the schedules ---------------------------------------------------------------------------------------------


def scheduled_builds() -> list[str]:
    """Yesterday's daily report (Asia/Jakarta); on Monday last week's; on the 1st last month's: each queued once."""
    yesterday = today() - timedelta(days=1)
    periods = [domain.period_of(DAILY, yesterday)]
    if yesterday.weekday() == 6:
        periods.append(domain.period_of(WEEKLY, yesterday))
    if (yesterday + timedelta(days=1)).day == 1:
        periods.append(domain.period_of(MONTHLY, yesterday))
    queued = []
    for period in periods:
        report, _ = request(period, actor="schedule", rebuild=False)
        queued.append(report["report_id"])
    return queued


def collect_recent() -> dict[str, int]:
    """The 5-minute collector: today's and yesterday's changes (an order changed just before midnight)."""
    now = today()
    return collect([(now - timedelta(days=1)).isoformat(), now.isoformat()])


__all__ = ["CUSTOM", "build", "collect", "collect_recent", "count_order", "listing", "request", "scheduled_builds",
           "view"]
