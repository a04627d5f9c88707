"""Time as the shop sees it: stored in UTC, business days in Asia/Jakarta."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

JAKARTA = ZoneInfo("Asia/Jakarta")


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """UTC ISO-8601 with a Z, millisecond precision: sorts lexically in time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return iso(now())


def business_day(moment: str | datetime) -> str:
    """The shop's business day (YYYY-MM-DD in Asia/Jakarta) of a UTC moment or ISO-8601 text."""
    at = parse_iso(moment) if isinstance(moment, str) else moment
    return at.astimezone(JAKARTA).date().isoformat()


def parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


__all__ = ["JAKARTA", "UTC", "business_day", "datetime", "iso", "now", "now_iso", "parse_iso"]
