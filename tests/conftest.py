"""Shared test set-up: an offline AWS (moto, in-process) with every resource from chalicelib.resources.

The environment is set once, before any test imports the application (see local.offline).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.chalice_main import requests_per_thread
from local.offline import configure_environment, mocked_account

configure_environment()
requests_per_thread()  # the concurrency tests call the app from several threads through chalice's test client

E2E = Path(__file__).resolve().parent / "e2e"
FUZZ = "test_api_fuzz.py"

# Module-level functools caches in the application that survive from one test to the next: adapters built from
# configuration (a transport or key a test patched), the notifier, clients and the idempotency layer (the table
# prefix they were built with), the account id. One stays: the pynamodb connection holds nothing account- or
# configuration-specific (moto intercepts at botocore's handler level) and takes ~40 ms to rebuild.
KEEP_CACHED = {("chalicelib.db", "_connection")}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end tests run after all others, whatever order pytest-randomly shuffled the modules into.

    tests/ has no __init__.py, so tests/e2e's "package" fixture lives until the session ends, and its stack points
    AWS_ENDPOINT_URL at a moto server all that time (mock_aws then intercepts nothing). Run on their own, as
    `make test` does, this changes nothing; run together with other folders, nothing else runs after the stack.
    The sort is stable, so the shuffled order within each group stays reproducible from the seed. The API fuzzing
    runs last of all: the products, vouchers and orders it invents must not surprise another test's assertions.
    """
    items.sort(key=lambda item: (E2E in item.path.parents, item.path.name == FUZZ))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Name pytest-randomly's seed at the end even under -q (which hides its header, and `make test` uses -q), so
    a failure that depends on the order can be replayed from the log."""
    seed = getattr(config.option, "randomly_seed", None)
    if isinstance(seed, int) and config.pluginmanager.has_plugin("randomly"):
        terminalreporter.write_line(f"pytest-randomly: replay this run with --randomly-seed={seed}")


def application_caches() -> list[Any]:
    """Every functools cache defined at module level in chalicelib (found, not listed, so a moved module is still
    covered), except KEEP_CACHED. Only imported modules are searched: one not imported yet has nothing cached."""
    modules = [(name, module) for name, module in list(sys.modules.items())
               if module is not None and (name == "chalicelib" or name.startswith("chalicelib."))]
    return [value for name, module in modules for attribute, value in list(vars(module).items())
            if callable(getattr(value, "cache_clear", None)) and getattr(value, "__module__", None) == name
            and (name, attribute) not in KEEP_CACHED]


@pytest.fixture(autouse=True)
def fresh_process_caches() -> None:
    """Each test starts as in a new Lambda container: no application cache, no cached powertools parameter."""
    for cached in application_caches():
        cached.cache_clear()
    parameters = sys.modules.get("aws_lambda_powertools.utilities.parameters")
    if parameters is not None:
        parameters.clear_caches()


@pytest.fixture
def aws() -> Iterator[Any]:
    """A fresh, empty, fully provisioned AWS account for one test."""
    with mocked_account() as clients:
        yield clients


@pytest.fixture
def client(aws: Any) -> Iterator[Any]:
    """chalice.test.Client over the real app, on top of the mocked account; every answer is checked against the
    published OpenAPI document (tests/contract_check.py)."""
    from chalice.test import Client

    from app import app
    from tests.contract_check import validating

    with Client(app, stage_name="dev") as test_client:
        yield validating(test_client)


@pytest.fixture
def resumed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any]]:
    """What the order's steps tell Step Functions (resume or fail a task token), recorded instead of needing a
    running execution: ("resume", token, output) or ("fail", token, error)."""
    from chalicelib.orders import workflow

    calls: list[tuple[str, str, Any]] = []
    monkeypatch.setattr(workflow, "resume", lambda token, output: calls.append(("resume", token, output)) or True)
    monkeypatch.setattr(workflow, "fail", lambda token, error, cause, known=None: calls.append(
        ("fail", token, error)) or True)
    return calls


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch) -> Any:
    """at("2026-11-10T03:00:00.000Z") freezes the application's clock there (10:00 WIB on 10 November)."""
    from chalicelib import clock

    def freeze(iso: str) -> None:
        monkeypatch.setattr(clock, "now", lambda: clock.parse_iso(iso))

    return freeze


@pytest.fixture
def auth_header() -> Any:
    """auth_header("staff") -> {"Authorization": "Bearer <development token>"}."""
    from tests.functional.helpers import bearer

    return bearer


@pytest.fixture
def atomic_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make each mocked AWS request atomic, as it is on AWS, so threads can race between requests.

    moto's in-process services are not written for a second thread mutating their state mid-request (the
    local speed-ups lock DynamoDB's writes and index reads, not SQS, S3 or Step Functions); AWS serialises
    each. Interleavings between requests, which is where oversell bugs live, are untouched.
    """
    import threading

    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.Lock()
    original = BotocoreStubber.__call__

    def serialised(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", serialised)


@pytest.fixture
def aws_operations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every AWS request made from now on, whichever client made it (clear() to start counting)."""
    from botocore.client import BaseClient

    recorded: list[str] = []
    original = BaseClient._make_api_call

    def recording(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        recorded.append(operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return recorded
