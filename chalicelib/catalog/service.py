"""Catalog use cases: staff manage products, shoppers browse them."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import aws, clock, config, db, resources
from chalicelib.catalog import domain, indexing, repository
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
from chalicelib.catalog.search import SearchQuery, SearchUnavailable
from chalicelib.db import Transaction
from chalicelib.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed
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
    product, opening, threshold = new_product(fields, product_id=product_id or new_product_id(), now=clock.now_iso())
    tx = db.transaction()
    try:
        with tx:
            stage_new_product(tx, product, opening, threshold, actor)
    except TransactWriteError as error:
        raise_conflicts(tx, error)
        raise
    return product.to_dict(availability=opening)


def new_product(fields: Fields, *, product_id: str, now: str) -> tuple[Product, dict[str, int], int]:
    """A submitted product checked, not written: the product, its opening stock per SKU and its SKUs' low-stock
    threshold (create_product, and the import, which stages many into one transaction)."""
    product = domain.parse_new_product(fields, product_id=product_id, now=now)
    return product, domain.check_initial_stock(fields, product.variants), _threshold(fields)


def edited_product(product: Product, fields: Fields, *, now: str) -> tuple[Product, list[Variant], dict[str, int], int]:
    """An edit checked, not written: the product after it, its new variants, their opening stock and threshold."""
    updated, new_variants = domain.apply_update(product, fields, now=now)
    return updated, new_variants, domain.check_initial_stock(fields, new_variants), _threshold(fields)


def _threshold(fields: Fields) -> int:
    return fields.integer("low_stock_threshold", required=False, default=DEFAULT_LOW_STOCK_THRESHOLD,
                          max_value=MAX_LOW_STOCK_THRESHOLD)


def stage_new_product(tx: TransactWrite, product: Product, opening: dict[str, int], threshold: int, actor: str,
                      *, count_categories: bool = True) -> None:
    """A new product, its stock rows and opening stock, and (unless the caller adds them up itself) its category's
    count, into one transaction: the import stages several products into one."""
    repository.stage_create(tx, product, changed_at=clock.now_iso())
    _stage_stock_rows(tx, product, product.variants, opening, threshold, actor)
    if count_categories:
        repository.stage_category_moves(tx, domain.shelf_moves(None, product))


def stage_product_update(tx: TransactWrite, before: Product, after: Product, expected_version: int,
                         new_variants: Iterable[Variant], opening: dict[str, int], threshold: int, actor: str,
                         *, count_categories: bool = True) -> None:
    """An edited product (if still at `expected_version`), stock rows for its new SKUs, its category counts."""
    repository.stage_replace(tx, after, expected_version=expected_version, changed_at=clock.now_iso())
    _stage_stock_rows(tx, after, new_variants, opening, threshold, actor)
    if count_categories:
        repository.stage_category_moves(tx, domain.shelf_moves(before, after))


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


def raise_conflicts(tx: Transaction, error: TransactWriteError) -> None:
    """Name the SKUs another product already uses, or report a concurrent edit of the product (a transaction of
    one product: the import retries a refused batch one product at a time to learn whose it is)."""
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
    updated, new_variants, opening, threshold = edited_product(product, fields, now=clock.now_iso())
    tx = db.transaction()
    try:
        with tx:
            stage_product_update(tx, product, updated, version, new_variants, opening, threshold, actor)
    except TransactWriteError as error:
        raise_conflicts(tx, error)
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


# ---- browsing ---------------------------------------------------------------------------------------------

FILL_REQUESTS = 5  # Query requests one page may spend filling itself past rows its filters drop
FILL_READ = 60  # items one filling Query evaluates at most


def browse(browse_query: Browse) -> dict[str, Any]:
    """One page of the shop: search words go to the search engine, everything else to the listing index of the
    sort (and category), reading about the page's own rows whatever the catalog's size."""
    browse_query = domain.check_browse(browse_query)
    if browse_query.q.strip():
        return _search(browse_query)
    shelf = repository.shelf_for(browse_query.sort, browse_query.category_slug)
    hash_value = browse_query.category_slug or domain.SHELF
    after = domain.decode_cursor(browse_query.cursor, browse_query) if browse_query.cursor else None
    # Without a post-filter every evaluated row is shown: read exactly one more than the page to know if more follow.
    post_filtered = browse_query.in_stock or shelf.filters_rows(browse_query.min_price, browse_query.max_price)
    want = browse_query.limit + 1
    rows: list[tuple[Product, dict[str, int] | None]] = []  # availability read already (in_stock) or not yet
    for _ in range(FILL_REQUESTS if post_filtered else 1):
        need = want - len(rows)
        read = repository.read_shelf(shelf, hash_value, after=after, limit=max(need, FILL_READ) if post_filtered
                                     else need, min_price=browse_query.min_price, max_price=browse_query.max_price)
        if browse_query.in_stock:
            rows.extend(_with_availability(read.products, only_in_stock=True)[:need])
        else:
            rows.extend((product, None) for product in read.products[:need])
        if len(rows) == want:
            break
        after = read.stopped_at
        if after is None:
            break
    shown = rows[: browse_query.limit]
    if len(rows) == want:
        next_cursor: str | None = domain.encode_cursor(domain.position(shown[-1][0], browse_query.sort), browse_query)
    else:  # the shelf ended, or the filling budget did: go on after the last row evaluated
        next_cursor = domain.encode_cursor(after, browse_query) if after is not None else None
    unread = {product.product_id: availability for product, availability in
              _with_availability([product for product, known in shown if known is None], only_in_stock=False)}
    return {"items": [product.to_dict(availability=known if known is not None else unread[product.product_id])
                      for product, known in shown],
            "next_cursor": next_cursor}


def _with_availability(products: list[Product], *, only_in_stock: bool) -> list[tuple[Product, dict[str, int]]]:
    """Each product with its active SKUs' available units: one batched read of these SKUs only."""
    levels = stock.read_levels((variant.sku for product in products for variant in product.active_variants()),
                               consistent=False)  # shown, never reserved from: checkout reads them consistently
    rows = []
    for product in products:
        availability = {variant.sku: levels[variant.sku].available for variant in product.active_variants()
                        if variant.sku in levels}
        if only_in_stock and not any(units > 0 for units in availability.values()):
            continue
        rows.append((product, availability))
    return rows


def _search(browse_query: Browse) -> dict[str, Any]:
    """Search words: the engine ranks and pages product ids; the products themselves come from one batched read."""
    try:
        return _search_pages(browse_query)
    except SearchUnavailable as outage:  # OpenSearch down or refusing: the storefront retries, listing still works
        raise ServiceUnavailable(f"search is unavailable: {outage}; try again shortly",
                                 code="search_unavailable") from None


def _search_pages(browse_query: Browse) -> dict[str, Any]:
    engine = indexing.search_engine()
    after = domain.decode_cursor(browse_query.cursor, browse_query) if browse_query.cursor else None
    rows: list[tuple[Product, dict[str, int]]] = []
    last: tuple[Any, ...] | None = None
    for _ in range(FILL_REQUESTS):
        need = browse_query.limit - len(rows)
        found = engine.search(SearchQuery(
            text=browse_query.q, category_slug=browse_query.category_slug, min_price=browse_query.min_price,
            max_price=browse_query.max_price, sort=browse_query.sort, limit=need, after=after))
        products = repository.get_many(found.product_ids)
        in_order = [products[product_id] for product_id in found.product_ids
                    if product_id in products and domain.is_listed(products[product_id])]
        rows.extend(_with_availability(in_order, only_in_stock=browse_query.in_stock))
        last = after = found.last
        if last is None or len(rows) >= browse_query.limit:
            break
    next_cursor = domain.encode_cursor(last, browse_query) if last is not None else None
    return {"items": [product.to_dict(availability=availability) for product, availability in rows],
            "next_cursor": next_cursor}


def list_for_staff(status: str, *, limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of the products in one status, newest first, with their stock."""
    products, next_cursor = repository.by_status(status, limit=limit, cursor=cursor)
    rows = _with_availability(products, only_in_stock=False)
    return {"items": [product.to_dict(availability=availability) for product, availability in rows],
            "next_cursor": next_cursor}


def every_product(status: str) -> Iterator[dict[str, Any]]:
    """Every product in one status, read a page at a time (the reports' catalog sheet)."""
    for product in repository.all_in_status(status):
        yield product.to_dict()


def count_view(product_id: str) -> None:
    """A product page view, for the conversion report; only published products count (404 otherwise)."""
    product, _ = _load(product_id)
    if product.status != ACTIVE:
        raise NotFound(f"product {product_id} not found", code="product_not_found")
    tallies.product_viewed(product_id, product.name)


def stage_rating(tx: TransactWrite, product_id: str, stars: int) -> None:
    """Count an approved review in the product's rating inside the caller's transaction (reviews' approval); the
    caller then calls rank_rating once it committed."""
    repository.stage_rating(tx, product_id, stars, changed_at=clock.now_iso())


def rank_rating(product_id: str) -> None:
    """Bring the product's rating rank (the rating sort's key) up to its counters, read consistently. Called after
    every approval, and again when an approval is retried: a lost call leaves the rank one approval behind until
    the next approval or the rebuild, never the counters."""
    found = repository.get(product_id, consistent=True)
    if found is not None:
        repository.save_rating_rank(found[0], changed_at=clock.now_iso())


def refresh_search_index() -> dict[str, Any]:
    """The schedule: fold the catalog's recent changes into the stored search index."""
    return indexing.refresh()


def rebuild_search_index() -> dict[str, Any]:
    """The command: the search index and the category counts from scratch."""
    return indexing.rebuild()


def categories() -> dict[str, Any]:
    """The categories with listed products, from their maintained counts (a few items, never the products)."""
    items = [{"slug": slug, "name": name, "product_count": count}
             for slug, name, count in repository.category_counts() if count > 0]
    return {"items": sorted(items, key=lambda entry: (entry["name"].lower(), entry["slug"]))}


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
