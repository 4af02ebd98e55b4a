"""Legacy discovery: ``discover()`` and LF to a broadcast (or one plug's) address, UDP 49476.

Plugs answer with a JSON object holding ``ip`` and ``mac`` (the exact schema is not
documented). Zeroconf is the preferred way; this one needs broadcast to reach the plug.
"""

import asyncio
import math
import socket
from typing import Any

from .const import DEFAULT_PORT, DISCOVER
from .discovered import DiscoveredPlug, normalize_mac
from .jsonlines import parse_line
from .link import Transport


class _LegacyReplies(asyncio.DatagramProtocol):
    """Collects legacy discovery replies: JSON objects with ``ip`` and ``mac``."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.found: dict[str, DiscoveredPlug] = {}

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        for line in data.splitlines():
            reply = parse_line(line)
            if reply is None:
                continue
            ip, mac = reply.get("ip"), reply.get("mac")
            if type(ip) is str and type(mac) is str and (mac := normalize_mac(mac)):
                self.found[mac] = DiscoveredPlug(mac, ip, self.port, Transport.UDP)


async def legacy_discover(
    target: str,
    *,
    port: int = DEFAULT_PORT,
    timeout_s: float = 2.0,
    interval_s: float = 0.5,
) -> list[DiscoveredPlug]:
    """Send ``discover()`` to ``target`` every ``interval_s`` for ``timeout_s``; list replies.

    ``target`` is a broadcast address (``192.168.1.255``, ``<broadcast>``) on a real network,
    or one plug's address. The data port is assumed to be the probed ``port``.
    """
    loop = asyncio.get_running_loop()
    ipv6 = ":" in target
    transport, replies = await loop.create_datagram_endpoint(
        lambda: _LegacyReplies(port),
        local_addr=("::" if ipv6 else "0.0.0.0", 0),  # noqa: S104 - replies come from the LAN
        family=socket.AF_INET6 if ipv6 else socket.AF_INET,
        allow_broadcast=not ipv6,
    )
    probes = max(1, math.ceil(timeout_s / interval_s - 1e-9))  # 2 s / 0.5 s: 4 probes
    try:
        for probe in range(probes):
            transport.sendto(DISCOVER, (target, port))
            await asyncio.sleep(min(interval_s, timeout_s - probe * interval_s))
    finally:
        transport.close()
    return sorted(replies.found.values(), key=lambda plug: plug.mac)
