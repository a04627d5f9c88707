"""The rules of customer returns in plain Python: who may return what and when, inspection, the refund's amount
(each line's paid price with its voucher share, shipping when the shop is at fault), a return's steps, and the
order-side caps on what a refund may give back."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from datetime import timedelta
from fractions import Fraction

import pytest

from chalicelib import clock
from chalicelib.errors import Conflict, Unprocessable, ValidationFailed
from chalicelib.orders import lifecycle
from chalicelib.orders.domain import (
    Order,
    OrderLine,
    OrderTotals,
    RefundExceedsPaid,
    TimelineEntry,
    refund_event,
    refund_to_commit,
)
from chalicelib.returns.domain import (
    APPROVE,
    CHANGED_MIND,
    CLOSE,
    CUSTOMER,
    DAMAGED,
    FINAL,
    FLAG,
    MAX_RETURNS_PER_ORDER,
    NEEDS_ATTENTION,
    RECEIVE,
    REFUND,
    REQUESTED,
    RETURN_FLOW,
    RETURN_ID_PATTERN,
    RETURNABLE_ORDER,
    SEND_BACK,
    SHOP_AT_FAULT,
    STATUSES,
    OutsideReturnWindow,
    RefundQuote,
    Return,
    ReturnLine,
    StepRefused,
    TooManyUnits,
    check_window,
    claim,
    inspected_lines,
    next_return_id,
    paid_per_line,
    quote,
    refund_units,
    refunded_units,
    requested_lines,
    returnable_units,
)

ORDER_ID = "TK-261201-ABCDEF"
PLACED_AT = "2026-12-01T03:00:00.000Z"
DELIVERED_AT = "2026-12-03T09:30:00.000Z"
WINDOW_DAYS = 7
SHIPPING = 18_000
AT = "2026-12-05T08:00:00.000Z"


def a_line(sku: str, *, quantity: int, line_total: int, name: str = "") -> OrderLine:
    return OrderLine(sku=sku, product_id=f"p-{sku}", name=name or f"Batik {sku}", options={},
                     unit_price=line_total // quantity, quantity=quantity, line_total=line_total,
                     weight_grams=300 * quantity)


def an_order(*lines: OrderLine, status: str = lifecycle.DELIVERED, discount: int = 0, shipping: int = SHIPPING,
             delivered_at: str | None = DELIVERED_AT, returned_units: dict[str, int] | None = None,
             refunds: dict[str, int] | None = None, return_count: int = 0) -> Order:
    lines = lines or (a_line("BTK-A", quantity=3, line_total=300_000),)
    subtotal = sum(line.line_total for line in lines)
    timeline = [TimelineEntry(at=PLACED_AT, status=lifecycle.PENDING_PAYMENT, note="order placed")]
    if delivered_at is not None:
        timeline.append(TimelineEntry(at=delivered_at, status=lifecycle.DELIVERED, note="delivered by the courier",
                                      event=lifecycle.DELIVER))
    return Order(
        order_id=ORDER_ID, status=status, created_at=PLACED_AT, customer={"name": "Sari"}, customer_id="cust-1",
        shipping_address={}, shipping={}, payment_method="bank_transfer", lines=lines,
        totals=OrderTotals(subtotal=subtotal, discount=discount, shipping=shipping,
                           total=subtotal - discount + shipping, ppn_included=0, ppn_rate_percent=11,
                           weight_grams=sum(line.weight_grams for line in lines)),
        cart_id="c" * 32, access_token_hash="h", timeline=tuple(timeline), version=5,
        returned_units=dict(returned_units or {}), refunds=dict(refunds or {}), return_count=return_count)


def a_return(status: str = REQUESTED, *, lines: tuple[ReturnLine, ...] | None = None, refund_only: bool = False
             ) -> Return:
    return Return(return_id=f"{ORDER_ID}-R1", order_id=ORDER_ID, status=status, origin=CUSTOMER, reason=DAMAGED,
                  note="", lines=lines or (ReturnLine(sku="BTK-A", name="Batik BTK-A", quantity=2),),
                  shop_at_fault=True, created_at=AT, updated_at=AT, refund_only=refund_only)


def after(start: str, **delta: float) -> str:
    return clock.iso(clock.parse_iso(start) + timedelta(**delta))


# ---- the return window --------------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(hours=1), timedelta(days=WINDOW_DAYS)],
                         ids=["at-delivery", "an-hour-later", "last-moment"])
def test_a_return_is_allowed_from_delivery_up_to_window_days_later(offset: timedelta) -> None:
    now = clock.iso(clock.parse_iso(DELIVERED_AT) + offset)
    check_window(an_order(), now_iso=now, window_days=WINDOW_DAYS)


def test_a_return_one_second_after_the_window_is_refused_with_422_return_window_closed() -> None:
    now = after(DELIVERED_AT, days=WINDOW_DAYS, seconds=1)
    with pytest.raises(OutsideReturnWindow) as closed:
        check_window(an_order(), now_iso=now, window_days=WINDOW_DAYS)
    assert isinstance(closed.value, Unprocessable) and closed.value.status == 422
    assert closed.value.code == "return_window_closed"
    assert closed.value.details == {"delivered_at": DELIVERED_AT, "window_days": WINDOW_DAYS,
                                    "closed_at": after(DELIVERED_AT, days=WINDOW_DAYS)}


def test_the_window_counts_from_the_deliver_entry_not_from_later_timeline_entries() -> None:
    order = an_order(status=lifecycle.COMPLETED)
    completed = replace(order, timeline=(*order.timeline, TimelineEntry(
        at=after(DELIVERED_AT, days=5), status=lifecycle.COMPLETED, note="complete", event=lifecycle.COMPLETE)))
    with pytest.raises(OutsideReturnWindow):
        check_window(completed, now_iso=after(DELIVERED_AT, days=WINDOW_DAYS, seconds=1), window_days=WINDOW_DAYS)


@pytest.mark.parametrize("status", sorted(RETURNABLE_ORDER))
def test_delivered_completed_and_partially_refunded_orders_are_returnable(status: str) -> None:
    check_window(an_order(status=status), now_iso=after(DELIVERED_AT, days=1), window_days=WINDOW_DAYS)


@pytest.mark.parametrize("status", sorted(set(lifecycle.STATUSES) - RETURNABLE_ORDER))
def test_an_order_in_any_other_status_is_refused_as_order_not_returnable(status: str) -> None:
    with pytest.raises(Unprocessable) as refused:
        check_window(an_order(status=status), now_iso=after(DELIVERED_AT, days=1), window_days=WINDOW_DAYS)
    assert refused.value.status == 422 and refused.value.code == "order_not_returnable"
    assert refused.value.details == {"status": status}


def test_a_delivered_order_without_a_deliver_timeline_entry_is_not_returnable() -> None:
    with pytest.raises(Unprocessable) as refused:
        check_window(an_order(delivered_at=None), now_iso=DELIVERED_AT, window_days=WINDOW_DAYS)
    assert refused.value.code == "order_not_returnable"


def test_an_order_that_already_has_the_most_returns_refuses_another() -> None:
    check_window(an_order(return_count=MAX_RETURNS_PER_ORDER - 1), now_iso=DELIVERED_AT, window_days=WINDOW_DAYS)
    with pytest.raises(Unprocessable) as refused:
        check_window(an_order(return_count=MAX_RETURNS_PER_ORDER), now_iso=DELIVERED_AT, window_days=WINDOW_DAYS)
    assert refused.value.code == "too_many_returns"


def test_the_next_return_id_follows_the_order_id_and_the_returns_already_opened() -> None:
    assert next_return_id(an_order()) == f"{ORDER_ID}-R1"
    assert next_return_id(an_order(return_count=4)) == f"{ORDER_ID}-R5"
    assert re.fullmatch(RETURN_ID_PATTERN, next_return_id(an_order(return_count=MAX_RETURNS_PER_ORDER - 1)))


# ---- what may be returned -----------------------------------------------------------------------------------


def two_line_order(*, returned_units: dict[str, int] | None = None) -> Order:
    return an_order(a_line("BTK-A", quantity=3, line_total=300_000, name="Batik tulis"),
                    a_line("SRG-B", quantity=1, line_total=120_000, name="Sarung tenun"), returned_units=returned_units)


def test_requested_lines_carry_each_sku_with_its_order_line_name_and_the_units_asked() -> None:
    lines = requested_lines(two_line_order(), {"BTK-A": 2, "SRG-B": 1})
    assert sorted(lines, key=lambda line: line.sku) == [ReturnLine(sku="BTK-A", name="Batik tulis", quantity=2),
                                                        ReturnLine(sku="SRG-B", name="Sarung tenun", quantity=1)]
    assert all(line.inspected == 0 for line in lines)


def test_every_delivered_unit_not_yet_claimed_may_be_returned() -> None:
    order = two_line_order(returned_units={"BTK-A": 2})
    assert returnable_units(order) == {"BTK-A": 1, "SRG-B": 1}
    assert requested_lines(order, {"BTK-A": 1}) == (ReturnLine(sku="BTK-A", name="Batik tulis", quantity=1),)


def test_more_units_than_delivered_minus_already_claimed_are_refused_naming_the_sku() -> None:
    order = two_line_order(returned_units={"BTK-A": 2})
    with pytest.raises(TooManyUnits) as refused:
        requested_lines(order, {"BTK-A": 2, "SRG-B": 1})
    assert isinstance(refused.value, Unprocessable) and refused.value.status == 422
    assert refused.value.code == "return_exceeds_delivered"
    assert "BTK-A (1 left)" in refused.value.message and "SRG-B" not in refused.value.message
    assert refused.value.details == {"lines": {"BTK-A": {"requested": 2, "returnable": 1}}}


def test_more_units_than_were_ever_delivered_are_refused() -> None:
    with pytest.raises(TooManyUnits, match=r"SRG-B \(1 left\)"):
        requested_lines(two_line_order(), {"SRG-B": 2})


def test_units_of_one_sku_on_two_order_lines_count_together() -> None:
    order = an_order(a_line("BTK-A", quantity=2, line_total=200_000), a_line("BTK-A", quantity=1, line_total=90_000))
    assert returnable_units(order) == {"BTK-A": 3}
    assert requested_lines(order, {"BTK-A": 3})[0].quantity == 3


def test_an_sku_not_on_the_order_is_refused_as_a_validation_failure() -> None:
    with pytest.raises(ValidationFailed, match="KAIN-Z is not on order") as refused:
        requested_lines(two_line_order(), {"BTK-A": 1, "KAIN-Z": 1})
    assert refused.value.status == 400 and refused.value.field == "lines"


def test_an_empty_request_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="at least one line"):
        requested_lines(two_line_order(), {})


def test_claiming_units_then_releasing_them_gives_them_back() -> None:
    order = two_line_order(returned_units={"SRG-B": 1})
    claimed = claim(order, {"BTK-A": 2})
    assert claimed == {"BTK-A": 2, "SRG-B": 1}
    assert order.returned_units == {"SRG-B": 1}  # the order itself is not changed
    holding = replace(order, returned_units=claimed)
    assert returnable_units(holding) == {"BTK-A": 1, "SRG-B": 0}
    with pytest.raises(TooManyUnits):
        requested_lines(holding, {"BTK-A": 2})
    released = claim(holding, {"BTK-A": 2}, sign=-1)
    assert released == {"SRG-B": 1}  # a SKU with nothing claimed is dropped, not kept at zero
    assert returnable_units(replace(holding, returned_units=released)) == returnable_units(order)


def test_a_second_claim_adds_to_the_units_already_claimed() -> None:
    assert claim(two_line_order(returned_units={"BTK-A": 1}), {"BTK-A": 2}) == {"BTK-A": 3}


# ---- what each line cost ----------------------------------------------------------------------------------------

AWKWARD = (a_line("A", quantity=1, line_total=99_999), a_line("B", quantity=1, line_total=150_001),
           a_line("C", quantity=1, line_total=33_333))


def test_a_voucher_discount_is_shared_in_proportion_and_the_shares_add_up_to_the_discount_exactly() -> None:
    paid = paid_per_line(an_order(*AWKWARD, discount=10_001))
    totals = {line.sku: line.line_total for line in AWKWARD}
    shares = {sku: totals[sku] - paid[sku] for sku in totals}
    assert sum(shares.values()) == 10_001
    subtotal = sum(totals.values())
    for sku, share in shares.items():  # each share is its exact proportion rounded down or up, never further
        exact = Fraction(10_001 * totals[sku], subtotal)
        assert share in (math.floor(exact), math.ceil(exact))
    # Exact shares 3529.73 / 5294.69 / 1176.58: the two Rupiah left by rounding go to the largest remainders.
    assert shares == {"A": 3_530, "B": 5_295, "C": 1_176}
    assert paid == {"A": 96_469, "B": 144_706, "C": 32_157}


def test_without_a_discount_each_sku_costs_its_line_total() -> None:
    assert paid_per_line(an_order(*AWKWARD)) == {"A": 99_999, "B": 150_001, "C": 33_333}


def test_two_lines_of_one_sku_are_priced_together() -> None:
    order = an_order(a_line("A", quantity=2, line_total=200_000), a_line("A", quantity=1, line_total=90_000))
    assert paid_per_line(order) == {"A": 290_000}


def test_a_discount_larger_than_the_goods_makes_them_free_but_never_negative() -> None:
    assert paid_per_line(an_order(*AWKWARD, discount=1_000_000)) == {"A": 0, "B": 0, "C": 0}


# ---- the refund's amount ------------------------------------------------------------------------------------


def test_a_line_returned_over_several_returns_refunds_exactly_what_the_line_cost() -> None:
    order = an_order(a_line("BTK-A", quantity=3, line_total=100_000), a_line("SRG-B", quantity=1, line_total=50_001),
                     discount=7_777)
    paid = paid_per_line(order)["BTK-A"]
    first = quote(order, {"BTK-A": 1}, refunded_before={}, shop_at_fault=False, shipping_refunded=False)
    second = quote(order, {"BTK-A": 2}, refunded_before={"BTK-A": 1}, shop_at_fault=False, shipping_refunded=False)
    assert first.goods + second.goods == paid
    assert first.goods == paid // 3 and second.goods == paid - paid // 3


@pytest.mark.parametrize("splits", [(1, 1, 1, 1, 1, 1, 1), (2, 5), (3, 3, 1), (1, 6), (7,)])
def test_any_split_of_a_line_over_returns_adds_up_to_the_line_paid_price(splits: tuple[int, ...]) -> None:
    order = an_order(a_line("A", quantity=7, line_total=99_999), a_line("B", quantity=2, line_total=33_333),
                     discount=10_001)
    refunded: dict[str, int] = {}
    goods = 0
    for units in splits:
        goods += quote(order, {"A": units}, refunded_before=refunded, shop_at_fault=False,
                       shipping_refunded=False).goods
        refunded["A"] = refunded.get("A", 0) + units
    assert goods == paid_per_line(order)["A"]


def test_units_already_refunded_in_full_refund_nothing_more() -> None:
    order = an_order()
    assert quote(order, {"BTK-A": 1}, refunded_before={"BTK-A": 3}, shop_at_fault=True,
                 shipping_refunded=False) == RefundQuote(goods=0, shipping=0)


def test_shipping_is_refunded_when_the_shop_is_at_fault_and_it_was_not_refunded_before() -> None:
    refund = quote(an_order(), {"BTK-A": 1}, refunded_before={}, shop_at_fault=True, shipping_refunded=False)
    assert refund == RefundQuote(goods=100_000, shipping=SHIPPING)
    assert refund.total == 100_000 + SHIPPING
    assert refund.to_dict() == {"goods": 100_000, "shipping": SHIPPING, "total": 100_000 + SHIPPING}


def test_shipping_is_refunded_once_per_order() -> None:
    refund = quote(an_order(), {"BTK-A": 1}, refunded_before={}, shop_at_fault=True, shipping_refunded=True)
    assert refund == RefundQuote(goods=100_000, shipping=0)


def test_a_change_of_mind_refunds_the_goods_but_not_the_shipping() -> None:
    refund = quote(an_order(), {"BTK-A": 2}, refunded_before={}, shop_at_fault=False, shipping_refunded=False)
    assert refund == RefundQuote(goods=200_000, shipping=0)


@pytest.mark.parametrize("units", [{}, {"BTK-A": 0}], ids=["no-units", "zero-units"])
def test_a_refund_with_no_goods_refunds_no_shipping_even_when_the_shop_is_at_fault(units: dict[str, int]) -> None:
    refund = quote(an_order(), units, refunded_before={}, shop_at_fault=True, shipping_refunded=False)
    assert refund == RefundQuote(goods=0, shipping=0)


def test_refunded_units_count_the_other_returns_that_have_a_refund() -> None:
    refunded = replace(a_return(), return_id=f"{ORDER_ID}-R1", refund={"units": {"BTK-A": 1, "SRG-B": 1}})
    also = replace(a_return(), return_id=f"{ORDER_ID}-R2", refund={"units": {"BTK-A": 2}})
    not_yet = replace(a_return(), return_id=f"{ORDER_ID}-R3", refund=None)
    this = replace(a_return(), return_id=f"{ORDER_ID}-R4", refund={"units": {"BTK-A": 9}})
    counted = refunded_units([refunded, also, not_yet, this], excluding=this.return_id)
    assert counted == {"BTK-A": 3, "SRG-B": 1}


# ---- inspection ----------------------------------------------------------------------------------------------

TWO_RETURNED = (ReturnLine(sku="BTK-A", name="Batik tulis", quantity=3),
                ReturnLine(sku="SRG-B", name="Sarung tenun", quantity=1))


def test_inspection_records_units_restocked_and_written_off_per_line() -> None:
    lines = inspected_lines(a_return(lines=TWO_RETURNED), {"BTK-A": (2, 1, "torn"), "SRG-B": (1, 0, "")})
    assert lines == (ReturnLine(sku="BTK-A", name="Batik tulis", quantity=3, restocked=2, written_off=1,
                                write_off_reason="torn"),
                     ReturnLine(sku="SRG-B", name="Sarung tenun", quantity=1, restocked=1))


def test_restocking_and_writing_off_more_units_than_were_returned_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="BTK-A: 4 units inspected but only 3 were returned"):
        inspected_lines(a_return(lines=TWO_RETURNED), {"BTK-A": (2, 2, "torn"), "SRG-B": (1, 0, "")})


def test_a_write_off_without_a_reason_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="SRG-B: a write-off needs a write_off_reason"):
        inspected_lines(a_return(lines=TWO_RETURNED), {"BTK-A": (3, 0, ""), "SRG-B": (0, 1, "")})


def test_a_returned_line_missing_from_the_inspection_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="say what happened to SRG-B"):
        inspected_lines(a_return(lines=TWO_RETURNED), {"BTK-A": (3, 0, "")})


def test_an_inspected_sku_that_is_not_on_the_return_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="KAIN-Z is not on return"):
        inspected_lines(a_return(lines=TWO_RETURNED),
                        {"BTK-A": (3, 0, ""), "SRG-B": (1, 0, ""), "KAIN-Z": (1, 0, "")})


def test_units_missing_from_the_parcel_are_neither_restocked_nor_written_off_nor_refunded() -> None:
    lines = inspected_lines(a_return(lines=TWO_RETURNED), {"BTK-A": (1, 0, "ignored"), "SRG-B": (0, 0, "")})
    assert [(line.sku, line.quantity, line.restocked, line.written_off, line.inspected) for line in lines] == [
        ("BTK-A", 3, 1, 0, 1), ("SRG-B", 1, 0, 0, 0)]
    assert all(line.write_off_reason == "" for line in lines)  # a reason without a write-off is not kept
    assert refund_units(replace(a_return(lines=TWO_RETURNED), lines=lines)) == {"BTK-A": 1}


def test_a_refund_without_return_pays_for_every_requested_unit() -> None:
    assert refund_units(a_return(lines=TWO_RETURNED, refund_only=True)) == {"BTK-A": 3, "SRG-B": 1}


def test_a_refund_after_inspection_pays_for_units_restocked_or_written_off() -> None:
    lines = (replace(TWO_RETURNED[0], restocked=1, written_off=1, write_off_reason="stained"), TWO_RETURNED[1])
    assert refund_units(a_return(lines=lines)) == {"BTK-A": 2}


def test_a_return_line_survives_a_round_trip_through_its_stored_form() -> None:
    line = ReturnLine(sku="BTK-A", name="Batik tulis", quantity=3, restocked=1, written_off=2,
                      write_off_reason="torn")
    assert ReturnLine.from_dict(line.to_dict()) == line
    assert ReturnLine.from_dict({"sku": "BTK-A", "name": "Batik tulis", "quantity": "2"}) == ReturnLine(
        sku="BTK-A", name="Batik tulis", quantity=2)


# ---- a return's steps -------------------------------------------------------------------------------------------

EVENTS = tuple(step.event for step in RETURN_FLOW)


def table_target(event: str, status: str) -> str | None:
    """What RETURN_FLOW says, read independently of Return.apply: the target status, or None if refused."""
    (step,) = [step for step in RETURN_FLOW if step.event == event]
    return step.target if status in step.sources else None


@pytest.mark.parametrize(("event", "status"), [pytest.param(event, status, id=f"{event}-{status}")
                                               for event in EVENTS for status in STATUSES])
def test_every_event_from_every_status_moves_as_the_table_says_or_is_refused_with_409(event: str, status: str
                                                                                     ) -> None:
    ret = a_return(status)
    target = table_target(event, status)
    if target is None:
        with pytest.raises(StepRefused) as refused:
            ret.apply(event, at=AT, actor="staff-1", detail="why")
        assert isinstance(refused.value, Conflict) and refused.value.status == 409
        assert refused.value.code == "return_step_refused"
        assert refused.value.details == {"return_id": ret.return_id, "status": status, "event": event}
        assert f"is {status}" in refused.value.message
        assert not ret.allows(event)
        return
    moved = ret.apply(event, at="2026-12-06T01:00:00.000Z", actor="staff-1")
    assert ret.allows(event)
    assert moved.status == target
    assert moved.version == ret.version + 1 and moved.updated_at == "2026-12-06T01:00:00.000Z"
    assert moved.history[:-1] == ret.history
    entry = moved.history[-1]
    assert (entry.status, entry.event, entry.actor, entry.at) == (target, event, "staff-1", "2026-12-06T01:00:00.000Z")


def test_the_flow_names_each_event_once_and_only_known_statuses() -> None:
    assert len(EVENTS) == len(set(EVENTS))
    for step in RETURN_FLOW:
        assert step.sources <= set(STATUSES) and step.target in STATUSES and step.note
    assert {step.target for step in RETURN_FLOW} | {REQUESTED} == set(STATUSES)


@pytest.mark.parametrize("status", sorted(FINAL))
def test_a_final_return_refuses_every_step(status: str) -> None:
    assert not any(a_return(status).allows(event) for event in EVENTS)


def test_flagging_a_return_keeps_the_cause_as_its_attention_and_in_its_history() -> None:
    flagged = a_return("approved").apply(FLAG, at=AT, actor="returns", detail="WorkerError: gateway down")
    assert flagged.status == NEEDS_ATTENTION
    assert flagged.attention == "WorkerError: gateway down"
    assert flagged.history[-1].note == "needs attention: WorkerError: gateway down"


def test_a_step_sets_the_other_fields_passed_with_it() -> None:
    approved = a_return().apply(APPROVE, at=AT, actor="staff-1", refund_only=True, decision_note="keep it")
    assert (approved.refund_only, approved.decision_note, approved.attention) == (True, "keep it", None)


def test_the_history_grows_by_one_entry_per_step() -> None:
    ret = a_return()
    walk = [APPROVE, SEND_BACK, SEND_BACK, RECEIVE, REFUND, CLOSE]
    for count, event in enumerate(walk, start=1):
        ret = ret.apply(event, at=AT, actor="staff-1")
        assert len(ret.history) == count and ret.version == 1 + count
    assert [entry.event for entry in ret.history] == walk
    assert [entry.status for entry in ret.history] == [
        "approved", "sent_back", "sent_back", "received", "refunding", "closed"]
    assert ret.to_dict()["history"][-1]["status"] == "closed"


# ---- the order's caps on a refund ---------------------------------------------------------------------------


def test_a_refund_without_an_amount_takes_all_that_is_left() -> None:
    assert refund_to_commit(an_order(), "return:R1", None, refundable=123_456) == 123_456


def test_a_refund_without_an_amount_takes_nothing_when_nothing_is_left() -> None:
    assert refund_to_commit(an_order(), "return:R1", None, refundable=-5_000) == 0


def test_a_refund_of_exactly_what_is_left_is_allowed() -> None:
    assert refund_to_commit(an_order(), "return:R1", 50_000, refundable=50_000) == 50_000


def test_a_refund_above_what_is_refundable_is_refused_with_422_refund_exceeds_paid() -> None:
    with pytest.raises(RefundExceedsPaid) as refused:
        refund_to_commit(an_order(), "return:R1", 50_001, refundable=50_000)
    assert isinstance(refused.value, Unprocessable) and refused.value.status == 422
    assert refused.value.code == "refund_exceeds_paid"
    assert refused.value.details == {"amount": 50_001, "refundable": 50_000}


@pytest.mark.parametrize("amount", [0, -1, -100_000])
def test_a_refund_of_zero_or_less_is_refused(amount: int) -> None:
    with pytest.raises(RefundExceedsPaid, match="at least Rp1"):
        refund_to_commit(an_order(), "return:R1", amount, refundable=50_000)


@pytest.mark.parametrize("amount", [None, 1, 40_000, 999_999, 0])
def test_a_refund_key_used_before_answers_its_own_amount_even_when_nothing_is_left(amount: int | None) -> None:
    order = an_order(refunds={"return:R1": 40_000, "goodwill": 10_000})
    assert refund_to_commit(order, "return:R1", amount, refundable=0) == 40_000


def test_a_refund_reaching_everything_captured_is_a_refund_in_full() -> None:
    assert refund_event(an_order(), 318_000, captured=318_000) == lifecycle.REFUND_IN_FULL
    assert refund_event(an_order(refunds={"goodwill": 18_000}), 300_000, captured=318_000) == lifecycle.REFUND_IN_FULL


def test_a_refund_short_of_everything_captured_is_a_partial_refund() -> None:
    assert refund_event(an_order(), 317_999, captured=318_000) == lifecycle.REFUND
    assert refund_event(an_order(refunds={"goodwill": 18_000}), 299_999, captured=318_000) == lifecycle.REFUND


def test_changed_mind_is_not_a_reason_the_shop_pays_shipping_for() -> None:
    assert CHANGED_MIND not in SHOP_AT_FAULT and DAMAGED in SHOP_AT_FAULT
