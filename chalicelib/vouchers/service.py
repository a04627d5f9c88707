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


def list_vouchers(*, limit: int, cursor: str | None) -> dict[str, Any]:
    """A page of the vouchers, by code."""
    vouchers, next_cursor = repository.by_code(limit=limit, cursor=cursor)
    return {"items": [voucher.to_dict() for voucher in vouchers], "next_cursor": next_cursor}


def stamp_listing() -> int:
    """Vouchers written before the staff list was paged, given the key that lists them (the command line)."""
    return repository.stamp_listing()
