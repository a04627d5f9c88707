"""The search engine, kept in step with the catalog through the products table's change feed.

Every product write stamps `changed_at`, and the `changes` index lists every product by it: the feed. The engine
is configured by TOKOFLOW_SEARCH_ENGINE:

- `embedded` (default): SQLite FTS5 in the function's memory. A container loads the index file from the search
  bucket once (and again when a newer file appears), then before each search applies what the feed holds since
  the file's watermark: usually one Query that returns nothing. The `refresh_search_index` schedule folds the feed
  into a new file so the catch-up stays short; `rebuild` writes one from scratch.
- `opensearch`: the same feed pushed to an OpenSearch index by the schedule (watermark kept in the search bucket).

A product's feed entry is its current state, so applying it twice, or out of order, gives the same index. The
watermark is the moment before which every change has certainly been applied: the time a catch-up started minus
OVERLAP_SECONDS (a write reaches the index within that), so a change the index showed late is read again by the
next catch-up, and a burst of writes long past is not.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from chalicelib import aws, clock, config, resources
from chalicelib.catalog import domain, repository
from chalicelib.catalog.domain import Product
from chalicelib.catalog.search import SearchDoc, SearchEngine
from chalicelib.observability import logger

if TYPE_CHECKING:
    from chalicelib.catalog.search_opensearch import OpenSearchEngine
    from chalicelib.catalog.search_sqlite import SqliteSearchIndex

EMBEDDED, OPENSEARCH = "embedded", "opensearch"
INDEX_KEY = "catalog/index.sqlite"
OPENSEARCH_WATERMARK_KEY = "catalog/opensearch-watermark.json"
OVERLAP_SECONDS = 10
RELOAD_CHECK_SECONDS = 60  # how often a warm container asks whether a newer index file exists (a 304 mostly)


def to_doc(product: Product, changed_at: str) -> SearchDoc:
    low, high = product.price_range()
    return SearchDoc(product_id=product.product_id, name=product.name, description=product.description,
                     category=product.category, category_slug=product.category_slug, price_min=low, price_max=high,
                     created_at=product.created_at, rating_rank=domain.rating_rank(product), changed_at=changed_at)


def engine_name() -> str:
    name = config.get(config.SEARCH_ENGINE, EMBEDDED) or EMBEDDED
    if name not in (EMBEDDED, OPENSEARCH):
        raise ValueError(f"{config.SEARCH_ENGINE} must be {EMBEDDED} or {OPENSEARCH}, not {name!r}")
    return name


def search_engine() -> SearchEngine:
    """The engine a search asks, in step with the catalog as of now (embedded) or of the last sync (OpenSearch)."""
    if engine_name() == OPENSEARCH:
        return _opensearch()
    return _embedded().current()


def apply_changes(engine: SearchEngine, since: str) -> tuple[str, int]:
    """Apply the feed from the watermark `since` to the engine; (the new watermark, changes applied)."""
    watermark = max(since, _settled())
    listed: list[SearchDoc] = []
    gone: list[str] = []
    for product, changed_at in repository.changed_since(since):
        if domain.is_listed(product):
            listed.append(to_doc(product, changed_at))
        else:
            gone.append(product.product_id)
    if listed:
        engine.upsert(listed)
    if gone:
        engine.remove(gone)
    return watermark, len(listed) + len(gone)


def _settled() -> str:
    """Changes stamped before this moment are in the feed by now (taken before reading it)."""
    return clock.iso(clock.now() - timedelta(seconds=OVERLAP_SECONDS))


# ---- the embedded engine ----------------------------------------------------------------------------------


class _Embedded:
    """This container's copy of the index: loaded from the search bucket, caught up from the feed per search."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.index: SqliteSearchIndex | None = None
        self.etag: str | None = None
        self.checked_at = 0.0

    def current(self) -> SqliteSearchIndex:
        with self.lock:
            if self.index is None or time.monotonic() - self.checked_at > RELOAD_CHECK_SECONDS:
                self._load_newer()
            assert self.index is not None
            watermark, _ = apply_changes(self.index, self.index.watermark)
            self.index.set_watermark(watermark)
            return self.index

    def _load_newer(self) -> None:
        from chalicelib.catalog.search_sqlite import SqliteSearchIndex

        self.checked_at = time.monotonic()
        found = _read_index_file(if_none_match=self.etag if self.index is not None else None)
        if found is not None:
            data, self.etag = found
            try:
                loaded = SqliteSearchIndex.from_bytes(data)
            except ValueError:  # a file of another format version: the whole feed instead, until the next refresh
                logger.warning("search index file unreadable; catching up from the whole feed", key=INDEX_KEY)
                loaded = SqliteSearchIndex()
            if self.index is None or loaded.watermark > self.index.watermark:  # never step back to an older file
                self.index = loaded
        elif self.index is None:
            self.index = SqliteSearchIndex()


@functools.cache
def _embedded() -> _Embedded:
    return _Embedded()


def _read_index_file(*, if_none_match: str | None = None) -> tuple[bytes, str] | None:
    """The index file and its ETag; None when there is none yet, or it is still the one we hold."""
    s3 = aws.client("s3")
    arguments: dict[str, Any] = {"Bucket": resources.SEARCH_BUCKET.physical_name, "Key": INDEX_KEY}
    if if_none_match:
        arguments["IfNoneMatch"] = if_none_match
    try:
        answer = s3.get_object(**arguments)
    except s3.exceptions.NoSuchKey:
        return None
    except s3.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("304", "NotModified"):
            return None
        raise
    return answer["Body"].read(), answer["ETag"]


def _write_index_file(index: SqliteSearchIndex) -> int:
    index.compact()
    data = index.to_bytes()
    aws.client("s3").put_object(Bucket=resources.SEARCH_BUCKET.physical_name, Key=INDEX_KEY, Body=data,
                                ContentType="application/vnd.sqlite3")
    return len(data)


# ---- OpenSearch -------------------------------------------------------------------------------------------


@functools.cache
def _opensearch() -> OpenSearchEngine:
    from chalicelib.catalog.search_opensearch import OpenSearchEngine

    endpoint = config.get(config.OPENSEARCH_ENDPOINT)
    if not endpoint:
        raise ValueError(f"{config.SEARCH_ENGINE}={OPENSEARCH} needs {config.OPENSEARCH_ENDPOINT}")
    index = config.get(config.OPENSEARCH_INDEX) or f"{config.prefix()}-products"
    return OpenSearchEngine(endpoint=endpoint, index=index, region=config.region(),
                            service=config.get(config.OPENSEARCH_SERVICE) or "es")


def _opensearch_watermark() -> str:
    s3 = aws.client("s3")
    try:
        answer = s3.get_object(Bucket=resources.SEARCH_BUCKET.physical_name, Key=OPENSEARCH_WATERMARK_KEY)
    except s3.exceptions.NoSuchKey:
        return ""
    return str(json.loads(answer["Body"].read())["watermark"])


def _save_opensearch_watermark(watermark: str) -> None:
    aws.client("s3").put_object(Bucket=resources.SEARCH_BUCKET.physical_name, Key=OPENSEARCH_WATERMARK_KEY,
                                Body=json.dumps({"watermark": watermark}).encode(), ContentType="application/json")


# ---- the schedule and the rebuild command -----------------------------------------------------------------


def refresh() -> dict[str, Any]:
    """Fold the feed into the engine's stored state (the schedule): a new index file when anything changed."""
    if engine_name() == OPENSEARCH:
        since = _opensearch_watermark()
        watermark, changes = apply_changes(_opensearch(), since)
        if changes:
            _save_opensearch_watermark(watermark)
        return {"engine": OPENSEARCH, "changes": changes, "watermark": watermark}
    from chalicelib.catalog.search_sqlite import SqliteSearchIndex

    found = _read_index_file()
    if found is None:
        return rebuild()
    try:
        index = SqliteSearchIndex.from_bytes(found[0])
    except ValueError:  # another format version
        return rebuild()
    watermark, changes = apply_changes(index, index.watermark)
    written = 0
    if changes:  # unchanged: the file's older watermark costs a catch-up that finds nothing
        index.set_watermark(watermark)
        written = _write_index_file(index)
    return {"engine": EMBEDDED, "changes": changes, "watermark": watermark, "bytes": written}


def rebuild() -> dict[str, Any]:
    """The search index and the category counts from scratch, from every product (the rebuild command)."""
    started = time.monotonic()
    watermark = _settled()  # the Scan sees every change stamped before it began
    products: list[tuple[Product, str]] = []
    for product, changed_at in repository.every_product():
        if changed_at is None:  # written before the feed existed: stamp it (listing keys included) once
            changed_at = repository.stamp_listing_keys(product, changed_at=clock.now_iso())
        products.append((product, changed_at))
    listed = [(product, changed_at) for product, changed_at in products if domain.is_listed(product)]
    counts = {entry["slug"]: (entry["name"], entry["product_count"])
              for entry in domain.categories([product for product, _ in listed])}
    repository.replace_category_counts(counts)
    summary: dict[str, Any] = {"products": len(products), "listed": len(listed), "categories": len(counts),
                               "watermark": watermark}
    if engine_name() == OPENSEARCH:
        engine = _opensearch()
        engine.ensure_index()  # a new domain or collection: the mapping first
        _upsert_in_chunks(engine, (to_doc(product, changed_at) for product, changed_at in listed))
        engine.remove(product.product_id for product, _ in products if not domain.is_listed(product))
        _save_opensearch_watermark(watermark)
        summary["engine"] = OPENSEARCH
    else:
        from chalicelib.catalog.search_sqlite import SqliteSearchIndex

        index = SqliteSearchIndex()
        _upsert_in_chunks(index, (to_doc(product, changed_at) for product, changed_at in listed))
        index.set_watermark(watermark)
        summary.update(engine=EMBEDDED, bytes=_write_index_file(index))
    summary["seconds"] = round(time.monotonic() - started, 2)
    return summary


def _upsert_in_chunks(engine: SearchEngine, docs: Iterable[SearchDoc], size: int = 500) -> None:
    chunk: list[SearchDoc] = []
    for doc in docs:
        chunk.append(doc)
        if len(chunk) == size:
            engine.upsert(chunk)
            chunk = []
    if chunk:
        engine.upsert(chunk)
