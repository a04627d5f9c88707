"""Benchmarks behind `make bench`: cold import cost of the app and AWS requests per API operation.

Figures only: nothing here asserts a timing. `python -m bench.run` prints both tables.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REGION = "ap-southeast-3"


def dev_stage_environment() -> dict[str, str]:
    """The dev stage's environment variables from .chalice/config.json."""
    from local.offline import stage_environment

    return stage_environment("dev")


def configure_offline_environment() -> None:
    """The environment of the tests' in-process moto account (local.offline), set before chalicelib is used."""
    from local.offline import configure_environment

    configure_environment()
