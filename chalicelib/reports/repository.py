"""Reports in DynamoDB (status and files; the files themselves live in the reports bucket) and in S3."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import JSONAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib import aws, db, resources
from chalicelib.db import meta_for
from chalicelib.errors import ValidationFailed


class ReportsByPeriod(GlobalSecondaryIndex):
    class Meta:
        index_name = "by-period"
        projection = AllProjection()

    period = UnicodeAttribute(hash_key=True)
    date_from = UnicodeAttribute(range_key=True)


class ReportModel(Model):
    Meta = meta_for(resources.REPORTS)
    report_id = UnicodeAttribute(hash_key=True)  # "daily-2026-12-01", "custom-2026-11-01-2026-11-15"
    period = UnicodeAttribute()
    date_from = UnicodeAttribute()
    date_to = UnicodeAttribute()
    status = UnicodeAttribute()  # queued, building, ready, failed
    prefix = UnicodeAttribute()  # where its files are in the reports bucket
    requested_by = UnicodeAttribute()
    requested_at = UnicodeAttribute()
    built_at = UnicodeAttribute(null=True)
    files = JSONAttribute(null=True)  # [{name, key, bytes, sha256}]
    rows = JSONAttribute(null=True)  # table -> row count
    error = UnicodeAttribute(null=True)
    by_period = ReportsByPeriod()


def _as_dict(item: ReportModel) -> dict[str, Any]:
    return {"report_id": item.report_id, "period": item.period, "from": item.date_from, "to": item.date_to,
            "status": item.status, "prefix": item.prefix, "requested_by": item.requested_by,
            "requested_at": item.requested_at, "built_at": item.built_at, "files": item.files or [],
            "rows": item.rows or {}, "error": item.error}


def get(report_id: str) -> dict[str, Any] | None:
    try:
        return _as_dict(ReportModel.get(report_id, consistent_read=True))
    except ReportModel.DoesNotExist:
        return None


def queue(report_id: str, *, period: str, date_from: str, date_to: str, prefix: str, requested_by: str,
          requested_at: str, stale_before: str, rebuild: bool = True) -> tuple[dict[str, Any], bool]:
    """Record a build request (True: new). A report queued or building is answered as it is, unless it started
    before `stale_before` (its builder died: queued again); a failed one is queued again; a ready one only when
    `rebuild` (finance asks; the schedule leaves built periods alone)."""
    item = ReportModel(report_id, period=period, date_from=date_from, date_to=date_to, status="queued", prefix=prefix,
                       requested_by=requested_by, requested_at=requested_at)
    stale = ReportModel.status.is_in("queued", "building") & (ReportModel.requested_at < stale_before)
    again = ReportModel.report_id.does_not_exist() | (ReportModel.status == "failed") | stale
    try:
        item.save(condition=again | (ReportModel.status == "ready") if rebuild else again)
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        current = get(report_id)
        assert current is not None
        return current, False
    return _as_dict(item), True


def mark(report_id: str, status: str, **fields: Any) -> None:
    item = ReportModel(report_id)
    actions: list[Any] = [ReportModel.status.set(status)]
    for name, value in fields.items():
        attribute = getattr(ReportModel, name)
        actions.append(attribute.remove() if value is None else attribute.set(value))
    item.update(actions=actions, condition=ReportModel.report_id.exists())


def in_period(period: str, *, date_from: str, date_to: str, limit: int,
              cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the reports of one period kind whose first day is between the two days, newest first, and the next
    page's cursor (None: the last page)."""
    start = db.start_key(cursor, item_key="report_id", range_name="date_from", hash_name="period", hash_value=period)
    if start is not None and not date_from <= start["date_from"]["S"] <= date_to:
        # DynamoDB refuses a start key outside the query's range: a cursor of another from/to is the caller's error
        raise ValidationFailed("cursor", "belongs to another from/to range")
    query = ReportModel.by_period.query(period, ReportModel.date_from.between(date_from, date_to),
                                        scan_index_forward=False, limit=limit, last_evaluated_key=start)
    reports = [_as_dict(item) for item in query]
    return reports, db.page_cursor(query.last_evaluated_key, item_key="report_id", range_name="date_from")


# ---- files ------------------------------------------------------------------------------------------------------

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def put_file(key: str, body: bytes) -> None:
    aws.client("s3").put_object(Bucket=resources.REPORTS_BUCKET.physical_name, Key=key, Body=body,
                                ContentType=CONTENT_TYPES[key.rsplit(".", 1)[-1]])


def download_url(key: str, *, seconds: int) -> str:
    filename = key.rsplit("/", 1)[-1]
    return str(aws.client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": resources.REPORTS_BUCKET.physical_name, "Key": key,
                              "ResponseContentDisposition": f'attachment; filename="{filename}"'},
        ExpiresIn=seconds))
