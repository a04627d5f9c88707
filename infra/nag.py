"""cdk-nag's AwsSolutions rule pack over the CDK app: `make synth` fails on any finding nobody acknowledged.

Every acknowledgement names one rule (IAM5 findings name the exact resource pattern, as cdk-nag reports them) on
the construct it is about, with a one-line reason next to the code that causes it. Errors and warnings both fail:
a warning left standing is a decision nobody wrote down.

What the pack cannot see: the API and the Lambda functions come from Chalice's SAM template
(AWS::Serverless::Api and ::Function), which cdk-nag's API Gateway and Lambda rules do not inspect. Their access
logs, throttling, tracing and optional web ACL are asserted in tests/infra/test_stack.py instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

PACK = "AwsSolutions"


@dataclass(frozen=True)
class Finding:
    """One unacknowledged finding: the rule (with its IAM5 detail), its level and the construct path."""

    rule: str
    severity: str
    path: str
    description: str

    def __str__(self) -> str:
        return f"{self.severity.upper():7} {self.rule}  {self.path}: {self.description}"


def add_checks(app: cdk.App) -> AwsSolutionsChecks:
    """Register the rule pack as a validation plugin, so any synth of this app (CDK CLI included) runs it."""
    pack = AwsSolutionsChecks(app)
    cdk.Validations.of(app).add_plugins(pack)
    return pack


def findings(scope: IConstruct) -> list[Finding]:
    """Every unacknowledged finding under `scope`, errors and warnings, sorted by rule then path."""
    report = AwsSolutionsChecks().validate_scope(scope)
    found = [Finding(rule=violation.rule_name, severity=violation.severity or "error",
                     path=resource.construct_path or "?", description=violation.description)
             for violation in report.violations for resource in violation.violating_resources]
    return sorted(found, key=lambda finding: (finding.rule, finding.path))


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Accept one finding of `rule` ("S1", "IAM5[Resource::*]") on `construct` and its children, for `reason`."""
    if not reason.strip():
        raise ValueError(f"{PACK}-{rule} on {construct.node.path}: an acknowledgement needs a reason")
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=f"{PACK}-{rule}", reason=reason))
