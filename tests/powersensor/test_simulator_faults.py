"""The plug simulator's issue-12 faults: each does what it says, from the API and the CLI."""

import itertools
import json
import math
from typing import Any

import pytest

from custom_components.energy_local.powersensor import InvalidMessageError, translate_message
from simulators import powersensor_plug as sim
from simulators.powersensor_faults import CORRUPTIONS, FAR_FUTURE, corrupt
from simulators.powersensor_plug import SimOptions, SimulatedPlug, Simulation


def sensor_lines(simulation: Simulation, ticks: int) -> list[dict[str, Any]]:
    sent: list[bytes] = []
    simulation.plugs[0].publish = sent.extend  # type: ignore[method-assign]
    for _ in range(ticks):
        simulation.sensor_tick()
    return [json.loads(line) for line in sent]


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_every_corruption_is_rejected_at_translation(kind: str) -> None:
    simulation = Simulation(SimOptions())
    good = sensor_lines(simulation, 1)[0]
    translate_message(good, None, now=good["starttime"] + 1.0)
    bad = json.loads(json.dumps(corrupt(good, kind)))  # through JSON, as sent
    if kind == "absurd":  # plausible on its own: the total guard and the household bound it
        assert bad["summation"] == good["summation"] + 1e9
        return
    with pytest.raises(InvalidMessageError):
        translate_message(bad, None, now=good["starttime"] + 1.0)


def test_corruptions_come_with_the_probability_asked() -> None:
    simulation = Simulation(SimOptions(corrupt_probability=0.5, corruptions=("future_start",)))
    messages = sensor_lines(simulation, 100)
    future = sum(m["starttime"] == FAR_FUTURE for m in messages)
    assert 60 < future < 140  # of 200 reports
    with pytest.raises(ValueError, match="unknown corruption"):
        corrupt({}, "gremlins")


def test_non_finite_values_are_sent_as_python_json_writes_them() -> None:
    simulation = Simulation(SimOptions(corrupt_probability=1.0, corruptions=("infinite",)))
    lines: list[bytes] = []
    simulation.plugs[0].publish = lines.extend  # type: ignore[method-assign]
    simulation.sensor_tick()
    assert b'"summation": Infinity' in lines[0]
    assert math.isinf(json.loads(lines[0])["summation"])


def test_duplicates_and_reorders_by_probability() -> None:
    options = SimOptions(duplicate_probability=0.2, reorder_probability=0.2)
    plug = SimulatedPlug("246f280487a4", options=options)
    sent: list[bytes] = []
    plug.send_datagram = sent.append  # type: ignore[method-assign]
    plug.publish([f'{{"n": {n}}}\n'.encode() for n in range(1000)])
    numbers = [json.loads(d)["n"] for d in sent]
    assert set(range(999)) <= set(numbers)  # none lost (only the last may still be held)
    duplicates = len(numbers) - len(set(numbers))
    swaps = sum(a > b for a, b in itertools.pairwise(numbers))
    assert 100 < duplicates < 300
    assert 100 < swaps < 300


def test_a_new_start_with_a_large_counter() -> None:
    simulation = Simulation(SimOptions(restart_large_every=3))
    messages = [m for m in sensor_lines(simulation, 7) if m["role"] == "house-net"]
    starts = [m["summation_start"] for m in messages]
    assert starts[3] != starts[2]  # a new start...
    assert starts[3] == messages[3]["starttime"] - 1
    assert abs(messages[3]["summation"] - messages[2]["summation"]) < 1e6  # ...same counter


async def test_a_reboot_overlapping_the_sensors_reset(socket_enabled: None) -> None:
    simulation = Simulation(SimOptions(reboot_resets_sensors=True))
    before = [sensor.summation_start for sensor in simulation.sensors]
    await simulation.start()
    try:
        await simulation.reboot_plugs(0.01)
    finally:
        await simulation.stop()
    assert [s.summation for s in simulation.sensors] == [sim.RESET_BASE_JOULES] * 2
    assert [s.summation_start for s in simulation.sensors] != before


def test_command_line_faults() -> None:
    args = sim.build_parser().parse_args(
        [
            "--duplicate-probability",
            "0.1",
            "--reorder-probability",
            "0.1",
            "--corrupt-probability",
            "0.05",
            "--corruptions",
            "future_start,zero_start",
            "--restart-large-every",
            "7",
            "--reboot-resets-sensors",
        ]
    )
    options = sim.options_from_args(args)
    assert (
        options.duplicate_probability,
        options.reorder_probability,
        options.corrupt_probability,
        options.corruptions,
        options.restart_large_every,
        options.reboot_resets_sensors,
    ) == (0.1, 0.1, 0.05, ("future_start", "zero_start"), 7, True)
