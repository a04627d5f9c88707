"""The load bench's arithmetic and bookkeeping: percentiles, what a status counts as, the shoppers' baskets, what a
run prints, and that a connection closed without an answer is counted as a connection error, not as an answer."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from bench import load
from bench.load import CONNECTION_ERROR, CROSSED, OK, REFUSED, SERVER_ERROR, TIMED_OUT, UNEXPECTED, Call, Run


def test_percentile_is_nearest_rank_so_it_is_always_a_measured_value() -> None:
    samples = [0.5, 0.1, 0.4, 0.2, 0.3]  # unordered on purpose
    assert load.percentile(samples, 0.5) == 0.3
    assert load.percentile(samples, 0.9) == 0.5
    assert load.percentile(samples, 0.0) == 0.1
    assert load.percentile(samples, 1.0) == 0.5
    hundred = [float(value) for value in range(1, 101)]
    assert [load.percentile(hundred, f) for f in (0.5, 0.9, 0.99)] == [50.0, 90.0, 99.0]
    assert load.percentile([7.0], 0.99) == 7.0


@pytest.mark.parametrize("fraction", [-0.1, 1.5])
def test_percentile_refuses_a_fraction_outside_zero_to_one(fraction: float) -> None:
    with pytest.raises(ValueError):
        load.percentile([1.0], fraction)


def test_percentile_of_nothing_is_an_error_rather_than_a_made_up_zero() -> None:
    with pytest.raises(ValueError):
        load.percentile([], 0.5)


def test_a_status_is_ok_refused_by_design_a_server_error_or_unexpected() -> None:
    assert load.classify(201, expected=(201,), by_design=(409,)) == OK
    assert load.classify(409, expected=(201,), by_design=(409,)) == REFUSED
    assert load.classify(502, expected=(201,), by_design=(409,)) == SERVER_ERROR
    assert load.classify(500, expected=(200,)) == SERVER_ERROR
    assert load.classify(400, expected=(201,), by_design=(409,)) == UNEXPECTED
    assert load.classify(409, expected=(200,)) == UNEXPECTED  # refused only where the run says so


def test_each_basket_has_two_different_skus_in_quantities_a_cart_accepts_and_shoppers_differ() -> None:
    skus = ["A", "B", "C", "D"]
    baskets = [load.basket(index, skus) for index in range(200)]
    assert all(len(basket) == 2 and set(basket) <= set(skus) for basket in baskets)
    assert all(1 <= quantity <= 99 for basket in baskets for quantity in basket.values())
    assert len({tuple(sorted(basket.items())) for basket in baskets}) > 20


def test_a_run_counts_answers_refusals_and_errors_by_kind() -> None:
    run = Run("t", [Call("GET /x", OK, 0.1, 200), Call("GET /x", REFUSED, 0.2, 409),
                    Call("GET /x", SERVER_ERROR, 0.3, 503), Call("GET /x", CROSSED, 0.1, 200),
                    Call("GET /x", CONNECTION_ERROR, 1.0, detail="ConnectionResetError"),
                    Call("GET /x", CONNECTION_ERROR, 1.0, detail="ConnectionResetError"),
                    Call("GET /x", TIMED_OUT, 60.0, detail="TimeoutError")], seconds=2.0,
              wrong=["taken as news 2 times instead of once"])
    assert run.error_count() == 6
    assert run.answered() == 4
    assert run.errors() == {"connection error (ConnectionResetError)": 2, "timeout (TimeoutError)": 1, "5xx": 1,
                            "answer for another request": 1, "taken as news 2 times instead of once": 1}


def test_the_report_names_each_error_kind_throughput_and_latency_per_route() -> None:
    run = Run("8 clients", [Call("POST /checkout", OK, 0.250, 201), Call("POST /carts", OK, 0.050, 201),
                            Call("POST /checkout", CONNECTION_ERROR, 1.0, detail="RemoteDisconnected")],
              seconds=1.5, notes=["orders placed 1 of 2"])
    text = "\n".join(load.report(run, routes=("POST /carts", "POST /checkout", "GET /nothing")))
    assert "requests 3, answered 2, ok 2, refused by design 0, errors 1; 1.5 s, 2.0 requests/s" in text
    assert "error: connection error (RemoteDisconnected) x1" in text
    assert "orders placed 1 of 2" in text
    checkout = next(line for line in text.splitlines() if line.strip().startswith("POST /checkout"))
    assert checkout.split()[2:] == ["2", "250", "1000", "1000", "1000"]
    nothing = next(line for line in text.splitlines() if line.strip().startswith("GET /nothing"))
    assert nothing.split()[2:] == ["0", "-", "-", "-", "-"]


class _HangUp(socketserver.BaseRequestHandler):
    """Reads the request, then closes the connection without a byte of answer: what a reset looks like to a client."""

    def handle(self) -> None:
        self.request.recv(65536)
        self.request.shutdown(socket.SHUT_RDWR)


class _Answer(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.recv(65536)
        self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), request.param) as tcp:
        tcp.daemon_threads = True
        thread = threading.Thread(target=tcp.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{tcp.server_address[1]}"
        finally:
            tcp.shutdown()
            thread.join()


@pytest.mark.parametrize("server", [_HangUp], indirect=True)
def test_a_burst_counts_a_connection_closed_without_an_answer_as_a_connection_error(server: str) -> None:
    run, answers = load.burst(server, 10, "GET", "/products")
    assert answers == []
    assert run.answered() == 0
    assert [call.kind for call in run.calls] == [CONNECTION_ERROR] * 10


@pytest.mark.parametrize("server", [_Answer], indirect=True)
def test_a_burst_counts_every_answer_and_marks_one_failing_its_check_as_crossed(server: str) -> None:
    run, answers = load.burst(server, 10, "GET", "/products", check=lambda answer: answer.json() == {})
    assert len(answers) == 10 and run.kinds() == {OK: 10}
    run, _ = load.burst(server, 4, "GET", "/products", check=lambda answer: False)
    assert run.kinds() == {CROSSED: 4}
