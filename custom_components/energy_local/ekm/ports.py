"""What kind of port a bus URL names, and how long a reply may take to come back through it.

A transaction's deadline is its wire time at 9600 baud plus a margin for everything between
the meter and us. That margin depends on the path: a USB adapter adds a latency timer, a
serial-over-TCP converter a LAN round trip, and an ESPHome serial proxy a Wi-Fi round trip
plus the device's UART buffering (it forwards what its UART collected once per main-loop pass)
and the native API's message queue, which together can reach a few hundred milliseconds
(``scripts/bench esphome`` measures it).
"""

from enum import StrEnum


class PortKind(StrEnum):
    """How the bus reaches the wire."""

    LOCAL = "local"
    SOCKET = "socket"
    RFC2217 = "rfc2217"
    ESPHOME = "esphome"


REPLY_MARGIN: dict[PortKind, float] = {
    # Meter turnaround (20-100 ms), an FTDI latency timer (16 ms), margin: a silent meter
    # costs about 0.8 s per read (ekmmeters: 2.2 s).
    PortKind.LOCAL: 0.5,
    # A converter on the LAN adds a few milliseconds.
    PortKind.SOCKET: 0.5,
    PortKind.RFC2217: 0.5,
    # Wi-Fi (power save can hold a packet for 100-300 ms each way), the proxy's UART
    # batching and the API queue: a reply 300 ms late each way still makes its deadline.
    PortKind.ESPHOME: 1.5,
}
"""Seconds allowed beyond a transaction's pure wire time before the meter counts as silent."""


def port_kind(url: str) -> PortKind:
    """The kind of port ``url`` names.

    ``esphome://`` and Home Assistant's ``esphome-hass://`` are both ESPHome serial proxies.
    """
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme in ("socket", "tcp"):
        return PortKind.SOCKET
    if scheme == "rfc2217":
        return PortKind.RFC2217
    if scheme.startswith("esphome"):
        return PortKind.ESPHOME
    return PortKind.LOCAL
