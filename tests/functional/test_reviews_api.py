"""Verified reviews over HTTP under moto: only the buyer of a completed order reviews each line once, bad input is a
4xx that changes nothing, staff moderate and reply once, shoppers see approved reviews only, and the product's
rating stays exact when many approvals race."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import clock, db
from chalicelib.catalog import repository as products
from chalicelib.catalog import service as catalog
from chalicelib.orders import lifecycle
from chalicelib.orders import repository as orders
from chalicelib.orders.domain import Order, OrderLine, OrderTotals, TimelineEntry, hash_token
from chalicelib.reviews import repository as reviews
from chalicelib.reviews import service as review_service
from chalicelib.validation import Fields
from tests.functional.helpers import body_of, create_product, place_order, send, snapshot
from tests.functional.test_returns_api import OTHER, SKU, delivered_order, guest

REVIEWERS = 50


@pytest.fixture
def told(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any], dict[str, Any], str | None]]:
    """Notifications the reviews service asks for, recorded (the queue itself is the notifications' business)."""
    calls: list[tuple[str, dict[str, Any], dict[str, Any], str | None]] = []
    monkeypatch.setattr(review_service.notifications, "request",
                        lambda event, order, extra=None, *, key=None: calls.append((event, dict(order),
                                                                                    dict(extra or {}), key)))
    return calls


def review(client: Any, placed: dict[str, Any], body: Any, headers: dict[str, str] | None = None) -> Any:
    return send(client, "POST", f"/orders/{placed['order_id']}/reviews", body,
                guest(placed) if headers is None else headers)


def written(client: Any, placed: dict[str, Any], sku: str = SKU, stars: int = 5, text: str = "Bagus sekali") -> str:
    answer = review(client, placed, {"sku": sku, "stars": stars, "text": text})
    assert answer.status_code == 201, answer.body
    return str(body_of(answer)["review_id"])


def product_of(sku: str) -> str:
    return next(product.product_id for product in products.all_in_status("active")
                if product.variant(sku) is not None)


def completed_order(order_id: str, product_id: str, sku: str, *, token: str, delivered_days_ago: float = 1,
                    customer_id: str | None = None, name: str = "Sari Dewi") -> Order:
    """A completed order stored directly (the checkout and courier path is what test_returns_api drives)."""
    delivered = clock.now() - timedelta(days=delivered_days_ago)
    placed_at = clock.iso(delivered - timedelta(days=2))
    line = OrderLine(sku=sku, product_id=product_id, name="Topeng Kayu Panji", options={}, unit_price=300_000,
                     quantity=1, line_total=300_000, weight_grams=800)
    order = Order(
        order_id=order_id, status=lifecycle.COMPLETED, created_at=placed_at, updated_at=clock.iso(delivered),
        customer={"name": name, "email": "sari@example.com", "phone": "+6281234567890"}, customer_id=customer_id,
        shipping_address={"recipient": name, "phone": "+6281234567890", "street": "Jl. Malioboro 1",
                          "city": "Yogyakarta", "province": "DI Yogyakarta", "postal_code": "55271", "notes": ""},
        shipping={"courier": "jne", "service": "reg", "price": 18_000}, payment_method="qris", lines=(line,),
        totals=OrderTotals(subtotal=300_000, discount=0, shipping=18_000, total=318_000, ppn_included=29_730,
                           ppn_rate_percent=11, weight_grams=800),
        cart_id="c" * 32, access_token_hash=hash_token(token),
        timeline=(TimelineEntry(at=placed_at, status=lifecycle.PAID, note="order placed"),
                  TimelineEntry(at=clock.iso(delivered), status=lifecycle.DELIVERED, note="delivered",
                                event=lifecycle.DELIVER),
                  TimelineEntry(at=clock.iso(delivered), status=lifecycle.COMPLETED, note="completed",
                                event=lifecycle.COMPLETE)))
    tx = db.transaction()
    with tx:
        orders.stage_create(tx, order)
    return order


def a_product(sku: str = "TPG-PANJI") -> str:
    created = catalog.create_product(Fields({
        "name": "Topeng Kayu Panji", "category": "Kerajinan Kayu", "status": "active",
        "variants": [{"sku": sku, "price": 300_000, "weight_grams": 800}], "initial_stock": {sku: 5},
    }), actor="staff-1")
    return str(created["product_id"])


# ---- who, when, what ------------------------------------------------------------------------------------------


def test_an_order_placed_but_not_delivered_cannot_be_reviewed_and_nothing_changes(
        client: Any, auth_header: Any, aws: Any) -> None:
    create_product(client, auth_header("staff"), sku=SKU, stock=5)
    placed = place_order(client, SKU, qty=1)
    before = snapshot(aws)
    answer = review(client, placed, {"sku": SKU, "stars": 5, "text": "Belum sampai"})
    assert answer.status_code == 422 and body_of(answer)["error"]["code"] == "order_not_reviewable"
    assert snapshot(aws) == before


def test_each_order_line_is_reviewed_once(client: Any, auth_header: Any, aws: Any) -> None:
    placed = delivered_order(client, auth_header)
    first = review(client, placed, {"sku": SKU, "stars": 4, "text": "Rapi", "photos": [{"content_type": "image/png"}]})
    assert first.status_code == 201, first.body
    created = body_of(first)
    assert created["review_id"] == f"{placed['order_id']}-{SKU}" and created["status"] == "pending"
    upload = created["photo_uploads"][0]
    assert upload["key"] == f"reviews/{placed['order_id']}/{SKU}/photo-1.png" and upload["method"] == "POST"
    assert upload["fields"]["Content-Type"] == "image/png"

    before = snapshot(aws)
    again = review(client, placed, {"sku": SKU, "stars": 1, "text": "Berubah pikiran"})
    assert again.status_code == 409 and body_of(again)["error"]["code"] == "already_reviewed"
    assert snapshot(aws) == before
    assert reviews.get(created["review_id"]).stars == 4  # the first review stands

    other = review(client, placed, {"sku": OTHER.lower(), "stars": 3})  # the other line, SKU in any case
    assert other.status_code == 201 and body_of(other)["review_id"] == f"{placed['order_id']}-{OTHER}"


def test_a_guest_needs_the_order_token_and_strangers_get_404(client: Any, auth_header: Any, aws: Any) -> None:
    placed = delivered_order(client, auth_header)
    body = {"sku": SKU, "stars": 5, "text": "Mantap"}
    before = snapshot(aws)
    without = review(client, placed, body, headers={})
    wrong = review(client, placed, body, headers={"X-Order-Token": "not-the-token"})
    stranger = review(client, placed, body, headers=auth_header("customer", "cust-9"))
    as_staff = review(client, placed, body, headers=auth_header("staff"))
    assert (without.status_code, wrong.status_code, stranger.status_code) == (404, 404, 404)
    assert as_staff.status_code == 403 and body_of(as_staff)["error"]["code"] == "buyers_only"
    assert snapshot(aws) == before
    assert review(client, placed, body).status_code == 201  # with the token


def test_the_signed_in_owner_may_review_within_the_window_only(
        client: Any, auth_header: Any, aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    product_id = a_product()
    owned = completed_order("TK-261201-OWNER1", product_id, "TPG-PANJI", token="t1", customer_id="cust-1")
    answer = review(client, {"order_id": owned.order_id}, {"sku": "TPG-PANJI", "stars": 5},
                    headers=auth_header("customer", "cust-1"))
    assert answer.status_code == 201, answer.body
    assert body_of(answer)["reviewer_name"] == "Sari"

    old = completed_order("TK-261001-OLDONE", product_id, "TPG-PANJI", token="t2", delivered_days_ago=31)
    before = snapshot(aws)
    closed = review(client, {"order_id": old.order_id}, {"sku": "TPG-PANJI", "stars": 2},
                    headers={"X-Order-Token": "t2"})
    assert closed.status_code == 422 and body_of(closed)["error"]["code"] == "review_window_closed"
    assert snapshot(aws) == before
    monkeypatch.setenv("TOKOFLOW_REVIEW_WINDOW_DAYS", "45")
    assert review(client, {"order_id": old.order_id}, {"sku": "TPG-PANJI", "stars": 2},
                  headers={"X-Order-Token": "t2"}).status_code == 201


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"stars": 5}, 400, "sku"),
    ({"sku": SKU}, 400, "stars"),
    ({"sku": SKU, "stars": 0}, 400, "stars"),
    ({"sku": SKU, "stars": 6}, 400, "stars"),
    ({"sku": SKU, "stars": 4.5}, 400, "stars"),
    ({"sku": SKU, "stars": "5"}, 400, "stars"),
    ({"sku": SKU, "stars": 5, "text": "x" * 2001}, 400, "text"),
    ({"sku": SKU, "stars": 5, "photos": [{"content_type": "image/gif"}]}, 400, "content_type"),
    ({"sku": SKU, "stars": 5, "photos": [{"content_type": "image/png"}] * 4}, 400, "photos"),
    ({"sku": SKU, "stars": 5, "status": "approved"}, 400, "status"),
    ({"sku": "NOPE-1", "stars": 5}, 400, "sku"),
    ([1, 2], 400, "body"),
])
def test_bad_input_is_a_4xx_naming_the_problem_and_changes_nothing(
        client: Any, auth_header: Any, aws: Any, body: Any, status: int, field: str) -> None:
    placed = delivered_order(client, auth_header)
    before = snapshot(aws)
    answer = review(client, placed, body)
    assert answer.status_code == status, answer.body
    assert field in answer.body.decode()
    assert snapshot(aws) == before


def test_a_malformed_order_id_or_body_is_400(client: Any, auth_header: Any) -> None:
    assert send(client, "POST", "/orders/not-an-order/reviews", {"sku": SKU, "stars": 5}).status_code == 400
    placed = delivered_order(client, auth_header)
    raw = send(client, "POST", f"/orders/{placed['order_id']}/reviews", raw="{not json", headers=guest(placed))
    assert raw.status_code == 400


# ---- moderation, reply, the public page ------------------------------------------------------------------------


def test_moderation_flow_counts_approved_stars_and_shows_only_approved_reviews(
        client: Any, auth_header: Any, told: list[Any]) -> None:
    staff = auth_header("staff")
    placed = delivered_order(client, auth_header)
    approved_id = written(client, placed, SKU, stars=4, text="Kainnya halus")
    rejected_id = written(client, placed, OTHER, stars=1, text="beli di toko lain lebih murah, klik link")
    product_id = product_of(SKU)

    # staff only
    assert send(client, "GET", "/admin/reviews", headers=auth_header("customer")).status_code == 403
    assert send(client, "POST", f"/admin/reviews/{approved_id}/approve").status_code == 401

    # the queue, oldest first, a page at a time
    first = body_of(send(client, "GET", "/admin/reviews?status=pending&limit=1", headers=staff))
    assert [item["review_id"] for item in first["items"]] == [approved_id] and first["next_cursor"]
    second = body_of(send(client, "GET", f"/admin/reviews?status=pending&limit=1&cursor={first['next_cursor']}",
                          headers=staff))
    assert [item["review_id"] for item in second["items"]] == [rejected_id]
    assert send(client, "GET", "/admin/reviews?status=maybe", headers=staff).status_code == 400
    assert send(client, "GET", "/admin/reviews?cursor=bm9wZQ", headers=staff).status_code == 400

    # nothing public before approval
    page = body_of(send(client, "GET", f"/products/{product_id}/reviews"))
    assert page["items"] == [] and page["rating"] == {"average": None, "count": 0}

    approved = send(client, "POST", f"/admin/reviews/{approved_id}/approve", headers=staff)
    assert approved.status_code == 200 and body_of(approved)["status"] == "approved"
    rejected = send(client, "POST", f"/admin/reviews/{rejected_id}/reject", {"reason": "tautan promosi"}, staff)
    assert rejected.status_code == 200 and body_of(rejected)["reject_reason"] == "tautan promosi"

    # approving again counts nothing twice; a decided review cannot be decided the other way
    assert send(client, "POST", f"/admin/reviews/{approved_id}/approve", headers=staff).status_code == 200
    refused = [send(client, "POST", f"/admin/reviews/{rejected_id}/approve", headers=staff),
               send(client, "POST", f"/admin/reviews/{approved_id}/reject", {"reason": "berubah"}, staff)]
    assert [(r.status_code, body_of(r)["error"]["code"]) for r in refused] == [(409, "review_step_refused")] * 2
    assert send(client, "POST", f"/admin/reviews/{approved_id}/reject", {}, staff).status_code == 400
    assert send(client, "POST", "/admin/reviews/TK-261201-NOSUCH-X1/approve", headers=staff).status_code == 404
    assert send(client, "POST", "/admin/reviews/bad%20id/approve", headers=staff).status_code == 400

    stored = products.get(product_id)
    assert stored is not None and (stored[0].rating_sum, stored[0].rating_count) == (4, 1)
    detail = body_of(send(client, "GET", f"/products/{product_id}"))
    assert detail["rating"] == {"average": 4.0, "count": 1}
    other_product = body_of(send(client, "GET", f"/products/{product_of(OTHER)}"))
    assert other_product["rating"] == {"average": None, "count": 0}  # the rejected review counts nowhere

    page = body_of(send(client, "GET", f"/products/{product_id}/reviews"))
    assert page["rating"] == {"average": 4.0, "count": 1}
    assert [item["text"] for item in page["items"]] == ["Kainnya halus"]
    shown = page["items"][0]
    assert shown["reviewer_name"] == "Sari" and shown["stars"] == 4
    assert placed["order_id"] not in json.dumps(page)  # no order id, no customer on the public page
    assert body_of(send(client, "GET", f"/products/{product_of(OTHER)}/reviews"))["items"] == []
    assert send(client, "GET", "/products/prd_missing/reviews").status_code == 404

    approved_list = body_of(send(client, "GET", "/admin/reviews?status=approved", headers=staff))
    assert [item["review_id"] for item in approved_list["items"]] == [approved_id]

    # the customer is told, once per review
    about_reviews = [call for call in told if call[0] == "review_approved"]
    assert {key for _, _, _, key in about_reviews} == {approved_id}  # asked again on the retry: sent once by key
    _, order, extra, _ = about_reviews[0]
    assert order["order_id"] == placed["order_id"] and extra["product_name"] and extra["stars"] == 4

    # a product edit keeps the counters the approvals added
    assert send(client, "PATCH", f"/admin/products/{product_id}", {"name": "Batik Tulis Baru"},
                staff).status_code == 200
    assert body_of(send(client, "GET", f"/products/{product_id}"))["rating"] == {"average": 4.0, "count": 1}


def test_the_shop_replies_publicly_once(client: Any, auth_header: Any, aws: Any) -> None:
    staff = auth_header("staff")
    placed = delivered_order(client, auth_header)
    review_id = written(client, placed)
    first = send(client, "POST", f"/admin/reviews/{review_id}/reply", {"text": "Terima kasih, Kak!"}, staff)
    assert first.status_code == 200 and body_of(first)["reply"]["text"] == "Terima kasih, Kak!"
    before = snapshot(aws)
    second = send(client, "POST", f"/admin/reviews/{review_id}/reply", {"text": "Sekali lagi"}, staff)
    assert second.status_code == 409 and body_of(second)["error"]["code"] == "already_replied"
    assert send(client, "POST", f"/admin/reviews/{review_id}/reply", {"text": ""}, staff).status_code == 400
    assert send(client, "POST", f"/admin/reviews/{review_id}/reply", {"text": "x"},
                auth_header("customer")).status_code == 403
    assert snapshot(aws) == before

    assert send(client, "POST", f"/admin/reviews/{review_id}/approve", headers=staff).status_code == 200
    shown = body_of(send(client, "GET", f"/products/{product_of(SKU)}/reviews"))["items"][0]
    assert shown["reply"]["text"] == "Terima kasih, Kak!" and "by" not in shown["reply"]


def test_public_reviews_are_newest_first_a_page_at_a_time(client: Any, told: list[Any]) -> None:
    product_id = a_product()
    ids = []
    for index in range(3):
        order = completed_order(f"TK-261201-PAGE0{index}", product_id, "TPG-PANJI", token=f"t{index}")
        answer = review(client, {"order_id": order.order_id}, {"sku": "TPG-PANJI", "stars": 3 + index,
                                                              "text": f"ulasan {index}"},
                        headers={"X-Order-Token": f"t{index}"})
        ids.append(body_of(answer)["review_id"])
        review_service.approve(ids[-1], actor="staff-1")
    texts, cursor = [], ""
    while True:
        page = body_of(send(client, "GET", f"/products/{product_id}/reviews?limit=2&cursor={cursor}"))
        texts += [item["text"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert texts == ["ulasan 2", "ulasan 1", "ulasan 0"]
    assert page["rating"] == {"average": 4.0, "count": 3}
    assert send(client, "GET", f"/products/{product_id}/reviews?limit=0").status_code == 400


# ---- the rating under concurrent approvals, and sorting by it -----------------------------------------------------


def test_fifty_concurrent_approvals_count_every_star_exactly_once(
        aws: Any, client: Any, atomic_requests: None, told: list[Any]) -> None:
    # GIVEN 50 completed orders of one product, each with a pending review of its line
    product_id = a_product()
    review_ids, stars = [], []
    for index in range(REVIEWERS):
        order = completed_order(f"TK-261201-RACE{index:03d}", product_id, "TPG-PANJI", token=f"race-{index}")
        star = index % 5 + 1
        created = review_service.write_review(order.order_id, None, f"race-{index}",
                                              Fields({"sku": "TPG-PANJI", "stars": star, "text": f"#{index}"}))
        review_ids.append(created["review_id"])
        stars.append(star)

    # WHEN staff approve all of them at the same time (and a second moderator approves ten of them again)
    def approve(review_id: str) -> str:
        return str(review_service.approve(review_id, actor="staff-1")["status"])

    with ThreadPoolExecutor(max_workers=REVIEWERS) as pool:
        outcomes = list(pool.map(approve, review_ids + review_ids[:10]))

    # THEN every review is approved and the product counts each one's stars exactly once
    assert outcomes == ["approved"] * (REVIEWERS + 10)
    stored = products.get(product_id)
    assert stored is not None
    assert (stored[0].rating_count, stored[0].rating_sum) == (REVIEWERS, sum(stars))
    expected = round(sum(stars) / REVIEWERS, 1)
    assert body_of(send(client, "GET", f"/products/{product_id}"))["rating"] == {"average": expected,
                                                                              "count": REVIEWERS}
    pending, _ = reviews.in_status("pending", limit=100, cursor=None)
    assert pending == []


def test_products_sort_by_rating_best_average_first_then_most_reviews(client: Any, told: list[Any]) -> None:
    ratings = {"TPG-FIVE-FEW": [5], "TPG-FIVE-MANY": [5, 5], "TPG-THREE": [3, 3], "TPG-NONE": []}
    ids: dict[str, str] = {}
    for number, (sku, given) in enumerate(ratings.items()):
        ids[sku] = a_product(sku)
        for index, star in enumerate(given):
            token = f"{sku}-{index}"
            order = completed_order(f"TK-261201-SORT{number}{index}", ids[sku], sku, token=token)
            created = review_service.write_review(order.order_id, None, token,
                                                  Fields({"sku": sku, "stars": star}))
            review_service.approve(created["review_id"], actor="staff-1")
    listing = body_of(send(client, "GET", "/products?sort=rating"))
    assert [item["product_id"] for item in listing["items"]] == [
        ids["TPG-FIVE-MANY"], ids["TPG-FIVE-FEW"], ids["TPG-THREE"], ids["TPG-NONE"]]
    assert listing["items"][0]["rating"] == {"average": 5.0, "count": 2}
    first = body_of(send(client, "GET", "/products?sort=rating&limit=2"))
    rest = body_of(send(client, "GET", f"/products?sort=rating&limit=2&cursor={first['next_cursor']}"))
    assert [item["product_id"] for item in first["items"] + rest["items"]] == [
        ids["TPG-FIVE-MANY"], ids["TPG-FIVE-FEW"], ids["TPG-THREE"], ids["TPG-NONE"]]
