"""The state machine definitions: a sound graph, and only task-token steps on queues the stack substitutes.

The graph checks run on the .asl.json files alone; the substitution check reads the synthesized dev stack
(conftest's stack_template, shared with the other infra tests).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from chalicelib import resources
from chalicelib.resources import StateMachineSpec
from infra.lint_asl import graph_problems, lint_template, load_definition, nested_machines, placeholders
from local.provision import pascal

WAIT_FOR_TOKEN = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
MACHINES = [pytest.param(spec, id=spec.name) for spec in resources.STATE_MACHINES]


def task_states(definition: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(name, state) for every Task state, nested machines included."""
    for name, state in (definition.get("States") or {}).items():
        if state.get("Type") == "Task":
            yield name, state
        for _, machine in nested_machines(state):
            yield from task_states(machine)


@pytest.mark.parametrize("spec", MACHINES)
def test_start_at_and_every_target_exist_and_every_state_is_reachable(spec: StateMachineSpec) -> None:
    assert graph_problems(load_definition(spec)) == []


@pytest.mark.parametrize("spec", MACHINES)
def test_every_task_sends_a_task_token_to_a_queue_placeholder(spec: StateMachineSpec) -> None:
    tasks = list(task_states(load_definition(spec)))
    assert tasks
    queue_placeholders = {f"${{{pascal(queue.name)}QueueUrl}}" for queue in resources.QUEUES}
    for name, state in tasks:
        assert state["Resource"] == WAIT_FOR_TOKEN, name
        parameters = state["Parameters"]
        assert parameters["QueueUrl"] in queue_placeholders, name
        assert parameters["MessageBody"]["token.$"] == "$$.Task.Token", name
        assert parameters["MessageBody"]["task"], name
        assert "TimeoutSeconds" in state or "TimeoutSecondsPath" in state, name  # no step waits forever


@pytest.mark.parametrize("spec", MACHINES)
def test_the_stack_substitutes_every_placeholder_with_the_right_queue(spec: StateMachineSpec,
                                                                      stack_template: Callable[[str], Any]) -> None:
    raw = stack_template("dev").to_json()
    (machine,) = [m["Properties"] for m in raw["Resources"].values()
                  if m["Type"] == "AWS::StepFunctions::StateMachine"
                  and m["Properties"]["StateMachineName"] == f"tokoflow-dev-{spec.name}"]
    file_text = (resources.REPOSITORY_ROOT / spec.definition_file).read_text(encoding="utf-8")
    assert json.loads(machine["DefinitionString"]) == json.loads(file_text)  # the same file, not a copy
    substitutions = machine["DefinitionSubstitutions"]
    used = placeholders(load_definition(spec))
    assert sorted(substitutions) == sorted(used)
    for name in used:
        queue = re.fullmatch(r"(.+)QueueUrl", name)
        assert queue, f"{name}: only queue URLs are expected in {spec.definition_file}"
        (spec_queue,) = [q for q in resources.QUEUES if pascal(q.name) == queue.group(1)]
        target = raw["Resources"][substitutions[name]["Ref"]]
        assert target["Type"] == "AWS::SQS::Queue"
        assert target["Properties"]["QueueName"] == f"tokoflow-dev-{spec_queue.name}"


@pytest.mark.parametrize("spec", MACHINES)
def test_the_lint_template_carries_the_definition_without_the_sam_transform(spec: StateMachineSpec) -> None:
    template = lint_template([spec])
    assert "Transform" not in template
    (machine,) = [r["Properties"] for r in template["Resources"].values()
                  if r["Type"] == "AWS::StepFunctions::StateMachine"]
    assert machine["Definition"] == load_definition(spec)
    for name, value in machine["DefinitionSubstitutions"].items():
        referenced = value.get("Ref") or value["Fn::GetAtt"][0]
        assert referenced in template["Resources"] or referenced.startswith("AWS::"), name


# ---- the checker itself finds what it should -------------------------------------------------------------------


def _tiny() -> dict[str, Any]:
    return {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "BooleanEquals": True, "Next": "B"}],
                  "Default": "C"},
            "B": {"Type": "Pass", "Next": "Done", },
            "C": {"Type": "Task", "Resource": WAIT_FOR_TOKEN, "Next": "Done",
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}]},
            "Done": {"Type": "Succeed"},
            "Failed": {"Type": "Fail"},
        },
    }


def test_a_sound_graph_has_no_problems() -> None:
    assert graph_problems(_tiny()) == []


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d.update(StartAt="Nope"), "/StartAt: 'Nope' is not a state"),
    (lambda d: d["States"]["B"].update(Next="Nope"), "/States/B/Next: 'Nope' is not a state"),
    (lambda d: d["States"]["A"].update(Default="Nope"), "/States/A/Default: 'Nope' is not a state"),
    (lambda d: d["States"]["A"]["Choices"][0].update(Next="Nope"), "/States/A/Choices[0].Next: 'Nope' is not"),
    (lambda d: d["States"]["C"]["Catch"][0].update(Next="Nope"), "/States/C/Catch[0].Next: 'Nope' is not"),
    (lambda d: d["States"].update(Orphan={"Type": "Succeed"}), "/States/Orphan: unreachable from StartAt"),
    (lambda d: d["States"]["B"].pop("Next"), "/States/B: neither Next nor End"),
    (lambda d: d["States"].update(P={"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Y"}}}]}) or d["States"]["B"].update(Next="P"),
     "/States/P/Branches[0]/States/X/Next: 'Y' is not a state"),
])
def test_the_checker_reports(mutate: Any, expected: str) -> None:
    definition = copy.deepcopy(_tiny())
    mutate(definition)
    problems = graph_problems(definition)
    assert any(problem.startswith(expected) for problem in problems), problems
