"""Returns and refunds end to end through the local stack: a return's workflow (statemachines/returns.asl.json)
run by moto's interpreter, staff and customers talking over HTTP, money going back through the sandbox gateway
(as strict as Midtrans) or by a payout finance confirms.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from chalicelib import clock
from chalicelib.auth import mint_dev_token
from chalicelib.returns import repository as returns
from tests.e2e.shop import TIMEOUT, staff_headers, stock_of
from tests.e2e.test_order_lifecycle import (
    COURIER_JOURNEY,
    courier_reports,
    load,
    minutes_from,
    money,
    new_sku,
    pack,
    place_order,
    pay,
    wait_for,
    wait_notified,
    wait_status,
)

pytestmark = pytest.mark.e2e


def finance_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_dev_token(role='finance', sub='finance-e2e')}"}


def delivered(api: str, sku: str, quantity: int, payment_method: str) -> dict[str, Any]:
    """An order paid (or cash on delivery), packed, shipped and delivered: COMPLETED."""
    placed = place_order(api, sku, quantity, payment_method)
    order_id = placed["order_id"]
    if payment_method != "cod":
        pay(api, order_id)
    wait_status(order_id, "READY_TO_PACK")
    assert pack(api, order_id).status_code == 200
    wait_status(order_id, "SHIPPED")
    start = clock.now()
    for minute, status in enumerate(COURIER_JOURNEY):
        courier_reports(api, order_id, status, minutes_from(start, minute))
    wait_status(order_id, "COMPLETED")
    return placed


def guest(placed: dict[str, Any]) -> dict[str, str]:
    return {"X-Order-Token": placed["access_token"]}


def request_return(api: str, placed: dict[str, Any], lines: dict[str, int], reason: str = "damaged",
                   **extra: Any) -> requests.Response:
    body = {"lines": [{"sku": sku, "quantity": units} for sku, units in lines.items()], "reason": reason, **extra}
    return requests.post(f"{api}/orders/{placed['order_id']}/returns", json=body, headers=guest(placed),
                         timeout=TIMEOUT)


def staff_post(api: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
    return requests.post(f"{api}{path}", json=body or {}, headers=staff_headers(), timeout=TIMEOUT)


def wait_return(return_id: str, *statuses: str) -> Any:
    def reached() -> Any:
        ret = returns.get(return_id)
        return ret if ret is not None and ret.status in statuses else None

    return wait_for(f"return {return_id} to be {' or '.join(statuses)}", reached,
                    describe=lambda: returns.get(return_id))


def test_a_card_order_returned_is_restocked_and_refunded_through_the_gateway(stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "RETCARD", stock=10, price=200_000)
    placed = delivered(api, sku, 2, "card")
    order_id, total = placed["order_id"], placed["totals"]["total"]
    on_hand = stock_of(api, sku)["on_hand"]

    asked = request_return(api, placed, {sku: 1}, "damaged", note="retak di sudut",
                           photos=[{"content_type": "image/jpeg"}])
    assert asked.status_code == 201, asked.text
    return_id = asked.json()["return_id"]
    assert asked.json()["status"] == "requested" and len(asked.json()["photo_uploads"]) == 1
    queue = requests.get(f"{api}/admin/returns?status=requested", headers=staff_headers(), timeout=TIMEOUT)
    assert return_id in [item["return_id"] for item in queue.json()["items"]]

    assert staff_post(api, f"/admin/returns/{return_id}/approve").status_code == 200
    sent = requests.post(f"{api}/orders/{order_id}/returns/{return_id}/shipment", headers=guest(placed),
                         json={"courier": "JNE", "waybill_id": "JNE0012345678"}, timeout=TIMEOUT)
    assert sent.status_code == 200, sent.text
    received = staff_post(api, f"/admin/returns/{return_id}/receive", {"lines": [{"sku": sku, "restock": 1}]})
    assert received.status_code == 200, received.text

    closed = wait_return(return_id, "closed")
    unit_paid = 200_000
    shipping = placed["totals"]["shipping"]
    assert closed.refund["by"] == "gateway" and closed.refund["amount"] == unit_paid + shipping
    assert stock_of(api, sku)["on_hand"] == on_hand + 1
    order = wait_status(order_id, "PARTIALLY_REFUNDED")
    assert order.refunded_total == unit_paid + shipping < total
    assert [(row["kind"], row["amount"]) for row in money(order_id)] == [
        ("payment_received", total), ("refund", -(unit_paid + shipping))]
    seen = requests.get(f"{api}/orders/{order_id}/returns", headers=guest(placed), timeout=TIMEOUT).json()
    assert [item["status"] for item in seen["items"]] == ["closed"]
    assert any(entry["event"] == "note_return" for entry in load(order_id).to_dict()["timeline"])
    wait_notified(order_id, "refunded")
