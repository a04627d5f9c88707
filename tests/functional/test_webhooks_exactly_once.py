"""Provider webhooks are queued exactly once however many copies race, and a courier update that overtakes the
shop's booking is kept until the booking is saved: through the real HTTP routes and the real consumers, on moto."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import aws as clients
from chalicelib import clock, resources
from chalicelib.fulfilment import service as fulfilment
from chalicelib.inbox import repository as inbox
from chalicelib.inbox import service as inbox_service
from chalicelib.orders import repository as orders
from chalicelib.payments import notification
from chalicelib.payments import service as payments
from chalicelib.payments.adapters import server_key
from chalicelib.payments.sandbox import SandboxGateway
from chalicelib.shipping import service as shipping
from chalicelib.shipping import tracking, webhooks
from chalicelib.shipping.adapters import courier, webhook_secret
from tests.functional.helpers import body_of, create_product, place_order, send

MIDTRANS = "/webhooks/payments/midtrans"
COPIES = 50


def queued(aws: Any, spec: resources.QueueSpec) -> list[dict[str, Any]]:
    """Every message on the queue (each received once, so a second call sees none of them)."""
    url = aws.sqs.get_queue_url(QueueName=spec.physical_name)["QueueUrl"]
    bodies: list[dict[str, Any]] = []
    while True:
        messages = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                           VisibilityTimeout=300).get("Messages", [])
        if not messages:
            return bodies
        bodies += [json.loads(message["Body"]) for message in messages]


def a_settled_notification(client: Any, auth_header: Any) -> tuple[str, dict[str, Any]]:
    create_product(client, auth_header("staff"), sku="BTK-A", stock=5, price=200_000)
    order_id = place_order(client, "BTK-A")["order_id"]
    SandboxGateway().settle(order_id)
    return order_id, SandboxGateway().notification_for(order_id, server_key=server_key())


def message_id_of(payload: dict[str, Any]) -> str:
    return notification.notification_id(notification.parse_notification(payload))


def inbox_status(message_id: str) -> str | None:
    found = inbox.status_of(message_id)
    return found[0] if found else None


# ---- payment notifications: one hand-off to the queue -------------------------------------------------------


def test_fifty_concurrent_copies_of_a_notification_are_accepted_once_and_queued_once(
        client: Any, auth_header: Any, aws: Any, atomic_requests: None) -> None:
    order_id, payload = a_settled_notification(client, auth_header)

    def post(_: int) -> tuple[int, str]:
        answer = send(client, "POST", MIDTRANS, payload)
        return answer.status_code, body_of(answer)["status"]

    with ThreadPoolExecutor(max_workers=COPIES) as pool:
        answers = list(pool.map(post, range(COPIES)))

    assert Counter(answers) == {(200, "accepted"): 1, (200, "duplicate"): COPIES - 1}
    assert [event["order_id"] for event in queued(aws, resources.PAYMENT_EVENTS_QUEUE)] == [order_id]
    assert inbox_status(message_id_of(payload)) == inbox.QUEUED


def test_a_copy_arriving_while_the_first_is_being_queued_is_a_duplicate(
        client: Any, auth_header: Any, aws: Any) -> None:
    # GIVEN the first copy recorded the notification a moment ago and is still handing it to the queue
    order_id, payload = a_settled_notification(client, auth_header)
    moment_ago = clock.iso(clock.now() - inbox_service.HAND_OFF_LEASE + timedelta(seconds=5))
    inbox.record_once(message_id_of(payload), provider="midtrans", reference=order_id, at=moment_ago)

    # WHEN a resent copy arrives THEN it is answered duplicate and queues nothing
    assert body_of(send(client, "POST", MIDTRANS, payload)) == {"status": "duplicate"}
    assert queued(aws, resources.PAYMENT_EVENTS_QUEUE) == []


def test_a_record_left_received_past_the_lease_is_queued_exactly_once_by_the_next_copies(
        client: Any, auth_header: Any, aws: Any, atomic_requests: None) -> None:
    # GIVEN a first copy recorded the notification, then its process died before sending it to the queue
    order_id, payload = a_settled_notification(client, auth_header)
    message_id = message_id_of(payload)
    died_at = clock.iso(clock.now() - inbox_service.HAND_OFF_LEASE - timedelta(seconds=1))
    assert inbox.record_once(message_id, provider="midtrans", reference=order_id, at=died_at)

    # WHEN the provider resends it, several copies at once
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: body_of(send(client, "POST", MIDTRANS, payload))["status"], range(10)))

    # THEN exactly one copy takes the hand-off over and queues it; every later copy is a duplicate
    assert Counter(answers) == {"accepted": 1, "duplicate": 9}
    assert [event["order_id"] for event in queued(aws, resources.PAYMENT_EVENTS_QUEUE)] == [order_id]
    assert body_of(send(client, "POST", MIDTRANS, payload)) == {"status": "duplicate"}
    assert queued(aws, resources.PAYMENT_EVENTS_QUEUE) == []
    assert inbox_status(message_id) == inbox.QUEUED


class SqsDownOnce:
    """The SQS client, whose first send_message fails as an outage would."""

    def __init__(self, real: Any) -> None:
        self.real, self.failed = real, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def send_message(self, **arguments: Any) -> Any:
        if not self.failed:
            self.failed = True
            raise ConnectionError("sqs unreachable")
        return self.real.send_message(**arguments)


def test_a_hand_off_that_failed_is_given_up_so_the_next_copy_queues_it_at_once(
        client: Any, auth_header: Any, aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    order_id, payload = a_settled_notification(client, auth_header)
    sqs = SqsDownOnce(clients.client("sqs"))
    real_client = clients.client
    monkeypatch.setattr(inbox_service.aws, "client", lambda name: sqs if name == "sqs" else real_client(name))

    failed = send(client, "POST", MIDTRANS, payload)
    assert failed.status_code == 503  # not acknowledged: Midtrans sends it again
    assert body_of(failed)["error"]["code"] == "queue_unavailable"
    assert queued(aws, resources.PAYMENT_EVENTS_QUEUE) == []

    # the resent copy, well within the lease, is not mistaken for a duplicate of a hand-off that never happened
    assert body_of(send(client, "POST", MIDTRANS, payload)) == {"status": "accepted"}
    assert body_of(send(client, "POST", MIDTRANS, payload)) == {"status": "duplicate"}
    assert [event["order_id"] for event in queued(aws, resources.PAYMENT_EVENTS_QUEUE)] == [order_id]


# ---- a courier update that overtakes the booking --------------------------------------------------------------



def packed_order(client: Any, auth_header: Any) -> str:
    create_product(client, auth_header("staff"), sku="BTK-A", stock=5, price=200_000)
    order_id = place_order(client, "BTK-A", payment_method="card")["order_id"]
    SandboxGateway().settle(order_id)
    payments.process_event({"provider": "midtrans", "order_id": order_id})
    fulfilment.handle_task({"task": "commit_stock", "order_id": order_id, "token": "t"})
    fulfilment.mark_packed(order_id, actor="staff-1")
    return order_id


def courier_events(client: Any, body: dict[str, Any], *, attempt: int) -> dict[str, Any]:
    """The courier-events consumer run on one message, as Lambda runs it for its `attempt`-th delivery."""
    event = client.events.generate_sqs_event(message_bodies=[json.dumps(body)],
                                             queue_name=resources.COURIER_EVENTS_QUEUE.physical_name)
    event["Records"][0]["messageId"] = "m-early"
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = str(attempt)
    return dict(client.lambda_.invoke("courier_events", event).payload)


def test_a_courier_update_that_overtakes_the_booking_is_redelivered_until_the_booking_is_saved(
        client: Any, auth_header: Any, aws: Any, resumed: list, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a packed order whose courier booking is made but not yet saved on the order (the booking call has
    # not returned yet), and the courier's first webhook for that booking
    order_id = packed_order(client, auth_header)
    carrier = courier()
    booking = carrier.book(shipping.booking_request(orders.get(order_id)))
    monkeypatch.setattr(carrier, "book", lambda request: booking)  # the booking step's call answers it later
    raw = tracking.canonical_body(tracking.sandbox_webhook(order_id, booking, "picked", "2026-11-23T09:00:00Z"))
    headers = {tracking.SANDBOX_SIGNATURE_HEADER: tracking.sandbox_signature(webhook_secret(), raw)}
    assert body_of(send(client, "POST", "/webhooks/couriers/sandbox", raw=raw, headers=headers)) == {
        "status": "accepted"}
    [message] = queued(aws, resources.COURIER_EVENTS_QUEUE)
    warned: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(webhooks.logger, "warning", lambda text, extra=None, **_: warned.append((text, extra)))

    # WHEN the consumer gets it before the booking is saved THEN it is reported failed, not acknowledged
    assert courier_events(client, message, attempt=1) == {"batchItemFailures": [{"itemIdentifier": "m-early"}]}
    assert orders.get(order_id).status == "PACKED"
    assert [(extra["booking_id"], extra["attempt"]) for _, extra in warned] == [(booking.booking_id, 1)]
    assert "not" in warned[0][0] and "yet" in warned[0][0]

    # WHEN the booking is saved and SQS delivers the same message again THEN it is applied, once
    assert fulfilment.handle_task({"task": "book_shipment", "order_id": order_id, "token": "t"}) == "booked"
    assert courier_events(client, message, attempt=2) == {"batchItemFailures": []}
    order = orders.get(order_id)
    assert order.status == "IN_TRANSIT"
    assert [event["status"] for event in order.shipment["history"]] == ["picked"]
    assert courier_events(client, message, attempt=3) == {"batchItemFailures": []}  # a redelivery changes nothing
    assert orders.get(order_id).timeline == order.timeline


def test_a_courier_update_whose_hand_off_failed_is_refused_503_so_the_next_copy_queues_it(
        client: Any, aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = json.dumps({"event": "order.status", "order_id": "bk-down-1", "reference_id": "TK-261202-AAAAAA",
                      "status": "picked", "updated_at": "2026-12-02T03:00:00Z"}).encode()
    headers = {tracking.SANDBOX_SIGNATURE_HEADER: tracking.sandbox_signature(webhook_secret(), raw)}
    sqs = SqsDownOnce(clients.client("sqs"))
    real_client = clients.client
    monkeypatch.setattr(inbox_service.aws, "client", lambda name: sqs if name == "sqs" else real_client(name))

    failed = send(client, "POST", "/webhooks/couriers/sandbox", raw=raw, headers=headers)
    assert failed.status_code == 503, failed.body  # not acknowledged: the courier sends it again
    assert body_of(failed)["error"]["code"] == "queue_unavailable"
    assert queued(aws, resources.COURIER_EVENTS_QUEUE) == []

    again = send(client, "POST", "/webhooks/couriers/sandbox", raw=raw, headers=headers)
    assert body_of(again) == {"status": "accepted"}
    assert [message["update"]["booking_id"] for message in queued(aws, resources.COURIER_EVENTS_QUEUE)] == [
        "bk-down-1"]


def test_biteship_webhooks_are_authenticated_by_the_configured_header(client: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The header Biteship's dashboard sends the secret in is configuration (TOKOFLOW_BITESHIP_WEBHOOK_HEADER)."""
    from chalicelib.shipping import adapters

    secret = adapters.webhook_secret()
    body = json.dumps({"event": "order.status", "order_id": "bs-unknown-1", "status": "picked",
                       "updated_at": "2026-12-02T03:00:00+07:00"}).encode()
    monkeypatch.setenv("TOKOFLOW_BITESHIP_WEBHOOK_HEADER", "X-Tokoflow-Key")
    right = client.http.post("/webhooks/couriers/biteship", body=body,
                             headers={"Content-Type": "application/json", "X-Tokoflow-Key": secret})
    default = client.http.post("/webhooks/couriers/biteship", body=body,
                               headers={"Content-Type": "application/json", "x-biteship-secret": secret})
    assert right.status_code == 200, right.body
    assert default.status_code == 401
