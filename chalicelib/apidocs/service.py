"""The OpenAPI 3.1 document of every route, assembled from the Chalice route table and each area's contract.

Method, path and path parameters come from the routes themselves; the area's `contract.py` (chalicelib.contract
words) adds who may call it and what goes in and out. A route without a contract is reported, not invented:
tests fail on it, so the document cannot silently fall behind the code.
"""

from __future__ import annotations

import html
import importlib
import json
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from chalicelib.contract import ROLES, Operation, Schema, obj, one_of, ref, str_map, string

TITLE = "TokoFlow API"
VERSION = "1.0.0"

SHARED_SCHEMAS: dict[str, Schema] = {
    "Error": obj(
        {"error": obj(
            {"code": string(description="stable, machine-readable (validation_failed, not_found, out_of_stock, ...)"),
             "message": string(description="for humans; names the field or the rule")},
            {"details": str_map({}, description="what the code needs to be acted on: the field, the short lines, ...")},
        )},
        description="Every refusal by the shop: a 4xx (or 503 when a provider is down) with this body.",
    ),
    "GatewayMessage": obj({"message": string()}, description="API Gateway's own answer (no or malformed token)."),
    "GatewayDenied": obj({"Message": string()}, description="API Gateway's own answer (token refused)."),
}


def _contract(view_module: str) -> ModuleType | None:
    """The contract module beside a routes module (chalicelib.cart.routes -> chalicelib.cart.contract)."""
    package, _, leaf = view_module.rpartition(".")
    if leaf != "routes":
        return None
    try:
        return importlib.import_module(f"{package}.contract")
    except ModuleNotFoundError:
        return None


def _error(description: str, schema: Schema | None = None) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema or ref("Error")}}}


def _security(operation: Operation) -> tuple[list[dict[str, list[str]]], list[str] | None]:
    access = operation.access
    if access.kind == "roles":
        allowed = [role for role in ROLES if access.allows(role)]
        return [{"bearerAuth": []}], allowed
    if access.kind == "guest":
        return [{}, {"bearerAuth": []}], [role for role in ROLES if access.allows(role)]
    return [], None


def _responses(operation: Operation, has_authorizer: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, response in sorted(operation.responses.items()):
        answer: dict[str, Any] = {"description": response.description}
        if response.body is not None:
            answer["content"] = {response.media_type: {"schema": response.body}}
        if response.headers:
            answer["headers"] = {name: {"schema": schema} for name, schema in response.headers.items()}
        responses[str(status)] = answer
    errors = {400: "bad input: the message names the field", **operation.errors}
    if operation.access.kind == "guest":
        errors.setdefault(401, "the bearer token sent is invalid or expired (send none to act as a guest)")
    if operation.access.kind == "roles":
        errors.setdefault(401, "no bearer token")
        errors.setdefault(403, "the token is refused, or its role may not do this")
    for status, description in sorted(errors.items()):
        if has_authorizer and status == 401:
            responses["401"] = _error(description, one_of(ref("Error"), ref("GatewayMessage")))
        elif has_authorizer and status == 403:
            responses["403"] = _error(description, one_of(ref("Error"), ref("GatewayDenied")))
        else:
            responses[str(status)] = _error(description)
    return responses


def _parameters(operation: Operation, view_args: list[str]) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = []
    for name in view_args:
        parameters.append({"name": name, "in": "path", "required": True,
                           "schema": operation.path.get(name, string(min_len=1))})
    for name, schema in operation.query.items():
        parameters.append({"name": name, "in": "query", "required": name in operation.required_query,
                           "schema": schema})
    for name, schema in operation.headers.items():
        parameters.append({"name": name, "in": "header", "required": name in operation.required_headers,
                           "schema": schema})
    return parameters


def _operation(area: str, operation_id: str, operation: Operation, entry: Any) -> dict[str, Any]:
    unknown = set(operation.path) - set(entry.view_args)
    if unknown:
        raise ValueError(f"{operation_id}: path parameters {sorted(unknown)} are not in the route")
    security, roles = _security(operation)
    described: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [area],
        "summary": operation.summary,
        "security": security,
        "x-access": operation.access.kind,
    }
    if roles is not None:
        described["x-roles"] = roles
    if operation.owner_only:
        described["x-owner-only"] = {"refused_with": operation.owner_only}
    if operation.description:
        described["description"] = operation.description
    parameters = _parameters(operation, list(entry.view_args))
    if parameters:
        described["parameters"] = parameters
    if operation.body is not None:
        described["requestBody"] = {"required": operation.body_required,
                                    "content": {operation.body_media_type: {"schema": operation.body}}}
    described["responses"] = _responses(operation, entry.authorizer is not None)
    return described


def build(routes: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """(the OpenAPI document, "METHOD /path" of every route that has no contract yet)."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Schema] = dict(SHARED_SCHEMAS)
    missing: list[str] = []
    seen_contracts: set[str] = set()
    for path in sorted(routes):
        for method in sorted(routes[path]):
            entry = routes[path][method]
            module = _contract(entry.view_function.__module__)
            operation = getattr(module, "OPERATIONS", {}).get(entry.view_name) if module else None
            if module is None or operation is None:
                missing.append(f"{method} {path}")
                continue
            if module.__name__ not in seen_contracts:
                seen_contracts.add(module.__name__)
                for name, schema in getattr(module, "SCHEMAS", {}).items():
                    if name in schemas and schemas[name] != schema:
                        raise ValueError(f"schema {name} is defined twice, differently ({module.__name__})")
                    schemas[name] = schema
            area = module.__name__.split(".")[1]
            several = len(routes[path]) > 1 and sum(
                1 for other in routes[path].values() if other.view_name == entry.view_name) > 1
            # Area-qualified (returns and reviews both `approve`), stable whatever other areas add later.
            operation_id = f"{area}_{entry.view_name}" + (f"_{method.lower()}" if several else "")
            paths.setdefault(path, {})[method.lower()] = _operation(area, operation_id, operation, entry)
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": (
                "The HTTPS API of a TokoFlow shop: catalog, carts, checkout, orders, payments, shipping, returns,"
                " reviews, loyalty, customer service and reports. Money is whole Rupiah (integers); times are"
                " UTC ISO 8601. Every refusal is a JSON Error body. Each operation names who may call it:"
                " `x-access` (public, guest, roles, webhook) and, for signed-in operations, `x-roles`."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A Cognito ID token (the `cognito:groups` claim gives the role: customer, staff,"
                                   " admin or finance; admin may do everything staff may).",
                },
            },
        },
    }
    return document, missing


def page(document: Mapping[str, Any]) -> str:
    """A readable, self-contained HTML page of the document: every operation, who may call it, what it takes."""
    out = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(document['info']['title'])}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#222}"
        "h2{border-bottom:1px solid #ccc;margin-top:2.5rem}section{margin:1rem 0 1.5rem}"
        "code,pre{background:#f5f5f5;padding:.1rem .3rem;border-radius:3px}pre{padding:.6rem;overflow:auto;"
        "font-size:.85rem}.m{font-weight:bold;text-transform:uppercase;margin-right:.5rem}"
        "details{margin:.3rem 0}</style></head><body>",
        f"<h1>{html.escape(document['info']['title'])} {html.escape(document['info']['version'])}</h1>",
        f"<p>{html.escape(document['info']['description'])}</p>",
        "<p>Machine-readable: <a href='openapi.json'>openapi.json</a> (OpenAPI 3.1).</p>",
    ]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            by_tag.setdefault(operation["tags"][0], []).append((path, method, operation))
    for tag in sorted(by_tag):
        out.append(f"<h2 id='{html.escape(tag)}'>{html.escape(tag)}</h2>")
        for path, method, operation in by_tag[tag]:
            access = operation["x-access"]
            roles = operation.get("x-roles", [])
            if access == "roles":
                who = ", ".join(roles)
            elif access == "guest" and len(roles) < len(ROLES):
                who = f"guests, and signed-in {', '.join(roles)} (a token identifies the customer)"
            else:
                who = {"public": "anyone", "guest": "anyone (a bearer token, if sent, identifies the customer)",
                       "webhook": "the provider (signed)"}.get(access, access)
            out.append(f"<section><div><span class='m'>{method}</span><code>{html.escape(path)}</code></div>")
            if "x-owner-only" in operation:
                who += "; a signed-in customer's resource answers its owner only"
            out.append(f"<p>{html.escape(operation['summary'])} <em>Who: {html.escape(who)}.</em></p>")
            if operation.get("description"):
                out.append(f"<p>{html.escape(operation['description'])}</p>")
            for parameter in operation.get("parameters", []):
                out.append(f"<div>{parameter['in']} <code>{html.escape(parameter['name'])}</code>"
                           f"{' (required)' if parameter.get('required') else ''}: "
                           f"<code>{html.escape(json.dumps(parameter['schema']))}</code></div>")
            if "requestBody" in operation:
                body = json.dumps(operation["requestBody"]["content"], indent=2)
                out.append(f"<details><summary>Request body</summary><pre>{html.escape(body)}</pre></details>")
            for status, response in operation["responses"].items():
                schema = json.dumps(response.get("content", {}), indent=2)
                out.append(f"<details><summary>{status}: {html.escape(response['description'])}</summary>"
                           f"<pre>{html.escape(schema)}</pre></details>")
            out.append("</section>")
    out.append("<h2>Schemas</h2>")
    for name, schema in document["components"]["schemas"].items():
        out.append(f"<details id='{html.escape(name)}'><summary>{html.escape(name)}</summary>"
                   f"<pre>{html.escape(json.dumps(schema, indent=2))}</pre></details>")
    out.append("</body></html>")
    return "\n".join(out)
