"""An EKM bus behind an ESPHome serial proxy in Home Assistant: the flow's errors for proxy
ports, and a proxy that goes away and returns (handled like a vanished USB adapter).

The proxy is the ESPHome device simulator reached through serialx's own ``esphome://``
transport; Home Assistant's ``esphome-hass://`` ports (through a loaded ESPHome entry) are
checked against the entry here and proven end to end in tests/e2e.
"""

from collections.abc import AsyncIterator
from unittest.mock import patch

import pytest
from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.energy_local.const import DOMAIN
from custom_components.energy_local.ekm import EkmBus
from custom_components.energy_local.ekm_bus.const import CONF_PORT
from simulators.esphome_proxy import EspHomeProxySimulator
from tests.ekm_bus.helpers import (
    V4_ADDRESS,
    SimBus,
    bus_entry,
    meter_subentry,
    setup_entry,
)

POWER = "sensor.omnimeter_300001285_power"


@pytest.fixture
async def proxy(ekm_bus: SimBus, socket_enabled: None) -> AsyncIterator[EspHomeProxySimulator]:
    """An ESPHome device whose serial proxy ``ekm_bus`` leads to the simulated bus."""
    device = EspHomeProxySimulator("127.0.0.1", await ekm_bus.sim.start_tcp())
    await device.start()
    yield device
    await device.stop()


async def _bus_form(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "ekm_bus"}
    )
    return str(result["flow_id"])


async def test_proxy_port_creates_a_bus(hass: HomeAssistant, proxy: EspHomeProxySimulator) -> None:
    flow_id = await _bus_form(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_PORT: proxy.url})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_PORT] == proxy.url  # stored as entered, not resolved
    await hass.async_block_till_done()
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert entry.state is ConfigEntryState.LOADED
    # The flow opened the proxy (at 9600 7E1) and let it go; then the bus took it.
    assert proxy.stats.subscribes == 2
    assert proxy.settings().is_ekm


async def test_offline_device_then_recovery(
    hass: HomeAssistant, proxy: EspHomeProxySimulator
) -> None:
    await proxy.go_offline()
    flow_id = await _bus_form(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_PORT: proxy.url})
    assert result["errors"] == {CONF_PORT: "esphome_offline"}
    await proxy.come_back()
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_PORT: proxy.url})
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_missing_proxy_port(hass: HomeAssistant, proxy: EspHomeProxySimulator) -> None:
    flow_id = await _bus_form(hass)
    url = f"esphome://127.0.0.1:{proxy.port}/?port_name=uart_rs485"
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_PORT: url})
    assert result["errors"] == {CONF_PORT: "esphome_proxy_not_found"}


async def test_proxy_claimed_by_another_client(
    hass: HomeAssistant, proxy: EspHomeProxySimulator
) -> None:
    async with EkmBus(proxy.url):
        flow_id = await _bus_form(hass)
        result = await hass.config_entries.flow.async_configure(flow_id, {CONF_PORT: proxy.url})
    assert result["errors"] == {CONF_PORT: "port_busy"}


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        (None, "esphome_proxy_not_found"),  # the ESPHome device was removed from HA
        (MockConfigEntry(domain="mqtt", entry_id="01KESPHOME"), "esphome_proxy_not_found"),
        (MockConfigEntry(domain="esphome", entry_id="01KESPHOME"), "esphome_offline"),
    ],
)
async def test_home_assistant_proxy_port_needs_a_loaded_esphome_entry(
    hass: HomeAssistant, entry: MockConfigEntry | None, key: str
) -> None:
    if entry is not None:
        entry.add_to_hass(hass)  # added, never set up: its API connection does not run
    flow_id = await _bus_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_PORT: "esphome-hass://esphome/01KESPHOME?port_name=ekm_bus"}
    )
    assert result["errors"] == {CONF_PORT: key}


async def test_proxy_gone_and_back_without_reload(
    hass: HomeAssistant, proxy: EspHomeProxySimulator
) -> None:
    entry = bus_entry(proxy.url, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    coordinator = entry.runtime_data
    coordinator.bus.char_time = 0.0  # the simulated bus is unpaced
    assert hass.states.get(POWER).state != STATE_UNAVAILABLE

    await proxy.go_offline()  # the ESP32 loses power
    for _ in range(2):  # a short outage: the last values stand
        await coordinator.async_refresh()
        await hass.async_block_till_done()
        assert hass.states.get(POWER).state != STATE_UNAVAILABLE
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(POWER).state == STATE_UNAVAILABLE
    assert coordinator.update_interval < coordinator.poll_interval  # retried without back-off

    await proxy.come_back()
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(POWER).state != STATE_UNAVAILABLE
    assert entry.state is ConfigEntryState.LOADED
    assert proxy.settings().is_ekm


async def test_esphome_address_without_the_esphome_library(hass: HomeAssistant) -> None:
    """Without aioesphomeapi serialx would take esphome://… for a device path."""
    flow_id = await _bus_form(hass)
    with patch(
        "custom_components.energy_local.ekm_bus.proxy_port.esphome_api_installed",
        return_value=False,
    ):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {CONF_PORT: "esphome://192.0.2.7:6053/?port_name=ekm_bus"}
        )
    assert result["errors"] == {CONF_PORT: "esphome_unavailable"}
