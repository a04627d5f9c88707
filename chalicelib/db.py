"""What every pynamodb model and transaction shares: table names from the resource specs, lazy region, and
transactions that can say which of their items cancelled them."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, cast

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import MetaProtocol, Model
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


def meta_for(spec: TableSpec) -> MetaProtocol:
    """A pynamodb Meta for a spec; host stays None so AWS_ENDPOINT_URL is honoured.

    pynamodb types Model.Meta as a MetaProtocol instance but reads it from a class: this class answers
    table_name and region through its metaclass, and pynamodb fills in the other settings when the model
    class is built. Hence the cast.
    """
    return cast(MetaProtocol, _LiveMeta("Meta", (), {"_spec": spec, "max_retry_attempts": 3}))


@functools.cache
def _connection(region: str) -> Connection:
    return Connection(region=region)


def connection() -> Connection:
    """One shared connection (and botocore client) per region: building a client costs ~0.3 s."""
    return _connection(config.region())


@dataclass(frozen=True)
class StagedItem:
    table_name: str
    key: dict[str, str]  # attribute name -> plain string value


def _staged(model: Model) -> StagedItem:
    key = {attribute.attr_name: str(attribute.serialize(getattr(model, name)))
           for name, attribute in type(model).get_attributes().items()
           if attribute.is_hash_key or attribute.is_range_key}
    return StagedItem(type(model).Meta.table_name, key)


# The order in which pynamodb sends staged items to TransactWriteItems, whatever order they were staged in
# (pynamodb.connection.Connection.transact_write_items); DynamoDB's cancellation reasons follow it.
# tests/functional/test_transactions.py fails if a pynamodb upgrade changes it.
SEND_ORDER = ("condition_check", "delete", "save", "update")


class Transaction(TransactWrite):
    """A TransactWrite that records what it stages, so a cancelled one can name the items that failed."""

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection=connection)
        self.staged: dict[str, list[StagedItem]] = {kind: [] for kind in SEND_ORDER}

    def condition_check(self, model_cls: type[Model], hash_key: Any, range_key: Any = None,
                        condition: Condition | None = None) -> None:
        super().condition_check(model_cls, hash_key, range_key=range_key, condition=condition)
        self.staged["condition_check"].append(_staged(model_cls(hash_key, range_key)))

    def delete(self, model: Model, condition: Condition | None = None, *, add_version_condition: bool = True) -> None:
        super().delete(model, condition=condition, add_version_condition=add_version_condition)
        self.staged["delete"].append(_staged(model))

    def save(self, model: Model, condition: Condition | None = None, return_values: str | None = None) -> None:
        super().save(model, condition=condition, return_values=return_values)
        self.staged["save"].append(_staged(model))

    def update(self, model: Model, actions: list[Action], condition: Condition | None = None,
               return_values: str | None = None, *, add_version_condition: bool = True) -> None:
        super().update(model, actions, condition=condition, return_values=return_values,
                       add_version_condition=add_version_condition)
        self.staged["update"].append(_staged(model))

    def failed_conditions(self, error: TransactWriteError) -> list[StagedItem]:
        """The items whose condition cancelled the transaction, from the error its commit raised."""
        sent = [item for kind in SEND_ORDER for item in self.staged[kind]]
        return [item for reason, item in zip(error.cancellation_reasons, sent, strict=False)
                if reason is not None and reason.code == "ConditionalCheckFailed"]


def transaction() -> Transaction:
    return Transaction(connection())
