"""What every pynamodb model and transaction shares: table names from the resource specs, lazy region."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from pynamodb.connection import Connection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import config
from chalicelib.resources import TableSpec


class _LiveMeta(type):
    """Table name and region are read from the environment on every use, not frozen at import.

    Chalice sets a stage's variables per call in tests and `chalice local` replaces the environment at
    start-up; pynamodb rebuilds its table connection whenever the name it sees changes.
    """

    _spec: TableSpec

    @property
    def table_name(cls) -> str:
        return cls._spec.physical_name

    @property
    def region(cls) -> str:
        return config.region()


def meta_for(spec: TableSpec) -> type:
    """A pynamodb Meta for a spec; host stays None so AWS_ENDPOINT_URL is honoured."""
    return _LiveMeta("Meta", (), {"_spec": spec, "max_retry_attempts": 3})


@functools.cache
def _connection(region: str) -> Connection:
    return Connection(region=region)


def connection() -> Connection:
    """One shared connection (and botocore client) per region: building a client costs ~0.3 s."""
    return _connection(config.region())


def cancellation_codes(error: Exception) -> list[str | None]:
    """The per-item reasons DynamoDB gives for a cancelled transaction, in the order items were sent."""
    reasons: list[Any] = getattr(error, "cancellation_reasons", None) or []
    return [reason.code if reason else None for reason in reasons]


@dataclass(frozen=True)
class FailedCondition:
    table_name: str
    key: dict[str, str]  # attribute name -> plain string value


def failed_conditions(tx: TransactWrite, error: Exception) -> list[FailedCondition]:
    """Which items' conditions cancelled a transaction.

    pynamodb sends condition checks, deletes, puts and updates in that order, whatever order they were
    staged in, so the reasons are matched back to items here rather than by staging position.
    """
    sent = tx._condition_check_items + tx._delete_items + tx._put_items + tx._update_items
    failed = []
    for code, item in zip(cancellation_codes(error), sent, strict=False):
        if code != "ConditionalCheckFailed":
            continue
        operation = next(iter(item.values())) if len(item) == 1 else item
        attributes = operation.get("Key") or operation.get("Item") or {}
        key = {name: next(iter(value.values())) for name, value in attributes.items() if isinstance(value, dict)}
        failed.append(FailedCondition(table_name=operation.get("TableName", ""), key=key))
    return failed


__all__ = ["FailedCondition", "Model", "cancellation_codes", "connection", "failed_conditions", "meta_for"]
