"""local.drivers run a Chalice app's SQS and schedule handlers the way Lambda and EventBridge would:
partial batch failures are retried and end in the DLQ, schedules fire when due, and a failing handler
never stops a driver."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from chalice import Chalice, Cron, Rate
from moto import mock_aws

from chalicelib.resources import QueueSpec
from local.drivers import ScheduleDriver, SqsDriver, failed_message_ids, parse_rate
from local.provision import make_clients, provision_all

REGION = "ap-southeast-3"
QUEUE = QueueSpec("jobs", visibility_timeout_seconds=1, max_receive_count=1)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # mock_aws intercepts nothing while AWS_ENDPOINT_URL points at a server.
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("TOKOFLOW_PREFIX", "drivertest")
    with mock_aws():
        yield


@dataclass
class Recorder:
    """What the throwaway app's handlers saw; appended to from driver threads."""

    bodies: list[str] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    schedule_events: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def build_app(queue_name: str, recorder: Recorder, *, schedule_fails: bool = False) -> Chalice:
    app = Chalice(app_name="driver-test")

    def record_handler(record: Any) -> None:
        if "bad" in record.body:
            raise ValueError(f"cannot handle {record.body}")
        with recorder.lock:
            recorder.bodies.append(record.body)
            recorder.records.append(record.raw_event)

    @app.on_sqs_message(queue=queue_name, batch_size=10)
    def handle_jobs(event: Any) -> dict[str, Any]:
        return process_partial_response(
            event=event.to_dict(),
            record_handler=record_handler,
            processor=BatchProcessor(event_type=EventType.SQS),
            context=event.context,
        )

    @app.schedule(Rate(1, unit=Rate.MINUTES))
    def every_minute(event: Any) -> None:
        with recorder.lock:
            recorder.schedule_events.append(event.to_dict())
        if schedule_fails:
            raise RuntimeError("scheduled job broke")

    return app


def wait_for(condition: Callable[[], bool], *, timeout: float = 8.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def queue_depth(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


# ------------------------------------------------------------------------------------------------- SQS


def test_good_messages_are_handled_once_and_failed_ones_end_in_the_dlq(aws: None) -> None:
    # GIVEN a queue that redrives after one receive, and a batch with one poisoned message
    clients = make_clients(region=REGION)
    queue = provision_all(clients, tables=(), queues=(QUEUE,), buckets=(), state_machines=())["queues"]["jobs"]
    recorder = Recorder()
    app = build_app(queue["name"], recorder)
    good = [f"order-{n}" for n in range(5)]
    for body in [*good[:2], "bad-1", *good[2:]]:
        attributes = {"kind": {"DataType": "String", "StringValue": "test"}}
        clients.sqs.send_message(QueueUrl=queue["url"], MessageBody=body, MessageAttributes=attributes)
    driver = SqsDriver(app, wait_time_seconds=1)

    # WHEN
    driver.start()
    try:
        wait_for(lambda: queue_depth(clients.sqs, queue["dlq_url"]) == 1, what="the bad message in the DLQ")
        wait_for(lambda: queue_depth(clients.sqs, queue["url"]) == 0, what="an empty queue")
    finally:
        driver.stop()

    # THEN every good message was handled exactly once and deleted; the bad one was retried into the DLQ
    assert sorted(recorder.bodies) == sorted(good)
    assert any(o.failed_ids and o.deleted for o in driver.outcomes), "expected a partially failed batch"
    dead = clients.sqs.receive_message(QueueUrl=queue["dlq_url"], MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in dead] == ["bad-1"]
    record = recorder.records[0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue["arn"]
    assert record["awsRegion"] == REGION
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["kind"]["stringValue"] == "test"
    assert record["messageAttributes"]["kind"]["dataType"] == "String"
    assert record["md5OfBody"]


def test_a_batch_whose_handler_raises_is_not_deleted(aws: None) -> None:
    # GIVEN a handler that always raises, on a queue that never redrives within the test
    clients = make_clients(region=REGION)
    spec = QueueSpec("raising", visibility_timeout_seconds=30, max_receive_count=5)
    queue = provision_all(clients, tables=(), queues=(spec,), buckets=(), state_machines=())["queues"]["raising"]
    app = Chalice(app_name="driver-test")
    calls: list[int] = []

    @app.on_sqs_message(queue=queue["name"], batch_size=5)
    def explode(event: Any) -> None:
        calls.append(len(list(event)))
        raise RuntimeError("down")

    clients.sqs.send_message(QueueUrl=queue["url"], MessageBody="x")
    driver = SqsDriver(app, wait_time_seconds=1)

    # WHEN
    driver.start()
    try:
        wait_for(lambda: calls == [1], what="one delivery")
    finally:
        driver.stop()

    # THEN the message is still in the queue (in flight until its visibility timeout)
    assert queue_depth(clients.sqs, queue["url"]) == 1


def test_a_handler_on_a_missing_queue_fails_at_start_naming_both(aws: None) -> None:
    app = Chalice(app_name="driver-test")

    @app.on_sqs_message(queue="drivertest-nowhere")
    def orphan(event: Any) -> None:
        raise AssertionError("never runs")

    with pytest.raises(LookupError, match=r"orphan.*drivertest-nowhere"):
        SqsDriver(app).start()


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (None, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, {"a", "b", "c"}),  # unknown id: whole batch fails
        ({"batchItemFailures": [{"nope": 1}]}, {"a", "b", "c"}),
        ({"statusCode": 200}, set()),
    ],
)
def test_partial_batch_responses_follow_lambda_rules(result: Any, expected: set[str]) -> None:
    assert failed_message_ids(result, ["a", "b", "c"]) == expected


# ------------------------------------------------------------------------------------------- schedules


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            return self.now

    def advance(self, delta: timedelta) -> None:
        with self.lock:
            self.now += delta


def test_schedules_fire_once_at_start_and_then_when_due(aws: None) -> None:
    # GIVEN a rate(1 minute) schedule and a clock we control
    recorder = Recorder()
    app = build_app("unused", recorder)
    clock = FakeClock(datetime(2026, 11, 23, 1, 0, 0, tzinfo=UTC))
    driver = ScheduleDriver(app, fire_on_start=True, start_delay_seconds=0, clock=clock)

    # WHEN the driver starts
    driver.start()
    try:
        wait_for(lambda: len(recorder.schedule_events) == 1, what="the start-up run")
        # AND a minute passes
        clock.advance(timedelta(seconds=61))
        wait_for(lambda: len(recorder.schedule_events) == 2, what="the scheduled run")
    finally:
        driver.stop()

    # THEN the handler got CloudWatch scheduled events, the second stamped with the due time
    first, second = recorder.schedule_events
    assert first["detail-type"] == "Scheduled Event"
    assert first["source"] == "aws.events"
    assert first["account"] == "123456789012"
    assert first["region"] == REGION
    assert first["detail"] == {}
    assert first["resources"] == [f"arn:aws:events:{REGION}:123456789012:rule/driver-test-dev-every_minute"]
    assert second["time"] == "2026-11-23T01:01:00Z"


def test_a_failing_scheduled_handler_does_not_stop_the_driver(aws: None) -> None:
    recorder = Recorder()
    app = build_app("unused", recorder, schedule_fails=True)
    clock = FakeClock(datetime(2026, 11, 23, 1, 0, 0, tzinfo=UTC))
    driver = ScheduleDriver(app, fire_on_start=True, start_delay_seconds=0, clock=clock)

    driver.start()
    try:
        wait_for(lambda: len(recorder.schedule_events) == 1, what="the first (failing) run")
        clock.advance(timedelta(minutes=1))
        wait_for(lambda: len(recorder.schedule_events) == 2, what="a second run after the failure")
    finally:
        driver.stop()


def test_an_invalid_expression_stops_the_driver_at_start_with_the_handler_name() -> None:
    app = Chalice(app_name="driver-test")

    @app.schedule("cron(0 10 * * ? *)")  # only rate schedules are driven locally
    def nightly(event: Any) -> None:
        raise AssertionError("never runs")

    with pytest.raises(ValueError, match="nightly"):
        ScheduleDriver(app, fire_on_start=False).start()


# ---------------------------------------------------------------------------------------------- parser


@pytest.mark.parametrize(
    ("expression", "period"),
    [
        ("rate(5 minutes)", timedelta(minutes=5)),
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(1 hour)", timedelta(hours=1)),
        ("rate(12 hours)", timedelta(hours=12)),
        ("rate(2 days)", timedelta(days=2)),
        (Rate(1, unit=Rate.MINUTES), timedelta(minutes=1)),
        (Rate(3, unit=Rate.DAYS), timedelta(days=3)),
    ],
)
def test_rate_expressions(expression: Any, period: timedelta) -> None:
    assert parse_rate(expression) == period


@pytest.mark.parametrize(
    "expression",
    ["rate(0 minutes)", "rate(5 weeks)", "every 5 minutes", "cron(0 10 * * ? *)", Cron(0, 23, "?", "*", "SAT", "*")],
)
def test_invalid_or_cron_expressions_are_refused(expression: Any) -> None:
    with pytest.raises(ValueError):
        parse_rate(expression)
