"""GET /openapi.json and GET /docs are served by the API they describe, to anyone."""

from __future__ import annotations

import json
from typing import Any


def test_the_openapi_document_is_served_to_anyone_and_describes_every_route(client: Any) -> None:
    from app import app

    response = client.http.get("/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.body)
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == set(app.routes)


def test_the_docs_page_is_html_for_people(client: Any) -> None:
    response = client.http.get("/docs")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert b"/checkout" in response.body or b"/carts" in response.body
