"""Household view: gross grid, solar and home flows from the net mains and solar sensors.

Same algorithm as powersensor-local 2.4.0's ``VirtualHousehold`` (a house-net and a solar
reading with the same start time make one sample; power flows are clamped views of it, energy
counters grow by the clamped summation deltas), without its defects:

* A reading whose start time is not newer than the last sample used (a duplicate, or one that
  arrived late) is dropped. The other library used it in no-solar mode: its negative delta
  moved the baseline back, and the next sample counted the same energy again.
* A reset of one sensor's counter, or the solar sensor's first appearance, re-primes both
  baselines at that sample. The other library re-primed only the sensor that changed, so the
  other's next delta spanned an older, longer interval than its partner's: a wrong step.
* Counters, baselines and the last start times can be exported and restored, so totals
  survive a restart of the host program.

Everything else is kept: a sensor counter reset (or the first sample ever) clears the four
counters and emits nothing for that sample; the counters' reset time is that sample's start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Self, cast

from .events import (
    AveragePower,
    HouseholdEnergy,
    HouseholdEvent,
    HouseholdFlow,
    HouseholdPower,
    Role,
    SummationEnergy,
)

POWER_BUFFER: Final = 31
"""Unmatched power readings kept per role: about 15 min at one per 30 s."""

SUMMATION_BUFFER: Final = 5
"""Unmatched summation readings kept per role."""

STATE_VERSION: Final = 1

_NOTHING: Final[tuple[HouseholdEvent, ...]] = ()

_HOUSE: Final = Role.HOUSE_NET.value
_SOLAR: Final = Role.SOLAR.value
FROM_GRID, HOME_USAGE, SOLAR_GENERATION, TO_GRID = (
    HouseholdFlow.FROM_GRID,
    HouseholdFlow.HOME_USAGE,
    HouseholdFlow.SOLAR_GENERATION,
    HouseholdFlow.TO_GRID,
)


@dataclass(slots=True)
class _Baseline:
    """A sensor's counter at the last sample used, and the reset time it belongs to."""

    resettime_utc: float
    summation_joules: float


@dataclass(slots=True)
class HouseholdStats:
    """What the household view dropped."""

    stale_power: int = 0
    stale_summations: int = 0


class Household:
    """Turns house-net and solar ``average_power``/``summation_energy`` events into flows.

    Feed every event to :meth:`process` (others are ignored); it returns the household events
    the event completed, as a tuple (usually empty). Only roles ``house-net`` and ``solar``
    count: give a sensor whose role is missing or ``unknown`` its persisted role
    (``dataclasses.replace``) before feeding it.
    """

    def __init__(self, with_solar: bool = False) -> None:
        """Start with zero counters.

        ``with_solar``: the kit is known to have a solar sensor (persist :attr:`with_solar`).
        Without it home usage equals the grid import until the first solar reading arrives;
        with it, nothing is emitted while the solar sensor is silent (a flat battery), which
        beats emitting wrong values.
        """
        self._with_solar = with_solar
        self._house_power: dict[int, AveragePower] = {}
        self._solar_power: dict[int, AveragePower] = {}
        self._house_summations: dict[int, SummationEnergy] = {}
        self._solar_summations: dict[int, SummationEnergy] = {}
        self._last_power_utc: int | None = None
        self._last_summation_utc: int | None = None
        self._house_base: _Baseline | None = None
        self._solar_base: _Baseline | None = None
        self._resettime_utc = 0
        self._from_grid = 0.0
        self._home_usage = 0.0
        self._solar_generation = 0.0
        self._to_grid = 0.0
        self.stats = HouseholdStats()

    @property
    def with_solar(self) -> bool:
        """Whether a solar sensor is expected (set for good by the first solar reading)."""
        return self._with_solar

    @property
    def counters(self) -> dict[HouseholdFlow, float]:
        """Current energy counters in J."""
        return {
            FROM_GRID: self._from_grid,
            HOME_USAGE: self._home_usage,
            SOLAR_GENERATION: self._solar_generation,
            TO_GRID: self._to_grid,
        }

    @property
    def counters_resettime_utc(self) -> int:
        """When the counters last started from 0 (start time of that sample)."""
        return self._resettime_utc

    def process(self, event: object) -> tuple[HouseholdEvent, ...]:
        """Take any plug event; return the household events it completes (often none)."""
        kind = type(event)
        if kind is AveragePower:
            return self.process_average_power(event)  # type: ignore[arg-type]
        if kind is SummationEnergy:
            return self.process_summation(event)  # type: ignore[arg-type]
        return _NOTHING

    # -- power ------------------------------------------------------------------------

    def process_average_power(self, event: AveragePower) -> tuple[HouseholdEvent, ...]:
        """Take an ``average_power`` event; return the four (two without solar) power flows."""
        role = event.role
        if role == _HOUSE:
            buffer = self._house_power
        elif role == _SOLAR:
            buffer = self._solar_power
            self._with_solar = True
        else:
            return _NOTHING
        start = int(event.starttime_utc)
        last = self._last_power_utc
        if last is not None and start <= last:
            self.stats.stale_power += 1
            return _NOTHING
        _keep(buffer, start, event, POWER_BUFFER)

        house = self._house_power.get(start)
        if house is None:
            return _NOTHING
        if self._with_solar:
            solar = self._solar_power.get(start)
            if solar is None or round(float(solar.duration_s)) != round(float(house.duration_s)):
                return _NOTHING
            solar_watts = solar.watts
        else:
            solar_watts = 0
        _evict_up_to(self._house_power, start)
        _evict_up_to(self._solar_power, start)
        self._last_power_utc = start

        house_watts = house.watts
        from_grid = HouseholdPower(FROM_GRID, start, house_watts if house_watts > 0 else 0)
        home_usage = HouseholdPower(HOME_USAGE, start, max(house_watts - solar_watts, 0))
        if not self._with_solar:
            return (from_grid, home_usage)
        return (
            from_grid,
            home_usage,
            HouseholdPower(SOLAR_GENERATION, start, max(-solar_watts, 0)),
            HouseholdPower(TO_GRID, start, -house_watts if house_watts < 0 else 0),
        )

    # -- energy -----------------------------------------------------------------------

    def process_summation(self, event: SummationEnergy) -> tuple[HouseholdEvent, ...]:
        """Take a ``summation_energy`` event; return the energy counters it advanced."""
        role = event.role
        if role == _HOUSE:
            buffer = self._house_summations
        elif role == _SOLAR:
            buffer = self._solar_summations
            self._with_solar = True
        else:
            return _NOTHING
        start = int(event.starttime_utc)
        last = self._last_summation_utc
        if last is not None and start <= last:
            self.stats.stale_summations += 1
            return _NOTHING
        _keep(buffer, start, event, SUMMATION_BUFFER)

        matched = self._matched_summations(start)
        if matched is None:
            return _NOTHING
        deltas = self._deltas(*matched, start)
        if deltas is None:
            return _NOTHING
        house_delta, solar_delta = deltas
        self._solar_generation += max(-solar_delta, 0)
        if house_delta < 0:
            self._to_grid += -house_delta
        else:
            self._from_grid += house_delta
        self._home_usage += max(house_delta - solar_delta, 0)

        reset = self._resettime_utc
        from_grid = HouseholdEnergy(FROM_GRID, start, reset, self._from_grid)
        home_usage = HouseholdEnergy(HOME_USAGE, start, reset, self._home_usage)
        if not self._with_solar:
            return (from_grid, home_usage)
        return (
            from_grid,
            home_usage,
            HouseholdEnergy(SOLAR_GENERATION, start, reset, self._solar_generation),
            HouseholdEnergy(TO_GRID, start, reset, self._to_grid),
        )

    def _matched_summations(
        self, start: int
    ) -> tuple[SummationEnergy, SummationEnergy | None] | None:
        """The house-net (and, with solar, solar) counters of sample ``start``, once both came."""
        house = self._house_summations.get(start)
        if house is None:
            return None
        solar: SummationEnergy | None = None
        if self._with_solar:
            solar = self._solar_summations.get(start)
            if solar is None:
                return None
        _evict_up_to(self._house_summations, start)
        _evict_up_to(self._solar_summations, start)
        self._last_summation_utc = start
        return house, solar

    def _deltas(
        self, house: SummationEnergy, solar: SummationEnergy | None, start: int
    ) -> tuple[float, float] | None:
        """Return the counters' changes since the last sample and move the baselines on.

        ``None`` for the first sample, after a sensor's counter reset, or at solar's first
        sample: then no delta can be trusted, and BOTH baselines are re-primed here so that
        the next deltas span the same interval.
        """
        house_base = self._house_base
        solar_base = self._solar_base
        if house_base is None or house_base.resettime_utc != house.summation_resettime_utc:
            house_base = None
        if solar is not None and (
            solar_base is None or solar_base.resettime_utc != solar.summation_resettime_utc
        ):
            solar_base = None
        if house_base is None or (solar is not None and solar_base is None):
            self._house_base = _Baseline(house.summation_resettime_utc, house.summation_joules)
            if solar is not None:
                self._solar_base = _Baseline(solar.summation_resettime_utc, solar.summation_joules)
            self._clear_counters(start)
            return None
        house_delta = house.summation_joules - house_base.summation_joules
        house_base.summation_joules = house.summation_joules
        solar_delta: float = 0
        if solar is not None and solar_base is not None:
            solar_delta = solar.summation_joules - solar_base.summation_joules
            solar_base.summation_joules = solar.summation_joules
        return house_delta, solar_delta

    def _clear_counters(self, resettime_utc: int) -> None:
        self._resettime_utc = resettime_utc
        self._from_grid = self._home_usage = self._solar_generation = self._to_grid = 0.0

    # -- persistence ------------------------------------------------------------------

    def export_state(self) -> dict[str, Any]:
        """Return everything needed to carry on after a restart, as JSON-ready data."""
        return {
            "version": STATE_VERSION,
            "with_solar": self._with_solar,
            "counters": {
                "resettime_utc": self._resettime_utc,
                "from_grid": self._from_grid,
                "home_usage": self._home_usage,
                "solar_generation": self._solar_generation,
                "to_grid": self._to_grid,
            },
            "baselines": {
                _HOUSE: _export_baseline(self._house_base),
                _SOLAR: _export_baseline(self._solar_base),
            },
            "last_power_utc": self._last_power_utc,
            "last_summation_utc": self._last_summation_utc,
        }

    @classmethod
    def from_state(cls, state: Any) -> Self:
        """Rebuild a household from :meth:`export_state`'s data; ``ValueError`` if invalid."""
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise ValueError("not a household state of a known version")
        with_solar = state.get("with_solar")
        counters = state.get("counters")
        baselines = state.get("baselines")
        if type(with_solar) is not bool:
            raise ValueError("with_solar must be a boolean")
        if not isinstance(counters, dict) or not isinstance(baselines, dict):
            raise ValueError("counters and baselines must be objects")  # noqa: TRY004
        household = cls(with_solar)
        household._resettime_utc = int(_number(counters, "resettime_utc"))
        household._from_grid = _counter(counters, "from_grid")
        household._home_usage = _counter(counters, "home_usage")
        household._solar_generation = _counter(counters, "solar_generation")
        household._to_grid = _counter(counters, "to_grid")
        household._house_base = _import_baseline(baselines.get(_HOUSE))
        household._solar_base = _import_baseline(baselines.get(_SOLAR))
        household._last_power_utc = _optional_time(state, "last_power_utc")
        household._last_summation_utc = _optional_time(state, "last_summation_utc")
        return household


def _keep[T](buffer: dict[int, T], start: int, event: T, limit: int) -> None:
    """Buffer an unmatched reading; the oldest one goes when the buffer is full."""
    buffer[start] = event
    if len(buffer) > limit:
        del buffer[next(iter(buffer))]


def _evict_up_to(buffer: dict[int, Any], start: int) -> None:
    """Drop readings up to the sample just used: they can never match again."""
    if buffer:
        for key in [key for key in buffer if key <= start]:
            del buffer[key]


def _export_baseline(baseline: _Baseline | None) -> dict[str, float] | None:
    if baseline is None:
        return None
    return {
        "resettime_utc": baseline.resettime_utc,
        "summation_joules": baseline.summation_joules,
    }


def _import_baseline(data: Any) -> _Baseline | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ValueError("a baseline must be an object or null")  # noqa: TRY004
    return _Baseline(_number(data, "resettime_utc"), _number(data, "summation_joules"))


def _number(data: dict[str, Any], key: str) -> float:
    value = data.get(key)
    if type(value) not in (int, float):
        raise ValueError(f"{key} must be a number, got {value!r}")
    return cast("float", value)


def _counter(data: dict[str, Any], key: str) -> float:
    value = float(_number(data, key))
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"{key} must be >= 0, got {value!r}")
    return value


def _optional_time(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    return int(_number(data, key))
