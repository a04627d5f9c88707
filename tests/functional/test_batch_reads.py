"""chalicelib.db.read_together: the keys of several tables in one BatchGetItem, each table with its own consistency,
keys past DynamoDB's 100 in further requests, and unprocessed keys asked for again."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.client import BaseClient

from chalicelib import db, resources
from chalicelib.cart import repository as carts
from chalicelib.catalog import repository as catalog
from chalicelib.inventory import repository as stock
from chalicelib.inventory.domain import StockLevel
from chalicelib.loyalty import repository as loyalty
from chalicelib.loyalty.domain import Account
from chalicelib.vouchers import repository as vouchers
from chalicelib.vouchers.domain import Voucher


@pytest.fixture
def batch_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The RequestItems of every BatchGetItem sent, whichever client sent it."""
    calls: list[dict[str, Any]] = []
    original = BaseClient._make_api_call

    def recording(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if operation_name == "BatchGetItem":
            calls.append(api_params["RequestItems"])
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return calls


def levels(*skus: str) -> None:
    for sku in skus:
        with db.transaction() as tx:
            stock.stage_new_level(tx, StockLevel(sku=sku, product_id=f"prd_{sku.lower()}", on_hand=5, version=1))


def test_several_tables_are_read_in_one_request_each_with_its_own_consistency(
        aws: Any, batch_calls: list[dict[str, Any]]) -> None:
    # GIVEN two stock levels, a voucher and a customer without a points account yet
    levels("BTK-A", "BTK-B")
    vouchers.create(Voucher(code="JOGJA10", kind="percent", value=10), actor="staff-1")
    level_read = stock.levels_read(["BTK-A", "BTK-B", "BTK-GONE"])
    voucher_read = vouchers.voucher_read("JOGJA10")
    product_read = catalog.products_read(["prd_nothing"])
    account_read = loyalty.account_read("cust-1")

    # WHEN
    found = db.read_together([level_read, voucher_read, product_read, account_read])

    # THEN one request, strongly consistent where the owner asks for it (stock, loyalty) and not elsewhere
    assert len(batch_calls) == 1
    request = batch_calls[0]
    assert {table: spec.get("ConsistentRead", False) for table, spec in request.items()} == {
        resources.STOCK.physical_name: True, resources.VOUCHERS.physical_name: False,
        resources.PRODUCTS.physical_name: False, resources.LOYALTY.physical_name: True}
    # AND each read gets its own values: a key without an item is left out, unless the read names its default
    assert {sku: level.on_hand for sku, level in found.of(level_read).items()} == {"BTK-A": 5, "BTK-B": 5}
    assert found.one(voucher_read) == Voucher(code="JOGJA10", kind="percent", value=10)
    assert found.of(product_read) == {}
    assert found.one(account_read) == Account(customer_id="cust-1")


def test_two_reads_of_one_table_share_its_keys_and_its_strongest_consistency(
        aws: Any, batch_calls: list[dict[str, Any]]) -> None:
    levels("BTK-A", "BTK-B")
    consistent = stock.levels_read(["BTK-A", "BTK-B"])
    relaxed = db.BatchRead(consistent.model, ("BTK-B",), stock.to_level)

    found = db.read_together([consistent, relaxed])

    assert len(batch_calls) == 1
    assert batch_calls[0][resources.STOCK.physical_name]["ConsistentRead"] is True
    assert len(batch_calls[0][resources.STOCK.physical_name]["Keys"]) == 2
    assert set(found.of(consistent)) == {"BTK-A", "BTK-B"} and set(found.of(relaxed)) == {"BTK-B"}


def test_more_than_a_hundred_keys_take_further_requests(aws: Any, batch_calls: list[dict[str, Any]]) -> None:
    skus = [f"SKU-{number:03d}" for number in range(130)]
    levels(*skus[:3])
    read = stock.levels_read(skus)

    found = db.read_together([read, carts.cart_read("c" * 32)])

    assert [sum(len(spec["Keys"]) for spec in request.values()) for request in batch_calls] == [100, 31]
    assert set(found.of(read)) == set(skus[:3])


def test_unprocessed_keys_are_asked_for_again(aws: Any, monkeypatch: pytest.MonkeyPatch,
                                              batch_calls: list[dict[str, Any]]) -> None:
    # GIVEN DynamoDB leaves one key unprocessed the first time (throttled, or past 16 MB)
    levels("BTK-A", "BTK-B")
    monkeypatch.setattr(db.time, "sleep", lambda seconds: None)
    original = db.Connection.dispatch
    answers: list[dict[str, Any]] = []

    def dispatch(self: Any, operation_name: str, operation_kwargs: dict[str, Any]) -> Any:
        answer = original(self, operation_name, operation_kwargs)
        if operation_name == "BatchGetItem" and not answers:
            table = resources.STOCK.physical_name
            held = answer["Responses"][table].pop()
            answer["UnprocessedKeys"] = {table: {"Keys": [{"sku": held["sku"]}], "ConsistentRead": True}}
        answers.append(answer)
        return answer

    monkeypatch.setattr(db.Connection, "dispatch", dispatch)
    read = stock.levels_read(["BTK-A", "BTK-B"])

    # WHEN
    found = db.read_together([read])

    # THEN the second request asks for the held key only, and both levels are found
    assert [len(request[resources.STOCK.physical_name]["Keys"]) for request in batch_calls] == [2, 1]
    assert batch_calls[1][resources.STOCK.physical_name]["ConsistentRead"] is True
    assert set(found.of(read)) == {"BTK-A", "BTK-B"}


def test_nothing_to_read_sends_nothing(aws: Any, batch_calls: list[dict[str, Any]]) -> None:
    read = stock.levels_read([])
    assert db.read_together([read]).of(read) == {}
    assert stock.read_levels([]) == {} and catalog.get_many([]) == {}
    assert batch_calls == []
