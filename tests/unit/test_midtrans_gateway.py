"""MidtransGateway against recorded Core API answers: the requests it sends and what it makes of the answers.

A fake transport replays tests/fixtures/midtrans/*.json; a few tests use a throwaway local HTTP server to
check the real urllib transport (auth header on the wire, timeouts, refused connections).
"""

from __future__ import annotations

import base64
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib import clock, config
from chalicelib.payments import adapters, midtrans
from chalicelib.payments.gateway import (
    BANK_TRANSFER,
    CARD,
    CONVENIENCE_STORE,
    EWALLET,
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
from chalicelib.payments.midtrans import MidtransError, MidtransGateway, snap_base_url, urllib_transport
from tests.fakes import Call, FakeTransport

SERVER_KEY = "SB-Mid-server-TEST-KEY"
BASE_URL = "https://api.sandbox.midtrans.com"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "midtrans"
EXPECTED_AUTH = "Basic " + base64.b64encode(b"SB-Mid-server-TEST-KEY:").decode()


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def replay(*answers: str | dict[str, Any] | tuple[int, str | dict[str, Any] | bytes]) -> FakeTransport:
    """replay("status_pending.json", (404, "status_404.json"), (500, b"oops"), {...inline body...})."""
    encoded: list[tuple[int, bytes] | Exception] = []
    for answer in answers:
        status, body = answer if isinstance(answer, tuple) else (200, answer)
        if isinstance(body, str):
            body = fixture(body)
        encoded.append((status, body if isinstance(body, bytes) else json.dumps(body).encode()))
    return FakeTransport(encoded)


def gateway(transport: FakeTransport, base_url: str = BASE_URL) -> MidtransGateway:
    return MidtransGateway(server_key=SERVER_KEY, base_url=base_url, transport=transport)


def charge_request(method: str, **overrides: Any) -> ChargeRequest:
    values: dict[str, Any] = {
        "order_id": "TF-20240514-0001",
        "amount": 150000,
        "method": method,
        "customer_name": "Sari",
        "customer_email": "sari@example.com",
        "customer_phone": "+6281234567890",
        "expiry_minutes": 60,
        **overrides,
    }
    return ChargeRequest(**values)


def common_body(request: ChargeRequest) -> dict[str, Any]:
    return {
        "transaction_details": {"order_id": request.order_id, "gross_amount": request.amount},
        "customer_details": {
            "first_name": request.customer_name,
            "email": request.customer_email,
            "phone": request.customer_phone,
        },
    }


def assert_json_call(call: Call, method: str, url: str) -> None:
    assert (call.method, call.url) == (method, url)
    assert call.headers["Authorization"] == EXPECTED_AUTH
    assert call.headers["Accept"] == "application/json"
    assert call.headers["Content-Type"] == "application/json"


# -- charge ------------------------------------------------------------------------------------------------------


def test_charge_bank_transfer_opens_a_bca_virtual_account() -> None:
    transport = replay("charge_bank_transfer_bca.json")
    request = charge_request(BANK_TRANSFER, bank="bca")

    instructions = gateway(transport).charge(request)

    assert_json_call(transport.last, "POST", f"{BASE_URL}/v2/charge")
    assert transport.last.json == {
        **common_body(request),
        "custom_expiry": {"expiry_duration": 60, "unit": "minute"},
        "payment_type": "bank_transfer",
        "bank_transfer": {"bank": "bca"},
    }
    assert instructions == PaymentInstructions(
        provider="midtrans",
        method=BANK_TRANSFER,
        transaction_id="9aed5972-5b6a-401e-894b-a32c91ed1a3a",
        amount=150000,
        expires_at="2024-05-14T04:21:33.000Z",  # Midtrans' expiry_time is Jakarta local time (UTC+7)
        bank="bca",
        va_number="1234554820193746",
    )


def test_charge_permata_reads_the_single_va_number() -> None:
    answer = {**fixture("charge_bank_transfer_bca.json"), "permata_va_number": "8778004890127981"}
    del answer["va_numbers"]
    instructions = gateway(replay(answer)).charge(charge_request(BANK_TRANSFER, bank="permata"))
    assert (instructions.bank, instructions.va_number) == ("permata", "8778004890127981")


def test_charge_qris_returns_the_qr_string_and_image_url() -> None:
    transport = replay("charge_qris.json")
    request = charge_request(QRIS, order_id="TF-20240514-0002", amount=89000, expiry_minutes=15)

    instructions = gateway(transport).charge(request)

    assert transport.last.json == {
        **common_body(request),
        "custom_expiry": {"expiry_duration": 15, "unit": "minute"},
        "payment_type": "qris",
    }
    recorded = fixture("charge_qris.json")
    assert instructions.qr_string == recorded["qr_string"]
    assert (instructions.qr_string or "").startswith("00020101021226")
    assert instructions.redirect_url == recorded["actions"][0]["url"]
    assert instructions.transaction_id == recorded["transaction_id"]
    assert instructions.expires_at == "2024-05-14T03:40:02.000Z"
    assert instructions.va_number is None and instructions.deeplink_url is None


def test_charge_ewallet_uses_gopay_with_its_deeplink() -> None:
    transport = replay("charge_gopay.json")
    request = charge_request(EWALLET, order_id="TF-20240514-0003", amount=125500)

    instructions = gateway(transport).charge(request)

    body = transport.last.json
    assert body["payment_type"] == "gopay" and body["gopay"] == {"enable_callback": True}
    assert body["transaction_details"] == {"order_id": "TF-20240514-0003", "gross_amount": 125500}
    assert instructions.method == EWALLET
    assert instructions.deeplink_url == (
        "https://simulator.sandbox.midtrans.com/gopay/partner/app/payment-pin?id=231c79c5-e39e-4993-86da-cadcaee56c1d"
    )
    assert instructions.redirect_url == (
        "https://api.sandbox.midtrans.com/v2/gopay/231c79c5-e39e-4993-86da-cadcaee56c1d/qr-code"
    )


def test_charge_card_goes_through_a_snap_redirect() -> None:
    transport = replay((201, "snap_transaction.json"))
    request = charge_request(CARD, expiry_minutes=30)
    before = clock.now()

    instructions = gateway(transport).charge(request)

    assert_json_call(transport.last, "POST", "https://app.sandbox.midtrans.com/snap/v1/transactions")
    assert transport.last.json == {
        **common_body(request),
        "enabled_payments": ["credit_card"],
        "credit_card": {"secure": True},
        "expiry": {"unit": "minute", "duration": 30},
    }
    snap = fixture("snap_transaction.json")
    assert instructions.redirect_url == snap["redirect_url"]
    assert instructions.transaction_id == snap["token"]
    expires = clock.parse_iso(instructions.expires_at)
    assert before + timedelta(minutes=29) < expires <= clock.now() + timedelta(minutes=30)


def test_snap_refusal_is_a_gateway_error() -> None:
    transport = replay((400, {"error_messages": ["transaction_details.gross_amount is not equal to the sum"]}))
    with pytest.raises(GatewayError, match="gross_amount is not equal"):
        gateway(transport).charge(charge_request(CARD))


@pytest.mark.parametrize(
    ("base_url", "snap_url"),
    [
        ("https://api.sandbox.midtrans.com", "https://app.sandbox.midtrans.com"),
        ("https://api.midtrans.com", "https://app.midtrans.com"),
        ("https://api.midtrans.com/", "https://app.midtrans.com"),
    ],
)
def test_snap_lives_beside_the_core_api(base_url: str, snap_url: str) -> None:
    assert snap_base_url(base_url) == snap_url
    transport = replay((201, "snap_transaction.json"))
    gateway(transport, base_url=base_url).charge(charge_request(CARD))
    assert transport.last.url == f"{snap_url}/snap/v1/transactions"


def test_a_duplicate_order_id_is_a_gateway_error_with_midtrans_reason() -> None:
    transport = replay("charge_406_duplicate.json")  # Midtrans answers HTTP 200 with status_code "406"
    with pytest.raises(MidtransError, match="406") as raised:
        gateway(transport).charge(charge_request(BANK_TRANSFER))
    assert isinstance(raised.value, GatewayError)
    assert raised.value.status_code == "406"
    assert "conflict" in str(raised.value)


# charge_echannel_mandiri.json and charge_cstore_indomaret.json are reconstructed from Midtrans' Core API docs
# (Mandiri Bill Payment and Indomaret/Alfamart charge responses), not recorded from the sandbox.
def test_a_mandiri_virtual_account_is_a_bill_payment_with_biller_code_and_bill_key() -> None:
    transport = replay("charge_echannel_mandiri.json")
    instructions = gateway(transport).charge(charge_request(BANK_TRANSFER, bank="mandiri"))
    body = transport.last.json
    assert body["payment_type"] == "echannel" and set(body["echannel"]) == {"bill_info1", "bill_info2"}
    assert (instructions.bank, instructions.biller_code, instructions.bill_key) == ("mandiri", "70012",
                                                                                    "778347451284")
    assert instructions.va_number is None and instructions.expires_at == "2024-05-14T04:20:11.000Z"


@pytest.mark.parametrize("bank", ["bni", "bri", "permata"])
def test_the_customer_chooses_the_virtual_accounts_bank(bank: str) -> None:
    transport = replay("charge_bank_transfer_bca.json")
    gateway(transport).charge(charge_request(BANK_TRANSFER, bank=bank))
    assert transport.last.json["bank_transfer"] == {"bank": bank}


def test_a_convenience_store_payment_gives_the_cashiers_payment_code() -> None:
    transport = replay("charge_cstore_indomaret.json")
    instructions = gateway(transport).charge(charge_request(CONVENIENCE_STORE, store="indomaret"))
    assert transport.last.json["payment_type"] == "cstore"
    assert transport.last.json["cstore"]["store"] == "indomaret"
    assert (instructions.store, instructions.payment_code) == ("indomaret", "010811223344")


def test_a_duplicate_order_id_tells_the_shop_to_recover_rather_than_charge_again() -> None:
    with pytest.raises(OrderIdAlreadyUsed):
        gateway(replay("charge_406_duplicate.json")).charge(charge_request(BANK_TRANSFER))


@pytest.mark.parametrize("answer", [(500, b"<html>Internal Server Error</html>"), (503, b"")])
def test_a_5xx_is_an_unknown_outcome_not_a_refusal(answer: tuple[int, bytes]) -> None:
    with pytest.raises(OutcomeUnknown):
        gateway(replay(answer)).charge(charge_request(BANK_TRANSFER))


def test_a_lost_bank_transfer_charge_is_rebuilt_from_the_status_api() -> None:
    # status body for a pending BCA virtual account, reconstructed from Midtrans' documented status response
    status = {**fixture("status_pending.json"), "payment_type": "bank_transfer", "order_id": "TF-20240514-0001",
              "gross_amount": "150000.00", "va_numbers": [{"bank": "bca", "va_number": "12345678901"}]}
    transport = replay(status)
    recovered = gateway(transport).recover(charge_request(BANK_TRANSFER))
    assert transport.last.method == "GET" and transport.last.url.endswith("/v2/TF-20240514-0001/status")
    assert recovered is not None
    assert (recovered.bank, recovered.va_number, recovered.transaction_id) == (
        "bca", "12345678901", status["transaction_id"])
    assert recovered.expires_at == "2024-05-14T03:40:02.000Z"  # 10:40:02 WIB


def test_a_lost_qris_charge_is_rebuilt_with_the_qr_image_named_by_its_transaction() -> None:
    transport = replay("status_pending.json")
    recovered = gateway(transport).recover(charge_request(QRIS, order_id="TF-20240514-0002", amount=89000))
    assert recovered is not None and recovered.redirect_url == (
        f"{BASE_URL}/v2/qris/e48447d1-cfa9-4b02-b163-2e915d4417ac/qr-code")


def test_nothing_to_recover_when_midtrans_never_heard_of_the_order() -> None:
    assert gateway(replay("status_404.json")).recover(charge_request(BANK_TRANSFER)) is None
    assert gateway(replay()).recover(charge_request(CARD)) is None  # a Snap page cannot be rebuilt: charge again


@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_a_held_card_payment_is_approved_or_denied_through_its_endpoint(decision: str) -> None:
    answer = {**fixture("notification_capture_accept_credit_card.json"), "status_code": "200"}
    transport = replay(answer)
    getattr(gateway(transport), decision)("TF-20240514-0001")
    assert_json_call(transport.last, "POST", f"{BASE_URL}/v2/TF-20240514-0001/{decision}")


def test_an_unsupported_method_is_refused_before_calling_midtrans() -> None:
    transport = replay()
    with pytest.raises(GatewayError, match="cod"):
        gateway(transport).charge(charge_request("cod"))
    assert transport.calls == []


# -- status ------------------------------------------------------------------------------------------------------


def test_status_of_a_settled_transfer() -> None:
    transport = replay("status_settlement.json")

    status = gateway(transport).status("TF-20240514-0001")

    call = transport.last
    assert_json_call(call, "GET", f"{BASE_URL}/v2/TF-20240514-0001/status")
    assert call.body is None
    assert status == GatewayStatus(
        order_id="TF-20240514-0001",
        transaction_status="settlement",
        gross_amount="150000.00",
        payment_type="bank_transfer",
        transaction_id="9aed5972-5b6a-401e-894b-a32c91ed1a3a",
        fraud_status="accept",
        status_code="200",
        raw=fixture("status_settlement.json"),
    )


def test_status_of_a_pending_qris() -> None:
    status = gateway(replay("status_pending.json")).status("TF-20240514-0002")
    assert status is not None
    assert (status.transaction_status, status.status_code, status.gross_amount) == ("pending", "201", "89000.00")
    assert status.payment_type == "qris"


@pytest.mark.parametrize("http_status", [200, 404])
def test_status_of_an_unknown_order_is_none(http_status: int) -> None:
    assert gateway(replay((http_status, "status_404.json"))).status("TF-unknown") is None


@pytest.mark.parametrize(("transaction_status", "code"), [("expire", "407"), ("deny", "202")])
def test_status_reports_expired_and_denied_transactions(transaction_status: str, code: str) -> None:
    answer = {**fixture("status_pending.json"), "transaction_status": transaction_status, "status_code": code}
    status = gateway(replay(answer)).status("TF-20240514-0002")
    assert status is not None and (status.transaction_status, status.status_code) == (transaction_status, code)


def test_order_ids_are_escaped_in_the_path() -> None:
    transport = replay("status_404.json")
    gateway(transport).status("TF 1/2")
    assert transport.last.url == f"{BASE_URL}/v2/TF%201%2F2/status"


# -- refund and cancel -------------------------------------------------------------------------------------------


def test_refund() -> None:
    transport = replay("refund_success.json")

    result = gateway(transport).refund(
        "TF-20240514-0004", amount=50000, reason="barang rusak", refund_key="TF-20240514-0004-r1"
    )

    assert_json_call(transport.last, "POST", f"{BASE_URL}/v2/TF-20240514-0004/refund")
    assert transport.last.json == {"refund_key": "TF-20240514-0004-r1", "amount": 50000, "reason": "barang rusak"}
    assert result == RefundResult(
        order_id="TF-20240514-0004",
        amount=50000,
        refund_key="TF-20240514-0004-r1",
        status="refunded",
        raw=fixture("refund_success.json"),
    )


def test_a_refund_midtrans_will_never_make_is_refused_for_good_so_the_shop_pays_out() -> None:
    answer = {"status_code": "412", "status_message": "Merchant cannot modify the status of the transaction"}
    with pytest.raises(RefundRefused, match="cannot modify"):
        gateway(replay(answer)).refund("TF-1", amount=1000, reason="x", refund_key="k")


def test_a_refund_midtrans_cannot_make_right_now_stays_a_retryable_error() -> None:
    with pytest.raises(GatewayError) as error:
        gateway(replay((503, b"down"))).refund("TF-1", amount=1000, reason="x", refund_key="k")
    assert not isinstance(error.value, RefundRefused)


def test_cancel() -> None:
    transport = replay("cancel_success.json")

    status = gateway(transport).cancel("TF-20240514-0003")

    assert_json_call(transport.last, "POST", f"{BASE_URL}/v2/TF-20240514-0003/cancel")
    assert transport.last.body is None
    assert (status.order_id, status.transaction_status, status.status_code) == ("TF-20240514-0003", "cancel", "200")
    assert status.payment_type == "gopay"


# -- failures ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        (500, b"<html>Internal Server Error</html>"),
        (503, b""),
        (200, b"not json"),
        (200, b"[]"),
        (200, {"status_code": "500", "status_message": "Sorry, we encountered internal server error"}),
        (401, {"status_code": "401", "status_message": "Access denied due to unauthorized transaction"}),
    ],
)
def test_failed_answers_are_gateway_errors(answer: tuple[int, Any]) -> None:
    with pytest.raises(GatewayError):
        gateway(replay(answer)).status("TF-1")


def test_transport_failures_propagate_as_gateway_errors() -> None:
    def broken(method: str, url: str, headers: dict[str, str], body: bytes | None) -> tuple[int, bytes]:
        raise GatewayError("midtrans unreachable: timed out")

    with pytest.raises(GatewayError, match="unreachable"):
        MidtransGateway(server_key=SERVER_KEY, transport=broken).cancel("TF-1")


def test_a_missing_server_key_is_a_gateway_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(config.MIDTRANS_SERVER_KEY, raising=False)
    with pytest.raises(GatewayError, match=config.MIDTRANS_SERVER_KEY):
        MidtransGateway()


def test_server_key_and_base_url_come_from_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.MIDTRANS_SERVER_KEY, SERVER_KEY)
    monkeypatch.delenv(config.MIDTRANS_BASE_URL, raising=False)
    transport = replay("status_404.json", "status_404.json")
    MidtransGateway(transport=transport).status("TF-1")
    assert transport.last.url == "https://api.sandbox.midtrans.com/v2/TF-1/status"
    assert transport.last.headers["Authorization"] == EXPECTED_AUTH

    monkeypatch.setenv(config.MIDTRANS_BASE_URL, "https://api.midtrans.com")
    MidtransGateway(transport=transport).status("TF-1")
    assert transport.last.url == "https://api.midtrans.com/v2/TF-1/status"


# -- the real urllib transport, against a local server -----------------------------------------------------------


@dataclass
class LocalServer:
    url: str
    seen: list[dict[str, Any]]


@pytest.fixture
def local_server() -> Iterator[LocalServer]:
    seen: list[dict[str, Any]] = []
    release = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
            if self.path.startswith("/slow"):
                release.wait(5)  # never answers in time; the client has given up by now
                return
            status = 404 if "missing" in self.path else 200
            payload = fixture("status_404.json" if status == 404 else "status_settlement.json")
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LocalServer(f"http://127.0.0.1:{server.server_address[1]}", seen)
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_urllib_transport_sends_basic_auth_and_json(local_server: LocalServer) -> None:
    gateway_over_http = MidtransGateway(server_key=SERVER_KEY, base_url=local_server.url)
    status = gateway_over_http.status("TF-20240514-0001")
    assert status is not None and status.transaction_status == "settlement"
    request = local_server.seen[-1]
    assert (request["method"], request["path"]) == ("GET", "/v2/TF-20240514-0001/status")
    assert request["headers"]["Authorization"] == EXPECTED_AUTH
    assert request["headers"]["Accept"] == "application/json"
    assert gateway_over_http.status("missing-order") is None  # HTTP 404 with Midtrans' 404 body


def test_urllib_transport_posts_the_body(local_server: LocalServer) -> None:
    status_code, body = urllib_transport(
        "POST", f"{local_server.url}/v2/charge", {"Content-Type": "application/json"}, b'{"a":1}'
    )
    assert status_code == 200 and json.loads(body)["order_id"] == "TF-20240514-0001"
    assert local_server.seen[-1]["body"] == b'{"a":1}'


def test_urllib_transport_times_out(local_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(midtrans, "TIMEOUT_SECONDS", 0.2)
    with pytest.raises(GatewayError, match="unreachable"):
        urllib_transport("GET", f"{local_server.url}/slow", {}, None)


def test_urllib_transport_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(GatewayError, match="unreachable"):
        urllib_transport("GET", f"http://127.0.0.1:{port}/v2/x/status", {}, None)


# -- choosing the adapter ----------------------------------------------------------------------------------------


@pytest.fixture
def fresh_adapters() -> Iterator[None]:
    adapters.reset()
    yield
    adapters.reset()


def test_the_sandbox_is_the_default_gateway(monkeypatch: pytest.MonkeyPatch, fresh_adapters: None) -> None:
    monkeypatch.delenv(config.PAYMENT_GATEWAY, raising=False)
    chosen = adapters.payment_gateway()
    assert chosen.name == "sandbox"
    assert adapters.payment_gateway() is chosen  # built once per process


def test_midtrans_is_chosen_by_configuration(monkeypatch: pytest.MonkeyPatch, fresh_adapters: None) -> None:
    monkeypatch.setenv(config.PAYMENT_GATEWAY, "midtrans")
    monkeypatch.setenv(config.MIDTRANS_SERVER_KEY, SERVER_KEY)
    chosen = adapters.payment_gateway()
    assert isinstance(chosen, MidtransGateway) and chosen.name == "midtrans"


def test_an_unknown_gateway_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch, fresh_adapters: None) -> None:
    monkeypatch.setenv(config.PAYMENT_GATEWAY, "paypal")
    with pytest.raises(RuntimeError, match="paypal"):
        adapters.payment_gateway()


def basic_auth(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def test_a_rotated_server_key_is_used_by_the_next_call_of_the_configured_gateway(
        monkeypatch: pytest.MonkeyPatch, fresh_adapters: None) -> None:
    # GIVEN the configured Midtrans gateway, built once and kept by the adapters, signing with the current key
    transport = replay("status_404.json", "status_404.json")
    monkeypatch.setattr(midtrans, "urllib_transport", transport)
    monkeypatch.setenv(config.PAYMENT_GATEWAY, "midtrans")
    monkeypatch.setenv(config.MIDTRANS_SERVER_KEY, "SB-Mid-server-OLD")
    adapters.payment_gateway().status("TF-1")
    assert transport.last.headers["Authorization"] == basic_auth("SB-Mid-server-OLD")
    # WHEN the key is rotated
    monkeypatch.setenv(config.MIDTRANS_SERVER_KEY, "SB-Mid-server-NEW")
    # THEN the very next outgoing call carries the new key, from the same cached gateway
    gateway_after = adapters.payment_gateway()
    gateway_after.status("TF-1")
    assert transport.last.headers["Authorization"] == basic_auth("SB-Mid-server-NEW")
    assert gateway_after is adapters.payment_gateway()


def test_a_changed_base_url_builds_a_new_midtrans_gateway(monkeypatch: pytest.MonkeyPatch,
                                                          fresh_adapters: None) -> None:
    monkeypatch.setenv(config.PAYMENT_GATEWAY, "midtrans")
    monkeypatch.setenv(config.MIDTRANS_SERVER_KEY, SERVER_KEY)
    monkeypatch.delenv(config.MIDTRANS_BASE_URL, raising=False)
    sandbox_url = adapters.payment_gateway()
    monkeypatch.setenv(config.MIDTRANS_BASE_URL, "https://api.midtrans.com")
    production = adapters.payment_gateway()
    assert isinstance(sandbox_url, MidtransGateway) and isinstance(production, MidtransGateway)
    assert (sandbox_url.base_url, production.base_url) == (BASE_URL, "https://api.midtrans.com")


def test_a_key_removed_after_construction_fails_the_call_not_silently(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.MIDTRANS_SERVER_KEY, SERVER_KEY)
    transport = replay("status_404.json")
    live = MidtransGateway(transport=transport)
    monkeypatch.delenv(config.MIDTRANS_SERVER_KEY)
    with pytest.raises(GatewayError, match=config.MIDTRANS_SERVER_KEY):
        live.status("TF-1")
    assert transport.calls == []


def test_server_key_has_no_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(config.MIDTRANS_SERVER_KEY, raising=False)
    with pytest.raises(RuntimeError, match=config.MIDTRANS_SERVER_KEY):
        adapters.server_key()
    monkeypatch.setenv(config.MIDTRANS_SERVER_KEY, SERVER_KEY)
    assert adapters.server_key() == SERVER_KEY
