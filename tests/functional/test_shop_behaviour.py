"""What the shop does, proven through the real app (chalice.test.Client) on a mocked AWS account."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from chalicelib import clock, resources
from chalicelib.cart.repository import CartModel
from chalicelib.orders.repository import OrderModel
from tests.functional.helpers import (
    body_of,
    checkout,
    checkout_body,
    create_product,
    create_voucher,
    new_cart,
    place_order,
    put_item,
    send,
)


def staff_of(auth_header: Any) -> dict[str, str]:
    return auth_header("staff", "staff-1")


def stock(client: Any, headers: dict[str, str], sku: str) -> dict[str, Any]:
    response = client.http.get(f"/admin/inventory/{sku}", headers=headers)
    assert response.status_code == 200, response.body
    return body_of(response)


def low_stock_messages(aws: Any) -> list[dict[str, Any]]:
    url = aws.sqs.get_queue_url(QueueName=resources.LOW_STOCK_QUEUE.physical_name)["QueueUrl"]
    messages = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_same_idempotency_key_returns_the_same_order_and_reserves_nothing_more(client: Any, auth_header: Any) -> None:
    staff = staff_of(auth_header)
    create_product(client, staff, sku="BTK-A", stock=5)
    cart_id = new_cart(client)
    put_item(client, cart_id, "BTK-A", 2)
    body = checkout_body(cart_id)

    first = checkout(client, body, key="same-key-123")
    again = checkout(client, body, key="same-key-123")

    assert first.status_code == again.status_code == 201
    assert body_of(first)["order_id"] == body_of(again)["order_id"]
    assert OrderModel.count() == 1
    assert stock(client, staff, "BTK-A")["reserved"] == 2


def test_same_idempotency_key_with_a_different_body_is_refused(client: Any, auth_header: Any) -> None:
    create_product(client, staff_of(auth_header), sku="BTK-A", stock=5)
    cart_id = new_cart(client)
    put_item(client, cart_id, "BTK-A", 1)
    assert checkout(client, checkout_body(cart_id), key="key-abc-123").status_code == 201

    reused = checkout(client, checkout_body(cart_id, payment_method="qris"), key="key-abc-123")

    assert reused.status_code == 422
    assert body_of(reused)["error"]["code"] == "idempotency_key_reused"
    assert OrderModel.count() == 1


def test_a_guest_reusing_a_key_for_another_cart_is_refused(client: Any, auth_header: Any) -> None:
    create_product(client, staff_of(auth_header), sku="BTK-A", stock=5)
    first, second = new_cart(client), new_cart(client)
    put_item(client, first, "BTK-A", 1)
    put_item(client, second, "BTK-A", 1)
    assert checkout(client, checkout_body(first), key="guest-key-123").status_code == 201

    reused = checkout(client, checkout_body(second), key="guest-key-123")

    assert reused.status_code == 422
    assert body_of(reused)["error"]["code"] == "idempotency_key_reused"
    assert OrderModel.count() == 1


def test_a_cart_becomes_one_order_only_even_under_a_new_key(client: Any, auth_header: Any) -> None:
    create_product(client, staff_of(auth_header), sku="BTK-A", stock=5)
    cart_id = new_cart(client)
    put_item(client, cart_id, "BTK-A", 1)
    order = body_of(checkout(client, checkout_body(cart_id)))

    second = checkout(client, checkout_body(cart_id))

    assert second.status_code == 409
    assert body_of(second)["error"]["details"]["order_id"] == order["order_id"]


def test_short_stock_is_refused_with_409_naming_every_short_sku_and_reserving_nothing(
        client: Any, auth_header: Any) -> None:
    staff = staff_of(auth_header)
    create_product(client, staff, sku="BTK-A", stock=1)
    create_product(client, staff, sku="BTK-B", stock=5, name="Batik Kawung")
    create_product(client, staff, sku="BTK-C", stock=0, name="Batik Truntum")
    cart_id = new_cart(client)
    for sku, quantity in (("BTK-A", 2), ("BTK-B", 1), ("BTK-C", 1)):
        view = put_item(client, cart_id, sku, quantity)
    assert view["stock_short_skus"] == ["BTK-A", "BTK-C"]

    refused = checkout(client, checkout_body(cart_id))

    assert refused.status_code == 409
    error = body_of(refused)["error"]
    assert error["code"] == "insufficient_stock"
    assert error["details"]["skus"] == {"BTK-A": {"requested": 2, "available": 1},
                                        "BTK-C": {"requested": 1, "available": 0}}
    assert stock(client, staff, "BTK-B")["reserved"] == 0
    assert OrderModel.count() == 0


def test_checkout_consumes_the_voucher_and_freezes_the_discounted_total(client: Any, auth_header: Any) -> None:
    staff = staff_of(auth_header)
    create_product(client, staff, sku="BTK-A", stock=5, price=250_000)
    create_voucher(client, staff, "JOGJA10", kind="percent", value=10, min_spend=200_000, max_discount=50_000,
                   usage_limit=1)
    cart_id = new_cart(client)
    put_item(client, cart_id, "BTK-A", 2)
    applied = send(client, "POST", f"/carts/{cart_id}/voucher", {"code": "jogja10"})
    assert body_of(applied)["totals"]["discount"] == 50_000

    order = body_of(checkout(client, checkout_body(cart_id)))

    assert order["voucher_code"] == "JOGJA10"
    assert order["totals"]["subtotal"] == 500_000
    assert order["totals"]["discount"] == 50_000
    assert order["totals"]["total"] == 450_000 + order["totals"]["shipping"]
    listed = body_of(client.http.get("/admin/vouchers", headers=staff))["items"]
    assert listed[0]["used"] == 1
    # the only use is gone: the next cart cannot apply it
    other = new_cart(client)
    put_item(client, other, "BTK-A", 1)
    refused = send(client, "POST", f"/carts/{other}/voucher", {"code": "JOGJA10"})
    assert refused.status_code == 422
    assert "fully used" in body_of(refused)["error"]["message"]


def test_cash_on_delivery_is_confirmed_at_once_without_a_payment_deadline(client: Any, auth_header: Any) -> None:
    create_product(client, staff_of(auth_header), sku="BTK-A", stock=5, price=150_000)
    order = place_order(client, "BTK-A", payment_method="cod")
    assert order["status"] == "CONFIRMED"
    assert order["payment_deadline"] is None


def test_signed_in_customer_orders_are_listed_newest_first(client: Any, auth_header: Any) -> None:
    create_product(client, staff_of(auth_header), sku="BTK-A", stock=5)
    customer = auth_header("customer", "cust-7")
    first = place_order(client, "BTK-A", headers=customer)
    second = place_order(client, "BTK-A", headers=customer)
    listed = body_of(client.http.get("/orders", headers=customer))["items"]
    assert [order["order_id"] for order in listed] == [second["order_id"], first["order_id"]]


def test_low_stock_crossing_sends_exactly_one_message_and_restock_rearms_it(
        client: Any, auth_header: Any, aws: Any) -> None:
    staff = staff_of(auth_header)
    create_product(client, staff, sku="BTK-A", stock=6, low_stock_threshold=3)
    for _ in range(4):  # 6 -> 5 -> 4 -> 3 (crossing) -> 2 (still low)
        place_order(client, "BTK-A")
    messages = low_stock_messages(aws)
    assert [(m["sku"], m["available"], m["low_stock_threshold"]) for m in messages] == [("BTK-A", 3, 3)]

    restocked = send(client, "POST", "/admin/inventory/BTK-A/restock", {"quantity": 10, "reason": "supplier"}, staff)
    assert body_of(restocked)["low_stock"] is False
    for _ in range(9):  # 12 available -> 3: crosses again
        place_order(client, "BTK-A")
    assert [m["available"] for m in low_stock_messages(aws)] == [3]


def test_low_stock_report_lists_only_low_skus_with_a_reorder_suggestion(client: Any, auth_header: Any) -> None:
    staff = staff_of(auth_header)
    create_product(client, staff, sku="BTK-LOW", stock=2)
    create_product(client, staff, sku="BTK-OK", stock=50, name="Batik Kawung")
    place_order(client, "BTK-LOW")
    report = body_of(client.http.get("/admin/inventory?low_stock=true", headers=staff))["items"]
    assert [row["sku"] for row in report] == ["BTK-LOW"]
    assert report[0]["reserved_last_30_days"] == 1
    assert report[0]["suggested_reorder"] >= report[0]["low_stock_threshold"] * 2 - report[0]["available"]


def test_restock_and_adjustment_are_recorded_in_the_ledger_with_who_why_and_the_result(
        client: Any, auth_header: Any) -> None:
    staff = staff_of(auth_header)
    create_product(client, staff, sku="BTK-A", stock=4)
    send(client, "POST", "/admin/inventory/BTK-A/restock", {"quantity": 6, "reason": "PO-1042"}, staff)
    send(client, "POST", "/admin/inventory/BTK-A/adjust", {"delta": -1, "reason": "torn in the warehouse"}, staff)
    level = stock(client, staff, "BTK-A")
    assert (level["on_hand"], level["available"]) == (9, 9)
    latest, restock, opening = level["ledger"][:3]
    assert (latest["kind"], latest["delta_on_hand"], latest["on_hand_after"], latest["reason"], latest["actor"]) == (
        "adjustment", -1, 9, "torn in the warehouse", "staff-1")
    assert (restock["kind"], restock["delta_on_hand"], restock["on_hand_after"]) == ("restock", 6, 10)
    assert (opening["kind"], opening["on_hand_after"]) == ("initial", 4)


def test_unpaid_orders_overdue_past_the_grace_period_expire_on_schedule_and_release_their_stock(
        client: Any, auth_header: Any) -> None:
    staff = staff_of(auth_header)
    create_product(client, staff, sku="BTK-A", stock=5)
    overdue = place_order(client, "BTK-A", qty=2)
    fresh = place_order(client, "BTK-A", qty=1)
    cod = place_order(client, "BTK-A", qty=1, payment_method="cod")
    item = OrderModel.get(overdue["order_id"])
    item.update(actions=[OrderModel.payment_deadline.set(clock.iso(clock.now() - timedelta(minutes=11)))])

    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                            resources=["arn:aws:events:ap-southeast-3:123456789012:rule/expire"])
    result = client.lambda_.invoke("expire_overdue_orders", event)
    client.lambda_.invoke("expire_overdue_orders", event)  # a second run changes nothing

    assert result.payload == {"expired": 1, "skipped": 0}
    statuses = {order_id: OrderModel.get(order_id).status
                for order_id in (overdue["order_id"], fresh["order_id"], cod["order_id"])}
    assert statuses == {overdue["order_id"]: "EXPIRED", fresh["order_id"]: "PENDING_PAYMENT",
                        cod["order_id"]: "CONFIRMED"}
    level = stock(client, staff, "BTK-A")
    assert (level["on_hand"], level["reserved"]) == (5, 2)
    assert level["ledger"][0]["kind"] == "release" and level["ledger"][0]["delta_reserved"] == -2
    timeline = OrderModel.get(overdue["order_id"]).timeline
    assert [entry["status"] for entry in timeline] == ["PENDING_PAYMENT", "EXPIRED"]


def test_expired_cart_is_gone_even_before_dynamodb_ttl_deletes_it(client: Any) -> None:
    cart_id = new_cart(client)
    CartModel.get(cart_id).update(actions=[CartModel.expires_at.set(clock.now() - timedelta(seconds=1))])
    response = client.http.get(f"/carts/{cart_id}")
    assert response.status_code == 404


def test_cart_shows_current_prices_after_staff_change_them(client: Any, auth_header: Any) -> None:
    staff = staff_of(auth_header)
    product = create_product(client, staff, sku="BTK-A", stock=5, price=100_000)
    cart_id = new_cart(client)
    put_item(client, cart_id, "BTK-A", 3)
    send(client, "PUT", f"/admin/products/{product['product_id']}",
         {"variants": [{"sku": "BTK-A", "price": 120_000, "weight_grams": 300}]}, staff)
    view = body_of(client.http.get(f"/carts/{cart_id}"))
    assert view["lines"][0]["unit_price"] == 120_000
    assert view["totals"]["subtotal"] == 360_000
    assert view["totals"]["ppn_included"] == 35_676  # 360000 x 11 / 111, rounded
    assert view["totals"]["weight_grams"] == 900


def test_archived_products_leave_the_storefront_and_cannot_be_bought(client: Any, auth_header: Any) -> None:
    staff = staff_of(auth_header)
    product = create_product(client, staff, sku="BTK-A", stock=5)
    cart_id = new_cart(client)
    put_item(client, cart_id, "BTK-A", 1)
    assert client.http.post(f"/admin/products/{product['product_id']}/archive", headers=staff).status_code == 200
    assert client.http.get(f"/products/{product['product_id']}").status_code == 404
    assert body_of(client.http.get("/products"))["items"] == []
    refused = checkout(client, checkout_body(cart_id))
    assert refused.status_code == 409
    assert body_of(refused)["error"]["code"] == "sku_unavailable"


def test_staff_upload_an_image_through_a_presigned_url_then_attach_it(
        client: Any, auth_header: Any, aws: Any) -> None:
    staff = staff_of(auth_header)
    product = create_product(client, staff, sku="BTK-A", stock=1)
    grant = body_of(send(client, "POST", f"/admin/products/{product['product_id']}/images/upload-url",
                         {"content_type": "image/jpeg"}, staff))
    assert grant["method"] == "PUT" and grant["key"].startswith(f"products/{product['product_id']}/")
    not_yet = send(client, "POST", f"/admin/products/{product['product_id']}/images", {"key": grant["key"]}, staff)
    assert not_yet.status_code == 400
    aws.s3.put_object(Bucket=resources.MEDIA_BUCKET.physical_name, Key=grant["key"], Body=b"\xff\xd8jpeg")
    attached = body_of(send(client, "POST", f"/admin/products/{product['product_id']}/images",
                            {"key": grant["key"]}, staff))
    assert attached["images"] == [grant["image_url"]]


def test_correlation_id_from_the_caller_is_echoed_back(client: Any) -> None:
    response = client.http.get("/categories", headers={"X-Correlation-Id": "shop-web-42"})
    assert response.headers["X-Correlation-Id"] == "shop-web-42"


def test_low_stock_consumer_accepts_alerts_and_reports_malformed_ones_as_failures(client: Any) -> None:
    good = json.dumps({"type": "stock.low", "sku": "BTK-A", "product_id": "p", "on_hand": 3, "reserved": 0,
                       "available": 3, "low_stock_threshold": 3, "low_stock": True})
    event = client.events.generate_sqs_event(message_bodies=[good, "not json"],
                                             queue_name=resources.LOW_STOCK_QUEUE.physical_name)
    event["Records"][0]["messageId"], event["Records"][1]["messageId"] = "m-good", "m-bad"
    result = client.lambda_.invoke("low_stock_alerts", event)
    assert result.payload == {"batchItemFailures": [{"itemIdentifier": "m-bad"}]}


def test_a_variant_added_later_opens_with_its_own_stock_and_threshold_in_one_step(
        client: Any, auth_header: Any) -> None:
    staff = staff_of(auth_header)
    product = create_product(client, staff, sku="BTK-A", stock=5)
    updated = send(client, "PUT", f"/admin/products/{product['product_id']}",
                   {"variants": [{"sku": "BTK-B", "price": 150_000, "weight_grams": 250, "options": {"size": "L"}}],
                    "initial_stock": {"BTK-B": 12}, "low_stock_threshold": 3}, staff)
    assert updated.status_code == 200, updated.body
    level = stock(client, staff, "BTK-B")
    assert (level["on_hand"], level["low_stock_threshold"]) == (12, 3)
    assert [(row["kind"], row["delta_on_hand"]) for row in level["ledger"]] == [("initial", 12)]
    assert stock(client, staff, "BTK-A")["on_hand"] == 5  # existing SKUs untouched
