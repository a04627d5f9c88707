"""The words each area's `contract.py` uses to describe its HTTP operations for the OpenAPI document.

An area's contract names, for each of its route functions, who may call it and what goes in and comes out.
The method, path and path parameters come from the Chalice route table itself (chalicelib.apidocs), so a
contract cannot describe a route that does not exist; tests check every route has one, validate every
response the functional tests receive against it, and fuzz the running stack with it.

Plain data and small builders: nothing here is imported on the Lambda's request path except by
GET /openapi.json, and the schemas reuse the validators' own limits (patterns, lengths) where they can.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.validation import MAX_PAGE

Schema = dict[str, Any]

ROLES = ("customer", "staff", "admin", "finance")


# ---- schemas -------------------------------------------------------------------------------------------------

def string(*, pattern: str | None = None, min_len: int | None = None, max_len: int | None = None,
           enum: Iterable[str] | None = None, fmt: str | None = None, description: str | None = None,
           example: str | None = None) -> Schema:
    schema: Schema = {"type": "string"}
    if pattern is not None:  # the validators use re.fullmatch; JSON Schema patterns search, so anchor them
        schema["pattern"] = f"^(?:{pattern})$"
    if min_len is not None:
        schema["minLength"] = min_len
    if max_len is not None:
        schema["maxLength"] = max_len
    if enum is not None:
        schema["enum"] = list(enum)
    if fmt is not None:
        schema["format"] = fmt
    return _described(schema, description, example)


def integer(*, minimum: int | None = None, maximum: int | None = None, description: str | None = None,
            example: int | None = None) -> Schema:
    schema: Schema = {"type": "integer"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return _described(schema, description, example)


def number(*, minimum: float | None = None, maximum: float | None = None, description: str | None = None) -> Schema:
    schema: Schema = {"type": "number"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return _described(schema, description, None)


def boolean(*, description: str | None = None) -> Schema:
    return _described({"type": "boolean"}, description, None)


def array(items: Schema, *, min_items: int | None = None, max_items: int | None = None,
          description: str | None = None) -> Schema:
    schema: Schema = {"type": "array", "items": items}
    if min_items is not None:
        schema["minItems"] = min_items
    if max_items is not None:
        schema["maxItems"] = max_items
    return _described(schema, description, None)


def obj(required: Mapping[str, Schema] | None = None, optional: Mapping[str, Schema] | None = None, *,
        description: str | None = None, min_properties: int | None = None) -> Schema:
    """A JSON object with exactly these fields: any other field is undocumented, so it fails validation."""
    required = dict(required or {})
    optional = dict(optional or {})
    overlap = set(required) & set(optional)
    if overlap:
        raise ValueError(f"fields both required and optional: {sorted(overlap)}")
    schema: Schema = {"type": "object", "properties": {**required, **optional}, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    if min_properties is not None:
        schema["minProperties"] = min_properties
    return _described(schema, description, None)


def str_map(values: Schema, *, max_items: int | None = None, description: str | None = None) -> Schema:
    """A JSON object used as a dictionary (free keys, typed values)."""
    schema: Schema = {"type": "object", "additionalProperties": values}
    if max_items is not None:
        schema["maxProperties"] = max_items
    return _described(schema, description, None)


def nullable(schema: Schema) -> Schema:
    """The schema, or JSON null (OpenAPI 3.1 writes it as a second type)."""
    if "$ref" in schema or "type" not in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    kind = schema["type"]
    kinds = list(kind) if isinstance(kind, list) else [kind]
    result = {**schema, "type": [*kinds, "null"]}
    if "enum" in result:
        result["enum"] = [*result["enum"], None]
    return result


def one_of(*schemas: Schema, description: str | None = None) -> Schema:
    return _described({"oneOf": list(schemas)}, description, None)


def ref(name: str) -> Schema:
    """A reference to a named schema in the document's components (an area's SCHEMAS or the shared ones)."""
    return {"$ref": f"#/components/schemas/{name}"}


def _described(schema: Schema, description: str | None, example: Any) -> Schema:
    if description:
        schema["description"] = description
    if example is not None:
        schema["examples"] = [example]
    return schema


# Shared field shapes: the same limits the validators apply.
def trimmed(pattern: str) -> str:
    """A validator's pattern as the document states it: Fields.text and validation's rules strip surrounding blanks
    before they match, so the published pattern allows them too (and the value is kept without them)."""
    return rf"\s*(?:{pattern})\s*"


def page_limit(what: str, *, default: int = 20) -> Schema:
    """A page size as validation.query_int reads it: 1 to MAX_PAGE; absent means `default`, empty is refused."""
    return integer(minimum=1, maximum=MAX_PAGE, description=f"{what} in one page, 1 to {MAX_PAGE} (default {default})")


def page_query(what: str, *, default: int = 20, empty_cursor: bool = False) -> dict[str, Schema]:
    """`limit` and `cursor` of a cursor-paged list, exactly as validation.page reads them."""
    cursor = "the next cursor given with the page before" + ("; empty: the first page" if empty_cursor else "")
    return {"limit": page_limit(what, default=default),
            "cursor": string(min_len=0 if empty_cursor else 1, max_len=1000, description=cursor)}


def money(description: str = "whole Rupiah") -> Schema:
    return integer(description=description)


def timestamp(description: str = "UTC, ISO 8601") -> Schema:
    return string(fmt="date-time", description=description)


# ---- operations ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Access:
    """Who may call an operation.

    public: anyone, no token read. guest: anyone; a bearer token, if sent, must be valid and identifies the
    caller (carts, checkout); with `roles`, signed-in callers of other roles are refused (403). roles: a bearer
    token whose role is one of `roles` (admins may do what staff may). webhook: a provider, proven by a
    signature, never by a bearer token.
    """

    kind: str
    roles: tuple[str, ...] = ()

    def allows(self, role: str | None) -> bool:
        """Whether a caller with this role (None: no token) passes the access check."""
        if self.kind == "guest" and self.roles:
            return role is None or role in self.roles
        if self.kind in ("public", "guest", "webhook"):
            return True
        if role is None:
            return False
        allowed = set(self.roles)
        if "staff" in allowed:
            allowed.add("admin")
        return role in allowed


PUBLIC = Access("public")
GUEST_OR_SIGNED_IN = Access("guest")
WEBHOOK = Access("webhook")


def guest_or(*roles: str) -> Access:
    """Guests, and signed-in callers of these roles only (staff answer customers through their own routes)."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    return Access("guest", tuple(roles))


def signed_in(*roles: str) -> Access:
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    return Access("roles", tuple(roles))


@dataclass(frozen=True)
class Response:
    """One documented answer: a JSON body (schema), a body of another media type, or none (body=None)."""

    description: str
    body: Schema | None = None
    media_type: str = "application/json"
    headers: Mapping[str, Schema] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    """What a route function does, for the OpenAPI document (method and path come from the route table).

    `responses` holds the answers that are not errors; `errors` maps each 4xx/5xx status the route can give
    to when it happens (the body is always the shared Error shape). 400 (bad input) is implied for every
    operation; 401/403 are implied by the access. `owner_only` marks a resource that answers its owner only
    (a signed-in customer's cart): everyone else, staff and admins included, gets that 404 code.
    """

    summary: str
    access: Access
    responses: Mapping[int, Response]
    errors: Mapping[int, str] = field(default_factory=dict)
    body: Schema | None = None
    body_required: bool = True
    path: Mapping[str, Schema] = field(default_factory=dict)
    query: Mapping[str, Schema] = field(default_factory=dict)
    required_query: tuple[str, ...] = ()
    headers: Mapping[str, Schema] = field(default_factory=dict)
    required_headers: tuple[str, ...] = ()
    description: str = ""
    body_media_type: str = "application/json"
    owner_only: str = ""  # the error code anyone but the resource's owner gets, as if it did not exist
