"""The storefront's catalog on its indexes: every sort and filter pages through exactly the listed products, in
order, with compact cursors, also while staff edit; search follows every catalog change and a rebuilt index
equals the maintained one; category counts follow every write; a page costs the same requests at any size."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.catalog import domain, indexing, repository, service
from chalicelib.catalog.domain import Browse, Product
from chalicelib.catalog.search_sqlite import SqliteSearchIndex
from chalicelib.validation import Fields
from tests.functional.helpers import bearer, body_of, send, variant

STAFF = bearer("staff")
CATEGORIES = ("Batik Tulis", "Tas Anyaman", "Ukiran Kayu")
WORDS = ("anyaman", "pandan", "parang", "kawung", "jati", "rotan", "songket", "lurik")
LONG = "p" * 56  # ids of 64 characters, the longest the CSV import gives


def _create(index: int, *, at: Any, category: str, prices: tuple[int, ...], status: str = "active",
            stock: int = 3, name: str | None = None) -> str:
    at(f"2026-11-{1 + index // 24:02d}T{index % 24:02d}:00:00.000Z")
    product_id = f"{LONG}{index:08d}"
    body = {"name": name or f"{WORDS[index % len(WORDS)].title()} {index}", "category": category, "status": status,
            "description": f"kerajinan {WORDS[(index * 3) % len(WORDS)]}",
            "variants": [variant(f"SKU-{index}-{n}", price=price) for n, price in enumerate(prices)],
            "initial_stock": {f"SKU-{index}-{n}": stock for n in range(len(prices))}}
    service.create_product(Fields(body), actor="tester", product_id=product_id)
    return product_id


def _catalog(at: Any, count: int = 40, *, start: int = 0) -> None:
    """Listed products in three categories, prices with ties, some without stock, a draft, an archived one."""
    rng = random.Random(13 + start)
    for index in range(start, start + count):
        prices = tuple(rng.choice((50_000, 75_000, 120_000, 300_000)) for _ in range(rng.randint(1, 2)))
        status = "draft" if index % 17 == 5 else "archived" if index % 19 == 7 else "active"
        _create(index, at=at, category=CATEGORIES[index % 3], prices=prices, status=status, stock=index % 4)


def _all_products() -> list[Product]:
    return [product for product, _ in repository.every_product()]


def _walk(client: Any, query: dict[str, Any], *, between_pages: Any = None) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    cursor, pages = None, 0
    while True:
        params = {**query, **({"cursor": cursor} if cursor else {})}
        response = send(client, "GET", f"/products?{urlencode(params)}")
        assert response.status_code == 200, response.body
        page = body_of(response)
        items.extend(page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        assert len(cursor) <= 200
        if between_pages is not None:
            between_pages(pages)


QUERIES = [
    {}, {"sort": "price_asc"}, {"sort": "price_desc"}, {"sort": "rating"},
    {"category": "Tas Anyaman"}, {"category": "batik-tulis", "sort": "price_asc"},
    {"category": "ukiran-kayu", "sort": "price_desc"}, {"category": "tas-anyaman", "sort": "rating"},
    {"min_price": 100_000}, {"max_price": 80_000, "sort": "price_asc"}, {"min_price": 100_000, "sort": "price_desc"},
    {"min_price": 60_000, "max_price": 130_000, "sort": "newest"}, {"in_stock": "true"},
    {"in_stock": "true", "category": "batik-tulis", "sort": "price_asc"}, {"q": "anyam"},
    {"q": "kerajinan", "sort": "price_asc"}, {"q": "kerajinan jati", "sort": "newest", "in_stock": "true"},
]


@pytest.mark.parametrize("query", QUERIES, ids=lambda query: urlencode(query) or "default")
def test_every_sort_and_filter_walks_every_listed_product_exactly_once_in_order(client: Any, at: Any,
                                                                                 query: dict[str, Any]) -> None:
    _catalog(at)
    browse = Browse(q=query.get("q", ""), category=query.get("category", ""), min_price=query.get("min_price"),
                    max_price=query.get("max_price"), sort=query.get("sort", "relevance" if "q" in query else "newest"),
                    in_stock=query.get("in_stock") == "true")
    products = _all_products()
    expected = {product.product_id for product in products
                if domain.matches(product, browse) and (not browse.in_stock or _has_stock(product))}

    items, pages = _walk(client, {**query, "limit": 4})

    ids = [item["product_id"] for item in items]
    assert Counter(ids) == Counter(expected), "each matching product exactly once"
    assert pages >= len(expected) // 4
    if browse.sort != "relevance":
        keys = [domain.sort_key(product, browse.sort)[0] for product in _in_order(products, ids)]
        assert keys == sorted(keys), "in the sort's order (ties in any order)"
    if browse.in_stock:
        assert all(item["in_stock"] for item in items)


def _has_stock(product: Product) -> bool:
    return int(product.product_id[-8:]) % 4 > 0


def _in_order(products: list[Product], ids: list[str]) -> list[Product]:
    by_id = {product.product_id: product for product in products}
    return [by_id[product_id] for product_id in ids]


@pytest.mark.parametrize("query", [{}, {"category": "batik-tulis"}, {"sort": "rating"}, {"sort": "price_asc"}],
                         ids=lambda query: urlencode(query) or "default")
def test_a_walk_loses_and_repeats_no_product_while_staff_edit_prices(client: Any, at: Any,
                                                                      query: dict[str, Any]) -> None:
    _catalog(at)
    listed = {product.product_id for product in _all_products() if domain.is_listed(product)
              and (not query.get("category") or product.category_slug == query["category"])}
    rng = random.Random(7)
    edited: set[str] = set()

    def edit_prices(page: int) -> None:
        at(f"2026-11-20T00:{page:02d}:00.000Z")
        for product_id in rng.sample(sorted(listed), 3):
            product, _ = repository.get(product_id) or (None, 0)
            assert product is not None
            changed = [{"sku": item.sku, "price": item.price + rng.choice((-20_000, 40_000)), "weight_grams": 300}
                       for item in product.variants]
            service.update_product(product_id, Fields({"variants": changed}), actor="staff")
            edited.add(product_id)

    items, _ = _walk(client, {**query, "limit": 3}, between_pages=edit_prices)

    seen = Counter(item["product_id"] for item in items)
    if query.get("sort") == "price_asc":  # a product whose price moved moves in this order: the others hold still
        steady = listed - edited
        assert {product_id: seen[product_id] for product_id in steady} == dict.fromkeys(steady, 1)
    else:  # newest, rating and category orders do not depend on the price: exactly the listed products, once
        assert seen == Counter(listed)


def test_search_follows_create_update_and_archive(client: Any, at: Any) -> None:
    at("2026-11-01T00:00:00.000Z")
    bag = _create(1, at=at, category="Tas Anyaman", prices=(150_000,), name="Tas Anyaman Pandan")
    _create(2, at=at, category="Tas Anyaman", prices=(90_000,), name="Dompet Anyaman Draft", status="draft")

    def found(words: str) -> list[str]:
        return [item["product_id"] for item in body_of(send(client, "GET", f"/products?q={words}"))["items"]]

    assert found("anyam") == [bag]
    assert found("ANYAMAN pand") == [bag]
    service.update_product(bag, Fields({"name": "Tas Rotan Bulat"}), actor="staff")
    assert found("rotan") == [bag]
    assert found("pandan") == [], "the old name's words are gone"
    assert found("anyaman") == [bag], "the category's words still match"
    service.archive_product(bag, actor="staff")
    assert found("rotan") == []
    service.update_product(bag, Fields({"status": "active"}), actor="staff")
    assert found("rotan") == [bag]


def test_a_rebuilt_search_index_equals_the_maintained_one(client: Any, at: Any, aws: Any) -> None:
    _catalog(at, count=24)
    body_of(send(client, "GET", "/products?q=kerajinan"))  # the maintained index, caught up
    rng = random.Random(3)
    for index, product in enumerate(rng.sample(_all_products(), 10)):
        at(f"2026-11-25T00:{index:02d}:00.000Z")
        change: dict[str, Any] = rng.choice(({"name": f"Anyaman {index}"}, {"status": "archived"},
                                             {"status": "active"}, {"category": "Ukiran Kayu"},
                                             {"description": "tenun songket"}))
        service.update_product(product.product_id, Fields(change), actor="staff")
    maintained = indexing.search_engine()
    assert isinstance(maintained, SqliteSearchIndex)

    summary = service.rebuild_search_index()

    stored = aws.s3.get_object(Bucket=_search_bucket(), Key=indexing.INDEX_KEY)["Body"].read()
    rebuilt = SqliteSearchIndex.from_bytes(stored)
    assert sorted(rebuilt.docs(), key=lambda doc: doc.product_id) == sorted(maintained.docs(),
                                                                           key=lambda doc: doc.product_id)
    assert rebuilt.watermark == maintained.watermark
    assert summary["listed"] == len(rebuilt) == sum(domain.is_listed(product) for product in _all_products())


def _search_bucket() -> str:
    from chalicelib import resources

    return resources.SEARCH_BUCKET.physical_name


def test_category_counts_follow_every_product_write_and_equal_a_recount(client: Any, at: Any) -> None:
    first = _create(1, at=at, category="Tas Anyaman", prices=(150_000,))
    second = _create(2, at=at, category="tas anyaman", prices=(90_000,))
    _create(3, at=at, category="Batik Tulis", prices=(300_000,), status="draft")
    service.update_product(second, Fields({"category": "Ukiran Kayu"}), actor="staff")
    third = _create(4, at=at, category="Ukiran Kayu", prices=(80_000,))
    service.archive_product(third, actor="staff")
    service.update_product(first, Fields({"variants": [{**variant("SKU-1-0", price=150_000), "active": False}]}),
                           actor="staff")  # no variant on sale: no longer listed
    fourth = _create(5, at=at, category="Batik Tulis", prices=(250_000,))

    answered = body_of(send(client, "GET", "/categories"))["items"]

    assert answered == domain.categories(_all_products())
    assert [(entry["slug"], entry["product_count"]) for entry in answered] == [("batik-tulis", 1),
                                                                              ("ukiran-kayu", 1)]
    assert fourth
    service.rebuild_search_index()
    assert body_of(send(client, "GET", "/categories"))["items"] == answered


def test_the_staff_list_pages_through_every_product_of_a_status(client: Any, at: Any) -> None:
    _catalog(at, count=30)
    for status in ("active", "draft", "archived"):
        seen: list[str] = []
        cursor = None
        while True:
            query = urlencode({"status": status, "limit": 4, **({"cursor": cursor} if cursor else {})})
            page = body_of(send(client, "GET", f"/admin/products?{query}", headers=STAFF))
            seen.extend(item["product_id"] for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        expected = [product.product_id for product in sorted(_all_products(), key=lambda p: p.created_at,
                                                            reverse=True) if product.status == status]
        assert seen == expected


def test_the_listing_shows_each_variants_stock_and_in_stock_keeps_only_what_can_be_sold(client: Any, at: Any) -> None:
    sold_out = _create(1, at=at, category="Tas Anyaman", prices=(150_000, 160_000), stock=0)
    stocked = _create(2, at=at, category="Tas Anyaman", prices=(90_000,), stock=4)

    items = {item["product_id"]: item for item in body_of(send(client, "GET", "/products"))["items"]}
    only = body_of(send(client, "GET", "/products?in_stock=true"))["items"]

    assert items[sold_out]["in_stock"] is False
    assert [variant["available"] for variant in items[sold_out]["variants"]] == [0, 0]
    assert items[stocked]["in_stock"] is True and items[stocked]["variants"][0]["available"] == 4
    assert [item["product_id"] for item in only] == [stocked]


@pytest.mark.parametrize("cursor_of, query, reason", [
    ({"sort": "price_asc"}, {"sort": "newest"}, "another search, sort or filter"),
    ({"category": "batik-tulis"}, {"category": "tas-anyaman"}, "another search, sort or filter"),
    ({"q": "anyam"}, {"q": "jati"}, "another search, sort or filter"),
    (None, {"cursor": "WyJ4IiwxLCJ5Il0"}, "belongs to another search"),
    (None, {"cursor": "!!"}, "is not a cursor"),
    (None, {"sort": "relevance"}, "relevance orders search results"),
])
def test_a_cursor_of_another_query_a_forged_one_and_relevance_without_words_are_refused(
        client: Any, at: Any, cursor_of: dict[str, Any] | None, query: dict[str, Any], reason: str) -> None:
    _catalog(at, count=12)
    if cursor_of is not None:
        cursor = body_of(send(client, "GET", f"/products?{urlencode({**cursor_of, 'limit': 1})}"))["next_cursor"]
        query = {**query, "cursor": cursor}

    response = send(client, "GET", f"/products?{urlencode(query)}")

    assert response.status_code == 400
    assert reason in str(body_of(response))




@pytest.mark.parametrize("path", ["/products?limit=5", "/products?category=tas-anyaman&sort=price_asc&limit=5",
                                  "/products?sort=rating&limit=5", "/products?q=kerajinan&limit=5",
                                  "/categories"])
def test_a_page_costs_the_same_requests_whatever_the_catalog_size(client: Any, at: Any, aws_operations: list[str],
                                                                   path: str) -> None:
    counted = []
    for start, count in ((0, 12), (12, 48)):  # a shop of 12 products, then of 60
        _catalog(at, count=count, start=start)
        send(client, "GET", path)  # warm: the search engine's container state
        aws_operations.clear()
        page = body_of(send(client, "GET", path))
        counted.append(Counter(aws_operations))
        assert page["items"]
    assert counted[0] == counted[1]
    assert sum(counted[0].values()) <= 3


def test_search_answers_503_when_the_search_engine_is_down_and_listing_still_works(
        client: Any, at: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.catalog.search import SearchUnavailable

    _create(1, at=at, category="Tas Anyaman", prices=(150_000,))

    class Down:
        def search(self, query: Any) -> Any:
            raise SearchUnavailable("OpenSearch answered 503")

    monkeypatch.setattr(indexing, "search_engine", lambda: Down())

    searched = send(client, "GET", "/products?q=tas")
    listed = send(client, "GET", "/products")

    assert searched.status_code == 503 and body_of(searched)["error"]["code"] == "search_unavailable"
    assert listed.status_code == 200 and len(body_of(listed)["items"]) == 1


def test_with_opensearch_the_schedule_pushes_the_feed_and_searches_ask_it(
        client: Any, at: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeOpenSearch(SqliteSearchIndex):  # the same port; records that the mapping was asked for
        created = 0

        def ensure_index(self) -> None:
            FakeOpenSearch.created += 1

    remote = FakeOpenSearch()
    monkeypatch.setenv("TOKOFLOW_SEARCH_ENGINE", "opensearch")
    monkeypatch.setattr(indexing, "_opensearch", lambda: remote)
    first = _create(1, at=at, category="Tas Anyaman", prices=(150_000,), name="Tas Anyaman Pandan")

    assert service.rebuild_search_index()["engine"] == "opensearch"
    second = _create(30, at=at, category="Tas Anyaman", prices=(90_000,), name="Topi Anyam Bambu")
    before_refresh = [item["product_id"] for item in body_of(send(client, "GET", "/products?q=anyam"))["items"]]
    at("2026-11-03T00:00:00.000Z")
    refreshed = service.refresh_search_index()
    after_refresh = [item["product_id"] for item in body_of(send(client, "GET", "/products?q=anyam"))["items"]]

    assert FakeOpenSearch.created == 1
    assert before_refresh == [first], "OpenSearch is not caught up by a search, only by the schedule"
    assert refreshed["changes"] == 2, "the new product, and the first again: it changed within the overlap"
    assert sorted(after_refresh) == sorted([first, second])


def test_a_container_never_swaps_its_index_for_an_older_file(client: Any, at: Any, aws: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _create(1, at=at, category="Tas Anyaman", prices=(150_000,), name="Tas Anyaman Pandan")
    held = indexing.search_engine()  # caught up: its watermark is now's, minus the overlap
    assert isinstance(held, SqliteSearchIndex)
    older = SqliteSearchIndex()
    older.set_watermark("2026-01-01T00:00:00.000Z")
    aws.s3.put_object(Bucket=_search_bucket(), Key=indexing.INDEX_KEY, Body=older.to_bytes())
    monkeypatch.setattr(indexing, "RELOAD_CHECK_SECONDS", -1)  # ask for the file on this search
    read_from: list[str] = []
    original = repository.changed_since

    def changed_since(since: str, **options: Any) -> Any:
        read_from.append(since)
        return original(since, **options)

    monkeypatch.setattr(repository, "changed_since", changed_since)
    watermark = held.watermark

    after = indexing.search_engine()

    assert after is held and read_from == [watermark], "kept its own index, caught up from its own watermark"
