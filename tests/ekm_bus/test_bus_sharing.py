"""How a bus shares the event loop and its wire: batched entity updates, commands first."""

import asyncio
from collections import Counter
from functools import partial
from itertools import pairwise

from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_TURN_ON, STATE_ON
from homeassistant.core import HomeAssistant

from custom_components.energy_local.ekm_bus.coordinator import FAN_OUT_BATCH, EkmBusCoordinator
from simulators.ekm_bus import Direction
from tests.ekm_bus.helpers import (
    V4_ADDRESS,
    SimBus,
    bus_entry,
    meter_subentry,
    setup_entry,
    start_sim_bus,
    wait_for,
)

OTHERS = ["000300001286", "000300001287"]
RELAY_1 = "switch.omnimeter_300001285_relay_1"
LISTENERS = 3 * FAN_OUT_BATCH


async def _coordinator(hass: HomeAssistant, bus: SimBus) -> EkmBusCoordinator:
    entry = bus_entry(bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    coordinator: EkmBusCoordinator = entry.runtime_data
    return coordinator


async def test_entities_hear_of_new_data_a_batch_per_loop_callback(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    coordinator = await _coordinator(hass, ekm_bus)
    told: list[int] = []
    for index in range(LISTENERS):
        coordinator.async_add_listener(partial(told.append, index))
    coordinator.async_update_listeners()
    # The meter's own entities come first: none of ours in the first batch.
    seen = [len(told)]
    assert seen[0] < LISTENERS
    while len(told) < LISTENERS:
        await asyncio.sleep(0)
        seen.append(len(told))
    assert max(after - before for before, after in pairwise(seen)) <= FAN_OUT_BATCH
    assert sorted(told) == list(range(LISTENERS))


async def test_a_newer_update_replaces_a_fan_out_still_running(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    coordinator = await _coordinator(hass, ekm_bus)
    told: list[int] = []
    for index in range(LISTENERS):
        coordinator.async_add_listener(partial(told.append, index))
    coordinator.async_update_listeners()
    await asyncio.sleep(0)  # the first batch
    coordinator.async_update_listeners()
    await hass.async_block_till_done()
    counts = Counter(told)
    # Everyone heard the newer update; the older one never went past its first batch.
    assert set(counts) == set(range(LISTENERS))
    assert all(counts[index] == 1 for index in range(FAN_OUT_BATCH, LISTENERS))


async def test_a_command_and_its_read_back_go_before_the_polls_next_meter(
    hass: HomeAssistant,
) -> None:
    # Paced, so the poll is still on the first meter when the switch is called.
    bus = await start_sim_bus([(V4_ADDRESS, 4), *((address, 4) for address in OTHERS)], paced=True)
    try:
        entry = bus_entry(bus.port, [meter_subentry(a, 4) for a in [V4_ADDRESS, *OTHERS]])
        await setup_entry(hass, entry)
        coordinator: EkmBusCoordinator = entry.runtime_data
        bus.sim.transcript.clear()
        poll = hass.async_create_task(coordinator.async_refresh())
        await wait_for(lambda: len(bus.sim.transcript) > 0)
        await hass.services.async_call(
            SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: RELAY_1}, blocking=True
        )
        assert hass.states.get(RELAY_1).state == STATE_ON
        await poll
        host = [e.data for e in bus.sim.transcript if e.direction is Direction.HOST]
        write = next(i for i, frame in enumerate(host) if frame.startswith(b"\x01W1"))
        # write, close, then the read-back of the switched meter: not the next meter's poll.
        assert host[write + 1] == b"\x01B0\x03u"
        assert host[write + 2].startswith(b"/?" + V4_ADDRESS.encode())
        # And the poll went on with the other meters afterwards.
        assert any(frame.startswith(b"/?" + OTHERS[0].encode()) for frame in host[write:])
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await bus.sim.stop()
