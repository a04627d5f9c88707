"""Importing the catalog CSV into a mocked AWS account: products, stock rows, ledger, re-runs, the CLI, seeding."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Set before any chalicelib import (pynamodb models read table names at import); a shared conftest may
# already have done the same. With AWS_ENDPOINT_URL set, moto's in-process mock would intercept nothing.
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)
for _name, _value in {
    "TOKOFLOW_PREFIX": "tokoflow-test",
    "AWS_DEFAULT_REGION": "ap-southeast-3",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "POWERTOOLS_METRICS_NAMESPACE": "TokoFlow",
}.items():
    os.environ.setdefault(_name, _value)

import boto3  # noqa: E402
import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from moto import mock_aws  # noqa: E402

from chalicelib import aws as aws_clients  # noqa: E402
from chalicelib import config, resources  # noqa: E402
from chalicelib.catalog import repository  # noqa: E402
from chalicelib.catalog.csv_import import ImportSummary, import_products, parse_catalog_csv  # noqa: E402
from chalicelib.catalog.domain import ACTIVE, DRAFT  # noqa: E402
from chalicelib.inventory import repository as stock  # noqa: E402
from tools.cli import cli  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "local" / "demo_catalog.csv"
HEADER = ("handle,name,description,category,status,sku,option_size,option_colour,price,weight_grams,stock,"
          "low_stock_threshold")


def _key_schema(hash_key: resources.Key, range_key: resources.Key | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key.name, "KeyType": "HASH"}]
    if range_key is not None:
        schema.append({"AttributeName": range_key.name, "KeyType": "RANGE"})
    return schema


def create_tables(dynamodb: Any) -> None:
    """Every table exactly as chalicelib.resources describes it (keys, GSIs projecting ALL, on demand)."""
    for spec in resources.TABLES:
        index_keys = [key for index in spec.indexes for key in (index.hash_key, index.range_key)]
        attributes = {key.name: key.type for key in (spec.hash_key, spec.range_key, *index_keys) if key is not None}
        params: dict[str, Any] = {
            "TableName": spec.physical_name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in attributes.items()],
            "KeySchema": _key_schema(spec.hash_key, spec.range_key),
        }
        if spec.indexes:
            params["GlobalSecondaryIndexes"] = [
                {"IndexName": index.name, "KeySchema": _key_schema(index.hash_key, index.range_key),
                 "Projection": {"ProjectionType": "ALL"}}
                for index in spec.indexes
            ]
        dynamodb.create_table(**params)


@pytest.fixture
def shop() -> Iterator[Any]:
    """An empty mocked account with the shop's tables and media bucket; yields an S3 client."""
    with mock_aws():
        aws_clients.reset()
        create_tables(boto3.client("dynamodb", region_name=config.region()))
        s3 = boto3.client("s3", region_name=config.region())
        s3.create_bucket(Bucket=resources.MEDIA_BUCKET.physical_name,
                         CreateBucketConfiguration={"LocationConstraint": config.region()})
        yield s3
        aws_clients.reset()


def import_file(source: Any, *, actor: str = "tester") -> ImportSummary:
    products, rejected = parse_catalog_csv(source)
    assert rejected == []
    return import_products(products, actor=actor)


def demo_stock() -> dict[str, tuple[str, int, int]]:
    """SKU -> (product_id, opening stock, threshold) as the demo CSV states them."""
    products, _ = parse_catalog_csv(DEMO)
    return {
        sku: (product.product_id, product.opening_stock(sku), product.payload.get("low_stock_threshold", 5))
        for product in products
        for sku in product.skus
    }


def ledger_lines(skus: list[str]) -> dict[str, list[dict[str, Any]]]:
    return {sku: stock.ledger(sku) for sku in skus}


def write_csv(path: Path, *rows: str) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


# ---- import_products --------------------------------------------------------------------------------------


def test_demo_catalog_import_creates_products_stock_rows_and_opening_ledger_lines(shop: Any) -> None:
    expected = demo_stock()

    progress: list[tuple[str, str]] = []
    products, _ = parse_catalog_csv(DEMO)
    summary = import_products(products, actor="tester", on_progress=lambda p, outcome: progress.append(
        (p.product_id, outcome)))

    assert (summary.created, summary.updated, summary.unchanged, summary.rejected) == (len(products), 0, 0, [])
    assert summary.skus == len(expected) >= 50
    assert progress == [(product.product_id, "created") for product in products]
    active, drafts = list(repository.all_in_status(ACTIVE)), list(repository.all_in_status(DRAFT))
    assert len(active) + len(drafts) == len(products) and len(drafts) == 1
    assert sum(len(product.variants) for product in active + drafts) == len(expected)

    levels = stock.read_levels(expected)
    assert {sku: (level.product_id, level.on_hand, level.low_stock_threshold) for sku, level in levels.items()} == (
        expected
    )
    for sku, lines in ledger_lines(list(expected)).items():
        assert [(line["kind"], line["delta_on_hand"], line["on_hand_after"], line["actor"]) for line in lines] == [
            ("initial", expected[sku][1], expected[sku][1], "tester")
        ]
    low = {level.sku for level in stock.low_stock_levels()}
    assert low == {sku for sku, (_, on_hand, threshold) in expected.items() if on_hand <= threshold}
    assert len(low) >= 5


def test_importing_the_same_file_twice_creates_nothing_and_changes_no_stock(shop: Any) -> None:
    first = import_file(DEMO)
    skus = list(demo_stock())
    levels_before, ledger_before = stock.read_levels(skus), ledger_lines(skus)
    versions_before = {p.product_id: repository.get(p.product_id) for p in parse_catalog_csv(DEMO)[0]}

    second = import_file(DEMO, actor="someone-else")

    assert first.created > 0
    assert (second.created, second.updated, second.unchanged, second.skus) == (0, 0, first.created, 0)
    assert second.skus_kept == len(skus) and second.rejected == []
    assert stock.read_levels(skus) == levels_before
    assert ledger_lines(skus) == ledger_before
    assert {product_id: repository.get(product_id) for product_id in versions_before} == versions_before


def test_re_import_updates_product_fields_and_opens_only_new_skus_with_the_files_stock(
    shop: Any, tmp_path: Path
) -> None:
    original = write_csv(tmp_path / "v1.csv",
                         "kemeja,Kemeja Kawung,Katun,Batik,active,BTK-KWG-M,M,Sogan,225000,280,10,3",
                         "kemeja,,,,,BTK-KWG-L,L,Sogan,225000,290,4,")
    import_file(original)
    changed = write_csv(tmp_path / "v2.csv",
                        "kemeja,Kemeja Kawung Pria,Katun,Batik,active,BTK-KWG-M,M,Sogan,235000,280,99,3",
                        "kemeja,,,,,BTK-KWG-L,L,Sogan,225000,290,4,",
                        "kemeja,,,,,BTK-KWG-XL,XL,Sogan,245000,300,7,")

    summary = import_file(changed)

    assert (summary.created, summary.updated, summary.skus, summary.skus_kept) == (0, 1, 1, 2)
    product, version = repository.get("prd_kemeja")
    assert version == 2
    assert product.name == "Kemeja Kawung Pria"
    assert [(v.sku, v.price) for v in product.variants] == [("BTK-KWG-M", 235000), ("BTK-KWG-L", 225000),
                                                           ("BTK-KWG-XL", 245000)]
    levels = stock.read_levels(["BTK-KWG-M", "BTK-KWG-XL"])
    assert levels["BTK-KWG-M"].on_hand == 10  # an existing SKU keeps its stock: 99 in the file is ignored
    assert (levels["BTK-KWG-XL"].on_hand, levels["BTK-KWG-XL"].low_stock_threshold) == (7, 3)
    # the new SKU opens with the file's stock in the same transaction as the product update
    assert [(line["kind"], line["delta_on_hand"]) for line in stock.ledger("BTK-KWG-XL")] == [("initial", 7)]


def test_re_import_keeps_a_variant_staff_deactivated_and_images_they_uploaded(shop: Any, tmp_path: Path) -> None:
    from chalicelib.catalog import service
    from chalicelib.validation import Fields

    path = write_csv(tmp_path / "catalog.csv", "tas,Tas Pandan,,Anyaman,active,ANY-1,,Natural,135000,300,5,")
    import_file(path)
    service.update_product("prd_tas", Fields({"images": ["https://img.test/tas.jpg"], "variants": [
        {"sku": "ANY-1", "price": 135000, "weight_grams": 300, "options": {"colour": "Natural"}, "active": False}
    ]}), actor="staff-1")

    summary = import_file(path)

    product, _ = repository.get("prd_tas")
    assert summary.unchanged == 1
    assert product.images == ("https://img.test/tas.jpg",)
    assert product.variants[0].active is False


def test_a_product_the_shop_refuses_becomes_rejected_rows_and_the_import_goes_on(shop: Any, tmp_path: Path) -> None:
    import_file(write_csv(tmp_path / "first.csv", "kemeja,Kemeja,,Batik,active,BTK-1,M,,225000,280,5,"))
    clash = write_csv(tmp_path / "second.csv",
                      "blus,Blus,,Batik,active,BTK-1,S,,189000,220,5,",  # BTK-1 belongs to prd_kemeja
                      "blus,,,,,BTK-2,M,,189000,230,5,",
                      "vas,Vas,,Keramik,active,KRM-1,,,75000,900,5,")

    summary = import_file(clash)

    assert summary.created == 1 and summary.outcomes == {"prd_blus": "rejected", "prd_vas": "created"}
    assert [(row.row, row.sku) for row in summary.rejected] == [(2, "BTK-1"), (3, "BTK-2")]
    assert all("SKU already in use: BTK-1" in row.reason for row in summary.rejected)
    assert repository.get("prd_blus") is None
    assert stock.read_level("BTK-1").product_id == "prd_kemeja"


# ---- the command line -------------------------------------------------------------------------------------


def test_cli_imports_prints_a_summary_and_exits_1_when_a_row_was_rejected(shop: Any, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "catalog.csv",
                     "kemeja,Kemeja,,Batik,active,BTK-1,M,,225000,280,5,",
                     "kemeja,,,,,BTK-2,L,,seratus ribu,290,5,",
                     "vas,Vas,,Keramik,active,KRM-1,,,75000,900,0,")

    result = CliRunner().invoke(cli, ["import-catalog", str(path), "--actor", "tester"])

    assert result.exit_code == 1, result.output
    assert "2 products, 2 SKUs, 1 rejected rows" in result.stdout
    assert "Created:   2 products" in result.stdout and "New SKUs:  2 (opened with the file's stock)" in result.stdout
    assert "Rejected:  1 rows" in result.stdout
    table = result.stdout[result.stdout.index("Row"):].splitlines()
    assert table[0].split() == ["Row", "Handle", "SKU", "Reason"]
    assert table[2].split()[:3] == ["3", "kemeja", "BTK-2"]
    assert "price must be a whole number (got 'seratus ribu')" in table[2]
    assert stock.read_level("KRM-1").on_hand == 0

    again = CliRunner().invoke(cli, ["import-catalog", str(path)])
    assert "Unchanged: 2 products" in again.stdout
    assert "2 SKUs already existed" in again.stdout


def test_cli_exits_0_when_every_row_imports(shop: Any) -> None:
    result = CliRunner().invoke(cli, ["import-catalog", str(DEMO)])

    assert result.exit_code == 0, result.output
    assert "Rejected:  0 rows" in result.stdout


def test_cli_exits_2_on_an_unusable_file_and_writes_nothing(shop: Any, tmp_path: Path) -> None:
    missing_columns = tmp_path / "bad.csv"
    missing_columns.write_text("handle,name,sku\nkemeja,Kemeja,BTK-1\n", encoding="utf-8")
    header_only = write_csv(tmp_path / "empty.csv")

    bad = CliRunner().invoke(cli, ["import-catalog", str(missing_columns)])
    empty = CliRunner().invoke(cli, ["import-catalog", str(header_only)])
    absent = CliRunner().invoke(cli, ["import-catalog", str(tmp_path / "nope.csv")])

    assert bad.exit_code == 2 and "missing required column(s): category, price, weight_grams" in bad.stderr
    assert empty.exit_code == 2 and "no product rows" in empty.stderr
    assert absent.exit_code == 2
    assert list(repository.all_in_status(ACTIVE)) == []


def test_cli_exits_3_with_a_message_when_the_tables_are_not_there() -> None:
    with mock_aws():
        result = CliRunner().invoke(cli, ["import-catalog", str(DEMO)])

    assert result.exit_code == 3, result.output
    assert f"error: cannot write to tables {config.prefix()}-*" in result.stderr


def test_cli_dry_run_checks_the_file_without_writing(shop: Any) -> None:
    result = CliRunner().invoke(cli, ["import-catalog", str(DEMO), "--dry-run"])

    assert result.exit_code == 0, result.output
    assert "Dry run: nothing was written." in result.stdout
    assert list(repository.all_in_status(ACTIVE)) == []


def test_cli_token_reads_the_dev_stage_configuration_when_the_environment_lacks_it() -> None:
    import jwt

    secret = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["dev"]["environment_variables"][
        "TOKOFLOW_DEV_JWT_SECRET"]

    result = CliRunner().invoke(cli, ["token", "--role", "staff", "--sub", "staff-7", "--email", "ayu@tokokita.test"],
                                env={"TOKOFLOW_AUTH_MODE": None, "TOKOFLOW_DEV_JWT_SECRET": None})

    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.stdout.strip(), secret, algorithms=["HS256"], audience=config.DEV_AUDIENCE)
    assert (claims["sub"], claims["role"], claims["email"]) == ("staff-7", "staff", "ayu@tokokita.test")


def test_cli_token_refuses_outside_dev_auth_mode() -> None:
    result = CliRunner().invoke(cli, ["token", "--role", "admin"], env={"TOKOFLOW_AUTH_MODE": "cognito"})

    assert result.exit_code == 1
    assert "only valid when TOKOFLOW_AUTH_MODE=dev" in result.output


# ---- seeding the local stack ------------------------------------------------------------------------------


def test_seed_catalog_and_images_are_idempotent(shop: Any) -> None:
    from chalicelib.catalog.service import media_url
    from local.seed import COVER_NAME, seed_catalog, seed_images

    products, first = seed_catalog(actor="seed")
    first_images = seed_images(products, actor="seed")
    skus = list(demo_stock())
    levels = stock.read_levels(skus)

    _, second = seed_catalog(actor="seed")
    second_images = seed_images(products, actor="seed")

    assert (first.created, second.created, second.updated, second.unchanged) == (len(products), 0, 0, len(products))
    assert first_images == {"images_uploaded": len(products), "images_attached": len(products)}
    assert second_images == {"images_uploaded": len(products), "images_attached": 0}
    assert stock.read_levels(skus) == levels
    bucket = resources.MEDIA_BUCKET.physical_name
    product, _ = repository.get(products[0].product_id)
    key = f"products/{product.product_id}/{COVER_NAME}"
    assert product.images == (media_url(key),)
    cover = shop.get_object(Bucket=bucket, Key=key)
    assert cover["ContentType"] == "image/svg+xml"
    assert b">Parang Rusak Sutra</text>" in cover["Body"].read()  # the name, wrapped over lines


def test_seed_keeps_an_image_url_the_csv_gives(shop: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import local.seed as seed

    catalog = tmp_path / "demo.csv"
    catalog.write_text(HEADER + ",image_url\n" + "tas,Tas,,Anyaman,active,ANY-1,,,135000,300,5,,https://img.test/t.jpg\n",
                       encoding="utf-8")
    monkeypatch.setattr(seed, "DEMO_CATALOG", catalog)

    products, _ = seed.seed_catalog(actor="seed")

    assert seed.seed_images(products, actor="seed") == {"images_uploaded": 0, "images_attached": 0}
    assert repository.get("prd_tas")[0].images == ("https://img.test/t.jpg",)


def test_media_url_is_path_style_on_the_local_endpoint_and_virtual_hosted_on_aws(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chalicelib.catalog.service import media_url

    bucket = resources.MEDIA_BUCKET.physical_name
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566/")
    local = media_url("products/prd_x/cover.svg")
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    real = media_url("products/prd_x/cover.svg")
    monkeypatch.setenv("TOKOFLOW_MEDIA_PUBLIC_BASE_URL", "https://media.tokokita.id")
    cdn = media_url("products/prd_x/cover.svg")

    assert local == f"http://127.0.0.1:4566/{bucket}/products/prd_x/cover.svg"
    assert real == f"https://{bucket}.s3.{config.region()}.amazonaws.com/products/prd_x/cover.svg"
    assert cdn == "https://media.tokokita.id/products/prd_x/cover.svg"


def test_seed_demo_twice_is_harmless(shop: Any) -> None:
    from chalicelib import clock
    from chalicelib.vouchers import repository as vouchers
    from chalicelib.vouchers.domain import discount, problem
    from local.seed import demo_vouchers, seed_demo

    first = seed_demo()
    second = seed_demo()

    products = first["products"]
    assert first["products_created"] == products >= 24 and first["skus_created"] >= 50
    assert first["vouchers_created"] == len(demo_vouchers()) and first["vouchers_existing"] == 0
    assert first["rejected_rows"] == 0
    assert (second["products_created"], second["products_updated"], second["skus_created"]) == (0, 0, 0)
    assert second["products_unchanged"] == products and second["images_attached"] == 0
    assert (second["vouchers_created"], second["vouchers_existing"]) == (0, len(demo_vouchers()))
    now = clock.now_iso()
    assert problem(vouchers.get("EXPIRED5"), subtotal=1_000_000, now_iso=now) == "voucher has expired"
    jogja = vouchers.get("JOGJA10")
    assert problem(jogja, subtotal=1_000_000, now_iso=now) is None
    assert discount(jogja, 1_000_000) == 50_000  # 10% capped at Rp50.000
