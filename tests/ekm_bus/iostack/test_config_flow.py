"""The ioStack subentry flow: read before adding, every error, install failure, socket:// buses."""

from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any
from unittest.mock import AsyncMock, patch

import pytest
from homeassistant import config_entries
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.requirements import RequirementsNotFound

from custom_components.energy_local.const import DOMAIN
from custom_components.energy_local.ekm_bus.const import SUBENTRY_IOSTACK
from custom_components.energy_local.ekm_bus.iostack.backend import (
    EKMDEVICE_REQUIREMENT,
    ISSUE_BACKEND_MISSING,
)
from tests.ekm_bus.helpers import V4_ADDRESS, SimBus, bus_entry, meter_subentry, setup_entry
from tests.ekm_bus.iostack.helpers import (
    IOSTACK_ADDRESS,
    forget_ekmdevice,
    iostack_subentry,
    start_tcp_bus,
)

PROCESS = "custom_components.energy_local.ekm_bus.iostack.backend.async_process_requirements"
METER_POWER = "sensor.omnimeter_300001285_power"

INPUTS: dict[str, Any] = {
    "pulse_1_kind": "water",
    "pulse_1_factor": 1.0,
    "pulse_2_kind": "gas",
    "pulse_2_factor": 0.01,
    "pulse_3_kind": "energy",
    "pulse_3_factor": 0.001,
    "pulse_4_kind": "none",
    "pulse_4_factor": 1,
    "analog_1_scale": 0.001,
    "analog_1_offset": 0,
    "analog_1_unit": " V ",
    **{f"analog_{n}_scale": 1 for n in (2, 3, 4)},
    **{f"analog_{n}_offset": 0 for n in (2, 3, 4)},
}


async def _iostack_flow(hass: HomeAssistant, entry_id: str) -> str:
    result = await hass.config_entries.subentries.async_init(
        (entry_id, SUBENTRY_IOSTACK), context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["description_placeholders"] == {"requirement": EKMDEVICE_REQUIREMENT}
    return result["flow_id"]


async def test_add_an_iostack(
    hass: HomeAssistant, ekm_bus: SimBus, ekmdevice_standin: ModuleType
) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    flow_id = await _iostack_flow(hass, entry.entry_id)
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"address": "1", "name": " Boiler room "}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "inputs"
    assert result["description_placeholders"] == {
        "address": IOSTACK_ADDRESS,
        "firmware": "99.2",
        "one_wire": "1.1, 2.1, 3.1, 4.1",
    }
    # It was read through ekmdevice, on the bus's own port, which the bus had lent it.
    assert ("create_serial_port", ekm_bus.port, "iostack") in ekmdevice_standin.calls
    assert ("get_status", IOSTACK_ADDRESS) in ekmdevice_standin.calls
    assert ("read_data", IOSTACK_ADDRESS) in ekmdevice_standin.calls
    result = await hass.config_entries.subentries.async_configure(flow_id, INPUTS)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Boiler room"
    assert result["data"]["address"] == IOSTACK_ADDRESS
    assert result["data"]["name"] == "Boiler room"
    assert result["data"]["pulse_inputs"] == [
        {"kind": "water", "factor": 1.0},
        {"kind": "gas", "factor": 0.01},
        {"kind": "energy", "factor": 0.001},
        {"kind": "none", "factor": 1.0},
    ]
    assert result["data"]["analog_inputs"][0] == {"scale": 0.001, "offset": 0.0, "unit": "V"}
    assert result["data"]["analog_inputs"][3] == {"scale": 1.0, "offset": 0.0, "unit": ""}
    await hass.async_block_till_done()  # the bus reloads with the ioStack
    assert len(entry.runtime_data.iostacks) == 1
    assert {s.unique_id for s in entry.subentries.values()} == {V4_ADDRESS, "iostack_000000000001"}
    assert hass.states.get("sensor.boiler_room_water_input_1") is not None
    assert hass.states.get("sensor.boiler_room_analog_input_1").state == "2.405"
    assert hass.states.get(METER_POWER).state != STATE_UNAVAILABLE


async def test_iostack_flow_errors_and_recovery(
    hass: HomeAssistant, ekm_bus: SimBus, ekmdevice_standin: ModuleType
) -> None:
    entry = bus_entry(ekm_bus.port, [iostack_subentry("000000000007")])
    await setup_entry(hass, entry)
    flow_id = await _iostack_flow(hass, entry.entry_id)
    for address, error in (
        ("1x", {"address": "invalid_address"}),
        ("7", {"address": "iostack_already_configured"}),
        ("2", {"base": "iostack_not_responding"}),
    ):
        result = await hass.config_entries.subentries.async_configure(flow_id, {"address": address})
        assert result["errors"] == error, address
    ekmdevice_standin.port_error = OSError(16, "Device or resource busy")
    result = await hass.config_entries.subentries.async_configure(flow_id, {"address": "1"})
    assert result["errors"] == {"base": "iostack_port_error"}
    ekmdevice_standin.port_error = None
    ekmdevice_standin.devices[IOSTACK_ADDRESS].ow_thl = []  # no one-wire sensor plugged in
    result = await hass.config_entries.subentries.async_configure(flow_id, {"address": "1"})
    assert result["step_id"] == "inputs"
    assert result["description_placeholders"]["one_wire"] == "none"
    result = await hass.config_entries.subentries.async_configure(flow_id, INPUTS)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "ioStack 1"
    assert "name" not in result["data"]


async def test_iostack_flow_on_a_bus_that_is_not_running(
    hass: HomeAssistant, ekmdevice_standin: ModuleType
) -> None:
    entry = bus_entry("/dev/ttyEKM-missing", [])
    await setup_entry(hass, entry)
    flow_id = await _iostack_flow(hass, entry.entry_id)
    result = await hass.config_entries.subentries.async_configure(flow_id, {"address": "1"})
    assert result["errors"] == {"base": "bus_not_ready"}


async def test_install_failure_aborts_and_meters_keep_working(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    forget_ekmdevice()  # not installed
    hass.config.skip_pip = False
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    flow_id = await _iostack_flow(hass, entry.entry_id)
    failure = RequirementsNotFound(DOMAIN, [EKMDEVICE_REQUIREMENT])
    with patch(PROCESS, AsyncMock(side_effect=failure)) as process:
        result = await hass.config_entries.subentries.async_configure(flow_id, {"address": "1"})
    process.assert_awaited_once_with(hass, DOMAIN, [EKMDEVICE_REQUIREMENT])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "ekmdevice_unavailable"
    assert result["description_placeholders"] == {"requirement": EKMDEVICE_REQUIREMENT}
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_BACKEND_MISSING) is not None
    assert not [s for s in entry.subentries.values() if s.subentry_type == SUBENTRY_IOSTACK]
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert entry.runtime_data.last_update_success
    assert hass.states.get(METER_POWER).state != STATE_UNAVAILABLE


@pytest.fixture
async def tcp_bus(socket_enabled: None) -> AsyncIterator[str]:
    """A simulated bus behind a serial-over-TCP converter: its socket:// address."""
    sim, url = await start_tcp_bus()
    yield url
    await sim.stop()


async def test_a_socket_bus_is_refused_clearly(
    hass: HomeAssistant, tcp_bus: str, ekmdevice_standin: ModuleType
) -> None:
    entry = bus_entry(tcp_bus, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    assert hass.states.get(METER_POWER).state != STATE_UNAVAILABLE
    flow_id = await _iostack_flow(hass, entry.entry_id)
    result = await hass.config_entries.subentries.async_configure(flow_id, {"address": "1"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "iostack_port_unsupported"
    assert result["description_placeholders"]["port"] == tcp_bus
    assert tcp_bus in result["description_placeholders"]["error"]
    # The bus took its port back: the meter is still read.
    await entry.runtime_data.async_refresh()
    await hass.async_block_till_done()
    assert entry.runtime_data.last_update_success
    assert hass.states.get(METER_POWER).state != STATE_UNAVAILABLE


async def test_reconfigure_an_iostack(
    hass: HomeAssistant, ekm_bus: SimBus, ekmdevice_standin: ModuleType
) -> None:
    entry = bus_entry(ekm_bus.port, [iostack_subentry(name="Shed")])
    await setup_entry(hass, entry)
    subentry = next(iter(entry.subentries.values()))
    result = await entry.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
    assert result["step_id"] == "reconfigure"
    assert result["description_placeholders"] == {"address": IOSTACK_ADDRESS}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Garage", **INPUTS}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    updated = entry.subentries[subentry.subentry_id]
    assert updated.title == "Garage"
    assert updated.data["address"] == IOSTACK_ADDRESS
    assert updated.data["pulse_inputs"][1] == {"kind": "gas", "factor": 0.01}
    # The bus reloaded: the reconfigured input is a gas total now.
    iostack = entry.runtime_data.iostacks[subentry.subentry_id]
    assert iostack.pulse_inputs[1].kind == "gas"
    assert iostack.analog_inputs[0].unit == "V"
    assert hass.states.get("sensor.garage_gas_input_2") is not None

    # The form shows what is stored; an empty name falls back to the address.
    result = await entry.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
    schema = result["data_schema"].schema
    defaults = {str(key): key.default() for key in schema if callable(key.default)}
    assert defaults["pulse_2_kind"] == "gas"
    assert defaults["analog_1_scale"] == 0.001
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "", **INPUTS}
    )
    await hass.async_block_till_done()
    assert entry.subentries[subentry.subentry_id].title == "ioStack 1"
