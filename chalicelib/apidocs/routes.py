"""GET /openapi.json and GET /docs: the contract frontends build on, served by the API it describes."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.web import api, json_response

docs_routes = Blueprint(__name__)

_built: dict[str, Any] = {}


def _document() -> dict[str, Any]:
    """Built once per Lambda instance, on first ask: the route table does not change while it runs."""
    if "document" not in _built:
        from chalicelib.apidocs import service

        _built["document"], _ = service.build(docs_routes.current_app.routes)
    return _built["document"]


@docs_routes.route("/openapi.json", methods=["GET"])
@api
def openapi_document() -> Any:
    return json_response(_document(), headers={"Cache-Control": "public, max-age=300"})


@docs_routes.route("/docs", methods=["GET"])
@api
def docs_page() -> Any:
    from chalicelib.apidocs import service

    return Response(body=service.page(_document()), status_code=200,
                    headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "public, max-age=300"})
