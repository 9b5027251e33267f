"""The SSRF guard of webhook URLs: refusing private, loopback and link-local addresses,
both when an endpoint is saved and again when the delivery client connects.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from billow.config import get_settings
from billow.errors import ValidationError

#: Host names of cloud metadata services and of networks that are never public.
_REFUSED_NAMES = frozenset({
    "localhost", "metadata", "metadata.google.internal", "metadata.goog", "instance-data",
    "instance-data.ec2.internal", "metadata.azure.internal", "metadata.packet.net",
    "metadata.platformequinix.com", "metadata.tencentyun.com", "metadata.oraclecloud.com",
})
_REFUSED_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa", ".intranet")
#: What C's inet_aton (and so the HTTP client's resolver) reads as an IPv4 address:
#: 1 to 4 parts, each decimal, octal (leading 0) or hex (0x).
_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?")

NOT_PUBLIC = "Webhook URL targets a private or loopback address"
NOT_HTTP = "Webhook URL must be an absolute http or https URL"
BAD_HOST = "Webhook URL host is not a valid host name"


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries: mapped, compatible (``::127.0.0.1``),
    NAT64 (``64:ff9b::/96``), 6to4 or Teredo."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    value = int(ip)
    if value >> 32 == 0 and value > 1:  # ::a.b.c.d (deprecated IPv4-compatible)
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if value >> 32 == 0x64FF9B << 64:  # 64:ff9b::/96
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def _address_refused(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            ip = embedded
    return not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified


def normalise_host(host: str) -> str:
    """*host* as the HTTP client will reach it: Unicode folded (NFKC, so ``①②⑦`` is
    ``127``) and IDNA-encoded, lower case, no trailing dot, and a numeric IPv4 spelling
    (``0x7f000001``, ``2130706433``, ``127.1``, ``0177.0.0.1``) as its dotted address."""
    host = unicodedata.normalize("NFKC", host.strip().strip("[]")).lower()
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        pass
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise ValidationError(BAD_HOST, code="invalid_webhook_url") from None
    host = host.rstrip(".")
    if _NUMERIC_HOST.fullmatch(host):
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            raise ValidationError(BAD_HOST, code="invalid_webhook_url") from None
    return host


def _name_refused(host: str) -> bool:
    return host in _REFUSED_NAMES or host.endswith(_REFUSED_SUFFIXES) or "." not in host


def validate_url(url: str, *, resolve: bool = False) -> str:
    """Check a webhook URL: http(s), a host, and no private target unless allowed.

    The host is read as the HTTP client will read it (:func:`normalise_host`): any
    spelling of a loopback, private, link-local or metadata address is refused, and so
    are names of internal networks and metadata services. ``resolve=True`` (right before
    sending) also refuses a name that now resolves to such an address; the delivery
    client then connects only to an address it checked itself (no rebinding window).
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationError(NOT_HTTP, code="invalid_webhook_url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(NOT_HTTP, code="invalid_webhook_url")
    if parts.username or parts.password:
        raise ValidationError("Webhook URL must not contain credentials", code="invalid_webhook_url")
    if get_settings().webhook_allow_private:
        return url
    host = normalise_host(parts.hostname)
    addresses: list[str] = []
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        if _name_refused(host):
            raise ValidationError(NOT_PUBLIC, code="webhook_url_not_public") from None
        if resolve:
            try:
                infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
            except OSError as exc:
                raise ValidationError(
                    f"Webhook host {host} does not resolve: {exc}", code="webhook_host_unresolvable"
                ) from None
            addresses = [str(info[4][0]) for info in infos]
    if any(_address_refused(a) for a in addresses):
        raise ValidationError(NOT_PUBLIC, code="webhook_url_not_public")
    return url


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class _GuardedBackend(httpcore.SyncBackend):
    """Connect only to public addresses, checked on the address actually connected to.

    Resolving once to check and letting the HTTP library resolve again to connect would let a
    name re-point to an internal address in between (DNS rebinding); here the checked address
    is the one used. TLS still verifies the certificate against the URL's host name.
    """

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> Any:
        if not get_settings().webhook_allow_private:
            host = normalise_host(host)
            if _name_refused(host) and not _is_ip(host):
                raise httpcore.ConnectError(f"{host} is not a public host name")
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
