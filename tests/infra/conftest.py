"""Each stage's synthesized stack, built once per test session and shared by every infra test module:
building packages the Chalice app and starts jsii, seconds and about 1 GB each time."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture(scope="session")
def stack_template(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Any]:
    """stage -> aws_cdk.assertions.Template of that stage's stack, in an app of its own."""
    pytest.importorskip("aws_cdk", reason="infrastructure tools not installed: make infra-test installs them")
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.stacks import TokoflowStack

    outdir = str(tmp_path_factory.getbasetemp() / "cdk.out")

    @functools.cache
    def template(stage: str) -> Template:
        return Template.from_stack(TokoflowStack(cdk.App(outdir=outdir), stage))

    return template
