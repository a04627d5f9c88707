"""The `report-rollups` table: one partition per business day (counters by key), plus the markers that make
each fact count once. Counters are top-level numeric attributes added with DynamoDB's ADD, so a new counter
needs no schema: the low-level client is used here instead of a pynamodb model for that reason.

Items:
- pk "<YYYY-MM-DD>", sk "<key>" (e.g. "summary", "sku#BTK-A", "method#card"): counters, plus `label_*` texts.
- pk "order#<order id>", sk "facts": `applied`, how many timeline entries of the order were counted.
- pk "customer#<identity>", sk "first": `first_day`, the day the customer first bought.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.expressions.operand import Path
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import aws, resources
from chalicelib.db import meta_for
from chalicelib.tallies.domain import Delta

Counts = Mapping[str, int]


def _client() -> Any:
    return aws.client("dynamodb")


def _table() -> str:
    return resources.ROLLUPS.physical_name


def _update(delta: Delta) -> dict[str, Any]:
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    adds, sets = [], []
    for index, (name, amount) in enumerate(sorted(delta.counts.items())):
        names[f"#c{index}"] = name
        values[f":c{index}"] = {"N": str(int(amount))}
        adds.append(f"#c{index} :c{index}")
    for index, (name, text) in enumerate(sorted(delta.labels.items())):
        names[f"#l{index}"] = f"label_{name}"
        values[f":l{index}"] = {"S": text}
        sets.append(f"#l{index} = :l{index}")
    expression = " ".join(part for part in (f"ADD {', '.join(adds)}" if adds else "",
                                            f"SET {', '.join(sets)}" if sets else "") if part)
    return {"TableName": _table(), "Key": {"pk": {"S": delta.day}, "sk": {"S": delta.key}},
            "UpdateExpression": expression, "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values}


def _merge(deltas: Iterable[Delta]) -> list[Delta]:
    """One update per item: a transaction may not touch the same item twice."""
    merged: dict[tuple[str, str], Delta] = {}
    for delta in deltas:
        seen = merged.get((delta.day, delta.key))
        if seen is None:
            merged[(delta.day, delta.key)] = Delta(delta.day, delta.key, dict(delta.counts), dict(delta.labels))
            continue
        for name, amount in delta.counts.items():
            seen.counts[name] = seen.counts.get(name, 0) + amount
        seen.labels.update(delta.labels)
    return [delta for delta in merged.values() if delta.counts or delta.labels]


def add(deltas: Iterable[Delta]) -> None:
    """Counters nobody double counts (each call is its own event: a cart created, a page viewed)."""
    for delta in _merge(deltas):
        _client().update_item(**_update(delta))


class RollupModel(Model):
    """Only for staging counters into another area's pynamodb transaction (`stage`); counters are named per call."""

    Meta = meta_for(resources.ROLLUPS)
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


def stage(tx: TransactWrite, deltas: Iterable[Delta]) -> None:
    """Add counters in the caller's transaction: the fact and its count are written together or not at all, so a
    retried business write never counts twice (a review approved, a ticket answered, points earned)."""
    for delta in _merge(deltas):
        actions: list[Any] = [Path(NumberAttribute(attr_name=name)).add(int(amount))
                              for name, amount in sorted(delta.counts.items())]
        actions += [Path(UnicodeAttribute(attr_name=f"label_{name}")).set(text)
                    for name, text in sorted(delta.labels.items())]
        tx.update(RollupModel(delta.day, delta.key), actions=actions)


MAX_ITEMS = 100  # DynamoDB's limit on one transaction


def items_for(deltas: Iterable[Delta], new_customers: int) -> int:
    """How many transaction items apply_once needs for these deltas."""
    return 1 + new_customers + len(_merge(deltas))


def progress_of(order_ids: list[str]) -> dict[str, int]:
    """How many timeline entries of each order were counted (absent: none)."""
    found: dict[str, int] = {}
    for start in range(0, len(order_ids), 100):
        keys = [{"pk": {"S": f"order#{order_id}"}, "sk": {"S": "facts"}} for order_id in order_ids[start:start + 100]]
        request: dict[str, Any] = {_table(): {"Keys": keys, "ConsistentRead": True}}
        while request:
            answer = _client().batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(_table(), []):
                found[item["pk"]["S"].removeprefix("order#")] = int(item["applied"]["N"])
            request = answer.get("UnprocessedKeys") or {}
    return found


def first_days(identities: list[str]) -> dict[str, str]:
    """The day each known customer first bought."""
    found: dict[str, str] = {}
    for start in range(0, len(identities), 100):
        keys = [{"pk": {"S": f"customer#{identity}"}, "sk": {"S": "first"}}
                for identity in identities[start:start + 100]]
        request: dict[str, Any] = {_table(): {"Keys": keys, "ConsistentRead": True}}
        while request:
            answer = _client().batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(_table(), []):
                found[item["pk"]["S"].removeprefix("customer#")] = item["first_day"]["S"]
            request = answer.get("UnprocessedKeys") or {}
    return found


APPLIED, RACED, CUSTOMER_KNOWN = "applied", "raced", "customer known"


def apply_once(order_id: str, *, applied_before: int | None, applied_after: int, deltas: list[Delta],
               new_customers: dict[str, str]) -> str:
    """Count an order's new facts exactly once: the rollup updates, the order's progress marker (conditional on
    what was read) and any first-purchase records (conditional on none existing) in one transaction. APPLIED;
    RACED when another run counted these entries first; CUSTOMER_KNOWN when another run recorded this customer's
    first purchase meanwhile (count again as a returning customer). Nothing is written unless APPLIED."""
    if applied_before is None:
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
    else:
        condition = {"ConditionExpression": "applied = :before",
                     "ExpressionAttributeValues": {":before": {"N": str(applied_before)}}}
    items: list[dict[str, Any]] = [{"Put": {
        "TableName": _table(),
        "Item": {"pk": {"S": f"order#{order_id}"}, "sk": {"S": "facts"}, "applied": {"N": str(applied_after)}},
        **condition}}]
    for identity, day in sorted(new_customers.items()):
        items.append({"Put": {"TableName": _table(), "ConditionExpression": "attribute_not_exists(pk)",
                              "Item": {"pk": {"S": f"customer#{identity}"}, "sk": {"S": "first"},
                                       "first_day": {"S": day}}}})
    items += [{"Update": _update(delta)} for delta in _merge(deltas)]
    if len(items) > MAX_ITEMS:
        raise ValueError(f"order {order_id}: {len(items)} writes exceed one transaction; count fewer facts at once")
    client = _client()
    try:
        client.transact_write_items(TransactItems=items)
    except client.exceptions.TransactionCanceledException as cancelled:
        reasons = cancelled.response.get("CancellationReasons") or []
        codes = [str(reason.get("Code") or "None") for reason in reasons]
        if codes and codes[0] == "ConditionalCheckFailed":
            return RACED
        if any(code == "ConditionalCheckFailed" for code in codes[1:1 + len(new_customers)]):
            return CUSTOMER_KNOWN
        raise
    return APPLIED


def read_day(day: str) -> dict[str, dict[str, Any]]:
    """Every rollup item of a day: key -> {counter: int, "label_x": text}."""
    items: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"TableName": _table(), "KeyConditionExpression": "pk = :day",
                              "ExpressionAttributeValues": {":day": {"S": day}}, "ConsistentRead": True}
    while True:
        answer = _client().query(**kwargs)
        for item in answer.get("Items", []):
            items[item["sk"]["S"]] = {name: (int(value["N"]) if "N" in value else value.get("S"))
                                      for name, value in item.items() if name not in ("pk", "sk")}
        if not answer.get("LastEvaluatedKey"):
            return items
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def read_item(pk: str, sk: str) -> dict[str, Any]:
    """One rollup item's counters and labels ({} if absent)."""
    answer = _client().get_item(TableName=_table(), Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True)
    return {name: (int(value["N"]) if "N" in value else value.get("S"))
            for name, value in answer.get("Item", {}).items() if name not in ("pk", "sk")}


def read_items(keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Several rollup items by key, in batches of 100 (absent items are left out)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {_table(): {"Keys": [{"pk": {"S": pk}, "sk": {"S": sk}}
                                                    for pk, sk in keys[start:start + 100]], "ConsistentRead": True}}
        while request:
            answer = _client().batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(_table(), []):
                found[(item["pk"]["S"], item["sk"]["S"])] = {
                    name: (int(value["N"]) if "N" in value else value.get("S"))
                    for name, value in item.items() if name not in ("pk", "sk")}
            request = answer.get("UnprocessedKeys") or {}
    return found


def snapshot(deltas: Iterable[Delta]) -> None:
    """Items written once and never added to (a closed day's stock): a second writer's put is refused."""
    client = _client()
    for delta in deltas:
        item: dict[str, Any] = {"pk": {"S": delta.day}, "sk": {"S": delta.key}}
        item.update({name: {"N": str(int(value))} for name, value in delta.counts.items()})
        item.update({f"label_{name}": {"S": text} for name, text in delta.labels.items()})
        try:
            client.put_item(TableName=_table(), Item=item, ConditionExpression="attribute_not_exists(pk)")
        except client.exceptions.ConditionalCheckFailedException:
            continue


START = "0"  # before any ISO-8601 time: DynamoDB refuses an empty string as a key condition


def watermark(day: str) -> str:
    """The last change time of the day's orders the collector has counted up to ("" if none yet)."""
    answer = _client().get_item(TableName=_table(), Key={"pk": {"S": f"collected#{day}"}, "sk": {"S": "mark"}},
                                ConsistentRead=True)
    return str(answer.get("Item", {}).get("since", {}).get("S", START))


def set_watermark(day: str, since: str) -> None:
    """Move the day's watermark forward only (a slower, older run never moves it back)."""
    client = _client()
    try:
        client.update_item(TableName=_table(), Key={"pk": {"S": f"collected#{day}"}, "sk": {"S": "mark"}},
                           UpdateExpression="SET since = :since",
                           ConditionExpression="attribute_not_exists(since) OR since < :since",
                           ExpressionAttributeValues={":since": {"S": since}})
    except client.exceptions.ConditionalCheckFailedException:
        return
