"""The one reconnect policy: which failures are retried, and how long to wait between tries.

Requests, the event socket and polling all use it, so a blinking link is treated the
same way wherever it is met.
"""

from __future__ import annotations

import httpx

from .failures import unreachable_reason

# Delays before retrying an idempotent request that hit a transient transport error.
RETRY_DELAYS = (0.05, 0.2, 0.5)


def is_retryable(exc: BaseException, method: str) -> bool:
    """Whether a failed request may be sent again.

    A keep-alive connection closed by the server (restart, proxy) fails the next request
    on it; a GET can simply be repeated. A POST is repeated only when it never left
    (connection refused): POST /prompt twice would queue the job twice.
    """
    if isinstance(exc, httpx.ConnectError):
        return unreachable_reason(exc) != "dns"  # a missing name will not appear in 1 s
    return method == "GET" and isinstance(
        exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError
    )
