"""Drive an order through its journey by hand against the running local stack, as the outside world would:
the sandbox gateway pays (or expires) it and sends a signed Midtrans notification; staff pack it; the
sandbox courier sends signed status webhooks; finance builds and downloads a sales report. Every step goes
through the shop's real HTTP endpoints.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

LOCAL_STAGE = "local"
COURIER_JOURNEY = ("allocated", "picking_up", "picked", "dropping_off", "delivered")


def use_local_stack(moto_url: str) -> None:
    """Point this process at the local stack: its endpoint, its tables, its sandbox secrets."""
    from tools.cli import stage_environment

    for name, value in stage_environment(LOCAL_STAGE).items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("AWS_ENDPOINT_URL", moto_url)
    for name, value in (("AWS_DEFAULT_REGION", "ap-southeast-3"), ("AWS_ACCESS_KEY_ID", "testing"),
                        ("AWS_SECRET_ACCESS_KEY", "testing")):
        os.environ.setdefault(name, value)


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()
    except urllib.error.URLError as error:
        raise click.ClickException(f"no answer from {url} ({error.reason}): is `make run` up?") from None


def _load_order(order_id: str) -> Any:
    from chalicelib.orders import repository

    order = repository.get(order_id)
    if order is None:
        raise click.ClickException(f"order {order_id} not found in {os.environ.get('TOKOFLOW_PREFIX')}-orders")
    return order


@click.command("pay")
@click.argument("order_id")
@click.option("--outcome", type=click.Choice(["settlement", "expire", "deny", "failure", "reverse", "hold"]),
              default="settlement", show_default=True,
              help="What the sandbox gateway does with the payment: reverse takes a settlement back (the bank's "
                   "deny), hold keeps a card payment for fraud review (staff decide: payment-review).")
@click.option("--amount", type=int, default=None, help="Settle a different amount (to see an underpayment flagged).")
@click.option("--api", default="http://127.0.0.1:8000", show_default=True)
@click.option("--moto", "moto_url", default="http://127.0.0.1:4566", show_default=True)
def pay(order_id: str, outcome: str, amount: int | None, api: str, moto_url: str) -> None:
    """Pay (or expire/deny) ORDER_ID at the sandbox gateway and send the shop its signed notification."""
    use_local_stack(moto_url)
    from chalicelib.payments.adapters import server_key
    from chalicelib.payments.sandbox import SandboxGateway

    gateway = SandboxGateway()
    if gateway.status(order_id) is None:
        raise click.ClickException(f"the sandbox gateway has no payment for {order_id} (a COD order?)")
    if outcome == "settlement":
        gateway.settle(order_id, amount=amount)
    elif outcome == "expire":
        gateway.expire(order_id)
    elif outcome == "reverse":
        gateway.reverse(order_id, to="deny")
    elif outcome == "hold":
        gateway.hold(order_id)
    else:
        gateway.fail(order_id, status=outcome)
    sent = gateway.deliveries(order_id, server_key=server_key())  # an armed notify fault drops, doubles, reorders
    if not sent:
        click.echo(f"gateway: {outcome}; the notification was dropped (the reconciliation schedule finds it)")
    for payload in sent:
        status, text = post(f"{api}/webhooks/payments/midtrans", json.dumps(payload).encode(), {})
        click.echo(f"gateway: {outcome}; {payload['transaction_status']} notification -> HTTP {status} {text}")


@click.command("payment-fault")
@click.argument("fault")
@click.option("--times", default=1, show_default=True, type=click.IntRange(min=0, max=100),
              help="How many times the fault happens (0 disarms it).")
@click.option("--moto", "moto_url", default="http://127.0.0.1:4566", show_default=True)
def payment_fault(fault: str, times: int, moto_url: str) -> None:
    """Make the sandbox gateway misbehave the next TIMES times, as real gateways do.

    FAULT: charge:timeout_after, charge:timeout_before, charge:error_5xx, charge:already_used (a checkout's charge),
    notify:drop, notify:twice, notify:out_of_order (the notifications `make pay` sends).
    """
    use_local_stack(moto_url)
    from chalicelib.payments import sandbox

    operation, _, name = fault.partition(":")
    try:
        sandbox.arm(operation, name, times=times)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"sandbox gateway: {fault} armed for the next {times} time(s)" if times else f"{fault} disarmed")


@click.command("pack")
@click.argument("order_id")
@click.option("--api", default="http://127.0.0.1:8000", show_default=True)
@click.option("--moto", "moto_url", default="http://127.0.0.1:4566", show_default=True)
def pack(order_id: str, api: str, moto_url: str) -> None:
    """Staff mark ORDER_ID packed (the workflow then books the courier)."""
    use_local_stack(moto_url)
    from chalicelib.auth import mint_dev_token

    token = mint_dev_token(role="staff", sub="staff-cli")
    status, text = post(f"{api}/admin/orders/{order_id}/packed", b"{}", {"Authorization": f"Bearer {token}"})
    click.echo(f"packed -> HTTP {status} {text[:300]}")


@click.command("courier")
@click.argument("order_id")
@click.option("--status", "statuses", multiple=True,
              help="Biteship status to report (repeatable); default: the whole journey to delivered.")
@click.option("--api", default="http://127.0.0.1:8000", show_default=True)
@click.option("--moto", "moto_url", default="http://127.0.0.1:4566", show_default=True)
def courier(order_id: str, statuses: tuple[str, ...], api: str, moto_url: str) -> None:
    """The sandbox courier moves ORDER_ID's parcel and sends the shop its signed webhooks (through any fault armed
    with `make courier-fault`: a webhook dropped, sent twice or out of order)."""
    use_local_stack(moto_url)
    from chalicelib import clock
    from chalicelib.shipping.couriers import CourierError
    from tools.sandbox_courier import send_courier_webhooks

    order = _load_order(order_id)
    if not order.shipment:
        raise click.ClickException(f"{order_id} has no shipment yet (status {order.status}): pack it first")
    reported = statuses or COURIER_JOURNEY
    start = clock.now() - timedelta(minutes=len(reported) - 1)  # a minute apart, the last one now
    journey = [(status, clock.iso(start + timedelta(minutes=index))) for index, status in enumerate(reported)]
    try:
        sent = send_courier_webhooks(api, order_id, journey)
    except (CourierError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    for status, code, text in sent:
        click.echo(f"{status:<14} -> HTTP {code} {text}")
    if len(sent) < len(journey):
        click.echo(f"({len(journey) - len(sent)} webhook(s) dropped by the sandbox courier: `make poll-shipments` "
                   "finds their statuses)")


@click.command("payout")
@click.argument("order_id")
@click.option("--bank", default="bca", show_default=True, help="The customer's bank (bca, bni, bri, mandiri, ...).")
@click.option("--account-number", default="1234567890", show_default=True)
@click.option("--holder", default=None, help="Account holder (default: the order's customer).")
@click.option("--reference", default=None, help="Finance's transfer reference (default: TRF-<order id>).")
@click.option("--api", default="http://127.0.0.1:8000", show_default=True)
@click.option("--moto", "moto_url", default="http://127.0.0.1:4566", show_default=True)
def payout(order_id: str, bank: str, account_number: str, holder: str | None, reference: str | None, api: str,
           moto_url: str) -> None:
    """A refund the gateway cannot make, paid out: the customer gives a bank account, finance confirms the
    transfer (ORDER_ID must have a payout, e.g. a bank-transfer order cancelled after payment)."""
    use_local_stack(moto_url)
    from chalicelib.auth import mint_dev_token
    from chalicelib.payments import repository

    waiting = [item for item in repository.payouts_of(order_id) if item.status != "paid"]
    if not waiting:
        raise click.ClickException(f"{order_id} has no payout waiting (a card refund goes back by the gateway)")
    customer = _load_order(order_id).customer
    staff = {"Authorization": f"Bearer {mint_dev_token(role='staff', sub='staff-cli')}"}  # may act for a guest
    account = {"bank": bank, "account_number": account_number, "account_holder": holder or customer["name"]}
    status, text = post(f"{api}/orders/{order_id}/refund-account", json.dumps(account).encode(), staff)
    click.echo(f"customer's account -> HTTP {status} {text[:300]}")
    finance = {"Authorization": f"Bearer {mint_dev_token(role='finance', sub='finance-cli')}"}
    for item in waiting:
        body = json.dumps({"reference": reference or f"TRF-{order_id}"}).encode()
        status, text = post(f"{api}/admin/payouts/{item.payout_id}/paid", body, finance)
        click.echo(f"finance paid {item.payout_id} -> HTTP {status} {text[:300]}")


# ---- returns --------------------------------------------------------------------------------------------------


def _staff(role: str = "staff") -> dict[str, str]:
    from chalicelib.auth import mint_dev_token

    return {"Authorization": f"Bearer {mint_dev_token(role=role, sub=f'{role}-cli')}"}


def _show(label: str, status: int, text: str) -> dict[str, Any]:
    try:
        body = json.loads(text)
    except ValueError:
        body = {}
    if status >= 400 or not isinstance(body, dict):
        click.echo(f"{label} -> HTTP {status} {text[:300]}")
        return {}
    refund = body.get("refund") or {}
    extra = f", refund Rp{refund.get('amount', 0):,} by {refund.get('by')}" if refund else ""
    click.echo(f"{label} -> HTTP {status}: return {body.get('return_id')} is {body.get('status')}{extra}")
    return body


@click.command("return-request")
@click.argument("order_id")
@click.option("--sku", default=None, help="SKU to return (default: the order's first line).")
@click.option("--quantity", default=1, show_default=True)
@click.option("--reason", default="damaged", show_default=True,
              type=click.Choice(["damaged", "wrong_item", "not_as_described", "incomplete", "changed_mind", "other"]))
@click.option("--api", default="http://127.0.0.1:8000", show_default=True)
@click.option("--moto", "moto_url", default="http://127.0.0.1:4566", show_default=True)
def return_request(order_id: str, sku: str | None, quantity: int, reason: str, api: str, moto_url: str) -> None:
    """The customer asks to return units of a delivered ORDER_ID (staff act for the guest here)."""
    use_local_stack(moto_url)
    order = _load_order(order_id)
    body = {"lines": [{"sku": sku or order.lines[0].sku, "quantity": quantity}], "reason": reason,
            "note": "dikirim dari make return"}
    status, text = post(f"{api}/orders/{order_id}/returns", json.dumps(body).encode(), _staff())
    _show("return requested", status, text)


@click.command("return-approve")
@click.argument("return_id")
@click.option("--refund-only", is_flag=True, help="Refund without asking for the goods back.")
@click.option("--reject", "reject_reason", default=None, help="Reject with this reason instead.")
@click.option("--api", default="http://127.0.0.1:8000", show_default=True)
@click.option("--moto", "moto_url", default="http://127.0.0.1:4566", show_default=True)
def return_approve(return_id: str, refund_only: bool, reject_reason: str | None, api: str, moto_url: str) -> None:
    """Staff decide on RETURN_ID: approve (the goods come back), refund only, or reject with a reason."""
    use_local_stack(moto_url)
    if reject_reason:
        status, text = post(f"{api}/admin/returns/{return_id}/reject",
                            json.dumps({"reason": reject_reason}).encode(), _staff())
        _show("rejected", status, text)
        return
    status, text = post(f"{api}/admin/returns/{return_id}/approve",
                        json.dumps({"refund_only": refund_only}).encode(), _staff())
    _show("approved", status, text)


@click.command("return-send")
@click.argument("return_id")
@click.option("--courier", "courier_code", default="JNE", show_default=True)
@click.option("--waybill", default=None, help="The customer's waybill (default: a made-up JNE one).")
@click.option("--pickup", is_flag=True, help="Staff book a pickup with the order's courier instead.")
@click.option("--api", default="http://127.0.0.1:8000", show_default=True)
@click.option("--moto", "moto_url", default="http://127.0.0.1:4566", show_default=True)
def return_send(return_id: str, courier_code: str, waybill: str | None, pickup: bool, api: str, moto_url: str
                ) -> None:
    """The parcel goes back: the customer enters the courier and waybill, or staff book a pickup."""
    use_local_stack(moto_url)
    order_id = return_id.rsplit("-R", 1)[0]
    if pickup:
        status, text = post(f"{api}/admin/returns/{return_id}/pickup", b"", _staff())
        _show("pickup booked", status, text)
        return
    body = {"courier": courier_code, "waybill_id": waybill or f"JNE{uuid.uuid4().int % 10**10:010d}"}
    status, text = post(f"{api}/orders/{order_id}/returns/{return_id}/shipment", json.dumps(body).encode(),
                        _staff())
    _show("sent back", status, text)


@click.command("return-receive")
@click.argument("return_id")
@click.option("--write-off", default=0, show_default=True, help="Units of each line written off instead.")
@click.option("--reason", default="rusak, tidak layak jual", show_default=True, help="Why units are written off.")
@click.option("--api", default="http://127.0.0.1:8000", show_default=True)
@click.option("--moto", "moto_url", default="http://127.0.0.1:4566", show_default=True)
def return_receive(return_id: str, write_off: int, reason: str, api: str, moto_url: str) -> None:
    """Staff receive RETURN_ID's parcel: every unit restocked, or WRITE_OFF units per line written off."""
    use_local_stack(moto_url)
    from chalicelib.returns import repository

    ret = repository.get(return_id)
    if ret is None:
        raise click.ClickException(f"return {return_id} not found")
    lines = [{"sku": line.sku, "restock": line.quantity - min(write_off, line.quantity),
              "write_off": min(write_off, line.quantity), "write_off_reason": reason if write_off else ""}
             for line in ret.lines]
    status, text = post(f"{api}/admin/returns/{return_id}/receive", json.dumps({"lines": lines}).encode(), _staff())
    _show("received", status, text)


@click.command("returns")
@click.argument("order_id")
@click.option("--moto", "moto_url", default="http://127.0.0.1:4566", show_default=True)
def show_returns(order_id: str, moto_url: str) -> None:
    """ORDER_ID's returns, their steps and refunds, and the order's refunded total."""
    use_local_stack(moto_url)
    from chalicelib.returns import repository

    order = _load_order(order_id)
    click.echo(f"order {order_id}: {order.status}, refunded Rp{order.refunded_total:,}")
    for ret in repository.of_order(order_id):
        refund = ret.refund or {}
        click.echo(f"  {ret.return_id} {ret.status} ({ret.reason})"
                   + (f", refund Rp{refund.get('amount', 0):,} by {refund.get('by')}" if refund else ""))
        for entry in ret.history:
            click.echo(f"    {entry.at}  {entry.status:<10} {entry.note}")


# ---- loyalty points -------------------------------------------------------------------------------------------


@click.command("points-due")
@click.option("--days", default=8, show_default=True, type=click.IntRange(min=0, max=366),
              help="Credit the earnings whose return window will have closed this many days from now.")
@click.option("--moto", "moto_url", default="http://127.0.0.1:4566", show_default=True)
def points_due(days: int, moto_url: str) -> None:
    """Credit loyalty earnings now instead of after the return window (local stack only).

    On AWS the hourly `credit_loyalty_points` schedule credits an order's points once its return window has
    closed; locally nobody waits a week, so this runs the same step as if DAYS days had passed.
    """
    use_local_stack(moto_url)
    from chalicelib import clock
    from chalicelib.loyalty import service

    result = service.credit_due(clock.now() + timedelta(days=days))
    click.echo(f"earnings credited: {result['credited']}" + (f", {result['skipped']} left for the next run"
                                                           if result["skipped"] else ""))


# ---- sales reports --------------------------------------------------------------------------------------------

REPORT_POLL_SECONDS = 0.5
DOWNLOAD_CHUNK = 64 * 1024


def get_json(url: str, headers: dict[str, str]) -> tuple[int, Any]:
    """GET a JSON answer: (status, body); a body that is not JSON comes back as text."""
    request = urllib.request.Request(url, method="GET", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, text = answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            status, text = error.code, error.read().decode()
    except urllib.error.URLError as error:
        raise click.ClickException(f"no answer from {url} ({error.reason}): is `make run` up?") from None
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def _shown(status: str | None) -> str | None:
    return status


def _wait_for_report(api: str, report_id: str, headers: dict[str, str], timeout: float) -> dict[str, Any]:
    """Poll GET /admin/reports/{id} until it is ready; a failed build or the deadline is an error."""
    start, steps = time.monotonic(), max(1, int(timeout))
    with click.progressbar(length=steps, label=f"Building {report_id}", show_percent=False, show_eta=False,
                           item_show_func=_shown, file=sys.stderr) as bar:
        while True:
            status, body = get_json(f"{api}/admin/reports/{report_id}", headers)
            if status != 200 or not isinstance(body, dict):
                raise click.ClickException(f"GET /admin/reports/{report_id} -> HTTP {status} {str(body)[:300]}")
            state = str(body.get("status"))
            if state == "ready":
                bar.update(steps - bar.pos, state)
                return body
            if state == "failed":
                raise click.ClickException(f"report {report_id} failed: {body.get('error') or 'no error recorded'}")
            elapsed = time.monotonic() - start
            if elapsed > timeout:
                raise click.ClickException(f"report {report_id} is still {state} after {timeout:.0f}s: is `make run` "
                                           "up (its SQS drivers build reports)?")
            bar.update(max(0, min(steps, int(elapsed)) - bar.pos), state)
            time.sleep(REPORT_POLL_SECONDS)


def _download(item: dict[str, Any], folder: Path) -> Path:
    """Stream one file from its presigned URL into `folder`, checking its size and SHA-256 against the report's
    answer; a file that does not match is not kept."""
    name = str(item["name"])
    if Path(name).name != name or name.startswith("."):
        raise click.ClickException(f"the report names a file {name!r}: not a plain file name, not written")
    target = folder / name
    partial = folder / f".{name}.part"
    digest = hashlib.sha256()
    size = 0
    try:
        with urllib.request.urlopen(str(item["url"]), timeout=60) as answer, partial.open("wb") as out, \
                click.progressbar(length=int(answer.headers.get("Content-Length") or item["bytes"]),
                                  label=f"{name:<24}", file=sys.stderr) as bar:
            while chunk := answer.read(DOWNLOAD_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                bar.update(len(chunk))
    except urllib.error.HTTPError as error:
        partial.unlink(missing_ok=True)
        raise click.ClickException(f"{name}: download refused, HTTP {error.code} (the link lasts "
                                   f"{item.get('expires_in', 900)}s: run the command again)") from None
    except urllib.error.URLError as error:
        partial.unlink(missing_ok=True)
        raise click.ClickException(f"{name}: no answer from the reports bucket ({error.reason})") from None
    if size != int(item["bytes"]) or digest.hexdigest() != item["sha256"]:
        partial.unlink(missing_ok=True)
        raise click.ClickException(f"{name}: {size} bytes with SHA-256 {digest.hexdigest()}, but the report says "
                                   f"{item['bytes']} bytes with {item['sha256']}: not kept")
    partial.replace(target)
    return target


def _summary(path: Path) -> dict[str, str]:
    """metric -> value of a report's summary.csv (UTF-8 with a byte order mark)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return {row["metric"]: row["value"] for row in csv.DictReader(handle)}


def _rupiah(text: str | None) -> str:
    try:
        amount = int(text or "")
    except ValueError:
        return text or "-"
    return f"-Rp{-amount:,}" if amount < 0 else f"Rp{amount:,}"


@click.command("report")
@click.option("--from", "date_from", default=None, help="First business day, YYYY-MM-DD (default: today, WIB).")
@click.option("--to", "date_to", default=None, help="Last business day, YYYY-MM-DD (default: today, WIB).")
@click.option("--out", default="laporan", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="The files go into OUT/<report_id>/.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for the build.")
@click.option("--api", default="http://127.0.0.1:8000", show_default=True)
@click.option("--moto", "moto_url", default="http://127.0.0.1:4566", show_default=True)
def report(date_from: str | None, date_to: str | None, out: Path, timeout: float, api: str, moto_url: str) -> None:
    """Finance builds a sales report for FROM..TO (Asia/Jakarta business days), waits for it, downloads its
    files through their presigned links and checks each file's SHA-256."""
    use_local_stack(moto_url)
    from chalicelib import clock

    today = clock.business_day(clock.now())
    body = {"from": date_from or today, "to": date_to or today}
    finance = _staff("finance")
    status, text = post(f"{api}/admin/reports", json.dumps(body).encode(), finance)
    if status != 202:
        raise click.ClickException(f"POST /admin/reports {body} -> HTTP {status} {text[:300]}")
    report_id = str(json.loads(text)["report_id"])
    click.echo(f"report {report_id} ({body['from']} .. {body['to']}) requested")
    ready = _wait_for_report(api, report_id, finance, timeout)

    folder = out / report_id
    folder.mkdir(parents=True, exist_ok=True)
    saved = [_download(item, folder) for item in ready["files"]]
    click.echo(f"{len(saved)} files in {folder}/ (SHA-256 checked):")
    for path in saved:
        click.echo(f"  {path.name:<24} {path.stat().st_size:>10,} bytes")
    summary = _summary(folder / "summary.csv") if (folder / "summary.csv").exists() else {}
    click.echo(f"orders sold {summary.get('orders_sold', '-')}, sales total {_rupiah(summary.get('sales_total'))}, "
               f"refunds {_rupiah(summary.get('refunds'))}, net sales {_rupiah(summary.get('net_sales'))}")
