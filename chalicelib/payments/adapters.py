"""Which payment gateway this deployment talks to, chosen by configuration.

Built on first use and cached per configuration value (gateway name and Midtrans base URL), like the courier
adapters. The Midtrans adapter holds no key: it reads the server key through config.secret on each call, whose
five-minute cache is what lets a rotated key reach outgoing calls without a restart.
"""

from __future__ import annotations

import functools

from chalicelib import config
from chalicelib.payments.gateway import PaymentGateway

SANDBOX, MIDTRANS = "sandbox", "midtrans"
GATEWAYS = (SANDBOX, MIDTRANS)
DEFAULT_GATEWAY = SANDBOX


def gateway_name() -> str:
    return (config.get(config.PAYMENT_GATEWAY) or DEFAULT_GATEWAY).strip().lower()


def payment_gateway() -> PaymentGateway:
    """The configured gateway (TOKOFLOW_PAYMENT_GATEWAY: "sandbox", the default, or "midtrans")."""
    name = gateway_name()
    if name == MIDTRANS:
        return _midtrans(config.get(config.MIDTRANS_BASE_URL).strip())
    return _build(name)


@functools.cache
def _build(name: str) -> PaymentGateway:
    # Imported here so a deployment using one adapter never loads the other (pynamodb models, urllib).
    if name == SANDBOX:
        from chalicelib.payments.sandbox import SandboxGateway

        return SandboxGateway()
    raise RuntimeError(f"{config.PAYMENT_GATEWAY}={name!r} is not a payment gateway (one of {', '.join(GATEWAYS)})")


@functools.cache
def _midtrans(base_url: str) -> PaymentGateway:
    from chalicelib.payments.midtrans import MidtransGateway

    # GatewayError when the key is missing; the key itself is read again on every call, never kept here.
    return MidtransGateway(base_url=base_url or None)


def server_key() -> str:
    """The Midtrans server key that signs notifications; the sandbox signs with it too, so the webhook code path
    is the same locally and on AWS. No built-in default: a guessable key would let anyone forge payments."""
    key = config.secret(config.MIDTRANS_SERVER_KEY).strip()
    if not key:
        raise RuntimeError(
            f"{config.MIDTRANS_SERVER_KEY} is not set: the payment gateway ({gateway_name()}) signs and verifies "
            "notifications with it; set it in the environment (any value locally, the dashboard's key on AWS)"
        )
    return key


def reset() -> None:
    """Forget built gateways, e.g. after a test changes the configuration."""
    _build.cache_clear()
    _midtrans.cache_clear()


__all__ = ["DEFAULT_GATEWAY", "GATEWAYS", "gateway_name", "payment_gateway", "reset", "server_key"]
