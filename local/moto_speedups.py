"""Keep the embedded DynamoDB fast when a table holds tens of thousands of items, applied by the local stack and
the offline account next to local/moto_fixes.py. AWS behaves the same with or without these patches: they only
change how moto 5.2 gets to the answer it already gives.

- moto's TransactWriteItems deep-copies every table it touches before writing, for a rollback: over a second
  per transaction at 10,000 items, and gigabytes of garbage. Here it remembers only the items it touches.
- moto's GSI query filters and sorts the whole table on every page: seconds at 50,000 items. Here each queried
  index partition is sorted once per table version, and a page starts at its ExclusiveStartKey by bisection.
- moto's threaded server checks a write's conditions and then writes, as separate steps; here each account and
  region's writes and queries take one re-entrant lock, so neither interleaves with another request's.

The parts copied from moto (`_transact_write_items`, `_query_page`) follow moto's own line for line; the tests in
tests/functional/test_moto_speedups.py compare every answer with unpatched moto and fail once moto's code changes.
"""

from __future__ import annotations

import copy
import inspect
import threading
import weakref
from collections.abc import Callable
from decimal import Decimal
from operator import itemgetter
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    ResourceNotFoundException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, GlobalSecondaryIndex, Table

# Key types whose values sort and hash consistently (DynamoType compares their cast values).
_SCALAR_TYPES = frozenset({"S", "N", "B"})
_PATCHES: list[tuple[type, str, Callable[..., Any]]] = []

# ------------------------------------------------------------------------------------------------- locks

_LOCKS: dict[tuple[str, str], threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def lock_for(account_id: str, region_name: str) -> threading.RLock:
    """One re-entrant lock per DynamoDB backend (account and region): a transaction calls the backend's own
    put, update and delete, which take it again."""
    key = (account_id, region_name)
    lock = _LOCKS.get(key)
    if lock is None:
        with _LOCKS_GUARD:
            lock = _LOCKS.setdefault(key, threading.RLock())
    return lock


def _backend_lock(backend: DynamoDBBackend) -> threading.RLock:
    return lock_for(backend.account_id, backend.region_name)


def _table_lock(table: Table) -> threading.RLock:
    return lock_for(table.account_id, table.region_name)


# ------------------------------------------------------------------------------------------ GSI cache


class _Partition:
    """One GSI hash-key value's items, sorted as moto sorts them, with the one type each sort attribute has."""

    __slots__ = ("items", "types")

    def __init__(self, items: list[Item], types: dict[str, str]) -> None:
        self.items = items
        self.types = types


class _TableCache:
    """A table's GSI partitions, valid while `version` is unchanged; every write bumps it."""

    __slots__ = ("groups", "partitions", "version")

    def __init__(self) -> None:
        self.version = 0
        # index signature -> hash value -> items in storage order (unsorted until first asked for)
        self.groups: dict[tuple[Any, ...], dict[DynamoType, list[Item]]] = {}
        # (index signature, hash value) -> sorted partition, or None where moto's own query must answer
        self.partitions: dict[tuple[Any, ...], _Partition | None] = {}


_CACHES: weakref.WeakKeyDictionary[Table, _TableCache] = weakref.WeakKeyDictionary()


def table_version(table: Table) -> int:
    """How many writes the cache has seen on the table since it was first queried (tests read it)."""
    cache = _CACHES.get(table)
    return cache.version if cache is not None else 0


def bump(table: Table) -> None:
    """A write happened (or may have): forget the table's GSI partitions."""
    cache = _CACHES.get(table)
    if cache is not None:
        cache.version += 1
        cache.groups = {}
        cache.partitions = {}


def _bump_named(backend: DynamoDBBackend, table_name: Any) -> None:
    if not isinstance(table_name, str):
        return
    try:
        table = backend.get_table(table_name)
    except ResourceNotFoundException:
        return
    bump(table)


def _group_items(table: Table, hash_attr: str, range_attr: str | None) -> dict[DynamoType, list[Item]]:
    """The items an index holds, by hash-key value, as moto's GSI query selects them: the hash attribute present
    and of a scalar type (only those can equal a key condition's value), the range attribute present if the index
    has one. Storage order, not moto's all_items order: the sort key ends with the table key, so with one type per
    attribute (checked in _sorted) the sorted result does not depend on it."""
    groups: dict[DynamoType, list[Item]] = {}
    for hash_set in list(table.items.values()):
        candidates = list(hash_set.values()) if table.range_key_attr else [hash_set]
        for item in candidates:
            if not isinstance(item, Item):
                continue
            value = item.attrs.get(hash_attr)
            if value is None or value.type not in _SCALAR_TYPES:
                continue
            if range_attr is not None and not item.attrs.get(range_attr):
                continue
            groups.setdefault(value, []).append(item)
    return groups


def _partition(
    table: Table, signature: tuple[Any, ...], hash_value: DynamoType, hash_attr: str, range_attr: str | None,
    sort_attrs: list[str],
) -> _Partition | None:
    """The sorted items for one hash value from the cache, built if the table changed since; None when moto's own
    query must answer (see _sorted)."""
    cache = _CACHES.get(table)
    if cache is None:
        cache = _CACHES.setdefault(table, _TableCache())
    key = (signature, hash_value)
    if key in cache.partitions:
        return cache.partitions[key]
    version = cache.version
    groups = cache.groups.get(signature)
    if groups is None:
        groups = _group_items(table, hash_attr, range_attr)
    result = _sorted(groups.get(hash_value, []), sort_attrs)
    if cache.version == version:  # not written meanwhile (a write outside the lock, e.g. a table import)
        cache.groups[signature] = groups
        cache.partitions[key] = result
    return result


def _sorted(items: list[Item], sort_attrs: list[str]) -> _Partition | None:
    """The items as Table.sorted_items orders them, by the attributes _generate_attr_to_sort_by names; None when an
    item lacks one or an attribute has more than one type (moto's sort fails, or orders by accident, then).

    Sorted on each value's cast_value computed once per item, not by DynamoType comparisons that compute it twice
    per comparison (seconds at 50,000 items): with one type per attribute DynamoType's == and < are exactly those
    of its cast_value (a Decimal for N, the value itself for S and B), and the table key at the end makes every
    sort key distinct, so the order is the same."""
    types: dict[str, str] = {}
    keyed: list[tuple[tuple[Any, ...], Item]] = []
    for item in items:
        values = []
        for attr in sort_attrs:
            value = item.attrs.get(attr)
            if value is None or value.type not in _SCALAR_TYPES or types.setdefault(attr, value.type) != value.type:
                return None
            values.append(Decimal(value.value) if value.type == "N" else value.value)
        keyed.append((tuple(values), item))
    keyed.sort(key=itemgetter(0))
    return _Partition([item for _, item in keyed], types)


def _start_key_fits(exclusive_start_key: Any, partition: _Partition, sort_attrs: list[str]) -> bool:
    """Whether the start key names every sort attribute with the partition's type, so comparing items with it
    orders them as the partition is sorted and bisection finds where moto's walk from the start would begin."""
    if not isinstance(exclusive_start_key, dict):
        return False
    for attr in sort_attrs:
        value = exclusive_start_key.get(attr)
        if not isinstance(value, dict) or len(value) != 1:
            return False
        if partition.items and next(iter(value)) != partition.types.get(attr):
            return False
    return True


def _gsi_plan(table: Table, index_name: str | None, consistent_read: bool, scan_index_forward: Any,
              hash_key_conditions: list[tuple[str, DynamoType]] | None,
              range_key_conditions: list[tuple[str, str, list[DynamoType]]] | None,
              range_comparison: str | None) -> dict[str, Any] | None:
    """What a query on a plain GSI needs (its key attributes and sort order, as moto's Table.query computes them),
    or None for anything else: no index, a local index, multi-attribute keys, no single hash-key condition,
    a consistent read, a range condition on an index without a range key. moto answers those itself."""
    if not index_name or consistent_read or not (scan_index_forward is True or scan_index_forward is False):
        return None
    index = {i.name: i for i in table.all_indexes()}.get(index_name)
    if not isinstance(index, GlobalSecondaryIndex) or index not in table.global_indexes:
        return None
    hash_keys = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]
    range_keys = [key["AttributeName"] for key in index.schema if key["KeyType"] == "RANGE"]
    if len(hash_keys) != 1 or len(range_keys) > 1:
        return None
    if not hash_key_conditions or len(hash_key_conditions) != 1 or hash_key_conditions[0][0] != hash_keys[0]:
        return None
    hash_value = hash_key_conditions[0][1]
    if not isinstance(hash_value, DynamoType) or hash_value.type not in _SCALAR_TYPES:
        return None
    if range_key_conditions and len(range_key_conditions) > 1:
        return None
    if range_comparison and not range_keys:
        return None
    # As moto's Table.query: without an index range key the table's range key (else hash key) acts as one.
    if range_keys:
        index_range_key = {"AttributeName": range_keys[0]}
        range_attrs: list[str | None] = [range_keys[0], table.range_key_attr]
    else:
        index_range_key = {"AttributeName": table.range_key_attr or table.hash_key_attr}
        range_attrs = [index_range_key["AttributeName"], table.range_key_attr]
    hash_attrs = [hash_keys[0], table.hash_key_attr]
    return {
        "signature": (index.name, repr(index.schema), table.hash_key_attr, table.range_key_attr),
        "hash_attr": hash_keys[0],
        "range_attr": range_keys[0] if range_keys else None,
        "hash_value": hash_value,
        "hash_attrs": hash_attrs,
        "range_attrs": range_attrs,
        "sort_attrs": table._generate_attr_to_sort_by(hash_attrs, range_attrs),
        "index_range_key": index_range_key,
        "last_range_key_name": range_key_conditions[-1][0] if range_key_conditions else None,
    }


def _query_page(
    table: Table, items: list[Item], plan: dict[str, Any], range_comparison: str | None,
    range_objs: list[DynamoType], limit: int, exclusive_start_key: dict[str, Any] | None,
    scan_index_forward: bool, projection_expressions: list[list[str]] | None, index_name: str,
    filter_expression: Any, filter_kwargs: dict[str, Any],
) -> tuple[list[Item], int, dict[str, Any] | None]:
    """moto's Table.query from "# FILTER" on, over the cached partition: the walk over the previous pages is a
    bisection (the partition is sorted by exactly the attributes _item_comes_before_dct compares)."""
    hash_attrs, range_attrs = plan["hash_attrs"], plan["range_attrs"]
    index_range_key, last_range_key_name = plan["index_range_key"], plan["last_range_key_name"]
    count = len(items)

    def at(position: int) -> Item:
        return items[position] if scan_index_forward else items[count - 1 - position]

    start = 0
    if exclusive_start_key is not None:
        low, high = 0, count
        while low < high:
            middle = (low + high) // 2
            if table._item_comes_before_dct(
                at(middle), exclusive_start_key, hash_attrs, range_attrs, scan_index_forward
            ):
                low = middle + 1
            else:
                high = middle
        start = low

    # The range condition's matches are one run of the sorted partition: walk only that run (moto walks every item
    # and skips those that do not match), then stop where moto's walk would stop on the item after the run.
    first_match, past_match = _matching_run(items, plan, range_comparison, range_objs, last_range_key_name)
    if scan_index_forward:
        walk_from, walk_to = first_match, past_match
    else:
        walk_from, walk_to = count - past_match, count - first_match
    start = max(start, walk_from)
    stopped = False

    # From here on as moto's Table.query, without the walk over the previous page.
    results: list[Item] = []
    result_size = 0
    scanned_count = 0
    last_evaluated_key = None
    for position in range(start, walk_to):
        result = at(position)

        # Check wether we've reached the limit of our result set
        # That can be either in number, or in size
        reached_length_limit = len(results) == limit
        reached_size_limit = (result_size + result.size()) > RESULT_SIZE_LIMIT
        if reached_length_limit or reached_size_limit:
            last_evaluated_key = table._get_last_evaluated_key(results[-1], index_name)
            stopped = True
            break

        if not range_comparison and not filter_kwargs:
            # If we're not filtering on range key or on an index
            results.append(result)
            result_size += result.size()
            scanned_count += 1

        if range_comparison:
            # Determine which attribute to apply the range comparison to
            range_attr_for_comparison: str | None = None
            if last_range_key_name:
                # Multi-attribute key: use the specific range key from the query
                range_attr_for_comparison = last_range_key_name
            elif index_name and index_range_key:
                # Single range key GSI: use the index range key
                range_attr_for_comparison = index_range_key["AttributeName"]

            if range_attr_for_comparison and result.attrs.get(range_attr_for_comparison):
                if result.attrs.get(range_attr_for_comparison).compare(  # type: ignore[union-attr]
                    range_comparison, range_objs
                ):
                    results.append(result)
                    result_size += result.size()
                    scanned_count += 1

        if filter_kwargs:
            for field, value in filter_kwargs.items():
                dynamo_types = [DynamoType(ele) for ele in value["AttributeValueList"]]
                if result.attrs.get(field).compare(  # type: ignore[union-attr]
                    value["ComparisonOperator"], dynamo_types
                ):
                    results.append(result)
                    result_size += result.size()
            scanned_count += 1

    if not stopped and results and walk_to < count:  # moto would go on to the next (non-matching) item and stop
        after = at(walk_to)
        if len(results) == limit or result_size + after.size() > RESULT_SIZE_LIMIT:
            last_evaluated_key = table._get_last_evaluated_key(results[-1], index_name)

    results = copy.deepcopy(results)
    index = table.get_index(index_name)
    results = [index.project(r) for r in results]

    if filter_expression is not None:
        results = [item for item in results if filter_expression.expr(item)]

    if projection_expressions:
        results = [r.project(projection_expressions) for r in results]

    return results, scanned_count, last_evaluated_key


def _matching_run(items: list[Item], plan: dict[str, Any], range_comparison: str | None,
                  range_objs: list[DynamoType], last_range_key_name: str | None) -> tuple[int, int]:
    """[first, past) of the ascending partition that a key condition on the index's range key can match: the
    partition is sorted by that attribute first, so the matches of <, <=, =, >, >=, BETWEEN and begins_with are
    one run, found by bisection. The whole partition for anything else."""
    count = len(items)
    attr = plan["range_attr"]
    if not range_comparison or attr is None or (last_range_key_name not in (None, attr)) or not range_objs:
        return 0, count

    def first(beyond: Callable[[DynamoType], bool]) -> int:
        low, high = 0, count
        while low < high:
            middle = (low + high) // 2
            if beyond(items[middle].attrs[attr]):
                high = middle
            else:
                low = middle + 1
        return low

    low_value = range_objs[0]
    operation = range_comparison.upper()
    if operation in ("<", "LT"):
        return 0, first(lambda value: value >= low_value)
    if operation in ("<=", "LE"):
        return 0, first(lambda value: value > low_value)
    if operation in (">", "GT"):
        return first(lambda value: value > low_value), count
    if operation in (">=", "GE"):
        return first(lambda value: value >= low_value), count
    if operation in ("=", "EQ"):
        return first(lambda value: value >= low_value), first(lambda value: value > low_value)
    if operation == "BETWEEN" and len(range_objs) == 2:
        high_value = range_objs[1]
        return first(lambda value: value >= low_value), first(lambda value: value > high_value)
    if operation == "BEGINS_WITH" and low_value.type == "S":
        start = past = first(lambda value: value >= low_value)
        while past < count and str(items[past].attrs[attr].value).startswith(str(low_value.value)):
            past += 1
        return start, past
    return 0, count


def _cached_query(original: Callable[..., Any]) -> Callable[..., Any]:
    def query(
        self: Table,
        hash_key: DynamoType | None,
        range_comparison: str | None,
        range_objs: list[DynamoType],
        limit: int,
        exclusive_start_key: dict[str, Any],
        scan_index_forward: bool,
        projection_expressions: list[list[str]] | None,
        index_name: str | None = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        hash_key_conditions: list[tuple[str, DynamoType]] | None = None,
        range_key_conditions: list[tuple[str, str, list[DynamoType]]] | None = None,
        **filter_kwargs: Any,
    ) -> tuple[list[Item], int, dict[str, Any] | None]:
        """A GSI page from the table's cached, sorted partition (see the module docstring); anything else, or
        anything unusual, is moto's own query."""
        with _table_lock(self):
            plan = _gsi_plan(self, index_name, consistent_read, scan_index_forward, hash_key_conditions,
                             range_key_conditions, range_comparison)
            partition = None
            if plan is not None:
                partition = _partition(self, plan["signature"], plan["hash_value"], plan["hash_attr"],
                                       plan["range_attr"], plan["sort_attrs"])
            if plan is None or partition is None or (
                exclusive_start_key is not None
                and not _start_key_fits(exclusive_start_key, partition, plan["sort_attrs"])
            ):
                return original(
                    self, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
                    projection_expressions, index_name, consistent_read, filter_expression,
                    hash_key_conditions=hash_key_conditions, range_key_conditions=range_key_conditions,
                    **filter_kwargs,
                )
            assert index_name is not None
            return _query_page(
                self, partition.items, plan, range_comparison, range_objs, limit, exclusive_start_key,
                scan_index_forward, projection_expressions, index_name, filter_expression, filter_kwargs,
            )

    return query


# ------------------------------------------------------------------------------------------ transactions


class _Journal:
    """The items a transaction may write, as they were before it: enough to undo it."""

    def __init__(self) -> None:
        self.before: dict[tuple[int, DynamoType, DynamoType | None], tuple[Table, Item | None]] = {}
        self.streams: dict[int, tuple[Table, Any, list[Any]]] = {}

    def remember(self, backend: DynamoDBBackend, table_name: str, key: dict[str, Any]) -> None:
        """Keep a copy of the item at `key` (or that there was none) unless already kept. Whatever fails here
        fails again, identically, in the operation itself before it writes anything."""
        try:
            table = backend.get_table(table_name)
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            slot = (id(table), hash_value, range_value)
            if slot in self.before:
                return
            if range_value is None:
                current = table.items.get(hash_value)
            else:
                current = table.items.get(hash_value, {}).get(range_value)
        except Exception:
            return
        self.before[slot] = (table, copy.deepcopy(current) if isinstance(current, Item) else None)
        shard = table.stream_shard
        if id(table) not in self.streams and shard is not None:
            self.streams[id(table)] = (table, shard, list(shard.items))

    def tables(self) -> list[Table]:
        return list({id(table): table for table, _ in self.before.values()}.values())

    def roll_back(self) -> None:
        """Put every remembered item back as it was, in the table's own storage; stream records written since
        are dropped, as moto's restored table copy drops them."""
        for (_, hash_value, range_value), (table, item) in reversed(list(self.before.items())):
            if range_value is None:
                if item is None:
                    table.items.pop(hash_value, None)
                else:
                    table.items[hash_value] = item  # type: ignore[assignment]  # moto's storage, as put_item
            elif item is None:
                partition = table.items.get(hash_value)
                if partition is not None:
                    partition.pop(range_value, None)
            else:
                table.items[hash_value][range_value] = item
        for table, shard, records in self.streams.values():
            if table.stream_shard is shard and shard is not None:
                shard.items = records


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]], journal: _Journal) -> None:
    """moto's DynamoDBBackend.transact_write_items with the tables' deep copies replaced by the journal. One
    difference: tables named by ARN are rolled back too (moto only copies tables it finds by name)."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()

    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[str, str, dict[str, Any]] | tuple[None, None, None]] = []  # [(Code, Message, Item), ..]
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        # Check transact writes are not performing multiple operations on the same item
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException

        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")

            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            expression_attribute_names = op.get("ExpressionAttributeNames")
            expression_attribute_values = op.get("ExpressionAttributeValues")
            return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")

            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]

            check_unicity(table_name, key)
            if op_type != "ConditionCheck":
                journal.remember(self, table_name, key)

            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition_op = get_filter_expression(
                    condition_expression,
                    expression_attribute_names,
                    expression_attribute_values,
                )
                if not condition_op.expr(current):
                    if return_values_on_condition_check_failure == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)

            if op_type == "Put":
                attrs = op["Item"]
                self.put_item(
                    table_name,
                    attrs,
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Delete":
                self.delete_item(
                    table_name,
                    key,
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Update":
                update_expression = op["UpdateExpression"]
                self.update_item(
                    table_name,
                    key,
                    update_expression=update_expression,
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            # Rollback to the original state, and reraise the error
            journal.roll_back()
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))  # type: ignore[arg-type]
        except Exception as e:
            # For other exceptions, capture their details
            errors.append((type(e).__name__, str(e), original_item))  # type: ignore[arg-type]

    if any(code is not None for code, _, _ in errors):
        # Rollback to the original state, and reraise the errors
        journal.roll_back()
        raise TransactionCanceledException(errors)


def _journalled_transactions(original: Callable[..., Any]) -> Callable[..., Any]:
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        """Undo a failed transaction from the items it touched, not from copies of whole tables; atomic against
        every other request to this backend."""
        journal = _Journal()
        with _backend_lock(self):
            try:
                _transact_write_items(self, transact_items, journal)
            finally:
                for table in journal.tables():
                    bump(table)

    return transact_write_items


# -------------------------------------------------------------------------------------------- wrappers


def _bumping_table_write(original: Callable[..., Any]) -> Callable[..., Any]:
    def write(self: Table, *args: Any, **kwargs: Any) -> Any:
        """Every write to a table's storage passes here (the backend's put, delete, update, batch writes,
        transactions, PartiQL, table imports): the table's GSI partitions are out of date."""
        try:
            return original(self, *args, **kwargs)
        finally:
            bump(self)

    return write


def _locked_backend_write(original: Callable[..., Any]) -> Callable[..., Any]:
    name_parameter = list(inspect.signature(original).parameters)[1]  # table_name, or update_table's name

    def write(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        """A conditional write checks and writes under the backend's lock; an update changes the stored item in
        place (update_table an index), so it also tells the GSI cache."""
        with _backend_lock(self):
            try:
                return original(self, *args, **kwargs)
            finally:
                _bump_named(self, args[0] if args else kwargs.get(name_parameter))

    return write


def _locked_backend_call(original: Callable[..., Any]) -> Callable[..., Any]:
    def call(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        """Reads all of a table, or writes through Table's own methods: not interleaved with another request."""
        with _backend_lock(self):
            return original(self, *args, **kwargs)

    return call


def _patch(owner: type, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    current = owner.__dict__[name]
    if hasattr(current, "moto_original"):
        return
    replacement = make(current)
    replacement.moto_original = current  # type: ignore[attr-defined]
    replacement.__name__ = name
    replacement.__qualname__ = f"{owner.__name__}.{name}"
    setattr(owner, name, replacement)


def install() -> None:
    """Apply every speed-up; safe to call again (the stack and every offline account do)."""
    if installed():
        return
    _CACHES.clear()
    for owner, name, make in _PATCHES:
        _patch(owner, name, make)


def uninstall() -> None:
    """moto as it comes, for the tests that compare the two."""
    for owner, name, _ in _PATCHES:
        current = owner.__dict__[name]
        if hasattr(current, "moto_original"):
            setattr(owner, name, current.moto_original)
    _CACHES.clear()


def installed() -> bool:
    return all(hasattr(owner.__dict__[name], "moto_original") for owner, name, _ in _PATCHES)


_PATCHES.extend([
    (Table, "put_item", _bumping_table_write),
    (Table, "delete_item", _bumping_table_write),
    (Table, "query", _cached_query),
    (DynamoDBBackend, "put_item", _locked_backend_write),
    (DynamoDBBackend, "delete_item", _locked_backend_write),
    (DynamoDBBackend, "update_item", _locked_backend_write),
    (DynamoDBBackend, "update_table", _locked_backend_write),
    (DynamoDBBackend, "transact_write_items", _journalled_transactions),
    (DynamoDBBackend, "execute_statement", _locked_backend_call),
    (DynamoDBBackend, "scan", _locked_backend_call),
])
