"""Order use cases: reading orders, and moving them through their lifecycle (lifecycle.py) safely.

Every status change is `Order.apply` followed by a save conditional on the version that was read; when
another writer got there first the decision is made again on a fresh read, so of two racing events
exactly one wins and the other is refused by the table (409) rather than silently undoing the first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib import clock, resources
from chalicelib.auth import Principal
from chalicelib.errors import Conflict, DomainError, NotFound
from chalicelib.inventory import service as inventory
from chalicelib.inventory.domain import COMMIT, RELEASE, RESTOCK, Movement
from chalicelib.loyalty import service as loyalty
from chalicelib.orders import lifecycle, repository, workflow
from chalicelib.orders.domain import COD, Order, may_view, points_facts, refund_event, refund_to_commit

SYSTEM = "system"
ATTEMPTS = 5  # fresh reads before giving up on an order that keeps changing under us


def load(order_id: str) -> Order:
    order = repository.get(order_id)
    if order is None:
        raise NotFound(f"order {order_id} not found", code="order_not_found")
    return order


def visible_order(order_id: str, principal: Principal | None, access_token: str | None) -> Order:
    """Owner, staff, or a guest holding the order's access token; anyone else gets a plain 404."""
    order = repository.get(order_id)
    if order is None or not may_view(order, sub=principal.sub if principal else None,
                                     is_staff=bool(principal and principal.is_staff), access_token=access_token):
        raise NotFound(f"order {order_id} not found", code="order_not_found")
    return order


def get_order(order_id: str, principal: Principal | None, access_token: str | None) -> dict[str, Any]:
    return visible_order(order_id, principal, access_token).to_dict()


def find(order_id: str) -> Order | None:
    return repository.get(order_id)


def store_token(order_id: str, step: str, token: str) -> Order:
    """Keep the task token a workflow step waits with; the order as stored, to check what already happened."""
    order = repository.store_token(order_id, step, token)
    if order is None:
        raise NotFound(f"order {order_id} not found", code="order_not_found")
    return order


def attach_payment(order_id: str, instructions: dict[str, Any]) -> None:
    repository.attach_payment(order_id, instructions, at=clock.now_iso())


def by_status(status: str, *, limit: int, cursor: str | None, created_before: str | None = None
              ) -> tuple[list[Order], str | None]:
    """One page of orders in a status, newest first (the schedules walk PENDING_PAYMENT this way)."""
    return repository.by_status(status, limit=limit, cursor=cursor, created_before=created_before)


def by_shipment(booking_id: str) -> Order | None:
    """The order a courier booking belongs to (courier webhooks name the booking, not our order)."""
    return repository.by_shipment(booking_id)


def active_on(day: str, *, since: str, limit: int = 100, cursor: Any = None) -> tuple[list[Order], Any]:
    """One page of the orders that last changed on business day `day` after `since` (the reports' collector)."""
    return repository.active_on(day, since=since, limit=limit, cursor=cursor)


def list_for_customer(principal: Principal, *, limit: int, cursor: str | None) -> dict[str, Any]:
    orders, next_cursor = repository.by_customer(principal.sub, limit=limit, cursor=cursor)
    return {"items": [order.to_dict() for order in orders], "next_cursor": next_cursor}


def list_for_staff(status: str, *, limit: int, cursor: str | None) -> dict[str, Any]:
    orders, next_cursor = repository.by_status(status, limit=limit, cursor=cursor)
    return {"items": [order.to_dict() for order in orders], "next_cursor": next_cursor}


# ---- moving an order ------------------------------------------------------------------------------------------


def transition(order_id: str, event: str, *, actor: str = SYSTEM, detail: str = "",
               changes: Callable[[Order], dict[str, Any]] | None = None, first: Order | None = None) -> Order:
    """Apply `event` to the stored order and save it; the order as stored afterwards.

    Raises lifecycle.TransitionRefused (409) when the table does not allow the event from the order's state,
    re-read after every lost race. `changes` computes other fields the step sets from the order it decides
    on; `first` saves a read when the caller already holds the order.
    """

    def decide(before: Order) -> Order:
        return before.apply(event, at=clock.now_iso(), actor=actor, detail=detail,
                            **(changes(before) if changes else {}))

    stored = decide_and_save(order_id, decide, first=first)
    assert stored is not None  # decide always returns an order
    return stored


def decide_and_save(order_id: str, decide: Callable[[Order], Order | None], *,
                    first: Order | None = None) -> Order | None:
    """Save what `decide` makes of the current order (made with Order.apply), deciding again on a fresh read
    whenever another writer got there first; None when `decide` finds nothing to change."""
    order = first
    for _ in range(ATTEMPTS):
        before = order or load(order_id)
        after = decide(before)
        if after is None:
            return None
        stored = repository.save(before, after)
        if stored is not None:
            return stored
        order = None
    raise Conflict(f"order {order_id} keeps changing; try again", code="order_conflict")


def flag(order_id: str, event: str, cause: str, *, actor: str = SYSTEM) -> Order | None:
    """Flag an order for review or attention with its real cause on the timeline; None if it is gone."""
    if find(order_id) is None:
        return None
    return transition(order_id, event, actor=actor, detail=cause)


def commit_refund(order_id: str, refund_key: str, amount: int | None, *, captured: int, reason: str,
                  actor: str = SYSTEM, first: Order | None = None, clamp: bool = False) -> int:
    """Promise a refund on the order before any money moves, so refunds never exceed what was captured.

    The order records each refund key with its amount and moves to PARTIALLY_REFUNDED or REFUNDED (a cancelled
    or ended order keeps its status); the save is conditional on the version, so two racing refunds cannot both
    take the last Rupiah. Answers the amount under the key: a key used before answers its own amount, nothing is
    promised twice. `amount` None means all that is left; `clamp` caps a refund the gateway already made instead
    of refusing it (RefundExceedsPaid, 422). The table refuses (409) an order that has nothing to refund yet.
    """
    committed = 0

    def decide(before: Order) -> Order | None:
        nonlocal committed
        refundable = captured - before.refunded_total
        asked = min(amount, max(0, refundable)) if clamp and amount is not None else amount
        committed = refund_to_commit(before, refund_key, asked, refundable=refundable)
        if refund_key in before.refunds or committed <= 0:
            return None
        event = refund_event(before, committed, captured=captured)
        return before.apply(event, at=clock.now_iso(), actor=actor, detail=f"Rp{committed:,}, {reason}",
                            data={"amount": committed, "refund_key": refund_key},
                            refunds={**before.refunds, refund_key: committed})

    decide_and_save(order_id, decide, first=first)
    return committed


def _stock_movements(order: Order, kind: str, reason: str, actor: str) -> list[Movement]:
    """What the order's lines do to stock: release a reservation, commit a sale, or put sold units back."""
    deltas = {RELEASE: (0, -1), COMMIT: (-1, -1), RESTOCK: (1, 0)}[kind]
    return [Movement(sku=line.sku, kind=kind, delta_on_hand=deltas[0] * line.quantity,
                     delta_reserved=deltas[1] * line.quantity, reason=reason, actor=actor, reference=order.order_id)
            for line in order.lines]


def transition_with_stock(order: Order, event: str, kind: str, *, actor: str = SYSTEM, reason: str = "",
                          detail: str = "") -> Order:
    """Apply `event` and the stock movement it implies in one transaction; Conflict if the order moved."""
    after = order.apply(event, at=clock.now_iso(), actor=actor, detail=detail)
    movements = _stock_movements(order, kind, reason or after.timeline[-1].note, actor)

    def stage(tx: TransactWrite) -> None:
        repository.stage_save(tx, order, after)

    def explain(failed_tables: set[str]) -> DomainError | None:
        if resources.ORDERS.physical_name in failed_tables:
            return Conflict(f"order {order.order_id} changed meanwhile", code="order_conflict")
        return None

    inventory.commit_movements(movements, stage_extra=stage, explain_failure=explain)
    return after


def release_reservation(order: Order, event: str, *, actor: str = SYSTEM, detail: str = "") -> Order:
    """An unpaid order ends (expired, payment failed, cancelled): its reserved units go back on sale, and the
    loyalty points it spent go back to the customer."""
    ended = transition_with_stock(order, event, RELEASE, actor=actor, detail=detail)
    settle_points(ended)
    return ended


def settle_points(order: Order) -> None:
    """The order's loyalty points follow its facts: spent points go back when it ends without a sale, earnings are
    planned once it completes, both move in proportion to refunds. Idempotent: callers that retry a step call it
    again whether or not the step had already been done."""
    if order.customer_id:
        loyalty.settle(points_facts(order))


def stock_was_committed(order: Order) -> bool:
    """Whether the order's units are sold (no longer reserved), so a cancel must put them back on hand."""
    return order.status in lifecycle.STOCK_COMMITTED


# ---- the order's workflow ------------------------------------------------------------------------------------


def start_workflow(order: Order) -> None:
    """Start the order's execution; the reconciliation schedule starts any that a failure left unstarted. Its first
    step waits until the payment deadline, or, for cash on delivery, only as long as the worker may take to answer."""
    seconds = 0
    if order.payment_method == COD:
        seconds = workflow.COD_FIRST_STEP_TIMEOUT
    elif order.payment_deadline:
        seconds = int((clock.parse_iso(order.payment_deadline) - clock.now()).total_seconds())
    workflow.start(order.order_id, payment_timeout_seconds=max(1, seconds))
