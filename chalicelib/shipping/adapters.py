"""Which courier this deployment talks to, chosen by configuration (TOKOFLOW_COURIER).

Construction is cached per configuration value, not once per process: chalice.test.Client swaps the
environment per call and a warm Lambda keeps modules alive, so a changed setting must take effect.
"""

from __future__ import annotations

from functools import cache

from chalicelib import config
from chalicelib.shipping.biteship import DEFAULT_BASE_URL, BiteshipCourier
from chalicelib.shipping.couriers import Courier, RateCardCourier, SandboxFault
from chalicelib.shipping.repository import DynamoSandboxBooks

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


def biteship_webhook_header() -> str:
    """The header Biteship's webhooks carry that secret in (TOKOFLOW_BITESHIP_WEBHOOK_HEADER, x-biteship-secret)."""
    return config.biteship_webhook_header()


def sandbox_courier() -> RateCardCourier:
    """The sandbox courier with its books in the sandbox-couriers table, whatever TOKOFLOW_COURIER says: the tools
    and tests that drive the sandbox (report a parcel's journey, arm a fault) talk to it directly."""
    shop = config.shop()
    return _sandbox(shop.city, shop.province)


def arm_sandbox_fault(fault: str, *, times: int = 1, order_id: str | None = None, status: str | None = None
                      ) -> SandboxFault:
    """Make the sandbox courier's next `times` bookings (or webhooks) fail as `fault` says, for every order or only
    `order_id`; webhook faults may be limited to one courier `status`. times=0 disarms. ValueError for unknown names."""
    armed = SandboxFault(fault=fault, remaining=times, reference=order_id or None, status=status or None)
    sandbox_courier().books.arm(armed)
    return armed


def reset() -> None:
    """Forget cached adapters (tests that change the environment between calls)."""
    _sandbox.cache_clear()
    _biteship.cache_clear()


@cache
def _sandbox(city: str, province: str) -> RateCardCourier:
    return RateCardCourier(origin_city=city, origin_province=province, books=DynamoSandboxBooks())


@cache
def _biteship(api_key: str, origin_postal_code: str, base_url: str) -> BiteshipCourier:
    return BiteshipCourier(api_key=api_key, origin_postal_code=origin_postal_code, base_url=base_url)
