"""Energy and volume totals that continue across counter resets and Home Assistant restarts."""

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(slots=True)
class ContinuousTotal:
    """A device counter made continuous: a reset (new reset time) adds to a base, not a drop.

    A plug reboot zeroes its summation and gives it a new reset time; the published total
    carries on from where it was instead of falling to zero, so Home Assistant's statistics
    and the Energy dashboard see one unbroken total. State is exported for persistence.
    """

    base: float = 0.0
    last_raw: float | None = None
    last_reset: float | None = None

    def update(self, raw: float, reset_time: float) -> float:
        """Take a raw counter reading and its reset time; return the continuous total."""
        if self.last_raw is not None and reset_time != self.last_reset:
            self.base += self.last_raw
        self.last_raw = raw
        self.last_reset = reset_time
        return self.base + raw

    @property
    def value(self) -> float | None:
        """The current continuous total, if any reading was taken."""
        return None if self.last_raw is None else self.base + self.last_raw

    def export(self) -> dict[str, Any]:
        """State for persistence."""
        return asdict(self)

    @classmethod
    def restore(cls, data: Any) -> ContinuousTotal:
        """Rebuild from :meth:`export` output; anything malformed starts afresh."""
        if not isinstance(data, dict):
            return cls()
        try:
            return cls(
                base=float(data.get("base", 0.0)),
                last_raw=None if data.get("last_raw") is None else float(data["last_raw"]),
                last_reset=None if data.get("last_reset") is None else float(data["last_reset"]),
            )
        except TypeError, ValueError:
            return cls()
