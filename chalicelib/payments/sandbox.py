"""A Midtrans look-alike that keeps its own books in DynamoDB, for local runs, tests and demos.

It behaves like the real gateway where the shop can tell the difference: the same order charged twice gets the
same instructions, statuses only move along Midtrans' lifecycle, status codes and amounts are formatted as
Midtrans formats them, and notifications are signed with the merchant's server key. The "pay" tool and the tests
drive it with settle / expire / fail, standing in for the shopper and the bank.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import PutError, PynamoDBException

from chalicelib import clock, config
from chalicelib.payments import notification
from chalicelib.payments.gateway import (
    BANK_TRANSFER,
    CARD,
    CONVENIENCE_STORE,
    EWALLET,
    GATEWAY_METHODS,
    MANDIRI,
    QRIS,
    STORES,
    ChargeRequest,
    GatewayError,
    GatewayStatus,
    OrderIdAlreadyUsed,
    OutcomeUnknown,
    PaymentInstructions,
    RefundDeferred,
    RefundRefused,
    RefundResult,
)
from chalicelib.payments.refunds import DEFAULT_CAPABILITIES, quiet_until
from chalicelib.payments.repository import SandboxPaymentModel, arm_sandbox_fault, take_sandbox_fault

PROVIDER = "sandbox"
MERCHANT_NAME = "TOKOKITA"
MERCHANT_ID = "G" + str(int(hashlib.sha256(MERCHANT_NAME.encode()).hexdigest(), 16))[:9]
PUBLIC_BASE_URL = "https://sandbox.tokoflow.local"  # pages the sandbox pretends to host (3DS, QR image, GoPay)

PAYMENT_TYPES = {BANK_TRANSFER: "bank_transfer", QRIS: "qris", EWALLET: "gopay", CARD: "credit_card",
                 CONVENIENCE_STORE: "cstore"}
MANDIRI_BILLER_CODE = "70012"  # Mandiri bill payment's company code for Midtrans
# Virtual account numbers: the bank's company prefix plus a number unique to the order, Midtrans' lengths.
VA_FORMATS: dict[str, tuple[str, int]] = {
    "bca": ("12345", 11),
    "bni": ("9888", 12),
    "bri": ("88608", 13),
    "permata": ("8778", 12),
    "cimb": ("1899", 12),
    MANDIRI: ("", 12),  # a bill key, paid with the biller code
}

# status_code per transaction_status, as the status API reports it (Midtrans "code statuses" reference).
STATUS_CODES = {
    "pending": "201",
    "authorize": "200",
    "capture": "200",
    "settlement": "200",
    "cancel": "200",
    "deny": "202",
    "failure": "202",
    "expire": "407",
    "refund": "200",
    "partial_refund": "200",
    "chargeback": "200",
    "partial_chargeback": "200",
}
# Notifications differ in one place: Midtrans' sample expiry notification carries "202", the status API "407".
NOTIFICATION_STATUS_CODES = {**STATUS_CODES, "expire": "202"}

_MIDTRANS_TIME = "%Y-%m-%d %H:%M:%S"
_SAVE_ATTEMPTS = 5
_CANNOT_MODIFY = "Merchant cannot modify the status of the transaction"

# Faults the sandbox produces on demand (`arm`), as real gateways do between the happy paths.
TIMEOUT_AFTER, TIMEOUT_BEFORE, ERROR_5XX, ALREADY_USED = "timeout_after", "timeout_before", "error_5xx", "already_used"
CHARGE_FAULTS = (TIMEOUT_AFTER, TIMEOUT_BEFORE, ERROR_5XX, ALREADY_USED)
DROP, TWICE, OUT_OF_ORDER = "drop", "twice", "out_of_order"
NOTIFY_FAULTS = (DROP, TWICE, OUT_OF_ORDER)
FAULTS = {"charge": CHARGE_FAULTS, "notify": NOTIFY_FAULTS}


def arm(operation: str, fault: str, *, times: int = 1) -> None:
    """Make the next `times` runs of `operation` ("charge", "notify") fail as `fault` says; the faults live in the
    sandbox's own table, so a test, the running local stack and `make payment-fault` all see them."""
    if fault not in FAULTS.get(operation, ()):
        raise ValueError(f"unknown fault {operation}:{fault}; known: "
                         + ", ".join(f"{op}:{name}" for op, names in FAULTS.items() for name in names))
    if times < 0:
        raise ValueError("times must be 0 (disarm) or more")
    arm_sandbox_fault(operation, fault, times)


class SandboxGateway:
    """PaymentGateway implementation backed by the sandbox-payments table."""

    name = PROVIDER

    # -- the port --------------------------------------------------------------------------------------------

    def charge(self, request: ChargeRequest) -> PaymentInstructions:
        """Open a pending transaction. As strict as Midtrans: an order id already used (even by an identical
        charge whose answer was lost) is refused with 406; the shop recovers its instructions (`recover`).
        An armed fault may time out before or after acting, answer 5xx, or answer 406 after acting."""
        fault = take_sandbox_fault("charge")
        if fault == TIMEOUT_BEFORE:
            raise OutcomeUnknown(f"sandbox: charge of {request.order_id} timed out (nothing was recorded)")
        if fault == ERROR_5XX:
            raise OutcomeUnknown(f"sandbox (500): internal error charging {request.order_id}")
        instructions = self._charge(request)
        if fault == TIMEOUT_AFTER:
            raise OutcomeUnknown(f"sandbox: charge of {request.order_id} timed out (the answer was lost)")
        if fault == ALREADY_USED:
            raise OrderIdAlreadyUsed(f"sandbox (406): order_id {request.order_id} has been paid and utilized")
        return instructions

    def recover(self, request: ChargeRequest) -> PaymentInstructions | None:
        """The instructions of the transaction already held for the order, as the status API lets the shop
        rebuild them; None when there is none."""
        item = self._find(request.order_id)
        return instructions(item) if item is not None else None

    def _charge(self, request: ChargeRequest) -> PaymentInstructions:
        if request.method not in GATEWAY_METHODS:
            raise GatewayError(f"sandbox: unsupported payment method {request.method!r}")
        if request.amount <= 0:
            raise GatewayError("sandbox: gross_amount must be a positive whole number of Rupiah")
        bank = request.bank.lower() if request.method == BANK_TRANSFER else None
        if bank is not None and bank not in VA_FORMATS:
            raise GatewayError(f"sandbox: unsupported bank {request.bank!r} (one of {', '.join(VA_FORMATS)})")
        if request.method == CONVENIENCE_STORE:
            if request.store not in STORES:
                raise GatewayError(f"sandbox: unsupported store {request.store!r} (one of {', '.join(STORES)})")
            bank = request.store  # the sandbox keeps the store where a virtual account keeps its bank
        now = clock.now()
        item = SandboxPaymentModel(
            request.order_id,
            amount=request.amount,
            method=request.method,
            transaction_id=str(uuid.uuid4()),
            transaction_status="pending",
            fraud_status=None if request.method == CARD else "accept",
            payment_type="echannel" if bank == MANDIRI else PAYMENT_TYPES[request.method],
            va_number=(payment_code(request.order_id) if request.method == CONVENIENCE_STORE
                       else virtual_account(bank, request.order_id) if bank else None),
            bank=bank,
            created_at=clock.iso(now),
            updated_at=clock.iso(now),
            expires_at=clock.iso(now + timedelta(minutes=request.expiry_minutes)),
        )
        try:
            item.save(condition=SandboxPaymentModel.order_id.does_not_exist())
        except PutError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise GatewayError(f"sandbox: could not record the charge: {error}") from error
            raise OrderIdAlreadyUsed(f"sandbox (406): order_id {request.order_id} has been paid and utilized, "
                                     "please use another order ID") from None
        return instructions(item)

    def status(self, order_id: str) -> GatewayStatus | None:
        item = self._find(order_id)
        if item is None:
            return None
        return _status(item)

    def refund(self, order_id: str, *, amount: int, reason: str, refund_key: str) -> RefundResult:
        """Refund part or all of a paid transaction; the same refund_key never refunds twice.

        As strict as Midtrans: only the payment types its refund API covers, only inside their windows after
        settlement (refunds.DEFAULT_CAPABILITIES holds the published facts), never more than is left.
        """

        def change(item: SandboxPaymentModel) -> bool:
            if refund_key in item.refunds:
                return False
            capability = DEFAULT_CAPABILITIES.get(item.payment_type)
            if capability is None or not capability.by_gateway:
                raise RefundRefused(f"sandbox (412): {item.payment_type} payments cannot be refunded through the API")
            if not _refundable(item):
                raise RefundRefused(f"sandbox (412): cannot refund a {item.transaction_status} transaction")
            paid_at = clock.parse_iso(item.settled_at or item.created_at)
            if capability.window_days is not None and clock.now() - paid_at > timedelta(days=capability.window_days):
                raise RefundRefused(f"sandbox (412): the {capability.window_days}-day refund window of "
                                    f"{item.payment_type} has passed")
            if _refunded(item) and not capability.partial:
                raise RefundRefused(f"sandbox (412): {item.payment_type} allows one refund only")
            opens = quiet_until(capability, clock.now())
            if opens is not None:
                raise RefundDeferred(f"sandbox: {item.payment_type} takes no refunds until {opens:%H:%M} WIB")
            remaining = _gross(item) - _refunded(item)
            if amount <= 0 or amount > remaining:
                raise GatewayError(f"sandbox (412): refund amount {amount} exceeds the refundable {remaining}")
            item.refunds = {
                **item.refunds,
                refund_key: {"amount": amount, "reason": reason, "created_at": clock.now_iso()},
            }
            item.transaction_status = "refund" if _refunded(item) >= _gross(item) else "partial_refund"
            return True

        item = self._transition(order_id, change)
        recorded = item.refunds[refund_key]
        return RefundResult(
            order_id=order_id,
            amount=int(recorded["amount"]),
            refund_key=refund_key,
            status="refunded",
            raw=_payload(item, STATUS_CODES),
        )

    def cancel(self, order_id: str) -> GatewayStatus:
        """Cancel an unpaid (or captured, not yet settled) transaction, as Midtrans allows."""
        return self._move(order_id, "cancel", allowed_from=("pending", "authorize", "capture"))

    # -- driving the sandbox (the shopper's and the bank's side) ----------------------------------------------

    def settle(self, order_id: str, *, amount: int | None = None) -> GatewayStatus:
        """The shopper pays. Cards are captured first (paid, settled the next day: settle again to settle);
        other methods settle at once. `amount` simulates paying a different sum than was charged."""
        if amount is not None and amount <= 0:
            raise GatewayError("sandbox: a payment must be a positive whole number of Rupiah")

        def change(item: SandboxPaymentModel) -> bool:
            status = item.transaction_status
            if status == "settlement":
                return False
            if status == "pending":
                item.paid_amount = amount if amount is not None else int(item.amount)
                if item.method == CARD:
                    item.transaction_status, item.fraud_status = "capture", "accept"
                else:
                    item.transaction_status, item.settled_at = "settlement", clock.now_iso()
                return True
            if status == "capture" and item.fraud_status == "accept":
                item.transaction_status, item.settled_at = "settlement", clock.now_iso()
                return True
            raise GatewayError(f"sandbox (412): cannot settle a {status} transaction")

        return _status(self._transition(order_id, change))

    def expire(self, order_id: str) -> GatewayStatus:
        """The payment window ran out before the shopper paid."""
        return self._move(order_id, "expire", allowed_from=("pending",))

    def fail(self, order_id: str, status: str = "deny") -> GatewayStatus:
        """The bank or fraud detection refused the payment ("deny"), or the provider broke down ("failure")."""
        if status not in ("deny", "failure"):
            raise ValueError(f"fail: status must be 'deny' or 'failure', not {status!r}")
        return self._move(order_id, status, allowed_from=("pending", "authorize"))

    def reverse(self, order_id: str, to: str = "deny") -> GatewayStatus:
        """A settlement the bank takes back (Midtrans reports it for some virtual-account and convenience-store
        payments): settlement -> deny or cancel."""
        if to not in ("deny", "cancel"):
            raise ValueError(f"reverse: to must be 'deny' or 'cancel', not {to!r}")
        return self._move(order_id, to, allowed_from=("settlement",))

    def hold(self, order_id: str) -> GatewayStatus:
        """The card is charged but fraud detection holds it for the merchant's review: capture + challenge."""

        def change(item: SandboxPaymentModel) -> bool:
            if item.transaction_status == "capture" and item.fraud_status == "challenge":
                return False
            if item.method != CARD or item.transaction_status != "pending":
                raise GatewayError(f"sandbox (412): only a pending card payment can be held for review "
                                   f"({item.method} {item.transaction_status})")
            item.paid_amount = int(item.amount)
            item.transaction_status, item.fraud_status = "capture", "challenge"
            return True

        return _status(self._transition(order_id, change))

    def approve(self, order_id: str) -> GatewayStatus:
        """The merchant accepts a payment held for review (Midtrans POST /v2/{order_id}/approve)."""
        return self._review(order_id, accept=True)

    def deny(self, order_id: str) -> GatewayStatus:
        """The merchant refuses a payment held for review (Midtrans POST /v2/{order_id}/deny)."""
        return self._review(order_id, accept=False)

    def _review(self, order_id: str, *, accept: bool) -> GatewayStatus:
        def change(item: SandboxPaymentModel) -> bool:
            if item.transaction_status == "capture" and item.fraud_status == "challenge":
                item.fraud_status = "accept" if accept else "deny"
                if not accept:
                    item.transaction_status = "deny"
                return True
            raise GatewayError(f"sandbox (412): {_CANNOT_MODIFY}: only a challenged capture can be "
                               f"{'approved' if accept else 'denied'} ({item.transaction_status})")

        return _status(self._transition(order_id, change))

    def deliveries(self, order_id: str, *, server_key: str) -> list[dict[str, Any]]:
        """The notifications Midtrans would send now: normally one; with an armed "notify" fault none (dropped),
        the same one twice, or a stale "pending" one after it (out of order)."""
        current = self.notification_for(order_id, server_key=server_key)
        fault = take_sandbox_fault("notify")
        if fault == DROP:
            return []
        if fault == TWICE:
            return [current, dict(current)]
        if fault == OUT_OF_ORDER:
            stale = {**current, "transaction_status": "pending", "status_code": "201"}
            stale.pop("settlement_time", None)
            stale.pop("fraud_status", None)
            stale["signature_key"] = notification.signature(stale["order_id"], stale["status_code"],
                                                            stale["gross_amount"], server_key)
            return [current, stale]
        return [current]

    def notification_for(self, order_id: str, *, server_key: str) -> dict[str, Any]:
        """The HTTP notification Midtrans would POST for the transaction's current state, correctly signed."""
        if not server_key:
            raise GatewayError("sandbox: a server key is needed to sign notifications")
        payload = _payload(self._require(order_id), NOTIFICATION_STATUS_CODES)
        payload["status_message"] = "midtrans payment notification"
        payload["signature_key"] = notification.signature(
            payload["order_id"], payload["status_code"], payload["gross_amount"], server_key
        )
        return payload

    # -- books ------------------------------------------------------------------------------------------------

    def _find(self, order_id: str) -> SandboxPaymentModel | None:
        try:
            return SandboxPaymentModel.get(order_id, consistent_read=True)
        except SandboxPaymentModel.DoesNotExist:
            return None
        except PynamoDBException as error:
            raise GatewayError(f"sandbox: could not read order {order_id}: {error}") from error

    def _require(self, order_id: str) -> SandboxPaymentModel:
        item = self._find(order_id)
        if item is None:
            raise GatewayError(f"sandbox (404): transaction doesn't exist for order {order_id}")
        return item

    def _move(self, order_id: str, target: str, *, allowed_from: tuple[str, ...]) -> GatewayStatus:
        def change(item: SandboxPaymentModel) -> bool:
            if item.transaction_status == target:
                return False
            if item.transaction_status not in allowed_from:
                raise GatewayError(f"sandbox (412): {_CANNOT_MODIFY} ({item.transaction_status} -> {target})")
            item.transaction_status = target
            if target == "deny":
                item.fraud_status = "deny"
            return True

        return _status(self._transition(order_id, change))

    def _transition(self, order_id: str, change: Callable[[SandboxPaymentModel], bool]) -> SandboxPaymentModel:
        """Read, change, save under the version check; re-read and retry if someone else moved it meanwhile."""
        for _ in range(_SAVE_ATTEMPTS):
            item = self._require(order_id)
            if not change(item):
                return item
            item.updated_at = clock.now_iso()
            try:
                item.save()
            except PutError as error:
                if error.cause_response_code != "ConditionalCheckFailedException":
                    raise GatewayError(f"sandbox: could not update order {order_id}: {error}") from error
                continue
            return item
        raise GatewayError(f"sandbox: order {order_id} kept changing; try again")


def _gross(item: SandboxPaymentModel) -> int:
    return int(item.paid_amount if item.paid_amount is not None else item.amount)


def _refunded(item: SandboxPaymentModel) -> int:
    return sum(int(entry["amount"]) for entry in (item.refunds or {}).values())


def _refundable(item: SandboxPaymentModel) -> bool:
    status = item.transaction_status
    return status in ("settlement", "partial_refund") or (status == "capture" and item.fraud_status == "accept")


def _midtrans_time(iso_text: str) -> str:
    """Midtrans writes times as Jakarta local time without a zone."""
    return clock.parse_iso(iso_text).astimezone(clock.JAKARTA).strftime(_MIDTRANS_TIME)


def _digits(seed: str, count: int) -> str:
    """`count` decimal digits derived from `seed`: stable across retries, spread across orders."""
    number = int(hashlib.sha256(seed.encode()).hexdigest(), 16)
    return f"{number % 10**count:0{count}d}"


def virtual_account(bank: str, order_id: str) -> str:
    prefix, length = VA_FORMATS[bank]
    return prefix + _digits(f"va:{bank}:{order_id}", length)


def payment_code(order_id: str) -> str:
    """A convenience-store payment code the cashier types in: 16 digits unique to the order."""
    return _digits(f"cstore:{order_id}", 16)


def _tlv(tag: str, value: str) -> str:
    return f"{tag}{len(value):02d}{value}"


def crc16_ccitt(text: str) -> int:
    """CRC-16/CCITT-FALSE, the checksum EMVCo QR codes (QRIS included) end with."""
    crc = 0xFFFF
    for byte in text.encode():
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def qris_payload(transaction_id: str, amount: int) -> str:
    """A dynamic QRIS (EMVCo merchant-presented) payload: scannable-looking, with the amount and a real CRC."""
    city = config.shop().city.upper()[:15]
    merchant_account = (
        _tlv("00", "COM.GO-JEK.WWW")
        + _tlv("01", "93600914" + _digits(f"pan:{MERCHANT_NAME}", 10))
        + _tlv("02", MERCHANT_ID)
        + _tlv("03", "UMI")
    )
    nmid = "ID" + _digits(f"nmid:{MERCHANT_NAME}", 13)  # QRIS national merchant id
    national = _tlv("00", "ID.CO.QRIS.WWW") + _tlv("02", nmid) + _tlv("03", "UMI")
    body = (
        _tlv("00", "01")  # payload format indicator
        + _tlv("01", "12")  # dynamic: one amount, one payment
        + _tlv("26", merchant_account)
        + _tlv("51", national)
        + _tlv("52", "5399")  # merchant category: miscellaneous general merchandise
        + _tlv("53", "360")  # IDR
        + _tlv("54", str(amount))
        + _tlv("58", "ID")
        + _tlv("59", MERCHANT_NAME)
        + _tlv("60", city)
        + _tlv("62", _tlv("05", transaction_id))
        + "6304"
    )
    return body + f"{crc16_ccitt(body):04X}"


def gopay_deeplink(transaction_id: str, amount: int) -> str:
    tref = _digits(f"tref:{transaction_id}", 19) + hashlib.sha256(transaction_id.encode()).hexdigest()[:4].upper()
    return f"gojek://gopay/merchanttransfer?tref={tref}&amount={amount}&activity=GP:RR"


def instructions(item: SandboxPaymentModel) -> PaymentInstructions:
    """What the shopper is shown; derived from the books alone, so a repeated charge shows the same."""
    transaction_id, amount = item.transaction_id, int(item.amount)
    extra: dict[str, str | None] = {}
    if item.method == BANK_TRANSFER and item.bank == MANDIRI:
        extra = {"bank": MANDIRI, "biller_code": MANDIRI_BILLER_CODE, "bill_key": item.va_number}
    elif item.method == BANK_TRANSFER:
        extra = {"bank": item.bank, "va_number": item.va_number}
    elif item.method == CONVENIENCE_STORE:
        extra = {"store": item.bank, "payment_code": item.va_number}
    elif item.method == QRIS:
        extra = {
            "qr_string": qris_payload(transaction_id, amount),
            "redirect_url": f"{PUBLIC_BASE_URL}/qris/{transaction_id}/qr-code",
        }
    elif item.method == EWALLET:
        extra = {
            "deeplink_url": gopay_deeplink(transaction_id, amount),
            "redirect_url": f"{PUBLIC_BASE_URL}/gopay/{transaction_id}/pay",
        }
    elif item.method == CARD:
        extra = {"redirect_url": f"{PUBLIC_BASE_URL}/3ds/{transaction_id}"}
    return PaymentInstructions(
        provider=PROVIDER,
        method=item.method,
        transaction_id=transaction_id,
        amount=amount,
        expires_at=item.expires_at,
        **extra,
    )


def _payload(item: SandboxPaymentModel, codes: dict[str, str]) -> dict[str, Any]:
    """The transaction in Midtrans' JSON shape (status API answer; notifications add their own fields)."""
    status = item.transaction_status
    payload: dict[str, Any] = {
        "transaction_time": _midtrans_time(item.created_at),
        "transaction_status": status,
        "transaction_id": item.transaction_id,
        "status_message": "Success, transaction is found",
        "status_code": codes.get(status, "200"),
        "payment_type": item.payment_type,
        "order_id": item.order_id,
        "merchant_id": MERCHANT_ID,
        "gross_amount": f"{_gross(item)}.00",
        "currency": "IDR",
        "expiry_time": _midtrans_time(item.expires_at),
    }
    if item.fraud_status:
        payload["fraud_status"] = item.fraud_status
    if item.settled_at:
        payload["settlement_time"] = _midtrans_time(item.settled_at)
    if item.method == BANK_TRANSFER:
        if item.bank == MANDIRI:
            payload.update({"bill_key": item.va_number, "biller_code": MANDIRI_BILLER_CODE})
        elif item.bank == "permata":
            payload["permata_va_number"] = item.va_number
        else:
            payload["va_numbers"] = [{"bank": item.bank, "va_number": item.va_number}]
    if item.method == CONVENIENCE_STORE:
        payload.update({"store": item.bank, "payment_code": item.va_number})
    if item.method == CARD:
        payload.update({"masked_card": "481111-1114", "card_type": "credit", "bank": "bni", "eci": "05"})
        if status in ("capture", "settlement", "refund", "partial_refund"):
            payload.update(
                {
                    "approval_code": _digits(f"approval:{item.transaction_id}", 6),
                    "channel_response_code": "00",
                    "channel_response_message": "Approved",
                }
            )
    if item.refunds:
        payload["refund_amount"] = f"{_refunded(item)}.00"
        payload["refunds"] = [
            {
                "refund_key": key,
                "refund_amount": f"{int(entry['amount'])}.00",
                "reason": entry.get("reason", ""),
                "created_at": _midtrans_time(entry["created_at"]),
            }
            for key, entry in sorted(item.refunds.items(), key=lambda pair: pair[1]["created_at"])
        ]
    return payload


def _status(item: SandboxPaymentModel) -> GatewayStatus:
    raw = _payload(item, STATUS_CODES)
    return GatewayStatus(
        order_id=item.order_id,
        transaction_status=item.transaction_status,
        gross_amount=raw["gross_amount"],
        payment_type=item.payment_type,
        transaction_id=item.transaction_id,
        fraud_status=item.fraud_status,
        status_code=raw["status_code"],
        raw=raw,
    )


__all__ = [
    "FAULTS",
    "MERCHANT_NAME",
    "SandboxGateway",
    "SandboxPaymentModel",
    "arm",
    "crc16_ccitt",
    "gopay_deeplink",
    "instructions",
    "qris_payload",
    "virtual_account",
]
