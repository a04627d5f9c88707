"""The local stack's provisioner and the CDK stack build the same resources from chalicelib.resources.

Each stage's template is compared with what local/provision.py creates in an in-process moto account under
that stage's prefix: table names, keys, indexes and TTL; queues with their dead-letter queues and receive
counts; buckets and their versioning; state machine definitions after substitution. A change to one side only
(a GSI added to the CDK stack by hand, a queue the provisioner forgot) fails here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="infrastructure tools not installed: make infra-test installs them")

from chalicelib import config, resources
from infra.stacks.tokoflow import STAGES
from local.provision import ACCOUNT_ID, make_clients, provision_all


@pytest.fixture(scope="module", params=sorted(STAGES))
def stage(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def raw(stage: str, stack_template: Callable[[str], Any]) -> dict[str, Any]:
    return stack_template(stage).to_json()


@pytest.fixture(scope="module")
def local(stage: str) -> Iterator[tuple[Any, dict[str, Any]]]:
    """(clients, provision_all's result) for a moto account provisioned under the stage's prefix."""
    from moto import mock_aws

    with pytest.MonkeyPatch.context() as patch, mock_aws():
        patch.setenv(config.PREFIX, STAGES[stage].prefix)
        clients = make_clients()
        yield clients, provision_all(clients)


def cdk_resources(raw: dict[str, Any], kind: str, name_property: str) -> dict[str, dict[str, Any]]:
    return {resource["Properties"][name_property]: resource["Properties"]
            for resource in raw["Resources"].values() if resource["Type"] == kind}


def key_schema(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(key["AttributeName"], key["KeyType"]) for key in schema]


def test_same_tables_keys_indexes_and_ttl(raw: dict[str, Any], local: tuple[Any, dict[str, Any]]) -> None:
    clients, provisioned = local
    cdk_tables = cdk_resources(raw, "AWS::DynamoDB::Table", "TableName")
    assert set(cdk_tables) == set(provisioned["tables"].values())
    for name, cdk_table in cdk_tables.items():
        described = clients.dynamodb.describe_table(TableName=name)["Table"]
        assert key_schema(cdk_table["KeySchema"]) == key_schema(described["KeySchema"]), name
        assert ({(a["AttributeName"], a["AttributeType"]) for a in cdk_table["AttributeDefinitions"]}
                == {(a["AttributeName"], a["AttributeType"]) for a in described["AttributeDefinitions"]}), name
        assert cdk_table["BillingMode"] == described["BillingModeSummary"]["BillingMode"], name
        cdk_indexes = {ix["IndexName"]: (key_schema(ix["KeySchema"]), ix["Projection"]["ProjectionType"])
                       for ix in cdk_table.get("GlobalSecondaryIndexes", [])}
        local_indexes = {ix["IndexName"]: (key_schema(ix["KeySchema"]), ix["Projection"]["ProjectionType"])
                         for ix in described.get("GlobalSecondaryIndexes", [])}
        assert cdk_indexes == local_indexes, name
        ttl = clients.dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        local_ttl = ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") else None
        assert (cdk_table.get("TimeToLiveSpecification") or {}).get("AttributeName") == local_ttl, name


def test_same_queues_with_the_same_dead_letter_queues(raw: dict[str, Any], local: tuple[Any, dict[str, Any]]) -> None:
    clients, provisioned = local
    logical_names = {logical: resource["Properties"]["QueueName"] for logical, resource in raw["Resources"].items()
                     if resource["Type"] == "AWS::SQS::Queue"}
    cdk_queues = cdk_resources(raw, "AWS::SQS::Queue", "QueueName")
    local_names = {name for queue in provisioned["queues"].values() for name in (queue["name"], queue["dlq_name"])}
    assert set(cdk_queues) == local_names
    for queue in provisioned["queues"].values():
        attributes = clients.sqs.get_queue_attributes(QueueUrl=queue["url"], AttributeNames=["All"])["Attributes"]
        local_redrive = json.loads(attributes["RedrivePolicy"])
        cdk_queue = cdk_queues[queue["name"]]
        cdk_redrive = cdk_queue["RedrivePolicy"]
        assert logical_names[cdk_redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]] == queue["dlq_name"]
        assert local_redrive["deadLetterTargetArn"] == queue["dlq_arn"]
        assert int(cdk_redrive["maxReceiveCount"]) == int(local_redrive["maxReceiveCount"]), queue["name"]
        assert int(cdk_queue["VisibilityTimeout"]) == int(attributes["VisibilityTimeout"]), queue["name"]
        dlq_attributes = clients.sqs.get_queue_attributes(QueueUrl=queue["dlq_url"],
                                                          AttributeNames=["MessageRetentionPeriod"])["Attributes"]
        assert (int(cdk_queues[queue["dlq_name"]]["MessageRetentionPeriod"])
                == int(dlq_attributes["MessageRetentionPeriod"])), queue["dlq_name"]


def test_same_buckets_and_versioning(raw: dict[str, Any], local: tuple[Any, dict[str, Any]]) -> None:
    clients, provisioned = local
    cdk_buckets = cdk_resources(raw, "AWS::S3::Bucket", "BucketName")
    cdk_buckets = {name: bucket for name, bucket in cdk_buckets.items()  # infrastructure's own, not the app's
                   if not name.endswith("-access-logs")}
    assert set(cdk_buckets) == set(provisioned["buckets"].values())
    for name, bucket in cdk_buckets.items():
        local_status = clients.s3.get_bucket_versioning(Bucket=name).get("Status")
        assert (bucket.get("VersioningConfiguration") or {}).get("Status") == local_status, name


def resolve(value: Any, raw: dict[str, Any], provisioned: dict[str, Any], region: str) -> str:
    """What a DefinitionSubstitutions value (Ref / GetAtt) names, in the moto account's terms."""
    queues = {q[kind]: q for q in provisioned["queues"].values() for kind in ("name", "dlq_name")}
    pseudo = {"AWS::Region": region, "AWS::AccountId": ACCOUNT_ID}
    if "Ref" in value and value["Ref"] in pseudo:
        return pseudo[value["Ref"]]
    logical, attribute = (value["Ref"], "Ref") if "Ref" in value else value["Fn::GetAtt"]
    resource = raw["Resources"][logical]
    props = resource["Properties"]
    if resource["Type"] == "AWS::SQS::Queue":
        queue = queues[props["QueueName"]]
        is_dlq = props["QueueName"] == queue["dlq_name"]
        field = {"Ref": "url", "Arn": "arn", "QueueName": "name"}[attribute]
        return queue[f"dlq_{field}" if is_dlq else field]
    if resource["Type"] == "AWS::DynamoDB::Table":
        name = props["TableName"]
        return name if attribute == "Ref" else f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{name}"
    if resource["Type"] == "AWS::S3::Bucket":
        return props["BucketName"]
    raise AssertionError(f"unexpected substitution target {value}")


def test_same_state_machine_definitions_after_substitution(raw: dict[str, Any],
                                                            local: tuple[Any, dict[str, Any]]) -> None:
    clients, provisioned = local
    region = clients.sqs.meta.region_name
    cdk_machines = cdk_resources(raw, "AWS::StepFunctions::StateMachine", "StateMachineName")
    assert set(cdk_machines) == {arn.rsplit(":", 1)[-1] for arn in provisioned["state_machines"].values()}
    for spec in resources.STATE_MACHINES:
        arn = provisioned["state_machines"][spec.name]
        local_definition = json.loads(clients.stepfunctions.describe_state_machine(stateMachineArn=arn)["definition"])
        name = arn.rsplit(":", 1)[-1]
        machine = cdk_machines[name]
        values = {key: resolve(value, raw, provisioned, region)
                  for key, value in machine.get("DefinitionSubstitutions", {}).items()}
        text = re.sub(r"\$\{([A-Za-z0-9_]+)\}", lambda match, values=values: values[match.group(1)],
                      machine["DefinitionString"])
        assert json.loads(text) == local_definition, spec.name
