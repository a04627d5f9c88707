"""Lazily built boto3 clients: nothing is created at import, so cold starts stay small and tests can mock."""

from __future__ import annotations

import functools
from typing import Any

from chalicelib import config, resources
from chalicelib.resources import QueueSpec

PRIVATE_UPLOAD_SECONDS = 900  # how long a customer's upload link or a private download link lasts
PRIVATE_UPLOAD_MAX_BYTES = 5 * 1024 * 1024


@functools.cache
def client(service: str) -> Any:
    import boto3

    return boto3.client(service, region_name=config.region())


@functools.cache
def _queue_url(physical_name: str) -> str:
    return client("sqs").get_queue_url(QueueName=physical_name)["QueueUrl"]


def queue_url(spec: QueueSpec) -> str:
    return _queue_url(spec.physical_name)


def private_upload(key: str, content_type: str) -> dict[str, Any]:
    """A presigned POST into the media bucket's private prefixes (return, review and ticket photos): the
    customer's app uploads straight to S3, with the type and size S3 itself enforces."""
    post = client("s3").generate_presigned_post(
        Bucket=resources.MEDIA_BUCKET.physical_name, Key=key, Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, PRIVATE_UPLOAD_MAX_BYTES]],
        ExpiresIn=PRIVATE_UPLOAD_SECONDS)
    return {"key": key, "method": "POST", "url": post["url"], "fields": post["fields"],
            "max_bytes": PRIVATE_UPLOAD_MAX_BYTES, "expires_in": PRIVATE_UPLOAD_SECONDS}


def private_link(key: str) -> str:
    """A short-lived download link to a private upload (those prefixes are never served publicly)."""
    return str(client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": resources.MEDIA_BUCKET.physical_name, "Key": key},
        ExpiresIn=PRIVATE_UPLOAD_SECONDS))


def reset() -> None:
    """Forget clients and URLs (tests switch between mocked accounts)."""
    client.cache_clear()
    _queue_url.cache_clear()
