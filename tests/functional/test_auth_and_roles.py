"""Who may call what: the custom authorizer in front of /admin/* and /orders, the roles checked inside the app,
and who may see a cart or an order.

The authorizer refuses on its own (API Gateway's answers: 401 {"message": "Unauthorized"} without an
Authorization header, 403 {"Message": ...} for a token it rejects); role checks inside the app answer in our
{"error": {...}} shape. Every refusal leaves the tables untouched.

One shop is seeded per module (a product, two customers' orders, guests' orders, a customer's open cart);
the few tests that write act on their own products or compare with what they read first.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest

from tests.functional.helpers import (
    bearer,
    body_of,
    checkout,
    checkout_body,
    create_product,
    mocked_account,
    new_cart,
    place_order,
    product_body,
    put_item,
    send,
    snapshot,
)

SKU = "BTK-PRG-M"
GATEWAY_DENIED = {"Message": "User is not authorized to access this resource"}
GATEWAY_UNAUTHORIZED = {"message": "Unauthorized"}

PRODUCT_ROUTES = [
    ("GET", "/admin/products", None),
    ("POST", "/admin/products", product_body("NEW-1")),
    ("GET", "/admin/products/{product_id}", None),
    ("PUT", "/admin/products/{product_id}", {"name": "Batik Parang Rusak"}),
    ("PATCH", "/admin/products/{product_id}", {"description": "changed"}),
    ("POST", "/admin/products/{product_id}/archive", None),
    ("POST", "/admin/products/{product_id}/images/upload-url", {"content_type": "image/png"}),
    ("POST", "/admin/products/{product_id}/images", {"key": "products/prd_000000000000/0123456789abcdef.png"}),
]
STOCK_ROUTES = [
    ("GET", "/admin/inventory", None),
    ("GET", f"/admin/inventory/{SKU}", None),
    ("POST", f"/admin/inventory/{SKU}/restock", {"quantity": 5}),
    ("POST", f"/admin/inventory/{SKU}/adjust", {"delta": -1, "reason": "broken in the warehouse"}),
    ("PUT", f"/admin/inventory/{SKU}/threshold", {"low_stock_threshold": 2}),
]
OTHER_ADMIN_ROUTES = [
    ("GET", "/admin/vouchers", None),
    ("POST", "/admin/vouchers", {"code": "HEMAT10", "kind": "percent", "value": 10}),
    ("GET", "/admin/orders", None),
    ("GET", "/admin/orders?status=CONFIRMED", None),
]
ADMIN_ROUTES = PRODUCT_ROUTES + STOCK_ROUTES + OTHER_ADMIN_ROUTES
AUTHORIZER_ROUTES = [*ADMIN_ROUTES, ("GET", "/orders", None)]


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def dev_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": "staff-1", "role": "staff", "email": "staff@tokokita.test", "iss": "tokoflow-local",
              "aud": "tokoflow", "iat": now, "exp": now + 600}
    claims.update(overrides)
    return claims


def signed(claims: dict[str, Any], key: str | None = None) -> dict[str, str]:
    """A token made with PyJWT directly, signed with the development key from the environment (or `key`)."""
    token = jwt.encode(claims, key or os.environ["TOKOFLOW_DEV_JWT_SECRET"], algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


def unsigned(claims: dict[str, Any]) -> dict[str, str]:
    """An "alg": "none" token: valid claims and no signature at all."""
    return {"Authorization": f"Bearer {_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."}


REJECTED_TOKENS = {
    "garbage": {"Authorization": "Bearer garbage"},
    "not-bearer": {"Authorization": "Basic c3RhZmY6c3RhZmY="},
    "signed-by-another-key": signed(dev_claims(), key="another-signing-key-of-at-least-32-characters"),
    "expired": signed(dev_claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
    "wrong-audience": signed(dev_claims(aud="someone-else")),
    "wrong-issuer": signed(dev_claims(iss="https://evil.example")),
    "alg-none": unsigned(dev_claims()),
}


@dataclass
class Shop:
    client: Any
    aws: Any
    ids: dict[str, Any]


@pytest.fixture(scope="module")
def shop() -> Iterator[Shop]:
    """One product (50 in stock), Sari's open cart, orders by Sari, Budi and guests (one of them COD)."""
    with mocked_account() as (clients, client):
        product = create_product(client, bearer("staff"), SKU, stock=50, price=450_000)
        sari, budi = bearer("customer", "cust-sari"), bearer("customer", "cust-budi")
        sari_cart = new_cart(client, sari)
        put_item(client, sari_cart, SKU, 2, sari)
        ids = {
            "product_id": product["product_id"],
            "sari_order": place_order(client, SKU, 1, sari),
            "budi_order": place_order(client, SKU, 2, budi, customer={"name": "Budi", "email": "budi@example.com"}),
            "guest_order": place_order(client, SKU, 1),
            "other_guest_order": place_order(client, SKU, 1),
            "cod_order": place_order(client, SKU, 1, payment_method="cod"),
            "sari_cart": sari_cart,
        }
        yield Shop(client=client, aws=clients, ids=ids)


def call(shop: Shop, route: tuple[str, str, Any], headers: dict[str, str]) -> Any:
    method, path, body = route
    return send(shop.client, method, path.format(**shop.ids), body, headers)


def assert_refused(response: Any, code: str = "forbidden", status: int = 403) -> None:
    """A refusal from inside the app: our JSON error shape, not the gateway's."""
    assert response.status_code == status, response.body
    error = body_of(response)["error"]
    assert error["code"] == code, error
    assert error["message"]


# ---- the authorizer ---------------------------------------------------------------------------------------


def test_routes_behind_the_authorizer_refuse_a_request_without_a_token(shop: Shop) -> None:
    before = snapshot(shop.aws)
    for route in AUTHORIZER_ROUTES:
        response = call(shop, route, {})
        assert (response.status_code, body_of(response)) == (401, GATEWAY_UNAUTHORIZED), route
    assert snapshot(shop.aws) == before


@pytest.mark.parametrize("kind", sorted(REJECTED_TOKENS))
def test_routes_behind_the_authorizer_refuse_a_token_that_does_not_verify(shop: Shop, kind: str) -> None:
    before = snapshot(shop.aws)
    for route in AUTHORIZER_ROUTES:
        response = call(shop, route, REJECTED_TOKENS[kind])
        assert (response.status_code, body_of(response)) == (403, GATEWAY_DENIED), route
    assert snapshot(shop.aws) == before


def test_a_token_minted_the_same_way_with_the_dev_key_is_accepted(shop: Shop) -> None:
    """Control for the refusals above: the PyJWT-made token differs from an accepted one only where intended."""
    response = send(shop.client, "GET", "/admin/products", headers=signed(dev_claims()))
    assert response.status_code == 200, response.body
    assert shop.ids["product_id"] in [item["product_id"] for item in body_of(response)["items"]]


def test_guest_routes_answer_a_bad_token_with_401_json_and_create_nothing(shop: Shop) -> None:
    cart_id = new_cart(shop.client)
    before = snapshot(shop.aws)
    for headers in REJECTED_TOKENS.values():
        for method, path, body in [("POST", "/carts", None), ("GET", f"/carts/{cart_id}", None),
                                   ("PUT", f"/carts/{cart_id}/items/{SKU}", {"quantity": 1}),
                                   ("GET", f"/orders/{shop.ids['guest_order']['order_id']}", None)]:
            assert_refused(send(shop.client, method, path, body, headers), code="unauthorized", status=401)
    assert snapshot(shop.aws) == before


# ---- roles inside the app ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["customer", "finance"])
def test_a_non_staff_token_on_admin_routes_gets_403_json_and_changes_nothing(
        shop: Shop, auth_header: Any, role: str) -> None:
    before = snapshot(shop.aws)
    for route in ADMIN_ROUTES:
        response = call(shop, route, auth_header(role))
        assert response.status_code == 403, (route, response.body)
        assert body_of(response)["error"]["code"] == "forbidden", route
    assert snapshot(shop.aws) == before


def test_finance_may_not_manage_stock(shop: Shop, auth_header: Any) -> None:
    before = snapshot(shop.aws)
    for route in STOCK_ROUTES:
        assert_refused(call(shop, route, auth_header("finance")))
    assert snapshot(shop.aws) == before


@pytest.mark.parametrize("role", ["staff", "admin"])
def test_staff_and_admin_may_manage_products(shop: Shop, auth_header: Any, role: str) -> None:
    client, headers = shop.client, auth_header(role)
    created = create_product(client, headers, f"KRJ-{role.upper()}", stock=4, price=175_000,
                             name="Keranjang Rotan", category="Anyaman", status="draft")
    product_id = created["product_id"]

    renamed = send(client, "PUT", f"/admin/products/{product_id}", {"name": "Keranjang Rotan Besar",
                                                                      "status": "active"}, headers)
    assert renamed.status_code == 200, renamed.body
    assert (body_of(renamed)["name"], body_of(renamed)["status"]) == ("Keranjang Rotan Besar", "active")

    patched = send(client, "PATCH", f"/admin/products/{product_id}", {"description": "Anyaman tangan"}, headers)
    assert patched.status_code == 200, patched.body
    assert client.http.get(f"/products/{product_id}").status_code == 200

    archived = send(client, "POST", f"/admin/products/{product_id}/archive", headers=headers)
    assert archived.status_code == 200, archived.body
    assert body_of(archived)["status"] == "archived"
    assert client.http.get(f"/products/{product_id}").status_code == 404
    listed = body_of(send(client, "GET", "/admin/products?status=archived", headers=headers))["items"]
    assert product_id in [item["product_id"] for item in listed]


@pytest.mark.parametrize("role", ["staff", "admin"])
def test_staff_and_admin_may_manage_stock(shop: Shop, auth_header: Any, role: str) -> None:
    headers = auth_header(role)
    on_hand = body_of(send(shop.client, "GET", f"/admin/inventory/{SKU}", headers=headers))["on_hand"]
    response = send(shop.client, "POST", f"/admin/inventory/{SKU}/restock", {"quantity": 5}, headers)
    assert response.status_code == 200, response.body
    assert body_of(response)["on_hand"] == on_hand + 5


# ---- orders -----------------------------------------------------------------------------------------------


def test_my_orders_requires_a_token_and_lists_only_the_callers_own_orders(shop: Shop, auth_header: Any) -> None:
    assert shop.client.http.get("/orders").status_code == 401
    for sub, own in [("cust-sari", "sari_order"), ("cust-budi", "budi_order")]:
        response = send(shop.client, "GET", "/orders", headers=auth_header("customer", sub))
        assert response.status_code == 200, response.body
        items = body_of(response)["items"]
        assert [item["order_id"] for item in items] == [shop.ids[own]["order_id"]]
        assert "access_token" not in items[0]
    fresh = send(shop.client, "GET", "/orders", headers=auth_header("customer", "cust-new"))
    assert body_of(fresh)["items"] == []


@pytest.mark.parametrize("role", ["staff", "finance"])
def test_my_orders_is_for_customers_only(shop: Shop, auth_header: Any, role: str) -> None:
    assert_refused(send(shop.client, "GET", "/orders", headers=auth_header(role)))


def test_a_guest_reads_their_order_only_with_its_access_token(shop: Shop, auth_header: Any) -> None:
    order, other = shop.ids["guest_order"], shop.ids["other_guest_order"]
    order_id, token = order["order_id"], order["access_token"]

    by_header = shop.client.http.get(f"/orders/{order_id}", headers={"X-Order-Token": token})
    by_query = shop.client.http.get(f"/orders/{order_id}?access_token={token}")
    for response in (by_header, by_query):
        assert response.status_code == 200, response.body
        assert body_of(response)["order_id"] == order_id
        assert body_of(response)["status"] == "PENDING_PAYMENT"
        assert "access_token" not in body_of(response)

    before = snapshot(shop.aws)
    for headers, path in [
        ({}, f"/orders/{order_id}"),
        ({"X-Order-Token": other["access_token"]}, f"/orders/{order_id}"),
        ({}, f"/orders/{order_id}?access_token={other['access_token']}"),
        ({"X-Order-Token": token[:-1]}, f"/orders/{order_id}"),
        (auth_header("customer", "cust-nosy"), f"/orders/{order_id}"),
        (auth_header("finance"), f"/orders/{order_id}"),
    ]:
        assert_refused(shop.client.http.get(path, headers=headers), code="order_not_found", status=404)
    assert snapshot(shop.aws) == before


def test_a_customer_reads_their_own_order_without_the_access_token(shop: Shop, auth_header: Any) -> None:
    order_id = shop.ids["sari_order"]["order_id"]
    response = shop.client.http.get(f"/orders/{order_id}", headers=auth_header("customer", "cust-sari"))
    assert response.status_code == 200, response.body
    assert body_of(response)["order_id"] == order_id
    other = shop.client.http.get(f"/orders/{order_id}", headers=auth_header("customer", "cust-budi"))
    assert_refused(other, code="order_not_found", status=404)


@pytest.mark.parametrize("role", ["staff", "admin"])
def test_staff_read_any_order(shop: Shop, auth_header: Any, role: str) -> None:
    for name in ("guest_order", "sari_order", "cod_order"):
        order_id = shop.ids[name]["order_id"]
        response = shop.client.http.get(f"/orders/{order_id}", headers=auth_header(role))
        assert response.status_code == 200, response.body
        assert body_of(response)["order_id"] == order_id


def test_staff_list_orders_by_status(shop: Shop, auth_header: Any) -> None:
    staff = auth_header("staff")
    pending = {shop.ids[name]["order_id"] for name in ("sari_order", "budi_order", "guest_order",
                                                        "other_guest_order")}
    for path in ("/admin/orders?status=PENDING_PAYMENT", "/admin/orders"):
        response = send(shop.client, "GET", path, headers=staff)
        assert response.status_code == 200, response.body
        assert {item["order_id"] for item in body_of(response)["items"]} == pending
    confirmed = body_of(send(shop.client, "GET", "/admin/orders?status=CONFIRMED", headers=staff))["items"]
    assert [item["order_id"] for item in confirmed] == [shop.ids["cod_order"]["order_id"]]


# ---- carts ------------------------------------------------------------------------------------------------


def test_a_customers_cart_is_theirs_only_not_even_staff_or_admins_read_change_quote_or_check_it_out(
        shop: Shop, auth_header: Any) -> None:
    client, cart_id = shop.client, shop.ids["sari_cart"]
    quote = {"cart_id": cart_id,
             "destination": {"postal_code": "12110", "city": "Jakarta Selatan", "province": "DKI Jakarta"}}
    before = snapshot(shop.aws)
    for headers in ({}, auth_header("customer", "cust-budi"), auth_header("finance"), auth_header("staff"),
                    auth_header("admin")):
        for response in (
            client.http.get(f"/carts/{cart_id}", headers=headers),
            send(client, "PUT", f"/carts/{cart_id}/items/{SKU}", {"quantity": 1}, headers),
            send(client, "DELETE", f"/carts/{cart_id}/items/{SKU}", headers=headers),
            send(client, "POST", f"/carts/{cart_id}/voucher", {"code": "HEMAT10"}, headers),
            send(client, "POST", "/shipping/quote", quote, headers),
            checkout(client, checkout_body(cart_id), headers),
        ):
            assert_refused(response, code="cart_not_found", status=404)
    assert snapshot(shop.aws) == before

    response = client.http.get(f"/carts/{cart_id}", headers=auth_header("customer", "cust-sari"))
    assert response.status_code == 200, response.body
    assert [(line["sku"], line["quantity"]) for line in body_of(response)["lines"]] == [(SKU, 2)]
