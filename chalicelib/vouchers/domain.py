"""Voucher rules in plain Python: when a code applies and how much it takes off."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from chalicelib import clock
from chalicelib.errors import ValidationFailed
from chalicelib.validation import Fields

PERCENT, FIXED = "percent", "fixed"
KINDS = (PERCENT, FIXED)
CODE_PATTERN = r"[A-Z0-9][A-Z0-9_\-]{2,31}"
CODE_INPUT_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_\-]{2,31}"  # as staff may type it: stored upper-case
CODE_MAX = 32
MAX_PERCENT = 100
MAX_FIXED_VALUE = 1_000_000_000
MAX_USAGE_LIMIT = 10_000_000
# UTC with a Z, to the second or a fraction of it (stored as clock.iso writes it, so times compare as text)
TIME_PATTERN = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z"
TIME_MAX = 40


@dataclass(frozen=True)
class Voucher:
    code: str
    kind: str
    value: int
    min_spend: int = 0
    max_discount: int | None = None
    usage_limit: int | None = None
    used: int = 0
    valid_from: str | None = None
    valid_until: str | None = None
    active: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "kind": self.kind,
            "value": self.value,
            "min_spend": self.min_spend,
            "max_discount": self.max_discount,
            "usage_limit": self.usage_limit,
            "used": self.used,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "active": self.active,
        }


def problem(voucher: Voucher, *, subtotal: int, now_iso: str) -> str | None:
    """Why the voucher does not apply to this subtotal right now, or None when it does."""
    if not voucher.active:
        return "voucher is no longer active"
    if voucher.valid_from and now_iso < voucher.valid_from:
        return f"voucher is valid from {voucher.valid_from}"
    if voucher.valid_until and now_iso > voucher.valid_until:
        return "voucher has expired"
    if voucher.usage_limit is not None and voucher.used >= voucher.usage_limit:
        return "voucher has been fully used"
    if subtotal < voucher.min_spend:
        return f"minimum spend is Rp{voucher.min_spend:,}".replace(",", ".")
    return None


def discount(voucher: Voucher, subtotal: int) -> int:
    """Whole Rupiah, rounded down, never more than the subtotal or the voucher's cap."""
    if voucher.kind == PERCENT:
        amount = subtotal * voucher.value // 100
        if voucher.max_discount is not None:
            amount = min(amount, voucher.max_discount)
    else:
        amount = voucher.value
    return max(0, min(amount, subtotal))


def normalise_code(code: str) -> str:
    return code.strip().upper()


def _moment(fields: Fields, name: str) -> str | None:
    """An optional UTC time: the pattern's shape and a real date and time (no 2026-02-30), kept as clock.iso writes
    times (milliseconds and a Z), so it compares as text with the clock's."""
    text = fields.text(name, required=False, pattern=TIME_PATTERN, max_len=TIME_MAX)
    if text is None:
        return None
    try:
        moment = clock.parse_iso(text)
    except ValueError:
        raise ValidationFailed(name, "is not a real date and time") from None
    # clock.iso's shape, with all four digits of any year (strftime writes the year 28 as "28")
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_voucher(fields: Fields) -> Voucher:
    fields.reject_unknown({"code", "kind", "value", "min_spend", "max_discount", "usage_limit", "valid_from",
                           "valid_until", "active"})
    code = fields.text("code", max_len=CODE_MAX)
    if not re.fullmatch(CODE_INPUT_PATTERN, code):  # before upper-casing: "ß" would become "SS"
        raise ValidationFailed("code", "must be 3-32 letters, digits, '-' or '_'")
    code = normalise_code(code)
    kind = fields.text("kind", choices=KINDS)
    value = fields.integer("value", min_value=1, max_value=MAX_PERCENT if kind == PERCENT else MAX_FIXED_VALUE)
    valid_from = _moment(fields, "valid_from")
    valid_until = _moment(fields, "valid_until")
    if valid_from and valid_until and valid_until <= valid_from:
        raise ValidationFailed("valid_until", "must be after valid_from")
    max_discount = fields.integer("max_discount", required=False, min_value=1)
    if max_discount is not None and kind != PERCENT:
        raise ValidationFailed("max_discount", "caps percent vouchers only: a fixed voucher takes off its value")
    return Voucher(
        code=code,
        kind=kind,
        value=value,
        min_spend=fields.integer("min_spend", required=False, default=0),
        max_discount=max_discount,
        usage_limit=fields.integer("usage_limit", required=False, min_value=1, max_value=MAX_USAGE_LIMIT),
        valid_from=valid_from,
        valid_until=valid_until,
        active=fields.flag("active", default=True),
    )
