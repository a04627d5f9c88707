"""One outbound HTTPS exchange for the provider adapters (Midtrans, Biteship), with urllib only:
it ships to Lambda, where a requests/httpx dependency would cost package size and cold start.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping


class Unreachable(Exception):
    """No HTTP answer came back (DNS, refused, reset, timeout, truncated): always worth retrying later.

    ``sent`` is False only when the request certainly never reached the provider (the name did not resolve, the
    connection was refused, the certificate was refused); otherwise (a timeout, a reset, a truncated answer) the
    provider may have acted on it.
    """

    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


# Failures to connect at all: nothing was sent, so nothing can have been acted on.
_NOT_SENT = (ConnectionRefusedError, socket.gaierror, ssl.SSLCertVerificationError)


def exchange(method: str, url: str, headers: Mapping[str, str], body: bytes | None, *, timeout: float
             ) -> tuple[int, bytes]:
    """(status, body) of one request; HTTP error statuses are answers too, since providers explain in the body."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()
    except (OSError, http.client.HTTPException) as error:  # URLError, timeouts, resets, truncated answers
        reason = error.reason if isinstance(error, urllib.error.URLError) else error
        raise Unreachable(f"{method} {url}: {error}", sent=not isinstance(reason, _NOT_SENT)) from error
