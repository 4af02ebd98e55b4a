"""The write budget: which new value of a Powersensor entity is written, and when."""

import pytest

from custom_components.energy_local.powersensor_home.writes import (
    CURRENT_WRITES,
    LARGE_CHANGE_GAP_S,
    POWER_WRITES,
    VOLTAGE_WRITES,
    Throttle,
    WritePolicy,
    write_due,
)

INTERVAL = 10.0


def due(
    policy: WritePolicy,
    new: object,
    old: object,
    since: float,
    interval: float = INTERVAL,
    precision: int | None = None,
) -> bool:
    """``write_due`` at the default write interval."""
    return write_due(policy, new, old, since_write=since, interval=interval, precision=precision)


def test_power_that_drifts_within_its_noise_waits_for_a_real_move() -> None:
    assert not due(POWER_WRITES, 100.5, 100.0, since=60)  # under 1 W: noise, however long
    assert not due(POWER_WRITES, 1010.0, 1000.0, since=60)  # 1 % of 1 kW: noise
    assert due(POWER_WRITES, 1011.0, 1000.0, since=INTERVAL)
    assert not due(POWER_WRITES, 1011.0, 1000.0, since=INTERVAL - 0.1)


@pytest.mark.parametrize(("new", "old"), [(130.0, 100.0), (0.0, 40.0), (2300.0, 2000.0)])
def test_a_large_power_change_is_written_after_the_short_gap(new: float, old: float) -> None:
    assert due(POWER_WRITES, new, old, since=LARGE_CHANGE_GAP_S)
    assert not due(POWER_WRITES, new, old, since=LARGE_CHANGE_GAP_S - 0.1)


def test_a_small_load_walking_a_few_watts_is_not_large() -> None:
    # 20 W on a 40 W load is half of it, but below the 25 W an appliance switching moves.
    assert not due(POWER_WRITES, 60.0, 40.0, since=LARGE_CHANGE_GAP_S + 1)
    # 150 W on a 2 kW load is above 25 W but below 10 %.
    assert not due(POWER_WRITES, 2150.0, 2000.0, since=LARGE_CHANGE_GAP_S + 1)


def test_voltage_is_written_every_third_interval_and_never_at_once() -> None:
    assert not due(VOLTAGE_WRITES, 240.0, 230.0, since=2 * INTERVAL)
    assert due(VOLTAGE_WRITES, 231.5, 230.0, since=3 * INTERVAL)
    assert not due(VOLTAGE_WRITES, 230.9, 230.0, since=10 * INTERVAL)  # within 1 V


def test_current_follows_a_large_power_change_at_once() -> None:
    assert due(CURRENT_WRITES, 4.3, 0.2, since=LARGE_CHANGE_GAP_S)
    assert not due(CURRENT_WRITES, 0.3, 0.2, since=LARGE_CHANGE_GAP_S)
    assert due(CURRENT_WRITES, 0.3, 0.2, since=3 * INTERVAL)


def test_interval_zero_writes_every_change() -> None:
    assert due(POWER_WRITES, 100.1, 100.0, since=0.0, interval=0)
    assert due(VOLTAGE_WRITES, 230.1, 230.0, since=0.0, interval=0)
    assert not due(POWER_WRITES, 100.0, 100.0, since=0.0, interval=0)


def test_totals_wait_for_the_interval_and_a_display_step() -> None:
    assert not due(Throttle.TOTAL, 1.0004, 1.0, since=60, precision=3)
    assert due(Throttle.TOTAL, 1.0006, 1.0, since=INTERVAL, precision=3)
    assert not due(Throttle.TOTAL, 1.01, 1.0, since=INTERVAL - 1, precision=3)


def test_first_values_and_values_that_went_away_are_written() -> None:
    assert due(POWER_WRITES, 100.0, None, since=0.0)
    assert due(POWER_WRITES, None, 100.0, since=0.0)
    assert due(Throttle.CHANGE, "solar", "house-net", since=0.0)
