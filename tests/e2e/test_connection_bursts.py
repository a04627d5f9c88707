"""The local API under bursts of connections: every connection opened at once gets an HTTP answer, none is reset.

`chalice local` used to listen with socketserver's backlog of 5, and a burst of connections (a provider resending a
webhook, a few shoppers at once) saw resets with no answer at all. Each test releases its threads at once through a
barrier, each on a connection of its own. No timing is asserted: only that every connection was answered.
"""

from __future__ import annotations

import http.client
import json
import threading
import uuid
from collections import Counter
from typing import Any

import pytest
import requests

from chalicelib.payments.adapters import server_key
from chalicelib.payments.sandbox import SandboxGateway
from tests.e2e.shop import TIMEOUT, checkout_body, new_cart, staff_headers

pytestmark = pytest.mark.e2e

CONNECTIONS = 50
ANSWER_TIMEOUT = 120.0  # seconds: generous on a loaded machine; a reset fails long before it


def at_once(api: str, count: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> list[tuple[int, bytes] | BaseException]:
    """`count` connections released together, one request each: (status, body) per answer, else the error."""
    host, port = api.removeprefix("http://").split(":")
    barrier = threading.Barrier(count, timeout=ANSWER_TIMEOUT)
    outcomes: list[tuple[int, bytes] | BaseException] = [RuntimeError("never ran")] * count

    def one(index: int) -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=ANSWER_TIMEOUT)
        try:
            barrier.wait()
            connection.connect()
            connection.request(method, path, body=body, headers=headers or {})
            answer = connection.getresponse()
            outcomes[index] = (answer.status, answer.read())
        except (OSError, http.client.HTTPException, threading.BrokenBarrierError) as error:
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(index,), daemon=True) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def failures(outcomes: list[tuple[int, bytes] | BaseException]) -> list[str]:
    return [repr(outcome) for outcome in outcomes if isinstance(outcome, BaseException)]


def test_fifty_connections_at_once_each_get_an_http_answer(stack: Any) -> None:
    # WHEN 50 clients open a connection at the same moment and ask for the catalog
    outcomes = at_once(stack.api_url, CONNECTIONS, "GET", "/products?limit=5")

    # THEN every one of them is answered, none reset or left without an answer, and every answer is the catalog
    assert failures(outcomes) == []
    assert Counter(outcome[0] for outcome in outcomes if isinstance(outcome, tuple)) == {200: CONNECTIONS}


def test_fifty_concurrent_copies_of_one_payment_notification_are_each_answered_and_counted_once(stack: Any) -> None:
    api = stack.api_url
    # GIVEN an order paid at the gateway, and the signed notification the gateway sends for it
    sku = f"E2E-BURST-{uuid.uuid4().hex[:6].upper()}"
    created = requests.post(f"{api}/admin/products", headers=staff_headers(), timeout=TIMEOUT, json={
        "name": "Keris Hias Miniatur", "category": "Kerajinan Logam", "status": "active",
        "variants": [{"sku": sku, "price": 210_000, "weight_grams": 350}], "initial_stock": {sku: 5}})
    assert created.status_code == 201, created.text
    placed = requests.post(f"{api}/checkout", json=checkout_body(new_cart(api, {sku: 1})),
                           headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=TIMEOUT)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order_id"]
    SandboxGateway().settle(order_id)
    body = json.dumps(SandboxGateway().notification_for(order_id, server_key=server_key())).encode()

    # WHEN the gateway delivers 50 copies of it at the same moment, each on its own connection
    outcomes = at_once(api, CONNECTIONS, "POST", "/webhooks/payments/midtrans", body,
                       {"Content-Type": "application/json"})

    # THEN each copy gets an HTTP answer, all of them 200, and the shop takes the notification as news exactly once
    assert failures(outcomes) == []
    answers = [outcome for outcome in outcomes if isinstance(outcome, tuple)]
    assert [status for status, _ in answers] == [200] * CONNECTIONS
    assert Counter(json.loads(text)["status"] for _, text in answers) == {"accepted": 1, "duplicate": CONNECTIONS - 1}
