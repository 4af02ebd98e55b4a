"""Helpers for Home Assistant tests of the Powersensor home against the plug simulator."""

from collections.abc import Iterable

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.energy_local.const import CONF_ENTRY_TYPE, DOMAIN, EntryType
from simulators.powersensor_plug import SimOptions, Simulation

FAST = SimOptions(plug_interval_s=0.05, sensor_interval_s=0.1, water=True)


def home_entry(plugs: Iterable[tuple[str, int]], **options: object) -> MockConfigEntry:
    """The Powersensor home entry with plugs at 127.0.0.1."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Powersensor home",
        unique_id="powersensor_home",
        data={
            CONF_ENTRY_TYPE: EntryType.POWERSENSOR,
            "plugs": {mac: {"host": "127.0.0.1", "port": port} for mac, port in plugs},
        },
        options=dict(options),
    )


def plugs_of(sim: Simulation) -> list[tuple[str, int]]:
    """(MAC, port) of each simulated plug."""
    return [(plug.mac, plug.port) for plug in sim.plugs]


async def start_sim(options: SimOptions = FAST, plugs: int = 1) -> Simulation:
    """Start simulated plugs on 127.0.0.1."""
    sim = Simulation(options=options, plug_count=plugs)
    await sim.start()
    return sim


def state_value(hass: HomeAssistant, entity_id: str) -> float | None:
    """A numeric state, or None when missing or not numeric."""
    state = hass.states.get(entity_id)
    if state is None:
        return None
    try:
        return float(state.state)
    except ValueError:
        return None
