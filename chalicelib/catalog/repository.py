"""Products in DynamoDB; variants live inside their product, stock rows (one per SKU) in inventory."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pynamodb.attributes import JSONAttribute, ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import db, resources
from chalicelib.catalog.domain import Dimensions, Product, Variant
from chalicelib.db import meta_for


class ByStatusIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


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
    by_status = ByStatusIndex()


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


def to_model(product: Product, *, version: int) -> ProductModel:
    return ProductModel(
        product.product_id,
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


def get(product_id: str) -> tuple[Product, int] | None:
    """The product and its version (for optimistic updates), or None."""
    try:
        item = ProductModel.get(product_id)
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


def by_status(status: str) -> list[Product]:
    return [to_product(item) for item in ProductModel.by_status.query(status, scan_index_forward=False)]


def stage_create(tx: TransactWrite, product: Product) -> None:
    tx.save(to_model(product, version=1), condition=ProductModel.product_id.does_not_exist())


_EDITED = ("status", "created_at", "updated_at", "name", "description", "category", "images", "variants", "version")


def stage_replace(tx: TransactWrite, product: Product, *, expected_version: int) -> None:
    """Write every field staff edit, never the rating counters: an approval added meanwhile is kept."""
    item = to_model(product, version=expected_version + 1)
    actions: list[Any] = []
    for name in _EDITED:
        attribute, value = getattr(ProductModel, name), getattr(item, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    tx.update(ProductModel(product.product_id), actions=actions, condition=ProductModel.version == expected_version)


def stage_rating(tx: TransactWrite, product_id: str, stars: int) -> None:
    """Add one approved review's stars to the product's counters (an atomic ADD: exact under concurrency)."""
    tx.update(ProductModel(product_id),
              actions=[ProductModel.rating_sum.add(stars), ProductModel.rating_count.add(1)],
              condition=ProductModel.product_id.exists())
