"""Midtrans notifications through the real webhook route, and what the shop does with them."""

from __future__ import annotations

import json
from typing import Any

from chalicelib import resources
from chalicelib.orders.repository import OrderModel
from chalicelib.payments import notification
from chalicelib.payments import repository as ledger
from chalicelib.payments import service as payments
from chalicelib.payments.adapters import server_key
from chalicelib.payments.gateway import GatewayStatus
from chalicelib.payments.sandbox import SandboxGateway
from tests.functional.helpers import body_of, create_product, place_order, send

WEBHOOK = "/webhooks/payments/midtrans"


def queued_payment_events(aws: Any) -> list[dict[str, Any]]:
    url = aws.sqs.get_queue_url(QueueName=resources.PAYMENT_EVENTS_QUEUE.physical_name)["QueueUrl"]
    messages = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def an_order(client: Any, auth_header: Any, *, method: str = "bank_transfer") -> dict[str, Any]:
    create_product(client, auth_header("staff"), sku="BTK-A", stock=5, price=200_000)
    return place_order(client, "BTK-A", payment_method=method)


def test_checkout_answers_with_payment_instructions_from_the_gateway(client: Any, auth_header: Any) -> None:
    order = an_order(client, auth_header)
    assert order["payment"]["method"] == "bank_transfer"
    assert order["payment"]["va_number"].isdigit()
    assert order["payment"]["amount"] == order["totals"]["total"]


def test_a_signed_notification_is_accepted_once_and_queued_once(client: Any, auth_header: Any, aws: Any) -> None:
    order = an_order(client, auth_header)
    SandboxGateway().settle(order["order_id"])
    payload = SandboxGateway().notification_for(order["order_id"], server_key=server_key())

    first = send(client, "POST", WEBHOOK, payload)
    again = send(client, "POST", WEBHOOK, payload)

    assert (first.status_code, body_of(first)) == (200, {"status": "accepted"})
    assert (again.status_code, body_of(again)) == (200, {"status": "duplicate"})
    events = queued_payment_events(aws)
    assert [event["order_id"] for event in events] == [order["order_id"]]


def test_a_forged_or_unsigned_notification_is_refused_with_401_and_changes_nothing(
        client: Any, auth_header: Any, aws: Any) -> None:
    order = an_order(client, auth_header)
    SandboxGateway().settle(order["order_id"])
    payload = SandboxGateway().notification_for(order["order_id"], server_key=server_key())
    forged = {**payload, "signature_key": notification.signature(order["order_id"], "200", payload["gross_amount"],
                                                                 "not-the-server-key")}
    reformatted = {**payload, "gross_amount": payload["gross_amount"].replace(".00", "")}
    unsigned = {key: value for key, value in payload.items() if key != "signature_key"}

    for bad in (forged, reformatted, unsigned):
        refused = send(client, "POST", WEBHOOK, bad)
        assert refused.status_code == 401
        assert body_of(refused)["error"]["code"] in ("invalid_signature",)
    assert queued_payment_events(aws) == []
    assert OrderModel.get(order["order_id"]).status == "PENDING_PAYMENT"


def test_a_malformed_notification_is_a_400(client: Any) -> None:
    for raw in ("{not json", "[1, 2]", "null"):
        refused = send(client, "POST", WEBHOOK, raw=raw)
        assert refused.status_code == 400, raw
        assert body_of(refused)["error"]["code"] == "validation_failed"


def test_settlement_confirmed_by_the_status_api_pays_the_order_and_records_the_money(
        client: Any, auth_header: Any) -> None:
    order = an_order(client, auth_header)
    SandboxGateway().settle(order["order_id"])

    outcome = payments.process_event({"provider": "midtrans", "order_id": order["order_id"]})
    again = payments.process_event({"provider": "midtrans", "order_id": order["order_id"]})

    assert (outcome, again) == ("paid", "already handled")
    stored = OrderModel.get(order["order_id"])
    assert stored.status == "PAID"
    assert [entry["kind"] for entry in ledger.entries(order["order_id"])] == ["payment_received"]
    assert ledger.balance(order["order_id"]) == order["totals"]["total"]


def test_the_status_api_decides_not_the_notification(client: Any, auth_header: Any) -> None:
    # GIVEN a notification claiming settlement while the gateway itself still says pending
    order = an_order(client, auth_header)
    outcome = payments.process_event({"provider": "midtrans", "order_id": order["order_id"],
                                      "notification": {"transaction_status": "settlement"}})
    assert outcome == "still pending"
    assert OrderModel.get(order["order_id"]).status == "PENDING_PAYMENT"


def test_a_payment_of_a_different_amount_flags_the_order_for_review_instead_of_paying_it(
        client: Any, auth_header: Any) -> None:
    order = an_order(client, auth_header)
    SandboxGateway().settle(order["order_id"], amount=order["totals"]["total"] - 1_000)

    assert payments.process_event({"provider": "midtrans", "order_id": order["order_id"]}) == \
        "amount mismatch flagged"
    stored = OrderModel.get(order["order_id"])
    assert stored.status == "NEEDS_REVIEW"
    assert "order total" in stored.attention


def test_a_stale_pending_status_never_moves_a_paid_order_back(client: Any, auth_header: Any) -> None:
    order = an_order(client, auth_header)
    SandboxGateway().settle(order["order_id"])
    payments.process_event({"provider": "midtrans", "order_id": order["order_id"]})
    stale = payments.apply_gateway_status(
        order["order_id"],
        GatewayStatus(order_id=order["order_id"], transaction_status="pending",
                               gross_amount=f"{order['totals']['total']}.00"),
        source="midtrans")
    assert stale == "still pending"
    assert OrderModel.get(order["order_id"]).status == "PAID"


def test_a_payment_after_the_order_expired_is_flagged_for_a_refund(client: Any, auth_header: Any) -> None:
    order = an_order(client, auth_header)
    OrderModel.get(order["order_id"]).update(actions=[OrderModel.status.set("EXPIRED")])
    SandboxGateway().settle(order["order_id"])
    assert payments.process_event({"provider": "midtrans", "order_id": order["order_id"]}) == "late payment flagged"
    assert OrderModel.get(order["order_id"]).status == "NEEDS_REVIEW"


def test_a_failed_payment_ends_the_order_and_frees_its_stock_once(client: Any, auth_header: Any) -> None:
    from chalicelib.inventory import repository as stock

    order = an_order(client, auth_header)
    SandboxGateway().fail(order["order_id"], status="deny")
    message = {"provider": "midtrans", "order_id": order["order_id"]}
    assert payments.process_event(message) == "payment ended (deny)"
    assert payments.process_event(message) == "already handled"  # a redelivered notification
    stored = OrderModel.get(order["order_id"])
    assert stored.status == "PAYMENT_FAILED"
    assert stored.timeline[-1].note == "payment failed; stock released: gateway status deny"
    assert all(stock.read_level(line["sku"]).reserved == 0 for line in order["lines"])


def test_reconciliation_asks_the_gateway_about_orders_pending_too_long(client: Any, auth_header: Any) -> None:
    order = an_order(client, auth_header)
    SandboxGateway().settle(order["order_id"])
    counts = payments.reconcile(older_than_minutes=-1)
    assert counts["checked"] == 1 and counts["changed"] == 1
    assert OrderModel.get(order["order_id"]).status == "PAID"


def test_cash_on_delivery_orders_get_no_payment_instructions(client: Any, auth_header: Any) -> None:
    order = an_order(client, auth_header, method="cod")
    assert order["payment"] is None
    assert SandboxGateway().status(order["order_id"]) is None


def test_the_gateways_refund_report_adds_only_refunds_the_ledger_does_not_hold(client: Any, auth_header: Any) -> None:
    order = an_order(client, auth_header, method="card")
    order_id, total = order["order_id"], order["totals"]["total"]
    gateway = SandboxGateway()
    gateway.settle(order_id)
    payments.process_event({"provider": "midtrans", "order_id": order_id})
    # the shop refunds part itself (recorded when asked) ...
    result = gateway.refund(order_id, amount=50_000, reason="one item missing", refund_key="refund-part-1")
    ledger.record(order_id, kind=ledger.REFUND, amount=-result.amount, provider="sandbox",
                  reference=result.refund_key, actor="staff-1")
    # ... then the gateway reports the running total twice, and later a second refund made in its dashboard
    assert payments.process_event({"provider": "midtrans", "order_id": order_id}) == "refund already recorded"
    assert payments.process_event({"provider": "midtrans", "order_id": order_id}) == "refund already recorded"
    gateway.refund(order_id, amount=30_000, reason="goodwill", refund_key="dashboard-1")
    assert payments.process_event({"provider": "midtrans", "order_id": order_id}) == "refund recorded"

    refunds = sorted(entry["amount"] for entry in ledger.entries(order_id) if entry["kind"] == "refund")
    assert refunds == [-50_000, -30_000]
    assert ledger.balance(order_id) == total - 80_000


def test_reconciliation_charges_again_when_the_gateway_was_down_at_checkout(
        client: Any, auth_header: Any, monkeypatch: Any) -> None:
    from chalicelib.orders.repository import get as get_order
    from chalicelib.payments.gateway import GatewayError

    create_product(client, auth_header("staff"), sku="BTK-A", stock=5, price=200_000)

    def down(self: Any, request: Any) -> Any:
        raise GatewayError("gateway timed out")

    with monkeypatch.context() as patch:
        patch.setattr(SandboxGateway, "charge", down)
        order = place_order(client, "BTK-A")
    assert order["payment"] is None and order["status"] == "PENDING_PAYMENT"  # the order is not lost

    counts = payments.reconcile(older_than_minutes=-1)

    assert counts["charges_retried"] == 1
    assert get_order(order["order_id"]).payment["va_number"]


def test_a_refund_is_recorded_once_whether_the_gateways_report_or_the_shops_own_write_comes_first(
        client: Any, auth_header: Any) -> None:
    order = an_order(client, auth_header, method="card")
    order_id, total = order["order_id"], order["totals"]["total"]
    gateway = SandboxGateway()
    gateway.settle(order_id)
    payments.process_event({"provider": "midtrans", "order_id": order_id})
    # GIVEN the gateway refunded and its notification is processed before the shop records its own line
    result = gateway.refund(order_id, amount=40_000, reason="one item missing", refund_key="return-1")
    assert payments.process_event({"provider": "midtrans", "order_id": order_id}) == "refund recorded"
    # WHEN the shop's own write lands afterwards, under the refund key it sent
    second_write = ledger.record(order_id, kind=ledger.REFUND, amount=-result.amount, provider="sandbox",
                                 reference=result.refund_key, actor="staff-1")
    # THEN the refund is one line, and a second partial refund of the same order is a line of its own
    gateway.refund(order_id, amount=25_000, reason="late delivery", refund_key="goodwill-1")
    assert payments.process_event({"provider": "midtrans", "order_id": order_id}) == "refund recorded"
    assert payments.process_event({"provider": "midtrans", "order_id": order_id}) == "refund already recorded"
    assert second_write is False
    refunds = sorted(entry["amount"] for entry in ledger.entries(order_id) if entry["kind"] == "refund")
    assert refunds == [-40_000, -25_000]
    assert ledger.balance(order_id) == total - 65_000


def test_each_partial_refund_notification_is_queued_and_a_resent_one_is_not(client: Any, auth_header: Any) -> None:
    order = an_order(client, auth_header, method="card")
    order_id = order["order_id"]
    gateway = SandboxGateway()
    gateway.settle(order_id)
    gateway.refund(order_id, amount=40_000, reason="one item missing", refund_key="return-1")
    first = gateway.notification_for(order_id, server_key=server_key())
    gateway.refund(order_id, amount=25_000, reason="late delivery", refund_key="goodwill-1")
    second = gateway.notification_for(order_id, server_key=server_key())
    answers = [body_of(send(client, "POST", "/webhooks/payments/midtrans", note))["status"]
               for note in (first, second, second)]
    assert answers == ["accepted", "accepted", "duplicate"]
