"""Catalog rules in plain Python: what a valid product is, how browsing filters, sorts and pages."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from chalicelib.catalog import search
from chalicelib.errors import ValidationFailed
from chalicelib.inventory.domain import MAX_ON_HAND
from chalicelib.validation import SKU_PATTERN, Fields, check_int

DRAFT, ACTIVE, ARCHIVED = "draft", "active", "archived"
STATUSES = (DRAFT, ACTIVE, ARCHIVED)
SORTS = ("relevance", "newest", "price_asc", "price_desc", "rating")  # relevance: only with search words
MAX_VARIANTS = 40  # creating a product writes 1 + 2 items per variant in one transaction (limit 100)
MAX_IMAGES = 12
MAX_PRICE = 1_000_000_000  # a billion Rupiah for one handicraft item is certainly a typo
MAX_WEIGHT_GRAMS = 150_000
MAX_DIMENSION_CM = 500
NAME_MAX, DESCRIPTION_MAX, CATEGORY_MAX = 120, 5000, 60
IMAGE_URL_PATTERN = r"https?://\S{3,500}"
# Uploaded images: the type staff declare, the extension the key gets, and the shape of the key handed out.
IMAGE_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
IMAGE_KEY_PATTERN = r"products/[A-Za-z0-9_\-]+/[a-f0-9]{16}\.(jpg|png|webp)"
IMAGE_KEY_MAX = 200


@dataclass(frozen=True)
class Dimensions:
    length_cm: int
    width_cm: int
    height_cm: int


@dataclass(frozen=True)
class Variant:
    sku: str
    price: int
    weight_grams: int
    options: dict[str, str] = field(default_factory=dict)
    dimensions: Dimensions | None = None
    active: bool = True


@dataclass(frozen=True)
class Product:
    product_id: str
    name: str
    description: str
    category: str
    status: str
    variants: tuple[Variant, ...]
    images: tuple[str, ...] = ()
    created_at: str = ""
    updated_at: str = ""
    rating_sum: int = 0  # stars of every approved review, added as each is approved (never recounted)
    rating_count: int = 0

    @property
    def rating_tenths(self) -> int | None:
        """The average rating in tenths of a star, rounded half up (4.25 -> 43), or None before any review."""
        if self.rating_count <= 0:
            return None
        average = Decimal(self.rating_sum * 10) / Decimal(self.rating_count)
        return int(average.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def rating(self) -> dict[str, Any]:
        """{"average": 4.3 (one decimal, None before any approved review), "count": 12}."""
        tenths = self.rating_tenths
        return {"average": None if tenths is None else tenths / 10, "count": self.rating_count}

    @property
    def category_slug(self) -> str:
        return slugify(self.category)

    def active_variants(self) -> list[Variant]:
        return [variant for variant in self.variants if variant.active]

    def variant(self, sku: str) -> Variant | None:
        return next((variant for variant in self.variants if variant.sku == sku), None)

    def price_range(self) -> tuple[int, int]:
        prices = [variant.price for variant in self.active_variants()] or [0]
        return min(prices), max(prices)

    def is_sellable(self, sku: str) -> bool:
        variant = self.variant(sku)
        return self.status == ACTIVE and variant is not None and variant.active

    def to_dict(self, availability: dict[str, int] | None = None) -> dict[str, Any]:
        low, high = self.price_range()
        variants = []
        for variant in self.variants:
            if not variant.active and self.status != DRAFT:
                continue
            item = asdict(variant)
            if availability is not None:
                item["available"] = max(0, availability.get(variant.sku, 0))
                item["in_stock"] = item["available"] > 0
            variants.append(item)
        shown = {
            "product_id": self.product_id,
            "name": self.name,
            "description": self.description,
            "category": {"slug": self.category_slug, "name": self.category},
            "status": self.status,
            "price_min": low,
            "price_max": high,
            "currency": "IDR",
            "images": list(self.images),
            "variants": variants,
            "rating": self.rating(),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
        if availability is not None:
            shown["in_stock"] = any(variant["in_stock"] for variant in variants if variant.get("active", True))
        return shown


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _parse_dimensions(fields: Fields | None) -> Dimensions | None:
    if fields is None:
        return None
    fields.reject_unknown({"length_cm", "width_cm", "height_cm"})
    return Dimensions(
        length_cm=fields.integer("length_cm", min_value=1, max_value=MAX_DIMENSION_CM),
        width_cm=fields.integer("width_cm", min_value=1, max_value=MAX_DIMENSION_CM),
        height_cm=fields.integer("height_cm", min_value=1, max_value=MAX_DIMENSION_CM),
    )


def parse_variant(raw: Any, path: str) -> Variant:
    fields = Fields(raw, path=path)
    fields.reject_unknown({"sku", "price", "weight_grams", "options", "dimensions", "active"})
    return Variant(
        sku=fields.text("sku", max_len=64, pattern=SKU_PATTERN).upper(),
        price=fields.integer("price", min_value=1, max_value=MAX_PRICE),
        weight_grams=fields.integer("weight_grams", min_value=1, max_value=MAX_WEIGHT_GRAMS),
        options=fields.str_map("options"),
        dimensions=_parse_dimensions(fields.obj("dimensions", required=False)),
        active=fields.flag("active", default=True),
    )


def _parse_images(fields: Fields) -> tuple[str, ...]:
    images = fields.array("images", required=False, max_items=MAX_IMAGES)
    for index, url in enumerate(images):
        if not isinstance(url, str) or not re.fullmatch(IMAGE_URL_PATTERN, url):
            raise ValidationFailed(f"images[{index}]", "must be an http(s) URL")
    return tuple(images)


def _check_unique_skus(variants: list[Variant]) -> None:
    seen: set[str] = set()
    for variant in variants:
        if variant.sku in seen:
            raise ValidationFailed("variants", f"SKU {variant.sku} appears twice")
        seen.add(variant.sku)


def parse_new_product(fields: Fields, *, product_id: str, now: str) -> Product:
    """A product as staff submit it; at least one variant, SKUs unique within the product."""
    fields.reject_unknown({"name", "description", "category", "status", "variants", "images", "initial_stock",
                          "low_stock_threshold"})
    raw_variants = fields.array("variants", max_items=MAX_VARIANTS)
    if not raw_variants:
        raise ValidationFailed("variants", "needs at least one variant")
    variants = [parse_variant(raw, f"variants[{index}]") for index, raw in enumerate(raw_variants)]
    _check_unique_skus(variants)
    return Product(
        product_id=product_id,
        name=fields.text("name", max_len=NAME_MAX),
        description=fields.text("description", required=False, default="", min_len=0, max_len=DESCRIPTION_MAX),
        category=fields.text("category", max_len=CATEGORY_MAX),
        status=fields.text("status", required=False, default=DRAFT, choices=STATUSES),
        variants=tuple(variants),
        images=_parse_images(fields),
        created_at=now,
        updated_at=now,
    )


def apply_update(product: Product, fields: Fields, *, now: str) -> tuple[Product, list[Variant]]:
    """Staff edits: changed fields replace old ones; variants are matched by SKU, new SKUs are added.

    Variants are never removed (orders refer to them): set "active": false instead. "initial_stock" and
    "low_stock_threshold" apply to new SKUs only (existing stock moves through restock and adjust).
    Returns the updated product and the variants that are new (they need stock rows).
    """
    fields.reject_unknown({"name", "description", "category", "status", "variants", "images", "initial_stock",
                           "low_stock_threshold"})
    changes: dict[str, Any] = {"updated_at": now}
    if fields.has("name"):
        changes["name"] = fields.text("name", max_len=NAME_MAX)
    if fields.has("description"):
        changes["description"] = fields.text("description", min_len=0, max_len=DESCRIPTION_MAX)
    if fields.has("category"):
        changes["category"] = fields.text("category", max_len=CATEGORY_MAX)
    if fields.has("status"):
        changes["status"] = fields.text("status", choices=STATUSES)
    if fields.has("images"):
        changes["images"] = _parse_images(fields)
    new_variants: list[Variant] = []
    if fields.has("variants"):
        raw_variants = fields.array("variants", max_items=MAX_VARIANTS)
        incoming = [parse_variant(raw, f"variants[{i}]") for i, raw in enumerate(raw_variants)]
        _check_unique_skus(incoming)
        by_sku = {variant.sku: variant for variant in product.variants}
        for variant in incoming:
            if variant.sku not in by_sku:
                new_variants.append(variant)
            by_sku[variant.sku] = variant
        if len(by_sku) > MAX_VARIANTS:
            raise ValidationFailed("variants", f"a product has at most {MAX_VARIANTS} variants")
        changes["variants"] = tuple(by_sku.values())
    return replace(product, **changes), new_variants


# ---- browsing -------------------------------------------------------------------------------------------

SHELF = "all"  # the listing indexes' partition of every listed product (a category's shelf is its slug)
RATING_COUNT_SPAN = 1_000_000  # rating_rank = average in tenths * span + review count (capped below the span)


@dataclass(frozen=True)
class Browse:
    q: str = ""
    category: str = ""
    min_price: int | None = None
    max_price: int | None = None
    sort: str = "newest"
    limit: int = 20
    cursor: str | None = None
    in_stock: bool = False

    @property
    def category_slug(self) -> str:
        return slugify(self.category) if self.category else ""

    def fingerprint(self) -> str:
        """What a cursor must have been issued for: the same sort, search words and filters."""
        words = " ".join(search.terms(self.q))
        text = json.dumps([self.sort, words, self.category_slug, self.min_price, self.max_price, self.in_stock])
        return hashlib.sha256(text.encode()).hexdigest()[:8]


def is_listed(product: Product) -> bool:
    """Shoppers see a product when it is published and has at least one variant on sale."""
    return product.status == ACTIVE and bool(product.active_variants())


def rating_rank(product: Product) -> int:
    """One number ordering products by rating: best average first, then most reviews; 0 before any review."""
    tenths = product.rating_tenths
    if tenths is None:
        return 0
    return tenths * RATING_COUNT_SPAN + min(product.rating_count, RATING_COUNT_SPAN - 1)


def listing_keys(product: Product) -> dict[str, Any]:
    """The listing indexes' keys of a product: a listed product is on the shop's shelf and its category's shelf,
    with the prices and rank each order sorts by; an unlisted one is on no shelf (the sparse indexes drop it)."""
    low, high = product.price_range()
    listed = is_listed(product)
    return {
        "shelf": SHELF if listed else None,
        "shelf_category": product.category_slug if listed else None,
        "price_min": low if product.active_variants() else None,
        "price_max": high if product.active_variants() else None,
        "rating_rank": rating_rank(product),
    }


def matches(product: Product, browse: Browse) -> bool:
    """The shelf's filters in plain Python (the reference the indexed queries are tested against)."""
    if not is_listed(product):
        return False
    if browse.category and product.category_slug != browse.category_slug:
        return False
    low, high = product.price_range()
    if browse.min_price is not None and high < browse.min_price:
        return False
    if browse.max_price is not None and low > browse.max_price:
        return False
    if browse.q:
        words = search.words(" ".join([product.name, product.description, product.category]))
        return all(any(word.startswith(term) for word in words) for term in search.terms(browse.q))
    return True


def position(product: Product, sort: str) -> tuple[Any, ...]:
    """Where a product stands in a sort order: the index's sort value and the product id (a cursor's content)."""
    low, high = product.price_range()
    value: Any = {"price_asc": low, "price_desc": high, "rating": rating_rank(product)}.get(sort, product.created_at)
    return (value, product.product_id)


def order_key(at: tuple[Any, ...], sort: str) -> tuple[Any, ...]:
    """An ascending sort key for a position: newest, dearest and best-rated first, ties by product id."""
    value, product_id = at
    if sort == "newest":
        return (_invert(value), product_id)
    if sort in ("price_desc", "rating"):
        return (-value, product_id)
    return (value, product_id)


def sort_key(product: Product, sort: str) -> tuple[Any, ...]:
    return order_key(position(product, sort), sort)


def _invert(text: str) -> str:
    """Sort strings descending inside an ascending tuple sort."""
    return "".join(chr(0x10FFFF - ord(char)) for char in text)


def encode_cursor(at: tuple[Any, ...], browse: Browse) -> str:
    """An opaque cursor: the last row's position and the query's fingerprint, compact JSON in URL-safe base64.
    Its length is bounded whatever the ids (at most about 200 characters for a 64-character product id)."""
    raw = json.dumps([browse.fingerprint(), *at], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, browse: Browse) -> tuple[Any, ...]:
    """The position a cursor stands for, checked to the last detail: a cursor decides a DynamoDB start key, so a
    forged or stale one is a 400, never a query DynamoDB refuses."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error):
        raise ValidationFailed("cursor", "is not a cursor this API returned") from None
    if not isinstance(data, list) or len(data) != 3:
        raise ValidationFailed("cursor", "is not a cursor this API returned")
    fingerprint, value, product_id = data
    if fingerprint != browse.fingerprint():
        raise ValidationFailed("cursor", "belongs to another search, sort or filter: start again without it")
    try:
        search.check_position(browse.sort, (value, product_id))
    except ValueError:
        raise ValidationFailed("cursor", "is not a cursor this API returned") from None
    return (value, product_id)


def page(products: list[Product], browse: Browse) -> tuple[list[Product], str | None]:
    """Filter, sort and cut one page in memory: the reference for the indexed listing (tests, fakes)."""
    selected = sorted((p for p in products if matches(p, browse)), key=lambda p: sort_key(p, browse.sort))
    if browse.cursor:
        after = order_key(decode_cursor(browse.cursor, browse), browse.sort)
        selected = [p for p in selected if sort_key(p, browse.sort) > after]
    rows = selected[: browse.limit]
    more = len(selected) > browse.limit
    next_cursor = encode_cursor(position(rows[-1], browse.sort), browse) if more and rows else None
    return rows, next_cursor


def check_browse(browse: Browse) -> Browse:
    """Relevance needs search words; the default order is relevance with words, newest without."""
    if browse.sort == "relevance" and not browse.q.strip():
        raise ValidationFailed("sort", "relevance orders search results: give q, or another sort")
    return browse


def shelf_moves(before: Product | None, after: Product | None) -> dict[str, tuple[str, int]]:
    """How a product write changes the category counts: {slug: (category name, +1 or -1)}, nothing when the
    product stays listed in the same category."""
    moves: dict[str, tuple[str, int]] = {}
    if before is not None and is_listed(before):
        moves[before.category_slug] = (before.category, -1)
    if after is not None and is_listed(after):
        _, delta = moves.get(after.category_slug, (after.category, 0))
        moves[after.category_slug] = (after.category, delta + 1)
    return {slug: move for slug, move in moves.items() if move[1]}


def categories(products: list[Product]) -> list[dict[str, Any]]:
    """The category counts recounted from the listed products (the rebuild, and the reference in tests)."""
    counts: dict[str, dict[str, Any]] = {}
    for product in products:
        if not is_listed(product):
            continue
        entry = counts.setdefault(product.category_slug, {"slug": product.category_slug, "name": product.category,
                                                          "product_count": 0})
        entry["product_count"] += 1
    return sorted(counts.values(), key=lambda entry: entry["name"].lower())


def check_initial_stock(fields: Fields, variants: tuple[Variant, ...] | list[Variant]) -> dict[str, int]:
    """Optional {"SKU": quantity} for SKUs being created; recorded in the stock ledger as the opening count."""
    raw = fields.data.get("initial_stock")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValidationFailed("initial_stock", "must be an object of SKU to quantity")
    skus = {variant.sku for variant in variants}
    stock: dict[str, int] = {}
    for sku, quantity in raw.items():
        key = str(sku).upper()
        if key not in skus:
            raise ValidationFailed(f"initial_stock.{sku}", "is not a SKU this request creates")
        stock[key] = check_int(quantity, f"initial_stock.{sku}", min_value=0, max_value=MAX_ON_HAND)
    return stock
