"""Reading untrusted JSON into typed values, with errors that name the offending field.

Hand-rolled rather than pydantic to keep the Lambda cold start small; every reader refuses
booleans posing as numbers, floats posing as money, and strings beyond a sane length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal, overload

from chalicelib.errors import ValidationFailed

MAX_MONEY = 1_000_000_000_000  # one trillion Rupiah: anything above is a typo or an attack
_MISSING = object()


class Fields:
    """A view over a JSON object that reads and checks one field at a time."""

    def __init__(self, data: Any, *, path: str = "body") -> None:
        if not isinstance(data, dict):
            raise ValidationFailed(path, "must be a JSON object")
        self.data = data
        self.path = path

    def _name(self, name: str) -> str:
        return name if self.path == "body" else f"{self.path}.{name}"

    def _raw(self, name: str, required: bool) -> Any:
        value = self.data.get(name, _MISSING)
        if value is None:
            value = _MISSING
        if value is _MISSING and required:
            raise ValidationFailed(self._name(name), "is required")
        return value

    def has(self, name: str) -> bool:
        return self.data.get(name) is not None

    def reject_unknown(self, allowed: Iterable[str]) -> None:
        unknown = sorted(set(self.data) - set(allowed))
        if unknown:
            raise ValidationFailed(self._name(unknown[0]), "is not a known field")

    @overload
    def text(self, name: str, *, required: Literal[True] = ..., default: str | None = ..., min_len: int = ...,
             max_len: int = ..., pattern: str | None = ..., choices: Iterable[str] | None = ...) -> str: ...

    @overload
    def text(self, name: str, *, required: Literal[False], default: str, min_len: int = ..., max_len: int = ...,
             pattern: str | None = ..., choices: Iterable[str] | None = ...) -> str: ...

    @overload
    def text(self, name: str, *, required: bool, default: str | None = ..., min_len: int = ...,
             max_len: int = ..., pattern: str | None = ..., choices: Iterable[str] | None = ...) -> str | None: ...

    def text(
        self,
        name: str,
        *,
        required: bool = True,
        default: str | None = None,
        min_len: int = 1,
        max_len: int = 200,
        pattern: str | None = None,
        choices: Iterable[str] | None = None,
    ) -> str | None:
        """A trimmed string; a required one is always present (a missing one raises), so it is typed `str`."""
        value = self._raw(name, required)
        if value is _MISSING:
            return default
        if not isinstance(value, str):
            raise ValidationFailed(self._name(name), "must be a string")
        value = value.strip()
        if len(value) < min_len:
            raise ValidationFailed(self._name(name), "must not be empty" if min_len == 1 else f"needs {min_len}+ chars")
        if len(value) > max_len:
            raise ValidationFailed(self._name(name), f"must be at most {max_len} characters")
        if pattern and not re.fullmatch(pattern, value):
            raise ValidationFailed(self._name(name), "has an invalid format")
        if choices is not None:
            options = list(choices)
            if value not in options:
                raise ValidationFailed(self._name(name), f"must be one of {', '.join(options)}")
        return value

    @overload
    def integer(self, name: str, *, required: Literal[True] = ..., default: int | None = ..., min_value: int = ...,
                max_value: int = ...) -> int: ...

    @overload
    def integer(self, name: str, *, required: Literal[False], default: int, min_value: int = ...,
                max_value: int = ...) -> int: ...

    @overload
    def integer(self, name: str, *, required: bool, default: int | None = ..., min_value: int = ...,
                max_value: int = ...) -> int | None: ...

    def integer(
        self,
        name: str,
        *,
        required: bool = True,
        default: int | None = None,
        min_value: int = 0,
        max_value: int = MAX_MONEY,
    ) -> int | None:
        """A whole number in range; typed `int` when required or defaulted."""
        value = self._raw(name, required)
        if value is _MISSING:
            return default
        return check_int(value, self._name(name), min_value=min_value, max_value=max_value)

    def flag(self, name: str, *, default: bool = False) -> bool:
        value = self._raw(name, False)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            raise ValidationFailed(self._name(name), "must be true or false")
        return value

    @overload
    def obj(self, name: str, *, required: Literal[True] = ...) -> Fields: ...

    @overload
    def obj(self, name: str, *, required: bool) -> Fields | None: ...

    def obj(self, name: str, *, required: bool = True) -> Fields | None:
        value = self._raw(name, required)
        if value is _MISSING:
            return None
        return Fields(value, path=self._name(name))

    def array(self, name: str, *, required: bool = True, max_items: int = 100) -> list[Any]:
        value = self._raw(name, required)
        if value is _MISSING:
            return []
        if not isinstance(value, list):
            raise ValidationFailed(self._name(name), "must be a list")
        if len(value) > max_items:
            raise ValidationFailed(self._name(name), f"must have at most {max_items} items")
        return value

    def str_map(self, name: str, *, required: bool = False, max_items: int = 10) -> dict[str, str]:
        value = self._raw(name, required)
        if value is _MISSING:
            return {}
        if not isinstance(value, dict) or len(value) > max_items:
            raise ValidationFailed(self._name(name), f"must be an object of at most {max_items} text values")
        result: dict[str, str] = {}
        for key, item in value.items():
            if not isinstance(item, str) or not item.strip() or len(item) > 60 or len(key) > 40 or not key.strip():
                raise ValidationFailed(f"{self._name(name)}.{key}", "must be a short non-empty string")
            result[key.strip().lower()] = item.strip()
        return result


def check_int(value: Any, field: str, *, min_value: int = 0, max_value: int = MAX_MONEY) -> int:
    """Whole numbers only: JSON floats like 1.5 or booleans are refused, not truncated."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValidationFailed(field, "must be a whole number")
    if value < min_value:
        raise ValidationFailed(field, f"must be at least {min_value}")
    if value > max_value:
        raise ValidationFailed(field, f"must be at most {max_value}")
    return value


def query_int(params: dict[str, str], name: str, *, default: int | None, min_value: int, max_value: int) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"-?\d{1,15}", raw):
        raise ValidationFailed(name, "must be a whole number")
    return check_int(int(raw), name, min_value=min_value, max_value=max_value)


EMAIL_PATTERN = r"[^@\s]{1,64}@[^@\s]{1,190}\.[A-Za-z]{2,}"
PHONE_PATTERN = r"\+?[0-9][0-9 \-]{6,18}"
SKU_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}"
ID_PATTERN = r"[A-Za-z0-9_\-]{1,64}"
