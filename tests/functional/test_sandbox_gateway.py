"""The sandbox gateway on a mocked AWS account: idempotent, realistic charges; Midtrans' lifecycle; signed
notifications the webhook code accepts exactly as it would accept Midtrans' own."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import clock
from chalicelib.payments import notification
from chalicelib.payments.gateway import (
    BANK_TRANSFER,
    CARD,
    CONVENIENCE_STORE,
    EWALLET,
    GATEWAY_METHODS,
    QRIS,
    ChargeRequest,
    GatewayError,
    OrderIdAlreadyUsed,
    PaymentInstructions,
    RefundRefused,
)
from chalicelib.payments.sandbox import SandboxGateway, SandboxPaymentModel, crc16_ccitt

SERVER_KEY = "SB-Mid-server-TEST-KEY"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture
def sandbox(aws: Any) -> SandboxGateway:
    return SandboxGateway()


def charge_request(method: str, order_id: str = "TF-1", amount: int = 150000, **overrides: Any) -> ChargeRequest:
    return ChargeRequest(
        order_id=order_id,
        amount=amount,
        method=method,
        customer_name="Sari",
        customer_email="sari@example.com",
        customer_phone="+6281234567890",
        expiry_minutes=overrides.pop("expiry_minutes", 60),
        **overrides,
    )


def verified(payload: dict[str, Any]) -> notification.MidtransNotification:
    assert notification.verify_signature(payload, SERVER_KEY)
    return notification.parse_notification(payload)


# -- charge ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", GATEWAY_METHODS)
def test_charging_an_order_id_again_is_refused_like_midtrans_and_its_instructions_are_recovered(
        sandbox: SandboxGateway, method: str) -> None:
    first = sandbox.charge(charge_request(method))
    with pytest.raises(OrderIdAlreadyUsed, match="406"):
        sandbox.charge(charge_request(method))  # Midtrans: an order id in use is refused, even by the same charge
    assert sandbox.recover(charge_request(method)) == first
    assert first.provider == "sandbox" and first.method == method and first.amount == 150000
    assert UUID.fullmatch(first.transaction_id)
    assert len(list(SandboxPaymentModel.scan())) == 1
    assert sandbox.recover(charge_request(method, order_id="TF-NEVER")) is None


def test_different_orders_get_different_transactions(sandbox: SandboxGateway) -> None:
    one = sandbox.charge(charge_request(BANK_TRANSFER, order_id="TF-1"))
    two = sandbox.charge(charge_request(BANK_TRANSFER, order_id="TF-2"))
    assert one.transaction_id != two.transaction_id and one.va_number != two.va_number


def test_a_different_charge_for_a_used_order_id_is_refused(sandbox: SandboxGateway) -> None:
    sandbox.charge(charge_request(BANK_TRANSFER))
    with pytest.raises(GatewayError, match="406"):
        sandbox.charge(charge_request(QRIS))
    with pytest.raises(GatewayError, match="406"):
        sandbox.charge(charge_request(BANK_TRANSFER, amount=1))
    with pytest.raises(GatewayError, match="406"):
        sandbox.charge(charge_request(BANK_TRANSFER, bank="bni"))


def test_concurrent_charges_for_one_order_make_one_transaction(sandbox: SandboxGateway,
                                                                atomic_requests: None) -> None:
    def attempt(_: int) -> str:
        try:
            return sandbox.charge(charge_request(QRIS)).transaction_id
        except OrderIdAlreadyUsed:
            return "406"

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(attempt, range(4)))
    assert results.count("406") == 3 and len(list(SandboxPaymentModel.scan())) == 1


def test_bank_transfer_gets_a_bca_virtual_account(sandbox: SandboxGateway) -> None:
    before = clock.now()
    instructions = sandbox.charge(charge_request(BANK_TRANSFER, bank="BCA", expiry_minutes=90))
    assert instructions.bank == "bca"
    assert instructions.va_number is not None and re.fullmatch(r"12345\d{11}", instructions.va_number)
    assert instructions.qr_string is None and instructions.redirect_url is None
    expires = clock.parse_iso(instructions.expires_at)
    assert before + timedelta(minutes=89) < expires <= clock.now() + timedelta(minutes=90)
    assert instructions.expires_at.endswith("Z")
    status = sandbox.status("TF-1")
    assert status is not None and status.payment_type == "bank_transfer"


@pytest.mark.parametrize(
    ("bank", "prefix", "length"), [("bni", "9888", 16), ("bri", "88608", 18), ("permata", "8778", 16)]
)
def test_other_banks_have_their_own_va_formats(sandbox: SandboxGateway, bank: str, prefix: str, length: int) -> None:
    instructions = sandbox.charge(charge_request(BANK_TRANSFER, bank=bank))
    va_number = instructions.va_number or ""
    assert instructions.bank == bank and va_number.startswith(prefix) and len(va_number) == length


def test_mandiri_is_a_bill_payment_with_a_biller_code_and_a_bill_key(sandbox: SandboxGateway) -> None:
    instructions = sandbox.charge(charge_request(BANK_TRANSFER, bank="mandiri"))
    assert (instructions.bank, instructions.biller_code, instructions.va_number) == ("mandiri", "70012", None)
    assert instructions.bill_key is not None and re.fullmatch(r"\d{12}", instructions.bill_key)
    status = sandbox.status("TF-1")
    assert status is not None and status.payment_type == "echannel"
    assert (status.raw["bill_key"], status.raw["biller_code"]) == (instructions.bill_key, "70012")
    assert sandbox.recover(charge_request(BANK_TRANSFER, bank="mandiri")) == instructions


@pytest.mark.parametrize("store", ["indomaret", "alfamart"])
def test_a_convenience_store_payment_gets_a_payment_code_for_the_cashier(sandbox: SandboxGateway,
                                                                         store: str) -> None:
    instructions = sandbox.charge(charge_request(CONVENIENCE_STORE, store=store))
    assert instructions.store == store and re.fullmatch(r"\d{16}", instructions.payment_code or "")
    status = sandbox.settle("TF-1")
    assert (status.payment_type, status.transaction_status, status.raw["store"]) == ("cstore", "settlement", store)
    with pytest.raises(RefundRefused):  # Midtrans refunds no convenience-store payment: the shop pays out
        sandbox.refund("TF-1", amount=1000, reason="retur", refund_key="r-1")


def test_an_unknown_store_is_refused(sandbox: SandboxGateway) -> None:
    with pytest.raises(GatewayError, match="store"):
        sandbox.charge(charge_request(CONVENIENCE_STORE, store="warung-sebelah"))


def test_an_unknown_bank_is_refused(sandbox: SandboxGateway) -> None:
    with pytest.raises(GatewayError, match="bank"):
        sandbox.charge(charge_request(BANK_TRANSFER, bank="bank-antah-berantah"))
    assert sandbox.status("TF-1") is None


def test_qris_payload_looks_like_a_dynamic_emvco_code(sandbox: SandboxGateway) -> None:
    instructions = sandbox.charge(charge_request(QRIS, amount=89000))
    qr = instructions.qr_string or ""
    assert qr.startswith("00020101021226")
    assert "TOKOKITA" in qr and "ID.CO.QRIS.WWW" in qr
    assert "5303360" in qr  # currency: IDR
    assert "540589000" in qr  # amount tag, length 5, 89000
    assert instructions.transaction_id in qr  # reference label
    assert qr[-8:-4] == "6304" and qr[-4:] == f"{crc16_ccitt(qr[:-4]):04X}"
    assert instructions.redirect_url is not None and instructions.redirect_url.startswith("https://")
    status = sandbox.status("TF-1")
    assert status is not None and status.payment_type == "qris"


def test_ewallet_gets_a_gopay_deeplink_and_a_web_fallback(sandbox: SandboxGateway) -> None:
    instructions = sandbox.charge(charge_request(EWALLET, amount=125500))
    assert re.fullmatch(
        r"gojek://gopay/merchanttransfer\?tref=\d{19}[0-9A-F]{4}&amount=125500&activity=GP:RR",
        instructions.deeplink_url or "",
    )
    assert (instructions.redirect_url or "").startswith("https://")
    status = sandbox.status("TF-1")
    assert status is not None and status.payment_type == "gopay"


def test_card_gets_a_3ds_redirect(sandbox: SandboxGateway) -> None:
    instructions = sandbox.charge(charge_request(CARD))
    assert instructions.redirect_url == f"https://sandbox.tokoflow.local/3ds/{instructions.transaction_id}"
    status = sandbox.status("TF-1")
    assert status is not None and (status.payment_type, status.fraud_status) == ("credit_card", None)


def test_instructions_serialise_without_empty_fields(sandbox: SandboxGateway) -> None:
    data = sandbox.charge(charge_request(BANK_TRANSFER)).to_dict()
    assert set(data) == {"provider", "method", "transaction_id", "amount", "expires_at", "bank", "va_number"}
    assert isinstance(sandbox.recover(charge_request(BANK_TRANSFER)), PaymentInstructions)


# -- status ------------------------------------------------------------------------------------------------------


def test_status_of_an_unknown_order_is_none(sandbox: SandboxGateway) -> None:
    assert sandbox.status("TF-never") is None


def test_a_new_charge_is_pending(sandbox: SandboxGateway) -> None:
    instructions = sandbox.charge(charge_request(BANK_TRANSFER))
    status = sandbox.status("TF-1")
    assert status is not None
    assert (status.transaction_status, status.status_code, status.gross_amount) == ("pending", "201", "150000.00")
    assert status.transaction_id == instructions.transaction_id
    assert status.raw["va_numbers"] == [{"bank": "bca", "va_number": instructions.va_number}]
    assert status.raw["currency"] == "IDR"
    assert notification.outcome(status.transaction_status, status.fraud_status) == notification.PENDING


# -- transitions -------------------------------------------------------------------------------------------------


def test_settle_marks_a_transfer_paid(sandbox: SandboxGateway) -> None:
    sandbox.charge(charge_request(BANK_TRANSFER))
    settled = sandbox.settle("TF-1")
    assert (settled.transaction_status, settled.status_code, settled.gross_amount) == ("settlement", "200", "150000.00")
    assert settled.raw["settlement_time"]
    assert sandbox.status("TF-1") == settled
    assert sandbox.settle("TF-1") == settled  # settling again changes nothing


def test_settle_with_a_different_amount_shows_in_status(sandbox: SandboxGateway) -> None:
    sandbox.charge(charge_request(BANK_TRANSFER, amount=150000))
    sandbox.settle("TF-1", amount=149000)
    status = sandbox.status("TF-1")
    assert status is not None and status.gross_amount == "149000.00"
    assert notification.amount_of(status.gross_amount) == 149000


def test_a_card_is_captured_then_settled(sandbox: SandboxGateway) -> None:
    sandbox.charge(charge_request(CARD))
    captured = sandbox.settle("TF-1")
    assert (captured.transaction_status, captured.fraud_status, captured.status_code) == ("capture", "accept", "200")
    assert notification.outcome(captured.transaction_status, captured.fraud_status) == notification.PAID
    assert "settlement_time" not in captured.raw
    settled = sandbox.settle("TF-1")
    assert settled.transaction_status == "settlement" and settled.raw["settlement_time"]


def test_expire(sandbox: SandboxGateway) -> None:
    sandbox.charge(charge_request(QRIS))
    expired = sandbox.expire("TF-1")
    assert (expired.transaction_status, expired.status_code) == ("expire", "407")
    assert sandbox.expire("TF-1") == expired
    with pytest.raises(GatewayError, match="412"):
        sandbox.settle("TF-1")  # too late to pay
    with pytest.raises(GatewayError, match="412"):
        sandbox.cancel("TF-1")


@pytest.mark.parametrize(("status", "fraud"), [("deny", "deny"), ("failure", "accept")])
def test_fail(sandbox: SandboxGateway, status: str, fraud: str) -> None:
    sandbox.charge(charge_request(EWALLET))
    failed = sandbox.fail("TF-1", status=status)
    assert (failed.transaction_status, failed.status_code, failed.fraud_status) == (status, "202", fraud)
    assert notification.outcome(failed.transaction_status, failed.fraud_status) == notification.FAILED


def test_fail_only_takes_failure_statuses(sandbox: SandboxGateway) -> None:
    sandbox.charge(charge_request(EWALLET))
    with pytest.raises(ValueError, match="settlement"):
        sandbox.fail("TF-1", status="settlement")


def test_a_paid_transaction_cannot_expire_fail_or_cancel(sandbox: SandboxGateway) -> None:
    sandbox.charge(charge_request(BANK_TRANSFER))
    sandbox.settle("TF-1")
    for move in (sandbox.expire, sandbox.fail, sandbox.cancel):
        with pytest.raises(GatewayError, match="412"):
            move("TF-1")
    status = sandbox.status("TF-1")
    assert status is not None and status.transaction_status == "settlement"


def test_cancel_a_pending_transaction(sandbox: SandboxGateway) -> None:
    sandbox.charge(charge_request(BANK_TRANSFER))
    cancelled = sandbox.cancel("TF-1")
    assert (cancelled.transaction_status, cancelled.status_code) == ("cancel", "200")
    assert sandbox.cancel("TF-1") == cancelled
    assert notification.outcome("cancel", cancelled.fraud_status) == notification.FAILED


def test_cancel_a_captured_card(sandbox: SandboxGateway) -> None:
    sandbox.charge(charge_request(CARD))
    sandbox.settle("TF-1")
    assert sandbox.cancel("TF-1").transaction_status == "cancel"


def test_moves_on_an_unknown_order_are_gateway_errors(sandbox: SandboxGateway) -> None:
    for move in (sandbox.settle, sandbox.expire, sandbox.fail, sandbox.cancel):
        with pytest.raises(GatewayError, match="404"):
            move("TF-never")
    with pytest.raises(GatewayError, match="404"):
        sandbox.notification_for("TF-never", server_key=SERVER_KEY)


# -- refunds -----------------------------------------------------------------------------------------------------


def test_partial_then_full_refund(sandbox: SandboxGateway) -> None:
    sandbox.charge(charge_request(QRIS, amount=150000))
    sandbox.settle("TF-1")

    first = sandbox.refund("TF-1", amount=50000, reason="satu barang habis", refund_key="TF-1-r1")
    assert (first.amount, first.refund_key, first.status) == (50000, "TF-1-r1", "refunded")
    status = sandbox.status("TF-1")
    assert status is not None and status.transaction_status == "partial_refund"
    assert status.gross_amount == "150000.00" and status.raw["refund_amount"] == "50000.00"

    second = sandbox.refund("TF-1", amount=100000, reason="pesanan dibatalkan", refund_key="TF-1-r2")
    assert second.amount == 100000
    status = sandbox.status("TF-1")
    assert status is not None and status.transaction_status == "refund"
    assert [entry["refund_key"] for entry in status.raw["refunds"]] == ["TF-1-r1", "TF-1-r2"]
    assert notification.outcome(status.transaction_status, status.fraud_status) == notification.REFUNDED


def test_a_refund_is_idempotent_per_refund_key(sandbox: SandboxGateway) -> None:
    sandbox.charge(charge_request(CARD))
    sandbox.settle("TF-1")
    first = sandbox.refund("TF-1", amount=150000, reason="retur", refund_key="TF-1-r1")
    again = sandbox.refund("TF-1", amount=150000, reason="retur", refund_key="TF-1-r1")
    assert (again.amount, again.status) == (first.amount, "refunded")
    status = sandbox.status("TF-1")
    assert status is not None and status.raw["refund_amount"] == "150000.00"
    assert status.transaction_status == "refund"


def test_refunds_cannot_exceed_what_was_paid(sandbox: SandboxGateway) -> None:
    sandbox.charge(charge_request(CARD, amount=150000))
    sandbox.settle("TF-1", amount=100000)
    with pytest.raises(GatewayError, match="refundable 100000"):
        sandbox.refund("TF-1", amount=150000, reason="retur", refund_key="r1")
    sandbox.refund("TF-1", amount=100000, reason="retur", refund_key="r1")
    with pytest.raises(GatewayError, match="412"):
        sandbox.refund("TF-1", amount=1, reason="retur", refund_key="r2")


def test_an_unpaid_transaction_cannot_be_refunded(sandbox: SandboxGateway) -> None:
    sandbox.charge(charge_request(CARD))
    with pytest.raises(GatewayError, match="pending"):
        sandbox.refund("TF-1", amount=1000, reason="retur", refund_key="r1")


def test_a_virtual_account_payment_cannot_be_refunded_as_midtrans_cannot(sandbox: SandboxGateway) -> None:
    sandbox.charge(charge_request(BANK_TRANSFER))
    sandbox.settle("TF-1")
    with pytest.raises(RefundRefused, match="bank_transfer payments cannot be refunded through the API"):
        sandbox.refund("TF-1", amount=1000, reason="retur", refund_key="r1")


def test_a_qris_payment_past_its_seven_day_window_cannot_be_refunded(
        sandbox: SandboxGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.charge(charge_request(QRIS))
    sandbox.settle("TF-1")
    later = clock.now() + timedelta(days=8)
    monkeypatch.setattr(clock, "now", lambda: later)
    with pytest.raises(RefundRefused, match="7-day refund window of qris has passed"):
        sandbox.refund("TF-1", amount=1000, reason="retur", refund_key="r1")


# -- notifications -----------------------------------------------------------------------------------------------


def test_a_settlement_notification_verifies_and_parses(sandbox: SandboxGateway) -> None:
    instructions = sandbox.charge(charge_request(BANK_TRANSFER))
    sandbox.settle("TF-1")

    payload = sandbox.notification_for("TF-1", server_key=SERVER_KEY)

    parsed = verified(payload)
    assert (parsed.order_id, parsed.transaction_id) == ("TF-1", instructions.transaction_id)
    assert (parsed.transaction_status, parsed.status_code, parsed.gross_amount) == ("settlement", "200", "150000.00")
    assert parsed.va_numbers == (("bca", instructions.va_number),)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", parsed.transaction_time or "")
    assert parsed.settlement_time is not None
    assert payload["currency"] == "IDR" and payload["status_message"] == "midtrans payment notification"
    assert parsed.outcome == notification.PAID
    assert notification.amount_of(parsed.gross_amount) == instructions.amount
    assert not notification.verify_signature(payload, "SB-Mid-server-OTHER-KEY")


def test_notification_times_are_jakarta_local(sandbox: SandboxGateway) -> None:
    sandbox.charge(charge_request(BANK_TRANSFER))
    item = SandboxPaymentModel.get("TF-1")
    payload = sandbox.notification_for("TF-1", server_key=SERVER_KEY)
    jakarta = clock.parse_iso(item.created_at).astimezone(clock.JAKARTA).strftime("%Y-%m-%d %H:%M:%S")
    assert payload["transaction_time"] == jakarta


def test_every_state_has_a_verifiable_notification(sandbox: SandboxGateway) -> None:
    """Pending, paid, refunded, expired, denied, cancelled: each notification is signed and means what it says."""
    expected = {
        "pending": notification.PENDING,
        "settlement": notification.PAID,
        "partial_refund": notification.REFUNDED,
        "expire": notification.FAILED,
        "deny": notification.FAILED,
        "cancel": notification.FAILED,
    }
    sandbox.charge(charge_request(BANK_TRANSFER, order_id="TF-pending"))
    sandbox.charge(charge_request(QRIS, order_id="TF-settlement"))
    sandbox.settle("TF-settlement")
    sandbox.charge(charge_request(EWALLET, order_id="TF-partial_refund"))
    sandbox.settle("TF-partial_refund")
    sandbox.refund("TF-partial_refund", amount=1000, reason="selisih ongkir", refund_key="k1")
    sandbox.charge(charge_request(BANK_TRANSFER, order_id="TF-expire"))
    sandbox.expire("TF-expire")
    sandbox.charge(charge_request(CARD, order_id="TF-deny"))
    sandbox.fail("TF-deny")
    sandbox.charge(charge_request(EWALLET, order_id="TF-cancel"))
    sandbox.cancel("TF-cancel")

    for status, meaning in expected.items():
        parsed = verified(sandbox.notification_for(f"TF-{status}", server_key=SERVER_KEY))
        assert parsed.transaction_status == status
        assert parsed.outcome == meaning, status

    expire = sandbox.notification_for("TF-expire", server_key=SERVER_KEY)
    assert expire["status_code"] == "202"  # as in Midtrans' sample expiry notification (the status API says 407)


def test_a_card_capture_notification(sandbox: SandboxGateway) -> None:
    sandbox.charge(charge_request(CARD))
    sandbox.settle("TF-1")
    payload = sandbox.notification_for("TF-1", server_key=SERVER_KEY)
    parsed = verified(payload)
    assert (parsed.transaction_status, parsed.fraud_status, parsed.payment_type) == ("capture", "accept", "credit_card")
    assert payload["masked_card"] and payload["channel_response_code"] == "00"
    assert parsed.outcome == notification.PAID


def test_an_underpayment_notification_carries_the_paid_amount(sandbox: SandboxGateway) -> None:
    sandbox.charge(charge_request(BANK_TRANSFER, amount=150000))
    sandbox.settle("TF-1", amount=140000)
    parsed = verified(sandbox.notification_for("TF-1", server_key=SERVER_KEY))
    assert parsed.gross_amount == "140000.00"
    assert notification.amount_of(parsed.gross_amount) == 140000


def test_notifications_change_id_as_the_state_moves(sandbox: SandboxGateway) -> None:
    sandbox.charge(charge_request(BANK_TRANSFER))
    pending = verified(sandbox.notification_for("TF-1", server_key=SERVER_KEY))
    pending_again = verified(sandbox.notification_for("TF-1", server_key=SERVER_KEY))
    sandbox.settle("TF-1")
    settled = verified(sandbox.notification_for("TF-1", server_key=SERVER_KEY))
    assert notification.notification_id(pending) == notification.notification_id(pending_again)
    assert notification.notification_id(pending) != notification.notification_id(settled)
    assert notification.is_newer(
        (pending.transaction_status, pending.fraud_status), (settled.transaction_status, settled.fraud_status)
    )
    assert not notification.is_newer(
        (settled.transaction_status, settled.fraud_status), (pending.transaction_status, pending.fraud_status)
    )


def test_notifications_need_a_server_key(sandbox: SandboxGateway) -> None:
    sandbox.charge(charge_request(BANK_TRANSFER))
    with pytest.raises(GatewayError, match="server key"):
        sandbox.notification_for("TF-1", server_key="")
