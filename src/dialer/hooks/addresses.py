"""Which webhook URLs may be called: no loopback, link-local, private or reserved ranges
(SSRF: a subscription must not make the worker call into its own network), unless the
operator allows it (``DIALER_WEBHOOKS_ALLOW_PRIVATE``).

The check runs when a subscription is created AND at every delivery on the addresses
the name resolves to then; the delivery connects to the address that was checked (the
Host header and TLS server name keep the original name), so a DNS answer that changes
between the check and the connection (rebinding) cannot reach a private address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from dialer.errors import InvalidInput

Resolver = Callable[[str, int], Awaitable[list[str]]]


class AddressRefused(InvalidInput):
    """The webhook URL is not allowed."""


def is_public(ip: str) -> bool:
    """True for a globally routable unicast address."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped  # ::ffff:127.0.0.1 is loopback
    return not (
        addr.is_loopback
        or addr.is_link_local
        or addr.is_private
        or addr.is_reserved
        or addr.is_multicast
        or addr.is_unspecified
        or not addr.is_global
    )


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return sorted({str(info[4][0]) for info in infos})


def split_url(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of an http(s) URL, or AddressRefused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise AddressRefused("the webhook URL must be http or https", field="url")
    if not parts.hostname:
        raise AddressRefused("the webhook URL has no host", field="url")
    if parts.username or parts.password:
        raise AddressRefused("the webhook URL may not carry credentials", field="url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise AddressRefused("the webhook URL has an invalid port", field="url") from None
    return parts.scheme, parts.hostname, port


async def checked_address(
    url: str, *, allow_private: bool, resolver: Resolver = system_resolver
) -> str:
    """The address to connect to for ``url``, after checking every address it resolves to."""
    _scheme, host, port = split_url(url)
    try:
        ipaddress.ip_address(host)
        addresses = [host]
    except ValueError:
        try:
            addresses = await resolver(host, port)
        except OSError as exc:
            raise AddressRefused(f"the webhook host '{host}' does not resolve: {exc}") from None
    if not addresses:
        raise AddressRefused(f"the webhook host '{host}' does not resolve", field="url")
    if not allow_private:
        refused = [a for a in addresses if not is_public(a)]
        if refused:
            raise AddressRefused(
                f"the webhook host '{host}' resolves to a non-public address ({refused[0]}); "
                "loopback, link-local and private ranges are refused",
                field="url",
            )
    return addresses[0]
