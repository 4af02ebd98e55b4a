"""The client against a faulty simulated plug: reboots, silence, announcements, floods."""

import asyncio
import itertools
import time

import pytest

from custom_components.energy_local.powersensor import (
    Household,
    HouseholdEnergy,
    HouseholdFlow,
    LinkState,
    LinkTiming,
    PlugClient,
    PlugEvent,
    SummationEnergy,
)
from custom_components.energy_local.powersensor.client import MAX_RELAYED_DEVICES
from custom_components.energy_local.powersensor.dedup import MAX_DEVICES
from custom_components.energy_local.powersensor.totals import MonotonicTotal, TotalOutcome

from .conftest import SimulationFactory
from .helpers import FAST, wait_for

# The real renewal and retry schedule (20 s, 3 s, 7 s ...) with fast quiet probes: without
# the probes a plug back from a reboot would wait seconds for the next renewal or retry.
SLOW_SCHEDULE = LinkTiming(
    lease_s=60,
    renew_interval_s=20.0,
    silence_timeout_s=30.0,
    retry_unit_s=1.0,
    quiet_after_s=0.2,
    probe_interval_s=0.1,
)


def plug_readings(events: list[PlugEvent], mac: str) -> int:
    return sum(1 for e in events if isinstance(e, SummationEnergy) and e.mac == mac)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_a_rebooted_plug_sends_again_at_once(
    make_simulation: SimulationFactory, transport: str
) -> None:
    simulation = await make_simulation()
    plug = simulation.plugs[0]
    client = PlugClient("127.0.0.1", plug.port, transport=transport, timing=SLOW_SCHEDULE)
    events: list[PlugEvent] = []
    client.add_event_listener(events.append)
    client.start()
    try:
        await wait_for(lambda: plug_readings(events, plug.mac) >= 3)
        await plug.reboot(0.5)  # ports closed, subscribers forgotten, back after 0.5 s
        back = time.monotonic()
        seen = plug_readings(events, plug.mac)
        await wait_for(lambda: plug_readings(events, plug.mac) > seen, within=10)
        # The renewal tick (20 s) or the retry schedule (3 s, 7 s) would be far later.
        assert time.monotonic() - back < 1.5
        assert client.stats.probes + client.stats.resubscribes + client.stats.retries >= 1
    finally:
        await client.stop()
    await wait_for(lambda: plug.commands[-1][2] == b"subscribe(0)\n")


async def test_a_re_announced_plug_is_subscribed_at_once(
    make_simulation: SimulationFactory,
) -> None:
    simulation = await make_simulation()
    plug = simulation.plugs[0]
    timing = LinkTiming(
        lease_s=60,
        renew_interval_s=20.0,
        silence_timeout_s=0.3,
        retry_unit_s=5.0,  # next retry 15 s after the silence
        quiet_after_s=10.0,
        probe_interval_s=10.0,
    )
    client = PlugClient("127.0.0.1", plug.port, timing=timing)
    events: list[PlugEvent] = []
    client.add_event_listener(events.append)
    client.start()
    try:
        await wait_for(lambda: plug_readings(events, plug.mac) >= 2)
        plug.muted = True
        await wait_for(lambda: client.state is LinkState.DISCONNECTED)
        plug.udp_subscribers.clear()  # it rebooted meanwhile and forgot us
        plug.muted = False
        await asyncio.sleep(0.3)
        seen = plug_readings(events, plug.mac)
        assert seen == plug_readings(events, plug.mac)  # nothing comes by itself
        client.plug_announced()  # zeroconf saw it again
        await wait_for(lambda: plug_readings(events, plug.mac) > seen, within=1.5)
        assert client.stats.resubscribes >= 1
    finally:
        await client.stop()


async def test_plug_energy_through_the_guard_never_falls_under_reorder_and_duplicates(
    make_simulation: SimulationFactory,
) -> None:
    """Issue 12 point 1: 10 % reordered and 10 % duplicated datagrams, and a reboot."""
    simulation = await make_simulation(
        plug_interval_s=0.01, duplicate_probability=0.1, reorder_probability=0.1
    )
    plug = simulation.plugs[0]
    client = PlugClient("127.0.0.1", plug.port, timing=FAST)
    guard = MonotonicTotal.for_plug()
    values: list[float] = []
    outcomes: list[TotalOutcome] = []

    def on_event(event: PlugEvent) -> None:
        if isinstance(event, SummationEnergy) and event.mac == plug.mac:
            outcomes.append(
                guard.update(
                    event.summation_joules,
                    event.summation_resettime_utc,
                    event.starttime_utc,
                    time.time(),
                )
            )
            assert guard.value is not None
            values.append(guard.value)

    client.add_event_listener(on_event)
    client.start()
    try:
        await wait_for(lambda: len(values) >= 100)
        await plug.reboot(0.1)
        await wait_for(lambda: TotalOutcome.RESET in outcomes and len(values) >= 200)
    finally:
        await client.stop()
    assert all(b >= a for a, b in itertools.pairwise(values))
    assert client.stats.duplicates > 0
    assert guard.stats.out_of_order > 0  # the late ones reached the guard, and stopped there
    assert guard.stats.bounded == 0


def test_relayed_devices_and_the_duplicate_filter_are_bounded() -> None:
    """Issue 12 point 7: 200,000 relayed MACs grew memory by 155 MB."""
    client = PlugClient("127.0.0.1", mac="246f280487a4", clock=lambda: 1_772_400_000.0)
    announced = 0

    def count(event: PlugEvent) -> None:
        nonlocal announced
        announced += event.name == "now_relaying_for"

    client.add_event_listener(count)
    for n in range(200_000):
        client._handle_message(
            {
                "type": "instant_power",
                "device": "sensor",
                "mac": f"{n:012x}",
                "starttime": 1_772_164_800 + n,
                "unit": "I",
                "duration": 30,
                "batteryMicrovolt": 3_900_000,
                "rssi": -80,
                "raw_rssi": -80,
            }
        )
    assert announced == 200_000
    assert len(client.relayed_macs) == MAX_RELAYED_DEVICES
    assert client.relayed_macs[-1] == f"{199_999:012x}"
    assert len(client._duplicates._recent) == MAX_DEVICES


async def test_household_totals_under_every_fault_at_once(
    make_simulation: SimulationFactory,
) -> None:
    """Reorders, duplicates, corrupt reports, resets, new starts and a reboot that overlaps
    the sensors' reset: the household keeps emitting and no guarded total falls."""
    simulation = await make_simulation(
        sensor_interval_s=0.02,
        duplicate_probability=0.1,
        reorder_probability=0.1,
        corrupt_probability=0.05,
        reset_every=40,
        restart_large_every=25,
        reboot_resets_sensors=True,
    )
    plug = simulation.plugs[0]
    client = PlugClient("127.0.0.1", plug.port, timing=FAST)
    household = Household(with_solar=True)
    guards = {flow: MonotonicTotal.for_mains() for flow in HouseholdFlow}
    history: dict[HouseholdFlow, list[float]] = {flow: [] for flow in HouseholdFlow}

    def on_event(event: PlugEvent) -> None:
        for out in household.process(event):
            if isinstance(out, HouseholdEnergy):
                guard = guards[out.flow]
                guard.update(
                    out.summation_joules,
                    out.summation_resettime_utc,
                    out.timestamp_utc,
                    time.time(),
                )
                assert guard.value is not None
                history[out.flow].append(guard.value)

    client.add_event_listener(on_event)
    client.start()
    try:
        await wait_for(lambda: len(history[HouseholdFlow.FROM_GRID]) >= 30, within=10)
        await simulation.reboot_plugs(0.2)
        seen = len(history[HouseholdFlow.FROM_GRID])
        await wait_for(lambda: len(history[HouseholdFlow.FROM_GRID]) >= seen + 30, within=10)
    finally:
        await client.stop()
    for values in history.values():
        assert all(b >= a for a, b in itertools.pairwise(values))
    assert client.stats.invalid_messages > 0  # the corrupt reports were seen, and refused
    assert sum(guard.stats.bounded for guard in guards.values()) == 0
