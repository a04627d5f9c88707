"""Errors the business areas raise; the HTTP layer turns each into a 4xx JSON answer.

Plain Python so the domain rules can raise them without knowing about Chalice.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A request the shop refuses, with a stable machine-readable code and a human message."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if code:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


class ValidationFailed(DomainError):
    status = 400
    code = "validation_failed"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", details={"field": field})
        self.field = field


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Unprocessable(DomainError):
    status = 422
    code = "unprocessable"


class ServiceUnavailable(DomainError):
    """A provider the request depends on (courier, gateway) is down; the caller may retry."""

    status = 503
    code = "provider_unavailable"
