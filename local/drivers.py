"""Feed SQS messages and schedules to a Chalice app's event handlers, as Lambda would on AWS.

`chalice local` serves HTTP routes only, and moto never fires scheduled rules nor invokes SQS-triggered
functions, so without these pumps a queue fills up and nightly jobs never run on a developer machine.
The drivers read the handlers from the app object itself (`app.event_sources`), so a new
`@app.on_sqs_message` or `@app.schedule` is driven locally the moment it is written.
"""

from __future__ import annotations

import base64
import calendar
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
        session: boto3.session.Session | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        stage: str = "dev",
        wait_time_seconds: int = 2,  # long-poll length; also how long stop() may wait for a poll in flight
        memory_mb: int = DEFAULT_MEMORY_MB,
        timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        """`queue_urls` maps queue name -> URL to skip the lookup; `endpoint_url` None means
        AWS_ENDPOINT_URL (botocore reads it); memory_mb and timeout_seconds shape the Lambda context."""
        self.app = app
        self.region = region or config.region()
        self.stage = stage
        self.memory_mb = memory_mb
        self.timeout_seconds = timeout_seconds
        self.wait_time_seconds = max(0, min(wait_time_seconds, 20))
        self._queue_urls = dict(queue_urls or {})
        self._session = session or boto3.session.Session()
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

_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {name: n for n, name in enumerate(_MONTH_NAMES, start=1)}
_WEEKDAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}  # EventBridge: 1 = Sunday
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$", re.IGNORECASE)
_CRON = re.compile(r"^cron\((.*)\)$", re.IGNORECASE)
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class RateSchedule:
    """rate(N unit): every N units counted from when the rule starts (as EventBridge does)."""

    period: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.period


@dataclass(frozen=True)
class CronSchedule:
    """EventBridge cron(minutes hours day-of-month month day-of-week year), evaluated in UTC.

    Day-of-week runs 1-7 from Sunday, and exactly one of day-of-month / day-of-week must be '?', as on
    AWS (which rejects anything else). Also understands L (last day of month), dL (last weekday d of the
    month) and d#n (n-th weekday d); W is rejected rather than approximated.
    """

    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int] | None  # None: '?'
    last_day_of_month: bool
    months: frozenset[int]
    days_of_week: frozenset[int] | None  # None: '?'
    nth_weekdays: frozenset[tuple[int, int]]  # (weekday, n); n = -1 means last
    years: frozenset[int]

    def next_after(self, moment: datetime) -> datetime | None:
        """First firing strictly after `moment` (aware or naive-UTC), or None when the years run out."""
        moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
        start = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.date()
        last_year = max(self.years)
        while day.year <= last_year:
            if day.year in self.years and day.month in self.months and self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
                        if candidate >= start:
                            return candidate
            day += timedelta(days=1)
        return None

    def _day_matches(self, day: Any) -> bool:
        last = calendar.monthrange(day.year, day.month)[1]
        if self.days_of_week is None and not self.nth_weekdays:
            return day.day in (self.days_of_month or ()) or (self.last_day_of_month and day.day == last)
        weekday = (day.weekday() + 1) % 7 + 1  # Python Monday=0 -> EventBridge Monday=2, Sunday=1
        if self.days_of_week and weekday in self.days_of_week:
            return True
        for wanted, n in self.nth_weekdays:
            if wanted == weekday and (day.day + 7 > last if n == -1 else (day.day - 1) // 7 + 1 == n):
                return True
        return False


Schedule = RateSchedule | CronSchedule


def parse_schedule(expression: str | ScheduleExpression) -> Schedule:
    """Parse what `@app.schedule` accepts: a chalice Rate/Cron or an EventBridge expression string."""
    text = expression.to_string() if isinstance(expression, ScheduleExpression) else str(expression)
    text = text.strip()
    rate = _RATE.match(text)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2).lower().rstrip("s")
        if value <= 0:
            raise ValueError(f"{text}: the rate must be positive")
        return RateSchedule(timedelta(seconds=value * _UNITS[unit]))
    cron = _CRON.match(text)
    if not cron:
        raise ValueError(f"{text}: not a rate(...) or cron(...) expression")
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise ValueError(f"{text}: cron needs 6 fields (minutes hours day-of-month month day-of-week year)")
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ValueError(f"{text}: exactly one of day-of-month and day-of-week must be '?'")
    days_of_month: frozenset[int] | None = None
    last_day = False
    if dom != "?":
        parts = dom.split(",")
        last_day = "L" in (p.upper() for p in parts)
        rest = ",".join(p for p in parts if p.upper() != "L")
        days_of_month = _parse_field(rest, 1, 31, {}, text) if rest else frozenset()
    days_of_week: frozenset[int] | None = None
    nth: set[tuple[int, int]] = set()
    if dow != "?":
        plain = []
        for part in dow.upper().split(","):
            if "#" in part:
                day_name, n = part.split("#", 1)
                nth.add((_value(day_name, 1, 7, _WEEKDAYS, text), _value(n, 1, 5, {}, text)))
            elif part.endswith("L") and part != "L":
                nth.add((_value(part[:-1], 1, 7, _WEEKDAYS, text), -1))
            else:
                plain.append("7" if part == "L" else part)  # a bare L in day-of-week means Saturday
        days_of_week = _parse_field(",".join(plain), 1, 7, _WEEKDAYS, text) if plain else frozenset()
    return CronSchedule(
        minutes=_parse_field(minutes, 0, 59, {}, text),
        hours=_parse_field(hours, 0, 23, {}, text),
        days_of_month=days_of_month,
        last_day_of_month=last_day,
        months=_parse_field(month, 1, 12, _MONTHS, text),
        days_of_week=days_of_week,
        nth_weekdays=frozenset(nth),
        years=_parse_field(year, 1970, 2199, {}, text),
    )


def _parse_field(spec: str, low: int, high: int, names: Mapping[str, int], text: str) -> frozenset[int]:
    """'*', 'a', 'a-b', '*/n', 'a/n', 'a-b/n' and comma lists of those."""
    values: set[int] = set()
    for part in spec.upper().split(","):
        base, _, step_text = part.partition("/")
        step = _value(step_text, 1, high, {}, text) if step_text else 1
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first_text, last_text = base.split("-", 1)
            first, last = _value(first_text, low, high, names, text), _value(last_text, low, high, names, text)
        else:
            first = _value(base, low, high, names, text)
            last = high if step_text else first
        if first > last:
            raise ValueError(f"{text}: range {base} runs backwards")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _value(token: str, low: int, high: int, names: Mapping[str, int], text: str) -> int:
    token = token.strip().upper()
    if token in names:
        return names[token]
    if not token.isdigit():
        raise ValueError(f"{text}: unsupported cron token {token!r}")
    value = int(token)
    if not low <= value <= high:
        raise ValueError(f"{text}: {value} is outside {low}-{high}")
    return value


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
    schedule: Schedule
    rule_arn: str
    fired: int = 0


class ScheduleDriver:
    """One thread per `@app.schedule`, calling the handler when its expression is due (UTC).

    With fire_on_start the handler also runs once `start_delay_seconds` after start, so a newcomer sees
    a daily job work without waiting a day. A failing handler is logged and the schedule carries on.
    """

    def __init__(
        self,
        app: Chalice,
        *,
        region: str | None = None,
        stage: str = "dev",
        memory_mb: int = DEFAULT_MEMORY_MB,
        timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS,
        fire_on_start: bool = True,
        start_delay_seconds: float = 2.0,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.app = app
        self.region = region or config.region()
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
                schedule = parse_schedule(source.schedule_expression)
            except ValueError as error:
                raise ValueError(f"schedule {source.name}: {error}") from error
            rule = f"arn:aws:events:{self.region}:{ACCOUNT_ID}:rule/{function_name(self.app, source, self.stage)}"
            self.sources[source.name] = _ScheduledSource(source, resolve_handler(self.app, source), schedule, rule)
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
        item.fired += 1
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
        due = item.schedule.next_after(started)
        while due is not None and not self._stop.is_set():
            remaining = (due - self.clock()).total_seconds()
            if remaining > 0:
                self._stop.wait(min(remaining, 1.0))  # re-check the clock: laptops sleep, clocks jump
                continue
            self.fire(item.config.name, due)
            following = item.schedule.next_after(due)
            now = self.clock()
            if following is not None and following <= now:  # fell behind: skip the missed runs, as EventBridge
                following = item.schedule.next_after(now)
            due = following


def _expression_text(expression: str | ScheduleExpression) -> str:
    return expression.to_string() if isinstance(expression, ScheduleExpression) else str(expression)
