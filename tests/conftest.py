"""Shared test set-up: an offline AWS (moto, in-process) with every resource from chalicelib.resources.

The environment is set once, before any test imports the application (see local.offline).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.offline import configure_environment, mocked_account

configure_environment()


@pytest.fixture
def aws() -> Iterator[Any]:
    """A fresh, empty, fully provisioned AWS account for one test."""
    with mocked_account() as clients:
        yield clients


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
    from tests.functional.helpers import bearer

    return bearer


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
