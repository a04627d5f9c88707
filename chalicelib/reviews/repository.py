"""Reviews in DynamoDB: one item per order line, found by product and by status; every step conditional on the
status it leaves, so two moderators (or a retry) never apply a step twice."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import JSONAttribute, ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import resources
from chalicelib.db import meta_for, page_cursor, start_key
from chalicelib.reviews.domain import APPROVED, PENDING, REJECTED, REVIEW_ID_MAX, Reply, Review


class ReviewsByProduct(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-product"
        projection = AllProjection()

    product_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class ReviewsByStatus(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class ReviewModel(Model):
    Meta = meta_for(resources.REVIEWS)
    review_id = UnicodeAttribute(hash_key=True)  # "<order id>-<SKU>": one per order line
    order_id = UnicodeAttribute()
    sku = UnicodeAttribute()
    product_id = UnicodeAttribute()
    product_name = UnicodeAttribute()
    stars = NumberAttribute()
    text = UnicodeAttribute(null=True)
    reviewer_name = UnicodeAttribute()
    status = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    customer_id = UnicodeAttribute(null=True)
    photos = ListAttribute(of=UnicodeAttribute, null=True)
    decided_at = UnicodeAttribute(null=True)
    decided_by = UnicodeAttribute(null=True)
    reject_reason = UnicodeAttribute(null=True)
    reply = JSONAttribute(null=True)
    by_product = ReviewsByProduct()
    by_status = ReviewsByStatus()


def to_review(item: ReviewModel) -> Review:
    reply = item.reply
    return Review(
        review_id=item.review_id, order_id=item.order_id, sku=item.sku, product_id=item.product_id,
        product_name=item.product_name, stars=int(item.stars), text=item.text or "",
        reviewer_name=item.reviewer_name, status=item.status, created_at=item.created_at,
        updated_at=item.updated_at, customer_id=item.customer_id, photos=tuple(str(key) for key in item.photos or ()),
        decided_at=item.decided_at, decided_by=item.decided_by, reject_reason=item.reject_reason or "",
        reply=Reply(text=str(reply["text"]), at=str(reply["at"]), by=str(reply["by"])) if reply else None,
    )


def to_model(review: Review) -> ReviewModel:
    return ReviewModel(
        review.review_id, order_id=review.order_id, sku=review.sku, product_id=review.product_id,
        product_name=review.product_name, stars=review.stars, text=review.text or None,
        reviewer_name=review.reviewer_name, status=review.status, created_at=review.created_at,
        updated_at=review.updated_at, customer_id=review.customer_id, photos=list(review.photos) or None,
        decided_at=review.decided_at, decided_by=review.decided_by, reject_reason=review.reject_reason or None,
        reply=review.reply.to_dict() if review.reply else None,
    )


def get(review_id: str) -> Review | None:
    try:
        return to_review(ReviewModel.get(review_id, consistent_read=True))
    except ReviewModel.DoesNotExist:
        return None


def create(review: Review) -> bool:
    """Store a new review; False when its order line was reviewed already (nothing is written then)."""
    try:
        to_model(review).save(condition=ReviewModel.review_id.does_not_exist())
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _decision(after: Review) -> list[Any]:
    assert after.decided_at is not None and after.decided_by is not None
    return [ReviewModel.status.set(after.status), ReviewModel.updated_at.set(after.updated_at),
            ReviewModel.decided_at.set(after.decided_at), ReviewModel.decided_by.set(after.decided_by)]


def stage_approve(tx: TransactWrite, after: Review) -> None:
    """The pending review becomes approved, in the caller's transaction (with its product's rating)."""
    assert after.status == APPROVED
    tx.update(ReviewModel(after.review_id), actions=_decision(after), condition=ReviewModel.status == PENDING)


def _update(review_id: str, actions: list[Any], condition: Any) -> Review | None:
    item = ReviewModel(review_id)
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return to_review(item)


def save_rejection(after: Review) -> Review | None:
    """The pending review becomes rejected; None when it was no longer pending."""
    assert after.status == REJECTED
    return _update(after.review_id, [*_decision(after), ReviewModel.reject_reason.set(after.reject_reason)],
                   ReviewModel.status == PENDING)


def save_reply(after: Review) -> Review | None:
    """The shop's one reply; None when a reply exists already or the review was rejected meanwhile."""
    assert after.reply is not None
    return _update(after.review_id,
                   [ReviewModel.reply.set(after.reply.to_dict()), ReviewModel.updated_at.set(after.updated_at)],
                   ReviewModel.reply.does_not_exist() & (ReviewModel.status != REJECTED))


def in_status(status: str, *, limit: int, cursor: str | None) -> tuple[list[Review], str | None]:
    """One page, oldest first (staff moderate in the order customers wrote), and the next page's cursor."""
    result = ReviewModel.by_status.query(status, scan_index_forward=True, limit=limit,
                                         last_evaluated_key=_decode(cursor, "status", status))
    items = [to_review(item) for item in result]
    return items, _encode(result.last_evaluated_key)


def approved_of_product(product_id: str, *, limit: int, cursor: str | None) -> tuple[list[Review], str | None]:
    """One page of a product's approved reviews, newest first, and the next page's cursor."""
    result = ReviewModel.by_product.query(product_id, scan_index_forward=False, limit=limit,
                                          filter_condition=ReviewModel.status == APPROVED,
                                          last_evaluated_key=_decode(cursor, "product_id", product_id))
    items = [to_review(item) for item in result]
    return items, _encode(result.last_evaluated_key)


def _encode(key: dict[str, Any] | None) -> str | None:
    return page_cursor(key, item_key="review_id", range_name="created_at")


def _decode(cursor: str | None, index_key: str, index_value: str) -> dict[str, Any] | None:
    return start_key(cursor, item_key="review_id", range_name="created_at", hash_name=index_key,
                     hash_value=index_value, max_len=REVIEW_ID_MAX)
