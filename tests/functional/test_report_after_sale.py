"""The after-sale figures in the sales reports under moto: reviews counted once on approval (a retried or racing
approval counts nothing twice), a ticket's opening, first response, resolution time and rating counted once
with the ticket's save (a lost race counts nothing), loyalty points read from the day rollups with the liability
at the period's end, and all of it in the report's ratings, customer_service, loyalty and summary files."""

from __future__ import annotations

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pynamodb.transactions import TransactWrite

from chalicelib import db, resources
from chalicelib.catalog import service as catalog
from chalicelib.reports import service as reports
from chalicelib.reviews import service as review_service
from chalicelib.tallies import repository as rollups
from chalicelib.tallies import service as tallies
from chalicelib.tallies.domain import Delta
from chalicelib.tickets import repository as tickets
from chalicelib.validation import Fields
from tests.functional.helpers import body_of, send
from tests.functional.test_reviews_api import completed_order

D1, D2, D3 = "2026-11-10", "2026-11-11", "2026-11-12"
OWNER = "cust-1"



def build(client: Any, auth_header: Any, date_from: str, date_to: str) -> dict[str, Any]:
    asked = send(client, "POST", "/admin/reports", {"from": date_from, "to": date_to}, auth_header("finance"))
    assert asked.status_code == 202, asked.body
    report = reports.build(body_of(asked)["report_id"])
    assert report["status"] == "ready"
    return report


def read(aws: Any, report: dict[str, Any], name: str) -> bytes:
    (item,) = [item for item in report["files"] if item["name"] == name]
    return bytes(aws.s3.get_object(Bucket=resources.REPORTS_BUCKET.physical_name, Key=item["key"])["Body"].read())


def rows(aws: Any, report: dict[str, Any], name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(read(aws, report, name).decode("utf-8-sig"))))


def summary(aws: Any, report: dict[str, Any]) -> dict[str, str]:
    return {row["metric"]: row["value"] for row in rows(aws, report, "summary.csv")}


# ---- reviews -------------------------------------------------------------------------------------------------------


def a_product(sku: str, name: str) -> str:
    created = catalog.create_product(Fields({
        "name": name, "category": "Kerajinan Kayu", "status": "active",
        "variants": [{"sku": sku, "price": 300_000, "weight_grams": 800}], "initial_stock": {sku: 5}}),
        actor="staff-1")
    return str(created["product_id"])


def a_review(number: int, product_id: str, sku: str, stars: int) -> str:
    order = completed_order(f"TK-261109-RVW{number:03d}", product_id, sku, token=f"token-{number}")
    created = review_service.write_review(order.order_id, None, f"token-{number}",
                                          Fields({"sku": sku, "stars": stars, "text": f"ulasan {number}"}))
    return str(created["review_id"])


def test_approved_reviews_are_counted_once_into_the_ratings_sheet_and_the_summary(
        client: Any, auth_header: Any, aws: Any, at: Any, atomic_requests: None) -> None:
    at("2026-11-10T03:00:00.000Z")
    panji, klana = a_product("TPG-PANJI", "Topeng Panji"), a_product("TPG-KLANA", "Topeng Klana")
    five, four = a_review(1, panji, "TPG-PANJI", 5), a_review(2, panji, "TPG-PANJI", 4)
    three, one = a_review(3, klana, "TPG-KLANA", 3), a_review(4, klana, "TPG-KLANA", 1)
    staff = auth_header("staff")

    # approved twice over HTTP (a retry), twice at the same time (racing moderators), once; one rejected
    assert [send(client, "POST", f"/admin/reviews/{five}/approve", headers=staff).status_code
            for _ in range(2)] == [200, 200]
    with ThreadPoolExecutor(max_workers=2) as pool:
        raced = list(pool.map(lambda review_id: review_service.approve(review_id, actor="staff-2")["status"],
                              [four, four]))
    assert raced == ["approved", "approved"]
    review_service.approve(three, actor="staff-1")
    review_service.reject(one, actor="staff-1", reason="spam")

    day = tallies.read_day(D1)
    assert day[f"product#{panji}"] == {"reviews_approved": 2, "review_stars": 9, "label_name": "Topeng Kayu Panji"}
    assert day[f"product#{klana}"] == {"reviews_approved": 1, "review_stars": 3, "label_name": "Topeng Kayu Panji"}
    assert (day["summary"]["reviews_approved"], day["summary"]["review_stars"]) == (3, 12)

    at("2026-11-11T03:00:00.000Z")  # the next day: one more approval, counted on 11 November
    review_service.approve(a_review(5, panji, "TPG-PANJI", 2), actor="staff-1")
    closed = build(client, auth_header, D1, D1)

    assert rows(aws, closed, "ratings.csv") == [
        {"product_id": panji, "name": "Topeng Panji", "reviews_approved": "2", "average_stars": "4.5",
         "all_time_average": "3.7", "all_time_reviews": "3"},
        {"product_id": klana, "name": "Topeng Klana", "reviews_approved": "1", "average_stars": "3.0",
         "all_time_average": "3.0", "all_time_reviews": "1"}]
    figures = summary(aws, closed)
    assert (figures["reviews_approved"], figures["average_rating"]) == ("3", "4.0")
    assert tallies.read_day(D2)["summary"]["reviews_approved"] == 1

    # a closed period's all-time figures are those recorded by its first build: rebuilt, the same file
    review_service.approve(a_review(6, klana, "TPG-KLANA", 5), actor="staff-1")
    assert read(aws, build(client, auth_header, D1, D1), "ratings.csv") == read(aws, closed, "ratings.csv")
    today = rows(aws, build(client, auth_header, D2, D2), "ratings.csv")
    assert sorted((row["product_id"], row["reviews_approved"], row["average_stars"], row["all_time_reviews"])
                  for row in today) == sorted([(klana, "1", "5.0", "2"), (panji, "1", "2.0", "3")])


# ---- tickets -------------------------------------------------------------------------------------------------------


def test_a_ticket_answered_resolved_reopened_resolved_again_and_rated_counts_each_fact_once(
        client: Any, auth_header: Any, aws: Any, at: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    owner, staff = auth_header("customer", OWNER), auth_header("staff", "staff-7")

    def post(path: str, body: Any, headers: dict[str, str], status: int = 201) -> dict[str, Any]:
        answer = send(client, "POST", path, body, headers)
        assert answer.status_code == status, answer.body
        return dict(body_of(answer))

    at("2026-11-10T03:00:00.000Z")
    first = post("/tickets", {"category": "product", "message": "Ada ukuran XL?"}, owner)["ticket_id"]

    # the first staff reply loses a race with the customer's message, is decided again, and counts once
    real_stage_save = tickets.stage_save
    rivals: list[str] = []

    def rival_first(tx: Any, before: Any, after: Any) -> None:
        if not rivals:
            rivals.append(post(f"/tickets/{first}/messages", {"message": "Halo?"}, owner)["ticket_id"])
        real_stage_save(tx, before, after)

    monkeypatch.setattr(tickets, "stage_save", rival_first)
    at("2026-11-10T03:30:00.000Z")
    answered = post(f"/admin/tickets/{first}/messages", {"message": "Ada, Kak."}, staff)
    monkeypatch.setattr(tickets, "stage_save", real_stage_save)
    assert rivals and answered["first_response_seconds"] == 1_800 and len(answered["messages"]) == 3

    at("2026-11-10T03:40:00.000Z")
    post(f"/admin/tickets/{first}/messages", {"message": "Stoknya 3."}, staff)  # a second reply counts nothing
    at("2026-11-10T04:00:00.000Z")
    post(f"/admin/tickets/{first}/resolve", None, staff, 200)
    at("2026-11-10T04:05:00.000Z")
    post(f"/tickets/{first}/rating", {"stars": 5}, owner, 200)
    post(f"/tickets/{first}/rating", {"stars": 1}, owner, 409)  # once per ticket

    at("2026-11-11T04:00:00.000Z")  # the next day the customer reopens it
    post(f"/tickets/{first}/messages", {"message": "Ukurannya kekecilan"}, owner)
    at("2026-11-11T04:10:00.000Z")
    post(f"/admin/tickets/{first}/messages", {"message": "Kami tukar."}, staff)
    at("2026-11-11T04:15:00.000Z")
    again = post(f"/admin/tickets/{first}/resolve", None, staff, 200)
    assert again["resolution_seconds"] == 3_600 + 900

    at("2026-11-11T05:00:00.000Z")
    second = post("/tickets", {"category": "payment", "message": "Sudah transfer"}, owner)["ticket_id"]
    at("2026-11-11T07:00:00.000Z")
    post(f"/admin/tickets/{second}/messages", {"message": "Sudah kami cek."}, staff)
    at("2026-11-11T08:00:00.000Z")
    post(f"/admin/tickets/{second}/resolve", None, staff, 200)
    at("2026-11-11T08:05:00.000Z")
    post(f"/tickets/{second}/rating", {"stars": 3}, owner, 200)

    day_one, day_two = tallies.read_day(D1), tallies.read_day(D2)
    assert day_one["summary"] == {"tickets_opened": 1, "tickets_first_responses": 1, "first_response_seconds": 1_800,
                                  "tickets_resolved": 1, "resolution_seconds": 3_600, "csat_ratings": 1,
                                  "csat_score": 5, "csat_satisfied": 1}
    assert day_two["summary"] == {"tickets_opened": 1, "tickets_first_responses": 1, "first_response_seconds": 7_200,
                                  "tickets_resolved": 1, "resolution_seconds": 900 + 10_800, "csat_ratings": 1,
                                  "csat_score": 3, "csat_satisfied": 0}
    assert day_one["ticket_category#product"] == {"tickets_opened": 1, "label_name": "product"}
    assert day_two["ticket_category#payment"] == {"tickets_opened": 1, "label_name": "payment"}

    at("2026-11-11T09:00:00.000Z")
    report = build(client, auth_header, D1, D2)
    assert rows(aws, report, "customer_service.csv") == [
        {"category": "all", "tickets_opened": "2", "share": "100.0"},
        {"category": "payment", "tickets_opened": "1", "share": "50.0"},
        {"category": "product", "tickets_opened": "1", "share": "50.0"}]
    figures = summary(aws, report)
    assert figures["tickets_opened"] == "2"
    assert figures["average_first_response_hours"] == "1.3"  # (1800 + 7200) / 2 s = 1.25 h
    # per ticket, its whole unresolved time: (3600 + 900 reopened) and 10800 s over 2 tickets = 2.125 h
    assert figures["average_resolution_hours"] == "2.1"
    assert (figures["csat_average"], figures["csat_satisfied_rate"]) == ("4.0", "50.0")
    assert figures["average_rating"] == ""  # no review approved: nothing to average


# ---- loyalty points ----------------------------------------------------------------------------------------------


def test_the_loyalty_sheet_and_the_points_liability_at_the_end_of_a_closed_period(
        client: Any, auth_header: Any, aws: Any, at: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKOFLOW_POINT_VALUE_RUPIAH", "150")
    moves = {D1: {"points_earned": 1_000, "points_redeemed": 200, "points_adjusted": 50},  # net 850
             D2: {"points_earned": 500, "points_redeemed": 300, "points_returned": 100, "points_reversed": 150,
                  "points_shortfall": 30, "points_expired": 20, "points_adjusted": -10},  # net 120
             D3: {"points_earned": 400, "points_redeemed": 100, "points_expired": 50}}  # net 250
    rollups.add([Delta(day, "summary", counts) for day, counts in moves.items()])
    with TransactWrite(connection=db.connection()) as tx:
        tallies.stage_points_outstanding(tx, 2_000 + 850 + 120 + 250)  # 2,000 held before 10 November
    at("2026-11-12T03:00:00.000Z")

    closed = build(client, auth_header, D1, D2)
    assert rows(aws, closed, "loyalty.csv") == [
        {"day": D1, "points_earned": "1000", "points_redeemed": "200", "points_returned": "0",
         "points_reversed": "0", "points_shortfall": "0", "points_expired": "0", "points_adjusted": "50",
         "net_change": "850", "points_outstanding": "2850", "outstanding_value": str(2_850 * 150)},
        {"day": D2, "points_earned": "500", "points_redeemed": "300", "points_returned": "100",
         "points_reversed": "150", "points_shortfall": "30", "points_expired": "20", "points_adjusted": "-10",
         "net_change": "120", "points_outstanding": "2970", "outstanding_value": str(2_970 * 150)},
        {"day": "total", "points_earned": "1500", "points_redeemed": "500", "points_returned": "100",
         "points_reversed": "150", "points_shortfall": "30", "points_expired": "20", "points_adjusted": "40",
         "net_change": "970", "points_outstanding": "2970", "outstanding_value": str(2_970 * 150)}]
    figures = summary(aws, closed)
    assert (figures["points_earned"], figures["points_redeemed"], figures["points_reversed"],
            figures["points_expired"]) == ("1500", "500", "150", "20")
    assert (figures["points_liability"], figures["points_liability_value"]) == ("2970", str(2_970 * 150))

    today = build(client, auth_header, D3, D3)  # a period ending today owes what is outstanding now
    assert summary(aws, today)["points_liability"] == "3220"
    assert rows(aws, today, "loyalty.csv")[-1]["points_outstanding"] == "3220"

    # later movements move the outstanding points and today's counters together: the closed period stays the same
    rollups.add([Delta(D3, "summary", {"points_earned": 75})])
    with TransactWrite(connection=db.connection()) as tx:
        tallies.stage_points_outstanding(tx, 75)
    assert read(aws, build(client, auth_header, D1, D2), "loyalty.csv") == read(aws, closed, "loyalty.csv")
    manifest_tables = set(closed["rows"])
    assert {"ratings", "customer_service", "loyalty"} <= manifest_tables
