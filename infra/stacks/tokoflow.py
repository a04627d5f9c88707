"""The TokoFlow stack: every resource in chalicelib.resources, the Chalice app, and what watches them.

One stack per stage, its construct id the stage name ("dev", "prod"). The Chalice app is packaged for the chalice
stage of the same name, so the stage's settings in .chalice/config.json apply as they do for `chalice deploy`.
Physical names come from the resource specs with TOKOFLOW_PREFIX set to the stage's
prefix ("tokoflow-prod-orders"), the same names the app computes at run time, so nothing has to pass table or
queue names around.

Choices worth knowing
---------------------
- DynamoDB tables use the AWS managed key (aws/dynamodb): encrypted at rest and logged in CloudTrail, with no
  key policy to keep in step with nine Lambda roles and no monthly key charge. A customer managed key buys
  key-level revocation, which this shop does not need yet; switch `TableEncryption` if it ever does.
- Buckets use SSE-S3: CloudFront's origin access control reads SSE-S3 objects without a key policy.
- Queues use SSE-SQS for the same reason (Step Functions and Lambda need no KMS grants).
- The alarm topic is not KMS-encrypted: CloudWatch alarms cannot publish to a topic under the AWS managed
  SNS key, and alarm texts carry no customer data.
- Every Lambda function gets its own role (Chalice's `manage_iam_role: false` plus a `Role` override per
  function) listing the exact tables, queues, secrets and state machine it uses: see FUNCTION_ACCESS.
- Finance people download sales reports straight from the reports bucket: an IAM group that may list and read
  REPORTS_PREFIX and nothing else (no write, no delete, no ListAllMyBuckets: they open the ReportsConsoleUrl
  output instead of browsing the bucket list). Who is in the group is managed outside the stack.
- cdk-nag's AwsSolutions pack runs on every synth (infra/nag.py); each finding accepted on purpose is acknowledged
  on its construct, here, with its reason.
- The Lambda code is Chalice's deployment.zip without the AWS SDK the Python runtime provides (infra/package.py).
- The API stage writes JSON access logs to its own log group; API Gateway writes them through the account-level
  CloudWatch role this stack sets (kept on deletion, as CDK's own RestApi does). Prod takes an optional WAF web
  ACL (parameter WebAclArn): associated with the API stage only when given.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as sns_subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_wafv2 as wafv2
from aws_cdk import cloudformation_include
from constructs import Construct

from chalicelib import config, resources
from chalicelib.resources import BucketSpec, QueueSpec, StateMachineSpec, TableSpec
from infra import nag
from infra.lint_asl import PLACEHOLDER, placeholders
from infra.package import LIMIT_BYTES, slim
from local.provision import pascal

DEFAULT_REGION = "ap-southeast-3"  # Jakarta; chalice package needs some region even for a region-agnostic template
QUEUE_RETENTION = cdk.Duration.days(4)  # the SQS default, stated (cfn-lint I3013)
DLQ_RETENTION = cdk.Duration.days(14)  # the SQS maximum: long enough to inspect and redrive
METRICS_NAMESPACE = "TokoFlow"  # chalicelib.observability.NAMESPACE
METRICS_SERVICE = "tokoflow"  # chalicelib.observability.SERVICE: Powertools adds it as the "service" dimension
SECRET_SUFFIX = config.SECRET_PARAMETER_SUFFIX  # TOKOFLOW_X_PARAMETER names the secret holding TOKOFLOW_X
REPORTS_PREFIX = "reports/"  # where the app writes report files in the reports bucket: reports/monthly/2026/12/...
REST_API = "RestAPI"  # the logical id Chalice gives the API in its SAM template
API_GATEWAY_LOGGING_POLICY = "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
# One JSON object per request: who, what, how it went and how long it took; never headers, bodies or tokens.
ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId", "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTimeEpoch", "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent", "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath", "path": "$context.path", "protocol": "$context.protocol",
    "status": "$context.status", "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency", "integrationStatus": "$context.integration.status",
    "integrationLatency": "$context.integration.latency", "principalId": "$context.authorizer.principalId",
    "authorizerError": "$context.authorizer.error", "errorMessage": "$context.error.message",
    "wafResponseCode": "$context.wafResponseCode", "xrayTraceId": "$context.xrayTraceId",
}, separators=(",", ":"))


@dataclass(frozen=True)
class StageSettings:
    """What differs between stages besides .chalice/config.json."""

    name: str
    retain_everything: bool  # tables, buckets, user pool and secrets survive a stack deletion
    log_retention: logs.RetentionDays
    api_rate_limit: int  # steady requests per second across the API stage
    api_burst_limit: int
    termination_protection: bool
    web_acl_parameter: bool = False  # a WebAclArn parameter; the web ACL is attached to the API stage when given

    @property
    def prefix(self) -> str:
        return f"tokoflow-{self.name}"

    @property
    def log_retention_days(self) -> int:
        """The log retention in days, for logs CloudWatch does not keep (S3 access logs)."""
        return LOG_RETENTION_DAYS[self.log_retention]


LOG_RETENTION_DAYS = {logs.RetentionDays.TWO_WEEKS: 14, logs.RetentionDays.ONE_MONTH: 30,
                      logs.RetentionDays.THREE_MONTHS: 90, logs.RetentionDays.SIX_MONTHS: 180,
                      logs.RetentionDays.ONE_YEAR: 365}


STAGES: dict[str, StageSettings] = {
    "dev": StageSettings("dev", retain_everything=False, log_retention=logs.RetentionDays.TWO_WEEKS,
                         api_rate_limit=20, api_burst_limit=40, termination_protection=False),
    "prod": StageSettings("prod", retain_everything=True, log_retention=logs.RetentionDays.THREE_MONTHS,
                          api_rate_limit=100, api_burst_limit=200, termination_protection=True,
                          web_acl_parameter=True),
}

# Provider credentials: Secrets Manager secrets "<prefix>/<stem>" created with a random placeholder that the
# owner replaces (README, "Deploy to AWS"); the app gets each secret's NAME in "<variable>_PARAMETER" and
# reads the value at run time (chalicelib.config.secret).
SECRETS: dict[str, str] = {
    config.MIDTRANS_SERVER_KEY: "midtrans-server-key",
    config.BITESHIP_API_KEY: "biteship-api-key",
    config.COURIER_WEBHOOK_SECRET: "courier-webhook-secret",
}

# Values that must never reach a deployed function: the public development signing key, and secret values (the
# functions get the secrets' names instead).
NEVER_DEPLOYED = frozenset({config.DEV_JWT_SECRET, *SECRETS})


@dataclass(frozen=True)
class Access:
    """What one Lambda function may touch, besides its log group and the queue its own SQS event reads.

    Read from the code paths each handler reaches (chalicelib/<area>/routes.py -> service -> repository).
    A new handler without an entry in FUNCTION_ACCESS fails the synth, so nobody gets access by accident.
    """

    tables: tuple[TableSpec, ...] = ()
    sends_to: tuple[QueueSpec, ...] = ()
    starts_fulfilment: bool = False  # states:StartExecution (checkout, reconciliation)
    resumes_fulfilment: bool = False  # states:SendTask* with a task token
    starts_returns: bool = False  # states:StartExecution of the returns state machine
    resumes_returns: bool = False  # states:SendTask* for a return's waiting step
    uploads_media: bool = False  # presigned PUT and HEAD under the media bucket's served prefix
    return_photos: bool = False  # presigned POST and GET of customers' private uploads: return, review, ticket photos
    reads_reports: bool = False  # presigned GET of report files (the reports bucket's reports/ prefix)
    writes_reports: bool = False  # puts report files under reports/
    payment_gateway: bool = False  # Midtrans server key; the sandbox gateway's table when the stage uses it
    courier: bool = False  # Biteship API key when the stage uses Biteship; the sandbox courier's table otherwise
    courier_webhooks: bool = False  # the courier webhook secret
    notifies_customers: bool = False  # SES email and SNS SMS when the stage's notifier is "aws"
    reads_search_index: bool = False  # the embedded search index file (catalog/ in the search bucket)
    writes_search_index: bool = False  # writes it (the refresh schedule)


R = resources
# Every movement of points is one transaction with its count in the day rollups.
LOYALTY_TABLES = (R.LOYALTY, R.LOYALTY_ORDERS, R.ROLLUPS)

FUNCTION_ACCESS: dict[str, Access] = {
    # Every HTTP route: catalog, inventory, carts, quotes, checkout, orders, vouchers, webhooks, packing, cancel.
    "APIHandler": Access(
        tables=(R.PRODUCTS, R.CATEGORIES, R.STOCK, R.STOCK_LEDGER, R.CARTS, R.VOUCHERS, R.ORDERS, R.IDEMPOTENCY,
                R.WEBHOOK_INBOX, R.PAYMENT_LEDGER, R.PAYOUTS, R.RETURNS, R.ROLLUPS, R.REPORTS, R.REVIEWS, R.TICKETS,
                R.LOYALTY, R.LOYALTY_ORDERS),
        sends_to=(R.LOW_STOCK_QUEUE, R.NOTIFICATIONS_QUEUE, R.PAYMENT_EVENTS_QUEUE, R.COURIER_EVENTS_QUEUE,
                  R.REPORT_BUILDS_QUEUE),
        starts_fulfilment=True, resumes_fulfilment=True, starts_returns=True, resumes_returns=True,
        uploads_media=True, return_photos=True, reads_reports=True, payment_gateway=True, courier=True,
        courier_webhooks=True, reads_search_index=True,
    ),
    # Every 5 minutes: the catalog's changes folded into the search index file (rebuilt, with the category counts,
    # when there is none).
    "RefreshSearchIndex": Access(tables=(R.PRODUCTS, R.CATEGORIES), reads_search_index=True,
                                 writes_search_index=True),
    # Verifies Cognito tokens against the pool's public JWKS over HTTPS: no AWS data at all.
    "JwtAuthorizer": Access(),
    # Logs and counts the alert; reads only its queue.
    "LowStockAlerts": Access(),
    # An expired order's spent loyalty points go back (a transaction with the day's rollups); the customer is told.
    "ExpireOverdueOrders": Access(tables=(R.ORDERS, R.STOCK, R.STOCK_LEDGER, *LOYALTY_TABLES),
                                  sends_to=(R.LOW_STOCK_QUEUE, R.NOTIFICATIONS_QUEUE)),
    # A payment the gateway ends (deny, expire, ...) ends the order and releases its reserved stock here.
    "PaymentEvents": Access(tables=(R.ORDERS, R.PAYMENT_LEDGER, R.STOCK, R.STOCK_LEDGER, *LOYALTY_TABLES),
                            sends_to=(R.NOTIFICATIONS_QUEUE, R.LOW_STOCK_QUEUE), resumes_fulfilment=True,
                            payment_gateway=True),
    "ReconcilePayments": Access(tables=(R.ORDERS, R.PAYMENT_LEDGER, R.STOCK, R.STOCK_LEDGER, *LOYALTY_TABLES),
                                sends_to=(R.NOTIFICATIONS_QUEUE, R.LOW_STOCK_QUEUE), starts_fulfilment=True,
                                resumes_fulfilment=True, payment_gateway=True),
    # Every Python step of the state machine: stock commit/release, booking, completion, refunds, attention; a
    # parcel returned to sender opens a return and starts its workflow.
    "FulfilmentWorker": Access(tables=(R.ORDERS, R.STOCK, R.STOCK_LEDGER, R.PAYMENT_LEDGER, R.PAYOUTS, R.RETURNS,
                                       *LOYALTY_TABLES),
                               sends_to=(R.LOW_STOCK_QUEUE, R.NOTIFICATIONS_QUEUE), resumes_fulfilment=True,
                               starts_returns=True, payment_gateway=True, courier=True),
    # Every Python step of the returns state machine: decisions, inspection, refunds (gateway or payout), close.
    "ReturnWorker": Access(tables=(R.ORDERS, R.RETURNS, R.STOCK, R.STOCK_LEDGER, R.PAYMENT_LEDGER, R.PAYOUTS,
                                   *LOYALTY_TABLES),
                           sends_to=(R.LOW_STOCK_QUEUE, R.NOTIFICATIONS_QUEUE), starts_returns=True,
                           resumes_returns=True, payment_gateway=True),
    "CourierEvents": Access(tables=(R.ORDERS,), sends_to=(R.NOTIFICATIONS_QUEUE,), resumes_fulfilment=True),
    "NotificationSender": Access(tables=(R.NOTIFICATIONS,), notifies_customers=True),
    # Counts order facts into the day rollups every 5 minutes (reads changed orders, writes rollups).
    "CollectReportFacts": Access(tables=(R.ORDERS, R.ROLLUPS)),
    # Queues the daily, weekly and monthly builds just after midnight WIB.
    "BuildScheduledReports": Access(tables=(R.REPORTS,), sends_to=(R.REPORT_BUILDS_QUEUE,)),
    # Builds a report: counts what is left, reads rollups, catalog and stock, writes the files, emails finance.
    "ReportBuilder": Access(tables=(R.ORDERS, R.ROLLUPS, R.REPORTS, R.PRODUCTS, R.STOCK, R.NOTIFICATIONS),
                            reads_reports=True, writes_reports=True, notifies_customers=True),
    # Credits loyalty earnings whose return window closed (hourly); expires points that came of age and warns
    # customers of points about to expire (daily).
    "CreditLoyaltyPoints": Access(tables=LOYALTY_TABLES, sends_to=(R.NOTIFICATIONS_QUEUE,)),
    "ExpireLoyaltyPoints": Access(tables=LOYALTY_TABLES, sends_to=(R.NOTIFICATIONS_QUEUE,)),
    # Hourly: shipments without courier news for hours are read through the courier's tracking API and each missing
    # status applied as its webhook would be (the order moves, the customer is told, the delivery step resumes).
    "PollStaleShipments": Access(tables=(R.ORDERS,), sends_to=(R.NOTIFICATIONS_QUEUE,), resumes_fulfilment=True,
                                 courier=True),
}

TABLE_ACTIONS = (
    "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem",
    "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan",
    "dynamodb:UpdateItem",
)
INDEX_ACTIONS = ("dynamodb:Query", "dynamodb:Scan")
SEND_ACTIONS = ("sqs:SendMessage", "sqs:GetQueueUrl")  # chalicelib.aws.queue_url looks the URL up by name
CONSUME_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                   "sqs:GetQueueAttributes")
SEARCH_INDEX_PREFIX = "catalog/"  # chalicelib.catalog.indexing keeps its files under it
PRIVATE_UPLOAD_PREFIXES = ("returns", "reviews", "tickets")  # customers' photos, never served publicly
TASK_RESPONSE_ACTIONS = ("states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat")


@contextlib.contextmanager
def stage_prefix(prefix: str) -> Iterator[None]:
    """Set TOKOFLOW_PREFIX while the stack computes physical names; restore it afterwards (tests share the
    process with code that reads the variable)."""
    previous = os.environ.get(config.PREFIX)
    os.environ[config.PREFIX] = prefix
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(config.PREFIX, None)
        else:
            os.environ[config.PREFIX] = previous


def chalice_stage(stage: str, root: Path = resources.REPOSITORY_ROOT) -> dict[str, Any]:
    """The stage's block of .chalice/config.json."""
    stages = json.loads((root / ".chalice" / "config.json").read_text(encoding="utf-8"))["stages"]
    if stage not in stages:
        raise ValueError(f"stage {stage!r} is not in .chalice/config.json (stages: {', '.join(stages)})")
    return stages[stage]


_PACKAGE_SCRIPT = """
import json, sys
from chalice import api
request = json.load(sys.stdin)
api.package_app(project_dir=request["project_dir"], output_dir=request["output_dir"], stage=request["stage"],
                chalice_config=request["chalice_config"])
"""


def package_chalice_app(source_dir: str, output_dir: Path, *, stage: str, stage_config: dict[str, Any],
                        prefix: str) -> None:
    """`chalice package` for one stage in a child process.

    Packaging imports app.py, whose blueprints read queue names from TOKOFLOW_PREFIX at import, and copies the
    stage's variables (CDK tokens included) into os.environ: a child process per stage keeps both out of the
    synthesizing process.
    """
    environment = {**os.environ, config.PREFIX: prefix}
    environment.setdefault("AWS_DEFAULT_REGION", DEFAULT_REGION)
    request = {"project_dir": source_dir, "output_dir": str(output_dir), "stage": stage,
               "chalice_config": stage_config}
    done = subprocess.run([sys.executable, "-c", _PACKAGE_SCRIPT], input=json.dumps(request), text=True,
                          env=environment, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"chalice package failed for stage {stage}:\n{done.stdout}{done.stderr}")


class ChaliceApp(Construct):
    """The Chalice app's packaged SAM template, included in the stack with its code as a CDK asset.

    What chalice.cdk.Chalice does, from public APIs only (chalice's api.package_app, CDK's Asset and
    CfnInclude, under the same construct ids), packaged in a child process (package_chalice_app) and in a
    temporary directory removed once the asset is staged and the template read: nothing piles up in
    chalice.out/.

    `sam` is the packaged SAM template as Chalice wrote it, for looking up functions and their events. The code
    asset is the package without the runtime-provided AWS SDK (infra.package.slim); `package` says what was left
    out.
    """

    def __init__(self, scope: Construct, construct_id: str, *, source_dir: str, stage: str,
                 stage_config: dict[str, Any], prefix: str) -> None:
        super().__init__(scope, construct_id)
        workdir = Path(tempfile.mkdtemp(prefix="tokoflow-chalice-"))
        try:
            package = workdir / "package"
            package_chalice_app(source_dir, package, stage=stage, stage_config=stage_config, prefix=prefix)
            self.sam: dict[str, Any] = json.loads((package / "sam.json").read_text(encoding="utf-8"))
            if any(resource["Type"] == "AWS::Serverless::LayerVersion" for resource in self.sam["Resources"].values()):
                raise ValueError("automatic_layer is not supported here: set it to false in .chalice/config.json")
            shipped = workdir / "shipped.zip"
            self.package = slim(package / "deployment.zip", shipped)
            if not self.package.under_limit:
                largest = ", ".join(f"{name} {size / 1e6:.1f} MB"
                                    for name, size in self.package.kept_by_top_level.most_common(5))
                raise ValueError(f"the Lambda package is {self.package.output_bytes / 1e6:.1f} MB, over the "
                                 f"{LIMIT_BYTES / 1e6:.0f} MB budget; largest: {largest}")
            code = s3_assets.Asset(self, "ChaliceAppCode", path=str(shipped))
            template = copy.deepcopy(self.sam)
            for name in self.functions():
                template["Resources"][name]["Properties"]["CodeUri"] = {"Bucket": code.s3_bucket_name,
                                                                        "Key": code.s3_object_key}
            template_file = workdir / "sam_with_assets.json"
            template_file.write_text(json.dumps(template), encoding="utf-8")
            self.sam_template = cloudformation_include.CfnInclude(self, "ChaliceApp", template_file=str(template_file))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def functions(self) -> dict[str, dict[str, Any]]:
        """Logical id -> properties of every Lambda function Chalice generated."""
        return {name: resource.get("Properties", {}) for name, resource in self.sam["Resources"].items()
                if resource["Type"] == "AWS::Serverless::Function"}

    def get_resource(self, logical_id: str) -> cdk.CfnResource:
        return self.sam_template.get_resource(logical_id)


class TokoflowStack(cdk.Stack):
    """One stage of TokoFlow. Construct id = stage name; CloudFormation stack name "tokoflow-<stage>"."""

    def __init__(self, scope: Construct, stage: str, *, alarm_email: str | None = None,
                 root: Path = resources.REPOSITORY_ROOT, **kwargs: Any) -> None:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}: expected one of {', '.join(STAGES)}")
        self.settings = settings = STAGES[stage]
        super().__init__(scope, stage, stack_name=settings.prefix,
                         termination_protection=settings.termination_protection,
                         description=f"TokoFlow online shop backend ({stage})", **kwargs)
        # S3 log delivery writes server access logs through a bucket policy, not the log-delivery ACL, so the log
        # bucket keeps ACLs disabled (BucketOwnerEnforced) like every other bucket.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        self.root = root
        self.chalice_config = chalice_stage(stage, root)
        self.app_environment: dict[str, str] = dict(self.chalice_config.get("environment_variables", {}))
        cdk.Tags.of(self).add("project", "tokoflow")
        cdk.Tags.of(self).add("stage", stage)

        with stage_prefix(settings.prefix):
            self.alarm_topic = self._alarm_topic(alarm_email)
            self.tables = {spec.name: self._table(spec) for spec in resources.TABLES}
            self.queues: dict[str, sqs.Queue] = {}
            self.dead_letter_queues: dict[str, sqs.Queue] = {}
            for spec in resources.QUEUES:
                self._queue(spec)
            self.access_logs = self._access_log_bucket()
            self.buckets = {spec.name: self._bucket(spec) for spec in resources.BUCKETS}
            self.distribution = self._media_distribution(resources.MEDIA_BUCKET)
            self.state_machines = {spec.name: self._state_machine(spec) for spec in resources.STATE_MACHINES}
            self.user_pool, self.user_pool_client = self._user_pool()
            self.secrets = {variable: self._secret(variable, stem) for variable, stem in SECRETS.items()}
            self.finance_reports_group = self._finance_reports_group()
            self.ses_sender = self._ses_sender()
            self.api = self._api()
            self._alarms_and_dashboard()
            self._outputs()

    # ---- stage settings -------------------------------------------------------------------------------------

    def _setting(self, name: str) -> str:
        return str(self.app_environment.get(name, "")).strip().lower()

    @property
    def uses_sandbox_gateway(self) -> bool:
        return self._setting(config.PAYMENT_GATEWAY) in ("", "sandbox")

    @property
    def uses_biteship(self) -> bool:
        return self._setting(config.COURIER) == "biteship"

    @property
    def uses_sandbox_courier(self) -> bool:
        return self._setting(config.COURIER) in ("", "sandbox")

    @property
    def uses_aws_notifier(self) -> bool:
        return self._setting(config.NOTIFIER) == "aws"

    def _removal(self, *, keep: bool = False) -> cdk.RemovalPolicy:
        return cdk.RemovalPolicy.RETAIN if keep or self.settings.retain_everything else cdk.RemovalPolicy.DESTROY

    # ---- data -----------------------------------------------------------------------------------------------

    def _table(self, spec: TableSpec) -> dynamodb.Table:
        def attribute(key: resources.Key) -> dynamodb.Attribute:
            kind = dynamodb.AttributeType.NUMBER if key.type == "N" else dynamodb.AttributeType.STRING
            return dynamodb.Attribute(name=key.name, type=kind)

        table = dynamodb.Table(
            self, f"{pascal(spec.name)}Table",
            table_name=spec.physical_name,
            partition_key=attribute(spec.hash_key),
            sort_key=attribute(spec.range_key) if spec.range_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=spec.critical,
            time_to_live_attribute=spec.ttl_attribute,
            removal_policy=self._removal(keep=spec.critical),
        )
        for index in spec.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=attribute(index.hash_key),
                sort_key=attribute(index.range_key) if index.range_key else None,
                projection_type=dynamodb.ProjectionType.ALL,
            )
        return table

    def _queue(self, spec: QueueSpec) -> None:
        stem = pascal(spec.name)
        dlq = sqs.Queue(
            self, f"{stem}Dlq",
            queue_name=spec.dlq_physical_name,
            retention_period=DLQ_RETENTION,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        queue = sqs.Queue(
            self, f"{stem}Queue",
            queue_name=spec.physical_name,
            visibility_timeout=cdk.Duration.seconds(spec.visibility_timeout_seconds),
            retention_period=QUEUE_RETENTION,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=spec.max_receive_count, queue=dlq),
        )
        alarm = cloudwatch.Alarm(
            self, f"{stem}DlqAlarm",
            alarm_name=f"{spec.dlq_physical_name}-not-empty",
            alarm_description=(f"Messages on {spec.physical_name} failed {spec.max_receive_count} times and wait in "
                               f"{spec.dlq_physical_name}: read them, fix the cause, redrive them."),
            metric=dlq.metric_approximate_number_of_messages_visible(period=cdk.Duration.minutes(1),
                                                                      statistic="Maximum"),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.alarm_topic))
        self.queues[spec.name] = queue
        self.dead_letter_queues[spec.name] = dlq

    def _bucket(self, spec: BucketSpec) -> s3.Bucket:
        rules = [s3.LifecycleRule(id="abort-incomplete-uploads",
                                  abort_incomplete_multipart_upload_after=cdk.Duration.days(7)),
                 s3.LifecycleRule(id="expire-old-versions",
                                  noncurrent_version_expiration=cdk.Duration.days(90 if spec.versioned else 30))]
        if spec is resources.REPORTS_BUCKET:
            rules.append(s3.LifecycleRule(id="infrequent-access-after-90-days", transitions=[
                s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                              transition_after=cdk.Duration.days(90))]))
        cors = None
        if spec.served_prefix:  # staff browsers PUT images straight to S3 with a presigned URL
            cors = [s3.CorsRule(allowed_methods=[s3.HttpMethods.PUT], allowed_origins=["*"],
                                allowed_headers=["content-type"], max_age=3000)]
        # Buckets are kept on stack deletion in every stage: CloudFormation cannot delete a bucket with objects.
        return s3.Bucket(
            self, f"{pascal(spec.name)}Bucket",
            bucket_name=spec.physical_name,
            versioned=spec.versioned,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=rules,
            cors=cors,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=self.access_log_prefix(spec),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

    @staticmethod
    def access_log_prefix(spec: BucketSpec) -> str:
        """Where a bucket's server access logs land in the log bucket: one prefix per bucket, to read apart."""
        return f"s3/{spec.name}/"

    def _access_log_bucket(self) -> s3.Bucket:
        """Where S3 writes the server access logs of the app's buckets (who read or wrote which report, when).

        Private and encrypted like the others; S3's log delivery writes through a bucket policy (no ACLs). Logs
        expire with the stage's log retention; the bucket is kept on deletion, as every bucket is.
        """
        bucket = s3.Bucket(
            self, "AccessLogsBucket",
            bucket_name=f"{self.settings.prefix}-access-logs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,  # log delivery cannot write under a KMS key it may not use
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs",
                                              expiration=cdk.Duration.days(self.settings.log_retention_days))],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        nag.acknowledge(bucket, "S1", "The access log bucket itself: logging it would need yet another bucket, "
                                      "and reads of the logs are in CloudTrail")
        return bucket

    def _media_distribution(self, spec: BucketSpec) -> cloudfront.Distribution:
        """CloudFront in front of the private media bucket, allowed to read the served prefix only.

        CDK's origin-access-control helper grants the distribution the whole bucket; the policy here names the
        served prefix instead, so the distribution cannot read anything staff upload elsewhere.
        """
        bucket = self.buckets[spec.name]
        oac = cloudfront.S3OriginAccessControl(self, "MediaOriginAccessControl",
                                               signing=cloudfront.Signing.SIGV4_ALWAYS,
                                               description=f"{spec.physical_name}: {spec.served_prefix}")
        distribution = cloudfront.Distribution(
            self, "MediaDistribution",
            comment=f"{spec.physical_name}/{spec.served_prefix}",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_bucket_defaults(bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                compress=True,
            ),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_200,  # includes the Jakarta edge locations
        )
        cfn_distribution = distribution.node.default_child
        assert isinstance(cfn_distribution, cloudfront.CfnDistribution)
        cfn_distribution.add_property_override("DistributionConfig.Origins.0.OriginAccessControlId",
                                               oac.origin_access_control_id)
        cfn_distribution.add_property_override("DistributionConfig.Origins.0.S3OriginConfig.OriginAccessIdentity", "")
        for rule, reason in (
            ("CFR1", "Product images are public marketing content, meant to be seen from anywhere"),
            ("CFR2", "Cached, read-only GET/HEAD of public images; a CloudFront web ACL lives in us-east-1 and "
                     "bills per request for no protected data"),
            ("CFR3", "Public cached images: CloudFront standard logs need an ACL-enabled bucket, which every bucket "
                     "here refuses (BucketOwnerEnforced); the distribution's CloudWatch metrics are enough"),
            ("CFR4", "The default *.cloudfront.net certificate pins TLSv1 as minimum; a custom domain with an ACM "
                     "certificate would allow TLSv1.2_2021"),
            ("CFR7", "The origin access control is set by a property override above, which cdk-nag cannot see "
                     "(tests/infra asserts OriginAccessControlId)"),
        ):
            nag.acknowledge(distribution, rule, reason)
        bucket.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudFrontReadsServedPrefix",
            principals=[iam.ServicePrincipal("cloudfront.amazonaws.com")],
            actions=["s3:GetObject"],
            resources=[bucket.arn_for_objects(f"{spec.served_prefix}*")],
            conditions={"StringEquals": {"AWS:SourceArn": self.format_arn(
                service="cloudfront", region="", resource="distribution", resource_name=distribution.distribution_id)}},
        ))
        return distribution

    # ---- the workflow ---------------------------------------------------------------------------------------

    def placeholder_values(self) -> dict[str, str]:
        """Every placeholder a definition may use (local/provision.py automatic_placeholders' naming rule)."""
        values = {"AwsRegion": cdk.Aws.REGION, "AwsAccountId": cdk.Aws.ACCOUNT_ID}
        for table_spec in resources.TABLES:
            table = self.tables[table_spec.name]
            values[f"{pascal(table_spec.name)}TableName"] = table.table_name
            values[f"{pascal(table_spec.name)}TableArn"] = table.table_arn
        for queue_spec in resources.QUEUES:
            stem, queue = pascal(queue_spec.name), self.queues[queue_spec.name]
            dlq = self.dead_letter_queues[queue_spec.name]
            values.update({
                f"{stem}QueueName": queue.queue_name, f"{stem}QueueUrl": queue.queue_url,
                f"{stem}QueueArn": queue.queue_arn, f"{stem}DlqName": dlq.queue_name,
                f"{stem}DlqUrl": dlq.queue_url, f"{stem}DlqArn": dlq.queue_arn,
            })
        for bucket_spec in resources.BUCKETS:
            values[f"{pascal(bucket_spec.name)}BucketName"] = self.buckets[bucket_spec.name].bucket_name
        return values

    def _state_machine(self, spec: StateMachineSpec) -> sfn.StateMachine:
        text = (self.root / spec.definition_file).read_text(encoding="utf-8")
        used = placeholders(json.loads(text))  # a broken file fails the synth with its name
        available = self.placeholder_values()
        for key, value in spec.substitutions.items():  # may reference the automatic ones: "${OrdersTableName}"
            available[key] = cdk.Fn.sub(value, {name: available[name] for name in PLACEHOLDER.findall(value)})
        missing = [name for name in used if name not in available]
        if missing:
            raise ValueError(f"{spec.definition_file}: no value for placeholder(s) {', '.join(missing)}")
        stem = pascal(spec.name)
        log_group = logs.LogGroup(
            self, f"{stem}StateMachineLogs",
            log_group_name=f"/aws/vendedlogs/states/{spec.physical_name}",
            retention=self.settings.log_retention,
            removal_policy=self._removal(),
        )
        machine = sfn.StateMachine(
            self, f"{stem}StateMachine",
            state_machine_name=spec.physical_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(text),
            definition_substitutions={name: available[name] for name in used},
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
        )
        nag.acknowledge(machine.role, "IAM5[Resource::*]",
                        "CDK's grants for logging and tracing: CloudWatch Logs vended-log delivery and X-Ray "
                        "actions have no resource-level permissions")
        # The definition's only integration is sqs:sendMessage.waitForTaskToken (tests/infra/test_asl.py): the
        # role may send to the queues the definition names, and nothing else touches data.
        queue_arns = [self.queues[q.name].queue_arn for q in resources.QUEUES
                      if f"{pascal(q.name)}QueueUrl" in used or f"{pascal(q.name)}QueueName" in used]
        if queue_arns:
            machine.add_to_role_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=queue_arns))
        return machine

    # ---- identity and secrets -------------------------------------------------------------------------------

    def _user_pool(self) -> tuple[cognito.UserPool, cognito.UserPoolClient]:
        prefix = self.settings.prefix
        pool = cognito.UserPool(
            self, "UserPool",
            user_pool_name=f"{prefix}-users",
            self_sign_up_enabled=True,  # customers register themselves; staff roles come from groups
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True),
                phone_number=cognito.StandardAttribute(required=False, mutable=True),
            ),
            password_policy=cognito.PasswordPolicy(min_length=10, require_digits=True, require_lowercase=True,
                                                   require_uppercase=False, require_symbols=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            deletion_protection=self.settings.retain_everything,
            feature_plan=cognito.FeaturePlan.LITE,  # passwords, TOTP, groups: all this shop uses, at the lowest price
            removal_policy=self._removal(),
        )
        nag.acknowledge(pool, "COG1", "Length over composition (NIST SP 800-63B): 10 characters with a digit, no "
                                      "forced symbols or capitals for shoppers typing on phones")
        nag.acknowledge(pool, "COG2", "MFA is optional (TOTP): required MFA would turn away shoppers at checkout; "
                                      "staff can turn it on for their accounts")
        nag.acknowledge(pool, "COG8", "The Lite plan on purpose: passwords, TOTP and groups are all the shop uses; "
                                      "Plus's threat protection is a per-user cost to weigh later")
        client = pool.add_client(
            "AppClient",
            user_pool_client_name=f"{prefix}-app",
            generate_secret=False,  # browsers and phones cannot keep a secret
            auth_flows=cognito.AuthFlow(user_srp=True),
            prevent_user_existence_errors=True,
            access_token_validity=cdk.Duration.hours(1),
            id_token_validity=cdk.Duration.hours(1),
            refresh_token_validity=cdk.Duration.days(30),
        )
        # chalicelib.auth.domain: the role comes from cognito:groups; no group means a customer.
        for precedence, (group, description) in enumerate((
            ("admin", "Shop owners: everything staff can do, plus settings"),
            ("finance", "Payments, refunds and the money ledger"),
            ("staff", "Catalog, stock, vouchers, packing and orders"),
        )):
            pool.add_group(f"{pascal(group)}Group", group_name=group, description=description,
                           precedence=precedence)
        return pool, client

    def secret_name(self, variable: str) -> str:
        """"tokoflow-prod/midtrans-server-key": no leading "/", so chalicelib.config.secret asks Secrets Manager."""
        return f"{self.settings.prefix}/{SECRETS[variable]}"

    def _secret(self, variable: str, stem: str) -> secretsmanager.Secret:
        secret = secretsmanager.Secret(
            self, f"{pascal(stem)}Secret",
            secret_name=self.secret_name(variable),
            description=(f"{variable} for {self.settings.prefix}. Created with a random placeholder: put the "
                         "provider's real value here (README, Deploy to AWS)."),
            generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True,
                                                                        password_length=40),
            removal_policy=self._removal(),
        )
        nag.acknowledge(secret, "SMG4", "A provider's key (Midtrans, Biteship) or a shared webhook secret: a new "
                                        "value is issued in the provider's dashboard and put here by hand (README)")
        return secret

    def _finance_reports_group(self) -> iam.Group:
        """IAM users in this group may list and download what is under REPORTS_PREFIX in the reports bucket, any
        version of it, and nothing else.

        ListBucket is limited to listings under the prefix (s3:prefix "reports/" is the console's first listing).
        GetBucketLocation lets the console and the CLI find the bucket's region; ListAllMyBuckets is left out on
        purpose, so finance open the ReportsConsoleUrl output rather than the bucket list.
        """
        bucket = self.buckets[resources.REPORTS_BUCKET.name]
        group = iam.Group(self, "FinanceReportsIamGroup", group_name=f"{self.settings.prefix}-finance-reports")
        # Kept on stack deletion in every stage, as the buckets are: IAM refuses to delete a group with members,
        # and members are added outside the stack (README, Deploy to AWS). Its policy is removed with the stack.
        group.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        group.add_to_policy(iam.PolicyStatement(
            sid="ListReportsPrefix",
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [REPORTS_PREFIX, f"{REPORTS_PREFIX}*"]}}))
        group.add_to_policy(iam.PolicyStatement(
            sid="FindReportsBucket", actions=["s3:GetBucketLocation"], resources=[bucket.bucket_arn]))
        group.add_to_policy(iam.PolicyStatement(
            sid="ReadReports",
            actions=["s3:GetObject", "s3:GetObjectVersion"],
            resources=[bucket.arn_for_objects(f"{REPORTS_PREFIX}*")]))
        nag.acknowledge(group, self._object_wildcard(bucket, f"{REPORTS_PREFIX}*"),
                        "Every report file under the reports/ prefix, and nothing else in the bucket")
        return group

    def _object_wildcard(self, bucket: s3.IBucket, pattern: str) -> str:
        """cdk-nag's IAM5 finding for objects `pattern` of `bucket`, as it names it:
        "IAM5[Resource::<ReportsBucket1234.Arn>/reports/*]"."""
        resource = bucket.node.default_child
        assert isinstance(resource, cdk.CfnElement)
        return f"IAM5[Resource::<{self.resolve(resource.logical_id)}.Arn>/{pattern}]"

    def _ses_sender(self) -> cdk.CfnParameter | None:
        """The verified SES sender, asked at deploy time, only where the stage sends real email."""
        if not self.uses_aws_notifier:
            return None
        return cdk.CfnParameter(
            self, "SesSenderAddress",
            type="String",
            description="Email address (verified in SES) that customer notifications are sent from",
            allowed_pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
            constraint_description="an email address verified in Amazon SES",
        )

    # ---- the Chalice app ------------------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        machine = self.state_machines[resources.FULFILMENT_STATE_MACHINE.name]
        environment = dict(self.app_environment)
        environment.update({
            config.PREFIX: self.settings.prefix,
            # Every deployed stage signs in with Cognito: the dev signing key in .chalice/config.json is public
            # (and is deleted from the functions below).
            config.AUTH_MODE: "cognito",
            config.COGNITO_USER_POOL_ID: self.user_pool.user_pool_id,
            config.COGNITO_APP_CLIENT_ID: self.user_pool_client.user_pool_client_id,
            config.MEDIA_PUBLIC_BASE_URL: f"https://{self.distribution.distribution_domain_name}",
            "TOKOFLOW_FULFILMENT_STATE_MACHINE_ARN": machine.state_machine_arn,
            "TOKOFLOW_RETURNS_STATE_MACHINE_ARN":
                self.state_machines[resources.RETURNS_STATE_MACHINE.name].state_machine_arn,
        })
        for variable in self.secrets:
            environment.pop(variable, None)  # never a value in the template
            environment[variable + SECRET_SUFFIX] = self.secret_name(variable)
        if self.ses_sender is not None:
            environment[config.SES_SENDER] = self.ses_sender.value_as_string
        return environment

    def _api(self) -> ChaliceApp:
        prefix = self.settings.prefix
        api_role = self._function_role("APIHandler")
        app = ChaliceApp(
            self, "Api",
            source_dir=str(self.root),
            stage=self.settings.name,
            prefix=prefix,
            stage_config={
                "environment_variables": self._environment(),
                "manage_iam_role": False,
                "iam_role_arn": api_role.role_arn,
                "xray": True,
            },
        )
        functions = app.functions()
        unknown = sorted(set(functions) - set(FUNCTION_ACCESS))
        if unknown:
            raise ValueError(f"Chalice functions without an entry in FUNCTION_ACCESS: {', '.join(unknown)}")
        self.function_names: dict[str, str] = {}
        self.scheduled_functions: list[str] = []  # their physical names: their errors raise one alarm
        self.function_roles: dict[str, iam.Role] = {"APIHandler": api_role}
        for logical_id, properties in functions.items():
            role = self.function_roles.get(logical_id) or self._function_role(logical_id)
            self.function_roles[logical_id] = role
            name = f"{prefix}-{logical_id}"
            self.function_names[logical_id] = name
            if any(event.get("Type") == "Schedule" for event in (properties.get("Events") or {}).values()):
                self.scheduled_functions.append(name)
            log_group = logs.LogGroup(self, f"{logical_id}Logs", log_group_name=f"/aws/lambda/{name}",
                                      retention=self.settings.log_retention, removal_policy=self._removal())
            log_group.grant_write(role)
            function = app.get_resource(logical_id)
            function.add_property_override("FunctionName", name)
            function.add_property_override("Role", role.role_arn)
            function.add_property_override("LoggingConfig", {"LogGroup": log_group.log_group_name})
            for variable in (properties.get("Environment") or {}).get("Variables", {}):
                if variable in NEVER_DEPLOYED:  # merged in by Chalice from .chalice/config.json's stage
                    function.add_property_deletion_override(f"Environment.Variables.{variable}")
            consumed = self._wire_sqs_events(function, properties)
            self._grant(role, FUNCTION_ACCESS[logical_id], consumed)
            # The role's policy must exist before the function: Lambda checks that an SQS source's role may
            # receive from the queue when the mapping is created (CDK's own Function adds the same DependsOn).
            policy = role.node.try_find_child("DefaultPolicy")
            assert isinstance(policy, iam.Policy)
            policy_resource = policy.node.default_child
            assert isinstance(policy_resource, iam.CfnPolicy)
            function.add_resource_dependency(policy_resource)
        rest_api = app.get_resource(REST_API)
        rest_api.add_property_override("Name", prefix)  # API Gateway metrics are keyed by the API's name
        rest_api.add_property_override("DefinitionBody.info.title", prefix)
        rest_api.add_property_override("TracingEnabled", True)
        rest_api.add_property_override("MethodSettings", [{
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": self.settings.api_rate_limit,
            "ThrottlingBurstLimit": self.settings.api_burst_limit,
        }])
        self.api_access_logs = self._api_access_logs(rest_api)
        self.web_acl_arn = self._api_web_acl() if self.settings.web_acl_parameter else None
        return app

    def _api_access_logs(self, rest_api: cdk.CfnResource) -> logs.LogGroup:
        """JSON access logs of the API stage (ACCESS_LOG_FORMAT), kept as long as the functions' logs.

        API Gateway writes them through the account's CloudWatch role, set here (AWS::ApiGateway::Account) before
        the API so the stage can turn logging on. The setting is one per account and region: each stage's stack
        sets its own role with the same AWS managed policy, and the role is kept when a stack is deleted, so
        another stage in the account never points at a deleted role.
        """
        log_group = logs.LogGroup(self, "ApiAccessLogs",
                                  log_group_name=f"/aws/apigateway/{self.settings.prefix}-access",
                                  retention=self.settings.log_retention, removal_policy=self._removal())
        rest_api.add_property_override("AccessLogSetting", {"DestinationArn": log_group.log_group_arn,
                                                            "Format": ACCESS_LOG_FORMAT})
        role = iam.Role(
            self, "ApiGatewayCloudWatchRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="API Gateway's account-level role for writing API logs to CloudWatch Logs",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(API_GATEWAY_LOGGING_POLICY)],
        )
        role.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        nag.acknowledge(
            role, f"IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{API_GATEWAY_LOGGING_POLICY}]",
            "AWS's policy for the account-wide API Gateway logging role: every API in the account and region logs "
            "through it, so it cannot be narrowed to this stack's log groups")
        account = apigateway.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=role.role_arn)
        rest_api.add_resource_dependency(account)
        return log_group

    def _api_web_acl(self) -> cdk.CfnParameter:
        """An optional WAF web ACL for the API stage: parameter WebAclArn, associated only when not empty.

        The web ACL is managed outside the stack (rules, rate limits and their costs are an operations choice);
        it must be a REGIONAL web ACL in the stack's region (edge-optimized APIs take regional web ACLs too).
        cdk-nag's APIG3 does not judge it: the API stage comes from Chalice's SAM template (infra/nag.py).
        """
        arn = cdk.CfnParameter(
            self, "WebAclArn",
            type="String",
            default="",
            description="Optional: ARN of a REGIONAL WAFv2 web ACL in this region to attach to the API stage",
            allowed_pattern=r"^$|^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:[0-9]{12}:regional/webacl/[^/]+/[^/]+$",
            constraint_description="empty, or a regional WAFv2 web ACL ARN",
        )
        given = cdk.CfnCondition(self, "HasWebAcl",
                                 expression=cdk.Fn.condition_not(cdk.Fn.condition_equals(arn.value_as_string, "")))
        association = wafv2.CfnWebACLAssociation(
            self, "ApiWebAclAssociation",
            # RestAPI.Stage: SAM's reference to the stage it generates, so the association waits for the stage.
            resource_arn=cdk.Fn.sub(
                f"arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}::/restapis/${{{REST_API}}}/stages/"
                f"${{{REST_API}.Stage}}"),
            web_acl_arn=arn.value_as_string,
        )
        association.cfn_options.condition = given
        return arn

    def _wire_sqs_events(self, function: cdk.CfnResource, properties: Mapping[str, Any]) -> list[QueueSpec]:
        """Report partial batch failures (the handlers return batchItemFailures; without this Lambda retries the
        whole batch) and read the queue through the stack's own queue ARN, so the queue exists first."""
        by_name = {spec.physical_name: spec for spec in resources.QUEUES}
        consumed = []
        for event_name, event in (properties.get("Events") or {}).items():
            if event.get("Type") != "SQS":
                continue
            queue_ref = event["Properties"]["Queue"]
            arn_template = queue_ref["Fn::Sub"] if isinstance(queue_ref, dict) else str(queue_ref)
            spec = by_name.get(arn_template.rsplit(":", 1)[-1])
            if spec is None:
                raise ValueError(f"SQS event {event_name} reads {arn_template}, which no QueueSpec declares")
            consumed.append(spec)
            function.add_property_override(f"Events.{event_name}.Properties.FunctionResponseTypes",
                                           ["ReportBatchItemFailures"])
            function.add_property_override(f"Events.{event_name}.Properties.Queue", self.queues[spec.name].queue_arn)
        return consumed

    def _function_role(self, logical_id: str) -> iam.Role:
        role = iam.Role(
            self, f"{logical_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{self.settings.prefix} Lambda function {logical_id}",
        )
        role.add_to_policy(iam.PolicyStatement(  # active tracing; X-Ray has no resource-level permissions
            actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"]))
        nag.acknowledge(role, "IAM5[Resource::*]", "X-Ray's PutTraceSegments and PutTelemetryRecords only: X-Ray "
                                                   "has no resource-level permissions")
        return role

    def _grant(self, role: iam.Role, access: Access, consumed: list[QueueSpec]) -> None:
        tables = list(access.tables)
        if access.payment_gateway and self.uses_sandbox_gateway:
            tables.append(resources.SANDBOX_PAYMENTS)
        if access.courier and self.uses_sandbox_courier:
            tables.append(resources.SANDBOX_COURIERS)
        if tables:
            role.add_to_policy(iam.PolicyStatement(
                actions=list(TABLE_ACTIONS), resources=[self.tables[spec.name].table_arn for spec in tables]))
            index_arns = [f"{self.tables[spec.name].table_arn}/index/{index.name}"
                          for spec in tables for index in spec.indexes]
            if index_arns:
                role.add_to_policy(iam.PolicyStatement(actions=list(INDEX_ACTIONS), resources=index_arns))
        if access.sends_to:
            role.add_to_policy(iam.PolicyStatement(
                actions=list(SEND_ACTIONS), resources=[self.queues[spec.name].queue_arn for spec in access.sends_to]))
        if consumed:
            role.add_to_policy(iam.PolicyStatement(
                actions=list(CONSUME_ACTIONS), resources=[self.queues[spec.name].queue_arn for spec in consumed]))
        machine = self.state_machines[resources.FULFILMENT_STATE_MACHINE.name]
        if access.starts_fulfilment:
            role.add_to_policy(iam.PolicyStatement(actions=["states:StartExecution"],
                                                   resources=[machine.state_machine_arn]))
        if access.resumes_fulfilment:
            role.add_to_policy(iam.PolicyStatement(actions=list(TASK_RESPONSE_ACTIONS),
                                                   resources=[machine.state_machine_arn]))
        returns_machine = self.state_machines[resources.RETURNS_STATE_MACHINE.name]
        if access.starts_returns:
            role.add_to_policy(iam.PolicyStatement(actions=["states:StartExecution"],
                                                   resources=[returns_machine.state_machine_arn]))
        if access.resumes_returns:
            role.add_to_policy(iam.PolicyStatement(actions=list(TASK_RESPONSE_ACTIONS),
                                                   resources=[returns_machine.state_machine_arn]))
        if access.reads_reports or access.writes_reports:
            actions = ["s3:GetObject"] + (["s3:PutObject"] if access.writes_reports else [])
            reports_bucket = self.buckets[resources.REPORTS_BUCKET.name]
            role.add_to_policy(iam.PolicyStatement(
                actions=actions, resources=[reports_bucket.arn_for_objects(f"{REPORTS_PREFIX}*")]))
            nag.acknowledge(role, self._object_wildcard(reports_bucket, f"{REPORTS_PREFIX}*"),
                            "Report files are named by period and build (reports/monthly/2026/12/...): the reports/ "
                            "prefix, not the bucket")
        if access.return_photos:
            media_bucket = self.buckets[resources.MEDIA_BUCKET.name]
            role.add_to_policy(iam.PolicyStatement(
                actions=["s3:PutObject", "s3:GetObject"],
                resources=[media_bucket.arn_for_objects(f"{prefix}/*") for prefix in PRIVATE_UPLOAD_PREFIXES]))
            for prefix in PRIVATE_UPLOAD_PREFIXES:
                nag.acknowledge(role, self._object_wildcard(media_bucket, f"{prefix}/*"),
                                f"Customers' photos get generated keys under {prefix}/: that prefix, not the bucket")
        if access.uploads_media:
            media = resources.MEDIA_BUCKET
            role.add_to_policy(iam.PolicyStatement(
                actions=["s3:PutObject", "s3:GetObject"],
                resources=[self.buckets[media.name].arn_for_objects(f"{media.served_prefix}*")]))
            nag.acknowledge(role, self._object_wildcard(self.buckets[media.name], f"{media.served_prefix}*"),
                            "Staff upload product images under generated keys: the served prefix, not the bucket")
        if access.reads_search_index or access.writes_search_index:
            search_bucket = self.buckets[resources.SEARCH_BUCKET.name]
            actions = ["s3:GetObject"] + (["s3:PutObject"] if access.writes_search_index else [])
            role.add_to_policy(iam.PolicyStatement(
                actions=actions, resources=[search_bucket.arn_for_objects(f"{SEARCH_INDEX_PREFIX}*")]))
            # Without ListBucket a missing index file reads as 403, not 404 (a new stack has none yet).
            role.add_to_policy(iam.PolicyStatement(
                actions=["s3:ListBucket"], resources=[search_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{SEARCH_INDEX_PREFIX}*"]}}))
            nag.acknowledge(role, self._object_wildcard(search_bucket, f"{SEARCH_INDEX_PREFIX}*"),
                            "The search index file and its watermark live under catalog/: that prefix, not the bucket")
        secrets = []
        if access.payment_gateway:
            secrets.append(config.MIDTRANS_SERVER_KEY)
        if access.courier and self.uses_biteship:
            secrets.append(config.BITESHIP_API_KEY)
        if access.courier_webhooks:
            secrets.append(config.COURIER_WEBHOOK_SECRET)
        if secrets:
            role.add_to_policy(iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"],
                resources=[self.secrets[variable].secret_arn for variable in secrets]))
        if access.notifies_customers and self.uses_aws_notifier and self.ses_sender is not None:
            role.add_to_policy(iam.PolicyStatement(
                actions=["ses:SendEmail"],
                resources=[self.format_arn(service="ses", resource="identity", resource_name="*")],
                conditions={"StringEquals": {"ses:FromAddress": self.ses_sender.value_as_string}}))
            nag.acknowledge(role, "IAM5[Resource::arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:identity/*]",
                            "SES checks both the sender's and each recipient's identity; the condition pins the "
                            "sender to the SesSenderAddress parameter")
            # SMS to a phone number has no ARN to name; NotResource keeps every topic and endpoint out of reach.
            role.add_to_policy(iam.PolicyStatement(
                actions=["sns:Publish"], not_resources=[f"arn:{cdk.Aws.PARTITION}:sns:*:*:*"]))

    # ---- watching it ----------------------------------------------------------------------------------------

    def _alarm_topic(self, email: str | None) -> sns.Topic:
        topic = sns.Topic(self, "AlarmTopic", topic_name=f"{self.settings.prefix}-alarms",
                          display_name=f"TokoFlow {self.settings.name} alarms", enforce_ssl=True)
        if email:
            topic.add_subscription(sns_subscriptions.EmailSubscription(email))
        return topic

    def _alarm(self, construct_id: str, *, metric: cloudwatch.IMetric, threshold: float, description: str,
               evaluation_periods: int = 1) -> cloudwatch.Alarm:
        """An alarm at `threshold` or above, notifying the alarm topic; no data counts as fine."""
        alarm = cloudwatch.Alarm(
            self, construct_id,
            alarm_name=f"{self.settings.prefix}-{construct_id}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=evaluation_periods,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.alarm_topic))
        return alarm

    def _app_metric(self, name: str, statistic: str = "Sum") -> cloudwatch.Metric:
        """A Powertools EMF metric: no metric filter needed, the log line is the metric."""
        return cloudwatch.Metric(namespace=METRICS_NAMESPACE, metric_name=name,
                                 dimensions_map={"service": METRICS_SERVICE}, statistic=statistic,
                                 period=cdk.Duration.minutes(5))

    def _alarms_and_dashboard(self) -> None:
        five_minutes = cdk.Duration.minutes(5)
        api_dimensions = {"ApiName": self.settings.prefix,
                          "Stage": str(self.chalice_config.get("api_gateway_stage", "api"))}

        def api_metric(name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(namespace="AWS/ApiGateway", metric_name=name, dimensions_map=api_dimensions,
                                     statistic=statistic, period=five_minutes)

        machine = self.state_machines[resources.FULFILMENT_STATE_MACHINE.name]
        api_5xx = self._alarm("api-5xx", metric=api_metric("5XXError", "Sum"), threshold=5,
                              description="The API answered 5 or more requests with a 5xx in 5 minutes")
        api_latency = self._alarm("api-latency-p99", metric=api_metric("Latency", "p99"), threshold=3000,
                                  evaluation_periods=3,
                                  description="p99 API latency above 3 s for 15 minutes")
        workflow_failed = self._alarm(
            "fulfilment-executions-failed", metric=machine.metric_failed(period=five_minutes, statistic="Sum"),
            threshold=1, description="A fulfilment execution failed: the order needs a person (see its timeline)")
        signatures = self._alarm(
            "webhook-signature-failures", metric=self._app_metric("WebhookSignatureFailures"), threshold=5,
            description="5 or more payment/courier webhooks with a bad signature in 5 minutes: a wrong secret "
                        "after a key rotation, or someone forging notifications")
        attention = self._alarm(
            "orders-needing-attention", metric=self._app_metric("OrdersNeedingAttention"), threshold=1,
            description="An order was flagged for a person (courier refused, refund failed, ...)")
        returns_machine = self.state_machines[resources.RETURNS_STATE_MACHINE.name]
        returns_failed = self._alarm(
            "return-executions-failed", metric=returns_machine.metric_failed(period=five_minutes, statistic="Sum"),
            threshold=1, description="A return's execution failed: the return needs a person (see its history)")
        returns_attention = self._alarm(
            "returns-needing-attention", metric=self._app_metric("ReturnsNeedingAttention"), threshold=1,
            description="A return was flagged for a person (a refund step kept failing, ...)")
        payments_held = self._alarm(
            "payments-held-for-review", metric=self._app_metric("PaymentsHeldForReview"), threshold=1,
            description="A card payment is held by the gateway's fraud check: accept or deny it "
                        "(POST /admin/orders/{id}/payment-review) before the customer gives up")
        payments_reversed = self._alarm(
            "payments-reversed", metric=self._app_metric("PaymentsReversed"), threshold=1,
            description="The bank took a settled payment back: the order was stopped or flagged for review")
        returns_unstarted = self._alarm(
            "return-workflows-not-started", metric=self._app_metric("ReturnWorkflowStartFailures"), threshold=1,
            description="A return was stored but its workflow did not start: approving or rejecting it starts it")

        # A schedule that fails keeps failing quietly (nothing retries it but its next run): loyalty points not
        # credited or expired, reports not queued, unpaid orders not expired. Their Lambda errors, summed.
        schedule_errors = self._alarm(
            "scheduled-jobs-failing",
            metric=cloudwatch.MathExpression(
                expression=" + ".join(f"FILL(e{index}, 0)" for index in range(len(self.scheduled_functions))),
                using_metrics={f"e{index}": cloudwatch.Metric(
                    namespace="AWS/Lambda", metric_name="Errors", dimensions_map={"FunctionName": name},
                    statistic="Sum", period=five_minutes) for index, name in enumerate(self.scheduled_functions)},
                label="scheduled job errors", period=five_minutes),
            threshold=1, description="A scheduled job failed (loyalty points, reports, overdue orders, payment "
                                     "reconciliation): its logs name the error; the next run tries again")

        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=self.settings.prefix,
                                         default_interval=cdk.Duration.hours(24))
        dlq_alarms = [child for child in self.node.children
                      if isinstance(child, cloudwatch.Alarm) and child.node.id.endswith("DlqAlarm")]
        dashboard.add_widgets(cloudwatch.AlarmStatusWidget(
            title="Alarms", width=24,
            alarms=[api_5xx, api_latency, workflow_failed, signatures, attention, returns_failed, returns_attention,
                    returns_unstarted, schedule_errors, payments_held, payments_reversed, *dlq_alarms]))
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="API requests and errors", width=8, left=[
                api_metric("Count", "Sum"), api_metric("4XXError", "Sum"), api_metric("5XXError", "Sum")]),
            cloudwatch.GraphWidget(title="API latency (ms)", width=8, left=[
                api_metric("Latency", "p50"), api_metric("Latency", "p99")]),
            cloudwatch.GraphWidget(title="Fulfilment executions", width=8, left=[
                machine.metric_started(period=five_minutes), machine.metric_succeeded(period=five_minutes),
                machine.metric_failed(period=five_minutes)]),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Queue backlog", width=12, left=[
                queue.metric_approximate_number_of_messages_visible(period=five_minutes, statistic="Maximum",
                                                                    label=name)
                for name, queue in self.queues.items()]),
            cloudwatch.GraphWidget(title="Dead-letter queues", width=12, left=[
                dlq.metric_approximate_number_of_messages_visible(period=five_minutes, statistic="Maximum",
                                                                  label=f"{name} DLQ")
                for name, dlq in self.dead_letter_queues.items()]),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Orders", width=12, left=[
                self._app_metric(name) for name in ("OrdersPlaced", "PaymentsReceived", "CheckoutsRefusedForStock",
                                                    "OrdersNeedingAttention", "OrdersNeedingReview")]),
            cloudwatch.GraphWidget(title="Stock and webhooks", width=12, left=[
                self._app_metric(name) for name in ("LowStockAlerts", "StockOuts", "ParcelsReturned",
                                                    "WebhookSignatureFailures", "PaymentChargeFailures")]),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Returns", width=12, left=[
                self._app_metric(name) for name in ("ReturnsRequested", "ReturnsToSender", "ReturnsClosed",
                                                    "ReturnsNeedingAttention")]),
            cloudwatch.GraphWidget(title="Money going back", width=12, left=[
                self._app_metric(name) for name in ("RefundsByGateway", "PayoutsOpened")]),
        )

    def _outputs(self) -> None:
        endpoint = self.api.sam_template.get_output("EndpointURL").value
        cdk.CfnOutput(self, "ApiUrl", value=endpoint, description="Base URL of the API (ends with /)")
        cdk.CfnOutput(self, "MidtransNotificationUrl", value=cdk.Fn.join("", [endpoint, "webhooks/payments/midtrans"]),
                      description="Midtrans dashboard: Settings > Payment > Notification URL")
        cdk.CfnOutput(self, "BiteshipWebhookUrl", value=cdk.Fn.join("", [endpoint, "webhooks/couriers/biteship"]),
                      description="Biteship dashboard: Integrations > Webhook URL")
        cdk.CfnOutput(self, "MediaCdnDomain", value=self.distribution.distribution_domain_name,
                      description="Product images are served from https://<this>/products/...")
        cdk.CfnOutput(self, "UserPoolId", value=self.user_pool.user_pool_id)
        cdk.CfnOutput(self, "UserPoolClientId", value=self.user_pool_client.user_pool_client_id)
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn,
                      description="Subscribe whoever answers alarms (email, chat webhook)")
        cdk.CfnOutput(self, "FinanceReportsGroup", value=self.finance_reports_group.group_name,
                      description="IAM group whose users may download sales reports (aws iam add-user-to-group)")
        reports_bucket = self.buckets[resources.REPORTS_BUCKET.name].bucket_name
        cdk.CfnOutput(self, "ReportsConsoleUrl",
                      value=f"https://s3.console.aws.amazon.com/s3/buckets/{reports_bucket}?prefix={REPORTS_PREFIX}",
                      description="Sales reports in the S3 console, for the finance reports group")
        for variable in self.secrets:
            cdk.CfnOutput(self, f"{pascal(SECRETS[variable])}SecretName", value=self.secret_name(variable),
                          description=f"Secrets Manager secret holding {variable}")
