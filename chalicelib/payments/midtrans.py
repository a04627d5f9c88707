"""The PaymentGateway port over Midtrans' Core API (and Snap, for cards).

Standard library HTTP only (urllib.request): it ships to Lambda, where every dependency costs cold-start time.
Midtrans answers most calls with HTTP 200 and the real outcome in the body's status_code, so both are checked.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from chalicelib import clock, config
from chalicelib.http_client import Unreachable, exchange
from chalicelib.payments.gateway import (
    BANK_TRANSFER,
    CARD,
    CONVENIENCE_STORE,
    EWALLET,
    MANDIRI,
    QRIS,
    ChargeRequest,
    GatewayError,
    GatewayStatus,
    OrderIdAlreadyUsed,
    OutcomeUnknown,
    PaymentInstructions,
    RefundRefused,
    RefundResult,
)

DEFAULT_BASE_URL = "https://api.sandbox.midtrans.com"
TIMEOUT_SECONDS = 5.0  # Midtrans asks for answers within 5 s; we hold ourselves to the same when calling them
_SUCCESS_CODES = frozenset({"200", "201"})
_NOT_FOUND = "404"
# The status API reports denied/failed ("202") and expired ("407") transactions with those codes: answers, not errors.
_STATUS_CODES = _SUCCESS_CODES | {"202", "407", _NOT_FOUND}
_MIDTRANS_TIME = "%Y-%m-%d %H:%M:%S"  # Asia/Jakarta local time in Midtrans bodies

Transport = Callable[[str, str, dict[str, str], bytes | None], tuple[int, bytes]]


# Midtrans' answer when its refund API will not act on a transaction (its method or its state).
REFUND_REFUSED_CODES = frozenset({"412"})


class MidtransError(GatewayError):
    """Midtrans refused a request; status_code is Midtrans' own (e.g. "406" order id already used)."""

    def __init__(self, message: str, *, status_code: str = "", body: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = dict(body or {})


class MidtransUnavailable(MidtransError, OutcomeUnknown):
    """No answer, or a 5xx: Midtrans may have acted (a charge made, a refund sent) before the answer was lost."""


class MidtransOrderIdUsed(MidtransError, OrderIdAlreadyUsed):
    """406: the order id already has a transaction at Midtrans."""


ORDER_ID_USED = "406"


def urllib_transport(method: str, url: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
    """One HTTP exchange; HTTP error statuses are returned (their bodies carry Midtrans' reason), network
    failures and timeouts are an unknown outcome (Midtrans may have acted before the answer was lost)."""
    try:
        return exchange(method, url, headers, body, timeout=TIMEOUT_SECONDS)
    except Unreachable as error:
        raise MidtransUnavailable(f"midtrans unreachable: {error}") from error


def snap_base_url(base_url: str) -> str:
    """Snap lives beside the Core API: api.sandbox.midtrans.com -> app.sandbox.midtrans.com."""
    parts = urllib.parse.urlsplit(base_url)
    host = parts.netloc
    if host.startswith("api."):
        host = "app." + host[len("api.") :]
    return urllib.parse.urlunsplit((parts.scheme, host, "", "", "")).rstrip("/")


class MidtransGateway:
    """Midtrans Core API adapter; `transport` is injectable so tests replay recorded answers offline.

    Without an explicit server_key the key is read through config.secret on every call (cached there for five
    minutes), so a rotated key reaches outgoing calls as it does for the other providers, without a restart.
    """

    name = "midtrans"

    def __init__(
        self,
        *,
        server_key: str | None = None,
        base_url: str | None = None,
        transport: Transport | None = None,
    ) -> None:
        self._fixed_key = server_key
        self._server_key()  # a missing key fails at construction, before any charge is attempted
        self.base_url = (base_url or config.get(config.MIDTRANS_BASE_URL) or DEFAULT_BASE_URL).rstrip("/")
        self.snap_url = snap_base_url(self.base_url)
        self._transport: Transport = transport or urllib_transport

    # -- the port --------------------------------------------------------------------------------------------

    def charge(self, request: ChargeRequest) -> PaymentInstructions:
        if request.method == CARD:
            return self._snap_charge(request)
        body = {**_charge_body(request), **_core_payment(request)}
        answer = self._call("POST", f"{self.base_url}/v2/charge", body)
        return _instructions(request, answer)

    def status(self, order_id: str) -> GatewayStatus | None:
        answer = self._call("GET", f"{self.base_url}/v2/{_path(order_id)}/status", ok=_STATUS_CODES)
        if answer.get("status_code") == _NOT_FOUND:
            return None
        return gateway_status(answer, order_id=order_id)

    def recover(self, request: ChargeRequest) -> PaymentInstructions | None:
        """Rebuild a lost charge answer from the status API: the virtual account number and expiry are in it; a
        QRIS or GoPay transaction's QR image lives at a URL named by its transaction id (the status API carries
        no deeplink: the customer scans the QR). A card's Snap page cannot be rebuilt: None, charge again."""
        if request.method == CARD:
            return None
        status = self.status(request.order_id)
        if status is None:
            return None
        answer = dict(status.raw)
        if request.method in (QRIS, EWALLET) and not _action(answer, "generate-qr-code") and status.transaction_id:
            kind = "qris" if request.method == QRIS else "gopay"
            answer["actions"] = [{"name": "generate-qr-code",
                                  "url": f"{self.base_url}/v2/{kind}/{status.transaction_id}/qr-code"}]
        return _instructions(request, answer)

    def refund(self, order_id: str, *, amount: int, reason: str, refund_key: str) -> RefundResult:
        """Refund through Midtrans' API; a 412 ("Merchant cannot modify the status of the transaction": a method
        or state its refund API does not cover) is RefundRefused, which no retry changes: the shop pays out."""
        body = {"refund_key": refund_key, "amount": amount, "reason": reason}
        try:
            answer = self._call("POST", f"{self.base_url}/v2/{_path(order_id)}/refund", body)
        except MidtransError as error:
            if error.status_code in REFUND_REFUSED_CODES:
                raise RefundRefused(str(error)) from error
            raise
        refunded = str(answer.get("status_code")) == "200"
        return RefundResult(
            order_id=order_id,
            amount=amount,
            refund_key=str(answer.get("refund_key") or refund_key),
            status="refunded" if refunded else "pending",
            raw=answer,
        )

    def cancel(self, order_id: str) -> GatewayStatus:
        answer = self._call("POST", f"{self.base_url}/v2/{_path(order_id)}/cancel", None)
        return gateway_status(answer, order_id=order_id)

    def approve(self, order_id: str) -> GatewayStatus:
        """POST /v2/{order_id}/approve: accept a card transaction held with fraud status `challenge`."""
        answer = self._call("POST", f"{self.base_url}/v2/{_path(order_id)}/approve", None)
        return gateway_status(answer, order_id=order_id)

    def deny(self, order_id: str) -> GatewayStatus:
        """POST /v2/{order_id}/deny: refuse a card transaction held with fraud status `challenge`."""
        answer = self._call("POST", f"{self.base_url}/v2/{_path(order_id)}/deny", None)
        return gateway_status(answer, order_id=order_id)

    # -- plumbing --------------------------------------------------------------------------------------------

    def _snap_charge(self, request: ChargeRequest) -> PaymentInstructions:
        """Card charges need a token from Midtrans' JavaScript; a Snap page collects the card (and 3DS) instead."""
        body = {
            **_charge_body(request, expiry=False),
            "enabled_payments": ["credit_card"],
            "credit_card": {"secure": True},
            "expiry": {"unit": "minute", "duration": request.expiry_minutes},
        }
        answer = self._call("POST", f"{self.snap_url}/snap/v1/transactions", body, snap=True)
        redirect_url, token = answer.get("redirect_url"), answer.get("token")
        if not isinstance(redirect_url, str) or not isinstance(token, str):
            raise MidtransError("snap answer has no token or redirect_url", body=answer)
        return PaymentInstructions(
            provider=self.name,
            method=request.method,
            transaction_id=token,
            amount=request.amount,
            expires_at=_expiry(request, None),
            redirect_url=redirect_url,
        )

    def _server_key(self) -> str:
        key = self._fixed_key if self._fixed_key is not None else config.secret(config.MIDTRANS_SERVER_KEY).strip()
        if not key:
            raise GatewayError(f"midtrans server key is not configured ({config.MIDTRANS_SERVER_KEY})")
        return key

    def _headers(self) -> dict[str, str]:
        credentials = base64.b64encode(f"{self._server_key()}:".encode()).decode()
        return {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Authorization": f"Basic {credentials}",
        }

    def _call(
        self,
        method: str,
        url: str,
        body: Mapping[str, Any] | None = None,
        *,
        ok: frozenset[str] = _SUCCESS_CODES,
        snap: bool = False,
    ) -> dict[str, Any]:
        data = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        http_status, raw = self._transport(method, url, self._headers(), data)
        if http_status >= 500:
            raise MidtransUnavailable(f"midtrans {method} {url}: HTTP {http_status}", status_code=str(http_status))
        try:
            answer = json.loads(raw.decode() or "null")
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise MidtransError(f"midtrans {method} {url}: HTTP {http_status}, not JSON") from error
        if not isinstance(answer, dict):
            raise MidtransError(f"midtrans {method} {url}: HTTP {http_status}, unexpected answer")
        if snap:
            if http_status >= 300:
                messages = answer.get("error_messages") or [f"HTTP {http_status}"]
                raise MidtransError(
                    f"snap refused: {'; '.join(map(str, messages))}", body=answer, status_code=str(http_status)
                )
            return answer
        code = str(answer.get("status_code") or "")
        if code not in ok:
            message = answer.get("status_message") or f"HTTP {http_status}"
            error_class = MidtransOrderIdUsed if code == ORDER_ID_USED else MidtransError
            raise error_class(f"midtrans refused ({code or http_status}): {message}", status_code=code, body=answer)
        return answer


def _path(order_id: str) -> str:
    return urllib.parse.quote(order_id, safe="")


def _charge_body(request: ChargeRequest, *, expiry: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "transaction_details": {"order_id": request.order_id, "gross_amount": request.amount},
        "customer_details": {
            "first_name": request.customer_name,
            "email": request.customer_email,
            "phone": request.customer_phone,
        },
    }
    if expiry:
        body["custom_expiry"] = {"expiry_duration": request.expiry_minutes, "unit": "minute"}
    return body


def _core_payment(request: ChargeRequest) -> dict[str, Any]:
    if request.method == BANK_TRANSFER and request.bank == MANDIRI:  # Mandiri's virtual account is a bill payment
        return {"payment_type": "echannel", "echannel": {"bill_info1": "Pembayaran:", "bill_info2": "Belanja online"}}
    if request.method == BANK_TRANSFER:
        return {"payment_type": "bank_transfer", "bank_transfer": {"bank": request.bank}}
    if request.method == CONVENIENCE_STORE:
        return {"payment_type": "cstore", "cstore": {"store": request.store, "message": "TokoKita"}}
    if request.method == QRIS:
        return {"payment_type": "qris"}
    if request.method == EWALLET:
        return {"payment_type": "gopay", "gopay": {"enable_callback": True}}
    raise GatewayError(f"unsupported payment method {request.method!r}")


def _action(answer: Mapping[str, Any], name: str) -> str | None:
    for action in answer.get("actions") or []:
        if isinstance(action, Mapping) and action.get("name") == name and isinstance(action.get("url"), str):
            return action["url"]
    return None


def _instructions(request: ChargeRequest, answer: Mapping[str, Any]) -> PaymentInstructions:
    bank = va_number = None
    va_numbers = answer.get("va_numbers") or []
    if va_numbers and isinstance(va_numbers[0], Mapping):
        bank, va_number = va_numbers[0].get("bank"), va_numbers[0].get("va_number")
    elif answer.get("permata_va_number"):
        bank, va_number = "permata", answer["permata_va_number"]
    if answer.get("bill_key"):
        bank = MANDIRI
    qr_url = _action(answer, "generate-qr-code")
    transaction_id = answer.get("transaction_id")
    if not isinstance(transaction_id, str) or not transaction_id:
        raise MidtransError("charge answer has no transaction_id", body=answer)
    return PaymentInstructions(
        provider="midtrans",
        method=request.method,
        transaction_id=transaction_id,
        amount=request.amount,
        expires_at=_expiry(request, answer.get("expiry_time")),
        bank=bank,
        va_number=va_number,
        biller_code=_text_or_none(answer.get("biller_code")),
        bill_key=_text_or_none(answer.get("bill_key")),
        store=_text_or_none(answer.get("store")) or (request.store if request.method == CONVENIENCE_STORE else None),
        payment_code=_text_or_none(answer.get("payment_code")),
        qr_string=answer.get("qr_string"),
        deeplink_url=_action(answer, "deeplink-redirect"),
        redirect_url=answer.get("redirect_url") or qr_url,
    )


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _expiry(request: ChargeRequest, expiry_time: Any) -> str:
    """Midtrans' own expiry (Jakarta local time) when it gives one, else the window we asked for."""
    if isinstance(expiry_time, str):
        try:
            moment = datetime.strptime(expiry_time, _MIDTRANS_TIME).replace(tzinfo=clock.JAKARTA)
        except ValueError:
            pass
        else:
            return clock.iso(moment)
    return clock.iso(clock.now() + timedelta(minutes=request.expiry_minutes))


def gateway_status(answer: Mapping[str, Any], *, order_id: str) -> GatewayStatus:
    """A status-shaped Midtrans body (status API, cancel answer, notification) as the port's GatewayStatus."""
    transaction_status = answer.get("transaction_status")
    if not isinstance(transaction_status, str):
        raise MidtransError("midtrans answer has no transaction_status", body=answer)
    return GatewayStatus(
        order_id=str(answer.get("order_id") or order_id),
        transaction_status=transaction_status,
        gross_amount=str(answer.get("gross_amount") or ""),
        payment_type=str(answer.get("payment_type") or ""),
        transaction_id=str(answer.get("transaction_id") or ""),
        fraud_status=answer.get("fraud_status") or None,
        status_code=str(answer.get("status_code") or ""),
        raw=dict(answer),
    )


__all__ = [
    "DEFAULT_BASE_URL",
    "MidtransError",
    "MidtransGateway",
    "MidtransOrderIdUsed",
    "MidtransUnavailable",
    "gateway_status",
    "snap_base_url",
    "urllib_transport",
]
