"""Create every resource declared in chalicelib.resources against whatever endpoint the clients point at.

The local stack and the functional tests both need the same tables, queues, buckets and state machines that
the CDK stack deploys; reading them from the one spec module keeps the three in step. Every step checks
what already exists first, so running it again against a live stack (or a restarted process against the
same moto server) converges instead of failing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import boto3
from botocore.exceptions import ClientError

from chalicelib import config, resources
from chalicelib.resources import BucketSpec, QueueSpec, StateMachineSpec, TableSpec

ACCOUNT_ID = "123456789012"  # moto's default account
STATE_MACHINE_ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/tokoflow-local-sfn"
DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # the SQS maximum: keep failed messages long enough to inspect

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


@dataclass(frozen=True)
class AwsClients:
    """The boto3 clients provisioning needs; built together so they share one endpoint and region."""

    dynamodb: Any
    sqs: Any
    s3: Any
    stepfunctions: Any


class QueueInfo(TypedDict):
    name: str
    url: str
    arn: str
    dlq_name: str
    dlq_url: str
    dlq_arn: str


class Provisioned(TypedDict):
    """What provision_all created or confirmed, by logical name."""

    tables: dict[str, str]  # physical names
    queues: dict[str, QueueInfo]
    buckets: dict[str, str]  # physical names
    state_machines: dict[str, str]  # ARNs
    created: list[str]  # "table:<physical>", "queue:<physical>", ...: only what this call created


def make_clients(*, endpoint_url: str | None = None, region: str | None = None) -> AwsClients:
    """Clients for `endpoint_url` (or AWS_ENDPOINT_URL, which botocore reads itself when None)."""
    session = boto3.session.Session()
    region = region or config.region()

    def client(service: str) -> Any:
        return session.client(service, region_name=region, endpoint_url=endpoint_url)

    return AwsClients(
        dynamodb=client("dynamodb"), sqs=client("sqs"), s3=client("s3"), stepfunctions=client("stepfunctions")
    )


def pascal(name: str) -> str:
    """'stock-ledger' -> 'StockLedger': the spelling used in state machine placeholders."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_ ]+", name) if part)


def automatic_placeholders(
    *,
    region: str,
    tables: Iterable[TableSpec] = resources.TABLES,
    queues: Mapping[str, QueueInfo] | None = None,
    buckets: Iterable[BucketSpec] = resources.BUCKETS,
) -> dict[str, str]:
    """Placeholders every state machine definition may use without declaring them.

    <Name>TableName, <Name>TableArn, <Name>QueueName, <Name>QueueUrl, <Name>QueueArn, <Name>DlqName,
    <Name>DlqUrl, <Name>DlqArn, <Name>BucketName, plus AwsRegion and AwsAccountId, where <Name> is the
    spec's logical name in PascalCase ("stock-ledger" -> "StockLedger"). `queues` is the "queues" part of
    provision_all's result (URLs only exist once the queues do).
    """
    values = {"AwsRegion": region, "AwsAccountId": ACCOUNT_ID}
    for table in tables:
        values[f"{pascal(table.name)}TableName"] = table.physical_name
        values[f"{pascal(table.name)}TableArn"] = f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{table.physical_name}"
    for logical, queue in (queues or {}).items():
        stem = pascal(logical)
        values.update(
            {
                f"{stem}QueueName": queue["name"],
                f"{stem}QueueUrl": queue["url"],
                f"{stem}QueueArn": queue["arn"],
                f"{stem}DlqName": queue["dlq_name"],
                f"{stem}DlqUrl": queue["dlq_url"],
                f"{stem}DlqArn": queue["dlq_arn"],
            }
        )
    for bucket in buckets:
        values[f"{pascal(bucket.name)}BucketName"] = bucket.physical_name
    return values


def substitute(text: str, values: Mapping[str, str], *, what: str) -> str:
    """Replace ${Key} like CloudFormation's DefinitionSubstitutions; an unknown key is an error, not a
    silently broken definition."""
    missing = sorted({key for key in _PLACEHOLDER.findall(text) if key not in values})
    if missing:
        raise ValueError(f"{what}: no value for placeholder(s) {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def provision_all(
    clients: AwsClients | None = None,
    *,
    endpoint_url: str | None = None,
    tables: Iterable[TableSpec] = resources.TABLES,
    queues: Iterable[QueueSpec] = resources.QUEUES,
    buckets: Iterable[BucketSpec] = resources.BUCKETS,
    state_machines: Iterable[StateMachineSpec] = resources.STATE_MACHINES,
    root: Path = resources.REPOSITORY_ROOT,
) -> Provisioned:
    """Create (or confirm) every resource and describe them.

    Without `clients`, clients for `endpoint_url` (AWS_ENDPOINT_URL when None) are built. The specs and
    `root` default to chalicelib.resources; tests pass their own.
    """
    clients = clients or make_clients(endpoint_url=endpoint_url)
    region = clients.sqs.meta.region_name
    tables, buckets = tuple(tables), tuple(buckets)
    result = Provisioned(tables={}, queues={}, buckets={}, state_machines={}, created=[])
    created = result["created"]

    for table in tables:
        if ensure_table(clients.dynamodb, table):
            created.append(f"table:{table.physical_name}")
        result["tables"][table.name] = table.physical_name
    for queue in queues:
        info, new_queues = ensure_queue(clients.sqs, queue)
        created.extend(f"queue:{name}" for name in new_queues)
        result["queues"][queue.name] = info
    for bucket in buckets:
        if ensure_bucket(clients.s3, bucket, region=region):
            created.append(f"bucket:{bucket.physical_name}")
        result["buckets"][bucket.name] = bucket.physical_name

    placeholders = automatic_placeholders(region=region, tables=tables, queues=result["queues"], buckets=buckets)
    for machine in state_machines:
        arn, is_new = ensure_state_machine(clients.stepfunctions, machine, placeholders, root=root)
        if is_new:
            created.append(f"state_machine:{machine.physical_name}")
        result["state_machines"][machine.name] = arn
    return result


def ensure_table(dynamodb: Any, spec: TableSpec) -> bool:
    """Create the table with its GSIs and TTL; True when it did not exist yet."""
    name = spec.physical_name
    try:
        dynamodb.describe_table(TableName=name)
        exists = True
    except dynamodb.exceptions.ResourceNotFoundException:
        exists = False
    if not exists:
        attributes: dict[str, str] = {}
        for key in (spec.hash_key, spec.range_key, *(k for ix in spec.indexes for k in (ix.hash_key, ix.range_key))):
            if key is not None:
                attributes[key.name] = key.type
        params: dict[str, Any] = {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in attributes.items()],
            "KeySchema": _key_schema(spec.hash_key, spec.range_key),
        }
        if spec.indexes:
            params["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index.name,
                    "KeySchema": _key_schema(index.hash_key, index.range_key),
                    "Projection": {"ProjectionType": "ALL"},
                }
                for index in spec.indexes
            ]
        dynamodb.create_table(**params)
        dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    if spec.ttl_attribute:
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute}
            )
    return not exists


def _key_schema(hash_key: resources.Key, range_key: resources.Key | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key.name, "KeyType": "HASH"}]
    if range_key is not None:
        schema.append({"AttributeName": range_key.name, "KeyType": "RANGE"})
    return schema


def ensure_queue(sqs: Any, spec: QueueSpec) -> tuple[QueueInfo, list[str]]:
    """Create the dead-letter queue, then the queue redriving into it; re-applies the attributes when the
    queues exist so a changed spec takes effect. Returns (description, names created now)."""
    created: list[str] = []
    dlq_url, new = _ensure_one_queue(
        sqs, spec.dlq_physical_name, {"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)}
    )
    if new:
        created.append(spec.dlq_physical_name)
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {
        "VisibilityTimeout": str(spec.visibility_timeout_seconds),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.max_receive_count}),
    }
    url, new = _ensure_one_queue(sqs, spec.physical_name, attributes)
    if new:
        created.append(spec.physical_name)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    info = QueueInfo(name=spec.physical_name, url=url, arn=arn, dlq_name=spec.dlq_physical_name, dlq_url=dlq_url,
                     dlq_arn=dlq_arn)
    return info, created


def _ensure_one_queue(sqs: Any, name: str, attributes: dict[str, str]) -> tuple[str, bool]:
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"], True
    sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    return url, False


def ensure_bucket(s3: Any, spec: BucketSpec, *, region: str) -> bool:
    """Create the bucket (with versioning when the spec asks); True when it did not exist yet."""
    name = spec.physical_name
    try:
        s3.head_bucket(Bucket=name)
        exists = True
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
        exists = False
    if not exists:
        params: dict[str, Any] = {"Bucket": name}
        if region != "us-east-1":  # S3 rejects an explicit us-east-1 constraint
            params["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**params)
    if spec.versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    if spec.served_prefix:
        policy = {"Version": "2012-10-17", "Statement": [{
            "Sid": "ShoppersReadProductImages", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{name}/{spec.served_prefix}*"}]}
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    return not exists


def ensure_state_machine(
    stepfunctions: Any, spec: StateMachineSpec, placeholders: Mapping[str, str], *, root: Path
) -> tuple[str, bool]:
    """Create or update the state machine from its definition file; returns (arn, created now)."""
    values = dict(placeholders)
    for key, value in spec.substitutions.items():
        values[key] = substitute(value, placeholders, what=f"{spec.name} substitution {key}")
    path = root / spec.definition_file
    definition = substitute(path.read_text(encoding="utf-8"), values, what=str(path))
    json.loads(definition)  # a broken file should fail here with its name, not inside moto
    name = spec.physical_name
    for page in stepfunctions.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                stepfunctions.update_state_machine(
                    stateMachineArn=machine["stateMachineArn"], definition=definition, roleArn=STATE_MACHINE_ROLE_ARN
                )
                return machine["stateMachineArn"], False
    response = stepfunctions.create_state_machine(name=name, definition=definition, roleArn=STATE_MACHINE_ROLE_ARN)
    return response["stateMachineArn"], True
