"""The CDK app: one TokoflowStack per stage.

    python infra/app.py                 # dev only (the default stage)
    python infra/app.py dev prod        # both, what `make synth` writes to cdk.out/
    npx aws-cdk@2.1148.1 deploy --app ".venv/bin/python infra/app.py" -c stage=prod

Stages come from the command line, else the `stage` context (-c stage=prod, or "dev,prod"), else "dev".
Optional context: alarm_email=ops@example.co.id subscribes an address to the alarm topic.

cdk-nag's AwsSolutions pack checks every stack first: any finding not acknowledged in the code (error or warning)
is listed and the synth exits 1 without writing templates (infra/nag.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable (chalicelib, local, infra)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # as infra/__init__.py does

import aws_cdk as cdk

from infra import REPOSITORY_ROOT, nag
from infra.stacks import STAGES, TokoflowStack

DEFAULT_STAGE = "dev"


def parse_stages(value: str | None) -> list[str]:
    """ "prod" or "dev,prod" -> ["prod"] / ["dev", "prod"]; unknown names are an error, not a silent skip."""
    stages = [part.strip() for part in (value or DEFAULT_STAGE).replace(" ", ",").split(",") if part.strip()]
    unknown = [stage for stage in stages if stage not in STAGES]
    if unknown or not stages:
        raise SystemExit(f"unknown stage(s) {', '.join(unknown) or '(none)'}: expected {', '.join(STAGES)}")
    return list(dict.fromkeys(stages))


def build(stages: list[str] | None = None, *, outdir: str | None = None) -> cdk.App:
    """An app with a stack per stage; `stages` None means the context's (or the default)."""
    app = cdk.App(outdir=outdir or os.environ.get("CDK_OUTDIR") or str(REPOSITORY_ROOT / "cdk.out"))
    selected = stages or parse_stages(app.node.try_get_context("stage"))
    alarm_email = app.node.try_get_context("alarm_email")
    for stage in selected:
        TokoflowStack(app, stage, alarm_email=alarm_email)
    nag.add_checks(app)
    return app


def synthesize(app: cdk.App) -> int:
    """Synthesize `app` if cdk-nag finds nothing unacknowledged; else list the findings on stderr and return 1."""
    findings = nag.findings(app)
    if findings:
        print(f"cdk-nag {nag.PACK}: {len(findings)} unacknowledged finding(s); fix them, or acknowledge one with "
              "nag.acknowledge(construct, rule, reason) next to the code that causes it:", file=sys.stderr)
        for finding in findings:
            print(f"  {finding}", file=sys.stderr)
        return 1
    app.synth()
    return 0


def main(argv: list[str]) -> int:
    stages = parse_stages(",".join(argv)) if argv else None
    return synthesize(build(stages))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
