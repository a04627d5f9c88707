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


def read_json(request: Request) -> Fields:
    """The request body as a JSON object; malformed or oversized bodies are refused by name."""
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise ValidationFailed("body", f"must be at most {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        raise ValidationFailed("body", "is required (a JSON object)")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("body", "is not valid JSON") from None
    except RecursionError:
        raise ValidationFailed("body", "is nested too deeply") from None
    try:  # JSON may escape lone surrogates ("\ud800") that no database can store as text
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationFailed("body", "contains invalid Unicode") from None
    return Fields(data)


def query_params(request: Request) -> dict[str, str]:
    return dict(request.query_params or {})


def authorized_principal(request: Request) -> Principal | None:
    """The principal the custom authorizer put in the request context (routes with authorizer=...)."""
    context = (request.context or {}).get("authorizer") or {}
    return Principal.from_context(context)


def optional_principal(request: Request) -> Principal | None:
    """For routes open to guests: no Authorization header means a guest, a bad one is refused."""
    principal = authorized_principal(request)
    if principal:
        return principal
    header = (request.headers or {}).get("authorization")
    if not header:
        return None
    return verify_token(header)


def staff(request: Request) -> Principal:
    return require_role(authorized_principal(request), "staff")


def signed_in(request: Request, *roles: str) -> Principal:
    return require_role(authorized_principal(request), *(roles or ("customer", "staff", "finance")))
