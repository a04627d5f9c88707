"""Secrets come from configuration: the variable locally, a named secret or SSM parameter on AWS."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, tzinfo
from typing import Any, Self

import pytest

from chalicelib import config
from tests.fakes import FakeTransport


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


# ---- a rotated provider secret reaches the next outgoing call within five minutes -------------------------------


def _authorization(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def test_a_rotated_midtrans_key_in_secrets_manager_signs_calls_within_five_minutes(
        monkeypatch: pytest.MonkeyPatch, aws: Any) -> None:
    import boto3
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters import base as parameter_cache

    from chalicelib.payments import adapters, midtrans

    # GIVEN Midtrans configured as on AWS: the key lives in Secrets Manager, the function knows its name
    secrets = boto3.client("secretsmanager")
    secrets.create_secret(Name="tokoflow-test/midtrans-server-key", SecretString="SB-Mid-server-OLD")
    monkeypatch.delenv(config.MIDTRANS_SERVER_KEY, raising=False)
    monkeypatch.setenv(config.MIDTRANS_SERVER_KEY + config.SECRET_PARAMETER_SUFFIX, "tokoflow-test/midtrans-server-key")
    monkeypatch.setenv(config.PAYMENT_GATEWAY, "midtrans")
    transport = FakeTransport([(404, json.dumps({"status_code": "404"}).encode())] * 3)
    monkeypatch.setattr(midtrans, "urllib_transport", transport)
    parameters.clear_caches()
    adapters.reset()
    try:
        adapters.payment_gateway().status("TK-261123-7QX2MD")
        assert transport.last.headers["Authorization"] == _authorization("SB-Mid-server-OLD")

        # WHEN the owner rotates the key
        secrets.put_secret_value(SecretId="tokoflow-test/midtrans-server-key", SecretString="SB-Mid-server-NEW")

        # THEN calls inside the five-minute cache may still use the old key, and the first call after it the new one
        adapters.payment_gateway().status("TK-261123-7QX2MD")
        assert transport.last.headers["Authorization"] == _authorization("SB-Mid-server-OLD")

        class FiveMinutesLater(datetime):
            """The clock powertools' parameter cache reads, five minutes and a second on."""

            @classmethod
            def now(cls, tz: tzinfo | None = None) -> Self:
                moment = datetime.now(tz) + timedelta(minutes=5, seconds=1)
                return cls.combine(moment.date(), moment.timetz())

        monkeypatch.setattr(parameter_cache, "datetime", FiveMinutesLater)
        adapters.payment_gateway().status("TK-261123-7QX2MD")
        assert transport.last.headers["Authorization"] == _authorization("SB-Mid-server-NEW")
    finally:
        adapters.reset()
        parameters.clear_caches()


# ---- the shop's own settings ------------------------------------------------------------------------------------


SHOP_VARIABLES = (config.SHOP_NAME, config.SHOP_PHONE, config.SHOP_STREET, config.SHOP_ORIGIN_CITY,
                  config.SHOP_ORIGIN_PROVINCE, config.SHOP_ORIGIN_POSTAL_CODE)


@pytest.fixture
def unset_shop(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in SHOP_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_shop_defaults_to_the_demo_workshop_in_kotagede(unset_shop: pytest.MonkeyPatch) -> None:
    assert config.shop() == config.Shop(name="TokoKita", phone="+62274000000", street="Jl. Kemasan 1, Kotagede",
                                        city="Yogyakarta", province="DI Yogyakarta", postal_code="55173")


def test_the_shop_comes_from_its_variables_normalised_like_a_checkout(unset_shop: pytest.MonkeyPatch) -> None:
    unset_shop.setenv(config.SHOP_NAME, " Batik Sekar ")
    unset_shop.setenv(config.SHOP_PHONE, "0274-512345")
    unset_shop.setenv(config.SHOP_STREET, "Jl. C. Simanjuntak No. 12")
    unset_shop.setenv(config.SHOP_ORIGIN_CITY, "Sleman")
    unset_shop.setenv(config.SHOP_ORIGIN_PROVINCE, "DI Yogyakarta")
    unset_shop.setenv(config.SHOP_ORIGIN_POSTAL_CODE, "55281")
    assert config.shop() == config.Shop(name="Batik Sekar", phone="+62274512345", street="Jl. C. Simanjuntak No. 12",
                                        city="Sleman", province="DI Yogyakarta", postal_code="55281")


@pytest.mark.parametrize(("name", "value"), [
    (config.SHOP_PHONE, "0274-5123-"),
    (config.SHOP_ORIGIN_POSTAL_CODE, "5517"),
    (config.SHOP_STREET, "x" * 301),
])
def test_a_shop_setting_no_courier_would_take_stops_the_first_use_naming_it(
        unset_shop: pytest.MonkeyPatch, name: str, value: str) -> None:
    unset_shop.setenv(name, value)
    with pytest.raises(RuntimeError, match=name):
        config.shop()
