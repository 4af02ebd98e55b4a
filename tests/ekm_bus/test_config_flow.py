"""Config, options, reconfigure and meter-subentry flows, every error and its recovery."""

import asyncio
import errno
import json
import socket
from unittest.mock import patch

import pytest
from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.energy_local.const import DOMAIN
from custom_components.energy_local.ekm import EkmBus
from custom_components.energy_local.ekm_bus.const import CONF_PORT, SUBENTRY_METER
from tests.ekm_bus.helpers import (
    ROOT,
    V3_ADDRESS,
    V4_ADDRESS,
    SimBus,
    bus_entry,
    meter_subentry,
    setup_entry,
)

PULSES_NONE = {
    "pulse_1_kind": "water",
    "pulse_1_factor": 10.0,
    "pulse_2_kind": "none",
    "pulse_2_factor": 1,
    "pulse_3_kind": "gas",
    "pulse_3_factor": 0.01,
}


async def _start(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["ekm_bus", "ekm_readloop", "powersensor"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "ekm_bus"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "ekm_bus"
    return result["flow_id"]


async def test_user_flow_creates_a_bus(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_PORT: ekm_bus.port})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {"entry_type": "ekm_bus", CONF_PORT: ekm_bus.port}
    assert result["title"] == f"EKM bus {ekm_bus.port}"
    await hass.async_block_till_done()
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert entry.state is ConfigEntryState.LOADED


async def test_port_not_found_then_recovery(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_PORT: "/dev/ttyEKM-missing"}
    )
    assert result["errors"] == {CONF_PORT: "port_not_found"}
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_PORT: ekm_bus.port})
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_busy_port(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    holder = EkmBus(ekm_bus.port)
    await holder.open()  # serialx locks the port exclusively
    try:
        flow_id = await _start(hass)
        result = await hass.config_entries.flow.async_configure(flow_id, {CONF_PORT: ekm_bus.port})
        assert result["errors"] == {CONF_PORT: "port_busy"}
    finally:
        await holder.close()
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_PORT: ekm_bus.port})
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize(
    ("error", "key"),
    [
        (PermissionError(errno.EACCES, "Permission denied"), "permission_denied"),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "host_not_found"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), "cannot_connect"),
    ],
)
async def test_open_errors_are_translated(
    hass: HomeAssistant, ekm_bus: SimBus, error: OSError, key: str
) -> None:
    flow_id = await _start(hass)
    with patch("serialx.create_serial_connection", side_effect=error):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {CONF_PORT: "socket://converter.example:4001"}
        )
    assert result["errors"] == {CONF_PORT: key}
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_PORT: ekm_bus.port})
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_same_port_twice_is_refused(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    await setup_entry(hass, bus_entry(ekm_bus.port, []))
    flow_id = await _start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_PORT: ekm_bus.port})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reconfigure_moves_the_bus(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    entry = bus_entry("/dev/ttyEKM-old", [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORT: "/dev/ttyEKM-also-missing"}
    )
    assert result["errors"] == {CONF_PORT: "port_not_found"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORT: ekm_bus.port}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_PORT] == ekm_bus.port
    assert entry.state is ConfigEntryState.LOADED
    assert len(entry.subentries) == 1


async def test_reconfigure_to_the_same_port(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    entry = bus_entry(ekm_bus.port, [])
    await setup_entry(hass, entry)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PORT: ekm_bus.port}
    )
    assert result["reason"] == "reconfigure_successful"


async def test_options_flow(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    entry = bus_entry(ekm_bus.port, [])
    await setup_entry(hass, entry)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "init"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"poll_interval": 15, "block_b_every": 3, "unavailable_after": 5}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {"poll_interval": 15, "block_b_every": 3, "unavailable_after": 5}
    assert entry.runtime_data.unavailable_after == 5  # applied without a reload


async def _meter_flow(hass: HomeAssistant, entry_id: str) -> str:
    result = await hass.config_entries.subentries.async_init(
        (entry_id, SUBENTRY_METER), context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    return result["flow_id"]


async def test_add_meters_detecting_versions(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    entry = bus_entry(ekm_bus.port, [])
    await setup_entry(hass, entry)
    for address, version in ((300001285, 4), ("10006388", 3)):
        flow_id = await _meter_flow(hass, entry.entry_id)
        result = await hass.config_entries.subentries.async_configure(
            flow_id, {"address": str(address), "version": "auto", **PULSES_NONE}
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["data"]["version"] == version
        assert result["data"]["password"] == "00000000"
        assert result["data"]["pulse_inputs"][0] == {"kind": "water", "factor": 10.0}
        await hass.async_block_till_done()  # the bus reloads with the new meter
    assert {s.unique_id for s in entry.subentries.values()} == {V4_ADDRESS, V3_ADDRESS}
    # The bus reloaded with both meters.
    assert len(entry.runtime_data.meters) == 2
    assert hass.states.get("sensor.omnimeter_300001285_water_input_1") is not None


async def test_meter_flow_errors_and_recovery(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V3_ADDRESS, 3)])
    await setup_entry(hass, entry)
    flow_id = await _meter_flow(hass, entry.entry_id)
    for address, error in (
        ("12x", {"address": "invalid_address"}),
        ("10006388", {"address": "already_configured"}),
        ("999", {"base": "meter_not_responding"}),
    ):
        result = await hass.config_entries.subentries.async_configure(
            flow_id, {"address": address, "version": "auto", **PULSES_NONE}
        )
        assert result["errors"] == error, address
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"address": V4_ADDRESS, "version": "4", "password": "12345678", **PULSES_NONE}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["password"] == "12345678"


async def test_meter_flow_on_a_bus_that_is_not_running(hass: HomeAssistant) -> None:
    entry = bus_entry("/dev/ttyEKM-missing", [])
    await setup_entry(hass, entry)
    flow_id = await _meter_flow(hass, entry.entry_id)
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"address": V4_ADDRESS, "version": "auto", **PULSES_NONE}
    )
    assert result["errors"] == {"base": "bus_not_ready"}


async def test_meter_flow_when_the_port_fails(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    entry = bus_entry(ekm_bus.port, [])
    await setup_entry(hass, entry)
    flow_id = await _meter_flow(hass, entry.entry_id)
    await ekm_bus.sim.stop()  # the adapter is unplugged: its device node goes
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"address": V4_ADDRESS, "version": "auto", **PULSES_NONE}
    )
    assert result["errors"] == {"base": "bus_not_ready"}


async def test_a_meter_added_while_the_bus_reloads(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    """Meters added back to back: the second flow waits for the reload the first started.

    It must neither fail nor read through the unloaded bus (which would take the port away
    from the bus that replaces it).
    """
    entry = bus_entry(ekm_bus.port, [])
    await setup_entry(hass, entry)
    old = entry.runtime_data
    flow_id = await _meter_flow(hass, entry.entry_id)
    hass.config_entries.async_schedule_reload(entry.entry_id)
    async with asyncio.timeout(5):
        while old.bus.is_open or entry.state is ConfigEntryState.LOADED:  # noqa: ASYNC110
            await asyncio.sleep(0)
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"address": V4_ADDRESS, "version": "auto", **PULSES_NONE}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is not old
    assert not old.bus.is_open
    assert V4_ADDRESS in {meter.address for meter in entry.runtime_data.meters.values()}
    assert hass.states.get("sensor.omnimeter_300001285_power").state != "unavailable"


async def test_reconfigure_a_meter(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4, password="11111111")])
    await setup_entry(hass, entry)
    subentry = next(iter(entry.subentries.values()))
    result = await entry.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"version": "auto", **PULSES_NONE}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    data = entry.subentries[subentry.subentry_id].data
    assert data["version"] == 4
    assert data["password"] == "11111111"  # kept when left empty
    assert data["pulse_inputs"][2] == {"kind": "gas", "factor": 0.01}


async def test_reconfigure_a_meter_that_stopped_answering(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    subentry = next(iter(entry.subentries.values()))
    ekm_bus.meter(V4_ADDRESS).silent = True
    result = await entry.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"version": "4", "password": "22222222", **PULSES_NONE}
    )
    assert result["errors"] == {"base": "meter_not_responding"}
    ekm_bus.meter(V4_ADDRESS).silent = False
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"version": "4", "password": "22222222", **PULSES_NONE}
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.subentries[subentry.subentry_id].data["password"] == "22222222"


# Fullwidth digits are digits to str.isdigit(), not to a meter.
BAD_PASSWORDS = ("abc", "1234567", "123456789", "1234567a", "\uff11" * 8)


async def test_add_meter_refuses_a_password_a_meter_would_refuse(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    entry = bus_entry(ekm_bus.port, [])
    await setup_entry(hass, entry)
    flow_id = await _meter_flow(hass, entry.entry_id)
    ekm_bus.sim.transcript.clear()
    for password in BAD_PASSWORDS:
        result = await hass.config_entries.subentries.async_configure(
            flow_id, {"address": V4_ADDRESS, "version": "4", "password": password, **PULSES_NONE}
        )
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {"password": "invalid_password"}, password
        assert password not in _shown(result)
    assert not ekm_bus.sim.transcript  # refused before anything went on the bus
    result = await hass.config_entries.subentries.async_configure(
        flow_id, {"address": V4_ADDRESS, "version": "4", "password": "87654321", **PULSES_NONE}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["password"] == "87654321"


async def test_reconfigure_refuses_a_password_a_meter_would_refuse(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4, password="11111111")])
    await setup_entry(hass, entry)
    subentry = next(iter(entry.subentries.values()))
    result = await entry.start_subentry_reconfigure_flow(hass, subentry.subentry_id)
    for password in BAD_PASSWORDS:
        result = await hass.config_entries.subentries.async_configure(
            result["flow_id"], {"version": "4", "password": password, **PULSES_NONE}
        )
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "reconfigure"
        assert result["errors"] == {"password": "invalid_password"}, password
        assert password not in _shown(result)
        assert entry.subentries[subentry.subentry_id].data["password"] == "11111111"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"version": "4", "password": "22222222", **PULSES_NONE}
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.subentries[subentry.subentry_id].data["password"] == "22222222"


def test_invalid_password_error_is_translated() -> None:
    strings = json.loads((ROOT / "custom_components/energy_local/strings.json").read_text())
    error = strings["config_subentries"]["meter"]["error"]["invalid_password"]
    assert "8 digits" in error


def _shown(result: object) -> str:
    """What a form result shows the user (not the schema objects, whose reprs hold addresses)."""
    assert isinstance(result, dict)
    return repr({key: result.get(key) for key in ("errors", "description_placeholders", "reason")})
