"""An order's life after checkout, end to end through the local stack: payment, stock, packing, the courier,
cancellations, and everything providers and queues do wrong (duplicates, reordering, forgeries, poison messages).

The shop is only talked to over HTTP, the way Midtrans, Biteship and a browser would. The sandbox gateway and
the sandbox courier stand in for the outside world: they settle or expire payments and sign notifications and
webhooks with the local stage's secrets. State is read back through chalicelib (orders, money ledger, outbox);
asynchronous effects are awaited with deadlines, never with fixed sleeps alone.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

import boto3
import pytest
import requests

from chalicelib import clock, resources
from chalicelib.auth import mint_dev_token
from chalicelib.notifications import service as notifications
from chalicelib.orders import repository as orders
from chalicelib.orders import workflow
from chalicelib.orders.domain import Order
from chalicelib.payments import notification as midtrans
from chalicelib.payments import repository as ledger
from chalicelib.payments.adapters import server_key
from chalicelib.payments.gateway import GatewayError
from chalicelib.payments.sandbox import SandboxGateway
from chalicelib.shipping import adapters as shipping_adapters
from chalicelib.shipping import tracking
from chalicelib.shipping.couriers import Booking, BookingRejected, BookingRequest
from chalicelib.shipping.couriers import RateCardCourier as SandboxCourier
from tests.e2e.shop import TIMEOUT, checkout_body, new_cart, staff_headers, stock_of

pytestmark = pytest.mark.e2e

WAIT = 30.0  # asynchronous effects (queues, Step Functions)
POLL = 0.3
REGION = "ap-southeast-3"
COURIER_JOURNEY = ("allocated", "picking_up", "picked", "dropping_off", "delivered")
T = TypeVar("T")


# ---- waiting ------------------------------------------------------------------------------------------------


def wait_for(what: str, probe: Callable[[], T], *, timeout: float = WAIT, describe: Callable[[], Any] | None = None
             ) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` (and the last state) at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            seen = describe() if describe else value
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {seen!r}")
        time.sleep(POLL)


def load(order_id: str) -> Order:
    order = orders.get(order_id)
    assert order is not None, f"order {order_id} is not in the orders table"
    return order


def wait_status(order_id: str, *statuses: str, timeout: float = WAIT) -> Order:
    def describe() -> Any:
        order = load(order_id)
        return {"status": order.status, "timeline": [(e.status, e.note) for e in order.timeline]}

    def reached() -> Order | None:
        order = load(order_id)
        return order if order.status in statuses else None

    return wait_for(f"order {order_id} to be {' or '.join(statuses)}", reached, timeout=timeout, describe=describe)


def sqs_client(stack: Any) -> Any:
    return boto3.client("sqs", endpoint_url=stack.moto_url, region_name=REGION)


def queue_url(stack: Any, name: str) -> str:
    return sqs_client(stack).get_queue_url(QueueName=name)["QueueUrl"]


def queue_counts(stack: Any, name: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = sqs_client(stack).get_queue_attributes(QueueUrl=queue_url(stack, name), AttributeNames=["All"])
    values = attributes["Attributes"]
    return int(values["ApproximateNumberOfMessages"]), int(values["ApproximateNumberOfMessagesNotVisible"])


def wait_drained(stack: Any, *specs: resources.QueueSpec) -> None:
    """Every message sent so far was handled and deleted: nothing visible, nothing in flight."""
    for spec in specs:
        name = spec.physical_name
        wait_for(f"queue {name} to drain", lambda name=name: queue_counts(stack, name) == (0, 0),
                 describe=lambda name=name: queue_counts(stack, name))


EVENT_QUEUES = (resources.PAYMENT_EVENTS_QUEUE, resources.COURIER_EVENTS_QUEUE, resources.FULFILMENT_TASKS_QUEUE)


# ---- the shop over HTTP ----------------------------------------------------------------------------------------


def new_sku(api: str, label: str, *, stock: int, price: int = 250_000) -> str:
    """A product of its own for each test, so stock figures are exact whatever else runs."""
    sku = f"E2E-{label}-{uuid.uuid4().hex[:6].upper()}"
    created = requests.post(f"{api}/admin/products", headers=staff_headers(), timeout=TIMEOUT, json={
        "name": f"Tas Anyaman Pandan {label}", "category": "Kerajinan Kayu", "status": "active",
        "images": [f"https://images.tokoflow.test/e2e/{sku.lower()}.jpg"],
        "variants": [{"sku": sku, "price": price, "weight_grams": 400}], "initial_stock": {sku: stock}})
    assert created.status_code == 201, created.text
    return sku


def stock_rows(api: str, sku: str, order_id: str) -> list[str]:
    """The kinds of stock movements recorded for one order, oldest first."""
    return [row["kind"] for row in reversed(stock_of(api, sku)["ledger"]) if row["reference"] == order_id]


def place_order(api: str, sku: str, quantity: int = 1, payment_method: str = "bank_transfer") -> dict[str, Any]:
    """Cart, then checkout; the checkout answer (order, payment instructions, access token)."""
    cart_id = new_cart(api, {sku: quantity})
    placed = requests.post(f"{api}/checkout", json=checkout_body(cart_id, payment_method),
                           headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=TIMEOUT)
    assert placed.status_code == 201, placed.text
    return placed.json()


def read_order(api: str, placed: dict[str, Any]) -> dict[str, Any]:
    """GET /orders/{id} as the guest who holds the order's access token."""
    answer = requests.get(f"{api}/orders/{placed['order_id']}", headers={"X-Order-Token": placed["access_token"]},
                          timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    return answer.json()


def pack(api: str, order_id: str) -> requests.Response:
    return requests.post(f"{api}/admin/orders/{order_id}/packed", headers=staff_headers(), json={}, timeout=TIMEOUT)


def cancel(api: str, placed: dict[str, Any]) -> requests.Response:
    return requests.post(f"{api}/orders/{placed['order_id']}/cancel",
                         headers={"X-Order-Token": placed["access_token"]}, json={}, timeout=TIMEOUT)


# ---- the payment gateway's side (sandbox standing in for Midtrans) ----------------------------------------------


def signed_notification(order_id: str) -> dict[str, Any]:
    """What Midtrans would POST for the transaction's current state, signed with the local server key."""
    return SandboxGateway().notification_for(order_id, server_key=server_key())


def post_midtrans(api: str, payload: dict[str, Any] | bytes) -> requests.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return requests.post(f"{api}/webhooks/payments/midtrans", data=body,
                         headers={"Content-Type": "application/json"}, timeout=TIMEOUT)


def pay(api: str, order_id: str, *, amount: int | None = None) -> dict[str, Any]:
    """The shopper pays at the gateway, which notifies the shop; returns the notification it sent."""
    SandboxGateway().settle(order_id, amount=amount)
    payload = signed_notification(order_id)
    answer = post_midtrans(api, payload)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "accepted"}
    return payload


def money(order_id: str) -> list[dict[str, Any]]:
    return ledger.entries(order_id)


# ---- the courier's side (sandbox courier speaking Biteship) ------------------------------------------------------


def courier_body(order_id: str, status: str, at: str, **extra: Any) -> bytes:
    booking = Booking.from_dict(load(order_id).shipment or {})
    return tracking.canonical_body({**tracking.sandbox_webhook(order_id, booking, status, at), **extra})


def post_courier(api: str, body: bytes, *, provider: str = "sandbox", signature: str | None = "sign"
                 ) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        signature = tracking.sandbox_signature(shipping_adapters.webhook_secret(), body)
    if signature is not None:
        headers[tracking.SANDBOX_SIGNATURE_HEADER] = signature
    return requests.post(f"{api}/webhooks/couriers/{provider}", data=body, headers=headers, timeout=TIMEOUT)


def courier_reports(api: str, order_id: str, status: str, at: str) -> requests.Response:
    answer = post_courier(api, courier_body(order_id, status, at))
    assert answer.status_code == 200, answer.text
    return answer


def minutes_from(start: Any, minutes: int) -> str:
    return clock.iso(start + timedelta(minutes=minutes))


def history(order: Order) -> list[str]:
    return [event["status"] for event in (order.shipment or {}).get("history", [])]


# ---- journeys other tests start from -------------------------------------------------------------------------------


def ready_to_pack(api: str, sku: str, quantity: int = 1, payment_method: str = "bank_transfer") -> dict[str, Any]:
    placed = place_order(api, sku, quantity, payment_method)
    pay(api, placed["order_id"])
    wait_status(placed["order_id"], "READY_TO_PACK")
    return placed


def shipped(api: str, sku: str) -> dict[str, Any]:
    placed = ready_to_pack(api, sku)
    assert pack(api, placed["order_id"]).status_code == 200
    wait_status(placed["order_id"], "SHIPPED")
    return placed


def outbox_events(order_id: str) -> dict[str, str]:
    """event -> delivery status of the order's customer notifications."""
    return {item["event"]: item["status"] for item in notifications.outbox(order_id)}


def wait_notified(order_id: str, *events: str) -> dict[str, str]:
    def sent() -> dict[str, str] | None:
        seen = outbox_events(order_id)
        return seen if all(seen.get(event) == notifications.SENT for event in events) else None

    return wait_for(f"notifications {events} for {order_id}", sent, describe=lambda: outbox_events(order_id))


def collapse(statuses: list[str]) -> list[str]:
    """Consecutive repeats folded: courier scans add timeline entries without changing the order status."""
    return [status for index, status in enumerate(statuses) if index == 0 or statuses[index - 1] != status]


# ================================================================================================================
# 1. The whole journey
# ================================================================================================================


def test_paid_order_travels_from_checkout_to_completed_selling_its_stock_exactly_once(stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "HAPPY", stock=10)
    before = stock_of(api, sku)

    # checkout: a bank transfer gets a virtual account to pay into, and 2 units are reserved
    placed = place_order(api, sku, quantity=2)
    order_id, total = placed["order_id"], placed["totals"]["total"]
    assert placed["status"] == "PENDING_PAYMENT"
    assert placed["payment"]["method"] == "bank_transfer"
    assert placed["payment"]["va_number"] and placed["payment"]["bank"] == "bca"
    assert placed["payment"]["amount"] == total
    assert stock_of(api, sku)["reserved"] == before["reserved"] + 2

    # the gateway settles and sends a signed notification: PAID, then the workflow commits stock
    pay(api, order_id)
    wait_status(order_id, "READY_TO_PACK")

    # staff pack: the workflow books the courier and the order carries a waybill
    packed = pack(api, order_id)
    assert packed.status_code == 200, packed.text
    assert packed.json()["status"] in ("PACKED", "SHIPPED")
    wait_status(order_id, "SHIPPED")
    shipment = read_order(api, placed)["shipment"]
    assert shipment["waybill_id"] and shipment["booking_id"] and shipment["provider"] == "sandbox"

    # the courier reports its journey, one signed webhook per status
    start = clock.now()
    for minute, status in enumerate(COURIER_JOURNEY):
        assert courier_reports(api, order_id, status, minutes_from(start, minute)).json() == {"status": "accepted"}
    wait_status(order_id, "COMPLETED")

    # the guest sees the whole story in order, and the courier's history in Biteship's words
    seen = read_order(api, placed)
    statuses = [entry["status"] for entry in seen["timeline"]]
    assert collapse(statuses) == ["PENDING_PAYMENT", "PAID", "READY_TO_PACK", "PACKED", "SHIPPED", "IN_TRANSIT",
                                  "DELIVERED", "COMPLETED"]
    stamps = [entry["at"] for entry in seen["timeline"]]
    assert stamps == sorted(stamps)
    assert seen["shipment"]["status"] == "delivered"
    assert [event["status"] for event in seen["shipment"]["history"]] == list(COURIER_JOURNEY)
    assert all(event["waybill_id"] == shipment["waybill_id"] for event in seen["shipment"]["history"])

    # stock: sold once (on hand down by 2), the reservation fully consumed
    after = stock_of(api, sku)
    assert after["on_hand"] == before["on_hand"] - 2
    assert after["reserved"] == before["reserved"]
    assert stock_rows(api, sku, order_id) == ["reserve", "commit"]

    # money: one payment of the order total
    assert [(row["kind"], row["amount"]) for row in money(order_id)] == [("payment_received", total)]

    # the customer heard about every milestone
    wait_notified(order_id, "order_placed", "payment_received", "shipped", "delivered")


# ================================================================================================================
# 2. Payments that end without money
# ================================================================================================================


@pytest.mark.parametrize(("gateway_outcome", "order_status", "notified"),
                         [("expire", "EXPIRED", "expired"), ("deny", "PAYMENT_FAILED", "cancelled")])
def test_payment_the_gateway_ends_releases_the_reserved_stock_and_ends_the_order(
        stack: Any, gateway_outcome: str, order_status: str, notified: str) -> None:
    api = stack.api_url
    sku = new_sku(api, gateway_outcome.upper(), stock=5)
    before = stock_of(api, sku)
    placed = place_order(api, sku, quantity=2)
    order_id = placed["order_id"]
    assert stock_of(api, sku)["reserved"] == before["reserved"] + 2

    gateway = SandboxGateway()
    if gateway_outcome == "expire":
        gateway.expire(order_id)
    else:
        gateway.fail(order_id, "deny")
    answer = post_midtrans(api, signed_notification(order_id))
    assert answer.status_code == 200 and answer.json() == {"status": "accepted"}

    ended = wait_status(order_id, "PAYMENT_FAILED", "EXPIRED")
    assert ended.status == order_status  # an expired VA or QR code is an expired order, a refusal a failed one
    after = stock_of(api, sku)
    assert (after["on_hand"], after["reserved"]) == (before["on_hand"], before["reserved"])
    assert stock_rows(api, sku, order_id) == ["reserve", "release"]
    assert money(order_id) == []
    wait_notified(order_id, notified)


def test_unpaid_order_whose_payment_wait_times_out_expires_and_releases_its_stock(stack: Any) -> None:
    """The States.Timeout branch of WaitForPayment, without waiting out the stage's 60-minute window.

    The order's own execution waits an hour (the API process's payment window cannot be changed per test), so a
    second execution of the same state machine is started for the same order with a 1-second payment timeout,
    exactly as orders.service.start_workflow would for an order whose deadline is one second away.
    """
    api = stack.api_url
    sku = new_sku(api, "TIMEOUT", stock=4)
    before = stock_of(api, sku)
    placed = place_order(api, sku, quantity=3)
    order_id = placed["order_id"]
    assert placed["payment_deadline"] > clock.now_iso()

    stepfunctions = boto3.client("stepfunctions", endpoint_url=stack.moto_url, region_name=REGION)
    execution = stepfunctions.start_execution(
        stateMachineArn=workflow.state_machine_arn(), name=f"{order_id}-deadline",
        input=json.dumps({"order_id": order_id, "cod": False, "payment_timeout_seconds": 1}))

    expired = wait_status(order_id, "EXPIRED")
    assert expired.timeline[-1].note == "payment deadline passed; stock released"
    after = stock_of(api, sku)
    assert (after["on_hand"], after["reserved"]) == (before["on_hand"], before["reserved"])
    assert stock_rows(api, sku, order_id) == ["reserve", "release"]
    wait_for("the deadline execution to succeed", lambda: stepfunctions.describe_execution(
        executionArn=execution["executionArn"])["status"] == "SUCCEEDED")
    wait_notified(order_id, "expired")


# ================================================================================================================
# 3. Cash on delivery
# ================================================================================================================


def test_cash_on_delivery_order_ships_without_payment_and_records_the_cash_collected(stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "COD", stock=3)
    before = stock_of(api, sku)
    placed = place_order(api, sku, payment_method="cod")
    order_id, total = placed["order_id"], placed["totals"]["total"]
    assert placed["status"] == "CONFIRMED"
    assert placed["payment"] is None and placed["payment_deadline"] is None

    wait_status(order_id, "READY_TO_PACK")
    assert SandboxGateway().status(order_id) is None  # nobody was asked for money
    assert money(order_id) == []

    assert pack(api, order_id).status_code == 200
    wait_status(order_id, "SHIPPED")
    start = clock.now()
    for minute, status in enumerate(("picked", "dropping_off", "delivered")):
        courier_reports(api, order_id, status, minutes_from(start, minute))
    wait_status(order_id, "COMPLETED")

    statuses = collapse([entry["status"] for entry in read_order(api, placed)["timeline"]])
    assert statuses == ["CONFIRMED", "READY_TO_PACK", "PACKED", "SHIPPED", "IN_TRANSIT", "DELIVERED", "COMPLETED"]
    assert [(row["kind"], row["amount"], row["method"]) for row in money(order_id)] == [
        ("cod_collected", total, "cod")]
    after = stock_of(api, sku)
    assert (after["on_hand"], after["reserved"]) == (before["on_hand"] - 1, before["reserved"])
    wait_notified(order_id, "order_placed", "shipped", "delivered")


# ================================================================================================================
# 4 and 5. Providers resend and reorder
# ================================================================================================================


def test_the_same_settlement_notification_twice_is_acknowledged_as_duplicate_and_counted_once(stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "DUP", stock=5)
    before = stock_of(api, sku)
    placed = place_order(api, sku)
    order_id, total = placed["order_id"], placed["totals"]["total"]

    settlement = pay(api, order_id)
    again = post_midtrans(api, settlement)
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    wait_status(order_id, "READY_TO_PACK")
    late = post_midtrans(api, settlement)
    assert late.status_code == 200 and late.json() == {"status": "duplicate"}
    wait_drained(stack, *EVENT_QUEUES)

    assert [(row["kind"], row["amount"]) for row in money(order_id)] == [("payment_received", total)]
    assert stock_rows(api, sku, order_id) == ["reserve", "commit"]
    after = stock_of(api, sku)
    assert (after["on_hand"], after["reserved"]) == (before["on_hand"] - 1, before["reserved"])
    statuses = [entry.status for entry in load(order_id).timeline]
    assert statuses.count("PAID") == 1 and statuses.count("READY_TO_PACK") == 1


def test_a_stale_pending_notification_after_settlement_never_moves_the_order_backwards(stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "STALE", stock=5)
    placed = place_order(api, sku)
    order_id = placed["order_id"]
    pending = signed_notification(order_id)  # sent when the VA was opened, delivered late
    assert pending["transaction_status"] == "pending"

    pay(api, order_id)
    paid = wait_status(order_id, "READY_TO_PACK")
    answer = post_midtrans(api, pending)
    assert answer.status_code == 200 and answer.json() == {"status": "accepted"}  # a different notification
    wait_drained(stack, *EVENT_QUEUES)

    now = load(order_id)
    assert now.status == "READY_TO_PACK"
    assert now.timeline == paid.timeline
    assert [row["kind"] for row in money(order_id)] == ["payment_received"]


def test_courier_webhooks_out_of_order_and_resent_leave_each_status_once_and_the_order_completed(
        stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "REORDER", stock=5)
    placed = shipped(api, sku)
    order_id = placed["order_id"]
    start = clock.now()
    at = {status: minutes_from(start, minute) for minute, status in enumerate(COURIER_JOURNEY)}

    # delivered overtakes picked (couriers batch their scans)
    for status in ("allocated", "picking_up", "delivered"):
        courier_reports(api, order_id, status, at[status])
    wait_status(order_id, "COMPLETED")

    # the late scan arrives, then is resent byte for byte, then resent with a different body
    late = courier_body(order_id, "picked", at["picked"])
    assert post_courier(api, late).json() == {"status": "accepted"}
    assert post_courier(api, late).json() == {"status": "duplicate"}
    resent = courier_body(order_id, "picked", at["picked"], note="resent by the courier")
    assert post_courier(api, resent).json() == {"status": "accepted"}  # new bytes: only the history can dedupe it
    wait_drained(stack, *EVENT_QUEUES)

    final = load(order_id)
    assert final.status == "COMPLETED"
    assert final.shipment is not None and final.shipment["status"] == "delivered"
    assert history(final) == ["allocated", "picking_up", "picked", "delivered"]  # by time, each once
    assert read_order(api, placed)["shipment"]["status"] == "delivered"


# ================================================================================================================
# 6. Forged and malformed webhooks
# ================================================================================================================


def assert_json_error(answer: requests.Response, status: int, code: str | None = None) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    error = answer.json()["error"]
    assert error["message"]
    if code:
        assert error["code"] == code


def test_forged_and_malformed_webhooks_are_refused_and_change_nothing(stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "FORGE", stock=5)
    before = stock_of(api, sku)
    placed = place_order(api, sku)
    order_id = placed["order_id"]
    # the signature covers order_id, status_code and gross_amount, not transaction_status: a pending notification
    # doctored to claim "settlement" passes the check and is queued, but the shop asks the gateway, which says pending
    doctored = {**signed_notification(order_id), "transaction_status": "settlement"}
    assert post_midtrans(api, doctored).json() == {"status": "accepted"}
    wait_drained(stack, *EVENT_QUEUES)
    assert load(order_id).status == "PENDING_PAYMENT"

    # the money really arrives now; none of the fakes below may be the one that claims it
    SandboxGateway().settle(order_id)
    settled = signed_notification(order_id)

    # Midtrans: wrong signature, signature made with another key, unsigned, unsigned partial, non-JSON, not an object
    assert_json_error(post_midtrans(api, {**settled, "signature_key": "0" * 128}), 401, "invalid_signature")
    other_key = midtrans.signature(order_id, settled["status_code"], settled["gross_amount"], "SB-Mid-server-guess")
    assert_json_error(post_midtrans(api, {**settled, "signature_key": other_key}), 401, "invalid_signature")
    unsigned = {key: value for key, value in settled.items() if key != "signature_key"}
    assert_json_error(post_midtrans(api, unsigned), 401, "invalid_signature")
    assert_json_error(post_midtrans(api, {"order_id": order_id}), 401)
    signed_but_partial = {key: value for key, value in settled.items() if key != "transaction_status"}
    assert_json_error(post_midtrans(api, signed_but_partial), 400, "validation_failed")
    assert_json_error(post_midtrans(api, b"{not json"), 400, "validation_failed")
    assert_json_error(post_midtrans(api, b"[1, 2]"), 400, "validation_failed")

    # couriers: bad HMAC, no signature, unknown provider, malformed body with a valid HMAC, Biteship's ping
    body = json.dumps({"event": "order.status", "order_id": "BOOK-FAKE", "status": "delivered",
                       "updated_at": clock.now_iso()}).encode()
    assert_json_error(post_courier(api, body, signature="ab" * 32), 401, "invalid_signature")
    assert_json_error(post_courier(api, body, signature=None), 401, "invalid_signature")
    assert_json_error(post_courier(api, body, provider="jne-direct"), 404, "unknown_provider")
    assert_json_error(post_courier(api, b"{not json"), 400, "validation_failed")
    assert_json_error(post_courier(api, b'{"event": "order.status"}'), 400, "validation_failed")
    assert_json_error(post_courier(api, body, provider="biteship", signature=None), 401, "invalid_signature")
    for ping in (b"", b"{}"):
        answer = post_courier(api, ping, provider="biteship", signature=None)
        assert answer.status_code == 200 and answer.json() == {"status": "ok"}

    wait_drained(stack, *EVENT_QUEUES)
    order = load(order_id)
    assert order.status == "PENDING_PAYMENT" and len(order.timeline) == 1
    assert money(order_id) == []
    assert stock_of(api, sku)["reserved"] == before["reserved"] + 1

    # and the genuine notification still works afterwards
    assert post_midtrans(api, settled).json() == {"status": "accepted"}
    wait_status(order_id, "READY_TO_PACK")


def test_settlement_of_a_different_amount_is_held_for_review_with_the_stock_still_reserved(stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "SHORT", stock=5)
    before = stock_of(api, sku)
    placed = place_order(api, sku)
    order_id, total = placed["order_id"], placed["totals"]["total"]

    pay(api, order_id, amount=total - 1_000)  # the shopper transferred Rp1.000 too little

    review = wait_status(order_id, "NEEDS_REVIEW")
    assert "PAID" not in [entry.status for entry in review.timeline]
    assert review.attention and f"{total - 1_000:,}" in review.attention and f"{total:,}" in review.attention
    assert [(row["kind"], row["amount"]) for row in money(order_id)] == [("payment_received", total - 1_000)]
    wait_drained(stack, *EVENT_QUEUES)
    after = stock_of(api, sku)
    assert (after["on_hand"], after["reserved"]) == (before["on_hand"], before["reserved"] + 1)
    assert stock_rows(api, sku, order_id) == ["reserve"]
    assert load(order_id).status == "NEEDS_REVIEW"


# ================================================================================================================
# 7. The customer cancels
# ================================================================================================================


def test_customer_cancels_before_paying_and_the_reserved_stock_goes_back_on_sale(stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "CANCEL", stock=5)
    before = stock_of(api, sku)
    placed = place_order(api, sku, quantity=2)
    order_id = placed["order_id"]

    stranger = requests.post(f"{api}/orders/{order_id}/cancel", json={}, timeout=TIMEOUT)
    assert_json_error(stranger, 404, "order_not_found")
    answer = cancel(api, placed)
    assert answer.status_code == 202, answer.text
    assert answer.json()["cancel_requested"] is True

    wait_status(order_id, "CANCELLED")
    wait_for("the refund to be recorded", lambda: ledger.balance(order_id) == 0)  # refunded after the cancel
    after = stock_of(api, sku)
    assert (after["on_hand"], after["reserved"]) == (before["on_hand"], before["reserved"])
    assert stock_rows(api, sku, order_id) == ["reserve", "release"]
    assert money(order_id) == []
    wait_notified(order_id, "cancelled")
    # the virtual account is voided at the gateway: the shopper can no longer pay a cancelled order
    voided = SandboxGateway().status(order_id)
    assert voided is not None and voided.transaction_status == "cancel"
    with pytest.raises(GatewayError):
        SandboxGateway().settle(order_id)


def test_customer_cancels_a_card_payment_before_packing_and_gets_stock_returned_and_money_refunded(
        stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "REFUND", stock=5)
    before = stock_of(api, sku)
    placed = ready_to_pack(api, sku, quantity=2, payment_method="card")
    order_id, total = placed["order_id"], placed["totals"]["total"]
    assert stock_of(api, sku)["on_hand"] == before["on_hand"] - 2

    answer = cancel(api, placed)
    assert answer.status_code == 202, answer.text

    wait_status(order_id, "CANCELLED")
    wait_for("the refund to be recorded", lambda: ledger.balance(order_id) == 0)  # refunded after the cancel
    after = stock_of(api, sku)
    assert (after["on_hand"], after["reserved"]) == (before["on_hand"], before["reserved"])
    assert stock_rows(api, sku, order_id) == ["reserve", "commit", "restock"]
    rows = sorted((row["kind"], row["amount"]) for row in money(order_id))
    assert rows == [("payment_received", total), ("refund", -total)]
    assert ledger.balance(order_id) == 0
    gateway_status = SandboxGateway().status(order_id)
    assert gateway_status is not None and gateway_status.transaction_status == "refund"
    wait_notified(order_id, "payment_received", "cancelled")
    # a second cancel is refused: the order is over
    assert_json_error(cancel(api, placed), 409, "not_cancellable")


def test_a_bank_transfer_cancelled_after_payment_is_paid_back_by_a_payout_the_workflow_waits_for(
        stack: Any) -> None:
    """Midtrans cannot refund a virtual account: the shop transfers the money, finance confirms, the order's
    execution (waiting in WaitForPayout) then ends, and nothing ends in NEEDS_ATTENTION."""
    api = stack.api_url
    sku = new_sku(api, "PAYOUT", stock=5)
    placed = ready_to_pack(api, sku, quantity=1)
    order_id, total, guest = placed["order_id"], placed["totals"]["total"], {"X-Order-Token": placed["access_token"]}

    assert cancel(api, placed).status_code == 202
    wait_status(order_id, "CANCELLED")
    refunds = wait_for("the payout to be opened", lambda: requests.get(
        f"{api}/orders/{order_id}/refunds", headers=guest, timeout=TIMEOUT).json()["payouts"])
    payout_id = refunds[0]["payout_id"]
    assert (refunds[0]["status"], refunds[0]["amount"]) == ("awaiting_account", total)
    assert SandboxGateway().status(order_id).transaction_status == "settlement"  # type: ignore[union-attr]
    wait_notified(order_id, "cancelled", "refund_account_needed")

    account = {"bank": "bri", "account_number": "0123-4567-8901", "account_holder": "Sari Wulandari"}
    given = requests.post(f"{api}/orders/{order_id}/refund-account", json=account, headers=guest, timeout=TIMEOUT)
    assert given.status_code == 200, given.text
    finance = {"Authorization": f"Bearer {mint_dev_token(role='finance', sub='finance-e2e')}"}
    pending = requests.get(f"{api}/admin/payouts", params={"status": "pending"}, headers=finance,
                           timeout=TIMEOUT).json()["items"]
    assert any(p["payout_id"] == payout_id and p["account"]["account_number"] == "012345678901" for p in pending)
    paid = requests.post(f"{api}/admin/payouts/{payout_id}/paid", json={"reference": "BRI-TRF-0001"},
                         headers=finance, timeout=TIMEOUT)
    assert paid.status_code == 200, paid.text

    stepfunctions = boto3.client("stepfunctions", endpoint_url=stack.moto_url, region_name=REGION)
    arn = f"{workflow.state_machine_arn().replace(':stateMachine:', ':execution:')}:{order_id}"
    wait_for("the order's execution to end after the payout", lambda: stepfunctions.describe_execution(
        executionArn=arn)["status"] == "SUCCEEDED")
    assert ledger.balance(order_id) == 0
    assert sorted((row["kind"], row["amount"]) for row in money(order_id)) == [("payment_received", total),
                                                                               ("payout", -total)]
    assert load(order_id).status == "CANCELLED"
    wait_notified(order_id, "refund_paid")


def test_make_payout_pays_back_a_cancelled_bank_transfer_as_customer_and_finance_would(stack: Any) -> None:
    from click.testing import CliRunner

    from tools.cli import cli

    api = stack.api_url
    placed = ready_to_pack(api, new_sku(api, "CLIPAYOUT", stock=3))
    order_id = placed["order_id"]
    assert cancel(api, placed).status_code == 202
    guest = {"X-Order-Token": placed["access_token"]}
    wait_for("the payout to be opened", lambda: requests.get(
        f"{api}/orders/{order_id}/refunds", headers=guest, timeout=TIMEOUT).json()["payouts"])

    result = CliRunner().invoke(cli, ["payout", order_id, "--api", api, "--moto", stack.moto_url])

    assert result.exit_code == 0, result.output
    assert "customer's account -> HTTP 200" in result.output and "-> HTTP 200" in result.output.splitlines()[-1]
    assert ledger.balance(order_id) == 0


def test_customer_cannot_cancel_once_the_parcel_is_packed(stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "LATE", stock=5)
    placed = ready_to_pack(api, sku)
    order_id = placed["order_id"]
    assert pack(api, order_id).status_code == 200

    assert_json_error(cancel(api, placed), 409, "not_cancellable")
    shipped_order = wait_status(order_id, "SHIPPED")
    assert not shipped_order.cancel_requested
    assert_json_error(cancel(api, placed), 409, "not_cancellable")


def test_once_the_customer_asked_to_cancel_staff_packing_is_refused_and_the_order_is_cancelled_and_refunded(
        stack: Any) -> None:
    """The race a new user hit: cancel answered 202, packing 20 ms later answered 200, and the order ended stuck
    with the stock sold and the money kept. Now exactly one wins and the other is told why."""
    api = stack.api_url
    sku = new_sku(api, "RACE", stock=5)
    before = stock_of(api, sku)
    placed = ready_to_pack(api, sku, quantity=1, payment_method="card")
    order_id, total = placed["order_id"], placed["totals"]["total"]

    asked = cancel(api, placed)
    packing = pack(api, order_id)

    assert asked.status_code == 202, asked.text
    assert_json_error(packing, 409, "not_ready_to_pack")
    assert "cancel" in packing.json()["error"]["message"].lower()  # asked to cancel, or already CANCELLED
    wait_status(order_id, "CANCELLED")
    wait_for("the refund to be recorded", lambda: ledger.balance(order_id) == 0)
    assert sorted((row["kind"], row["amount"]) for row in money(order_id)) == [("payment_received", total),
                                                                               ("refund", -total)]
    assert stock_of(api, sku)["on_hand"] == before["on_hand"]
    cancelled = load(order_id)  # a cancelled order keeps its status; the refund is on its timeline
    assert (cancelled.status, cancelled.refunded_total) == ("CANCELLED", total)
    assert [entry.event for entry in cancelled.timeline][-3:] == ["request_cancel", "cancel", "refund_in_full"]
    wait_notified(order_id, "payment_received", "cancelled")


# ================================================================================================================
# 8. Workers that fail, messages that repeat
# ================================================================================================================


@pytest.fixture
def sandbox_courier() -> Iterator[SandboxCourier]:
    """The courier adapter the fulfilment worker uses. The SQS driver runs the worker in this test process, so
    this is the very object book_shipment calls; its fail_orders is restored afterwards."""
    courier = shipping_adapters.courier()
    assert isinstance(courier, SandboxCourier)
    saved = courier.fail_orders
    yield courier
    courier.fail_orders = saved
    courier.__dict__.pop("book", None)


def test_a_courier_outage_during_booking_is_retried_by_the_workflow_and_the_order_still_ships_once(
        stack: Any, sandbox_courier: SandboxCourier) -> None:
    api = stack.api_url
    sku = new_sku(api, "OUTAGE", stock=5)
    placed = ready_to_pack(api, sku)
    order_id = placed["order_id"]
    attempts: list[str] = []
    real_book = type(sandbox_courier).book

    def book_once_down(request: BookingRequest) -> Booking:
        """The courier's API is down for this order's first attempt only (a 503), then recovers."""
        attempts.append(request.order_id)
        try:
            return real_book(sandbox_courier, request)
        finally:
            if request.order_id == order_id:
                sandbox_courier.fail_orders = frozenset()

    sandbox_courier.fail_orders = frozenset({order_id})
    sandbox_courier.book = book_once_down  # type: ignore[method-assign]

    assert pack(api, order_id).status_code == 200
    shipped_order = wait_status(order_id, "SHIPPED")  # the BookShipment retry waits 2 s after the outage

    assert attempts.count(order_id) == 2
    assert shipped_order.shipment and shipped_order.shipment["waybill_id"]
    assert [entry.status for entry in shipped_order.timeline].count("SHIPPED") == 1
    assert "NEEDS_ATTENTION" not in [entry.status for entry in shipped_order.timeline]
    wait_notified(order_id, "shipped")


def test_a_booking_the_courier_refuses_flags_the_order_with_the_couriers_reason_on_its_timeline(
        stack: Any, sandbox_courier: SandboxCourier) -> None:
    api = stack.api_url
    sku = new_sku(api, "REFUSED", stock=5)
    order_id = ready_to_pack(api, sku)["order_id"]

    def refuse(request: BookingRequest) -> Booking:
        raise BookingRejected("JNE REG does not pick up at this address")

    sandbox_courier.book = refuse  # type: ignore[method-assign]
    assert pack(api, order_id).status_code == 200
    stuck = wait_status(order_id, "NEEDS_ATTENTION")

    assert stuck.attention == ("BookingRejected: the courier refused the booking: "
                               "JNE REG does not pick up at this address")
    assert stuck.timeline[-1].event == "flag_for_attention" and stuck.attention in stuck.timeline[-1].note


def test_redelivered_steps_change_nothing_and_a_poison_message_ends_in_the_dead_letter_queue(stack: Any) -> None:
    """A step message seen again is a no-op; a message no worker can read fails alone, stays on the queue (it is
    not deleted), is retried and after maxReceiveCount receives is moved to the DLQ, while other orders flow.

    The queue's 90 s visibility timeout would make five receives take 7.5 minutes, so it is lowered to 1 s for
    the poison part and restored afterwards (with one polling thread per queue nothing else is redelivered early).
    """
    api = stack.api_url
    sqs = sqs_client(stack)
    spec = resources.FULFILMENT_TASKS_QUEUE
    tasks_url = queue_url(stack, spec.physical_name)
    sku = new_sku(api, "POISON", stock=10)

    def failures_of(message_id: str) -> int:
        """How many receives of the message the handler reported as failed (the driver then keeps it)."""
        return sum(message_id in outcome.failed_ids for outcome in list(stack.sqs_driver.outcomes)
                   if outcome.queue == spec.physical_name)

    placed = ready_to_pack(api, sku, quantity=2)
    order_id = placed["order_id"]
    wait_drained(stack, *EVENT_QUEUES)
    done = load(order_id)
    level = stock_of(api, sku)
    dlq_url = queue_url(stack, spec.dlq_physical_name)
    assert queue_counts(stack, spec.dlq_physical_name) == (0, 0)

    sqs.set_queue_attributes(QueueUrl=tasks_url, Attributes={"VisibilityTimeout": "1"})
    try:
        # -- a redelivered step (SQS delivers at least once) does nothing the second time. Draining these also
        # lets any receive that started before the visibility change (and took the old 90 s) come back first.
        used_token = done.tokens["payment"]  # the token the payment step was resumed with: already spent
        for task in ("await_payment", "commit_stock"):
            sqs.send_message(QueueUrl=tasks_url, MessageBody=json.dumps(
                {"task": task, "order_id": order_id, "token": used_token, "execution": "redelivered"}))
        wait_drained(stack, spec)
        again = load(order_id)
        assert (again.status, again.timeline) == (done.status, done.timeline)
        assert stock_rows(api, sku, order_id) == ["reserve", "commit"]
        now = stock_of(api, sku)
        assert (now["on_hand"], now["reserved"]) == (level["on_hand"], level["reserved"])

        # -- poison: not JSON, and JSON without the fields every step needs
        poison = {
            sqs.send_message(QueueUrl=tasks_url, MessageBody="{not json")["MessageId"],
            sqs.send_message(QueueUrl=tasks_url, MessageBody=json.dumps({"task": "commit_stock"}))["MessageId"],
        }
        # meanwhile another order goes through the same queue untouched
        other = ready_to_pack(api, sku)
        wait_for("both poison messages to be reported failed by the worker",
                 lambda: all(failures_of(message_id) >= 1 for message_id in poison))
        wait_for("the poison messages to reach the dead-letter queue",
                 lambda: queue_counts(stack, spec.dlq_physical_name)[0] == 2,
                 describe=lambda: {"dlq": queue_counts(stack, spec.dlq_physical_name),
                                   "queue": queue_counts(stack, spec.physical_name),
                                   "failures": [failures_of(message_id) for message_id in poison]})
    finally:
        sqs.set_queue_attributes(QueueUrl=tasks_url,
                                 Attributes={"VisibilityTimeout": str(spec.visibility_timeout_seconds)})

    # each was offered maxReceiveCount times, failed every time, and was never deleted
    assert all(failures_of(message_id) == spec.max_receive_count for message_id in poison)
    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert {message["MessageId"] for message in dead} == poison
    assert all(int(message["Attributes"]["ApproximateReceiveCount"]) >= spec.max_receive_count for message in dead)
    for message in dead:  # inspected: clear the DLQ for whoever looks next
        sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
    assert queue_counts(stack, spec.physical_name) == (0, 0)
    assert load(other["order_id"]).status == "READY_TO_PACK"
    assert load(order_id).status == "READY_TO_PACK"


def test_the_gateways_refund_notification_after_a_cancel_does_not_record_the_refund_twice(stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "REFUND2", stock=5)
    placed = ready_to_pack(api, sku, payment_method="card")
    order_id, total = placed["order_id"], placed["totals"]["total"]
    assert cancel(api, placed).status_code == 202
    wait_status(order_id, "CANCELLED")
    wait_for("the refund to be recorded", lambda: ledger.balance(order_id) == 0)

    # Midtrans notifies every status change, the refund included
    refund_notice = signed_notification(order_id)
    assert refund_notice["transaction_status"] == "refund"
    assert post_midtrans(api, refund_notice).json() == {"status": "accepted"}
    wait_drained(stack, *EVENT_QUEUES)

    refunds = [row["amount"] for row in money(order_id) if row["kind"] == "refund"]
    assert refunds == [-total]
    assert ledger.balance(order_id) == 0
