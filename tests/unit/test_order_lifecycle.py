"""The order lifecycle table: every event from every state is either the table's transition or one refusal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chalicelib.errors import Conflict
from chalicelib.orders import lifecycle
from chalicelib.orders.domain import Order, OrderTotals, TimelineEntry
from chalicelib.orders.lifecycle import (
    CANCEL_PENDING,
    EVENTS,
    LIFECYCLE,
    NEEDS_CAUSE,
    NO_CANCEL_PENDING,
    STATUSES,
    TransitionRefused,
)

README = Path(__file__).resolve().parents[2] / "README.md"
AT = "2026-12-01T10:00:00Z"


def an_order(status: str, *, cancel_requested: bool = False) -> Order:
    return Order(
        order_id="TK-261201-ABCDEF", status=status, created_at=AT, customer={"name": "Sari"}, customer_id=None,
        shipping_address={}, shipping={}, payment_method="bank_transfer", lines=(),
        totals=OrderTotals(subtotal=100_000, discount=0, shipping=10_000, total=110_000, ppn_included=9_909,
                           ppn_rate_percent=11, weight_grams=500),
        cart_id="c" * 32, access_token_hash="h", timeline=(TimelineEntry(at=AT, status=status, note="placed"),),
        version=3, cancel_requested=cancel_requested)


def expected(event: str, status: str, cancel_requested: bool) -> str | None:
    """What the table says, read independently of transition_for: the target status, or None if refused."""
    (row,) = [row for row in LIFECYCLE if row.event == event]
    if status not in row.sources:
        return None
    if row.cancel == CANCEL_PENDING and not cancel_requested:
        return None
    if row.cancel == NO_CANCEL_PENDING and cancel_requested:
        return None
    if status in row.keeps:
        return status
    return row.target or status


CASES = [pytest.param(event, status, pending, id=f"{event}-{status}{'-cancel-pending' if pending else ''}")
         for event in EVENTS for status in STATUSES for pending in (False, True)]


@pytest.mark.parametrize(("event", "status", "cancel_requested"), CASES)
def test_every_event_from_every_state_moves_as_the_table_says_or_is_refused(
        event: str, status: str, cancel_requested: bool) -> None:
    order = an_order(status, cancel_requested=cancel_requested)
    target = expected(event, status, cancel_requested)
    detail = "the cause" if event in NEEDS_CAUSE else ""
    if target is None:
        with pytest.raises(TransitionRefused) as refused:
            order.apply(event, at=AT, detail=detail)
        assert isinstance(refused.value, Conflict) and refused.value.status == 409
        assert refused.value.message.startswith(f"order is {status}: ")
        assert refused.value.details == {"event": event, "status": status}
        assert not order.allows(event)
        return
    after = order.apply(event, at=AT, actor="someone", detail=detail)
    assert after.status == target and order.allows(event)
    assert after.version == order.version + 1 and after.updated_at == AT
    assert after.timeline[:-1] == order.timeline
    entry = after.timeline[-1]
    assert (entry.status, entry.event, entry.actor, entry.at) == (target, event, "someone", AT)
    assert after.cancel_requested == (cancel_requested or event == lifecycle.REQUEST_CANCEL)


def test_the_table_covers_every_status_and_event_once() -> None:
    assert len(EVENTS) == len(set(EVENTS))
    reachable = {row.target for row in LIFECYCLE if row.target} | set(lifecycle.INITIAL.values())
    assert reachable == set(STATUSES)
    for row in LIFECYCLE:
        assert row.sources <= set(STATUSES) and row.note


def test_flagging_carries_the_real_cause_on_the_order_and_its_timeline() -> None:
    order = an_order(lifecycle.PACKED)
    flagged = order.apply(lifecycle.FLAG_FOR_ATTENTION, at=AT, detail="BookingRejected: no JNE service to 99999")
    assert flagged.attention == "BookingRejected: no JNE service to 99999"
    assert flagged.timeline[-1].note == "needs attention: BookingRejected: no JNE service to 99999"
    with pytest.raises(ValueError, match="needs a cause"):
        order.apply(lifecycle.FLAG_FOR_REVIEW, at=AT)


def test_a_pending_cancel_blocks_packing_and_a_packed_order_refuses_a_cancel() -> None:
    ready = an_order(lifecycle.READY_TO_PACK)
    asked = ready.apply(lifecycle.REQUEST_CANCEL, at=AT, actor="customer")
    with pytest.raises(TransitionRefused, match="the customer asked to cancel it") as refused:
        asked.apply(lifecycle.PACK, at=AT)
    assert refused.value.code == "not_ready_to_pack"
    packed = ready.apply(lifecycle.PACK, at=AT)
    with pytest.raises(TransitionRefused, match="order is PACKED: it can only be cancelled before it is packed"):
        packed.apply(lifecycle.REQUEST_CANCEL, at=AT)
    with pytest.raises(TransitionRefused, match="a cancel is already requested"):
        asked.apply(lifecycle.REQUEST_CANCEL, at=AT)


def test_an_unknown_event_is_a_programming_error_not_a_refusal() -> None:
    with pytest.raises(ValueError, match="unknown order event"):
        an_order(lifecycle.PAID).apply("teleport", at=AT)


def test_the_readme_lifecycle_diagram_is_the_table() -> None:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"```mermaid\n(stateDiagram-v2\n.*?)\n```", text, flags=re.S)
    assert match, "README.md has no mermaid state diagram"
    assert match.group(1) == lifecycle.mermaid(), "README diagram drifted: paste lifecycle.mermaid() into README"


def test_the_diagram_draws_every_allowed_transition() -> None:
    diagram = lifecycle.mermaid()
    for row in LIFECYCLE:
        if row.sources == lifecycle.ALL_STATUSES:
            assert f"'{row.event}' from any status" in diagram
            continue
        for source in row.sources:
            assert f"{source} --> {row.to_status(source)}: {row.event}" in diagram

