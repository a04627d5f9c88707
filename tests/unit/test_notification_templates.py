"""The customer messages: every event's email and SMS, money and time formatting, SMS length."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.notifications.domain import EVENTS, SMS_LIMIT, Message, format_rupiah, format_wib, render
from tests.fakes import SAMPLE_ORDER_ID, sample_order

ORDER_ID = SAMPLE_ORDER_ID
DEADLINE = "2026-11-23T12:05:00.000Z"  # 19:05 in Jakarta (UTC+7)
VA = "12345678901234567"
QR = "00020101021226670016COM.NOBUBANK.WWW01189360050300000898240214" + "5" * 90 + "6304ABCD"
DEEPLINK = "gojek://gopay/merchanttransfer?tref=A1B2C3&amount=1250000&activity=GP:RR"
REDIRECT = "https://app.sandbox.midtrans.com/snap/v4/redirection/0f1e2d3c-4b5a-6978"


def payment(method: str, **fields: Any) -> dict[str, Any]:
    return {"payment": {"provider": "sandbox", "method": method, "transaction_id": "trx-1", "amount": 1250000,
                        "expires_at": DEADLINE, **fields}}


# About the customer's points balance rather than one order (a credit may come from a staff adjustment).
NOT_ABOUT_AN_ORDER = frozenset({"points_expiring"})


def assert_well_formed(message: Message, *, about_an_order: bool = True) -> None:
    assert message.text.startswith("Halo Sari,\n")
    assert "TokoKita" in message.text
    if about_an_order:
        assert ORDER_ID in message.subject and ORDER_ID in message.text and ORDER_ID in message.sms
    assert message.sms.startswith("TokoKita:")
    assert len(message.sms) <= SMS_LIMIT
    assert message.sms.isascii()  # one GSM-7 segment really is 160 characters


# --- helpers -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "text"), [
    (0, "Rp0"), (500, "Rp500"), (1000, "Rp1.000"), (25000, "Rp25.000"), (1250000, "Rp1.250.000"),
    (1000000000, "Rp1.000.000.000"), (-15000, "-Rp15.000"),
])
def test_format_rupiah_uses_dots_between_thousands(amount: int, text: str) -> None:
    assert format_rupiah(amount) == text


@pytest.mark.parametrize(("iso", "text"), [
    ("2026-11-23T12:05:00.000Z", "23 Nov 2026 19:05 WIB"),
    ("2026-05-01T00:00:00Z", "1 Mei 2026 07:00 WIB"),
    ("2026-08-16T17:30:00+00:00", "17 Agu 2026 00:30 WIB"),  # crosses midnight into Jakarta's next day
    ("2026-12-31T16:59:59.999Z", "31 Des 2026 23:59 WIB"),
    ("2026-10-02T03:04:00", "2 Okt 2026 10:04 WIB"),  # no offset: taken as UTC
])
def test_format_wib_shows_jakarta_time_with_indonesian_months(iso: str, text: str) -> None:
    assert format_wib(iso) == text


def test_unknown_event_is_refused() -> None:
    with pytest.raises(ValueError, match="no template for event 'order_paid'"):
        render("order_paid", sample_order())


def test_every_event_renders_a_well_formed_message() -> None:
    extras: dict[str, dict[str, Any]] = {
        "order_placed": payment("bank_transfer", bank="bca", va_number=VA),
        "shipped": {"shipment": {"courier": "JNE", "service": "REG", "waybill": "JNE0123456789"}},
        "cancelled": {"reason": "stok habis"},
        "refunded": {"amount": 1250000},
        "refund_account_needed": {"amount": 1250000},
        "refund_paid": {"amount": 1250000, "reference": "TRF-20261201-0001"},
    }
    for event in EVENTS:
        assert_well_formed(render(event, sample_order(), extras.get(event)),
                           about_an_order=event not in NOT_ABOUT_AN_ORDER)


# --- order placed ---------------------------------------------------------------------------------------------------


def test_order_placed_bank_transfer_gives_the_va_amount_and_deadline() -> None:
    message = render("order_placed", sample_order(), payment("bank_transfer", bank="bca", va_number=VA))
    assert_well_formed(message)
    assert "menunggu pembayaran" in message.subject
    for text in (message.text, message.sms):
        assert "BCA" in text and VA in text and "Rp1.250.000" in text and "23 Nov 2026 19:05 WIB" in text
    assert "Virtual Account BCA" in message.text
    assert "- Kemeja Batik (M) x2: Rp1.225.000" in message.text
    assert "Ongkos kirim (JNE REG): Rp25.000" in message.text
    assert "Total: Rp1.250.000" in message.text


def test_order_placed_qris_asks_to_scan_and_puts_the_code_in_the_email() -> None:
    message = render("order_placed", sample_order(payment_method="qris"), payment("qris", qr_string=QR))
    assert_well_formed(message)
    assert "scan kode QRIS di aplikasi pembayaran Anda" in message.text
    assert QR in message.text
    assert "scan kode QRIS di aplikasi pembayaran Anda" in message.sms
    assert QR not in message.sms  # far too long for an SMS; the email carries it


def test_order_placed_ewallet_links_to_the_app() -> None:
    message = render("order_placed", sample_order(payment_method="ewallet"), payment("ewallet", deeplink_url=DEEPLINK))
    assert_well_formed(message)
    assert DEEPLINK in message.text
    assert "e-wallet" in message.sms and "23 Nov 2026 19:05 WIB" in message.sms


def test_order_placed_ewallet_sms_carries_a_short_link() -> None:
    link = "https://gopay.co.id/app/abc"
    message = render("order_placed", sample_order(payment_method="ewallet"), payment("ewallet", deeplink_url=link))
    assert link in message.sms
    assert len(message.sms) <= SMS_LIMIT


def test_order_placed_card_sends_to_the_secure_payment_page() -> None:
    message = render("order_placed", sample_order(payment_method="card"), payment("card", redirect_url=REDIRECT))
    assert_well_formed(message)
    assert "kartu kredit/debit" in message.text
    assert REDIRECT in message.text
    assert "dengan kartu" in message.sms and "Tautan ada di email." in message.sms  # the long URL does not fit


def test_order_placed_card_sms_carries_a_link_that_fits() -> None:
    link = "https://pay.tokokita.test/c/9XQ2"
    message = render("order_placed", sample_order(payment_method="card"), payment("card", redirect_url=link))
    assert f"Buka: {link}" in message.sms


def test_order_placed_without_instructions_falls_back_to_the_order_deadline() -> None:
    message = render("order_placed", sample_order())
    assert_well_formed(message)
    assert "23 Nov 2026 19:05 WIB" in message.text and "Rp1.250.000" in message.text


def test_order_placed_cod_says_pay_on_delivery_and_has_no_deadline() -> None:
    message = render("order_placed", sample_order(payment_method="cod", payment_deadline=None, status="CONFIRMED"))
    assert_well_formed(message)
    assert "Bayar di tempat (COD) saat paket tiba" in message.text
    assert "Bayar di tempat (COD) saat paket tiba" in message.sms
    assert "COD" in message.subject
    assert "Rp1.250.000" in message.sms
    assert "Batas waktu" not in message.text and "Virtual Account" not in message.text


def test_order_placed_shows_the_voucher_discount() -> None:
    order = sample_order(voucher_code="HEMAT10", totals={"subtotal": 1225000, "discount": 122500, "shipping": 25000,
                                                       "total": 1127500})
    message = render("order_placed", order, payment("bank_transfer", bank="bni", va_number=VA, amount=1127500))
    assert "Diskon (voucher HEMAT10): -Rp122.500" in message.text
    assert "VA BNI" in message.sms and "Rp1.127.500" in message.sms


# --- after placing --------------------------------------------------------------------------------------------------


def test_payment_received_confirms_the_amount_and_time() -> None:
    message = render("payment_received", sample_order(status="CONFIRMED"),
                     {"amount": 1250000, "paid_at": "2026-11-23T11:30:00Z"})
    assert_well_formed(message)
    assert "diterima" in message.subject
    assert "Rp1.250.000" in message.text and "23 Nov 2026 18:30 WIB" in message.text
    assert "Rp1.250.000" in message.sms


def test_shipped_gives_courier_service_and_waybill() -> None:
    shipment = {"courier": "jne", "service": "reg", "waybill": "JNE0123456789",
                "tracking_url": "https://tokokita.test/lacak/JNE0123456789"}
    message = render("shipped", sample_order(status="CONFIRMED"), {"shipment": shipment})
    assert_well_formed(message)
    assert "Kurir: JNE REG" in message.text
    assert "Nomor resi: JNE0123456789" in message.text
    assert "https://tokokita.test/lacak/JNE0123456789" in message.text
    assert "JNE REG" in message.sms and "JNE0123456789" in message.sms
    assert "Jakarta Selatan" in message.text


def test_shipped_cod_reminds_to_prepare_cash() -> None:
    message = render("shipped", sample_order(payment_method="cod"),
                     {"shipment": {"courier": "SiCepat", "service": "REG", "waybill_id": "SC998877"}})
    assert_well_formed(message)
    assert "SiCepat REG" in message.sms and "SC998877" in message.sms and "Rp1.250.000" in message.sms
    assert "Siapkan uang tunai Rp1.250.000" in message.text


def test_delivered_thanks_the_customer() -> None:
    message = render("delivered", sample_order(), {"delivered_at": "2026-11-25T07:15:00Z"})
    assert_well_formed(message)
    assert "sudah sampai" in message.subject
    assert "25 Nov 2026 14:15 WIB" in message.text


def test_cancelled_gives_the_reason() -> None:
    message = render("cancelled", sample_order(), {"reason": "stok habis"})
    assert_well_formed(message)
    assert "dibatalkan" in message.subject
    assert "Alasan: stok habis" in message.text and "stok habis" in message.sms


def test_expired_says_the_deadline_passed_and_stock_was_released() -> None:
    message = render("expired", sample_order(status="EXPIRED"))
    assert_well_formed(message)
    assert "batas waktu pembayaran" in message.subject
    assert "23 Nov 2026 19:05 WIB" in message.text
    assert "stok" in message.text and "stok" in message.sms.lower()
    assert "pesanan baru" in message.text


def test_refunded_gives_the_amount() -> None:
    message = render("refunded", sample_order(status="CANCELLED"), {"amount": 250000, "reason": "barang rusak"})
    assert_well_formed(message)
    assert "Rp250.000" in message.subject and "Rp250.000" in message.text and "Rp250.000" in message.sms
    assert "Alasan: barang rusak" in message.text


def test_long_names_and_ids_still_fit_one_sms_where_possible() -> None:
    order = sample_order(customer={"name": "Raden Ajeng Kartika Sekar Ayu Wulandari Kusumaningrum",
                                 "email": "k@example.com", "phone": "081234567890"})
    for event in EVENTS:
        extra = payment("bank_transfer", bank="mandiri", va_number="8" * 20) if event == "order_placed" else None
        message = render(event, order, extra)
        assert len(message.sms) <= SMS_LIMIT, (event, message.sms)
        assert message.text.startswith("Halo Raden Ajeng Kartika")


def test_rendering_is_pure_and_repeatable() -> None:
    order = sample_order()
    extra = payment("bank_transfer", bank="bca", va_number=VA)
    assert render("order_placed", order, extra) == render("order_placed", order, extra)
    assert order == sample_order()  # the order passed in is not modified


def test_points_earned_gives_the_points_the_new_balance_its_value_and_the_expiry() -> None:
    message = render("points_earned", sample_order(), {"points": 25, "balance": 125, "point_value": 100,
                                                      "expires_at": "2027-12-10T03:00:00.000Z"})
    assert "25 poin" in message.subject and SAMPLE_ORDER_ID in message.subject
    assert "125 poin (senilai Rp12.500)" in message.text and "10 Des 2027 10:00 WIB" in message.text
    assert "Saldo: 125 poin" in message.sms and len(message.sms) <= SMS_LIMIT


def test_points_expiring_says_how_many_points_go_and_when() -> None:
    message = render("points_expiring", sample_order(), {"points": 40, "balance": 125,
                                                        "expires_at": "2027-12-10T03:00:00.000Z"})
    assert message.subject == "40 poin Anda akan hangus pada 10 Des 2027 10:00 WIB"
    assert "Saldo poin Anda saat ini 125 poin" in message.text
    assert "hangus" in message.sms and len(message.sms) <= SMS_LIMIT


def test_order_placed_mandiri_gives_the_biller_code_and_bill_key() -> None:
    message = render("order_placed", sample_order(), payment("bank_transfer", bank="mandiri", biller_code="70012",
                                                             bill_key="778347451284"))
    assert "Kode perusahaan (biller code): 70012" in message.text and "778347451284" in message.sms
    assert len(message.sms) <= SMS_LIMIT


def test_order_placed_at_a_convenience_store_gives_the_payment_code_for_the_cashier() -> None:
    message = render("order_placed", sample_order(), payment("convenience_store", store="alfamart",
                                                             payment_code="010811223344"))
    assert "kasir Alfamart" in message.text and "010811223344" in message.sms
