"""Order use cases: reading orders, and ending unpaid ones so their reserved stock returns to sale."""

from __future__ import annotations

from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib import clock, resources
from chalicelib.auth import Principal
from chalicelib.errors import Conflict, DomainError, NotFound
from chalicelib.inventory import service as inventory
from chalicelib.inventory.domain import RELEASE, Movement
from chalicelib.orders import repository
from chalicelib.orders.domain import Order, may_view


def get_order(order_id: str, principal: Principal | None, access_token: str | None) -> dict[str, Any]:
    """Owner, staff, or a guest holding the order's access token; anyone else gets a plain 404."""
    order = repository.get(order_id)
    if order is None or not may_view(order, sub=principal.sub if principal else None,
                                     is_staff=bool(principal and principal.is_staff), access_token=access_token):
        raise NotFound(f"order {order_id} not found", code="order_not_found")
    return order.to_dict()


def list_for_customer(principal: Principal, *, limit: int, cursor: str | None) -> dict[str, Any]:
    orders, next_cursor = repository.by_customer(principal.sub, limit=limit, cursor=cursor)
    return {"items": [order.to_dict() for order in orders], "next_cursor": next_cursor}


def list_for_staff(status: str, *, limit: int, cursor: str | None) -> dict[str, Any]:
    orders, next_cursor = repository.by_status(status, limit=limit, cursor=cursor)
    return {"items": [order.to_dict() for order in orders], "next_cursor": next_cursor}


def release_reservation(order: Order, *, status: str, note: str, actor: str) -> Order:
    """Move the order to a final status and hand its reserved units back to sale, in one transaction.

    The order update is conditional on its version and status, so a payment that lands at the same moment
    makes this fail cleanly (Conflict) instead of releasing stock for a paid order.
    """
    after = order.with_status(status, at=clock.now_iso(), note=note, actor=actor)
    movements = [
        Movement(sku=line["sku"], kind=RELEASE, delta_on_hand=0, delta_reserved=-int(line["quantity"]),
                 reason=note, actor=actor, reference=order.order_id)
        for line in order.lines
    ]

    move_stock_with_order(movements, order, after)
    return after


def move_stock_with_order(movements: list[Movement], before: Order, after: Order) -> None:
    """Stock movements and the order's new state in one transaction; Conflict if the order moved meanwhile."""

    def stage(tx: TransactWrite) -> None:
        repository.stage_transition(tx, before, after)

    def explain(failed_tables: set[str]) -> DomainError | None:
        if resources.ORDERS.physical_name in failed_tables:
            return Conflict(f"order {before.order_id} changed meanwhile", code="order_conflict")
        return None

    inventory.commit_movements(movements, stage_extra=stage, explain_failure=explain)
