"""The make targets a newcomer uses to take a delivered order through a return to its refund, end to end."""

from __future__ import annotations

import re
from typing import Any

import pytest
from click.testing import CliRunner

from chalicelib.payments import repository as ledger
from tests.e2e.shop import stock_of
from tests.e2e.test_order_lifecycle import new_sku
from tests.e2e.test_returns import delivered, wait_return
from tools.cli import cli

pytestmark = pytest.mark.e2e


def test_make_targets_take_a_delivered_bank_transfer_order_through_a_return_to_its_payout(stack: Any) -> None:
    api, moto = stack.api_url, stack.moto_url
    sku = new_sku(api, "CLIRETURN", stock=5, price=150_000)
    placed = delivered(api, sku, 2, "bank_transfer")
    order_id = placed["order_id"]
    on_hand = stock_of(api, sku)["on_hand"]
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, [*args, "--api", api, "--moto", moto])
        assert result.exit_code == 0, result.output
        assert "HTTP 4" not in result.output and "HTTP 5" not in result.output, result.output
        return result.output

    requested = run("return-request", order_id, "--quantity", "2", "--reason", "wrong_item")
    found = re.search(r"return (TK-\S+-R\d+) is requested", requested)
    assert found, requested
    return_id = found.group(1)
    assert "is approved" in run("return-approve", return_id)
    assert "is sent_back" in run("return-send", return_id)
    assert "is received" in run("return-receive", return_id, "--write-off", "1")
    wait_return(return_id, "refunding")  # a virtual account cannot be refunded by the gateway: a payout waits
    run("payout", order_id)
    closed = wait_return(return_id, "closed")

    assert closed.refund["by"] == "payout"
    assert closed.refund["amount"] == placed["totals"]["total"]  # both units and the shipping: the shop's fault
    assert stock_of(api, sku)["on_hand"] == on_hand + 1  # one restocked, one written off
    kinds = [row["kind"] for row in stock_of(api, sku)["ledger"] if row["reference"] == return_id]
    assert sorted(kinds) == ["returned", "write_off"]
    assert ledger.balance(order_id) == 0
    shown = runner.invoke(cli, ["returns", order_id, "--moto", moto]).output
    assert f"{return_id} closed" in shown and "REFUNDED" in shown
