"""What every pynamodb model and transaction shares: table names from the resource specs, lazy region."""

from __future__ import annotations

from typing import Any

from pynamodb.connection import Connection
from pynamodb.models import Model

from chalicelib import config
from chalicelib.resources import TableSpec


def meta_for(spec: TableSpec) -> type:
    """A pynamodb Meta class for a spec; host stays None so AWS_ENDPOINT_URL is honoured."""

    class Meta:
        table_name = spec.physical_name
        region = config.region()
        max_retry_attempts = 3

    return Meta


def connection() -> Connection:
    return Connection(region=config.region())


def cancellation_codes(error: Exception) -> list[str | None]:
    """The per-item reasons DynamoDB gives for a cancelled transaction, in the order items were added."""
    reasons: list[Any] = getattr(error, "cancellation_reasons", None) or []
    return [reason.code if reason else None for reason in reasons]


__all__ = ["Model", "cancellation_codes", "connection", "meta_for"]
