"""Each stage's synthesized stack, built once per test session and shared by every infra test module:
building packages the Chalice app and starts jsii, seconds and about 1 GB each time."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture(scope="session")
def stage_stack(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Any]:
    """stage -> that stage's TokoflowStack, in an app of its own (built once per session)."""
    pytest.importorskip("aws_cdk", reason="infrastructure tools not installed: make infra-test installs them")
    import aws_cdk as cdk

    from infra.stacks import TokoflowStack

    outdir = str(tmp_path_factory.getbasetemp() / "cdk.out")

    @functools.cache
    def stack(stage: str) -> Any:
        return TokoflowStack(cdk.App(outdir=outdir), stage)

    return stack


@pytest.fixture(scope="session")
def stack_template(stage_stack: Callable[[str], Any]) -> Callable[[str], Any]:
    """stage -> aws_cdk.assertions.Template of that stage's stack."""
    from aws_cdk.assertions import Template

    @functools.cache
    def template(stage: str) -> Template:
        return Template.from_stack(stage_stack(stage))

    return template
