"""The total guard: every published total is monotonic, bridged across resets, bounded."""

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from custom_components.energy_local.powersensor.totals import (
    MAINS_MAX_WATTS,
    PLUG_MAX_WATTS,
    WATER_MAX_LITRES_PER_S,
    MonotonicTotal,
    TotalOutcome,
)


def test_first_reading_starts_at_the_counter() -> None:
    total = MonotonicTotal.for_plug()
    assert total.value is None
    assert total.update(1000, 100, 200) is TotalOutcome.FIRST
    assert total.value == 1000


def test_a_late_reading_cannot_move_the_total_back() -> None:
    """Issue 12 point 1: 0.0684867 -> 0.0679086 kWh from a reordered datagram."""
    total = MonotonicTotal.for_plug()
    total.update(246_552, 100, 1000)
    total.update(248_000, 100, 1001)
    assert total.update(246_900, 100, 1000.5) is TotalOutcome.OUT_OF_ORDER
    assert total.update(248_000, 100, 1001) is TotalOutcome.DUPLICATE
    assert total.value == 248_000
    assert total.stats.out_of_order == 1
    assert total.stats.duplicates == 1


def test_a_reset_is_bridged_without_a_step() -> None:
    total = MonotonicTotal.for_plug()
    total.update(10_000, 100, 1000)
    assert total.update(4096 + 100, 1020, 1030) is TotalOutcome.RESET
    assert total.value == 10_000 + 4196
    assert total.update(4096 + 200, 1020, 1031) is TotalOutcome.ACCEPTED
    assert total.value == 10_000 + 4296
    assert total.stats.resets == 1


def test_a_new_reset_time_with_a_large_counter_is_not_added() -> None:
    """Issue 12 point 4: water came back with a new start and +132 L against ~8 L real."""
    total = MonotonicTotal.for_water()
    total.update(500.0, 100, 1000)
    assert total.update(132.0, 1025, 1030) is TotalOutcome.BOUNDED
    assert total.value == 500.0
    # Twice in a row: the new counter becomes the baseline, the next real litres count.
    assert total.update(134.0, 1025, 1060) is TotalOutcome.BOUNDED
    assert total.update(136.0, 1025, 1090) is TotalOutcome.ACCEPTED
    assert total.value == 502.0
    assert total.stats.bounded == 2


def test_an_impossible_step_is_refused_and_the_total_goes_on() -> None:
    """Issue 12 point 4: 1.00e6, 1.03e6, 1.00e9, 1.09e6 J in 30 s steps (999 MJ = 33 MW)."""
    total = MonotonicTotal.for_mains()
    outcomes = [
        total.update(value, 0, t)
        for value, t in ((1.00e6, 30), (1.03e6, 60), (1.00e9, 90), (1.09e6, 120), (1.12e6, 150))
    ]
    assert outcomes == [
        TotalOutcome.FIRST,
        TotalOutcome.ACCEPTED,
        TotalOutcome.BOUNDED,
        TotalOutcome.ACCEPTED,  # one outlier left the baseline: this step counts from it
        TotalOutcome.ACCEPTED,
    ]
    assert total.value == 1.12e6
    assert total.stats.bounded == 1


def test_the_bound_is_power_times_the_readings_own_elapsed_time() -> None:
    total = MonotonicTotal.for_plug()
    total.update(0, 0, 100)
    assert total.update(PLUG_MAX_WATTS * 2, 0, 102) is TotalOutcome.ACCEPTED
    assert total.update(PLUG_MAX_WATTS * 4 + 2, 0, 103) is TotalOutcome.BOUNDED


def test_non_finite_and_negative_numbers_never_enter() -> None:
    total = MonotonicTotal.for_mains()
    total.update(1000, 0, 100)
    for raw, reset, when in (
        (math.inf, 0, 101),
        (math.nan, 0, 101),
        (1.7e308 * 10, 0, 101),
        (-1.0, 0, 101),
        (2000, math.nan, 101),
        (2000, 0, math.inf),
        (2000, 500, 101),  # reset after the reading
    ):
        assert total.update(raw, reset, when) is TotalOutcome.INVALID
    assert total.value == 1000
    assert total.last_time == 100
    assert math.isfinite(total.base)


def test_a_far_future_time_cannot_freeze_the_total() -> None:
    total = MonotonicTotal.for_plug()
    total.update(1000, 0, 1_000)
    assert total.update(1100, 0, 4e9, now=1_001) is TotalOutcome.INVALID
    assert total.update(1100, 0, 1_002, now=1_002) is TotalOutcome.ACCEPTED


def test_restore_reads_the_continuous_total_format() -> None:
    old = {"base": 5000.0, "last_raw": 1234.0, "last_reset": 1700000000.0}
    total = MonotonicTotal.restore(old, PLUG_MAX_WATTS)
    assert total.value == 6234.0
    # No stored time: the first step after the restore is trusted, as before.
    assert total.update(900_000.0, 1700000000.0, 1700100000.0) is TotalOutcome.ACCEPTED
    assert total.value == 5000.0 + 900_000.0
    # A reset in the old format bridges as ContinuousTotal did.
    again = MonotonicTotal.restore(old, PLUG_MAX_WATTS)
    assert again.update(4096.0, 1700000500.0, 1700000501.0) is TotalOutcome.RESET
    assert again.value == 6234.0 + 4096.0


def test_export_restore_round_trip_is_json_safe() -> None:
    total = MonotonicTotal.for_water()
    total.update(10.0, 0, 100)
    total.update(11.0, 0, 130)
    data = json.loads(json.dumps(total.export(), allow_nan=False))
    back = MonotonicTotal.restore(data, WATER_MAX_LITRES_PER_S, 0.001)
    assert back.value == 11.0
    assert back.last_time == 130
    assert back.update(11.5, 0, 130) is TotalOutcome.DUPLICATE


def test_restore_discards_garbage() -> None:
    garbage: tuple[Any, ...] = (
        None,
        [],
        {"base": "x"},
        {"base": math.nan, "last_raw": 1.0, "last_reset": 0},
        {"base": 1.0, "last_raw": math.inf, "last_reset": 0},
        {"base": -5.0, "last_raw": 1.0, "last_reset": 0},
        {"base": 1.0, "last_raw": 1.0, "last_reset": "yesterday"},
        {"base": 1.0, "last_raw": 1.0, "last_reset": 0, "last_time": True},
    )
    for data in garbage:
        assert MonotonicTotal.restore(data, MAINS_MAX_WATTS).value is None


def test_restore_drops_a_far_future_time_but_keeps_the_total() -> None:
    data = {"base": 1.0, "last_raw": 2.0, "last_reset": 0, "last_time": 4e9}
    total = MonotonicTotal.restore(data, MAINS_MAX_WATTS, now=1_700_000_000)
    assert total.value == 3.0
    assert total.last_time is None


_reading = st.tuples(
    st.one_of(
        st.floats(min_value=0, max_value=1e7),
        st.sampled_from([math.inf, -math.inf, math.nan, 1.7e308, -1.7e308, 1e12]),
    ),
    st.sampled_from([0.0, 0.0, 0.0, 500.0, 1000.0]),
    st.floats(min_value=0, max_value=2000),
)


@given(st.lists(_reading, max_size=60))
def test_property_never_decreases_never_beyond_the_bound(
    readings: list[tuple[float, float, float]],
) -> None:
    total = MonotonicTotal.for_plug()
    for raw, reset, when in readings:
        before, since = total.value, total.base_time
        outcome = total.update(raw, reset, when)
        value = total.value
        if value is None or before is None:
            continue
        assert math.isfinite(value)
        assert value >= before
        if since is not None and outcome is not TotalOutcome.INVALID:
            assert value - before <= total.bound(when - since)


def test_one_corrupt_start_is_no_reset() -> None:
    """Issue 12 point 5: a corrupt summation_start once must not cost two resets."""
    total = MonotonicTotal.for_plug()
    total.update(10_000, 100, 1000)
    assert total.update(10_500, 7, 1001) is TotalOutcome.ACCEPTED
    assert total.update(11_000, 100, 1002) is TotalOutcome.ACCEPTED
    assert total.value == 11_000
    assert total.stats.resets == 0


def test_a_plug_reboot_is_a_reset() -> None:
    total = MonotonicTotal.for_plug()
    total.update(5_103_988, 100, 1000)
    assert total.update(4096 + 50, 1030, 1031) is TotalOutcome.RESET
    assert total.value == 5_103_988 + 4146


def test_a_net_sensor_total_may_fall_but_within_the_bound() -> None:
    total = MonotonicTotal.for_net_sensor()
    total.update(-1000.0, 0, 100)
    assert total.update(-31_000.0, 0, 130) is TotalOutcome.ACCEPTED
    assert total.value == -31_000.0
    # -390 kWh in 30 s (issue 12 point 4): refused, and again the next time; then it counts.
    assert total.update(-1.404e9, 0, 160) is TotalOutcome.BOUNDED
    assert total.value == -31_000.0
    assert total.update(-1.404e9 + 500, 0, 190) is TotalOutcome.BOUNDED
    assert total.update(-1.404e9 + 800, 0, 220) is TotalOutcome.ACCEPTED
    assert total.value == -30_700.0
