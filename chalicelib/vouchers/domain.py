"""Voucher rules in plain Python: when a code applies and how much it takes off."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import ValidationFailed
from chalicelib.validation import Fields

PERCENT, FIXED = "percent", "fixed"
CODE_PATTERN = r"[A-Z0-9][A-Z0-9_\-]{2,31}"


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


def parse_voucher(fields: Fields) -> Voucher:
    fields.reject_unknown({"code", "kind", "value", "min_spend", "max_discount", "usage_limit", "valid_from",
                           "valid_until", "active"})
    code = normalise_code(fields.text("code", max_len=32))
    if not re.fullmatch(CODE_PATTERN, code):
        raise ValidationFailed("code", "must be 3-32 letters, digits, '-' or '_'")
    kind = fields.text("kind", choices=(PERCENT, FIXED))
    value = fields.integer("value", min_value=1, max_value=100 if kind == PERCENT else 1_000_000_000)
    iso_pattern = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z"
    valid_from = fields.text("valid_from", required=False, pattern=iso_pattern, max_len=40)
    valid_until = fields.text("valid_until", required=False, pattern=iso_pattern, max_len=40)
    if valid_from and valid_until and valid_until <= valid_from:
        raise ValidationFailed("valid_until", "must be after valid_from")
    return Voucher(
        code=code,
        kind=kind,
        value=value,
        min_spend=fields.integer("min_spend", required=False, default=0),
        max_discount=fields.integer("max_discount", required=False, min_value=1) if kind == PERCENT else None,
        usage_limit=fields.integer("usage_limit", required=False, min_value=1, max_value=10_000_000),
        valid_from=valid_from,
        valid_until=valid_until,
        active=fields.flag("active", default=True),
    )
