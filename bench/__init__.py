"""Benchmarks behind `make bench`: cold import cost of the app, AWS requests per API operation, what one order's
whole journey and one return cost, and a month's sales report built at 10,000 and 100,000 orders.

Figures only: nothing here asserts a timing. `python -m bench.run` prints them all.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REGION = "ap-southeast-3"

