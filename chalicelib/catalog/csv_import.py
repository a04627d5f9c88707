"""Reading a catalog spreadsheet (CSV, one row per variant) into product payloads, and importing them.

Parsing is pure Python so a file can be checked offline (`--dry-run`) and unit-tested without AWS. Rows are
checked one by one and a bad row is reported and skipped, never fatal: a 300-row spreadsheet with one typo
should not block the other 299. Only an unusable file (no header, missing columns) raises CatalogFileError.

The import goes through chalicelib.catalog.service, the same code as the staff API, so every rule (SKUs
unique shop-wide, opening stock written to the ledger) holds for imported products as for hand-made ones.
Product ids derive from the handle, which makes re-running an import an update instead of a duplicate.
It reads the file's products a hundred at a time and writes many products per transaction on a few threads
(see "writing at scale" below), so a catalog of ten thousand products takes a few hundred requests, not twenty
thousand.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import random
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from chalicelib.catalog import domain
from chalicelib.catalog.domain import MAX_IMAGES, MAX_PRICE, MAX_WEIGHT_GRAMS, STATUSES, slugify
from chalicelib.errors import Conflict, DomainError
from chalicelib.inventory.domain import MAX_ON_HAND
from chalicelib.validation import SKU_PATTERN, Fields

if TYPE_CHECKING:
    from chalicelib.db import Transaction

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
    search: dict[str, Any] | None = None  # the search index refresh that followed the writes (None: nothing written)

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


# ---- writing at scale -------------------------------------------------------------------------------------
#
# The file is read a chunk at a time: one BatchGetItem finds which of its products exist, and each product is
# classified as new, changed or unchanged (unchanged products are not written at all). New and changed products
# are packed into transactions of up to 100 items, per category so that the category's count is added once per
# transaction, and a few threads write them. The conditions are the staff API's own: a new product and its stock
# rows must not exist yet, a changed product must still be at the version read, so nothing existing is
# overwritten. A transaction one of these conditions cancels is written again one product at a time, which tells
# whose product it was; the others land. Two transactions adding to the same category count at once would make
# DynamoDB cancel one (TransactionConflict), so a thread takes a batch whose counts no running batch writes, and
# a transaction that lost anyway is tried again after a jittered wait.

READ_CHUNK = 100  # products read together: one BatchGetItem (100 keys at most)
TRANSACTION_ITEMS = 100  # DynamoDB's limit on the items of one TransactWriteItems
DEFAULT_WORKERS = 4
MAX_WORKERS = 8  # botocore keeps 10 connections per client: more threads would queue for one
OPEN_LIMIT = 1_000  # classified products waiting in partly filled batches: past it, those batches are closed
QUEUE_PER_WORKER = 2  # full batches waiting for a thread; past it the reading of the file waits
CONFLICT_ATTEMPTS = 8  # tries of a transaction that lost to another writer of the same item (a category count)


@dataclass(frozen=True)
class _Write:
    """One product to write: new (`before` None) or changed (from `before`, still at `version`)."""

    rows: ProductRows
    after: domain.Product
    before: domain.Product | None
    version: int
    new_variants: tuple[domain.Variant, ...]
    opening: dict[str, int]
    threshold: int
    moves: dict[str, tuple[str, int]]  # its change to the category counts (domain.shelf_moves)

    @property
    def items(self) -> int:
        """Items it stages: the product, and a stock row and a ledger line per new SKU."""
        return 1 + 2 * len(self.new_variants)


@dataclass
class _Batch:
    """Products written in one transaction, with their category counts added up (an item is touched only once)."""

    writes: list[_Write] = field(default_factory=list)
    items: int = 0
    slugs: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)  # product ids and new SKUs: each may be written once

    def fits(self, write: _Write) -> bool:
        counts = len(self.slugs | write.moves.keys())
        return self.items + write.items + counts <= TRANSACTION_ITEMS and not _keys(write) & self.keys

    def add(self, write: _Write) -> None:
        self.writes.append(write)
        self.items += write.items
        self.slugs.update(write.moves)
        self.keys.update(_keys(write))


def _keys(write: _Write) -> set[str]:
    return {f"product:{write.after.product_id}", *(f"sku:{variant.sku}" for variant in write.new_variants)}


class _Refused(Exception):
    """A transaction's condition failed (a SKU taken, a product created or edited meanwhile), or it kept losing
    to other writers; `conflict` says why when the transaction held one product."""

    def __init__(self, conflict: DomainError | None) -> None:
        super().__init__(conflict.message if conflict else "refused")
        self.conflict = conflict


def _plan(product: ProductRows, found: tuple[domain.Product, int] | None) -> _Write | None:
    """What importing the product writes, checked by the staff API's own rules; None when it changes nothing."""
    from chalicelib import clock
    from chalicelib.catalog import service

    if found is None:
        after, opening, threshold = service.new_product(Fields(product.payload), product_id=product.product_id,
                                                        now=clock.now_iso())
        return _Write(product, after, None, 0, after.variants, opening, threshold, domain.shelf_moves(None, after))
    existing, version = found
    payload = update_payload(product, {variant.sku: variant.active for variant in existing.variants})
    # Applying the update with the stored timestamp tells whether the file changes anything at all:
    # an unchanged product is not rewritten, so a re-import leaves updated_at and versions alone.
    unchanged, _ = domain.apply_update(existing, Fields(payload), now=existing.updated_at)
    if unchanged == existing:
        return None
    after, new_variants, opening, threshold = service.edited_product(existing, Fields(payload), now=clock.now_iso())
    return _Write(product, after, existing, version, tuple(new_variants), opening, threshold,
                  domain.shelf_moves(existing, after))


def _stage(tx: Transaction, writes: list[_Write], actor: str) -> None:
    from chalicelib.catalog import repository, service

    moves: dict[str, tuple[str, int]] = {}
    for write in writes:
        if write.before is None:
            service.stage_new_product(tx, write.after, write.opening, write.threshold, actor, count_categories=False)
        else:
            service.stage_product_update(tx, write.before, write.after, write.version, write.new_variants,
                                         write.opening, write.threshold, actor, count_categories=False)
        for slug, (name, delta) in write.moves.items():
            name, total = moves.get(slug, (name, 0))
            moves[slug] = (name, total + delta)
    counted = {slug: move for slug, move in moves.items() if move[1]}
    if counted:
        repository.stage_category_moves(tx, counted)


def _commit(writes: list[_Write], actor: str) -> None:
    """One transaction of these products; one that lost to another writer is tried again after a jittered wait."""
    from pynamodb.exceptions import TransactWriteError

    from chalicelib import db
    from chalicelib.catalog import service

    for attempt in range(CONFLICT_ATTEMPTS):
        tx = db.transaction()
        try:
            with tx:
                _stage(tx, writes, actor)
            return
        except TransactWriteError as error:
            if tx.failed_conditions(error):
                if len(writes) > 1:
                    raise _Refused(None) from None
                try:
                    service.raise_conflicts(tx, error)
                except DomainError as conflict:
                    raise _Refused(conflict) from None
                raise
            if not db.lost_to_another_transaction(error):
                raise
        time.sleep(random.uniform(0, min(1.0, 0.02 * 2**attempt)))
    raise _Refused(None if len(writes) > 1 else Conflict(
        "another writer kept changing the same category count; run the import again", code="catalog_busy"))


def _write(writes: list[_Write], actor: str) -> list[tuple[_Write, DomainError | None]]:
    """Write the products together; if the shop refuses the transaction, one at a time so only the culprits are
    rejected (with the staff API's reason) and the others land. Runs on a worker thread."""
    try:
        _commit(writes, actor)
    except _Refused as refused:
        if len(writes) == 1:
            return [(writes[0], refused.conflict)]
        return [outcome for write in writes for outcome in _write([write], actor)]
    return [(write, None) for write in writes]


class _Writer:
    """Packs products into transactions per category and writes them on a few threads, a category count in one
    transaction at a time where it can; everything is reported back on the calling thread (`finished`)."""

    def __init__(self, pool: ThreadPoolExecutor, workers: int, actor: str,
                 finished: Callable[[_Write, DomainError | None], None]) -> None:
        self.pool, self.workers, self.actor, self.finished = pool, workers, actor, finished
        self.open: dict[str, _Batch] = {}  # partly filled, by category
        self.open_writes = 0
        self.ready: deque[_Batch] = deque()
        self.running: dict[Future[list[tuple[_Write, DomainError | None]]], _Batch] = {}

    def add(self, write: _Write) -> None:
        key = write.after.category_slug
        batch = self.open.get(key)
        if batch is not None and not batch.fits(write):
            self.ready.append(self.open.pop(key))
            self.open_writes -= len(batch.writes)
            batch = None
        if batch is None:
            batch = self.open[key] = _Batch()
        batch.add(write)
        self.open_writes += 1
        if self.open_writes > OPEN_LIMIT:
            self._close_open()

    def pump(self) -> None:
        """Report what finished and start what is ready; wait while too many batches queue (memory stays flat)."""
        self._collect(block=False)
        self._start()
        while len(self.ready) > self.workers * QUEUE_PER_WORKER:
            self._collect(block=True)
            self._start()

    def finish(self) -> None:
        self._close_open()
        while self.ready or self.running:
            self._start()
            self._collect(block=True)

    def stop(self) -> None:
        for future in self.running:
            future.cancel()

    def _close_open(self) -> None:
        """Partly filled batches become full ones, several categories together (in category order)."""
        batch = _Batch()
        for key in sorted(self.open):
            for write in self.open[key].writes:
                if batch.writes and not batch.fits(write):
                    self.ready.append(batch)
                    batch = _Batch()
                batch.add(write)
        if batch.writes:
            self.ready.append(batch)
        self.open.clear()
        self.open_writes = 0

    def _start(self) -> None:
        """Idle threads take the first ready batch whose category counts no running batch writes (two writers of
        one count make DynamoDB cancel one of them); if every one shares a count, they wait for it."""
        while self.ready and len(self.running) < self.workers:
            busy = {slug for batch in self.running.values() for slug in batch.slugs}
            index = next((number for number, batch in enumerate(self.ready) if not batch.slugs & busy), None)
            if index is None:
                if self.running:
                    return
                index = 0
            batch = self.ready[index]
            del self.ready[index]
            self.running[self.pool.submit(_write, batch.writes, self.actor)] = batch

    def _collect(self, *, block: bool) -> None:
        if not self.running:
            return
        done, _ = wait(self.running, timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for future in done:
            del self.running[future]
            for write, conflict in future.result():  # an error other than the shop's refusal stops the import
                self.finished(write, conflict)


def import_products(
    products: Iterable[ProductRows],
    *,
    actor: str,
    on_progress: Callable[[ProductRows, str], None] | None = None,
    workers: int = DEFAULT_WORKERS,
    refresh_search: bool = True,
) -> ImportSummary:
    """Create new products, update those already there; safe to run again with the same file.

    A product the shop refuses (DomainError) becomes rejected rows and the import goes on; anything else
    (AWS unreachable, permissions) stops it, since every following product would fail the same way; what was
    written by then stays. `on_progress(product, outcome)` is called after each product, on the calling thread,
    in the order products finish (not the file's). `workers` threads write at once. When anything was written, the
    search index is refreshed at the end (`summary.search`) so searches find the new catalog straight away.
    """
    from chalicelib.catalog import repository, service

    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers must be between 1 and {MAX_WORKERS} (got {workers})")
    summary = ImportSummary()

    def report(product: ProductRows, outcome: str) -> None:
        summary.outcomes[product.product_id] = outcome
        if on_progress is not None:
            on_progress(product, outcome)

    def reject(product: ProductRows, error: DomainError) -> None:
        summary.reject_product(product, error.message)
        report(product, REJECTED)

    def finished(write: _Write, conflict: DomainError | None) -> None:
        if conflict is not None:
            reject(write.rows, conflict)
        elif write.before is None:
            summary.created += 1
            summary.skus += len(write.new_variants)
            report(write.rows, CREATED)
        else:
            summary.updated += 1
            summary.skus += len(write.new_variants)
            summary.skus_kept += len(write.rows.skus) - len(write.new_variants)
            report(write.rows, UPDATED)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="catalog-import") as pool:
        writer = _Writer(pool, workers, actor, finished)
        try:
            iterator = iter(products)
            while chunk := list(itertools.islice(iterator, READ_CHUNK)):
                found = repository.get_many_with_versions(product.product_id for product in chunk)
                for product in chunk:
                    try:
                        write = _plan(product, found.get(product.product_id))
                    except DomainError as error:
                        reject(product, error)
                        continue
                    if write is None:
                        summary.unchanged += 1
                        summary.skus_kept += len(product.skus)
                        report(product, UNCHANGED)
                    else:
                        writer.add(write)
                writer.pump()
            writer.finish()
        except BaseException:
            writer.stop()
            raise
    if refresh_search and (summary.created or summary.updated):
        summary.search = service.refresh_search_index()
    return summary
