"""Catalog rules in plain Python: what a valid product is, how browsing filters, sorts and pages."""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from chalicelib.errors import ValidationFailed
from chalicelib.inventory.domain import MAX_ON_HAND
from chalicelib.validation import SKU_PATTERN, Fields, check_int

DRAFT, ACTIVE, ARCHIVED = "draft", "active", "archived"
STATUSES = (DRAFT, ACTIVE, ARCHIVED)
SORTS = ("newest", "price_asc", "price_desc", "rating")
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
        return {
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


@dataclass(frozen=True)
class Browse:
    q: str = ""
    category: str = ""
    min_price: int | None = None
    max_price: int | None = None
    sort: str = "newest"
    limit: int = 20
    cursor: str | None = None


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def matches(product: Product, browse: Browse) -> bool:
    if browse.category and product.category_slug != slugify(browse.category):
        return False
    prices = [variant.price for variant in product.active_variants()]
    if not prices:
        return False
    if browse.min_price is not None and max(prices) < browse.min_price:
        return False
    if browse.max_price is not None and min(prices) > browse.max_price:
        return False
    if browse.q:
        haystack = _normalise(" ".join([product.name, product.description, product.category]))
        return all(term in haystack for term in _normalise(browse.q).split())
    return True


def sort_key(product: Product, sort: str) -> tuple[Any, ...]:
    low, high = product.price_range()
    if sort == "price_asc":
        return (low, product.product_id)
    if sort == "price_desc":
        return (-high, product.product_id)
    if sort == "rating":  # best average first, then most reviews; products without reviews last
        tenths = product.rating_tenths
        return (-(tenths if tenths is not None else -1), -product.rating_count, product.product_id)
    return (_invert(product.created_at), product.product_id)


def _invert(text: str) -> str:
    """Sort strings descending inside an ascending tuple sort."""
    return "".join(chr(0x10FFFF - ord(char)) for char in text)


def encode_cursor(key: tuple[Any, ...], sort: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"k": list(key), "s": sort}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, ...]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        key, cursor_sort = data["k"], data["s"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ValidationFailed("cursor", "is not a cursor this API returned") from None
    if cursor_sort != sort:
        raise ValidationFailed("cursor", "belongs to a different sort order")
    shape: tuple[type, ...] = {"newest": (str, str), "rating": (int, int, str)}.get(sort, (int, str))
    if (not isinstance(key, list) or len(key) != len(shape)
            or any(type(part) is not kind for part, kind in zip(key, shape, strict=True))):
        raise ValidationFailed("cursor", "is not a cursor this API returned")
    return tuple(key)


def page(products: list[Product], browse: Browse) -> tuple[list[Product], str | None]:
    """Filter, sort and cut one page; the cursor is the last row's sort key, so inserts never shift pages."""
    selected = sorted((p for p in products if matches(p, browse)), key=lambda p: sort_key(p, browse.sort))
    if browse.cursor:
        after = decode_cursor(browse.cursor, browse.sort)
        selected = [p for p in selected if sort_key(p, browse.sort) > after]
    rows = selected[: browse.limit]
    more = len(selected) > browse.limit
    next_cursor = encode_cursor(sort_key(rows[-1], browse.sort), browse.sort) if more and rows else None
    return rows, next_cursor


def categories(products: list[Product]) -> list[dict[str, Any]]:
    counts: dict[str, dict[str, Any]] = {}
    for product in products:
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
