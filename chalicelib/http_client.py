"""One outbound HTTPS exchange for the provider adapters (Midtrans, Biteship), with urllib only:
it ships to Lambda, where a requests/httpx dependency would cost package size and cold start.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from collections.abc import Mapping


class Unreachable(Exception):
    """No HTTP answer came back (DNS, refused, reset, timeout, truncated): always worth retrying later."""


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
        raise Unreachable(f"{method} {url}: {error}") from error
