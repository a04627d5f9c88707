"""Voucher use cases: staff create and list them; carts and checkout look them up."""

from __future__ import annotations

from typing import Any

from chalicelib.errors import NotFound
from chalicelib.validation import Fields
from chalicelib.vouchers import repository
from chalicelib.vouchers.domain import Voucher, normalise_code, parse_voucher


def create_voucher(fields: Fields, *, actor: str) -> dict[str, Any]:
    voucher = parse_voucher(fields)
    repository.create(voucher, actor=actor)
    return voucher.to_dict()


def list_vouchers() -> dict[str, Any]:
    return {"items": [voucher.to_dict() for voucher in repository.all_vouchers()]}


def find(code: str) -> Voucher:
    voucher = repository.get(normalise_code(code))
    if voucher is None:
        raise NotFound(f"voucher {normalise_code(code)} does not exist", code="voucher_not_found")
    return voucher
