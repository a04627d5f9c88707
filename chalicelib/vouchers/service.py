"""Voucher use cases: staff create and list them (carts and checkout read them through the repository)."""

from __future__ import annotations

from typing import Any

from chalicelib.validation import Fields
from chalicelib.vouchers import repository
from chalicelib.vouchers.domain import parse_voucher


def create_voucher(fields: Fields, *, actor: str) -> dict[str, Any]:
    voucher = parse_voucher(fields)
    repository.create(voucher, actor=actor)
    return voucher.to_dict()


def list_vouchers() -> dict[str, Any]:
    return {"items": [voucher.to_dict() for voucher in repository.all_vouchers()]}
