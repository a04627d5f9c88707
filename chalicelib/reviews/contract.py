"""The reviews' HTTP contract (see chalicelib.contract): the buyer writes one per order line, staff moderate and
reply, shoppers read the approved ones."""

from __future__ import annotations

from chalicelib.catalog.contract import PRODUCT_ID
from chalicelib.catalog.contract import SCHEMAS as CATALOG_SCHEMAS
from chalicelib.contract import (
    PUBLIC,
    Operation,
    Response,
    Schema,
    array,
    guest_or,
    integer,
    nullable,
    obj,
    page_query,
    ref,
    signed_in,
    str_map,
    string,
    timestamp,
)
from chalicelib.orders.contract import ORDER_ID
from chalicelib.reviews.domain import (
    MAX_PHOTOS,
    MAX_REPLY,
    MAX_STARS,
    MAX_TEXT,
    MIN_STARS,
    PHOTO_TYPES,
    REJECT_REASON_MAX,
    REJECT_REASON_MIN,
    REVIEW_ID_MAX,
    REVIEW_ID_PATTERN,
    STATUSES,
)
from chalicelib.validation import SKU_PATTERN

STAFF = signed_in("staff")
REVIEW_ID = string(pattern=REVIEW_ID_PATTERN, max_len=REVIEW_ID_MAX, description="<order id>-<SKU>")
_STARS = integer(minimum=MIN_STARS, maximum=MAX_STARS)

_REVIEW_FIELDS: dict[str, Schema] = {
    "review_id": string(),
    "order_id": string(),
    "sku": string(),
    "product_id": string(),
    "product_name": string(),
    "stars": _STARS,
    "text": string(description="may be empty"),
    "reviewer_name": string(description="the buyer's first name: all shoppers see"),
    "status": string(enum=STATUSES),
    "photo_count": integer(minimum=0, maximum=MAX_PHOTOS),
    "created_at": timestamp(),
    "updated_at": timestamp(),
    "decided_at": nullable(timestamp(description="when staff approved or rejected it")),
    "decided_by": nullable(string()),
    "reject_reason": string(description="empty unless rejected"),
    "reply": nullable(obj({"text": string(), "at": timestamp(), "by": string(description="who replied")})),
}
_PHOTO_LINKS = array(string(description="a short-lived link to the photo"), max_items=MAX_PHOTOS)

SCHEMAS: dict[str, Schema] = {
    "ProductRating": CATALOG_SCHEMAS["ProductRating"],
    "Review": obj(_REVIEW_FIELDS, description="A review as staff see it."),
    "ReviewWithPhotos": obj({**_REVIEW_FIELDS, "photos": _PHOTO_LINKS},
                            description="A review as staff see it, with links to its photos."),
    "PublicReview": obj({
        "sku": string(),
        "stars": _STARS,
        "text": string(),
        "reviewer_name": string(description="first name only"),
        "created_at": timestamp(),
        "reply": nullable(obj({"text": string(), "at": timestamp()}, description="the shop's public answer")),
        "photos": _PHOTO_LINKS,
    }, description="An approved review as shoppers see it."),
    "ReviewPhotoUpload": obj({
        "key": string(),
        "method": string(enum=["POST"]),
        "url": string(description="POST a multipart form here: these fields, then the file"),
        "fields": str_map(string()),
        "max_bytes": integer(minimum=1),
        "expires_in": integer(minimum=1, description="seconds"),
    }, description="A presigned upload of one photo, straight to storage."),
}

_REVIEW = Response("the review", ref("Review"))
_NOT_FOUND = "no such review (review_not_found)"


def _page(item: Schema) -> Schema:
    return obj({"items": array(item), "next_cursor": nullable(string(description="null on the last page"))})


OPERATIONS = {
    "write_review": Operation(
        summary="The buyer reviews one line of a completed order, once; the review waits for moderation.",
        access=guest_or("customer", "finance"),
        path={"order_id": ORDER_ID},
        headers={"X-Order-Token": string(description="a guest's order access token")},
        query={"access_token": string(description="a guest's order access token, as in links in messages")},
        body=obj(
            {"sku": string(pattern=SKU_PATTERN, max_len=64, description="a SKU on the order"), "stars": _STARS},
            {"text": nullable(string(max_len=MAX_TEXT)),
             "photos": nullable(array(obj({"content_type": string(enum=sorted(PHOTO_TYPES))}),
                                      max_items=MAX_PHOTOS, description="one presigned upload is answered per photo"))},
        ),
        responses={201: Response("the pending review and one upload per photo", obj({
            **_REVIEW_FIELDS, "photo_uploads": array(ref("ReviewPhotoUpload"), max_items=MAX_PHOTOS)}))},
        errors={403: "a staff member's token: reviews are written by the buyer (buyers_only)",
                404: "no such order, or it is not the caller's (order_not_found)",
                409: "this order line is reviewed already (already_reviewed; details.review_id names it)",
                422: "the order is not completed yet (order_not_reviewable), or the review window closed"
                     " (review_window_closed)"},
        description="The signed-in customer who placed the order, or a guest sending the order's access token.",
    ),
    "product_reviews": Operation(
        summary="A published product's approved reviews, newest first, with its rating.",
        access=PUBLIC,
        path={"product_id": PRODUCT_ID},
        query=page_query("reviews", empty_cursor=True),
        responses={200: Response("one page of reviews", obj({
            "product_id": string(),
            "rating": ref("ProductRating"),
            "items": array(ref("PublicReview")),
            "next_cursor": nullable(string(description="null on the last page")),
        }))},
        errors={404: "no such product, or it is not published"},
    ),
    "reviews_in_status": Operation(
        summary="Reviews in one status, oldest first: the moderation queue (staff).",
        access=STAFF,
        query={"status": string(enum=STATUSES, description="default pending"),
               **page_query("reviews", default=50, empty_cursor=True)},
        responses={200: Response("one page of reviews", _page(ref("ReviewWithPhotos")))},
    ),
    "approve": Operation(
        summary="Show the review and count its stars in the product's rating (approving again changes nothing).",
        access=STAFF,
        path={"review_id": REVIEW_ID},
        body=obj(description="nothing, or an empty object"),
        body_required=False,
        responses={200: _REVIEW},
        errors={404: f"{_NOT_FOUND}, or its product no longer exists (product_not_found)",
                409: "the review was rejected (review_step_refused), or it kept changing (review_conflict)"},
    ),
    "reject": Operation(
        summary="Never show the review; the reason stays for staff.",
        access=STAFF,
        path={"review_id": REVIEW_ID},
        body=obj({"reason": string(min_len=REJECT_REASON_MIN, max_len=REJECT_REASON_MAX)}),
        responses={200: _REVIEW},
        errors={404: _NOT_FOUND, 409: "the review is not pending (review_step_refused)"},
    ),
    "reply": Operation(
        summary="The shop's public answer to a review, once.",
        access=STAFF,
        path={"review_id": REVIEW_ID},
        body=obj({"text": string(min_len=1, max_len=MAX_REPLY)}),
        responses={200: _REVIEW},
        errors={404: _NOT_FOUND,
                409: "the review has a reply already (already_replied), or it was rejected (review_step_refused)"},
    ),
}
