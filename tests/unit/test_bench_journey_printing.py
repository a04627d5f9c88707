"""The per order (c) and per return (d) tables: one printer, headed and costed per the unit its section names."""

from __future__ import annotations

from typing import Any

import pytest

from bench import journey
from bench.journey import ORDERS, RETURNS, JourneyResult, Step, print_journeys
from bench.request_count import ApiCall, AwsRequests


def _result(name: str, **fields: Any) -> JourneyResult:
    requests = AwsRequests()
    call = ApiCall("dynamodb", "TransactWriteItems", {"TransactItems": [{"Put": {"TableName": "returns"}}]})
    requests[f"{call.service}:{call.operation}"] += 1
    requests.calls.append(call)
    result = JourneyResult(name, "card", "TK-261202-ABCDEF", state_transitions=8, state_machine_sends=4,
                           execution_status="SUCCEEDED", emails=5, order_item_bytes=4900, lines=2, **fields)
    result.steps = [Step("http", "POST /orders/{id}/returns", requests), Step("sqs", "return_worker", AwsRequests(),
                                                                          messages=1)]
    return result


@pytest.fixture(autouse=True)
def no_app_import(monkeypatch: pytest.MonkeyPatch) -> None:
    """The schedules come from app.event_sources; a fixed one keeps these tests from importing the app."""
    monkeypatch.setattr(journey, "_schedules", lambda: [("tick", 5.0)])


def test_returns_are_headed_and_costed_per_return(capsys: pytest.CaptureFixture[str]) -> None:
    card = _result("card return (gateway refund)", return_id="TK-261202-ABCDEF-R1", refund="Rp945,000 by gateway",
                   return_item_bytes=1800)

    print_journeys([card], section=RETURNS)

    out = capsys.readouterr().out
    assert out.startswith("(d) Per return (moto in-process with Step Functions executing"
                          " statemachines/returns.asl.json,")
    assert "each return run once uncounted first" in out
    assert "card return (gateway refund): return TK-261202-ABCDEF-R1, 2 lines, refund Rp945,000 by gateway," in out
    assert "AWS cost per 1,000 returns (USD)" in out and "limit $" not in out  # the limit is on orders
    assert "    per return " in out
    assert "not per return" in out
    assert "order 4.8 KB (5 WRU per write), return 1.8 KB (2 WRU per write)" in out
    assert "Prices and assumptions as in (c)" in out and "Prices (USD" not in out  # printed once, in (c)
    assert "order" not in out.split("cost per 1,000")[1].split("\n")[0]


def test_orders_keep_their_heading_prices_and_schedules(capsys: pytest.CaptureFixture[str]) -> None:
    print_journeys([_result("bank transfer")])

    out = capsys.readouterr().out
    assert out.startswith("(c) Per order journey (moto in-process with Step Functions executing"
                          " statemachines/fulfilment.asl.json,")
    assert "bank transfer: order TK-261202-ABCDEF, 2 lines, execution SUCCEEDED," in out
    assert "AWS cost per 1,000 orders (USD)" in out and "    per order " in out
    assert "Prices (USD" in out and "Schedules (tick every 5 min)" in out
    assert "return" not in out.split("cost per 1,000 orders")[1]


def _costs(out: str) -> dict[str, str]:
    """The dollar lines of the cost table: title -> the one column's value."""
    table = out.split("AWS cost per 1,000")[1].split("\n")[1:]
    return {line[:48].strip(): line[48:].strip() for line in table if line.startswith("    ") and line[48:].strip()}


def test_the_orders_aws_total_leaves_the_notifications_out_and_stands_against_the_limit(
        capsys: pytest.CaptureFixture[str]) -> None:
    result = _result("bank transfer")
    result.emails, result.sms = 4, 2

    print_journeys([result])

    costs = _costs(capsys.readouterr().out)
    counts = result.counts()
    expected = journey.cost_per_thousand(counts, journey.Prices(), journey.Assumptions())
    assert costs["total"] == f"{expected['total']:.4f}"
    assert float(costs["total"]) == pytest.approx(sum(float(costs[title]) for title in [
        "Lambda requests", "Lambda compute (512 MB x 120 ms)", "Step Functions transitions",
        "API Gateway REST requests", "SQS requests", "DynamoDB write request units", "DynamoDB read request units"]),
        abs=1e-3)
    assert (costs["SES email"], costs["SMS (SNS)"]) == ("0.4000", "120.0000")  # apart, not in the total
    assert costs["limit $0.30 per 1,000 orders"] == f"within ({expected['total'] - 0.30:+.4f})"


def test_an_aws_total_above_the_limit_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    result = _result("bank transfer")
    result.state_transitions = 20  # $0.50 per 1,000 orders on Step Functions alone

    print_journeys([result])

    assert _costs(capsys.readouterr().out)["limit $0.30 per 1,000 orders"].startswith("OVER (+0.2")


def test_the_same_counts_cost_the_same_whatever_the_unit(capsys: pytest.CaptureFixture[str]) -> None:
    print_journeys([_result("x")])
    orders = capsys.readouterr().out
    print_journeys([_result("x")], section=RETURNS)
    returns = capsys.readouterr().out

    def total(out: str) -> str:  # the dollars line "total  0.1234", not "total application AWS requests"
        return next(line for line in out.splitlines() if line.split()[:1] == ["total"] and len(line.split()) == 2)

    assert total(orders) == total(returns)
    assert ORDERS.unit == "order" and RETURNS.unit == "return"
