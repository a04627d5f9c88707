"""The synthesized CloudFormation of each stage, checked with aws_cdk.assertions.

Offline: synthesizing needs no AWS account. Each stage's stack is built once per test session (conftest's
stack_template).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="infrastructure tools not installed: make infra-test installs them")

from aws_cdk.assertions import Match, Template

from chalicelib import config, resources
from infra.stacks.tokoflow import FUNCTION_ACCESS, SECRETS, STAGES

ACCESS_LOGS = "access-logs"  # the bucket the app's buckets write their server access logs to
DATA_SERVICES = ("dynamodb", "sqs", "s3", "states", "secretsmanager", "ssm", "kms", "ses", "sns", "cognito-idp")
WILDCARD_ACTIONS = {"*", *(f"{service}:*" for service in DATA_SERVICES)}


@pytest.fixture(scope="module", params=sorted(STAGES))
def stage(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def template(stage: str, stack_template: Callable[[str], Template]) -> Template:
    return stack_template(stage)


@pytest.fixture(scope="module")
def raw(template: Template) -> dict[str, Any]:
    return template.to_json()


def physical(stage: str, name: str) -> str:
    return f"{STAGES[stage].prefix}-{name}"


def of_type(raw: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {logical: resource for logical, resource in raw["Resources"].items() if resource["Type"] == kind}


def by_property(raw: dict[str, Any], kind: str, prop: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """{property value: (logical id, resource)}, e.g. tables by TableName."""
    return {resource["Properties"][prop]: (logical, resource) for logical, resource in of_type(raw, kind).items()}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ---- tables -------------------------------------------------------------------------------------------------


def test_every_table_is_on_demand_with_pitr_encryption_and_protection_where_critical(raw: dict[str, Any],
                                                                                       stage: str) -> None:
    tables = by_property(raw, "AWS::DynamoDB::Table", "TableName")
    assert set(tables) == {physical(stage, spec.name) for spec in resources.TABLES}
    for spec in resources.TABLES:
        _, table = tables[physical(stage, spec.name)]
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST", spec.name
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, spec.name
        assert props["SSESpecification"]["SSEEnabled"] is True, spec.name
        assert props.get("DeletionProtectionEnabled", False) is spec.critical, spec.name
        if spec.critical or stage == "prod":
            assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain", spec.name
        for index in props.get("GlobalSecondaryIndexes", []):
            assert index["Projection"] == {"ProjectionType": "ALL"}, (spec.name, index["IndexName"])
        if spec.ttl_attribute:
            assert props["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
        else:
            assert "TimeToLiveSpecification" not in props, spec.name


# ---- queues -------------------------------------------------------------------------------------------------


def test_every_queue_redrives_to_its_encrypted_dlq_which_has_an_alarm(raw: dict[str, Any], stage: str) -> None:
    queues = by_property(raw, "AWS::SQS::Queue", "QueueName")
    alarms = of_type(raw, "AWS::CloudWatch::Alarm").values()
    topic = next(iter(of_type(raw, "AWS::SNS::Topic")))
    for spec in resources.QUEUES:
        _, queue = queues[physical(stage, spec.name)]
        dlq_logical, dlq = queues[physical(stage, f"{spec.name}-dlq")]
        redrive = queue["Properties"]["RedrivePolicy"]
        assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq_logical, "Arn"]}, spec.name
        assert redrive["maxReceiveCount"] == spec.max_receive_count, spec.name
        assert queue["Properties"]["VisibilityTimeout"] == spec.visibility_timeout_seconds, spec.name
        assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600, spec.name
        for props in (queue["Properties"], dlq["Properties"]):
            assert props["SqsManagedSseEnabled"] is True, spec.name
        dlq_alarms = [alarm["Properties"] for alarm in alarms
                      if alarm["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
                      and alarm["Properties"]["Dimensions"] == [
                          {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_logical, "QueueName"]}}]]
        assert len(dlq_alarms) == 1, spec.name
        alarm = dlq_alarms[0]
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold"), spec.name
        assert alarm["AlarmActions"] == [{"Ref": topic}], spec.name


def test_every_queue_refuses_plain_http(raw: dict[str, Any]) -> None:
    policies = of_type(raw, "AWS::SQS::QueuePolicy").values()
    protected = {json.dumps(queue) for policy in policies for queue in policy["Properties"]["Queues"]}
    for logical in of_type(raw, "AWS::SQS::Queue"):
        assert json.dumps({"Ref": logical}) in protected, logical


# ---- buckets and the CDN ------------------------------------------------------------------------------------


def test_no_bucket_is_public_and_every_bucket_is_encrypted(raw: dict[str, Any], stage: str) -> None:
    buckets = by_property(raw, "AWS::S3::Bucket", "BucketName")
    assert set(buckets) == {physical(stage, spec.name) for spec in resources.BUCKETS} | {physical(stage, ACCESS_LOGS)}
    for name, (_, bucket) in buckets.items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True}, name
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"], name
        assert bucket["DeletionPolicy"] == "Retain", name


def test_bucket_policies_allow_nobody_but_cloudfront_on_the_served_prefix(raw: dict[str, Any], stage: str) -> None:
    media_logical, _ = by_property(raw, "AWS::S3::Bucket", "BucketName")[physical(stage, "media")]
    logs_logical, _ = by_property(raw, "AWS::S3::Bucket", "BucketName")[physical(stage, ACCESS_LOGS)]
    for policy in of_type(raw, "AWS::S3::BucketPolicy").values():
        if policy["Properties"]["Bucket"] == {"Ref": logs_logical}:
            continue  # test_app_buckets_log_access_to_a_private_log_bucket
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny":
                assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                continue
            assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
            assert statement["Action"] == "s3:GetObject"
            assert statement["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [media_logical, "Arn"]},
                                                               f"/{resources.MEDIA_BUCKET.served_prefix}*"]]}
            assert "AWS:SourceArn" in statement["Condition"]["StringEquals"]


def test_reports_bucket_is_versioned_and_moves_to_infrequent_access(raw: dict[str, Any], stage: str) -> None:
    buckets = by_property(raw, "AWS::S3::Bucket", "BucketName")
    for spec in resources.BUCKETS:
        props = buckets[physical(stage, spec.name)][1]["Properties"]
        assert (props.get("VersioningConfiguration") == {"Status": "Enabled"}) is spec.versioned, spec.name
    rules = buckets[physical(stage, "reports")][1]["Properties"]["LifecycleConfiguration"]["Rules"]
    transitions = [transition for rule in rules for transition in rule.get("Transitions", [])]
    assert {"StorageClass": "STANDARD_IA", "TransitionInDays": 90} in transitions
    assert any("NoncurrentVersionExpiration" in rule for rule in rules)
    media_rules = buckets[physical(stage, "media")][1]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert any("AbortIncompleteMultipartUpload" in rule for rule in media_rules)


def test_app_buckets_log_access_to_a_private_log_bucket(raw: dict[str, Any], stage: str) -> None:
    buckets = by_property(raw, "AWS::S3::Bucket", "BucketName")
    logs_logical, log_bucket = buckets[physical(stage, ACCESS_LOGS)]
    for spec in resources.BUCKETS:
        props = buckets[physical(stage, spec.name)][1]["Properties"]
        assert props["LoggingConfiguration"] == {"DestinationBucketName": {"Ref": logs_logical},
                                                 "LogFilePrefix": f"s3/{spec.name}/"}, spec.name
    props = log_bucket["Properties"]
    assert "LoggingConfiguration" not in props
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}  # no ACLs
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == STAGES[stage].log_retention_days
    (policy,) = [policy["Properties"]["PolicyDocument"]["Statement"]
                 for policy in of_type(raw, "AWS::S3::BucketPolicy").values()
                 if policy["Properties"]["Bucket"] == {"Ref": logs_logical}]
    allowed = [statement for statement in policy if statement["Effect"] == "Allow"]
    assert {json.dumps(statement["Principal"]) for statement in allowed} == {
        json.dumps({"Service": "logging.s3.amazonaws.com"})}
    for statement in allowed:
        assert statement["Action"] == "s3:PutObject"
        assert "aws:SourceAccount" in statement["Condition"]["StringEquals"]
    assert any(statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for statement in policy)


def test_media_is_served_by_cloudfront_through_origin_access_control(template: Template) -> None:
    template.resource_count_is("AWS::CloudFront::OriginAccessControl", 1)
    template.has_resource_properties("AWS::CloudFront::Distribution", {"DistributionConfig": Match.object_like({
        "DefaultCacheBehavior": Match.object_like({"ViewerProtocolPolicy": "redirect-to-https",
                                                   "AllowedMethods": ["GET", "HEAD"]}),
        "Origins": [Match.object_like({"OriginAccessControlId": Match.any_value(),
                                       "S3OriginConfig": {"OriginAccessIdentity": ""}})],
    })})


# ---- the state machine --------------------------------------------------------------------------------------


def test_state_machine_logs_and_traces(template: Template, stage: str) -> None:
    template.has_resource_properties("AWS::StepFunctions::StateMachine", {
        "StateMachineName": physical(stage, "fulfilment"),
        "LoggingConfiguration": Match.object_like({
            "Level": "ALL",
            "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": Match.any_value()}}]}),
        "TracingConfiguration": {"Enabled": True},
    })


def test_state_machine_role_may_only_send_to_the_fulfilment_tasks_queue(raw: dict[str, Any], stage: str) -> None:
    machine = next(iter(of_type(raw, "AWS::StepFunctions::StateMachine").values()))
    role = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    tasks_queue, _ = by_property(raw, "AWS::SQS::Queue", "QueueName")[physical(stage, "fulfilment-tasks")]
    data = [statement for statement in statements_of_role(raw, role)
            if any(action.split(":")[0] in DATA_SERVICES for action in as_list(statement["Action"]))]
    assert data == [{"Action": "sqs:SendMessage", "Effect": "Allow",
                     "Resource": {"Fn::GetAtt": [tasks_queue, "Arn"]}}]


def test_the_app_is_told_the_state_machine_arn(raw: dict[str, Any]) -> None:
    machine = next(iter(of_type(raw, "AWS::StepFunctions::StateMachine")))
    for name, function in of_type(raw, "AWS::Serverless::Function").items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["TOKOFLOW_FULFILMENT_STATE_MACHINE_ARN"] == {"Ref": machine}, name


# ---- functions and their events ------------------------------------------------------------------------------


def test_every_sqs_event_source_reports_batch_item_failures(raw: dict[str, Any], stage: str) -> None:
    queues = {logical: resource["Properties"]["QueueName"]
              for logical, resource in of_type(raw, "AWS::SQS::Queue").items()}
    consumed = []
    for name, function in of_type(raw, "AWS::Serverless::Function").items():
        for event_name, event in (function["Properties"].get("Events") or {}).items():
            if event["Type"] != "SQS":
                continue
            assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"], (name, event_name)
            consumed.append(queues[event["Properties"]["Queue"]["Fn::GetAtt"][0]])
    for mapping in of_type(raw, "AWS::Lambda::EventSourceMapping").values():  # none today; any added later too
        assert mapping["Properties"].get("FunctionResponseTypes") == ["ReportBatchItemFailures"]
    assert sorted(consumed) == sorted(physical(stage, spec.name) for spec in resources.QUEUES)


def test_queues_stay_invisible_longer_than_their_consumer_runs(raw: dict[str, Any]) -> None:
    """Lambda refuses an SQS source whose visibility timeout is shorter than the function's timeout."""
    for name, function in of_type(raw, "AWS::Serverless::Function").items():
        for event in (function["Properties"].get("Events") or {}).values():
            if event["Type"] == "SQS":
                queue = raw["Resources"][event["Properties"]["Queue"]["Fn::GetAtt"][0]]["Properties"]
                assert queue["VisibilityTimeout"] >= function["Properties"]["Timeout"], name


def test_schedules_exist(raw: dict[str, Any]) -> None:
    functions = of_type(raw, "AWS::Serverless::Function")
    schedules = {name: [event["Properties"]["Schedule"] for event in (f["Properties"].get("Events") or {}).values()
                        if event["Type"] == "Schedule"] for name, f in functions.items()}
    assert schedules["ExpireOverdueOrders"] == ["rate(5 minutes)"]
    assert schedules["ReconcilePayments"] == ["rate(15 minutes)"]
    assert schedules["CreditLoyaltyPoints"] == ["rate(1 hour)"]
    assert schedules["ExpireLoyaltyPoints"] == ["rate(1 day)"]


def test_one_alarm_sums_the_errors_of_every_scheduled_function(raw: dict[str, Any], stage: str) -> None:
    functions = of_type(raw, "AWS::Serverless::Function")
    scheduled = {physical(stage, name) for name, function in functions.items()
                 if any(event["Type"] == "Schedule" for event in (function["Properties"].get("Events") or {}).values())}
    (alarm,) = [a["Properties"] for a in of_type(raw, "AWS::CloudWatch::Alarm").values()
                if a["Properties"].get("AlarmName") == physical(stage, "scheduled-jobs-failing")]
    watched = {query["MetricStat"]["Metric"]["Dimensions"][0]["Value"] for query in alarm["Metrics"]
               if "MetricStat" in query}
    assert watched == scheduled and physical(stage, "CreditLoyaltyPoints") in watched
    assert alarm["Threshold"] == 1 and alarm["AlarmActions"]


def test_every_function_has_its_own_role_and_log_group(raw: dict[str, Any], stage: str) -> None:
    functions = of_type(raw, "AWS::Serverless::Function")
    assert set(functions) == set(FUNCTION_ACCESS)
    roles = [function["Properties"]["Role"]["Fn::GetAtt"][0] for function in functions.values()]
    assert len(set(roles)) == len(roles)
    for name, function in functions.items():
        props = function["Properties"]
        assert props["FunctionName"] == physical(stage, name)
        assert props["Tracing"] == "Active"
        role = props["Role"]["Fn::GetAtt"][0]
        (policy,) = [logical for logical, policy in of_type(raw, "AWS::IAM::Policy").items()
                     if policy["Properties"].get("Roles", []) == [{"Ref": role}]]
        assert policy in function.get("DependsOn", []), name  # permissions exist before the SQS mapping
        log_group = raw["Resources"][props["LoggingConfig"]["LogGroup"]["Ref"]]
        assert log_group["Properties"]["LogGroupName"] == f"/aws/lambda/{physical(stage, name)}"
        assert "RetentionInDays" in log_group["Properties"]


def test_functions_get_secret_names_never_secret_values(raw: dict[str, Any], stage: str) -> None:
    secrets = by_property(raw, "AWS::SecretsManager::Secret", "Name")
    for function in of_type(raw, "AWS::Serverless::Function").values():
        variables = function["Properties"]["Environment"]["Variables"]
        for variable, stem in SECRETS.items():
            assert variable not in variables
            assert variables[variable + config.SECRET_PARAMETER_SUFFIX] == f"{STAGES[stage].prefix}/{stem}"
            assert f"{STAGES[stage].prefix}/{stem}" in secrets
        assert config.DEV_JWT_SECRET not in variables
        assert variables[config.AUTH_MODE] == "cognito"
        assert variables[config.PREFIX] == STAGES[stage].prefix
        assert variables[config.COGNITO_USER_POOL_ID] == {"Ref": next(iter(of_type(raw, "AWS::Cognito::UserPool")))}
        assert variables[config.MEDIA_PUBLIC_BASE_URL]["Fn::Join"][1][0] == "https://"
    for _, secret in secrets.values():
        assert "GenerateSecretString" in secret["Properties"] and "SecretString" not in secret["Properties"]


def test_prod_keeps_its_stage_settings_and_asks_for_a_verified_sender(raw: dict[str, Any], stage: str) -> None:
    variables = of_type(raw, "AWS::Serverless::Function")["APIHandler"]["Properties"]["Environment"]["Variables"]
    if stage == "prod":
        assert variables[config.PAYMENT_GATEWAY] == "midtrans"
        assert variables[config.COURIER] == "biteship"
        assert variables[config.NOTIFIER] == "aws"
        assert variables[config.SES_SENDER] == {"Ref": "SesSenderAddress"}
    else:
        assert variables[config.NOTIFIER] == "outbox"
        assert "SesSenderAddress" not in raw.get("Parameters", {})


def test_api_stage_writes_json_access_logs_to_its_own_log_group(raw: dict[str, Any], stage: str) -> None:
    api = of_type(raw, "AWS::Serverless::Api")["RestAPI"]
    setting = api["Properties"]["AccessLogSetting"]
    (log_logical,) = [logical for logical, group in of_type(raw, "AWS::Logs::LogGroup").items()
                      if group["Properties"]["LogGroupName"] == f"/aws/apigateway/{STAGES[stage].prefix}-access"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": [log_logical, "Arn"]}
    fields = json.loads(setting["Format"])
    assert {"requestId", "ip", "httpMethod", "resourcePath", "status", "responseLatency"} <= set(fields)
    assert all(value.startswith("$context.") for value in fields.values())
    assert not any("header" in value.lower() or "body" in value.lower() for value in fields.values())
    assert raw["Resources"][log_logical]["Properties"]["RetentionInDays"] == STAGES[stage].log_retention_days


def test_api_gateway_logs_through_the_account_role_set_before_the_api(raw: dict[str, Any]) -> None:
    (account_logical, account), = of_type(raw, "AWS::ApiGateway::Account").items()
    role_logical = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    role = raw["Resources"][role_logical]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "apigateway.amazonaws.com"}
    assert role["DeletionPolicy"] == "Retain"  # the account setting may outlive this stack
    assert account_logical in as_list(raw["Resources"]["RestAPI"].get("DependsOn", []))


def test_prod_takes_an_optional_web_acl_for_the_api_stage_and_dev_has_none(template: Template, raw: dict[str, Any],
                                                                         stage: str) -> None:
    if stage == "dev":
        assert "WebAclArn" not in raw.get("Parameters", {})
        template.resource_count_is("AWS::WAFv2::WebACLAssociation", 0)
        return
    parameter = raw["Parameters"]["WebAclArn"]
    assert (parameter["Type"], parameter["Default"]) == ("String", "")
    assert re.fullmatch(parameter["AllowedPattern"], "")
    assert re.fullmatch(parameter["AllowedPattern"],
                        "arn:aws:wafv2:ap-southeast-3:123456789012:regional/webacl/tokoflow/0a1b2c3d")
    assert not re.fullmatch(parameter["AllowedPattern"],
                            "arn:aws:wafv2:us-east-1:123456789012:global/webacl/tokoflow/0a1b2c3d")
    assert raw["Conditions"]["HasWebAcl"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "WebAclArn"}, ""]}]}
    (association,) = of_type(raw, "AWS::WAFv2::WebACLAssociation").values()
    assert association["Condition"] == "HasWebAcl"
    assert association["Properties"]["WebACLArn"] == {"Ref": "WebAclArn"}
    # RestAPI.Stage is SAM's reference to the stage it generates: the association waits for the stage.
    assert association["Properties"]["ResourceArn"] == {"Fn::Sub": (
        "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestAPI}/stages/${RestAPI.Stage}")}


def test_api_is_throttled_and_traced(raw: dict[str, Any], stage: str) -> None:
    api = of_type(raw, "AWS::Serverless::Api")["RestAPI"]["Properties"]
    assert api["Name"] == STAGES[stage].prefix
    assert api["TracingEnabled"] is True
    (settings,) = api["MethodSettings"]
    assert settings["ResourcePath"] == "/*" and settings["HttpMethod"] == "*"
    assert settings["ThrottlingRateLimit"] == STAGES[stage].api_rate_limit
    assert settings["ThrottlingBurstLimit"] == STAGES[stage].api_burst_limit


# ---- IAM ----------------------------------------------------------------------------------------------------


def statements_of_role(raw: dict[str, Any], role: str) -> list[dict[str, Any]]:
    found = [statement for policy in of_type(raw, "AWS::IAM::Policy").values()
             if {"Ref": role} in policy["Properties"].get("Roles", [])
             for statement in policy["Properties"]["PolicyDocument"]["Statement"]]
    for policy in raw["Resources"][role]["Properties"].get("Policies", []):
        found.extend(policy["PolicyDocument"]["Statement"])
    return found


def all_allow_statements(raw: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical, resource in raw["Resources"].items():
        props = resource.get("Properties", {})
        documents = [props["PolicyDocument"]] if "PolicyDocument" in props else []
        if resource["Type"].startswith("AWS::IAM::"):
            documents += [policy["PolicyDocument"] for policy in props.get("Policies", [])]
        for document in documents:
            found.extend((logical, s) for s in document["Statement"] if s["Effect"] == "Allow")
    return found


def test_no_policy_allows_wildcard_actions_or_any_resource_on_data(raw: dict[str, Any]) -> None:
    statements = all_allow_statements(raw)
    assert statements
    for logical, statement in statements:
        assert "NotAction" not in statement, logical
        actions = as_list(statement["Action"])
        assert not WILDCARD_ACTIONS & set(actions), (logical, actions)
        if any(action.split(":")[0] in DATA_SERVICES for action in actions):
            assert "*" not in as_list(statement.get("Resource", [])), (logical, actions)
            assert "Resource" in statement or statement.get("NotResource"), (logical, actions)


def test_no_role_carries_managed_policies_but_api_gateways_logging_role(raw: dict[str, Any]) -> None:
    (account,) = of_type(raw, "AWS::ApiGateway::Account").values()
    logging_role = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    for logical, role in of_type(raw, "AWS::IAM::Role").items():
        if logical == logging_role:
            (policy,) = role["Properties"]["ManagedPolicyArns"]
            assert policy["Fn::Join"][1][-1] == ":iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
            continue
        assert not role["Properties"].get("ManagedPolicyArns"), logical


def test_only_the_right_functions_touch_money_and_secrets(raw: dict[str, Any]) -> None:
    functions = of_type(raw, "AWS::Serverless::Function")
    ledger = next(logical for logical, table in of_type(raw, "AWS::DynamoDB::Table").items()
                  if table["Properties"]["TableName"].endswith("-payment-ledger"))

    def reaches(function: str, needle: Any) -> bool:
        role = functions[function]["Properties"]["Role"]["Fn::GetAtt"][0]
        return needle in json.dumps(statements_of_role(raw, role))

    assert not reaches("JwtAuthorizer", "dynamodb:") and not reaches("JwtAuthorizer", "secretsmanager:")
    assert not reaches("LowStockAlerts", "dynamodb:")
    assert not reaches("NotificationSender", ledger)
    assert reaches("FulfilmentWorker", ledger) and reaches("PaymentEvents", ledger)


def test_the_payment_consumers_may_release_the_stock_of_an_order_whose_payment_the_gateway_ended(
        raw: dict[str, Any]) -> None:
    functions = of_type(raw, "AWS::Serverless::Function")
    stock = next(logical for logical, table in of_type(raw, "AWS::DynamoDB::Table").items()
                 if table["Properties"]["TableName"].endswith("-stock"))
    for function in ("PaymentEvents", "ReconcilePayments", "ExpireOverdueOrders", "FulfilmentWorker"):
        role = functions[function]["Properties"]["Role"]["Fn::GetAtt"][0]
        assert stock in json.dumps(statements_of_role(raw, role)), function


def finance_reports_group(raw: dict[str, Any], stage: str) -> tuple[str, dict[str, Any]]:
    (found,) = [(logical, group) for logical, group in of_type(raw, "AWS::IAM::Group").items()
                if group["Properties"].get("GroupName") == physical(stage, "finance-reports")]
    return found


def statements_of_group(raw: dict[str, Any], group: str) -> list[dict[str, Any]]:
    """Every statement that applies to the group: policies naming it, and any inline or managed policy of its own."""
    found = [statement for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
             for policy in of_type(raw, kind).values() if {"Ref": group} in policy["Properties"].get("Groups", [])
             for statement in policy["Properties"]["PolicyDocument"]["Statement"]]
    for policy in raw["Resources"][group]["Properties"].get("Policies", []):
        found.extend(policy["PolicyDocument"]["Statement"])
    return found


def test_finance_reports_group_may_only_list_and_read_the_reports_prefix(raw: dict[str, Any], stage: str) -> None:
    group_logical, group = finance_reports_group(raw, stage)
    assert not group["Properties"].get("ManagedPolicyArns")
    bucket, _ = by_property(raw, "AWS::S3::Bucket", "BucketName")[physical(stage, "reports")]
    bucket_arn = {"Fn::GetAtt": [bucket, "Arn"]}
    granted = sorted(
        ((statement["Effect"], tuple(sorted(as_list(statement["Action"]))), json.dumps(statement["Resource"]),
          json.dumps(statement.get("Condition")))
         for statement in statements_of_group(raw, group_logical)),
        key=repr)
    assert granted == sorted([
        ("Allow", ("s3:ListBucket",), json.dumps(bucket_arn),
         json.dumps({"StringLike": {"s3:prefix": ["reports/", "reports/*"]}})),
        ("Allow", ("s3:GetBucketLocation",), json.dumps(bucket_arn), "null"),
        ("Allow", ("s3:GetObject", "s3:GetObjectVersion"),
         json.dumps({"Fn::Join": ["", [bucket_arn, "/reports/*"]]}), "null"),
    ], key=repr)


def test_finance_reports_group_can_neither_write_nor_delete_nor_list_every_bucket(raw: dict[str, Any],
                                                                                   stage: str) -> None:
    group_logical, _ = finance_reports_group(raw, stage)
    actions = {action.lower() for statement in statements_of_group(raw, group_logical)
               if statement["Effect"] == "Allow" for action in as_list(statement["Action"])}
    assert actions
    for action in actions:
        assert "*" not in action, action
        assert not action.startswith(("s3:put", "s3:delete", "s3:restore", "s3:replicate")), action
        assert action != "s3:listallmybuckets", action
    for policy in of_type(raw, "AWS::S3::BucketPolicy").values():  # nor does a bucket policy let it in
        assert group_logical not in json.dumps(policy)


# ---- identity, monitoring, outputs ----------------------------------------------------------------------------


def test_cognito_pool_groups_and_client(template: Template, raw: dict[str, Any]) -> None:
    template.has_resource_properties("AWS::Cognito::UserPool", {
        "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": False},
        "UsernameAttributes": ["email"],
        "AutoVerifiedAttributes": ["email"],
    })
    groups = {group["Properties"]["GroupName"] for group in of_type(raw, "AWS::Cognito::UserPoolGroup").values()}
    assert groups == {"staff", "admin", "finance"}
    template.has_resource_properties("AWS::Cognito::UserPoolClient", {"GenerateSecret": False})


def test_alarms_watch_the_api_the_workflow_and_the_app_metrics(raw: dict[str, Any]) -> None:
    alarms = [alarm["Properties"] for alarm in of_type(raw, "AWS::CloudWatch::Alarm").values()]

    def find(namespace: str, metric: str) -> dict[str, Any]:
        (alarm,) = [a for a in alarms if (a.get("Namespace"), a.get("MetricName")) == (namespace, metric)]
        assert alarm["AlarmActions"]
        return alarm

    assert find("AWS/ApiGateway", "5XXError")["Statistic"] == "Sum"
    assert find("AWS/ApiGateway", "Latency")["ExtendedStatistic"] == "p99"
    failed = [a for a in alarms if (a.get("Namespace"), a.get("MetricName")) == ("AWS/States", "ExecutionsFailed")]
    assert len(failed) == 2 and all(alarm["Threshold"] == 1 and alarm["AlarmActions"] for alarm in failed)
    for metric in ("WebhookSignatureFailures", "OrdersNeedingAttention", "ReturnsNeedingAttention",
                   "ReturnWorkflowStartFailures", "PaymentsHeldForReview", "PaymentsReversed"):
        assert find("TokoFlow", metric)["Dimensions"] == [{"Name": "service", "Value": "tokoflow"}]
    assert len(of_type(raw, "AWS::CloudWatch::Dashboard")) == 1


def test_outputs(template: Template) -> None:
    outputs = template.to_json()["Outputs"]
    for name in ("ApiUrl", "MediaCdnDomain", "UserPoolId", "UserPoolClientId", "AlarmTopicArn",
                 "MidtransNotificationUrl", "BiteshipWebhookUrl"):
        assert name in outputs, name
    assert outputs["MidtransNotificationUrl"]["Value"]["Fn::Join"][1][1] == "webhooks/payments/midtrans"
    assert outputs["BiteshipWebhookUrl"]["Value"]["Fn::Join"][1][1] == "webhooks/couriers/biteship"


def test_outputs_name_the_finance_group_and_link_to_the_reports_prefix_in_the_console(raw: dict[str, Any],
                                                                                       stage: str) -> None:
    outputs = raw["Outputs"]
    group_logical, _ = finance_reports_group(raw, stage)
    assert outputs["FinanceReportsGroup"]["Value"] == {"Ref": group_logical}
    bucket, _ = by_property(raw, "AWS::S3::Bucket", "BucketName")[physical(stage, "reports")]
    assert outputs["ReportsConsoleUrl"]["Value"] == {"Fn::Join": ["", [
        "https://s3.console.aws.amazon.com/s3/buckets/", {"Ref": bucket}, "?prefix=reports/"]]}


def test_the_hourly_tracking_poll_reaches_orders_the_courier_and_nothing_with_money(raw: dict[str, Any],
                                                                                   stage: str) -> None:
    functions = of_type(raw, "AWS::Serverless::Function")
    poll = functions["PollStaleShipments"]["Properties"]
    assert [event["Properties"]["Schedule"] for event in poll["Events"].values()] == ["rate(1 hour)"]
    tables = {table["Properties"]["TableName"]: logical
              for logical, table in of_type(raw, "AWS::DynamoDB::Table").items()}
    reached = json.dumps(statements_of_role(raw, poll["Role"]["Fn::GetAtt"][0]))
    assert tables[physical(stage, "orders")] in reached
    assert tables[physical(stage, "payment-ledger")] not in reached and tables[physical(stage, "stock")] not in reached
    # the sandbox courier's books where the stage uses the sandbox (dev), Biteship's key where it uses Biteship (prod)
    assert (tables[physical(stage, "sandbox-couriers")] in reached) is (stage == "dev")
    assert ("secretsmanager:GetSecretValue" in reached) is (stage == "prod")
