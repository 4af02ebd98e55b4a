"""The recorder's view of the Powersensor home's totals under reordered and duplicated datagrams.

Release 0.1.0 let a reordered plug reading move its energy backwards: the recorder's history
showed the decreases and its statistics logged "not strictly increasing". Here the simulator
reorders and duplicates a fifth of the datagrams (and resets the sensors' counters) for some
simulated minutes; the recorded history of every ``total_increasing`` entity must not fall.
"""

import asyncio
import dataclasses
from functools import partial
from typing import Any

import pytest
from homeassistant.components.recorder import Recorder, history
from homeassistant.components.sensor import SensorStateClass
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util

from tests.energy_helpers import compile_statistics
from tests.powersensor_home.helpers import FAST, home_entry, plugs_of, start_sim

RUN_S = 12.0
"""At FAST timing a plug reports a 1-s window every 0.05 s: 4 simulated minutes of plug
readings and about an hour of 30-s sensor windows."""


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder,
    enable_custom_integrations: None,
    mock_async_zeroconf: Any,
    fake_plug_browser: Any,
) -> None:
    """The recorder must start before hass (overrides the conftest fixture of this name)."""


async def test_recorded_totals_never_fall_under_reorder_and_duplicate_faults(
    hass: HomeAssistant,
    recorder_mock: Recorder,
    socket_enabled: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    options = dataclasses.replace(
        FAST, reorder_probability=0.2, duplicate_probability=0.2, reset_every=25
    )
    simulation = await start_sim(options)
    try:
        start = dt_util.utcnow()
        entry = home_entry(plugs_of(simulation), power_interval=0)  # every display step
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        await asyncio.sleep(RUN_S)
        await compile_statistics(hass)
        totals = [
            e.entity_id
            for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
            if (e.capabilities or {}).get("state_class") == SensorStateClass.TOTAL_INCREASING
        ]
        assert len(totals) >= 6  # plug energy, water, four household flows
        recorded = await recorder_mock.async_add_executor_job(
            partial(
                history.get_significant_states,
                hass,
                start,
                None,
                totals,
                significant_changes_only=False,
            )
        )
        moved = 0
        for entity_id in totals:
            values = [float(s.state) for s in recorded.get(entity_id, []) if _numeric(s.state)]
            assert values == sorted(values), entity_id
            moved += len(set(values)) > 3
        assert moved >= 3  # plug energy, water, from grid and home usage move at this hour
        assert "not strictly increasing" not in caplog.text
        stats = [total.stats for total in entry.runtime_data.totals.values()]
        assert sum(s.out_of_order + s.duplicates for s in stats) > 10  # the faults happened
        assert await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await simulation.stop()


def _numeric(state: str) -> bool:
    try:
        float(state)
    except ValueError:
        return False
    return True
