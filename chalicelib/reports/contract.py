"""The HTTP contract of the sales reports (see chalicelib.contract): finance (and admins) ask for a report of any
range of business days, follow its build and download its files through short-lived links."""

from __future__ import annotations

from typing import Any

from chalicelib.auth.domain import ADMIN, FINANCE
from chalicelib.contract import (
    Access,
    Operation,
    Response,
    Schema,
    array,
    integer,
    nullable,
    obj,
    page_query,
    ref,
    signed_in,
    str_map,
    string,
    timestamp,
)
from chalicelib.reports.domain import (
    BUILDING,
    CUSTOM,
    DAILY,
    DATE_PATTERN,
    FAILED,
    MAX_CUSTOM_DAYS,
    MONTHLY,
    PERIODS,
    QUEUED,
    READY,
    REPORT_ID_MAX,
    REPORT_ID_PATTERN,
    WEEKLY,
)
from chalicelib.reports.routes import PAGE_DEFAULT

FINANCE_OR_ADMIN: Access = signed_in(FINANCE, ADMIN)
DAY = string(pattern=DATE_PATTERN, max_len=10, fmt="date", description="a business day (Asia/Jakarta), YYYY-MM-DD")
REPORT_ID = string(pattern=REPORT_ID_PATTERN, max_len=REPORT_ID_MAX,
                   description="<period>-<first day>, or custom-<first day>-<last day>")

_FILE: dict[str, Schema] = {
    "name": string(description="e.g. summary.csv, report.xlsx, manifest.json"),
    "key": string(description="the file's key in the reports bucket"),
    "bytes": integer(minimum=0),
    "sha256": string(pattern="[0-9a-f]{64}"),
}


def _report(files: Schema, description: str) -> Schema:
    return obj({
        "report_id": REPORT_ID,
        "period": string(enum=PERIODS),
        "from": string(fmt="date", description="the first business day"),
        "to": string(fmt="date", description="the last business day"),
        "status": string(enum=[QUEUED, BUILDING, READY, FAILED]),
        "prefix": string(description="where its files are in the reports bucket"),
        "requested_by": string(description="who asked: a user's sub, or schedule"),
        "requested_at": timestamp(),
        "built_at": nullable(timestamp()),
        "files": files,
        "rows": str_map(integer(minimum=0), description="rows per table of the last build"),
        "error": nullable(string(description="why the last build failed")),
    }, description=description)


SCHEMAS: dict[str, Schema] = {
    "ReportFile": obj(_FILE),
    "ReportFileLink": obj({
        **_FILE,
        "url": string(description="a download link"),
        "expires_in": integer(minimum=1, description="seconds the link is valid"),
    }),
    "Report": _report(array(ref("ReportFile")), "A report: its period, build status and files (without links)."),
    "ReportWithLinks": _report(array(ref("ReportFileLink"), description="empty until the report is ready"),
                               "A report; once ready, a short-lived download link for each file."),
    "ReportList": obj({"items": array(ref("Report"), description="newest period first"),
                       "next_cursor": nullable(string(description="null on the last page"))}),
}

_PERIOD_KINDS = [DAILY, WEEKLY, MONTHLY]


def _request_body() -> Schema:
    """`from` always; `to` for a custom range (the default) and never for a daily, weekly or monthly period."""
    body: dict[str, Any] = obj({"from": DAY}, {
        "to": nullable(DAY),
        "period": nullable(string(enum=PERIODS, description=f"{CUSTOM} when absent")),
    })
    body["if"] = {"properties": {"period": {"enum": _PERIOD_KINDS}}, "required": ["period"]}
    body["then"] = {"properties": {"to": {"type": "null"}}}
    body["else"] = {"properties": {"to": DAY}, "required": ["to"]}
    return body


OPERATIONS = {
    "request_report": Operation(
        summary="Build a report for a range of business days, or rebuild a daily, weekly or monthly one.",
        description=(f"`from` and `to` (at most {MAX_CUSTOM_DAYS} days, none in the future) give a custom range; or"
                     " `period` (daily, weekly, monthly) and `from`, a day in that period. 202 with the report's id;"
                     " GET it for the status and files. Asking again while it is queued or building answers that"
                     " build; a ready or failed report is built again."),
        access=FINANCE_OR_ADMIN,
        body=_request_body(),
        responses={202: Response("the report, queued (or the build already under way)", ref("Report"))},
    ),
    "list_reports": Operation(
        summary="Reports of one period kind starting between `from` and `to`, newest first, a page at a time.",
        description="`to` must not be before `from` (400). Send the same `period`, `from` and `to` with each page's"
                    " cursor: a cursor standing outside `from` and `to` is a 400.",
        access=FINANCE_OR_ADMIN,
        query={
            "period": string(enum=PERIODS, description=f"{DAILY} when absent"),
            "from": string(pattern=DATE_PATTERN, description="the earliest first day (YYYY-MM-DD)"),
            "to": string(pattern=DATE_PATTERN, description="the latest first day (YYYY-MM-DD)"),
            **page_query("reports", default=PAGE_DEFAULT),
        },
        responses={200: Response("one page of reports", ref("ReportList"))},
    ),
    "get_report": Operation(
        summary="A report's status; once ready, a download link (15 minutes) for each CSV, the XLSX and the manifest.",
        access=FINANCE_OR_ADMIN,
        path={"report_id": REPORT_ID},
        responses={200: Response("the report", ref("ReportWithLinks"))},
        errors={404: "no such report (report_not_found)"},
    ),
}
