"""The embedded search engine: the whole catalog's search index in one in-memory SQLite database with FTS5.

The database is small enough to travel as one file (`to_bytes` / `from_bytes`); the application keeps that file in
object storage and reuses it per container, bringing it up to date from the change feed (`watermark` records how far).

Layout:

* ``product``: one row per listed product: the original texts (so `docs` can give back exactly what was indexed),
  the filter and sort columns and changed_at. Its key is an ``INTEGER PRIMARY KEY`` (``doc_id``), the rowid the text
  index refers to, which VACUUM keeps; ``product_id`` is unique.
* ``product_text``: a contentless FTS5 table (the texts are stored once, in ``product``) over name, category name and
  description, in that order, holding the texts folded to lower-case ASCII by the same `search.fold` that folds
  query words, so a document and a query can never disagree on what a word is. Removing a row hands FTS5 the same
  folded texts it indexed (the FTS5 'delete' command), read back from ``product``.
* ``meta``: the file format and the watermark.

Every query word becomes a quoted FTS5 prefix term (``"anyam"*``), joined with AND: user text never reaches the FTS5
query syntax, whatever characters it holds. Filters, sorts and keyset positions are plain SQL.

A relevance position is a bm25 score, and bm25 weighs a word by how many products hold it: a change to the index
between two pages moves the scores, so a relevance walk across a change may repeat or miss a product (the other
sorts' positions are the products' own values and stay exact).

What is deliberately absent, measured on 50,000 synthetic products of ~30 words: FTS5 prefix indexes
(``prefix = '2 3 4'``) would add 23 MB to a 31 MB file for queries at most ~15% faster, since a query's cost
is its number of matching rows, not the expansion of the prefix; b-tree indexes on the sort and filter columns
(9 MB) were never used, since every search starts from the text match (there is no search without words) and
sorts the matches in a temporary b-tree.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from chalicelib.catalog.search import SearchDoc, SearchEngine, SearchPage, SearchQuery, fold, terms

FORMAT = "1"  # bumped whenever the schema or the folding of texts changes: an older file is then rebuilt
# bm25 weights of the text columns, in the order the FTS5 table declares them (name, category, description).
WEIGHTS = (10.0, 4.0, 1.0)
_TOKEN = re.compile(r"[a-z0-9]+")

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE product (
    doc_id INTEGER PRIMARY KEY,
    product_id TEXT NOT NULL UNIQUE,
    category_slug TEXT NOT NULL,
    price_min INTEGER NOT NULL,
    price_max INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    rating_rank INTEGER NOT NULL,
    changed_at TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    category TEXT NOT NULL
);
CREATE VIRTUAL TABLE product_text USING fts5 (
    name, category, description,
    content = '', tokenize = 'unicode61 remove_diacritics 2'
);
"""

# sort -> (column of the position, True when that column is ordered descending)
_ORDERS = {
    "newest": ("created_at", True),
    "price_asc": ("price_min", False),
    "price_desc": ("price_max", True),
    "rating": ("rating_rank", True),
}
_COLUMNS = ("product_id", "name", "description", "category", "category_slug", "price_min", "price_max",
            "created_at", "rating_rank", "changed_at")


def match_expression(words: Iterable[str]) -> str:
    """The FTS5 query for query words: each word's letters and digits as a quoted prefix term, all joined by AND
    ('' when nothing is left). Only [a-z0-9] ever appears between the quotes, so no user text is FTS5 syntax."""
    tokens = dict.fromkeys(token for word in words for token in _TOKEN.findall(fold(word)))
    return " AND ".join(f'"{token}"*' for token in tokens)


class SqliteSearchIndex(SearchEngine):
    """The SearchEngine port over SQLite FTS5 in memory; safe to share between threads (one lock around every
    operation). Build it empty and `upsert`, or load a file image with `from_bytes`."""

    def __init__(self) -> None:
        db = sqlite3.connect(":memory:", check_same_thread=False)
        with db:
            db.executescript(_SCHEMA)
            db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [("format", FORMAT), ("watermark", "")])
        self._db = db
        self._lock = threading.Lock()

    @classmethod
    def from_bytes(cls, data: bytes) -> SqliteSearchIndex:
        """The index a `to_bytes` image holds. ValueError when the bytes are not such an image (or of another
        format, when the caller should rebuild from the catalog)."""
        if not data.startswith(b"SQLite format 3\x00"):
            raise ValueError("not a search index image: no SQLite database header")
        db = sqlite3.connect(":memory:", check_same_thread=False)
        try:
            db.deserialize(data)
            row = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            db.execute("SELECT count(*) FROM product_text WHERE product_text MATCH '\"x\"*'").fetchone()
        except sqlite3.DatabaseError as error:
            db.close()
            raise ValueError(f"not a search index image: {error}") from error
        if row is None or row[0] != FORMAT:
            db.close()
            raise ValueError(f"search index format {row[0] if row else None}, expected {FORMAT}")
        index = cls.__new__(cls)
        index._db = db
        index._lock = threading.Lock()
        return index

    def to_bytes(self) -> bytes:
        """The whole index (watermark included) as the bytes of an SQLite database file."""
        with self._lock:
            return self._db.serialize()

    def compact(self) -> None:
        """Merge the FTS5 segments into one and drop free pages: a smaller, faster file before `to_bytes` after many
        changes. Takes a fraction of a build's time; never needed for correctness."""
        with self._lock:
            with self._db:
                self._db.execute("INSERT INTO product_text (product_text) VALUES ('optimize')")
            self._db.execute("VACUUM")

    @property
    def watermark(self) -> str:
        """The change-feed position the index is complete through ('' for a new index)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'watermark'").fetchone()
        return str(row[0])

    def set_watermark(self, value: str) -> None:
        with self._lock, self._transaction() as db:
            db.execute("UPDATE meta SET value = ? WHERE key = 'watermark'", (value,))

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM product").fetchone()[0])

    def product_ids(self) -> set[str]:
        with self._lock:
            return {row[0] for row in self._db.execute("SELECT product_id FROM product")}

    def docs(self) -> list[SearchDoc]:
        """Every stored doc, by product_id."""
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM product ORDER BY product_id").fetchall()
        return [_doc(row) for row in rows]

    def upsert(self, docs: Iterable[SearchDoc]) -> None:
        """Add or replace by product_id, in one transaction; a doc whose changed_at is older than the stored one is
        ignored (changed_at compares as text: ISO-8601 UTC in one format). A doc equal to the stored one is a no-op."""
        with self._lock, self._transaction() as db:
            for doc in docs:
                self._upsert_one(db, doc)

    def remove(self, product_ids: Iterable[str]) -> None:
        """Forget these products (unknown ids are ignored). Unconditional: the change feed removes a product only
        when its newest version is no longer listed."""
        with self._lock, self._transaction() as db:
            for product_id in product_ids:
                row = db.execute("SELECT doc_id, name, category, description FROM product WHERE product_id = ?",
                                 (product_id,)).fetchone()
                if row is not None:
                    _unindex(db, row[0], row[1], row[2], row[3])
                    db.execute("DELETE FROM product WHERE doc_id = ?", (row[0],))

    def search(self, query: SearchQuery) -> SearchPage:
        match = match_expression(terms(query.text))
        if not match:
            return SearchPage(product_ids=[], last=None)
        sql, params = _search_sql(query, match)
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        if len(rows) <= query.limit:
            return SearchPage(product_ids=[row[0] for row in rows], last=None)
        page = rows[:query.limit]
        last_id, last_value = page[-1]
        return SearchPage(product_ids=[row[0] for row in page], last=(last_value, last_id))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection inside one transaction: committed when the block ends, rolled back when it raises."""
        with self._db:
            yield self._db

    def _upsert_one(self, db: sqlite3.Connection, doc: SearchDoc) -> None:
        values = tuple(getattr(doc, column) for column in _COLUMNS)
        row = db.execute(f"SELECT doc_id, {', '.join(_COLUMNS)} FROM product WHERE product_id = ?",
                         (doc.product_id,)).fetchone()
        if row is None:
            placeholders = ", ".join("?" * len(_COLUMNS))
            cursor = db.execute(f"INSERT INTO product ({', '.join(_COLUMNS)}) VALUES ({placeholders})", values)
            _index(db, int(cursor.lastrowid or 0), doc.name, doc.category, doc.description)
            return
        doc_id, stored = row[0], _doc(row[1:])
        if stored.changed_at > doc.changed_at or stored == doc:
            return
        assignments = ", ".join(f"{column} = ?" for column in _COLUMNS[1:])
        db.execute(f"UPDATE product SET {assignments} WHERE doc_id = ?", (*values[1:], doc_id))
        if (stored.name, stored.category, stored.description) != (doc.name, doc.category, doc.description):
            _unindex(db, doc_id, stored.name, stored.category, stored.description)
            _index(db, doc_id, doc.name, doc.category, doc.description)


def _doc(row: Sequence[Any]) -> SearchDoc:
    return SearchDoc(**dict(zip(_COLUMNS, row, strict=True)))


def _index(db: sqlite3.Connection, doc_id: int, name: str, category: str, description: str) -> None:
    db.execute("INSERT INTO product_text (rowid, name, category, description) VALUES (?, ?, ?, ?)",
               (doc_id, fold(name), fold(category), fold(description)))


def _unindex(db: sqlite3.Connection, doc_id: int, name: str, category: str, description: str) -> None:
    """A contentless FTS5 row is removed by handing back exactly the values it was indexed from."""
    db.execute("INSERT INTO product_text (product_text, rowid, name, category, description) "
               "VALUES ('delete', ?, ?, ?, ?)", (doc_id, fold(name), fold(category), fold(description)))


def _search_sql(query: SearchQuery, match: str) -> tuple[str, dict[str, Any]]:
    """(SQL, parameters) of one page plus one row: the extra row says whether another page follows. Each row is
    (product_id, the sort's position value)."""
    params: dict[str, Any] = {"match": match, "rows": query.limit + 1}
    where = []
    if query.category_slug:
        where.append("p.category_slug = :slug")
        params["slug"] = query.category_slug
    if query.min_price is not None:
        where.append("p.price_max >= :min_price")
        params["min_price"] = query.min_price
    if query.max_price is not None:
        where.append("p.price_min <= :max_price")
        params["max_price"] = query.max_price
    if query.sort == "relevance":
        value, descending = "hit.score", False
    else:
        column, descending = _ORDERS[query.sort]
        value = f"p.{column}"
    if query.after is not None:
        params["after_value"], params["after_id"] = query.after
        beyond = "<" if descending else ">"
        where.append(f"({value} {beyond} :after_value OR ({value} = :after_value AND p.product_id > :after_id))")
    conditions = " AND ".join(where) or "1"
    order = f"{value} {'DESC' if descending else 'ASC'}, p.product_id ASC"
    if query.sort == "relevance":
        # bm25 is computed once per matching row (a materialized CTE), so the keyset compares the very float the
        # previous page returned.
        weights = ", ".join(str(weight) for weight in WEIGHTS)
        sql = (f"WITH hit AS MATERIALIZED (SELECT rowid AS doc_id, bm25(product_text, {weights}) AS score "
               f"FROM product_text WHERE product_text MATCH :match) "
               f"SELECT p.product_id, hit.score FROM hit JOIN product p ON p.doc_id = hit.doc_id "
               f"WHERE {conditions} ORDER BY {order} LIMIT :rows")
    else:
        sql = (f"SELECT p.product_id, {value} FROM product p "
               f"WHERE p.doc_id IN (SELECT rowid FROM product_text WHERE product_text MATCH :match) "
               f"AND {conditions} ORDER BY {order} LIMIT :rows")
    return sql, params
