"""Every staff list is paged: the vouchers (by code), the reports of a period kind (newest first) and the low-stock
report (by SKU) each come a page at a time; walked with a small limit they give every item exactly once in the
promised order, a page costs the same requests however much the shop holds, and a cursor this API did not give out
is a 400."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner

from chalicelib import resources
from chalicelib.inventory import service as inventory
from chalicelib.validation import MAX_PAGE
from tests.functional.helpers import bearer, body_of, create_product, create_voucher, place_order, send, variant
from tools.cli import cli

STAFF = bearer("staff")
FINANCE = bearer("finance")
# Created in this order; listed by code (byte order: digits, then -, then letters, then _)
CODES = ("MERDEKA45", "AAA", "ZZZ-1", "HEMAT_10", "B2B", "JOGJA10", "LEBARAN", "SALE-9", "HEMAT-10", "A1B")
LOW_SKUS = ("KAIN-07", "BTK-03", "ANY-11", "BTK-01", "ZZ-9", "TAS-2", "UKR-5")
PLENTIFUL_SKUS = ("BTK-02", "TAS-1", "ANY-10")


def _walk(client: Any, path: str, query: dict[str, Any], headers: dict[str, str], *, limit: int
          ) -> list[list[dict[str, Any]]]:
    """Every page of a list, following next_cursor from the first page to the one that ends it."""
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        params = {**query, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = send(client, "GET", f"{path}?{urlencode(params)}", headers=headers)
        assert response.status_code == 200, response.body
        page = body_of(response)
        assert len(page["items"]) <= limit
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) <= 100, "the walk does not end"


def _flat(pages: list[list[dict[str, Any]]], key: str) -> list[str]:
    return [item[key] for page in pages for item in page]


def _vouchers(client: Any, codes: tuple[str, ...] = CODES) -> None:
    for code in codes:
        create_voucher(client, STAFF, code.lower() if code.startswith("J") else code)  # stored upper-case


def _reports(client: Any, at: Any, days: range = range(1, 10)) -> None:
    """Daily reports of 1 to 9 November (asked in no order), a weekly one, and custom ranges, two of which start
    on the same day."""
    at("2026-11-20T03:00:00.000Z")
    for day in sorted(days, key=lambda d: (d * 7) % 10):
        answer = send(client, "POST", "/admin/reports", {"period": "daily", "from": f"2026-11-{day:02d}"}, FINANCE)
        assert answer.status_code == 202, answer.body
    for body in ({"period": "weekly", "from": "2026-11-03"}, {"from": "2026-11-01", "to": "2026-11-03"},
                 {"from": "2026-11-01", "to": "2026-11-05"}, {"from": "2026-11-02", "to": "2026-11-02"},
                 {"from": "2026-11-04", "to": "2026-11-10"}):
        assert send(client, "POST", "/admin/reports", body, FINANCE).status_code == 202


def _stock(client: Any, low: tuple[str, ...] = LOW_SKUS, plentiful: tuple[str, ...] = PLENTIFUL_SKUS) -> None:
    """SKUs under their threshold (5) and SKUs well above it, in no order."""
    create_product(client, STAFF, variants=[variant(sku) for sku in low], stock=2, name="Kain Sisa")
    create_product(client, STAFF, variants=[variant(sku) for sku in plentiful], stock=50, name="Kain Penuh")


def test_the_voucher_list_walked_a_page_at_a_time_gives_every_voucher_once_by_code(client: Any) -> None:
    _vouchers(client)

    pages = _walk(client, "/admin/vouchers", {}, STAFF, limit=3)

    assert _flat(pages, "code") == sorted(CODES)
    assert len(pages) >= 4
    first = body_of(send(client, "GET", "/admin/vouchers", headers=STAFF))
    assert [item["code"] for item in first["items"]] == sorted(CODES) and first["next_cursor"] is None


def test_the_report_list_walked_a_page_at_a_time_gives_every_report_of_the_period_once_newest_first(
        client: Any, at: Any) -> None:
    _reports(client, at)

    daily = _walk(client, "/admin/reports", {"period": "daily"}, FINANCE, limit=2)
    some_days = _walk(client, "/admin/reports", {"period": "daily", "from": "2026-11-03", "to": "2026-11-07"},
                      FINANCE, limit=2)
    custom = _walk(client, "/admin/reports", {"period": "custom"}, FINANCE, limit=1)

    assert _flat(daily, "report_id") == [f"daily-2026-11-{day:02d}" for day in range(9, 0, -1)]
    assert _flat(some_days, "report_id") == [f"daily-2026-11-{day:02d}" for day in range(7, 2, -1)]
    custom_ids = _flat(custom, "report_id")
    assert sorted(custom_ids) == ["custom-2026-11-01-2026-11-03", "custom-2026-11-01-2026-11-05",
                                  "custom-2026-11-02-2026-11-02", "custom-2026-11-04-2026-11-10"]
    assert [report_id[7:17] for report_id in custom_ids] == ["2026-11-04", "2026-11-02", "2026-11-01", "2026-11-01"]


def test_the_low_stock_report_walked_a_page_at_a_time_gives_every_low_sku_once_by_sku_with_its_reorder(
        client: Any) -> None:
    _stock(client)
    place_order(client, "BTK-03")  # 2 -> 1 available, one unit reserved in the last 30 days

    pages = _walk(client, "/admin/inventory", {"low_stock": "true"}, STAFF, limit=3)

    lines = [line for page in pages for line in page]
    assert [line["sku"] for line in lines] == sorted(LOW_SKUS)
    by_sku = {line["sku"]: line for line in lines}
    assert (by_sku["BTK-03"]["available"], by_sku["BTK-03"]["reserved_last_30_days"]) == (1, 1)
    assert all(line["suggested_reorder"] >= line["low_stock_threshold"] * 2 - line["available"] for line in lines)
    # the whole report, for callers inside the shop, reads every page and gives the same lines
    assert list(inventory.low_stock_report()) == lines


def test_the_stock_levels_walked_a_page_at_a_time_still_give_every_sku_once(client: Any) -> None:
    _stock(client)

    pages = _walk(client, "/admin/inventory", {}, STAFF, limit=4)

    assert sorted(_flat(pages, "sku")) == sorted(LOW_SKUS + PLENTIFUL_SKUS)


FORGED = (
    "!!",  # not base64
    base64.urlsafe_b64encode(b'{"code": "AAA"}').decode(),  # not the shape this API gives out
    base64.urlsafe_b64encode(b'["AAA"]').decode(),
    base64.urlsafe_b64encode(b'["", ""]').decode(),
    base64.urlsafe_b64encode(b'["' + b"A" * 65 + b'", "A"]').decode(),
)


@pytest.mark.parametrize("path, headers", [
    ("/admin/vouchers?", STAFF),
    ("/admin/reports?period=daily&", FINANCE),
    ("/admin/inventory?low_stock=true&", STAFF),
], ids=["vouchers", "reports", "low-stock-report"])
@pytest.mark.parametrize("cursor", FORGED, ids=["not-base64", "an-object", "one-part", "empty-parts", "too-long"])
def test_a_forged_cursor_is_a_400_naming_the_cursor(client: Any, path: str, headers: dict[str, str],
                                                     cursor: str) -> None:
    answer = send(client, "GET", f"{path}{urlencode({'cursor': cursor})}", headers=headers)

    assert answer.status_code == 400, answer.body
    assert body_of(answer)["error"]["details"]["field"] == "cursor"


def test_a_report_cursor_standing_outside_from_and_to_is_a_400(client: Any, at: Any) -> None:
    _reports(client, at)
    first = body_of(send(client, "GET", "/admin/reports?period=daily&limit=2", headers=FINANCE))
    assert [item["from"] for item in first["items"]] == ["2026-11-09", "2026-11-08"]

    later = send(client, "GET", f"/admin/reports?{urlencode({'to': '2026-11-05', 'cursor': first['next_cursor']})}",
                 headers=FINANCE)
    same = send(client, "GET", f"/admin/reports?{urlencode({'limit': 2, 'cursor': first['next_cursor']})}",
                headers=FINANCE)

    assert later.status_code == 400, later.body
    assert body_of(later)["error"]["details"]["field"] == "cursor"
    assert [item["from"] for item in body_of(same)["items"]] == ["2026-11-07", "2026-11-06"]


@pytest.mark.parametrize("query", ["limit=0", f"limit={MAX_PAGE + 1}", "limit=abc", "cursor="])
def test_a_bad_limit_or_an_empty_cursor_on_the_voucher_list_is_a_400(client: Any, query: str) -> None:
    answer = send(client, "GET", f"/admin/vouchers?{query}", headers=STAFF)

    assert answer.status_code == 400, answer.body
    assert body_of(answer)["error"]["details"]["field"] in ("limit", "cursor")


def test_vouchers_created_before_the_list_was_paged_are_listed_once_relisted(client: Any, aws: Any) -> None:
    _vouchers(client, ("LAMA1", "BARU1"))
    table = resources.VOUCHERS.physical_name
    aws.dynamodb.put_item(TableName=table, Item={  # as a voucher was written before the by-code index
        "code": {"S": "LAMA2"}, "kind": {"S": "fixed"}, "value": {"N": "5000"}, "min_spend": {"N": "0"},
        "used": {"N": "3"}, "active": {"BOOL": True}})
    assert _flat(_walk(client, "/admin/vouchers", {}, STAFF, limit=2), "code") == ["BARU1", "LAMA1"]

    first = CliRunner().invoke(cli, ["relist-vouchers"])
    again = CliRunner().invoke(cli, ["relist-vouchers"])

    assert first.exit_code == 0 and "Vouchers newly listed: 1" in first.stdout, first.output
    assert again.exit_code == 0 and "Vouchers newly listed: 0" in again.stdout, again.output
    listed = [item for page in _walk(client, "/admin/vouchers", {}, STAFF, limit=2) for item in page]
    assert [item["code"] for item in listed] == ["BARU1", "LAMA1", "LAMA2"]
    assert listed[2]["used"] == 3




def _grow_vouchers(client: Any, at: Any, round_: int) -> None:
    _vouchers(client, tuple(f"{code}{round_}" for code in CODES))


def _grow_reports(client: Any, at: Any, round_: int) -> None:
    _reports(client, at, days=range(1, 10) if round_ == 0 else range(10, 20))


def _grow_stock(client: Any, at: Any, round_: int) -> None:
    _stock(client, tuple(f"{sku}-{round_}" for sku in LOW_SKUS), tuple(f"{sku}-{round_}" for sku in PLENTIFUL_SKUS))


@pytest.mark.parametrize("path, headers, grow", [
    ("/admin/vouchers?limit=3", STAFF, _grow_vouchers),
    ("/admin/reports?period=daily&limit=3", FINANCE, _grow_reports),
    ("/admin/inventory?low_stock=true&limit=3", STAFF, _grow_stock),
], ids=["vouchers", "reports", "low-stock-report"])
def test_a_page_of_a_staff_list_costs_the_same_requests_however_much_the_shop_holds(
        client: Any, at: Any, aws_operations: list[str], path: str, headers: dict[str, str],
        grow: Callable[[Any, Any, int], None]) -> None:
    counted = []
    for round_ in (0, 1):  # a small shop, then one with more than twice as much
        grow(client, at, round_)
        aws_operations.clear()
        page = body_of(send(client, "GET", path, headers=headers))
        counted.append(Counter(aws_operations))
        assert len(page["items"]) == 3 and page["next_cursor"]
    assert counted[0] == counted[1]
    assert "Scan" not in counted[0]
    assert counted[0]["Query"] <= 1 + 3  # the page's index Query; the low-stock report adds one ledger Query a line
