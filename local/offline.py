"""An offline AWS account in this process (moto), shared by the tests and the benchmarks.

`configure_environment()` must run before chalicelib is imported by anything that builds clients: it
removes AWS_ENDPOINT_URL (with it set, moto's in-process mock intercepts nothing) and sets the dev stage's
variables plus test-only secrets. `mocked_account()` gives a fresh account with every resource provisioned.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from chalicelib.resources import REPOSITORY_ROOT

if TYPE_CHECKING:
    from moto.core.config import DefaultConfig

    from local.provision import AwsClients

REGION = "ap-southeast-3"
# Test-only values: nothing real is signed with them.
TEST_SECRETS = {
    "TOKOFLOW_MIDTRANS_SERVER_KEY": "SB-Mid-server-TEST-KEY",
    "TOKOFLOW_COURIER_WEBHOOK_SECRET": "test-courier-webhook-secret",
}


def stage_environment(stage: str = "dev") -> dict[str, str]:
    """A stage's environment variables from .chalice/config.json."""
    config = json.loads((REPOSITORY_ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    return {name: str(value) for name, value in config["stages"][stage]["environment_variables"].items()}


def configure_environment() -> None:
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(stage_environment("dev"))
    os.environ.update({
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "POWERTOOLS_METRICS_NAMESPACE": "TokoFlow",
        "POWERTOOLS_DEV": "false",
        **TEST_SECRETS,
    })


def forget_cached_clients() -> None:
    """Clients and adapters cached by the application, so the next account starts clean."""
    from chalicelib import aws
    from chalicelib.checkout import service as checkout_service
    from chalicelib.payments import adapters as payment_adapters
    from chalicelib.shipping import adapters as courier_adapters

    aws.reset()
    checkout_service.reset()
    payment_adapters.reset()
    courier_adapters.reset()


_CLIENTS: dict[tuple[str, str], AwsClients] = {}


def _provisioning_clients(make: Callable[[], AwsClients]) -> AwsClients:
    """One set of provisioning clients per process and region (a client costs ~50 ms to build): moto intercepts
    at botocore's handler level, so a client built for an earlier account serves the next one (the accounts'
    state is moto's, reset by each mock_aws)."""
    key = (os.environ.get("AWS_DEFAULT_REGION", ""), os.environ.get("TOKOFLOW_PREFIX", ""))
    if key not in _CLIENTS:
        _CLIENTS[key] = make()
    return _CLIENTS[key]


@contextlib.contextmanager
def mocked_account(*, execute_state_machines: bool = False) -> Iterator[AwsClients]:
    """A fresh moto account with every table, queue, bucket and state machine; yields the boto3 clients."""
    from moto import mock_aws

    from local import moto_speedups
    from local.moto_fixes import keep_task_failure_cause
    from local.provision import make_clients, provision_all

    keep_task_failure_cause()
    moto_speedups.install()
    config: DefaultConfig = {"stepfunctions": {"execute_state_machine": execute_state_machines}}
    with mock_aws(config=config):
        forget_cached_clients()
        try:
            clients = _provisioning_clients(make_clients)
            provision_all(clients)
            yield clients
        finally:
            forget_cached_clients()
