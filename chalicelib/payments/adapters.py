"""Which payment gateway this deployment talks to, chosen by configuration.

Built on first use and kept for the life of the process (a Lambda container): the Midtrans adapter holds the
server key, and resolving it again on every request would only add latency.
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
    return _build(gateway_name())


@functools.cache
def _build(name: str) -> PaymentGateway:
    # Imported here so a deployment using one adapter never loads the other (pynamodb models, urllib).
    if name == SANDBOX:
        from chalicelib.payments.sandbox import SandboxGateway

        return SandboxGateway()
    if name == MIDTRANS:
        from chalicelib.payments.midtrans import MidtransGateway

        return MidtransGateway()  # reads the key and base URL from config; GatewayError when the key is missing
    raise RuntimeError(f"{config.PAYMENT_GATEWAY}={name!r} is not a payment gateway (one of {', '.join(GATEWAYS)})")


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


__all__ = ["DEFAULT_GATEWAY", "GATEWAYS", "gateway_name", "payment_gateway", "reset", "server_key"]
