"""Products in DynamoDB; variants live inside their product, stock rows (one per SKU) in inventory.

Each storefront order has its own sparse index (resources.PRODUCTS), so a page is one Query of about its own
rows; the category counts live in their own small table, written in the product's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import JSONAttribute, ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import db, resources
from chalicelib.catalog.domain import Dimensions, Product, Variant, listing_keys
from chalicelib.db import meta_for

CHANGE_FEED = "products"  # the one partition of the `changes` index


class ByStatusIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


def _listing_index(name: str, hash_name: str, range_name: str, *, numeric: bool) -> GlobalSecondaryIndex[Any]:
    """A listing index (every attribute projected: a page is read from the index alone)."""
    meta = type("Meta", (), {"index_name": name, "projection": AllProjection()})
    range_attribute = NumberAttribute(range_key=True) if numeric else UnicodeAttribute(range_key=True)
    index_class = type(f"Index_{name.replace('-', '_')}", (GlobalSecondaryIndex,),
                       {"Meta": meta, hash_name: UnicodeAttribute(hash_key=True), range_name: range_attribute})
    return index_class()


class ProductModel(Model):
    Meta = meta_for(resources.PRODUCTS)
    product_id = UnicodeAttribute(hash_key=True)
    status = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    category = UnicodeAttribute()
    images: ListAttribute[str] = ListAttribute(default=list)
    variants = JSONAttribute()
    version = NumberAttribute(default=0)
    # Approved reviews' stars and count, only ever added to (stage_rating); product edits never write them.
    rating_sum = NumberAttribute(null=True)
    rating_count = NumberAttribute(null=True)
    # The listing indexes' keys (domain.listing_keys); shelf and shelf_category only while the product is listed.
    shelf = UnicodeAttribute(null=True)
    shelf_category = UnicodeAttribute(null=True)
    price_min = NumberAttribute(null=True)
    price_max = NumberAttribute(null=True)
    rating_rank = NumberAttribute(default=0)
    change_feed = UnicodeAttribute(default=CHANGE_FEED)
    changed_at = UnicodeAttribute(null=True)
    by_status = ByStatusIndex()
    changes = _listing_index("changes", "change_feed", "changed_at", numeric=False)
    # One per (shelf, order); see Shelf and resources.PRODUCTS.
    shelf_newest = _listing_index("shelf-newest", "shelf", "created_at", numeric=False)
    shelf_price_low = _listing_index("shelf-price-low", "shelf", "price_min", numeric=True)
    shelf_price_high = _listing_index("shelf-price-high", "shelf", "price_max", numeric=True)
    shelf_rating = _listing_index("shelf-rating", "shelf", "rating_rank", numeric=True)
    category_newest = _listing_index("category-newest", "shelf_category", "created_at", numeric=False)
    category_price_low = _listing_index("category-price-low", "shelf_category", "price_min", numeric=True)
    category_price_high = _listing_index("category-price-high", "shelf_category", "price_max", numeric=True)
    category_rating = _listing_index("category-rating", "shelf_category", "rating_rank", numeric=True)


class CategoryModel(Model):
    """How many listed products a category holds; its name as first listed."""

    Meta = meta_for(resources.CATEGORIES)
    slug = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    product_count = NumberAttribute(default=0)


@dataclass(frozen=True)
class Shelf:
    """One listing index and the direction a sort walks it."""

    index: str
    hash_name: str
    range_name: str
    numeric: bool
    forward: bool

    def bound_in_key(self, bound: str) -> bool:
        """Whether the key condition carries a price bound: "min" on the dearest-first order, "max" on the cheapest."""
        return (bound, self.range_name) in (("min", "price_max"), ("max", "price_min"))

    def filters_rows(self, min_price: int | None, max_price: int | None) -> bool:
        """Whether a price bound is left to a FilterExpression, so a read may return fewer rows than it evaluated."""
        return ((min_price is not None and not self.bound_in_key("min"))
                or (max_price is not None and not self.bound_in_key("max")))


_ORDERS = {"newest": ("newest", "created_at", False, False), "price_asc": ("price-low", "price_min", True, True),
           "price_desc": ("price-high", "price_max", True, False), "rating": ("rating", "rating_rank", True, False)}


def shelf_for(sort: str, category_slug: str) -> Shelf:
    suffix, range_name, numeric, forward = _ORDERS[sort]
    if category_slug:
        return Shelf(f"category-{suffix}", "shelf_category", range_name, numeric, forward)
    return Shelf(f"shelf-{suffix}", "shelf", range_name, numeric, forward)


def to_product(item: ProductModel) -> Product:
    variants = []
    for raw in item.variants:
        dimensions = raw.get("dimensions")
        variants.append(
            Variant(
                sku=raw["sku"],
                price=int(raw["price"]),
                weight_grams=int(raw["weight_grams"]),
                options=dict(raw.get("options") or {}),
                dimensions=Dimensions(**dimensions) if dimensions else None,
                active=bool(raw.get("active", True)),
            )
        )
    return Product(
        product_id=item.product_id,
        name=item.name,
        description=item.description or "",
        category=item.category,
        status=item.status,
        variants=tuple(variants),
        images=tuple(item.images or ()),
        created_at=item.created_at,
        updated_at=item.updated_at,
        rating_sum=int(item.rating_sum or 0),
        rating_count=int(item.rating_count or 0),
    )


def _variants_json(product: Product) -> list[dict[str, Any]]:
    rows = []
    for variant in product.variants:
        row: dict[str, Any] = {
            "sku": variant.sku,
            "price": variant.price,
            "weight_grams": variant.weight_grams,
            "options": variant.options,
            "active": variant.active,
        }
        if variant.dimensions:
            row["dimensions"] = {
                "length_cm": variant.dimensions.length_cm,
                "width_cm": variant.dimensions.width_cm,
                "height_cm": variant.dimensions.height_cm,
            }
        rows.append(row)
    return rows


def to_model(product: Product, *, version: int, changed_at: str) -> ProductModel:
    return ProductModel(
        product.product_id,
        **listing_keys(product),
        changed_at=changed_at,
        status=product.status,
        created_at=product.created_at,
        updated_at=product.updated_at,
        name=product.name,
        description=product.description,
        category=product.category,
        images=list(product.images),
        variants=_variants_json(product),
        version=version,
    )


def get(product_id: str, *, consistent: bool = False) -> tuple[Product, int] | None:
    """The product and its version (for optimistic updates), or None."""
    try:
        item = ProductModel.get(product_id, consistent_read=consistent)
    except ProductModel.DoesNotExist:
        return None
    return to_product(item), int(item.version)


def products_read(product_ids: Iterable[str]) -> db.BatchRead[Product]:
    """Products as one part of a batch read across tables (db.read_together); eventually consistent, as browsing."""
    return db.BatchRead(ProductModel, tuple(sorted(set(product_ids))), to_product)


def get_many(product_ids: Iterable[str]) -> dict[str, Product]:
    read = products_read(product_ids)
    if not read.keys:
        return {}
    return db.read_together([read]).of(read)


def _with_version(item: ProductModel) -> tuple[Product, int]:
    return to_product(item), int(item.version)


def get_many_with_versions(product_ids: Iterable[str]) -> dict[str, tuple[Product, int]]:
    """Products and their versions (for optimistic updates), strongly consistent, in as few BatchGetItem requests
    as their number allows (100 keys each): the import reads a chunk of its file at once."""
    read = db.BatchRead(ProductModel, tuple(sorted(set(product_ids))), _with_version, consistent=True)
    if not read.keys:
        return {}
    return db.read_together([read]).of(read)


def by_status(status: str, *, limit: int, cursor: str | None) -> tuple[list[Product], str | None]:
    """A page of the products in one status, newest first (staff lists)."""
    start = db.start_key(cursor, item_key="product_id", range_name="created_at", hash_name="status",
                         hash_value=status)
    results = ProductModel.by_status.query(status, scan_index_forward=False, limit=limit, last_evaluated_key=start)
    products = [to_product(item) for item in results]
    return products, db.page_cursor(results.last_evaluated_key, item_key="product_id", range_name="created_at")


def all_in_status(status: str) -> Iterator[Product]:
    """Every product in one status, a page at a time (reports walk the whole catalog)."""
    for item in ProductModel.by_status.query(status, scan_index_forward=False, page_size=200):
        yield to_product(item)


@dataclass(frozen=True)
class ShelfRead:
    """One Query of a shelf: the products it matched in order, and where it stopped (None: the shelf ended)."""

    products: list[Product]
    stopped_at: tuple[Any, ...] | None


def read_shelf(shelf: Shelf, hash_value: str, *, after: tuple[Any, ...] | None, limit: int,
               min_price: int | None = None, max_price: int | None = None) -> ShelfRead:
    """One Query request of at most `limit` evaluated items after the position `after` ((sort value, product id)),
    the price filter put in the key condition where the index sorts by that price. Exactly one request, so a
    caller filling a page with a narrow filter decides how many it may spend."""
    range_attr = getattr(ProductModel, shelf.range_name)
    key_condition: Condition | None = None
    filters: list[Condition] = []
    if min_price is not None:
        if shelf.bound_in_key("min"):
            key_condition = range_attr >= min_price
        else:
            filters.append(ProductModel.price_max >= min_price)
    if max_price is not None:
        if shelf.bound_in_key("max"):
            key_condition = range_attr <= max_price
        else:
            filters.append(ProductModel.price_min <= max_price)
    filter_condition: Condition | None = None
    for condition in filters:
        filter_condition = condition if filter_condition is None else filter_condition & condition
    start = None
    if after is not None:
        value, product_id = after
        start = {"product_id": {"S": product_id}, shelf.hash_name: {"S": hash_value},
                 shelf.range_name: {"N": str(value)} if shelf.numeric else {"S": value}}
    answer = ProductModel._get_connection().query(
        hash_value, range_key_condition=key_condition, filter_condition=filter_condition, index_name=shelf.index,
        exclusive_start_key=start, scan_index_forward=shelf.forward, limit=limit)
    products = [to_product(ProductModel.from_raw_data(raw)) for raw in answer.get("Items", [])]
    last = answer.get("LastEvaluatedKey")
    stopped_at: tuple[Any, ...] | None = None
    if last:
        raw_value = last[shelf.range_name]
        stopped_at = (int(raw_value["N"]) if shelf.numeric else raw_value["S"], last["product_id"]["S"])
    return ShelfRead(products, stopped_at)


def changed_since(since: str, *, page_size: int = 200) -> Iterator[tuple[Product, str]]:
    """Every product changed at or after `since` (ISO text; "" for all), oldest change first, with when it
    changed: the change feed the search index follows."""
    condition = ProductModel.changed_at >= since if since else None
    for item in ProductModel.changes.query(CHANGE_FEED, range_key_condition=condition, page_size=page_size):
        yield to_product(item), item.changed_at or ""


def every_product() -> Iterator[tuple[Product, str | None]]:
    """Every product in the table with its feed position (None if written before the feed existed)."""
    for item in ProductModel.scan(page_size=500):
        yield to_product(item), item.changed_at


def stamp_listing_keys(product: Product, *, changed_at: str) -> str:
    """Give a product written before the listing indexes its listing keys and feed position (the rebuild)."""
    keys = listing_keys(product)
    actions: list[Any] = [ProductModel.change_feed.set(CHANGE_FEED), ProductModel.changed_at.set(changed_at)]
    for name, value in keys.items():
        attribute = getattr(ProductModel, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    ProductModel(product.product_id).update(actions=actions, condition=ProductModel.product_id.exists())
    return changed_at


def stage_create(tx: TransactWrite, product: Product, *, changed_at: str) -> None:
    tx.save(to_model(product, version=1, changed_at=changed_at), condition=ProductModel.product_id.does_not_exist())


# Written by every staff edit; never the rating counters or their rank (an approval added meanwhile is kept).
_EDITED = ("status", "created_at", "updated_at", "name", "description", "category", "images", "variants", "version",
           "shelf", "shelf_category", "price_min", "price_max", "changed_at")


def stage_replace(tx: TransactWrite, product: Product, *, expected_version: int, changed_at: str) -> None:
    item = to_model(product, version=expected_version + 1, changed_at=changed_at)
    actions: list[Any] = []
    for name in _EDITED:
        attribute, value = getattr(ProductModel, name), getattr(item, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    tx.update(ProductModel(product.product_id), actions=actions, condition=ProductModel.version == expected_version)


def stage_rating(tx: TransactWrite, product_id: str, stars: int, *, changed_at: str) -> None:
    """Add one approved review's stars to the product's counters (an atomic ADD: exact under concurrency)."""
    tx.update(ProductModel(product_id),
              actions=[ProductModel.rating_sum.add(stars), ProductModel.rating_count.add(1),
                       ProductModel.changed_at.set(changed_at)],
              condition=ProductModel.product_id.exists())


def save_rating_rank(product: Product, *, changed_at: str) -> bool:
    """Set the rank of the rating `product` was read with, unless a later approval counted meanwhile (False): the
    rank is a division an update expression cannot do, and the later approval sets its own."""
    try:
        ProductModel(product.product_id).update(
            actions=[ProductModel.rating_rank.set(listing_keys(product)["rating_rank"]),
                     ProductModel.changed_at.set(changed_at)],
            condition=ProductModel.rating_count == product.rating_count)
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


# ---- category counts --------------------------------------------------------------------------------------


def stage_category_moves(tx: TransactWrite, moves: dict[str, tuple[str, int]]) -> None:
    """Add each category's change in listed products (an atomic ADD: exact however many writers)."""
    for slug, (name, delta) in sorted(moves.items()):
        tx.update(CategoryModel(slug), actions=[CategoryModel.product_count.add(delta),
                                                CategoryModel.name.set(CategoryModel.name | name)])


def category_counts() -> list[tuple[str, str, int]]:
    """(slug, name, listed products) of every category ever counted; a shop has tens, not thousands."""
    return [(item.slug, item.name, int(item.product_count)) for item in CategoryModel.scan()]


def replace_category_counts(counts: dict[str, tuple[str, int]]) -> None:
    """Set every category's count to a recount (the rebuild command); categories no longer listed go to 0."""
    with CategoryModel.batch_write() as batch:
        for slug, name, _ in category_counts():
            if slug not in counts:
                batch.save(CategoryModel(slug, name=name, product_count=0))
        for slug, (name, count) in counts.items():
            batch.save(CategoryModel(slug, name=name, product_count=count))
