"""Benchmarks behind `make bench`: cold import cost of the app, AWS requests per API operation, and what one
order's whole journey costs.

Figures only: nothing here asserts a timing. `python -m bench.run` prints all three.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REGION = "ap-southeast-3"

