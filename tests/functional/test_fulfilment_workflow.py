"""The fulfilment state machine run by moto's interpreter, as Step Functions runs it: which states an order enters.

Step Functions bills every state entered, so the shape is checked here: a paid order and a cash-on-delivery order
enter six states each, and every wait, catch and compensation is still reached. Two drivers: a scripted one that
answers each task token as told (the ASL alone, every path), and the real worker with the real outside events
(the app's own decisions, the order-placed notification from the first step). Retries are checked on the definition
(tests/unit/test_workflow_names.py): moto's interpreter answers a retried task with its first attempt's token.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from chalicelib import aws, resources
from chalicelib.orders import workflow

PAID_PATH = ["WaitForPayment", "CommitStock", "WaitForPacking", "BookShipment", "WaitForDelivery", "CompleteOrder"]
MOST_TRANSITIONS_PER_PAID_ORDER = 7
DEADLINE = 20.0  # seconds for one execution to end


@pytest.fixture(scope="module")
def interpreter() -> Iterator[Any]:
    """A fresh account whose state machines really run (the chalice test client over it)."""
    from chalice.test import Client

    from app import app
    from local.offline import mocked_account

    with mocked_account(execute_state_machines=True) as clients, Client(app, stage_name="dev") as client:
        yield clients, client


def _tasks_queue() -> str:
    return aws.queue_url(resources.FULFILMENT_TASKS_QUEUE)


def _arn(name: str) -> str:
    return f"{workflow.state_machine_arn().replace(':stateMachine:', ':execution:')}:{name}"


def _status(name: str) -> str:
    return str(aws.client("stepfunctions").describe_execution(executionArn=_arn(name))["status"])


def entered(name: str) -> list[str]:
    """The states the execution entered, in order: what Step Functions bills as state transitions."""
    events = aws.client("stepfunctions").get_execution_history(executionArn=_arn(name), maxResults=1000)["events"]
    return [event["stateEnteredEventDetails"]["name"] for event in events if event["type"].endswith("StateEntered")]


def _take_messages(order_id: str) -> list[dict[str, Any]]:
    """The step messages sent for `order_id`'s execution; any other execution's are dropped."""
    sqs = aws.client("sqs")
    answer = sqs.receive_message(QueueUrl=_tasks_queue(), MaxNumberOfMessages=10, WaitTimeSeconds=0)
    messages = answer.get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=_tasks_queue(), ReceiptHandle=message["ReceiptHandle"])
    bodies = [json.loads(message["Body"]) for message in messages]
    return [body for body in bodies if body[workflow.ORDER_ID] == order_id]


# ---- the ASL alone: every path, each task answered as a script says ---------------------------------------------


@dataclass(frozen=True)
class Answer:
    """How the scripted worker answers the next task: `task` is the task it must be; `error` fails it, `output`
    resumes it, `wait` leaves it unanswered (for a timeout)."""

    task: str
    output: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    wait: bool = False


def ok(task: str, **output: Any) -> Answer:
    return Answer(task, output=output)


def fails(task: str, error: str) -> Answer:
    return Answer(task, error=error)


PAID = ok(workflow.AWAIT_PAYMENT, paid=True)
COMMITTED, PACKED, BOOKED = ok(workflow.COMMIT_STOCK), ok(workflow.AWAIT_PACKING), ok(workflow.BOOK_SHIPMENT)
DELIVERED, COMPLETED = ok(workflow.AWAIT_DELIVERY, outcome="delivered"), ok(workflow.COMPLETE_ORDER)
BOOKING_LOST = fails(workflow.BOOK_SHIPMENT, workflow.COURIER_OUTCOME_UNKNOWN)
FLAGGED = ok(workflow.NEEDS_ATTENTION)

SCRIPTS = {
    "paid and delivered": ([PAID, COMMITTED, PACKED, BOOKED, DELIVERED, COMPLETED], PAID_PATH, "SUCCEEDED"),
    "parcel not delivered": (
        [PAID, COMMITTED, PACKED, BOOKED, ok(workflow.AWAIT_DELIVERY, outcome="returned"),
         fails(workflow.COMPLETE_ORDER, workflow.PARCEL_NOT_DELIVERED), ok(workflow.FLAG_RETURN)],
        [*PAID_PATH, "FlagReturnedParcel"], "SUCCEEDED"),
    "payment deadline": ([Answer(workflow.AWAIT_PAYMENT, wait=True), ok(workflow.RELEASE_STOCK)],
                         ["WaitForPayment", "ExpireOrder"], "SUCCEEDED"),
    "payment expired": ([fails(workflow.AWAIT_PAYMENT, workflow.PAYMENT_EXPIRED), ok(workflow.RELEASE_STOCK)],
                        ["WaitForPayment", "ExpireOrder"], "SUCCEEDED"),
    "payment failed": ([fails(workflow.AWAIT_PAYMENT, workflow.PAYMENT_FAILED), ok(workflow.RELEASE_STOCK)],
                       ["WaitForPayment", "FailPayment"], "SUCCEEDED"),
    "cancelled unpaid": ([fails(workflow.AWAIT_PAYMENT, workflow.ORDER_CANCELLED), ok(workflow.CANCEL_ORDER)],
                         ["WaitForPayment", "CancelUnpaidOrder", "RefundRoute", "Cancelled"], "SUCCEEDED"),
    "cancelled after payment, refunded by payout": (
        [PAID, COMMITTED, fails(workflow.AWAIT_PACKING, workflow.ORDER_CANCELLED),
         ok(workflow.CANCEL_ORDER, payout_id="refund-x"), ok(workflow.AWAIT_PAYOUT)],
        ["WaitForPayment", "CommitStock", "WaitForPacking", "CancelCommittedOrder", "RefundRoute", "WaitForPayout"],
        "SUCCEEDED"),
    "payment held, then denied": (
        [fails(workflow.AWAIT_PAYMENT, workflow.PAYMENT_HELD), fails(workflow.AWAIT_PAYMENT_REVIEW,
                                                                     workflow.PAYMENT_FAILED),
         ok(workflow.RELEASE_STOCK)],
        ["WaitForPayment", "WaitForPaymentReview", "FailPayment"], "SUCCEEDED"),
    "payment held, accepted, then a step refused": (
        [fails(workflow.AWAIT_PAYMENT, workflow.PAYMENT_HELD), ok(workflow.AWAIT_PAYMENT_REVIEW, paid=True),
         fails(workflow.COMMIT_STOCK, workflow.STEP_REFUSED), FLAGGED],
        ["WaitForPayment", "WaitForPaymentReview", "CommitStock", "NeedsAttention", "Stuck"], "FAILED"),
    "booking answer lost, found again": (
        [PAID, COMMITTED, PACKED, BOOKING_LOST, BOOKED, DELIVERED, COMPLETED],
        ["WaitForPayment", "CommitStock", "WaitForPacking", "BookShipment", "RecoverBooking", "WaitForDelivery",
         "CompleteOrder"], "SUCCEEDED"),
    "booking uncertain": (
        [PAID, COMMITTED, PACKED, BOOKING_LOST, fails(workflow.BOOK_SHIPMENT, workflow.BOOKING_UNCERTAIN), FLAGGED],
        ["WaitForPayment", "CommitStock", "WaitForPacking", "BookShipment", "RecoverBooking", "NeedsAttention",
         "Stuck"], "FAILED"),
}


def run_script(name: str, script: list[Answer], *, payment_timeout_seconds: int = 600) -> list[dict[str, Any]]:
    """Start an execution and answer its tasks as `script` says until it ends; the messages it sent."""
    stepfunctions = aws.client("stepfunctions")
    stepfunctions.start_execution(stateMachineArn=workflow.state_machine_arn(), name=name, input=json.dumps(
        {workflow.ORDER_ID: name, workflow.PAYMENT_TIMEOUT: payment_timeout_seconds}))
    pending, seen = list(script), []
    deadline = time.monotonic() + DEADLINE
    while _status(name) == "RUNNING":
        assert time.monotonic() < deadline, f"{name} still running after {entered(name)}"
        for message in _take_messages(name):
            seen.append(message)
            assert pending, f"no answer scripted for {message['task']} after {entered(name)}"
            answer = pending.pop(0)
            assert message["task"] == answer.task, entered(name)
            if answer.error:
                stepfunctions.send_task_failure(taskToken=message["token"], error=answer.error, cause="scripted")
            elif not answer.wait:
                stepfunctions.send_task_success(taskToken=message["token"], output=json.dumps(answer.output))
        time.sleep(0.02)
    assert pending == [], f"tasks never sent: {[answer.task for answer in pending]}"
    return seen


@pytest.mark.parametrize(("script", "path", "status"), list(SCRIPTS.values()), ids=list(SCRIPTS))
def test_every_path_reaches_its_waits_catches_and_compensations(
        interpreter: Any, script: list[Answer], path: list[str], status: str) -> None:
    name = f"TK-SCRIPT-{uuid.uuid4().hex[:12]}"
    timeout = 1 if script[0].wait else 600
    messages = run_script(name, script, payment_timeout_seconds=timeout)
    assert entered(name) == path
    assert _status(name) == status
    recovered = [message for message in messages if message.get(workflow.RECOVER)]
    assert bool(recovered) == ("RecoverBooking" in path)  # only the recovery step looks the booking up first


def test_a_paid_order_enters_at_most_seven_states_and_no_choice_or_succeed_state(interpreter: Any) -> None:
    name = "TK-SCRIPT-PAID"
    run_script(name, [PAID, COMMITTED, PACKED, BOOKED, DELIVERED, COMPLETED])
    states = json.loads((resources.REPOSITORY_ROOT / resources.FULFILMENT_STATE_MACHINE.definition_file)
                        .read_text(encoding="utf-8"))["States"]
    path = entered(name)
    assert len(path) <= MOST_TRANSITIONS_PER_PAID_ORDER and len(path) == 6
    assert {states[state]["Type"] for state in path} == {"Task"}


# ---- the real worker: what the app decides at each step ---------------------------------------------------------


@dataclass
class Worker:
    """Lambda's SQS poller for the fulfilment queue, handing each step to the real worker; `again` runs a task's
    first message twice, as SQS may deliver it."""

    again: str = ""
    handled: list[str] = field(default_factory=list)

    def until(self, order_id: str, what: str, done: Callable[[], bool]) -> None:
        from chalicelib.fulfilment import service as fulfilment

        deadline = time.monotonic() + DEADLINE
        while not done():
            assert time.monotonic() < deadline, f"stuck waiting for {what} after {self.handled}"
            for message in _take_messages(order_id):
                copies = 2 if message["task"] == self.again and self.again not in self.handled else 1
                for _ in range(copies):
                    self.handled.append(message["task"])
                    fulfilment.handle_task(message)
            time.sleep(0.02)


def _notification_requests(order_id: str) -> list[dict[str, Any]]:
    """The notification messages queued for the order (taken off the queue)."""
    sqs, url = aws.client("sqs"), aws.queue_url(resources.NOTIFICATIONS_QUEUE)
    found: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return [body for body in found if body["order"]["order_id"] == order_id]
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _deliver(order_id: str) -> None:
    from chalicelib.orders import repository as orders
    from chalicelib.shipping import tracking, webhooks

    booking_id = orders.get(order_id).shipment["booking_id"]  # type: ignore[union-attr]
    for minute, status in enumerate(("picked", "delivered")):
        webhooks.on_courier_update(tracking.CourierUpdate(
            kind="order.status", booking_id=booking_id, waybill_id=None, tracking_id=None, status=status,
            price=None, at=f"2026-12-02T05:0{minute}:00Z"))


@pytest.mark.parametrize(("payment_method", "signed_in"), [("bank_transfer", False), ("cod", True)],
                         ids=["bank transfer, guest", "cash on delivery, signed in"])
def test_an_order_through_the_real_worker_enters_six_states_and_is_told_it_was_placed_once(
        interpreter: Any, payment_method: str, signed_in: bool) -> None:
    from chalicelib.fulfilment import service as fulfilment
    from chalicelib.notifications import service as notifications
    from chalicelib.orders import repository as orders
    from chalicelib.payments import service as payments
    from chalicelib.payments.sandbox import SandboxGateway
    from tests.functional.helpers import bearer, create_product, place_order

    _, client = interpreter
    sku = f"BTK-WF-{payment_method.upper().replace('_', '')}"
    create_product(client, bearer("staff"), sku=sku, stock=5, price=200_000)
    _notification_requests("")  # whatever earlier tests left queued
    placed = place_order(client, sku, qty=1, headers=bearer("customer", "cust-wf") if signed_in else None,
                         payment_method=payment_method)
    order_id = placed["order_id"]
    assert _notification_requests(order_id) == []  # the checkout itself queued nothing

    worker = Worker(again=workflow.AWAIT_PAYMENT)  # the first step's message delivered twice
    if payment_method == "cod":  # nothing to wait for: the first step answers at once
        worker.until(order_id, "the packing step", lambda: "packing" in orders.get(order_id).tokens)  # type: ignore[union-attr]
    else:
        worker.until(order_id, "the payment step", lambda: "payment" in orders.get(order_id).tokens)  # type: ignore[union-attr]
        SandboxGateway().settle(order_id)
        payments.process_event({"provider": "midtrans", "order_id": order_id})
        worker.until(order_id, "the packing step", lambda: "packing" in orders.get(order_id).tokens)  # type: ignore[union-attr]
    fulfilment.mark_packed(order_id, actor="staff-1")
    worker.until(order_id, "the delivery step", lambda: "delivery" in orders.get(order_id).tokens)  # type: ignore[union-attr]
    _deliver(order_id)
    worker.until(order_id, "the execution's end", lambda: _status(order_id) != "RUNNING")

    assert (_status(order_id), orders.get(order_id).status) == ("SUCCEEDED", "COMPLETED")  # type: ignore[union-attr]
    assert entered(order_id) == PAID_PATH
    assert worker.handled[:2] == [workflow.AWAIT_PAYMENT] * 2
    placed_requests = [body for body in _notification_requests(order_id) if body["event"] == "order_placed"]
    assert len(placed_requests) == 2  # asked twice by the redelivered step...
    assert [notifications.deliver(body) for body in placed_requests] == ["sent", "duplicate"]  # ...sent once
    if payment_method != "cod":
        assert placed_requests[0]["extra"]["payment"]["va_number"]  # the instructions the customer pays with
