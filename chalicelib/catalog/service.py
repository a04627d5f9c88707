"""Catalog use cases: staff manage products, shoppers browse them."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import aws, clock, config, db, resources
from chalicelib.catalog import domain, repository
from chalicelib.catalog.domain import (
    ACTIVE,
    ARCHIVED,
    IMAGE_KEY_MAX,
    IMAGE_KEY_PATTERN,
    IMAGE_TYPES,
    Browse,
    Product,
    Variant,
)
from chalicelib.db import Transaction
from chalicelib.errors import Conflict, NotFound, ValidationFailed
from chalicelib.inventory import repository as stock
from chalicelib.inventory.domain import (
    DEFAULT_LOW_STOCK_THRESHOLD,
    INITIAL,
    MAX_LOW_STOCK_THRESHOLD,
    Movement,
    StockLevel,
)
from chalicelib.tallies import service as tallies
from chalicelib.validation import Fields

UPLOAD_URL_SECONDS = 900


def new_product_id() -> str:
    return f"prd_{uuid.uuid4().hex[:12]}"


def create_product(fields: Fields, *, actor: str, product_id: str | None = None) -> dict[str, Any]:
    """The product, one stock row per SKU (SKUs unique shop-wide) and the opening stock, all or nothing."""
    now = clock.now_iso()
    product = domain.parse_new_product(fields, product_id=product_id or new_product_id(), now=now)
    opening = domain.check_initial_stock(fields, product.variants)
    threshold = fields.integer("low_stock_threshold", required=False, default=DEFAULT_LOW_STOCK_THRESHOLD,
                               max_value=MAX_LOW_STOCK_THRESHOLD)
    tx = db.transaction()
    try:
        with tx:
            repository.stage_create(tx, product)
            _stage_stock_rows(tx, product, product.variants, opening, threshold, actor)
    except TransactWriteError as error:
        _raise_conflicts(tx, error)
        raise
    return product.to_dict(availability=opening)


def _stage_stock_rows(tx: TransactWrite, product: Product, variants: Iterable[Variant], opening: dict[str, int],
                      threshold: int, actor: str) -> None:
    at = clock.now_iso()
    for variant in variants:
        level = StockLevel(sku=variant.sku, product_id=product.product_id, on_hand=opening.get(variant.sku, 0),
                           low_stock_threshold=threshold, version=1)
        stock.stage_new_level(tx, level)
        movement = Movement(sku=variant.sku, kind=INITIAL, delta_on_hand=level.on_hand, delta_reserved=0,
                            reason="opening stock", actor=actor, reference=product.product_id)
        stock.stage_ledger_line(tx, level, movement, at)


def _raise_conflicts(tx: Transaction, error: TransactWriteError) -> None:
    """Name the SKUs another product already uses, or report a concurrent edit of the product."""
    failed = tx.failed_conditions(error)
    taken = sorted(item.key["sku"] for item in failed if item.table_name == resources.STOCK.physical_name)
    if taken:
        raise Conflict(f"SKU already in use: {', '.join(taken)}", details={"skus": taken}, code="sku_taken")
    if any(item.table_name == resources.PRODUCTS.physical_name for item in failed):
        raise Conflict("the product changed meanwhile (or its id exists); reload and try again",
                       code="edit_conflict")


def _load(product_id: str) -> tuple[Product, int]:
    found = repository.get(product_id)
    if found is None:
        raise NotFound(f"product {product_id} not found")
    return found


def update_product(product_id: str, fields: Fields, *, actor: str) -> dict[str, Any]:
    product, version = _load(product_id)
    updated, new_variants = domain.apply_update(product, fields, now=clock.now_iso())
    opening = domain.check_initial_stock(fields, new_variants)
    threshold = fields.integer("low_stock_threshold", required=False, default=DEFAULT_LOW_STOCK_THRESHOLD,
                               max_value=MAX_LOW_STOCK_THRESHOLD)
    tx = db.transaction()
    try:
        with tx:
            repository.stage_replace(tx, updated, expected_version=version)
            _stage_stock_rows(tx, updated, new_variants, opening, threshold, actor)
    except TransactWriteError as error:
        _raise_conflicts(tx, error)
        raise
    return updated.to_dict(availability=_availability(updated))


def archive_product(product_id: str, *, actor: str) -> dict[str, Any]:
    """Archived products leave the storefront but stay for the orders that refer to them."""
    return update_product(product_id, Fields({"status": ARCHIVED}), actor=actor)


def _availability(product: Product) -> dict[str, int]:
    levels = stock.read_levels(variant.sku for variant in product.variants)
    return {sku: level.available for sku, level in levels.items()}


def get_product(product_id: str, *, include_unpublished: bool = False) -> dict[str, Any]:
    product, _ = _load(product_id)
    if product.status != ACTIVE and not include_unpublished:
        raise NotFound(f"product {product_id} not found")
    return product.to_dict(availability=_availability(product))


def browse(browse_query: Browse) -> dict[str, Any]:
    rows, next_cursor = domain.page(repository.by_status(ACTIVE), browse_query)
    return {"items": [product.to_dict() for product in rows], "next_cursor": next_cursor}


def list_for_staff(status: str) -> dict[str, Any]:
    return {"items": [product.to_dict() for product in repository.by_status(status)]}


def count_view(product_id: str) -> None:
    """A product page view, for the conversion report; only published products count (404 otherwise)."""
    product, _ = _load(product_id)
    if product.status != ACTIVE:
        raise NotFound(f"product {product_id} not found", code="product_not_found")
    tallies.product_viewed(product_id, product.name)


def stage_rating(tx: TransactWrite, product_id: str, stars: int) -> None:
    """Count an approved review in the product's rating inside the caller's transaction (reviews' approval)."""
    repository.stage_rating(tx, product_id, stars)


def categories() -> dict[str, Any]:
    return {"items": domain.categories(repository.by_status(ACTIVE))}


# ---- images -----------------------------------------------------------------------------------------------


def media_url(key: str) -> str:
    """Where shoppers fetch an image: the CDN in production, the bucket itself on the local stack."""
    base = config.get(config.MEDIA_PUBLIC_BASE_URL)
    if base:
        return f"{base.rstrip('/')}/{key}"
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    bucket = resources.MEDIA_BUCKET.physical_name
    if endpoint:
        return f"{endpoint.rstrip('/')}/{bucket}/{key}"
    return f"https://{bucket}.s3.{config.region()}.amazonaws.com/{key}"


def image_upload_url(product_id: str, fields: Fields) -> dict[str, Any]:
    """A short-lived presigned PUT: staff upload straight to S3, the API never carries image bytes."""
    _load(product_id)
    content_type = fields.text("content_type", choices=sorted(IMAGE_TYPES))
    key = f"products/{product_id}/{uuid.uuid4().hex[:16]}.{IMAGE_TYPES[content_type]}"
    url = aws.client("s3").generate_presigned_url(
        "put_object",
        Params={"Bucket": resources.MEDIA_BUCKET.physical_name, "Key": key, "ContentType": content_type},
        ExpiresIn=UPLOAD_URL_SECONDS,
    )
    return {"upload_url": url, "method": "PUT", "headers": {"Content-Type": content_type}, "key": key,
            "image_url": media_url(key), "expires_in": UPLOAD_URL_SECONDS}


def attach_image(product_id: str, fields: Fields, *, actor: str) -> dict[str, Any]:
    """Add an uploaded image to the product once S3 confirms the object is really there."""
    key = fields.text("key", max_len=IMAGE_KEY_MAX, pattern=IMAGE_KEY_PATTERN)
    if not key.startswith(f"products/{product_id}/"):
        raise ValidationFailed("key", "belongs to another product")
    s3 = aws.client("s3")
    try:
        s3.head_object(Bucket=resources.MEDIA_BUCKET.physical_name, Key=key)
    except s3.exceptions.ClientError:
        raise ValidationFailed("key", "no uploaded image under this key yet") from None
    product, _ = _load(product_id)
    images = [url for url in product.images if not re.search(re.escape(key) + "$", url)] + [media_url(key)]
    return update_product(product_id, Fields({"images": images}), actor=actor)
