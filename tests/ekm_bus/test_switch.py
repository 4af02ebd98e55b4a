"""Relay switches and the actions, end to end through the simulated meter."""

from datetime import timedelta
from unittest.mock import patch

import pytest
from homeassistant.components.switch import DOMAIN as SWITCH_DOMAIN
from homeassistant.const import (
    ATTR_ENTITY_ID,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_OFF,
    STATE_ON,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.energy_local.const import DOMAIN
from simulators.ekm_bus import Direction
from tests.ekm_bus.helpers import (
    V3_ADDRESS,
    V4_ADDRESS,
    SimBus,
    bus_entry,
    meter_subentry,
    setup_entry,
    wait_for,
)

RELAY_1 = "switch.omnimeter_300001285_relay_1"
RELAY_2 = "switch.omnimeter_300001285_relay_2"


def _frames(bus: SimBus) -> list[bytes]:
    return [entry.data for entry in bus.sim.transcript if entry.direction is Direction.HOST]


async def _setup(hass: HomeAssistant, bus: SimBus, password: str = "00000000") -> None:
    entry = bus_entry(
        bus.port, [meter_subentry(V4_ADDRESS, 4, password=password), meter_subentry(V3_ADDRESS, 3)]
    )
    await setup_entry(hass, entry)


async def test_switch_runs_the_command_session_and_shows_state_out(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    await _setup(hass, ekm_bus)
    assert hass.states.get(RELAY_1).state == STATE_OFF
    ekm_bus.sim.transcript.clear()
    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: RELAY_1}, blocking=True
    )
    assert ekm_bus.meter(V4_ADDRESS).relay_closed == [True, False]
    assert hass.states.get(RELAY_1).state == STATE_ON  # read back from State_Out
    assert hass.states.get(RELAY_2).state == STATE_OFF
    host = _frames(ekm_bus)
    # read A -> password -> write -> close, then the read-back (A only) and its close.
    assert host[0] == b"/?00030000128500!\r\n"
    assert host[1].startswith(b"\x01P1\x02(00000000)")
    assert host[2].startswith(b"\x01W1\x020081(10000)")
    assert host[3] == b"\x01B0\x03u"
    assert host[4] == b"/?00030000128500!\r\n"

    await hass.services.async_call(
        SWITCH_DOMAIN, SERVICE_TURN_OFF, {ATTR_ENTITY_ID: RELAY_1}, blocking=True
    )
    assert ekm_bus.meter(V4_ADDRESS).relay_closed == [False, False]
    assert hass.states.get(RELAY_1).state == STATE_OFF


async def test_close_relay_for_lets_the_meter_time_it(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    await _setup(hass, ekm_bus)
    await hass.services.async_call(
        DOMAIN, "close_relay_for", {ATTR_ENTITY_ID: RELAY_2, "seconds": 30}, blocking=True
    )
    assert hass.states.get(RELAY_2).state == STATE_ON
    ekm_bus.clock.advance(31)
    await hass.config_entries.async_entries(DOMAIN)[0].runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(RELAY_2).state == STATE_OFF


async def test_wrong_password_raises_and_files_a_repair(
    hass: HomeAssistant, ekm_bus: SimBus, issue_registry: ir.IssueRegistry
) -> None:
    await _setup(hass, ekm_bus, password="12345678")
    with pytest.raises(HomeAssistantError) as info:
        await hass.services.async_call(
            SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: RELAY_1}, blocking=True
        )
    assert info.value.translation_key == "password_refused"
    assert ekm_bus.meter(V4_ADDRESS).relay_closed == [False, False]  # the write was never sent
    assert any(i.translation_key == "password_refused" for i in issue_registry.issues.values())
    assert hass.states.get(RELAY_1).state == STATE_OFF


async def test_a_silent_meter_fails_the_command(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    await _setup(hass, ekm_bus)
    ekm_bus.meter(V4_ADDRESS).silent = True
    with pytest.raises(HomeAssistantError) as info:
        await hass.services.async_call(
            SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: RELAY_1}, blocking=True
        )
    assert info.value.translation_key == "meter_unreachable"


async def test_a_refused_write(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    await _setup(hass, ekm_bus)
    # The meter NAKs the write: the command fails and the session is still closed.
    with (
        patch("simulators.ekm_bus.simulator.apply_write", return_value=False),
        pytest.raises(HomeAssistantError) as info,
    ):
        await hass.services.async_call(
            SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: RELAY_1}, blocking=True
        )
    assert info.value.translation_key == "command_refused"
    await wait_for(lambda: _frames(ekm_bus)[-1] == b"\x01B0\x03u")  # the session was closed


def _device(hass: HomeAssistant, address: str) -> str:
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, address), entry.entry_id)
    assert device is not None
    return device.id


async def test_set_meter_time(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    await _setup(hass, ekm_bus)
    meter = ekm_bus.meter(V3_ADDRESS)
    meter.set_meter_time(meter.meter_time().replace(year=2030))
    await hass.services.async_call(
        DOMAIN, "set_meter_time", {"device_id": _device(hass, V3_ADDRESS)}, blocking=True
    )
    assert meter.meter_time().year != 2030


async def test_reset_resettable_energy_is_a_real_reset(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    await _setup(hass, ekm_bus)
    resettable = "sensor.omnimeter_300001285_resettable_energy_import"
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    # The entity is disabled by default; the guard logic is what matters: read the value.
    before = entry.runtime_data.data[next(iter(entry.runtime_data.meters))].reading
    assert before is not None
    assert before.values["kWh_Rst"] > 0
    await hass.services.async_call(
        DOMAIN, "reset_resettable_energy", {"device_id": _device(hass, V4_ADDRESS)}, blocking=True
    )
    after = entry.runtime_data.data[next(iter(entry.runtime_data.meters))].reading
    assert after is not None
    assert after.values["kWh_Rst"] == 0
    assert hass.states.get(resettable) is None  # disabled by default


async def test_reset_max_demand(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    await _setup(hass, ekm_bus)
    meter = ekm_bus.meter(V4_ADDRESS)
    meter.max_demand_w = 9999.0  # an old peak
    await hass.services.async_call(
        DOMAIN, "reset_max_demand", {"device_id": _device(hass, V4_ADDRESS)}, blocking=True
    )
    assert meter.max_demand_w == 2700.0  # restarted from the current load


async def test_actions_validate_their_target(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    await _setup(hass, ekm_bus)
    with pytest.raises(ServiceValidationError) as info:
        await hass.services.async_call(
            DOMAIN,
            "reset_resettable_energy",
            {"device_id": _device(hass, V3_ADDRESS)},
            blocking=True,
        )
    assert info.value.translation_key == "needs_v4"
    with pytest.raises(ServiceValidationError) as info:
        await hass.services.async_call(
            DOMAIN, "set_meter_time", {"device_id": "no-such-device"}, blocking=True
        )
    assert info.value.translation_key == "not_a_meter"


@pytest.mark.parametrize("seconds", [1, 2])
async def test_close_relay_for_shows_the_revert_when_the_meter_reverts(
    hass: HomeAssistant, ekm_bus: SimBus, seconds: int
) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)], poll_interval=3600)
    await setup_entry(hass, entry)
    coordinator = entry.runtime_data
    cycles = coordinator.diagnostics.cycles
    await hass.services.async_call(
        DOMAIN, "close_relay_for", {ATTR_ENTITY_ID: RELAY_2, "seconds": seconds}, blocking=True
    )
    assert hass.states.get(RELAY_2).state == STATE_ON
    ekm_bus.clock.advance(seconds)  # the meter opens the relay itself
    assert ekm_bus.meter(V4_ADDRESS).relays() == (False, False)
    # Just before the read-back is due, the switch still shows what the meter last said.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds + 0.2))
    await hass.async_block_till_done()
    assert hass.states.get(RELAY_2).state == STATE_ON
    # Within a second of the revert, with no poll in between: the meter was read back.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds + 1))
    await hass.async_block_till_done()
    # (A loaded machine may need the read-back's own retry: allow it time, not a poll.)
    await wait_for(lambda: hass.states.get(RELAY_2).state == STATE_OFF, within=10)
    assert coordinator.diagnostics.cycles == cycles


async def test_an_invalid_stored_password_never_reaches_the_bus(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    """A password stored before the flows checked it: a translated error, not a traceback."""
    await _setup(hass, ekm_bus, password="abc")
    ekm_bus.sim.transcript.clear()
    with pytest.raises(HomeAssistantError) as info:
        await hass.services.async_call(
            SWITCH_DOMAIN, SERVICE_TURN_ON, {ATTR_ENTITY_ID: RELAY_1}, blocking=True
        )
    assert info.value.translation_key == "invalid_command"
    assert info.value.translation_domain == DOMAIN
    assert "abc" not in str(info.value)
    assert "abc" not in str(info.value.translation_placeholders)
    assert not any(frame.startswith(b"\x01P1") for frame in _frames(ekm_bus))
    assert ekm_bus.meter(V4_ADDRESS).relay_closed == [False, False]
    assert hass.states.get(RELAY_1).state == STATE_OFF
