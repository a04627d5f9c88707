"""Review rules in plain Python: who may review which order line and when, what a review may say, moderation
steps, the rating a product shows and the template that tells the customer."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.catalog.domain import Browse, Product, Variant, decode_cursor, page
from chalicelib.errors import DomainError, ValidationFailed
from chalicelib.notifications.domain import SMS_LIMIT, render
from chalicelib.orders import lifecycle
from chalicelib.orders.domain import Order, TimelineEntry, hash_token
from chalicelib.reviews import domain
from chalicelib.reviews.domain import (
    APPROVED,
    PENDING,
    REJECTED,
    REVIEW_ID_PATTERN,
    AlreadyReplied,
    OrderNotReviewable,
    ReviewRequest,
    ReviewWindowClosed,
    StepRefused,
)
from chalicelib.validation import Fields
from tests.unit.order_fakes import an_order

DELIVERED_AT = "2026-12-01T05:00:00.000Z"
TOKEN = "guest-secret-token"


def completed(status: str = lifecycle.COMPLETED, *, delivered: bool = True) -> Order:
    order = replace(an_order(status=status), customer={"name": "Sari Dewi Lestari", "email": "s@example.com",
                                                       "phone": "+6281234567890"},
                    access_token_hash=hash_token(TOKEN))
    if delivered:
        entry = TimelineEntry(at=DELIVERED_AT, status=lifecycle.DELIVERED, note="delivered", event=lifecycle.DELIVER)
        order = replace(order, timeline=(*order.timeline, entry))
    return order


def code_of(call: Any) -> str:
    with pytest.raises(DomainError) as refused:
        call()
    return refused.value.code


# ---- who ----------------------------------------------------------------------------------------------------


def test_the_owner_and_the_guest_with_the_token_may_review() -> None:
    order = completed()
    domain.check_reviewer(order, sub="cust-1", is_staff=False, access_token=None)
    domain.check_reviewer(order, sub=None, is_staff=False, access_token=TOKEN)


@pytest.mark.parametrize(("sub", "token"), [(None, None), (None, "wrong"), ("cust-9", None)])
def test_anyone_else_gets_the_404_of_a_missing_order(sub: str | None, token: str | None) -> None:
    assert code_of(lambda: domain.check_reviewer(completed(), sub=sub, is_staff=False,
                                                 access_token=token)) == "order_not_found"


def test_staff_see_the_order_but_do_not_write_the_buyers_review() -> None:
    assert code_of(lambda: domain.check_reviewer(completed(), sub="staff-1", is_staff=True,
                                                 access_token=None)) == "buyers_only"


# ---- when ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [lifecycle.COMPLETED, lifecycle.PARTIALLY_REFUNDED, lifecycle.REFUNDED])
def test_completed_orders_may_be_reviewed_even_after_a_refund(status: str) -> None:
    domain.check_reviewable(completed(status), now_iso="2026-12-02T00:00:00Z", window_days=30)


@pytest.mark.parametrize("status", [lifecycle.PENDING_PAYMENT, lifecycle.PAID, lifecycle.SHIPPED,
                                    lifecycle.DELIVERED, lifecycle.CANCELLED, lifecycle.RETURNED])
def test_orders_before_completion_are_not_reviewable(status: str) -> None:
    with pytest.raises(OrderNotReviewable) as refused:
        domain.check_reviewable(completed(status), now_iso="2026-12-02T00:00:00Z", window_days=30)
    assert refused.value.status == 422


def test_a_refunded_order_that_was_never_delivered_is_not_reviewable() -> None:
    with pytest.raises(OrderNotReviewable):
        domain.check_reviewable(completed(lifecycle.REFUNDED, delivered=False), now_iso="2026-12-02T00:00:00Z",
                                window_days=30)


def test_the_window_closes_exactly_window_days_after_delivery() -> None:
    order = completed()
    domain.check_reviewable(order, now_iso="2026-12-31T05:00:00.000Z", window_days=30)
    with pytest.raises(ReviewWindowClosed) as refused:
        domain.check_reviewable(order, now_iso="2026-12-31T05:00:00.001Z", window_days=30)
    assert refused.value.details["closed_at"] == "2026-12-31T05:00:00.000Z"
    assert refused.value.code == "review_window_closed" and refused.value.status == 422


# ---- what ---------------------------------------------------------------------------------------------------


def test_a_review_belongs_to_one_order_line_with_a_path_safe_id() -> None:
    order = completed()
    review = domain.new_review(order, ReviewRequest(sku="BTK-A", stars=5, text="Bagus", photo_types=("image/png",)),
                               now_iso="2026-12-02T00:00:00.000Z", window_days=30)
    assert review.review_id == f"{order.order_id}-BTK-A"
    import re

    assert re.fullmatch(REVIEW_ID_PATTERN, review.review_id)
    assert (review.status, review.product_id, review.product_name) == (PENDING, "p-1", "Batik tulis")
    assert review.reviewer_name == "Sari"  # first name only
    assert review.photos == (f"reviews/{order.order_id}/BTK-A/photo-1.png",)
    public = review.public_dict()
    assert "order_id" not in public and "customer_id" not in public and public["reviewer_name"] == "Sari"


def test_a_sku_not_on_the_order_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationFailed) as refused:
        domain.new_review(completed(), ReviewRequest(sku="NOPE-1", stars=4, text=""),
                          now_iso="2026-12-02T00:00:00Z", window_days=30)
    assert refused.value.field == "sku"


def test_a_valid_body_is_read_with_the_sku_in_capitals_and_empty_text_allowed() -> None:
    request = domain.parse_request(Fields({"sku": "btk-a", "stars": 3, "text": "",
                                           "photos": [{"content_type": "image/jpeg"}] * 3}))
    assert request == ReviewRequest(sku="BTK-A", stars=3, text="", photo_types=("image/jpeg",) * 3)
    assert domain.parse_request(Fields({"sku": "BTK-A", "stars": 5})).text == ""


@pytest.mark.parametrize(("body", "field"), [
    ({"stars": 5}, "sku"),
    ({"sku": "BTK-A"}, "stars"),
    ({"sku": "BTK-A", "stars": 0}, "stars"),
    ({"sku": "BTK-A", "stars": 6}, "stars"),
    ({"sku": "BTK-A", "stars": 4.5}, "stars"),
    ({"sku": "BTK-A", "stars": "5"}, "stars"),
    ({"sku": "BTK-A", "stars": True}, "stars"),
    ({"sku": "BTK-A", "stars": 5, "text": "x" * 2001}, "text"),
    ({"sku": "BTK-A", "stars": 5, "text": 5}, "text"),
    ({"sku": "BTK-A", "stars": 5, "photos": [{"content_type": "image/gif"}]}, "content_type"),
    ({"sku": "BTK-A", "stars": 5, "photos": [{"content_type": "image/png"}] * 4}, "photos"),
    ({"sku": "BTK-A", "stars": 5, "photos": [{"content_type": "image/png", "size": 1}]}, "size"),
    ({"sku": "BTK-A", "stars": 5, "rating": 5}, "rating"),
    ({"sku": "BTK A", "stars": 5}, "sku"),
])
def test_bad_input_is_refused_naming_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        domain.parse_request(Fields(body))
    assert field in refused.value.field


# ---- moderation ---------------------------------------------------------------------------------------------


def a_review() -> domain.Review:
    return domain.new_review(completed(), ReviewRequest(sku="BTK-A", stars=4, text="Rapi"),
                             now_iso="2026-12-02T00:00:00.000Z", window_days=30)


def test_a_pending_review_is_approved_or_rejected_once() -> None:
    approved = domain.approve(a_review(), at="2026-12-03T00:00:00.000Z", actor="staff-1")
    assert (approved.status, approved.decided_by) == (APPROVED, "staff-1")
    rejected = domain.reject(a_review(), at="2026-12-03T00:00:00.000Z", actor="staff-1", reason="spam")
    assert (rejected.status, rejected.reject_reason) == (REJECTED, "spam")
    for decided in (approved, rejected):
        with pytest.raises(StepRefused):
            domain.approve(decided, at="2026-12-04T00:00:00.000Z", actor="staff-2")
        with pytest.raises(StepRefused):
            domain.reject(decided, at="2026-12-04T00:00:00.000Z", actor="staff-2", reason="again")


def test_the_shop_replies_once_and_never_to_a_rejected_review() -> None:
    replied = domain.add_reply(a_review(), text="Terima kasih!", at="2026-12-03T00:00:00.000Z", actor="staff-1")
    assert replied.public_dict()["reply"] == {"text": "Terima kasih!", "at": "2026-12-03T00:00:00.000Z"}
    with pytest.raises(AlreadyReplied) as twice:
        domain.add_reply(replied, text="Lagi", at="2026-12-04T00:00:00.000Z", actor="staff-1")
    assert twice.value.status == 409
    rejected = domain.reject(a_review(), at="2026-12-03T00:00:00.000Z", actor="staff-1", reason="spam")
    with pytest.raises(StepRefused):
        domain.add_reply(rejected, text="Halo", at="2026-12-04T00:00:00.000Z", actor="staff-1")


# ---- the rating a product shows -------------------------------------------------------------------------------


def product(product_id: str, rating_sum: int, rating_count: int) -> Product:
    return Product(product_id=product_id, name=product_id, description="", category="Batik", status="active",
                   variants=(Variant(sku=f"SKU-{product_id}", price=100_000, weight_grams=100),),
                   created_at="2026-12-01T00:00:00.000Z", rating_sum=rating_sum, rating_count=rating_count)


@pytest.mark.parametrize(("rating_sum", "count", "average"), [
    (0, 0, None), (5, 1, 5.0), (9, 2, 4.5), (13, 3, 4.3), (17, 4, 4.3), (14, 3, 4.7), (1, 1, 1.0),
])
def test_the_average_has_one_decimal_rounded_half_up(rating_sum: int, count: int, average: float | None) -> None:
    assert product("p", rating_sum, count).to_dict()["rating"] == {"average": average, "count": count}


def test_sort_by_rating_puts_the_best_average_first_then_the_most_reviews_then_unrated() -> None:
    catalog = [product("none", 0, 0), product("four", 8, 2), product("five-few", 5, 1), product("five-many", 15, 3),
               product("three", 3, 1)]
    rows, _ = page(catalog, Browse(sort="rating"))
    assert [row.product_id for row in rows] == ["five-many", "five-few", "four", "three", "none"]
    seen, cursor = [], None
    while True:
        rows, cursor = page(catalog, Browse(sort="rating", limit=2, cursor=cursor))
        seen += [row.product_id for row in rows]
        if not cursor:
            break
    assert seen == ["five-many", "five-few", "four", "three", "none"]
    _, cursor = page(catalog, Browse(sort="newest", limit=1))
    with pytest.raises(ValidationFailed):
        decode_cursor(cursor or "", Browse(sort="rating"))


# ---- the customer is told ---------------------------------------------------------------------------------------


def test_review_approved_is_in_bahasa_indonesia_and_fits_one_sms() -> None:
    order = completed().to_dict()
    message = render("review_approved", order, {"review_id": "x", "product_name": "Batik Tulis Parang",
                                                "stars": 5})
    assert order["order_id"] in message.subject and "sudah tayang" in message.subject
    assert message.text.startswith("Halo Sari Dewi Lestari,") and "5 bintang" in message.text
    assert message.sms.startswith("TokoKita:") and message.sms.isascii() and len(message.sms) <= SMS_LIMIT
    assert "Batik Tulis Parang" in message.sms
    long_name = render("review_approved", order, {"product_name": "Kain Tenun Ikat Sumba " * 8, "stars": 4})
    assert len(long_name.sms) <= SMS_LIMIT and long_name.sms.isascii()
    non_ascii = render("review_approved", order, {"product_name": "Kebaya Kutubaru Ñ", "stars": 4})
    assert non_ascii.sms.isascii() and "Kebaya" not in non_ascii.sms
