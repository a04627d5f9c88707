"""The contract of the contract: the OpenAPI document and its docs page."""

from __future__ import annotations

from chalicelib.contract import PUBLIC, Operation, Response, Schema, string

SCHEMAS: dict[str, Schema] = {}

OPERATIONS = {
    "openapi_document": Operation(
        summary="This document: every route, who may call it, what it takes and answers (OpenAPI 3.1).",
        access=PUBLIC,
        responses={200: Response("the OpenAPI 3.1 document", {"type": "object", "required": ["openapi", "paths"]})},
    ),
    "docs_page": Operation(
        summary="The same document as a readable HTML page.",
        access=PUBLIC,
        responses={200: Response("an HTML page", string(), media_type="text/html")},
    ),
}
