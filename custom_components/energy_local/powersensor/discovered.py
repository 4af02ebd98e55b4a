"""A plug found on the network, however it was found."""

from dataclasses import dataclass
from typing import Final

from .link import Transport

_HEX: Final = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class DiscoveredPlug:
    """A plug found on the network: its MAC and where its push service listens."""

    mac: str
    host: str
    port: int
    transport: Transport
    name: str | None = None
    """Zeroconf instance name; ``None`` for legacy discovery."""
    addresses: tuple[str, ...] = ()
    """All advertised addresses, IPv4 first; ``host`` is the first."""


def normalize_mac(value: str) -> str | None:
    """Return ``value`` as 12 lowercase hex digits, or ``None`` when it is not a MAC."""
    mac = value.strip().lower().replace(":", "").replace("-", "")
    if len(mac) == 12 and set(mac) <= _HEX:
        return mac
    return None
