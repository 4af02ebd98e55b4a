"""Dropping a reading already seen: same device, same start time.

A datagram can arrive twice (a retransmitting Wi-Fi link, or one sensor heard by two plugs).
Share one filter between the plugs of a household to drop the second copy wherever it comes
from.
"""

from typing import Final

RECENT_PER_DEVICE: Final = 64
"""Start times remembered per device: a minute of plug reports, half an hour of a sensor's."""

MAX_DEVICES: Final = 256
"""Devices remembered; past that the earliest-seen one is forgotten (a household has a few)."""


class DuplicateFilter:
    """Remembers recent ``(mac, starttime)`` pairs, in bounded memory."""

    __slots__ = ("_recent",)

    def __init__(self) -> None:
        """Start empty."""
        self._recent: dict[str, dict[float, None]] = {}

    def seen(self, mac: str, starttime: float) -> bool:
        """Record the reading; return whether it was already recorded."""
        times = self._recent.get(mac)
        if times is None:
            if len(self._recent) >= MAX_DEVICES:
                del self._recent[next(iter(self._recent))]
            self._recent[mac] = {starttime: None}
            return False
        if starttime in times:
            return True
        times[starttime] = None
        if len(times) > RECENT_PER_DEVICE:
            del times[next(iter(times))]
        return False

    def forget(self) -> None:
        """Forget everything (e.g. after a long outage, to accept replayed history)."""
        self._recent.clear()
