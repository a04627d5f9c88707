"""Facts: what each step of an order's life adds to the day's rollups. Plain Python.

An order's timeline is its history of facts: placed, paid, cancelled, packed, shipped, delivered, refunded, a
return opened. Each entry is counted on the business day (Asia/Jakarta) of its own time, never rewriting a day
that was already closed: a refund made on 3 December counts on 3 December, as a negative line, whatever day the
sale was. The reports area counts an order's entries it has not counted yet, exactly once (reports/service.py).

When is a sale a sale? When the money is the shop's: a prepaid order on `pay`, a cash-on-delivery order on
`complete` (the courier collected the cash). A COD parcel refused at the door never becomes a sale.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from chalicelib import clock
from chalicelib.orders import lifecycle
from chalicelib.orders.domain import COD, Order
from chalicelib.returns.domain import paid_per_line
from chalicelib.tallies.domain import Delta

SUMMARY = "summary"
MAX_HOURS = 999  # fulfilment durations are counted per whole hour, longer ones in the last bucket
KPI_STAGES = ("paid_to_packed", "packed_to_shipped", "shipped_to_delivered")


def customer_identity(order: Order) -> str:
    """A stable identity for retention: the signed-in customer's id, or a guest's email, hashed (the rollups
    keep no personal data)."""
    if order.customer_id:
        return "id:" + hashlib.sha256(order.customer_id.encode()).hexdigest()[:32]
    email = str(order.customer.get("email") or "").strip().lower()
    return "email:" + hashlib.sha256(email.encode()).hexdigest()[:32]


def channel_key(order: Order) -> str:
    return f"channel#{order.channel or 'direct'}#{order.utm_source or '-'}"


def is_sale(order: Order, event: str | None) -> bool:
    return (event == lifecycle.PAY and order.payment_method != COD) or \
        (event == lifecycle.COMPLETE and order.payment_method == COD)


@dataclass
class Facts:
    """What counting some of an order's entries adds: the deltas, and the day its customer first bought when
    one of these entries is that customer's first sale."""

    deltas: list[Delta] = field(default_factory=list)
    first_purchase_day: str | None = None


def _hours(start: str, end: str) -> int:
    seconds = (clock.parse_iso(end) - clock.parse_iso(start)).total_seconds()
    return max(0, min(MAX_HOURS, int(seconds // 3600)))


def _first_at(order: Order, *events: str | None, before: int) -> str | None:
    for entry in order.timeline[:before]:
        if entry.event in events:
            return entry.at
    return None


def _sale(order: Order, day: str, *, returning: bool) -> list[Delta]:
    totals = order.totals
    units = sum(line.quantity for line in order.lines)
    deltas = [
        Delta(day, SUMMARY, {"orders_sold": 1, "units": units, "gross": totals.subtotal, "discount": totals.discount,
                             "shipping_charged": totals.shipping, "sales_total": totals.total,
                             "ppn": totals.ppn_included, "returning_customers" if returning else "new_customers": 1}),
        Delta(day, f"method#{order.payment_method}", {"paid_count": 1, "paid_amount": totals.total}),
        Delta(day, channel_key(order), {"orders": 1, "sales_total": totals.total},
              {"channel": order.channel or "direct", "utm_source": order.utm_source or "-"}),
    ]
    net = paid_per_line(order)
    by_sku: dict[str, dict[str, int]] = {}
    names: dict[str, dict[str, str]] = {}
    for line in order.lines:
        counts = by_sku.setdefault(line.sku, {"units": 0, "gross": 0})
        counts["units"] += line.quantity
        counts["gross"] += line.line_total
        names[line.sku] = {"name": line.name, "product_id": line.product_id}
    for sku, counts in by_sku.items():
        deltas.append(Delta(day, f"sku#{sku}", {**counts, "net": net[sku]}, names[sku]))
    return deltas


def facts(order: Order, start: int, end: int | None = None, *, first_purchase_day: str | None) -> Facts:
    """The deltas of the order's timeline entries [start, end); `first_purchase_day` is what the rollups know
    of this order's customer (None: never bought before)."""
    found = Facts()
    totals = order.totals
    known_first = first_purchase_day
    stop = len(order.timeline) if end is None else end
    for index in range(start, stop):
        entry = order.timeline[index]
        day = clock.business_day(entry.at)
        event = entry.event
        add = found.deltas.append
        if index == 0:
            add(Delta(day, SUMMARY, {"orders_placed": 1, "placed_amount": totals.total}))
            add(Delta(day, f"method#{order.payment_method}", {"placed_count": 1, "placed_amount": totals.total}))
            continue
        if is_sale(order, event):
            returning = known_first is not None
            if known_first is None:
                known_first = found.first_purchase_day = day
            found.deltas += _sale(order, day, returning=returning)
        if event in (lifecycle.CANCEL, lifecycle.EXPIRE, lifecycle.FAIL_PAYMENT):
            ended = {lifecycle.CANCEL: "orders_cancelled", lifecycle.EXPIRE: "orders_expired",
                     lifecycle.FAIL_PAYMENT: "orders_failed"}[event]
            add(Delta(day, SUMMARY, {ended: 1}))
            if _first_at(order, lifecycle.PAY, before=index) is None:  # never paid: it leaves "pending"
                add(Delta(day, f"method#{order.payment_method}", {"ended_unpaid_amount": totals.total}))
        elif event == lifecycle.PACK:
            ready = _first_at(order, lifecycle.PAY, before=index) or order.timeline[0].at
            add(Delta(day, "kpi#paid_to_packed", {"count": 1, f"h{_hours(ready, entry.at)}": 1}))
        elif event == lifecycle.SHIP:
            shipment = order.shipment or {}
            courier, service = str(order.shipping.get("courier", "-")), str(order.shipping.get("service", "-"))
            add(Delta(day, f"ship#{courier}#{service}",
                      {"parcels": 1, "charged": totals.shipping, "courier_cost": int(shipment.get("price") or 0)},
                      {"courier": courier, "service": service}))
            packed = _first_at(order, lifecycle.PACK, before=index)
            if packed:
                add(Delta(day, "kpi#packed_to_shipped", {"count": 1, f"h{_hours(packed, entry.at)}": 1}))
        elif event == lifecycle.DELIVER:
            add(Delta(day, SUMMARY, {"orders_delivered": 1}))
            shipped = _first_at(order, lifecycle.SHIP, before=index)
            if shipped:
                add(Delta(day, "kpi#shipped_to_delivered", {"count": 1, f"h{_hours(shipped, entry.at)}": 1}))
        elif event in (lifecycle.REFUND, lifecycle.REFUND_IN_FULL):
            amount = int((entry.data or {}).get("amount") or 0)
            add(Delta(day, SUMMARY, {"refunds": amount, "refund_count": 1}))
            add(Delta(day, f"method#{order.payment_method}", {"refunded_amount": amount}))
        elif event == lifecycle.RETURN:
            add(Delta(day, SUMMARY, {"parcels_returned": 1}))
            if order.payment_method == COD and _first_at(order, lifecycle.COMPLETE, before=index) is None:
                # refused at the door: the cash will never be collected, so it leaves "pending"
                add(Delta(day, f"method#{order.payment_method}", {"ended_unpaid_amount": totals.total}))
        elif event == lifecycle.NOTE_RETURN and (entry.data or {}).get("return") == "opened":
            data = entry.data or {}
            units = sum(int(count) for count in (data.get("units") or {}).values())
            reason = str(data.get("reason") or "other")
            add(Delta(day, SUMMARY, {"returns_opened": 1, "returned_units": units}))
            add(Delta(day, f"reason#{reason}", {"returns": 1, "units": units}))
    return found
