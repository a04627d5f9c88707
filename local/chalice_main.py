"""`chalice local` as the local stack runs it, a little closer to API Gateway.

- A listen backlog of 128 instead of socketserver's 5: a burst of connections (a webhook resent 50 times, a load
  run) is queued rather than reset.
- Every HTTP method reaches Chalice's router: the standard library's server answers 501 to a method it has no
  `do_<METHOD>` for (TRACE, QUERY, ...), where API Gateway answers a 4xx; the router answers 405 for a method the
  route does not have.
- The request being served is kept per thread: Chalice keeps it on the app object (a Lambda serves one request at
  a time), but `chalice local` serves each connection on a thread of its own, so two requests at once could read
  each other's body and headers (seen as two concurrent checkouts sharing one Idempotency-Key).

Run as `python -m local.chalice_main local --host ... --port ...` (the arguments of the `chalice` command).
"""

from __future__ import annotations

import threading
from typing import Any

LISTEN_BACKLOG = 128


def _route_any_method(handler: Any, name: str) -> Any:
    if name.startswith("do_"):
        return handler._generic_handle
    raise AttributeError(name)


def _per_thread(name: str, state: threading.local) -> property:
    def read(app: Any) -> Any:
        return getattr(state, "values", {}).get((id(app), name))

    def write(app: Any, value: Any) -> None:
        if not hasattr(state, "values"):
            state.values = {}
        state.values[(id(app), name)] = value

    return property(read, write)


def requests_per_thread() -> None:
    """Chalice apps keep the current request and Lambda context per thread (also used by the test client)."""
    from chalice import app as chalice_app

    if isinstance(vars(chalice_app.Chalice).get("current_request"), property):
        return
    state = threading.local()
    chalice_app.Chalice.current_request = _per_thread("current_request", state)  # type: ignore[assignment]
    chalice_app.Chalice.lambda_context = _per_thread("lambda_context", state)  # type: ignore[assignment]


def patch() -> None:
    import chalice.local

    chalice.local.ThreadedHTTPServer.request_queue_size = LISTEN_BACKLOG
    chalice.local.ChaliceRequestHandler.__getattr__ = _route_any_method
    requests_per_thread()


if __name__ == "__main__":
    from chalice.cli import main

    patch()
    main()
