"""Protocol constants of the Powersensor plug's local push service."""

from typing import Final

DEFAULT_PORT: Final = 49476
"""UDP and TCP port of a plug's push service (and of legacy discovery)."""

SERVICE_TYPE_UDP: Final = "_powersensor._udp.local."
"""Zeroconf service type of the UDP transport (what current plugs advertise)."""

SERVICE_TYPE_TCP: Final = "_powersensor._tcp.local."
"""Zeroconf service type of the TCP transport."""

MAX_UDP_SUBSCRIBERS: Final = 5
"""Concurrent UDP subscriptions a plug serves (powersensor-local's documentation)."""

UNSUBSCRIBE: Final = b"subscribe(0)\n"
"""Ends a subscription. The trailing LF is required by plug firmware since about 4918."""

DISCOVER: Final = b"discover()\n"
"""Legacy discovery probe."""


def subscribe_command(lease_s: int) -> bytes:
    """Return the LF-terminated ``subscribe(N)`` command for a ``lease_s`` s lease (0 ends it)."""
    if lease_s < 0:
        raise ValueError(f"lease must be >= 0 s, got {lease_s}")
    return b"subscribe(%d)\n" % lease_s
