"""Household view behaviour beyond the vectors: persistence, stale data, bounds."""

import json
from dataclasses import replace
from typing import Any

import pytest

from custom_components.energy_local.powersensor import (
    AveragePower,
    BatteryLevel,
    Household,
    HouseholdEnergy,
    HouseholdFlow,
    HouseholdPower,
    SummationEnergy,
)

T0 = 1_772_164_800


def power(role: str, k: int, watts: float, duration: float = 30) -> AveragePower:
    return AveragePower(
        mac=role, role=role, starttime_utc=T0 + 30 * k, via=None, watts=watts, duration_s=duration
    )


def summation(role: str, k: int, joules: float, reset: float = 1_769_972_064) -> SummationEnergy:
    return SummationEnergy(
        mac=role,
        role=role,
        starttime_utc=T0 + 30 * k,
        via=None,
        summation_joules=joules,
        summation_resettime_utc=reset,
    )


def solar_stream(samples: int, start: int = 0) -> list[AveragePower | SummationEnergy]:
    """House-net importing 500 W, solar generating 200 W: both counters move every 30 s."""
    events: list[AveragePower | SummationEnergy] = []
    for k in range(start, start + samples):
        events += [
            power("house-net", k, 500),
            summation("house-net", k, 1_000_000 + 15_000 * k),
            power("solar", k, -200),
            summation("solar", k, -5_000_000 - 6_000 * k),
        ]
    return events


def feed(household: Household, events: list[Any]) -> list[HouseholdPower | HouseholdEnergy]:
    out: list[HouseholdPower | HouseholdEnergy] = []
    for event in events:
        out += household.process(event)
    return out


def test_export_and_restore_continue_the_totals_across_a_restart() -> None:
    events = solar_stream(10)
    uninterrupted = feed(Household(with_solar=True), events)

    first = Household(with_solar=True)
    before = feed(first, events[:20])
    state = json.loads(json.dumps(first.export_state()))  # what a host program would store
    second = Household.from_state(state)
    after = feed(second, events[20:])

    assert before + after == uninterrupted
    assert second.counters == {
        HouseholdFlow.FROM_GRID: 9 * 15_000,
        HouseholdFlow.HOME_USAGE: 9 * 21_000,
        HouseholdFlow.SOLAR_GENERATION: 9 * 6_000,
        HouseholdFlow.TO_GRID: 0,
    }
    assert second.counters_resettime_utc == T0


def test_restore_counts_the_energy_of_the_downtime() -> None:
    household = Household(with_solar=True)
    feed(household, solar_stream(2))
    restored = Household.from_state(household.export_state())
    # Down for 10 windows: the first sample after the restart covers them all.
    out = feed(restored, solar_stream(1, start=12))
    totals = {
        event.flow: event.summation_joules for event in out if isinstance(event, HouseholdEnergy)
    }
    assert totals[HouseholdFlow.HOME_USAGE] == 21_000 + 11 * 21_000


def test_readings_from_before_a_restart_are_stale_after_it() -> None:
    household = Household(with_solar=True)
    events = solar_stream(4)
    feed(household, events)
    restored = Household.from_state(household.export_state())
    assert feed(restored, events) == []
    assert restored.stats.stale_summations == 8


@pytest.mark.parametrize(
    "state",
    [
        None,
        {},
        {"version": 99},
        {"version": 1, "with_solar": "yes", "counters": {}, "baselines": {}},
        {"version": 1, "with_solar": True, "counters": [], "baselines": {}},
        {"version": 1, "with_solar": True, "counters": {"resettime_utc": 0}, "baselines": {}},
    ],
)
def test_invalid_state_is_rejected(state: Any) -> None:
    with pytest.raises(ValueError, match=r"must be|version"):
        Household.from_state(state)


def test_invalid_state_values_are_rejected() -> None:
    good = Household(with_solar=True)
    feed(good, solar_stream(2))
    state = good.export_state()
    for path, value in [
        (("counters", "home_usage"), -1.0),
        (("counters", "to_grid"), float("nan")),
        (("counters", "from_grid"), "1"),
        (("baselines", "solar"), [1, 2]),
        (("baselines", "house-net"), {"resettime_utc": 1}),
        (("last_power_utc",), "x"),
    ]:
        broken = json.loads(json.dumps(state))
        target = broken
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        with pytest.raises(ValueError, match="must be"):
            Household.from_state(broken)
    assert Household.from_state(state).export_state() == state


def test_late_pair_in_solar_mode_adds_no_energy() -> None:
    """Both sensors' k=2 arriving after k=3: powersensor-local matched them and went back."""
    household = Household(with_solar=True)
    events = solar_stream(5)
    late = events[8:12]  # k=2
    feed(household, events[:8])
    feed(household, events[12:16])  # k=3
    assert feed(household, late) == []
    out = feed(household, events[16:])  # k=4
    totals = {
        event.flow: event.summation_joules for event in out if isinstance(event, HouseholdEnergy)
    }
    assert totals[HouseholdFlow.FROM_GRID] == 4 * 15_000


def test_summation_reset_clears_counters_and_primes_again() -> None:
    household = Household()
    feed(household, [summation("house-net", 0, 100_000), summation("house-net", 1, 130_000)])
    assert household.counters[HouseholdFlow.FROM_GRID] == 30_000
    assert feed(household, [summation("house-net", 2, 4096, reset=T0 + 55)]) == []
    assert household.counters[HouseholdFlow.FROM_GRID] == 0
    assert household.counters_resettime_utc == T0 + 60
    out = feed(household, [summation("house-net", 3, 4096 + 9000, reset=T0 + 55)])
    assert [(event.name, event.payload()) for event in out] == [
        (
            "from_grid_summation",
            {
                "timestamp_utc": T0 + 90,
                "summation_resettime_utc": T0 + 60,
                "summation_joules": 9000,
            },
        ),
        (
            "home_usage_summation",
            {
                "timestamp_utc": T0 + 90,
                "summation_resettime_utc": T0 + 60,
                "summation_joules": 9000,
            },
        ),
    ]


def test_only_house_net_and_solar_readings_count() -> None:
    household = Household()
    unknown = replace(power("house-net", 0, 100), role="unknown")
    no_role = replace(power("house-net", 0, 100), role=None)
    battery = BatteryLevel(mac="x", role="house-net", starttime_utc=T0, via=None, volts=3.9)
    water = replace(summation("house-net", 0, 5), role="water")
    assert feed(household, [unknown, no_role, battery, water]) == []
    # A sensor whose role was lost counts again once the caller restores its role.
    out = feed(household, [replace(unknown, role="house-net")])
    assert [event.name for event in out] == ["from_grid", "home_usage"]


def test_power_needs_a_solar_partner_of_the_same_duration() -> None:
    household = Household(with_solar=True)
    assert feed(household, [power("house-net", 0, 300)]) == []  # waits for solar
    assert feed(household, [power("solar", 0, -100, duration=60)]) == []  # durations differ
    out = feed(household, [power("house-net", 1, -100), power("solar", 1, -400)])
    assert {event.name: event.payload()["watts"] for event in out} == {
        "from_grid": 0,
        "home_usage": 300,
        "solar_generation": 400,
        "to_grid": 100,
    }


def test_unmatched_readings_are_bounded() -> None:
    household = Household(with_solar=True)
    for k in range(200):  # a dead solar sensor: house-net alone never matches
        household.process(power("house-net", k, 100))
        household.process(summation("house-net", k, 1000 * k))
    assert len(household._house_power) == 31
    assert len(household._house_summations) == 5


def test_a_fresh_household_round_trips() -> None:
    state = Household().export_state()
    assert state["baselines"] == {"house-net": None, "solar": None}
    restored = Household.from_state(state)
    assert restored.export_state() == state
    assert not restored.with_solar
    broken = dict(state, baselines={"house-net": 5, "solar": None})
    with pytest.raises(ValueError, match="object or null"):
        Household.from_state(broken)
