"""The local stack under bursts and a bounded checkout load, over real HTTP.

Why: `chalice local` once listened with socketserver's backlog of 5, and bursts of connections (a webhook resent
50 times, a few shoppers at once) were reset before any answer. This starts a stack on free ports, then
(1) opens 50 and 100 connections at once against a cheap route and sends 50 concurrent copies of one signed
payment notification, and (2) runs a fixed number of shopper checkouts (cart, two lines, checkout) at 8 and at
32 concurrent clients. Each run prints its requests, errors by kind (connection errors, timeouts, 5xx, unexpected
statuses, answers that belong to another request), throughput and latency percentiles.

Out-of-stock refusals (409 at checkout) are counted apart as refused by design, not as errors; the bench product
is stocked so that none should happen. Latencies are those of the machine it runs on, with whatever else runs
there: compare runs on the same machine, not across machines.

Usage: python -m bench.load [--checkouts 200] [--clients 8 32] [--bursts 50 100] [--webhook-copies 50] [--budget 75]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import logging
import os
import random
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bench import percentile

HOST = "127.0.0.1"
TIMEOUT = 60.0  # seconds per request: far above any answer seen, so only a hung connection hits it
DEFAULT_CHECKOUTS = 200
DEFAULT_CLIENTS = (8, 32)
DEFAULT_BURSTS = (50, 100)
DEFAULT_WEBHOOK_COPIES = 50
DEFAULT_BUDGET_SECONDS = 75  # per load run: 200 shoppers fit on a quiet 2-core machine; a busy one starts fewer
STOCK_PER_VARIANT = 100_000  # far more than any run buys: no checkout should be refused for stock
# One product with the most variants a product may have: shoppers spread over 40 SKUs as over a small catalog.
# (With a handful of SKUs every checkout contends for the same stock items and the run measures the optimistic
# retries on them instead; seen: checkout p50 of 44 s at 32 clients on 4 SKUs.)
VARIANTS = 40

# What one request came to. OK and REFUSED are answers the shop meant to give; every other kind is an error.
OK = "ok"
REFUSED = "refused by design"
CONNECTION_ERROR = "connection error"
TIMED_OUT = "timeout"
SERVER_ERROR = "5xx"
UNEXPECTED = "unexpected status"
CROSSED = "answer for another request"
ANSWERED = (OK, REFUSED, SERVER_ERROR, UNEXPECTED, CROSSED)  # the server sent an HTTP answer


@dataclass(frozen=True)
class Call:
    """One HTTP request: which route, what came of it, how long it took from connect to the last body byte."""

    route: str
    kind: str
    seconds: float
    status: int | None = None
    detail: str = ""


@dataclass
class Run:
    """The calls of one burst or load run, and its wall-clock time (for throughput)."""

    title: str
    calls: list[Call] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    # Errors found in the answers taken together (e.g. a notification taken as news twice), beyond single calls.
    wrong: list[str] = field(default_factory=list)

    def kinds(self) -> Counter[str]:
        return Counter(call.kind for call in self.calls)

    def errors(self) -> Counter[str]:
        """Errors by kind and detail (e.g. the exception's name), then each of `wrong` once."""
        errors: Counter[str] = Counter()
        for call in self.calls:
            if call.kind not in (OK, REFUSED):
                errors[f"{call.kind} ({call.detail})" if call.detail else call.kind] += 1
        errors.update(self.wrong)
        return errors

    def error_count(self) -> int:
        return sum(1 for call in self.calls if call.kind not in (OK, REFUSED)) + len(self.wrong)

    def answered(self) -> int:
        return sum(1 for call in self.calls if call.kind in ANSWERED)


def classify(status: int, *, expected: Collection[int], by_design: Collection[int] = ()) -> str:
    """What an HTTP status means for a load run: expected, refused on purpose, a server error, or unexpected."""
    if status in expected:
        return OK
    if status in by_design:
        return REFUSED
    if status >= 500:
        return SERVER_ERROR
    return UNEXPECTED


def latency_line(label: str, seconds: Sequence[float]) -> str:
    """`label  n  p50  p90  p99  max` in milliseconds, or a dash when nothing was measured."""
    if not seconds:
        return f"    {label:<34}{0:>7}{'-':>9}{'-':>9}{'-':>9}{'-':>9}"
    figures = [percentile(seconds, f) for f in (0.5, 0.9, 0.99)] + [max(seconds)]
    return f"    {label:<34}{len(seconds):>7}" + "".join(f"{value * 1000:>9.0f}" for value in figures)


def report(run: Run, *, routes: Sequence[str] = ()) -> list[str]:
    """The printed lines of one run: counts, errors by kind, throughput, latency overall and per named route."""
    kinds = run.kinds()
    throughput = len(run.calls) / run.seconds if run.seconds > 0 else 0.0
    lines = [f"  {run.title}",
             f"    requests {len(run.calls)}, answered {run.answered()}, ok {kinds[OK]}, refused by design"
             f" {kinds[REFUSED]}, errors {run.error_count()}; {run.seconds:.1f} s, {throughput:.1f} requests/s"]
    for kind, count in sorted(run.errors().items()):
        lines.append(f"      error: {kind} x{count}")
    lines.extend(f"    {note}" for note in run.notes)
    lines.append(f"    {'latency ms':<34}{'n':>7}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}")
    lines.append(latency_line("all requests", [call.seconds for call in run.calls]))
    for route in routes:
        lines.append(latency_line(route, [call.seconds for call in run.calls if call.route == route]))
    return lines


# ---- HTTP --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


def _failure(route: str, error: BaseException, seconds: float) -> Call:
    kind = TIMED_OUT if isinstance(error, TimeoutError) else CONNECTION_ERROR
    return Call(route, kind, seconds, detail=type(error).__name__)


def exchange(connection: http.client.HTTPConnection, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None) -> Answer:
    """One request on a connection, the whole answer read (so the connection can be used again)."""
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"Content-Type": "application/json", **(headers or {})} if data is not None else dict(headers or {})
    connection.request(method, path, body=data, headers=sent)
    answer = connection.getresponse()
    return Answer(answer.status, answer.read())


def burst(api_url: str, count: int, method: str, path: str, *, body: Any = None,
          headers: dict[str, str] | None = None, expected: Collection[int] = (200,),
          check: Callable[[Answer], bool] | None = None, title: str = "") -> tuple[Run, list[Answer]]:
    """`count` threads, each with its own new connection, released at once by a barrier: connect, one request,
    read the answer. `check` returning False marks an answer as belonging to another request."""
    url = urlsplit(api_url)
    barrier = threading.Barrier(count, timeout=TIMEOUT)
    calls: list[Call | None] = [None] * count
    answers: list[Answer | None] = [None] * count
    route = f"{method} {path.split('?')[0]}"

    def one(index: int) -> None:
        connection = http.client.HTTPConnection(url.hostname or HOST, url.port, timeout=TIMEOUT)
        try:
            barrier.wait()
            started = time.perf_counter()
            try:
                connection.connect()
                answer = exchange(connection, method, path, body, headers)
            except (OSError, http.client.HTTPException) as error:
                calls[index] = _failure(route, error, time.perf_counter() - started)
                return
            kind = classify(answer.status, expected=expected)
            if kind == OK and check is not None and not check(answer):
                kind = CROSSED
            calls[index] = Call(route, kind, time.perf_counter() - started, answer.status)
            answers[index] = answer
        except threading.BrokenBarrierError:
            calls[index] = Call(route, CONNECTION_ERROR, 0.0, detail="never started")
        finally:
            connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=one, args=(index,), name=f"burst-{index}", daemon=True)
               for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run = Run(title or f"{count} connections at once: {route}", [call for call in calls if call is not None],
              time.perf_counter() - started)
    return run, [answer for answer in answers if answer is not None]


# ---- the shop ----------------------------------------------------------------------------------------------

CREATE_CART = "POST /carts"
PUT_ITEM = "PUT /carts/{cart_id}/items/{sku}"
CHECKOUT = "POST /checkout"


def checkout_body(cart_id: str) -> dict[str, Any]:
    return {
        "cart_id": cart_id,
        "customer": {"name": "Sari Dewi", "email": "sari@example.com", "phone": "+6281234567890"},
        "shipping_address": {"recipient": "Sari Dewi", "phone": "+6281234567890", "street": "Jl. Kemang Raya 1",
                             "city": "Jakarta Selatan", "province": "DKI Jakarta", "postal_code": "12110"},
        "shipping": {"courier": "JNE", "service": "REG"},
        "payment_method": "bank_transfer",
    }


def basket(index: int, skus: Sequence[str]) -> dict[str, int]:
    """Two different SKUs per shopper, picked and counted from the shopper's number (the same on every run), so
    that an answer carrying another shopper's cart or body is visibly wrong rather than silently plausible."""
    rng = random.Random(index)
    return {sku: rng.randint(1, 3) for sku in rng.sample(list(skus), 2)}


def stock_bench_product(api_url: str, run_id: str) -> list[str]:
    """A product of the bench's own with VARIANTS SKUs, each stocked far beyond what the runs buy."""
    from chalicelib.auth import mint_dev_token

    skus = [f"BENCH-{run_id}-{index}" for index in range(VARIANTS)]
    body = {"name": "Tas Anyaman Pandan (bench)", "category": "Anyaman", "status": "active",
            "variants": [{"sku": sku, "price": 125_000 + 5_000 * index, "weight_grams": 300}
                         for index, sku in enumerate(skus)],
            "initial_stock": dict.fromkeys(skus, STOCK_PER_VARIANT)}
    connection = _connection(api_url)
    try:
        answer = exchange(connection, "POST", "/admin/products", body,
                          {"Authorization": f"Bearer {mint_dev_token(role='staff', sub='staff-bench')}"})
    finally:
        connection.close()
    if answer.status != 201:
        raise RuntimeError(f"creating the bench product answered {answer.status}: {answer.body[:300]!r}")
    return skus


def _connection(api_url: str) -> http.client.HTTPConnection:
    url = urlsplit(api_url)
    return http.client.HTTPConnection(url.hostname or HOST, url.port, timeout=TIMEOUT)


class Shopper:
    """One client's keep-alive connection, as a browser keeps one; reopened after any failed request."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.connection = _connection(api_url)

    def call(self, route: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             *, expected: Collection[int], by_design: Collection[int] = (),
             check: Callable[[Answer], bool] | None = None) -> tuple[Call, Answer | None]:
        started = time.perf_counter()
        try:
            answer = exchange(self.connection, method, path, body, headers)
        except (OSError, http.client.HTTPException) as error:
            self.reopen()
            return _failure(route, error, time.perf_counter() - started), None
        kind = classify(answer.status, expected=expected, by_design=by_design)
        if kind == OK and check is not None and not check(answer):
            kind = CROSSED
        return Call(route, kind, time.perf_counter() - started, answer.status), answer

    def reopen(self) -> None:
        self.connection.close()
        self.connection = _connection(self.api_url)

    def close(self) -> None:
        self.connection.close()


def shop_once(shopper: Shopper, lines: dict[str, int]) -> tuple[list[Call], dict[str, Any] | None]:
    """A shopper's whole flow: a new cart, its lines, a checkout with a key of its own; returns the calls and the
    order placed (None if none was). Stops at the first error, as a real client would; every answer is checked
    against what this shopper asked for."""
    calls: list[Call] = []
    call, answer = shopper.call(CREATE_CART, "POST", "/carts", expected=(201,))
    calls.append(call)
    if call.kind != OK or answer is None:
        return calls, None
    cart_id = answer.json()["cart_id"]
    subtotal = None
    for sku, quantity in lines.items():
        def same_cart(given: Answer, sku: str = sku, quantity: int = quantity) -> bool:
            view = given.json()
            return view.get("cart_id") == cart_id and any(
                line.get("sku") == sku and line.get("quantity") == quantity for line in view.get("lines", []))

        call, answer = shopper.call(PUT_ITEM, "PUT", f"/carts/{cart_id}/items/{sku}", {"quantity": quantity},
                                    expected=(200,), check=same_cart)
        calls.append(call)
        if call.kind != OK or answer is None:
            return calls, None
        subtotal = answer.json()["totals"]["subtotal"]

    def same_order(given: Answer) -> bool:
        return (given.json().get("totals") or {}).get("subtotal") == subtotal

    call, answer = shopper.call(CHECKOUT, "POST", "/checkout", checkout_body(cart_id),
                                {"Idempotency-Key": f"bench-{uuid.uuid4()}"},
                                expected=(201,), by_design=(409,), check=same_order)
    calls.append(call)
    return calls, (answer.json() if call.kind == OK and answer is not None else None)


def checkout_load(api_url: str, skus: Sequence[str], *, checkouts: int, clients: int,
                  budget_seconds: float = DEFAULT_BUDGET_SECONDS) -> Run:
    """`checkouts` shopper flows spread over `clients` threads, each thread one keep-alive connection. No flow
    starts after `budget_seconds` (those are reported as not started, not as errors): the run stays bounded on a
    slow or busy machine."""
    local = threading.local()
    shoppers: list[Shopper] = []
    lock = threading.Lock()

    def shopper() -> Shopper:
        if not hasattr(local, "shopper"):
            local.shopper = Shopper(api_url)
            with lock:
                shoppers.append(local.shopper)
        return local.shopper

    started = time.perf_counter()
    deadline = started + budget_seconds

    def flow(index: int) -> tuple[list[Call], dict[str, Any] | None] | None:
        if time.perf_counter() > deadline:
            return None
        return shop_once(shopper(), basket(index, skus))

    pool = ThreadPoolExecutor(max_workers=clients, thread_name_prefix="shopper")
    try:
        flows = [each for each in pool.map(flow, range(checkouts)) if each is not None]
    finally:  # on Ctrl-C too: flows not started are dropped, those under way end within TIMEOUT
        pool.shutdown(wait=True, cancel_futures=True)
        for each in shoppers:
            each.close()
    run = Run(f"{checkouts} checkouts, {clients} concurrent clients (cart, 2 lines, checkout;"
              f" none started after {budget_seconds:.0f} s)",
              [call for calls, _ in flows for call in calls], time.perf_counter() - started)
    placed = sum(1 for _, order in flows if order is not None)
    run.notes.append(f"shoppers started {len(flows)} of {checkouts}, orders placed {placed}")
    return run


# ---- the payment webhook -----------------------------------------------------------------------------------


def signed_payment_notification(api_url: str, skus: Sequence[str]) -> bytes:
    """A real order, paid at the sandbox gateway, and the signed notification the gateway would send for it."""
    from chalicelib.payments.adapters import server_key
    from chalicelib.payments.sandbox import SandboxGateway

    shopper = Shopper(api_url)
    try:
        calls, order = shop_once(shopper, basket(0, skus))
    finally:
        shopper.close()
    if order is None:
        raise RuntimeError(f"the order for the webhook burst was not placed: {calls[-1]}")
    gateway = SandboxGateway()
    gateway.settle(order["order_id"])
    return json.dumps(gateway.notification_for(order["order_id"], server_key=server_key())).encode()


def webhook_burst(api_url: str, skus: Sequence[str], copies: int) -> Run:
    """`copies` concurrent copies of one valid notification: each must be answered 200, exactly one as news."""
    body = signed_payment_notification(api_url, skus)
    run, answers = burst(api_url, copies, "POST", "/webhooks/payments/midtrans", body=body,
                         title=f"{copies} concurrent copies of one signed payment notification")
    statuses = Counter(str(answer.json().get("status")) for answer in answers if answer.status == 200)
    run.notes.append("answers: " + ", ".join(f"{status} x{count}" for status, count in sorted(statuses.items())))
    if statuses["accepted"] != 1:
        run.wrong.append(f"taken as news {statuses['accepted']} times instead of once")
    return run


# ---- the stack ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def running_stack() -> Iterator[Any]:
    """A whole local stack (drivers included, as `make run`) on free ports; stopped however the block ends."""
    from local.stack import LocalStack, free_port

    for name in ("werkzeug", "botocore", "pynamodb"):  # moto's access log and SDK chatter would bury the figures
        logging.getLogger(name).setLevel(logging.WARNING)
    saved = dict(os.environ)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    moto_port = free_port()
    api_port = free_port()
    while api_port == moto_port:
        api_port = free_port()
    # Metrics are off: their one JSON line per flush would land between the printed figures.
    stack = LocalStack(moto_port=moto_port, api_port=api_port, echo_api_output=False, fire_schedules_on_start=False,
                       env_overrides={"POWERTOOLS_METRICS_DISABLED": "true"})
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the stack's banner is not part of the figures
            stack.start()
        yield stack
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)


def measure(*, checkouts: int = DEFAULT_CHECKOUTS, clients: Sequence[int] = DEFAULT_CLIENTS,
            bursts: Sequence[int] = DEFAULT_BURSTS, webhook_copies: int = DEFAULT_WEBHOOK_COPIES,
            budget_seconds: float = DEFAULT_BUDGET_SECONDS, out: Callable[[str], None] = print) -> list[Run]:
    """Start a stack, run the bursts and the checkout loads, print each run as it ends; returns the runs."""
    runs: list[Run] = []

    def done(run: Run, routes: Sequence[str] = ()) -> None:
        runs.append(run)
        for line in report(run, routes=routes):
            out(line)
        out("")

    from local.chalice_main import LISTEN_BACKLOG

    started = time.perf_counter()
    with running_stack() as stack:
        out(f"  stack up in {time.perf_counter() - started:.1f} s (API {stack.api_url}, listen backlog"
            f" {LISTEN_BACKLOG})")
        out("")
        for count in bursts:
            done(burst(stack.api_url, count, "GET", "/products?limit=5")[0])
        skus = stock_bench_product(stack.api_url, uuid.uuid4().hex[:6].upper())
        if webhook_copies:
            done(webhook_burst(stack.api_url, skus, webhook_copies))
        for each in clients:
            done(checkout_load(stack.api_url, skus, checkouts=checkouts, clients=each, budget_seconds=budget_seconds),
                 routes=(CREATE_CART, PUT_ITEM, CHECKOUT))
    return runs


def print_load(**options: Any) -> list[Run]:
    """Section (g) of `make bench`."""
    print("(g) The local stack under bursts and a bounded checkout load (HTTP to `chalice local`, moto server;"
          " latencies of this machine, noisy when it is shared)")
    runs = measure(**options)
    errors = sum(run.error_count() for run in runs)
    print(f"    total errors over all runs: {errors}")
    print()
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkouts", type=int, default=DEFAULT_CHECKOUTS, help="shopper flows per load run")
    parser.add_argument("--clients", type=int, nargs="+", default=list(DEFAULT_CLIENTS),
                        help="concurrent clients, one load run each (default 8 32)")
    parser.add_argument("--bursts", type=int, nargs="*", default=list(DEFAULT_BURSTS),
                        help="connections opened at once against GET /products, one burst each (default 50 100)")
    parser.add_argument("--webhook-copies", type=int, default=DEFAULT_WEBHOOK_COPIES,
                        help="concurrent copies of one payment notification (0: none)")
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET_SECONDS,
                        help="seconds per load run after which no shopper starts (default %(default)s)")
    args = parser.parse_args(argv)
    if (args.checkouts < 1 or min(args.clients) < 1 or min(args.bursts, default=1) < 1 or args.webhook_copies < 0
            or args.budget <= 0):
        parser.error("counts and the budget must be positive")
    runs = print_load(checkouts=args.checkouts, clients=args.clients, bursts=args.bursts,
                      webhook_copies=args.webhook_copies, budget_seconds=args.budget)
    return 1 if any(run.error_count() for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
