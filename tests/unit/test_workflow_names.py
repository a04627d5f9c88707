"""The names the state machines and the Python workers share (tasks, errors, input and result fields) agree on both
sides: statemachines/fulfilment.asl.json with chalicelib/orders/workflow.py and the fulfilment worker, and
statemachines/returns.asl.json with chalicelib/returns/workflow.py and the return worker."""

from __future__ import annotations

import ast
import importlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from chalicelib.fulfilment import service as fulfilment_service
from chalicelib.fulfilment.service import UNPAID_ENDS
from chalicelib.orders import lifecycle, workflow
from chalicelib.returns import domain as returns_domain
from chalicelib.returns import service as returns_service
from chalicelib.returns import workflow as returns_workflow
from chalicelib.shipping import tracking

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = sorted((ROOT / "statemachines").glob("*.asl.json"))


@dataclass(frozen=True)
class Machine:
    """One state machine and the Python that works its steps."""

    asl: str  # file name under statemachines/
    names: ModuleType  # the workflow module holding the names the ASL shares
    handlers: Mapping[str, Callable[..., str]]  # the worker's task -> handler table
    subject: str  # the execution input field naming what the execution is about, in every message
    retried: frozenset[str]  # errors Python sends that a Retry must name
    caught: frozenset[str]  # errors Python sends that a Catch must route by name

    def definition(self) -> dict[str, Any]:
        return json.loads((ROOT / "statemachines" / self.asl).read_text(encoding="utf-8"))


FULFILMENT = Machine("fulfilment.asl.json", workflow, fulfilment_service.TASKS, workflow.ORDER_ID,
                     retried=frozenset({workflow.WORKER_ERROR, workflow.COURIER_UNAVAILABLE}),
                     caught=frozenset({workflow.PAYMENT_EXPIRED, workflow.PAYMENT_FAILED, workflow.ORDER_CANCELLED,
                                       workflow.PAYMENT_HELD, workflow.COURIER_OUTCOME_UNKNOWN,
                                       workflow.PARCEL_NOT_DELIVERED}))
RETURNS = Machine("returns.asl.json", returns_workflow, returns_service.TASKS, returns_workflow.RETURN_ID,
                  retried=frozenset({returns_workflow.WORKER_ERROR}), caught=frozenset())
MACHINES = [pytest.param(machine, id=machine.asl.removesuffix(".asl.json")) for machine in (FULFILMENT, RETURNS)]


def states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in definition["States"].items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from states(branch)
        if "Iterator" in state or "ItemProcessor" in state:
            yield from states(state.get("ItemProcessor") or state["Iterator"])


def fulfilment() -> dict[str, Any]:
    return FULFILMENT.definition()


def returns() -> dict[str, Any]:
    return RETURNS.definition()


def test_every_state_machine_definition_is_checked_here() -> None:
    assert {path.name for path in DEFINITIONS} == {FULFILMENT.asl, RETURNS.asl}


@pytest.mark.parametrize("machine", MACHINES)
def test_every_task_the_state_machine_sends_has_a_worker_and_every_worker_is_used(machine: Machine) -> None:
    sent = {state["Parameters"]["MessageBody"]["task"] for _, state in states(machine.definition())
            if state["Type"] == "Task"}
    assert sent == set(machine.names.TASKS) == set(machine.handlers)


@pytest.mark.parametrize("machine", MACHINES)
def test_every_error_the_state_machine_names_is_one_python_sends(machine: Machine) -> None:
    named = set()
    for _, state in states(machine.definition()):
        for rule in state.get("Retry", []) + state.get("Catch", []):
            named |= {error for error in rule["ErrorEquals"] if not error.startswith("States.")}
    errors = machine.names.ERRORS
    assert named <= errors, f"{machine.asl} names errors Python never sends: {named - errors}"


def _workflow_module(tree: ast.Module) -> str | None:
    """The module a file imports as `workflow` (`from chalicelib.X import workflow`), if any."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if any(alias.name == "workflow" and alias.asname is None for alias in node.names):
                return f"{node.module}.workflow"
    return None


def _errors_sent_by_python() -> dict[str, set[str]]:
    """Every `workflow.fail(token, workflow.X, ...)` in chalicelib, by the workflow module `workflow` is in that
    file: the error names Python really sends to each state machine."""
    sent: dict[str, set[str]] = {}
    for path in (ROOT / "chalicelib").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module_name = _workflow_module(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "fail"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "workflow"):
                assert module_name, f"{path.name}:{node.lineno}: workflow.fail without `from ... import workflow`"
                error = node.args[1]
                if isinstance(error, ast.Attribute):
                    sent.setdefault(module_name, set()).add(getattr(importlib.import_module(module_name), error.attr))
                elif isinstance(error, ast.Subscript | ast.Name):
                    continue  # looked up from a table of workflow constants, checked below
                else:
                    raise AssertionError(f"{path.name}:{node.lineno}: workflow.fail with a literal error name")
    return sent


@pytest.mark.parametrize("machine", MACHINES)
def test_every_error_python_sends_is_routed_on_purpose(machine: Machine) -> None:
    """Retried errors must be in a Retry; the ones that end a wait must be caught by name; the rest reach
    NeedsAttention through States.ALL, which every task step has."""
    definition = machine.definition()
    retried = {error for _, state in states(definition) for rule in state.get("Retry", []) for error in
               rule["ErrorEquals"]}
    caught = {error for _, state in states(definition) for rule in state.get("Catch", []) for error in
              rule["ErrorEquals"]}
    assert machine.retried <= retried
    assert machine.caught <= caught
    for name, state in states(definition):
        if state["Type"] == "Task" and name != "NeedsAttention":
            assert any("States.ALL" in rule["ErrorEquals"] for rule in state.get("Catch", [])), name
    sent = _errors_sent_by_python().get(machine.names.__name__, set())
    assert sent and sent <= machine.names.ERRORS


@pytest.mark.parametrize("machine", MACHINES)
def test_the_steps_that_can_lose_a_race_are_retried_by_the_state_machine(machine: Machine) -> None:
    for name, state in states(machine.definition()):
        if state["Type"] == "Task" and not state["Parameters"]["MessageBody"]["task"].startswith("await_"):
            assert any(machine.names.WORKER_ERROR in rule["ErrorEquals"] for rule in state.get("Retry", [])), name


@pytest.mark.parametrize("machine", MACHINES)
def test_every_step_message_names_its_subject_and_every_failure_reaches_needs_attention(machine: Machine) -> None:
    definition = machine.definition()
    for _, state in states(definition):
        if state["Type"] == "Task":
            body = state["Parameters"]["MessageBody"]
            assert body[f"{machine.subject}.$"] == f"$.{machine.subject}"
            assert body[f"{machine.names.ORDER_ID}.$"] == f"$.{machine.names.ORDER_ID}"
            assert body["token.$"] == "$$.Task.Token"
    attention = definition["States"]["NeedsAttention"]["Parameters"]["MessageBody"]
    assert attention["failure.$"] == "$.error"  # every Catch keeps the error and cause at $.error
    for _, state in states(definition):
        for rule in state.get("Catch", []):
            assert rule["ResultPath"] == "$.error"


@pytest.mark.parametrize("machine", MACHINES)
def test_a_succeed_state_is_only_a_choice_s_ending_since_a_task_can_end_the_execution_itself(machine: Machine) -> None:
    """Each state entered is billed: a Task whose next state would be a Succeed state ends with End instead."""
    definition = machine.definition()
    for name, state in states(definition):
        if state["Type"] != "Choice" and "Next" in state:
            assert definition["States"][state["Next"]]["Type"] != "Succeed", name


def test_fulfilment_input_and_result_fields_match() -> None:
    definition = fulfilment()
    first = definition["States"][definition["StartAt"]]
    assert first["Parameters"]["MessageBody"]["task"] == workflow.AWAIT_PAYMENT  # it also decides cash on delivery
    assert first["TimeoutSecondsPath"] == f"$.{workflow.PAYMENT_TIMEOUT}"
    assert tracking.outcome(tracking.DELIVERED) == workflow.DELIVERED  # the courier's word complete_order compares
    for _, state in states(definition):
        if state["Type"] == "Task":
            body = state["Parameters"]["MessageBody"]
            if "event" in body:  # release_stock carries the lifecycle event that ends the unpaid order
                assert body["event"] in UNPAID_ENDS and body["event"] in lifecycle.EVENTS


# ---- the returns state machine, walked with what the Python side really produces ------------------------------


def read(data: Mapping[str, Any], path: str) -> Any:
    """The value at a simple JSONPath ("$.a.b"); KeyError when absent."""
    assert path.startswith("$."), path
    value: Any = data
    for key in path[2:].split("."):
        value = value[key]
    return value


def put(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """`data` with `value` at a state's ResultPath ("$.a")."""
    assert path.startswith("$.") and "." not in path[2:], path
    return {**data, path[2:]: value}


def choose(choice: dict[str, Any], data: Mapping[str, Any]) -> str:
    """The state a Choice goes to for `data` (the comparisons the returns ASL uses)."""
    for rule in choice["Choices"]:
        try:
            value = read(data, rule["Variable"])
        except KeyError:
            present = False
        else:
            present = True
        if "IsPresent" in rule:
            matched = present == rule["IsPresent"]
        elif "StringEquals" in rule:
            matched = present and value == rule["StringEquals"]
        elif "BooleanEquals" in rule:
            matched = present and value is rule["BooleanEquals"]
        else:
            raise AssertionError(f"a comparison this test does not read: {rule}")
        if matched:
            return rule["Next"]
    return choice["Default"]


def task_of(definition: dict[str, Any], name: str) -> str | None:
    state = definition["States"][name]
    return state["Parameters"]["MessageBody"]["task"] if state["Type"] == "Task" else None


def started_input(monkeypatch: pytest.MonkeyPatch, *, approved: bool) -> dict[str, Any]:
    """The execution input returns.workflow.start really sends."""
    started: list[dict[str, Any]] = []

    class StepFunctions:
        def start_execution(self, **kwargs: Any) -> None:
            started.append(kwargs)

    monkeypatch.setattr(returns_workflow.aws, "client", lambda name: StepFunctions())
    monkeypatch.setattr(returns_workflow, "state_machine_arn", lambda: "arn:aws:states:::stateMachine:returns")
    returns_workflow.start("TK-261201-ABCDEF-R1", "TK-261201-ABCDEF", approved=approved, parcel_timeout_seconds=60)
    (call,) = started
    assert call["name"] == "TK-261201-ABCDEF-R1"
    return json.loads(call["input"])


@pytest.mark.parametrize(("approved", "first_task"), [(True, returns_workflow.AWAIT_PARCEL),
                                                      (False, returns_workflow.AWAIT_DECISION)])
def test_returns_execution_input_starts_a_courier_return_at_the_parcel_and_a_customer_return_at_the_decision(
        monkeypatch: pytest.MonkeyPatch, approved: bool, first_task: str) -> None:
    definition = returns()
    execution_input = started_input(monkeypatch, approved=approved)
    origin = definition["States"][definition["StartAt"]]
    assert origin["Type"] == "Choice"
    assert task_of(definition, choose(origin, execution_input)) == first_task
    parcel = next(state for _, state in states(definition) if state["Type"] == "Task"
                  and state["Parameters"]["MessageBody"]["task"] == returns_workflow.AWAIT_PARCEL)
    assert read(execution_input, parcel["TimeoutSecondsPath"]) == 60
    for _, state in states(definition):  # every field a message reads from the input is in it
        if state["Type"] == "Task":
            for key, path in state["Parameters"]["MessageBody"].items():
                if key.endswith(".$") and path.startswith("$.") and key != "failure.$" and key != "payout_id.$":
                    read(execution_input, path)


def a_return(status: str, *, refund_only: bool = False) -> returns_domain.Return:
    return returns_domain.Return(
        return_id="TK-261201-ABCDEF-R1", order_id="TK-261201-ABCDEF", status=status, origin=returns_domain.CUSTOMER,
        reason=returns_domain.DAMAGED, note="", lines=(), shop_at_fault=True, created_at="2026-12-05T08:00:00.000Z",
        updated_at="2026-12-05T08:00:00.000Z", refund_only=refund_only)


@pytest.mark.parametrize(("ret", "decision", "next_task"), [
    pytest.param(a_return(returns_domain.APPROVED), returns_workflow.APPROVE, returns_workflow.AWAIT_PARCEL,
                 id="approve"),
    pytest.param(a_return(returns_domain.APPROVED, refund_only=True), returns_workflow.REFUND_ONLY,
                 returns_workflow.REFUND_RETURN, id="refund_only"),
    pytest.param(a_return(returns_domain.REJECTED), returns_workflow.REJECT, None, id="reject"),
])
def test_returns_decision_choice_reads_the_decision_the_worker_answers(
        ret: returns_domain.Return, decision: str, next_task: str | None) -> None:
    definition = returns()
    (waiting,) = [state for _, state in states(definition) if state["Type"] == "Task"
                  and state["Parameters"]["MessageBody"]["task"] == returns_workflow.AWAIT_DECISION]
    answer = returns_service._decided(ret)
    assert answer == {returns_workflow.DECISION: decision}
    data = put({returns_workflow.RETURN_ID: ret.return_id}, waiting["ResultPath"], answer)
    choice = definition["States"][waiting["Next"]]
    assert choice["Type"] == "Choice"
    decision_field = f"{waiting['ResultPath']}.{returns_workflow.DECISION}"
    assert {rule["Variable"] for rule in choice["Choices"]} == {decision_field}
    compared = {rule["StringEquals"] for rule in choice["Choices"]}
    assert compared <= {returns_workflow.APPROVE, returns_workflow.REFUND_ONLY, returns_workflow.REJECT}
    target = choose(choice, data)
    assert task_of(definition, target) == next_task
    if next_task is None:
        assert definition["States"][target]["Type"] == "Succeed"


@pytest.mark.parametrize(("payout_id", "next_task"), [("refund-TK-261201-ABCDEF-R1", returns_workflow.AWAIT_PAYOUT),
                                                      (None, returns_workflow.CLOSE_RETURN)],
                         ids=["payout", "gateway"])
def test_returns_refund_route_waits_for_the_payout_the_worker_names_and_hands_it_to_the_payout_step(
        monkeypatch: pytest.MonkeyPatch, payout_id: str | None, next_task: str) -> None:
    definition = returns()
    answers: list[dict[str, Any]] = []

    def resume(token: str, output: dict[str, Any]) -> bool:
        answers.append(output)
        return True

    monkeypatch.setattr(returns_workflow, "resume", resume)
    refunded = a_return(returns_domain.REFUNDING)
    refund: dict[str, Any] = {"goods": 50_000, "shipping": 0, "total": 50_000, "amount": 50_000,
              "by": "payout" if payout_id else "gateway", "payout_id": payout_id, "units": {}, "refund_key": "k"}
    monkeypatch.setattr(returns_service, "_load", lambda return_id: replace(refunded, refund=refund))
    returns_service.refund_return(refunded.return_id, "token-1", {})
    (output,) = answers
    assert (returns_workflow.PAYOUT_ID in output) == bool(payout_id)

    (refunding,) = [state for _, state in states(definition) if state["Type"] == "Task"
                    and state["Parameters"]["MessageBody"]["task"] == returns_workflow.REFUND_RETURN]
    data = put({returns_workflow.RETURN_ID: refunded.return_id, returns_workflow.ORDER_ID: refunded.order_id},
               refunding["ResultPath"], output)
    route = definition["States"][refunding["Next"]]
    payout_field = f"{refunding['ResultPath']}.{returns_workflow.PAYOUT_ID}"
    assert [rule["Variable"] for rule in route["Choices"]] == [payout_field]
    target = choose(route, data)
    assert task_of(definition, target) == next_task
    if payout_id is None:
        return
    body = definition["States"][target]["Parameters"]["MessageBody"]
    message = {key.removesuffix(".$"): read(data, path) for key, path in body.items()
               if key.endswith(".$") and path.startswith("$.")}
    assert message[returns_workflow.PAYOUT_ID] == payout_id  # what await_payout reads
    waited: list[str] = []

    def await_payout(paid: str, token: str) -> bool:
        waited.append(paid)
        return False

    monkeypatch.setattr(returns_service.payments, "await_payout", await_payout)
    returns_service.await_payout(refunded.return_id, "token-2", message)
    assert waited == [payout_id]
