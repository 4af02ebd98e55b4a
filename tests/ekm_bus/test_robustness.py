"""Faults on the bus: nothing escapes, no total goes backwards, availability follows faults."""

import logging
import random

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.energy_local.ekm_bus.const import RETRY_ROUNDS
from custom_components.energy_local.ekm_bus.coordinator import EkmBusCoordinator
from simulators.ekm_bus import FaultKind
from tests.ekm_bus.helpers import (
    V3_ADDRESS,
    V4_ADDRESS,
    SimBus,
    bus_entry,
    meter_subentry,
    setup_entry,
    start_sim_bus,
    wait_for,
)

TOTALS = [
    "sensor.omnimeter_300001285_energy_import",
    "sensor.omnimeter_300001285_energy_export",
    "sensor.omnimeter_10006388_energy_import",
    "sensor.omnimeter_10006388_energy_export",
]
POWER = {
    V4_ADDRESS: "sensor.omnimeter_300001285_power",
    V3_ADDRESS: "sensor.omnimeter_10006388_power",
}
FAULTS = [
    FaultKind.CORRUPT_CRC,
    FaultKind.TRUNCATED,
    FaultKind.NO_REPLY,
    FaultKind.WRONG_ADDRESS,
    FaultKind.GARBAGE,
]


async def setup_over_tcp(
    hass: HomeAssistant, bus: SimBus, spec: list[tuple[str, int]], **options: object
) -> tuple[MockConfigEntry, int]:
    """The simulated bus behind a serial-over-TCP converter, and a bus entry set up on it."""
    tcp_port = await bus.sim.start_tcp()
    entry = bus_entry(
        f"socket://127.0.0.1:{tcp_port}",
        [meter_subentry(address, version) for address, version in spec],
        **options,
    )
    await setup_entry(hass, entry)
    return entry, tcp_port


async def take_the_port_away(bus: SimBus, coordinator: EkmBusCoordinator) -> None:
    """The converter goes away for as many cycles as make the bus unavailable."""
    await bus.sim.stop()
    for _ in range(coordinator.unavailable_after):
        await coordinator.async_refresh()
    assert not coordinator.last_update_success


@pytest.mark.slow
async def test_500_cycles_with_5_percent_faults(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4), meter_subentry(V3_ADDRESS, 3)])
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    # Replies come at once from the unpaced simulator: don't wait out 9600-baud wire time.
    coordinator.bus.char_time = 0.0
    coordinator.bus.timeout = 0.05
    plan = ekm_bus.sim.faults
    for kind in FAULTS:
        plan.set_probability(kind, 0.01)  # 5 % of replies carry some fault
    plan.rng = random.Random(5)

    highest: dict[str, float] = {}
    unavailable_cycles = 0
    for _ in range(500):
        ekm_bus.clock.advance(10)
        injected_before = sum(plan.injected.values())
        await coordinator.async_refresh()
        await hass.async_block_till_done()
        injected = sum(plan.injected.values()) - injected_before
        for entity_id in TOTALS:
            state = hass.states.get(entity_id)
            assert state is not None
            if state.state == STATE_UNAVAILABLE:
                continue
            value = float(state.state)
            assert value >= highest.get(entity_id, 0.0), entity_id
            highest[entity_id] = value
        down = [a for a, e in POWER.items() if hass.states.get(e).state == STATE_UNAVAILABLE]
        if down:
            unavailable_cycles += 1
            assert injected > 0  # a meter is only unavailable when a fault hit it
        if injected == 0:
            assert down == []
    assert coordinator.last_update_success
    assert sum(plan.injected.values()) > 50  # the faults really happened
    stats = coordinator.bus.stats
    assert stats.retries > 0
    assert stats.crc_errors > 0
    assert unavailable_cycles < 100


async def test_port_lost_and_back_without_reload(
    hass: HomeAssistant, socket_enabled: None, caplog: pytest.LogCaptureFixture
) -> None:
    bus = await start_sim_bus([(V4_ADDRESS, 4)])
    try:
        tcp_port = await bus.sim.start_tcp()
        entry = bus_entry(f"socket://127.0.0.1:{tcp_port}", [meter_subentry(V4_ADDRESS, 4)])
        await setup_entry(hass, entry)
        coordinator = entry.runtime_data
        assert hass.states.get(POWER[V4_ADDRESS]).state != STATE_UNAVAILABLE

        await bus.sim.stop()  # the serial-over-TCP converter goes away
        caplog.set_level(logging.INFO)
        for _ in range(2):  # a short outage: the last values stand
            await coordinator.async_refresh()
            await hass.async_block_till_done()
            assert hass.states.get(POWER[V4_ADDRESS]).state != STATE_UNAVAILABLE
        await coordinator.async_refresh()  # the third failed cycle in a row
        await hass.async_block_till_done()
        assert hass.states.get(POWER[V4_ADDRESS]).state == STATE_UNAVAILABLE
        assert not coordinator.last_update_success
        # No back-off: an unavailable port is tried every few seconds, so values return
        # within one poll interval of it coming back.
        assert coordinator.update_interval < coordinator.poll_interval
        assert caplog.text.count("unavailable") >= 1

        await bus.sim.start_tcp(port=tcp_port)  # and comes back
        await coordinator.async_refresh()
        await hass.async_block_till_done()
        assert hass.states.get(POWER[V4_ADDRESS]).state != STATE_UNAVAILABLE
        # Polls start every poll interval: the next one waits the interval less the cycle.
        assert coordinator.update_interval <= coordinator.poll_interval
        assert entry.state is ConfigEntryState.LOADED
    finally:
        await bus.sim.stop()


async def test_dropped_connection_is_reopened(hass: HomeAssistant, socket_enabled: None) -> None:
    bus = await start_sim_bus([(V4_ADDRESS, 4)])
    try:
        tcp_port = await bus.sim.start_tcp()
        entry = bus_entry(f"socket://127.0.0.1:{tcp_port}", [meter_subentry(V4_ADDRESS, 4)])
        await setup_entry(hass, entry)
        coordinator = entry.runtime_data
        opens = coordinator.bus.stats.opens
        bus.sim.faults.schedule(FaultKind.DROP_CONNECTION, count=1)
        await coordinator.async_refresh()  # the converter hangs up mid-read
        await hass.async_block_till_done()
        await coordinator.async_refresh()
        await hass.async_block_till_done()
        assert coordinator.bus.stats.opens == opens + 1
        assert hass.states.get(POWER[V4_ADDRESS]).state != STATE_UNAVAILABLE
    finally:
        await bus.sim.stop()


async def test_chatter_and_dropped_connections_keep_meters_available(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    bus = await start_sim_bus([(V4_ADDRESS, 4), (V3_ADDRESS, 3)])
    try:
        entry, _ = await setup_over_tcp(hass, bus, [(V4_ADDRESS, 4), (V3_ADDRESS, 3)])
        coordinator = entry.runtime_data
        plan = bus.sim.faults
        for cycle in range(12):
            # Every cycle something on one meter or the other: a chattering converter (on
            # a read and its retry too), or the connection dropped (reopened within the read).
            address = (V4_ADDRESS, V3_ADDRESS)[cycle % 2]
            if cycle // 2 % 2:
                plan.schedule(FaultKind.DROP_CONNECTION, count=1, address=address)
            else:
                plan.schedule(FaultKind.CHATTER, count=1 + cycle % 3 // 2, address=address)
            bus.clock.advance(10)
            await coordinator.async_refresh()
            await hass.async_block_till_done()
            assert coordinator.last_update_success, cycle
            for entity_id in (*POWER.values(), *TOTALS):
                assert hass.states.get(entity_id).state != STATE_UNAVAILABLE, (cycle, entity_id)
        assert plan.pending == 0
        assert plan.injected[FaultKind.CHATTER] >= 6
        assert plan.injected[FaultKind.DROP_CONNECTION] == 6
        stats = coordinator.bus.stats
        assert stats.reconnects == 6
        assert stats.bytes_discarded >= 6 * plan.chatter_length // 2
        assert coordinator.diagnostics.port_failures == 0
    finally:
        await bus.sim.stop()


async def test_a_connection_dropped_twice_in_one_read_costs_one_meter_not_the_cycle(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    bus = await start_sim_bus([(V4_ADDRESS, 4), (V3_ADDRESS, 3)])
    try:
        tcp_port = await bus.sim.start_tcp()
        entry = bus_entry(
            f"socket://127.0.0.1:{tcp_port}",
            [meter_subentry(V4_ADDRESS, 4), meter_subentry(V3_ADDRESS, 3)],
        )
        await setup_entry(hass, entry)
        coordinator = entry.runtime_data
        v3_before = coordinator.bus.stats.transactions
        # The converter hangs up on the v4 read and again on its retry.
        bus.sim.faults.schedule(FaultKind.DROP_CONNECTION, count=2, address=V4_ADDRESS)
        await coordinator.async_refresh()
        await hass.async_block_till_done()
        assert coordinator.last_update_success
        assert coordinator.diagnostics.port_failures == 0
        assert coordinator.diagnostics.meter_failures[V4_ADDRESS] == 1
        assert coordinator.bus.stats.transactions > v3_before  # the v3 meter was still read
        assert hass.states.get(POWER[V4_ADDRESS]).state != STATE_UNAVAILABLE  # its last values
        assert hass.states.get(POWER[V3_ADDRESS]).state != STATE_UNAVAILABLE
    finally:
        await bus.sim.stop()


async def test_a_meter_that_fails_a_cycle_is_tried_again_in_it(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    """A lost poll becomes a late one: the meter is read again at the end of the cycle."""
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4), meter_subentry(V3_ADDRESS, 3)])
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    ekm_bus.sim.faults.schedule(FaultKind.CORRUPT_CRC, count=2, address=V3_ADDRESS)  # + retry
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert coordinator.diagnostics.meter_failures[V3_ADDRESS] == 1
    v3 = next(s for s, m in coordinator.meters.items() if m.address == V3_ADDRESS)
    state = coordinator.meter_state(v3)
    assert state is not None
    assert state.failures == 0  # the second try in the same cycle read it


async def test_a_bad_block_b_keeps_the_meter_and_its_last_tariffs(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    v4 = next(iter(coordinator.meters))
    before = coordinator.meter_state(v4)
    assert before is not None
    assert before.reading is not None
    ekm_bus.sim.faults.schedule(FaultKind.CORRUPT_CRC, count=2, after=1)  # B and its retry
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    state = coordinator.meter_state(v4)
    assert state is not None
    assert state.failures == 0
    assert state.reading is not None
    assert state.reading.values["kWh_Tariff_1"] == before.reading.values["kWh_Tariff_1"]
    assert coordinator.diagnostics.meter_failures[V4_ADDRESS] == 0


async def test_a_meter_whose_poll_failed_is_read_first_next_cycle(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    from tests.ekm.bus_helpers import host_frames  # noqa: PLC0415

    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4), meter_subentry(V3_ADDRESS, 3)])
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    # Every try of the v3 meter in this cycle fails (each read and the bus's retry of it).
    tries = 2 * (1 + RETRY_ROUNDS)
    ekm_bus.sim.faults.schedule(FaultKind.CORRUPT_CRC, count=tries, address=V3_ADDRESS)
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    v3 = next(s for s, m in coordinator.meters.items() if m.address == V3_ADDRESS)
    state = coordinator.meter_state(v3)
    assert state is not None
    assert state.failures == 1
    sent = len(host_frames(ekm_bus.sim))
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    first = host_frames(ekm_bus.sim)[sent]
    assert V3_ADDRESS.encode() in first  # the overdue meter went first


async def test_after_an_outage_each_meter_returns_as_it_is_read(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """Values return meter by meter, not when the whole cycle (with its retries) has ended."""
    bus = await start_sim_bus([(V4_ADDRESS, 4), (V3_ADDRESS, 3)])
    try:
        spec = [(V4_ADDRESS, 4), (V3_ADDRESS, 3)]
        entry, tcp_port = await setup_over_tcp(hass, bus, spec, poll_interval=4)
        coordinator = entry.runtime_data
        await take_the_port_away(bus, coordinator)
        await hass.async_block_till_done()
        assert hass.states.get(POWER[V4_ADDRESS]).state == STATE_UNAVAILABLE

        await bus.sim.start_tcp(port=tcp_port)
        # The v3 meter does not answer this cycle: its tries keep the cycle going.
        bus.sim.faults.schedule(
            FaultKind.NO_REPLY, count=2 * (1 + RETRY_ROUNDS), address=V3_ADDRESS
        )
        cycle = hass.async_create_task(coordinator.async_refresh())
        await wait_for(
            lambda: hass.states.get(POWER[V4_ADDRESS]).state != STATE_UNAVAILABLE, within=3.0
        )
        assert not cycle.done()  # shown before the cycle ended
        assert coordinator.last_update_success
        await cycle
    finally:
        await bus.sim.stop()


async def test_a_reading_counts_once_however_often_entities_are_told(
    hass: HomeAssistant, ekm_bus: SimBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A meter's entities are told when it is read and at the cycle's end: one reading, once."""
    from custom_components.energy_local.ekm_bus.sensor import EkmSensor  # noqa: PLC0415

    taken: list[object] = []
    original = EkmSensor._update_from_reading

    def counting(self: EkmSensor) -> None:
        if self.entity_id == POWER[V4_ADDRESS]:
            taken.append(self.reading)
        original(self)

    monkeypatch.setattr(EkmSensor, "_update_from_reading", counting)
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    taken.clear()
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    coordinator.async_update_listeners()  # told again, with nothing new
    await hass.async_block_till_done()
    assert len(taken) == 1
    await coordinator.async_refresh()  # a new reading is taken
    await hass.async_block_till_done()
    assert len(taken) == 2
    assert taken[0] is not taken[1]


async def test_a_meter_silent_for_long_is_tried_once_more_a_cycle_not_more(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    """The retries go to meters that were answering; a missing one costs two polls a cycle."""
    from tests.ekm.bus_helpers import host_frames  # noqa: PLC0415

    entry = bus_entry(
        ekm_bus.port,
        [meter_subentry(V4_ADDRESS, 4), meter_subentry(V3_ADDRESS, 3)],
        unavailable_after=1,
    )
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    ekm_bus.sim.unplug(V3_ADDRESS)

    counts = []
    for _ in range(coordinator.unavailable_after + 1):
        sent = len(host_frames(ekm_bus.sim))
        await coordinator.async_refresh()
        counts.append(
            sum(V3_ADDRESS.encode() in frame for frame in host_frames(ekm_bus.sim)[sent:])
        )
    assert counts[0] > counts[-1]  # while it was answering it got every retry
    assert counts[-1] <= 2 * 2  # silent for long: one poll and one retry (each tried twice)


async def test_the_first_cycle_after_an_outage_reads_block_a_and_owes_b_to_the_next(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """Every meter's live values and totals come back first; tariffs follow a cycle later."""
    from tests.ekm.bus_helpers import host_frames  # noqa: PLC0415

    bus = await start_sim_bus([(V4_ADDRESS, 4)])
    try:
        entry, tcp_port = await setup_over_tcp(hass, bus, [(V4_ADDRESS, 4)])
        coordinator = entry.runtime_data
        await take_the_port_away(bus, coordinator)
        await bus.sim.start_tcp(port=tcp_port)

        def blocks_read_in_a_cycle() -> set[bytes]:
            return {frame[14:16] for frame in host_frames(bus.sim)[sent:] if frame[:2] == b"/?"}

        sent = len(host_frames(bus.sim))
        await coordinator.async_refresh()
        assert coordinator.last_update_success
        assert blocks_read_in_a_cycle() == {b"00"}  # block A only
        sent = len(host_frames(bus.sim))
        await coordinator.async_refresh()
        assert blocks_read_in_a_cycle() == {b"00", b"01"}  # and the B it owed
    finally:
        await bus.sim.stop()
