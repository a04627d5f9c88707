"""The search engine for big shops: the SearchEngine port over an OpenSearch index (a managed domain or a Serverless
collection), through its REST API with SigV4-signed HTTPS requests.

Only botocore's signer is used (no client, no opensearch-py): the HTTP exchange is `chalicelib.http_client`, and an
injectable ``send`` lets tests replay answers without a network.

Matching, as in the embedded engine: every query word must match (AND) as the prefix of a word of the name, the
category name or the description, case and diacritics ignored. The text fields are indexed as edge n-grams ("anyaman"
-> "a", "an", ..., "anyaman", after lower-casing and ASCII folding), so a prefix is an ordinary indexed term: a
one-letter word finds every product it begins a word of, which a prefix query over whole words (capped at 50
expansions by ``match_bool_prefix``) would not. Each word is its own ``multi_match`` of type ``bool_prefix`` over
``name^10``, ``category^4`` and ``description``, all of them required: one ``multi_match`` with operator "and" over
several fields would require every word in the same field. Relevance is OpenSearch's score, descending: a word found
in the name weighs 10, in the category name 4, in the description 1.

Keyset positions have the tuple shapes `search` documents; they are built from the sort values of a page's last hit
and handed back as ``search_after``. For relevance the float is OpenSearch's score, ordered descending (not FTS5's
bm25); for newest the created_at text has millisecond precision (OpenSearch's ``date``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from chalicelib.catalog.search import (
    SearchDoc,
    SearchEngine,
    SearchPage,
    SearchQuery,
    SearchUnavailable,
    terms,
)
from chalicelib.http_client import Unreachable, exchange

# method, url, headers, body -> (HTTP status, response body); raises SearchUnavailable when no answer came back.
Send = Callable[[str, str, Mapping[str, str], bytes | None], tuple[int, bytes]]

TIMEOUT_SECONDS = 5.0  # a search answers well within this; API Gateway gives the whole request 29 s
BULK_DOCS = 500  # documents in one _bulk request
BULK_BYTES = 5_000_000  # and bytes: under the 10 MiB a Serverless collection or a small domain accepts
MAX_GRAM = 20  # longest indexed prefix; longer query words are cut to it (a word of 21+ letters is rare)
TEXT_FIELDS = ("name^10", "category^4", "description")
_INDEX_NAME = re.compile(r"[a-z0-9][a-z0-9_\-]{0,254}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# sort -> the OpenSearch sort; each ends with product_id ascending, the tie-breaker.
SORTS: dict[str, list[dict[str, str]]] = {
    "relevance": [{"_score": "desc"}, {"product_id": "asc"}],
    "newest": [{"created_at": "desc"}, {"product_id": "asc"}],
    "price_asc": [{"price_min": "asc"}, {"product_id": "asc"}],
    "price_desc": [{"price_max": "desc"}, {"product_id": "asc"}],
    "rating": [{"rating_rank": "desc"}, {"product_id": "asc"}],
}

_TEXT = {"type": "text", "analyzer": "word_prefixes", "search_analyzer": "words"}
INDEX_BODY: dict[str, Any] = {
    "settings": {"analysis": {
        "filter": {
            "prefixes": {"type": "edge_ngram", "min_gram": 1, "max_gram": MAX_GRAM},
            "longest_prefix": {"type": "truncate", "length": MAX_GRAM},
        },
        "analyzer": {
            # Indexing: every prefix of every folded word. Searching: the folded word itself, cut to MAX_GRAM.
            "word_prefixes": {"type": "custom", "tokenizer": "standard",
                              "filter": ["lowercase", "asciifolding", "prefixes"]},
            "words": {"type": "custom", "tokenizer": "standard",
                      "filter": ["lowercase", "asciifolding", "longest_prefix"]},
        },
    }},
    "mappings": {
        "dynamic": "strict",
        "properties": {
            "product_id": {"type": "keyword"},
            "name": _TEXT,
            "description": _TEXT,
            "category": _TEXT,
            "category_slug": {"type": "keyword"},
            "price_min": {"type": "long"},
            "price_max": {"type": "long"},
            "created_at": {"type": "date"},
            "rating_rank": {"type": "long"},
            "changed_at": {"type": "date"},
        },
    },
}


def exchange_send(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> tuple[int, bytes]:
    """Default transport: one HTTPS request; HTTP error statuses are answers, a missing answer is SearchUnavailable."""
    try:
        return exchange(method, url, headers, body, timeout=TIMEOUT_SECONDS)
    except Unreachable as error:
        raise SearchUnavailable(f"OpenSearch did not answer: {error}") from error


def _utc(text: str) -> datetime:
    """An ISO-8601 time; UTC when it names no offset. ValueError when it is not one."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def millis(text: str) -> int:
    """Milliseconds since the epoch of an ISO-8601 time, rounded down, as OpenSearch stores a ``date``."""
    return (_utc(text) - _EPOCH) // timedelta(milliseconds=1)


def iso_millis(value: int) -> str:
    """The ISO-8601 UTC text of milliseconds since the epoch, e.g. '2024-05-01T08:30:00.250Z'."""
    moment = _EPOCH + timedelta(milliseconds=value)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def version(changed_at: str) -> int:
    """The external version of a doc: microseconds since the epoch of its changed_at (a newer doc's is bigger)."""
    return (_utc(changed_at) - _EPOCH) // timedelta(microseconds=1)


class OpenSearchEngine(SearchEngine):
    """The SearchEngine port over one OpenSearch index.

    Writes are versioned externally: each doc is indexed with ``version`` = its changed_at in microseconds since the
    epoch and ``version_type`` = ``external_gte``, so OpenSearch itself keeps the newest version whatever order
    writes arrive in (an older one gets 409, which `upsert` counts as ignored, and the same version again replaces
    it, as in the embedded engine). That is one atomic comparison per document inside the engine, with no script to
    compile and no read before the write; a painless script comparing changed_at in an ``update`` would do the same
    at more cost per document. `remove` is unconditional, like the embedded engine's.
    """

    def __init__(self, endpoint: str, index: str, region: str, service: str = "es", *,
                 send: Send | None = None, credentials: Any = None) -> None:
        """endpoint: the domain's or collection's HTTPS endpoint; service: "es" for a managed domain, "aoss" for a
        Serverless collection; credentials: botocore credentials (default: the default chain, looked up on the
        first request)."""
        if service not in ("es", "aoss"):
            raise ValueError('service must be "es" (managed domain) or "aoss" (Serverless collection)')
        if not _INDEX_NAME.fullmatch(index):
            raise ValueError("index must be a lower-case OpenSearch index name")
        endpoint = endpoint.strip().rstrip("/")
        self.base_url = endpoint if re.match(r"https?://", endpoint) else f"https://{endpoint}"
        self.index = index
        self.region = region
        self.service = service
        self._send = send or exchange_send
        self._credentials = credentials

    def ensure_index(self) -> None:
        """Create the index with its analyzers and mapping; an index that already exists is left as it is."""
        status, body = self._request("PUT", f"/{self.index}", json.dumps(INDEX_BODY).encode(), check=False)
        if 200 <= status < 300 or (status == 400 and b"resource_already_exists_exception" in body):
            return
        raise _unavailable("create index", status, body)

    def upsert(self, docs: Iterable[SearchDoc]) -> None:
        self._bulk(_index_actions(self.index, docs))

    def remove(self, product_ids: Iterable[str]) -> None:
        self._bulk([({"delete": {"_index": self.index, "_id": product_id}}, None) for product_id in product_ids])

    def search(self, query: SearchQuery) -> SearchPage:
        body = search_body(query)
        if body is None:
            return SearchPage(product_ids=[], last=None)
        _, answer = self._request("POST", f"/{self.index}/_search", json.dumps(body).encode())
        return parse_page(query, _json(answer))

    def _bulk(self, actions: Iterable[tuple[dict[str, Any], dict[str, Any] | None]]) -> None:
        """Send the actions in NDJSON batches. A version conflict (an older doc) and deleting a missing doc are
        expected; any other failed item raises SearchUnavailable after its batch."""
        for body in _batches(actions):
            _, answer = self._request("POST", f"/{self.index}/_bulk", body, content_type="application/x-ndjson")
            result = _json(answer)
            if not result.get("errors"):
                continue
            failures = [item for entry in result.get("items", []) for action, item in entry.items()
                        if not _bulk_item_ok(action, item)]
            if failures:
                first = failures[0]
                raise SearchUnavailable(f"OpenSearch refused {len(failures)} of the batch's documents, first "
                                        f"{first.get('_id')} ({first.get('status')}): {first.get('error')}")

    def _request(self, method: str, path: str, body: bytes, *, content_type: str = "application/json",
                 check: bool = True) -> tuple[int, bytes]:
        url = self.base_url + path
        status, answer = self._send(method, url, self._signed_headers(method, url, body, content_type), body)
        if check and not 200 <= status < 300:
            raise _unavailable(f"{method} {path}", status, answer)
        return status, answer

    def _signed_headers(self, method: str, url: str, body: bytes, content_type: str) -> dict[str, str]:
        """The request's headers signed with SigV4; the payload hash is sent too, as Serverless requires."""
        headers = {"Content-Type": content_type, "X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()}
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        SigV4Auth(self._frozen_credentials(), self.service, self.region).add_auth(request)
        return dict(request.headers.items())

    def _frozen_credentials(self) -> Any:
        if self._credentials is None:
            import botocore.session  # the default credential chain, only when first needed

            self._credentials = botocore.session.get_session().get_credentials()
            if self._credentials is None:
                raise SearchUnavailable("no AWS credentials to sign OpenSearch requests with")
        return self._credentials.get_frozen_credentials()


def search_body(query: SearchQuery) -> dict[str, Any] | None:
    """The _search request of one page plus one hit (the extra hit says whether another page follows), or None
    when the query has no words. Words score only for relevance; for the other sorts they filter."""
    words = terms(query.text)
    if not words:
        return None
    matches = [{"multi_match": {"query": word, "type": "bool_prefix", "fields": list(TEXT_FIELDS),
                                "operator": "and"}} for word in words]
    filters: list[dict[str, Any]] = []
    if query.category_slug:
        filters.append({"term": {"category_slug": query.category_slug}})
    if query.min_price is not None:
        filters.append({"range": {"price_max": {"gte": query.min_price}}})
    if query.max_price is not None:
        filters.append({"range": {"price_min": {"lte": query.max_price}}})
    scored = query.sort == "relevance"
    body: dict[str, Any] = {
        "size": query.limit + 1,
        "track_total_hits": False,
        "_source": False,
        "query": {"bool": {"must": matches, "filter": filters} if scored else {"filter": matches + filters}},
        "sort": SORTS[query.sort],
    }
    if query.after is not None:
        body["search_after"] = search_after(query.sort, query.after)
    return body


def search_after(sort: str, position: tuple[Any, ...]) -> list[Any]:
    """OpenSearch's search_after of a keyset position (the sort values of the previous page's last hit)."""
    value, product_id = position
    if sort == "newest":
        return [millis(value), product_id]
    if sort == "relevance":
        return [float(value), product_id]
    return [value, product_id]


def position(sort: str, sort_values: list[Any]) -> tuple[Any, str]:
    """The keyset position of a hit, from its sort values."""
    value, product_id = sort_values
    if sort == "newest":
        return iso_millis(int(value)), str(product_id)
    if sort == "relevance":
        return float(value), str(product_id)
    return int(value), str(product_id)


def parse_page(query: SearchQuery, answer: Mapping[str, Any]) -> SearchPage:
    """A _search answer as a page; an answer that timed out or missed shards is SearchUnavailable (a page with
    holes would make the walk skip products)."""
    shards = answer.get("_shards") or {}
    if answer.get("timed_out") or shards.get("failed"):
        raise SearchUnavailable("OpenSearch answered in part (timed out or shards failed)")
    hits = (answer.get("hits") or {}).get("hits") or []
    page = hits[:query.limit]
    ids = [str(hit["_id"]) for hit in page]
    if len(hits) <= query.limit:
        return SearchPage(product_ids=ids, last=None)
    return SearchPage(product_ids=ids, last=position(query.sort, page[-1]["sort"]))


def _index_actions(index: str, docs: Iterable[SearchDoc]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for doc in docs:
        yield ({"index": {"_index": index, "_id": doc.product_id, "version": version(doc.changed_at),
                          "version_type": "external_gte"}}, asdict(doc))


def _batches(actions: Iterable[tuple[dict[str, Any], dict[str, Any] | None]]) -> Iterator[bytes]:
    """NDJSON bodies of at most BULK_DOCS actions and (but for a single huge one) BULK_BYTES bytes."""
    lines: list[bytes] = []
    count = size = 0
    for action, source in actions:
        chunk = json.dumps(action, separators=(",", ":")).encode() + b"\n"
        if source is not None:
            chunk += json.dumps(source, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        if lines and (count == BULK_DOCS or size + len(chunk) > BULK_BYTES):
            yield b"".join(lines)
            lines, count, size = [], 0, 0
        lines.append(chunk)
        count += 1
        size += len(chunk)
    if lines:
        yield b"".join(lines)


def _bulk_item_ok(action: str, item: Mapping[str, Any]) -> bool:
    status = int(item.get("status", 500))
    if 200 <= status < 300:
        return True
    if action == "index" and status == 409:  # an older version than the stored one: ignored by design
        return True
    return action == "delete" and status == 404  # already gone


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError as error:
        raise SearchUnavailable(f"OpenSearch answered with no JSON: {body[:200]!r}") from error
    if not isinstance(value, dict):
        raise SearchUnavailable("OpenSearch answered with JSON that is not an object")
    return value


def _unavailable(what: str, status: int, body: bytes) -> SearchUnavailable:
    return SearchUnavailable(f"OpenSearch {what}: HTTP {status}: {body[:300].decode('utf-8', 'replace')}")
