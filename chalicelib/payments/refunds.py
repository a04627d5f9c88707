"""How money goes back, by payment type: the refund capability table and the choice between the gateway's
refund API and a manual bank-transfer payout. Plain Python.

Midtrans refunds through its API only card, GoPay, ShopeePay, DANA, OVO, QRIS, Kredivo and Akulaku, each
within its own window after payment; virtual accounts, Mandiri bill, convenience stores and cash on delivery
cannot be refunded through any API, so the shop pays the customer by bank transfer and records it. The table
is configuration (TOKOFLOW_REFUND_CAPABILITIES, JSON) with Midtrans' published facts as defaults.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

GATEWAY, PAYOUT = "gateway", "payout"
# A payout's life: the customer gives a bank account, finance transfers and confirms with its reference.
AWAITING_ACCOUNT, PENDING, PAID = "awaiting_account", "pending", "paid"
PAYOUT_STATUSES = (AWAITING_ACCOUNT, PENDING, PAID)


@dataclass(frozen=True)
class RefundCapability:
    """What the gateway's refund API accepts for one payment type."""

    payment_type: str
    by_gateway: bool  # refundable through the gateway's API at all
    window_days: int | None = None  # days after payment the API still refunds; None: no published limit
    partial: bool = True  # several partial refunds allowed
    quiet_hours: tuple[str, str] | None = None  # ("23:55", "06:00") WIB: no refunds between, wait for the end

    def to_dict(self) -> dict[str, object]:
        return {"payment_type": self.payment_type, "by_gateway": self.by_gateway, "window_days": self.window_days,
                "partial": self.partial, "quiet_hours": list(self.quiet_hours) if self.quiet_hours else None}


def _cap(payment_type: str, by_gateway: bool, window_days: int | None = None, partial: bool = True,
         quiet_hours: tuple[str, str] | None = None) -> RefundCapability:
    return RefundCapability(payment_type, by_gateway, window_days, partial, quiet_hours)


# Midtrans' published facts (QRIS: the shorter off-us window; on-us GoPay 45 and ShopeePay 365 days are longer).
DEFAULT_CAPABILITIES: Mapping[str, RefundCapability] = {cap.payment_type: cap for cap in (
    _cap("credit_card", True),
    _cap("gopay", True),
    _cap("shopeepay", True, quiet_hours=("23:55", "06:00")),
    _cap("dana", True, window_days=45),
    _cap("ovo", True, window_days=7),
    _cap("qris", True, window_days=7),
    _cap("kredivo", True, window_days=14),
    _cap("akulaku", True),
    _cap("bank_transfer", False),
    _cap("echannel", False),
    _cap("cstore", False),
    _cap("cod", False),
)}


def capabilities_from(text: str | None) -> dict[str, RefundCapability]:
    """The defaults, with any payment type overridden or added by a JSON list of capabilities.

    Raises ValueError naming the problem, so a bad setting fails loudly rather than refunding the wrong way.
    """
    table = dict(DEFAULT_CAPABILITIES)
    if not text or not text.strip():
        return table
    entries = json.loads(text)
    if not isinstance(entries, list):
        raise ValueError("must be a JSON list of {payment_type, by_gateway, window_days, partial}")
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("payment_type"), str) \
                or not isinstance(entry.get("by_gateway"), bool):
            raise ValueError(f"entry {entry!r} needs a payment_type (text) and by_gateway (true or false)")
        window, partial = entry.get("window_days"), entry.get("partial", True)
        if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 0):
            raise ValueError(f"entry {entry['payment_type']}: window_days must be a whole number of days or null")
        if not isinstance(partial, bool):
            raise ValueError(f"entry {entry['payment_type']}: partial must be true or false")
        quiet = entry.get("quiet_hours")
        if quiet is not None:
            if not (isinstance(quiet, list) and len(quiet) == 2 and all(isinstance(at, str) for at in quiet)):
                raise ValueError(f"entry {entry['payment_type']}: quiet_hours must be [\"HH:MM\", \"HH:MM\"] (WIB)")
            try:
                [time.fromisoformat(at) for at in quiet]
            except ValueError:
                raise ValueError(f"entry {entry['payment_type']}: quiet_hours must be [\"HH:MM\", \"HH:MM\"] "
                                 "(WIB)") from None
        table[entry["payment_type"]] = RefundCapability(entry["payment_type"], entry["by_gateway"], window, partial,
                                                        (quiet[0], quiet[1]) if quiet else None)
    return table


WIB = ZoneInfo("Asia/Jakarta")


def quiet_until(capability: RefundCapability | None, now: datetime) -> datetime | None:
    """When the gateway takes refunds of this type again if `now` falls in its quiet hours (ShopeePay refuses
    refunds between 23:55 and 06:00 WIB), else None. The hours are Jakarta wall-clock times and may span
    midnight."""
    if capability is None or not capability.quiet_hours:
        return None
    start, end = (time.fromisoformat(at) for at in capability.quiet_hours)
    local = now.astimezone(WIB)
    clock_time = local.time().replace(tzinfo=None)
    spans_midnight = start > end
    inside = (clock_time >= start or clock_time < end) if spans_midnight else start <= clock_time < end
    if not inside:
        return None
    opens_on = local.date() + timedelta(days=1) if spans_midnight and clock_time >= start else local.date()
    return datetime.combine(opens_on, end, tzinfo=WIB)


def route(payment_type: str, *, paid_at: datetime | None, now: datetime, amount: int, paid: int,
          capabilities: Mapping[str, RefundCapability]) -> str:
    """GATEWAY when the gateway's API can give this money back now, else PAYOUT (a bank transfer by the shop).

    An unknown payment type, an unknown payment time for a windowed type, or a partial refund the type does
    not allow all go to a payout: a refund the gateway might refuse is never tried as if it would succeed.
    """
    capability = capabilities.get(payment_type)
    if capability is None or not capability.by_gateway:
        return PAYOUT
    if capability.window_days is not None:
        if paid_at is None or now - paid_at > timedelta(days=capability.window_days):
            return PAYOUT
    if amount < paid and not capability.partial:
        return PAYOUT
    return GATEWAY


@dataclass(frozen=True)
class BankAccount:
    bank: str
    account_number: str
    account_holder: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Payout:
    """A refund the shop pays by bank transfer, named by its refund key (one payout per refund)."""

    payout_id: str
    order_id: str
    amount: int
    reason: str
    status: str
    created_at: str
    account: BankAccount | None = None
    transfer_reference: str | None = None
    paid_by: str | None = None
    paid_at: str | None = None
    waiting_token: str | None = None

    def to_dict(self, *, for_finance: bool = False) -> dict[str, object]:
        """Finance sees the whole account number to make the transfer; anyone else only its last four digits."""
        account = self.account.to_dict() if self.account else None
        if account and not for_finance:
            account["account_number"] = "*" * max(0, len(account["account_number"]) - 4) + \
                account["account_number"][-4:]
        return {"payout_id": self.payout_id, "order_id": self.order_id, "amount": self.amount,
                "reason": self.reason, "status": self.status, "created_at": self.created_at, "account": account,
                "transfer_reference": self.transfer_reference, "paid_at": self.paid_at}


TRANSFER_REFERENCE_PATTERN = r"[A-Za-z0-9][A-Za-z0-9 ._/\-]{2,63}"  # a bank transfer's reference, from finance

# Banks a refund can be transferred to (BI codes are what finance's bank asks for; the names are what customers
# type). Unknown banks are refused by name so a transfer is never made to a guessed bank.
BANKS = ("bca", "bni", "bri", "mandiri", "permata", "cimb", "danamon", "btn", "bsi", "ocbc", "panin", "maybank",
         "jago", "seabank", "blu")


def account_number(value: object) -> str:
    """Digits only (spaces and dashes as people write them are dropped), 6 to 20 of them."""
    if not isinstance(value, str):
        raise ValueError("must be text")
    digits = "".join(ch for ch in value if ch not in " -")
    if not digits.isascii() or not digits.isdigit() or not 6 <= len(digits) <= 20:
        raise ValueError("must be 6 to 20 digits")
    return digits
