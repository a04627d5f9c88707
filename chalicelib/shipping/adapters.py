"""Which courier this deployment talks to, chosen by configuration (TOKOFLOW_COURIER).

Construction is cached per configuration value, not once per process: chalice.test.Client swaps the
environment per call and a warm Lambda keeps modules alive, so a changed setting must take effect.
"""

from __future__ import annotations

from functools import cache

from chalicelib import config
from chalicelib.shipping.biteship import DEFAULT_BASE_URL, BiteshipCourier
from chalicelib.shipping.couriers import Courier, RateCardCourier

SANDBOX = "sandbox"
BITESHIP = "biteship"
COURIERS = (SANDBOX, BITESHIP)


def courier() -> Courier:
    """The configured courier adapter: "sandbox" (default, no account needed) or "biteship".

    The origin (city and province for the rate card, kode pos for Biteship) is config.shop()'s. Raises
    RuntimeError for an unknown TOKOFLOW_COURIER, a Biteship setup without an API key or a bad shop setting.
    """
    kind = (config.get(config.COURIER) or SANDBOX).strip().lower()
    shop = config.shop()
    if kind == SANDBOX:
        return _sandbox(shop.city, shop.province)
    if kind == BITESHIP:
        api_key = config.secret(config.BITESHIP_API_KEY).strip()
        if not api_key:
            raise RuntimeError(f"{config.COURIER}=biteship needs {config.BITESHIP_API_KEY} to be set")
        return _biteship(api_key, shop.postal_code, (config.get(config.BITESHIP_BASE_URL) or DEFAULT_BASE_URL).strip())
    raise RuntimeError(f"unknown {config.COURIER} {kind!r}: expected one of {', '.join(COURIERS)}")


def webhook_secret() -> str:
    """Shared secret for courier webhooks: the sandbox HMAC key, or the value of Biteship's static header."""
    return config.secret(config.COURIER_WEBHOOK_SECRET).strip()


def reset() -> None:
    """Forget cached adapters (tests that change the environment between calls)."""
    _sandbox.cache_clear()
    _biteship.cache_clear()


@cache
def _sandbox(city: str, province: str) -> RateCardCourier:
    return RateCardCourier(origin_city=city, origin_province=province)


@cache
def _biteship(api_key: str, origin_postal_code: str, base_url: str) -> BiteshipCourier:
    return BiteshipCourier(api_key=api_key, origin_postal_code=origin_postal_code, base_url=base_url)
