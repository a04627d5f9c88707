"""Returns from request to refund: the customer's request, staff decisions and inspection, the courier's
return-to-sender, and the worker steps of the returns state machine (statemachines/returns.asl.json).

Every step of a return is one transaction with its line on the order's timeline (and, on receipt, with the
stock movements), conditional on both being at the version read: a step that loses a race decides again on a
fresh read, a retried step finds its work done. Money goes back through payments.give_back under the return's
refund key, so a retry never refunds twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import aws, clock, config, db
from chalicelib.errors import Conflict, DomainError, NotFound, ServiceUnavailable, Unprocessable
from chalicelib.inventory import service as inventory
from chalicelib.inventory.domain import RETURNED, WRITE_OFF, Movement
from chalicelib.notifications import service as notifications
from chalicelib.observability import logger, metrics
from chalicelib.orders import lifecycle
from chalicelib.orders import repository as order_store
from chalicelib.orders import service as orders
from chalicelib.orders.domain import Order
from chalicelib.orders.lifecycle import TransitionRefused
from chalicelib.payments import service as payments
from chalicelib.payments.gateway import GatewayError, RefundDeferred
from chalicelib.payments.refunds import PAID as PAYOUT_PAID
from chalicelib.returns import repository, workflow
from chalicelib.returns.domain import (
    APPROVE,
    APPROVED,
    CLOSE,
    CLOSED,
    COURIER,
    CUSTOMER,
    EXPIRE,
    FINAL,
    FLAG,
    MAX_PHOTOS,
    PHOTO_TYPES,
    RECEIVE,
    RECEIVED,
    REFUND,
    REFUNDING,
    REJECT,
    REJECTED,
    REQUESTED,
    RETURNED_TO_SENDER,
    SEND_BACK,
    SENT_BACK,
    SHOP_AT_FAULT,
    HistoryEntry,
    Return,
    StepRefused,
    check_window,
    claim,
    inspected_lines,
    next_return_id,
    quote,
    refund_units,
    refunded_units,
    requested_lines,
)
from chalicelib.shipping import service as shipping
from chalicelib.shipping.adapters import courier
from chalicelib.shipping.couriers import BookingRejected, CourierError

ATTEMPTS = 5  # fresh reads before giving up on a return or order that keeps changing under us
Message = dict[str, Any]


def refund_key(return_id: str) -> str:
    """The idempotency key of a return's refund at the gateway, and its payout's id."""
    return f"refund-{return_id}"


def _load(return_id: str) -> Return:
    ret = repository.get(return_id)
    if ret is None:
        raise NotFound(f"return {return_id} not found", code="return_not_found")
    return ret


def _notify(event: str, ret: Return, extra: dict[str, Any] | None = None, order: Order | None = None) -> None:
    order = order or orders.load(ret.order_id)
    notifications.request(event, order.to_dict(), {"return_id": ret.return_id, **(extra or {})}, key=ret.return_id)


# ---- writing a step: the return, its order line and any stock, all or nothing -------------------------------


def _save_with_order(ret: Return, after: Return, order: Order, order_after: Order,
                     movements: list[Movement] | None = None) -> bool:
    """One transaction: the return's step, the order's timeline (and claims), the stock; False on a lost race."""

    def stage(tx: TransactWrite) -> None:
        if after.version == 1:
            repository.stage_create(tx, after)
        else:
            repository.stage_save(tx, ret, after)
        order_store.stage_save(tx, order, order_after)

    if movements:
        try:
            inventory.commit_movements(movements, stage_extra=stage,
                                       explain_failure=lambda _: Conflict("changed meanwhile", code="return_conflict"))
        except Conflict as lost:
            if lost.code != "return_conflict":
                raise
            return False
        return True
    tx = db.transaction()
    try:
        with tx:
            stage(tx)
    except TransactWriteError as error:
        if tx.failed_conditions(error):
            return False
        raise
    return True


def _advance(return_id: str, event: str, *, actor: str, detail: str = "",
             changes: Callable[[Return], dict[str, Any]] | None = None, release: bool = False,
             movements: Callable[[Return], list[Movement]] | None = None,
             first: Return | None = None) -> tuple[Return, Order]:
    """Apply `event` to the return and note it on the order's timeline in one transaction, deciding again on a
    fresh read after a lost race; `release` gives the return's units back to the order (rejected, expired).
    The return as stored afterwards (with the task token its workflow waits with) and the order as saved;
    `first` saves a read when the caller holds the return already."""
    for _ in range(ATTEMPTS):
        ret, first = first or _load(return_id), None
        at = clock.now_iso()
        after = ret.apply(event, at=at, actor=actor, detail=detail, **(changes(ret) if changes else {}))
        order = orders.load(ret.order_id)
        order_changes = {"returned_units": claim(order, ret.units, sign=-1)} if release else {}
        data = {"return": after.status, "return_id": return_id, "reason": ret.reason, "units": ret.units}
        order_after = order.apply(lifecycle.NOTE_RETURN, at=at, actor=actor,
                                  detail=f"{return_id} {after.history[-1].note}", data=data, **order_changes)
        if _save_with_order(ret, after, order, order_after, movements(after) if movements else None):
            stored = repository.get(return_id)
            assert stored is not None
            return stored, order_after
    raise Conflict(f"return {return_id} keeps changing; try again", code="return_conflict")


def _open(order: Order, build: Callable[[Order], Return], *, actor: str) -> tuple[Return, Order]:
    """Create a return and claim its units on the order in one transaction, re-checking on a fresh order."""
    for _ in range(ATTEMPTS):
        ret = build(order)
        order_after = order.apply(
            lifecycle.NOTE_RETURN, at=ret.created_at, actor=actor,
            detail=f"{ret.return_id} {ret.history[-1].note}",
            data={"return": "opened", "return_id": ret.return_id, "reason": ret.reason, "units": ret.units},
            returned_units=claim(order, ret.units), return_count=order.return_count + 1)
        if _save_with_order(ret, ret, order, order_after):
            return ret, order_after
        order = orders.load(order.order_id)
    raise Conflict(f"order {order.order_id} keeps changing; try again", code="order_conflict")


def _start(ret: Return) -> None:
    """Start the return's workflow; a failure is logged and retried by the next staff action on it."""
    try:
        workflow.start(ret.return_id, ret.order_id, approved=ret.status != REQUESTED,
                       parcel_timeout_seconds=config.return_parcel_wait_seconds())
    except Exception as error:  # the return is stored; approve or reject start its workflow again by name
        metrics.add_metric(name="ReturnWorkflowStartFailures", unit=MetricUnit.Count, value=1)
        logger.error("return workflow did not start", extra={"return_id": ret.return_id, "error": repr(error)})


def _lines_text(ret: Return) -> str:
    return ", ".join(f"{line.quantity} x {line.name}" for line in ret.lines)


# ---- the customer ----------------------------------------------------------------------------------------------


def request_return(order: Order, *, units: Mapping[str, int], reason: str, note: str, photo_types: list[str],
                   actor: str) -> dict[str, Any]:
    """A customer asks to return delivered units within the window; staff decide next. Answers the return and
    one presigned upload per photo (S3 POST, at most 5 MB each)."""
    if len(photo_types) > MAX_PHOTOS:
        raise Unprocessable(f"at most {MAX_PHOTOS} photos", code="too_many_photos")

    def build(current: Order) -> Return:
        check_window(current, now_iso=clock.now_iso(), window_days=config.return_window_days())
        lines = requested_lines(current, units)
        return_id, now = next_return_id(current), clock.now_iso()
        photos = tuple(f"returns/{return_id}/photo-{index + 1}.{PHOTO_TYPES[kind]}"
                       for index, kind in enumerate(photo_types))
        ret = Return(return_id=return_id, order_id=current.order_id, status=REQUESTED, origin=CUSTOMER, reason=reason,
                     note=note, lines=lines, shop_at_fault=reason in SHOP_AT_FAULT, created_at=now, updated_at=now,
                     customer_id=current.customer_id, photos=photos)
        entry = HistoryEntry(at=now, status=REQUESTED, note=f"requested: {_lines_text(ret)} ({reason})", actor=actor)
        return replace(ret, history=(entry,))

    ret, order = _open(order, build, actor=actor)
    _start(ret)
    _notify("return_requested", ret, {"lines": [line.to_dict() for line in ret.lines], "reason": ret.reason},
            order)
    metrics.add_metric(name="ReturnsRequested", unit=MetricUnit.Count, value=1)
    uploads = [aws.private_upload(key, kind) for key, kind in zip(ret.photos, photo_types, strict=True)]
    return {**ret.to_dict(), "photo_uploads": uploads}


def returns_of(order: Order) -> dict[str, Any]:
    """The order's returns, oldest first, each with its status and refund."""
    return {"order_id": order.order_id, "refunded_total": order.refunded_total,
            "items": [ret.to_dict() for ret in repository.of_order(order.order_id)]}


def send_back(order: Order, return_id: str, *, courier_code: str, waybill_id: str, actor: str) -> dict[str, Any]:
    """The customer sent the parcel with a courier of their choice: the waybill lets staff follow it."""
    ret = _load(return_id)
    if ret.order_id != order.order_id:
        raise NotFound(f"return {return_id} not found", code="return_not_found")
    if ret.refund_only:
        raise Conflict(f"return {return_id} is refunded without sending anything back", code="nothing_to_send")
    parcel = {"by": "customer", "courier": courier_code, "waybill_id": waybill_id, "at": clock.now_iso()}
    if ret.parcel == {**parcel, "at": (ret.parcel or {}).get("at")}:
        return ret.to_dict()
    stored, order = _advance(return_id, SEND_BACK, actor=actor, detail=f"{courier_code} waybill {waybill_id}",
                             changes=lambda _: {"parcel": parcel}, first=ret)
    _notify("return_on_its_way", stored, {"by": "customer", "courier": courier_code, "waybill_id": waybill_id}, order)
    return stored.to_dict()


# ---- staff -------------------------------------------------------------------------------------------------------


def staff_view(return_id: str) -> dict[str, Any]:
    """The return with short-lived links to the customer's photos (the bucket stays private)."""
    ret = _load(return_id)
    return {**ret.to_dict(), "photos": [aws.private_link(key) for key in ret.photos]}


def in_status(status: str, *, limit: int, cursor: str | None) -> dict[str, Any]:
    items, next_cursor = repository.in_status(status, limit=limit, cursor=cursor)
    return {"items": [ret.to_dict() for ret in items], "next_cursor": next_cursor}


def _decided(ret: Return) -> dict[str, Any]:
    if ret.status == REJECTED:
        return {workflow.DECISION: workflow.REJECT}
    return {workflow.DECISION: workflow.REFUND_ONLY if ret.refund_only else workflow.APPROVE}


def _wake(ret: Return, output: dict[str, Any]) -> None:
    """Resume the step waiting on the return; with no step waiting, make sure the workflow runs (started by
    name, it cannot run twice) so its first step finds the decision already made."""
    if ret.token:
        workflow.resume(ret.token, output)
    elif ret.status not in FINAL:
        _start(ret)


def approve(return_id: str, *, actor: str, refund_only: bool, shop_at_fault: bool | None, note: str
            ) -> dict[str, Any]:
    """Staff accept the return: the customer sends the goods back (or, refund only, keeps them)."""
    current = _load(return_id)
    if current.status == APPROVED and current.refund_only == refund_only:
        return current.to_dict()
    fault = current.shop_at_fault if shop_at_fault is None else shop_at_fault
    stored, order = _advance(return_id, APPROVE, actor=actor,
                             detail=("refund without return" if refund_only else note), first=current,
                             changes=lambda _: {"refund_only": refund_only, "shop_at_fault": fault,
                                                "decision_note": note})
    _wake(stored, _decided(stored))
    shop = config.shop()
    deadline = None if refund_only else clock.iso(clock.parse_iso(stored.updated_at)
                                                  + timedelta(seconds=config.return_parcel_wait_seconds()))
    _notify("return_approved", stored, {"refund_only": refund_only, "deadline": deadline,
                                        "ship_to": {"name": shop.name, "phone": shop.phone, "street": shop.street,
                                                    "city": shop.city, "province": shop.province,
                                                    "postal_code": shop.postal_code}}, order)
    return stored.to_dict()


def reject(return_id: str, *, actor: str, reason: str) -> dict[str, Any]:
    """Staff refuse the return with a reason; its units may be asked for again."""
    current = _load(return_id)
    if current.status == REJECTED:
        return current.to_dict()
    stored, order = _advance(return_id, REJECT, actor=actor, detail=reason, release=True, first=current,
                             changes=lambda _: {"decision_note": reason})
    _wake(stored, _decided(stored))
    _notify("return_rejected", stored, {"reason": reason}, order)
    return stored.to_dict()


def book_pickup(return_id: str, *, actor: str) -> dict[str, Any]:
    """Staff book the order's courier to collect the parcel from the customer and bring it to the shop."""
    ret = _load(return_id)
    if ret.parcel and ret.parcel.get("by") == "pickup":
        return ret.to_dict()
    if not ret.allows(SEND_BACK) or ret.refund_only:
        raise StepRefused(f"return {return_id} is {ret.status}: a pickup is booked only for an approved return",
                          details={"return_id": return_id, "status": ret.status})
    order = orders.load(ret.order_id)
    try:
        booking = courier().book(shipping.booking_request(order, units=ret.units, reference=return_id,
                                                          back_to_shop=True))
    except (BookingRejected, ValueError) as refused:
        raise Unprocessable(f"the courier refused the pickup: {refused}", code="pickup_rejected") from None
    except CourierError as outage:
        raise ServiceUnavailable(f"the courier is unavailable: {outage}") from None
    parcel = {"by": "pickup", **booking.to_dict(), "at": clock.now_iso()}
    stored, order = _advance(return_id, SEND_BACK, actor=actor, first=ret,
                             detail=f"pickup booked with {booking.courier} {booking.service}, "
                                    f"waybill {booking.waybill_id}",
                             changes=lambda _: {"parcel": parcel})
    _notify("return_on_its_way", stored, {"by": "pickup", "courier": booking.courier,
                                          "waybill_id": booking.waybill_id}, order)
    return stored.to_dict()


def receive(return_id: str, *, results: Mapping[str, tuple[int, int, str]], actor: str) -> dict[str, Any]:
    """Staff inspected the parcel: per line, units back on hand (stock ledger) or written off (their own ledger
    line), in the same transaction as the return's step. Receiving twice answers with the first inspection."""
    current = _load(return_id)
    if current.status in (RECEIVED, REFUNDING, CLOSED) and not current.refund_only:
        return current.to_dict()
    if current.refund_only:
        raise StepRefused(f"return {return_id} is refunded without sending anything back",
                          details={"return_id": return_id, "status": current.status})
    inspected = inspected_lines(current, results)

    def stock(after: Return) -> list[Movement]:
        moved = []
        for line in after.lines:
            if line.restocked:
                moved.append(Movement(sku=line.sku, kind=RETURNED, delta_on_hand=line.restocked, delta_reserved=0,
                                      reason=f"return {return_id}: back on hand", actor=actor, reference=return_id))
            if line.written_off:
                moved.append(Movement(sku=line.sku, kind=WRITE_OFF, delta_on_hand=0, delta_reserved=0,
                                      reason=f"return {return_id}: {line.written_off} written off, "
                                             f"{line.write_off_reason}", actor=actor, reference=return_id))
        return moved

    summary = ", ".join(f"{line.sku} {line.restocked} restocked, {line.written_off} written off" for line in inspected)
    stored, order = _advance(return_id, RECEIVE, actor=actor, detail=summary, first=current,
                             changes=lambda _: {"lines": inspected}, movements=stock)
    _wake(stored, {"received": True})
    _notify("return_received", stored, {"lines": [line.to_dict() for line in stored.lines]}, order)
    return stored.to_dict()


# ---- a courier's return-to-sender --------------------------------------------------------------------------------


def open_courier_return(order: Order, *, courier_status: str) -> Return:
    """The courier brought the parcel back (returned, rejected, no courier; a refused COD): a return that is
    approved already, so the goods are received and inspected like any other. Opened once per order."""
    existing = [ret for ret in repository.of_order(order.order_id) if ret.origin == COURIER]
    if existing:
        _start(existing[0])
        return existing[0]

    def build(current: Order) -> Return:
        units = {line.sku: line.quantity for line in current.lines}
        now, return_id = clock.now_iso(), next_return_id(current)
        lines = requested_lines(current, units)
        entry = HistoryEntry(at=now, status=APPROVED, note=f"opened: the courier reported '{courier_status}'",
                             actor="courier")
        return Return(return_id=return_id, order_id=current.order_id, status=APPROVED, origin=COURIER,
                      reason=RETURNED_TO_SENDER, note=f"courier status {courier_status}", lines=lines,
                      shop_at_fault=courier_status != "rejected", created_at=now, updated_at=now,
                      customer_id=current.customer_id, history=(entry,))

    ret, _ = _open(order, build, actor="courier")
    _start(ret)
    metrics.add_metric(name="ReturnsToSender", unit=MetricUnit.Count, value=1)
    return ret


# ---- the worker: one function per task the returns state machine sends ---------------------------------------


def handle_task(message: Message) -> str:
    """Run one step and answer its task token; returns what was done, for the logs."""
    task, return_id, token = message["task"], message["return_id"], message["token"]
    handler = TASKS.get(task)
    if handler is None:
        workflow.fail(token, workflow.UNKNOWN_TASK, f"no worker for task {task}")
        return f"unknown task {task}"
    try:
        return handler(return_id, token, message)
    except RefundDeferred as deferred:  # the gateway's quiet hours: the state machine asks again later
        workflow.fail(token, workflow.REFUND_DEFERRED, f"{task}: {deferred}")
        return f"deferred ({deferred})"
    except (GatewayError, CourierError) as error:  # an outage: worth the state machine's retry with back-off
        workflow.fail(token, workflow.WORKER_ERROR, f"{task}: {error}")
        return f"retry ({error})"
    except (StepRefused, TransitionRefused, NotFound) as refused:
        workflow.fail(token, workflow.STEP_REFUSED, f"{task}: {refused.message}")
        return f"refused ({refused.message})"
    except DomainError as problem:  # a lost race (Conflict) or a refund the caps refuse: retried, then a person
        workflow.fail(token, workflow.WORKER_ERROR, f"{task}: {problem.message}")
        return f"retry ({problem.message})"


def await_decision(return_id: str, token: str, message: Message) -> str:
    """Park the token; a decision made already (or made while the step was on its way) answers at once."""
    ret = repository.store_token(return_id, token)
    if ret is None:
        raise NotFound(f"return {return_id} not found", code="return_not_found")
    if ret.status == REQUESTED:
        return "waiting for staff"
    if ret.status == REJECTED or ret.status in (APPROVED, SENT_BACK, RECEIVED, REFUNDING, CLOSED):
        workflow.resume(token, _decided(ret))
        return f"already {ret.status}"
    raise StepRefused(f"return {return_id} is {ret.status}", details={"status": ret.status})


def await_parcel(return_id: str, token: str, message: Message) -> str:
    ret = repository.store_token(return_id, token)
    if ret is None:
        raise NotFound(f"return {return_id} not found", code="return_not_found")
    if ret.status in (APPROVED, SENT_BACK):
        return "waiting for the parcel"
    if ret.status in (RECEIVED, REFUNDING, CLOSED):
        workflow.resume(token, {"received": True})
        return "already received"
    raise StepRefused(f"return {return_id} is {ret.status}: no parcel is expected", details={"status": ret.status})


def refund_return(return_id: str, token: str, message: Message) -> str:
    """Compute the refund in the domain and give it back the way the payment allows, under the return's refund
    key; a retry finds the refund promised on the order and recorded in the ledger, and gives nothing twice."""
    ret = _load(return_id)
    if ret.refund is None:
        order = orders.load(ret.order_id)
        key = refund_key(return_id)
        others = repository.of_order(ret.order_id)
        units = refund_units(ret)
        owed = quote(order, units, refunded_before=refunded_units(others, excluding=return_id),
                     shop_at_fault=ret.shop_at_fault,
                     shipping_refunded=any((other.refund or {}).get("shipping") for other in others
                                           if other.return_id != return_id))
        refundable = payments.captured(order.order_id) - (order.refunded_total - order.refunds.get(key, 0))
        amount = min(owed.total, max(0, refundable))
        by, payout_id, given_amount = "none", None, 0
        if amount > 0 or key in order.refunds:
            given = payments.give_back(order, reason=f"return {return_id}", refund_key=key, amount=amount,
                                       actor="returns")
            if given.payout is not None:
                by, payout_id, given_amount = "payout", given.payout.payout_id, given.payout.amount
                if given.payout.status == PAYOUT_PAID:
                    payout_id = None
            elif given.refunded:
                by, given_amount = "gateway", given.refunded
        refund = {**owed.to_dict(), "amount": given_amount, "by": by, "payout_id": payout_id, "units": units,
                  "refund_key": key}
        note = {"gateway": f"Rp{given_amount:,} refunded to the original payment",
                "payout": f"Rp{given_amount:,} by bank transfer, waiting for finance",
                "none": "nothing was paid for it: nothing to refund"}[by]
        ret, order = _advance(return_id, REFUND, actor="returns", detail=note, first=ret,
                              changes=lambda _: {"refund": refund})
        if by == "gateway":
            _notify_refunded(ret, order)
    refund = ret.refund or {}
    output: dict[str, Any] = {"amount": refund.get("amount", 0), "by": refund.get("by")}
    if refund.get("payout_id"):
        output[workflow.PAYOUT_ID] = refund["payout_id"]
    workflow.resume(token, output)
    return f"refund {refund.get('by')} Rp{refund.get('amount', 0):,}"


def _notify_refunded(ret: Return, order: Order) -> None:
    refund = ret.refund or {}
    notifications.request("refunded", order.to_dict(), {"amount": refund.get("amount", 0),
                                                        "reason": f"retur {ret.return_id}"}, key=ret.return_id)


def await_payout(return_id: str, token: str, message: Message) -> str:
    payout_id = message[workflow.PAYOUT_ID]
    if payments.await_payout(payout_id, token):
        workflow.resume(token, {"paid_out": True, workflow.PAYOUT_ID: payout_id})
        return "already paid out"
    return "waiting for the payout"


def close_return(return_id: str, token: str, message: Message) -> str:
    ret = _load(return_id)
    if ret.status != CLOSED:
        ret, order = _advance(return_id, CLOSE, actor="returns", first=ret)
        refund = ret.refund or {}
        _notify("return_closed", ret, {"amount": refund.get("amount", 0), "by": refund.get("by", "none")}, order)
        metrics.add_metric(name="ReturnsClosed", unit=MetricUnit.Count, value=1)
    workflow.resume(token, {"closed": True})
    return "closed"


def expire_return(return_id: str, token: str, message: Message) -> str:
    """The parcel never came: the return expires and its units may be returned again."""
    ret = _load(return_id)
    if ret.status in (APPROVED, SENT_BACK):
        ret, order = _advance(return_id, EXPIRE, actor="returns", release=True, first=ret)
        _notify("return_expired", ret, None, order)
    elif ret.status in (RECEIVED, REFUNDING, CLOSED):  # received just as the wait ran out: not lost, a person looks
        raise StepRefused(f"return {return_id} was {ret.status} as its wait ran out", details={"status": ret.status})
    workflow.resume(token, {"expired": ret.status != RECEIVED})
    return "expired"


def needs_attention(return_id: str, token: str, message: Message) -> str:
    """The workflow gave up on a step: flag the return with the real cause and raise the alarm."""
    failure = message.get("failure") or {}
    cause = f"{failure.get('Error') or 'the workflow stopped'}: {failure.get('Cause') or 'no cause given'}"
    ret = repository.get(return_id)
    if ret is not None and ret.allows(FLAG) and ret.attention != cause:
        _advance(return_id, FLAG, actor="returns", detail=cause, first=ret)
    metrics.add_metric(name="ReturnsNeedingAttention", unit=MetricUnit.Count, value=1)
    logger.error("return needs attention", extra={"return_id": return_id, "cause": cause})
    workflow.resume(token, {"flagged": True})
    return "flagged"


TASKS: dict[str, Callable[[str, str, Message], str]] = {
    workflow.AWAIT_DECISION: await_decision,
    workflow.AWAIT_PARCEL: await_parcel,
    workflow.REFUND_RETURN: refund_return,
    workflow.AWAIT_PAYOUT: await_payout,
    workflow.CLOSE_RETURN: close_return,
    workflow.EXPIRE_RETURN: expire_return,
    workflow.NEEDS_ATTENTION: needs_attention,
}
