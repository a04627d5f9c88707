"""Feed SQS messages and schedules to a Chalice app's event handlers, as Lambda would on AWS.

`chalice local` serves HTTP routes only, and moto never fires scheduled rules nor invokes SQS-triggered
functions, so without these pumps a queue fills up and scheduled jobs never run on a developer machine.
The drivers read the handlers from the app object itself (`app.event_sources`), so a new
`@app.on_sqs_message` or rate `@app.schedule` is driven locally the moment it is written.
"""

from __future__ import annotations

import base64
import collections
import importlib
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from chalice import Chalice
from chalice.app import ScheduledEventConfig, ScheduleExpression, SQSEventConfig

from chalicelib import config

log = logging.getLogger(__name__)  # not "tokoflow.*": Chalice("tokoflow") silences that tree

ACCOUNT_ID = "123456789012"
DEFAULT_MEMORY_MB = 128
DEFAULT_TIMEOUT_SECONDS = 60  # chalice's default lambda_timeout

Handler = Callable[[dict[str, Any], Any], Any]


class LocalLambdaContext:
    """What Lambda passes as `context`; powertools reads every attribute here (logger, idempotency)."""

    def __init__(
        self,
        function_name: str,
        *,
        region: str,
        memory_mb: int = DEFAULT_MEMORY_MB,
        timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def resolve_handler(app: Chalice, source: Any) -> Handler:
    """The Chalice-wrapped handler (event, context) for an event source.

    The app's own handler_map comes first: it holds the very object the decorator returned, and it works
    for an app that is not importable by its handler_string (chalice writes "app.<function>" for any
    Chalice object, including a test's throwaway app). The import is the fallback Lambda itself uses.
    """
    handler = app.handler_map.get(source.name)
    if handler is not None:
        return handler
    module_name, _, attribute = source.handler_string.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def function_name(app: Chalice, source: Any, stage: str) -> str:
    """Chalice deploys each event handler as the function '<app>-<stage>-<handler name>'."""
    return f"{app.app_name}-{stage}-{source.name}"


# --------------------------------------------------------------------------------------------------- SQS


@dataclass
class BatchOutcome:
    """What happened to one received batch; returned for tests and logged for humans."""

    queue: str
    size: int
    failed_ids: list[str] = field(default_factory=list)
    deleted: int = 0
    error: str | None = None


def sqs_event(messages: Iterable[Mapping[str, Any]], *, queue_arn: str, region: str) -> dict[str, Any]:
    """The Lambda SQS event for messages as receive_message returns them."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes", {})),
                "messageAttributes": {
                    name: _lambda_message_attribute(value)
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


def _lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """boto3's {StringValue, BinaryValue(bytes), DataType} -> Lambda's camelCase, binary as base64."""
    binary = value.get("BinaryValue")
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": base64.b64encode(binary).decode("ascii") if binary is not None else None,
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [base64.b64encode(b).decode("ascii") for b in value.get("BinaryListValues", [])],
        "dataType": value["DataType"],
    }


def failed_message_ids(result: Any, message_ids: Iterable[str]) -> set[str]:
    """Message ids to keep, from a handler's return value, with Lambda's partial batch rules: no
    batchItemFailures means all succeeded; an entry naming no message of the batch fails the whole batch."""
    ids = set(message_ids)
    if not isinstance(result, Mapping) or "batchItemFailures" not in result:
        return set()
    failures = result.get("batchItemFailures") or []
    if not isinstance(failures, list):
        return ids
    failed: set[str] = set()
    for entry in failures:
        identifier = entry.get("itemIdentifier") if isinstance(entry, Mapping) else None
        if identifier not in ids:
            return ids
        failed.add(identifier)
    return failed


@dataclass
class _SqsSource:
    config: SQSEventConfig
    handler: Handler
    queue_name: str
    queue_url: str
    queue_arn: str
    client: Any


class SqsDriver:
    """One long-polling thread per `@app.on_sqs_message`, deleting only what the handler accepted.

    Messages the handler rejects are left alone: they reappear after the queue's visibility timeout and,
    after maxReceiveCount receives, the SQS redrive policy (moto implements it) moves them to the DLQ,
    exactly as on AWS, so the local stack exercises the real retry path.
    """

    def __init__(
        self,
        app: Chalice,
        *,
        queue_urls: Mapping[str, str] | None = None,
        endpoint_url: str | None = None,
        stage: str = "dev",
        wait_time_seconds: int = 2,  # long-poll length; also how long stop() may wait for a poll in flight
        memory_mb: int = DEFAULT_MEMORY_MB,
        timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        """`queue_urls` maps queue name -> URL to skip the lookup; `endpoint_url` None means
        AWS_ENDPOINT_URL (botocore reads it); memory_mb and timeout_seconds shape the Lambda context."""
        self.app = app
        self.region = config.region()
        self.stage = stage
        self.memory_mb = memory_mb
        self.timeout_seconds = timeout_seconds
        self.wait_time_seconds = max(0, min(wait_time_seconds, 20))
        self._queue_urls = dict(queue_urls or {})
        self._session = boto3.session.Session()
        self._endpoint_url = endpoint_url
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.sources: list[_SqsSource] = []
        self.outcomes: collections.deque[BatchOutcome] = collections.deque(maxlen=100)  # newest last

    def start(self) -> None:
        """Resolve every queue (failing loudly if one is missing), then start polling."""
        self._stop.clear()
        self.sources = [
            self._prepare(source) for source in self.app.event_sources if isinstance(source, SQSEventConfig)
        ]
        for source in self.sources:
            thread = threading.Thread(target=self._run, args=(source,), name=f"sqs-{source.config.name}", daemon=True)
            thread.start()
            self._threads.append(thread)
            log.info(
                "sqs driver: %s <- %s (batch size %d)", source.config.name, source.queue_name, source.config.batch_size
            )

    def stop(self, timeout: float | None = None) -> None:
        """Signal the threads and wait for them; a poll in flight ends within wait_time_seconds."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout if timeout is not None else self.wait_time_seconds + 10)
        self._threads.clear()

    def _prepare(self, source: SQSEventConfig) -> _SqsSource:
        # Clients are built here, on the caller's thread: boto3 sessions are not safe to share across threads.
        client = self._session.client("sqs", region_name=self.region, endpoint_url=self._endpoint_url)
        name = source.queue or (source.queue_arn or "").rsplit(":", 1)[-1]
        url = self._queue_urls.get(name)
        if url is None:
            try:
                url = client.get_queue_url(QueueName=name)["QueueUrl"]
            except client.exceptions.QueueDoesNotExist as error:
                raise LookupError(
                    f"sqs handler {source.name}: queue {name!r} does not exist (is it in chalicelib.resources.QUEUES?)"
                ) from error
        arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return _SqsSource(source, resolve_handler(self.app, source), name, url, arn, client)

    def _run(self, source: _SqsSource) -> None:
        while not self._stop.is_set():
            try:
                messages = source.client.receive_message(
                    QueueUrl=source.queue_url,
                    MaxNumberOfMessages=max(1, min(source.config.batch_size, 10)),
                    WaitTimeSeconds=self.wait_time_seconds,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
            except Exception:  # the endpoint going away at shutdown must not print a traceback storm
                if self._stop.is_set():
                    return
                log.exception("sqs driver: receive from %s failed; retrying", source.queue_name)
                self._stop.wait(1.0)
                continue
            if messages and not self._stop.is_set():
                try:
                    self.deliver(source, messages)
                except Exception:  # e.g. the delete call failing: the messages simply come back later
                    log.exception("sqs driver: delivering a batch from %s failed", source.queue_name)

    def deliver(self, source: _SqsSource, messages: list[dict[str, Any]]) -> BatchOutcome:
        """Invoke the handler with one batch and delete the messages it did not report as failed."""
        outcome = BatchOutcome(queue=source.queue_name, size=len(messages))
        ids = [message["MessageId"] for message in messages]
        event = sqs_event(messages, queue_arn=source.queue_arn, region=self.region)
        context = LocalLambdaContext(
            function_name(self.app, source.config, self.stage),
            region=self.region,
            memory_mb=self.memory_mb,
            timeout_seconds=self.timeout_seconds,
        )
        try:
            result = source.handler(event, context)
        except Exception as error:  # Lambda semantics: the whole batch returns to the queue
            outcome.failed_ids = ids
            outcome.error = f"{type(error).__name__}: {error}"
            self.outcomes.append(outcome)
            log.exception("sqs %s: batch of %d raised; nothing deleted", source.queue_name, len(ids))
            return outcome
        failed = failed_message_ids(result, ids)
        outcome.failed_ids = [i for i in ids if i in failed]
        keep = [m for m in messages if m["MessageId"] not in failed]
        if keep:
            response = source.client.delete_message_batch(
                QueueUrl=source.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(keep)],
            )
            outcome.deleted = len(response.get("Successful", []))
            for failure in response.get("Failed", []):
                log.warning("sqs %s: delete failed: %s", source.queue_name, failure)
        self.outcomes.append(outcome)
        log.info(
            "sqs %s: batch of %d, %d failed, %d deleted", source.queue_name, outcome.size, len(failed), outcome.deleted
        )
        return outcome


# ---------------------------------------------------------------------------------------------- schedules

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$", re.IGNORECASE)
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


def parse_rate(expression: str | ScheduleExpression) -> timedelta:
    """The period of a rate(N unit) schedule, as a chalice Rate or an EventBridge string.

    Every schedule of the app is a rate; a cron(...) one is refused here, so it stops the local stack by name
    instead of never firing.
    """
    text = _expression_text(expression).strip()
    rate = _RATE.match(text)
    if not rate:
        raise ValueError(f"{text}: only rate(N minutes|hours|days) schedules are driven locally")
    value, unit = int(rate.group(1)), rate.group(2).lower().rstrip("s")
    if value <= 0:
        raise ValueError(f"{text}: the rate must be positive")
    return timedelta(seconds=value * _UNITS[unit])


def scheduled_event(*, rule_arn: str, region: str, when: datetime) -> dict[str, Any]:
    """The EventBridge 'Scheduled Event' a rule delivers to its target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _ScheduledSource:
    config: ScheduledEventConfig
    handler: Handler
    period: timedelta
    rule_arn: str


class ScheduleDriver:
    """One thread per `@app.schedule`, calling the handler every period, counted from start (as EventBridge does).

    With fire_on_start the handler also runs once `start_delay_seconds` after start, so a newcomer sees
    a daily job work without waiting a day. A failing handler is logged and the schedule carries on.
    """

    def __init__(
        self,
        app: Chalice,
        *,
        stage: str = "dev",
        memory_mb: int = DEFAULT_MEMORY_MB,
        timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS,
        fire_on_start: bool = True,
        start_delay_seconds: float = 2.0,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.app = app
        self.region = config.region()
        self.stage = stage
        self.memory_mb = memory_mb
        self.timeout_seconds = timeout_seconds
        self.fire_on_start = fire_on_start
        self.start_delay_seconds = start_delay_seconds
        self.clock = clock
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.sources: dict[str, _ScheduledSource] = {}

    def start(self) -> None:
        """Parse every expression first, so a typo stops the stack with its name instead of never firing."""
        self._stop.clear()
        self.sources = {}
        for source in self.app.event_sources:
            if not isinstance(source, ScheduledEventConfig):
                continue
            try:
                period = parse_rate(source.schedule_expression)
            except ValueError as error:
                raise ValueError(f"schedule {source.name}: {error}") from error
            rule = f"arn:aws:events:{self.region}:{ACCOUNT_ID}:rule/{function_name(self.app, source, self.stage)}"
            self.sources[source.name] = _ScheduledSource(source, resolve_handler(self.app, source), period, rule)
        for item in self.sources.values():
            thread = threading.Thread(target=self._run, args=(item,), name=f"schedule-{item.config.name}", daemon=True)
            thread.start()
            self._threads.append(thread)
            log.info("schedule driver: %s on %s", item.config.name, _expression_text(item.config.schedule_expression))

    def stop(self, timeout: float = 10.0) -> None:
        """Signal the threads and wait for them (a handler already running finishes first)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def fire(self, name: str, when: datetime | None = None) -> Any:
        """Run one schedule's handler now; returns its result, or None when it raised (logged)."""
        item = self.sources[name]
        when = when or self.clock()
        event = scheduled_event(rule_arn=item.rule_arn, region=self.region, when=when)
        context = LocalLambdaContext(
            function_name(self.app, item.config, self.stage),
            region=self.region,
            memory_mb=self.memory_mb,
            timeout_seconds=self.timeout_seconds,
        )
        try:
            result = item.handler(event, context)
        except Exception:
            log.exception("schedule %s: handler raised", name)
            return None
        log.info("schedule %s: ran for %s", name, event["time"])
        return result

    def _run(self, item: _ScheduledSource) -> None:
        started = self.clock()
        if self.fire_on_start:
            if self._stop.wait(self.start_delay_seconds):
                return
            self.fire(item.config.name)
        due = started + item.period
        while not self._stop.is_set():
            remaining = (due - self.clock()).total_seconds()
            if remaining > 0:
                self._stop.wait(min(remaining, 1.0))  # re-check the clock: laptops sleep, clocks jump
                continue
            self.fire(item.config.name, due)
            due += item.period
            now = self.clock()
            if due <= now:  # fell behind: skip the missed runs, as EventBridge does
                due = now + item.period


def _expression_text(expression: str | ScheduleExpression) -> str:
    return expression.to_string() if isinstance(expression, ScheduleExpression) else str(expression)
