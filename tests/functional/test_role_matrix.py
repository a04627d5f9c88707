"""Every route, called with every role and with none, answers as the OpenAPI document says its access is.

The matrix is derived from the document (x-access, x-roles, x-owner-only), not from a second list: a route whose
code lets in a role its document keeps out (or the reverse) fails here by name. Path parameters point at real
resources of one customer, so a signed-in customer's resources are checked too: everyone but their owner,
staff and admins included, gets the same 404 as for a resource that does not exist.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import find
from hypothesis import strategies as st

from tests.contract_check import document
from tests.functional.helpers import (
    bearer,
    body_of,
    checkout_body,
    create_product,
    mocked_account,
    new_cart,
    place_order,
    put_item,
    send,
)

SKU = "MTX-BTK-1"
OWNER = "customer-owner"
CALLERS: tuple[str | None, ...] = (None, "customer", "staff", "admin", "finance")


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, operation)
            for path, methods in document()["paths"].items() for method, operation in methods.items()]


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def example(schema: dict[str, Any]) -> Any:
    """The smallest value the schema accepts (deterministic), enough to get past the shape checks."""
    schema = _resolve(schema)
    for union in ("oneOf", "anyOf"):
        if union in schema:
            return example(schema[union][0])
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return next(value for value in schema["enum"] if value is not None)
    kind = schema.get("type")
    kind = next(k for k in kind if k != "null") if isinstance(kind, list) else kind
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: example(properties[name]) for name in schema.get("required", [])}
    if kind == "array":
        return [example(schema["items"]) for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        return max(schema.get("minimum", 1), min(1, schema.get("maximum", 1)))
    if kind == "number":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    if schema.get("format") == "email":
        return "matrix@example.com"
    if "pattern" in schema:
        return _matching(schema["pattern"])
    return "x" * max(schema.get("minLength", 1), 1)


@functools.cache
def _matching(pattern: str) -> str:
    """The simplest string matching the pattern (hypothesis shrinks to it; cached, as finding it takes a while)."""
    return find(st.from_regex(pattern), lambda value: True)


class World:
    """One customer's real resources, and the ids the matrix puts into paths."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.products = 0
        self.new_product()
        self.owner = bearer("customer", OWNER)
        self.order_id = place_order(client, self.sku, 1, self.owner)["order_id"]

    def new_product(self) -> None:
        """A product for sale (again): an operation the matrix calls as staff may have archived the last one."""
        self.products += 1
        self.sku = f"{SKU}-{self.products}"
        self.product_id = create_product(self.client, bearer("staff"), self.sku, stock=500)["product_id"]

    def fresh_cart(self) -> str:
        cart_id = new_cart(self.client, self.owner)
        answer = send(self.client, "PUT", f"/carts/{cart_id}/items/{self.sku}", {"quantity": 1}, self.owner)
        if answer.status_code == 404:
            self.new_product()
        put_item(self.client, cart_id, self.sku, 1, self.owner)
        return cart_id

    def path_value(self, name: str, schema: dict[str, Any], fresh: dict[str, str]) -> str:
        if name == "cart_id":
            return fresh.setdefault("cart_id", self.fresh_cart())
        known = {"sku": self.sku, "product_id": self.product_id, "order_id": self.order_id}
        return known.get(name) or str(example(schema))


# Bodies that need real data to get past validation to the access and ownership checks.
REAL_BODIES: dict[str, Callable[[World, dict[str, str]], Any]] = {
    "checkout_checkout": lambda world, fresh: checkout_body(fresh.setdefault("cart_id", world.fresh_cart())),
    "shipping_quote": lambda world, fresh: {"cart_id": fresh.setdefault("cart_id", world.fresh_cart()),
                                            "destination": {"postal_code": "12110", "city": "Jakarta Selatan",
                                                            "province": "DKI Jakarta"}},
}


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with mocked_account() as (_, client):
        yield World(client)


def _call(world: World, method: str, path: str, operation: dict[str, Any], role: str | None,
          fresh: dict[str, str]) -> Any:
    parameters = operation.get("parameters", [])
    url = path
    for parameter in parameters:
        if parameter["in"] == "path":
            value = world.path_value(parameter["name"], parameter["schema"], fresh)
            url = url.replace("{" + parameter["name"] + "}", value)
    headers = {parameter["name"]: str(example(parameter["schema"])) for parameter in parameters
               if parameter["in"] == "header" and parameter.get("required")}
    if role == OWNER:
        headers.update(world.owner)
    elif role is not None:
        headers.update(bearer(role, f"matrix-{role}"))
    body = None
    if operation["operationId"] in REAL_BODIES:
        body = REAL_BODIES[operation["operationId"]](world, fresh)
    elif "requestBody" in operation:
        content = operation["requestBody"]["content"]
        if "application/json" in content:
            body = example(content["application/json"]["schema"])
    return send(world.client, method, url, body, headers)


def _code(response: Any) -> str:
    try:
        return str(json.loads(response.body).get("error", {}).get("code", ""))
    except (ValueError, AttributeError):
        return ""


@pytest.mark.parametrize(("method", "path", "operation"), _operations(),
                         ids=[operation["operationId"] for _, _, operation in _operations()])
def test_every_role_and_no_role_get_exactly_the_access_the_document_gives(
        world: World, method: str, path: str, operation: dict[str, Any]) -> None:
    access = operation["x-access"]
    allowed = set(operation.get("x-roles", ()))
    owner_only = operation.get("x-owner-only", {}).get("refused_with")
    fresh: dict[str, str] = {}
    answers = {}
    for role in CALLERS:
        response = _call(world, method, path, operation, role, fresh)
        answers[role] = response.status_code
        where = f"{operation['operationId']} as {role or 'no token'}: {response.status_code} {response.body[:200]!r}"
        if access == "webhook":
            continue  # a provider proves itself by signature: a bearer token must change nothing (below)
        if access == "roles":
            if role is None:
                assert response.status_code == 401, where
            elif role in allowed:
                assert response.status_code not in (401, 403), where
            else:
                assert response.status_code == 403, where
        elif owner_only:
            assert response.status_code == 404 and _code(response) == owner_only, where
        elif access == "guest" and role is not None and role not in allowed:
            assert response.status_code == 403, where
        else:
            assert response.status_code not in (401, 403), where
    if owner_only:
        response = _call(world, method, path, operation, OWNER, fresh)
        assert response.status_code not in (401, 403) and _code(response) != owner_only, (
            f"{operation['operationId']} as the owner: {response.status_code} {response.body[:200]!r}")
    if access == "webhook":
        assert len(set(answers.values())) == 1, f"{operation['operationId']}: a bearer token changed {answers}"


def test_the_matrix_sees_the_owner_s_real_resources(world: World) -> None:
    cart = body_of(send(world.client, "GET", f"/carts/{world.fresh_cart()}", headers=world.owner))
    assert [line["sku"] for line in cart["lines"]] == [world.sku]
