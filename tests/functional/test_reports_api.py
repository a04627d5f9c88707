"""Sales reports under moto: facts counted once from orders' timelines, a report built from the rollups into
CSV, XLSX and a manifest in S3, and finance reading it through short-lived links."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

import pytest

from chalicelib import clock, resources
from chalicelib.reports import service as reports
from chalicelib.tallies import service as tallies
from tests.functional.helpers import body_of, send
from tests.functional.test_returns_api import delivered_order


def _build(client: Any, auth_header: Any, day: str) -> dict[str, Any]:
    asked = send(client, "POST", "/admin/reports", {"from": day, "to": day}, auth_header("finance"))
    assert asked.status_code == 202, asked.body
    report_id = body_of(asked)["report_id"]
    reports.build(report_id)
    answer = send(client, "GET", f"/admin/reports/{report_id}", headers=auth_header("finance"))
    assert answer.status_code == 200
    return body_of(answer)


def _file(aws: Any, report: dict[str, Any], name: str) -> bytes:
    (item,) = [item for item in report["files"] if item["name"] == name]
    return aws.s3.get_object(Bucket=resources.REPORTS_BUCKET.physical_name, Key=item["key"])["Body"].read()


def _summary(body: bytes) -> dict[str, str]:
    rows = csv.DictReader(io.StringIO(body.decode("utf-8-sig")))
    return {row["metric"]: row["value"] for row in rows}


def test_a_delivered_and_partly_refunded_order_is_in_todays_report_once_however_often_facts_are_counted(
        client: Any, auth_header: Any, aws: Any) -> None:
    placed = delivered_order(client, auth_header)
    order_id, total = placed["order_id"], placed["totals"]["total"]
    refund = send(client, "POST", f"/admin/orders/{order_id}/refunds",
                  {"amount": 50_000, "reason": "goodwill", "refund_key": "r1"}, auth_header("finance"))
    assert refund.status_code == 201, refund.body
    today = clock.business_day(clock.now())

    reports.collect([today])
    reports.collect([today])  # a second run counts nothing again
    report = _build(client, auth_header, today)

    assert report["status"] == "ready"
    names = {item["name"] for item in report["files"]}
    assert {"summary.csv", "sales_by_day.csv", "payment_methods.csv", "report.xlsx", "manifest.json"} <= names
    assert all(item["url"].startswith("http") for item in report["files"])
    summary = _summary(_file(aws, report, "summary.csv"))
    assert (summary["orders_sold"], summary["sales_total"], summary["refunds"], summary["net_sales"]) == (
        "1", str(total), "-50000", str(total - 50_000))
    manifest = json.loads(_file(aws, report, "manifest.json"))
    assert manifest["from"] == manifest["to"] == today and manifest["tables"]["summary"] == 26
    workbook = zipfile.ZipFile(io.BytesIO(_file(aws, report, "report.xlsx")))
    assert any(name.startswith("xl/charts/") for name in workbook.namelist())
    assert tallies.read_day(today)["summary"]["orders_sold"] == 1


def test_rebuilding_a_report_gives_byte_identical_csvs(client: Any, auth_header: Any, aws: Any) -> None:
    delivered_order(client, auth_header)
    today = clock.business_day(clock.now())
    first = _build(client, auth_header, today)
    again = _build(client, auth_header, today)
    for name in ("summary.csv", "sales_by_day.csv", "sales_by_product.csv", "payment_methods.csv"):
        assert _file(aws, first, name) == _file(aws, again, name), name


@pytest.mark.parametrize(("role", "status"), [("staff", 403), ("customer", 403), ("finance", 202), ("admin", 202)])
def test_only_finance_and_admin_may_build_reports(client: Any, auth_header: Any, role: str, status: int) -> None:
    today = clock.business_day(clock.now())
    answer = send(client, "POST", "/admin/reports", {"from": today, "to": today}, auth_header(role))
    assert answer.status_code == status


@pytest.mark.parametrize("body", [
    {"from": "2026-12-31", "to": "2026-12-01"}, {"from": "yesterday", "to": "2026-12-01"},
    {"from": "2026-02-30", "to": "2026-03-01"}, {"from": "2020-01-01", "to": "2026-12-01"},
    {"from": "2026-12-01"}, {"from": "2026-12-01", "to": "2999-01-01"}])
def test_a_bad_report_range_is_a_400_naming_the_field(client: Any, auth_header: Any, body: dict[str, str]) -> None:
    answer = send(client, "POST", "/admin/reports", body, auth_header("finance"))
    assert answer.status_code == 400, answer.body


@pytest.mark.parametrize("to", ["2026-12-31", 12345, ""])
def test_a_daily_weekly_or_monthly_report_takes_no_to(client: Any, auth_header: Any, to: Any) -> None:
    """The period follows from `from`: a `to` beside it would be ignored, so it is refused by name."""
    today = clock.business_day(clock.now())
    answer = send(client, "POST", "/admin/reports", {"period": "weekly", "from": today, "to": to},
                  auth_header("finance"))
    assert answer.status_code == 400, answer.body
    assert body_of(answer)["error"]["details"]["field"] == "to"
    assert send(client, "POST", "/admin/reports", {"period": "weekly", "from": today, "to": None},
                auth_header("finance")).status_code == 202


def test_listing_reports_with_to_before_from_is_a_400_naming_to(client: Any, auth_header: Any) -> None:
    answer = send(client, "GET", "/admin/reports?from=2026-12-31&to=2026-01-01", headers=auth_header("finance"))
    assert answer.status_code == 400, answer.body
    assert body_of(answer)["error"]["details"]["field"] == "to"
    same_day = send(client, "GET", "/admin/reports?from=2026-12-01&to=2026-12-01", headers=auth_header("finance"))
    assert same_day.status_code == 200, same_day.body


def test_carts_created_and_product_views_count_towards_conversion(client: Any, auth_header: Any) -> None:
    from tests.functional.helpers import create_product, new_cart

    product = create_product(client, auth_header("staff"), sku="BTK-V", stock=3)
    product_id = product["product_id"]
    today = clock.business_day(clock.now())
    before = tallies.read_day(today).get("summary", {})

    new_cart(client)
    new_cart(client)
    viewed = [send(client, "POST", f"/products/{product_id}/views").status_code for _ in range(3)]
    unknown = send(client, "POST", "/products/nope-123/views")
    with_body = send(client, "POST", f"/products/{product_id}/views", {"extra": 1})

    after = tallies.read_day(today)
    assert viewed == [202, 202, 202] and unknown.status_code == 404 and with_body.status_code == 400
    assert after["summary"]["carts_created"] - before.get("carts_created", 0) == 2
    assert after["summary"]["product_views"] - before.get("product_views", 0) == 3
    assert after[f"product#{product_id}"]["views"] == 3


def test_a_monthly_report_emails_finance_a_download_link_once(
        client: Any, auth_header: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import date

    from chalicelib.notifications import service as notifications
    from chalicelib.reports import domain

    monkeypatch.setenv("TOKOFLOW_FINANCE_EMAIL", "keuangan@tokokita.test")
    period = domain.period_of(domain.MONTHLY, date(2026, 11, 1))
    report, new = reports.request(period, actor="schedule", rebuild=False)
    again, new_again = reports.request(period, actor="schedule", rebuild=False)
    reports.build(report["report_id"])
    reports.build(report["report_id"])  # a rebuild does not email twice

    sent = [item for item in notifications.outbox(report["report_id"]) if item["event"] == "report_ready"]
    assert (new, new_again, again["report_id"]) == (True, False, "monthly-2026-11-01")
    assert len(sent) == 1 and sent[0]["email"] == "keuangan@tokokita.test"
    assert "https://" in sent[0]["text"] or "http://" in sent[0]["text"]


def test_a_failed_or_stuck_build_is_queued_again_and_finance_may_rebuild_a_daily_report(
        client: Any, auth_header: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import date, timedelta

    from chalicelib.reports import domain
    from chalicelib.reports import repository as stored

    day = date.fromisoformat(clock.business_day(clock.now())) - timedelta(days=1)
    period = domain.period_of(domain.DAILY, day)
    first, _ = reports.request(period, actor="schedule", rebuild=False)
    stored.mark(first["report_id"], domain.FAILED, error="boom")
    _, new_after_failure = reports.request(period, actor="schedule", rebuild=False)
    stored.mark(first["report_id"], domain.BUILDING, requested_at="2026-01-01T00:00:00.000Z")  # its builder died
    _, new_after_stuck = reports.request(period, actor="schedule", rebuild=False)
    _, new_while_queued = reports.request(period, actor="schedule", rebuild=False)
    reports.build(first["report_id"])
    left_alone, new_after_ready = reports.request(period, actor="schedule", rebuild=False)
    asked = send(client, "POST", "/admin/reports", {"period": "daily", "from": day.isoformat()}, auth_header("finance"))

    assert (new_after_failure, new_after_stuck, new_while_queued, new_after_ready) == (True, True, False, False)
    assert left_alone["status"] == "ready"
    assert asked.status_code == 202 and body_of(asked)["report_id"] == f"daily-{day.isoformat()}"
    assert body_of(asked)["status"] == "queued"
