"""A report's files as bytes: one CSV per table, one XLSX workbook with every table, and a JSON manifest.

Plain Python (plus xlsxwriter, imported only when a workbook is built): no AWS, no Chalice. The same tables and
meta always give the same bytes: nothing here reads the clock, and the workbook's only date is meta.generated_at.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from chalicelib.clock import JAKARTA, parse_iso
from chalicelib.reports.tables import Cell, Column, ReportMeta, ReportTable

XLSX_NAME = "report.xlsx"
MANIFEST_NAME = "manifest.json"
COVER_SHEET = "Ringkasan"

KINDS = frozenset({"text", "int", "rupiah", "percent", "hours", "decimal"})
WHOLE_KINDS = frozenset({"int", "rupiah"})  # written as plain integers (Rupiah have no decimals)
ONE_DECIMAL_KINDS = frozenset({"percent", "hours", "decimal"})  # written with exactly one decimal
CHART_TYPES = frozenset({"line", "column", "pie"})

# What Excel shows for each kind. Excel applies the reader's locale to `#,##0`, so an Indonesian Excel shows
# 1.250.000 and an English one 1,250,000; percent values are 0-100, so `0.0` rather than `0.0%`.
NUMBER_FORMATS = {"int": "#,##0", "rupiah": "#,##0", "percent": "0.0", "hours": "0.0", "decimal": "0.0"}

PERIOD_LABELS = {"daily": "Harian", "weekly": "Mingguan", "monthly": "Bulanan", "custom": "Kustom"}

SHEET_NAME_MAX = 31  # Excel's limit, counted in UTF-16 code units
_SHEET_NAME_INVALID = re.compile(r"[\[\]:*?/\\\x00-\x1f\x7f]")
_FILE_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

# Text starting with one of these is a formula to Excel when it opens a CSV (CSV injection: a product or customer
# name such as `=HYPERLINK(...)`). Such text cells get a leading apostrophe, as OWASP recommends; numbers are
# never touched, so a negative amount stays a number; a lone "-" or "+" is no formula and stays as it is.
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

COLUMN_WIDTH_MIN = 8
COLUMN_WIDTH_MAX = 60


# --------------------------------------------------------------------------------------------------------------
# Cells


def _check_table(table: ReportTable) -> None:
    for column in table.columns:
        if column.kind not in KINDS:
            raise ValueError(f"table {table.name!r}: column {column.key!r} has unknown kind {column.kind!r}")
    for index, row in enumerate(table.rows):
        if len(row) != len(table.columns):
            raise ValueError(
                f"table {table.name!r}: row {index} has {len(row)} cells for {len(table.columns)} columns"
            )


def _number(value: int | float, column: Column) -> int | Decimal:
    """The value as the report states it: a whole number for counts and Rupiah, one decimal (half up) for
    percent, hours and decimal. Decimal(repr) rounds the number as written, so 12.25 becomes 12.3, not 12.2."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"column {column.key!r}: {value!r} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"column {column.key!r}: {value!r} is not a finite number")
    exact = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    if column.kind in WHOLE_KINDS:
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    rounded = exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return rounded + 0  # + 0 turns -0.0 into 0.0


def _cell(value: Cell, column: Column) -> str | int | Decimal | None:
    """One cell normalised for both writers: None, text (str) or a rounded number (int or Decimal).

    Text is kept as text in any column (a builder may write "-" for "not applicable"); a number in a text
    column (a summary's mixed "value" column) stays a number: an int plainly, a float to one decimal."""
    if value is None or isinstance(value, str):
        return value
    if column.kind == "text":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"column {column.key!r}: {value!r} is not a cell value")
        return value if isinstance(value, int) else _number(value, Column(column.key, column.title, "percent"))
    return _number(value, column)


def _csv_field(value: str | int | Decimal | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if len(value) > 1 and value.startswith(_FORMULA_TRIGGERS) else value
    if isinstance(value, int):
        return str(value)
    return f"{value:.1f}"


def _display_width(value: str | int | Decimal | None) -> int:
    """Roughly how many characters Excel shows for the cell, for fitting the column width."""
    if value is None:
        return 0
    if isinstance(value, str):
        return max((len(line) for line in value.splitlines()), default=0)
    if isinstance(value, int):
        return len(f"{value:,}")
    return len(f"{value:,.1f}")


# --------------------------------------------------------------------------------------------------------------
# CSV


def csv_bytes(table: ReportTable) -> bytes:
    """The table as RFC 4180 CSV: header row of column keys, CRLF line ends, fields quoted only when needed.

    Encoded as UTF-8 with a byte order mark: Excel (the tool finance opens CSVs with) reads a CSV without a BOM
    in the Windows code page, which mangles every non-ASCII name ("Kopi Ñ", "Bánh", emoji); with the BOM it
    reads UTF-8. Other readers (Python's utf-8-sig, pandas, LibreOffice, Google Sheets) skip it."""
    _check_table(table)
    out = io.StringIO(newline="")
    writer = csv.writer(out, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([column.key for column in table.columns])
    for row in table.rows:
        writer.writerow(
            [_csv_field(_cell(value, column)) for value, column in zip(row, table.columns, strict=True)]
        )
    return out.getvalue().encode("utf-8-sig")


# --------------------------------------------------------------------------------------------------------------
# XLSX


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _truncate_utf16(text: str, limit: int) -> str:
    while _utf16_len(text) > limit:
        text = text[:-1]
    return text


def sheet_names(titles: Iterable[str], taken: Iterable[str] = (COVER_SHEET,)) -> list[str]:
    """A valid, unique Excel sheet name for each title, in order: characters Excel refuses (`[]:*?/\\` and
    control characters) removed, no leading or trailing apostrophe, at most 31 characters, and unique ignoring
    case (Excel's rule) among themselves and `taken`, by a " (2)", " (3)"... suffix."""
    used = {name.lower() for name in taken}
    names: list[str] = []
    for title in titles:
        base = _SHEET_NAME_INVALID.sub("", title).strip().strip("'").strip()
        base = _truncate_utf16(base, SHEET_NAME_MAX).rstrip().rstrip("'") or "Tabel"
        name, counter = base, 1
        while name.lower() in used or name.lower() == "history":  # "History" is reserved by Excel
            counter += 1
            suffix = f" ({counter})"
            name = _truncate_utf16(base, SHEET_NAME_MAX - len(suffix)).rstrip().rstrip("'") + suffix
        used.add(name.lower())
        names.append(name)
    return names


def _created(meta: ReportMeta) -> datetime:
    """meta.generated_at as a UTC datetime: the workbook's creation date, so the same report gives the same
    workbook rather than one stamped with the moment it was written."""
    try:
        return parse_iso(meta.generated_at)
    except ValueError as error:
        raise ValueError(f"generated_at {meta.generated_at!r} is not an ISO-8601 time") from error


def _internal_link(sheet: str) -> str:
    return "internal:'" + sheet.replace("'", "''") + "'!A1"


def _write_cover(workbook: Any, formats: Mapping[str, Any], tables: list[ReportTable], names: list[str],
                 meta: ReportMeta) -> None:
    sheet = workbook.add_worksheet(COVER_SHEET)
    generated = _created(meta)
    sheet.write_string(0, 0, f"Laporan Penjualan {meta.shop}".strip(), formats["title"])
    facts = [
        ("Toko", meta.shop),
        ("Periode", PERIOD_LABELS.get(meta.period, meta.period)),
        ("Dari", meta.date_from),
        ("Sampai", meta.date_to),
        ("Dibuat pada (WIB)", generated.astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M:%S")),
        ("Dibuat pada (UTC)", meta.generated_at),
        ("ID laporan", meta.report_id),
    ]
    row = 2
    for label, value in facts:
        sheet.write_string(row, 0, label, formats["bold"])
        sheet.write_string(row, 1, value)
        row += 1
    row += 1
    sheet.write_string(row, 0, "Lembar", formats["header"])
    sheet.write_string(row, 1, "Baris", formats["header"])
    for table, name in zip(tables, names, strict=True):
        row += 1
        sheet.write_url(row, 0, _internal_link(name), formats["link"], string=name)
        sheet.write_number(row, 1, len(table.rows), formats["int"])
    label_width = max([len(label) for label, _ in facts] + [_utf16_len(name) for name in names] + [6])
    value_width = max([len(value) for _, value in facts] + [6])
    sheet.set_column(0, 0, min(label_width + 2, COLUMN_WIDTH_MAX))
    sheet.set_column(1, 1, min(value_width + 2, COLUMN_WIDTH_MAX))


def _write_table(workbook: Any, formats: Mapping[str, Any], table: ReportTable, name: str) -> None:
    sheet = workbook.add_worksheet(name)
    widths = [_utf16_len(column.title) for column in table.columns]
    for col, column in enumerate(table.columns):
        sheet.write_string(0, col, column.title, formats["header"])
    for row_index, row in enumerate(table.rows, start=1):
        for col, (value, column) in enumerate(zip(row, table.columns, strict=True)):
            cell = _cell(value, column)
            widths[col] = max(widths[col], _display_width(cell))
            # Explicit write_* calls: plain write() would turn text such as "=1+1" into a formula and
            # "http://..." into a link.
            if cell is None:
                continue
            if isinstance(cell, str):
                sheet.write_string(row_index, col, cell, formats["wrap"] if "\n" in cell else None)
            else:
                kind = column.kind if column.kind != "text" else ("int" if isinstance(cell, int) else "percent")
                sheet.write_number(row_index, col, float(cell), formats[kind])
    for col, width in enumerate(widths):
        sheet.set_column(col, col, min(max(width + 2, COLUMN_WIDTH_MIN), COLUMN_WIDTH_MAX))
    sheet.freeze_panes(1, 0)

    if table.notes:
        note_row = len(table.rows) + 2
        for offset, note in enumerate(table.notes):
            sheet.write_string(note_row + offset, 0, note, formats["note"])

    if table.chart is not None and table.rows:
        value_col = [column.key for column in table.columns].index(table.chart_value or "")
        last_row = len(table.rows)
        chart = workbook.add_chart({"type": table.chart})
        chart.add_series({
            "name": [name, 0, value_col],
            "categories": [name, 1, 0, last_row, 0],
            "values": [name, 1, value_col, last_row, value_col],
        })
        chart.set_title({"name": table.columns[value_col].title})
        if table.chart != "pie":
            chart.set_legend({"none": True})
        sheet.insert_chart(1, len(table.columns) + 1, chart)


def _check_chart(table: ReportTable) -> None:
    if table.chart is None:
        return
    if table.chart not in CHART_TYPES:
        raise ValueError(f"table {table.name!r}: chart {table.chart!r} is not one of {sorted(CHART_TYPES)}")
    keys = [column.key for column in table.columns]
    if table.chart_value not in keys[1:]:
        raise ValueError(
            f"table {table.name!r}: chart_value {table.chart_value!r} is not one of its columns after the first"
        )
    column = table.columns[keys.index(table.chart_value)]
    if column.kind == "text":
        raise ValueError(f"table {table.name!r}: chart_value {table.chart_value!r} is a text column")


def xlsx_bytes(tables: list[ReportTable], meta: ReportMeta) -> bytes:
    """One workbook: a cover sheet (Ringkasan) with the report's facts and a linked list of sheets, then one
    sheet per table with a bold frozen header, fitted columns, number formats per kind and, where the table
    asks for one, a native Excel chart beside it."""
    import xlsxwriter  # type: ignore[import-untyped]  # lazily: keeps it off the Lambda cold start

    for table in tables:
        _check_table(table)
        _check_chart(table)
    names = sheet_names(table.title for table in tables)

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                            "strings_to_urls": False, "strings_to_numbers": False})
    workbook.set_properties({
        "title": f"Laporan Penjualan {meta.shop} {meta.date_from} - {meta.date_to}",
        "subject": meta.report_id,
        "created": _created(meta),
    })
    formats = {
        "title": workbook.add_format({"bold": True, "font_size": 14}),
        "bold": workbook.add_format({"bold": True}),
        "header": workbook.add_format({"bold": True, "bottom": 1, "text_wrap": True, "valign": "top"}),
        "link": workbook.add_format({"font_color": "blue", "underline": 1}),
        "wrap": workbook.add_format({"text_wrap": True, "valign": "top"}),
        "note": workbook.add_format({"italic": True}),
        **{kind: workbook.add_format({"num_format": number_format}) for kind, number_format in NUMBER_FORMATS.items()},
    }
    _write_cover(workbook, formats, tables, names, meta)
    for table, name in zip(tables, names, strict=True):
        _write_table(workbook, formats, table, name)
    workbook.close()
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------------------------
# Manifest and the whole report


def manifest_bytes(meta: ReportMeta, files: dict[str, bytes], row_counts: dict[str, int]) -> bytes:
    """The report's manifest: its facts, each table's row count and each file's size and SHA-256, as JSON with
    sorted keys, two-space indent and a trailing newline."""
    manifest = {
        "report_id": meta.report_id,
        "period": meta.period,
        "from": meta.date_from,
        "to": meta.date_to,
        "generated_at": meta.generated_at,
        "shop": meta.shop,
        "tables": dict(row_counts),
        "files": [
            {"name": name, "bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}
            for name, content in sorted(files.items())
        ],
    }
    return (json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def report_files(tables: list[ReportTable], meta: ReportMeta) -> dict[str, bytes]:
    """Every file of a report by name: `<table.name>.csv` per table, `report.xlsx`, and `manifest.json`, which
    lists all the others with their sizes and SHA-256."""
    seen: set[str] = set()
    for table in tables:
        if not _FILE_STEM.fullmatch(table.name):
            raise ValueError(f"table name {table.name!r} is not a safe file name (letters, digits, _ . -)")
        if table.name.lower() in seen:
            raise ValueError(f"two tables are named {table.name!r}")
        seen.add(table.name.lower())

    files = {f"{table.name}.csv": csv_bytes(table) for table in tables}
    files[XLSX_NAME] = xlsx_bytes(tables, meta)
    files[MANIFEST_NAME] = manifest_bytes(meta, files, {table.name: len(table.rows) for table in tables})
    return files


__all__ = [
    "MANIFEST_NAME",
    "XLSX_NAME",
    "csv_bytes",
    "manifest_bytes",
    "report_files",
    "sheet_names",
    "xlsx_bytes",
]
