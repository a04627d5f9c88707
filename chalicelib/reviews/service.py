"""Reviews from the buyer's words to the product's rating: writing one per order line, staff moderation, the
shop's reply, and the public listing.

Approving a review is one DynamoDB transaction: the review leaves `pending` (conditional on still being pending)
and its stars are added to the product's counters (an atomic ADD, through the catalog's service) and to the day's
rollups for the sales reports (through tallies, on the business day of the approval), so the rating and the
reports are exact however many approvals race or retry, and no request ever recounts the reviews.
"""

from __future__ import annotations

import random
import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import aws, clock, config, db, resources
from chalicelib.auth import Principal
from chalicelib.catalog import service as catalog
from chalicelib.errors import Conflict, NotFound
from chalicelib.notifications import service as notifications
from chalicelib.observability import logger, metrics
from chalicelib.orders import service as orders
from chalicelib.reviews import domain, repository
from chalicelib.reviews.domain import APPROVED, AlreadyReplied, AlreadyReviewed, Review, StepRefused
from chalicelib.tallies import service as tallies
from chalicelib.validation import Fields

ATTEMPTS = 8  # fresh tries of an approval that lost a race with another transaction on the same product
REVIEW_APPROVED = "review_approved"


def _load(review_id: str) -> Review:
    review = repository.get(review_id)
    if review is None:
        raise NotFound(f"review {review_id} not found", code="review_not_found")
    return review


# ---- the buyer ----------------------------------------------------------------------------------------------


def write_review(order_id: str, principal: Principal | None, access_token: str | None, fields: Fields
                 ) -> dict[str, Any]:
    """The buyer reviews one line of a completed order, once; the review waits for moderation. Answers the
    review and one presigned upload per photo (S3 POST, at most 5 MB each, private until shown)."""
    order = orders.find(order_id)
    if order is None:
        raise NotFound(f"order {order_id} not found", code="order_not_found")
    domain.check_reviewer(order, sub=principal.sub if principal else None,
                          is_staff=bool(principal and principal.is_staff), access_token=access_token)
    request = domain.parse_request(fields)
    review = domain.new_review(order, request, now_iso=clock.now_iso(), window_days=config.review_window_days())
    if not repository.create(review):
        raise AlreadyReviewed(f"{review.sku} on order {order_id} has been reviewed already",
                              details={"review_id": review.review_id})
    metrics.add_metric(name="ReviewsWritten", unit=MetricUnit.Count, value=1)
    uploads = [aws.private_upload(key, kind) for key, kind in zip(review.photos, request.photo_types, strict=True)]
    return {**review.to_dict(), "photo_uploads": uploads}


def _photo_links(review: Review) -> list[str]:
    """Short-lived links to the review's photos: the reviews/ prefix of the media bucket is never public."""
    return [aws.private_link(key) for key in review.photos]


# ---- shoppers -----------------------------------------------------------------------------------------------


def product_reviews(product_id: str, *, limit: int, cursor: str | None) -> dict[str, Any]:
    """A published product's approved reviews, newest first, a page at a time, with its rating."""
    product = catalog.get_product(product_id)
    items, next_cursor = repository.approved_of_product(product_id, limit=limit, cursor=cursor)
    return {"product_id": product_id, "rating": product["rating"],
            "items": [{**review.public_dict(), "photos": _photo_links(review)} for review in items],
            "next_cursor": next_cursor}


# ---- staff ----------------------------------------------------------------------------------------------------


def in_status(status: str, *, limit: int, cursor: str | None) -> dict[str, Any]:
    items, next_cursor = repository.in_status(status, limit=limit, cursor=cursor)
    return {"items": [{**review.to_dict(), "photos": _photo_links(review)} for review in items],
            "next_cursor": next_cursor}



def approve(review_id: str, *, actor: str) -> dict[str, Any]:
    """Show the review and count its stars in the product's rating, in one transaction. Approving an approved
    review answers it as it is (a retry counts nothing twice); a rejected one is 409."""
    for attempt in range(ATTEMPTS):
        review = _load(review_id)
        if review.status == APPROVED:
            catalog.rank_rating(review.product_id)  # a retry also repairs a rank its first call did not set
            _notify_approved(review)  # sent once per review by the outbox, so a retry may ask again
            return review.to_dict()
        after = domain.approve(review, at=clock.now_iso(), actor=actor)
        tx = db.transaction()
        try:
            with tx:
                repository.stage_approve(tx, after)
                catalog.stage_rating(tx, after.product_id, after.stars)
                _stage_counts(tx, after)
        except TransactWriteError as error:
            failed = tx.failed_conditions(error)
            if any(item.table_name == resources.PRODUCTS.physical_name for item in failed):
                raise NotFound(f"product {after.product_id} of review {review_id} no longer exists",
                               code="product_not_found") from None
            if failed or db.lost_to_another_transaction(error):  # decided meanwhile, or a concurrent approval
                time.sleep(random.uniform(0, 0.02 * 2 ** attempt))
                continue
            raise
        metrics.add_metric(name="ReviewsApproved", unit=MetricUnit.Count, value=1)
        catalog.rank_rating(after.product_id)
        _notify_approved(after)
        return after.to_dict()
    raise Conflict(f"review {review_id} keeps changing; try again", code="review_conflict")


def _stage_counts(tx: TransactWrite, approved: Review) -> None:
    """The approval in the day rollups (reports: the ratings sheet and the summary), in the approval's transaction."""
    assert approved.decided_at is not None
    counts = {"reviews_approved": 1, "review_stars": approved.stars}
    labels = {"name": approved.product_name} if approved.product_name else None
    tallies.stage(tx, f"product#{approved.product_id}", counts, at=approved.decided_at, labels=labels)
    tallies.stage(tx, tallies.SUMMARY, counts, at=approved.decided_at)


def _notify_approved(review: Review) -> None:
    order = orders.find(review.order_id)
    if order is None:
        logger.warning("review without its order", extra={"review_id": review.review_id})
        return
    notifications.request(REVIEW_APPROVED, order.to_dict(),
                          {"review_id": review.review_id, "product_name": review.product_name,
                           "stars": review.stars}, key=review.review_id)


def reject(review_id: str, *, actor: str, reason: str) -> dict[str, Any]:
    """The review is never shown (and never counted); the reason stays for staff."""
    review = _load(review_id)
    after = domain.reject(review, at=clock.now_iso(), actor=actor, reason=reason)
    stored = repository.save_rejection(after)
    if stored is None:  # approved or rejected by someone else since the read
        raise StepRefused(f"review {review_id} was decided meanwhile", details={"review_id": review_id})
    return stored.to_dict()


def reply(review_id: str, *, actor: str, text: str) -> dict[str, Any]:
    """The shop's public answer, once per review (409 for a second one)."""
    review = _load(review_id)
    after = domain.add_reply(review, text=text, at=clock.now_iso(), actor=actor)
    stored = repository.save_reply(after)
    if stored is None:
        raise AlreadyReplied(f"review {review_id} already has the shop's reply (or was rejected meanwhile)",
                             details={"review_id": review_id})
    return stored.to_dict()
