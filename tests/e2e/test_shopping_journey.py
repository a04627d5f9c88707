"""A newcomer's journey over HTTP against the local stack: browse, cart, quote, check out, see stock reserved."""

from __future__ import annotations

import csv
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
import requests

from chalicelib import resources
from chalicelib.resources import REPOSITORY_ROOT
from tests.e2e.shop import TIMEOUT, checkout_body, new_cart, staff_headers, stock_of

pytestmark = pytest.mark.e2e
# The demo catalog `make run` seeds; other tests add products of their own, in whatever order they run.
DEMO_CATALOG = REPOSITORY_ROOT / "local" / "demo_catalog.csv"


def seeded_skus() -> set[str]:
    with DEMO_CATALOG.open(encoding="utf-8", newline="") as rows:
        return {row["sku"] for row in csv.DictReader(rows)}


def is_seeded(product: dict[str, Any]) -> bool:
    return any(variant["sku"] in seeded_skus() for variant in product["variants"])


def test_seeded_catalog_can_be_browsed_searched_and_filtered(stack: Any) -> None:
    api = stack.api_url
    categories = requests.get(f"{api}/categories", timeout=TIMEOUT).json()["items"]
    assert len(categories) >= 4
    everything, cursor = [], None
    while True:
        params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        page = requests.get(f"{api}/products", params=params, timeout=TIMEOUT).json()
        everything += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(everything) >= 20
    assert len({product["product_id"] for product in everything}) == len(everything)
    assert all(product["status"] == "active" for product in everything)
    cheap = requests.get(f"{api}/products", params={"max_price": 200_000, "sort": "price_asc"},
                         timeout=TIMEOUT).json()["items"]
    assert cheap and all(product["price_min"] <= 200_000 for product in cheap)
    assert [p["price_min"] for p in cheap] == sorted(p["price_min"] for p in cheap)
    batik = requests.get(f"{api}/products", params={"q": "batik"}, timeout=TIMEOUT).json()["items"]
    assert batik and all("batik" in json.dumps(product).lower() for product in batik)
    seeded = [product for product in everything if is_seeded(product)]
    assert len(seeded) >= 20
    detail = requests.get(f"{api}/products/{seeded[0]['product_id']}", timeout=TIMEOUT).json()
    assert all("available" in variant for variant in detail["variants"])
    assert detail["images"][0].startswith("http")


def test_checkout_reserves_stock_and_the_guest_reads_the_order_with_its_token(stack: Any) -> None:
    api = stack.api_url
    # GIVEN an in-stock SKU from the seeded catalog
    variant = next(variant for product in requests.get(f"{api}/products", params={"limit": 100},
                                                       timeout=TIMEOUT).json()["items"] if is_seeded(product)
                   for variant in requests.get(f"{api}/products/{product['product_id']}",
                                               timeout=TIMEOUT).json()["variants"]
                   if variant["weight_grams"] < 1000 and variant["available"] >= 2)
    before = stock_of(api, variant["sku"])
    cart_id = new_cart(api, {variant["sku"]: 2})

    # WHEN the guest asks for shipping options and checks out with one of them
    quote = requests.post(f"{api}/shipping/quote", json={"cart_id": cart_id, "destination": {
        "postal_code": "12110", "city": "Jakarta Selatan", "province": "DKI Jakarta"}}, timeout=TIMEOUT).json()
    assert any(s["courier"] == "JNE" and s["service"] == "REG" for s in quote["services"])
    key = str(uuid.uuid4())
    placed = requests.post(f"{api}/checkout", json=checkout_body(cart_id), headers={"Idempotency-Key": key},
                           timeout=TIMEOUT)

    # THEN the order is pending payment with frozen totals, and 2 units are reserved, not sold
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["status"] == "PENDING_PAYMENT"
    jne = next(s for s in quote["services"] if s["courier"] == "JNE" and s["service"] == "REG")
    assert order["totals"]["total"] == variant["price"] * 2 + jne["price"]
    after = stock_of(api, variant["sku"])
    assert after["reserved"] == before["reserved"] + 2
    assert after["on_hand"] == before["on_hand"]
    assert after["ledger"][0]["reference"] == order["order_id"]

    # AND a retry with the same key returns the same order and reserves nothing more
    again = requests.post(f"{api}/checkout", json=checkout_body(cart_id), headers={"Idempotency-Key": key},
                          timeout=TIMEOUT)
    assert again.status_code == 201
    assert again.json()["order_id"] == order["order_id"]
    assert stock_of(api, variant["sku"])["reserved"] == after["reserved"]
    reused = requests.post(f"{api}/checkout", json=checkout_body(cart_id, "qris"), headers={"Idempotency-Key": key},
                           timeout=TIMEOUT)
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"

    # AND the guest sees the order only with its access token
    url = f"{api}/orders/{order['order_id']}"
    assert requests.get(url, timeout=TIMEOUT).status_code == 404
    seen = requests.get(url, headers={"X-Order-Token": order["access_token"]}, timeout=TIMEOUT)
    assert seen.status_code == 200
    assert seen.json()["timeline"][0]["status"] == "PENDING_PAYMENT"


def test_fifty_concurrent_http_checkouts_for_seven_units_sell_exactly_seven(stack: Any) -> None:
    api = stack.api_url
    sku = f"E2E-RACE-{uuid.uuid4().hex[:6].upper()}"
    created = requests.post(f"{api}/admin/products", headers=staff_headers(), timeout=TIMEOUT, json={
        "name": "Wayang Kulit Arjuna", "category": "Kerajinan Kayu", "status": "active",
        "variants": [{"sku": sku, "price": 750_000, "weight_grams": 400}], "initial_stock": {sku: 7}})
    assert created.status_code == 201, created.text
    carts = [new_cart(api, {sku: 1}) for _ in range(50)]

    def attempt(cart_id: str) -> requests.Response:
        """As a real client does: a connection reset before any answer is retried with the same Idempotency-Key
        (the local server's listen backlog is small, so a burst of 50 connects can be refused at the socket)."""
        for _ in range(5):
            try:
                return requests.post(f"{api}/checkout", json=checkout_body(cart_id, "qris"),
                                     headers={"Idempotency-Key": f"race-{cart_id}"}, timeout=120)
            except requests.ConnectionError:
                time.sleep(0.2)
        raise AssertionError(f"checkout for cart {cart_id} never reached the server")

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(attempt, carts))

    assert all(answer.status_code in (201, 409) for answer in answers), [a.text for a in answers if a.status_code
                                                                          not in (201, 409)]
    orders = {answer.json()["order_id"] for answer in answers if answer.status_code == 201}
    assert len(orders) == 7
    refused = [answer.json()["error"] for answer in answers if answer.status_code == 409]
    assert len(refused) == 43 and all(error["code"] == "insufficient_stock" for error in refused)
    level = stock_of(api, sku)
    assert (level["on_hand"], level["reserved"], level["available"]) == (7, 7, 0)
    reservations = [row for row in level["ledger"] if row["kind"] == "reserve"]
    assert {row["reference"] for row in reservations} == orders
    assert sum(row["delta_reserved"] for row in level["ledger"]) == 7


def test_low_stock_crossing_sends_one_message_which_the_driver_consumes(stack: Any) -> None:
    api = stack.api_url
    sku = f"E2E-LOW-{uuid.uuid4().hex[:6].upper()}"
    requests.post(f"{api}/admin/products", headers=staff_headers(), timeout=TIMEOUT, json={
        "name": "Vas Gerabah Kasongan", "category": "Keramik & Gerabah", "status": "active",
        "low_stock_threshold": 3, "variants": [{"sku": sku, "price": 120_000, "weight_grams": 900}],
        "initial_stock": {sku: 5}}).raise_for_status()
    for _ in range(3):  # 5 -> 4 -> 3 (crossing) -> 2 (still low: no second message)
        cart_id = new_cart(api, {sku: 1})
        placed = requests.post(f"{api}/checkout", json=checkout_body(cart_id, "qris"),
                               headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=TIMEOUT)
        assert placed.status_code == 201, placed.text
    low, cursor = [], None  # the report comes a page at a time, by SKU
    while True:
        params = {"low_stock": "true", **({"cursor": cursor} if cursor else {})}
        page = requests.get(f"{api}/admin/inventory", params=params, headers=staff_headers(), timeout=TIMEOUT).json()
        low.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    row = next(item for item in low if item["sku"] == sku)
    assert row["available"] == 2 and row["suggested_reorder"] > 0
    # the SQS driver hands the message to the app's handler, which deletes it: the queue drains
    sqs = boto3.client("sqs", endpoint_url=stack.moto_url, region_name="ap-southeast-3")
    url = sqs.get_queue_url(QueueName=resources.LOW_STOCK_QUEUE.physical_name)["QueueUrl"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        if attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0":
            break
        time.sleep(0.5)
    else:
        pytest.fail("the low-stock queue was not drained by the local SQS driver")
    handled = [o for o in stack.sqs_driver.outcomes if o.queue == resources.LOW_STOCK_QUEUE.physical_name]
    assert sum(outcome.deleted for outcome in handled) >= 1


def test_bad_checkout_over_http_is_a_4xx_json_error_and_reserves_nothing(stack: Any) -> None:
    api = stack.api_url
    missing_key = requests.post(f"{api}/checkout", json=checkout_body("0" * 32), timeout=TIMEOUT)
    assert missing_key.status_code == 400
    assert missing_key.json()["error"]["details"]["field"] == "Idempotency-Key"
    malformed = requests.post(f"{api}/checkout", data="{not json", headers={
        "Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}, timeout=TIMEOUT)
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "validation_failed"
    no_token = requests.get(f"{api}/admin/inventory", timeout=TIMEOUT)
    assert no_token.status_code in (401, 403)
