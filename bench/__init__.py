"""Benchmarks behind `make bench`: cold import cost of the app and AWS requests per API operation.

Figures only: nothing here asserts a timing. `python -m bench.run` prints both tables.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REGION = "ap-southeast-3"


def dev_stage_environment() -> dict[str, str]:
    """The dev stage's environment variables from .chalice/config.json."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    return dict(config["stages"]["dev"]["environment_variables"])


def configure_offline_environment() -> None:
    """Set os.environ as tests/conftest.py does, for an in-process moto account.

    Must run before chalicelib is imported: pynamodb models read their table names at import.
    AWS_ENDPOINT_URL is removed because with it set moto's in-process mock intercepts nothing.
    """
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(dev_stage_environment())
    os.environ.update({
        "AWS_DEFAULT_REGION": DEFAULT_REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "POWERTOOLS_METRICS_NAMESPACE": "TokoFlow",
        "POWERTOOLS_DEV": "false",
    })
