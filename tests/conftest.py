"""Shared test set-up: an offline AWS (moto, in-process) with every resource from chalicelib.resources.

The environment is fixed before any chalicelib module is imported, because pynamodb models read their
table names at import. AWS_ENDPOINT_URL is removed: with it set, moto's in-process mock intercepts nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
_DEV_ENV = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["dev"]["environment_variables"]

os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)
os.environ.update(_DEV_ENV)
os.environ.update({
    "AWS_DEFAULT_REGION": "ap-southeast-3",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "POWERTOOLS_METRICS_NAMESPACE": "TokoFlow",
    "POWERTOOLS_DEV": "false",
    "TOKOFLOW_MIDTRANS_SERVER_KEY": "SB-Mid-server-TEST-KEY",
    "TOKOFLOW_COURIER_WEBHOOK_SECRET": "test-courier-webhook-secret",
})


@pytest.fixture
def aws() -> Iterator[Any]:
    """A fresh, empty, fully provisioned AWS account for one test."""
    from moto import mock_aws

    from chalicelib import aws as aws_clients
    from chalicelib.checkout import service as checkout_service
    from local.provision import make_clients, provision_all

    with mock_aws():
        aws_clients.reset()
        checkout_service._idempotent_checkout.cache_clear()
        clients = make_clients()
        provision_all(clients)
        yield clients
        aws_clients.reset()
        checkout_service._idempotent_checkout.cache_clear()


@pytest.fixture
def client(aws: Any) -> Iterator[Any]:
    """chalice.test.Client over the real app, on top of the mocked account."""
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="dev") as test_client:
        yield test_client


@pytest.fixture
def auth_header() -> Any:
    """auth_header("staff") -> {"Authorization": "Bearer <development token>"}."""
    from chalicelib.auth import mint_dev_token

    def make(role: str, sub: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_dev_token(role=role, sub=sub or f'{role}-1')}"}

    return make


@pytest.fixture
def atomic_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make each mocked AWS request atomic, as it is on AWS, so threads can race between requests.

    moto's in-process DynamoDB copies tables while executing a transaction and is not safe against a second
    thread mutating them mid-request; real DynamoDB serialises each request. Interleavings between requests,
    which is where oversell bugs live, are untouched.
    """
    import threading

    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.Lock()
    original = BotocoreStubber.__call__

    def serialised(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", serialised)
