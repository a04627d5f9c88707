"""Talking to the local stack's shop over HTTP, as a browser or staff tool would: shared by the e2e tests."""

from __future__ import annotations

from typing import Any

import requests

from chalicelib.auth import mint_dev_token

TIMEOUT = 30  # seconds per HTTP call


def staff_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_dev_token(role='staff', sub='staff-e2e')}"}


def checkout_body(cart_id: str, payment_method: str = "bank_transfer") -> dict[str, Any]:
    return {
        "cart_id": cart_id,
        "customer": {"name": "Sari Dewi", "email": "sari@example.com", "phone": "+6281234567890"},
        "shipping_address": {"recipient": "Sari Dewi", "phone": "+6281234567890", "street": "Jl. Kemang Raya 1",
                             "city": "Jakarta Selatan", "province": "DKI Jakarta", "postal_code": "12110"},
        "shipping": {"courier": "JNE", "service": "REG"},
        "payment_method": payment_method,
    }


def new_cart(api: str, lines: dict[str, int]) -> str:
    cart_id = requests.post(f"{api}/carts", timeout=TIMEOUT).json()["cart_id"]
    for sku, quantity in lines.items():
        answer = requests.put(f"{api}/carts/{cart_id}/items/{sku}", json={"quantity": quantity}, timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text
    return cart_id


def stock_of(api: str, sku: str) -> dict[str, Any]:
    answer = requests.get(f"{api}/admin/inventory/{sku}", headers=staff_headers(), timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    return answer.json()
