"""After the sale, end to end over HTTP on the local stack: a verified review moderated into the product's
rating, and a customer service ticket answered, reopened, resolved and rated."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.e2e.shop import TIMEOUT, staff_headers, stock_of
from tests.e2e.test_order_lifecycle import new_sku, place_order, wait_notified
from tests.e2e.test_returns import delivered, guest

pytestmark = pytest.mark.e2e


def test_a_buyer_reviews_a_delivered_product_once_and_it_counts_after_moderation(stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "REVIEW", stock=5)
    product_id = stock_of(api, sku)["product_id"]
    placed = delivered(api, sku, 1, "card")
    order_id = placed["order_id"]
    unpaid = place_order(api, sku, 1)
    body = {"sku": sku, "stars": 4, "text": "Anyamannya rapi, warnanya sesuai foto."}

    too_early = requests.post(f"{api}/orders/{unpaid['order_id']}/reviews", json=body, headers=guest(unpaid),
                              timeout=TIMEOUT)
    written = requests.post(f"{api}/orders/{order_id}/reviews", json=body, headers=guest(placed), timeout=TIMEOUT)
    twice = requests.post(f"{api}/orders/{order_id}/reviews", json=body, headers=guest(placed), timeout=TIMEOUT)
    public_before = requests.get(f"{api}/products/{product_id}/reviews", timeout=TIMEOUT).json()

    assert too_early.status_code == 422 and too_early.json()["error"]["code"] == "order_not_reviewable"
    assert written.status_code == 201, written.text
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_reviewed"
    assert public_before["items"] == []
    review_id = written.json()["review_id"]
    pending = requests.get(f"{api}/admin/reviews?status=pending&limit=100", headers=staff_headers(), timeout=TIMEOUT)
    assert review_id in [item["review_id"] for item in pending.json()["items"]]

    approved = requests.post(f"{api}/admin/reviews/{review_id}/approve", headers=staff_headers(), json={},
                             timeout=TIMEOUT)
    replied = requests.post(f"{api}/admin/reviews/{review_id}/reply", headers=staff_headers(),
                            json={"text": "Terima kasih, Kak!"}, timeout=TIMEOUT)

    assert (approved.status_code, replied.status_code) == (200, 200), (approved.text, replied.text)
    public = requests.get(f"{api}/products/{product_id}/reviews", timeout=TIMEOUT).json()["items"]
    assert [(item["stars"], item["text"]) for item in public] == [(4, body["text"])]
    assert requests.get(f"{api}/products/{product_id}", timeout=TIMEOUT).json()["rating"] == {"average": 4.0,
                                                                                              "count": 1}
    wait_notified(order_id, "review_approved")


def test_a_ticket_about_an_order_is_answered_reopened_resolved_and_rated(stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "TICKET", stock=5)
    placed = delivered(api, sku, 1, "bank_transfer")
    order_id = placed["order_id"]

    opened = requests.post(f"{api}/orders/{order_id}/tickets", headers=guest(placed), timeout=TIMEOUT,
                           json={"category": "shipping", "message": "Paket sampai tapi kardusnya penyok."})
    assert opened.status_code == 201, opened.text
    ticket_id = opened.json()["ticket_id"]
    queue = requests.get(f"{api}/admin/tickets?status=open&limit=100", headers=staff_headers(), timeout=TIMEOUT)
    assert ticket_id in [item["ticket_id"] for item in queue.json()["items"]]

    reply = requests.post(f"{api}/admin/tickets/{ticket_id}/messages", headers=staff_headers(), timeout=TIMEOUT,
                          json={"message": "Mohon maaf, Kak. Barangnya aman?"})
    wait_notified(order_id, "ticket_replied")
    answer = requests.post(f"{api}/tickets/{ticket_id}/messages", headers=guest(placed), timeout=TIMEOUT,
                           json={"message": "Aman, terima kasih."})
    resolved = requests.post(f"{api}/admin/tickets/{ticket_id}/resolve", headers=staff_headers(), json={},
                             timeout=TIMEOUT)
    reopened = requests.post(f"{api}/tickets/{ticket_id}/messages", headers=guest(placed), timeout=TIMEOUT,
                             json={"message": "Oh ya, satu lagi: bisa minta nota?"})
    again = requests.post(f"{api}/admin/tickets/{ticket_id}/resolve", headers=staff_headers(), json={},
                          timeout=TIMEOUT)
    rated = requests.post(f"{api}/tickets/{ticket_id}/rating", headers=guest(placed), timeout=TIMEOUT,
                          json={"stars": 5, "comment": "Cepat dibalas"})
    rated_twice = requests.post(f"{api}/tickets/{ticket_id}/rating", headers=guest(placed), timeout=TIMEOUT,
                                json={"stars": 1})

    assert [r.status_code for r in (reply, answer, reopened)] == [201, 201, 201], (reply.text, answer.text)
    assert (resolved.status_code, again.status_code) == (200, 200), (resolved.text, again.text)
    assert rated.status_code in (200, 201) and rated_twice.status_code == 409
    ticket = requests.get(f"{api}/tickets/{ticket_id}", headers=guest(placed), timeout=TIMEOUT).json()
    assert ticket["status"] == "resolved" and ticket["reopened"] == 1
    assert ticket["first_response_seconds"] is not None and ticket["resolution_seconds"] is not None
    assert ticket["resolution_seconds"] >= ticket["first_response_seconds"]
