"""Secrets come from configuration: the variable locally, a named secret or SSM parameter on AWS."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import config


def test_a_secret_set_in_the_environment_is_used_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKOFLOW_EXAMPLE_KEY", "from-env")
    monkeypatch.setenv("TOKOFLOW_EXAMPLE_KEY_PARAMETER", "/never/read")
    assert config.secret("TOKOFLOW_EXAMPLE_KEY") == "from-env"


def test_a_missing_secret_is_empty_so_callers_fail_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOKOFLOW_EXAMPLE_KEY", raising=False)
    monkeypatch.delenv("TOKOFLOW_EXAMPLE_KEY_PARAMETER", raising=False)
    assert config.secret("TOKOFLOW_EXAMPLE_KEY") == ""


def test_on_aws_the_secret_is_fetched_from_the_named_ssm_parameter_or_secret(
        monkeypatch: pytest.MonkeyPatch, aws: Any) -> None:
    import boto3
    from aws_lambda_powertools.utilities import parameters

    monkeypatch.delenv("TOKOFLOW_EXAMPLE_KEY", raising=False)
    boto3.client("ssm").put_parameter(Name="/tokoflow/test/example", Value="from-ssm", Type="SecureString")
    boto3.client("secretsmanager").create_secret(Name="tokoflow/test/example", SecretString="from-secrets")
    parameters.clear_caches()

    monkeypatch.setenv("TOKOFLOW_EXAMPLE_KEY_PARAMETER", "/tokoflow/test/example")
    assert config.secret("TOKOFLOW_EXAMPLE_KEY") == "from-ssm"
    monkeypatch.setenv("TOKOFLOW_EXAMPLE_KEY_PARAMETER", "tokoflow/test/example")
    assert config.secret("TOKOFLOW_EXAMPLE_KEY") == "from-secrets"
