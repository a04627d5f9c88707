"""What every pynamodb model and transaction shares: table names from the resource specs, lazy region, and
transactions that can say which of their items cancelled them."""

from __future__ import annotations

import base64
import binascii
import functools
import json
import random
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.connection import Connection
from pynamodb.exceptions import GetError, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import MetaProtocol, Model
from pynamodb.transactions import TransactWrite

from chalicelib import config
from chalicelib.errors import ValidationFailed
from chalicelib.resources import TableSpec

V = TypeVar("V")


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


def lost_to_another_transaction(error: TransactWriteError) -> bool:
    """DynamoDB cancelled the transaction because another one was writing one of its items: decide again on a
    fresh read (nothing was written)."""
    return any(reason is not None and reason.code == "TransactionConflict"
               for reason in error.cancellation_reasons or [])


# ---- reading several tables in one request ---------------------------------------------------------------------

BATCH_GET_LIMIT = 100  # keys in one BatchGetItem request, over all its tables


@dataclass(frozen=True, eq=False)
class BatchRead(Generic[V]):
    """Keys of one table to read in a shared BatchGetItem, and what each item found becomes.

    Keys are hash keys, or (hash, range) tuples for tables with a range key. `missing` gives the value of a key
    that has no item (None: left out of the answer). Built by the table's repository, so callers never see models.
    """

    model: type[Model]
    keys: tuple[Hashable, ...]
    to_value: Callable[[Any], V]
    consistent: bool = False
    missing: Callable[[Any], V] | None = None


class BatchResult:
    """What read_together found, per BatchRead."""

    def __init__(self, found: dict[BatchRead[Any], dict[Hashable, Any]]) -> None:
        self._found = found

    def of(self, read: BatchRead[V]) -> dict[Any, V]:
        """key -> value for every key of `read` that has an item (or a `missing` value)."""
        found = self._found.get(read, {})
        values: dict[Any, V] = {}
        for key in read.keys:
            if key in found:
                values[key] = read.to_value(found[key])
            elif read.missing is not None:
                values[key] = read.missing(key)
        return values

    def one(self, read: BatchRead[V]) -> V | None:
        """The value of a read of a single key."""
        values = self.of(read)
        return next(iter(values.values()), None)


def _raw_key(model: type[Model], raw: dict[str, Any]) -> str:
    """An item's key as returned (in the wire form), to match it with the key asked for."""
    names = [attribute.attr_name for attribute in (model._hash_key_attribute(), model._range_key_attribute())
             if attribute is not None]
    return json.dumps({name: raw[name] for name in names}, sort_keys=True)


def _wire_key(model: type[Model], key: Hashable) -> dict[str, Any]:
    """The key as BatchGetItem takes it: {name: {type: value}}."""
    hash_attribute, range_attribute = model._hash_key_attribute(), model._range_key_attribute()
    if range_attribute is not None:
        hash_value, range_value = cast(tuple[Any, Any], key)
        hash_ser, range_ser = model._serialize_keys(hash_value, range_value)
        return {hash_attribute.attr_name: {hash_attribute.attr_type: hash_ser},
                range_attribute.attr_name: {range_attribute.attr_type: range_ser}}
    hash_ser, _ = model._serialize_keys(key)
    return {hash_attribute.attr_name: {hash_attribute.attr_type: hash_ser}}


def _key_text(model: type[Model], key: Hashable) -> str:
    return json.dumps(_wire_key(model, key), sort_keys=True)


def read_together(reads: Sequence[BatchRead[Any]], *, attempts: int = 8) -> BatchResult:
    """Read the keys of several tables in one BatchGetItem (more only past 100 keys or when DynamoDB leaves keys
    unprocessed): one round trip instead of one per table on the hot paths (a cart's stock, products, voucher).

    Each table keeps its own consistency: strongly consistent if any read of it asks for it.
    """
    tables: dict[str, tuple[type[Model], bool, set[str]]] = {}
    for read in reads:
        name = read.model.Meta.table_name
        model, consistent, keys = tables.get(name, (read.model, False, set()))
        keys.update(_key_text(read.model, key) for key in read.keys)
        tables[name] = (model, consistent or read.consistent, keys)
    pending = [(name, key) for name, (_, _, keys) in tables.items() for key in sorted(keys)]
    items: dict[str, dict[str, Model]] = {name: {} for name in tables}
    unprocessed_rounds = 0
    while pending:
        page, pending = pending[:BATCH_GET_LIMIT], pending[BATCH_GET_LIMIT:]
        request: dict[str, Any] = {}
        for name, key in page:
            spec = request.setdefault(name, {"Keys": [], **({"ConsistentRead": True} if tables[name][1] else {})})
            spec["Keys"].append(json.loads(key))
        try:
            answer = connection().dispatch("BatchGetItem", {"RequestItems": request})
        except (BotoCoreError, ClientError) as error:
            raise GetError(f"Failed to batch get items: {error}", error) from error
        for name, raw_items in answer.get("Responses", {}).items():
            model = tables[name][0]
            for raw in raw_items:
                items[name][_raw_key(model, raw)] = model.from_raw_data(raw)
        left = [(name, json.dumps(key, sort_keys=True))
                for name, unprocessed in answer.get("UnprocessedKeys", {}).items() for key in unprocessed["Keys"]]
        if left:  # throttled or past 16 MB: ask again for the rest, backing off
            unprocessed_rounds += 1
            if unprocessed_rounds >= attempts:
                raise GetError(f"BatchGetItem left {len(left)} keys unprocessed after {attempts} attempts")
            time.sleep(random.uniform(0, min(1.0, 0.05 * 2 ** unprocessed_rounds)))
            pending = left + pending
    found: dict[BatchRead[Any], dict[Hashable, Any]] = {}
    for read in reads:
        by_key = items[read.model.Meta.table_name]
        found[read] = {key: by_key[text] for key in read.keys if (text := _key_text(read.model, key)) in by_key}
    return BatchResult(found)


# ---- paging: the cursor a list answers with, and the start key it stands for --------------------------------


def page_cursor(key: dict[str, Any] | None, *, item_key: str, range_name: str) -> str | None:
    """The next page's cursor from a Query's LastEvaluatedKey: only the item's key and the index's range value go
    in (the index's hash value is the query's own), so a cursor cannot steer a query to another partition."""
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps([key[item_key]["S"], key[range_name]["S"]]).encode()).decode()


def start_key(cursor: str | None, *, item_key: str, range_name: str, hash_name: str, hash_value: str,
              max_len: int = 64) -> dict[str, Any] | None:
    """The ExclusiveStartKey a cursor from page_cursor stands for; a cursor this API did not give out is a 400."""
    if not cursor:
        return None
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error):
        raise ValidationFailed("cursor", "is not a cursor this API returned") from None
    if (not isinstance(position, list) or len(position) != 2
            or not all(isinstance(part, str) and 0 < len(part) <= max_len for part in position)):
        raise ValidationFailed("cursor", "is not a cursor this API returned")
    return {item_key: {"S": position[0]}, range_name: {"S": position[1]}, hash_name: {"S": hash_value}}
