"""Unit tests for a report's files: exact CSV bytes, the workbook's sheets and charts, the manifest's hashes."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile

import pytest

from chalicelib.reports.files import (
    csv_bytes,
    manifest_bytes,
    report_files,
    sheet_names,
    xlsx_bytes,
)
from chalicelib.reports.tables import Column, ReportMeta, ReportTable

META = ReportMeta(
    report_id="rpt-2024-05",
    period="monthly",
    date_from="2024-05-01",
    date_to="2024-05-31",
    generated_at="2024-06-01T00:15:30.000Z",
    shop="Toko Batik Sari",
)

BY_DAY = ReportTable(
    name="sales_by_day",
    title="Penjualan per hari",
    columns=(
        Column("day", "Tanggal"),
        Column("orders", "Pesanan", "int"),
        Column("revenue", "Pendapatan (Rp)", "rupiah"),
    ),
    rows=(("2024-05-01", 3, 450000), ("2024-05-02", 5, 1250000), ("2024-05-03", 0, 0)),
    chart="line",
    chart_value="revenue",
)
BY_PRODUCT = ReportTable(
    name="sales_by_product",
    title="Produk terlaris",
    columns=(Column("product", "Produk"), Column("revenue", "Pendapatan (Rp)", "rupiah")),
    rows=(("Kemeja Batik", 900000), ("Selendang", 350000)),
    chart="pie",
    chart_value="revenue",
)
REFUNDS = ReportTable(
    name="refunds",
    title="Pengembalian dana",
    columns=(Column("order_id", "Pesanan"), Column("amount", "Jumlah (Rp)", "rupiah"),
             Column("share", "Porsi (%)", "percent")),
    rows=(("ord-1", 50000, 12.25),),
    notes=("Termasuk pengembalian sebagian.",),
)
TABLES = [BY_DAY, BY_PRODUCT, REFUNDS]


def xlsx_parts(content: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


def workbook_sheet_names(parts: dict[str, str]) -> list[str]:
    return [html_unescape(name) for name in re.findall(r'<sheet name="([^"]*)"', parts["xl/workbook.xml"])]


def html_unescape(text: str) -> str:
    return text.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def sheet_with_chart(parts: dict[str, str], sheet_number: int) -> bool:
    """Whether sheetN's drawing holds a chart (sheet1 is the cover)."""
    rels = parts.get(f"xl/worksheets/_rels/sheet{sheet_number}.xml.rels", "")
    drawing = re.search(r'Target="../drawings/(drawing\d+\.xml)"', rels)
    if drawing is None:
        return False
    drawing_rels = parts.get(f"xl/drawings/_rels/{drawing.group(1)}.rels", "")
    return "../charts/chart" in drawing_rels


# --------------------------------------------------------------------------------------------------------------
# CSV


def test_csv_is_utf8_with_bom_crlf_quoted_only_where_needed_none_empty_and_plain_integers() -> None:
    table = ReportTable(
        name="t",
        title="T",
        columns=(Column("name", "Nama"), Column("qty", "Jumlah", "int"), Column("revenue", "Pendapatan", "rupiah"),
                 Column("share", "Porsi", "percent"), Column("hours", "Jam", "hours")),
        rows=(
            ("Kopi, susu", 2, 1250000, 12.25, 3),
            ('Kaos "Jogja"', None, 1000.5, 0.04, -0.04),
            ("Baris\nkedua", 0, None, None, 1.0),
            ("Café Ñ", 10, 0, 100, None),
        ),
    )

    assert csv_bytes(table) == (
        b"\xef\xbb\xbf"
        b"name,qty,revenue,share,hours\r\n"
        b'"Kopi, susu",2,1250000,12.3,3.0\r\n'
        b'"Kaos ""Jogja""",,1001,0.0,0.0\r\n'
        b'"Baris\nkedua",0,,,1.0\r\n'
        + "Café Ñ,10,0,100.0,\r\n".encode()
    )


def test_csv_of_the_same_table_is_the_same_bytes_every_time() -> None:
    assert csv_bytes(BY_DAY) == csv_bytes(BY_DAY)
    assert csv_bytes(REFUNDS) == csv_bytes(REFUNDS)


def test_csv_of_a_table_without_rows_is_the_header_alone() -> None:
    empty = ReportTable(name="e", title="E", columns=(Column("a", "A"), Column("b", "B", "rupiah")), rows=())

    assert csv_bytes(empty) == b"\xef\xbb\xbfa,b\r\n"


def test_csv_defuses_text_that_excel_would_run_as_a_formula_but_not_negative_numbers() -> None:
    table = ReportTable(
        name="t",
        title="T",
        columns=(Column("name", "Nama"), Column("amount", "Jumlah", "rupiah")),
        rows=(("=HYPERLINK(\"http://x\")", -5000), ("@SUM(A1)", 1), ("-", 2), ("+62812", 3)),
    )

    lines = csv_bytes(table).decode("utf-8-sig").split("\r\n")

    assert lines[1:] == ["\"'=HYPERLINK(\"\"http://x\"\")\",-5000", "'@SUM(A1),1", "-,2", "'+62812,3", ""]


def test_csv_refuses_a_row_whose_length_does_not_match_the_columns() -> None:
    table = ReportTable(name="t", title="T", columns=(Column("a", "A"), Column("b", "B")), rows=(("only one",),))

    with pytest.raises(ValueError, match="row 0 has 1 cells for 2 columns"):
        csv_bytes(table)


def test_csv_refuses_a_number_column_holding_something_that_is_not_a_number() -> None:
    table = ReportTable(name="t", title="T", columns=(Column("a", "A", "rupiah"),), rows=((float("nan"),),))

    with pytest.raises(ValueError, match="not a finite number"):
        csv_bytes(table)


# --------------------------------------------------------------------------------------------------------------
# XLSX


def test_workbook_has_a_cover_sheet_then_one_sheet_per_table() -> None:
    parts = xlsx_parts(xlsx_bytes(TABLES, META))

    assert workbook_sheet_names(parts) == ["Ringkasan", "Penjualan per hari", "Produk terlaris", "Pengembalian dana"]
    assert "xl/worksheets/sheet4.xml" in parts and "xl/worksheets/sheet5.xml" not in parts


def test_workbook_has_a_native_chart_for_each_table_that_asks_for_one_and_none_otherwise() -> None:
    parts = xlsx_parts(xlsx_bytes(TABLES, META))

    assert "xl/charts/chart1.xml" in parts and "xl/charts/chart2.xml" in parts
    assert "xl/charts/chart3.xml" not in parts
    assert [sheet_with_chart(parts, number) for number in (1, 2, 3, 4)] == [False, True, True, False]
    assert "<c:lineChart>" in parts["xl/charts/chart1.xml"]
    assert "<c:pieChart>" in parts["xl/charts/chart2.xml"]
    assert "'Penjualan per hari'!$C$2:$C$4" in parts["xl/charts/chart1.xml"]
    assert "'Penjualan per hari'!$A$2:$A$4" in parts["xl/charts/chart1.xml"]


def test_workbook_without_charts_has_no_chart_parts() -> None:
    parts = xlsx_parts(xlsx_bytes([REFUNDS], META))

    assert not [name for name in parts if name.startswith("xl/charts/")]


def test_workbook_headers_are_frozen_and_money_and_percent_have_their_number_formats() -> None:
    parts = xlsx_parts(xlsx_bytes(TABLES, META))

    assert 'ySplit="1"' in parts["xl/worksheets/sheet2.xml"]
    assert 'formatCode="#,##0"' in parts["xl/styles.xml"]
    assert 'formatCode="0.0"' in parts["xl/styles.xml"]
    assert "<cols>" in parts["xl/worksheets/sheet2.xml"]


def test_workbook_creation_date_is_generated_at_and_the_same_input_gives_the_same_bytes() -> None:
    first = xlsx_bytes(TABLES, META)

    assert first == xlsx_bytes(TABLES, META)
    core = xlsx_parts(first)["docProps/core.xml"]
    assert "2024-06-01T00:15:30Z</dcterms:created>" in core


def test_workbook_cover_states_the_report_facts() -> None:
    strings = xlsx_parts(xlsx_bytes(TABLES, META))["xl/sharedStrings.xml"]

    for fact in ("Toko Batik Sari", "Bulanan", "2024-05-01", "2024-05-31", "2024-06-01 07:15:30", "rpt-2024-05"):
        assert fact in strings


def test_sheet_names_drop_invalid_characters_fit_31_characters_and_are_unique_ignoring_case() -> None:
    titles = [
        "Penjualan [Mei]: 2024/05?*",
        "Penjualan per kategori produk dan varian warna",
        "Penjualan per kategori produk dan varian ukuran",
        "ringkasan",
        "'Kutip'",
        "***",
        "PRODUK",
        "produk",
    ]

    names = sheet_names(titles)

    assert names == [
        "Penjualan Mei 202405",
        "Penjualan per kategori produk d",
        "Penjualan per kategori prod (2)",
        "ringkasan (2)",
        "Kutip",
        "Tabel",
        "PRODUK",
        "produk (2)",
    ]
    assert all(len(name) <= 31 for name in names)
    assert len({name.lower() for name in names}) == len(names)


def test_workbook_accepts_tables_whose_titles_collide_or_run_long() -> None:
    long_title = "Penjualan per kategori produk dan varian warna"
    tables = [
        ReportTable(name=f"t{i}", title=title, columns=BY_DAY.columns, rows=BY_DAY.rows, chart="column",
                    chart_value="orders")
        for i, title in enumerate([long_title, long_title, "Ringkasan", "a/b"])
    ]

    parts = xlsx_parts(xlsx_bytes(tables, META))

    names = workbook_sheet_names(parts)
    assert names == ["Ringkasan", "Penjualan per kategori produk d", "Penjualan per kategori prod (2)",
                     "Ringkasan (2)", "ab"]
    assert len([name for name in parts if re.fullmatch(r"xl/charts/chart\d+\.xml", name)]) == 4


def test_workbook_refuses_a_chart_over_a_column_the_table_does_not_have() -> None:
    table = ReportTable(name="t", title="T", columns=BY_DAY.columns, rows=BY_DAY.rows, chart="line",
                        chart_value="profit")

    with pytest.raises(ValueError, match="chart_value 'profit'"):
        xlsx_bytes([table], META)


# --------------------------------------------------------------------------------------------------------------
# Manifest and report_files


def test_manifest_lists_each_file_with_its_size_and_sha256_sorted_by_name() -> None:
    files = {"b.csv": b"second", "a.csv": b"first", "report.xlsx": b"\x00\x01"}

    content = manifest_bytes(META, files, {"a": 1, "b": 0})

    assert content.endswith(b"}\n")
    manifest = json.loads(content)
    assert manifest == {
        "report_id": "rpt-2024-05",
        "period": "monthly",
        "from": "2024-05-01",
        "to": "2024-05-31",
        "generated_at": "2024-06-01T00:15:30.000Z",
        "shop": "Toko Batik Sari",
        "tables": {"a": 1, "b": 0},
        "files": [
            {"name": "a.csv", "bytes": 5, "sha256": hashlib.sha256(b"first").hexdigest()},
            {"name": "b.csv", "bytes": 6, "sha256": hashlib.sha256(b"second").hexdigest()},
            {"name": "report.xlsx", "bytes": 2, "sha256": hashlib.sha256(b"\x00\x01").hexdigest()},
        ],
    }
    assert content.decode() == json.dumps(manifest, sort_keys=True, indent=2) + "\n"


def test_report_files_are_a_csv_per_table_the_workbook_and_the_manifest() -> None:
    files = report_files(TABLES, META)

    assert sorted(files) == ["manifest.json", "refunds.csv", "report.xlsx", "sales_by_day.csv",
                             "sales_by_product.csv"]
    assert files["sales_by_day.csv"] == csv_bytes(BY_DAY)
    assert zipfile.is_zipfile(io.BytesIO(files["report.xlsx"]))


def test_report_manifest_hashes_every_other_file_and_counts_every_table_row() -> None:
    files = report_files(TABLES, META)

    manifest = json.loads(files["manifest.json"])

    assert manifest["tables"] == {"sales_by_day": 3, "sales_by_product": 2, "refunds": 1}
    assert [entry["name"] for entry in manifest["files"]] == sorted(set(files) - {"manifest.json"})
    for entry in manifest["files"]:
        assert entry["bytes"] == len(files[entry["name"]])
        assert entry["sha256"] == hashlib.sha256(files[entry["name"]]).hexdigest()


def test_report_files_are_identical_for_the_same_input() -> None:
    assert report_files(TABLES, META) == report_files(TABLES, META)


def test_report_files_refuse_two_tables_with_the_same_name_or_an_unsafe_name() -> None:
    with pytest.raises(ValueError, match="two tables"):
        report_files([BY_DAY, BY_DAY], META)
    unsafe = ReportTable(name="../x", title="X", columns=BY_DAY.columns, rows=())
    with pytest.raises(ValueError, match="safe file name"):
        report_files([unsafe], META)
