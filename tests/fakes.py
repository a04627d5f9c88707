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


SAMPLE_ORDER_ID = "TK-261123-7QX2MD"


def sample_order(**changes: Any) -> dict[str, Any]:
    """An order as Order.to_dict() gives it (what notifications receive); `changes` replace top-level keys."""
    order: dict[str, Any] = {
        "order_id": SAMPLE_ORDER_ID,
        "status": "PENDING_PAYMENT",
        "created_at": "2026-11-23T11:05:00.000Z",
        "updated_at": "2026-11-23T11:05:00.000Z",
        "customer": {"name": "Sari", "email": "sari@example.com", "phone": "0812-3456-7890"},
        "shipping_address": {"recipient": "Sari", "phone": "081234567890", "street": "Jl. Kemang Raya 1",
                             "city": "Jakarta Selatan", "province": "DKI Jakarta", "postal_code": "12110"},
        "shipping": {"courier": "JNE", "service": "REG", "price": 25000, "etd_days": "2-3", "cod_available": True},
        "payment_method": "bank_transfer",
        "payment_deadline": "2026-11-23T12:05:00.000Z",
        "lines": [{"sku": "BTK-M", "name": "Kemeja Batik", "options": {"size": "M"}, "unit_price": 612500,
                   "quantity": 2, "line_total": 1225000}],
        "totals": {"subtotal": 1225000, "discount": 0, "shipping": 25000, "total": 1250000, "currency": "IDR"},
        "voucher_code": None,
        "channel": None,
        "timeline": [],
    }
    order.update(changes)
    return order
