"""The OpenAPI document is complete, valid OpenAPI 3.1, and says who may call each route."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from chalicelib import contract
from chalicelib.apidocs import service


@pytest.fixture(scope="module")
def built() -> tuple[dict[str, Any], list[str]]:
    from app import app

    return service.build(app.routes)


def test_every_route_of_the_app_is_documented(built: tuple[dict[str, Any], list[str]]) -> None:
    from app import app

    document, missing = built
    assert missing == []
    documented = {(path, method.upper()) for path, methods in document["paths"].items() for method in methods}
    assert documented == {(path, method) for path, methods in app.routes.items() for method in methods}


def test_the_document_is_valid_openapi_3_1(built: tuple[dict[str, Any], list[str]]) -> None:
    document, _ = built
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_operation_ids_are_unique_and_every_operation_says_who_may_call_it(
        built: tuple[dict[str, Any], list[str]]) -> None:
    document, _ = built
    operations = [operation for methods in document["paths"].values() for operation in methods.values()]
    ids = [operation["operationId"] for operation in operations]
    assert len(ids) == len(set(ids))
    for operation in operations:
        assert operation["x-access"] in ("public", "guest", "roles", "webhook"), operation["operationId"]
        assert operation["summary"], operation["operationId"]
        if operation["x-access"] == "roles":
            assert operation["security"] == [{"bearerAuth": []}]
            assert set(operation["x-roles"]) <= set(contract.ROLES)
        assert "400" in operation["responses"], operation["operationId"]


def test_routes_behind_the_authorizer_are_exactly_the_signed_in_ones(built: tuple[dict[str, Any], list[str]]) -> None:
    from app import app

    document, _ = built
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            operation = document["paths"][path][method.lower()]
            assert (entry.authorizer is not None) == (operation["x-access"] == "roles"), operation["operationId"]


def test_staff_access_lets_admins_in_and_no_one_else() -> None:
    access = contract.signed_in("staff")
    assert [role for role in contract.ROLES if access.allows(role)] == ["staff", "admin"]
    assert not access.allows(None)
    assert contract.GUEST_OR_SIGNED_IN.allows(None)


def test_an_object_schema_is_closed_and_a_field_cannot_be_both_required_and_optional() -> None:
    schema = contract.obj({"a": contract.string()}, {"b": contract.integer()})
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["a"]
    with pytest.raises(ValueError, match="both required and optional"):
        contract.obj({"a": contract.string()}, {"a": contract.string()})


def test_a_pattern_is_anchored_because_the_validators_match_the_whole_value() -> None:
    assert contract.string(pattern=r"[a-f0-9]{32}")["pattern"] == "^(?:[a-f0-9]{32})$"


def test_nullable_adds_null_to_the_type_and_to_an_enum() -> None:
    assert contract.nullable(contract.string(enum=["a"])) == {"type": ["string", "null"], "enum": ["a", None]}
    assert contract.nullable(contract.ref("Cart")) == {"anyOf": [{"$ref": "#/components/schemas/Cart"},
                                                                 {"type": "null"}]}


def test_the_docs_page_lists_every_operation_and_who_may_call_it(built: tuple[dict[str, Any], list[str]]) -> None:
    document, _ = built
    page = service.page(document)
    for path in document["paths"]:
        assert f"<code>{path}</code>" in page
    assert "Who: anyone" in page


def test_a_whole_number_query_parameter_sent_empty_is_refused_and_only_an_absent_one_takes_the_default() -> None:
    from chalicelib.errors import ValidationFailed
    from chalicelib.validation import query_int

    assert query_int({}, "limit", default=20, min_value=1, max_value=100) == 20
    with pytest.raises(ValidationFailed, match="limit"):
        query_int({"limit": ""}, "limit", default=20, min_value=1, max_value=100)
