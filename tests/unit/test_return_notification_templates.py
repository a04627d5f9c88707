"""The customer messages about returns: request, decision, parcel received, closed, expired."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.notifications.domain import EVENTS, SMS_LIMIT, Message, render
from tests.fakes import SAMPLE_ORDER_ID, sample_order

ORDER_ID = SAMPLE_ORDER_ID
RETURN_ID = f"{ORDER_ID}-R1"
LONG_ORDER_ID = "TK-261201-ABC1234567"  # the longest order id the pattern allows
LONG_RETURN_ID = f"{LONG_ORDER_ID}-R12"
DEADLINE = "2026-12-01T09:30:00.000Z"  # 16:30 in Jakarta (UTC+7)
SHOP_ADDRESS = {"name": "Gudang TokoKita", "phone": "021-555-0101", "street": "Jl. Industri Raya 7",
                "city": "Bekasi", "province": "Jawa Barat", "postal_code": "17530"}
RETURN_EVENTS = ("return_requested", "return_approved", "return_rejected", "return_received", "return_closed",
                 "return_expired")


def requested(reason: str = "damaged") -> dict[str, Any]:
    return {"return_id": RETURN_ID, "reason": reason,
            "lines": [{"sku": "BTK-M", "name": "Kemeja Batik", "quantity": 2}]}


def assert_well_formed(message: Message, return_id: str = RETURN_ID) -> None:
    assert message.text.startswith("Halo Sari,\n")
    assert message.text.endswith("Salam hangat,\nTim TokoKita\n")
    assert return_id in message.subject and return_id in message.text and return_id in message.sms
    assert message.sms.startswith("TokoKita:")
    assert len(message.sms) <= SMS_LIMIT
    assert message.sms.isascii()  # one GSM-7 segment really is 160 characters


# --- registration ---------------------------------------------------------------------------------------------------


def test_every_return_event_is_registered_as_a_template() -> None:
    assert set(RETURN_EVENTS) <= set(EVENTS)


@pytest.mark.parametrize("event", RETURN_EVENTS)
def test_return_event_without_extras_renders_and_names_the_order(event: str) -> None:
    extras: tuple[dict[str, Any] | None, ...] = (None, {})
    for extra in extras:
        message = render(event, sample_order(status="DELIVERED"), extra)
        assert_well_formed(message, return_id=ORDER_ID)
        assert f"pesanan {ORDER_ID}" in message.subject


@pytest.mark.parametrize("event", RETURN_EVENTS)
def test_return_event_with_sparse_extras_does_not_raise(event: str) -> None:
    sparse: dict[str, Any] = {"return_id": RETURN_ID, "lines": [{}, {"sku": "BTK-M"}, "not a line"], "ship_to": {},
                              "deadline": None, "reason": None, "amount": None, "by": None, "refund_only": None}
    assert_well_formed(render(event, sample_order(status="DELIVERED"), sparse))


@pytest.mark.parametrize("event", RETURN_EVENTS)
def test_return_sms_fits_one_segment_with_the_longest_ids(event: str) -> None:
    order = sample_order(order_id=LONG_ORDER_ID)
    extras: dict[str, dict[str, Any]] = {
        "return_requested": {"reason": "wrong_item", "lines": [{"sku": "X", "name": "Y" * 200, "quantity": 9}]},
        "return_approved": {"ship_to": SHOP_ADDRESS, "deadline": "2026-12-31T16:59:00Z"},
        "return_rejected": {"reason": "Foto tidak menunjukkan kerusakan pada barang yang dikirim ke alamat Anda."},
        "return_closed": {"amount": 999999999, "by": "gateway"},
    }
    for return_id in (LONG_RETURN_ID, None):
        extra = {**extras.get(event, {}), "return_id": return_id}
        message = render(event, order, extra)
        assert len(message.sms) <= SMS_LIMIT, message.sms
        assert message.sms.isascii()
        assert LONG_ORDER_ID in message.sms


def test_return_id_that_does_not_name_the_order_is_shown_with_the_order() -> None:
    message = render("return_expired", sample_order(), {"return_id": "RET-42"})
    assert "RET-42" in message.subject and ORDER_ID in message.subject and ORDER_ID in message.sms


# --- requested ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("reason", "words"), [
    ("damaged", "barang rusak"),
    ("wrong_item", "barang tidak sesuai pesanan"),
    ("not_as_described", "tidak sesuai deskripsi"),
    ("incomplete", "barang kurang/tidak lengkap"),
    ("changed_mind", "berubah pikiran"),
    ("other", "alasan lain"),
    ("returned_to_sender", "paket dikembalikan kurir"),
])
def test_return_requested_gives_the_reason_in_indonesian(reason: str, words: str) -> None:
    message = render("return_requested", sample_order(status="DELIVERED"), requested(reason))
    assert_well_formed(message)
    assert f"Alasan: {words}" in message.text
    assert words in message.sms
    assert reason not in message.text  # the code itself is never shown


def test_return_requested_lists_the_lines_and_says_staff_will_review() -> None:
    extra = requested()
    extra["lines"].append({"sku": "SRG-01", "quantity": 1})  # no name: the SKU stands in
    message = render("return_requested", sample_order(status="DELIVERED"), extra)
    assert_well_formed(message)
    assert "Barang yang diretur:\n- Kemeja Batik x2\n- SRG-01 x1" in message.text
    assert "meninjau" in message.text and "tinjau" in message.sms
    assert "jangan mengirim barang dulu" in message.text


def test_return_requested_by_the_courier_does_not_ask_to_hold_the_goods() -> None:
    message = render("return_requested", sample_order(status="DELIVERED"), requested("returned_to_sender"))
    assert "jangan mengirim barang" not in message.text
    assert "Jangan kirim" not in message.sms


def test_return_requested_shows_an_unknown_reason_code_readably() -> None:
    message = render("return_requested", sample_order(), requested("lost_in_transit"))
    assert "Alasan: lost in transit" in message.text


# --- approved -------------------------------------------------------------------------------------------------------


def test_return_approved_asks_to_send_the_parcel_to_the_shop_and_enter_the_waybill() -> None:
    message = render("return_approved", sample_order(status="DELIVERED"),
                     {"return_id": RETURN_ID, "refund_only": False, "ship_to": SHOP_ADDRESS, "deadline": DEADLINE})
    assert_well_formed(message)
    assert "disetujui" in message.subject and "disetujui" in message.sms
    assert "Gudang TokoKita (021-555-0101)\nJl. Industri Raya 7, Bekasi, Jawa Barat, 17530" in message.text
    assert "nomor resi di halaman pesanan" in message.text and "no. resi di halaman pesanan" in message.sms
    assert "1 Des 2026 16:30 WIB" in message.text and "1 Des 2026 16:30 WIB" in message.sms
    assert "tanpa pengembalian dana" in message.text


def test_return_approved_without_a_shop_address_or_deadline_asks_to_reply_for_the_address() -> None:
    message = render("return_approved", sample_order(status="DELIVERED"), {"return_id": RETURN_ID})
    assert_well_formed(message)
    assert "Balas email ini untuk mendapatkan alamat pengiriman retur." in message.text
    assert "WIB" not in message.text and "WIB" not in message.sms


def test_return_approved_with_an_unreadable_deadline_leaves_it_out() -> None:
    message = render("return_approved", sample_order(), {"return_id": RETURN_ID, "deadline": "besok"})
    assert_well_formed(message)
    assert "besok" not in message.text


def test_return_approved_refund_only_says_nothing_needs_to_be_sent_back() -> None:
    message = render("return_approved", sample_order(status="DELIVERED"),
                     {"return_id": RETURN_ID, "refund_only": True, "ship_to": SHOP_ADDRESS, "deadline": DEADLINE})
    assert_well_formed(message)
    assert "tidak perlu mengirim barang kembali" in message.text
    assert "tidak perlu dikirim kembali" in message.subject and "tidak perlu dikirim kembali" in message.sms
    assert "Pengembalian dana sedang kami proses" in message.text
    assert "Jl. Industri Raya 7" not in message.text and "resi" not in message.text


# --- rejected -------------------------------------------------------------------------------------------------------


def test_return_rejected_gives_the_staff_reason() -> None:
    reason = "Barang sudah dipakai dan labelnya dilepas"
    message = render("return_rejected", sample_order(status="DELIVERED"), {"return_id": RETURN_ID, "reason": reason})
    assert_well_formed(message)
    assert "ditolak" in message.subject and "ditolak" in message.sms
    assert f"Alasan: {reason}" in message.text and reason in message.sms
    assert "balas email ini" in message.text


def test_return_rejected_keeps_a_non_ascii_reason_out_of_the_sms() -> None:
    reason = "Garansi “segel rusak” tidak berlaku"
    message = render("return_rejected", sample_order(), {"return_id": RETURN_ID, "reason": reason})
    assert_well_formed(message)
    assert f"Alasan: {reason}" in message.text
    assert "Alasan" not in message.sms


# --- received -------------------------------------------------------------------------------------------------------


def test_return_received_lists_the_units_and_says_the_refund_comes_next() -> None:
    lines = [{"sku": "BTK-M", "name": "Kemeja Batik", "quantity": 2, "restocked": 1, "written_off": 1},
             {"sku": "SRG-01", "name": "Sarung Tenun", "restocked": 1, "written_off": 0}]  # quantity missing
    message = render("return_received", sample_order(status="DELIVERED"), {"return_id": RETURN_ID, "lines": lines})
    assert_well_formed(message)
    assert "sudah kami terima" in message.subject
    assert "- Kemeja Batik x2\n- Sarung Tenun x1" in message.text
    assert "Pengembalian dana (jika ada) kami proses berikutnya" in message.text
    assert "Pengembalian dana" in message.sms


# --- closed ---------------------------------------------------------------------------------------------------------


def test_return_closed_by_gateway_says_the_money_went_back_to_the_original_payment_method() -> None:
    message = render("return_closed", sample_order(status="DELIVERED"),
                     {"return_id": RETURN_ID, "amount": 612500, "by": "gateway"})
    assert_well_formed(message)
    for text in (message.subject, message.text, message.sms):
        assert "Rp612.500" in text
    assert "metode pembayaran semula" in message.text and "metode pembayaran semula" in message.sms


def test_return_closed_by_payout_says_the_money_was_transferred_to_the_bank_account() -> None:
    message = render("return_closed", sample_order(payment_method="cod", status="DELIVERED"),
                     {"return_id": RETURN_ID, "amount": 1250000, "by": "payout"})
    assert_well_formed(message)
    for text in (message.subject, message.text, message.sms):
        assert "Rp1.250.000" in text
    assert "transfer ke rekening bank Anda" in message.text and "ditransfer ke rekening Anda" in message.sms
    assert "metode pembayaran semula" not in message.text


@pytest.mark.parametrize("extra", [
    {"return_id": RETURN_ID, "amount": 0, "by": "none"},
    {"return_id": RETURN_ID, "amount": 0, "by": "gateway"},
    {"return_id": RETURN_ID, "amount": 250000, "by": "none"},
    {"return_id": RETURN_ID, "by": "none"},
])
def test_return_closed_with_nothing_to_refund_says_so_and_names_no_amount(extra: dict[str, Any]) -> None:
    message = render("return_closed", sample_order(payment_method="cod", status="DELIVERY_FAILED"), extra)
    assert_well_formed(message)
    assert "Tidak ada dana yang perlu dikembalikan" in message.text
    assert "Tidak ada dana yang perlu dikembalikan" in message.sms
    assert "Rp" not in message.subject and "Rp" not in message.text and "Rp" not in message.sms


def test_return_closed_without_an_amount_claims_no_refund_either_way() -> None:
    message = render("return_closed", sample_order(), {"return_id": RETURN_ID})
    assert_well_formed(message)
    assert "Rp" not in message.text
    assert "Tidak ada dana" not in message.text and "sudah kami kembalikan" not in message.text


# --- expired --------------------------------------------------------------------------------------------------------


def test_return_expired_says_closed_without_refund_and_invites_contact() -> None:
    message = render("return_expired", sample_order(status="DELIVERED"), {"return_id": RETURN_ID})
    assert_well_formed(message)
    assert "ditutup" in message.subject and "ditutup" in message.sms
    assert "tanpa pengembalian dana" in message.text and "tanpa pengembalian dana" in message.sms
    assert "balas email ini dengan nama kurir dan nomor resi" in message.text


def test_return_rendering_is_pure_and_repeatable() -> None:
    order, extra = sample_order(), requested()
    assert render("return_requested", order, extra) == render("return_requested", order, extra)
    assert order == sample_order() and extra == requested()  # nothing passed in is modified


@pytest.mark.parametrize("by", ["customer", "pickup"])
def test_a_return_on_its_way_names_the_courier_and_waybill_and_fits_one_sms(by: str) -> None:
    order = {"order_id": "TK-261201-ABC123", "customer": {"name": "Sari Dewi"}}
    message = render("return_on_its_way", order, {"return_id": "TK-261201-ABC123-R1", "by": by,
                                                  "courier": "jne", "waybill_id": "JNE0012345678"})
    assert "TK-261201-ABC123-R1" in message.subject and "JNE0012345678" in message.text
    assert "JNE" in message.sms and len(message.sms) <= 160 and message.sms.isascii()
    assert ("menjemput" in message.text) == (by == "pickup")
    assert render("return_on_its_way", order, {}).subject  # no extra at all still renders
