"""Benchmarks behind `make bench`: cold import cost of the app, AWS requests per API operation, what one order's
whole journey and one return cost, and a month's sales report built at 10,000 and 100,000 orders.

Figures only: nothing here asserts a timing. `python -m bench.run` prints them all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REGION = "ap-southeast-3"


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation, so the figure is a latency that was really measured)."""
    if not samples:
        raise ValueError("no samples")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError("fraction must be between 0 and 1")
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]
