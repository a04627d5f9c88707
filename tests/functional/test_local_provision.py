"""local.provision builds, from chalicelib.resources, the same shapes the CDK stack deploys, and a re-run
against a live stack converges instead of failing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from chalicelib import resources
from chalicelib.resources import QueueSpec, StateMachineSpec
from local.provision import AwsClients, make_clients, pascal, provision_all

REGION = "ap-southeast-3"


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsClients]:
    # mock_aws intercepts nothing while AWS_ENDPOINT_URL points at a server.
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("TOKOFLOW_PREFIX", "tokoflow-test")
    with mock_aws():
        yield make_clients(region=REGION)


def _key_schema(schema: list[dict[str, str]]) -> dict[str, str]:
    return {key["KeyType"]: key["AttributeName"] for key in schema}


def test_every_table_gets_its_keys_indexes_and_ttl(clients: AwsClients) -> None:
    # WHEN
    result = provision_all(clients)

    # THEN
    assert set(clients.dynamodb.list_tables()["TableNames"]) == {t.physical_name for t in resources.TABLES}
    for spec in resources.TABLES:
        assert spec.physical_name.startswith("tokoflow-test-")
        assert result["tables"][spec.name] == spec.physical_name
        table = clients.dynamodb.describe_table(TableName=spec.physical_name)["Table"]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        expected = {"HASH": spec.hash_key.name} | ({"RANGE": spec.range_key.name} if spec.range_key else {})
        assert _key_schema(table["KeySchema"]) == expected
        types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
        assert types[spec.hash_key.name] == spec.hash_key.type
        indexes = {ix["IndexName"]: ix for ix in table.get("GlobalSecondaryIndexes", [])}
        assert set(indexes) == {ix.name for ix in spec.indexes}
        for ix in spec.indexes:
            want = {"HASH": ix.hash_key.name} | ({"RANGE": ix.range_key.name} if ix.range_key else {})
            assert _key_schema(indexes[ix.name]["KeySchema"]) == want
            assert indexes[ix.name]["Projection"]["ProjectionType"] == "ALL"
        ttl = clients.dynamodb.describe_time_to_live(TableName=spec.physical_name)["TimeToLiveDescription"]
        if spec.ttl_attribute:
            assert ttl["TimeToLiveStatus"] == "ENABLED"
            assert ttl["AttributeName"] == spec.ttl_attribute
        else:
            assert ttl["TimeToLiveStatus"] == "DISABLED"


def test_every_queue_redrives_into_its_dead_letter_queue(clients: AwsClients) -> None:
    # WHEN
    result = provision_all(clients)

    # THEN
    for spec in resources.QUEUES:
        info = result["queues"][spec.name]
        assert info["url"] == clients.sqs.get_queue_url(QueueName=spec.physical_name)["QueueUrl"]
        assert info["dlq_url"] == clients.sqs.get_queue_url(QueueName=spec.dlq_physical_name)["QueueUrl"]
        attributes = clients.sqs.get_queue_attributes(QueueUrl=info["url"], AttributeNames=["All"])["Attributes"]
        assert int(attributes["VisibilityTimeout"]) == spec.visibility_timeout_seconds
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == info["dlq_arn"]
        assert int(redrive["maxReceiveCount"]) == spec.max_receive_count


def test_every_bucket_exists_and_versioning_follows_the_spec(clients: AwsClients) -> None:
    # WHEN
    result = provision_all(clients)

    # THEN
    names = {bucket["Name"] for bucket in clients.s3.list_buckets()["Buckets"]}
    assert names == {b.physical_name for b in resources.BUCKETS} == set(result["buckets"].values())
    for spec in resources.BUCKETS:
        status = clients.s3.get_bucket_versioning(Bucket=spec.physical_name).get("Status")
        assert status == ("Enabled" if spec.versioned else None)
        location = clients.s3.get_bucket_location(Bucket=spec.physical_name)["LocationConstraint"]
        assert location == REGION


def test_running_twice_is_harmless_and_reapplies_queue_settings(clients: AwsClients) -> None:
    # GIVEN a provisioned stack whose queue someone changed by hand
    first = provision_all(clients)
    assert len(first["created"]) == (len(resources.TABLES) + 2 * len(resources.QUEUES) + len(resources.BUCKETS)
                                     + len(resources.STATE_MACHINES))
    queue_url = first["queues"][resources.QUEUES[0].name]["url"]
    clients.sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "1"})

    # WHEN
    second = provision_all(clients)

    # THEN nothing new, same resources, and the spec wins again
    assert second["created"] == []
    assert {k: v for k, v in second.items() if k != "created"} == {k: v for k, v in first.items() if k != "created"}
    attributes = clients.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])
    assert int(attributes["Attributes"]["VisibilityTimeout"]) == resources.QUEUES[0].visibility_timeout_seconds


def _definition(state_machine: Any) -> dict[str, Any]:
    return json.loads(state_machine["definition"])


def test_state_machines_get_substituted_definitions_and_are_updated_on_rerun(
    clients: AwsClients, tmp_path: Path
) -> None:
    # GIVEN a definition using automatic placeholders and spec substitutions, one referring to a placeholder
    queue = QueueSpec("payments", visibility_timeout_seconds=30, max_receive_count=3)
    definition = {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": "${PaymentsQueueUrl}", "MessageBody": {"table": "${OrdersTable}"}},
                "Next": "Done",
            },
            "Done": {"Type": "Pass", "Result": "${Greeting}", "End": True},
        },
    }
    (tmp_path / "flow.asl.json").write_text(json.dumps(definition))
    spec = StateMachineSpec("checkout", "flow.asl.json",
                            substitutions={"OrdersTable": "${OrdersTableName}", "Greeting": "halo"})

    # WHEN
    result = provision_all(clients, queues=(queue,), state_machines=(spec,), root=tmp_path)

    # THEN
    arn = result["state_machines"]["checkout"]
    machine = clients.stepfunctions.describe_state_machine(stateMachineArn=arn)
    assert machine["name"] == "tokoflow-test-checkout"
    states = _definition(machine)["States"]
    assert states["Ask"]["Parameters"]["QueueUrl"] == result["queues"]["payments"]["url"]
    assert states["Ask"]["Parameters"]["MessageBody"]["table"] == resources.ORDERS.physical_name
    assert states["Done"]["Result"] == "halo"

    # WHEN the definition changes and provisioning runs again
    definition["States"]["Done"]["Result"] = "selamat"
    (tmp_path / "flow.asl.json").write_text(json.dumps(definition))
    again = provision_all(clients, queues=(queue,), state_machines=(spec,), root=tmp_path)

    # THEN the same machine is updated, not duplicated
    assert again["state_machines"]["checkout"] == arn
    assert "state_machine:tokoflow-test-checkout" not in again["created"]
    assert (
        _definition(clients.stepfunctions.describe_state_machine(stateMachineArn=arn))["States"]["Done"]["Result"]
        == "selamat"
    )
    assert len(clients.stepfunctions.list_state_machines()["stateMachines"]) == 1


def test_an_unknown_placeholder_fails_with_the_file_name(clients: AwsClients, tmp_path: Path) -> None:
    (tmp_path / "bad.asl.json").write_text(
        '{"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "${Nope}", "End": true}}}'
    )
    with pytest.raises(ValueError, match=r"bad\.asl\.json.*Nope"):
        provision_all(clients, state_machines=(StateMachineSpec("x", "bad.asl.json"),), root=tmp_path)


def test_pascal_names_match_the_placeholder_convention() -> None:
    assert pascal("stock-ledger") == "StockLedger"
    assert pascal("low-stock") == "LowStock"
    assert pascal("idempotency") == "Idempotency"
