"""cdk-nag's AwsSolutions pack: both stages pass with every accepted finding acknowledged with a reason, and a
finding nobody acknowledged fails the synth (infra.app.synthesize), error or warning alike."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="infrastructure tools not installed: make infra-test installs them")

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3

from infra import nag
from infra.app import synthesize
from infra.stacks.tokoflow import STAGES


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_stage_passes_the_aws_solutions_pack(stage: str, stage_stack: Callable[[str], Any]) -> None:
    assert [str(finding) for finding in nag.findings(stage_stack(stage))] == []


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_every_acknowledgement_carries_a_reason(stage: str, stage_stack: Callable[[str], Any]) -> None:
    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    acknowledged = [entry.data for construct in stage_stack(stage).node.find_all()
                    for entry in construct.node.metadata if entry.type == key]
    assert acknowledged
    for rules in acknowledged:
        for rule, reason in rules.items():
            assert rule.removeprefix("Annotation::").startswith(f"{nag.PACK}-"), rule
            assert len(str(reason).strip()) > 20, rule


def tiny_app(tmp_path: Path, *, acknowledge: bool) -> cdk.App:
    """An app whose only bucket has no server access logs, no SSL policy and no public access block."""
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "tiny")
    bucket = s3.Bucket(stack, "Careless", block_public_access=s3.BlockPublicAccess(block_public_acls=False))
    if acknowledge:
        for rule in ("S1", "S2", "S10"):
            nag.acknowledge(bucket, rule, "A test bucket that exists to be acknowledged")
    nag.add_checks(app)
    return app


def test_an_unacknowledged_finding_fails_the_synth_and_is_listed(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    app = tiny_app(tmp_path, acknowledge=False)
    assert {finding.rule for finding in nag.findings(app)} >= {"AwsSolutions-S1", "AwsSolutions-S10"}
    assert synthesize(app) == 1
    listing = capsys.readouterr().err
    assert "AwsSolutions-S1 " in listing and "tiny/Careless/Resource" in listing
    assert not (tmp_path / "cdk.out" / "tiny.template.json").exists()


def test_acknowledged_findings_let_the_synth_through(tmp_path: Path) -> None:
    app = tiny_app(tmp_path, acknowledge=True)
    assert nag.findings(app) == []
    assert synthesize(app) == 0
    assert (tmp_path / "cdk.out" / "tiny.template.json").exists()


def test_a_warning_fails_too(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "warned")
    dynamodb.Table(stack, "Unrecoverable",  # DDB3, a warning: no point-in-time recovery
                   partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING))
    findings = nag.findings(app)
    assert findings and {finding.severity for finding in findings} == {"warning"}
    assert synthesize(app) == 1


def test_an_acknowledgement_without_a_reason_is_refused(tmp_path: Path) -> None:
    stack = cdk.Stack(cdk.App(outdir=str(tmp_path)), "tiny")
    with pytest.raises(ValueError, match="needs a reason"):
        nag.acknowledge(s3.Bucket(stack, "Bucket"), "S1", " ")
