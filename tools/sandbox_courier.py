"""The sandbox courier by hand, against the running local stack: arm its faults (`make courier-fault`), let it report
a parcel's journey as signed webhooks through its faults (`make ship`), and catch up on shipments whose webhooks were
lost, as the hourly poll_stale_shipments schedule does (`make poll-shipments`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import click

from tools.drive import post, use_local_stack


def send_courier_webhooks(api: str, order_id: str, updates: Sequence[tuple[str, str]]) -> list[tuple[str, int, str]]:
    """The sandbox courier moves ORDER_ID's parcel through `updates` ((status, at) pairs) and sends the shop the
    webhooks it sends for them, signed, after any armed webhook fault (dropped, twice, out of order); (status, HTTP
    status, answer) of each webhook sent, in the order sent."""
    from chalicelib.shipping import tracking
    from chalicelib.shipping.adapters import sandbox_courier, webhook_secret

    sent = []
    for payload in sandbox_courier().report(order_id, updates):
        body = tracking.canonical_body(payload)
        signature = tracking.sandbox_signature(webhook_secret(), body)
        code, text = post(f"{api}/webhooks/couriers/sandbox", body, {tracking.SANDBOX_SIGNATURE_HEADER: signature})
        sent.append((str(payload["status"]), code, text))
    return sent


@click.command("courier-fault")
@click.argument("fault")
@click.option("--times", default=1, show_default=True, type=click.IntRange(min=0, max=100),
              help="How many bookings (or webhooks) the fault hits (0 disarms it).")
@click.option("--order", "order_id", default=None, help="Only this order's booking or webhooks (default: any).")
@click.option("--status", default=None, help="Webhook faults only: only webhooks reporting this courier status.")
@click.option("--moto", "moto_url", default="http://127.0.0.1:4566", show_default=True)
def courier_fault(fault: str, times: int, order_id: str | None, status: str | None, moto_url: str) -> None:
    """Make the sandbox courier misbehave the next TIMES times, as real couriers do.

    FAULT: timeout_after_booking (books, then the answer is lost), timeout_before_booking, error_5xx (the booking
    the workflow makes after `make pack`); drop_webhook, webhook_twice, webhooks_out_of_order (the webhooks
    `make ship` sends).
    """
    use_local_stack(moto_url)
    from chalicelib.shipping.adapters import arm_sandbox_fault

    try:
        armed = arm_sandbox_fault(fault, times=times, order_id=order_id, status=status)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    scope = "".join((f" of order {armed.reference}" if armed.reference else "",
                     f" reporting {armed.status}" if armed.status else ""))
    click.echo(f"sandbox courier: {fault} armed for the next {times} time(s){scope}" if times
               else f"sandbox courier: {fault} disarmed")


@click.command("poll-shipments")
@click.option("--hours", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="Poll shipments with no courier news for this long (the schedule uses "
                   "TOKOFLOW_TRACKING_POLL_AFTER_HOURS, 6).")
@click.option("--moto", "moto_url", default="http://127.0.0.1:4566", show_default=True)
def poll_shipments(hours: float, moto_url: str) -> None:
    """Ask the courier where every parcel on its way without news is, and apply what its webhooks missed (the
    hourly poll_stale_shipments schedule, run now)."""
    use_local_stack(moto_url)
    from chalicelib.shipping import service

    counts = service.poll_stale_shipments(stale_after=timedelta(hours=hours))
    click.echo(", ".join(f"{name} {value}" for name, value in counts.items()))
