"""Diagnostics of the Powersensor home: plugs, the snapshot's devices and household, totals."""

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .coordinator import PowersensorConfigEntry

# Plug addresses are local and needed to debug; nothing in the entry is secret.
TO_REDACT: set[str] = set()


async def async_get_home_diagnostics(
    hass: HomeAssistant, entry: PowersensorConfigEntry
) -> dict[str, Any]:
    """Return the diagnostics of the home entry."""
    return {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        **entry.runtime_data.diagnostics(),
    }
