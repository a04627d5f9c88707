"""Product text search: the port's words and queries, the embedded SQLite FTS5 engine (matching, relevance,
filters, sorts, keyset page walks, versions, the file image) and the OpenSearch engine against a fake transport
(bulk and search bodies, answers parsed into pages, SigV4 signing, failures)."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from chalicelib.catalog.search import (
    MAX_TERMS,
    SEARCH_SORTS,
    SearchDoc,
    SearchEngine,
    SearchPage,
    SearchQuery,
    SearchUnavailable,
    terms,
)
from chalicelib.catalog.search_opensearch import OpenSearchEngine, exchange_send, iso_millis, millis, version
from chalicelib.catalog.search_sqlite import SqliteSearchIndex, match_expression
from chalicelib.http_client import Unreachable
from tests.fakes import FakeTransport

ROOT = Path(__file__).resolve().parents[2]
T0 = "2025-01-01T00:00:00Z"


def doc(product_id: str, name: str, description: str = "", category: str = "Kerajinan", *,
        category_slug: str = "", price_min: int = 100_000, price_max: int | None = None,
        created_at: str = "2024-06-01T00:00:00Z", rating_rank: int = 0, changed_at: str = T0) -> SearchDoc:
    return SearchDoc(product_id=product_id, name=name, description=description, category=category,
                     category_slug=category_slug or category.lower().replace(" ", "-"), price_min=price_min,
                     price_max=price_min if price_max is None else price_max, created_at=created_at,
                     rating_rank=rating_rank, changed_at=changed_at)


FILLER = [doc(f"filler-{n}", f"Patung Kayu Jati {n}", "Ukiran tangan pengrajin Jepara.", "Ukiran Kayu")
          for n in range(8)]


def index_of(*docs: SearchDoc) -> SqliteSearchIndex:
    index = SqliteSearchIndex()
    index.upsert([*FILLER, *docs])
    return index


def ids(index: SearchEngine, text: str, **options: Any) -> list[str]:
    return index.search(SearchQuery(text, **options)).product_ids


def walk(index: SearchEngine, query: SearchQuery) -> list[str]:
    """Every page of a query, following `last`, as one list of ids."""
    found: list[str] = []
    after = None
    for _ in range(10_000):
        page = index.search(replace(query, after=after))
        assert len(page.product_ids) <= query.limit
        found += page.product_ids
        if page.last is None:
            return found
        assert page.last[1] == page.product_ids[-1]
        after = page.last
    raise AssertionError("the walk never ended")


# --- the port -------------------------------------------------------------------------------------------------------


def test_terms_are_folded_lower_case_ascii_words_at_most_ten() -> None:
    assert terms("Tas ANYAMAN Pandan") == ["tas", "anyaman", "pandan"]
    assert terms("Café Bálí, kain-tenun!") == ["cafe", "bali", "kain", "tenun"]
    assert terms("tas tas TAS") == ["tas"]
    assert terms("!!! ... ---") == []
    assert terms(" ".join(f"w{n}" for n in range(15))) == [f"w{n}" for n in range(MAX_TERMS)]


@pytest.mark.parametrize("changes", [
    {"sort": "cheapest"}, {"limit": 0}, {"limit": 101}, {"min_price": "1000"},
    {"after": (1.5,)}, {"after": ("2024-01-01", "p1")}, {"sort": "newest", "after": (5, "p1")},
    {"sort": "price_asc", "after": (1.5, "p1")}, {"sort": "rating", "after": (True, "p1")},
    {"after": (-1.0, "bad id!")}, {"after": (float("nan"), "p1")},
])
def test_a_query_with_a_sort_limit_or_position_that_does_not_fit_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SearchQuery("tas", **changes)


def test_a_position_decoded_from_json_as_a_list_becomes_a_tuple() -> None:
    assert SearchQuery("tas", sort="price_asc", after=[1000, "p1"]).after == (1000, "p1")  # type: ignore[arg-type]


def test_importing_the_port_loads_no_database_or_aws_library() -> None:
    code = ("import sys, chalicelib.catalog.search; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlite3', '_sqlite3', 'botocore')))")
    completed = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "[]"


# --- the embedded engine: matching ------------------------------------------------------------------------------


def test_a_word_prefix_finds_the_product() -> None:
    index = index_of(doc("tas-1", "Tas Anyaman Pandan"))
    assert ids(index, "anyam") == ["tas-1"]
    assert ids(index, "a") == ["tas-1"]  # one letter is a prefix too
    assert ids(index, "anyamanx") == []


def test_diacritics_and_case_are_ignored_in_products_and_queries() -> None:
    index = index_of(doc("kopi-1", "Cangkir Café Bálí"), doc("kopi-2", "CANGKIR KERAMIK"))
    assert ids(index, "cafe bali") == ["kopi-1"]
    assert ids(index, "CAFÉ") == ["kopi-1"]
    assert sorted(ids(index, "cángkir")) == ["kopi-1", "kopi-2"]


def test_every_word_must_match_somewhere_in_name_description_or_category() -> None:
    index = index_of(doc("tas-1", "Tas Pandan", "Anyaman khas Tasikmalaya"),
                     doc("tas-2", "Tas Rotan", "Anyaman khas Lombok", "Tas Anyaman"))
    assert ids(index, "tas tasik") == ["tas-1"]
    assert ids(index, "pandan lombok") == []
    assert sorted(ids(index, "tas anyaman")) == ["tas-1", "tas-2"]


def test_words_of_the_category_name_match() -> None:
    index = index_of(doc("dompet-1", "Dompet Kulit", category="Kerajinan Kulit Garut"))
    assert ids(index, "garut") == ["dompet-1"]
    assert ids(index, "dompet garu") == ["dompet-1"]


def test_relevance_puts_a_name_match_before_a_category_match_before_a_description_only_match() -> None:
    index = index_of(doc("by-description", "Keranjang Bambu", "Bisa jadi tas belanja"),
                     doc("by-name", "Tas Pandan Kecil"),
                     doc("by-category", "Dompet Kecil", category="Tas Etnik"))
    assert ids(index, "tas") == ["by-name", "by-category", "by-description"]
    assert ids(index, "tas", sort="relevance", limit=1) == ["by-name"]


@pytest.mark.parametrize("text", [
    '"', '""', '"tas', 'tas"*', "*", "tas*", "NEAR(tas pandan)", "NEAR(", "-tas", "tas -pandan", "name:tas",
    "{name}: tas", "^tas", "tas ^ pandan", "tas AND", "OR", "NOT tas", "(tas", "tas)", "tas + pandan", "'", "\\",
    "\x00", "tas_", "_", "__init__", "a" * 500, "ταξίδι", "🧺 tas", "tas\npandan", "%", "?", ";--",
])
def test_user_text_with_query_syntax_characters_never_raises(text: str) -> None:
    index = index_of(doc("tas-1", "Tas Anyaman Pandan"))
    page = index.search(SearchQuery(text))
    assert set(page.product_ids) <= {"tas-1"}
    assert match_expression(terms(text)).count('"') % 2 == 0


def test_a_query_without_words_returns_an_empty_page() -> None:
    index = index_of(doc("tas-1", "Tas Anyaman Pandan"))
    assert index.search(SearchQuery("!!!")) == SearchPage(product_ids=[], last=None)
    assert index.search(SearchQuery("")) == SearchPage(product_ids=[], last=None)


# --- filters and sorts ----------------------------------------------------------------------------------------------


def test_the_category_filter_keeps_only_that_category() -> None:
    index = index_of(doc("tas-1", "Tas Pandan", category="Tas Anyaman"), doc("tas-2", "Tas Batik", category="Kain"))
    assert ids(index, "tas", category_slug="tas-anyaman") == ["tas-1"]
    assert ids(index, "tas", category_slug="sepatu") == []


def test_price_filters_keep_products_whose_price_range_overlaps_the_asked_range() -> None:
    index = index_of(doc("cheap", "Tas Kecil", price_min=50_000, price_max=80_000),
                     doc("spread", "Tas Sedang", price_min=90_000, price_max=300_000),
                     doc("dear", "Tas Besar", price_min=400_000, price_max=450_000))
    assert sorted(ids(index, "tas", min_price=80_000)) == ["cheap", "dear", "spread"]
    assert sorted(ids(index, "tas", min_price=80_001)) == ["dear", "spread"]
    assert sorted(ids(index, "tas", max_price=90_000)) == ["cheap", "spread"]
    assert ids(index, "tas", min_price=200_000, max_price=350_000) == ["spread"]
    assert ids(index, "tas", min_price=310_000, max_price=390_000) == []


SORTABLE = [
    doc("a", "Tas A", price_min=300, price_max=900, created_at="2024-03-01T00:00:00Z", rating_rank=40),
    doc("b", "Tas B", price_min=100, price_max=200, created_at="2024-05-01T00:00:00Z", rating_rank=0),
    doc("c", "Tas C", price_min=200, price_max=950, created_at="2024-01-01T00:00:00Z", rating_rank=50),
    doc("d", "Tas D", price_min=100, price_max=900, created_at="2024-05-01T00:00:00Z", rating_rank=40),
]


@pytest.mark.parametrize(("sort", "expected"), [
    ("newest", ["b", "d", "a", "c"]),  # created_at descending, ties by id
    ("price_asc", ["b", "d", "c", "a"]),  # price_min ascending, ties by id
    ("price_desc", ["c", "a", "d", "b"]),  # price_max descending, ties by id
    ("rating", ["c", "a", "d", "b"]),  # rating_rank descending, ties by id
])
def test_each_sort_orders_as_documented(sort: str, expected: list[str]) -> None:
    assert ids(index_of(*SORTABLE), "tas", sort=sort) == expected


def test_relevance_ties_are_ordered_by_product_id() -> None:
    index = index_of(*[doc(f"same-{n}", "Tas Pandan") for n in (3, 1, 2)])
    assert ids(index, "tas pandan") == ["same-1", "same-2", "same-3"]


# --- keyset page walks ------------------------------------------------------------------------------------------------

ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


def tied_catalog(count: int = 150, seed: int = 11) -> list[SearchDoc]:
    """Products with 64-character ids, a few prices, times, ranks and texts each shared by many (ties everywhere);
    about two in three are bags ("tas"), and two categories."""
    rnd = random.Random(seed)
    docs = []
    for n in range(count):
        product_id = "".join(rnd.choice(ID_CHARS) for _ in range(60)) + f"{n:04d}"
        bag = n % 3 != 0
        low = rnd.choice([50_000, 100_000, 150_000])
        docs.append(doc(product_id, rnd.choice(["Tas Pandan", "Tas Rotan Bulat"]) if bag else "Kain Tenun Ikat",
                        rnd.choice(["", "Anyaman tas khas Tasikmalaya", "Kain halus"]),
                        rnd.choice(["Tas Anyaman", "Kain Tradisional"]), price_min=low,
                        price_max=low + rnd.choice([0, 50_000]),
                        created_at=rnd.choice(["2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"]),
                        rating_rank=rnd.choice([0, 45, 50])))
    return docs


def matches(catalog: list[SearchDoc], query: SearchQuery) -> list[SearchDoc]:
    """The reference answer, in Python: every word a prefix of some word of the three texts, and the filters."""
    found = []
    for item in catalog:
        words = terms(f"{item.name} {item.description} {item.category}")
        if all(any(word.startswith(term) for word in words) for term in terms(query.text)) \
                and (not query.category_slug or item.category_slug == query.category_slug) \
                and (query.min_price is None or item.price_max >= query.min_price) \
                and (query.max_price is None or item.price_min <= query.max_price):
            found.append(item)
    return found


REFERENCE_ORDER = {
    "newest": lambda item: (-int(item.created_at[:10].replace("-", "")), item.product_id),
    "price_asc": lambda item: (item.price_min, item.product_id),
    "price_desc": lambda item: (-item.price_max, item.product_id),
    "rating": lambda item: (-item.rating_rank, item.product_id),
}


@pytest.mark.parametrize("sort", SEARCH_SORTS)
@pytest.mark.parametrize(("text", "filters"), [
    ("tas", {}),
    ("tas", {"category_slug": "tas-anyaman"}),
    ("ta", {"min_price": 100_000, "max_price": 140_000}),
    ("kain", {"min_price": 150_000}),
])
@pytest.mark.parametrize("limit", [1, 7])
def test_a_page_walk_returns_every_matching_product_exactly_once(sort: str, text: str, filters: dict[str, Any],
                                                                 limit: int) -> None:
    catalog = tied_catalog()
    index = SqliteSearchIndex()
    index.upsert(catalog)
    query = SearchQuery(text, sort=sort, limit=limit, **filters)
    expected = matches(catalog, query)
    assert len(expected) > 10
    found = walk(index, query)
    assert len(found) == len(set(found)) == len(expected)
    if sort == "relevance":
        assert set(found) == {item.product_id for item in expected}
        assert found == walk(index, replace(query, limit=100))  # the same order whatever the page size
    else:
        assert found == [item.product_id for item in sorted(expected, key=REFERENCE_ORDER[sort])]


def test_the_page_that_ends_the_results_has_no_last_even_when_full() -> None:
    index = index_of(*[doc(f"tas-{n}", "Tas Pandan") for n in range(6)])
    first = index.search(SearchQuery("tas", limit=3))
    assert first.last is not None and len(first.product_ids) == 3
    second = index.search(SearchQuery("tas", limit=3, after=first.last))
    assert second == SearchPage(product_ids=["tas-3", "tas-4", "tas-5"], last=None)


@pytest.mark.parametrize(("sort", "shape"), [("relevance", float), ("newest", str), ("price_asc", int),
                                             ("price_desc", int), ("rating", int)])
def test_last_has_the_documented_shape_for_each_sort(sort: str, shape: type) -> None:
    page = index_of(*SORTABLE).search(SearchQuery("tas", sort=sort, limit=2))
    assert page.last is not None
    assert isinstance(page.last[0], shape) and page.last[1] == page.product_ids[-1]
    assert json.loads(json.dumps(page.last)) == list(page.last)  # survives a JSON cursor


# --- versions, removal, the file image -------------------------------------------------------------------------------


def test_a_doc_with_an_older_changed_at_does_not_overwrite_a_newer_one() -> None:
    index = SqliteSearchIndex()
    newer = doc("tas-1", "Tas Rotan", changed_at="2025-02-01T00:00:00Z")
    index.upsert([newer])
    index.upsert([doc("tas-1", "Tas Pandan", changed_at="2025-01-31T23:59:59Z")])
    assert index.docs() == [newer]
    assert ids(index, "pandan") == []
    assert ids(index, "rotan") == ["tas-1"]


def test_a_newer_or_equal_changed_at_replaces_the_doc_and_its_words() -> None:
    index = SqliteSearchIndex()
    index.upsert([doc("tas-1", "Tas Rotan", changed_at="2025-02-01T00:00:00Z")])
    index.upsert([doc("tas-1", "Tas Pandan", price_min=5, changed_at="2025-02-01T00:00:00Z")])
    assert ids(index, "rotan") == []
    assert ids(index, "pandan") == ["tas-1"]
    newest = doc("tas-1", "Tas Pandan", price_min=7, changed_at="2025-02-02T00:00:00Z")
    index.upsert([newest])
    assert index.docs() == [newest] and len(index) == 1


def test_remove_forgets_products_and_their_words() -> None:
    index = index_of(doc("tas-1", "Tas Pandan"), doc("tas-2", "Tas Rotan"))
    index.remove(["tas-1", "never-listed"])
    assert ids(index, "tas") == ["tas-2"]
    assert ids(index, "pandan") == []
    assert "tas-1" not in index.product_ids() and len(index) == len(FILLER) + 1


def test_the_file_image_round_trip_keeps_docs_watermark_and_search() -> None:
    index = index_of(*SORTABLE)
    index.set_watermark("2025-03-01T10:00:00.000Z#0042")
    copy = SqliteSearchIndex.from_bytes(index.to_bytes())
    assert copy.docs() == index.docs() and copy.product_ids() == index.product_ids()
    assert copy.watermark == "2025-03-01T10:00:00.000Z#0042"
    for sort in SEARCH_SORTS:
        assert copy.search(SearchQuery("tas", sort=sort)) == index.search(SearchQuery("tas", sort=sort))
    copy.upsert([doc("tas-new", "Tas Baru")])  # a loaded image stays writable
    copy.compact()
    assert ids(SqliteSearchIndex.from_bytes(copy.to_bytes()), "baru") == ["tas-new"]
    assert ids(index, "baru") == []


def test_a_new_index_has_an_empty_watermark() -> None:
    assert SqliteSearchIndex().watermark == ""


@pytest.mark.parametrize("data", [b"", b"not a database", b"SQLite format 3\x00" + bytes(200)])
def test_bytes_that_are_not_an_index_image_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        SqliteSearchIndex.from_bytes(data)


def test_an_index_maintained_by_out_of_order_changes_equals_one_rebuilt_from_the_final_state() -> None:
    rnd = random.Random(5)
    words = ["tas", "pandan", "rotan", "kain", "batik", "tenun", "ukir", "jati", "perak", "gelang", "bali", "lombok"]
    versions = []
    for n in range(60):
        for step in range(rnd.randrange(1, 4)):
            versions.append(doc(f"p-{n:03d}", " ".join(rnd.sample(words, 2)).title(), " ".join(rnd.sample(words, 4)),
                                rnd.choice(["Tas Anyaman", "Kain Tenun"]), price_min=rnd.randrange(1, 9) * 1000,
                                changed_at=f"2025-01-01T00:0{step}:00Z"))
    rnd.shuffle(versions)
    removed = {f"p-{n:03d}" for n in range(0, 60, 7)}
    maintained = SqliteSearchIndex()
    for start in range(0, len(versions), 9):
        maintained.upsert(versions[start:start + 9])
    maintained.remove(sorted(removed))
    final: dict[str, SearchDoc] = {}
    for item in versions:
        if item.product_id not in final or final[item.product_id].changed_at < item.changed_at:
            final[item.product_id] = item
    rebuilt = SqliteSearchIndex()
    rebuilt.upsert(item for product_id, item in final.items() if product_id not in removed)
    assert maintained.docs() == rebuilt.docs()
    assert maintained.product_ids() == rebuilt.product_ids()
    for word in [*words, "tas bali", "ka", "p"]:
        for sort in ("relevance", "price_asc"):
            assert maintained.search(SearchQuery(word, sort=sort, limit=100)) == \
                rebuilt.search(SearchQuery(word, sort=sort, limit=100)), (word, sort)


def test_searches_and_changes_from_several_threads_share_one_index() -> None:
    index = index_of(*[doc(f"tas-{n}", "Tas Pandan") for n in range(20)])
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for round_ in range(30):
                index.upsert([doc(f"new-{worker}-{round_}", "Tas Rotan")])
                # (not by relevance: scores move as the index changes between two pages)
                assert len(walk(index, SearchQuery("tas pandan", sort="price_asc", limit=6))) == 20
        except BaseException as error:  # handed to the main thread
            failures.append(error)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert len(ids(index, "rotan", limit=100)) == 100


# --- the OpenSearch engine ------------------------------------------------------------------------------------------

ENDPOINT = "https://search-toko-abc123.ap-southeast-3.es.amazonaws.com"
STATIC = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "session-token-example")


def opensearch(*answers: tuple[int, bytes] | Exception, service: str = "es") -> tuple[OpenSearchEngine,
                                                                                       FakeTransport]:
    transport = FakeTransport(answers=list(answers))
    engine = OpenSearchEngine(ENDPOINT, "products", "ap-southeast-3", service, send=transport, credentials=STATIC)
    return engine, transport


def ndjson(body: bytes | None) -> list[dict[str, Any]]:
    assert body is not None and body.endswith(b"\n")
    return [json.loads(line) for line in body.decode().splitlines()]


def answer(value: Any, status: int = 200) -> tuple[int, bytes]:
    return status, json.dumps(value).encode()


def test_opensearch_upsert_sends_bulk_index_actions_versioned_by_changed_at() -> None:
    engine, transport = opensearch(answer({"errors": False, "items": []}))
    item = doc("tas-1", "Tas Anyaman Pandan", "Anyaman khas Tasikmalaya", "Tas Anyaman",
               changed_at="2025-02-01T10:00:00.250Z")
    engine.upsert([item])
    call = transport.last
    assert (call.method, call.url) == ("POST", f"{ENDPOINT}/products/_bulk")
    assert call.headers["Content-Type"] == "application/x-ndjson"
    action, source = ndjson(call.body)
    assert action == {"index": {"_index": "products", "_id": "tas-1", "version": 1738404000250000,
                                "version_type": "external_gte"}}
    assert source == {"product_id": "tas-1", "name": "Tas Anyaman Pandan", "description": "Anyaman khas Tasikmalaya",
                      "category": "Tas Anyaman", "category_slug": "tas-anyaman", "price_min": 100_000,
                      "price_max": 100_000, "created_at": "2024-06-01T00:00:00Z", "rating_rank": 0,
                      "changed_at": "2025-02-01T10:00:00.250Z"}
    assert version("2025-02-01T10:00:00.250001Z") > version("2025-02-01T10:00:00.250Z")


def test_opensearch_remove_sends_bulk_deletes() -> None:
    engine, transport = opensearch(answer({"errors": False, "items": []}))
    engine.remove(["tas-1", "tas-2"])
    assert ndjson(transport.last.body) == [{"delete": {"_index": "products", "_id": "tas-1"}},
                                           {"delete": {"_index": "products", "_id": "tas-2"}}]


def test_opensearch_bulk_ignores_older_versions_and_missing_deletes_but_raises_on_other_failures() -> None:
    expected_items = {"errors": True, "items": [
        {"index": {"_id": "tas-1", "status": 409, "error": {"type": "version_conflict_engine_exception"}}},
        {"delete": {"_id": "tas-2", "status": 404, "result": "not_found"}},
    ]}
    engine, _ = opensearch(answer(expected_items))
    engine.upsert([doc("tas-1", "Tas")])
    failed = {"errors": True, "items": [{"index": {"_id": "tas-3", "status": 429,
                                                   "error": {"type": "es_rejected_execution_exception"}}}]}
    engine, _ = opensearch(answer(failed))
    with pytest.raises(SearchUnavailable, match="tas-3"):
        engine.upsert([doc("tas-3", "Tas")])


def test_opensearch_bulk_is_split_into_batches() -> None:
    engine, transport = opensearch(*[answer({"errors": False, "items": []})] * 3)
    engine.remove(f"p-{n}" for n in range(1200))
    assert [len(ndjson(call.body)) for call in transport.calls] == [500, 500, 200]


def test_opensearch_query_body_of_a_filtered_sorted_search_after_a_position() -> None:
    engine, transport = opensearch(answer({"timed_out": False, "hits": {"hits": []}}))
    engine.search(SearchQuery("Tas Bálí!", category_slug="tas-anyaman", min_price=50_000, max_price=200_000,
                              sort="price_desc", limit=10, after=(150_000, "tas-9")))
    call = transport.last
    assert (call.method, call.url) == ("POST", f"{ENDPOINT}/products/_search")
    words = [{"multi_match": {"query": word, "type": "bool_prefix", "fields": ["name^10", "category^4", "description"],
                              "operator": "and"}} for word in ("tas", "bali")]
    assert call.json == {
        "size": 11,
        "track_total_hits": False,
        "_source": False,
        "query": {"bool": {"filter": [*words, {"term": {"category_slug": "tas-anyaman"}},
                                      {"range": {"price_max": {"gte": 50_000}}},
                                      {"range": {"price_min": {"lte": 200_000}}}]}},
        "sort": [{"price_max": "desc"}, {"product_id": "asc"}],
        "search_after": [150_000, "tas-9"],
    }


def test_opensearch_relevance_scores_the_words_and_sorts_by_score_then_id() -> None:
    engine, transport = opensearch(answer({"hits": {"hits": []}}))
    engine.search(SearchQuery("anyam", after=(7.25, "tas-1")))
    body = transport.last.json
    assert body["query"]["bool"]["must"][0]["multi_match"]["query"] == "anyam"
    assert body["query"]["bool"]["filter"] == []
    assert body["sort"] == [{"_score": "desc"}, {"product_id": "asc"}]
    assert body["search_after"] == [7.25, "tas-1"]


def test_opensearch_answer_becomes_a_page_whose_last_is_the_last_hit_position() -> None:
    hits = [{"_id": f"tas-{n}", "_score": None, "sort": [1704067200000 - n, f"tas-{n}"]} for n in range(4)]
    engine, transport = opensearch(answer({"timed_out": False, "_shards": {"failed": 0}, "hits": {"hits": hits}}),
                                   answer({"hits": {"hits": hits[:2]}}))
    page = engine.search(SearchQuery("tas", sort="newest", limit=3))
    assert page == SearchPage(product_ids=["tas-0", "tas-1", "tas-2"], last=("2023-12-31T23:59:59.998Z", "tas-2"))
    assert page.last is not None
    engine.search(SearchQuery("tas", sort="newest", limit=3, after=page.last))
    assert transport.last.json["search_after"] == [1704067199998, "tas-2"]  # the hit's own sort values again


def test_opensearch_final_page_has_no_last_and_relevance_last_carries_the_score() -> None:
    hits = [{"_id": "a", "sort": [3.5, "a"]}, {"_id": "b", "sort": [1.25, "b"]}]
    engine, _ = opensearch(answer({"hits": {"hits": hits}}), answer({"hits": {"hits": hits}}))
    assert engine.search(SearchQuery("tas", limit=2)) == SearchPage(product_ids=["a", "b"], last=None)
    assert engine.search(SearchQuery("tas", limit=1)) == SearchPage(product_ids=["a"], last=(3.5, "a"))


def test_opensearch_dates_convert_to_and_from_epoch_milliseconds() -> None:
    assert millis("2024-01-01T00:00:00Z") == 1704067200000
    assert millis("2024-01-01T00:00:00.123999+00:00") == 1704067200123
    assert millis("2024-01-01T07:00:00+07:00") == 1704067200000
    assert iso_millis(1704067200123) == "2024-01-01T00:00:00.123Z"
    assert millis(iso_millis(1704067200123)) == 1704067200123


@pytest.mark.parametrize("service", ["es", "aoss"])
def test_opensearch_requests_carry_a_sigv4_authorization_header(service: str) -> None:
    engine, transport = opensearch(answer({"hits": {"hits": []}}), service=service)
    engine.search(SearchQuery("tas"))
    headers = {name.lower(): value for name, value in transport.last.headers.items()}
    authorization = headers["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert f"/ap-southeast-3/{service}/aws4_request" in authorization
    assert "x-amz-content-sha256" in authorization and "host" in authorization
    assert "Signature=" in authorization
    assert headers["x-amz-security-token"] == "session-token-example"
    assert "x-amz-date" in headers
    assert headers["x-amz-content-sha256"] == hashlib.sha256(transport.last.body or b"").hexdigest()


@pytest.mark.parametrize("status", [400, 403, 429, 500, 503])
def test_opensearch_error_status_raises_search_unavailable(status: int) -> None:
    engine, _ = opensearch(answer({"error": {"type": "some_exception"}}, status))
    with pytest.raises(SearchUnavailable, match=str(status)):
        engine.search(SearchQuery("tas"))
    engine, _ = opensearch(answer({"error": "busy"}, status))
    with pytest.raises(SearchUnavailable):
        engine.upsert([doc("tas-1", "Tas")])


def test_opensearch_partial_or_unreadable_answers_raise_search_unavailable() -> None:
    engine, _ = opensearch(answer({"timed_out": True, "hits": {"hits": []}}), (200, b"<html>gateway</html>"))
    with pytest.raises(SearchUnavailable):
        engine.search(SearchQuery("tas"))
    with pytest.raises(SearchUnavailable):
        engine.search(SearchQuery("tas"))


def test_opensearch_no_answer_raises_search_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(*args: Any, **kwargs: Any) -> tuple[int, bytes]:
        raise Unreachable("connection refused", sent=False)

    monkeypatch.setattr("chalicelib.catalog.search_opensearch.exchange", unreachable)
    with pytest.raises(SearchUnavailable):
        exchange_send("POST", f"{ENDPOINT}/products/_search", {}, b"{}")


def test_opensearch_query_without_words_sends_nothing() -> None:
    engine, transport = opensearch()
    assert engine.search(SearchQuery("!!!")) == SearchPage(product_ids=[], last=None)
    assert transport.calls == []


def test_opensearch_ensure_index_creates_the_mapping_and_accepts_an_existing_index() -> None:
    exists = answer({"error": {"type": "resource_already_exists_exception"}}, 400)
    engine, transport = opensearch(answer({"acknowledged": True}), exists, answer({"error": "denied"}, 403))
    engine.ensure_index()
    call = transport.last
    assert (call.method, call.url) == ("PUT", f"{ENDPOINT}/products")
    mapping = call.json["mappings"]["properties"]
    assert mapping["category_slug"] == {"type": "keyword"} and mapping["product_id"] == {"type": "keyword"}
    assert mapping["created_at"] == {"type": "date"} and mapping["price_min"] == {"type": "long"}
    assert mapping["name"]["analyzer"] == "word_prefixes"
    analysis = call.json["settings"]["analysis"]
    assert "asciifolding" in analysis["analyzer"]["word_prefixes"]["filter"]
    assert analysis["filter"]["prefixes"]["type"] == "edge_ngram"
    engine.ensure_index()
    with pytest.raises(SearchUnavailable):
        engine.ensure_index()


def test_opensearch_engine_refuses_an_unknown_service_or_index_name() -> None:
    with pytest.raises(ValueError):
        OpenSearchEngine(ENDPOINT, "products", "ap-southeast-3", "s3")
    with pytest.raises(ValueError):
        OpenSearchEngine(ENDPOINT, "Products/../x", "ap-southeast-3")
    engine = OpenSearchEngine("search-toko.ap-southeast-3.es.amazonaws.com/", "products", "ap-southeast-3")
    assert engine.base_url == "https://search-toko.ap-southeast-3.es.amazonaws.com"
