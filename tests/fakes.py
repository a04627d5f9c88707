"""Test doubles shared across test folders."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Call:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None

    @property
    def json(self) -> Any:
        return None if self.body is None else json.loads(self.body)


@dataclass
class FakeTransport:
    """Stands in for a provider adapter's HTTP transport: answers queued (status, body) pairs in order, or raises
    a queued exception, and records every request for assertions."""

    answers: list[tuple[int, bytes] | Exception]
    calls: list[Call] = field(default_factory=list)

    def __call__(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> tuple[int, bytes]:
        self.calls.append(Call(method, url, dict(headers), body))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    @property
    def last(self) -> Call:
        return self.calls[-1]
