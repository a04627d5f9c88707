"""`chalice local` as the local stack runs it, a little closer to API Gateway.

- A listen backlog of 128 instead of socketserver's 5: a burst of connections (a webhook resent 50 times, a load
  run) is queued rather than reset.
- Every HTTP method reaches Chalice's router: the standard library's server answers 501 to a method it has no
  `do_<METHOD>` for (TRACE, QUERY, ...), where API Gateway answers a 4xx; the router answers 405 for a method the
  route does not have.

Run as `python -m local.chalice_main local --host ... --port ...` (the arguments of the `chalice` command).
"""

from __future__ import annotations

from typing import Any

LISTEN_BACKLOG = 128


def _route_any_method(handler: Any, name: str) -> Any:
    if name.startswith("do_"):
        return handler._generic_handle
    raise AttributeError(name)


def patch() -> None:
    import chalice.local

    chalice.local.ThreadedHTTPServer.request_queue_size = LISTEN_BACKLOG
    chalice.local.ChaliceRequestHandler.__getattr__ = _route_any_method


if __name__ == "__main__":
    from chalice.cli import main

    patch()
    main()
