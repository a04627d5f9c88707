"""Customer messages in Bahasa Indonesia: one email and one SMS per order event.

Pure on purpose (no AWS, no clock reads, no environment): the words a customer receives about their money
are unit tested alone, without a queue or a table.
Money is whole Rupiah; times arrive as UTC ISO-8601 and are shown in Asia/Jakarta (WIB).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib import clock

SHOP_NAME = "TokoKita"
SMS_LIMIT = 160  # one GSM-7 segment; the texts are plain ASCII so a segment really is 160 characters
MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")

ORDER_PLACED = "order_placed"
PAYMENT_RECEIVED = "payment_received"
SHIPPED = "shipped"
DELIVERED = "delivered"
CANCELLED = "cancelled"
EXPIRED = "expired"
REFUNDED = "refunded"
REFUND_ACCOUNT_NEEDED = "refund_account_needed"  # the gateway cannot refund: the shop transfers, to which account?
REFUND_PAID = "refund_paid"  # finance made that transfer
RETURN_REQUESTED = "return_requested"  # the customer asked to send goods back: staff review it
RETURN_APPROVED = "return_approved"  # send the parcel to the shop (or, refund only, nothing to send)
RETURN_REJECTED = "return_rejected"  # staff said no, with a reason
RETURN_ON_ITS_WAY = "return_on_its_way"  # the customer entered a waybill, or staff booked a pickup
RETURN_RECEIVED = "return_received"  # the parcel arrived and was inspected: the refund comes next
RETURN_CLOSED = "return_closed"  # done: refunded by the gateway, by a transfer, or nothing to refund
RETURN_EXPIRED = "return_expired"  # the parcel never arrived in time: closed without a refund
REVIEW_APPROVED = "review_approved"  # the customer's review of an order line is now shown on the product page
TICKET_REPLIED = "ticket_replied"  # customer service answered the customer's ticket about an order
POINTS_EARNED = "points_earned"  # an order's loyalty points were credited (its return window closed)
POINTS_EXPIRING = "points_expiring"  # some of the customer's points expire soon

STORE_NAMES = {"indomaret": "Indomaret", "alfamart": "Alfamart"}
BANK_NAMES = {"bca": "BCA", "bni": "BNI", "bri": "BRI", "mandiri": "Mandiri", "permata": "Permata",
              "cimb": "CIMB Niaga", "bsi": "BSI", "danamon": "Danamon"}
COURIER_NAMES = {"jne": "JNE", "jnt": "J&T", "j&t": "J&T", "sicepat": "SiCepat", "anteraja": "AnterAja",
                 "pos": "POS Indonesia", "tiki": "TIKI", "ninja": "Ninja Xpress", "lion": "Lion Parcel",
                 "gojek": "GoSend", "grab": "GrabExpress", "idexpress": "ID Express", "sap": "SAP Express"}
RETURN_REASONS = {"damaged": "barang rusak", "wrong_item": "barang tidak sesuai pesanan",
                  "not_as_described": "tidak sesuai deskripsi", "incomplete": "barang kurang/tidak lengkap",
                  "changed_mind": "berubah pikiran", "other": "alasan lain",
                  "returned_to_sender": "paket dikembalikan kurir"}


@dataclass(frozen=True)
class Message:
    """What one event tells the customer: an email (subject and plain-text body) and a short SMS."""

    subject: str
    text: str
    sms: str


# ---------------------------------------------------------------------------------------------------------------------
# Formatting helpers
# ---------------------------------------------------------------------------------------------------------------------


def format_rupiah(amount: int) -> str:
    """1250000 -> "Rp1.250.000": Indonesian style, dots between thousands, no decimals (Rupiah has no cents)."""
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp{abs(int(amount)):,}".replace(",", ".")


def format_wib(iso_utc: str) -> str:
    """"2026-11-23T12:05:00.000Z" -> "23 Nov 2026 19:05 WIB": the shop's customers all read Jakarta time."""
    local = clock.parse_iso(iso_utc).astimezone(clock.JAKARTA)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year} {local:%H:%M} WIB"


def return_reason(code: str | None) -> str:
    """A return's reason code in words ("damaged" -> "barang rusak"); an unknown code is shown as written."""
    if not code:
        return ""
    text = str(code).strip()
    return RETURN_REASONS.get(text.casefold(), text.replace("_", " "))


def bank_name(code: str | None) -> str:
    if not code:
        return "bank"
    return BANK_NAMES.get(code.strip().casefold(), code.upper())


def courier_name(code: str | None) -> str:
    """Rate-card names ("JNE", "SiCepat") are kept; aggregator codes ("jne", "sicepat") are spelled out."""
    if not code:
        return "kurir"
    return COURIER_NAMES.get(code.strip().casefold(), code)


# ---------------------------------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------------------------------


def _customer_name(order: Mapping[str, Any]) -> str:
    customer = order.get("customer") or {}
    return str(customer.get("name") or "").strip() or "Pelanggan"


def _first_name(order: Mapping[str, Any]) -> str:
    """SMS greets by first name only: every character counts in 160."""
    return _customer_name(order).split()[0]


def _total(order: Mapping[str, Any]) -> int:
    return int((order.get("totals") or {}).get("total") or 0)


def _is_cod(order: Mapping[str, Any]) -> bool:
    return str(order.get("payment_method") or "").casefold() == "cod"


def _email(order: Mapping[str, Any], *paragraphs: str) -> str:
    """Greeting, paragraphs (empty ones dropped) and the shop's sign-off, separated by blank lines."""
    body = [f"Halo {_customer_name(order)},", *(p for p in paragraphs if p)]
    body.append(f"Salam hangat,\nTim {SHOP_NAME}")
    return "\n\n".join(body) + "\n"


def _sms(required: str, *optional: str) -> str:
    """The required text plus as many optional parts, in order, as still fit in one SMS segment.

    Payment codes and waybill numbers are required and never cut; long links and pleasantries are optional.
    """
    text = required
    for part in optional:
        if part and len(text) + 1 + len(part) <= SMS_LIMIT:
            text = f"{text} {part}"
    return text


def _summary(order: Mapping[str, Any]) -> str:
    """The order as a short receipt: lines, discount, shipping and the total."""
    rows = []
    for line in order.get("lines") or []:
        options = line.get("options") or {}
        variant = ", ".join(str(value) for value in options.values() if value)
        name = f"{line.get('name', line.get('sku', 'Barang'))}{f' ({variant})' if variant else ''}"
        line_total = line.get("line_total", int(line.get("unit_price", 0)) * int(line.get("quantity", 1)))
        rows.append(f"- {name} x{line.get('quantity', 1)}: {format_rupiah(int(line_total))}")
    totals = order.get("totals") or {}
    if "subtotal" in totals:
        rows.append(f"Subtotal: {format_rupiah(int(totals['subtotal']))}")
    if int(totals.get("discount") or 0):
        voucher = f" (voucher {order['voucher_code']})" if order.get("voucher_code") else ""
        rows.append(f"Diskon{voucher}: -{format_rupiah(int(totals['discount']))}")
    shipping = order.get("shipping") or {}
    if "shipping" in totals:
        carrier = f"{courier_name(shipping.get('courier'))} {str(shipping.get('service') or '').upper()}".strip()
        rows.append(f"Ongkos kirim ({carrier}): {format_rupiah(int(totals['shipping']))}")
    rows.append(f"Total: {format_rupiah(_total(order))}")
    return "Rincian pesanan:\n" + "\n".join(rows)


def _address(order: Mapping[str, Any]) -> str:
    address = order.get("shipping_address") or {}
    if not address:
        return ""
    place = ", ".join(str(address[key]) for key in ("street", "city", "province", "postal_code") if address.get(key))
    return f"Dikirim ke: {address.get('recipient', _customer_name(order))}, {place}"


def _return_ref(order: Mapping[str, Any], extra: Mapping[str, Any]) -> str:
    """How a return is named: its id ("<order id>-R1" already names the order), else the order it belongs to."""
    order_id = str(order["order_id"])
    return_id = str(extra.get("return_id") or "").strip()
    if not return_id:
        return f"pesanan {order_id}"
    return return_id if order_id in return_id else f"{return_id} (pesanan {order_id})"


def _return_lines(lines: Any) -> str:
    """The units on a return as a list: "- Kemeja Batik x2" (the SKU when the name is missing)."""
    rows = []
    for line in lines or []:
        if not isinstance(line, Mapping):
            continue
        quantity = line.get("quantity")
        if quantity is None:
            quantity = int(line.get("restocked") or 0) + int(line.get("written_off") or 0) or 1
        rows.append(f"- {line.get('name') or line.get('sku') or 'Barang'} x{quantity}")
    return "\n".join(rows)


def _sms_safe(text: str) -> str:
    """Free text (a staff reason) goes into an SMS only when it is plain ASCII: the email always carries it."""
    return text if text.isascii() else ""


def _wib_or_empty(iso_utc: Any) -> str:
    if not iso_utc:
        return ""
    try:
        return format_wib(str(iso_utc))
    except ValueError:
        return ""


# ---------------------------------------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------------------------------------


def _order_placed(order: Mapping[str, Any], extra: Mapping[str, Any]) -> Message:
    order_id = order["order_id"]
    thanks = f"Terima kasih sudah berbelanja di {SHOP_NAME}. Pesanan {order_id} sudah kami terima."
    if _is_cod(order):
        amount = format_rupiah(_total(order))
        how = (f"Pembayaran: Bayar di tempat (COD) saat paket tiba. Siapkan uang tunai {amount} untuk kurir. "
               "Pesanan Anda sudah dikonfirmasi dan segera kami kemas.")
        return Message(
            subject=f"Pesanan {order_id} dikonfirmasi - Bayar di tempat (COD)",
            text=_email(order, thanks, _summary(order), how, _address(order)),
            sms=_sms(f"{SHOP_NAME}: Pesanan {order_id} dikonfirmasi. Bayar di tempat (COD) saat paket tiba: "
                     f"{amount}.", f"Terima kasih, {_first_name(order)}!"),
        )

    payment: Mapping[str, Any] = extra.get("payment") or {}
    method = str(payment.get("method") or order.get("payment_method") or "")
    amount = format_rupiah(int(payment.get("amount") or _total(order)))
    expires = payment.get("expires_at") or order.get("payment_deadline")
    deadline = format_wib(str(expires)) if expires else ""
    before = f" sebelum {deadline}" if deadline else ""
    va, qr = payment.get("va_number"), payment.get("qr_string")
    deeplink, redirect = payment.get("deeplink_url"), payment.get("redirect_url")

    bill_key, payment_code = payment.get("bill_key"), payment.get("payment_code")
    steps: list[str] = []
    if bill_key:
        biller = payment.get("biller_code") or ""
        steps += ["Bayar lewat Mandiri Bill Payment (Livin' by Mandiri, ATM Mandiri: menu Bayar / Multipayment)",
                  f"Kode perusahaan (biller code): {biller}", f"Kode pembayaran (bill key): {bill_key}"]
        sms = _sms(f"{SHOP_NAME}: Pesanan {order_id}. Bayar {amount} via Mandiri Bill Payment, kode perusahaan "
                   f"{biller}, kode bayar {bill_key}{before}.", "Jumlah harus tepat.")
    elif payment_code:
        store = STORE_NAMES.get(str(payment.get("store") or ""), "Indomaret/Alfamart")
        steps += [f"Bayar di kasir {store}: sebutkan pembayaran Midtrans untuk TokoKita dan berikan kode ini.",
                  f"Kode pembayaran: {payment_code}"]
        sms = _sms(f"{SHOP_NAME}: Pesanan {order_id}. Bayar {amount} di kasir {store}, kode {payment_code}{before}.")
    elif va:
        bank = bank_name(payment.get("bank"))
        steps += [f"Transfer ke Virtual Account {bank}", f"Nomor VA: {va}"]
        sms = _sms(f"{SHOP_NAME}: Pesanan {order_id}. Transfer {amount} ke VA {bank} {va}{before}.",
                   "Jumlah harus tepat.")
    elif qr:
        steps += ["Bayar dengan QRIS: scan kode QRIS di aplikasi pembayaran Anda (m-banking atau e-wallet).",
                  f"Kode QRIS: {qr}"]
        if redirect:
            steps.append(f"Gambar kode QR: {redirect}")
        sms = _sms(f"{SHOP_NAME}: Pesanan {order_id}. Bayar {amount} via QRIS{before}: scan kode QRIS di "
                   "aplikasi pembayaran Anda (kode ada di email).")
    elif deeplink:
        steps += ["Bayar dengan e-wallet: buka tautan berikut di ponsel Anda untuk menyelesaikan pembayaran "
                  "di aplikasi e-wallet.", f"Tautan pembayaran: {deeplink}"]
        sms = _sms(f"{SHOP_NAME}: Pesanan {order_id}. Bayar {amount} via e-wallet{before}.",
                   f"Buka: {deeplink}", "Tautan ada di email.")
    elif redirect:
        label = "kartu kredit/debit" if method == "card" else "pembayaran"
        steps += [f"Selesaikan pembayaran {label} di halaman aman berikut:", f"Tautan pembayaran: {redirect}"]
        via = " dengan kartu" if method == "card" else ""
        sms = _sms(f"{SHOP_NAME}: Pesanan {order_id}. Bayar {amount}{via}{before}.", f"Buka: {redirect}",
                   "Tautan ada di email.")
    else:
        steps.append("Petunjuk pembayaran ada di halaman pesanan Anda.")
        sms = _sms(f"{SHOP_NAME}: Pesanan {order_id}. Bayar {amount}{before}. Petunjuk ada di email.")
    steps.append(f"Jumlah: {amount}")
    if deadline:
        steps.append(f"Batas waktu pembayaran: {deadline}")
    how = "Cara pembayaran:\n" + "\n".join(steps)
    warning = ("Pesanan otomatis dibatalkan jika pembayaran belum kami terima sampai batas waktu. "
               "Kami tidak pernah meminta transfer ke rekening pribadi.")
    return Message(
        subject=f"Pesanan {order_id} menunggu pembayaran {amount}",
        text=_email(order, thanks, _summary(order), how, warning),
        sms=sms,
    )


def _payment_received(order: Mapping[str, Any], extra: Mapping[str, Any]) -> Message:
    order_id = order["order_id"]
    payment: Mapping[str, Any] = extra.get("payment") or {}
    amount = format_rupiah(int(extra.get("amount") or payment.get("amount") or _total(order)))
    paid_at = extra.get("paid_at") or payment.get("paid_at")
    when = f" pada {format_wib(str(paid_at))}" if paid_at else ""
    return Message(
        subject=f"Pembayaran pesanan {order_id} diterima",
        text=_email(order,
                    f"Pembayaran sebesar {amount} untuk pesanan {order_id} sudah kami terima{when}. Terima kasih!",
                    "Pesanan Anda sedang kami siapkan. Kami akan mengabari Anda lagi beserta nomor resi "
                    "begitu paket diserahkan ke kurir.",
                    _summary(order)),
        sms=_sms(f"{SHOP_NAME}: Pembayaran {amount} untuk pesanan {order_id} diterima. Pesanan segera dikemas.",
                 f"Terima kasih, {_first_name(order)}!"),
    )


def _shipped(order: Mapping[str, Any], extra: Mapping[str, Any]) -> Message:
    order_id = order["order_id"]
    shipment: Mapping[str, Any] = extra.get("shipment") or {}
    shipping: Mapping[str, Any] = order.get("shipping") or {}
    courier = courier_name(shipment.get("courier") or shipping.get("courier"))
    service = str(shipment.get("service") or shipping.get("service") or "").upper()
    carrier = f"{courier} {service}".strip()
    waybill = shipment.get("waybill") or shipment.get("waybill_id") or shipment.get("tracking_number") or ""
    tracking_url = shipment.get("tracking_url")
    details = [f"Kurir: {carrier}"]
    if waybill:
        details.append(f"Nomor resi: {waybill}")
    if tracking_url:
        details.append(f"Lacak paket: {tracking_url}")
    etd = shipment.get("etd_days") or shipping.get("etd_days")
    if etd:
        details.append(f"Perkiraan tiba: {etd} hari")
    cod = ""
    cod_sms = ""
    if _is_cod(order):
        cod = f"Siapkan uang tunai {format_rupiah(_total(order))} untuk dibayarkan ke kurir saat paket tiba (COD)."
        cod_sms = f"Siapkan {format_rupiah(_total(order))} (COD)."
    resi = f" resi {waybill}" if waybill else ""
    return Message(
        subject=f"Pesanan {order_id} sedang dikirim",
        text=_email(order, f"Kabar baik! Pesanan {order_id} sudah kami serahkan ke kurir dan sedang dalam perjalanan.",
                    "\n".join(details), _address(order), cod),
        sms=_sms(f"{SHOP_NAME}: Pesanan {order_id} dikirim via {carrier}{resi}.", cod_sms,
                 f"Lacak: {tracking_url}" if tracking_url else ""),
    )


def _delivered(order: Mapping[str, Any], extra: Mapping[str, Any]) -> Message:
    order_id = order["order_id"]
    delivered_at = extra.get("delivered_at")
    when = f" pada {format_wib(str(delivered_at))}" if delivered_at else ""
    cod = (f"Pembayaran tunai {format_rupiah(_total(order))} sudah diterima kurir. Terima kasih!"
           if _is_cod(order) else "")
    return Message(
        subject=f"Pesanan {order_id} sudah sampai",
        text=_email(order, f"Pesanan {order_id} sudah diterima di alamat tujuan{when}.", cod,
                    f"Jika ada barang yang kurang atau rusak, balas email ini dalam 2 x 24 jam dengan foto "
                    f"paket dan nomor pesanan {order_id}.",
                    f"Terima kasih sudah berbelanja di {SHOP_NAME}. Kami tunggu pesanan berikutnya!"),
        sms=_sms(f"{SHOP_NAME}: Pesanan {order_id} sudah sampai.", f"Terima kasih, {_first_name(order)}!",
                 "Ada kendala? Balas email kami."),
    )


def _cancelled(order: Mapping[str, Any], extra: Mapping[str, Any]) -> Message:
    order_id = order["order_id"]
    reason = str(extra.get("reason") or "").strip()
    refund = ""
    if extra.get("refund_amount") and extra.get("refund_by") == "payout":
        refund = (f"Dana sebesar {format_rupiah(int(extra['refund_amount']))} akan kami transfer ke rekening bank "
                  "Anda; kami kirim email terpisah untuk meminta nomor rekening tujuan.")
    elif extra.get("refund_amount"):
        refund = (f"Dana sebesar {format_rupiah(int(extra['refund_amount']))} akan dikembalikan ke metode "
                  "pembayaran semula; kami kirim email lagi begitu pengembalian diproses.")
    return Message(
        subject=f"Pesanan {order_id} dibatalkan",
        text=_email(order, f"Pesanan {order_id} telah dibatalkan.", f"Alasan: {reason}" if reason else "", refund,
                    "Jika Anda merasa tidak membatalkan pesanan ini atau ada pertanyaan, balas email ini."),
        sms=_sms(f"{SHOP_NAME}: Pesanan {order_id} dibatalkan.", f"Alasan: {reason}." if reason else "",
                 "Info lengkap di email."),
    )


def _expired(order: Mapping[str, Any], extra: Mapping[str, Any]) -> Message:
    order_id = order["order_id"]
    deadline = order.get("payment_deadline") or extra.get("payment_deadline")
    until = f" ({format_wib(str(deadline))})" if deadline else ""
    return Message(
        subject=f"Pesanan {order_id} dibatalkan: batas waktu pembayaran terlewat",
        text=_email(order,
                    f"Batas waktu pembayaran pesanan {order_id}{until} sudah lewat dan pembayaran belum kami "
                    "terima, jadi pesanan dibatalkan otomatis dan stok barangnya kami lepaskan kembali.",
                    f"Masih ingin membelinya? Silakan buat pesanan baru di {SHOP_NAME}. Jika Anda sudah "
                    "terlanjur membayar, balas email ini dengan bukti pembayaran dan kami bantu segera."),
        sms=_sms(f"{SHOP_NAME}: Pesanan {order_id} dibatalkan karena batas waktu pembayaran lewat. "
                 "Stok dilepas kembali.", "Silakan pesan ulang."),
    )


def _refunded(order: Mapping[str, Any], extra: Mapping[str, Any]) -> Message:
    order_id = order["order_id"]
    amount = format_rupiah(int(extra.get("amount") or (extra.get("refund") or {}).get("amount") or _total(order)))
    reason = str(extra.get("reason") or "").strip()
    return Message(
        subject=f"Dana {amount} untuk pesanan {order_id} dikembalikan",
        text=_email(order,
                    f"Pengembalian dana sebesar {amount} untuk pesanan {order_id} sudah kami proses ke metode "
                    "pembayaran semula.", f"Alasan: {reason}" if reason else "",
                    "Lama dana masuk ke rekening, kartu atau e-wallet Anda tergantung bank atau penyedia "
                    "pembayaran. Jika belum masuk setelah 14 hari kerja, balas email ini."),
        sms=_sms(f"{SHOP_NAME}: Dana {amount} untuk pesanan {order_id} sudah dikembalikan ke metode pembayaran "
                 "semula.", "Info di email."),
    )


def _refund_account_needed(order: Mapping[str, Any], extra: Mapping[str, Any]) -> Message:
    order_id = order["order_id"]
    amount = format_rupiah(int(extra.get("amount") or 0))
    return Message(
        subject=f"Kirimkan rekening untuk pengembalian dana {amount} pesanan {order_id}",
        text=_email(order,
                    f"Pembayaran pesanan {order_id} tidak dapat dikembalikan otomatis ke metode pembayaran semula "
                    f"(misalnya virtual account), jadi dana {amount} akan kami transfer ke rekening bank Anda.",
                    "Kirimkan nama bank, nomor rekening dan nama pemilik rekening lewat halaman pesanan Anda "
                    "(atau balas email ini). Setelah transfer kami lakukan, Anda menerima bukti transfernya."),
        sms=_sms(f"{SHOP_NAME}: Dana {amount} pesanan {order_id} akan ditransfer ke rekening Anda.",
                 "Kirimkan nomor rekening lewat halaman pesanan."),
    )


def _refund_paid(order: Mapping[str, Any], extra: Mapping[str, Any]) -> Message:
    order_id = order["order_id"]
    amount = format_rupiah(int(extra.get("amount") or 0))
    reference = str(extra.get("reference") or "").strip()
    return Message(
        subject=f"Dana {amount} untuk pesanan {order_id} sudah kami transfer",
        text=_email(order, f"Pengembalian dana sebesar {amount} untuk pesanan {order_id} sudah kami transfer ke "
                    "rekening Anda.", f"Referensi transfer: {reference}" if reference else "",
                    "Jika dana belum masuk dalam 2 hari kerja, balas email ini dengan referensi di atas."),
        sms=_sms(f"{SHOP_NAME}: Dana {amount} pesanan {order_id} sudah ditransfer ke rekening Anda.",
                 f"Ref {reference}." if reference else ""),
    )

def _return_requested(order: Mapping[str, Any], extra: Mapping[str, Any]) -> Message:
    ref = _return_ref(order, extra)
    reason = return_reason(extra.get("reason"))
    lines = _return_lines(extra.get("lines"))
    # A courier's return-to-sender is not the customer's request: nothing for them to hold back.
    by_courier = str(extra.get("reason") or "").strip().casefold() == "returned_to_sender"
    wait = "" if by_courier else " Mohon jangan mengirim barang dulu sebelum pengajuan retur disetujui."
    return Message(
        subject=f"Pengajuan retur {ref} kami terima",
        text=_email(order, f"Pengajuan retur {ref} sudah kami terima.", f"Alasan: {reason}" if reason else "",
                    f"Barang yang diretur:\n{lines}" if lines else "",
                    f"Tim kami akan meninjau pengajuan ini dan mengabari hasilnya lewat email.{wait}"),
        sms=_sms(f"{SHOP_NAME}: Pengajuan retur {ref} diterima dan sedang kami tinjau.",
                 f"Alasan: {reason}." if reason else "",
                 "" if by_courier else "Jangan kirim barang sebelum disetujui."),
    )


def _return_approved(order: Mapping[str, Any], extra: Mapping[str, Any]) -> Message:
    ref = _return_ref(order, extra)
    approved = f"Pengajuan retur {ref} sudah kami setujui."
    if extra.get("refund_only"):
        return Message(
            subject=f"Retur {ref} disetujui: barang tidak perlu dikirim kembali",
            text=_email(order, approved, "Anda tidak perlu mengirim barang kembali ke kami. Pengembalian dana "
                        "sedang kami proses; kami kirim email lagi begitu dana dikembalikan."),
            sms=_sms(f"{SHOP_NAME}: Retur {ref} disetujui. Barang tidak perlu dikirim kembali; pengembalian dana "
                     "sedang kami proses."),
        )

    ship_to: Mapping[str, Any] = extra.get("ship_to") or {}
    place = ", ".join(str(ship_to[key]) for key in ("street", "city", "province", "postal_code")
                      if ship_to.get(key))
    if place:
        phone = f" ({ship_to['phone']})" if ship_to.get("phone") else ""
        address = f"Alamat pengiriman retur:\n{ship_to.get('name') or SHOP_NAME}{phone}\n{place}"
    else:
        address = "Balas email ini untuk mendapatkan alamat pengiriman retur."
    deadline = _wib_or_empty(extra.get("deadline"))
    steps = ("Langkah berikutnya:\n"
             f"1. Kemas barang dengan aman dan tulis nomor retur {ref} di dalam paket.\n"
             "2. Kirim paket ke alamat toko di bawah ini dengan kurir pilihan Anda.\n"
             "3. Masukkan nama kurir dan nomor resi di halaman pesanan Anda.")
    wait = (f"Paket retur harus sudah kami terima sebelum {deadline}. Jika belum kami terima sampai batas waktu "
            "itu, retur ditutup tanpa pengembalian dana." if deadline else "")
    arrive = f", tiba maks. {deadline}." if deadline else "."  # the deadline is required: it fits one SMS
    return Message(
        subject=f"Retur {ref} disetujui: kirim barang ke {SHOP_NAME}",
        text=_email(order, approved, steps, address, wait,
                    "Pengembalian dana (jika ada) kami proses setelah paket kami terima dan periksa."),
        sms=_sms(f"{SHOP_NAME}: Retur {ref} disetujui. Kirim ke alamat di email{arrive} Isi kurir & no. resi di "
                 "halaman pesanan."),
    )


def _return_rejected(order: Mapping[str, Any], extra: Mapping[str, Any]) -> Message:
    ref = _return_ref(order, extra)
    reason = str(extra.get("reason") or "").strip()
    return Message(
        subject=f"Pengajuan retur {ref} ditolak",
        text=_email(order, f"Mohon maaf, pengajuan retur {ref} tidak dapat kami setujui.",
                    f"Alasan: {reason}" if reason else "",
                    "Jika ada pertanyaan atau Anda ingin mengirim keterangan tambahan (misalnya foto barang), "
                    "balas email ini dan tim kami akan membantu."),
        sms=_sms(f"{SHOP_NAME}: Pengajuan retur {ref} ditolak.",
                 f"Alasan: {_sms_safe(reason)}." if _sms_safe(reason) else "", "Info lengkap di email."),
    )


def _return_on_its_way(order: Mapping[str, Any], extra: Mapping[str, Any]) -> Message:
    ref = _return_ref(order, extra)
    carrier = courier_name(str(extra.get("courier") or "") or None)
    waybill = str(extra.get("waybill_id") or "").strip()
    resi = f" dengan resi {waybill}" if waybill else ""
    if extra.get("by") == "pickup":
        first = (f"Kurir {carrier} akan menjemput paket retur {ref} di alamat pengiriman pesanan Anda{resi}. "
                 "Siapkan barangnya dalam kemasan yang aman.")
        sms = f"{SHOP_NAME}: Kurir {carrier} akan menjemput paket retur {ref}{resi}."
    else:
        first = f"Terima kasih, paket retur {ref} tercatat dikirim lewat {carrier}{resi}."
        sms = f"{SHOP_NAME}: Paket retur {ref} tercatat dikirim lewat {carrier}{resi}."
    return Message(
        subject=f"Paket retur {ref} dalam perjalanan ke {SHOP_NAME}",
        text=_email(order, first, "Begitu paket tiba, kami periksa barangnya dan mengabari Anda."),
        sms=_sms(sms, "Kami kabari saat paket tiba."),
    )


def _return_received(order: Mapping[str, Any], extra: Mapping[str, Any]) -> Message:
    ref = _return_ref(order, extra)
    lines = _return_lines(extra.get("lines"))
    return Message(
        subject=f"Paket retur {ref} sudah kami terima",
        text=_email(order, f"Paket retur {ref} sudah kami terima dan barangnya sudah kami periksa.",
                    f"Barang yang kami terima:\n{lines}" if lines else "",
                    "Pengembalian dana (jika ada) kami proses berikutnya; kami kirim email lagi begitu selesai."),
        sms=_sms(f"{SHOP_NAME}: Paket retur {ref} sudah kami terima dan periksa.",
                 "Pengembalian dana (jika ada) segera kami proses."),
    )


def _return_closed(order: Mapping[str, Any], extra: Mapping[str, Any]) -> Message:
    ref = _return_ref(order, extra)
    by = str(extra.get("by") or "").strip().casefold()
    stated = extra.get("amount") is not None
    amount = int(extra.get("amount") or 0)
    money = format_rupiah(amount)
    closed = f"Retur {ref} sudah selesai."
    if by == "none" or (stated and amount <= 0):
        return Message(
            subject=f"Retur {ref} selesai",
            text=_email(order, f"Retur {ref} sudah selesai dan kami tutup.",
                        "Tidak ada dana yang perlu dikembalikan untuk retur ini (misalnya pesanan bayar di tempat "
                        "yang ditolak saat paket tiba).",
                        "Jika menurut Anda seharusnya ada pengembalian dana, balas email ini."),
            sms=_sms(f"{SHOP_NAME}: Retur {ref} selesai dan ditutup. Tidak ada dana yang perlu dikembalikan.",
                     "Info di email."),
        )
    if amount > 0 and by == "gateway":
        how = (f"Dana sebesar {money} sudah kami kembalikan ke metode pembayaran semula. Lama dana masuk ke "
               "rekening, kartu atau e-wallet Anda tergantung bank atau penyedia pembayaran. Jika belum masuk "
               "setelah 14 hari kerja, balas email ini.")
        sms = _sms(f"{SHOP_NAME}: Retur {ref} selesai. Dana {money} dikembalikan ke metode pembayaran semula.",
                   "Info di email.")
    elif amount > 0 and by == "payout":
        how = (f"Dana sebesar {money} sudah kami transfer ke rekening bank Anda. Jika dana belum masuk dalam "
               "2 hari kerja, balas email ini.")
        sms = _sms(f"{SHOP_NAME}: Retur {ref} selesai. Dana {money} sudah ditransfer ke rekening Anda.",
                   "Info di email.")
    elif amount > 0:
        how = f"Pengembalian dana sebesar {money} sudah kami proses. Jika ada pertanyaan, balas email ini."
        sms = _sms(f"{SHOP_NAME}: Retur {ref} selesai. Pengembalian dana {money} sudah kami proses.",
                   "Info di email.")
    else:
        how = "Jika ada pertanyaan tentang retur ini, balas email ini."
        sms = _sms(f"{SHOP_NAME}: Retur {ref} selesai.", "Info di email.")
    return Message(
        subject=f"Retur {ref} selesai" + (f": dana {money} dikembalikan" if amount > 0 else ""),
        text=_email(order, closed, how, f"Terima kasih sudah berbelanja di {SHOP_NAME}."),
        sms=sms,
    )


def _return_expired(order: Mapping[str, Any], extra: Mapping[str, Any]) -> Message:
    ref = _return_ref(order, extra)
    return Message(
        subject=f"Retur {ref} ditutup: paket retur tidak kami terima",
        text=_email(order,
                    f"Batas waktu retur {ref} sudah lewat dan paket retur belum kami terima, jadi retur ini kami "
                    "tutup tanpa pengembalian dana.",
                    "Jika Anda sudah mengirim paketnya, balas email ini dengan nama kurir dan nomor resi, dan kami "
                    "bantu periksa."),
        sms=_sms(f"{SHOP_NAME}: Retur {ref} ditutup tanpa pengembalian dana: paket tidak kami terima sampai batas "
                 "waktu.", "Sudah kirim? Balas email kami."),
    )


def _ticket_replied(order: Mapping[str, Any], extra: Mapping[str, Any]) -> Message:
    order_id = str(order["order_id"])
    ticket_id = str(extra.get("ticket_id") or "").strip()
    ticket = f" (tiket {ticket_id})" if ticket_id else ""
    reply = str(extra.get("reply") or "").strip()
    return Message(
        subject=f"Balasan tim {SHOP_NAME} untuk pertanyaan Anda tentang pesanan {order_id}",
        text=_email(order, f"Tim layanan pelanggan {SHOP_NAME} membalas pertanyaan Anda tentang pesanan "
                           f"{order_id}{ticket}" + (":" if reply else "."),
                    reply,
                    "Jika masih ada yang perlu kami bantu, balas lewat halaman tiket di aplikasi atau situs kami."),
        sms=_sms(f"{SHOP_NAME}: Tim CS membalas pertanyaan Anda tentang pesanan {order_id}{_sms_safe(ticket)}.",
                 "Baca balasannya di email atau halaman pesanan."),
    )


def _points_earned(order: Mapping[str, Any], extra: Mapping[str, Any]) -> Message:
    order_id = str(order["order_id"])
    points, balance = int(extra.get("points") or 0), int(extra.get("balance") or 0)
    value = int(extra.get("point_value") or 0)
    expires = _wib_or_empty(extra.get("expires_at"))
    worth = f" (senilai {format_rupiah(balance * value)})" if value else ""
    return Message(
        subject=f"{points} poin dari pesanan {order_id} sudah masuk",
        text=_email(order, f"Terima kasih sudah berbelanja di {SHOP_NAME}. Pesanan {order_id} memberi Anda "
                           f"{points} poin, dan poin itu sudah masuk ke akun Anda.",
                    f"Saldo poin Anda sekarang {balance} poin{worth}. Gunakan poin sebagai potongan harga saat "
                    "checkout berikutnya.",
                    f"Poin ini berlaku sampai {expires}." if expires else ""),
        sms=_sms(f"{SHOP_NAME}: {points} poin dari pesanan {order_id} sudah masuk. Saldo: {balance} poin.",
                 f"Berlaku s.d. {expires}." if expires else ""),
    )


def _points_expiring(order: Mapping[str, Any], extra: Mapping[str, Any]) -> Message:
    points, balance = int(extra.get("points") or 0), int(extra.get("balance") or 0)
    expires = _wib_or_empty(extra.get("expires_at")) or "segera"
    return Message(
        subject=f"{points} poin Anda akan hangus pada {expires}",
        text=_email(order, f"Sebanyak {points} poin {SHOP_NAME} Anda akan hangus pada {expires}.",
                    f"Saldo poin Anda saat ini {balance} poin. Gunakan sebelum tanggal tersebut sebagai potongan "
                    "harga saat checkout, agar poin Anda tidak hilang."),
        sms=_sms(f"{SHOP_NAME}: {points} poin Anda hangus pada {expires}. Gunakan saat checkout sebelum hangus."),
    )


def _review_approved(order: Mapping[str, Any], extra: Mapping[str, Any]) -> Message:
    order_id = order["order_id"]
    product = str(extra.get("product_name") or "").strip() or "produk"
    stars = int(extra.get("stars") or 0)
    rated = f" ({stars} bintang)" if 1 <= stars <= 5 else ""
    return Message(
        subject=f"Ulasan Anda untuk {product} (pesanan {order_id}) sudah tayang",
        text=_email(order, f"Terima kasih sudah menulis ulasan{rated} untuk {product} dari pesanan {order_id}.",
                    f"Ulasan Anda sudah kami setujui dan kini tampil di halaman produk {SHOP_NAME}, membantu "
                    "pembeli lain memilih dengan yakin.",
                    "Jika kami membalas ulasan Anda, balasannya juga tampil di halaman produk."),
        sms=_sms(f"{SHOP_NAME}: Ulasan Anda untuk pesanan {order_id} sudah tayang.",
                 f"Produk: {_sms_safe(product)}." if _sms_safe(product) else "", "Terima kasih!"),
    )


_RENDERERS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], Message]] = {
    ORDER_PLACED: _order_placed,
    PAYMENT_RECEIVED: _payment_received,
    SHIPPED: _shipped,
    DELIVERED: _delivered,
    CANCELLED: _cancelled,
    EXPIRED: _expired,
    REFUNDED: _refunded,
    REFUND_ACCOUNT_NEEDED: _refund_account_needed,
    REFUND_PAID: _refund_paid,
    RETURN_REQUESTED: _return_requested,
    RETURN_APPROVED: _return_approved,
    RETURN_REJECTED: _return_rejected,
    RETURN_ON_ITS_WAY: _return_on_its_way,
    RETURN_RECEIVED: _return_received,
    RETURN_CLOSED: _return_closed,
    RETURN_EXPIRED: _return_expired,
    REVIEW_APPROVED: _review_approved,
    TICKET_REPLIED: _ticket_replied,
    POINTS_EARNED: _points_earned,
    POINTS_EXPIRING: _points_expiring,
}
EVENTS: tuple[str, ...] = tuple(_RENDERERS)


def render(event: str, order: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> Message:
    """The message for an order event; `order` is Order.to_dict(), `extra` the event's details.

    extra by event: order_placed {"payment": PaymentInstructions.to_dict()}, payment_received {"amount",
    "paid_at"}, shipped {"shipment": {"courier", "service", "waybill", "tracking_url"}}, delivered
    {"delivered_at"}, cancelled {"reason", "refund_amount"}, refunded {"amount", "reason"},
    return_requested {"return_id", "lines": [{"sku", "name", "quantity"}], "reason"}, return_approved
    {"return_id", "refund_only", "ship_to": {"name", "phone", "street", "city", "province", "postal_code"},
    "deadline"}, return_rejected {"return_id", "reason"}, return_on_its_way {"return_id", "by": "customer" | "pickup",
    "courier", "waybill_id"}, return_received {"return_id", "lines": [{"sku", "name",
    "quantity", "restocked", "written_off"}]}, return_closed {"return_id", "amount", "by": "gateway" | "payout" |
    "none"}, return_expired {"return_id"}, review_approved {"review_id", "product_name", "stars"},
    ticket_replied {"ticket_id", "reply"}, points_earned {"points", "balance", "expires_at", "point_value"},
    points_expiring {"points", "expires_at", "balance"} (`order` is then {"order_id": the credit's order,
    "customer"}).
    Raises ValueError for an event with no template.
    """
    try:
        renderer = _RENDERERS[event]
    except KeyError:
        raise ValueError(f"no template for event {event!r}; known events: {', '.join(EVENTS)}") from None
    return renderer(order, extra or {})


__all__ = ["EVENTS", "SHOP_NAME", "SMS_LIMIT", "Message", "format_rupiah", "format_wib", "render"]
