"""Per order journey and per return: what one order, and one return, costs in AWS requests, state transitions
and invocations, and in dollars.

Two complete journeys run in-process under moto with Step Functions executing the real state machine
definitions, through chalice.test.Client: (1) bank transfer: cart, checkout, signed settlement notification,
packed, courier journey, COMPLETED; (2) cash on delivery: the same without the payment. Asynchronous work is
driven the way Lambda's SQS pollers would: the bench receives from every queue the app consumes, hands each
batch to the handler with `client.lambda_.invoke` and deletes what succeeded, until the order is COMPLETED,
its execution has SUCCEEDED and the queues are empty.

Two returns follow, each of an order first taken to COMPLETED by the same journey (not counted in the return):
the guest asks to return one unit of each line, staff approve, the customer sends the parcel back, staff
receive and restock it, the money goes back, the return is closed and its execution (statemachines/
returns.asl.json) has SUCCEEDED. (1) Card: the gateway refunds. (2) Bank transfer: a virtual account cannot
be refunded, so a payout waits for the customer's bank account and finance's confirmation of the transfer.

What is counted as the application's AWS requests: every botocore call made inside the HTTP requests and the
handler invocations (boto3, pynamodb and powertools clients). Not counted: the bench's own queue polling and
deletes, its reads of the order and of the execution history, and the sandbox gateway's `settle` (done "by the
gateway", as a shopper paying at the bank). Step Functions' own sqs:SendMessage for each task token is taken
from the execution history instead (the interpreter runs in a thread of its own and would otherwise be counted
only by timing luck). Calls the app makes to the sandbox gateway's table (charge, status) are shown but left out
of the cost: in production they are HTTPS calls to Midtrans (the card refund too).

Dollars are per 1,000 orders (or returns): the AWS work adds up to the total, which (c) prints against the limit
per 1,000 paid orders (ORDER_LIMIT_PER_THOUSAND); notifications (SES email, SMS), priced per message, are shown apart.
The pricing arithmetic (`dynamodb_request_units`, `sqs_requests`, `cost_per_thousand`) is pure and unit-tested.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bench.request_count import ApiCall, AwsRequests, item_size

# ---- prices and the pure cost arithmetic -------------------------------------------------------------------


@dataclass(frozen=True)
class Prices:
    """AWS list prices, us-east-1, USD, as published on the public pricing pages (2026). Jakarta is a bit higher."""

    lambda_per_million_requests: float = 0.20
    lambda_per_gb_second: float = 0.0000166667
    step_functions_per_thousand_transitions: float = 0.025  # Standard workflows
    api_gateway_per_million_requests: float = 3.50  # REST APIs, first 333 million a month
    sqs_per_million_requests: float = 0.40  # standard queues, each 64 KB chunk a request
    # DynamoDB on-demand since the 1 November 2024 price cut (was 1.25 and 0.25), as listed on
    # https://aws.amazon.com/dynamodb/pricing/on-demand/ (read December 2026)
    dynamodb_per_million_wru: float = 0.625
    dynamodb_per_million_rru: float = 0.125
    ses_per_thousand_emails: float = 0.10
    sms_indonesia_each: float = 0.06  # SNS transactional SMS to Indonesia, approximate


@dataclass(frozen=True)
class Assumptions:
    """What the counts cannot tell: Lambda's size and how long an invocation runs."""

    lambda_memory_mb: int = 512
    lambda_average_ms: float = 120.0  # warm invocation, average over API and SQS handlers


@dataclass(frozen=True)
class JourneyCounts:
    """Per order: the billable quantities behind the cost."""

    lambda_invocations: int
    api_requests: int
    state_transitions: int
    sqs_requests: int
    dynamodb_wru: float
    dynamodb_rru: float
    emails: int
    sms: int


# The AWS work: what the "total" adds up and the limit is set on.
COST_LINES = (
    ("lambda_requests", "Lambda requests"),
    ("lambda_compute", "Lambda compute"),
    ("step_functions", "Step Functions transitions"),
    ("api_gateway", "API Gateway REST requests"),
    ("sqs", "SQS requests"),
    ("dynamodb_writes", "DynamoDB write request units"),
    ("dynamodb_reads", "DynamoDB read request units"),
)
# Messages to customers, priced per message and shown apart from the AWS work (SMS dwarfs everything else).
NOTIFICATION_LINES = (
    ("ses", "SES email"),
    ("sms", "SMS (SNS)"),
)
# The limit on the AWS work per 1,000 paid orders, notifications apart (USD).
ORDER_LIMIT_PER_THOUSAND = 0.30

_READS = {"GetItem", "Query", "Scan"}
_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}


def _transact_table(item: Mapping[str, Any]) -> Any:
    """The table of one TransactItems entry, e.g. {"Put": {"TableName": ...}}."""
    operation: Mapping[str, Any] = next(iter(item.values()), {})
    return operation.get("TableName")


def dynamodb_request_units(calls: Iterable[ApiCall], *, exclude_tables: Iterable[str] = ()) -> tuple[float, float]:
    """(write request units, read request units) estimated from the calls' parameters.

    Every item is assumed small: a write is 1 WRU per item (<= 1 KB), a read 1 RRU per item (<= 4 KB) when
    strongly consistent and 0.5 when eventually consistent. TransactWriteItems costs 2 WRU per item
    (ConditionCheck included), TransactGetItems 2 RRU per item. BatchWriteItem and BatchGetItem are charged per
    item. A Query or Scan is taken to read one item (the journey's queries each find one). Control plane calls
    (DescribeTable, ...) are free. Calls on `exclude_tables` (the sandbox gateway's books) are skipped.
    """
    excluded = set(exclude_tables)
    wru = rru = 0.0

    def per_read(params: Mapping[str, Any]) -> float:
        return 1.0 if params.get("ConsistentRead") else 0.5

    for call in calls:
        if call.service != "dynamodb":
            continue
        params = call.params
        if params.get("TableName") in excluded:
            continue
        operation = call.operation
        if operation in _WRITES:
            wru += 1
        elif operation in _READS:
            rru += per_read(params)
        elif operation == "TransactWriteItems":
            items = [item for item in params.get("TransactItems", []) if _transact_table(item) not in excluded]
            wru += 2 * len(items)
        elif operation == "TransactGetItems":
            items = [item for item in params.get("TransactItems", []) if _transact_table(item) not in excluded]
            rru += 2 * len(items)
        elif operation == "BatchWriteItem":
            wru += sum(len(requests) for table, requests in params.get("RequestItems", {}).items()
                       if table not in excluded)
        elif operation == "BatchGetItem":
            rru += sum(len(spec.get("Keys", [])) * per_read(spec)
                       for table, spec in params.get("RequestItems", {}).items() if table not in excluded)
    return wru, rru


def sqs_requests(*, sends: int, batches: int) -> dict[str, int]:
    """SQS requests for `sends` messages consumed in `batches` Lambda batches.

    Lambda's poller makes one ReceiveMessage per batch it delivers and one DeleteMessageBatch per batch it
    completes (an estimate: idle long polls are a fixed cost of every queue, not of an order).
    """
    return {"sends": sends, "receives": batches, "deletes": batches, "total": sends + 2 * batches}


def cost_per_thousand(counts: JourneyCounts, prices: Prices, assumptions: Assumptions) -> dict[str, float]:
    """USD per 1,000 orders, by line (COST_LINES and NOTIFICATION_LINES keys), plus "total": the AWS work alone,
    without the notifications, whose price is per message and which are shown apart."""
    orders = 1000
    invocations = counts.lambda_invocations * orders
    gb_seconds = invocations * (assumptions.lambda_average_ms / 1000) * (assumptions.lambda_memory_mb / 1024)
    cost = {
        "lambda_requests": invocations * prices.lambda_per_million_requests / 1e6,
        "lambda_compute": gb_seconds * prices.lambda_per_gb_second,
        "step_functions": counts.state_transitions * orders * prices.step_functions_per_thousand_transitions / 1000,
        "api_gateway": counts.api_requests * orders * prices.api_gateway_per_million_requests / 1e6,
        "sqs": counts.sqs_requests * orders * prices.sqs_per_million_requests / 1e6,
        "dynamodb_writes": counts.dynamodb_wru * orders * prices.dynamodb_per_million_wru / 1e6,
        "dynamodb_reads": counts.dynamodb_rru * orders * prices.dynamodb_per_million_rru / 1e6,
        "ses": counts.emails * orders * prices.ses_per_thousand_emails / 1000,
        "sms": counts.sms * orders * prices.sms_indonesia_each,
    }
    cost["total"] = sum(cost[key] for key, _ in COST_LINES)
    return cost


def monthly_schedule_cost(periods_minutes: Iterable[float], prices: Prices,
                          assumptions: Assumptions) -> tuple[int, float]:
    """(invocations, USD) a month (30 days) for scheduled handlers firing every `periods_minutes`: not per order."""
    invocations = sum(int(30 * 24 * 60 // period) for period in periods_minutes)
    gb_seconds = invocations * (assumptions.lambda_average_ms / 1000) * (assumptions.lambda_memory_mb / 1024)
    requests = invocations * prices.lambda_per_million_requests / 1e6
    return invocations, requests + gb_seconds * prices.lambda_per_gb_second


def item_write_units(size_bytes: int) -> int:
    """WRU one write of an item this size costs (1 per started KB)."""
    return max(1, math.ceil(size_bytes / 1024))


# ---- the journeys ------------------------------------------------------------------------------------------


COURIER_JOURNEY = ("allocated", "picking_up", "picked", "dropping_off", "delivered")
BANK_TRANSFER, COD, CARD = "bank_transfer", "cod", "card"
ORDER_JOURNEYS = (("bank transfer", BANK_TRANSFER), ("cash on delivery", COD))
RETURN_JOURNEYS = (("card return (gateway refund)", CARD), ("bank transfer return (payout)", BANK_TRANSFER))
REFUND_ACCOUNT = {"bank": "bca", "account_number": "1234567890", "account_holder": "Sari"}
DEADLINE_SECONDS = 30.0  # per wait for the asynchronous work after one outside event


@dataclass
class Step:
    """One thing that happened in the journey (or return): an HTTP request or an SQS batch handed to a handler."""

    kind: str  # "http" or "sqs"
    label: str  # "POST /checkout" or the handler's name
    requests: AwsRequests
    messages: int = 0


@dataclass
class JourneyResult:
    """One counted order journey, or one counted return (`return_id` set; its order's journey is not in it)."""

    name: str
    payment_method: str
    order_id: str
    return_id: str = ""
    refund: str = ""  # a return's refund as the app recorded it, e.g. "Rp400,000 by gateway"
    steps: list[Step] = field(default_factory=list)
    state_transitions: int = 0
    state_machine_sends: int = 0
    execution_status: str = ""
    emails: int = 0
    sms: int = 0
    order_item_bytes: int = 0
    return_item_bytes: int = 0
    lines: int = 0
    retries: list[str] = field(default_factory=list)
    seconds: float = 0.0
    excluded_tables: tuple[str, ...] = ()

    @property
    def requests(self) -> AwsRequests:
        total = AwsRequests()
        for step in self.steps:
            total.update(step.requests)
            total.calls.extend(step.requests.calls)
        return total

    @property
    def http_requests(self) -> int:
        return sum(1 for step in self.steps if step.kind == "http")

    @property
    def sqs_batches(self) -> int:
        return sum(1 for step in self.steps if step.kind == "sqs")

    def batches_by_handler(self) -> Counter[str]:
        return Counter(step.label for step in self.steps if step.kind == "sqs")

    def messages_by_handler(self) -> Counter[str]:
        counter: Counter[str] = Counter()
        for step in self.steps:
            if step.kind == "sqs":
                counter[step.label] += step.messages
        return counter

    def excluded_requests(self) -> int:
        return sum(1 for call in self.requests.calls if call.params.get("TableName") in self.excluded_tables)

    def counts(self) -> JourneyCounts:
        app_sends = self.requests["sqs:SendMessage"]
        wru, rru = dynamodb_request_units(self.requests.calls, exclude_tables=self.excluded_tables)
        sqs = sqs_requests(sends=app_sends + self.state_machine_sends, batches=self.sqs_batches)
        return JourneyCounts(lambda_invocations=self.http_requests + self.sqs_batches,
                             api_requests=self.http_requests, state_transitions=self.state_transitions,
                             sqs_requests=sqs["total"], dynamodb_wru=wru, dynamodb_rru=rru, emails=self.emails,
                             sms=self.sms)


class JourneyFailed(RuntimeError):
    """The app did not bring the order to COMPLETED, or the return to closed (an error, or a stuck step)."""


@dataclass
class _Consumer:
    handler: str
    queue_name: str
    queue_url: str
    queue_arn: str
    batch_size: int


class _Driver:
    """Plays API Gateway, Lambda's SQS pollers, the gateway, the staff, finance, the customer and the courier for
    one mocked account."""

    def __init__(self, client: Any, app: Any, provisioned: Mapping[str, Any]) -> None:
        import boto3
        from chalice.app import SQSEventConfig

        from chalicelib import config, resources

        self.client = client
        self.region = config.region()
        self.sqs = boto3.client("sqs", region_name=self.region)
        self.sfn = boto3.client("stepfunctions", region_name=self.region)
        self.dynamodb = boto3.client("dynamodb", region_name=self.region)
        queues = {info["name"]: info for info in provisioned["queues"].values()}
        consumers = {source.queue: source for source in app.event_sources if isinstance(source, SQSEventConfig)}
        self.consumers: list[_Consumer] = []
        for spec in resources.QUEUES:  # the order of chalicelib.resources: every queue the app declares
            source = consumers.get(spec.physical_name)
            if source is None:
                raise JourneyFailed(f"no handler in app.event_sources consumes {spec.physical_name}")
            info = queues[spec.physical_name]
            self.consumers.append(_Consumer(source.name, spec.physical_name, info["url"], info["arn"],
                                            source.batch_size))
        # the queues Step Functions sends task tokens to (sendMessage.waitForTaskToken), from its own thread
        self.task_queue_urls = {queues[spec.physical_name]["url"]
                                for spec in (resources.FULFILMENT_TASKS_QUEUE, resources.RETURN_TASKS_QUEUE)}
        self.state_machine_arn = provisioned["state_machines"][resources.FULFILMENT_STATE_MACHINE.name]
        self.returns_machine_arn = provisioned["state_machines"][resources.RETURNS_STATE_MACHINE.name]
        self.notifications_table = resources.NOTIFICATIONS.physical_name
        self.orders_table = resources.ORDERS.physical_name
        self.returns_table = resources.RETURNS.physical_name
        self.sandbox_table = resources.SANDBOX_PAYMENTS.physical_name
        self.courier_sandbox_table = resources.SANDBOX_COURIERS.physical_name  # the courier's books, not the shop's
        self.result: JourneyResult | None = None
        self.checkout: dict[str, Any] = {}  # the last checkout's answer: the order and the guest's access token
        self._following: tuple[str, str] = ("", "")  # (state machine ARN, execution name) of the current journey
        self._receives: Counter[str] = Counter()

    # -- counting ----------------------------------------------------------------------------------------

    def _record(self, kind: str, label: str, action: Callable[[], Any], messages: int = 0) -> Any:
        from bench.request_count import count_aws_requests

        with count_aws_requests() as seen:
            answer = action()
        app_only = AwsRequests()
        for call in seen.calls:
            if self._is_state_machine_send(call):
                continue  # the interpreter's thread, caught by timing: taken from the history instead
            app_only[f"{call.service}:{call.operation}"] += 1
            app_only.calls.append(call)
        if self.result is not None:
            self.result.steps.append(Step(kind, label, app_only, messages))
        return answer

    def _is_state_machine_send(self, call: ApiCall) -> bool:
        return (call.service, call.operation) == ("sqs", "SendMessage") and \
            call.params.get("QueueUrl") in self.task_queue_urls

    def http(self, method: str, path: str, label: str, body: Any = None, *, raw: bytes | None = None,
             headers: dict[str, str] | None = None, expect: int = 200) -> Any:
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        response = self._record("http", label, lambda: self.client.http.request(method, path, headers=all_headers,
                                                                                 body=payload))
        if response.status_code != expect:
            raise JourneyFailed(f"{method} {path} -> HTTP {response.status_code} (expected {expect}): "
                                f"{response.body.decode(errors='replace')[:500]}")
        return json.loads(response.body) if response.body else None

    # -- Lambda's SQS pollers ----------------------------------------------------------------------------

    def _poll_once(self) -> int:
        """One round over every queue; returns how many messages were handed to handlers."""
        handled = 0
        for consumer in self.consumers:
            answer = self.sqs.receive_message(QueueUrl=consumer.queue_url, WaitTimeSeconds=0,
                                              MaxNumberOfMessages=min(10, consumer.batch_size),
                                              AttributeNames=["All"])
            messages = answer.get("Messages", [])
            if messages:
                self._deliver(consumer, messages)
                handled += len(messages)
        return handled

    def _deliver(self, consumer: _Consumer, messages: list[dict[str, Any]]) -> None:
        event = self.client.events.generate_sqs_event(message_bodies=[m["Body"] for m in messages],
                                                      queue_name=consumer.queue_name)
        for record, message in zip(event["Records"], messages, strict=True):
            record.update(messageId=message["MessageId"], receiptHandle=message["ReceiptHandle"],
                          eventSourceARN=consumer.queue_arn, awsRegion=self.region,
                          md5OfBody=message.get("MD5OfBody", ""))
            record["attributes"].update(message.get("Attributes", {}))
        response = self._record("sqs", consumer.handler,
                                lambda: self.client.lambda_.invoke(consumer.handler, event), len(messages))
        payload = response.payload if isinstance(response.payload, dict) else {}
        failed = {item.get("itemIdentifier") for item in payload.get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(QueueUrl=consumer.queue_url, Entries=[
                {"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(done)])
        for message in messages:
            if message["MessageId"] not in failed:
                continue
            self._receives[message["MessageId"]] += 1
            note = f"{consumer.handler}: message {message['MessageId'][:8]} failed (attempt " \
                   f"{self._receives[message['MessageId']]}): {message['Body'][:200]}"
            if self.result is not None:
                self.result.retries.append(note)
            if self._receives[message["MessageId"]] >= 3:
                raise JourneyFailed(f"{note}; giving up after 3 attempts (see the app's log above)")
            # Lambda would see it again once the visibility timeout ends: make that now
            self.sqs.change_message_visibility(QueueUrl=consumer.queue_url, ReceiptHandle=message["ReceiptHandle"],
                                               VisibilityTimeout=0)

    def _queues_empty(self) -> bool:
        for consumer in self.consumers:
            attributes = self.sqs.get_queue_attributes(
                QueueUrl=consumer.queue_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            if any(int(value) for value in attributes.values()):
                return False
        return True

    def drain(self, what: str, until: Callable[[], bool]) -> None:
        """Run the consumers until `until()` holds and every queue is empty; JourneyFailed after the deadline."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            if self._poll_once():
                continue
            if until() and self._queues_empty():
                return
            if time.monotonic() > deadline:
                raise JourneyFailed(f"stuck waiting for {what}: {self._diagnosis()}")
            time.sleep(0.01)

    # -- bench-side reads (never counted) -----------------------------------------------------------------

    def order(self) -> Any:
        from chalicelib.orders import repository as orders

        assert self.result is not None
        return orders.get(self.result.order_id)

    def return_(self) -> Any:
        from chalicelib.returns import repository as returns

        assert self.result is not None
        return returns.get(self.result.return_id)

    @staticmethod
    def _execution_arn(machine_arn: str, name: str) -> str:
        return f"{machine_arn.replace(':stateMachine:', ':execution:')}:{name}"

    def execution_status(self, machine_arn: str, name: str) -> str:
        try:
            return self.sfn.describe_execution(executionArn=self._execution_arn(machine_arn, name))["status"]
        except self.sfn.exceptions.ExecutionDoesNotExist:
            return "NOT STARTED"

    def history(self, machine_arn: str, name: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": self._execution_arn(machine_arn, name), "maxResults": 1000}
        while True:
            page = self.sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def _diagnosis(self) -> str:
        assert self.result is not None
        order = self.order()
        state = f"order {self.result.order_id} is {order.status if order else 'missing'}"
        if order is not None:
            state += f", tokens held for {sorted(order.tokens) or 'no step'}, attention {order.attention!r}"
        if self.result.return_id:
            ret = self.return_()
            state += f"; return {self.result.return_id} is {ret.status if ret else 'missing'}"
            if ret is not None:
                state += f", refund {ret.refund!r}, attention {ret.attention!r}"
        machine_arn, name = self._following
        state += f"; execution {name} {self.execution_status(machine_arn, name)}"
        try:
            tail = [event["type"] + (f" {event['stateEnteredEventDetails']['name']}"
                                     if "stateEnteredEventDetails" in event else "")
                    for event in self.history(machine_arn, name)[-6:]]
            state += f", last events: {', '.join(tail)}"
        except Exception as error:  # the diagnosis must not hide the failure it explains
            state += f" (history unavailable: {error})"
        return state

    def _notification_items(self, order_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.notifications_table, "ConsistentRead": True,
                                  "FilterExpression": "order_id = :o",
                                  "ExpressionAttributeValues": {":o": {"S": order_id}}}
        while True:
            page = self.dynamodb.scan(**kwargs)
            items.extend(page["Items"])
            if not page.get("LastEvaluatedKey"):
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _notification_ids(self, order_id: str) -> set[str]:
        return {item["notification_id"]["S"] for item in self._notification_items(order_id)}

    def _notifications(self, order_id: str, *, before: Iterable[str] = ()) -> tuple[int, int]:
        """(emails, SMS) sent for the order, leaving out the notifications in `before` (ids seen earlier)."""
        from chalicelib.notifications.adapters import sms_events

        seen = set(before)
        sent = [item for item in self._notification_items(order_id) if item.get("status", {}).get("S") == "sent"
                and item["notification_id"]["S"] not in seen]
        texted = sms_events()  # what the AWS notifier would also send by SMS
        return (sum(1 for item in sent if item.get("email", {}).get("S")),
                sum(1 for item in sent if item.get("phone", {}).get("S") and item["event"]["S"] in texted))

    def _item_bytes(self, table: str, key: dict[str, Any]) -> int:
        return item_size(self.dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item", {}))

    def _order_item_bytes(self, order_id: str) -> int:
        return self._item_bytes(self.orders_table, {"order_id": {"S": order_id}})

    def _follow(self, machine_arn: str, name: str) -> None:
        """The execution the current journey waits on and reads its transitions from."""
        self._following = (machine_arn, name)

    def _count_execution(self, result: JourneyResult) -> None:
        """State transitions and Step Functions' own task-token sends, from the followed execution's history."""
        events = self.history(*self._following)
        result.state_transitions = sum(1 for event in events if event["type"].endswith("StateEntered"))
        result.state_machine_sends = sum(
            1 for event in events if event["type"] == "TaskScheduled"
            and event.get("taskScheduledEventDetails", {}).get("resourceType") == "sqs")
        result.execution_status = self.execution_status(*self._following)

    # -- the journey ----------------------------------------------------------------------------------------

    def journey(self, name: str, payment_method: str, skus: tuple[str, ...], *, staff: dict[str, str]) -> JourneyResult:
        from bench.request_count import DESTINATION, checkout_body
        from chalicelib import clock
        from chalicelib.orders.lifecycle import COMPLETED
        from chalicelib.payments.adapters import server_key
        from chalicelib.payments.sandbox import SandboxGateway
        from chalicelib.shipping import tracking
        from chalicelib.shipping.adapters import webhook_secret
        from chalicelib.shipping.couriers import Booking

        started = time.perf_counter()
        self.result = result = JourneyResult(name, payment_method, order_id="",
                                             excluded_tables=(self.sandbox_table, self.courier_sandbox_table))
        cart_id = self.http("POST", "/carts", "POST /carts", expect=201)["cart_id"]
        for sku in skus:
            self.http("PUT", f"/carts/{cart_id}/items/{sku}", "PUT /carts/{id}/items/{sku}", {"quantity": 1})
        self.http("POST", "/shipping/quote", "POST /shipping/quote", {"cart_id": cart_id, "destination": DESTINATION})
        body = {**checkout_body(cart_id), "payment_method": payment_method}
        order = self.http("POST", "/checkout", "POST /checkout", body,
                          headers={"Idempotency-Key": f"bench-{uuid.uuid4().hex}"}, expect=201)
        self.checkout = order
        result.order_id = order_id = order["order_id"]
        result.lines = len(order["lines"])
        self._follow(self.state_machine_arn, order_id)

        if payment_method != COD:
            self.drain("the payment step", lambda: "payment" in (self.order().tokens or {}))
            gateway = SandboxGateway()  # the shopper pays at the bank: the gateway's books, not the shop's
            gateway.settle(order_id)
            notification = json.dumps(gateway.notification_for(order_id, server_key=server_key())).encode()
            self.http("POST", "/webhooks/payments/midtrans", "POST /webhooks/payments/midtrans", raw=notification)
        self.drain("the packing step", lambda: "packing" in (self.order().tokens or {}))

        self.http("POST", f"/admin/orders/{order_id}/packed", "POST /admin/orders/{id}/packed", {}, headers=staff)
        self.drain("the courier booking", lambda: "delivery" in (self.order().tokens or {}))

        booking = Booking.from_dict(self.order().shipment)
        start = clock.now()
        for index, status in enumerate(COURIER_JOURNEY):
            at = clock.iso(start + timedelta(minutes=index))
            raw = tracking.canonical_body(tracking.sandbox_webhook(order_id, booking, status, at))
            signature = tracking.sandbox_signature(webhook_secret(), raw)
            self.http("POST", "/webhooks/couriers/sandbox", "POST /webhooks/couriers/sandbox", raw=raw,
                      headers={tracking.SANDBOX_SIGNATURE_HEADER: signature})
            if status != COURIER_JOURNEY[-1]:  # statuses arrive minutes or hours apart: each is consumed alone
                self.drain(f"courier status {status}", lambda: True)
        self.drain("COMPLETED", lambda: self.order().status == COMPLETED
                   and self.execution_status(*self._following) == "SUCCEEDED")

        self._count_execution(result)
        result.emails, result.sms = self._notifications(order_id)
        result.order_item_bytes = self._order_item_bytes(order_id)
        result.seconds = time.perf_counter() - started
        self.result = None
        return result

    # -- a return ---------------------------------------------------------------------------------------------

    def return_journey(self, name: str, payment_method: str, skus: tuple[str, ...], *, staff: dict[str, str],
                       finance: dict[str, str]) -> JourneyResult:
        """An order paid with `payment_method` taken to COMPLETED (not counted), then, counted: one unit of each
        line returned by the guest, approved, sent back, received and restocked, refunded (by the gateway, or a
        payout finance confirms), closed."""
        from chalicelib.payments import repository as payments
        from chalicelib.returns.domain import CLOSED, DAMAGED

        self.journey(name, payment_method, skus, staff=staff)  # the order part: its result is (c)'s, not ours
        order_id, guest = self.checkout["order_id"], {"X-Order-Token": self.checkout["access_token"]}
        notified_before = self._notification_ids(order_id)

        started = time.perf_counter()
        self.result = result = JourneyResult(name, payment_method, order_id=order_id,
                                             excluded_tables=(self.sandbox_table, self.courier_sandbox_table))
        body = {"lines": [{"sku": sku, "quantity": 1} for sku in skus], "reason": DAMAGED, "note": "retak"}
        asked = self.http("POST", f"/orders/{order_id}/returns", "POST /orders/{id}/returns", body, headers=guest,
                          expect=201)
        result.return_id = return_id = asked["return_id"]
        result.lines = len(asked["lines"])
        self._follow(self.returns_machine_arn, return_id)
        self.drain("the return's decision step", self._parked_after(None))

        decision_token = self.return_().token
        self.http("POST", f"/admin/returns/{return_id}/approve", "POST /admin/returns/{id}/approve", {},
                  headers=staff)
        self.drain("the return's parcel step", self._parked_after(decision_token))

        self.http("POST", f"/orders/{order_id}/returns/{return_id}/shipment",
                  "POST /orders/{id}/returns/{id}/shipment", {"courier": "JNE", "waybill_id": "JNE0012345678"},
                  headers=guest)
        self.drain("the parcel sent back", lambda: True)

        self.http("POST", f"/admin/returns/{return_id}/receive", "POST /admin/returns/{id}/receive",
                  {"lines": [{"sku": sku, "restock": 1} for sku in skus]}, headers=staff)

        def closed() -> bool:
            ret = self.return_()
            return ret.status == CLOSED and self.execution_status(*self._following) == "SUCCEEDED"

        def payout_waiting() -> bool:
            payout_id = (self.return_().refund or {}).get("payout_id")
            payout = payments.get_payout(payout_id) if payout_id else None
            return payout is not None and payout.waiting_token is not None

        self.drain("the refund", lambda: closed() or payout_waiting())
        if not closed():  # a payout: the customer gives a bank account, finance makes the transfer
            payout_id = self.return_().refund["payout_id"]
            self.http("POST", f"/orders/{order_id}/refund-account", "POST /orders/{id}/refund-account",
                      REFUND_ACCOUNT, headers=guest)
            self.http("POST", f"/admin/payouts/{payout_id}/paid", "POST /admin/payouts/{id}/paid",
                      {"reference": f"TRF-{return_id}"}, headers=finance)
            self.drain("the return closed", closed)

        self._count_execution(result)
        refund = self.return_().refund or {}
        result.refund = f"Rp{refund.get('amount', 0):,} by {refund.get('by')}"
        result.emails, result.sms = self._notifications(order_id, before=notified_before)
        result.order_item_bytes = self._order_item_bytes(order_id)
        result.return_item_bytes = self._item_bytes(self.returns_table, {"return_id": {"S": return_id}})
        result.seconds = time.perf_counter() - started
        self.result = None
        return result

    def _parked_after(self, previous: str | None) -> Callable[[], bool]:
        """True once the return's workflow waits on a step other than the one holding `previous`."""

        def parked() -> bool:
            ret = self.return_()
            return ret is not None and ret.token is not None and ret.token != previous

        return parked


class _AbsentPathFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "NoSuchJsonPathError" not in record.getMessage()


@contextmanager
def _quiet_absent_paths() -> Iterator[None]:
    """moto's interpreter logs an ERROR each time a Choice's IsPresent reads an absent path (returns.asl.json's
    RefundRoute on a gateway refund), then takes the Default branch as AWS does: noise, not a failure."""
    logger = logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component")
    quiet = _AbsentPathFilter()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


@dataclass
class Measured:
    orders: list[JourneyResult] = field(default_factory=list)
    returns: list[JourneyResult] = field(default_factory=list)


def measure_journeys(*, warm_up: bool = True) -> list[JourneyResult]:
    """Both order journeys in a fresh mocked account; with `warm_up`, each runs once uncounted first."""
    return measure(warm_up=warm_up, returns=False).orders


def measure_returns(*, warm_up: bool = True) -> list[JourneyResult]:
    """Both returns in a fresh mocked account; with `warm_up`, each runs once uncounted first."""
    return measure(warm_up=warm_up, orders=False).returns


def measure(*, warm_up: bool = True, orders: bool = True, returns: bool = True) -> Measured:
    """The order journeys (ORDER_JOURNEYS) and the returns (RETURN_JOURNEYS) asked for, in one fresh mocked
    account; with `warm_up`, each runs once uncounted before it is counted."""
    from bench.request_count import PRODUCT, captured_stdout, install
    from local.offline import configure_environment

    configure_environment()  # includes the test-only gateway and courier secrets
    install()  # before any client exists: boto3's, pynamodb's and powertools' clients are all seen

    from chalice.test import Client

    from chalicelib.auth import mint_dev_token
    from local.offline import mocked_account
    from local.provision import provision_all

    staff = {"Authorization": f"Bearer {mint_dev_token(role='staff', sub='staff-bench')}"}
    finance = {"Authorization": f"Bearer {mint_dev_token(role='finance', sub='finance-bench')}"}
    measured = Measured()
    with captured_stdout(), warnings.catch_warnings(), _quiet_absent_paths(), \
            mocked_account(execute_state_machines=True) as clients:
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        provisioned = provision_all(clients)
        from app import app

        with Client(app, stage_name="dev") as client:
            driver = _Driver(client, app, provisioned)
            product = {**PRODUCT, "initial_stock": {sku: 1000 for sku in PRODUCT["initial_stock"]}}
            created = client.http.post("/admin/products", body=json.dumps(product).encode(),
                                       headers={"Content-Type": "application/json", **staff})
            if created.status_code != 201:
                raise JourneyFailed(f"POST /admin/products -> {created.status_code}: {created.body[:300]!r}")
            skus = tuple(variant["sku"] for variant in PRODUCT["variants"])
            if orders:
                for _ in range(2 if warm_up else 1):  # the last round is the one kept
                    measured.orders = [driver.journey(name, method, skus, staff=staff)
                                       for name, method in ORDER_JOURNEYS]
            if returns:
                for _ in range(2 if warm_up else 1):
                    measured.returns = [driver.return_journey(name, method, skus, staff=staff, finance=finance)
                                        for name, method in RETURN_JOURNEYS]
    return measured


# ---- printing ----------------------------------------------------------------------------------------------


def _wrap_items(items: list[str], *, width: int) -> list[str]:
    """Join items with ", " into lines no wider than `width`, never splitting an item."""
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + 2 + len(item) <= width:
            lines[-1] += f", {item}"
        else:
            if lines:
                lines[-1] += ","
            lines.append(item)
    return lines


def _money(value: float) -> str:
    return f"{value:10.4f}"


@dataclass(frozen=True)
class Section:
    """How print_journeys heads what it prints: the title, what is costed per 1,000, the state machine run."""

    title: str  # "(c) Per order journey"
    unit: str  # "order": "cost per 1,000 orders", "per order"
    definition: str  # the ASL file Step Functions executes
    notes: tuple[str, ...] = ()  # further lines on what is and is not counted
    prices_in: str = ""  # "": print the prices, assumptions and schedules; else the section that printed them
    limit: float | None = None  # the most the AWS work may cost per 1,000 (USD), printed against each total


ORDERS = Section("(c) Per order journey", "order", "statemachines/fulfilment.asl.json",
                 limit=ORDER_LIMIT_PER_THOUSAND)
RETURNS = Section("(d) Per return", "return", "statemachines/returns.asl.json", notes=(
    "Each return's order is first taken to COMPLETED by the journey of (c), outside the count. Counted: the guest",
    "asks to return one unit of each line (damaged: the shop's fault, shipping refunded too), staff approve, the",
    "customer sends the parcel back, staff receive and restock it, the refund (card: the gateway's refund API;",
    "bank transfer: a payout, the customer's bank account, finance confirming the transfer), the return closed.",
), prices_in="(c)")


def print_journeys(results: list[JourneyResult], prices: Prices | None = None,
                   assumptions: Assumptions | None = None, *, warm_up: bool = True,
                   section: Section = ORDERS) -> None:
    prices = prices or Prices()
    assumptions = assumptions or Assumptions()
    unit, units = section.unit, f"{section.unit}s"
    names = [result.name for result in results]
    width = max(18, *(len(name) + 2 for name in names))

    print(f"{section.title} (moto in-process with Step Functions executing {section.definition},")
    print("    chalice.test.Client" + (f", warm instance: each {unit} run once uncounted first)" if warm_up else ")"))
    for note in section.notes:
        print(f"    {note}")
    print("    Counted: AWS requests made by application code inside the HTTP requests and the SQS handler")
    print("    invocations. Not counted: the bench's own queue polling and deletes, its reads of orders, returns,")
    print("    payouts and execution history, the sandbox gateway's settle (the shopper paying at the bank). Step")
    print("    Functions' own sqs:SendMessage per task token is taken from the execution history (TaskScheduled")
    print("    events). SQS batches are formed by the bench's poller, draining after each outside event.")
    for result in results:
        http = Counter(step.label for step in result.steps if step.kind == "http")
        batches, messages = result.batches_by_handler(), result.messages_by_handler()
        what = f"return {result.return_id}" if result.return_id else f"order {result.order_id}"  # R<n> of the order
        refund = f", refund {result.refund}" if result.refund else ""
        print(f"    {result.name}: {what}, {result.lines} lines{refund}, execution {result.execution_status},"
              f" {result.seconds:.1f} s")
        for title, parts in (
                ("HTTP", [f"{label} x{count}" if count > 1 else label for label, count in http.items()]),
                ("SQS", [f"{handler} {batches[handler]} batches/{messages[handler]} msgs" for handler in batches])):
            for index, line in enumerate(_wrap_items(parts, width=104)):
                print(f"      {title + ':' if index == 0 else '':<6}{line}")
        for note in result.retries:
            print(f"      retried: {note}")
    print()

    operations = sorted(set().union(*(result.requests.keys() for result in results)))
    print(f"    {'requests by service:operation':<44}" + "".join(f"{name:>{width}}" for name in names))
    for operation in operations:
        print(f"    {operation:<44}" + "".join(f"{result.requests[operation]:>{width}}" for result in results))
    rows: list[tuple[str, list[Any]]] = [
        ("total application AWS requests", [result.requests.total() for result in results]),
        ("  of which on the sandbox gateway's table *", [result.excluded_requests() for result in results]),
        ("Step Functions sqs:SendMessage (task tokens)", [result.state_machine_sends for result in results]),
        ("Step Functions state transitions", [result.state_transitions for result in results]),
        ("API Gateway requests (HTTP calls)", [result.http_requests for result in results]),
        ("Lambda invocations (API + SQS batches + sched.)",
         [f"{r.http_requests + r.sqs_batches} ({r.http_requests}+{r.sqs_batches}+0)" for r in results]),
    ]
    counts = [result.counts() for result in results]
    sqs = [sqs_requests(sends=r.requests["sqs:SendMessage"] + r.state_machine_sends, batches=r.sqs_batches)
           for r in results]
    rows += [
        ("SQS requests (sends + receives + deletes)",
         [f"{s['total']} ({s['sends']}+{s['receives']}+{s['deletes']})" for s in sqs]),
        ("DynamoDB write request units (est.)", [f"{c.dynamodb_wru:g}" for c in counts]),
        ("DynamoDB read request units (est.)", [f"{c.dynamodb_rru:g}" for c in counts]),
        ("notifications sent: emails / SMS", [f"{c.emails} / {c.sms}" for c in counts]),
    ]
    for title, values in rows:
        print(f"    {title:<44}" + "".join(f"{value!s:>{width}}" for value in values))
    print("    * charge, status and refund calls of the sandbox gateway: HTTPS calls to Midtrans in production, so left"
          " out of the cost")
    print()
    if not section.prices_in:
        _print_prices(prices, assumptions)
    costs = [cost_per_thousand(count, prices, assumptions) for count in counts]

    def row(title: str, values: Iterable[str]) -> None:
        print(f"    {title:<44}" + "".join(f"{value:>{width}}" for value in values))

    row(f"AWS cost per 1,000 {units} (USD)", names)
    for key, title in COST_LINES:
        if key == "lambda_compute":
            title = f"{title} ({assumptions.lambda_memory_mb} MB x {assumptions.lambda_average_ms:g} ms)"
        row(title, [_money(cost[key]) for cost in costs])
    row("total", [_money(cost["total"]) for cost in costs])
    row(f"per {unit}", [f"{cost['total'] / 1000:.6f}" for cost in costs])
    if section.limit is not None:
        row(f"limit ${section.limit:.2f} per 1,000 {units}", [_against(cost["total"], section.limit) for cost in costs])
    print(f"    notifications per 1,000 {units} (USD), not in the AWS total:")
    for key, title in NOTIFICATION_LINES:
        row(f"  {title}", [_money(cost[key]) for cost in costs])
    if section.prices_in:
        print(f"    Prices and assumptions as in {section.prices_in}; SMS at about ${prices.sms_indonesia_each:.2f}"
              f" each. Scheduled handlers run whatever the volume, not per {unit}.")
    else:
        print(f"    Notifications are priced per message (SMS to Indonesia about ${prices.sms_indonesia_each:.2f} each"
              " at list price): shown apart,")
        print("    not in the AWS total; locally they go to the outbox.")
        schedules = _schedules()
        if schedules:
            invocations, monthly = monthly_schedule_cost([minutes for _, minutes in schedules], prices, assumptions)
            listed = ", ".join(f"{name} every {minutes:g} min" for name, minutes in schedules)
            print(f"    Schedules ({listed}) run whatever the volume: {invocations:,} invocations")
            print(f"    a month, about ${monthly:.4f} a month, not per {unit} (none triggered in a journey).")
    if any(r.return_id for r in results):
        print("    Note: item sizes when the return closes (writes to the orders and returns tables cost that, not")
        print("    1 WRU, so the DynamoDB write line is a floor):")
        for r in results:
            print(f"      {r.name}: order {_kilobytes(r.order_item_bytes)}, return {_kilobytes(r.return_item_bytes)}")
    else:
        sizes = ", ".join(f"{r.name} {_kilobytes(r.order_item_bytes)}" for r in results)
        print(f"    Note: the order item at completion is {sizes};")
        print("    writes to the orders table cost that, not 1 WRU, so the DynamoDB write line is a floor.")
    print()


def _against(total: float, limit: float) -> str:
    """How a total stands against its limit: "within (-0.0128)" or "OVER (+0.0622)"."""
    return f"{'within' if total <= limit else 'OVER'} ({total - limit:+.4f})"


def _kilobytes(size: int) -> str:
    return f"{size / 1024:.1f} KB ({item_write_units(size)} WRU per write)"


def _print_prices(prices: Prices, assumptions: Assumptions) -> None:
    gb = assumptions.lambda_memory_mb / 1024
    print("    Prices (USD, us-east-1 list prices as of 2026 from the public AWS pricing pages; Jakarta"
          " ap-southeast-3 is slightly higher):")
    print(f"      Lambda ${prices.lambda_per_million_requests:.2f} per 1M requests"
          f" + ${prices.lambda_per_gb_second:.10f} per GB-second;"
          f" Step Functions Standard ${prices.step_functions_per_thousand_transitions} per 1,000"
          " state transitions;")
    print(f"      API Gateway REST ${prices.api_gateway_per_million_requests:.2f} per 1M requests; SQS standard"
          f" ${prices.sqs_per_million_requests:.2f} per 1M requests; DynamoDB on-demand"
          f" ${prices.dynamodb_per_million_wru:g} per 1M WRU, ${prices.dynamodb_per_million_rru:g} per 1M RRU;")
    print(f"      SES ${prices.ses_per_thousand_emails:.2f} per 1,000 emails. Free tiers, CloudWatch Logs/metrics and"
          " data transfer are not included.")
    print(f"    Assumptions: Lambda {assumptions.lambda_memory_mb} MB ({gb:g} GB),"
          f" {assumptions.lambda_average_ms:g} ms average billed duration per warm invocation"
          " (the prod stage is configured")
    print("      with 1024 MB: compute doubles). DynamoDB units: 1 WRU per write per item <= 1 KB, TransactWriteItems"
          " 2 WRU per item,")
    print("      1 RRU per strongly consistent item read <= 4 KB, 0.5 eventually consistent, one item per Query."
          " SQS: one receive and")
    print("      one DeleteMessageBatch per Lambda batch.")
    print()


def _schedules() -> list[tuple[str, float]]:
    """(handler, period in minutes) for the app's rate schedules."""
    from chalice.app import Rate, ScheduledEventConfig

    from app import app

    per_unit = {Rate.MINUTES: 1, Rate.HOURS: 60, Rate.DAYS: 1440}
    return [(source.name, source.schedule_expression.value * per_unit[source.schedule_expression.unit])
            for source in app.event_sources
            if isinstance(source, ScheduledEventConfig) and isinstance(source.schedule_expression, Rate)]


def main() -> None:
    measured = measure()
    print_journeys(measured.orders)
    print_journeys(measured.returns, section=RETURNS)


if __name__ == "__main__":
    main()
