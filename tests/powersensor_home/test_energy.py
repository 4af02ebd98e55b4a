"""Energy dashboard and diagnostics for the Powersensor home."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)

from simulators.powersensor_plug import Simulation
from tests.ekm_bus.helpers import wait_for
from tests.energy_helpers import compile_statistics, save_energy_prefs, validate_energy
from tests.powersensor_home.helpers import home_entry, plugs_of, start_sim, state_value

HOUSEHOLD = "sensor.household"
WATER = "sensor.powersensor_water_sensor_47d338_water"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder,
    enable_custom_integrations: None,
    mock_async_zeroconf: Any,
    fake_plug_browser: Any,
) -> None:
    """The recorder must start before hass (overrides the conftest fixture of this name)."""


@pytest.fixture
async def sim(socket_enabled: None) -> AsyncIterator[Simulation]:
    simulation = await start_sim()
    yield simulation
    await simulation.stop()


async def test_energy_validate_accepts_the_household_and_water(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, sim: Simulation
) -> None:
    entry = home_entry(plugs_of(sim))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await wait_for(lambda: state_value(hass, f"{HOUSEHOLD}_solar_generation_energy") is not None)
    await wait_for(lambda: state_value(hass, WATER) is not None)
    assert await async_setup_component(hass, "energy", {})
    client = await hass_ws_client(hass)
    none = {"stat_cost": None, "entity_energy_price": None, "number_energy_price": None}
    prefs = {
        "energy_sources": [
            {
                "type": "grid",
                "stat_energy_from": f"{HOUSEHOLD}_from_grid_energy",
                "stat_energy_to": f"{HOUSEHOLD}_to_grid_energy",
                "stat_compensation": None,
                "entity_energy_price_export": None,
                "number_energy_price_export": None,
                "power_config": {
                    "stat_rate_from": f"{HOUSEHOLD}_from_grid_power",
                    "stat_rate_to": f"{HOUSEHOLD}_to_grid_power",
                },
                "cost_adjustment_day": 0,
                **none,
            },
            {
                "type": "solar",
                "stat_energy_from": f"{HOUSEHOLD}_solar_generation_energy",
                "stat_rate": f"{HOUSEHOLD}_solar_generation_power",
                "config_entry_solar_forecast": None,
            },
            {"type": "water", "stat_energy_from": WATER, **none},
        ],
        "device_consumption": [
            {"stat_consumption": "sensor.powersensor_plug_0487a4_energy"},
        ],
    }
    # The grid's two power sensors make the energy integration create a net-power sensor:
    # let it appear, then compile statistics as the recorder does every 5 minutes.
    await save_energy_prefs(hass, client, prefs)
    await compile_statistics(hass)
    assert await validate_energy(client) == {
        "energy_sources": [[], [], []],
        "device_consumption": [[]],
        "device_consumption_water": [],
    }


async def test_diagnostics(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, sim: Simulation
) -> None:
    entry = home_entry(plugs_of(sim))
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    home = entry.runtime_data
    await wait_for(lambda: len(home.sensor_macs()) == 3, within=10)
    result = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    plug = result["plugs"]["246f280487a4"]
    assert plug["state"] == "connected"
    assert plug["statistics"]["events"] > 0
    assert plug["recent_raw_messages"]
    assert '"mac"' in plug["recent_raw_messages"][-1]
    assert result["devices"]["bcddc247d289"]["role"] == "solar"
    assert result["household"]["with_solar"] is True
    assert "household:home_usage" in result["totals"] or result["household"]["power"]
