"""Loyalty points over HTTP under moto: earned once after the return window, taken back in proportion to refunds,
spent at checkout inside its transaction (once, however many checkouts race for the same points), given back
when an order ends unpaid, expired oldest first after a warning, and counted into the report rollups."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import clock
from chalicelib.fulfilment import service as fulfilment
from chalicelib.loyalty import repository as points_repository
from chalicelib.loyalty import service as loyalty
from chalicelib.orders import repository as orders
from chalicelib.orders import workflow
from chalicelib.tallies import repository as rollups
from chalicelib.tallies import service as tallies
from tests.functional.helpers import (
    body_of,
    checkout,
    checkout_body,
    create_product,
    new_cart,
    put_item,
    send,
    snapshot,
)
from tests.functional.test_returns_api import deliver as delivered_now

SARI = "cust-sari"
SKU, OTHER = "BTK-A", "BTK-B"
CHECKOUTS = 20


@pytest.fixture
def told(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, dict[str, Any]]]:
    """Points notifications asked for, recorded (sending is the notifications area's business)."""
    calls: list[tuple[str, str, dict[str, Any]]] = []
    monkeypatch.setattr(loyalty.notifications, "request",
                        lambda event, order, extra=None, *, key=None: calls.append((event, order["order_id"],
                                                                                    dict(extra or {}))))
    monkeypatch.setattr(workflow, "resume", lambda token, output: True)
    monkeypatch.setattr(workflow, "fail", lambda token, error, cause, known=None: True)
    return calls


def stock_up(client: Any, auth_header: Any) -> None:
    staff = auth_header("staff")
    create_product(client, staff, sku=SKU, stock=50, price=200_000)
    create_product(client, staff, sku=OTHER, stock=50, price=100_000)


def buy(client: Any, customer: dict[str, str], lines: dict[str, int], *, redeem: int = 0,
        method: str = "card") -> Any:
    cart_id = new_cart(client, customer)
    for sku, quantity in lines.items():
        put_item(client, cart_id, sku, quantity, customer)
    body = checkout_body(cart_id, payment_method=method, **({"redeem_points": redeem} if redeem else {}))
    return checkout(client, body, customer)


def deliver(order_id: str) -> None:
    delivered_now(order_id, at=clock.now_iso())


def after_window(days: int = 8) -> Any:
    return clock.now() + timedelta(days=days)


def my_points(client: Any, customer: dict[str, str], query: str = "") -> dict[str, Any]:
    answer = send(client, "GET", f"/me/loyalty{query}", headers=customer)
    assert answer.status_code == 200, answer.body
    return dict(body_of(answer))


def grant(client: Any, auth_header: Any, points: int, reference: str, customer_id: str = SARI) -> Any:
    return send(client, "POST", f"/admin/customers/{customer_id}/points",
                {"points": points, "reason": "goodwill for a late parcel", "reference": reference},
                auth_header("admin"))


def test_points_are_credited_once_after_the_return_window_however_often_completion_arrives(
        client: Any, auth_header: Any, told: list[Any]) -> None:
    stock_up(client, auth_header)
    sari = auth_header("customer", SARI)
    placed = body_of(buy(client, sari, {SKU: 2, OTHER: 1}))  # Rp500,000 of goods: 50 points
    deliver(placed["order_id"])
    for _ in range(3):  # the completion step redelivered
        fulfilment.handle_task({"task": "complete_order", "order_id": placed["order_id"], "token": "t"})

    waiting = my_points(client, sari)
    assert waiting["balance"] == 0
    assert [(item["order_id"], item["earns"]) for item in waiting["earnings_to_come"]] == [(placed["order_id"], 50)]
    assert loyalty.credit_due() == {"credited": 0, "skipped": 0}, "the return window is still open"

    assert loyalty.credit_due(after_window())["credited"] == 1
    assert loyalty.credit_due(after_window())["credited"] == 0
    loyalty.credit_earning(placed["order_id"], until=clock.iso(after_window()))

    mine = my_points(client, sari)
    assert mine["balance"] == 50 and mine["balance_value"] == 5_000 and mine["earnings_to_come"] == []
    assert [(entry["kind"], entry["delta"], entry["balance"], entry["order_id"])
            for entry in mine["ledger"]["items"]] == [("earned", 50, 50, placed["order_id"])]
    assert mine["next_expiry"]["points"] == 50
    assert [(event, extra["points"]) for event, _, extra in told if event.startswith("points_")] == [
        ("points_earned", 50)]


def test_a_refund_inside_the_window_lowers_the_earning_and_one_after_takes_points_back_in_proportion(
        client: Any, auth_header: Any, told: list[Any]) -> None:
    stock_up(client, auth_header)
    sari, finance = auth_header("customer", SARI), auth_header("finance")
    placed = body_of(buy(client, sari, {SKU: 5}))  # Rp1,000,000 of goods: 100 points
    order_id, goods = placed["order_id"], placed["totals"]["total"] - placed["totals"]["shipping"]
    deliver(order_id)

    def refund(amount: int, key: str) -> None:
        answer = send(client, "POST", f"/admin/orders/{order_id}/refunds",
                      {"amount": amount, "reason": "goodwill", "refund_key": key}, finance)
        assert answer.status_code in (200, 201), answer.body

    refund(goods // 4, "goodwill-1")  # inside the window: a quarter of the points are never credited
    loyalty.credit_due(after_window())
    assert my_points(client, sari)["balance"] == 75
    refund(goods // 4, "goodwill-2")  # after crediting: another quarter goes back
    refund(goods // 4, "goodwill-2")  # the same refund asked again moves nothing
    mine = my_points(client, sari)
    assert mine["balance"] == 50
    assert [(entry["kind"], entry["delta"]) for entry in mine["ledger"]["items"]] == [("reversed", -25),
                                                                                      ("earned", 75)]
    day = rollups.read_day(clock.business_day(clock.now()))["summary"]
    assert (day["points_earned"], day["points_reversed"]) == (75, 25)
    assert tallies.points_outstanding() == 50


def test_points_spent_at_checkout_lower_the_total_and_go_back_when_the_order_expires_unpaid(
        client: Any, auth_header: Any, told: list[Any]) -> None:
    stock_up(client, auth_header)
    sari = auth_header("customer", SARI)
    assert grant(client, auth_header, 1_000, "late-parcel-1").status_code == 201
    answer = buy(client, sari, {SKU: 1}, redeem=600, method="bank_transfer")
    assert answer.status_code == 201, answer.body
    placed = body_of(answer)
    totals = placed["totals"]
    assert (totals["points_redeemed"], totals["points_discount"]) == (600, 60_000)
    assert totals["total"] == 200_000 - 60_000 + totals["shipping"]
    assert my_points(client, sari)["balance"] == 400

    order = orders.get(placed["order_id"])
    fulfilment.end_unpaid(order, "expire")
    fulfilment.handle_task({"task": "release_stock", "order_id": order.order_id, "token": "t", "event": "expire"})
    mine = my_points(client, sari)
    assert mine["balance"] == 1_000
    assert [(entry["kind"], entry["delta"], entry["balance"]) for entry in mine["ledger"]["items"]] == [
        ("returned", 600, 1_000), ("redeemed", -600, 400), ("adjusted", 1_000, 1_000)]


def test_one_refund_gives_back_spent_points_and_takes_back_earned_ones_in_the_same_proportion(
        client: Any, auth_header: Any, told: list[Any]) -> None:
    stock_up(client, auth_header)
    sari, finance = auth_header("customer", SARI), auth_header("finance")
    grant(client, auth_header, 1_000, "welcome-1")
    placed = body_of(buy(client, sari, {SKU: 2}, redeem=1_000))  # Rp400,000 less Rp100,000 of points
    order_id, goods = placed["order_id"], placed["totals"]["total"] - placed["totals"]["shipping"]
    assert goods == 300_000
    deliver(order_id)
    loyalty.credit_due(after_window())  # 30 points on Rp300,000 paid
    assert my_points(client, sari)["balance"] == 30

    answer = send(client, "POST", f"/admin/orders/{order_id}/refunds",
                  {"amount": goods // 2, "reason": "one of two was damaged", "refund_key": "damaged-1"}, finance)
    assert answer.status_code == 201, answer.body

    mine = my_points(client, sari)
    assert [(entry["kind"], entry["delta"]) for entry in mine["ledger"]["items"][:2]] == [("reversed", -15),
                                                                                          ("returned", 500)]
    assert mine["balance"] == 30 + 500 - 15
    day = rollups.read_day(clock.business_day(clock.now()))["summary"]
    assert (day["points_returned"], day["points_reversed"], day["points_redeemed"]) == (500, 15, 1_000)
    assert tallies.points_outstanding() == mine["balance"]


@pytest.mark.parametrize(("redeem", "headers_role", "status", "code"), [
    (2_001, "customer", 422, "insufficient_points"),
    (1_001, "customer", 422, "points_over_limit"),  # 1,000 points (Rp100,000) is half of one Rp200,000 unit
    (10, None, 422, "sign_in_required"),
])
def test_a_checkout_that_cannot_spend_the_points_asked_is_refused_and_changes_nothing(
        client: Any, auth_header: Any, aws: Any, redeem: int, headers_role: str | None, status: int,
        code: str) -> None:
    stock_up(client, auth_header)
    grant(client, auth_header, 2_000, "welcome-1")
    headers = auth_header("customer", SARI) if headers_role else {}
    cart_id = new_cart(client, headers)
    put_item(client, cart_id, SKU, 1, headers)
    before = snapshot(aws)
    answer = checkout(client, checkout_body(cart_id, redeem_points=redeem), headers)
    assert answer.status_code == status and body_of(answer)["error"]["code"] == code, answer.body
    assert snapshot(aws) == before


@pytest.mark.parametrize("redeem", [-1, "10", 1.5, True])
def test_redeem_points_must_be_a_whole_number_of_points(client: Any, auth_header: Any, redeem: Any) -> None:
    stock_up(client, auth_header)
    sari = auth_header("customer", SARI)
    cart_id = new_cart(client, sari)
    put_item(client, cart_id, SKU, 1, sari)
    answer = checkout(client, checkout_body(cart_id, redeem_points=redeem), sari)
    assert answer.status_code == 400 and body_of(answer)["error"]["details"]["field"] == "redeem_points"


def test_twenty_concurrent_checkouts_spending_the_same_points_spend_them_once(
        client: Any, auth_header: Any, atomic_requests: None) -> None:
    stock_up(client, auth_header)
    sari = auth_header("customer", SARI)
    grant(client, auth_header, 500, "welcome-1")
    carts = []
    for _ in range(CHECKOUTS):
        cart_id = new_cart(client, sari)
        put_item(client, cart_id, SKU, 1, sari)
        carts.append(cart_id)

    def attempt(cart_id: str) -> tuple[int, str]:
        answer = checkout(client, checkout_body(cart_id, redeem_points=500), sari)
        return answer.status_code, body_of(answer).get("error", {}).get("code", "placed")

    with ThreadPoolExecutor(max_workers=CHECKOUTS) as pool:
        outcomes = list(pool.map(attempt, carts))

    assert outcomes.count((201, "placed")) == 1, outcomes
    assert {code for status, code in outcomes if status != 201} <= {"insufficient_points", "points_busy"}
    account = points_repository.get_account(SARI)
    assert account.balance == 0 and account.redeemed == 500
    spent = [entry for entry in points_repository.ledger(SARI, limit=50, cursor=None)[0] if entry.kind == "redeemed"]
    assert len(spent) == 1


def test_credits_expire_oldest_first_after_the_customer_was_warned_once(
        client: Any, auth_header: Any, told: list[Any]) -> None:
    stock_up(client, auth_header)
    sari = auth_header("customer", SARI)
    grant(client, auth_header, 300, "welcome-1")
    placed = body_of(buy(client, sari, {SKU: 1}, redeem=100))
    deliver(placed["order_id"])
    assert points_repository.get_account(SARI).contact["email"] == "sari@example.com"  # from the order

    eleven_months = clock.now() + timedelta(days=340)
    assert loyalty.expire_and_warn(eleven_months) == {"customers": 0, "expired": 0, "warned": 1}
    assert loyalty.expire_and_warn(eleven_months)["warned"] == 0, "each credit is warned about once"
    assert [(event, extra["points"]) for event, _, extra in told if event == "points_expiring"] == [
        ("points_expiring", 200)]

    a_year_on = clock.now() + timedelta(days=367)
    assert loyalty.expire_and_warn(a_year_on)["expired"] == 200
    assert loyalty.expire_and_warn(a_year_on)["expired"] == 0
    mine = my_points(client, sari)
    assert mine["balance"] == 0 and mine["totals"]["expired"] == 200
    assert mine["ledger"]["items"][0]["kind"] == "expired"


def test_staff_adjustments_are_made_once_per_reference_and_only_by_admins(
        client: Any, auth_header: Any, aws: Any) -> None:
    first = grant(client, auth_header, 250, "ticket-T1")
    again = grant(client, auth_header, 250, "ticket-T1")
    assert first.status_code == again.status_code == 201 and body_of(first) == body_of(again)
    assert points_repository.get_account(SARI).balance == 250

    before = snapshot(aws)
    refused = [
        send(client, "POST", f"/admin/customers/{SARI}/points",
             {"points": 5, "reason": "nice", "reference": "r-123"}, auth_header("staff")),
        send(client, "POST", f"/admin/customers/{SARI}/points", {"points": 0, "reason": "zero", "reference": "r-2"},
             auth_header("admin")),
        send(client, "POST", f"/admin/customers/{SARI}/points", {"points": -251, "reason": "too many",
                                                                 "reference": "r-3"}, auth_header("admin")),
        send(client, "POST", f"/admin/customers/{SARI}/points", {"points": 5, "reference": "r-4"},
             auth_header("admin")),
    ]
    assert [answer.status_code for answer in refused] == [403, 400, 422, 400]
    assert snapshot(aws) == before


def test_a_customer_reads_only_their_own_points_and_pages_the_ledger(client: Any, auth_header: Any) -> None:
    for number in range(5):
        grant(client, auth_header, 10, f"promo-{number}")
    sari = auth_header("customer", SARI)
    first = my_points(client, sari, "?limit=2")
    second = my_points(client, sari, f"?limit=2&cursor={first['ledger']['cursor']}")
    assert [entry["balance"] for entry in first["ledger"]["items"] + second["ledger"]["items"]] == [50, 40, 30, 20]
    assert send(client, "GET", "/me/loyalty").status_code == 401
    assert send(client, "GET", "/me/loyalty", headers=auth_header("staff")).status_code == 403
    assert send(client, "GET", "/me/loyalty?cursor=nope", headers=sari).status_code == 400
    staff_view = send(client, "GET", f"/admin/customers/{SARI}/loyalty", headers=auth_header("finance"))
    assert staff_view.status_code == 200 and body_of(staff_view)["balance"] == 50
    assert send(client, "GET", f"/admin/customers/{SARI}/loyalty", headers=sari).status_code == 403
