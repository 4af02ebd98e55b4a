"""Household view under faults (issue 12 points 2-5): each test shows what a guard stops."""

import json
import math
from typing import Any

import pytest

from custom_components.energy_local.powersensor import Household, HouseholdEnergy, HouseholdFlow

from .test_household import T0, feed, power, solar_stream, summation

NOW = T0 + 86_400.0


def clock() -> float:
    return NOW


def totals(out: list[Any]) -> dict[HouseholdFlow, float]:
    return {e.flow: e.summation_joules for e in out if isinstance(e, HouseholdEnergy)}


def test_a_far_future_reading_never_freezes_the_household() -> None:
    """Point 3: one start time far in the future made every later sample stale, for good."""
    household = Household(with_solar=True, clock=clock)
    feed(household, solar_stream(2))
    future = summation("house-net", 0, 1_000_000)
    future.starttime_utc = 4_000_000_000
    glitch = power("house-net", 0, 500)
    glitch.starttime_utc = 4_000_000_000
    assert feed(household, [future, glitch]) == []
    assert household.stats.insane == 2
    out = feed(household, solar_stream(3, start=2))
    assert totals(out)[HouseholdFlow.FROM_GRID] == 4 * 15_000
    state = household.export_state()
    assert state["last_summation_utc"] == T0 + 4 * 30  # the far-future time was never stored


def test_a_stored_state_with_a_future_or_non_finite_value_is_rejected() -> None:
    household = Household(with_solar=True, clock=clock)
    feed(household, solar_stream(3))
    good = household.export_state()
    assert Household.from_state(good, clock=clock).export_state() == good
    for path, value in [
        (("last_summation_utc",), 4_000_000_000),
        (("last_power_utc",), 4_000_000_000),
        (("counters", "resettime_utc"), 4_000_000_000),
        (("baselines", "house-net", "time_utc"), 4_000_000_000),
        (("counters", "from_grid"), math.inf),
        (("counters", "home_usage"), math.nan),
        (("baselines", "solar", "summation_joules"), -math.inf),
    ]:
        broken = json.loads(json.dumps(good))
        target = broken
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        with pytest.raises(ValueError, match="must"):
            Household.from_state(broken, clock=clock)


def test_an_impossible_step_is_refused_and_the_next_counts_from_the_baseline() -> None:
    """Point 4: 1.00e6, 1.03e6, 1.00e9, 1.09e6 J made a 999 MJ from-grid step in 30 s."""
    household = Household(clock=clock)
    steps = [1.00e6, 1.03e6, 1.00e9, 1.09e6, 1.12e6]
    outs = [feed(household, [summation("house-net", k, j)]) for k, j in enumerate(steps)]
    grid = [totals(out).get(HouseholdFlow.FROM_GRID) for out in outs]
    assert grid == [None, 30_000, 30_000, 90_000, 120_000]
    assert household.stats.bounded == 1


def test_plus_minus_1_7e308_never_enter_the_state() -> None:
    """Point 4: ±1.7e308 made from-grid inf and home usage NaN, and the state unloadable."""
    household = Household(with_solar=True, clock=clock)
    feed(household, solar_stream(2))
    feed(
        household,
        [
            summation("house-net", 2, 1.7e308),
            summation("solar", 2, -1.7e308),
            summation("house-net", 3, math.inf),
            summation("solar", 3, math.nan),
        ],
    )
    out = feed(household, solar_stream(3, start=4))
    assert all(math.isfinite(v) for v in household.counters.values())
    assert totals(out)[HouseholdFlow.FROM_GRID] > 0
    Household.from_state(json.loads(json.dumps(household.export_state())), clock=clock)


def test_one_corrupt_summation_start_costs_nothing() -> None:
    """Point 5: a corrupt summation_start cost two counter resets and two samples."""
    household = Household(with_solar=True, clock=clock)
    events = solar_stream(6)
    events[9] = summation("house-net", 2, 1_000_000 + 15_000 * 2, reset=12345)  # k=2
    out = feed(household, events)
    assert totals(out)[HouseholdFlow.FROM_GRID] == 5 * 15_000
    assert household.counters_resettime_utc == T0
    assert household.stats.continued_starts == 1


def test_a_gap_overlapping_the_other_sensors_reset_is_credited() -> None:
    """Point 2: a 35 s+ plug reboot while the solar sensor reset dropped the gap's energy."""
    household = Household(with_solar=True, clock=clock)
    feed(household, solar_stream(3))  # k = 0..2
    before = dict(household.counters)
    # k=3 and k=4 lost (the relaying plug rebooted); solar reset at T0 + 100 meanwhile.
    out = feed(
        household,
        [
            summation("house-net", 5, 1_000_000 + 15_000 * 5),
            summation("solar", 5, 4096 - 6_000, reset=T0 + 140),
            summation("house-net", 6, 1_000_000 + 15_000 * 6),
            summation("solar", 6, 4096 - 12_000, reset=T0 + 140),
        ],
    )
    after = totals(out)
    assert after[HouseholdFlow.FROM_GRID] - before[HouseholdFlow.FROM_GRID] == 4 * 15_000
    assert after[HouseholdFlow.SOLAR_GENERATION] - before[HouseholdFlow.SOLAR_GENERATION] == 6_000
    assert household.counters_resettime_utc == T0  # the counters went on: no reset step
    assert household.stats.one_sided_resets == 1
