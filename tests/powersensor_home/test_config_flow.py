"""Powersensor flows: zeroconf discovery, manual add, errors, plugs joining, address changes."""

import json
import socket
from collections.abc import AsyncIterator
from ipaddress import ip_address
from pathlib import Path
from unittest.mock import patch

import pytest
from homeassistant import config_entries
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo

from custom_components.energy_local.const import DOMAIN
from simulators.powersensor_plug import Simulation
from tests.ekm_bus.helpers import wait_for
from tests.powersensor_home.helpers import home_entry, plugs_of, start_sim

PLUG = "246f280487a4"


@pytest.fixture
async def sim(socket_enabled: None) -> AsyncIterator[Simulation]:
    simulation = await start_sim()
    yield simulation
    await simulation.stop()


def _zeroconf(mac: str | None, port: int, host: str = "127.0.0.1") -> ZeroconfServiceInfo:
    return ZeroconfServiceInfo(
        ip_address=ip_address(host),
        ip_addresses=[ip_address(host)],
        hostname=f"Powersensor-{mac}.local.",
        name=f"Powersensor-{mac}._powersensor._udp.local.",
        port=port,
        type="_powersensor._udp.local.",
        properties={"id": mac} if mac else {},
    )


async def test_zeroconf_discovery_creates_the_home(hass: HomeAssistant, sim: Simulation) -> None:
    port = sim.plugs[0].port
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=_zeroconf(PLUG, port)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "zeroconf_confirm"
    assert result["description_placeholders"] == {"mac": PLUG, "host": "127.0.0.1"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        "entry_type": "powersensor",
        "plugs": {PLUG: {"host": "127.0.0.1", "port": port}},
    }
    await hass.async_block_till_done()
    await wait_for(lambda: hass.states.get("sensor.powersensor_plug_0487a4_power") is not None)


async def test_old_firmware_without_id_is_refused(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=_zeroconf(None, 49476)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_plug_id"


async def test_discovered_plugs_join_and_moved_plugs_update(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    simulation = await start_sim(plugs=2)
    try:
        first, second = plugs_of(simulation)
        entry = home_entry([first])
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        home = entry.runtime_data
        # A second plug is discovered later: it joins without a new setup.
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=_zeroconf(*second)
        )
        assert result["reason"] == "already_configured"
        await hass.async_block_till_done()
        assert set(entry.data["plugs"]) == {first[0], second[0]}
        await wait_for(
            lambda: second[0] in home.clients and home.data.devices[second[0]].available, 5
        )
        # The first plug shows up at a new address (here: its TCP twin port is not it; move
        # it to the second plug's port to see the address follow discovery).
        result = await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": config_entries.SOURCE_ZEROCONF},
            data=_zeroconf(first[0], second[1]),
        )
        assert result["reason"] == "already_configured"
        await hass.async_block_till_done()
        assert entry.data["plugs"][first[0]] == {"host": "127.0.0.1", "port": second[1]}
        assert home.plugs.addresses[first[0]] == ("127.0.0.1", second[1])
        # The same plug announced again at the same address changes nothing.
        result = await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": config_entries.SOURCE_ZEROCONF},
            data=_zeroconf(first[0], second[1]),
        )
        assert result["reason"] == "already_configured"
    finally:
        await simulation.stop()


async def test_a_plug_found_by_the_home_browser_joins(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    from custom_components.energy_local.powersensor import DiscoveredPlug, Transport  # noqa: PLC0415
    from tests.conftest import FakePlugBrowser  # noqa: PLC0415

    simulation = await start_sim(plugs=2)
    try:
        first, second = plugs_of(simulation)
        entry = home_entry([first])
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        browser = FakePlugBrowser.instances[-1]
        plug = DiscoveredPlug(second[0], "127.0.0.1", second[1], Transport.UDP)
        browser.on_found(plug)
        browser.on_found(plug)  # announced twice: stored once
        await hass.async_block_till_done()
        assert entry.data["plugs"][second[0]] == {"host": "127.0.0.1", "port": second[1]}
        await wait_for(lambda: second[0] in entry.runtime_data.clients, 5)
    finally:
        await simulation.stop()


STRINGS = Path(__file__).resolve().parents[2] / "custom_components/energy_local/strings.json"


async def _manual(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "powersensor"}
    )
    assert result["step_id"] == "powersensor"
    return result["flow_id"]


async def test_manual_add_then_recovery(hass: HomeAssistant, sim: Simulation) -> None:
    flow_id = await _manual(hass)
    with patch("custom_components.energy_local.powersensor_home.config_flow.PROBE_SECONDS", 2):
        result = await hass.config_entries.flow.async_configure(
            flow_id,
            {"host": "127.0.0.1", "port": 9},  # nothing listens there: refused
        )
    assert result["errors"] == {"base": "plug_refused"}
    assert result["description_placeholders"]["port"] == "9"  # the port actually tried
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"host": "127.0.0.1", "port": sim.plugs[0].port}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["plugs"] == {PLUG: {"host": "127.0.0.1", "port": sim.plugs[0].port}}


async def test_manual_add_to_a_silent_port(hass: HomeAssistant, socket_enabled: None) -> None:
    """Something listens but sends no reading: said so, with the port that was tried."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    try:
        flow_id = await _manual(hass)
        with patch(
            "custom_components.energy_local.powersensor_home.config_flow.PROBE_SECONDS", 0.3
        ):
            result = await hass.config_entries.flow.async_configure(
                flow_id, {"host": "127.0.0.1", "port": port}
            )
    finally:
        silent.close()
    assert result["errors"] == {"base": "plug_not_answering"}
    assert result["description_placeholders"] == {"host": "127.0.0.1", "port": str(port)}


async def test_manual_add_to_an_unknown_host(hass: HomeAssistant) -> None:
    flow_id = await _manual(hass)
    with patch(
        "custom_components.energy_local.powersensor_home.config_flow._resolve",
        side_effect=socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
    ):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "plug.example", "port": 49476}
        )
    assert result["errors"] == {"base": "host_not_found"}


async def test_re_adding_a_plug_of_the_home_is_already_configured(
    hass: HomeAssistant, sim: Simulation
) -> None:
    entry = home_entry(plugs_of(sim))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    flow_id = await _manual(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {"host": "127.0.0.1", "port": sim.plugs[0].port}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reconfigure_the_home_adds_a_plug(hass: HomeAssistant, socket_enabled: None) -> None:
    """Reconfigure works on every entry type: for the home it adds a plug by address."""
    simulation = await start_sim(plugs=2)
    try:
        first, second = plugs_of(simulation)
        entry = home_entry([first])
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        result = await entry.start_reconfigure_flow(hass)
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "powersensor"
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"host": "127.0.0.1", "port": second[1]}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "plug_added"
        assert second[0] in entry.data["plugs"]
    finally:
        await simulation.stop()


async def test_manual_add_to_an_existing_home(hass: HomeAssistant, socket_enabled: None) -> None:
    simulation = await start_sim(plugs=2)
    try:
        first, second = plugs_of(simulation)
        entry = home_entry([first])
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        flow_id = await _manual(hass)
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "127.0.0.1", "port": second[1]}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "plug_added"
        assert second[0] in entry.data["plugs"]
    finally:
        await simulation.stop()


async def test_options_set_roles_and_write_rate(hass: HomeAssistant, sim: Simulation) -> None:
    entry = home_entry(plugs_of(sim))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    home = entry.runtime_data
    await wait_for(lambda: len(home.sensor_macs()) == 3, within=10)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["step_id"] == "init"
    water = "bcddc247d338"
    # Every role field has a label: numbered keys, each sensor named in the placeholders.
    placeholders = result["description_placeholders"]
    assert [placeholders[f"sensor_{n}"] for n in (1, 2, 3)] == [
        "sensor 47d1f5 (house-net)",
        "sensor 47d289 (solar)",
        "sensor 47d338 (water)",
    ]
    labels = json.loads(STRINGS.read_text(encoding="utf-8"))["options"]["step"]["init"]["data"]
    assert all(f"role_{n}" in labels for n in (1, 2, 3))
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {"power_interval": 0, "role_1": "auto", "role_2": "auto", "role_3": "appliance"},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {"roles": {water: "appliance"}, "power_interval": 0}
    await hass.async_block_till_done()
    assert home.role(water) == "appliance"
    role = hass.states.get("sensor.powersensor_water_sensor_47d338_role")
    assert role is not None
    assert role.state == "appliance"


async def test_discovery_next_to_an_ekm_bus(hass: HomeAssistant, sim: Simulation) -> None:
    from custom_components.energy_local.config_flow import (  # noqa: PLC0415
        EnergyLocalConfigFlow,
    )
    from tests.ekm_bus.helpers import bus_entry  # noqa: PLC0415

    bus_entry("/dev/ttyEKM-none", []).add_to_hass(hass)  # another kind of entry exists
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_ZEROCONF},
        data=_zeroconf(PLUG, sim.plugs[0].port),
    )
    assert result["step_id"] == "zeroconf_confirm"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    home = next(
        e for e in hass.config_entries.async_entries(DOMAIN) if e.unique_id == "powersensor_home"
    )
    assert EnergyLocalConfigFlow.async_get_supported_subentry_types(home) == {}


async def test_manual_add_when_no_socket_can_open(hass: HomeAssistant) -> None:
    flow_id = await _manual(hass)
    with patch(
        "custom_components.energy_local.powersensor_home.config_flow.PlugClient.start",
        side_effect=OSError("no route"),
    ):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {"host": "127.0.0.1", "port": 49476}
        )
    assert result["errors"] == {"base": "cannot_reach_plug"}
