"""The catalog section of the bench (h) at a tiny size, so it cannot rot: the generated catalog's shape, the figures
it measures through the HTTP path, read units from what the reads returned, and a walk of every page returning each
listed product exactly once."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from bench import catalog

SIZE = 200


def test_the_generated_catalog_has_exactly_one_percent_rare_and_no_match_word() -> None:
    generated = catalog.generate_catalog(1_000, seed=11)

    assert len({product.product_id for product in generated.products}) == 1_000
    assert len({product.category for product in generated.products}) == len(catalog.CATEGORIES) == 40
    assert catalog.words_starting(generated, catalog.RARE_WORD) == 10
    assert catalog.words_starting(generated, catalog.NO_MATCH_WORD) == 0
    rare = [product for product in generated.products
            if catalog.RARE_WORD in f"{product.name} {product.description}".lower()]
    assert len(rare) == 10 and all(product in generated.listed() for product in rare)
    assert {len(product.variants) for product in generated.products} == {1, 2, 3}
    assert len(generated.on_hand) == sum(len(product.variants) for product in generated.products)
    words = [len(product.description.split()) for product in generated.products]
    assert 25 <= sum(words) / len(words) <= 40
    assert any(product.rating_count for product in generated.products)
    assert any(units == 0 for units in generated.on_hand.values())
    assert 900 < len(generated.listed()) < 1_000


def test_runs_shrink_to_the_budget_but_never_under_the_floor() -> None:
    assert catalog.runs_for(0.01, 30) == 30
    assert catalog.runs_for(1.0, 30, budget=10) == 10
    assert catalog.runs_for(20.0, 30, budget=10) == catalog.MIN_RUNS
    assert catalog.runs_for(20.0, 3, budget=10) == 3
    assert catalog.sizes_from("1000, 10_000") == (1_000, 10_000)
    assert catalog.sizes_from("") == catalog.SIZES
    with pytest.raises(ValueError, match="at least 100"):
        catalog.sizes_from("10")
    assert catalog.walk_size_for((1_000, 10_000, 50_000)) == 10_000
    assert catalog.walk_size_for((200,)) == 200


def test_the_section_measures_a_tiny_catalog_and_walks_it(capsys: pytest.CaptureFixture[str]) -> None:
    measured = catalog.measure([SIZE], runs=3, walk_limit=7, category_walk_limit=2)

    [result] = measured.sizes
    assert result.size == SIZE and result.loaded.products == SIZE
    assert 0 < result.loaded.listed <= SIZE and result.loaded.index_bytes > 0
    names = [operation.name for operation in result.operations]
    assert names == ["first page", "fifth page", "category page by price", f"search, 1% match ({catalog.RARE_WORD})",
                     f"search, no match ({catalog.NO_MATCH_WORD})", "/categories"]
    by_name: dict[str, Any] = dict(zip(names, result.operations, strict=True))
    for operation in result.operations:
        assert len(operation.seconds) == len(operation.moto_seconds) == len(operation.read_units) == 3
        assert 0 < operation.median_ms <= operation.p95_ms
        assert operation.units > 0 and operation.requests.total() >= 1
        assert all(call.service == "dynamodb" for call in operation.requests.calls)
        assert sum(units or 0 for _, units in operation.parts) == operation.units
    first, fifth = by_name["first page"], by_name["fifth page"]
    assert first.items == fifth.items == catalog.PAGE
    assert Counter(first.requests) == {"dynamodb:Query": 1, "dynamodb:BatchGetItem": 1}
    # A page: one Query of 21 products of about 1.5 KB (0.5 unit per started 4 KB of them all), then one eventually
    # consistent read of each SKU's stock row (half a unit each, the rows are small).
    [(query, query_units), (batch, batch_units)] = first.parts
    [batch_call] = [call for call in first.requests.calls if call.operation == "BatchGetItem"]
    keys = sum(len(spec["Keys"]) for spec in batch_call.params["RequestItems"].values())
    assert (query, batch) == ("Query products/shelf-newest", "BatchGetItem stock")
    assert 1 <= query_units <= 6 and batch_units == keys / 2 and keys >= catalog.PAGE
    assert by_name[f"search, 1% match ({catalog.RARE_WORD})"].items == SIZE // 100
    nothing = by_name[f"search, no match ({catalog.NO_MATCH_WORD})"]
    assert nothing.items == 0 and nothing.units == 0.5 and Counter(nothing.requests) == {"dynamodb:Query": 1}
    assert by_name["/categories"].items == len(catalog.CATEGORIES)

    default, category = result.walks
    assert default.expected == result.loaded.listed and default.exactly_once
    assert default.pages == -(-result.loaded.listed // 7)
    assert category.exactly_once and category.expected > 0 and category.pages >= 2

    capsys.readouterr()  # what the app logged while measured (metrics a test before may have left to flush)
    catalog.print_catalog(measured)
    printed = capsys.readouterr().out
    assert printed.startswith("(h) Catalog at scale: 200 products")
    for name in names:
        assert re.search(rf"^    {re.escape(name)}\s+\|\s+\d+\.\d", printed, re.MULTILINE), name
    assert f"walk at 200, default listing, limit 7: {default.listed} products, {default.listed} distinct" in printed
    assert "exactly once: NO" not in printed


def test_goal_lines_compare_the_largest_size_with_the_smallest() -> None:
    def size(count: int, milliseconds: float, units: float) -> catalog.SizeResult:
        operations = [catalog.Operation(f"op {index}", "/products", seconds=[milliseconds / 1000] * 3,
                                        moto_seconds=[0.0] * 3, read_units=[units] * 3, moto_units=[1.0] * 3)
                      for index in range(6)]
        loaded = catalog.Loaded(count, count, count, 0.0, 0.0, 0.0, 0)
        return catalog.SizeResult(count, loaded, operations, [], 0.0)

    lines, within = catalog.goal_lines(size(1_000, 10.0, 4.0), size(50_000, 14.0, 4.0))
    assert within and len(lines) == catalog.PAGE_AND_SEARCH
    assert "median x1.40, p95 x1.40, RU x1.00: within 1.5x yes" in lines[0]
    lines, within = catalog.goal_lines(size(1_000, 10.0, 4.0), size(50_000, 16.0, 4.0))
    assert not within and "within 1.5x no" in lines[0]
