"""The plausibility gate: which EKM energy/pulse totals may be published from a reading.

A CRC escape (about 1 in 16,000 corrupted frames passes the 14-bit CRC) can carry any digit of
any total. One ``TotalsGate`` per meter sits between the parser and everything that publishes a
total, and lets a value through only when something independent vouches for it:

- the frame's own relations (kWh_Tot = Σ kWh_Ln, Rev_kWh_Tot = Σ Rev_kWh_Ln, and the same
  totals = Σ tariffs), within the registers' truncation; a group that disagrees is held;
- by default every increase waits for the next read (at most one poll late): it is published
  once a later read is >= it and within what the meter could have counted since. Increases
  beyond the physical rate bound are reported as held and, once confirmed, as confirmed;
- a read below the published value is held; several consecutive lower reads that agree with
  each other are a real reset or meter replacement and become the new baseline.

Time is the caller's monotonic clock (``now``); the gate never reads a clock itself.
"""

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, cast

from .models import MeterReading, MeterValues, MeterVersion
from .parse import kwh_divisor

_LINES = (1, 2, 3)
_TARIFFS = (1, 2, 3, 4)

KWH_TOTAL_FIELDS: tuple[str, ...] = (
    "kWh_Tot",
    "Rev_kWh_Tot",
    "Reactive_Energy_Tot",
    *(f"kWh_Tariff_{n}" for n in _TARIFFS),
    *(f"Rev_kWh_Tariff_{n}" for n in _TARIFFS),
    *(f"kWh_Ln_{n}" for n in _LINES),
    *(f"Rev_kWh_Ln_{n}" for n in _LINES),
    "kWh_Rst",
    "Rev_kWh_Rst",
)
"""Energy registers (kWh, kvarh) the gate guards."""
PULSE_TOTAL_FIELDS: tuple[str, ...] = tuple(f"Pulse_Cnt_{n}" for n in _LINES)
"""Pulse counters the gate guards."""
TOTAL_FIELDS: tuple[str, ...] = KWH_TOTAL_FIELDS + PULSE_TOTAL_FIELDS
RESETTABLE_FIELDS: tuple[str, str] = ("kWh_Rst", "Rev_kWh_Rst")
FORWARD_PAIRS: tuple[tuple[str, str], ...] = (
    ("kWh_Tot", "Rev_kWh_Tot"),
    *((f"kWh_Ln_{n}", f"Rev_kWh_Ln_{n}") for n in _LINES),
    *((f"kWh_Tariff_{n}", f"Rev_kWh_Tariff_{n}") for n in _TARIFFS),
    RESETTABLE_FIELDS,
)
"""(both directions, reverse) registers whose difference is published as import: the pair must
be published from the same read, or import would count export the reverse register missed."""

# Registers have 8 digits and roll over when they fill; relations hold modulo that.
_REGISTER_STEPS = 10**8

SAFE_MAX_VOLTS = 600.0
"""Highest line voltage an Omnimeter installation can have (480 V class plus margin)."""
CT_MARGIN = 1.5
"""CTs can be overdriven; the ceiling allows this much above the CT's rated amps."""
DEFAULT_MAX_KW = 5000 * 3 * SAFE_MAX_VOLTS * CT_MARGIN / 1000
"""Ceiling when the CT ratio is unknown: the largest CT EKM supports (5000 A) on 3 lines."""
DEFAULT_MAX_PULSE_HZ = 100.0
"""Pulse inputs are dry contacts; nothing real counts faster than this."""


class GateEventKind(StrEnum):
    """What the gate did with one field of one reading."""

    ACCEPTED = "accepted"  # an increase within the rate bound, now published
    HELD = "held"  # beyond the rate bound, or below the published value: not published
    CONFIRMED = "confirmed"  # a held increase that a later read confirmed: now published
    REFUSED = "refused"  # a pending value that the next read contradicted: dropped
    RESET = "reset"  # consistent lower reads (or an announced reset): a new baseline
    INCONSISTENT = "inconsistent"  # the frame's relations disagree: held


@dataclass(frozen=True, slots=True)
class GateEvent:
    """One thing the gate did: ``read`` is the meter's value, ``published`` what is published."""

    field: str
    kind: GateEventKind
    read: float
    published: float | None


@dataclass(slots=True)
class GateCounters:
    """How often each event kind happened since the gate was created (or restored)."""

    accepted: int = 0
    held: int = 0
    confirmed: int = 0
    refused: int = 0
    reset: int = 0
    inconsistent: int = 0

    def count(self, kind: GateEventKind) -> None:
        """Count one event."""
        setattr(self, kind.value, getattr(self, kind.value) + 1)

    def as_dict(self) -> dict[str, int]:
        """Counters as a plain dict (diagnostics)."""
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class GatedFrame:
    """A reading the gate held, refused or reset on, kept for diagnostics."""

    at: float
    events: tuple[GateEvent, ...]
    totals: dict[str, float]
    frames: tuple[str, ...]  # hex


@dataclass(frozen=True, slots=True)
class GateLimits:
    """Tunables; the defaults suit every Omnimeter."""

    max_kw: float | None = None
    """Power ceiling; None derives it from the meter's CT ratio (or :data:`DEFAULT_MAX_KW`)."""
    max_pulse_hz: float = DEFAULT_MAX_PULSE_HZ
    reset_polls: int = 3
    """Consecutive agreeing lower reads that make a reset."""
    dip_steps: int = 4
    """Dips of at most this many resolution steps are held without an event (still a reset
    when they persist and agree, like any lower reads)."""
    confirm_every_increase: bool = True
    """Publish any increase only once the next read confirms it (else: within-bound at once)."""
    distrust_after: int = 5
    """Consecutive inconsistent readings after which a relation is not used for this meter."""
    recent_frames: int = 10


@dataclass(frozen=True, slots=True)
class GateResult:
    """The gate's verdict on one reading."""

    values: dict[str, float]
    """Published value of every guarded field the gate has a baseline for."""
    events: tuple[GateEvent, ...]

    def apply(self, reading: MeterReading) -> MeterReading:
        """``reading`` with every guarded total replaced by its published value.

        Guarded fields without a published value yet (the first read after start) are removed.
        """
        values: dict[str, Any] = {k: v for k, v in reading.values.items() if k not in TOTAL_FIELDS}
        for name, value in self.values.items():
            if name in reading.values:
                values[name] = int(value) if name in PULSE_TOTAL_FIELDS else value
        return replace(reading, values=cast("MeterValues", values))


@dataclass(slots=True)
class _Track:
    """One field's state."""

    published: float | None = None
    published_at: float | None = None  # None: unknown (restored), no rate bound applies
    candidate: float | None = None
    candidate_at: float = 0.0
    candidate_beyond: bool = False
    lows: list[tuple[float, float]] = field(default_factory=list)
    reset_expected: bool = False


@dataclass(frozen=True, slots=True)
class _Relation:
    name: str
    total: str
    parts: tuple[str, ...]


_RELATIONS = (
    _Relation("lines", "kWh_Tot", tuple(f"kWh_Ln_{n}" for n in _LINES)),
    _Relation("rev_lines", "Rev_kWh_Tot", tuple(f"Rev_kWh_Ln_{n}" for n in _LINES)),
    _Relation("tariffs", "kWh_Tot", tuple(f"kWh_Tariff_{n}" for n in _TARIFFS)),
    _Relation("rev_tariffs", "Rev_kWh_Tot", tuple(f"Rev_kWh_Tariff_{n}" for n in _TARIFFS)),
)


def _resolution(reading: MeterReading) -> float:
    if reading.version is MeterVersion.V3:
        return 0.1
    scale = reading.values.get("kWh_Scale")
    return 1 / kwh_divisor(scale) if isinstance(scale, int) else 0.1


class TotalsGate:
    """Plausibility gate for one meter's totals; call :meth:`check` once per reading."""

    def __init__(self, limits: GateLimits | None = None) -> None:
        """A gate with no baseline: each field's first value waits for one confirming read."""
        self.limits = limits or GateLimits()
        self.counters = GateCounters()
        self.recent: deque[GatedFrame] = deque(maxlen=self.limits.recent_frames)
        self.ct_ratio: int | None = None
        self.distrusted: set[str] = set()
        """Relations this meter's data did not satisfy, no longer used."""
        self._tracks: dict[str, _Track] = {}
        self._inconsistent_runs: dict[str, int] = {}

    # --- public API ------------------------------------------------------------------------

    @property
    def published(self) -> dict[str, float]:
        """The published value of every field with a baseline."""
        return {n: t.published for n, t in self._tracks.items() if t.published is not None}

    def expect_reset(self, *fields: str) -> None:
        """We reset these registers ourselves: their next lower value is a reset at once.

        Default: kWh_Rst and Rev_kWh_Rst (after ``zero_resettable``).
        """
        for name in fields or RESETTABLE_FIELDS:
            if name not in TOTAL_FIELDS:
                raise ValueError(f"not a guarded total: {name}")
            self._tracks.setdefault(name, _Track()).reset_expected = True

    def check(self, reading: MeterReading, now: float) -> GateResult:
        """Gate one reading taken at monotonic time ``now`` (seconds)."""
        values = cast("Mapping[str, object]", reading.values)
        ct = values.get("CT_Ratio")
        if isinstance(ct, int) and ct > 0:
            self.ct_ratio = ct
        resolution = _resolution(reading)
        totals = {
            name: float(value)
            for name in TOTAL_FIELDS
            if isinstance(value := values.get(name), int | float)
        }
        events: list[GateEvent] = []
        held = self._inconsistent_fields(totals, resolution, reading)
        before = {
            name: (t.published, t.candidate, t.candidate_at) for name, t in self._tracks.items()
        }
        for name, read in totals.items():
            track = self._tracks.setdefault(name, _Track())
            if name in held:
                events.append(GateEvent(name, GateEventKind.INCONSISTENT, read, track.published))
                continue
            step = 1.0 if name in PULSE_TOTAL_FIELDS else resolution
            self._step(name, track, read, now=now, step=step, events=events)
        self._keep_pairs_in_step(before, events)
        for event in events:
            self.counters.count(event.kind)
        if any(e.kind is not GateEventKind.ACCEPTED for e in events):
            self.recent.append(
                GatedFrame(now, tuple(events), totals, tuple(f.hex() for f in reading.frames))
            )
        return GateResult(self.published, tuple(events))

    def _keep_pairs_in_step(
        self,
        before: Mapping[str, tuple[float | None, float | None, float]],
        events: list[GateEvent],
    ) -> None:
        """Hold a both-directions register back while its reverse register lags a read.

        A reverse register whose pending value this read did not confirm (refused, held,
        inconsistent) is published from an older read than its partner would be: the
        partner's increase waits, pending, until both can be published from the same read.
        """
        for forward, reverse in FORWARD_PAIRS:
            fwd, rev = self._tracks.get(forward), self._tracks.get(reverse)
            if fwd is None or rev is None or forward not in before or reverse not in before:
                continue
            published_before, _, _ = before[forward]
            rev_published, rev_candidate, _ = before[reverse]
            rev_lags = rev_candidate is not None and rev.published == rev_published
            if not rev_lags or published_before is None or fwd.published is None:
                continue
            if fwd.published <= published_before or fwd.reset_expected:
                continue
            confirmed = fwd.published
            _, _, confirmed_at = before[forward]
            fwd.published, fwd.candidate = published_before, confirmed
            fwd.candidate_at, fwd.candidate_beyond = confirmed_at, False
            events[:] = [e for e in events if e.field != forward]
            events.append(GateEvent(forward, GateEventKind.HELD, confirmed, published_before))

    # --- frame-internal consistency --------------------------------------------------------

    def _inconsistent_fields(
        self, totals: Mapping[str, float], resolution: float, reading: MeterReading
    ) -> set[str]:
        held: set[str] = set()
        # Block A and B are two frames: the total may tick once between them.
        between_frames = 1 if len(reading.frames) > 1 else 0
        for rel in _RELATIONS:
            if rel.name in self.distrusted or rel.total not in totals:
                continue
            if not all(p in totals for p in rel.parts):
                continue
            total = round(totals[rel.total] / resolution)
            parts = sum(round(totals[p] / resolution) for p in rel.parts)
            diff = (total - parts) % _REGISTER_STEPS
            tolerance = len(rel.parts) + (between_frames if "tariffs" in rel.name else 0)
            if min(diff, _REGISTER_STEPS - diff) <= tolerance:
                self._inconsistent_runs[rel.name] = 0
                continue
            runs = self._inconsistent_runs.get(rel.name, 0) + 1
            self._inconsistent_runs[rel.name] = runs
            if runs >= self.limits.distrust_after:
                # Never freeze a total on a relation this meter does not keep.
                self.distrusted.add(rel.name)
                continue
            held.add(rel.total)
            held.update(rel.parts)
        return held

    # --- the per-field state machine -------------------------------------------------------

    def _bound(self, name: str, elapsed: float | None, step: float) -> float:
        """Most a field can grow in ``elapsed`` seconds (plus one step of truncation)."""
        if elapsed is None:
            return math.inf
        elapsed = max(elapsed, 0.0)
        if name in PULSE_TOTAL_FIELDS:
            return self.limits.max_pulse_hz * elapsed + step
        max_kw = self.limits.max_kw
        if max_kw is None:
            max_kw = (
                self.ct_ratio * 3 * SAFE_MAX_VOLTS * CT_MARGIN / 1000
                if self.ct_ratio
                else DEFAULT_MAX_KW
            )
        return max_kw * elapsed / 3600 + step

    def _step(
        self,
        name: str,
        t: _Track,
        read: float,
        *,
        now: float,
        step: float,
        events: list[GateEvent],
    ) -> None:
        eps = step / 1000

        def emit(kind: GateEventKind, value: float) -> None:
            events.append(GateEvent(name, kind, value, t.published))

        # A pending value is confirmed by a read >= it and within the bound from it.
        if t.candidate is not None:
            cand = t.candidate
            bound = self._bound(name, now - t.candidate_at, step)
            if cand - eps <= read <= cand + bound + eps:
                was_beyond, t.candidate = t.candidate_beyond, None
                t.published, t.published_at, t.lows = cand, t.candidate_at, []
                emit(GateEventKind.CONFIRMED if was_beyond else GateEventKind.ACCEPTED, cand)
            else:
                t.candidate = None
                emit(GateEventKind.REFUSED, cand)

        if t.published is None:
            self._propose(t, read, now, beyond=False)
            return
        published = t.published
        if read < published - eps:
            self._lower(name, t, read, now=now, step=step, emit=emit)
            return
        t.lows = []
        if read <= published + eps:
            t.published_at = now  # an unchanged read renews the bound's starting point
            t.reset_expected = False
            return
        elapsed = None if t.published_at is None else now - t.published_at
        beyond = read - published > self._bound(name, elapsed, step) + eps
        if beyond:
            self._propose(t, read, now, beyond=True)
            emit(GateEventKind.HELD, read)
        elif self.limits.confirm_every_increase or elapsed is None:
            # Without a time for the baseline (restored), nothing bounds the increase.
            self._propose(t, read, now, beyond=False)
        else:
            t.published, t.published_at = read, now
            emit(GateEventKind.ACCEPTED, read)

    @staticmethod
    def _propose(t: _Track, read: float, now: float, *, beyond: bool) -> None:
        t.candidate, t.candidate_at, t.candidate_beyond = read, now, beyond

    def _lower(
        self, name: str, t: _Track, read: float, *, now: float, step: float, emit: Any
    ) -> None:
        published = cast("float", t.published)
        if t.reset_expected:
            t.reset_expected, t.lows = False, []
            t.published, t.published_at = read, now
            emit(GateEventKind.RESET, read)
            return
        t.lows.append((read, now))
        del t.lows[: -self.limits.reset_polls]
        agreeing = all(
            a <= b + step / 1000 and b - a <= self._bound(name, tb - ta, step) + step / 1000
            for (a, ta), (b, tb) in zip(t.lows, t.lows[1:], strict=False)
        )
        if len(t.lows) >= self.limits.reset_polls and agreeing:
            t.lows = []
            t.published, t.published_at = read, now
            emit(GateEventKind.RESET, read)
            return
        # A dip of a step or two is rounding or a tiny glitch: held, but not worth an event.
        if published - read > self.limits.dip_steps * step + step / 1000:
            emit(GateEventKind.HELD, read)

    # --- persistence -----------------------------------------------------------------------

    def export(self) -> dict[str, Any]:
        """JSON-safe state: the published baselines (monotonic times do not survive)."""
        return {
            "version": 1,
            "ct_ratio": self.ct_ratio,
            "published": self.published,
            "reset_expected": sorted(n for n, t in self._tracks.items() if t.reset_expected),
            "distrusted": sorted(self.distrusted),
        }

    @classmethod
    def restore(cls, data: object, limits: GateLimits | None = None) -> TotalsGate:
        """A gate from :meth:`export` data; anything malformed gives a fresh gate.

        Restored baselines have no time: the first increase after a restart is not rate
        bounded, but (by default) still waits for a confirming read.
        """
        gate = cls(limits)
        try:
            return gate._load(data)
        except TypeError, ValueError, KeyError:
            return cls(limits)

    def _load(self, data: object) -> TotalsGate:
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError("not a gate export")
        ct = data.get("ct_ratio")
        if ct is not None and (type(ct) is not int or ct <= 0):
            raise ValueError("bad ct_ratio")
        self.ct_ratio = ct
        published = data["published"]
        if not isinstance(published, dict):
            raise TypeError("published")
        for name, value in published.items():
            if name not in TOTAL_FIELDS or type(value) not in (int, float):
                raise ValueError(f"bad field {name!r}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"bad value for {name}")
            self._tracks[name] = _Track(published=float(value))
        for name in data.get("reset_expected", []):
            if name not in TOTAL_FIELDS:
                raise ValueError(f"bad field {name!r}")
            self._tracks.setdefault(name, _Track()).reset_expected = True
        relations = {rel.name for rel in _RELATIONS}
        for name in data.get("distrusted", []):
            if name not in relations:
                raise ValueError(f"bad relation {name!r}")
            self.distrusted.add(name)
        return self
