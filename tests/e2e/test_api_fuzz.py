"""Schemathesis fuzzes every operation of the running stack from its own GET /openapi.json.

Bounded (a fixed number of generated requests per operation, a fixed seed, so a failure replays), valid and
invalid requests alike, each operation called with a token of a role its document allows. It fails on any
5xx, any answer the document does not describe (status, media type or body), and any request the document
forbids that the API accepts with a 2xx.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from local.stack import LocalStack
from tests.e2e.shop import checkout_body, new_cart, staff_headers

EXAMPLES_PER_OPERATION = 5
SEED = 20261202
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "negative_data_rejection")


def _caller_role(operation: dict[str, Any]) -> str | None:
    """The role the fuzzer calls a signed-in operation as: the first its document allows (none for the others)."""
    return operation["x-roles"][0] if operation["x-access"] == "roles" else None


def _real_resources(api: str) -> dict[str, str]:
    """Ids of real resources (the fuzz's own product and SKU, a guest's cart, a guest's order), so generated requests
    reach the logic behind the lookups instead of stopping at 404."""
    sku = "FUZZ-BTK-1"
    created = requests.post(f"{api}/admin/products", headers=staff_headers(), timeout=30, json={
        "name": "Batik Fuzz", "category": "Batik", "status": "active",
        "variants": [{"sku": sku, "price": 250_000, "weight_grams": 300}], "initial_stock": {sku: 100}})
    assert created.status_code == 201, created.text
    product = created.json()
    order_cart = new_cart(api, {sku: 1})
    placed = requests.post(f"{api}/checkout", json=checkout_body(order_cart), timeout=30,
                           headers={"Idempotency-Key": f"fuzz-{order_cart}"})
    assert placed.status_code == 201, placed.text
    return {"path.product_id": product["product_id"], "path.sku": sku, "path.cart_id": new_cart(api, {sku: 1}),
            "path.order_id": placed.json()["order_id"]}


def _config(document: dict[str, Any], token: Any, resources: dict[str, str]) -> str:
    """A schemathesis config: real ids for path parameters, and for each signed-in operation a bearer token of a
    role it allows."""
    lines = ["[parameters]", *(f"{json.dumps(name)} = {json.dumps(value)}" for name, value in resources.items()), ""]
    for methods in document["paths"].values():
        for operation in methods.values():
            role = _caller_role(operation)
            if role is None:
                continue
            lines += ["[[operations]]", f"include-operation-id = {json.dumps(operation['operationId'])}",
                      f"headers = {{ Authorization = {json.dumps('Bearer ' + token(role))} }}", ""]
    return "\n".join(lines)


def test_fuzzing_every_operation_finds_no_server_error_no_undocumented_answer_and_no_forbidden_request_accepted(
        stack: LocalStack, tmp_path: Path) -> None:
    from chalicelib.auth import mint_dev_token

    answer = requests.get(f"{stack.api_url}/openapi.json", timeout=30)
    assert answer.status_code == 200, answer.text
    document = answer.json()
    config = tmp_path / "schemathesis.toml"
    config.write_text(_config(document, lambda role: mint_dev_token(role=role, sub=f"fuzz-{role}"),
                              _real_resources(stack.api_url)), encoding="utf-8")
    (tmp_path / "openapi.json").write_text(json.dumps(document), encoding="utf-8")
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(config), "--no-color", "run",
        str(tmp_path / "openapi.json"), "--url", stack.api_url,
        "--checks", ",".join(CHECKS), "--mode", "all", "--phases", "examples,fuzzing",
        "--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", str(SEED), "--generation-deterministic",
        "--request-timeout", "20", "--suppress-health-check", "all",
    ]
    # In the test's own directory: schemathesis keeps a cache of what it found under the working directory.
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path)
    output = result.stdout + result.stderr
    print(output[-2500:])  # the summary: operations, cases generated, checks passed (shown with -s or on failure)
    assert result.returncode == 0, output[-12000:]
    operations = sum(len(methods) for methods in document["paths"].values())
    assert f"{operations} selected" in output or f"{operations} total" in output, output[-2500:]
