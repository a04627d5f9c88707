"""Demo data for the local stack: the TokoKita catalog, a placeholder picture per product, a few vouchers.

Runs after provisioning, with the environment pointing at the moto server. Every step checks before it
writes (products are imported by stable id, pictures are set once, existing vouchers are skipped), so
seeding a stack that was already seeded changes nothing. `python -m local.seed` runs it by hand.
"""

from __future__ import annotations

import json
import textwrap
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from chalicelib import clock, config, resources
from chalicelib.catalog import csv_import
from chalicelib.catalog.csv_import import ProductRows
from chalicelib.catalog.domain import slugify
from chalicelib.errors import Conflict
from chalicelib.validation import Fields

DEMO_CATALOG = Path(__file__).resolve().parent / "demo_catalog.csv"
COVER_NAME = "cover.svg"
SVG_TYPE = "image/svg+xml"
# Colours that recall each craft: sogan brown, songket maroon, pandan gold, teak, terracotta, silver.
CATEGORY_COLOURS = {
    "batik": "#7a4a2a",
    "tenun-songket": "#7b1e3a",
    "anyaman": "#a8862b",
    "kerajinan-kayu": "#5d4037",
    "keramik-gerabah": "#b5543a",
    "perak-kotagede": "#546e7a",
}
FALLBACK_COLOURS = ("#2e7d6b", "#3f51b5", "#8d6e63", "#6a1b9a", "#00838f")


def demo_vouchers(now_iso: str | None = None) -> list[dict[str, Any]]:
    """Voucher payloads for the demo; EXPIRED5's window ends before `now`, so checkout can show the refusal."""
    now = clock.parse_iso(now_iso) if now_iso else clock.now()
    return [
        {
            "code": "JOGJA10",
            "kind": "percent",
            "value": 10,
            "min_spend": 200_000,
            "max_discount": 50_000,
            "usage_limit": 100,
        },
        {"code": "HEMAT25K", "kind": "fixed", "value": 25_000, "min_spend": 150_000},
        {
            "code": "BATIKDAY",
            "kind": "percent",
            "value": 15,
            "min_spend": 500_000,
            "max_discount": 150_000,
            "valid_from": clock.iso(now - timedelta(days=1)),
            "valid_until": clock.iso(now + timedelta(days=90)),
        },
        {
            "code": "EXPIRED5",
            "kind": "percent",
            "value": 5,
            "min_spend": 0,
            "max_discount": 20_000,
            "valid_from": clock.iso(now - timedelta(days=60)),
            "valid_until": clock.iso(now - timedelta(days=30)),
        },
    ]


def placeholder_svg(name: str, category: str) -> str:
    """A cover picture so the storefront has something to show: the product's name on its category's colour."""
    slug = slugify(category)
    colour = CATEGORY_COLOURS.get(slug) or FALLBACK_COLOURS[zlib.crc32(slug.encode()) % len(FALLBACK_COLOURS)]
    lines = textwrap.wrap(name, width=22)[:4]
    first_y = 400 - (len(lines) - 1) * 32
    text = "".join(
        f'<text x="400" y="{first_y + index * 64}" font-size="52" font-weight="bold">{escape(line)}</text>'
        for index, line in enumerate(lines)
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="800" height="800" viewBox="0 0 800 800">'
        f'<rect width="800" height="800" fill="{colour}"/>'
        '<rect x="40" y="40" width="720" height="720" fill="none" stroke="#ffffff" stroke-opacity="0.35" '
        'stroke-width="4"/>'
        '<g fill="#ffffff" font-family="Helvetica, Arial, sans-serif" text-anchor="middle">'
        f'<text x="400" y="130" font-size="30" letter-spacing="4">{escape(category.upper())}</text>'
        f"{text}"
        '<text x="400" y="700" font-size="28" fill-opacity="0.8">TokoKita</text>'
        "</g></svg>"
    )


def seed_catalog(*, actor: str) -> tuple[list[ProductRows], csv_import.ImportSummary]:
    """Import the demo CSV; a bad row in our own demo file is a bug, so it stops the seeding."""
    products, rejected = csv_import.parse_catalog_csv(DEMO_CATALOG)
    if rejected:
        details = "; ".join(f"row {row.row}: {row.reason}" for row in rejected)
        raise ValueError(f"{DEMO_CATALOG.name} has rows the importer rejects: {details}")
    return products, csv_import.import_products(products, actor=actor)


def seed_images(products: list[ProductRows], *, actor: str) -> dict[str, int]:
    """Upload a cover per product that has no picture in the CSV and put it first in the product's images."""
    import boto3

    from chalicelib.catalog import repository, service
    from chalicelib.catalog.domain import MAX_IMAGES

    s3 = boto3.client("s3", region_name=config.region())
    bucket = resources.MEDIA_BUCKET.physical_name
    counts = {"images_uploaded": 0, "images_attached": 0}
    for product in products:
        if product.payload.get("images"):
            continue
        found = repository.get(product.product_id)
        if found is None:  # rejected by the import: reported there
            continue
        current, _ = found
        key = f"products/{product.product_id}/{COVER_NAME}"
        body = placeholder_svg(current.name, current.category).encode("utf-8")
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=SVG_TYPE)
        counts["images_uploaded"] += 1
        url = service.media_url(key)
        if url not in current.images:
            images = [url, *current.images][:MAX_IMAGES]
            service.update_product(product.product_id, Fields({"images": images}), actor=actor)
            counts["images_attached"] += 1
    return counts


def seed_vouchers(*, actor: str) -> dict[str, int]:
    """Create the demo vouchers; one that exists already (an earlier seed, or staff) is left untouched."""
    from chalicelib.vouchers import service as vouchers

    counts = {"vouchers_created": 0, "vouchers_existing": 0}
    for payload in demo_vouchers():
        try:
            vouchers.create_voucher(Fields(payload), actor=actor)
        except Conflict as error:
            if error.code != "voucher_exists":
                raise
            counts["vouchers_existing"] += 1
        else:
            counts["vouchers_created"] += 1
    return counts


def seed_demo(*, actor: str = "seed") -> dict[str, int]:
    """Seed catalog, pictures and vouchers; returns what was created, updated or already there."""
    products, summary = seed_catalog(actor=actor)
    counts = {
        "products": len(products),
        "products_created": summary.created,
        "products_updated": summary.updated,
        "products_unchanged": summary.unchanged,
        "skus_created": summary.skus,
        "skus_existing": summary.skus_kept,
        "rejected_rows": len(summary.rejected),
    }
    counts.update(seed_images(products, actor=actor))
    counts.update(seed_vouchers(actor=actor))
    return counts


if __name__ == "__main__":
    print(json.dumps(seed_demo(), indent=2))
