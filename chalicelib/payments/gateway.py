"""The payment gateway port: what the shop needs from Midtrans (or the sandbox that imitates it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

CARD, BANK_TRANSFER, EWALLET, QRIS = "card", "bank_transfer", "ewallet", "qris"
CONVENIENCE_STORE = "convenience_store"
GATEWAY_METHODS = (CARD, BANK_TRANSFER, EWALLET, QRIS, CONVENIENCE_STORE)
# Where a virtual account can be opened (Midtrans Core API): Mandiri's is a bill payment (biller code + bill key).
VA_BANKS = ("bca", "bni", "bri", "permata", "mandiri")
MANDIRI = "mandiri"
STORES = ("indomaret", "alfamart")  # convenience stores whose cashiers take a payment code


class GatewayError(Exception):
    """The gateway could not be reached or refused the request; safe to retry later."""


class OutcomeUnknown(GatewayError):
    """The request may or may not have been acted on (a timeout, a lost or 5xx answer): ask the gateway's status
    API before doing it again, never assume either way."""


class OrderIdAlreadyUsed(GatewayError):
    """Midtrans 406: a transaction already exists for this order id (an earlier charge whose answer was lost):
    its instructions are rebuilt from the status API; charging again can never succeed."""


class RefundDeferred(GatewayError):
    """The gateway takes no refunds of this payment type at this hour (ShopeePay, 23:55-06:00 WIB): the same
    refund, with the same refund key, is tried again once the quiet hours end."""


class RefundRefused(GatewayError):
    """The gateway will never refund this payment (its method, its window, its state): no retry helps; the shop
    pays the customer out by bank transfer instead."""


@dataclass(frozen=True)
class ChargeRequest:
    order_id: str
    amount: int  # whole Rupiah
    method: str  # one of GATEWAY_METHODS
    customer_name: str
    customer_email: str
    customer_phone: str
    expiry_minutes: int
    bank: str = "bca"  # for bank transfer virtual accounts (VA_BANKS)
    store: str = "indomaret"  # for convenience-store payments (STORES)


@dataclass(frozen=True)
class PaymentInstructions:
    """What the shopper needs to pay: shown in the checkout answer and the order-placed notification."""

    provider: str
    method: str
    transaction_id: str
    amount: int
    expires_at: str  # UTC ISO-8601
    bank: str | None = None
    va_number: str | None = None
    biller_code: str | None = None  # Mandiri bill payment: the company code, with the bill key
    bill_key: str | None = None
    store: str | None = None  # convenience store: where, and the code the cashier takes
    payment_code: str | None = None
    qr_string: str | None = None
    deeplink_url: str | None = None
    redirect_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


@dataclass(frozen=True)
class GatewayStatus:
    """The gateway's own view of a transaction, in Midtrans terms (the status API's answer)."""

    order_id: str
    transaction_status: str  # pending, settlement, capture, expire, cancel, deny, failure, refund, ...
    gross_amount: str  # exactly as the gateway sent it, e.g. "150000.00"
    payment_type: str = ""
    transaction_id: str = ""
    fraud_status: str | None = None
    status_code: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundResult:
    order_id: str
    amount: int
    refund_key: str
    status: str  # "refunded" or "pending"
    raw: dict[str, Any] = field(default_factory=dict)


class PaymentGateway(Protocol):
    name: str

    def charge(self, request: ChargeRequest) -> PaymentInstructions: ...

    def status(self, order_id: str) -> GatewayStatus | None:
        """None when the gateway has never heard of the order."""
        ...

    def recover(self, request: ChargeRequest) -> PaymentInstructions | None:
        """The instructions of the transaction the gateway already holds for the order (after a charge whose
        answer was lost), rebuilt from its status API; None when the gateway has no such transaction."""
        ...

    def refund(self, order_id: str, *, amount: int, reason: str, refund_key: str) -> RefundResult: ...

    def cancel(self, order_id: str) -> GatewayStatus: ...

    def approve(self, order_id: str) -> GatewayStatus:
        """Accept a card payment fraud detection held for review (capture + challenge)."""
        ...

    def deny(self, order_id: str) -> GatewayStatus:
        """Refuse a card payment held for review: the card is not charged."""
        ...
