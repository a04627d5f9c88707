"""Finance's sales reports over HTTP, the worker that builds them, and the schedules that count facts and queue
the daily, weekly and monthly builds."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Rate
from chalice.app import CloudWatchEvent, SQSEvent

from chalicelib import resources
from chalicelib.auth.domain import ADMIN, FINANCE
from chalicelib.batches import each_record
from chalicelib.errors import ValidationFailed
from chalicelib.lazy import lazy_module
from chalicelib.observability import logger
from chalicelib.reports.domain import DATE_PATTERN, REPORT_ID_MAX, REPORT_ID_PATTERN
from chalicelib.validation import Fields, page
from chalicelib.web import api, json_response, jwt_authorizer, query_params, read_json, signed_in

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from chalicelib.reports import domain, service
else:
    domain = lazy_module("chalicelib.reports.domain")
    service = lazy_module("chalicelib.reports.service")

report_routes = Blueprint(__name__)
PAGE_DEFAULT = 50  # reports in one page of the list


@report_routes.route("/admin/reports", methods=["POST"], authorizer=jwt_authorizer)
@api
def request_report() -> Any:
    """Build a report for any range of business days (or rebuild a daily, weekly or monthly one: `period` and
    the first day): 202 with its id; GET it for the status and files."""
    principal = signed_in(report_routes.current_request, FINANCE, ADMIN)
    fields = read_json(report_routes.current_request)
    fields.reject_unknown({"from", "to", "period"})
    kind = fields.text("period", required=False, default=domain.CUSTOM, choices=domain.PERIODS)
    date_from = fields.text("from", max_len=10)
    if kind == domain.CUSTOM:
        date_to = fields.text("to", max_len=10)
    elif fields.has("to"):  # a daily, weekly or monthly period ends where it ends: a `to` would be ignored
        raise ValidationFailed("to", f"is only for a custom range; a {kind} report covers the {kind} period of `from`")
    else:
        date_to = date_from
    custom = domain.custom_period(date_from, date_to, today=service.today())
    period = custom if kind == domain.CUSTOM else domain.period_of(kind, custom.first)
    report, _ = service.request(period, actor=principal.sub)
    return json_response(report, status=202)


@report_routes.route("/admin/reports", methods=["GET"], authorizer=jwt_authorizer)
@api
def list_reports() -> Any:
    signed_in(report_routes.current_request, FINANCE, ADMIN)
    params = Fields(query_params(report_routes.current_request))
    period = params.text("period", required=False, default=domain.DAILY, choices=domain.PERIODS)
    date_from = params.text("from", required=False, default="0000-01-01", pattern=DATE_PATTERN)
    date_to = params.text("to", required=False, default="9999-12-31", pattern=DATE_PATTERN)
    if date_to < date_from:  # DynamoDB refuses a BETWEEN whose bounds are reversed
        raise ValidationFailed("to", "must not be before from")
    limit, cursor = page(query_params(report_routes.current_request), default=PAGE_DEFAULT)
    return service.listing(period, date_from=date_from, date_to=date_to, limit=limit, cursor=cursor)


@report_routes.route("/admin/reports/{report_id}", methods=["GET"], authorizer=jwt_authorizer)
@api
def get_report(report_id: str) -> Any:
    """The report's status; once ready, a presigned link (15 minutes) for each CSV, the XLSX and the manifest."""
    signed_in(report_routes.current_request, FINANCE, ADMIN)
    checked = Fields({"report_id": report_id}).text("report_id", pattern=REPORT_ID_PATTERN, max_len=REPORT_ID_MAX)
    return service.view(checked)


def _build(record: SQSRecord) -> None:
    message = json.loads(record.body)
    report = service.build(message["report_id"])
    logger.info("report ready", extra={"report_id": report["report_id"], "files": len(report["files"])})


@report_routes.on_sqs_message(queue=resources.REPORT_BUILDS_QUEUE.physical_name, batch_size=1)
def report_builder(event: SQSEvent) -> dict[str, Any]:
    return each_record(event, _build)


@report_routes.schedule(Rate(5, unit=Rate.MINUTES), name="collect_report_facts")
def collect_report_facts(event: CloudWatchEvent) -> dict[str, int]:
    return service.collect_recent()


# Hourly rather than a cron at 00:15 WIB: the first run after midnight queues yesterday's reports, and a missed
# run is made up by the next (a period already built or queued is not queued again).
@report_routes.schedule(Rate(1, unit=Rate.HOURS), name="build_scheduled_reports")
def build_scheduled_reports(event: CloudWatchEvent) -> list[str]:
    return service.scheduled_builds()
