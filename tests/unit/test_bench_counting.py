"""The bench's AWS request counter: boto3 and pynamodb calls under moto, nesting, scope, pre-existing clients."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.session
import pytest

from bench import request_count
from bench.request_count import count_aws_requests, instrument_client


@pytest.fixture(autouse=True)
def fresh_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with botocore unpatched, so 'created before install' is deterministic; monkeypatch puts
    back whatever an earlier install left."""
    unpatched = request_count._original_create_client or botocore.session.Session.create_client
    monkeypatch.setattr(botocore.session.Session, "create_client", unpatched)
    monkeypatch.setattr(request_count, "_original_create_client", None)


def _client(service: str) -> Any:
    return boto3.client(service, region_name="ap-southeast-3")


def test_counts_boto3_calls_by_service_and_operation(aws: Any) -> None:
    with count_aws_requests() as requests:
        dynamodb, sqs = _client("dynamodb"), _client("sqs")
        dynamodb.list_tables()
        dynamodb.list_tables(Limit=5)
        sqs.list_queues()

    assert requests == {"dynamodb:ListTables": 2, "sqs:ListQueues": 1}
    assert requests.total() == 3
    assert [(call.service, call.operation) for call in requests.calls] == [
        ("dynamodb", "ListTables"), ("dynamodb", "ListTables"), ("sqs", "ListQueues")]
    assert requests.calls[1].params == {"Limit": 5}


def test_counts_only_inside_the_block_and_nested_blocks_see_their_own_calls(aws: Any) -> None:
    request_count.install()
    dynamodb = _client("dynamodb")
    dynamodb.list_tables()  # before any block: nobody counts it

    with count_aws_requests() as outer:
        dynamodb.list_tables()
        with count_aws_requests() as inner:
            dynamodb.describe_table(TableName=aws.dynamodb.list_tables()["TableNames"][0])
        dynamodb.list_tables()
    dynamodb.list_tables()  # after the block

    assert inner == {"dynamodb:DescribeTable": 1}
    assert outer == {"dynamodb:ListTables": 2, "dynamodb:DescribeTable": 1}


def test_failed_calls_are_counted_too(aws: Any) -> None:
    with count_aws_requests() as requests:
        sqs = _client("sqs")
        with pytest.raises(sqs.exceptions.QueueDoesNotExist):
            sqs.get_queue_url(QueueName="no-such-queue")

    assert requests == {"sqs:GetQueueUrl": 1}


def test_counts_pynamodb_calls(aws: Any) -> None:
    from pynamodb.attributes import UnicodeAttribute
    from pynamodb.models import Model

    from chalicelib import resources
    from chalicelib.db import meta_for

    class Probe(Model):  # a new model class, so its connection (and botocore client) is created in the block
        Meta = meta_for(resources.PRODUCTS)
        product_id = UnicodeAttribute(hash_key=True)

    with count_aws_requests() as requests:
        with pytest.raises(Probe.DoesNotExist):
            Probe.get("prd_missing")
        assert Probe.count("prd_missing") == 0

    assert requests == {"dynamodb:GetItem": 1, "dynamodb:Query": 1}


def test_clients_created_before_install_are_counted_only_once_instrumented(aws: Any) -> None:
    early = _client("sqs")
    with count_aws_requests() as requests:
        early.list_queues()
        instrument_client(early)
        instrument_client(early)  # registering twice must not double count
        early.list_queues()

    assert requests == {"sqs:ListQueues": 1}


def test_reads_note_the_size_of_each_item_they_returned_and_failures_their_code(aws: Any) -> None:
    from chalicelib import resources
    from chalicelib.tallies import service as rollups
    from chalicelib.tallies.domain import Delta

    request_count.install()
    table = resources.ROLLUPS.physical_name
    dynamodb = _client("dynamodb")
    rollups.add([Delta("2026-11-02", "summary", {"orders_sold": 2}), Delta("2026-11-02", "sku#A", {"units": 1})])
    with count_aws_requests() as requests:
        dynamodb.query(TableName=table, KeyConditionExpression="pk = :d",
                       ExpressionAttributeValues={":d": {"S": "2026-11-02"}})
        dynamodb.get_item(TableName=table, Key={"pk": {"S": "2026-11-02"}, "sk": {"S": "nothing"}})
        with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
            dynamodb.put_item(TableName=table, Item={"pk": {"S": "2026-11-02"}, "sk": {"S": "summary"}},
                              ConditionExpression="attribute_not_exists(pk)")
        _client("sqs").list_queues()

    query, get, put, listing = requests.calls
    summary = {"pk": {"S": "2026-11-02"}, "sk": {"S": "summary"}, "orders_sold": {"N": "2"}}
    assert sorted(query.answer["sizes"]) == sorted([request_count.item_size(summary), 2 + 10 + 2 + 5 + 5 + 1])
    assert get.answer == {"sizes": []}
    assert put.answer == {"error": "ConditionalCheckFailedException"}
    assert listing.answer == {}


def test_calls_on_the_sandbox_providers_tables_only_are_counted_apart() -> None:
    from bench.request_count import ApiCall, AwsRequests, split_provider_calls

    sandbox, shop_table = "sandbox-payments", "orders"
    calls = [
        ApiCall("dynamodb", "GetItem", {"TableName": sandbox}),
        ApiCall("dynamodb", "PutItem", {"TableName": sandbox}),
        ApiCall("dynamodb", "UpdateItem", {"TableName": shop_table}),
        ApiCall("dynamodb", "BatchGetItem", {"RequestItems": {sandbox: {}, shop_table: {}}}),
        ApiCall("dynamodb", "TransactWriteItems", {"TransactItems": [{"Put": {"TableName": sandbox}}]}),
        ApiCall("stepfunctions", "StartExecution", {"stateMachineArn": "arn"}),
    ]
    requests = AwsRequests()
    for call in calls:
        requests[f"{call.service}:{call.operation}"] += 1
        requests.calls.append(call)

    shop, providers = split_provider_calls(requests, {sandbox})

    assert providers == {"dynamodb:GetItem": 1, "dynamodb:PutItem": 1, "dynamodb:TransactWriteItems": 1}
    assert shop == {"dynamodb:UpdateItem": 1, "dynamodb:BatchGetItem": 1, "stepfunctions:StartExecution": 1}
    assert providers.calls == [calls[0], calls[1], calls[4]] and shop.calls == [calls[2], calls[3], calls[5]]
