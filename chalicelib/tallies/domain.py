"""What a tally is: counters added to one rollup item of one business day. Plain Python."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Delta:
    """What one fact adds to one rollup item; `labels` are texts set alongside (a product's name)."""

    day: str  # the business day, YYYY-MM-DD in Asia/Jakarta, fixed when the fact happened
    key: str  # "summary", "sku#BTK-A", "method#card", ...
    counts: dict[str, int]
    labels: dict[str, str] = field(default_factory=dict)
