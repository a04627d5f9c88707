"""local/moto_speedups.py changes how fast moto answers, never what it answers.

The equivalence test replays one seeded sequence of writes and GSI page walks against moto with the speed-ups and
against moto as it comes, and compares every answer. The others pin down what the journal and the cache must get
right: a failed transaction's rollback, the cache forgetting a table on every kind of write, atomic transactions
under threads. The first test fails when moto's code changes under the parts the module copies or relies on.
"""

from __future__ import annotations

import hashlib
import inspect
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import moto.dynamodb
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing.validators import UpdateExpressionValidator

from local import moto_speedups
from local.offline import REGION

THINGS = "things"  # pk (S) + sk (N); GSIs by-word (grp, word S), by-num (grp, num N), by-grp (grp only)
LEDGER = "ledger"  # id (S) only; GSI by-num (grp, num N)
GROUPS = ("a", "b", "c")
WORDS = ("apple", "apricot", "b", "banana", "berry", "cherry")
NUMBERS = ("-2", "0", "1", "1.5", "3", "10")

# The moto code the module copies (a change means re-checking the copy) or whose storage it writes to directly.
MOTO_SOURCES = {
    "DynamoDBBackend.transact_write_items": "81db2cb7d94e39c9",
    "DynamoDBBackend.update_item": "218984588dd689a5",
    "DynamoDBBackend.put_item": "f5d9a5042c77b89e",
    "DynamoDBBackend.delete_item": "083a4bb1af18f6fd",
    "Table.query": "002b4d00be6df07c",
    "Table.put_item": "de23933013ef8426",
    "Table.delete_item": "1594f7b07616c8cb",
    "Table.get_item": "b08e98fe37b7e583",
    "Table.sorted_items": "216dac1cd6b659d2",
    "Table._item_comes_before_dct": "6d70f41f7cb059f4",
    "Table._generate_attr_to_sort_by": "afef70e159fa8cb5",
    "Table._get_last_evaluated_key": "2d0fae62fcd41aae",
}
# Every line of moto's DynamoDB that writes a table's storage or calls something that does: the speed-ups bump the
# GSI cache from Table.put_item, Table.delete_item and DynamoDBBackend.update_item, so a new writer must be wrapped.
WRITERS = re.compile(r"\.items\[|\.items\.pop|\.items = |(put|delete|update)_item\(|transact_write_items\(|"
                     r"Executor\(|update_with_attribute_updates\(")
WRITER_LINES = "83e644d361417809"


def moto_source_digest(qualified_name: str) -> str:
    owner_name, name = qualified_name.split(".")
    owner = {"DynamoDBBackend": DynamoDBBackend, "Table": Table}[owner_name]
    function = owner.__dict__[name]
    function = getattr(function, "moto_original", function)
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def writer_lines() -> list[str]:
    root = Path(moto.dynamodb.__file__).parent
    return sorted(f"{path.relative_to(root).as_posix()}: {line.strip()}" for path in root.rglob("*.py")
                  for line in path.read_text(encoding="utf-8").splitlines() if WRITERS.search(line))


def test_moto_has_not_changed_the_code_the_speedups_copy_or_write_around() -> None:
    changed = [name for name, digest in MOTO_SOURCES.items() if moto_source_digest(name) != digest]
    assert not changed, (
        f"moto changed {changed}: re-check local/moto_speedups.py against the new code (the copied transaction and "
        "query, the storage the journal restores), then update MOTO_SOURCES"
    )
    lines = writer_lines()
    assert hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16] == WRITER_LINES, (
        "moto's lines that write a table changed: check each path still passes a wrapper that bumps the GSI cache, "
        "then update WRITER_LINES. They are now:\n" + "\n".join(lines)
    )


@pytest.fixture
def speedups_restored() -> Iterator[None]:
    """Whatever a test installs or uninstalls, the process gets back what it had (other tests' accounts install)."""
    was_installed = moto_speedups.installed()
    yield
    if was_installed:
        moto_speedups.install()
    else:
        moto_speedups.uninstall()


@pytest.fixture
def ddb(speedups_restored: None) -> Iterator[Any]:
    """A fresh moto account with the speed-ups and the two tables."""
    moto_speedups.install()
    with mock_aws():
        client = create_tables()
        yield client


def create_tables() -> Any:
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=THINGS,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": kind}
                              for name, kind in (("pk", "S"), ("sk", "N"), ("grp", "S"), ("word", "S"), ("num", "N"))],
        GlobalSecondaryIndexes=[
            {"IndexName": "by-word", "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": "grp", "KeyType": "HASH"}, {"AttributeName": "word", "KeyType": "RANGE"}]},
            {"IndexName": "by-num", "Projection": {"ProjectionType": "KEYS_ONLY"},
             "KeySchema": [{"AttributeName": "grp", "KeyType": "HASH"}, {"AttributeName": "num", "KeyType": "RANGE"}]},
            {"IndexName": "by-grp", "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["qty"]},
             "KeySchema": [{"AttributeName": "grp", "KeyType": "HASH"}]},
        ],
    )
    client.create_table(
        TableName=LEDGER,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": kind}
                              for name, kind in (("id", "S"), ("grp", "S"), ("num", "N"))],
        GlobalSecondaryIndexes=[
            {"IndexName": "by-num", "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": "grp", "KeyType": "HASH"}, {"AttributeName": "num", "KeyType": "RANGE"}]},
        ],
    )
    return client


def moto_table(name: str) -> Table:
    return dynamodb_backends["123456789012"][REGION].get_table(name)


# ------------------------------------------------------------------------------- randomized equivalence


def random_key(rng: random.Random, table: str) -> dict[str, Any]:
    if table == THINGS:
        return {"pk": {"S": f"p{rng.randrange(5)}"}, "sk": {"N": str(rng.randrange(6))}}
    return {"id": {"S": f"l{rng.randrange(10)}"}}


def random_item(rng: random.Random, table: str) -> dict[str, Any]:
    """Sparse in every index: the group, the word and the number are each often missing; few values, many ties."""
    item = random_key(rng, table)
    if rng.random() < 0.85:
        item["grp"] = {"S": rng.choice(GROUPS)}
    if table == THINGS and rng.random() < 0.7:
        item["word"] = {"S": rng.choice(WORDS)}
    if rng.random() < 0.7:
        item["num"] = {"N": rng.choice(NUMBERS)}
    if rng.random() < 0.8:
        item["qty"] = {"N": str(rng.randrange(5))}
    item["flag"] = {"BOOL": rng.random() < 0.5}
    item["note"] = {"S": "x" * rng.randrange(1, 40)}
    return item


CONDITIONS: list[tuple[str | None, dict[str, Any]]] = [
    (None, {}),
    (None, {}),
    ("attribute_exists(qty)", {}),
    ("attribute_not_exists(qty)", {}),
    ("qty < :three", {":three": {"N": "3"}}),
    ("grp = :a", {":a": {"S": "a"}}),
]


def random_update(rng: random.Random, table: str) -> dict[str, Any]:
    """An Update's fields. "qty + :one" on an item without qty is moto's ValidationException: mid-transaction,
    the whole transaction is rolled back and that error raised."""
    choices: list[tuple[str, dict[str, Any]]] = [
        ("SET grp = :grp, num = :num", {":grp": {"S": rng.choice(GROUPS)}, ":num": {"N": rng.choice(NUMBERS)}}),
        ("REMOVE grp", {}),
        ("REMOVE num SET flag = :flag", {":flag": {"BOOL": rng.random() < 0.5}}),
        ("SET qty = qty + :one", {":one": {"N": "1"}}),
        ("SET note = :note", {":note": {"S": "y" * rng.randrange(1, 30)}}),
    ]
    if table == THINGS:
        choices.append(("SET word = :word", {":word": {"S": rng.choice(WORDS)}}))
        choices.append(("REMOVE word", {}))
    expression, values = rng.choice(choices)
    condition, condition_values = rng.choice(CONDITIONS)
    fields: dict[str, Any] = {"TableName": table, "Key": random_key(rng, table), "UpdateExpression": expression}
    if condition:
        fields["ConditionExpression"] = condition
    if values or condition_values:
        fields["ExpressionAttributeValues"] = {**values, **condition_values}
    return fields


def with_condition(rng: random.Random, fields: dict[str, Any]) -> dict[str, Any]:
    condition, values = rng.choice(CONDITIONS)
    if condition:
        fields["ConditionExpression"] = condition
        if values:
            fields["ExpressionAttributeValues"] = values
    return fields


def random_transaction(rng: random.Random) -> list[dict[str, Any]]:
    operations: list[dict[str, Any]] = []
    for _ in range(rng.randint(1, 4)):
        table = rng.choice((THINGS, THINGS, LEDGER))
        kind = rng.choice(("Put", "Put", "Update", "Update", "Delete", "ConditionCheck"))
        if kind == "Put":
            fields = with_condition(rng, {"TableName": table, "Item": random_item(rng, table)})
        elif kind == "Update":
            fields = random_update(rng, table)
        elif kind == "Delete":
            fields = with_condition(rng, {"TableName": table, "Key": random_key(rng, table)})
        else:
            fields = {"TableName": table, "Key": random_key(rng, table),
                      "ConditionExpression": rng.choice(("attribute_exists(grp)", "attribute_not_exists(num)"))}
        if "ConditionExpression" in fields and rng.random() < 0.5:
            fields["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        operations.append({kind: fields})
    return operations  # two operations on one item now and then: the whole transaction is refused


def random_operation(rng: random.Random) -> tuple[str, dict[str, Any]]:
    table = rng.choice((THINGS, THINGS, LEDGER))
    kind = rng.choices(("put", "update", "delete", "batch", "transaction"), weights=(4, 3, 1, 1, 3))[0]
    if kind == "put":
        return "put_item", with_condition(rng, {"TableName": table, "Item": random_item(rng, table)})
    if kind == "update":
        return "update_item", {**random_update(rng, table), "ReturnValues": "ALL_NEW"}
    if kind == "delete":
        return "delete_item", with_condition(rng, {"TableName": table, "Key": random_key(rng, table),
                                                   "ReturnValues": "ALL_OLD"})
    if kind == "batch":
        requests: dict[str, list[dict[str, Any]]] = {}
        seen = set()
        for _ in range(rng.randint(1, 6)):
            target = rng.choice((THINGS, LEDGER))
            if rng.random() < 0.7:
                request: dict[str, Any] = {"PutRequest": {"Item": random_item(rng, target)}}
                item = request["PutRequest"]["Item"]
                key = {name: value for name, value in item.items() if name in ("pk", "sk", "id")}
            else:
                key = random_key(rng, target)
                request = {"DeleteRequest": {"Key": key}}
            if (target, repr(sorted(key.items()))) in seen:
                continue
            seen.add((target, repr(sorted(key.items()))))
            requests.setdefault(target, []).append(request)
        return "batch_write_item", {"RequestItems": requests}
    return "transact_write_items", {"TransactItems": random_transaction(rng)}


def random_query(rng: random.Random) -> dict[str, Any]:
    """A GSI query with a key condition on the group, maybe a range condition, a filter, a projection, a limit."""
    table, index = rng.choice(((THINGS, "by-word"), (THINGS, "by-num"), (THINGS, "by-grp"), (LEDGER, "by-num")))
    values: dict[str, Any] = {":grp": {"S": rng.choice((*GROUPS, "z"))}}
    condition = "grp = :grp"
    if index == "by-word" and rng.random() < 0.7:
        low, high = sorted(rng.sample(WORDS, 2))
        condition += rng.choice((" AND word = :low", " AND word <= :low", " AND word > :low",
                                 " AND word BETWEEN :low AND :high", " AND begins_with(word, :low)"))
        values[":low"], values[":high"] = {"S": low[:2] if "begins_with" in condition else low}, {"S": high}
    elif index == "by-num" and rng.random() < 0.7:
        low, high = sorted(rng.sample(NUMBERS, 2), key=float)
        condition += rng.choice((" AND num < :low", " AND num >= :low", " AND num BETWEEN :low AND :high"))
        values[":low"], values[":high"] = {"N": low}, {"N": high}
    query: dict[str, Any] = {"TableName": table, "IndexName": index, "KeyConditionExpression": condition,
                             "ScanIndexForward": rng.random() < 0.5}
    if rng.random() < 0.7:
        query["Limit"] = rng.choice((1, 2, 3, 5))
    if rng.random() < 0.3:
        query["FilterExpression"] = "flag = :yes"
        values[":yes"] = {"BOOL": True}
    if rng.random() < 0.2:
        query["ProjectionExpression"] = "grp, note"
    query["ExpressionAttributeValues"] = {name: value for name, value in values.items()
                                          if name in condition or name in query.get("FilterExpression", "")}
    return query


def answer(call: Callable[[], dict[str, Any]]) -> Any:
    """What moto answered, comparable: the response without its metadata, or the error's code, message and
    cancellation reasons (with the ALL_OLD items)."""
    try:
        response = call()
    except ClientError as error:
        return ("error", error.response["Error"], error.response.get("CancellationReasons"))
    response.pop("ResponseMetadata", None)
    return response


def page_walk(client: Any, query: dict[str, Any], start_key: Any = None, max_pages: int = 60) -> list[Any]:
    pages = []
    for _ in range(max_pages):
        arguments = dict(query, ExclusiveStartKey=start_key) if start_key else query
        page = answer(lambda arguments=arguments: client.query(**arguments))
        pages.append(page)
        start_key = page.get("LastEvaluatedKey") if isinstance(page, dict) else None
        if not start_key:
            break
    return pages


def run_script(operations: list[tuple[str, dict[str, Any]]], queries: list[list[dict[str, Any]]]) -> list[Any]:
    """Every answer, in order: each write's, then the page walks after it, then one page resumed from a start key
    kept from the previous step (its item may have moved or gone since), then both tables in full at the end."""
    with mock_aws():
        client = create_tables()
        trace: list[Any] = []
        kept: tuple[dict[str, Any], Any] | None = None
        for (method, arguments), step_queries in zip(operations, queries, strict=True):
            trace.append(answer(lambda method=method, arguments=arguments: getattr(client, method)(**arguments)))
            if kept is not None:
                trace.append(page_walk(client, kept[0], kept[1], max_pages=1))
                kept = None
            for query in step_queries:
                pages = page_walk(client, query)
                trace.append(pages)
                if kept is None and isinstance(pages[0], dict) and pages[0].get("LastEvaluatedKey"):
                    kept = (query, pages[0]["LastEvaluatedKey"])
        for table in (THINGS, LEDGER):
            items = client.scan(TableName=table)["Items"]
            trace.append(sorted(items, key=repr))
    return trace


def test_gsi_pages_and_write_outcomes_are_exactly_moto_s_over_a_random_history(
    speedups_restored: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a seeded history of puts, updates (moving items between partitions), deletes, batch writes and
    # transactions (some cancelled by a condition, some refused mid-way), with GSI page walks after each write
    rng = random.Random(20260515)
    operations = [random_operation(rng) for _ in range(220)]
    queries = [[random_query(rng) for _ in range(2)] for _ in operations]
    served = []
    original_page = moto_speedups._query_page
    monkeypatch.setattr(moto_speedups, "_query_page", lambda *args: served.append(1) or original_page(*args))

    # WHEN it runs with the speed-ups, then on moto as it comes
    moto_speedups.install()
    fast = run_script(operations, queries)
    moto_speedups.uninstall()
    plain = run_script(operations, queries)

    # THEN every answer is the same, and the cache answered nearly every page (not moto's query behind it)
    assert len(fast) == len(plain)
    for step, (got, expected) in enumerate(zip(fast, plain, strict=True)):
        assert got == expected, f"answer {step} differs"
    outcomes = [entry for entry in plain if isinstance(entry, tuple)]
    assert len(outcomes) > 40, "the history should include refused writes and cancelled transactions"
    assert {entry[1]["Code"] for entry in outcomes} >= {
        "ConditionalCheckFailedException", "TransactionCanceledException", "ValidationException"}
    pages = sum(len(entry) for entry in plain if isinstance(entry, list) and entry and isinstance(entry[0], dict)
                and "Count" in entry[0])
    assert len(served) > 0.9 * pages


# ------------------------------------------------------------------------------------ transaction rollback


def things_item(pk: str, sk: int, **attributes: str) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": {"S": pk}, "sk": {"N": str(sk)}}
    item.update({name: {"N": value} if name in ("num", "qty") else {"S": value} for name, value in attributes.items()})
    return item


def everything(client: Any) -> dict[str, Any]:
    """Both tables in full, and every GSI partition the tests use as the cache serves it."""
    state: dict[str, Any] = {table: sorted(client.scan(TableName=table)["Items"], key=repr)
                             for table in (THINGS, LEDGER)}
    for table, index in ((THINGS, "by-word"), (THINGS, "by-num"), (THINGS, "by-grp"), (LEDGER, "by-num")):
        for group in GROUPS:
            state[f"{table}/{index}/{group}"] = client.query(
                TableName=table, IndexName=index, KeyConditionExpression="grp = :grp",
                ExpressionAttributeValues={":grp": {"S": group}})["Items"]
    return state


@pytest.fixture
def stocked(ddb: Any) -> Any:
    """Two items in `things` and one in `ledger`, and the GSI cache built for all of them."""
    ddb.put_item(TableName=THINGS, Item=things_item("p1", 1, grp="a", word="apple", num="3", qty="1"))
    ddb.put_item(TableName=THINGS, Item=things_item("p1", 2, grp="a", word="berry", num="1", qty="2"))
    ddb.put_item(TableName=LEDGER, Item={"id": {"S": "l1"}, "grp": {"S": "b"}, "num": {"N": "5"}})
    everything(ddb)
    return ddb


def created_updated_deleted() -> list[dict[str, Any]]:
    """A new item, an update that moves one item to another GSI partition, a delete of the other one."""
    return [
        {"Put": {"TableName": THINGS, "Item": things_item("p9", 9, grp="a", word="aaa", num="0")}},
        {"Update": {"TableName": THINGS, "Key": things_item("p1", 1), "UpdateExpression": "SET grp = :c, word = :w",
                    "ExpressionAttributeValues": {":c": {"S": "c"}, ":w": {"S": "zzz"}}}},
        {"Delete": {"TableName": THINGS, "Key": things_item("p1", 2)}},
        {"Put": {"TableName": LEDGER, "Item": {"id": {"S": "l2"}, "grp": {"S": "b"}, "num": {"N": "0"}}}},
        {"Update": {"TableName": LEDGER, "Key": {"id": {"S": "l1"}}, "UpdateExpression": "SET num = :n",
                    "ExpressionAttributeValues": {":n": {"N": "99"}}}},
    ]


def test_a_transaction_cancelled_by_its_last_condition_leaves_every_touched_item_as_it_was(stocked: Any) -> None:
    before = everything(stocked)
    last = {"ConditionCheck": {"TableName": THINGS, "Key": things_item("p1", 7),
                               "ConditionExpression": "attribute_exists(pk)"}}
    with pytest.raises(ClientError) as refused:
        stocked.transact_write_items(TransactItems=[*created_updated_deleted(), last])
    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert [reason["Code"] for reason in refused.value.response["CancellationReasons"]] == [
        "None", "None", "None", "None", "None", "ConditionalCheckFailed"]
    assert everything(stocked) == before


def test_a_failed_condition_names_the_item_as_it_was_when_all_old_is_asked_for(stocked: Any) -> None:
    before = everything(stocked)
    failing = {"Update": {"TableName": THINGS, "Key": things_item("p1", 2), "UpdateExpression": "SET qty = :q",
                          "ConditionExpression": "qty > :q", "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                          "ExpressionAttributeValues": {":q": {"N": "5"}}}}
    with pytest.raises(ClientError) as refused:
        stocked.transact_write_items(TransactItems=[created_updated_deleted()[0], failing])
    reasons = refused.value.response["CancellationReasons"]
    assert reasons[1]["Code"] == "ConditionalCheckFailed"
    assert reasons[1]["Item"] == things_item("p1", 2, grp="a", word="berry", num="1", qty="2")
    assert everything(stocked) == before


def test_a_validation_error_mid_transaction_rolls_back_the_earlier_writes_and_is_raised(stocked: Any) -> None:
    before = everything(stocked)
    invalid = {"Update": {"TableName": LEDGER, "Key": {"id": {"S": "l1"}}, "UpdateExpression": "SET qty = qty + :one",
                          "ExpressionAttributeValues": {":one": {"N": "1"}}}}  # l1 has no qty
    operations = [operation for operation in created_updated_deleted() if "l1" not in repr(operation)]
    with pytest.raises(ClientError) as refused:
        stocked.transact_write_items(TransactItems=[*operations, invalid])
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert everything(stocked) == before


def test_two_operations_on_one_item_are_refused_and_the_earlier_writes_rolled_back(stocked: Any) -> None:
    before = everything(stocked)
    again = {"ConditionCheck": {"TableName": THINGS, "Key": things_item("p9", 9),
                                "ConditionExpression": "attribute_exists(pk)"}}
    with pytest.raises(ClientError) as refused:
        stocked.transact_write_items(TransactItems=[*created_updated_deleted(), again])
    assert refused.value.response["Error"]["Message"] == (
        "Transaction request cannot include multiple operations on one item")
    assert everything(stocked) == before


def test_a_transaction_naming_its_table_by_arn_is_rolled_back_too(stocked: Any) -> None:
    # moto's own rollback copies only the tables it finds by name: here the journal holds items whatever the name
    before = everything(stocked)
    arn = stocked.describe_table(TableName=THINGS)["Table"]["TableArn"]
    put = created_updated_deleted()[0]
    put["Put"]["TableName"] = arn
    last = {"ConditionCheck": {"TableName": arn, "Key": things_item("p1", 7),
                               "ConditionExpression": "attribute_exists(pk)"}}
    with pytest.raises(ClientError):
        stocked.transact_write_items(TransactItems=[put, last])
    assert everything(stocked) == before


def test_a_committed_transaction_is_seen_by_the_next_gsi_query(stocked: Any) -> None:
    stocked.transact_write_items(TransactItems=created_updated_deleted())
    state = everything(stocked)
    assert [item["pk"]["S"] for item in state[f"{THINGS}/by-word/a"]] == ["p9"]
    assert [item["word"]["S"] for item in state[f"{THINGS}/by-word/c"]] == ["zzz"]
    assert [item["num"]["N"] for item in state[f"{LEDGER}/by-num/b"]] == ["0", "99"]


# ------------------------------------------------------------------------------------------ cache invalidation


def group_a_words(client: Any) -> list[str]:
    items = client.query(TableName=THINGS, IndexName="by-word", KeyConditionExpression="grp = :a",
                         ExpressionAttributeValues={":a": {"S": "a"}})["Items"]
    return [item["word"]["S"] for item in items]


WRITES: dict[str, Callable[[Any], Any]] = {
    "put": lambda client: client.put_item(TableName=THINGS, Item=things_item("p2", 1, grp="a", word="cherry")),
    "update": lambda client: client.update_item(
        TableName=THINGS, Key=things_item("p1", 1), UpdateExpression="SET word = :w",
        ExpressionAttributeValues={":w": {"S": "cherry"}}),
    "delete": lambda client: client.delete_item(TableName=THINGS, Key=things_item("p1", 1)),
    "batch write": lambda client: client.batch_write_item(RequestItems={THINGS: [
        {"PutRequest": {"Item": things_item("p2", 1, grp="a", word="cherry")}},
        {"DeleteRequest": {"Key": things_item("p1", 1)}}]}),
    "transaction": lambda client: client.transact_write_items(TransactItems=[
        {"Update": {"TableName": THINGS, "Key": things_item("p1", 2), "UpdateExpression": "REMOVE grp"}}]),
    "PartiQL": lambda client: client.execute_statement(
        Statement=f"UPDATE \"{THINGS}\" SET word='cherry' WHERE pk=? AND sk=?",
        Parameters=[{"S": "p1"}, {"N": "2"}]),
}
EXPECTED_WORDS = {
    "put": ["apple", "berry", "cherry"],
    "update": ["berry", "cherry"],
    "delete": ["berry"],
    "batch write": ["berry", "cherry"],
    "transaction": ["apple"],
    "PartiQL": ["apple", "cherry"],
}


@pytest.mark.parametrize("write", WRITES)
def test_every_kind_of_write_makes_the_next_gsi_query_see_it(stocked: Any, write: str) -> None:
    assert group_a_words(stocked) == ["apple", "berry"]  # served from the cache built by `stocked`
    version = moto_speedups.table_version(moto_table(THINGS))
    WRITES[write](stocked)
    assert moto_speedups.table_version(moto_table(THINGS)) > version
    assert group_a_words(stocked) == EXPECTED_WORDS[write]


def test_a_repeated_gsi_query_reuses_the_sorted_partition_until_the_table_is_written(
    stocked: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = []
    original = moto_speedups._group_items
    monkeypatch.setattr(moto_speedups, "_group_items", lambda *args: builds.append(args[1:]) or original(*args))
    moto_speedups.bump(moto_table(THINGS))
    for _ in range(3):
        assert group_a_words(stocked) == ["apple", "berry"]
    assert len(builds) == 1
    WRITES["put"](stocked)
    assert group_a_words(stocked) == ["apple", "berry", "cherry"]
    assert len(builds) == 2


UNUSUAL_QUERIES: dict[str, dict[str, Any]] = {
    "consistent read on a GSI": {"IndexName": "by-word", "ConsistentRead": True},
    "no such index": {"IndexName": "by-nothing"},
    "the table itself": {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p1"}}},
    "a start key without the index's keys": {"IndexName": "by-word", "ExclusiveStartKey": things_item("p1", 1)},
    "a start key of another type": {"IndexName": "by-word", "ExclusiveStartKey": {
        **things_item("p1", 1), "grp": {"S": "a"}, "word": {"N": "1"}}},
}


def unusual_answers() -> dict[str, Any]:
    with mock_aws():
        client = create_tables()
        client.put_item(TableName=THINGS, Item=things_item("p1", 1, grp="a", word="apple"))
        client.put_item(TableName=THINGS, Item=things_item("p1", 2, grp="a", word="berry"))
        answers = {}
        for name, fields in UNUSUAL_QUERIES.items():
            query = {"TableName": THINGS, "KeyConditionExpression": "grp = :a",
                     "ExpressionAttributeValues": {":a": {"S": "a"}}, **fields}
            try:
                answers[name] = answer(lambda query=query: client.query(**query))
            except Exception as error:  # moto's own failure, raised through the in-process mock
                answers[name] = (type(error).__name__, str(error))
        return answers


def test_queries_the_cache_does_not_serve_are_moto_s_own_answers(
    speedups_restored: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = []
    original_page = moto_speedups._query_page
    monkeypatch.setattr(moto_speedups, "_query_page", lambda *args: served.append(1) or original_page(*args))
    moto_speedups.install()
    fast = unusual_answers()
    moto_speedups.uninstall()
    assert fast == unusual_answers()
    assert not served


# ------------------------------------------------------------------------------------------------ threads


def test_concurrent_transactions_never_both_pass_one_version_check(
    ddb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a counter guarded by a version, and a moto that pauses between an update's condition check and its write
    ddb.put_item(TableName=LEDGER, Item={"id": {"S": "counter"}, "version": {"N": "0"}, "hits": {"N": "0"}})
    original_validate = UpdateExpressionValidator.validate

    def slow_validate(self: UpdateExpressionValidator) -> Any:
        validated = original_validate(self)
        time.sleep(0.002)  # another thread runs: without the lock it would pass the same check before this writes
        return validated

    monkeypatch.setattr(UpdateExpressionValidator, "validate", slow_validate)
    lock = threading.Lock()
    committed = []

    def bump_counter(_: int) -> None:
        for _ in range(5):
            version = ddb.get_item(TableName=LEDGER, Key={"id": {"S": "counter"}})["Item"]["version"]["N"]
            try:
                ddb.transact_write_items(TransactItems=[{"Update": {
                    "TableName": LEDGER, "Key": {"id": {"S": "counter"}},
                    "UpdateExpression": "SET version = version + :one, hits = hits + :one",
                    "ConditionExpression": "version = :seen",
                    "ExpressionAttributeValues": {":one": {"N": "1"}, ":seen": {"N": version}}}}])
            except ClientError:
                continue
            with lock:
                committed.append(version)

    # WHEN eight threads race to bump it
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(bump_counter, range(8)))

    # THEN each version was bumped once: no two transactions passed the same check
    counter = ddb.get_item(TableName=LEDGER, Key={"id": {"S": "counter"}})["Item"]
    assert len(committed) == len(set(committed)) == int(counter["hits"]["N"]) == int(counter["version"]["N"])
