"""HTTP glue shared by every blueprint: JSON in, JSON out, domain errors to 4xx, who is calling.

Blueprints stay thin: they read the request with these helpers, call a service, and return its result.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from chalice import Blueprint, Response
from chalice.app import AuthRequest, AuthResponse, Request

from chalicelib.auth import Principal, require_role, verify_token
from chalicelib.errors import DomainError, Unauthorized, ValidationFailed
from chalicelib.observability import logger
from chalicelib.validation import Fields

MAX_BODY_BYTES = 64 * 1024

auth_blueprint = Blueprint(__name__)


@auth_blueprint.authorizer(ttl_seconds=300)
def jwt_authorizer(auth_request: AuthRequest) -> AuthResponse:
    """API Gateway custom authorizer: a valid token may call any route; roles are checked per route."""
    try:
        principal = verify_token(auth_request.token)
    except Unauthorized as error:
        logger.info("token refused", extra={"reason": error.message})
        return AuthResponse(routes=[], principal_id="anonymous")
    return AuthResponse(routes=["*"], principal_id=principal.sub, context=principal.to_context())


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json", **(headers or {})})


def error_response(error: DomainError) -> Response:
    return json_response(error.to_dict(), status=error.status)


def api(view: Callable[..., Any]) -> Callable[..., Any]:
    """Translate domain errors raised anywhere below a view into their 4xx JSON answer."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except DomainError as error:
            logger.info("request refused", extra={"code": error.code, "error_message": error.message})
            return error_response(error)

    return wrapper


class _ObjectWithDuplicate(dict[str, Any]):
    """A JSON object in which `duplicate` appeared more than once (json.loads would silently keep the last)."""

    def __init__(self, pairs: list[tuple[str, Any]], duplicate: str) -> None:
        super().__init__(pairs)
        self.duplicate = duplicate


def _first_duplicate(data: Any) -> str | None:
    """The path ("customer.phone", "variants[0].sku") of the first repeated key, in document order."""
    pending: list[tuple[Any, str]] = [(data, "")]
    while pending:  # a loop, not recursion: the body may be nested as deeply as json.loads allows
        value, path = pending.pop()
        if isinstance(value, _ObjectWithDuplicate):
            return f"{path}.{value.duplicate}" if path else value.duplicate
        if isinstance(value, dict):
            children = [(item, f"{path}.{key}" if path else key) for key, item in value.items()]
        elif isinstance(value, list):
            children = [(item, f"{path or 'body'}[{index}]") for index, item in enumerate(value)]
        else:
            continue
        pending.extend(reversed(children))
    return None


def _parse(raw: bytes) -> Any:
    """json.loads that also refuses a key given twice in any object, at any depth, naming it."""
    repeated = False

    def build_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                repeated = True
                return _ObjectWithDuplicate(pairs, key)
            seen.add(key)
        return dict(pairs)

    data = json.loads(raw, object_pairs_hook=build_object)
    if repeated:
        path = _first_duplicate(data) or "body"
        raise ValidationFailed(path, "appears more than once; send each field once")
    return data


def raw_body(request: Request) -> bytes:
    """The body exactly as sent (webhook signatures are computed over these bytes)."""
    body = request.raw_body or b""
    return body.encode("utf-8") if isinstance(body, str) else body


def read_json(request: Request) -> Fields:
    """The request body as a JSON object; malformed, oversized or ambiguous (a key given twice) bodies are refused
    by name. Callers then refuse unknown fields with Fields.reject_unknown on every object they read.
    """
    raw = raw_body(request)
    if len(raw) > MAX_BODY_BYTES:
        raise ValidationFailed("body", f"must be at most {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        raise ValidationFailed("body", "is required (a JSON object)")
    try:
        data = _parse(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("body", "is not valid JSON") from None
    except RecursionError:
        raise ValidationFailed("body", "is nested too deeply") from None
    try:  # JSON may escape lone surrogates ("\ud800") that no database can store as text
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationFailed("body", "contains invalid Unicode") from None
    except RecursionError:
        raise ValidationFailed("body", "is nested too deeply") from None
    return Fields(data)


def expect_no_body(request: Request) -> None:
    """For routes that take no input: no body, or an empty JSON object; any field would be silently ignored."""
    body = request.raw_body or b""
    if body.strip():
        read_json(request).reject_unknown(())


def query_params(request: Request) -> dict[str, str]:
    return dict(request.query_params or {})


def authorized_principal(request: Request) -> Principal | None:
    """The principal the custom authorizer put in the request context (routes with authorizer=...)."""
    context = request.context.get("authorizer") or {}
    return Principal.from_context(context)


def optional_principal(request: Request) -> Principal | None:
    """For routes open to guests: no Authorization header means a guest, a bad one is refused."""
    principal = authorized_principal(request)
    if principal:
        return principal
    header = request.headers.get("authorization")
    if not header:
        return None
    return verify_token(header)


def staff(request: Request) -> Principal:
    return require_role(authorized_principal(request), "staff")


def signed_in(request: Request, *roles: str) -> Principal:
    return require_role(authorized_principal(request), *(roles or ("customer", "staff", "finance")))
