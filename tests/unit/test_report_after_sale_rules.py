"""The after-sale figures of a sales report as plain Python: averages that are empty when there is nothing to
average, the ratings, customer service and loyalty tables, the points liability at a period's end worked back
from the points outstanding now, and what a ticket's changes count into the day rollups."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date
from typing import Any

import pytest

from chalicelib.reports import domain
from chalicelib.reports.domain import Catalog, Points
from chalicelib.reports.files import csv_bytes, report_files
from chalicelib.reports.tables import ReportMeta
from chalicelib.tickets.domain import (
    Count,
    TicketMessage,
    add_customer_message,
    add_staff_message,
    counted,
    open_ticket,
    rate,
    resolve,
)

D1, D2, D3, D4 = "2026-11-10", "2026-11-11", "2026-11-12", "2026-11-13"


def summary_of(rollups: dict[str, Any], days: list[str], points: Points | None = None) -> dict[str, Any]:
    return {row[0]: row[2] for row in domain.summary_table(rollups, days, points).rows}


def csv_rows(table: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(csv_bytes(table).decode("utf-8-sig"))))


# ---- averages ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("total", "count", "per", "expected"), [
    (9, 2, 1, 4.5), (13, 3, 1, 4.3), (17, 4, 1, 4.3),  # 4.25 rounds half up
    (9_000, 2, 3600, 1.3), (18_900, 3, 3600, 1.8), (1, 3, 1, 0.3),
    (0, 0, 1, None), (5, 0, 1, None), (0, 0, 3600, None),
])
def test_an_average_has_one_decimal_half_up_and_is_empty_when_there_is_nothing_to_average(
        total: int, count: int, per: int, expected: float | None) -> None:
    assert domain.average(total, count, per=per) == expected


def test_the_summary_states_reviews_tickets_and_csat_of_the_period() -> None:
    rollups = {
        D1: {"summary": {"reviews_approved": 2, "review_stars": 9, "tickets_opened": 1,
                         "tickets_first_responses": 1, "first_response_seconds": 1_800, "tickets_resolved": 1,
                         "resolution_seconds": 3_600, "csat_ratings": 1, "csat_score": 5, "csat_satisfied": 1}},
        D2: {"summary": {"reviews_approved": 1, "review_stars": 3, "tickets_opened": 1,
                         "tickets_first_responses": 1, "first_response_seconds": 7_200, "tickets_resolved": 2,
                         "resolution_seconds": 15_300, "csat_ratings": 1, "csat_score": 3, "csat_satisfied": 0}},
        D3: {"summary": {"reviews_approved": 40, "review_stars": 40}},  # outside the period
    }
    summary = summary_of(rollups, [D1, D2])
    assert (summary["reviews_approved"], summary["average_rating"], summary["tickets_opened"]) == (3, 4.0, 2)
    assert (summary["average_first_response_hours"], summary["average_resolution_hours"]) == (1.3, 1.8)
    assert (summary["csat_average"], summary["csat_satisfied_rate"]) == (4.0, 50.0)


def test_a_quiet_period_has_zero_counts_and_empty_averages() -> None:
    summary = summary_of({}, [D1])
    assert (summary["reviews_approved"], summary["tickets_opened"], summary["points_earned"]) == (0, 0, 0)
    for metric in ("average_rating", "average_first_response_hours", "average_resolution_hours", "csat_average",
                   "csat_satisfied_rate"):
        assert summary[metric] is None, metric
    assert (summary["points_liability"], summary["points_liability_value"]) == (0, 0)
    written = {row["metric"]: row["value"] for row in csv_rows(domain.summary_table({}, [D1]))}
    assert written["average_rating"] == "" and written["csat_satisfied_rate"] == ""


# ---- loyalty points ----------------------------------------------------------------------------------------------

MOVES = {  # net: 850, 120, 250, -5
    D1: {"summary": {"points_earned": 1_000, "points_redeemed": 200, "points_adjusted": 50}},
    D2: {"summary": {"points_earned": 500, "points_redeemed": 300, "points_returned": 100, "points_reversed": 150,
                     "points_shortfall": 30, "points_expired": 20, "points_adjusted": -10}},
    D3: {"summary": {"points_earned": 400, "points_redeemed": 100, "points_expired": 50}, "product#P1": {"views": 3}},
    D4: {"summary": {"points_adjusted": -5}},
}


def test_points_moved_on_a_day_ignore_the_shortfall_and_take_adjustments_signed() -> None:
    assert [domain.points_moved(MOVES[day]["summary"]) for day in (D1, D2, D3, D4)] == [850, 120, 250, -5]
    assert domain.points_moved({}) == 0


def test_the_days_after_a_period_run_up_to_today_and_are_none_when_it_ends_today_or_later() -> None:
    assert domain.days_after(date(2026, 11, 11), date(2026, 11, 13)) == [D3, D4]
    assert domain.days_after(date(2026, 11, 13), date(2026, 11, 13)) == []
    assert domain.days_after(date(2026, 11, 30), date(2026, 11, 13)) == []
    assert domain.days_after(date(2026, 12, 31), date(2027, 1, 1)) == ["2027-01-01"]


def test_the_liability_at_a_periods_end_is_outstanding_now_minus_what_moved_on_each_later_day() -> None:
    later = {D3: MOVES[D3], D4: MOVES[D4]}
    assert domain.points_liability(3_215, later) == 3_215 - 250 + 5
    assert domain.points_liability(3_215, {}) == 3_215  # the period ends today: the outstanding now
    assert domain.points_liability(3_215, {D3: {}, D4: {"sku#A": {"units": 9}}}) == 3_215  # nothing moved


def test_the_loyalty_table_shows_each_days_moves_and_balance_and_the_liability_at_the_end() -> None:
    points = Points(outstanding_now=3_215, later={D3: MOVES[D3], D4: MOVES[D4]}, point_value=150)
    table = domain.loyalty_table(MOVES, [D1, D2], points)
    assert [column.key for column in table.columns] == [
        "day", "points_earned", "points_redeemed", "points_returned", "points_reversed", "points_shortfall",
        "points_expired", "points_adjusted", "net_change", "points_outstanding", "outstanding_value"]
    liability = 3_215 + 5 - 250
    assert table.rows == (
        (D1, 1_000, 200, 0, 0, 0, 0, 50, 850, liability - 120, (liability - 120) * 150),
        (D2, 500, 300, 100, 150, 30, 20, -10, 120, liability, liability * 150),
        ("total", 1_500, 500, 100, 150, 30, 20, 40, 970, liability, liability * 150),
    )
    summary = summary_of(MOVES, [D1, D2], points)
    assert (summary["points_earned"], summary["points_redeemed"], summary["points_reversed"],
            summary["points_expired"]) == (1_500, 500, 150, 20)
    assert (summary["points_liability"], summary["points_liability_value"]) == (liability, liability * 150)


def test_a_period_ending_today_owes_the_outstanding_points_now_and_a_quiet_one_shows_zeros() -> None:
    today = domain.loyalty_table(MOVES, [D4], Points(outstanding_now=900, point_value=100))
    assert today.rows == ((D4, 0, 0, 0, 0, 0, 0, -5, -5, 900, 90_000),
                          ("total", 0, 0, 0, 0, 0, 0, -5, -5, 900, 90_000))
    quiet = domain.loyalty_table({}, [D1], Points())
    assert quiet.rows == ((D1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), ("total", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))


# ---- ratings and customer service --------------------------------------------------------------------------------


def test_the_ratings_table_lists_products_reviewed_in_the_period_with_their_all_time_rating() -> None:
    rollups = {
        D1: {"product#P1": {"reviews_approved": 2, "review_stars": 9, "views": 10, "label_name": "Topeng Panji"},
             "product#P2": {"views": 4, "label_name": "Viewed only"},
             "product#P3": {"reviews_approved": 1, "review_stars": 3, "label_name": "Gone from the catalog"}},
        D2: {"product#P2": {"reviews_approved": 3, "review_stars": 13, "label_name": "Topeng Klana"}},
    }
    catalog = Catalog(products={"P1": {"name": "Topeng Kayu Panji", "category": "Kerajinan"},
                                "P2": {"name": "Topeng Klana", "category": "Kerajinan"}},
                      ratings={"P1": {"average": 3.7, "count": 3}, "P2": {"average": 4.3, "count": 3}})
    table = domain.ratings_table(rollups, [D1, D2], catalog)
    assert [column.key for column in table.columns] == ["product_id", "name", "reviews_approved", "average_stars",
                                                        "all_time_average", "all_time_reviews"]
    assert table.rows == (("P2", "Topeng Klana", 3, 4.3, 4.3, 3), ("P1", "Topeng Kayu Panji", 2, 4.5, 3.7, 3),
                          ("P3", "Gone from the catalog", 1, 3.0, None, None))
    assert domain.reviewed_products(rollups, [D1]) == ["P1", "P3"]
    assert domain.ratings_table({}, [D1], catalog).rows == ()
    written = csv_rows(table)
    assert (written[1]["average_stars"], written[1]["all_time_average"], written[2]["all_time_reviews"]) == (
        "4.5", "3.7", "")


def test_the_customer_service_table_counts_tickets_opened_per_category_and_in_all() -> None:
    rollups = {D1: {"summary": {"tickets_opened": 3},
                    "ticket_category#shipping": {"tickets_opened": 2, "label_name": "shipping"},
                    "ticket_category#payment": {"tickets_opened": 1, "label_name": "payment"}},
               D2: {"summary": {"tickets_opened": 1},
                    "ticket_category#payment": {"tickets_opened": 1, "label_name": "payment"}}}
    table = domain.customer_service_table(rollups, [D1, D2])
    assert table.rows == (("all", 4, 100.0), ("payment", 2, 50.0), ("shipping", 2, 50.0))
    assert domain.customer_service_table(rollups, [D3]).rows == (("all", 0, None),)


def test_a_report_has_the_after_sale_tables_last_as_csv_files_sheets_and_manifest_entries() -> None:
    rollups = {D1: {**MOVES[D1], "product#P1": {"reviews_approved": 2, "review_stars": 9, "label_name": "Topeng"},
                    "ticket_category#other": {"tickets_opened": 1, "label_name": "other"}}}
    tables = domain.build_tables(rollups, [D1], Catalog(products={}), Points(outstanding_now=850, point_value=100))
    assert [table.name for table in tables][-3:] == ["ratings", "customer_service", "loyalty"]
    meta = ReportMeta(report_id=f"custom-{D1}-{D1}", period="custom", date_from=D1, date_to=D1,
                      generated_at="2026-11-11T00:00:00.000Z", shop="TokoKita")
    written = report_files(tables, meta)
    assert {"ratings.csv", "customer_service.csv", "loyalty.csv", "report.xlsx", "manifest.json"} <= set(written)
    assert b'"ratings": 1' in written["manifest.json"] and b'"loyalty": 2' in written["manifest.json"]
    with zipfile.ZipFile(io.BytesIO(written["report.xlsx"])) as workbook:
        sheets = [name for name in workbook.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", name)]
    assert len(sheets) == 1 + len(tables)  # the cover, then one sheet per table


# ---- what a ticket's changes count -------------------------------------------------------------------------------


def at(minutes: int) -> str:
    """2026-11-10 03:00 UTC (10:00 WIB) plus `minutes`."""
    hours, rest = divmod(3 * 60 + minutes, 60)
    days, hours = divmod(hours, 24)
    return f"2026-11-{10 + days:02d}T{hours:02d}:{rest:02d}:00.000Z"


def message(author: str, minutes: int) -> TicketMessage:
    return TicketMessage(at=at(minutes), author=author, by=f"{author}-1", text="...")


def test_a_ticket_counts_its_opening_first_response_resolution_time_and_rating_once_however_often_reopened() -> None:
    opened = open_ticket(ticket_id="TKT-261110-ABCDEFGH", category="shipping", message=message("customer", 0),
                         customer_id="cust-1", order_id=None)
    assert counted(None, opened) == [
        Count("summary", {"tickets_opened": 1}, at(0)),
        Count("ticket_category#shipping", {"tickets_opened": 1}, at(0), {"name": "shipping"})]

    answered = add_staff_message(opened, message("staff", 30))
    assert counted(opened, answered) == [
        Count("summary", {"tickets_first_responses": 1, "first_response_seconds": 1_800}, at(30))]
    again = add_staff_message(answered, message("staff", 40))
    assert counted(answered, again) == []  # only the first response counts

    resolved = resolve(again, at=at(60))
    assert counted(again, resolved) == [Count("summary", {"tickets_resolved": 1, "resolution_seconds": 3_600},
                                              at(60))]
    rated = rate(resolved, stars=5, comment="", at=at(65))
    assert counted(resolved, rated) == [Count("summary", {"csat_ratings": 1, "csat_score": 5, "csat_satisfied": 1},
                                              at(65))]

    reopened = add_customer_message(rated, message("customer", 24 * 60 + 60))
    assert counted(rated, reopened) == []
    replied = add_staff_message(reopened, message("staff", 24 * 60 + 70))
    assert counted(reopened, replied) == []  # a reply after a reopen is no first response
    resolved_again = resolve(replied, at=at(24 * 60 + 75))
    # counted once as resolved; the reopen adds only the 15 minutes it was open again (not the day it sat resolved)
    assert counted(replied, resolved_again) == [
        Count("summary", {"resolution_seconds": 15 * 60}, at(24 * 60 + 75))]


@pytest.mark.parametrize(("stars", "satisfied"), [(1, 0), (3, 0), (4, 1), (5, 1)])
def test_a_rating_of_four_or_five_stars_counts_as_satisfied(stars: int, satisfied: int) -> None:
    opened = open_ticket(ticket_id="TKT-261110-ABCDEFGH", category="other", message=message("customer", 0),
                         customer_id="cust-1", order_id=None)
    resolved = resolve(opened, at=at(10))
    (count,) = counted(resolved, rate(resolved, stars=stars, comment="", at=at(11)))
    assert count.counts == {"csat_ratings": 1, "csat_score": stars, "csat_satisfied": satisfied}
