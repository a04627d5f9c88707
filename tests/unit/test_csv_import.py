"""Unit tests for parsing catalog CSVs: grouping rows into products, options, every rejection, header errors."""

from __future__ import annotations

import io
import os
from pathlib import Path

# Set before any chalicelib import (pynamodb models read table names at import); a shared conftest may
# already have done the same.
os.environ.pop("AWS_ENDPOINT_URL", None)
for _name, _value in {
    "TOKOFLOW_PREFIX": "tokoflow-test",
    "AWS_DEFAULT_REGION": "ap-southeast-3",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}.items():
    os.environ.setdefault(_name, _value)

import pytest  # noqa: E402

from chalicelib.catalog import domain  # noqa: E402
from chalicelib.catalog.csv_import import (  # noqa: E402
    REQUIRED_COLUMNS,
    CatalogFileError,
    ProductRows,
    RejectedRow,
    parse_catalog_csv,
    product_id_for,
    update_payload,
)
from chalicelib.validation import Fields  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "local" / "demo_catalog.csv"
HEADER = ("handle,name,description,category,status,sku,option_size,option_colour,option_motif,price,weight_grams,"
          "length_cm,width_cm,height_cm,stock,low_stock_threshold,image_url")


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def parse_rows(*rows: str) -> tuple[list[ProductRows], list[RejectedRow]]:
    return parse_catalog_csv(csv_text(*rows))


def only_rejection(*rows: str) -> RejectedRow:
    _, rejected = parse_rows(*rows)
    assert len(rejected) == 1, rejected
    return rejected[0]


KEMEJA_M = "kemeja-kawung,Kemeja Kawung,Katun,Batik,active,btk-kwg-m,M,Sogan,Kawung,225000,280,,,,18,5,"
KEMEJA_L = "kemeja-kawung,,,,,BTK-KWG-L,L,Sogan,Kawung,225000,290,,,,3,,"
BASKET = "keranjang-rotan,Keranjang Rotan,,Anyaman,active,ANY-KRJ-M,M,,,165000,800,35,35,30,9,,"


# ---- grouping ---------------------------------------------------------------------------------------------


def test_rows_of_one_handle_become_one_product_with_follow_up_rows_inheriting_product_fields() -> None:
    products, rejected = parse_rows(KEMEJA_M, KEMEJA_L, BASKET)

    assert rejected == []
    assert [p.product_id for p in products] == ["prd_kemeja-kawung", "prd_keranjang-rotan"]
    kemeja = products[0]
    assert kemeja.handle == "kemeja-kawung"
    assert kemeja.rows == [2, 3]
    assert kemeja.skus == ["BTK-KWG-M", "BTK-KWG-L"]  # upper-cased, as the domain stores them
    assert kemeja.payload == {
        "name": "Kemeja Kawung",
        "description": "Katun",
        "category": "Batik",
        "status": "active",
        "low_stock_threshold": 5,
        "variants": [
            {"sku": "BTK-KWG-M", "price": 225000, "weight_grams": 280,
             "options": {"size": "M", "colour": "Sogan", "motif": "Kawung"}},
            {"sku": "BTK-KWG-L", "price": 225000, "weight_grams": 290,
             "options": {"size": "L", "colour": "Sogan", "motif": "Kawung"}},
        ],
        "images": [],
        "initial_stock": {"BTK-KWG-M": 18, "BTK-KWG-L": 3},
    }


def test_follow_up_rows_may_repeat_identical_product_fields() -> None:
    repeated = "kemeja-kawung,Kemeja Kawung,Katun,Batik,Active,BTK-KWG-L,L,,,225000,290,,,,3,5,"

    products, rejected = parse_rows(KEMEJA_M, repeated)

    assert rejected == []
    assert products[0].skus == ["BTK-KWG-M", "BTK-KWG-L"]
    assert products[0].payload["status"] == "active"


def test_rows_of_a_handle_need_not_be_adjacent() -> None:
    products, _ = parse_rows(KEMEJA_M, BASKET, KEMEJA_L)

    assert [p.product_id for p in products] == ["prd_kemeja-kawung", "prd_keranjang-rotan"]
    assert products[0].rows == [2, 4]


def test_options_hold_only_non_empty_option_columns_and_any_option_column_counts() -> None:
    header = "handle,name,category,sku,price,weight_grams,option_size,option_colour,option_material"
    text = csv_text("tas-pandan,Tas Pandan,Anyaman,ANY-PDN-1,135000,300,,Natural,Pandan", header=header)

    products, rejected = parse_catalog_csv(text)

    assert rejected == []
    assert products[0].payload["variants"][0]["options"] == {"colour": "Natural", "material": "Pandan"}


def test_dimensions_are_given_all_three_or_not_at_all() -> None:
    products, _ = parse_rows(BASKET, KEMEJA_M)

    assert products[0].payload["variants"][0]["dimensions"] == {"length_cm": 35, "width_cm": 35, "height_cm": 30}
    assert "dimensions" not in products[1].payload["variants"][0]


def test_optional_fields_left_blank_are_left_out_for_the_domain_defaults() -> None:
    products, _ = parse_rows("vas-kasongan,Vas Kasongan,,Keramik,,KRM-VAS-S,,,,75000,900,,,,,,")

    payload = products[0].payload
    assert "description" not in payload and "status" not in payload and "low_stock_threshold" not in payload
    assert payload["initial_stock"] == {"KRM-VAS-S": 0}  # blank stock opens at zero


def test_images_are_collected_once_each_in_file_order() -> None:
    first = "kain-lurik,Kain Lurik,,Tenun,active,TNN-LRK-1,,,,95000,120,,,,1,,https://img.test/a.jpg"
    second = "kain-lurik,,,,,TNN-LRK-2,,,,95000,120,,,,1,,https://img.test/b.jpg"
    third = "kain-lurik,,,,,TNN-LRK-3,,,,95000,120,,,,1,,https://img.test/a.jpg"

    products, rejected = parse_rows(first, second, third)

    assert rejected == []
    assert products[0].payload["images"] == ["https://img.test/a.jpg", "https://img.test/b.jpg"]


def test_product_id_is_prd_and_the_slug_of_the_handle_capped_at_64_characters() -> None:
    assert product_id_for("Kemeja Batik Kawung") == "prd_kemeja-batik-kawung"
    assert product_id_for("Selendang Sutra Lasem (Merah Getih)") == "prd_selendang-sutra-lasem-merah-getih"
    long_id = product_id_for("kain " * 40)
    assert len(long_id) <= 64 and long_id.startswith("prd_kain-kain") and not long_id.endswith("-")


def test_header_is_case_and_space_insensitive_and_a_byte_order_mark_is_ignored() -> None:
    header = "\ufeff Handle ,NAME,Category,SKU,Price,Weight_Grams"
    products, rejected = parse_catalog_csv(csv_text("tas,Tas,Anyaman,ANY-1,1000,100", header=header))

    assert rejected == [] and products[0].skus == ["ANY-1"]


def test_accepts_csv_text_a_path_or_an_open_file(tmp_path: Path) -> None:
    text = csv_text(KEMEJA_M)
    path = tmp_path / "catalog.csv"
    path.write_text("\ufeff" + text, encoding="utf-8")

    from_text, _ = parse_catalog_csv(text)
    from_path, _ = parse_catalog_csv(path)
    from_file, _ = parse_catalog_csv(io.StringIO(text))

    assert from_text == from_path == from_file


def test_blank_lines_are_skipped_and_row_numbers_stay_those_of_the_spreadsheet() -> None:
    products, rejected = parse_rows(KEMEJA_M, ",,,,,,,,,,,,,,,,", "", "kemeja-kawung,,,,,BTK-KWG-L,L,,,oops,290,,,,3,,")

    assert products[0].rows == [2]
    assert [r.row for r in rejected] == [5]


def test_quoted_fields_keep_commas_and_line_breaks() -> None:
    row = 'tas,"Tas Pandan, Besar","Anyaman tangan,\nRajapolah",Anyaman,active,ANY-1,,,,135000,300,,,,2,,'

    products, rejected = parse_rows(row)

    assert rejected == []
    assert products[0].payload["name"] == "Tas Pandan, Besar"
    assert products[0].payload["description"] == "Anyaman tangan,\nRajapolah"


# ---- rejections -------------------------------------------------------------------------------------------


def test_empty_handle_is_rejected() -> None:
    rejected = only_rejection(",Kemeja,,Batik,active,BTK-1,,,,1000,100,,,,1,,")
    assert (rejected.row, rejected.handle, rejected.sku) == (2, "", "BTK-1")
    assert rejected.reason == "handle is empty"


def test_handle_without_letters_or_digits_is_rejected() -> None:
    assert "at least one letter or digit" in only_rejection("---,Kemeja,,Batik,,BTK-1,,,,1000,100,,,,1,,").reason


def test_empty_sku_is_rejected() -> None:
    rejected = only_rejection("kemeja,Kemeja,,Batik,active,,M,,,1000,100,,,,1,,")
    assert (rejected.handle, rejected.reason) == ("kemeja", "sku is empty")


def test_sku_with_characters_the_shop_refuses_is_rejected() -> None:
    assert "may only hold" in only_rejection("kemeja,Kemeja,,Batik,,BTK 1,,,,1000,100,,,,1,,").reason


def test_empty_name_on_the_first_row_of_a_product_is_rejected() -> None:
    rejected = only_rejection("kemeja,,,Batik,active,BTK-1,,,,1000,100,,,,1,,")
    assert rejected.reason.startswith("name is empty")


def test_empty_category_on_the_first_row_of_a_product_is_rejected() -> None:
    rejected = only_rejection("kemeja,Kemeja,,,active,BTK-1,,,,1000,100,,,,1,,")
    assert rejected.reason.startswith("category is empty")


@pytest.mark.parametrize(
    ("price", "weight", "stock", "reason"),
    [
        ("abc", "100", "1", "price must be a whole number (got 'abc')"),
        ("1500.50", "100", "1", "price must be a whole number (got '1500.50')"),
        ("Rp 150.000", "100", "1", "price must be a whole number (got 'Rp 150.000')"),
        ("-5000", "100", "1", "price must not be negative (got -5000)"),
        ("0", "100", "1", "price must be at least 1 (got 0)"),
        ("", "100", "1", "price is empty"),
        ("1000", "1,5", "1", "weight_grams must be a whole number (got '1,5')"),
        ("1000", "-100", "1", "weight_grams must not be negative (got -100)"),
        ("1000", "0", "1", "weight_grams must be at least 1 (got 0)"),
        ("1000", "100", "-2", "stock must not be negative (got -2)"),
        ("1000", "100", "two", "stock must be a whole number (got 'two')"),
        ("1000", "100", "2000000", "stock must be at most 1000000 (got 2000000)"),
    ],
)
def test_bad_numbers_reject_the_row(price: str, weight: str, stock: str, reason: str) -> None:
    rejected = only_rejection(f'kemeja,Kemeja,,Batik,active,BTK-1,,,,"{price}","{weight}",,,,"{stock}",,')
    assert (rejected.row, rejected.sku, rejected.reason) == (2, "BTK-1", reason)


def test_bad_low_stock_threshold_rejects_the_row() -> None:
    assert only_rejection("kemeja,Kemeja,,Batik,,BTK-1,,,,1000,100,,,,1,lima,").reason == (
        "low_stock_threshold must be a whole number (got 'lima')"
    )


def test_partial_or_bad_dimensions_reject_the_row() -> None:
    assert "fill in all three" in only_rejection("vas,Vas,,Keramik,,KRM-1,,,,1000,100,20,,30,1,,").reason
    assert only_rejection("vas,Vas,,Keramik,,KRM-1,,,,1000,100,20,20,900,1,,").reason == (
        "height_cm must be at most 500 (got 900)"
    )


def test_duplicate_sku_in_the_file_is_rejected_and_names_the_first_row() -> None:
    other = "kemeja-truntum,Kemeja Truntum,,Batik,active,BTK-KWG-M,M,,,675000,320,,,,5,,"

    products, rejected = parse_rows(KEMEJA_M, other)

    assert [p.product_id for p in products] == ["prd_kemeja-kawung"]
    assert rejected == [RejectedRow(3, "kemeja-truntum", "BTK-KWG-M", "duplicate SKU BTK-KWG-M: already on row 2")]


def test_duplicate_sku_differing_only_in_case_is_a_duplicate() -> None:
    rejected = only_rejection(KEMEJA_M, "kemeja-kawung,,,,,Btk-Kwg-M,M,,,225000,280,,,,1,,")
    assert rejected.reason == "duplicate SKU BTK-KWG-M: already on row 2"


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ("kemeja-kawung,Kemeja Truntum,,,,BTK-KWG-L,L,,,225000,290,,,,3,,", "name"),
        ("kemeja-kawung,,,Tenun,,BTK-KWG-L,L,,,225000,290,,,,3,,", "category"),
        ("kemeja-kawung,,,,draft,BTK-KWG-L,L,,,225000,290,,,,3,,", "status"),
        ("kemeja-kawung,,Sutra,,,BTK-KWG-L,L,,,225000,290,,,,3,,", "description"),
        ("kemeja-kawung,,,,,BTK-KWG-L,L,,,225000,290,,,,3,10,", "low_stock_threshold"),
    ],
)
def test_conflicting_product_fields_between_rows_of_one_handle_reject_the_later_row(row: str, column: str) -> None:
    products, rejected = parse_rows(KEMEJA_M, row)

    assert products[0].skus == ["BTK-KWG-M"]
    assert len(rejected) == 1
    assert rejected[0].row == 3
    assert rejected[0].reason.startswith(f"{column} ")
    assert "on row 2 of the same handle" in rejected[0].reason


def test_unknown_status_is_rejected() -> None:
    assert only_rejection("kemeja,Kemeja,,Batik,published,BTK-1,,,,1000,100,,,,1,,").reason == (
        "status must be one of draft, active, archived (got 'published')"
    )


def test_image_url_that_is_not_http_is_rejected() -> None:
    assert "image_url must be an http(s) URL" in only_rejection(
        "kemeja,Kemeja,,Batik,,BTK-1,,,,1000,100,,,,1,,ftp://img.test/a.jpg"
    ).reason


def test_row_with_more_values_than_the_header_is_rejected() -> None:
    assert "but the header has 17 columns" in only_rejection(KEMEJA_M + ",extra").reason


def test_two_handles_with_the_same_product_id_are_not_merged() -> None:
    rejected = only_rejection(KEMEJA_M, "Kemeja Kawung,Kemeja Kawung,,Batik,,BTK-KWG-L,L,,,225000,290,,,,3,,")
    assert "gives the same product id prd_kemeja-kawung as 'kemeja-kawung' on row 2" in rejected.reason


def test_product_whose_every_row_is_rejected_is_dropped_and_the_rest_still_imports() -> None:
    bad_first = "kemeja,Kemeja,,Batik,active,BTK-1,,,,abc,100,,,,1,,"
    bad_second = "kemeja,,,,,BTK-2,,,,1000,-1,,,,1,,"

    products, rejected = parse_rows(bad_first, bad_second, BASKET)

    assert [p.product_id for p in products] == ["prd_keranjang-rotan"]
    assert [r.row for r in rejected] == [2, 3]


def test_product_fields_of_a_row_rejected_for_its_variant_still_belong_to_the_product() -> None:
    """A typo in the first row's price must not also cost the product its name."""
    products, rejected = parse_rows("kemeja,Kemeja,,Batik,active,BTK-1,,,,abc,100,,,,1,,",
                                    "kemeja,,,,,BTK-2,,,,1000,100,,,,1,,")

    assert [r.row for r in rejected] == [2]
    assert products[0].payload["name"] == "Kemeja" and products[0].skus == ["BTK-2"]


# ---- the file as a whole ----------------------------------------------------------------------------------


def test_missing_required_columns_is_a_clear_file_error() -> None:
    with pytest.raises(CatalogFileError) as error:
        parse_catalog_csv("handle,name,sku,price\nkemeja,Kemeja,BTK-1,1000\n")

    message = str(error.value)
    assert message.startswith("missing required column(s): category, weight_grams")
    assert all(column in message for column in REQUIRED_COLUMNS)


def test_empty_file_is_a_file_error() -> None:
    with pytest.raises(CatalogFileError, match="the file is empty"):
        parse_catalog_csv("")


def test_misspelt_column_is_a_file_error_rather_than_silently_lost_data() -> None:
    with pytest.raises(CatalogFileError, match=r"unknown column.*'weigth_grams'"):
        parse_catalog_csv("handle,name,category,sku,price,weight_grams,weigth_grams\n")


def test_repeated_column_is_a_file_error() -> None:
    with pytest.raises(CatalogFileError, match="more than once: price"):
        parse_catalog_csv("handle,name,category,sku,price,price,weight_grams\n")


def test_binary_file_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "catalog.xlsx"
    path.write_bytes(b"PK\x03\x04\xff\xfe\x00\x00")

    with pytest.raises(CatalogFileError, match="not UTF-8"):
        parse_catalog_csv(path)


# ---- re-import payloads -----------------------------------------------------------------------------------


def test_update_payload_keeps_existing_variants_active_flag_and_images_unless_the_file_gives_some() -> None:
    products, _ = parse_rows(KEMEJA_M, KEMEJA_L)

    payload = update_payload(products[0], {"BTK-KWG-M": False})

    assert set(payload) == {"name", "description", "category", "status", "variants", "initial_stock",
                            "low_stock_threshold"}
    assert payload["variants"][0]["active"] is False
    assert "active" not in payload["variants"][1]  # a new SKU: the domain's default applies
    # only the new SKU opens with the file's stock; the existing one keeps what the shop counted
    assert (payload["initial_stock"], payload["low_stock_threshold"]) == ({"BTK-KWG-L": 3}, 5)


# ---- the demo catalog -------------------------------------------------------------------------------------


def test_demo_catalog_is_a_realistic_shop_the_domain_accepts() -> None:
    products, rejected = parse_catalog_csv(DEMO)

    assert rejected == []
    skus = [sku for product in products for sku in product.skus]
    categories = {product.payload["category"] for product in products}
    stock = {sku: qty for product in products for sku, qty in product.payload["initial_stock"].items()}
    assert len(products) >= 24 and len(skus) >= 50 and len(categories) >= 5
    assert all(1 <= len(product.skus) <= 4 for product in products)
    assert [product.payload.get("status") for product in products].count("draft") == 1
    assert any(qty == 0 for qty in stock.values()) and sum(1 for qty in stock.values() if 0 < qty < 5) >= 5
    for product in products:  # every product passes the same checks create_product makes
        parsed = domain.parse_new_product(Fields(product.payload), product_id=product.product_id, now="now")
        assert domain.check_initial_stock(Fields(product.payload), parsed.variants) == product.payload[
            "initial_stock"]
