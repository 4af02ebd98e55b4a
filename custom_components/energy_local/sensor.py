"""Sensors: each entry's family adds its own (a bus's meters and ioStacks, or the home's)."""

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .families import EnergyLocalConfigEntry, family_of

# Coordinator-driven or pushed: entities never poll on their own.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EnergyLocalConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the sensors of the entry's family."""
    await family_of(entry).async_setup_platform(Platform.SENSOR, hass, entry, async_add_entities)
