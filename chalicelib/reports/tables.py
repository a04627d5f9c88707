"""A report's tables as plain data: what the CSV, XLSX and JSON writers (reports/files.py) turn into files."""

from __future__ import annotations

from dataclasses import dataclass, field

Cell = str | int | float | None


@dataclass(frozen=True)
class Column:
    key: str  # the CSV header and the machine name
    title: str  # the spreadsheet header, for people
    # "text", "int" (counts), "rupiah" (whole Rupiah), "percent" (0-100, one decimal), "hours" (one decimal),
    # "decimal" (any other one-decimal figure: an average of stars or of points)
    kind: str = "text"


@dataclass(frozen=True)
class ReportTable:
    """One table of a report: its file stem ("sales_by_day"), sheet title, columns and rows (one value per
    column, in order). `chart` asks the workbook for a native chart of the table: "line" or "column" or "pie"
    over the first column (categories) and the column named by `chart_value`."""

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    chart: str | None = None
    chart_value: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ReportMeta:
    """What the manifest says about a report besides its files."""

    report_id: str
    period: str  # "daily", "weekly", "monthly" or "custom"
    date_from: str  # first business day (YYYY-MM-DD, Asia/Jakarta), inclusive
    date_to: str  # last business day, inclusive
    generated_at: str  # UTC ISO-8601
    shop: str
