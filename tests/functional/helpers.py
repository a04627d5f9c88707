"""Small builders shared by the functional tests: JSON headers, a product, a cart with items, a checkout body,
and a snapshot of every business table to prove that a refused request changed nothing.

Imported as `from tests.functional.helpers import ...` (the tests run with `python -m pytest` from the repository
root, which puts the root on sys.path, exactly as the existing tests rely on for `chalicelib` and `local`).
"""

from __future__ import annotations

import contextlib
import copy
import json
import uuid
from collections.abc import Iterator
from typing import Any

from chalicelib import resources

DEFAULT_CUSTOMER = {"name": "Sari", "email": "sari@example.com", "phone": "+6281234567890"}
DEFAULT_ADDRESS = {
    "recipient": "Sari",
    "phone": "+6281234567890",
    "street": "Jl. Kemang Raya 1",
    "city": "Jakarta Selatan",
    "province": "DKI Jakarta",
    "postal_code": "12110",
}
DEFAULT_SHIPPING = {"courier": "jne", "service": "reg"}

# The idempotency table is the checkout's own bookkeeping, not business data: a refused checkout may leave
# nothing there or a record that is removed again, so "changes nothing" is judged on every other table.
SNAPSHOT_TABLES = tuple(spec for spec in resources.TABLES if spec is not resources.IDEMPOTENCY)


def json_headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    """{"Content-Type": "application/json"} plus any extra headers (e.g. an Authorization header)."""
    return {"Content-Type": "application/json", **(extra or {})}


def body_of(response: Any) -> Any:
    """The response body parsed as JSON (fails the test loudly if it is not JSON)."""
    return json.loads(response.body)


def send(client: Any, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
         *, raw: bytes | str | None = None) -> Any:
    """One request: `body` is sent as JSON, `raw` as-is (for malformed bodies); neither sends an empty body."""
    if raw is not None:
        payload = raw.encode() if isinstance(raw, str) else raw
    elif body is not None:
        payload = json.dumps(body).encode()
    else:
        payload = b""
    return client.http.request(method, path, headers=json_headers(headers), body=payload)


def variant(sku: str = "BTK-PRG-M", *, price: int = 450_000, weight_grams: int = 300, **extra: Any) -> dict[str, Any]:
    return {"sku": sku, "price": price, "weight_grams": weight_grams, **extra}


def product_body(sku: str = "BTK-PRG-M", *, stock: int = 10, price: int = 450_000, name: str = "Batik Parang",
                 category: str = "Batik", status: str = "active", weight_grams: int = 300,
                 variants: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """A valid POST /admin/products body; `variants` replaces the single default variant."""
    chosen = variants if variants is not None else [variant(sku, price=price, weight_grams=weight_grams)]
    body: dict[str, Any] = {"name": name, "category": category, "status": status, "variants": chosen}
    if stock:
        body["initial_stock"] = {item["sku"]: stock for item in chosen}
    body.update(extra)
    return body


def create_product(client: Any, headers: dict[str, str], sku: str = "BTK-PRG-M", stock: int = 10,
                   price: int = 450_000, **options: Any) -> dict[str, Any]:
    """Create a product through the API as `headers` (staff or admin) and return the product dict."""
    response = send(client, "POST", "/admin/products", product_body(sku, stock=stock, price=price, **options),
                    headers)
    assert response.status_code == 201, response.body
    return body_of(response)


def new_cart(client: Any, headers: dict[str, str] | None = None) -> str:
    """A new cart (a guest's unless `headers` signs a customer in); returns its id."""
    response = client.http.post("/carts", headers=dict(headers or {}), body=b"")
    assert response.status_code == 201, response.body
    return body_of(response)["cart_id"]


def put_item(client: Any, cart_id: str, sku: str, qty: int, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Set a line's quantity and return the cart view."""
    response = send(client, "PUT", f"/carts/{cart_id}/items/{sku}", {"quantity": qty}, headers)
    assert response.status_code == 200, response.body
    return body_of(response)


def checkout_body(cart_id: str, **overrides: Any) -> dict[str, Any]:
    """A valid POST /checkout body for `cart_id`.

    An override replaces a top-level field; for the object fields (customer, shipping_address, shipping) a dict
    is merged into the default so `customer={"email": "x"}` changes only the email. None removes the field.
    """
    body: dict[str, Any] = {
        "cart_id": cart_id,
        "customer": dict(DEFAULT_CUSTOMER),
        "shipping_address": dict(DEFAULT_ADDRESS),
        "shipping": dict(DEFAULT_SHIPPING),
        "payment_method": "bank_transfer",
    }
    for key, value in overrides.items():
        if value is None:
            body.pop(key, None)
        elif isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **copy.deepcopy(value)}
        else:
            body[key] = copy.deepcopy(value)
    return body


def idempotency_key() -> str:
    return f"test-{uuid.uuid4().hex}"


def checkout(client: Any, body: Any, headers: dict[str, str] | None = None, *, key: str | None = None) -> Any:
    """POST /checkout with a fresh Idempotency-Key (or `key`); returns the raw response."""
    return send(client, "POST", "/checkout", body, {"Idempotency-Key": key or idempotency_key(), **(headers or {})})


def place_order(client: Any, sku: str, qty: int = 1, headers: dict[str, str] | None = None,
                **overrides: Any) -> dict[str, Any]:
    """A cart holding `qty` of `sku`, checked out as `headers` (a guest without); returns the order."""
    cart_id = new_cart(client, headers)
    put_item(client, cart_id, sku, qty, headers)
    response = checkout(client, checkout_body(cart_id, **overrides), headers)
    assert response.status_code == 201, response.body
    return body_of(response)


def create_voucher(client: Any, headers: dict[str, str], code: str, **fields: Any) -> dict[str, Any]:
    body = {"code": code, "kind": "percent", "value": 10, **fields}
    response = send(client, "POST", "/admin/vouchers", body, headers)
    assert response.status_code == 201, response.body
    return body_of(response)


def _scan(dynamodb: Any, table_name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table_name, "ConsistentRead": True}
    while True:
        page = dynamodb.scan(**kwargs)
        items.extend(page.get("Items", []))
        if not page.get("LastEvaluatedKey"):
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def snapshot(aws_clients: Any) -> dict[str, list[str]]:
    """Every item of every business table (all but idempotency), as sorted canonical JSON, by logical name.

    Two snapshots compare equal exactly when no item was added, removed or changed in any attribute.
    """
    return {
        spec.name: sorted(json.dumps(item, sort_keys=True) for item in _scan(aws_clients.dynamodb, spec.physical_name))
        for spec in SNAPSHOT_TABLES
    }


def bearer(role: str, sub: str | None = None) -> dict[str, str]:
    """An Authorization header with a development token (like conftest's auth_header, usable at any scope)."""
    from chalicelib.auth import mint_dev_token

    return {"Authorization": f"Bearer {mint_dev_token(role=role, sub=sub or f'{role}-1')}"}


@contextlib.contextmanager
def mocked_account() -> Iterator[tuple[Any, Any]]:
    """What conftest's `aws` and `client` fixtures set up, for fixtures of a wider scope (a module's shared shop).

    Yields (aws clients, chalice test client) over a fresh, fully provisioned moto account.
    """
    from chalice.test import Client

    from app import app
    from local import offline
    from tests.contract_check import validating

    with offline.mocked_account() as clients, Client(app, stage_name="dev") as client:
        yield clients, validating(client)
