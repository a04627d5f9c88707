"""Reading a catalog spreadsheet (CSV, one row per variant) into product payloads, and importing them.

Parsing is pure Python so a file can be checked offline (`--dry-run`) and unit-tested without AWS. Rows are
checked one by one and a bad row is reported and skipped, never fatal: a 300-row spreadsheet with one typo
should not block the other 299. Only an unusable file (no header, missing columns) raises CatalogFileError.

The import goes through chalicelib.catalog.service, the same code as the staff API, so every rule (SKUs
unique shop-wide, opening stock written to the ledger) holds for imported products as for hand-made ones.
Product ids derive from the handle, which makes re-running an import an update instead of a duplicate.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from chalicelib.catalog import domain
from chalicelib.catalog.domain import MAX_IMAGES, MAX_PRICE, MAX_WEIGHT_GRAMS, STATUSES, slugify
from chalicelib.errors import DomainError
from chalicelib.inventory.domain import MAX_ON_HAND
from chalicelib.validation import SKU_PATTERN, Fields

REQUIRED_COLUMNS = ("handle", "name", "category", "sku", "price", "weight_grams")
OPTIONAL_COLUMNS = (
    "description", "status", "length_cm", "width_cm", "height_cm", "stock", "low_stock_threshold", "image_url",
)
OPTION_PREFIX = "option_"  # option_size, option_colour, option_motif, ... -> variant options {"size": ...}
DIMENSION_COLUMNS = ("length_cm", "width_cm", "height_cm")
# Per-product values: follow-up rows of a handle may leave them blank or repeat them, never contradict them.
PRODUCT_COLUMNS = ("name", "description", "category", "status", "low_stock_threshold")
PRODUCT_ID_PREFIX = "prd_"
MAX_PRODUCT_ID = 64
MAX_DIMENSION_CM = 500
MAX_THRESHOLD = 100_000
MAX_OPTIONS = 10
MAX_OPTION_VALUE = 60
FIRST_DATA_ROW = 2  # row numbers are the spreadsheet's: the header is row 1

CREATED, UPDATED, UNCHANGED, REJECTED = "created", "updated", "unchanged", "rejected"

CsvSource = str | os.PathLike[str] | IO[str]


class CatalogFileError(ValueError):
    """The file as a whole cannot be read as a catalog (as opposed to a single bad row)."""


@dataclass(frozen=True)
class RejectedRow:
    """One CSV row that was not imported, and why, in words a shop assistant can act on."""

    row: int
    handle: str
    sku: str
    reason: str


@dataclass
class ProductRows:
    """One product gathered from its rows: the create_product payload and where each variant came from."""

    product_id: str
    handle: str
    payload: dict[str, Any]
    rows: list[int]  # source row of each variant, in the order of payload["variants"]

    @property
    def skus(self) -> list[str]:
        return [variant["sku"] for variant in self.payload["variants"]]

    @property
    def name(self) -> str:
        return str(self.payload["name"])

    def opening_stock(self, sku: str) -> int:
        return int(self.payload.get("initial_stock", {}).get(sku, 0))


@dataclass
class ImportSummary:
    """What an import did. Stock in the file only opens SKUs new to the shop: existing SKUs keep theirs."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skus: int = 0  # SKUs new to the shop, opened with the file's stock
    skus_kept: int = 0  # SKUs that already existed: stock and low-stock threshold left as they were
    rejected: list[RejectedRow] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)  # product_id -> created/updated/unchanged/rejected

    def reject_product(self, product: ProductRows, reason: str, *, skus: Iterable[str] | None = None) -> None:
        """Report every row of the product (or only those of `skus`) as rejected for one reason."""
        only = set(skus) if skus is not None else None
        for sku, row in zip(product.skus, product.rows, strict=True):
            if only is None or sku in only:
                self.rejected.append(RejectedRow(row, product.handle, sku, reason))


def product_id_for(handle: str) -> str:
    """A stable id from the handle, so importing the same file twice finds the same products."""
    return (PRODUCT_ID_PREFIX + slugify(handle))[:MAX_PRODUCT_ID].rstrip("-")


# ---- parsing ----------------------------------------------------------------------------------------------


class _Reject(Exception):
    """A row problem; carried as an exception so each check reads as one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _read_text(source: CsvSource) -> str:
    if isinstance(source, str):
        return source
    if isinstance(source, os.PathLike):
        try:
            return Path(source).read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as error:
            raise CatalogFileError(f"{source}: not UTF-8 text ({error.reason}); save the sheet as CSV UTF-8") from None
    return source.read()


def _check_header(cells: list[str]) -> list[str]:
    columns = [cell.strip().lower() for cell in cells]
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        raise CatalogFileError(
            f"missing required column(s): {', '.join(missing)}; the header row must contain "
            f"{', '.join(REQUIRED_COLUMNS)} (optional: {', '.join(OPTIONAL_COLUMNS)}, {OPTION_PREFIX}<name>)"
        )
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    # A misspelt column would silently drop data (e.g. every weight), so it stops the import instead.
    unknown = [column for column in columns if column not in known and not column.startswith(OPTION_PREFIX)]
    if unknown:
        raise CatalogFileError(f"unknown column(s): {', '.join(repr(column) for column in unknown)}")
    duplicates = sorted({column for column in columns if columns.count(column) > 1})
    if duplicates:
        raise CatalogFileError(f"column(s) appear more than once: {', '.join(duplicates)}")
    options = [column for column in columns if column.startswith(OPTION_PREFIX)]
    if any(column == OPTION_PREFIX for column in options):
        raise CatalogFileError(f"an option column needs a name after '{OPTION_PREFIX}', e.g. option_size")
    if len(options) > MAX_OPTIONS:
        raise CatalogFileError(f"at most {MAX_OPTIONS} {OPTION_PREFIX}* columns")
    return columns


def _whole(row: dict[str, str], column: str, *, min_value: int, max_value: int, default: int | None = None) -> int:
    raw = row.get(column, "")
    if raw == "":
        if default is None:
            raise _Reject(f"{column} is empty")
        return default
    if re.fullmatch(r"-\d+", raw):
        raise _Reject(f"{column} must not be negative (got {raw})")
    if not re.fullmatch(r"\d+", raw):
        raise _Reject(f"{column} must be a whole number (got {raw!r})")
    value = int(raw)
    if value < min_value:
        raise _Reject(f"{column} must be at least {min_value} (got {value})")
    if value > max_value:
        raise _Reject(f"{column} must be at most {max_value} (got {value})")
    return value


@dataclass
class _Draft:
    """A product being gathered: the first row that gives a product value sets it."""

    product_id: str
    handle: str
    first_row: int
    values: dict[str, tuple[Any, int]] = field(default_factory=dict)  # column -> (value, row that gave it)
    images: list[str] = field(default_factory=list)
    variants: list[dict[str, Any]] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    stock: dict[str, int] = field(default_factory=dict)

    def to_product(self) -> ProductRows:
        payload: dict[str, Any] = {column: value for column, (value, _) in self.values.items()}
        payload["variants"] = self.variants
        payload["images"] = self.images
        payload["initial_stock"] = self.stock
        return ProductRows(self.product_id, self.handle, payload, self.rows)


class _CatalogBuilder:
    def __init__(self, columns: list[str]) -> None:
        self.columns = columns
        self.option_columns = [column for column in columns if column.startswith(OPTION_PREFIX)]
        self.drafts: dict[str, _Draft] = {}
        self.sku_rows: dict[str, int] = {}
        self.rejected: list[RejectedRow] = []

    def add(self, number: int, cells: list[str]) -> None:
        row = {column: (cells[index].strip() if index < len(cells) else "") for index, column in
               enumerate(self.columns)}
        handle, sku = row["handle"], row["sku"].upper()
        try:
            extra = [cell for cell in cells[len(self.columns):] if cell.strip()]
            if extra:
                raise _Reject(f"has {len(cells)} values but the header has {len(self.columns)} columns")
            draft = self._draft_for(handle)
            values = self._product_values(row)
            self._check_consistent(draft, values)
        except _Reject as problem:
            self.rejected.append(RejectedRow(number, handle, sku, problem.reason))
            return
        draft = self._establish(draft, values, handle, number)
        try:
            self._check_sku(sku, number)
            for column in ("name", "category"):
                if column not in draft.values:
                    raise _Reject(f"{column} is empty (give it on the first row of the product)")
            variant = self._variant(row, sku)
            stock = _whole(row, "stock", min_value=0, max_value=MAX_ON_HAND, default=0)
            image = row.get("image_url", "")
            if image and image not in draft.images and len(draft.images) >= MAX_IMAGES:
                raise _Reject(f"a product has at most {MAX_IMAGES} images")
        except _Reject as problem:
            self.rejected.append(RejectedRow(number, handle, sku, problem.reason))
            return
        draft.variants.append(variant)
        draft.rows.append(number)
        draft.stock[sku] = stock
        if image and image not in draft.images:
            draft.images.append(image)

    def _draft_for(self, handle: str) -> _Draft | None:
        if not handle:
            raise _Reject("handle is empty")
        if not slugify(handle):
            raise _Reject(f"handle {handle!r} needs at least one letter or digit")
        product_id = product_id_for(handle)
        draft = self.drafts.get(product_id)
        if draft is not None and draft.handle != handle:
            raise _Reject(f"handle {handle!r} gives the same product id {product_id} as {draft.handle!r} "
                          f"on row {draft.first_row}")
        return draft

    def _product_values(self, row: dict[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {column: row.get(column, "") for column in PRODUCT_COLUMNS if row.get(column)}
        if "status" in values:
            values["status"] = values["status"].lower()
            if values["status"] not in STATUSES:
                raise _Reject(f"status must be one of {', '.join(STATUSES)} (got {row['status']!r})")
        if "low_stock_threshold" in values:
            values["low_stock_threshold"] = _whole(row, "low_stock_threshold", min_value=0, max_value=MAX_THRESHOLD)
        image = row.get("image_url", "")
        if image and not re.fullmatch(r"https?://\S{3,500}", image):
            raise _Reject(f"image_url must be an http(s) URL (got {image!r})")
        return values

    def _check_consistent(self, draft: _Draft | None, values: dict[str, Any]) -> None:
        if draft is None:
            return
        for column, value in values.items():
            if column in draft.values and draft.values[column][0] != value:
                first, first_row = draft.values[column]
                raise _Reject(f"{column} {value!r} conflicts with {first!r} on row {first_row} of the same handle")

    def _establish(self, draft: _Draft | None, values: dict[str, Any], handle: str, number: int) -> _Draft:
        """Product values count even when this row's variant turns out bad: they belong to the product."""
        if draft is None:
            draft = self.drafts[product_id_for(handle)] = _Draft(product_id_for(handle), handle, number)
        for column, value in values.items():
            draft.values.setdefault(column, (value, number))
        return draft

    def _check_sku(self, sku: str, number: int) -> None:
        """SKUs count as seen from their first row, even a rejected one: fixing that row makes them clash."""
        if not sku:
            raise _Reject("sku is empty")
        if not re.fullmatch(SKU_PATTERN, sku):
            raise _Reject(f"sku {sku!r} may only hold letters, digits, '.', '_' and '-' (at most 64)")
        first = self.sku_rows.setdefault(sku, number)
        if first != number:
            raise _Reject(f"duplicate SKU {sku}: already on row {first}")

    def _variant(self, row: dict[str, str], sku: str) -> dict[str, Any]:
        variant: dict[str, Any] = {
            "sku": sku,
            "price": _whole(row, "price", min_value=1, max_value=MAX_PRICE),
            "weight_grams": _whole(row, "weight_grams", min_value=1, max_value=MAX_WEIGHT_GRAMS),
            "options": self._options(row),
        }
        dimensions = self._dimensions(row)
        if dimensions:
            variant["dimensions"] = dimensions
        return variant

    def _options(self, row: dict[str, str]) -> dict[str, str]:
        options: dict[str, str] = {}
        for column in self.option_columns:
            value = row.get(column, "")
            if not value:
                continue
            if len(value) > MAX_OPTION_VALUE:
                raise _Reject(f"{column} must be at most {MAX_OPTION_VALUE} characters")
            options[column[len(OPTION_PREFIX):]] = value
        return options

    def _dimensions(self, row: dict[str, str]) -> dict[str, int] | None:
        given = [column for column in DIMENSION_COLUMNS if row.get(column)]
        if not given:
            return None
        if len(given) != len(DIMENSION_COLUMNS):
            raise _Reject("length_cm, width_cm and height_cm go together: fill in all three or none")
        return {column: _whole(row, column, min_value=1, max_value=MAX_DIMENSION_CM) for column in DIMENSION_COLUMNS}

    def result(self) -> tuple[list[ProductRows], list[RejectedRow]]:
        products = [draft.to_product() for draft in self.drafts.values() if draft.variants]
        return products, self.rejected


def parse_catalog_csv(text_or_file: CsvSource) -> tuple[list[ProductRows], list[RejectedRow]]:
    """Products (in file order) and the rows left out, from CSV text, a path or an open text file.

    Rows are grouped by handle; the first row of a handle carries the product's name, category and so on,
    follow-up rows may repeat them or leave them blank. Raises CatalogFileError only for a file that
    cannot be a catalog at all; every other problem is a RejectedRow and the rest of the file still counts.
    """
    text = _read_text(text_or_file).removeprefix("\ufeff")  # Excel's "CSV UTF-8" starts with a BOM
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise CatalogFileError(f"the file is empty: expected a header row with {', '.join(REQUIRED_COLUMNS)}")
        builder = _CatalogBuilder(_check_header(header))
        for number, cells in enumerate(reader, start=FIRST_DATA_ROW):
            if any(cell.strip() for cell in cells):  # spreadsheets export trailing empty rows
                builder.add(number, cells)
    except csv.Error as error:
        raise CatalogFileError(f"not a readable CSV file near line {reader.line_num}: {error}") from None
    return builder.result()


# ---- importing --------------------------------------------------------------------------------------------


def update_payload(product: ProductRows, existing_variants: dict[str, bool]) -> dict[str, Any]:
    """What a re-import changes: the file's product values and variants, nothing the file does not state.

    Images are only replaced when the file gives some (so uploaded pictures survive a re-import without
    image URLs), and an existing variant keeps its active flag, which staff set and the file has no column for.
    """
    payload = {key: value for key, value in product.payload.items()
               if key in ("name", "description", "category", "status")}
    if product.payload.get("images"):
        payload["images"] = list(product.payload["images"])
    payload["variants"] = [
        {**variant, "active": existing_variants[variant["sku"]]} if variant["sku"] in existing_variants else variant
        for variant in product.payload["variants"]
    ]
    new_skus = [sku for sku in product.skus if sku not in existing_variants]
    opening = {sku: product.opening_stock(sku) for sku in new_skus if product.opening_stock(sku)}
    if opening:  # existing SKUs keep their stock: it moves only through restock and adjust
        payload["initial_stock"] = opening
    if new_skus and product.payload.get("low_stock_threshold") is not None:
        payload["low_stock_threshold"] = product.payload["low_stock_threshold"]
    return payload


def import_products(
    products: Iterable[ProductRows],
    *,
    actor: str,
    on_progress: Callable[[ProductRows, str], None] | None = None,
) -> ImportSummary:
    """Create new products, update those already there; safe to run again with the same file.

    A product the shop refuses (DomainError) becomes rejected rows and the import goes on; anything else
    (AWS unreachable, permissions) stops it, since every following product would fail the same way.
    `on_progress(product, outcome)` is called after each product.
    """
    summary = ImportSummary()
    for product in products:
        try:
            outcome = _import_one(product, actor=actor, summary=summary)
        except DomainError as error:
            outcome = REJECTED
            summary.reject_product(product, error.message)
        summary.outcomes[product.product_id] = outcome
        if on_progress is not None:
            on_progress(product, outcome)
    return summary


def _import_one(product: ProductRows, *, actor: str, summary: ImportSummary) -> str:
    from chalicelib.catalog import repository, service  # AWS-facing: imported only when importing

    found = repository.get(product.product_id)
    if found is None:
        service.create_product(Fields(product.payload), actor=actor, product_id=product.product_id)
        summary.created += 1
        summary.skus += len(product.skus)
        return CREATED
    existing, _ = found
    payload = update_payload(product, {variant.sku: variant.active for variant in existing.variants})
    # Applying the update with the stored timestamp tells whether the file changes anything at all:
    # an unchanged product is not rewritten, so a re-import leaves updated_at and versions alone.
    changed, new_variants = domain.apply_update(existing, Fields(payload), now=existing.updated_at)
    kept = len(product.skus) - len(new_variants)
    if changed == existing:
        summary.unchanged += 1
        summary.skus_kept += kept
        return UNCHANGED
    service.update_product(product.product_id, Fields(payload), actor=actor)
    summary.updated += 1
    summary.skus += len(new_variants)
    summary.skus_kept += kept
    return UPDATED
