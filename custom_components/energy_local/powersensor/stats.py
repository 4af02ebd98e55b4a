"""Counters of what one plug connection saw, for diagnostics and tests."""

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class PlugStats:
    """Running counts for one plug; never reset while the connection object lives."""

    datagrams: int = 0
    """UDP datagrams, or TCP reads, received."""
    lines: int = 0
    """Non-empty lines seen (after joining a line split across datagrams)."""
    malformed_lines: int = 0
    """Lines that were not a UTF-8 JSON object (or an over-long unterminated TCP line)."""
    joined_lines: int = 0
    """Lines that arrived split across two datagrams and were joined."""
    subscribes_sent: int = 0
    """``subscribe(N)`` commands sent: first subscription, retries and renewals."""
    renewals: int = 0
    """Renewals sent while data was flowing (timer or plug warning)."""
    warnings: int = 0
    """``subscription``/``warning`` messages from the plug."""
    expiries: int = 0
    """``subscription``/``expiry`` messages from the plug."""
    probes: int = 0
    """``subscribe(N)`` sent because a connected plug went quiet for a few seconds."""
    resubscribes: int = 0
    """Immediate resubscriptions: the plug re-announced itself, or sent again after silence."""
    retries: int = 0
    """Re-subscribe (UDP) or reconnect (TCP) attempts after the first."""
    errors: int = 0
    """Socket errors: ICMP unreachable, refused or dropped connections, failed opens."""
    invalid_messages: int = 0
    """JSON messages lacking a required field, or with a wrongly typed one."""
    unknown_types: int = 0
    """Messages of a ``type`` this library does not know."""
    duplicates: int = 0
    """Readings dropped because the same device and start time was already seen."""
    events: int = 0
    """Events delivered to listeners."""

    def as_dict(self) -> dict[str, int]:
        """Return the counters as a plain dict."""
        return asdict(self)
