"""Lazily built boto3 clients: nothing is created at import, so cold starts stay small and tests can mock."""

from __future__ import annotations

import functools
from typing import Any

from chalicelib import config
from chalicelib.resources import QueueSpec


@functools.cache
def client(service: str) -> Any:
    import boto3

    return boto3.client(service, region_name=config.region())


@functools.cache
def _queue_url(physical_name: str) -> str:
    return client("sqs").get_queue_url(QueueName=physical_name)["QueueUrl"]


def queue_url(spec: QueueSpec) -> str:
    return _queue_url(spec.physical_name)


def reset() -> None:
    """Forget clients and URLs (tests switch between mocked accounts)."""
    client.cache_clear()
    _queue_url.cache_clear()
