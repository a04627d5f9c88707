"""A return's workflow (Step Functions): its execution, named after the return, and the names the ASL shares.

statemachines/returns.asl.json orders the steps; tests/unit/test_workflow_names.py reads it to check that
these names and the ASL agree. Resuming and failing a waiting step is the same task-token call as for orders.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib import aws, resources
from chalicelib.observability import logger
from chalicelib.orders import workflow as order_workflow

STATE_MACHINE_ARN = "TOKOFLOW_RETURNS_STATE_MACHINE_ARN"  # set by the infrastructure; derived locally

# Execution input fields.
RETURN_ID, ORDER_ID, APPROVED, PARCEL_TIMEOUT = "return_id", "order_id", "approved", "parcel_timeout_seconds"
# Tasks: the "task" of each step's SQS message (return-tasks queue), one worker handler each.
AWAIT_DECISION = "await_decision"
AWAIT_PARCEL = "await_parcel"
REFUND_RETURN = "refund_return"
AWAIT_PAYOUT = "await_payout"
CLOSE_RETURN = "close_return"
EXPIRE_RETURN = "expire_return"
NEEDS_ATTENTION = "needs_attention"
TASKS = frozenset({AWAIT_DECISION, AWAIT_PARCEL, REFUND_RETURN, AWAIT_PAYOUT, CLOSE_RETURN, EXPIRE_RETURN,
                   NEEDS_ATTENTION})
# Errors a step reports; the state machine retries WorkerError and sends the rest to NeedsAttention.
WORKER_ERROR = order_workflow.WORKER_ERROR
STEP_REFUSED = order_workflow.STEP_REFUSED
UNKNOWN_TASK = order_workflow.UNKNOWN_TASK
REFUND_DEFERRED = order_workflow.REFUND_DEFERRED  # retried after the gateway's quiet hours
ERRORS = frozenset({WORKER_ERROR, STEP_REFUSED, UNKNOWN_TASK, REFUND_DEFERRED})
# Result fields the state machine reads: the staff decision, and the payout a refund waits for.
DECISION, APPROVE, REFUND_ONLY, REJECT = "decision", "approve", "refund_only", "reject"
PAYOUT_ID = order_workflow.PAYOUT_ID


def state_machine_arn() -> str:
    return order_workflow.machine_arn(resources.RETURNS_STATE_MACHINE, STATE_MACHINE_ARN)


def start(return_id: str, order_id: str, *, approved: bool, parcel_timeout_seconds: int) -> None:
    """Start the return's execution, named after the return: starting it twice never runs it twice."""
    client = aws.client("stepfunctions")
    execution_input = {RETURN_ID: return_id, ORDER_ID: order_id, APPROVED: approved,
                       PARCEL_TIMEOUT: max(1, parcel_timeout_seconds)}
    try:
        client.start_execution(stateMachineArn=state_machine_arn(), name=return_id, input=json.dumps(execution_input))
    except client.exceptions.ExecutionAlreadyExists:
        logger.info("return workflow already started", extra={"return_id": return_id})


def resume(token: str, output: dict[str, Any]) -> bool:
    return order_workflow.resume(token, output)


def fail(token: str, error: str, cause: str) -> bool:
    return order_workflow.fail(token, error, cause, known=ERRORS)
