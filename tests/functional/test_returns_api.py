"""Returns over HTTP under moto: who may ask and decide, what bad input gets (a 4xx naming the problem, nothing
changed), and the worker's steps, each safe to run twice, with the refund computed from what was paid."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.fulfilment import service as fulfilment
from chalicelib.inventory import repository as stock
from chalicelib.orders import repository as orders
from chalicelib.payments import repository as ledger
from chalicelib.payments import service as payments
from chalicelib.payments.sandbox import SandboxGateway
from chalicelib.returns import repository as returns
from chalicelib.returns import service as return_steps
from chalicelib.shipping import tracking, webhooks
from tests.functional.helpers import body_of, create_product, create_voucher, place_order, send, snapshot

SKU, OTHER = "BTK-A", "BTK-B"



def task(name: str, return_id: str, token: str = "token-1", **extra: Any) -> dict[str, Any]:
    return {"task": name, "return_id": return_id, "order_id": return_id.rsplit("-R", 1)[0], "token": token, **extra}


def delivered_order(client: Any, auth_header: Any, *, method: str = "card", voucher: str | None = None
                    ) -> dict[str, Any]:
    """An order of 2 x BTK-A (200,000) and 1 x BTK-B (100,000), paid, shipped and delivered (COMPLETED)."""
    staff = auth_header("staff")
    create_product(client, staff, sku=SKU, stock=10, price=200_000)
    create_product(client, staff, sku=OTHER, stock=10, price=100_000)
    from tests.functional.helpers import checkout, checkout_body, new_cart, put_item

    cart_id = new_cart(client)
    put_item(client, cart_id, SKU, 2)
    put_item(client, cart_id, OTHER, 1)
    if voucher:
        create_voucher(client, auth_header("admin"), voucher, kind="fixed", value=30_001)
        assert send(client, "POST", f"/carts/{cart_id}/voucher", {"code": voucher}).status_code == 200
    placed = body_of(checkout(client, checkout_body(cart_id, payment_method=method)))
    deliver(placed["order_id"], at="2026-12-01T05:00:00Z")
    return placed


def deliver(order_id: str, *, at: str) -> None:
    """A placed order paid (unless cash on delivery), packed, booked, delivered `at` and completed."""
    if orders.get(order_id).payment_method != "cod":
        SandboxGateway().settle(order_id)
        payments.process_event({"provider": "midtrans", "order_id": order_id})
    fulfilment.handle_task({"task": "commit_stock", "order_id": order_id, "token": "t"})
    fulfilment.mark_packed(order_id, actor="staff-1")
    fulfilment.handle_task({"task": "book_shipment", "order_id": order_id, "token": "t"})
    booking_id = orders.get(order_id).shipment["booking_id"]
    webhooks.on_courier_update(tracking.CourierUpdate(kind="order.status", booking_id=booking_id, waybill_id=None,
                                                      tracking_id=None, status="delivered", price=None, at=at))
    fulfilment.handle_task({"task": "complete_order", "order_id": order_id, "token": "t"})
    assert orders.get(order_id).status == "COMPLETED"


def guest(placed: dict[str, Any]) -> dict[str, str]:
    return {"X-Order-Token": placed["access_token"]}


def ask(client: Any, placed: dict[str, Any], body: Any) -> Any:
    return send(client, "POST", f"/orders/{placed['order_id']}/returns", body, guest(placed))


def a_return(client: Any, placed: dict[str, Any], lines: dict[str, int], reason: str = "damaged") -> str:
    answer = ask(client, placed, {"lines": [{"sku": sku, "quantity": n} for sku, n in lines.items()],
                                  "reason": reason})
    assert answer.status_code == 201, answer.body
    return str(body_of(answer)["return_id"])


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"reason": "damaged"}, 400, "lines"),
    ({"lines": [], "reason": "damaged"}, 400, "lines"),
    ({"lines": [{"sku": SKU, "quantity": 0}], "reason": "damaged"}, 400, "quantity"),
    ({"lines": [{"sku": SKU, "quantity": "1"}], "reason": "damaged"}, 400, "quantity"),
    ({"lines": [{"sku": "NOPE-1", "quantity": 1}], "reason": "damaged"}, 400, "lines"),
    ({"lines": [{"sku": SKU, "quantity": 1}, {"sku": SKU, "quantity": 1}], "reason": "damaged"}, 400, "sku"),
    ({"lines": [{"sku": SKU, "quantity": 3}], "reason": "damaged"}, 422, "return_exceeds_delivered"),
    ({"lines": [{"sku": SKU, "quantity": 1}], "reason": "bored"}, 400, "reason"),
    ({"lines": [{"sku": SKU, "quantity": 1}], "reason": "other", "note": "x" * 1001}, 400, "note"),
    ({"lines": [{"sku": SKU, "quantity": 1}], "reason": "damaged", "photos": [{"content_type": "image/gif"}]},
     400, "content_type"),
    ({"lines": [{"sku": SKU, "quantity": 1}], "reason": "damaged", "photos": [{"content_type": "image/png"}] * 6},
     400, "photos"),
    ({"lines": [{"sku": SKU, "quantity": 1}], "reason": "damaged", "refund": 5}, 400, "refund"),
    ([1, 2], 400, "body"),
])
def test_a_bad_return_request_is_a_4xx_naming_the_problem_and_changes_nothing(
        client: Any, auth_header: Any, aws: Any, body: Any, status: int, field: str) -> None:
    placed = delivered_order(client, auth_header)
    before = snapshot(aws)
    answer = ask(client, placed, body)
    assert answer.status_code == status, answer.body
    assert field in answer.body.decode()
    assert snapshot(aws) == before


def test_only_the_owner_staff_or_the_token_holder_may_return_an_order(client: Any, auth_header: Any) -> None:
    placed = delivered_order(client, auth_header)
    body = {"lines": [{"sku": SKU, "quantity": 1}], "reason": "damaged"}
    stranger = send(client, "POST", f"/orders/{placed['order_id']}/returns", body, auth_header("customer", "cust-9"))
    wrong_token = send(client, "POST", f"/orders/{placed['order_id']}/returns", body, {"X-Order-Token": "nope"})
    assert (stranger.status_code, wrong_token.status_code) == (404, 404)
    assert returns.of_order(placed["order_id"]) == []


def test_an_order_not_yet_delivered_cannot_be_returned(client: Any, auth_header: Any) -> None:
    create_product(client, auth_header("staff"), sku=SKU, stock=5)
    placed = place_order(client, SKU, qty=1)
    answer = ask(client, placed, {"lines": [{"sku": SKU, "quantity": 1}], "reason": "damaged"})
    assert answer.status_code == 422 and body_of(answer)["error"]["code"] == "order_not_returnable"


def test_staff_decisions_need_a_staff_token(client: Any, auth_header: Any) -> None:
    placed = delivered_order(client, auth_header)
    return_id = a_return(client, placed, {SKU: 1})
    as_customer = send(client, "POST", f"/admin/returns/{return_id}/approve", {}, auth_header("customer"))
    anonymous = send(client, "POST", f"/admin/returns/{return_id}/approve", {})
    listing = send(client, "GET", "/admin/returns?status=requested", headers=auth_header("customer"))
    assert (as_customer.status_code, anonymous.status_code, listing.status_code) == (403, 401, 403)
    assert returns.get(return_id).status == "requested"


def test_a_request_claims_its_units_so_the_next_one_may_only_ask_for_what_is_left(
        client: Any, auth_header: Any) -> None:
    placed = delivered_order(client, auth_header)
    first = a_return(client, placed, {SKU: 1}, "changed_mind")
    too_many = ask(client, placed, {"lines": [{"sku": SKU, "quantity": 2}], "reason": "damaged"})
    second = a_return(client, placed, {SKU: 1, OTHER: 1})

    assert too_many.status_code == 422 and body_of(too_many)["error"]["details"]["lines"][SKU]["returnable"] == 1
    assert (first, second) == (f"{placed['order_id']}-R1", f"{placed['order_id']}-R2")
    order = orders.get(placed["order_id"])
    assert order.returned_units == {SKU: 2, OTHER: 1} and order.return_count == 2
    listed = body_of(send(client, "GET", f"/orders/{placed['order_id']}/returns", headers=guest(placed)))
    assert [item["return_id"] for item in listed["items"]] == [first, second]


def test_a_rejected_return_gives_its_units_back_and_tells_the_waiting_step(
        client: Any, auth_header: Any, resumed: list) -> None:
    placed = delivered_order(client, auth_header)
    return_id = a_return(client, placed, {SKU: 2})
    return_steps.handle_task(task("await_decision", return_id, token="decision"))
    staff = auth_header("staff")

    refused = send(client, "POST", f"/admin/returns/{return_id}/reject", {"reason": "x"}, staff)
    rejected = send(client, "POST", f"/admin/returns/{return_id}/reject", {"reason": "used and washed"}, staff)
    again = send(client, "POST", f"/admin/returns/{return_id}/approve", {}, staff)

    assert refused.status_code == 400
    assert rejected.status_code == 200 and body_of(rejected)["status"] == "rejected"
    assert again.status_code == 409 and body_of(again)["error"]["code"] == "return_step_refused"
    assert ("resume", "decision", {"decision": "reject"}) in resumed
    assert orders.get(placed["order_id"]).returned_units == {}
    assert a_return(client, placed, {SKU: 2}).endswith("-R2")


def test_receiving_restocks_and_writes_off_once_and_the_refund_is_given_once(
        client: Any, auth_header: Any, resumed: list) -> None:
    placed = delivered_order(client, auth_header)
    order_id = placed["order_id"]
    return_id = a_return(client, placed, {SKU: 2}, "damaged")
    staff = auth_header("staff")
    on_hand = stock.read_level(SKU).on_hand
    assert send(client, "POST", f"/admin/returns/{return_id}/approve", {}, staff).status_code == 200
    return_steps.handle_task(task("await_parcel", return_id, token="parcel"))

    over = send(client, "POST", f"/admin/returns/{return_id}/receive",
                {"lines": [{"sku": SKU, "restock": 2, "write_off": 1, "write_off_reason": "pecah"}]}, staff)
    no_reason = send(client, "POST", f"/admin/returns/{return_id}/receive",
                     {"lines": [{"sku": SKU, "restock": 1, "write_off": 1}]}, staff)
    body = {"lines": [{"sku": SKU, "restock": 1, "write_off": 1, "write_off_reason": "pecah saat dikirim"}]}
    received = send(client, "POST", f"/admin/returns/{return_id}/receive", body, staff)
    twice = send(client, "POST", f"/admin/returns/{return_id}/receive", body, staff)

    assert (over.status_code, no_reason.status_code) == (400, 400)
    assert (received.status_code, twice.status_code) == (200, 200)
    assert stock.read_level(SKU).on_hand == on_hand + 1
    kinds = sorted(row["kind"] for row in stock.ledger(SKU) if row["reference"] == return_id)
    assert kinds == ["returned", "write_off"]
    assert ("resume", "parcel", {"received": True}) in resumed

    first = return_steps.handle_task(task("refund_return", return_id, token="refund-1"))
    again = return_steps.handle_task(task("refund_return", return_id, token="refund-2"))
    paid_back = 2 * 200_000 + placed["totals"]["shipping"]  # both units (one written off) and the shipping
    assert first == again == f"refund gateway Rp{paid_back:,}"
    refunds = [row for row in ledger.entries(order_id) if row["kind"] == "refund"]
    assert [(row["amount"], row["reference"]) for row in refunds] == [(-paid_back, f"refund-{return_id}")]
    order = orders.get(order_id)
    assert (order.status, order.refunded_total) == ("PARTIALLY_REFUNDED", paid_back)
    return_steps.handle_task(task("close_return", return_id, token="close"))
    assert returns.get(return_id).status == "closed"


def test_the_refund_of_a_voucher_order_is_what_the_returned_units_really_cost(
        client: Any, auth_header: Any, resumed: list) -> None:
    placed = delivered_order(client, auth_header, voucher="HEMAT30")
    discount = placed["totals"]["discount"]
    assert discount == 30_001
    first = a_return(client, placed, {OTHER: 1}, "changed_mind")
    send(client, "POST", f"/admin/returns/{first}/approve", {"refund_only": True}, auth_header("staff"))
    return_steps.handle_task(task("refund_return", first))

    refund = returns.get(first).refund
    # BTK-B is 100,000 of the 500,000 subtotal: a fifth of the discount, rounded as the shares add up exactly
    assert refund["goods"] == 100_000 - 6_000 and refund["shipping"] == 0  # a change of mind: no shipping back
    assert refund["amount"] == refund["goods"]


def test_a_refund_only_return_needs_no_parcel_and_cannot_be_received(
        client: Any, auth_header: Any, resumed: list) -> None:
    placed = delivered_order(client, auth_header)
    return_id = a_return(client, placed, {OTHER: 1}, "incomplete")
    staff = auth_header("staff")
    approved = send(client, "POST", f"/admin/returns/{return_id}/approve", {"refund_only": True}, staff)
    received = send(client, "POST", f"/admin/returns/{return_id}/receive", {"lines": [{"sku": OTHER, "restock": 1}]},
                    staff)
    return_steps.handle_task(task("await_decision", return_id, token="decision"))

    assert approved.status_code == 200 and body_of(approved)["refund_only"] is True
    assert received.status_code == 409
    assert ("resume", "decision", {"decision": "refund_only"}) in resumed


def test_finance_refunds_part_of_an_order_once_per_key_and_never_more_than_was_paid(
        client: Any, auth_header: Any) -> None:
    placed = delivered_order(client, auth_header)
    order_id, total = placed["order_id"], placed["totals"]["total"]
    finance = auth_header("finance")
    path = f"/admin/orders/{order_id}/refunds"

    as_staff = send(client, "POST", path, {"amount": 10_000, "reason": "goodwill", "refund_key": "k1"},
                    auth_header("staff"))
    first = send(client, "POST", path, {"amount": 10_000, "reason": "goodwill", "refund_key": "k1"}, finance)
    repeat = send(client, "POST", path, {"amount": 10_000, "reason": "goodwill", "refund_key": "k1"}, finance)
    too_much = send(client, "POST", path, {"amount": total, "reason": "oops", "refund_key": "k2"}, finance)
    bad = send(client, "POST", path, {"amount": -5, "reason": "oops", "refund_key": "k3"}, finance)

    assert as_staff.status_code == 403
    assert (first.status_code, repeat.status_code) == (201, 201)
    assert body_of(repeat)["amount"] == 10_000 and body_of(repeat)["by"] == "gateway"
    assert too_much.status_code == 422 and body_of(too_much)["error"]["code"] == "refund_exceeds_paid"
    assert bad.status_code == 400
    assert [row["amount"] for row in ledger.entries(order_id) if row["kind"] == "refund"] == [-10_000]
    assert orders.get(order_id).refunded_total == 10_000


def test_staff_page_through_the_returns_queue_oldest_first_and_a_forged_cursor_is_a_400(
        client: Any, auth_header: Any) -> None:
    placed = delivered_order(client, auth_header)
    asked = [a_return(client, placed, {SKU: 1}), a_return(client, placed, {SKU: 1}),
             a_return(client, placed, {OTHER: 1})]
    staff = auth_header("staff")

    first = body_of(send(client, "GET", "/admin/returns?status=requested&limit=2", headers=staff))
    rest = body_of(send(client, "GET", f"/admin/returns?status=requested&limit=2&cursor={first['next_cursor']}",
                        headers=staff))
    forged = send(client, "GET", "/admin/returns?status=requested&cursor=bm90LWEtY3Vyc29y", headers=staff)
    unknown = send(client, "GET", "/admin/returns?status=lost", headers=staff)

    assert [item["return_id"] for item in first["items"] + rest["items"]] == asked
    assert rest["next_cursor"] is None
    assert (forged.status_code, unknown.status_code) == (400, 400)
