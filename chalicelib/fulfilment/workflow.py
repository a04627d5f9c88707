"""The Step Functions adapter: start an order's execution, resume or fail a step waiting on a task token."""

from __future__ import annotations

import functools
import json
import os
from typing import Any

from chalicelib import aws, config, resources
from chalicelib.observability import logger

STATE_MACHINE_ARN = "TOKOFLOW_FULFILMENT_STATE_MACHINE_ARN"  # set by the infrastructure; derived locally


@functools.cache
def _account_id() -> str:
    return aws.client("sts").get_caller_identity()["Account"]


def state_machine_arn() -> str:
    configured = os.environ.get(STATE_MACHINE_ARN)
    if configured:
        return configured
    name = resources.FULFILMENT_STATE_MACHINE.physical_name
    return f"arn:aws:states:{config.region()}:{_account_id()}:stateMachine:{name}"


def start(order_id: str, *, cod: bool, payment_timeout_seconds: int) -> str:
    """Start the order's execution, named after the order so a retried start can never run it twice."""
    client = aws.client("stepfunctions")
    execution_input = {"order_id": order_id, "cod": cod, "payment_timeout_seconds": max(1, payment_timeout_seconds)}
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


def fail(token: str, error: str, cause: str) -> bool:
    """Fail a waiting step with an error name the state machine catches (PaymentFailed, OrderCancelled, ...)."""
    return _answer("send_task_failure", taskToken=token, error=error, cause=cause[:32000])
