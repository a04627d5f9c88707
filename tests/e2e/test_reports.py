"""Sales reports end to end through the local stack: finance asks for a report over HTTP, the report-builds
queue's driver builds it (counting the orders' facts first), and the files are downloaded through their
presigned links from the reports bucket (on the moto server), checked against the answer's and the manifest's
SHA-256, and read the way finance reads them: summary.csv with Python's csv module, report.xlsx as the zip it is.

The stack is shared: other tests' orders count on the same business day. So a report is built before this
test's orders and again after them, and the summary's figures are compared as increments that must include
these orders; the per-product table is exact, as the SKU is this test's own.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from chalicelib import clock
from chalicelib.auth import mint_dev_token
from tests.e2e.shop import TIMEOUT, staff_headers
from tests.e2e.test_order_lifecycle import assert_json_error, new_sku, pay, place_order, wait_for, wait_status
from tests.e2e.test_returns import delivered, finance_headers

pytestmark = pytest.mark.e2e

BUILD_WAIT = 120.0  # a report waits for the report-builds queue's driver, then counts and writes 17 files
TABLES = ("summary", "sales_by_day", "sales_by_product", "sales_by_category", "payment_methods", "channels",
          "conversion", "retention", "shipping", "fulfilment", "returns", "inventory", "ratings", "customer_service",
          "loyalty")
CHARTED = {"sales_by_day": "lineChart", "sales_by_category": "barChart", "payment_methods": "pieChart"}


def today() -> str:
    return clock.business_day(clock.now())


def customer_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_dev_token(role='customer', sub='customer-e2e-reports')}"}


def ask_for_report(api: str, day: str, headers: dict[str, str] | None = None) -> requests.Response:
    return requests.post(f"{api}/admin/reports", json={"from": day, "to": day}, headers=headers or finance_headers(),
                         timeout=TIMEOUT)


def read_report(api: str, report_id: str) -> dict[str, Any]:
    answer = requests.get(f"{api}/admin/reports/{report_id}", headers=finance_headers(), timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def settled(api: str, report_id: str) -> dict[str, Any]:
    """The report once it is neither queued nor building; a failed build fails the test with its error."""
    def built() -> dict[str, Any] | None:
        seen = read_report(api, report_id)
        return seen if seen["status"] in ("ready", "failed") else None

    report = wait_for(f"report {report_id} to be built", built, timeout=BUILD_WAIT,
                      describe=lambda: read_report(api, report_id))
    if report["status"] == "failed":
        pytest.fail(f"report {report_id} failed to build: {report['error']}")
    return report


def fresh_report(api: str, day: str) -> dict[str, Any]:
    """A report for `day` built after this call: one of the same period already building may have counted its
    facts before ours, so wait for it and ask again (a ready report is queued again; a queued one has not
    started, so it counts everything written before it was asked for)."""
    asked_at = clock.now_iso()
    for _ in range(3):  # each wait has its deadline; a build that is always already running is a failure
        answer = ask_for_report(api, day)
        assert answer.status_code == 202, answer.text
        queued = answer.json()
        assert queued["report_id"] == f"custom-{day}-{day}"
        assert (queued["period"], queued["from"], queued["to"]) == ("custom", day, day)
        if queued["status"] == "queued":
            break
        assert queued["status"] == "building", queued
        settled(api, queued["report_id"])
    else:
        pytest.fail(f"report {queued['report_id']} was building each time it was asked for")
    report = settled(api, queued["report_id"])
    assert report["built_at"] >= asked_at, report
    return report


# ---- the files -------------------------------------------------------------------------------------------------


def download(stack: Any, report: dict[str, Any]) -> dict[str, bytes]:
    """Every file of a ready report through its presigned link, each checked against the answer's size and
    SHA-256, and the manifest's list against the files it names."""
    moto = urlsplit(stack.moto_url)
    files: dict[str, bytes] = {}
    for item in report["files"]:
        url = urlsplit(item["url"])
        assert (url.scheme, url.netloc) == (moto.scheme, moto.netloc), item["url"]  # the local reports bucket
        assert item["key"] == f"reports/custom/{report['from']}_{report['to']}/{item['name']}"
        assert item["expires_in"] == 900
        answer = requests.get(item["url"], timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text[:300]
        body = answer.content
        assert (len(body), hashlib.sha256(body).hexdigest()) == (item["bytes"], item["sha256"]), item["name"]
        files[item["name"]] = body
    assert sorted(files) == sorted([f"{name}.csv" for name in TABLES] + ["report.xlsx", "manifest.json"])

    manifest = json.loads(files["manifest.json"])
    assert (manifest["report_id"], manifest["period"], manifest["from"], manifest["to"]) == (
        report["report_id"], "custom", report["from"], report["to"])
    assert manifest["tables"] == report["rows"] and sorted(manifest["tables"]) == sorted(TABLES)
    assert {entry["name"]: (entry["bytes"], entry["sha256"]) for entry in manifest["files"]} == {
        name: (len(body), hashlib.sha256(body).hexdigest()) for name, body in files.items() if name != "manifest.json"}
    return files


def rows(body: bytes) -> list[dict[str, str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "CSV without a UTF-8 byte order mark"  # Excel reads it as UTF-8
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def summary_of(files: dict[str, bytes]) -> dict[str, int]:
    """The summary's whole-number metrics (counts and Rupiah; the rates are left out)."""
    return {row["metric"]: int(row["value"]) for row in rows(files["summary.csv"])
            if re.fullmatch(r"-?\d+", row["value"])}


def product_row(files: dict[str, bytes], sku: str) -> dict[str, str] | None:
    return next((row for row in rows(files["sales_by_product.csv"]) if row["sku"] == sku), None)


def methods_of(files: dict[str, bytes]) -> dict[str, dict[str, int]]:
    return {row["method"]: {key: int(value) for key, value in row.items() if key != "method"}
            for row in rows(files["payment_methods.csv"])}


def check_workbook(body: bytes) -> None:
    """report.xlsx: a cover sheet and one sheet per table, and a native chart for each charted table."""
    with zipfile.ZipFile(io.BytesIO(body)) as workbook:
        assert workbook.testzip() is None
        names = workbook.namelist()
        sheets = re.findall(r'<sheet name="([^"]+)"', workbook.read("xl/workbook.xml").decode())
        assert sheets[0] == "Ringkasan" and len(sheets) == 1 + len(TABLES), sheets
        assert len([name for name in names if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", name)]) == len(sheets)
        charts = sorted(name for name in names if re.fullmatch(r"xl/charts/chart\d+\.xml", name))
        assert len(charts) == len(CHARTED), names
        kinds = sorted(re.search(r"<c:(\w+Chart)>", workbook.read(name).decode()).group(1)  # type: ignore[union-attr]
                       for name in charts)
        assert kinds == sorted(CHARTED.values())
        assert len([name for name in names if re.fullmatch(r"xl/drawings/drawing\d+\.xml", name)]) == len(CHARTED)


# ---- the tests -------------------------------------------------------------------------------------------------


def test_finance_report_for_today_includes_the_days_sales_and_refunds_and_its_files_check_out(stack: Any) -> None:
    api = stack.api_url
    day = today()
    before = download(stack, fresh_report(api, day))

    price = 150_000
    sku = new_sku(api, "REPORT", stock=10, price=price)
    card = delivered(api, sku, 2, "card")  # a refund needs the goods delivered (or the order cancelled)
    transfer = place_order(api, sku, 1, "bank_transfer")
    second_card = place_order(api, sku, 1, "card")
    for placed in (transfer, second_card):
        pay(api, placed["order_id"])
        wait_status(placed["order_id"], "READY_TO_PACK")
    refund = requests.post(f"{api}/admin/orders/{card['order_id']}/refunds", headers=finance_headers(),
                           timeout=TIMEOUT, json={"amount": 40_000, "reason": "goodwill: kemasan penyok",
                                                  "refund_key": f"report-{uuid.uuid4().hex[:8]}"})
    assert refund.status_code == 201, refund.text
    assert (refund.json()["amount"], refund.json()["by"]) == (40_000, "gateway")

    report = fresh_report(api, day)
    files = download(stack, report)
    if today() != day:
        pytest.skip(f"midnight WIB passed during the test: the facts fell on {day} and {today()}")
    after = summary_of(files)
    first = summary_of(before)
    sold = [card, transfer, second_card]
    sales = sum(placed["totals"]["total"] for placed in sold)

    grew = {metric: after[metric] - first[metric] for metric in after}
    assert grew["orders_placed"] >= 3 and grew["orders_sold"] >= 3, grew
    assert grew["units"] >= 4 and grew["gross_sales"] >= 4 * price, grew
    assert grew["sales_total"] >= sales, (grew, sales)
    assert grew["refunds"] <= -40_000, grew  # refunds are stated as a negative figure
    assert after["net_sales"] == after["sales_total"] + after["refunds"]
    assert grew["net_sales"] == grew["sales_total"] + grew["refunds"]

    # this test's own SKU is exact: four units sold (no voucher), refunds are not split by product
    assert product_row(before, sku) is None
    assert product_row(files, sku) == {"sku": sku, "product_id": product_row(files, sku)["product_id"],  # type: ignore[index]
                                       "name": "Tas Anyaman Pandan REPORT", "category": "Kerajinan Kayu",
                                       "units": "4", "gross_sales": str(4 * price), "net_of_discount": str(4 * price)}
    assert sku in {row["sku"] for row in rows(files["inventory.csv"])}

    methods, earlier = methods_of(files), methods_of(before)
    paid = {method: methods[method]["orders_paid"] - earlier.get(method, {}).get("orders_paid", 0)
            for method in ("card", "bank_transfer")}
    assert paid["card"] >= 2 and paid["bank_transfer"] >= 1, paid
    assert methods["card"]["refunded_amount"] - earlier.get("card", {}).get("refunded_amount", 0) >= 40_000

    by_day = rows(files["sales_by_day.csv"])
    assert [row["day"] for row in by_day] == [day]
    assert {key: int(by_day[0][key]) for key in ("orders_sold", "sales_total", "refunds", "net_sales")} == {
        key: after[key] for key in ("orders_sold", "sales_total", "refunds", "net_sales")}

    check_workbook(files["report.xlsx"])

    listed = requests.get(f"{api}/admin/reports", params={"period": "custom", "from": day, "to": day},
                          headers=finance_headers(), timeout=TIMEOUT)
    assert listed.status_code == 200, listed.text
    assert report["report_id"] in [item["report_id"] for item in listed.json()["items"]]


def test_staff_and_customers_may_not_ask_for_or_read_reports(stack: Any) -> None:
    api = stack.api_url
    day = today()
    report_id = f"custom-{day}-{day}"
    for headers in (staff_headers(), customer_headers()):
        assert_json_error(ask_for_report(api, day, headers), 403, "forbidden")
        assert_json_error(requests.get(f"{api}/admin/reports/{report_id}", headers=headers, timeout=TIMEOUT),
                          403, "forbidden")
        assert_json_error(requests.get(f"{api}/admin/reports", headers=headers, timeout=TIMEOUT), 403, "forbidden")
    assert requests.post(f"{api}/admin/reports", json={"from": day, "to": day}, timeout=TIMEOUT).status_code == 401


def test_finance_may_not_ask_for_a_report_of_days_to_come(stack: Any) -> None:
    api = stack.api_url
    tomorrow = clock.business_day(clock.now() + timedelta(days=1))
    assert_json_error(ask_for_report(api, tomorrow), 400, "validation_failed")
    assert_json_error(requests.post(f"{api}/admin/reports", json={"from": "2026-12-31", "to": "2026-12-01"},
                                    headers=finance_headers(), timeout=TIMEOUT), 400, "validation_failed")


def test_make_report_builds_and_downloads_todays_report_checking_every_file(stack: Any, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tools.cli import cli

    api = stack.api_url
    sku = new_sku(api, "CLIREPORT", stock=3)
    placed = place_order(api, sku, 1, "card")
    pay(api, placed["order_id"])
    wait_status(placed["order_id"], "READY_TO_PACK")
    day = today()

    result = CliRunner().invoke(cli, ["report", "--out", str(tmp_path), "--api", api, "--moto", stack.moto_url])

    assert result.exit_code == 0, result.output
    folder = tmp_path / f"custom-{day}-{day}"
    assert f"17 files in {folder}/ (SHA-256 checked)" in result.output
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        [entry["name"] for entry in manifest["files"]] + ["manifest.json"])
    for entry in manifest["files"]:
        assert hashlib.sha256((folder / entry["name"]).read_bytes()).hexdigest() == entry["sha256"]
    summary = summary_of({"summary.csv": (folder / "summary.csv").read_bytes()})
    assert summary["orders_sold"] >= 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith(f"orders sold {summary['orders_sold']}, sales total Rp{summary['sales_total']:,}, "), last
    assert last.endswith(f"net sales {rupiah(summary['net_sales'])}"), last
    # the order was paid before the command asked for the report, so the build counted it
    sold = product_row({"sales_by_product.csv": (folder / "sales_by_product.csv").read_bytes()}, sku)
    assert sold is not None and sold["units"] == "1", sold


def rupiah(amount: int) -> str:
    return f"-Rp{-amount:,}" if amount < 0 else f"Rp{amount:,}"
