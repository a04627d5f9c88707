"""Section (h): the catalog at 1,000, 10,000 and 50,000 products, as a shopper browses it.

Catalog. For each size a fresh mocked account is filled straight into DynamoDB, not through the API: generated
handicraft products (names and ~30-word descriptions from Indonesian word lists, 40 categories, 1 to 3 variants,
prices, created over half a year, some rated, some out of stock, a few drafts and archived) written with
BatchWriteItem as the catalog repository stores them (`repository.to_model`, rating counters added), one stock row
per SKU through the inventory repository's model, the category counts with `repository.replace_category_counts`,
then the search index file written and the categories recounted by `indexing.rebuild()`, its read of every product
handed what was just written (see load_catalog). Exactly 1% of the products carry the word RARE_WORD in their name
or description, all of them listed; NO_MATCH_WORD is the start of no word of the catalog.

Measured through the HTTP path (chalice.test.Client over the real app), warm (each operation called once first; the
search index is loaded from the bucket by that first search): the first page, the fifth page (its cursor found by
following next_cursor four times, then only that request repeated), a category page sorted by price, a search
matching 1%, one matching nothing, and /categories, each RUNS times (fewer when a size is slow: see runs_for);
the median and the nearest-rank 95th percentile (`bench.percentile`: of 5 runs, the slowest) are printed.

Read units. Every DynamoDB read the app's clients make is asked for ReturnConsumedCapacity=TOTAL and the answers'
ConsumedCapacity summed, but moto answers a fixed figure whatever was read (1 per Query or Scan, 0.5 per GetItem,
1 per BatchGetItem key, consistent or not): that sum is printed as moto's, and the figure in the table is computed
from the items each read returned, with DynamoDB's rules (`reports.read_units`: a Query or Scan 0.5 unit per
started 4 KB of all its items, at least one; BatchGetItem and GetItem per item; strongly consistent double).

moto as it ships answers a Query on an index by walking and sorting every item of the table (DynamoDB reads the
partition's page); the local speed-ups (local.moto_speedups, loaded by the offline account) serve it from a sorted
partition kept between writes. The time inside moto's answers is shown apart, as is what is left outside it.

The walk (at WALK_SIZE, or the nearest size measured) follows next_cursor through every page of the default
listing and of one category by price, and checks each listed product appears exactly once.

`python -m bench.catalog [--sizes 1000,10000] [--runs 30]`; TOKOFLOW_BENCH_CATALOG_SIZES sets the sizes too.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import re
import statistics
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock
from urllib.parse import urlencode

from bench import percentile
from bench.request_count import ApiCall, AwsRequests, instrument_client

SIZES = (1_000, 10_000, 50_000)
SIZES_VARIABLE = "TOKOFLOW_BENCH_CATALOG_SIZES"
RUNS = 30
MIN_RUNS = 5
OPERATION_BUDGET_SECONDS = 10.0  # a slow size repeats each operation fewer times (never under MIN_RUNS)
WALK_SIZE = 10_000
GOAL_RATIO = 1.5
PAGE = 20
SEARCH_PAGE = 10  # 1% of the smallest catalog: a search page as full at 1,000 products as at 50,000
SEED = 20261215
RARE_WORD = "songket"  # exactly 1% of the products, all listed
NO_MATCH_WORD = "kriptonit"  # the start of no word of the catalog
SPREAD_DAYS = 180  # products created over the half year before now

# ---- the generated catalog -------------------------------------------------------------------------------

# name, the things it sells, options of a variant, base price in Rupiah, weight in grams
CATEGORIES: tuple[tuple[str, tuple[str, ...], str, int, int], ...] = (
    ("Batik Tulis", ("Kain Batik Tulis", "Kemeja Batik Tulis", "Selendang Batik Tulis"), "size", 450_000, 300),
    ("Batik Cap", ("Kain Batik Cap", "Kemeja Batik Cap", "Rok Batik Cap"), "size", 185_000, 280),
    ("Batik Anak", ("Baju Batik Anak", "Daster Batik Anak", "Setelan Batik Anak"), "size", 95_000, 150),
    ("Tenun Ikat", ("Kain Tenun Ikat", "Sarung Tenun Ikat", "Syal Tenun"), "length", 750_000, 600),
    ("Kain Lurik", ("Kain Lurik", "Kemeja Lurik", "Outer Lurik"), "size", 165_000, 300),
    ("Ulos", ("Ulos Ragi Hotang", "Ulos Sadum", "Ulos Mangiring"), "length", 550_000, 500),
    ("Kebaya", ("Kebaya Encim", "Kebaya Kutubaru", "Kebaya Brokat"), "size", 385_000, 250),
    ("Sarung", ("Sarung Tenun", "Sarung Batik", "Sarung Goyor"), "colour", 210_000, 400),
    ("Tas Anyaman", ("Tas Anyaman", "Tas Jinjing Anyaman", "Clutch Anyaman"), "grade", 145_000, 350),
    ("Tas Kulit", ("Tas Selempang Kulit", "Dompet Kulit", "Ransel Kulit"), "colour", 425_000, 600),
    ("Topi Anyaman", ("Topi Pantai Anyaman", "Caping", "Topi Fedora Anyaman"), "grade", 75_000, 150),
    ("Keranjang", ("Keranjang Cucian", "Keranjang Buah", "Keranjang Piknik"), "grade", 120_000, 700),
    ("Tikar", ("Tikar Pandan", "Tikar Mendong", "Alas Meja Anyaman"), "length", 180_000, 1_200),
    ("Gerabah", ("Vas Gerabah", "Pot Gerabah", "Kendi Gerabah"), "grade", 85_000, 1_500),
    ("Keramik", ("Piring Keramik", "Mangkuk Keramik", "Cangkir Keramik"), "colour", 65_000, 450),
    ("Ukiran Kayu", ("Patung Kayu", "Panel Ukiran", "Kotak Ukir"), "grade", 650_000, 2_500),
    ("Mebel Rotan", ("Kursi Rotan", "Meja Rotan", "Rak Rotan"), "colour", 1_350_000, 9_000),
    ("Peralatan Dapur Kayu", ("Talenan Kayu", "Sendok Kayu", "Cobek Kayu"), "grade", 55_000, 400),
    ("Perak Kotagede", ("Cincin Perak", "Bros Perak", "Miniatur Perak"), "grade", 350_000, 60),
    ("Perhiasan Etnik", ("Kalung Etnik", "Gelang Etnik", "Anting Etnik"), "colour", 95_000, 50),
    ("Kuningan", ("Lampu Kuningan", "Genta Kuningan", "Tempat Lilin Kuningan"), "grade", 275_000, 900),
    ("Wayang Kulit", ("Wayang Kulit Arjuna", "Wayang Kulit Semar", "Wayang Kulit Gunungan"), "grade", 525_000, 300),
    ("Wayang Golek", ("Wayang Golek Cepot", "Wayang Golek Rama", "Wayang Golek Shinta"), "grade", 325_000, 700),
    ("Topeng", ("Topeng Panji", "Topeng Barong", "Topeng Cirebon"), "grade", 240_000, 500),
    ("Alat Musik", ("Angklung", "Kendang", "Sasando Mini"), "grade", 310_000, 1_800),
    ("Lukisan", ("Lukisan Kanvas", "Lukisan Kaca", "Lukisan Kamasan"), "size_art", 900_000, 1_500),
    ("Dekorasi Rumah", ("Hiasan Dinding", "Cermin Bingkai Ukir", "Lampion Bambu"), "colour", 190_000, 1_100),
    ("Lilin Aromaterapi", ("Lilin Aromaterapi", "Lilin Batok Kelapa", "Lilin Gerabah"), "scent", 65_000, 250),
    ("Sabun Alami", ("Sabun Sereh", "Sabun Kopi", "Sabun Kunyit"), "scent", 35_000, 120),
    ("Minyak Atsiri", ("Minyak Kayu Putih", "Minyak Cengkeh", "Minyak Nilam"), "scent", 80_000, 90),
    ("Kopi Nusantara", ("Kopi Gayo", "Kopi Toraja", "Kopi Kintamani"), "weight", 95_000, 250),
    ("Teh dan Rempah", ("Teh Rosela", "Jahe Merah Bubuk", "Wedang Uwuh"), "weight", 45_000, 200),
    ("Sandal Tradisional", ("Sandal Jepit Batik", "Selop Bordir", "Sandal Anyaman"), "shoe", 125_000, 400),
    ("Bordir", ("Mukena Bordir", "Taplak Bordir", "Kerudung Bordir"), "colour", 230_000, 350),
    ("Rajutan", ("Tas Rajut", "Syal Rajut", "Boneka Rajut"), "colour", 110_000, 200),
    ("Mainan Kayu", ("Congklak", "Gasing Kayu", "Mobil-mobilan Kayu"), "grade", 85_000, 700),
    ("Aksesori Rambut", ("Tusuk Konde", "Jepit Rambut Batik", "Bando Tenun"), "colour", 45_000, 40),
    ("Blangkon dan Ikat Kepala", ("Blangkon Solo", "Udeng Bali", "Iket Sunda"), "head", 95_000, 150),
    ("Kulit Kerang", ("Tirai Kerang", "Lampu Kerang", "Kotak Tisu Kerang"), "grade", 160_000, 600),
    ("Alat Tulis Etnik", ("Buku Catatan Batik", "Pembatas Buku Wayang", "Kotak Pensil Tenun"), "colour", 40_000, 150),
)
OPTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "size": (("ukuran", "S"), ("ukuran", "M"), ("ukuran", "L"), ("ukuran", "XL")),
    "length": (("panjang", "2 m"), ("panjang", "2,5 m"), ("panjang", "3 m")),
    "colour": (("warna", "cokelat sogan"), ("warna", "biru indigo"), ("warna", "merah marun"), ("warna", "hitam"),
               ("warna", "krem"), ("warna", "hijau daun")),
    "grade": (("ukuran", "kecil"), ("ukuran", "sedang"), ("ukuran", "besar")),
    "size_art": (("ukuran", "40x60 cm"), ("ukuran", "60x90 cm"), ("ukuran", "90x120 cm")),
    "scent": (("aroma", "melati"), ("aroma", "cendana"), ("aroma", "sereh"), ("aroma", "kenanga")),
    "weight": (("berat", "100 g"), ("berat", "250 g"), ("berat", "500 g")),
    "shoe": (("ukuran", "38"), ("ukuran", "39"), ("ukuran", "40"), ("ukuran", "41"), ("ukuran", "42")),
    "head": (("lingkar", "55"), ("lingkar", "57"), ("lingkar", "59")),
}
MOTIFS = ("Parang", "Kawung", "Truntum", "Sidomukti", "Mega Mendung", "Sekar Jagad", "Lereng", "Ceplok", "Gurdo",
          "Tambal", "Buketan", "Jlamprang", "Sogan", "Tujuh Rupa", "Kembang Setaman", "Pring Sedapur", "Liong",
          "Cendrawasih", "Ikat Lungsi", "Pucuk Rebung", "Tumpal", "Sido Luhur", "Udan Liris", "Wahyu Tumurun")
MATERIALS = ("katun primisima", "sutra ATBM", "rotan", "pandan", "bambu", "mendong", "eceng gondok", "kayu jati",
             "kayu sonokeling", "tembaga", "perak", "kuningan", "tanah liat", "kulit sapi", "serat nanas", "lontar",
             "purun", "pelepah pisang", "batok kelapa", "kerang", "benang katun", "kayu mahoni", "agel", "linen")
ORIGINS = ("Pekalongan", "Solo", "Yogyakarta", "Lasem", "Cirebon", "Madura", "Garut", "Tasikmalaya", "Jepara",
           "Lombok", "Sumba", "Toraja", "Bali", "Kasongan", "Kotagede", "Bukittinggi", "Kalimantan", "Flores",
           "Tanimbar", "Baduy", "Ubud", "Tuban", "Trusmi", "Sukabumi", "Banyuwangi", "Mojokerto", "Gianyar",
           "Pacitan", "Bantul", "Ende")
QUALITIES = ("Halus", "Klasik", "Premium", "Eksklusif", "Modern", "Asli", "Motif Lama", "Edisi Terbatas")
SENTENCES = (
    "Setiap potong sedikit berbeda karena dikerjakan satu per satu.",
    "Cocok untuk hadiah, seserahan, atau koleksi pribadi di rumah.",
    "Warna alami dari pewarna tumbuhan sehingga tidak mudah pudar.",
    "Dikemas rapi dengan kardus tebal dan plastik gelembung.",
    "Perawatan mudah: bersihkan dengan kain lembap dan jangan dijemur terlalu lama.",
    "Pembelian Anda ikut menghidupi pengrajin kecil di desa.",
    "Ukuran dan warna dapat sedikit berbeda dari foto karena cahaya.",
    "Proses pembuatan memakan waktu beberapa minggu dengan teknik turun temurun.",
    "Tersedia dalam jumlah terbatas setiap bulan.",
    "Dapat dipakai sehari-hari maupun untuk acara resmi.",
    "Sudah melalui pemeriksaan mutu sebelum dikirim.",
    "Bahan dipilih langsung dari perajin setempat yang kami kenal lama.",
)
RARE_PHRASES = ("dipadukan dengan benang {word} emas.", "dengan sentuhan tenun {word} khas Palembang.")


@dataclass(frozen=True)
class GeneratedCatalog:
    """Products as the catalog's domain holds them, each SKU's units on hand, and when each last changed."""

    products: list[Any]  # chalicelib.catalog.domain.Product
    on_hand: dict[str, int]
    changed_at: dict[str, str]

    def listed(self) -> list[Any]:
        from chalicelib.catalog import domain

        return [product for product in self.products if domain.is_listed(product)]


def _iso(moment: datetime) -> str:
    from chalicelib import clock

    return clock.iso(moment)


def _price(rng: random.Random, base: int) -> int:
    """A shop price around the category's, rounded to 500 Rupiah (at least 5,000)."""
    return max(5_000, round(base * rng.lognormvariate(0, 0.35) / 500) * 500)


def _description(rng: random.Random, thing: str, motif: str, material: str, origin: str) -> str:
    opening = (f"{thing} motif {motif.lower()} ini dibuat dengan tangan oleh pengrajin {origin}, "
               f"memakai bahan {material} pilihan.")
    rest = rng.sample(SENTENCES, 2)
    return " ".join([opening, *rest])


def generate_catalog(count: int, *, now: datetime | None = None, seed: int = SEED) -> GeneratedCatalog:
    """`count` products: about 3% drafts and 2% archived, a few with a variant no longer sold, 40% rated, 10% out
    of stock; exactly count // 100 of them (all listed) carry RARE_WORD, in the name or the description."""
    from chalicelib.catalog.domain import ACTIVE, ARCHIVED, DRAFT, Product, Variant

    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    rare = set(rng.sample(range(count), count // 100))
    ids: set[str] = set()
    products, on_hand, changed = [], {}, {}
    for index in range(count):
        name, things, option_kind, base_price, base_weight = CATEGORIES[index % len(CATEGORIES)]
        thing, motif = rng.choice(things), rng.choice(MOTIFS)
        material, origin = rng.choice(MATERIALS), rng.choice(ORIGINS)
        while (product_id := f"prd_{rng.getrandbits(48):012x}") in ids:
            pass
        ids.add(product_id)
        title = f"{thing} {motif} {origin}"
        if rng.random() < 0.3:
            title = f"{title} {rng.choice(QUALITIES)}"
        description = _description(rng, thing, motif, material, origin)
        if index in rare:
            if index % 2:
                title = f"{thing} {RARE_WORD.title()} {origin}"
            else:
                description = f"{description} {thing} ini {rng.choice(RARE_PHRASES).format(word=RARE_WORD)}"
        price = _price(rng, base_price)
        options = rng.sample(OPTIONS[option_kind], rng.choice((1, 1, 2, 2, 3)))
        stem = product_id[4:].upper()
        variants = tuple(
            Variant(sku=f"HK-{stem}-{position + 1}", price=price + position * _price(rng, base_price // 10),
                    weight_grams=max(20, int(base_weight * rng.uniform(0.7, 1.3))), options={key: value})
            for position, (key, value) in enumerate(options))
        if len(variants) > 1 and rng.random() < 0.1:  # a variant no longer sold
            variants = (*variants[:-1], replace(variants[-1], active=False))
        roll = rng.random()
        status = ACTIVE if index in rare or roll >= 0.05 else (DRAFT if roll < 0.03 else ARCHIVED)
        created = now - timedelta(seconds=rng.uniform(600, SPREAD_DAYS * 86_400))
        updated = created + timedelta(seconds=rng.uniform(0, (now - created).total_seconds() - 300))
        rating_count = 0 if rng.random() < 0.6 else int(rng.paretovariate(1.2))
        rating_sum = sum(rng.choices((3, 4, 5, 5, 5), k=rating_count)) if rating_count else 0
        product = Product(product_id=product_id, name=title, description=description, category=name, status=status,
                          variants=variants, images=(f"https://cdn.tokoflow.example/products/{product_id}/1.jpg",),
                          created_at=_iso(created), updated_at=_iso(updated), rating_sum=rating_sum,
                          rating_count=rating_count)
        out_of_stock = rng.random() < 0.1
        for variant in variants:
            on_hand[variant.sku] = 0 if out_of_stock else rng.randint(1, 60)
        products.append(product)
        changed[product_id] = product.updated_at
    return GeneratedCatalog(products, on_hand, changed)


def words_starting(catalog: GeneratedCatalog, prefix: str) -> int:
    """How many products have a word (name, description or category, as search folds them) starting `prefix`."""
    from chalicelib.catalog.search import fold

    pattern = re.compile(rf"\b{re.escape(fold(prefix))}", re.ASCII)
    return sum(1 for product in catalog.products
               if pattern.search(fold(f"{product.name} {product.description} {product.category}")))


# ---- loading it into the mocked account -------------------------------------------------------------------


@dataclass
class Loaded:
    products: int
    listed: int
    skus: int
    generate_seconds: float
    write_seconds: float  # products, stock rows and category counts, BatchWriteItem
    index_seconds: float  # indexing.rebuild(): recount the categories, build and write the index file
    index_bytes: int


def load_catalog(catalog: GeneratedCatalog) -> tuple[float, dict[str, Any]]:
    """Write the catalog into the current (mocked) account: (seconds writing, the rebuild's summary).

    `indexing.rebuild()` builds the index file and recounts the categories as the command does, its read of every
    product answered with what was just written: moto pages a Scan by sorting the whole table again for every
    page of 500 (about a quarter of an hour at 50,000 products), a cost of the mock, not of the rebuild."""
    from chalicelib.catalog import domain, indexing, repository
    from chalicelib.inventory.domain import DEFAULT_LOW_STOCK_THRESHOLD
    from chalicelib.inventory.repository import LOW, StockModel

    started = time.perf_counter()
    with repository.ProductModel.batch_write() as products:
        for product in catalog.products:
            item = repository.to_model(product, version=1, changed_at=catalog.changed_at[product.product_id])
            if product.rating_count:
                item.rating_sum, item.rating_count = product.rating_sum, product.rating_count
            products.save(item)
    with StockModel.batch_write() as stock:
        for product in catalog.products:
            for variant in product.variants:
                units = catalog.on_hand[variant.sku]
                stock.save(StockModel(variant.sku, product_id=product.product_id, on_hand=units, reserved=0,
                                      available=units, low_stock_threshold=DEFAULT_LOW_STOCK_THRESHOLD,
                                      low_stock=LOW if units <= DEFAULT_LOW_STOCK_THRESHOLD else None, version=1,
                                      updated_at=product.created_at))
    counts = {entry["slug"]: (entry["name"], entry["product_count"]) for entry in domain.categories(catalog.listed())}
    repository.replace_category_counts(counts)
    written = time.perf_counter() - started

    def every_product() -> Iterator[tuple[Any, str | None]]:
        for product in catalog.products:
            yield product, catalog.changed_at[product.product_id]

    with mock.patch.object(repository, "every_product", every_product):
        summary = indexing.rebuild()
    if (summary["products"], summary["listed"]) != (len(catalog.products), len(catalog.listed())):
        raise RuntimeError(f"the rebuild saw {summary['products']} products, {summary['listed']} listed")
    return written, summary


# ---- read units: what DynamoDB is asked for, and what the answers' items weigh ---------------------------

_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})
_CAPACITY_ID = "tokoflow-bench-consumed-capacity"


@dataclass
class CapacityMeter:
    """What DynamoDB said it consumed (ConsumedCapacity.CapacityUnits summed) over the reads answered."""

    units: float = 0.0
    answers: int = 0  # reads answered with a ConsumedCapacity
    reads: int = 0  # reads answered


_meters: list[CapacityMeter] = []
_meters_lock = threading.Lock()


def _ask_capacity(params: dict[str, Any], model: Any, **_: Any) -> None:
    if _meters and model.name in _READS:
        params.setdefault("ReturnConsumedCapacity", "TOTAL")


def _add_capacity(parsed: Mapping[str, Any], model: Any, **_: Any) -> None:
    if not _meters or model.name not in _READS or "Error" in parsed:
        return
    consumed = parsed.get("ConsumedCapacity")
    entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
    units = sum(float(entry.get("CapacityUnits", 0)) for entry in entries)
    with _meters_lock:
        for meter in _meters:
            meter.reads += 1
            meter.answers += 1 if entries else 0
            meter.units += units


def ask_consumed_capacity(client: Any) -> None:
    """Ask for ReturnConsumedCapacity=TOTAL on this client's DynamoDB reads while a meter is open, and sum the
    answers (registering twice is harmless)."""
    events = client.meta.events
    events.register("before-parameter-build.dynamodb.*", _ask_capacity, unique_id=f"{_CAPACITY_ID}-ask")
    events.register("after-call.dynamodb.*", _add_capacity, unique_id=f"{_CAPACITY_ID}-sum")


def app_dynamodb_clients() -> list[Any]:
    """The botocore clients the catalog's reads go through: the shared pynamodb connection (batch reads), each
    model's table connection (queries, scans) and the app's boto3 client."""
    from chalicelib import aws, db
    from chalicelib.catalog.repository import CategoryModel, ProductModel
    from chalicelib.inventory.repository import StockModel

    tables = [model._get_connection().connection.client for model in (ProductModel, CategoryModel, StockModel)]
    return [db.connection().client, *tables, aws.client("dynamodb")]


@contextmanager
def consumed_capacity() -> Iterator[CapacityMeter]:
    meter = CapacityMeter()
    with _meters_lock:
        _meters.append(meter)
    try:
        yield meter
    finally:
        with _meters_lock:
            _meters.remove(meter)


# ---- measuring ----------------------------------------------------------------------------------------------


@dataclass
class Operation:
    """One storefront request measured `runs` times at one size."""

    name: str
    path: str
    seconds: list[float] = field(default_factory=list)
    moto_seconds: list[float] = field(default_factory=list)
    read_units: list[float] = field(default_factory=list)  # computed from the items returned, per call
    moto_units: list[float] = field(default_factory=list)  # moto's ConsumedCapacity, per call
    items: int = 0  # products (or categories) the answer listed
    requests: AwsRequests = field(default_factory=AwsRequests)  # of the last call
    parts: list[tuple[str, float | None]] = field(default_factory=list)  # the last call's requests and their RU
    warmup_seconds: float = 0.0  # the untimed first call (the first search loads the index file)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000

    @property
    def p95_ms(self) -> float:
        return percentile(self.seconds, 0.95) * 1000

    @property
    def moto_ms(self) -> float:
        return statistics.median(self.moto_seconds) * 1000

    @property
    def outside_moto_ms(self) -> float:
        return statistics.median(total - moto for total, moto in zip(self.seconds, self.moto_seconds,
                                                                      strict=True)) * 1000

    @property
    def units(self) -> float:
        return statistics.median(self.read_units)

    @property
    def moto_capacity(self) -> float:
        return statistics.median(self.moto_units)


@dataclass
class Walk:
    """Every page of one listing, cursor after cursor."""

    name: str
    limit: int
    pages: int
    listed: int  # rows over all pages
    distinct: int
    expected: int  # listed products the shelf holds (-1: the walk listed a product it does not hold)
    seconds: float = 0.0

    @property
    def exactly_once(self) -> bool:
        return self.listed == self.distinct == self.expected


@dataclass
class SizeResult:
    size: int
    loaded: Loaded
    operations: list[Operation]
    walks: list[Walk]
    seconds: float  # the whole size: generate, load, measure, walk


@dataclass
class Measured:
    sizes: list[SizeResult] = field(default_factory=list)
    seconds: float = 0.0
    moto_speedups: bool = False  # whether another module sped up moto's answers while measuring


def runs_for(first_seconds: float, runs: int, budget: float = OPERATION_BUDGET_SECONDS) -> int:
    """How many times to repeat an operation whose first timed call took `first_seconds`: `runs`, or as many as
    fit the budget when that is fewer (never under MIN_RUNS, nor over `runs`)."""
    if first_seconds <= 0:
        return runs
    return max(min(MIN_RUNS, runs), min(runs, int(budget / first_seconds)))


def _products_path(**query: Any) -> str:
    return "/products?" + urlencode({name: value for name, value in query.items() if value is not None})


def _label(call: ApiCall) -> str:
    """"Query products/shelf-newest", "BatchGetItem stock (consistent)": a request, its tables and index."""
    from chalicelib import config

    prefix = f"{config.prefix()}-"
    params = call.params
    tables = [params["TableName"]] if "TableName" in params else list(params.get("RequestItems", {}))
    names = "+".join(table.removeprefix(prefix) for table in tables)
    where = f"{names}/{params['IndexName']}" if "IndexName" in params else names
    consistent = params.get("ConsistentRead") or any(
        spec.get("ConsistentRead") for spec in params.get("RequestItems", {}).values())
    label = f"{call.operation} {where}".strip() if call.service == "dynamodb" else f"{call.service}:{call.operation}"
    return f"{label} (consistent)" if consistent else label


def _timed_call(api: Any, path: str) -> tuple[float, float, float, float, AwsRequests, Any]:
    """(seconds, seconds inside moto, read units computed, moto's units, requests, answer) of one GET."""
    from bench.reports import moto_time, read_units
    from bench.request_count import count_aws_requests

    with count_aws_requests() as requests, consumed_capacity() as meter, moto_time() as spent:
        started = time.perf_counter()
        answer = api.call("GET", path)
        seconds = time.perf_counter() - started
    dynamodb_reads = sum(1 for call in requests.calls if call.service == "dynamodb" and call.operation in _READS)
    if meter.reads != dynamodb_reads:
        raise RuntimeError(f"GET {path}: {dynamodb_reads} DynamoDB reads, {meter.reads} seen by the capacity hook:"
                           " a client the bench does not watch")
    return seconds, spent[0], read_units(requests.calls), meter.units, requests, answer


def read_parts(requests: AwsRequests) -> list[tuple[str, float | None]]:
    """Each request of a call with the read units it cost (None: not a DynamoDB read)."""
    from bench.reports import read_units

    return [(_label(call), read_units([call]) if call.service == "dynamodb" and call.operation in _READS else None)
            for call in requests.calls]


def measure_operation(api: Any, name: str, path: str, runs: int) -> Operation:
    """Call once (warm-up, not kept), then `runs` times, or fewer when slow (runs_for)."""
    operation = Operation(name, path)
    started = time.perf_counter()
    api.call("GET", path)
    operation.warmup_seconds = time.perf_counter() - started
    wanted = runs
    while len(operation.seconds) < wanted:
        seconds, in_moto, units, moto_units, requests, answer = _timed_call(api, path)
        operation.seconds.append(seconds)
        operation.moto_seconds.append(in_moto)
        operation.read_units.append(units)
        operation.moto_units.append(moto_units)
        operation.requests = requests
        operation.parts = read_parts(requests)
        operation.items = len(answer["items"])
        if len(operation.seconds) == 1:
            wanted = runs_for(seconds, runs)
    return operation


def walk(api: Any, name: str, expected: set[str], *, limit: int, **query: Any) -> Walk:
    """Follow next_cursor from the first page to the last; every row's product id kept."""
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    started = time.perf_counter()
    while True:
        answer = api.call("GET", _products_path(limit=limit, cursor=cursor, **query))
        pages += 1
        seen.extend(item["product_id"] for item in answer["items"])
        cursor = answer["next_cursor"]
        if not cursor:
            break
    distinct = set(seen)
    return Walk(name=name, limit=limit, pages=pages, listed=len(seen), distinct=len(distinct),
                expected=len(expected) if distinct <= expected else -1, seconds=time.perf_counter() - started)


def walk_category() -> str:
    """The slug of the category paged and walked by price: the first one."""
    from chalicelib.catalog.domain import slugify

    return slugify(CATEGORIES[0][0])


def measure_size(size: int, runs: int, *, walk_limit: int | None, category_walk_limit: int = PAGE) -> SizeResult:
    """Generate, load and browse one catalog in a fresh mocked account; walk it when `walk_limit` is given."""
    from chalice.test import Client

    from bench.request_count import _Api
    from chalicelib.catalog import indexing
    from local.offline import mocked_account

    started = time.perf_counter()
    catalog = generate_catalog(size)
    generated = time.perf_counter() - started
    listed = catalog.listed()
    with mocked_account():
        indexing._embedded.cache_clear()  # this account's search container starts without an index
        write_seconds, summary = load_catalog(catalog)
        loaded = Loaded(products=size, listed=len(listed), skus=len(catalog.on_hand), generate_seconds=generated,
                        write_seconds=write_seconds, index_seconds=float(summary["seconds"]),
                        index_bytes=int(summary.get("bytes", 0)))
        slug = walk_category()
        gc.collect()
        gc.freeze()  # moto's copy of the catalog is not the app's: no cyclic collection walks it while timing
        try:
            from app import app

            with Client(app, stage_name="dev") as client:
                api = _Api(client)
                cursor = None
                for _ in range(4):  # the fifth page's cursor: next_cursor followed four times
                    cursor = api.call("GET", _products_path(limit=PAGE, cursor=cursor))["next_cursor"]
                    if cursor is None:
                        raise RuntimeError(f"{size} products: fewer than five pages of {PAGE}")
                planned = [
                    ("first page", _products_path(limit=PAGE)),
                    ("fifth page", _products_path(limit=PAGE, cursor=cursor)),
                    ("category page by price", _products_path(category=slug, sort="price_asc", limit=PAGE)),
                    (f"search, 1% match ({RARE_WORD})", _products_path(q=RARE_WORD, limit=SEARCH_PAGE)),
                    (f"search, no match ({NO_MATCH_WORD})", _products_path(q=NO_MATCH_WORD, limit=SEARCH_PAGE)),
                    ("/categories", "/categories"),
                ]
                for client_ in app_dynamodb_clients():
                    ask_consumed_capacity(client_)
                    instrument_client(client_)  # a client made before counting began (pynamodb keeps its own)
                operations = [measure_operation(api, name, path, runs) for name, path in planned]
                walks = []
                if walk_limit:
                    every = {product.product_id for product in listed}
                    in_category = {product.product_id for product in listed if product.category_slug == slug}
                    walks = [walk(api, "default listing", every, limit=walk_limit),
                             walk(api, f"category {slug} by price", in_category, limit=category_walk_limit,
                                  category=slug, sort="price_asc")]
        finally:
            gc.unfreeze()
    return SizeResult(size, loaded, operations, walks, time.perf_counter() - started)


def sizes_from(text: str | None) -> tuple[int, ...]:
    """"1000,10000" -> (1000, 10000); None or "" -> SIZES."""
    if not text or not text.strip():
        return SIZES
    sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    if not sizes or any(size < 100 for size in sizes):
        raise ValueError("catalog sizes are whole numbers of at least 100 products, comma separated")
    return sizes


def walk_size_for(sizes: Sequence[int], wanted: int = WALK_SIZE) -> int:
    """The size walked: WALK_SIZE when measured, else the measured size nearest to it."""
    return min(sizes, key=lambda size: (abs(size - wanted), size))


def measure(sizes: Sequence[int] | None = None, *, runs: int = RUNS, walk_limit: int = 100,
            category_walk_limit: int = PAGE) -> Measured:
    """Each size in its own mocked account; the walk at walk_size_for(sizes)."""
    from bench.request_count import captured_stdout, install
    from local.offline import configure_environment

    configure_environment()
    install()  # before any client exists
    chosen = tuple(sizes) if sizes else sizes_from(os.environ.get(SIZES_VARIABLE))
    walked = walk_size_for(chosen)
    measured = Measured()
    started = time.perf_counter()
    with captured_stdout(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        for size in chosen:
            measured.sizes.append(measure_size(size, runs, walk_limit=walk_limit if size == walked else None,
                                               category_walk_limit=category_walk_limit))
    measured.seconds = time.perf_counter() - started
    measured.moto_speedups = "local.moto_speedups" in sys.modules
    return measured


# ---- printing -------------------------------------------------------------------------------------------------

PAGE_AND_SEARCH = 5  # the first five operations are the goal's page and search figures


def _ratio(big: float, small: float) -> float:
    return big / small if small > 0 else float("inf")


def goal_lines(small: SizeResult, large: SizeResult, goal: float = GOAL_RATIO) -> tuple[list[str], bool]:
    """One line per page and search operation: its figures at `large` over those at `small`, and whether each
    is within `goal`; and whether all are."""
    lines, all_within = [], True
    for before, after in list(zip(small.operations, large.operations, strict=True))[:PAGE_AND_SEARCH]:
        ratios = {"median": _ratio(after.median_ms, before.median_ms), "p95": _ratio(after.p95_ms, before.p95_ms),
                  "RU": _ratio(after.units, before.units)}
        within = all(value <= goal for value in ratios.values())
        all_within = all_within and within
        figures = ", ".join(f"{name} x{value:.2f}" for name, value in ratios.items())
        outside = _ratio(after.outside_moto_ms, before.outside_moto_ms)
        lines.append(f"{after.name:<{_TITLE}}{figures}: within {goal:g}x {'yes' if within else 'no'}"
                     f" (outside moto: median x{outside:.2f})")
    return lines, all_within


_TITLE = 30
_CELL = 7


def _ms(milliseconds: float) -> str:
    """One decimal under a second, whole milliseconds above (a column stays 7 characters wide)."""
    return f"{milliseconds:.1f}" if milliseconds < 1000 else f"{milliseconds:.0f}"


def _grid(results: list[SizeResult], heading: str, columns: Sequence[str], cells: Any, cell: int = _CELL) -> None:
    """Rows = operations; per size a group of `columns`, filled by cells(operation) -> values."""
    group = 1 + cell * len(columns)
    print(f"    {heading:<{_TITLE}}" + "".join(f"{f'| {result.size:,}':<{group}}" for result in results))
    print(f"    {'':<{_TITLE}}" + "".join("|" + "".join(f"{column:>{cell}}" for column in columns)
                                        for _ in results))
    for index, operation in enumerate(results[0].operations):
        print(f"    {operation.name:<{_TITLE}}" + "".join(
            "|" + "".join(f"{value:>{cell}}" for value in cells(result.operations[index])) for result in results))


def print_catalog(measured: Measured) -> None:
    """Section (h): loading, the operations' figures per size, the goal's ratios, the walk."""
    results = measured.sizes
    if not results:
        return
    sizes = ", ".join(f"{result.size:,}" for result in results[:-1])
    sizes = f"{sizes} and {results[-1].size:,}" if sizes else f"{results[-1].size:,}"
    print(f"(h) Catalog at scale: {sizes} products (moto in-process, chalice.test.Client, {measured.seconds:.0f} s)")
    for line in (
            "Each size generated straight into a fresh mocked account: BatchWriteItem of the products as the catalog",
            "repository stores them and of one stock row per SKU, the category counts, then indexing.rebuild() writes",
            "the search index file (its read of every product handed what was written: moto pages a Scan by sorting",
            f"the whole table for every page). Exactly 1% of the products, all listed, carry \"{RARE_WORD}\". Each",
            "request is called once (warm-up: the first search loads the index file), then repeated (runs below; the",
            "p95 of 5 runs is the slowest). RU: read request units per call, from the items each read returned, by",
            "DynamoDB's rules (a Query 0.5 per started 4 KB of all its items, BatchGetItem per item, strongly",
            "consistent double); every read asks for ReturnConsumedCapacity=TOTAL, and moto answers a fixed figure",
            "whatever it read (moto CU below). The time inside moto is shown apart: as it ships, moto answers a Query",
            "on an index by walking and sorting the whole table (DynamoDB reads the partition's page).",
            "moto as it ships: local.moto_speedups not loaded." if not measured.moto_speedups else
            "moto with local.moto_speedups loaded (index queries on a cached sorted partition).",
    ):
        print(f"    {line}")
    width = 26
    print(f"    {'':<{_TITLE + 6}}" + "".join(f"{f'{result.size:,} products':>{width}}" for result in results))
    loading = (
        ("products listed / SKUs", lambda r: f"{r.loaded.listed:,} / {r.loaded.skus:,}"),
        ("generate / write / index (s)",
         lambda r: f"{r.loaded.generate_seconds:.1f} / {r.loaded.write_seconds:.1f} / {r.loaded.index_seconds:.1f}"),
        ("search index file", lambda r: f"{r.loaded.index_bytes / 1_048_576:.1f} MB"),
        ("first search, loading it (s)", lambda r: f"{r.operations[3].warmup_seconds:.2f}"),
        ("runs of each operation", lambda r: "/".join(str(len(op.seconds)) for op in r.operations)),
        ("whole size (s)", lambda r: f"{r.seconds:.0f}"),
    )
    for name, value in loading:
        print(f"    {name:<{_TITLE + 6}}" + "".join(f"{value(r):>{width}}" for r in results))
    print()
    _grid(results, "operation", ("med ms", "p95 ms", "RU", "req"),
          lambda op: (_ms(op.median_ms), _ms(op.p95_ms), f"{op.units:g}", op.requests.total()))
    print()
    _grid(results, "median ms: in moto, outside", ("moto", "outside", "items"),
          lambda op: (_ms(op.moto_ms), _ms(op.outside_moto_ms), op.items), cell=9)
    print()
    largest = results[-1]
    print(f"    Requests of one call at {largest.size:,} products and the RU of each; moto's ConsumedCapacity")
    for operation in largest.operations:
        parts = ", ".join(name if units is None else f"{name} {units:g}" for name, units in operation.parts)
        print(f"      {operation.name:<{_TITLE}}{parts or '-'} (moto CU {operation.moto_capacity:g})")
    if len(results) > 1:
        small = min(results, key=lambda result: result.size)
        large = max(results, key=lambda result: result.size)
        lines, all_within = goal_lines(small, large)
        print(f"    Goal: page and search figures at {large.size:,} products within {GOAL_RATIO:g}x those at"
              f" {small.size:,} ({large.size:,} / {small.size:,})")
        for line in lines:
            print(f"      {line}")
        print(f"      all within {GOAL_RATIO:g}x: {'yes' if all_within else 'no'}")
        for before, after in zip(small.operations, large.operations, strict=True):
            if before.items != after.items:
                print(f"      ({after.name} lists {before.items} products at {small.size:,},"
                      f" {after.items} at {large.size:,})")
    for result in results:
        for done in result.walks:
            print(f"    walk at {result.size:,}, {done.name}, limit {done.limit}: {done.listed:,} products,"
                  f" {done.distinct:,} distinct, {done.pages} pages ({done.seconds:.0f} s)")
            print(f"      each of the {done.expected:,} listed products exactly once:"
                  f" {'yes' if done.exactly_once else 'NO'}")
    print()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.catalog", description="the catalog at scale")
    parser.add_argument("--sizes", default=None,
                        help=f"comma separated product counts (default {SIZES_VARIABLE} or"
                             f" {','.join(map(str, SIZES))})")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"repeats per operation (default {RUNS})")
    args = parser.parse_args(argv)
    try:
        sizes = sizes_from(args.sizes or os.environ.get(SIZES_VARIABLE))
    except ValueError as error:
        parser.error(str(error))
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    print_catalog(measure(sizes, runs=args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
