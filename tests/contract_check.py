"""Every answer the functional tests receive is checked against the published OpenAPI document.

An undocumented route, status, media type or field fails the test that received it, naming the operation:
the document is the contract frontends build on, so it must describe what the API really does.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from jsonschema import Draft202012Validator


class ContractViolation(AssertionError):
    pass


@functools.cache
def document() -> dict[str, Any]:
    from app import app
    from chalicelib.apidocs import service

    built, _ = service.build(app.routes)
    return built


@functools.cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    """(regex, template) for every documented path; literal paths sort before templated ones (as API Gateway)."""
    compiled = []
    for template in document()["paths"]:
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        compiled.append((re.compile(f"^{regex}$"), template))
    compiled.sort(key=lambda pair: pair[1].count("{"))
    return compiled


@functools.cache
def _validator(template: str, method: str, status: str, media_type: str) -> Draft202012Validator:
    schema = document()["paths"][template][method]["responses"][status]["content"][media_type]["schema"]
    root = {"allOf": [schema], "components": document()["components"]}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _media_type(headers: dict[str, str]) -> str:
    for name, value in headers.items():
        if name.lower() == "content-type":
            return value.split(";")[0].strip().lower()
    return "application/json"  # a view returning a dict sets none; API Gateway's proxy answer is then JSON


def check(method: str, path: str, status: int, headers: dict[str, str], body: bytes) -> None:
    """Raise ContractViolation unless the document describes this answer exactly."""
    route = path.split("?", 1)[0]
    template = next((template for regex, template in _templates() if regex.match(route)), None)
    operation = document()["paths"].get(template or "", {}).get(method.lower())
    if operation is None:
        if status in (403, 404, 405):
            return  # API Gateway's own answer for a path or method that does not exist
        raise ContractViolation(f"{method} {route}: no documented operation")
    name = f"{method} {template} ({operation['operationId']})"
    response = operation["responses"].get(str(status))
    if response is None:
        raise ContractViolation(f"{name}: status {status} is not documented; body {body[:300]!r}")
    content = response.get("content")
    if not content:
        if body.strip():
            raise ContractViolation(f"{name}: status {status} is documented without a body, got {body[:300]!r}")
        return
    media_type = _media_type(headers)
    if media_type not in content:
        raise ContractViolation(f"{name}: status {status} answered {media_type!r}, documented {sorted(content)}")
    if media_type != "application/json":
        return
    try:
        data = json.loads(body)
    except ValueError:
        raise ContractViolation(f"{name}: status {status} body is not JSON: {body[:300]!r}") from None
    errors = sorted(_validator(template or "", method.lower(), str(status), media_type).iter_errors(data),
                    key=lambda error: list(error.absolute_path))
    if errors:
        described = "; ".join(
            f"at {'/'.join(str(part) for part in error.absolute_path) or '(body)'}: {error.message[:200]}"
            for error in errors[:5])
        raise ContractViolation(f"{name}: status {status} breaks the document: {described}")


def validating(test_client: Any) -> Any:
    """The chalice test client, with every HTTP answer checked against the document."""
    http = test_client.http
    send = http.request

    def request(method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> Any:
        response = send(method, path, headers=headers, body=body)
        check(method, path, response.status_code, dict(response.headers), response.body or b"")
        return response

    http.request = request
    return test_client
