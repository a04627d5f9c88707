"""Courier faults end to end on the local stack, produced by hand as `make courier-fault`, `make ship` and the hourly
poll_stale_shipments schedule do: a booking whose answer is lost after the courier booked the parcel (the workflow
finds that booking again instead of booking a second pickup), and a `delivered` webhook the courier never sent (the
poll finds the status and the order completes, its cash on delivery recorded, exactly once)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from chalicelib import clock, config
from chalicelib.shipping.repository import DynamoSandboxBooks
from tests.e2e.test_order_lifecycle import (
    money,
    new_sku,
    pack,
    place_order,
    ready_to_pack,
    wait_notified,
    wait_status,
)
from tools.cli import cli
from tools.sandbox_courier import send_courier_webhooks

pytestmark = pytest.mark.e2e


def run(stack: Any, *args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--moto", stack.moto_url])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_booking_whose_answer_is_lost_after_the_courier_booked_ships_with_that_one_booking(stack: Any) -> None:
    api = stack.api_url
    sku = new_sku(api, "LOSTBOOKING", stock=5)
    order_id = ready_to_pack(api, sku)["order_id"]
    # GIVEN the sandbox courier will book this order's parcel and then lose its answer (make courier-fault)
    assert "armed" in run(stack, "courier-fault", "timeout_after_booking", "--order", order_id)

    # WHEN staff pack it and the workflow books the courier
    assert pack(api, order_id).status_code == 200
    shipped = wait_status(order_id, "SHIPPED")

    # THEN RecoverBooking found the first booking: one pickup at the courier, its waybill on the order, shipped once
    parcels = DynamoSandboxBooks().of_reference(order_id)
    assert len(parcels) == 1, [parcel.booking for parcel in parcels]
    assert shipped.shipment and shipped.shipment["waybill_id"] == parcels[0].booking.waybill_id
    assert shipped.shipment["booking_id"] == parcels[0].booking.booking_id
    assert [entry.status for entry in shipped.timeline].count("SHIPPED") == 1
    assert "found at the courier after its answer was lost" in shipped.timeline[-1].note
    assert "NEEDS_ATTENTION" not in [entry.status for entry in shipped.timeline]
    wait_notified(order_id, "shipped")


def test_a_dropped_delivered_webhook_is_found_by_the_poll_and_completes_the_cod_order_once(
        stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    api = stack.api_url
    sku = new_sku(api, "LOSTWEBHOOK", stock=5)
    placed = place_order(api, sku, 1, payment_method="cod")
    order_id, total = placed["order_id"], placed["totals"]["total"]
    wait_status(order_id, "READY_TO_PACK")
    assert pack(api, order_id).status_code == 200
    wait_status(order_id, "SHIPPED")

    # GIVEN the courier picks the parcel up (its webhooks arrive) and delivers it, but drops the `delivered` webhook
    start = clock.now() - timedelta(hours=2)
    at = [clock.iso(start + timedelta(minutes=minutes)) for minutes in (0, 30, 60, 90)]
    sent = send_courier_webhooks(api, order_id, [("allocated", at[0]), ("picked", at[1]), ("dropping_off", at[2])])
    assert [code for _, code, _ in sent] == [200, 200, 200]
    wait_status(order_id, "IN_TRANSIT")
    run(stack, "courier-fault", "drop_webhook", "--order", order_id, "--status", "delivered")
    assert send_courier_webhooks(api, order_id, [("delivered", at[3])]) == []  # nothing reached the shop
    assert wait_status(order_id, "IN_TRANSIT").delivered_at is None

    # WHEN the hourly schedule runs, the poll-after setting made short for the test
    monkeypatch.setenv(config.TRACKING_POLL_AFTER_HOURS, "0")
    assert stack.schedule_driver is not None
    first = stack.schedule_driver.fire("poll_stale_shipments")

    # THEN the order is delivered and completed as by the webhook, its cash on delivery recorded once
    assert first is not None and first["statuses"] >= 1, first
    completed = wait_status(order_id, "COMPLETED")
    assert [entry.event for entry in completed.timeline].count("deliver") == 1
    assert (completed.shipment or {})["status"] == "delivered"
    wait_notified(order_id, "shipped", "delivered")
    assert [(row["kind"], row["amount"]) for row in money(order_id)] == [("cod_collected", total)]

    # AND a second poll (by hand, as `make poll-shipments HOURS=0` runs it) changes nothing
    version = completed.version
    assert "polled" in run(stack, "poll-shipments", "--hours", "0")
    again = wait_status(order_id, "COMPLETED")
    assert again.version == version
    assert [(row["kind"], row["amount"]) for row in money(order_id)] == [("cod_collected", total)]
