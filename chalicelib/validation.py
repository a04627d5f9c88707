"""Reading untrusted JSON into typed values, with errors that name the offending field.

Hand-rolled rather than pydantic to keep the Lambda cold start small; every reader refuses
booleans posing as numbers, floats posing as money, and strings beyond a sane length.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
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
        if len(value) > max_len:  # as sent, so the published maxLength means exactly what it says
            raise ValidationFailed(self._name(name), f"must be at most {max_len} characters")
        value = value.strip()
        if len(value) < min_len:
            raise ValidationFailed(self._name(name), "must not be empty" if min_len == 1 else f"needs {min_len}+ chars")
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

    def checked(self, name: str, rule: Callable[[object], str], *, required: bool = True) -> str:
        """The field passed through a shared rule (indonesian_phone, postal_code, street, ...), so checkout, quotes
        and courier booking accept exactly the same values; an absent optional field is checked as "".
        """
        value = self._raw(name, required)
        try:
            return rule("" if value is _MISSING else value)
        except ValueError as problem:
            raise ValidationFailed(self._name(name), str(problem)) from None

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


@overload
def query_int(params: dict[str, str], name: str, *, default: int, min_value: int, max_value: int) -> int: ...


@overload
def query_int(params: dict[str, str], name: str, *, default: None, min_value: int, max_value: int) -> int | None: ...


def query_int(params: dict[str, str], name: str, *, default: int | None, min_value: int, max_value: int) -> int | None:
    """A whole-number query parameter; typed `int` when there is a default. Sent empty (`?limit=`) it is refused,
    as the published document says: only an absent parameter takes the default."""
    raw = params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"-?[0-9]{1,15}", raw):  # ASCII digits: int() would also read other scripts' digits
        raise ValidationFailed(name, "must be a whole number")
    return check_int(int(raw), name, min_value=min_value, max_value=max_value)


MAX_PAGE = 100  # items in one page of any list


def page(params: dict[str, str], *, default: int = 20, empty_cursor: bool = False) -> tuple[int, str | None]:
    """`limit` (1 to MAX_PAGE, `default` when absent) and `cursor` (None when absent; an empty one is refused unless
    `empty_cursor`, where it means the first page) of a cursor-paged list; the cursor itself is checked by the
    repository that gave it out (db.start_key)."""
    cursor = Fields(params).text("cursor", required=False, default="", min_len=0 if empty_cursor else 1,
                                 max_len=1000) or None
    return query_int(params, "limit", default=default, min_value=1, max_value=MAX_PAGE), cursor


EMAIL_PATTERN = r"[^@\s]{1,64}@[^@\s]{1,190}\.[A-Za-z]{2,}"
SKU_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}"
ID_PATTERN = r"[A-Za-z0-9_\-]{1,64}"


# ---- Contacts and addresses ------------------------------------------------------------------------------------
# Written once and called by checkout, shipping quotes and every courier adapter: whatever checkout stores must be
# bookable later, or a paid order waits in PACKED until a person fixes its address. Each rule takes the raw value,
# returns it normalised and raises ValueError saying what is wrong (callers add the field name).

COUNTRY_CODE = "62"
PHONE_MAX_CHARS = 25  # "+62 (0274) 5123-4567-890" and similar, with room for separators
CONTACT_NAME_MAX = 100
STREET_MAX = 300
CITY_MAX = 80
PROVINCE_MAX = 80
ADDRESS_NOTES_MAX = 300

# Digit groups joined by one space, dot or hyphen; an area code may sit in parentheses: (0274) 512-345.
_PHONE_SHAPE = re.compile(r"\+?(?:[0-9]+|\([0-9]+\))(?:(?:[ .\-]|(?<=\)))(?:[0-9]+|\([0-9]+\)))*")
POSTAL_CODE_PATTERN = r"[1-9][0-9]{4}"
_POSTAL_CODE = re.compile(POSTAL_CODE_PATTERN)


def _line(value: object, *, max_len: int, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if len(value) > max_len:  # as sent, like Fields.text, so the published maxLength means exactly what it says
        raise ValueError(f"must be at most {max_len} characters")
    text = value.strip()
    if not text and not allow_empty:
        raise ValueError("must not be empty")
    return text


def conform(field: str, rule: Callable[[object], str], value: object) -> str:
    """rule(value) for value objects outside HTTP (courier bookings, quotes): the ValueError names field and value."""
    try:
        return rule(value)
    except ValueError as problem:
        raise ValueError(f"{field}: {problem}, got {value!r}") from None


def indonesian_phone(value: object) -> str:
    """An Indonesian phone number in E.164 ("+6281234567890") from the ways people type one: 0812-3456-7890,
    +62 812 3456 7890, 6281234567890, 81234567890 (mobile without its 0) or (0274) 512345.

    Refuses stray or doubled separators ("0812345678-"), foreign numbers and lengths no Indonesian number has:
    with its leading 0, a mobile number has 10 to 13 digits and a landline 9 to 13.
    """
    text = _line(value, max_len=PHONE_MAX_CHARS)
    if not _PHONE_SHAPE.fullmatch(text):
        raise ValueError("must be digits, grouped by single spaces, dots or hyphens if at all (e.g. 0812-3456-7890)")
    digits = re.sub(r"[^0-9]", "", text)
    if text.startswith("+"):
        if not digits.startswith(COUNTRY_CODE):
            raise ValueError(f"must be an Indonesian number (+{COUNTRY_CODE})")
        national = digits[len(COUNTRY_CODE):]
    elif digits.startswith("0"):
        national = digits[1:]
    elif digits.startswith(COUNTRY_CODE):
        national = digits[len(COUNTRY_CODE):]
    elif digits.startswith("8"):
        national = digits
    else:
        raise ValueError(f"must start with 0, {COUNTRY_CODE} or +{COUNTRY_CODE} (e.g. 081234567890)")
    if national.startswith("0"):
        raise ValueError("must have an area or mobile code after the leading 0 or the country code, not another 0")
    shortest = 9 if national.startswith("8") else 8
    if not shortest <= len(national) <= 12:
        kind = "a mobile" if national.startswith("8") else "a landline"
        raise ValueError(f"must have {shortest + 1} to 13 digits counting the leading 0 for {kind} number")
    return f"+{COUNTRY_CODE}{national}"


def national_phone(value: object) -> str:
    """The same number in the local form Indonesian couriers print on labels: "+6281234567890" -> "081234567890"."""
    return "0" + indonesian_phone(value)[len(COUNTRY_CODE) + 1:]


def postal_code(value: object) -> str:
    """An Indonesian kode pos: five ASCII digits from 10110 (Jakarta) to 99xxx (Papua); none starts with 0."""
    text = _line(value, max_len=20)
    if not _POSTAL_CODE.fullmatch(text):
        raise ValueError("must be 5 digits not starting with 0 (an Indonesian kode pos such as 12110)")
    return text


def contact_name(value: object) -> str:
    """Who hands over or receives a parcel, as the courier writes it on the label."""
    return _line(value, max_len=CONTACT_NAME_MAX)


def street(value: object) -> str:
    return _line(value, max_len=STREET_MAX)


def city(value: object) -> str:
    return _line(value, max_len=CITY_MAX)


def province(value: object) -> str:
    return _line(value, max_len=PROVINCE_MAX)


def address_notes(value: object) -> str:
    """Directions for the courier ("pagar hijau"); may be empty."""
    return _line(value, max_len=ADDRESS_NOTES_MAX, allow_empty=True)
