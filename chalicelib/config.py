"""Every environment variable the application reads, in one place.

Values are read on use, never cached at import: chalice.test.Client sets the stage's environment only
for the duration of each call, and Lambda keeps a module alive across invocations.
"""

from __future__ import annotations

import os

# Names of the variables (set by .chalice/config.json, the CDK stack, or the local stack).
PREFIX = "TOKOFLOW_PREFIX"  # physical resource name prefix, e.g. "tokoflow-dev"
REGION = "AWS_DEFAULT_REGION"
PPN_RATE_PERCENT = "TOKOFLOW_PPN_RATE_PERCENT"  # VAT included in prices, e.g. "11"
AUTH_MODE = "TOKOFLOW_AUTH_MODE"  # "dev" (HS256 development key) or "cognito"
DEV_JWT_SECRET = "TOKOFLOW_DEV_JWT_SECRET"
COGNITO_USER_POOL_ID = "TOKOFLOW_COGNITO_USER_POOL_ID"
COGNITO_APP_CLIENT_ID = "TOKOFLOW_COGNITO_APP_CLIENT_ID"
PAYMENT_WINDOW_MINUTES = "TOKOFLOW_PAYMENT_WINDOW_MINUTES"
CART_TTL_DAYS = "TOKOFLOW_CART_TTL_DAYS"
SHOP_ORIGIN_PROVINCE = "TOKOFLOW_SHOP_ORIGIN_PROVINCE"
SHOP_ORIGIN_CITY = "TOKOFLOW_SHOP_ORIGIN_CITY"
MEDIA_PUBLIC_BASE_URL = "TOKOFLOW_MEDIA_PUBLIC_BASE_URL"

DEFAULT_PREFIX = "tokoflow-dev"
DEV_ISSUER = "tokoflow-local"
DEV_AUDIENCE = "tokoflow"


def get(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def prefix() -> str:
    return os.environ.get(PREFIX) or DEFAULT_PREFIX


def region() -> str:
    return os.environ.get(REGION) or os.environ.get("AWS_REGION") or "ap-southeast-3"


def ppn_rate_percent() -> int:
    """PPN (VAT) rate in whole percent; 11% or 12% depending on goods and year, so it is configuration."""
    return int(os.environ.get(PPN_RATE_PERCENT) or "11")


def payment_window_seconds() -> int:
    """How long a shopper has to pay; seconds (for tests and demos) win over minutes."""
    seconds = os.environ.get(PAYMENT_WINDOW_SECONDS)
    if seconds:
        return int(seconds)
    return int(os.environ.get(PAYMENT_WINDOW_MINUTES) or "60") * 60


def cart_ttl_days() -> int:
    return int(os.environ.get(CART_TTL_DAYS) or "7")


def shop_origin() -> tuple[str, str]:
    """(city, province) the shop ships from; zones in the rate card are counted from here."""
    return (
        os.environ.get(SHOP_ORIGIN_CITY) or "Yogyakarta",
        os.environ.get(SHOP_ORIGIN_PROVINCE) or "DI Yogyakarta",
    )

# Order lifecycle (payments, couriers, notifications).
PAYMENT_GATEWAY = "TOKOFLOW_PAYMENT_GATEWAY"  # "sandbox" (local default) or "midtrans"
MIDTRANS_SERVER_KEY = "TOKOFLOW_MIDTRANS_SERVER_KEY"  # locally from env; on AWS resolved from Secrets Manager
MIDTRANS_BASE_URL = "TOKOFLOW_MIDTRANS_BASE_URL"  # https://api.sandbox.midtrans.com or https://api.midtrans.com
COURIER = "TOKOFLOW_COURIER"  # "sandbox" or "biteship"
BITESHIP_API_KEY = "TOKOFLOW_BITESHIP_API_KEY"
BITESHIP_BASE_URL = "TOKOFLOW_BITESHIP_BASE_URL"
COURIER_WEBHOOK_SECRET = "TOKOFLOW_COURIER_WEBHOOK_SECRET"  # sandbox HMAC key / Biteship static header value
NOTIFIER = "TOKOFLOW_NOTIFIER"  # "outbox" (local) or "aws" (SES email + SNS SMS)
SES_SENDER = "TOKOFLOW_SES_SENDER"
SMS_EVENTS = "TOKOFLOW_SMS_EVENTS"  # comma-separated notification events also sent by SMS
PAYMENT_WINDOW_SECONDS = "TOKOFLOW_PAYMENT_WINDOW_SECONDS"  # overrides minutes; lets tests expire quickly


SECRET_PARAMETER_SUFFIX = "_PARAMETER"  # e.g. TOKOFLOW_MIDTRANS_SERVER_KEY_PARAMETER=/tokoflow/prod/midtrans


def secret(name: str) -> str:
    """A secret: the variable itself (local stack, tests), else the Secrets Manager secret or SSM parameter
    named by `<name>_PARAMETER` (on AWS), fetched on first use and cached for five minutes.
    """
    value = os.environ.get(name)
    if value:
        return value
    reference = os.environ.get(name + SECRET_PARAMETER_SUFFIX)
    if not reference:
        return ""
    from aws_lambda_powertools.utilities import parameters

    if reference.startswith("arn:aws:secretsmanager:") or not reference.startswith("/"):
        return str(parameters.get_secret(reference, max_age=300))
    return str(parameters.get_parameter(reference, decrypt=True, max_age=300))
