"""Text search over the listed products, in plain Python: the port both search engines implement.

A query is a few words; each word must match (AND) as the prefix of a word in the product's name, description or
category name, case and diacritics ignored. Results come in keyset pages: `SearchPage.last` is the position of the
page's last row and `SearchQuery.after` asks for the rows after it, so a walk of pages returns every matching product
exactly once, whatever the sort, however many rows tie. The position's shape depends on the sort and always ends
with the product id, the tie-breaker:

=============  ===========================  =================================================
sort           position                     order
=============  ===========================  =================================================
relevance      (score: float, product_id)   score ascending (lower is better, FTS5's bm25)
newest         (created_at, product_id)     created_at descending, then product_id ascending
price_asc      (price_min, product_id)      price_min ascending, then product_id ascending
price_desc     (price_max, product_id)      price_max descending, then product_id ascending
rating         (rating_rank, product_id)    rating_rank descending, then product_id ascending
=============  ===========================  =================================================

A position is only meaningful to the engine that returned it (an OpenSearch relevance score is its own score, ordered
descending). Nothing here imports a database or an AWS library: the engines are `search_sqlite` and
`search_opensearch`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.validation import ID_PATTERN

SEARCH_SORTS = ("relevance", "newest", "price_asc", "price_desc", "rating")
MAX_TERMS = 10  # words of a query beyond the tenth are ignored
MAX_SEARCH_LIMIT = 100  # rows in one page
PRODUCT_ID_PATTERN = re.compile(ID_PATTERN)
POSITION_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")  # created_at, as stored
POSITION_INT_MAX = 10**16  # prices and rating ranks stay far below

_WORD = re.compile(r"\w+", re.ASCII)


class SearchUnavailable(Exception):
    """The search engine could not answer (down, throttled, refused the request): worth a 503 and a later retry."""


@dataclass(frozen=True)
class SearchDoc:
    """One listed product as the index sees it."""

    product_id: str  # up to 64 characters of [A-Za-z0-9_-]
    name: str
    description: str
    category: str  # display name, e.g. "Tas Anyaman"
    category_slug: str  # e.g. "tas-anyaman"
    price_min: int  # whole Rupiah
    price_max: int
    created_at: str  # ISO-8601 UTC text, sorts as text
    rating_rank: int  # bigger is better; 0 = no reviews
    changed_at: str  # ISO-8601 UTC of this version (the change feed position)


@dataclass(frozen=True)
class SearchQuery:
    """What a shopper asks for. Invalid values (an unknown sort, a limit outside 1..MAX_SEARCH_LIMIT, an `after`
    whose shape does not fit the sort) raise ValueError when the query is made, so no engine sees them."""

    text: str
    category_slug: str = ""
    min_price: int | None = None  # overlap semantics: keep a product when price_max >= min_price
    max_price: int | None = None  # and price_min <= max_price
    sort: str = "relevance"
    limit: int = 20
    after: tuple[Any, ...] | None = None  # keyset position of the previous page's last row (SearchPage.last)

    def __post_init__(self) -> None:
        if self.sort not in SEARCH_SORTS:
            raise ValueError(f"sort must be one of {', '.join(SEARCH_SORTS)}")
        if not _is_int(self.limit) or not 1 <= self.limit <= MAX_SEARCH_LIMIT:
            raise ValueError(f"limit must be a whole number from 1 to {MAX_SEARCH_LIMIT}")
        for name in ("min_price", "max_price"):
            value = getattr(self, name)
            if value is not None and not _is_int(value):
                raise ValueError(f"{name} must be a whole number of Rupiah")
        if self.after is not None:
            if isinstance(self.after, list):  # a position decoded from JSON comes back as a list
                object.__setattr__(self, "after", tuple(self.after))
            check_position(self.sort, self.after)


@dataclass(frozen=True)
class SearchPage:
    product_ids: list[str]
    last: tuple[Any, ...] | None  # keyset position of the last row, only when more rows follow


class SearchEngine(Protocol):
    def search(self, query: SearchQuery) -> SearchPage:
        """One page of the products matching every term of the query, filtered and sorted."""
        ...

    def upsert(self, docs: Iterable[SearchDoc]) -> None:
        """Add or replace by product_id; a doc whose changed_at is older than the stored one is ignored."""
        ...

    def remove(self, product_ids: Iterable[str]) -> None:
        """Forget these products (unknown ids are ignored)."""
        ...


def fold(text: str) -> str:
    """Lower-case ASCII: NFKD decomposition with the combining marks (and any other non-ASCII) dropped."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()


def words(text: str) -> list[str]:
    """Every word of a text as the index sees it: folded to lower-case ASCII, runs of word characters."""
    return _WORD.findall(fold(text))


def terms(text: str) -> list[str]:
    """The words of a query: folded to lower-case ASCII, runs of word characters, each once, at most MAX_TERMS."""
    return list(dict.fromkeys(words(text)))[:MAX_TERMS]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_position(sort: str, position: tuple[Any, ...]) -> None:
    """Raise ValueError unless `position` has the shape `sort` pages by (see the table in the module docstring)."""
    if not isinstance(position, tuple) or len(position) != 2:
        raise ValueError("after must be a pair (sort value, product_id)")
    value, product_id = position
    if not isinstance(product_id, str) or not PRODUCT_ID_PATTERN.fullmatch(product_id):
        raise ValueError("after must end with a product id")
    if sort == "relevance":
        fits = (isinstance(value, float) and math.isfinite(value)) or _is_int(value)
    elif sort == "newest":
        fits = isinstance(value, str) and len(value) <= 40 and bool(POSITION_TIME.fullmatch(value))
    else:
        fits = _is_int(value) and 0 <= value < POSITION_INT_MAX
    if not fits:
        raise ValueError(f"after does not fit the {sort} sort")
