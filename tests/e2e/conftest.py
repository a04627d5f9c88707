"""One local stack (moto server, provisioned resources, demo data, `chalice local`, SQS and schedule drivers)
shared by the end-to-end tests, on free ports so it never collides with a `make run` in another terminal.
One stack for the whole session (tests/ is not a package, so "package" scope lasts until the session ends;
tests/conftest.py sorts the end-to-end tests last in a mixed run).

The stack's moto server runs in this process and points AWS_ENDPOINT_URL at itself for the whole session,
while `mock_aws` shares moto's in-process backends: run tests/e2e in its own pytest invocation rather than
together with the unit and functional suites.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from local.stack import LocalStack, free_port


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: end-to-end test through the local stack's HTTP API")


@pytest.fixture(scope="package")
def stack() -> Iterator[LocalStack]:
    """The running stack; use `stack.api_url` for HTTP and `stack.moto_url` to inspect AWS state."""
    saved = dict(os.environ)
    os.environ.pop("AWS_ENDPOINT_URL", None)  # an inherited endpoint must not leak into the stack's setup
    moto_port = free_port()
    api_port = free_port()
    while api_port == moto_port:
        api_port = free_port()
    local_stack = LocalStack(
        moto_port=moto_port,
        api_port=api_port,
        seed=True,
        drive=True,
        echo_api_output=False,
    )
    try:
        local_stack.start()
        yield local_stack
    finally:
        local_stack.stop()
        os.environ.clear()
        os.environ.update(saved)
