"""The order's workflow (Step Functions): start its execution, resume or fail a step waiting on a task token."""

from __future__ import annotations

import functools
import json
import os
from typing import Any

from chalicelib import aws, config, resources
from chalicelib.observability import logger

STATE_MACHINE_ARN = "TOKOFLOW_FULFILMENT_STATE_MACHINE_ARN"  # set by the infrastructure; derived locally

# ---- names shared with statemachines/fulfilment.asl.json (tests/unit/test_workflow_names.py reads both) ----
# Execution input fields.
ORDER_ID, PAYMENT_TIMEOUT = "order_id", "payment_timeout_seconds"
# Cash on delivery waits for no payment: its first step (WaitForPayment) answers at once, so its wait is only capped,
# at an hour (the worker's SQS redeliveries fit well within it), rather than by a payment deadline.
COD_FIRST_STEP_TIMEOUT = 3600
# Tasks: the "task" of each step's SQS message, one worker handler each.
AWAIT_PAYMENT = "await_payment"
AWAIT_PAYMENT_REVIEW = "await_payment_review"
COMMIT_STOCK = "commit_stock"
AWAIT_PACKING = "await_packing"
BOOK_SHIPMENT = "book_shipment"
AWAIT_DELIVERY = "await_delivery"
COMPLETE_ORDER = "complete_order"
FLAG_RETURN = "flag_return"
RELEASE_STOCK = "release_stock"
CANCEL_ORDER = "cancel_order"
AWAIT_PAYOUT = "await_payout"
NEEDS_ATTENTION = "needs_attention"
TASKS = frozenset({AWAIT_PAYMENT, AWAIT_PAYMENT_REVIEW, COMMIT_STOCK, AWAIT_PACKING, BOOK_SHIPMENT, AWAIT_DELIVERY,
                   COMPLETE_ORDER, FLAG_RETURN, RELEASE_STOCK, CANCEL_ORDER, AWAIT_PAYOUT, NEEDS_ATTENTION})
# Errors a step reports with send_task_failure; the state machine routes each by name.
PAYMENT_EXPIRED = "PaymentExpired"  # -> ExpireOrder
PAYMENT_FAILED = "PaymentFailed"  # -> FailPayment
PAYMENT_HELD = "PaymentHeld"  # -> WaitForPaymentReview: the gateway holds a card payment for staff to decide
ORDER_CANCELLED = "OrderCancelled"  # -> CancelUnpaidOrder / CancelCommittedOrder
WORKER_ERROR = "WorkerError"  # a step lost a race or hit an outage: the state machine retries it with back-off
COURIER_UNAVAILABLE = "CourierUnavailable"  # the courier is down (it did not act): retried with back-off
# The courier may have booked the parcel (no answer, a 5xx): BookShipment hands over to RecoverBooking, which looks the
# booking up by the order's reference before booking again (retried there with back-off).
COURIER_OUTCOME_UNKNOWN = "CourierOutcomeUnknown"
# Recovering, the courier offers no lookup by reference: a person checks the courier's dashboard (NeedsAttention).
BOOKING_UNCERTAIN = "BookingUncertain"
BOOKING_REJECTED = "BookingRejected"  # the courier refused the parcel: a person decides
# CompleteOrder finds the parcel returned, rejected or lost rather than delivered -> FlagReturnedParcel (a Choice on
# the delivery outcome would cost a state transition on every order).
PARCEL_NOT_DELIVERED = "ParcelNotDelivered"
STEP_REFUSED = "StepRefused"  # the order is in no state for this step: a person decides
UNKNOWN_TASK = "UnknownTask"
REFUND_DEFERRED = "RefundDeferred"  # the gateway takes no refunds of this type now (ShopeePay at night): retried later
ERRORS = frozenset({PAYMENT_EXPIRED, PAYMENT_FAILED, PAYMENT_HELD, ORDER_CANCELLED, WORKER_ERROR, COURIER_UNAVAILABLE,
                    BOOKING_REJECTED, STEP_REFUSED, UNKNOWN_TASK, REFUND_DEFERRED})
ERRORS |= {COURIER_OUTCOME_UNKNOWN, BOOKING_UNCERTAIN, PARCEL_NOT_DELIVERED}
# Message field of RecoverBooking's book_shipment: an earlier attempt may have booked the parcel, look it up first.
RECOVER = "recover"
# Result fields of WaitForDelivery: how the parcel ended, as the courier webhook reports it.
OUTCOME, DELIVERED = "outcome", "delivered"
# A cancel whose money goes back by bank transfer names its payout; the state machine then waits for it.
PAYOUT_ID = "payout_id"


@functools.cache
def _account_id() -> str:
    return aws.client("sts").get_caller_identity()["Account"]


def machine_arn(spec: resources.StateMachineSpec, variable: str) -> str:
    """A state machine's ARN: set by the infrastructure in `variable`, derived from its name locally."""
    configured = os.environ.get(variable)
    if configured:
        return configured
    return f"arn:aws:states:{config.region()}:{_account_id()}:stateMachine:{spec.physical_name}"


def state_machine_arn() -> str:
    return machine_arn(resources.FULFILMENT_STATE_MACHINE, STATE_MACHINE_ARN)


def start(order_id: str, *, payment_timeout_seconds: int) -> str:
    """Start the order's execution, named after the order so a retried start can never run it twice."""
    client = aws.client("stepfunctions")
    execution_input = {ORDER_ID: order_id, PAYMENT_TIMEOUT: max(1, payment_timeout_seconds)}
    try:
        answer = client.start_execution(stateMachineArn=state_machine_arn(), name=order_id,
                                        input=json.dumps(execution_input))
    except client.exceptions.ExecutionAlreadyExists:
        logger.info("fulfilment already started", extra={"order_id": order_id})
        return f"{state_machine_arn().replace(':stateMachine:', ':execution:')}:{order_id}"
    return answer["executionArn"]


def _answer(operation: str, **arguments: Any) -> bool:
    """Send a task answer; False when the step no longer waits (already answered, timed out, unknown)."""
    client = aws.client("stepfunctions")
    gone = (client.exceptions.TaskTimedOut, client.exceptions.InvalidToken, client.exceptions.TaskDoesNotExist)
    try:
        getattr(client, operation)(**arguments)
    except gone as error:
        logger.info("task token no longer waiting", extra={"error": type(error).__name__})
        return False
    return True


def resume(token: str, output: dict[str, Any]) -> bool:
    """Let a waiting step continue with `output`."""
    return _answer("send_task_success", taskToken=token, output=json.dumps(output))


def fail(token: str, error: str, cause: str, *, known: frozenset[str] = ERRORS) -> bool:
    """Fail a waiting step with an error name the state machine catches (PaymentFailed, OrderCancelled, ...)."""
    if error not in known:
        raise ValueError(f"{error!r} is not an error the state machine knows")
    return _answer("send_task_failure", taskToken=token, error=error, cause=cause[:32000])
