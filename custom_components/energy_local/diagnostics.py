"""Diagnostics: what each entry's family reports (a bus's frames and statistics, the home's)."""

from typing import Any

from homeassistant.core import HomeAssistant

from .families import EnergyLocalConfigEntry, family_of


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: EnergyLocalConfigEntry
) -> dict[str, Any]:
    """Return diagnostics for a config entry."""
    return await family_of(entry).async_diagnostics(hass, entry)
