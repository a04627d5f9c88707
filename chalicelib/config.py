"""Every environment variable the application reads, in one place.

Values are read on use, never cached at import: chalice.test.Client sets the stage's environment only
for the duration of each call, and Lambda keeps a module alive across invocations.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from chalicelib import validation

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
SHOP_NAME = "TOKOFLOW_SHOP_NAME"  # the sender on courier labels
SHOP_PHONE = "TOKOFLOW_SHOP_PHONE"  # the number couriers call for pickup
SHOP_STREET = "TOKOFLOW_SHOP_STREET"  # where couriers pick parcels up
SHOP_ORIGIN_CITY = "TOKOFLOW_SHOP_ORIGIN_CITY"
SHOP_ORIGIN_PROVINCE = "TOKOFLOW_SHOP_ORIGIN_PROVINCE"
SHOP_ORIGIN_POSTAL_CODE = "TOKOFLOW_SHOP_ORIGIN_POSTAL_CODE"  # kode pos Biteship prices and picks up from
MEDIA_PUBLIC_BASE_URL = "TOKOFLOW_MEDIA_PUBLIC_BASE_URL"
# Catalog search: "embedded" (SQLite FTS5 inside the function, its index file in the search bucket) or "opensearch".
SEARCH_ENGINE = "TOKOFLOW_SEARCH_ENGINE"
OPENSEARCH_ENDPOINT = "TOKOFLOW_OPENSEARCH_ENDPOINT"  # https://search-...es.amazonaws.com or https://...aoss.amazonaws.com
OPENSEARCH_INDEX = "TOKOFLOW_OPENSEARCH_INDEX"  # default "<prefix>-products"
OPENSEARCH_SERVICE = "TOKOFLOW_OPENSEARCH_SERVICE"  # "es" for a managed domain, "aoss" for Serverless

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


FINANCE_EMAIL = "TOKOFLOW_FINANCE_EMAIL"  # who is emailed when a monthly sales report is ready
SUPPORT_EMAIL = "TOKOFLOW_SUPPORT_EMAIL"  # customer service: emailed when a ticket is opened (unset: no email)
RETURN_WINDOW_DAYS = "TOKOFLOW_RETURN_WINDOW_DAYS"  # days after delivery a customer may ask to return (7)
RETURN_PARCEL_WAIT_DAYS = "TOKOFLOW_RETURN_PARCEL_WAIT_DAYS"  # days an approved return waits for its parcel (14)
RETURN_PARCEL_WAIT_SECONDS = "TOKOFLOW_RETURN_PARCEL_WAIT_SECONDS"  # overrides days; lets tests time out quickly


def support_email() -> str:
    return os.environ.get(SUPPORT_EMAIL, "").strip()


def return_window_days() -> int:
    return int(os.environ.get(RETURN_WINDOW_DAYS) or "7")


def return_parcel_wait_seconds() -> int:
    """How long an approved return waits for the parcel before it expires; seconds (tests) win over days."""
    seconds = os.environ.get(RETURN_PARCEL_WAIT_SECONDS)
    if seconds:
        return int(seconds)
    return int(os.environ.get(RETURN_PARCEL_WAIT_DAYS) or "14") * 86400


REVIEW_WINDOW_DAYS = "TOKOFLOW_REVIEW_WINDOW_DAYS"  # days after delivery a customer may review the order's lines (30)


def review_window_days() -> int:
    return int(os.environ.get(REVIEW_WINDOW_DAYS) or "30")


POINTS_EARN_RUPIAH = "TOKOFLOW_POINTS_EARN_RUPIAH"  # Rupiah paid (goods after discounts) per point earned (10000)
POINT_VALUE_RUPIAH = "TOKOFLOW_POINT_VALUE_RUPIAH"  # what one point takes off at checkout, in Rupiah (100)
POINTS_MAX_SHARE_PERCENT = "TOKOFLOW_POINTS_MAX_SHARE_PERCENT"  # most of the goods points may pay, % (50, 1-90)
POINTS_EXPIRY_MONTHS = "TOKOFLOW_POINTS_EXPIRY_MONTHS"  # points expire this long after they are earned (12)
POINTS_WARNING_DAYS = "TOKOFLOW_POINTS_WARNING_DAYS"  # customers are told this many days before points expire (30)


def _positive(name: str, default: int, *, most: int | None = None) -> int:
    """A whole number setting, refused loudly when it is nonsense (a typo must not give points away)."""
    raw = os.environ.get(name) or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None
    if value < 1 or (most is not None and value > most):
        raise ValueError(f"{name} must be between 1 and {most or 'any'}, not {value}")
    return value


def points_earn_rupiah() -> int:
    return _positive(POINTS_EARN_RUPIAH, 10_000)


def point_value_rupiah() -> int:
    return _positive(POINT_VALUE_RUPIAH, 100)


def points_max_share_percent() -> int:
    """At most 90: an order paid entirely in points would leave the gateway nothing to charge."""
    return _positive(POINTS_MAX_SHARE_PERCENT, 50, most=90)


def points_expiry_months() -> int:
    return _positive(POINTS_EXPIRY_MONTHS, 12, most=120)


def points_warning_days() -> int:
    return _positive(POINTS_WARNING_DAYS, 30, most=365)


def cart_ttl_days() -> int:
    return int(os.environ.get(CART_TTL_DAYS) or "7")


@dataclass(frozen=True)
class Shop:
    """Who and where the shop ships from: the courier's pickup contact and address, the rate card's origin.

    Values are already normalised by the rules checkout applies (phone as +62..., trimmed text), so a pickup
    booked with them is never refused for the shop's own details.
    """

    name: str
    phone: str
    street: str
    city: str
    province: str
    postal_code: str


# The demo shop: a silver workshop in Kotagede, Yogyakarta (kode pos 55173).
SHOP_DEFAULTS: dict[str, str] = {
    SHOP_NAME: "TokoKita",
    SHOP_PHONE: "+62274000000",
    SHOP_STREET: "Jl. Kemasan 1, Kotagede",
    SHOP_ORIGIN_CITY: "Yogyakarta",
    SHOP_ORIGIN_PROVINCE: "DI Yogyakarta",
    SHOP_ORIGIN_POSTAL_CODE: "55173",
}


def shop() -> Shop:
    """The shop's settings from TOKOFLOW_SHOP_* (each defaulting to the demo shop in SHOP_DEFAULTS).

    Raises RuntimeError naming the variable when a value breaks the contact and address rules, so a bad setting
    stops the first quote instead of every courier booking after customers have paid.
    """
    rules = {
        SHOP_NAME: validation.contact_name,
        SHOP_PHONE: validation.indonesian_phone,
        SHOP_STREET: validation.street,
        SHOP_ORIGIN_CITY: validation.city,
        SHOP_ORIGIN_PROVINCE: validation.province,
        SHOP_ORIGIN_POSTAL_CODE: validation.postal_code,
    }
    values: dict[str, str] = {}
    for name, rule in rules.items():
        raw = os.environ.get(name) or SHOP_DEFAULTS[name]
        try:
            values[name] = rule(raw)
        except ValueError as problem:
            raise RuntimeError(f"{name}={raw!r} {problem}") from None
    return Shop(name=values[SHOP_NAME], phone=values[SHOP_PHONE], street=values[SHOP_STREET],
                city=values[SHOP_ORIGIN_CITY], province=values[SHOP_ORIGIN_PROVINCE],
                postal_code=values[SHOP_ORIGIN_POSTAL_CODE])


# Order lifecycle (payments, couriers, notifications).
PAYMENT_GATEWAY = "TOKOFLOW_PAYMENT_GATEWAY"  # "sandbox" (local default) or "midtrans"
# JSON list overriding the refund capability table (chalicelib/payments/refunds.py), e.g.
# [{"payment_type": "qris", "by_gateway": true, "window_days": 45, "partial": true}]
REFUND_CAPABILITIES = "TOKOFLOW_REFUND_CAPABILITIES"
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


# Couriers as they really behave: lost webhooks are caught up by polling, and Biteship's webhook header is a setting.
TRACKING_POLL_AFTER_HOURS = "TOKOFLOW_TRACKING_POLL_AFTER_HOURS"  # a shipment this long without news is polled (6)
BITESHIP_WEBHOOK_HEADER = "TOKOFLOW_BITESHIP_WEBHOOK_HEADER"  # the header Biteship's dashboard sends the secret in
DEFAULT_BITESHIP_WEBHOOK_HEADER = "x-biteship-secret"


def tracking_poll_after_hours() -> float:
    """Hours without a tracking update after which a shipped parcel is polled through the courier's tracking API;
    0 polls every parcel still on its way (tests, demos). Refused loudly when it is not a number of hours."""
    raw = (os.environ.get(TRACKING_POLL_AFTER_HOURS) or "6").strip()
    try:
        hours = float(raw)
    except ValueError:
        raise ValueError(f"{TRACKING_POLL_AFTER_HOURS} must be a number of hours, not {raw!r}") from None
    if not 0 <= hours <= 24 * 30:
        raise ValueError(f"{TRACKING_POLL_AFTER_HOURS} must be between 0 and 720 hours, not {raw}")
    return hours


def biteship_webhook_header() -> str:
    """The header name Biteship's webhooks carry the shared secret in (its docs leave the name to the dashboard)."""
    return (os.environ.get(BITESHIP_WEBHOOK_HEADER) or DEFAULT_BITESHIP_WEBHOOK_HEADER).strip().lower()
