"""Check the state machine definitions where cfn-lint cannot.

cfn-lint's Amazon States Language checks (E3601) are skipped for a DefinitionString in any template carrying
the SAM transform, which every CDK template here does (Chalice's functions are SAM functions); and no cfn-lint
rule notices a Next that names a missing state. So this module

- writes a plain CloudFormation template (no transform) holding every state machine of
  chalicelib.resources.STATE_MACHINES as a `Definition` object read from the SAME .asl.json file, its
  ${Placeholders} bound through DefinitionSubstitutions to stand-in queues, tables and buckets in that template
  (the naming rule of local/provision.py automatic_placeholders), for `cfn-lint` to validate;
- walks each definition: StartAt and every Next / Default / Choices[].Next / Catch[].Next must name a state,
  every state must be reachable, every non-terminal state must say where it goes.

    python -m infra.lint_asl cdk.out/asl-lint.template.json     # what `make lint-infra` runs
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from chalicelib import resources
from chalicelib.resources import StateMachineSpec
from local.provision import pascal

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
TERMINAL_TYPES = {"Succeed", "Fail"}


# ---- the graph ----------------------------------------------------------------------------------------------


def load_definition(spec: StateMachineSpec, root: Path = resources.REPOSITORY_ROOT) -> dict[str, Any]:
    """The definition as written, placeholders and all (they sit inside JSON strings)."""
    return json.loads((root / spec.definition_file).read_text(encoding="utf-8"))


def transitions(state: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, target) for every state this one can move to: Next, Default, each Choice, each Catch."""
    if "Next" in state:
        yield "Next", state["Next"]
    if "Default" in state:
        yield "Default", state["Default"]
    for index, choice in enumerate(state.get("Choices") or []):
        if "Next" in choice:
            yield f"Choices[{index}].Next", choice["Next"]
    for index, catcher in enumerate(state.get("Catch") or []):
        if "Next" in catcher:
            yield f"Catch[{index}].Next", catcher["Next"]


def nested_machines(state: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Parallel branches and Map processors: each is a state machine of its own."""
    for index, branch in enumerate(state.get("Branches") or []):
        yield f"Branches[{index}]", branch
    for key in ("ItemProcessor", "Iterator"):
        if isinstance(state.get(key), Mapping):
            yield key, state[key]


def graph_problems(definition: Mapping[str, Any], where: str = "") -> list[str]:
    """Everything wrong with the shape of the state graph; an empty list when it is sound."""
    problems: list[str] = []
    states = definition.get("States")
    if not isinstance(states, Mapping) or not states:
        return [f"{where or '/'}: no States"]
    start = definition.get("StartAt")
    if start not in states:
        problems.append(f"{where}/StartAt: {start!r} is not a state")
    for name, state in states.items():
        for field, target in transitions(state):
            if target not in states:
                problems.append(f"{where}/States/{name}/{field}: {target!r} is not a state")
        kind = state.get("Type")
        if kind == "Choice":
            if not state.get("Choices"):
                problems.append(f"{where}/States/{name}: a Choice state needs Choices")
        elif kind not in TERMINAL_TYPES and not state.get("End") and "Next" not in state:
            problems.append(f"{where}/States/{name}: neither Next nor End")
        for label, machine in nested_machines(state):
            problems.extend(graph_problems(machine, f"{where}/States/{name}/{label}"))
    for name in unreachable_states(definition):
        problems.append(f"{where}/States/{name}: unreachable from StartAt")
    return problems


def unreachable_states(definition: Mapping[str, Any]) -> list[str]:
    """States no path from StartAt reaches (nested machines are checked on their own)."""
    states = definition.get("States") or {}
    seen: set[str] = set()
    pending = [definition.get("StartAt")]
    while pending:
        name = pending.pop()
        if not isinstance(name, str) or name in seen or name not in states:
            continue
        seen.add(name)
        pending.extend(target for _, target in transitions(states[name]))
    return [name for name in states if name not in seen]


def placeholders(definition: Any) -> list[str]:
    """The ${Name} placeholders used anywhere in a definition, in order of first use."""
    return list(dict.fromkeys(PLACEHOLDER.findall(json.dumps(definition))))


# ---- the template for cfn-lint ------------------------------------------------------------------------------


def stand_in_values() -> tuple[dict[str, Any], dict[str, Any]]:
    """(resources, placeholder -> intrinsic) for every automatic placeholder of chalicelib.resources.

    Each table, queue (with its dead-letter queue) and bucket gets a minimal stand-in resource; each
    placeholder maps to the Ref or GetAtt that the CDK stack substitutes for it.
    """
    template_resources: dict[str, Any] = {}
    values: dict[str, Any] = {"AwsRegion": {"Ref": "AWS::Region"}, "AwsAccountId": {"Ref": "AWS::AccountId"}}
    for table in resources.TABLES:
        logical = f"{pascal(table.name)}Table"
        keys = [(table.hash_key, "HASH")] + ([(table.range_key, "RANGE")] if table.range_key else [])
        template_resources[logical] = {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": key.name, "AttributeType": key.type} for key, _ in keys],
                "KeySchema": [{"AttributeName": key.name, "KeyType": kind} for key, kind in keys],
            },
        }
        values[f"{logical}Name"] = {"Ref": logical}
        values[f"{logical}Arn"] = {"Fn::GetAtt": [logical, "Arn"]}
    for queue in resources.QUEUES:
        stem = pascal(queue.name)
        for logical in (f"{stem}Queue", f"{stem}Dlq"):
            template_resources[logical] = {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": True}}
            values[f"{logical}Name"] = {"Fn::GetAtt": [logical, "QueueName"]}
            values[f"{logical}Url"] = {"Ref": logical}
            values[f"{logical}Arn"] = {"Fn::GetAtt": [logical, "Arn"]}
    for bucket in resources.BUCKETS:
        logical = f"{pascal(bucket.name)}Bucket"
        template_resources[logical] = {"Type": "AWS::S3::Bucket", "Properties": {}}
        values[f"{logical}Name"] = {"Ref": logical}
    return template_resources, values


def lint_template(specs: Iterable[StateMachineSpec] = resources.STATE_MACHINES,
                  root: Path = resources.REPOSITORY_ROOT) -> dict[str, Any]:
    """A transform-free template with every state machine, for cfn-lint's E3601 checks."""
    template_resources, values = stand_in_values()
    for spec in specs:
        definition = load_definition(spec, root)
        available = dict(values)
        for key, value in spec.substitutions.items():
            available[key] = {"Fn::Sub": [value, {name: values[name] for name in PLACEHOLDER.findall(value)}]}
        used = placeholders(definition)
        missing = [name for name in used if name not in available]
        if missing:
            raise ValueError(f"{spec.definition_file}: no value for placeholder(s) {', '.join(missing)}")
        stem = pascal(spec.name)
        queue_arns = [values[f"{pascal(q.name)}QueueArn"] for q in resources.QUEUES
                      if f"{pascal(q.name)}QueueUrl" in used or f"{pascal(q.name)}QueueName" in used]
        role: dict[str, Any] = {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            },
        }
        if queue_arns:
            role["Properties"]["Policies"] = [{"PolicyName": "send-tasks", "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arns}]}}]
        template_resources[f"{stem}StateMachineRole"] = role
        properties: dict[str, Any] = {
            "StateMachineType": "STANDARD",
            "RoleArn": {"Fn::GetAtt": [f"{stem}StateMachineRole", "Arn"]},
            "Definition": definition,
        }
        if used:
            properties["DefinitionSubstitutions"] = {name: available[name] for name in used}
        template_resources[f"{stem}StateMachine"] = {"Type": "AWS::StepFunctions::StateMachine",
                                                     "Properties": properties}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "TokoFlow state machine definitions for cfn-lint (E3601); never deployed",
        "Resources": template_resources,
    }


def all_problems(specs: Iterable[StateMachineSpec] = resources.STATE_MACHINES,
                 root: Path = resources.REPOSITORY_ROOT) -> list[str]:
    return [f"{spec.definition_file}: {problem}" for spec in specs
            for problem in graph_problems(load_definition(spec, root))]


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else resources.REPOSITORY_ROOT / "cdk.out" / "asl-lint.template.json"
    problems = all_problems()
    for problem in problems:
        print(problem, file=sys.stderr)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(lint_template(), indent=1) + "\n", encoding="utf-8")
    print(f"{out}: {len(resources.STATE_MACHINES)} state machine(s); graph problems: {len(problems)}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
