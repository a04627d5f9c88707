"""The names the state machine and the Python worker share (tasks, errors, result fields) agree on both sides."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chalicelib.fulfilment.service import TASKS, UNPAID_ENDS
from chalicelib.orders import lifecycle, workflow
from chalicelib.shipping import tracking

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = sorted((ROOT / "statemachines").glob("*.asl.json"))


def states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in definition["States"].items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from states(branch)
        if "Iterator" in state or "ItemProcessor" in state:
            yield from states(state.get("ItemProcessor") or state["Iterator"])


def fulfilment() -> dict[str, Any]:
    return json.loads((ROOT / "statemachines" / "fulfilment.asl.json").read_text(encoding="utf-8"))


def test_every_task_the_state_machine_sends_has_a_worker_and_every_worker_is_used() -> None:
    sent = {state["Parameters"]["MessageBody"]["task"] for _, state in states(fulfilment()) if state["Type"] == "Task"}
    assert sent == set(workflow.TASKS) == set(TASKS)


def test_every_error_the_state_machine_names_is_one_python_sends() -> None:
    named = set()
    for definition in DEFINITIONS:
        for _, state in states(json.loads(definition.read_text(encoding="utf-8"))):
            for rule in state.get("Retry", []) + state.get("Catch", []):
                named |= {error for error in rule["ErrorEquals"] if not error.startswith("States.")}
    assert named <= workflow.ERRORS, f"the state machine names errors Python never sends: {named - workflow.ERRORS}"


def _errors_sent_by_python() -> set[str]:
    """Every `workflow.fail(token, workflow.X, ...)` in chalicelib: the error names Python really sends."""
    sent = set()
    for path in (ROOT / "chalicelib").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "fail"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "workflow"):
                error = node.args[1]
                if isinstance(error, ast.Attribute):
                    sent.add(getattr(workflow, error.attr))
                elif isinstance(error, ast.Subscript | ast.Name):
                    continue  # looked up from a table of workflow constants, checked below
                else:
                    raise AssertionError(f"{path.name}:{node.lineno}: workflow.fail with a literal error name")
    return sent


def test_every_error_python_sends_is_routed_on_purpose() -> None:
    """Retried errors must be in a Retry; the ones that end a wait must be caught by name; the rest reach
    NeedsAttention through States.ALL, which every task step has."""
    definition = fulfilment()
    retried = {error for _, state in states(definition) for rule in state.get("Retry", []) for error in
               rule["ErrorEquals"]}
    caught = {error for _, state in states(definition) for rule in state.get("Catch", []) for error in
              rule["ErrorEquals"]}
    assert {workflow.WORKER_ERROR, workflow.COURIER_UNAVAILABLE} <= retried
    assert {workflow.PAYMENT_EXPIRED, workflow.PAYMENT_FAILED, workflow.ORDER_CANCELLED} <= caught
    for name, state in states(definition):
        if state["Type"] == "Task" and name != "NeedsAttention":
            assert any("States.ALL" in rule["ErrorEquals"] for rule in state.get("Catch", [])), name
    sent = _errors_sent_by_python()
    assert sent and sent <= workflow.ERRORS


def test_the_steps_that_can_lose_a_race_are_retried_by_the_state_machine() -> None:
    for name, state in states(fulfilment()):
        if state["Type"] == "Task" and not state["Parameters"]["MessageBody"]["task"].startswith("await_"):
            assert any(workflow.WORKER_ERROR in rule["ErrorEquals"] for rule in state.get("Retry", [])), name


def test_input_and_result_fields_match() -> None:
    definition = fulfilment()
    route = definition["States"]["PaymentRoute"]["Choices"][0]
    assert route["Variable"] == f"$.{workflow.COD_INPUT}"
    assert definition["States"]["WaitForPayment"]["TimeoutSecondsPath"] == f"$.{workflow.PAYMENT_TIMEOUT}"
    outcome = definition["States"]["DeliveryOutcome"]["Choices"][0]
    assert outcome["Variable"].endswith(f".{workflow.OUTCOME}") and outcome["StringEquals"] == workflow.DELIVERED
    assert tracking.outcome(tracking.DELIVERED) == workflow.DELIVERED  # the courier's word the Choice compares
    for _, state in states(definition):
        if state["Type"] == "Task":
            body = state["Parameters"]["MessageBody"]
            assert body[f"{workflow.ORDER_ID}.$"] == f"$.{workflow.ORDER_ID}"
            if "event" in body:  # release_stock carries the lifecycle event that ends the unpaid order
                assert body["event"] in UNPAID_ENDS and body["event"] in lifecycle.EVENTS
    attention = definition["States"]["NeedsAttention"]["Parameters"]["MessageBody"]
    assert attention["failure.$"] == "$.error"  # every Catch keeps the error and cause at $.error
    for _, state in states(definition):
        for rule in state.get("Catch", []):
            assert rule["ResultPath"] == "$.error"
