"""The per order journey's cost arithmetic: request units from counted calls, SQS requests, dollars per 1,000 orders."""

from __future__ import annotations

from typing import Any

import pytest

from bench.journey import (
    COST_LINES,
    NOTIFICATION_LINES,
    Assumptions,
    JourneyCounts,
    JourneyResult,
    Prices,
    Step,
    cost_per_thousand,
    dynamodb_request_units,
    item_write_units,
    monthly_schedule_cost,
    sqs_requests,
)
from bench.request_count import ApiCall, AwsRequests


def ddb(operation: str, **params: Any) -> ApiCall:
    return ApiCall(service="dynamodb", operation=operation, params=params)


def test_reads_cost_one_unit_when_consistent_and_half_otherwise() -> None:
    calls = [
        ddb("GetItem", TableName="orders", ConsistentRead=True),
        ddb("GetItem", TableName="orders"),
        ddb("Query", TableName="orders", IndexName="by-shipment"),
        ddb("Query", TableName="ledger", ConsistentRead=True),
        ddb("Scan", TableName="ledger"),
        ddb("BatchGetItem", RequestItems={"stock": {"Keys": [{}, {}], "ConsistentRead": True},
                                          "products": {"Keys": [{}, {}, {}]}}),
        ddb("TransactGetItems", TransactItems=[{"Get": {"TableName": "stock"}}, {"Get": {"TableName": "orders"}}]),
    ]
    # 1 + 0.5 + 0.5 + 1 + 0.5 + (2 x 1 + 3 x 0.5) + 2 x 2
    assert dynamodb_request_units(calls) == (0.0, 11.0)


def test_writes_cost_one_unit_per_item_and_transactions_twice_that() -> None:
    calls = [
        ddb("PutItem", TableName="orders"),
        ddb("UpdateItem", TableName="orders"),
        ddb("DeleteItem", TableName="carts"),
        ddb("BatchWriteItem", RequestItems={"ledger": [{}, {}, {}], "stock": [{}]}),
        ddb("TransactWriteItems", TransactItems=[
            {"Put": {"TableName": "orders"}}, {"Update": {"TableName": "stock"}},
            {"ConditionCheck": {"TableName": "vouchers"}}]),
    ]
    assert dynamodb_request_units(calls) == (3 + 4 + 6, 0.0)


def test_control_plane_and_other_services_cost_no_request_units() -> None:
    calls = [ddb("DescribeTable", TableName="orders"), ApiCall("sqs", "SendMessage", {"QueueUrl": "q"}),
             ApiCall("stepfunctions", "SendTaskSuccess", {})]
    assert dynamodb_request_units(calls) == (0.0, 0.0)


def test_excluded_tables_are_skipped_everywhere_they_appear() -> None:
    calls = [
        ddb("PutItem", TableName="sandbox"),
        ddb("GetItem", TableName="sandbox", ConsistentRead=True),
        ddb("PutItem", TableName="orders"),
        ddb("BatchGetItem", RequestItems={"sandbox": {"Keys": [{}]}, "stock": {"Keys": [{}]}}),
        ddb("TransactWriteItems", TransactItems=[{"Put": {"TableName": "sandbox"}}, {"Put": {"TableName": "orders"}}]),
    ]
    assert dynamodb_request_units(calls, exclude_tables={"sandbox"}) == (1 + 2, 0.5)


def test_lambda_polls_and_deletes_once_per_batch() -> None:
    assert sqs_requests(sends=7, batches=5) == {"sends": 7, "receives": 5, "deletes": 5, "total": 17}
    assert sqs_requests(sends=0, batches=0)["total"] == 0


def test_cost_per_thousand_orders_at_list_prices() -> None:
    counts = JourneyCounts(lambda_invocations=10, api_requests=4, state_transitions=8, sqs_requests=20,
                           dynamodb_wru=30, dynamodb_rru=10, emails=2, sms=2)
    cost = cost_per_thousand(counts, Prices(), Assumptions(lambda_memory_mb=512, lambda_average_ms=120))

    expected = {
        "lambda_requests": 10_000 * 0.20 / 1e6,  # 0.002
        "lambda_compute": 10_000 * 0.120 * 0.5 * 0.0000166667,  # 600 GB-s: 0.01000002
        "step_functions": 8_000 * 0.025 / 1000,  # 0.2
        "api_gateway": 4_000 * 3.50 / 1e6,  # 0.014
        "sqs": 20_000 * 0.40 / 1e6,  # 0.008
        "dynamodb_writes": 30_000 * 0.625 / 1e6,  # 0.01875
        "dynamodb_reads": 10_000 * 0.125 / 1e6,  # 0.00125
        "ses": 2_000 * 0.10 / 1000,  # 0.2, shown apart
    }
    for key, value in expected.items():
        assert cost[key] == pytest.approx(value), key
    assert cost["total"] == pytest.approx(0.25400002)  # the AWS work: the notifications are not in it
    assert cost["sms"] == pytest.approx(120.0)  # 2,000 texts at $0.06
    assert set(cost) == {key for key, _ in COST_LINES + NOTIFICATION_LINES} | {"total"}


def test_compute_scales_with_memory_and_duration() -> None:
    counts = JourneyCounts(lambda_invocations=1, api_requests=0, state_transitions=0, sqs_requests=0,
                           dynamodb_wru=0, dynamodb_rru=0, emails=0, sms=0)
    prices = Prices(lambda_per_gb_second=1.0)
    # 1,000 invocations x 1 s x 2 GB = 2,000 GB-seconds
    assert cost_per_thousand(counts, prices, Assumptions(2048, 1000))["lambda_compute"] == pytest.approx(2000)
    assert cost_per_thousand(counts, prices, Assumptions(1024, 250))["lambda_compute"] == pytest.approx(250)


def test_free_journey_costs_nothing() -> None:
    counts = JourneyCounts(0, 0, 0, 0, 0, 0, 0, 0)
    assert set(cost_per_thousand(counts, Prices(), Assumptions()).values()) == {0}


def test_schedules_cost_per_month_not_per_order() -> None:
    invocations, dollars = monthly_schedule_cost([5, 15], Prices(), Assumptions(512, 120))
    assert invocations == 8_640 + 2_880
    assert dollars == pytest.approx(11_520 * 0.20 / 1e6 + 11_520 * 0.12 * 0.5 * 0.0000166667)


@pytest.mark.parametrize(("size", "units"), [(0, 1), (1024, 1), (1025, 2), (3500, 4)])
def test_a_write_costs_one_unit_per_started_kilobyte(size: int, units: int) -> None:
    assert item_write_units(size) == units


def _step(kind: str, label: str, *calls: ApiCall, messages: int = 0) -> Step:
    requests = AwsRequests()
    for call in calls:
        requests[f"{call.service}:{call.operation}"] += 1
        requests.calls.append(call)
    return Step(kind, label, requests, messages)


def test_journey_counts_add_api_calls_batches_and_the_state_machines_sends() -> None:
    send = ApiCall("sqs", "SendMessage", {"QueueUrl": "notifications"})
    result = JourneyResult("bank transfer", "bank_transfer", "TK-1", state_transitions=9, state_machine_sends=6,
                           emails=4, sms=4, excluded_tables=("sandbox",))
    result.steps = [
        _step("http", "POST /checkout", ddb("PutItem", TableName="orders"), ddb("PutItem", TableName="sandbox"), send),
        _step("sqs", "fulfilment_worker", ddb("GetItem", TableName="orders", ConsistentRead=True), messages=1),
        _step("sqs", "notification_sender", ddb("UpdateItem", TableName="notifications"), messages=2),
        _step("http", "POST /webhooks/couriers/sandbox", send),
    ]

    counts = result.counts()

    assert counts == JourneyCounts(lambda_invocations=4, api_requests=2, state_transitions=9,
                                   sqs_requests=(2 + 6) + 2 + 2, dynamodb_wru=2, dynamodb_rru=1, emails=4, sms=4)
    assert result.requests.total() == 6
    assert result.excluded_requests() == 1
    assert result.messages_by_handler() == {"fulfilment_worker": 1, "notification_sender": 2}
