"""Verified reviews in plain Python: who may review what and when, what a review says, and its moderation.

A review belongs to one order line: only the buyer (the signed-in owner, or a guest holding the order's access
token) writes it, once, after the order was completed and within the review window after delivery. Staff approve
or reject it; an approved review counts in its product's rating and is shown to shoppers, with at most one public
reply from the shop.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from chalicelib import clock
from chalicelib.errors import Conflict, Forbidden, NotFound, Unprocessable, ValidationFailed
from chalicelib.orders import lifecycle
from chalicelib.orders.domain import ORDER_ID_PATTERN, Order, OrderLine, may_view
from chalicelib.validation import SKU_PATTERN, Fields

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
STATUSES = (PENDING, APPROVED, REJECTED)
MIN_STARS, MAX_STARS = 1, 5
MAX_TEXT = 2000
MAX_REPLY = 2000
REJECT_REASON_MIN, REJECT_REASON_MAX = 3, 500
MAX_PHOTOS = 3
PHOTO_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
# A review id names its order line and is safe in a URL path: "<order id>-<SKU>". Order ids never contain a
# hyphen after their last segment, so the first hyphen after it starts the SKU: one id per (order, SKU).
REVIEW_ID_PATTERN = f"{ORDER_ID_PATTERN}-{SKU_PATTERN}"
REVIEW_ID_MAX = 24 + 1 + 64
# Completed orders, and completed orders with part or all of the money given back since: the buyer received the
# goods (delivered_at is on the timeline) and a refund after a damaged parcel is exactly what others want to read.
# Anything before completion (DELIVERED included, while COD cash or a dispute may still be open) is refused.
REVIEWABLE = frozenset({lifecycle.COMPLETED, lifecycle.PARTIALLY_REFUNDED, lifecycle.REFUNDED})


class OrderNotReviewable(Unprocessable):
    code = "order_not_reviewable"


class ReviewWindowClosed(Unprocessable):
    code = "review_window_closed"


class AlreadyReviewed(Conflict):
    code = "already_reviewed"


class AlreadyReplied(Conflict):
    code = "already_replied"


class StepRefused(Conflict):
    """The review's status does not allow the moderation step (409, naming the status)."""

    code = "review_step_refused"


def review_id(order_id: str, sku: str) -> str:
    return f"{order_id}-{sku}"


def first_name(name: str) -> str:
    """Shoppers see the reviewer's first name only."""
    parts = name.split()
    return parts[0] if parts else "Pelanggan"


@dataclass(frozen=True)
class ReviewRequest:
    sku: str
    stars: int
    text: str
    photo_types: tuple[str, ...] = ()


def parse_request(fields: Fields) -> ReviewRequest:
    """The buyer's body: {sku, stars (1-5, whole), text (up to 2000 characters, may be empty), photos [{content_type}]
    (up to 3)}; anything else is refused by name (400)."""
    fields.reject_unknown({"sku", "stars", "text", "photos"})
    sku = fields.text("sku", max_len=64, pattern=SKU_PATTERN).upper()
    stars = fields.integer("stars", min_value=MIN_STARS, max_value=MAX_STARS)
    text = fields.text("text", required=False, default="", min_len=0, max_len=MAX_TEXT)
    photo_types = []
    for index, raw in enumerate(fields.array("photos", required=False, max_items=MAX_PHOTOS)):
        photo = Fields(raw, path=f"body.photos[{index}]")
        photo.reject_unknown({"content_type"})
        photo_types.append(photo.text("content_type", choices=sorted(PHOTO_TYPES)))
    return ReviewRequest(sku=sku, stars=stars, text=text, photo_types=tuple(photo_types))


@dataclass(frozen=True)
class Reply:
    text: str
    at: str
    by: str

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "at": self.at, "by": self.by}


@dataclass(frozen=True)
class Review:
    review_id: str
    order_id: str
    sku: str
    product_id: str
    product_name: str
    stars: int
    text: str
    reviewer_name: str  # first name only: all shoppers ever see
    status: str
    created_at: str
    updated_at: str
    customer_id: str | None = None
    photos: tuple[str, ...] = ()  # S3 keys in the media bucket (private: links are presigned)
    decided_at: str | None = None
    decided_by: str | None = None
    reject_reason: str = ""
    reply: Reply | None = None

    def to_dict(self) -> dict[str, Any]:
        """The staff view."""
        return {
            "review_id": self.review_id, "order_id": self.order_id, "sku": self.sku, "product_id": self.product_id,
            "product_name": self.product_name, "stars": self.stars, "text": self.text,
            "reviewer_name": self.reviewer_name, "status": self.status, "photo_count": len(self.photos),
            "created_at": self.created_at, "updated_at": self.updated_at, "decided_at": self.decided_at,
            "decided_by": self.decided_by, "reject_reason": self.reject_reason,
            "reply": self.reply.to_dict() if self.reply else None,
        }

    def public_dict(self) -> dict[str, Any]:
        """What shoppers see: no order id, no customer, no moderation notes; the shop's reply without who wrote it."""
        return {"sku": self.sku, "stars": self.stars, "text": self.text, "reviewer_name": self.reviewer_name,
                "created_at": self.created_at,
                "reply": {"text": self.reply.text, "at": self.reply.at} if self.reply else None}


# ---- who may review what, and when ------------------------------------------------------------------------------


def check_reviewer(order: Order, *, sub: str | None, is_staff: bool, access_token: str | None) -> None:
    """The buyer only: the signed-in owner or a guest with the order's token. Anyone else who cannot see the
    order gets the same 404 as for a missing order; staff (who can see it) are told reviews are the buyer's."""
    if may_view(order, sub=sub, is_staff=False, access_token=access_token):
        return
    if is_staff:
        raise Forbidden("reviews are written by the customer who bought the order", code="buyers_only")
    raise NotFound(f"order {order.order_id} not found", code="order_not_found")


def check_reviewable(order: Order, *, now_iso: str, window_days: int) -> None:
    """Completed (possibly refunded since) and delivered no more than `window_days` ago; 422 otherwise."""
    delivered_at = order.delivered_at
    if order.status not in REVIEWABLE or delivered_at is None:
        raise OrderNotReviewable(f"order {order.order_id} is {order.status}: it can be reviewed once completed",
                                 details={"status": order.status})
    closes = clock.parse_iso(delivered_at) + timedelta(days=window_days)
    if clock.parse_iso(now_iso) > closes:
        raise ReviewWindowClosed(f"reviews for order {order.order_id} closed {window_days} days after delivery, "
                                 f"on {clock.iso(closes)}",
                                 details={"delivered_at": delivered_at, "window_days": window_days,
                                          "closed_at": clock.iso(closes)})


def line_for(order: Order, sku: str) -> OrderLine:
    line = next((line for line in order.lines if line.sku == sku), None)
    if line is None:
        raise ValidationFailed("sku", f"{sku} is not on order {order.order_id}")
    return line


def photo_key(order_id: str, sku: str, index: int, content_type: str) -> str:
    return f"reviews/{order_id}/{sku}/photo-{index + 1}.{PHOTO_TYPES[content_type]}"


def new_review(order: Order, request: ReviewRequest, *, now_iso: str, window_days: int) -> Review:
    """The pending review of one order line, after every rule above (nothing is stored when one refuses)."""
    check_reviewable(order, now_iso=now_iso, window_days=window_days)
    line = line_for(order, request.sku)
    photos = tuple(photo_key(order.order_id, line.sku, index, kind) for index, kind in enumerate(request.photo_types))
    return Review(review_id=review_id(order.order_id, line.sku), order_id=order.order_id, sku=line.sku,
                  product_id=line.product_id, product_name=line.name, stars=request.stars, text=request.text,
                  reviewer_name=first_name(str(order.customer.get("name") or "")), status=PENDING,
                  created_at=now_iso, updated_at=now_iso, customer_id=order.customer_id, photos=photos)


# ---- moderation ----------------------------------------------------------------------------------------------


def _refuse(review: Review, step: str) -> StepRefused:
    return StepRefused(f"review {review.review_id} is {review.status}: it cannot be {step} now",
                       details={"review_id": review.review_id, "status": review.status})


def approve(review: Review, *, at: str, actor: str) -> Review:
    if review.status != PENDING:
        raise _refuse(review, "approved")
    return replace(review, status=APPROVED, updated_at=at, decided_at=at, decided_by=actor)


def reject(review: Review, *, at: str, actor: str, reason: str) -> Review:
    if review.status != PENDING:
        raise _refuse(review, "rejected")
    return replace(review, status=REJECTED, updated_at=at, decided_at=at, decided_by=actor, reject_reason=reason)


def add_reply(review: Review, *, text: str, at: str, actor: str) -> Review:
    """The shop answers publicly, once; a rejected review is never shown, so it gets no reply."""
    if review.reply is not None:
        raise AlreadyReplied(f"review {review.review_id} already has the shop's reply",
                             details={"review_id": review.review_id})
    if review.status == REJECTED:
        raise _refuse(review, "replied to")
    return replace(review, reply=Reply(text=text, at=at, by=actor), updated_at=at)
