"""A published total that never goes backwards and never grows faster than physics allows.

A device counter (a plug's energy, a water sensor's volume, a household energy) becomes one
continuous total here:

* readings are ordered by their own start time: one not newer than the last used (a duplicate
  or a late datagram) is dropped before it can move the total;
* a real reset (a new reset time) is bridged: the total carries on from where it was;
* every increment is checked against what the device can physically do since the previous
  reading (``max_rate`` per second x elapsed time of the readings' own timestamps, plus a
  rounding allowance). An increment beyond that is not added at all: it is counted, the
  outcome says so (the caller logs it once), and the counter becomes the new baseline, so the
  next plausible step is credited again (the total never freezes);
* a counter that falls without a new reset time is re-based (counted), never subtracted;
* non-finite numbers never enter the state, and :meth:`MonotonicTotal.restore` discards garbage.

The export is a superset of the former ``ContinuousTotal`` format ``{"base", "last_raw",
"last_reset"}``, which :meth:`MonotonicTotal.restore` still reads.
"""

import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Final, Self, TypeIs

PLUG_MAX_WATTS: Final = 5_000.0
"""A plug: 15 A x 250 V = 3.75 kW, with margin."""

MAINS_MAX_WATTS: Final = 100_000.0
"""A mains (or solar) sensor, and the household flows derived from it."""

WATER_MAX_LITRES_PER_S: Final = 100.0 / 60.0
"""A water sensor: 100 L/min."""

ENERGY_ROUNDING: Final = 1.0
"""Joules: summations arrive rounded to whole joules."""

VOLUME_ROUNDING: Final = 0.001
"""Litres: volumes arrive rounded to 3 digits."""

MAX_CLOCK_SKEW_S: Final = 300.0
"""How far ahead of the host's clock a reading's start time may be (plug clocks drift)."""


class TotalOutcome(StrEnum):
    """What :meth:`MonotonicTotal.update` did with a reading."""

    FIRST = "first"
    """The first reading: the total starts at the counter's value."""
    ACCEPTED = "accepted"
    """The increment was added."""
    RESET = "reset"
    """A new reset time: bridged, the counter since the reset was added."""
    DUPLICATE = "duplicate"
    """Same start time as the last reading used: dropped."""
    OUT_OF_ORDER = "out_of_order"
    """Older than the last reading used: dropped."""
    BOUNDED = "bounded"
    """The increment was beyond the physical bound: not added (log it once)."""
    DECREASE = "decrease"
    """The counter fell without a new reset time: re-based, nothing subtracted."""
    INVALID = "invalid"
    """A non-finite or negative number, or a reset time after the reading: ignored."""


DROPPED: Final = frozenset(
    {TotalOutcome.DUPLICATE, TotalOutcome.OUT_OF_ORDER, TotalOutcome.INVALID}
)
"""Outcomes that left the total and its baseline untouched."""


@dataclass(slots=True)
class TotalStats:
    """What the guard refused or bridged, for diagnostics."""

    out_of_order: int = 0
    duplicates: int = 0
    bounded: int = 0
    bounded_amount: float = 0.0
    """Sum of the increments refused as impossible (units of the counter)."""
    decreases: int = 0
    resets: int = 0
    invalid: int = 0


@dataclass(slots=True)
class MonotonicTotal:
    """One device counter as a continuous, monotonic, physically bounded total.

    ``max_rate``: the most the counter can grow per second (W for joules, L/s for litres);
    ``rounding``: the allowance for the counter's rounding, added to every bound;
    ``signed``: a net counter (a mains or solar sensor's energy, ``state_class`` total) that
    may fall by up to the bound too; otherwise the total only grows.
    """

    max_rate: float
    rounding: float = ENERGY_ROUNDING
    signed: bool = False
    base: float = 0.0
    """Only before the first reading (a restored base without a counter); then in ``total``."""
    total: float | None = None
    """Kept as a sum of non-negative increments: float rounding can never make it fall."""
    last_raw: float | None = None
    last_reset: float | None = None
    last_time: float | None = None
    """Start time of the last reading taken (refused ones too): orders the readings."""
    base_time: float | None = None
    """Start time of the reading ``last_raw`` came from: the bound runs from here."""
    suspect: bool = False
    """The last reading was refused and left the baseline where it was."""
    stats: TotalStats = field(default_factory=TotalStats)

    @classmethod
    def for_plug(cls) -> Self:
        """A plug's energy counter (J)."""
        return cls(PLUG_MAX_WATTS)

    @classmethod
    def for_mains(cls) -> Self:
        """A mains or solar sensor's energy, or a household energy flow (J)."""
        return cls(MAINS_MAX_WATTS)

    @classmethod
    def for_net_sensor(cls) -> Self:
        """A mains or solar sensor's net energy (J): may fall while exporting."""
        return cls(MAINS_MAX_WATTS, signed=True)

    @classmethod
    def for_water(cls) -> Self:
        """A water sensor's volume (L)."""
        return cls(WATER_MAX_LITRES_PER_S, VOLUME_ROUNDING)

    @property
    def value(self) -> float | None:
        """The continuous total, if any reading was taken."""
        return self.total

    def bound(self, elapsed_s: float) -> float:
        """The largest increment possible in ``elapsed_s`` seconds."""
        return self.max_rate * max(elapsed_s, 0.0) + self.rounding

    def update(  # noqa: PLR0911 - one return per outcome
        self, raw: float, reset_time: float, reading_time: float, now: float | None = None
    ) -> TotalOutcome:
        """Take a counter reading (value, its reset time, the reading's start time).

        ``now`` (seconds since the epoch): when given, a reading more than
        :data:`MAX_CLOCK_SKEW_S` ahead of it is invalid, so one far-future time can never
        make every later reading look old.
        """
        if (
            not (_finite(raw) and _finite(reset_time) and _finite(reading_time))
            or (raw < 0 and not self.signed)
            or reset_time > reading_time + 1  # 1 s: both are rounded, to ms and to s
            or (now is not None and reading_time > now + MAX_CLOCK_SKEW_S)
        ):
            self.stats.invalid += 1
            return TotalOutcome.INVALID
        last_time = self.last_time
        if last_time is not None:
            if reading_time == last_time:
                self.stats.duplicates += 1
                return TotalOutcome.DUPLICATE
            if reading_time < last_time:
                self.stats.out_of_order += 1
                return TotalOutcome.OUT_OF_ORDER
        last_raw = self.last_raw
        base_time = self.base_time if self.base_time is not None else last_time
        self.last_time = reading_time
        if last_raw is None or self.total is None:
            self.total = self.base + raw
            self._take(raw, reset_time, reading_time)
            return TotalOutcome.FIRST
        delta = raw - last_raw
        # base_time is None only after a restore of the old format, which kept no
        # timestamp: that one step is trusted, as it always was.
        limit = math.inf if base_time is None else self.bound(reading_time - base_time)
        outcome = TotalOutcome.ACCEPTED
        if reset_time != self.last_reset:
            # A real reset moves the start forward into the time since the baseline; any other
            # new start with a counter that carried on is re-stamped or corrupt: keep ours.
            since_base = (
                base_time is None
                or self.last_reset is None
                or (reset_time > self.last_reset and reset_time >= base_time - 1)
            )
            carried_on = 0 <= delta <= limit or (self.signed and abs(delta) <= limit)
            if carried_on and not since_base:
                reset_time = self.last_reset if self.last_reset is not None else reset_time
            else:
                # Bridged: what was counted stays, and the new counter is the whole increment,
                # bounded like any other by what is possible since the previous reading.
                self.stats.resets += 1
                delta = raw
                outcome = TotalOutcome.RESET
        elif delta < 0 and not self.signed:
            self.stats.decreases += 1
            return self._refuse(raw, reset_time, reading_time, TotalOutcome.DECREASE)
        if abs(delta) > limit:
            self.stats.bounded += 1
            self.stats.bounded_amount += abs(delta)
            return self._refuse(raw, reset_time, reading_time, TotalOutcome.BOUNDED)
        self.total += delta
        self.suspect = False
        self._take(raw, reset_time, reading_time)
        return outcome

    def _refuse(
        self, raw: float, reset_time: float, reading_time: float, outcome: TotalOutcome
    ) -> TotalOutcome:
        """Add nothing; return ``outcome``.

        One outlier leaves the baseline (the next good reading counts from it); a second in a
        row means the counter really moved, and becomes the baseline: the total never freezes.
        """
        if self.suspect:
            self.suspect = False
            self._take(raw, reset_time, reading_time)
        else:
            self.suspect = True
        return outcome

    def _take(self, raw: float, reset_time: float, reading_time: float) -> None:
        self.last_raw = raw
        self.last_reset = reset_time
        self.base_time = reading_time

    def export(self) -> dict[str, Any]:
        """JSON-ready state for persistence (the counters in ``stats`` are informational).

        ``base``/``last_raw``/``last_reset`` keep the old format's meaning; ``total`` is exact.
        """
        total = self.total
        base = self.base if total is None or self.last_raw is None else total - self.last_raw
        return {
            "total": total,
            "base": base,
            "last_raw": self.last_raw,
            "last_reset": self.last_reset,
            "last_time": self.last_time,
            "base_time": self.base_time,
            "suspect": self.suspect,
            "stats": asdict(self.stats),
        }

    @classmethod
    def restore(  # noqa: PLR0911 - one early return per kind of garbage
        cls,
        data: Any,
        max_rate: float,
        rounding: float = ENERGY_ROUNDING,
        now: float | None = None,
        *,
        signed: bool = False,
    ) -> Self:
        """Rebuild from :meth:`export` (or ``ContinuousTotal``) data; garbage starts afresh.

        Without a stored ``last_time`` (the old format), the first reading is not time-bounded.
        A stored ``last_time`` ahead of ``now`` by more than the skew is dropped (the total
        stays), so it cannot make every reading look old.
        """
        fresh = cls(max_rate, rounding, signed)
        if not isinstance(data, dict):
            return fresh
        base = data.get("base", 0.0)
        last_raw = data.get("last_raw")
        last_reset = data.get("last_reset")
        last_time = data.get("last_time")
        base_time = data.get("base_time", last_time)
        if not _number(base) or (base < 0 and not signed):
            return fresh
        if last_raw is None:
            return cls(max_rate, rounding, signed, base=float(base))
        if not (_number(last_raw) and (last_raw >= 0 or signed) and _number(last_reset)):
            return fresh
        if any(t is not None and not _number(t) for t in (last_time, base_time)):
            return fresh
        if last_time is not None and now is not None and last_time > now + MAX_CLOCK_SKEW_S:
            last_time = base_time = None
        if base_time is not None and last_time is not None and base_time > last_time:
            return fresh
        total = data.get("total", base + last_raw)
        if not _number(total) or (total < 0 and not signed):
            return fresh
        return cls(
            max_rate,
            rounding,
            signed,
            total=float(total),
            last_raw=float(last_raw),
            last_reset=float(last_reset),
            last_time=None if last_time is None else float(last_time),
            base_time=None if base_time is None else float(base_time),
            suspect=data.get("suspect") is True,
        )


def _finite(value: float) -> bool:
    # isfinite raises TypeError for a non-number: those are invalid too
    try:
        return math.isfinite(value)
    except TypeError:
        return False


def _number(value: Any) -> TypeIs[float]:
    """A finite JSON number (never a bool)."""
    return type(value) in (int, float) and math.isfinite(value)
