"""The SSRF guard of webhook URLs: refusing private, loopback and link-local addresses,
both when an endpoint is saved and again when the delivery client connects.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from billow.config import get_settings
from billow.errors import ValidationError


def _address_refused(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def validate_url(url: str, *, resolve: bool = False) -> str:
    """Check a webhook URL: http(s), a host, and no private target unless allowed.

    Use ``resolve=True`` right before sending, so a name that now points at a private
    address is refused too.
    """
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("Webhook URL must be an absolute http or https URL", code="invalid_webhook_url")
    if parts.username or parts.password:
        raise ValidationError("Webhook URL must not contain credentials", code="invalid_webhook_url")
    if get_settings().webhook_allow_private:
        return url
    host = parts.hostname
    if host == "localhost" or host.endswith(".localhost"):
        raise ValidationError(
            "Webhook URL targets a private or loopback address", code="webhook_url_not_public"
        )
    addresses: list[str] = []
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        if resolve:
            try:
                infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
            except OSError as exc:
                raise ValidationError(
                    f"Webhook host {host} does not resolve: {exc}", code="webhook_host_unresolvable"
                ) from None
            addresses = [str(info[4][0]) for info in infos]
    if any(_address_refused(a) for a in addresses):
        raise ValidationError(
            "Webhook URL targets a private or loopback address", code="webhook_url_not_public"
        )
    return url


class _GuardedBackend(httpcore.SyncBackend):
    """Connect only to public addresses, checked on the address actually connected to.

    Resolving once to check and letting the HTTP library resolve again to connect would let a
    name re-point to an internal address in between (DNS rebinding); here the checked address
    is the one used. TLS still verifies the certificate against the URL's host name.
    """

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> Any:
        if not get_settings().webhook_allow_private:
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                raise httpcore.ConnectError(f"{host} does not resolve: {exc}") from None
            public = [str(info[4][0]) for info in infos if not _address_refused(str(info[4][0]))]
            if not public:
                raise httpcore.ConnectError(f"{host} resolves only to private or loopback addresses")
            host = public[0]
        return super().connect_tcp(host, port, timeout, local_address, socket_options)


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        # Same pool httpx builds, with the guarded network backend.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False), max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry, network_backend=_GuardedBackend(),
        )


def new_client() -> httpx.Client:
    """The HTTP client of one worker: timeouts, no redirects, no proxies, public targets only."""
    timeout = get_settings().webhook_timeout_seconds
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), follow_redirects=False,
        trust_env=False, transport=_GuardedTransport(limits),
    )
