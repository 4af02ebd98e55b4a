"""The Powersensor home in Home Assistant, against simulated plugs over UDP on 127.0.0.1."""

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator

import pytest
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_STATE_CHANGED, STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.typing import WebSocketGenerator
from syrupy.assertion import SnapshotAssertion

from custom_components.energy_local.powersensor import LinkTiming
from simulators.powersensor_plug import Simulation
from tests.conftest import FakePlugBrowser
from tests.ekm_bus.helpers import wait_for
from tests.powersensor_home.helpers import FAST, home_entry, plugs_of, start_sim, state_value

PLUG = "246f280487a4"
HOUSE = "bcddc247d1f5"
SOLAR = "bcddc247d289"
WATER = "bcddc247d338"
FROM_GRID_ENERGY = "sensor.household_from_grid_energy"
SOLAR_ENERGY = "sensor.household_solar_generation_energy"
HOME_ENERGY = "sensor.household_home_usage_energy"
FAST_LINK = LinkTiming(lease_s=5, renew_interval_s=1, silence_timeout_s=1.5, retry_unit_s=0.1)


@pytest.fixture
async def sim(socket_enabled: None) -> AsyncIterator[Simulation]:
    simulation = await start_sim()
    yield simulation
    await simulation.stop()


def _entity_ids(hass: HomeAssistant, entry_id: str) -> set[str]:
    return {e.entity_id for e in er.async_entries_for_config_entry(er.async_get(hass), entry_id)}


async def _setup(hass: HomeAssistant, sim: Simulation, **options: object) -> object:
    entry = home_entry(plugs_of(sim), **options)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def test_every_device_appears_with_its_entities(
    hass: HomeAssistant, sim: Simulation, snapshot: SnapshotAssertion
) -> None:
    entry = await _setup(hass, sim)
    await wait_for(lambda: state_value(hass, SOLAR_ENERGY) is not None, within=10)
    await wait_for(
        lambda: state_value(hass, "sensor.powersensor_water_sensor_47d338_water") is not None
    )
    registry = er.async_get(hass)
    entries = sorted(
        (e.unique_id, e.original_device_class, e.unit_of_measurement, e.entity_category,
         e.disabled_by, (e.capabilities or {}).get("state_class"))
        for e in er.async_entries_for_config_entry(registry, entry.entry_id)  # type: ignore[attr-defined]
    )  # fmt: skip
    assert entries == snapshot
    assert hass.states.get("sensor.powersensor_plug_0487a4_power") is not None
    assert hass.states.get("sensor.powersensor_mains_sensor_47d1f5_power") is not None
    role = hass.states.get("sensor.powersensor_solar_sensor_47d289_role")
    assert role is not None
    assert role.state == "solar"


async def test_solar_entities_appear_when_a_solar_sensor_does(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    simulation = await start_sim(dataclasses.replace(FAST, solar=False))
    try:
        entry = await _setup(hass, simulation)
        await wait_for(lambda: state_value(hass, FROM_GRID_ENERGY) is not None, within=10)
        assert SOLAR_ENERGY not in _entity_ids(hass, entry.entry_id)  # type: ignore[attr-defined]
        # A solar sensor joins the kit (its first report): entities follow, without a reload.
        from simulators.powersensor_plug import SOLAR_MAC, SimulatedSensor  # noqa: PLC0415

        simulation.sensors.append(SimulatedSensor(SOLAR_MAC, "solar", 1000, 1_770_530_454))
        await wait_for(lambda: state_value(hass, SOLAR_ENERGY) is not None, within=10)
        assert entry.state is ConfigEntryState.LOADED  # type: ignore[attr-defined]
    finally:
        await simulation.stop()


async def test_household_energy_survives_a_restart(hass: HomeAssistant, sim: Simulation) -> None:
    entry = await _setup(hass, sim, power_interval=0)
    await wait_for(lambda: (state_value(hass, HOME_ENERGY) or 0) > 0, within=10)
    home = entry.runtime_data  # type: ignore[attr-defined]
    assert await hass.config_entries.async_unload(entry.entry_id)  # type: ignore[attr-defined]
    before = {key: total.value for key, total in home.totals.items()}
    assert await hass.config_entries.async_setup(entry.entry_id)  # type: ignore[attr-defined]
    await hass.async_block_till_done()
    # Right after the restart, before any new reading, the totals are the stored ones.
    after = entry.runtime_data.totals  # type: ignore[attr-defined]
    assert {key: total.value for key, total in after.items()} == before
    restored = state_value(hass, HOME_ENERGY)
    assert restored == pytest.approx(before["household:home_usage"] / 3.6e6)
    await wait_for(lambda: (state_value(hass, HOME_ENERGY) or 0) > restored, within=10)


async def test_a_sensor_relayed_by_two_plugs_counts_once(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    from custom_components.energy_local.powersensor import HouseholdEnergy  # noqa: PLC0415

    simulation = await start_sim(dataclasses.replace(FAST, relay_all=True), plugs=2)
    try:
        entry = await _setup(hass, simulation)
        home = entry.runtime_data  # type: ignore[attr-defined]
        samples: list[tuple[str, int]] = []
        process = home.household.process

        def recording(event: object) -> tuple[object, ...]:
            out = process(event)
            samples.extend(
                (e.flow.value, e.timestamp_utc) for e in out if isinstance(e, HouseholdEnergy)
            )
            return out

        home.household.process = recording
        await wait_for(lambda: len(samples) >= 12, within=10)
        assert sum(c.stats.duplicates for c in home.clients.values()) > 0  # copies arrived
        sensors = [d for d in home.data.devices.values() if d.kind == "sensor"]
        assert len(sensors) == 3  # one device per sensor, whichever plug relays it
        # Every household sample (flow, start time) was produced once, not once per plug.
        assert len(samples) == len(set(samples))
    finally:
        await simulation.stop()


async def test_plug_reboot_keeps_totals_going_forward(
    hass: HomeAssistant, sim: Simulation, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custom_components.energy_local.powersensor_home import coordinator as powersensor_home  # noqa: PLC0415
    from custom_components.energy_local.powersensor_home import plugs as plugs_module  # noqa: PLC0415

    monkeypatch.setitem(powersensor_home.SILENCE, "plug", 0.3)
    monkeypatch.setattr(plugs_module, "LINK_TIMING", FAST_LINK)
    entry = await _setup(hass, sim)
    plug_energy = "sensor.powersensor_plug_0487a4_energy"
    await wait_for(lambda: state_value(hass, plug_energy) is not None, within=10)
    before = state_value(hass, plug_energy)
    assert before is not None
    reboot = hass.async_create_task(sim.plugs[0].reboot(1.0))
    home = entry.runtime_data  # type: ignore[attr-defined]
    home._check_silence()
    await wait_for(
        lambda: (
            (home._check_silence() or True)
            and hass.states.get("sensor.powersensor_plug_0487a4_power").state == STATE_UNAVAILABLE
        ),
        within=5,
    )
    await reboot
    await wait_for(
        lambda: hass.states.get("sensor.powersensor_plug_0487a4_power").state != STATE_UNAVAILABLE,
        within=15,
    )
    await wait_for(lambda: (state_value(hass, plug_energy) or 0) > before, within=10)


async def test_bad_streams_change_nothing(hass: HomeAssistant, socket_enabled: None) -> None:
    options = dataclasses.replace(
        FAST, malformed_every=2, duplicate_every=3, out_of_order_every=4, reset_every=5
    )
    simulation = await start_sim(options)
    try:
        entry = await _setup(hass, simulation)
        home = entry.runtime_data  # type: ignore[attr-defined]
        seen: dict[str, float] = {}

        def monotonic_totals() -> bool:
            for entity_id in (FROM_GRID_ENERGY, SOLAR_ENERGY, "sensor.household_home_usage_energy"):
                value = state_value(hass, entity_id)
                if value is None:
                    continue
                assert value >= seen.get(entity_id, 0.0), entity_id
                seen[entity_id] = value
            stats = next(iter(home.clients.values())).stats
            return stats.malformed_lines > 5 and stats.duplicates > 2 and len(seen) == 3

        await wait_for(monotonic_totals, within=15)
    finally:
        await simulation.stop()


async def test_unload_unsubscribes_and_closes_every_socket(
    hass: HomeAssistant, sim: Simulation
) -> None:
    sockets_before = _open_sockets()
    entry = await _setup(hass, sim)
    await wait_for(lambda: sim.plugs[0].subscriber_count == 1, within=5)
    assert FakePlugBrowser.instances[-1].started
    assert await hass.config_entries.async_unload(entry.entry_id)  # type: ignore[attr-defined]
    await wait_for(lambda: sim.plugs[0].subscriber_count == 0, within=5)  # subscribe(0) sent
    assert not FakePlugBrowser.instances[-1].started
    assert _open_sockets() <= sockets_before


def _open_sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            continue
    return count


async def test_power_and_energy_writes_keep_to_the_write_interval(
    hass: HomeAssistant, sim: Simulation, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 2-s interval is shorter than the gap before a large change: every write is on time.
    entry = await _setup(hass, sim, power_interval=2)
    power = "sensor.powersensor_plug_0487a4_power"
    energy = "sensor.powersensor_plug_0487a4_energy"
    await wait_for(lambda: state_value(hass, energy) is not None, within=10)
    home = entry.runtime_data  # type: ignore[attr-defined]
    client = home.clients[PLUG]
    writes: dict[str, int] = {power: 0, energy: 0}

    def count(event: Event[EventStateChangedData]) -> None:
        if event.data["entity_id"] in writes:
            writes[event.data["entity_id"]] += 1

    hass.bus.async_listen(EVENT_STATE_CHANGED, count)
    events0 = client.stats.events
    await asyncio.sleep(5.0)
    readings = (client.stats.events - events0) / 3  # power, components, summation
    assert readings > 40
    # One write per 2-s interval at most (the first may come at once): not one per reading.
    assert 1 <= writes[energy] <= 3
    assert writes[power] <= 3
    # What Home Assistant would restore is exact: the entity's value is the guarded total's.
    entity = hass.data["entity_components"]["sensor"].get_entity(energy)
    assert entity.native_value == home.totals[f"{PLUG}:energy"].value / 3.6e6


async def test_silent_sensors_go_unavailable_and_come_back(
    hass: HomeAssistant, sim: Simulation, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custom_components.energy_local.powersensor_home import coordinator as powersensor_home  # noqa: PLC0415

    monkeypatch.setitem(powersensor_home.SILENCE, "sensor", 0.3)
    entry = await _setup(hass, sim)
    home = entry.runtime_data  # type: ignore[attr-defined]
    mains = "sensor.powersensor_mains_sensor_47d1f5_power"
    await wait_for(lambda: state_value(hass, mains) is not None, within=10)
    await wait_for(lambda: state_value(hass, "sensor.household_home_usage_energy") is not None)
    sensors = list(sim.sensors)
    sim.sensors.clear()  # the sensors' batteries die

    def unavailable() -> bool:
        home._check_silence()
        return hass.states.get(mains).state == STATE_UNAVAILABLE

    await wait_for(unavailable, within=5)
    assert hass.states.get("sensor.household_home_usage_power").state == STATE_UNAVAILABLE
    assert state_value(hass, "sensor.household_home_usage_energy") is not None  # totals stay
    sim.sensors.extend(sensors)
    await wait_for(lambda: state_value(hass, mains) is not None, within=5)


async def test_a_plug_that_left_can_be_removed(
    hass: HomeAssistant,
    socket_enabled: None,
    hass_ws_client: WebSocketGenerator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from homeassistant.helpers import device_registry as dr  # noqa: PLC0415
    from homeassistant.setup import async_setup_component  # noqa: PLC0415

    from custom_components.energy_local.powersensor_home import coordinator as powersensor_home  # noqa: PLC0415

    monkeypatch.setitem(powersensor_home.SILENCE, "plug", 0.3)
    simulation = await start_sim(plugs=2)
    entry = await _setup(hass, simulation)
    home = entry.runtime_data  # type: ignore[attr-defined]
    second = simulation.plugs[1].mac
    await wait_for(
        lambda: second in home.data.devices and home.data.devices[second].available, within=5
    )
    assert await async_setup_component(hass, "config", {})
    device = dr.async_get(hass).async_get_device_by_identifier(
        ("energy_local", second),
        entry.entry_id,  # type: ignore[attr-defined]
    )
    assert device is not None
    client = await hass_ws_client(hass)

    async def remove() -> bool:
        await client.send_json_auto_id(
            {
                "type": "config/device_registry/remove_config_entry",
                "config_entry_id": entry.entry_id,  # type: ignore[attr-defined]
                "device_id": device.id,
            }
        )
        return bool((await client.receive_json())["success"])

    assert not await remove()  # still sending: it would come straight back
    await simulation.plugs[1].stop()  # unplugged for good

    def gone() -> bool:
        home._check_silence()
        return not home.data.devices[second].available

    await wait_for(gone, within=5)
    assert await remove()
    assert second not in entry.data["plugs"]  # type: ignore[attr-defined]
    assert second not in home.clients
    await simulation.stop()
