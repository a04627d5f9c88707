"""AWS requests per API operation, counted with botocore event hooks under moto's in-process mock.

Counting: `install()` wraps botocore.session.Session.create_client so every client created afterwards (boto3's,
pynamodb's, powertools') gets a `before-call.*.*` handler. `before-call` fires once per API call, before moto
(or the network) answers; retries of one call are not counted again. `count_aws_requests()` turns counting on
for a block and yields a Counter keyed "service:Operation". An `after-call.*.*` handler notes on each counted
DynamoDB call (`ApiCall.answer`) the sizes of the items a read returned, what read capacity is charged on, and
the error code of a call that failed.

The scenario (`measure_operations`) counts calls on the sandbox payment gateway's and courier's own tables apart,
in a note under the operation: in production they are HTTPS calls to Midtrans or the courier, not AWS requests.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import tempfile
import threading
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import botocore.session

from local.offline import configure_environment

_HANDLER_ID = "tokoflow-bench-count-aws-requests"
_PARAMS_KEY = "tokoflow_bench_api_params"
_CALL_KEY = "tokoflow_bench_api_call"
_active: list[AwsRequests] = []
_lock = threading.Lock()
_original_create_client: Callable[..., Any] | None = None


@dataclass(frozen=True)
class ApiCall:
    """One API call as the caller made it (parameters before serialisation)."""

    service: str
    operation: str
    params: dict[str, Any]
    # What a DynamoDB call returned, noted after it: "sizes", the byte size of each item read (GetItem,
    # BatchGetItem, Query, Scan); "error", the error code of a call that failed. Empty for other services.
    answer: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


class AwsRequests(Counter[str]):
    """A Counter of "service:Operation" -> calls (`total()` is all of them); `calls` keeps each call in order."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[ApiCall] = []


def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context[_PARAMS_KEY] = dict(params)


def _count(model: Any, context: dict[str, Any], **_: Any) -> None:
    if not _active:
        return
    call = ApiCall(service=model.service_model.service_name, operation=model.name,
                   params=context.get(_PARAMS_KEY, {}))
    context[_CALL_KEY] = call
    with _lock:
        for requests in _active:
            requests[f"{call.service}:{call.operation}"] += 1
            requests.calls.append(call)


def item_size(item: Mapping[str, Any]) -> int:
    """DynamoDB's size of an item in its wire form ({"name": {"S": "..."}}): attribute names plus values."""

    def value_size(value: Mapping[str, Any]) -> int:
        kind, inner = next(iter(value.items()))
        if kind in ("S", "N"):
            return len(str(inner).encode())
        if kind == "B":
            return len(inner)
        if kind in ("BOOL", "NULL"):
            return 1
        if kind == "M":
            return 3 + sum(len(key.encode()) + value_size(sub) + 1 for key, sub in inner.items())
        if kind == "L":
            return 3 + sum(value_size(sub) + 1 for sub in inner)
        return sum(len(str(element).encode()) for element in inner)  # SS, NS, BS

    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def _items_read(operation: str, parsed: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    if operation in ("Query", "Scan"):
        return list(parsed.get("Items", []))
    if operation == "GetItem":
        return [parsed["Item"]] if "Item" in parsed else []
    if operation == "BatchGetItem":
        return [item for items in parsed.get("Responses", {}).values() for item in items]
    return None


def _note_answer(parsed: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    call = context.get(_CALL_KEY)
    if call is None or model.service_model.service_name != "dynamodb":
        return
    if "Error" in parsed:
        call.answer["error"] = parsed["Error"].get("Code", "")
        return
    items = _items_read(model.name, parsed)
    if items is not None:
        call.answer["sizes"] = [item_size(item) for item in items]


def instrument_client(client: Any) -> Any:
    """Count this (already created) client's calls too; registering twice is harmless."""
    events = client.meta.events
    events.register("before-parameter-build.*.*", _remember_params, unique_id=f"{_HANDLER_ID}-params")
    events.register("before-call.*.*", _count, unique_id=_HANDLER_ID)
    events.register("after-call.*.*", _note_answer, unique_id=f"{_HANDLER_ID}-answer")
    return client


def install() -> None:
    """Instrument every botocore client created from now on (idempotent)."""
    global _original_create_client
    if _original_create_client is not None:
        return
    original = botocore.session.Session.create_client

    @functools.wraps(original)
    def create_client(self: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
        return instrument_client(original(self, *args, **kwargs))

    _original_create_client = original
    botocore.session.Session.create_client = create_client


@contextlib.contextmanager
def count_aws_requests() -> Iterator[AwsRequests]:
    """Count AWS API calls made inside the block by clients created after `install()` (called here).

    Clients created before the first install are not seen: install early, or pass them to instrument_client.
    Blocks may nest; each counter sees the calls made while it is open.
    """
    install()
    requests = AwsRequests()
    with _lock:
        _active.append(requests)
    try:
        yield requests
    finally:
        with _lock:
            _active.remove(requests)


# ---- the scenario ------------------------------------------------------------------------------------------


@dataclass
class Measurement:
    """Requests counted for one operation (the second call of its kind on a warm instance). `providers`: the calls
    left out of `requests` because they go to a sandbox provider's own books (see split_provider_calls)."""

    operation: str
    requests: AwsRequests
    notes: list[str] = field(default_factory=list)
    providers: AwsRequests = field(default_factory=AwsRequests)


def _tables_of(call: ApiCall) -> set[str]:
    params = call.params
    tables = {params["TableName"]} if "TableName" in params else set()
    tables.update(params.get("RequestItems", {}))
    for item in params.get("TransactItems", []):
        tables.update(spec["TableName"] for spec in item.values() if "TableName" in spec)
    return tables


def split_provider_calls(requests: AwsRequests, provider_tables: set[str]) -> tuple[AwsRequests, AwsRequests]:
    """(the shop's requests, the calls touching only the sandbox providers' tables). In production the sandbox
    payment gateway's and courier's books are HTTPS calls to Midtrans and the courier, not AWS requests, so (b)
    counts them apart, as (c) leaves them out of the cost."""
    shop, providers = AwsRequests(), AwsRequests()
    for call in requests.calls:
        tables = _tables_of(call)
        target = providers if tables and tables <= provider_tables else shop
        target[f"{call.service}:{call.operation}"] += 1
        target.calls.append(call)
    return shop, providers


PRODUCT: dict[str, Any] = {
    "name": "Batik Tulis Parang",
    "description": "Batik tulis motif parang, katun primisima.",
    "category": "Batik",
    "status": "active",
    "variants": [
        {"sku": "BTK-PRG-M", "price": 450000, "weight_grams": 300, "options": {"size": "M"}},
        {"sku": "BTK-PRG-L", "price": 475000, "weight_grams": 320, "options": {"size": "L"}},
    ],
    # Plenty of stock: the common path, no low-stock announcement (an extra SQS call) during the bench.
    "initial_stock": {"BTK-PRG-M": 100, "BTK-PRG-L": 100},
}
DESTINATION = {"postal_code": "12110", "city": "Jakarta Selatan", "province": "DKI Jakarta"}


def checkout_body(cart_id: str) -> dict[str, Any]:
    return {
        "cart_id": cart_id,
        "customer": {"name": "Sari", "email": "sari@example.com", "phone": "+6281234567890"},
        "shipping_address": {"recipient": "Sari", "phone": "+6281234567890", "street": "Jl. Kemang 1",
                             **DESTINATION},
        "shipping": {"courier": "jne", "service": "reg"},
        "payment_method": "bank_transfer",
    }


class _Api:
    """chalice.test.Client with JSON bodies and a status check on every call."""

    def __init__(self, client: Any) -> None:
        self._http = client.http

    def call(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
             expect: int = 200) -> Any:
        import json

        all_headers = {"Content-Type": "application/json", **(headers or {})}
        payload = json.dumps(body) if body is not None else None
        kwargs: dict[str, Any] = {"headers": all_headers}
        if payload is not None:
            kwargs["body"] = payload
        response = getattr(self._http, method.lower())(path, **kwargs)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path} -> {response.status_code} (expected {expect}): "
                               f"{response.body.decode(errors='replace')[:500]}")
        return json.loads(response.body) if response.body else None


@contextlib.contextmanager
def captured_stdout() -> Iterator[None]:
    """Keep the app's JSON logs and EMF metrics (written to fd 1) out of the table; shown only on failure."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            if failed:
                sink.seek(0)
                sys.stderr.write(sink.read().decode(errors="replace")[-20000:])


def measure_operations() -> list[Measurement]:
    """Provision a mocked account, seed one product with two variants, and count each operation's requests."""
    configure_environment()
    install()  # before anything creates a client, so boto3, pynamodb and powertools clients are all seen

    from chalice.test import Client

    from chalicelib.auth import mint_dev_token
    from local.offline import mocked_account

    staff = {"Authorization": f"Bearer {mint_dev_token(role='staff', sub='staff-1')}"}
    measurements: list[Measurement] = []

    def counted(operation: str, action: Callable[[], Any]) -> Any:
        with count_aws_requests() as requests:
            result = action()
        measurements.append(Measurement(operation, requests))
        return result

    with captured_stdout(), warnings.catch_warnings(), mocked_account():
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        from app import app

        with Client(app, stage_name="dev") as client:
            api = _Api(client)
            product_id = api.call("POST", "/admin/products", PRODUCT, headers=staff, expect=201)["product_id"]
            sku_m, sku_l = (variant["sku"] for variant in PRODUCT["variants"])

            def new_cart(*skus: str) -> str:
                cart_id = api.call("POST", "/carts", expect=201)["cart_id"]
                for sku in skus:
                    api.call("PUT", f"/carts/{cart_id}/items/{sku}", {"quantity": 1})
                return cart_id

            def twice(operation: str, action: Callable[[], Any]) -> Any:
                action()
                return counted(operation, action)

            twice("GET /products/{id}", lambda: api.call("GET", f"/products/{product_id}"))

            browsing_cart = new_cart()
            api.call("PUT", f"/carts/{browsing_cart}/items/{sku_m}", {"quantity": 1})  # warm-up: a new line
            counted("PUT /carts/{id}/items/{sku} (new line)",
                    lambda: api.call("PUT", f"/carts/{browsing_cart}/items/{sku_l}", {"quantity": 2}))

            twice("POST /shipping/quote (2 lines)",
                  lambda: api.call("POST", "/shipping/quote", {"cart_id": browsing_cart, "destination": DESTINATION}))

            keys = [f"bench-{uuid.uuid4().hex}" for _ in range(2)]
            carts = [new_cart(sku_m, sku_l) for _ in range(2)]

            def checkout(index: int) -> Any:
                return api.call("POST", "/checkout", checkout_body(carts[index]),
                                headers={"Idempotency-Key": keys[index]}, expect=201)

            checkout(0)
            first = counted("POST /checkout (fresh cart, 2 lines)", lambda: checkout(1))
            checkout(0)
            replay = counted("POST /checkout (replay, same key)", lambda: checkout(1))
            if replay["order_id"] != first["order_id"]:
                raise RuntimeError("the replayed checkout returned a different order")

            twice("GET /products (listing)", lambda: api.call("GET", "/products"))

            # A signed-in customer spending loyalty points: the redemption joins the checkout's transaction.
            admin = {"Authorization": f"Bearer {mint_dev_token(role='admin', sub='admin-1')}"}
            sari = {"Authorization": f"Bearer {mint_dev_token(role='customer', sub='sari')}"}
            api.call("POST", "/admin/customers/sari/points",
                     {"points": 5_000, "reason": "bench", "reference": "bench-points"}, headers=admin, expect=201)
            point_carts = []
            for _ in range(2):
                cart_id = api.call("POST", "/carts", headers=sari, expect=201)["cart_id"]
                for sku in (sku_m, sku_l):
                    api.call("PUT", f"/carts/{cart_id}/items/{sku}", {"quantity": 1}, headers=sari)
                point_carts.append(cart_id)

            def spend(index: int) -> Any:
                return api.call("POST", "/checkout", {**checkout_body(point_carts[index]), "redeem_points": 1_000},
                                headers={**sari, "Idempotency-Key": f"bench-points-{index}-{keys[0]}"}, expect=201)

            spend(0)
            counted("POST /checkout (signed in, spending points)", lambda: spend(1))
            twice("GET /me/loyalty", lambda: api.call("GET", "/me/loyalty", headers=sari))

    from chalicelib import resources

    provider_tables = {resources.SANDBOX_PAYMENTS.physical_name, resources.SANDBOX_COURIERS.physical_name}
    for measurement in measurements:
        measurement.requests, measurement.providers = split_provider_calls(measurement.requests, provider_tables)
        measurement.notes.extend(_hints(measurement.requests.calls))
        if measurement.providers:
            breakdown = ", ".join(f"{name} x{count}" for name, count in sorted(measurement.providers.items()))
            measurement.notes.append(f"not counted: {measurement.providers.total()} on the sandbox providers' own "
                                     f"tables, HTTPS calls to Midtrans or the courier in production: {breakdown}")
    return measurements


def _hints(calls: list[ApiCall]) -> list[str]:
    """Item counts behind the calls: what DynamoDB capacity is charged on, not just how many round trips."""
    hints = []
    batch_keys = [sum(len(table.get("Keys", [])) for table in call.params.get("RequestItems", {}).values())
                  for call in calls if call.operation == "BatchGetItem"]
    if batch_keys:
        hints.append(f"BatchGetItem keys per call: {', '.join(map(str, batch_keys))}")
    for call in calls:
        if call.operation == "TransactWriteItems":
            items = call.params.get("TransactItems", [])
            kinds = Counter(next(iter(item)) for item in items)
            detail = ", ".join(f"{kind} x{count}" for kind, count in sorted(kinds.items()))
            hints.append(f"TransactWriteItems writes {len(items)} items ({detail})")
    return hints
