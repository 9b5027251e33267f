"""HTTP plumbing shared by the built-in modules: timeouts, and retries on idempotent calls.

Only calls that are safe to repeat (reads, and requests the remote API defines as
idempotent) are retried, on connection errors, timeouts and 5xx answers; a create is sent
once, so a slow panel can never end up with two accounts.
"""

from __future__ import annotations

from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from billow.config import get_settings


def module_timeout() -> float:
    """The per-request timeout of module calls (``BILLOW_MODULE_TIMEOUT_SECONDS``)."""
    return get_settings().module_timeout_seconds


class RetryableStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, httpx.TransportError | RetryableStatus)


def send(
    client: httpx.Client, method: str, url: str, *, idempotent: bool, attempts: int = 3, **kwargs: Any
) -> httpx.Response:
    """Send one request; retry *idempotent* ones up to *attempts* times with back-off.

    Returns the last response (a 5xx one after the last retry); transport errors after
    the last attempt are raised as ``httpx.TransportError``.
    """
    if not idempotent:
        return client.request(method, url, **kwargs)
    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=0.05, max=1),
        retry=retry_if_exception(_retryable),
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt:
                response = client.request(method, url, **kwargs)
                if response.status_code >= 500:
                    raise RetryableStatus(response)
                return response
    except RetryableStatus as exc:
        return exc.response
    raise RuntimeError("unreachable: tenacity either returns or re-raises")


def describe_transport_error(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "Connection timed out"
    return f"Connection failed: {exc.__class__.__name__}: {exc}"
