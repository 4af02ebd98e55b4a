"""When a Powersensor entity writes its state: the write budget of each kind of value.

Readings arrive every second (a plug) or every 30 s (a sensor) and the recorder keeps every
state write, so a value is written when what it shows changed in a way that matters:

* totals at most once per write interval, and only when the shown value moved a display step;
* measurements once per write interval (voltage and currents every third) when they moved by
  more than their noise, and at once (after a short gap) when they moved a lot: an appliance
  switching on shows within seconds, a load drifting by a few watts does not fill the database.

The entity's value is always the exact latest reading; only the write waits its turn.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

LARGE_CHANGE_GAP_S: Final = 5.0
"""Even a large change waits this long after the last write: a small load's power walks by
tens of watts between readings, and one write per reading is what the budget stops."""


class Throttle(StrEnum):
    """Values written on change alone, or as totals."""

    CHANGE = "change"
    """On every change (values that change rarely)."""
    TOTAL = "total"
    """At most once per the write interval, and only when the shown value changed by at
    least one display step: the statistics still see the exact value when it is written."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MeasurementWrites:
    """A measurement's write budget."""

    noise: float
    """A move of at most this much (absolute) is never written on its own..."""
    noise_share: float = 0.01
    """...nor one of at most this share of the value."""
    large: float | None = None
    """A move of at least this much (and ``large_share``) is written at once; None: never."""
    large_share: float = 0.10
    intervals: int = 1
    """Write intervals between two writes of a value that moved only a little."""


type WritePolicy = Throttle | MeasurementWrites

POWER_WRITES: Final = MeasurementWrites(noise=1.0, large=25.0)  # watts
VOLTAGE_WRITES: Final = MeasurementWrites(noise=1.0, noise_share=0.0, intervals=3)  # volts
CURRENT_WRITES: Final = MeasurementWrites(  # amperes: a large power change moves it too
    noise=0.01, large=0.25, large_share=0.20, intervals=3
)
FLOW_WRITES: Final = MeasurementWrites(noise=0.1, large=1.0)  # litres a minute
DIAGNOSTIC_WRITES: Final = MeasurementWrites(noise=0.0, noise_share=0.0, intervals=3)


def write_due(
    policy: WritePolicy,
    new: object,
    old: object,
    *,
    since_write: float,
    interval: float,
    precision: int | None,
) -> bool:
    """Whether ``new`` is written now, ``since_write`` seconds after ``old`` was.

    ``interval`` is the configured write interval (0: every reading); ``precision`` the
    display precision of a total.
    """
    if policy is Throttle.CHANGE:
        return True
    if not isinstance(new, int | float) or not isinstance(old, int | float):
        return True  # a first value, or one that went away
    if isinstance(policy, MeasurementWrites):
        return _measurement_due(policy, new, old, since_write=since_write, interval=interval)
    if precision is not None:
        new, old = round(new, precision), round(old, precision)
    return since_write >= interval and new != old


def _measurement_due(
    policy: MeasurementWrites, new: float, old: float, *, since_write: float, interval: float
) -> bool:
    if interval <= 0:
        return new != old
    move = abs(new - old)
    if since_write >= interval * policy.intervals:
        return move > max(policy.noise, abs(old) * policy.noise_share)
    if policy.large is None or since_write < min(interval, LARGE_CHANGE_GAP_S):
        return False
    return move >= max(policy.large, abs(old) * policy.large_share)
