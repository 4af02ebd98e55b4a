"""Property tests: random sensor histories with faults through translation, household and
the total guard (the path a published household total takes).

Histories: a load >= 0 and solar generation, 30 s windows; faults: gaps (a plug reboot),
single lost reports, resets of either or both counters, duplicates, late (reordered)
reports, and corrupt extra reports (far-future or zero start time, start before the
summation start, non-finite or 1.7e308 numbers). Checked: no published total decreases, no
increment beyond the physical bound, and the totals equal the energy computed from the
sensors' own summations over every interval where both baselines are valid (within 1 %).
"""

import itertools
import math
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.energy_local.powersensor import (
    Household,
    HouseholdEnergy,
    HouseholdFlow,
    translate_message,
)
from custom_components.energy_local.powersensor.totals import (
    MAINS_MAX_WATTS,
    MonotonicTotal,
    TotalOutcome,
)
from custom_components.energy_local.powersensor.translate import MessageError

T0 = 1_772_164_800
NOW = float(T0 + 10**6)
HOUSE, SOLAR = "house-net", "solar"
CORRUPTIONS = (
    "future",
    "future_all",
    "zero",
    "before_start",
    "inf",
    "nan",
    "huge",
    "huge_negative",
)


@dataclass(frozen=True)
class Window:
    load_w: int
    solar_w: int
    lost: frozenset[str]
    reset: frozenset[str]
    late: bool
    duplicate: bool
    corrupt: str | None


windows = st.builds(
    Window,
    load_w=st.integers(0, 8000),
    solar_w=st.integers(-5000, 0),
    lost=st.one_of(
        st.just(frozenset[str]()),
        st.just(frozenset[str]()),
        st.frozensets(st.sampled_from([HOUSE, SOLAR])),  # both: a gap (plug reboot)
    ),
    reset=st.one_of(
        st.just(frozenset[str]()),
        st.just(frozenset[str]()),
        st.just(frozenset[str]()),
        st.frozensets(st.sampled_from([HOUSE, SOLAR])),
    ),
    late=st.integers(0, 9).map(lambda n: n == 0),
    duplicate=st.integers(0, 9).map(lambda n: n == 0),
    corrupt=st.one_of(st.none(), st.none(), st.none(), st.sampled_from(CORRUPTIONS)),
)


def message(role: str, k: int, summation: int, start: int, watts: int) -> dict[str, Any]:
    return {
        "type": "instant_power",
        "device": "sensor",
        "mac": role,
        "role": role,
        "starttime": T0 + 30 * k,
        "duration": 30,
        "power": watts,
        "unit": "w",
        "summation": summation,
        "summation_start": start,
        "batteryMicrovolt": 3_900_000,
        "rssi": -80.0,
        "raw_rssi": -81,
    }


def corrupted(original: dict[str, Any], how: str) -> dict[str, Any]:
    bad = dict(original)
    if how in ("future", "future_all"):
        bad["starttime"] = 4_000_000_000
    elif how == "zero":
        bad["starttime"] = 0
    elif how == "before_start":
        bad["summation_start"] = bad["starttime"] + 100
    elif how == "inf":
        bad["summation"] = math.inf
    elif how == "nan":
        bad["power"] = math.nan
    elif how == "huge":
        bad["summation"] = 1.7e308
    else:
        bad["summation"] = -1.7e308
    return bad


@dataclass
class History:
    arrivals: list[dict[str, Any]]
    counters: dict[str, list[int]]
    resets: dict[str, list[int]]


def build(stream: list[Window]) -> History:
    """The raw messages in arrival order, and each sensor's true counter per window."""
    counters = {HOUSE: 183_000_000, SOLAR: -906_000_000}
    starts = {HOUSE: 1_769_972_064, SOLAR: 1_770_530_454}
    truth: dict[str, list[int]] = {HOUSE: [], SOLAR: []}
    reset_ids: dict[str, list[int]] = {HOUSE: [], SOLAR: []}
    ids = {HOUSE: 0, SOLAR: 0}
    arrivals: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    for k, window in enumerate(stream):
        start = T0 + 30 * k
        house_w = window.load_w + window.solar_w
        watts = {HOUSE: house_w, SOLAR: window.solar_w}
        now: list[dict[str, Any]] = []
        for role in (HOUSE, SOLAR):
            if role in window.reset and k > 0:
                counters[role] = 4096
                starts[role] = start - 5
                ids[role] += 1
            counters[role] += watts[role] * 30
            truth[role].append(counters[role])
            reset_ids[role].append(ids[role])
            if role not in window.lost:
                now.append(message(role, k, counters[role], starts[role], watts[role]))
        if window.corrupt == "future_all":  # a clock glitch stamps the whole window
            now[:0] = [corrupted(report, "future") for report in now]
        elif window.corrupt is not None and now:
            now.insert(0, corrupted(now[0], window.corrupt))
        if window.duplicate and now:
            now.append(dict(now[-1]))
        arrivals += now
        arrivals += held  # a late window arrives after the next one
        held = []
        if window.late and now:
            held, arrivals = now, arrivals[: len(arrivals) - len(now)]
    arrivals += held
    return History(arrivals, truth, reset_ids)


def used_windows(history: History) -> list[int]:
    """Windows whose two real reports both arrived in time (the household's matching)."""
    last = -1
    have: dict[int, set[str]] = {}
    used = []
    for raw in history.arrivals:
        start = raw["starttime"]
        k = (start - T0) // 30 if isinstance(start, int) and start >= T0 else None
        if k is None or k > 10**6 or not _real(raw, history, k):
            continue
        if k <= last:
            continue
        have.setdefault(k, set()).add(raw["role"])
        if have[k] == {HOUSE, SOLAR}:
            used.append(k)
            last = k
    return used


def _real(raw: dict[str, Any], history: History, k: int) -> bool:
    counters = history.counters[raw["role"]]
    return (
        k < len(counters)
        and raw["summation"] == counters[k]
        and raw["summation_start"] <= raw["starttime"]
        and raw["power"] == raw["power"]
    )


def expected(history: History) -> dict[HouseholdFlow, float]:
    """The flows from the sensors' own summations, over intervals with valid baselines."""
    out = dict.fromkeys(HouseholdFlow, 0.0)
    used = used_windows(history)
    house, solar = history.counters[HOUSE], history.counters[SOLAR]
    house_ids, solar_ids = history.resets[HOUSE], history.resets[SOLAR]
    for a, b in itertools.pairwise(used):
        house_ok = house_ids[a] == house_ids[b]
        solar_ok = solar_ids[a] == solar_ids[b]
        house_delta, solar_delta = house[b] - house[a], solar[b] - solar[a]
        if house_ok:
            out[HouseholdFlow.FROM_GRID] += max(house_delta, 0)
            out[HouseholdFlow.TO_GRID] += max(-house_delta, 0)
        if solar_ok:
            out[HouseholdFlow.SOLAR_GENERATION] += max(-solar_delta, 0)
        if house_ok and solar_ok:
            out[HouseholdFlow.HOME_USAGE] += max(house_delta - solar_delta, 0)
    return out


def published(history: History) -> tuple[dict[HouseholdFlow, MonotonicTotal], list[str]]:
    """Run the arrivals through translation, household and one guard per flow."""
    household = Household(with_solar=True, clock=lambda: NOW)
    guards = {flow: MonotonicTotal.for_mains() for flow in HouseholdFlow}
    problems = []
    for raw in history.arrivals:
        try:
            events = translate_message(raw, "246f280487a4", now=NOW)
        except MessageError:
            continue
        for event in events:
            for out in household.process(event):
                if not isinstance(out, HouseholdEnergy):
                    continue
                guard = guards[out.flow]
                before, since = guard.value, guard.base_time
                outcome = guard.update(
                    out.summation_joules, out.summation_resettime_utc, out.timestamp_utc, NOW
                )
                value = guard.value
                assert value is not None
                if before is not None and value < before:
                    problems.append(f"{out.flow} fell {before} -> {value}")
                if (
                    before is not None
                    and since is not None
                    and value - before > (MAINS_MAX_WATTS * (out.timestamp_utc - since) + 1)
                ):
                    problems.append(f"{out.flow} beyond the bound")
                if outcome is TotalOutcome.BOUNDED:
                    problems.append(f"{out.flow}: the household gave an impossible step")
    return guards, problems


@settings(max_examples=300, deadline=None)
@given(st.lists(windows, min_size=2, max_size=40))
def test_published_totals_follow_the_sensors_summations(stream: list[Window]) -> None:
    history = build(stream)
    guards, problems = published(history)
    assert problems == []
    truth = expected(history)
    for flow, guard in guards.items():
        value = guard.value or 0.0
        assert math.isfinite(value)
        assert abs(value - truth[flow]) <= 0.01 * truth[flow] + 1e-6, (flow, value, truth[flow])
