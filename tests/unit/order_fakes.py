"""In-memory fakes of what the order services talk to, so the lifecycle rules run as fast unit tests.

`ShopFakes.install(monkeypatch)` swaps the orders repository, the stock transaction, the money ledger, the
payment gateway, the courier, the workflow's task answers and the notification queue for the objects below.
The fakes keep the one DynamoDB behaviour the services rely on: a save conditional on the version read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from chalicelib import resources
from chalicelib.errors import DomainError
from chalicelib.inventory.domain import Movement
from chalicelib.loyalty.domain import OrderFacts
from chalicelib.orders.domain import Order, OrderLine, OrderTotals, TimelineEntry
from chalicelib.payments.gateway import RefundRefused, RefundResult
from chalicelib.payments.refunds import Payout
from chalicelib.shipping.couriers import RateCardCourier

AT = "2026-12-01T03:00:00Z"


def an_order(order_id: str = "TK-261201-ABCDEF", *, status: str = "PENDING_PAYMENT", method: str = "bank_transfer",
             quantity: int = 2) -> Order:
    line = OrderLine(sku="BTK-A", product_id="p-1", name="Batik tulis", options={}, unit_price=200_000,
                     quantity=quantity, line_total=200_000 * quantity, weight_grams=400 * quantity)
    return Order(
        order_id=order_id, status=status, created_at=AT, updated_at=AT,
        customer={"name": "Sari", "email": "sari@example.com", "phone": "+6281234567890"}, customer_id="cust-1",
        shipping_address={"recipient": "Sari", "phone": "+6281234567890", "street": "Jl. Malioboro 1",
                          "city": "Yogyakarta", "province": "DI Yogyakarta", "postal_code": "55271", "notes": ""},
        shipping={"courier": "jne", "service": "reg", "price": 18_000}, payment_method=method, lines=(line,),
        totals=OrderTotals(subtotal=line.line_total, discount=0, shipping=18_000, total=line.line_total + 18_000,
                           ppn_included=39_640, ppn_rate_percent=11, weight_grams=line.weight_grams),
        cart_id="c" * 32, access_token_hash="h", payment_deadline="2026-12-01T04:00:00Z",
        timeline=(TimelineEntry(at=AT, status=status, note="order placed"),))


class FakeOrders:
    """The orders repository: a dict of orders, saves conditional on the version read."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.tokens: dict[str, dict[str, str]] = {}

    def add(self, order: Order) -> Order:
        self.orders[order.order_id] = order
        return order

    def _current(self, order_id: str) -> Order | None:
        order = self.orders.get(order_id)
        return replace(order, tokens=dict(self.tokens.get(order_id, {}))) if order else None

    def get(self, order_id: str) -> Order | None:
        return self._current(order_id)

    def save(self, before: Order, after: Order) -> Order | None:
        stored = self.orders.get(before.order_id)
        if stored is None or stored.version != before.version:
            return None
        self.orders[before.order_id] = replace(after, tokens={})
        return self._current(before.order_id)

    def stage_save(self, tx: list[Callable[[], bool]], before: Order, after: Order) -> None:
        tx.append(lambda: self.save(before, after) is not None)

    def store_token(self, order_id: str, step: str, token: str) -> Order | None:
        if order_id not in self.orders:
            return None
        self.tokens.setdefault(order_id, {})[step] = token
        return self._current(order_id)

    def attach_payment(self, order_id: str, instructions: dict[str, Any], *, at: str) -> None:
        self.orders[order_id] = replace(self.orders[order_id], payment=instructions)

    def by_status(self, status: str, *, limit: int, cursor: str | None, created_before: str | None = None
                  ) -> tuple[list[Order], str | None]:
        found = [self._current(order_id) for order_id, order in self.orders.items() if order.status == status]
        return [order for order in found if order is not None], None

    def by_shipment(self, booking_id: str) -> Order | None:
        for order_id, order in self.orders.items():
            if (order.shipment or {}).get("booking_id") == booking_id:
                return self._current(order_id)
        return None


@dataclass
class FakeStock:
    """inventory.commit_movements: the staged order save and the movements, all or nothing."""

    on_hand: dict[str, int] = field(default_factory=lambda: {"BTK-A": 5})
    reserved: dict[str, int] = field(default_factory=lambda: {"BTK-A": 2})
    moves: list[tuple[str, str, int, int]] = field(default_factory=list)

    def commit_movements(self, movements: Sequence[Movement], *, stage_extra: Any = None,
                         explain_failure: Any = None, retry_tables: frozenset[str] = frozenset(),
                         levels: Any = None) -> dict[str, Any]:
        tx: list[Callable[[], bool]] = []
        if stage_extra:
            stage_extra(tx)
        if not all(write() for write in tx):
            error: DomainError | None = explain_failure({resources.ORDERS.physical_name}) if explain_failure else None
            raise error or RuntimeError("transaction cancelled")
        for move in movements:
            self.on_hand[move.sku] += move.delta_on_hand
            self.reserved[move.sku] += move.delta_reserved
            self.moves.append((move.kind, move.sku, move.delta_on_hand, move.delta_reserved))
        return {}


@dataclass
class FakeLedger:
    """The payments repository: the money ledger and the payouts."""

    entries_by_order: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    payouts: dict[str, Payout] = field(default_factory=dict)
    PAYMENT_RECEIVED, REFUND, COD_COLLECTED, CHARGEBACK = "payment_received", "refund", "cod_collected", "chargeback"
    PAYOUT, REVERSAL = "payout", "reversal"

    def record(self, order_id: str, *, kind: str, amount: int, reference: str, **details: Any) -> bool:
        rows = self.entries_by_order.setdefault(order_id, [])
        if any(row["kind"] == kind and row["reference"] == reference for row in rows):
            return False
        rows.append({"kind": kind, "amount": amount, "reference": reference, "at": AT, "method": None, **details})
        return True

    def get_payout(self, payout_id: str) -> Payout | None:
        return self.payouts.get(payout_id)

    def open_payout(self, payout_id: str, *, order_id: str, amount: int, reason: str) -> Payout:
        return self.payouts.setdefault(payout_id, Payout(payout_id=payout_id, order_id=order_id, amount=amount,
                                                         reason=reason, status="awaiting_account", created_at=AT))

    def entries(self, order_id: str) -> list[dict[str, Any]]:
        return list(self.entries_by_order.get(order_id, []))

    def balance(self, order_id: str) -> int:
        return sum(row["amount"] for row in self.entries(order_id))


@dataclass
class FakeGateway:
    name: str = "sandbox"
    refunds: list[tuple[str, int, str]] = field(default_factory=list)
    voided: list[str] = field(default_factory=list)
    refuses_refunds: bool = False  # as Midtrans' 412: this transaction will never be refunded by the API

    def refund(self, order_id: str, *, amount: int, reason: str, refund_key: str) -> RefundResult:
        if self.refuses_refunds:
            raise RefundRefused("midtrans refused (412): Merchant cannot modify the status of the transaction")
        if not any(key == refund_key for _, _, key in self.refunds):
            self.refunds.append((order_id, amount, refund_key))
        return RefundResult(order_id=order_id, amount=amount, refund_key=refund_key, status="refund")

    def cancel(self, order_id: str) -> None:
        self.voided.append(order_id)


@dataclass
class FakeLoyalty:
    """Records the facts each order's points were settled with (the loyalty area has its own tests)."""

    settled: list[OrderFacts] = field(default_factory=list)

    def settle(self, facts: OrderFacts) -> None:
        self.settled.append(facts)

    def last(self, order_id: str) -> OrderFacts:
        return [facts for facts in self.settled if facts.order_id == order_id][-1]


@dataclass
class ShopFakes:
    orders: FakeOrders = field(default_factory=FakeOrders)
    stock: FakeStock = field(default_factory=FakeStock)
    ledger: FakeLedger = field(default_factory=FakeLedger)
    gateway: FakeGateway = field(default_factory=FakeGateway)
    answers: list[tuple[str, str, Any]] = field(default_factory=list)
    told: list[tuple[str, str]] = field(default_factory=list)
    points: FakeLoyalty = field(default_factory=FakeLoyalty)
    # the sandbox courier with its books in memory (its faults and bookings by reference, no DynamoDB)
    courier: RateCardCourier = field(default_factory=lambda: RateCardCourier(origin_city="Yogyakarta",
                                                                            origin_province="DI Yogyakarta"))

    def install(self, monkeypatch: pytest.MonkeyPatch) -> ShopFakes:
        from chalicelib.fulfilment import service as fulfilment
        from chalicelib.orders import service as orders
        from chalicelib.orders import workflow
        from chalicelib.payments import service as payments
        from chalicelib.shipping import webhooks

        monkeypatch.setattr(orders, "repository", self.orders)
        monkeypatch.setattr(orders, "inventory", self.stock)
        monkeypatch.setattr(orders, "loyalty", self.points)
        monkeypatch.setattr(payments, "ledger", self.ledger)
        monkeypatch.setattr(payments, "repository", self.ledger)
        monkeypatch.setattr(payments, "payment_gateway", lambda: self.gateway)
        monkeypatch.setattr(fulfilment, "courier", lambda: self.courier)
        monkeypatch.setattr(workflow, "resume", lambda token, output: self.answers.append(("resume", token, output)))
        monkeypatch.setattr(workflow, "fail", lambda token, error, cause: self.answers.append(("fail", token, error)))
        for module in (fulfilment, payments, webhooks):
            monkeypatch.setattr(module.notifications, "request",
                                lambda event, order, extra=None, key=None: self.told.append((event, order["order_id"])))
        return self
