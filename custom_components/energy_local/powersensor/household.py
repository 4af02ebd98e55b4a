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

* A reset of only one sensor's counter (the other's baseline still valid) re-primes only the
  sensor that reset and credits the flows the other one determines on its own (grid import
  and export from the mains sensor, generation from the solar one); the counters go on. The
  other library, and this one before, dropped that interval, a whole gap when a plug reboot
  overlapped the reset.
* A new summation start with a counter that carried on (within the physical bound) is no
  reset: a corrupt ``summation_start`` costs nothing instead of two resets and two samples.
* Every delta is bounded by :data:`~.totals.MAINS_MAX_WATTS` x the time since its baseline.
  One beyond it is refused (counted in :attr:`HouseholdStats.bounded`) and the baseline
  stays, so the next good reading counts from it; a second in a row becomes the baseline.
* Readings with a non-finite number, a start time before 2010 or more than the clock skew
  ahead of the host's clock are ignored (counted), so they can never freeze the household;
  :meth:`Household.from_state` rejects such a stored state.

Everything else is kept: a reset of every sensor (or the first sample ever, or solar's first
sample) clears the four counters and emits nothing for that sample; the counters' reset time
is that sample's start.
"""

import math
import time
from collections.abc import Callable
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
from .totals import ENERGY_ROUNDING, MAINS_MAX_WATTS, MAX_CLOCK_SKEW_S
from .translate import EARLIEST_TIME

POWER_BUFFER: Final = 31
"""Unmatched power readings kept per role: about 15 min at one per 30 s."""

SUMMATION_BUFFER: Final = 5
"""Unmatched summation readings kept per role."""

STATE_VERSION: Final = 1

_NOTHING: Final[tuple[HouseholdEvent, ...]] = ()


class _Reset:
    """Marker: a sensor's counter reset, so it has no delta this sample."""


_RESET: Final = _Reset()

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
    """A sensor's counter at the last sample used, the reset time it belongs to, and when.

    ``time_utc`` is ``None`` after restoring a state that did not store it: then the first
    delta is not time-bounded. ``suspect``: the last reading was refused as impossible.
    """

    resettime_utc: float
    summation_joules: float
    time_utc: float | None = None
    suspect: bool = False


@dataclass(slots=True)
class HouseholdStats:
    """What the household view dropped."""

    stale_power: int = 0
    stale_summations: int = 0
    insane: int = 0
    """Readings with a non-finite number or a start time outside the sane window."""
    bounded: int = 0
    """Summation deltas beyond what the mains can carry in the time: not credited."""
    one_sided_resets: int = 0
    """Samples where only one sensor's counter reset: the other's flows were credited."""
    continued_starts: int = 0
    """A new summation start with a counter that carried on: taken as no reset."""


class Household:
    """Turns house-net and solar ``average_power``/``summation_energy`` events into flows.

    Feed every event to :meth:`process` (others are ignored); it returns the household events
    the event completed, as a tuple (usually empty). Only roles ``house-net`` and ``solar``
    count: give a sensor whose role is missing or ``unknown`` its persisted role
    (``dataclasses.replace``) before feeding it.
    """

    def __init__(self, with_solar: bool = False, *, clock: Callable[[], float] = time.time) -> None:
        """Start with zero counters.

        ``with_solar``: the kit is known to have a solar sensor (persist :attr:`with_solar`).
        Without it home usage equals the grid import until the first solar reading arrives;
        with it, nothing is emitted while the solar sensor is silent (a flat battery), which
        beats emitting wrong values. ``clock`` gives the host's time (s since the epoch):
        a reading more than :data:`~.totals.MAX_CLOCK_SKEW_S` ahead of it is ignored.
        """
        self._clock = clock
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

    def _insane(self, start: float, *numbers: float) -> bool:
        """Count and say so if a start time is outside the sane window or a number not finite.

        Translation checks too; this keeps the state clean whatever feeds it.
        """
        if EARLIEST_TIME <= start <= self._clock() + MAX_CLOCK_SKEW_S:
            for number in numbers:
                if not -math.inf < number < math.inf:
                    break
            else:
                return False
        self.stats.insane += 1
        return True

    # -- power ------------------------------------------------------------------------

    def process_average_power(  # noqa: PLR0911 - one return per reason to emit nothing
        self, event: AveragePower
    ) -> tuple[HouseholdEvent, ...]:
        """Take an ``average_power`` event; return the four (two without solar) power flows."""
        role = event.role
        if role == _HOUSE:
            buffer = self._house_power
        elif role == _SOLAR:
            buffer = self._solar_power
            self._with_solar = True
        else:
            return _NOTHING
        if self._insane(event.starttime_utc, event.watts, event.duration_s):
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

    def process_summation(  # noqa: PLR0911, PLR0912 - one return per reason to emit nothing
        self, event: SummationEnergy
    ) -> tuple[HouseholdEvent, ...]:
        """Take a ``summation_energy`` event; return the energy counters it advanced."""
        role = event.role
        if role == _HOUSE:
            buffer = self._house_summations
        elif role == _SOLAR:
            buffer = self._solar_summations
            self._with_solar = True
        else:
            return _NOTHING
        if self._insane(event.starttime_utc, event.summation_joules, event.summation_resettime_utc):
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
        # Each flow is credited only from the deltas it needs (None: not known this sample).
        if solar_delta is not None:
            self._solar_generation += max(-solar_delta, 0)
        if house_delta is not None:
            if house_delta < 0:
                self._to_grid += -house_delta
            else:
                self._from_grid += house_delta
            if solar_delta is not None:
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
    ) -> tuple[float | None, float | None] | None:
        """Return the counters' changes since their baselines and move the baselines on.

        ``None`` for the first sample, at solar's first sample, or when every sensor's counter
        reset: then no delta can be trusted, BOTH baselines are re-primed here (so the next
        deltas span the same interval) and the counters start again. Otherwise a sensor whose
        counter alone reset, or whose delta is impossible, gives ``None`` for its delta.
        Without solar the solar delta is 0.
        """
        house_base = self._house_base
        solar_base = self._solar_base
        if house_base is None or (solar is not None and solar_base is None):
            self._prime(house, solar, start)
            return None
        house_delta = self._delta(house_base, house, start)
        solar_delta: float | _Reset | None = 0
        if solar is not None and solar_base is not None:
            solar_delta = self._delta(solar_base, solar, start)
        if house_delta is _RESET and (solar is None or solar_delta is _RESET):
            self._prime(house, solar, start)
            return None
        if house_delta is None or solar_delta is None:
            # An impossible delta: nothing is credited and neither baseline moves, so the
            # next deltas of both sensors span the same interval again.
            return None, None
        house_credit = self._move(house_base, house, start, house_delta)
        solar_credit: float | None = 0
        if solar is not None and solar_base is not None:
            solar_credit = self._move(solar_base, solar, start, solar_delta)
        if house_credit is None or solar_credit is None:
            self.stats.one_sided_resets += 1
        return house_credit, solar_credit

    def _delta(
        self, base: _Baseline, reading: SummationEnergy, start: int
    ) -> float | _Reset | None:
        """One sensor's delta since its baseline; ``_RESET``: it reset; ``None``: impossible.

        Moves nothing, except that a refusal marks the baseline suspect and a second refusal
        in a row re-bases it (the counter really moved).
        """
        counter = reading.summation_joules
        delta = counter - base.summation_joules
        limit = (
            math.inf
            if base.time_utc is None
            else MAINS_MAX_WATTS * max(start - base.time_utc, 0) + ENERGY_ROUNDING
        )
        reset = reading.summation_resettime_utc
        if reset != base.resettime_utc:
            # A real reset moves the start forward into the time since the baseline; any other
            # new start with a counter that carried on is re-stamped or corrupt: keep ours.
            since_base = base.time_utc is None or (
                reset > base.resettime_utc and reset >= base.time_utc - 1
            )
            if since_base or abs(delta) > limit:
                return _RESET
            self.stats.continued_starts += 1
        if abs(delta) > limit:
            self.stats.bounded += 1
            if base.suspect:  # twice in a row: the counter really moved
                _rebase(base, reading, start)
            else:
                base.suspect = True
            return None
        return delta

    @staticmethod
    def _move(
        base: _Baseline, reading: SummationEnergy, start: int, delta: float | _Reset
    ) -> float | None:
        """Move a baseline to this sample; return the delta to credit (``None``: it reset)."""
        if isinstance(delta, _Reset):
            _rebase(base, reading, start)
            return None
        base.summation_joules = reading.summation_joules
        base.time_utc = start
        base.suspect = False
        return delta

    def _prime(self, house: SummationEnergy, solar: SummationEnergy | None, start: int) -> None:
        self._house_base = _Baseline(house.summation_resettime_utc, house.summation_joules, start)
        if solar is not None:
            self._solar_base = _Baseline(
                solar.summation_resettime_utc, solar.summation_joules, start
            )
        self._clear_counters(start)

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
    def from_state(cls, state: Any, *, clock: Callable[[], float] = time.time) -> Self:
        """Rebuild a household from :meth:`export_state`'s data.

        Raises ``ValueError`` (with what is wrong) for anything invalid: a wrong shape, a
        non-finite or negative counter, a time ahead of ``clock()`` by more than the skew. The
        caller logs it and starts afresh.
        """
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise ValueError("not a household state of a known version")
        with_solar = state.get("with_solar")
        counters = state.get("counters")
        baselines = state.get("baselines")
        if type(with_solar) is not bool:
            raise ValueError("with_solar must be a boolean")
        if not isinstance(counters, dict) or not isinstance(baselines, dict):
            raise ValueError("counters and baselines must be objects")  # noqa: TRY004
        household = cls(with_solar, clock=clock)
        latest = clock() + MAX_CLOCK_SKEW_S
        household._resettime_utc = int(_number(counters, "resettime_utc"))
        if household._resettime_utc > latest:
            raise ValueError("resettime_utc must not be in the future")
        household._from_grid = _counter(counters, "from_grid")
        household._home_usage = _counter(counters, "home_usage")
        household._solar_generation = _counter(counters, "solar_generation")
        household._to_grid = _counter(counters, "to_grid")
        household._house_base = _import_baseline(baselines.get(_HOUSE), latest)
        household._solar_base = _import_baseline(baselines.get(_SOLAR), latest)
        household._last_power_utc = _optional_time(state, "last_power_utc", latest)
        household._last_summation_utc = _optional_time(state, "last_summation_utc", latest)
        return household


def _rebase(base: _Baseline, reading: SummationEnergy, start: int) -> None:
    base.resettime_utc = reading.summation_resettime_utc
    base.summation_joules = reading.summation_joules
    base.time_utc = start
    base.suspect = False


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


def _export_baseline(baseline: _Baseline | None) -> dict[str, Any] | None:
    if baseline is None:
        return None
    return {
        "resettime_utc": baseline.resettime_utc,
        "summation_joules": baseline.summation_joules,
        "time_utc": baseline.time_utc,
        "suspect": baseline.suspect,
    }


def _import_baseline(data: Any, latest: float) -> _Baseline | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ValueError("a baseline must be an object or null")  # noqa: TRY004
    return _Baseline(
        _number(data, "resettime_utc"),
        _number(data, "summation_joules"),
        _time(data, "time_utc", latest),
        data.get("suspect") is True,
    )


def _number(data: dict[str, Any], key: str) -> float:
    value = data.get(key)
    if type(value) not in (int, float) or not math.isfinite(cast("float", value)):
        raise ValueError(f"{key} must be a finite number, got {value!r}")
    return cast("float", value)


def _time(data: dict[str, Any], key: str, latest: float) -> float | None:
    """An optional stored time; one ahead of the host's clock would make every reading stale."""
    if data.get(key) is None:
        return None
    value = _number(data, key)
    if value > latest:
        raise ValueError(f"{key} must not be in the future, got {value!r}")
    return value


def _counter(data: dict[str, Any], key: str) -> float:
    value = float(_number(data, key))
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"{key} must be >= 0, got {value!r}")
    return value


def _optional_time(data: dict[str, Any], key: str, latest: float) -> int | None:
    value = _time(data, key, latest)
    return None if value is None else int(value)
