"""The Energy dashboard in tests: compile statistics as the recorder does, save prefs, validate."""

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)


async def compile_statistics(hass: HomeAssistant) -> None:
    """Store the states, then compile the 5-minute statistics the recorder would compile now."""
    await async_wait_recording_done(hass)
    now = dt_util.utcnow()
    do_adhoc_statistics(
        hass, start=now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)
    )
    await async_wait_recording_done(hass)


async def save_energy_prefs(hass: HomeAssistant, client: Any, prefs: dict[str, Any]) -> None:
    """``energy/save_prefs`` over the websocket; it must succeed."""
    await client.send_json_auto_id({"type": "energy/save_prefs", **prefs})
    saved = await client.receive_json()
    assert saved["success"], saved
    await hass.async_block_till_done()


async def validate_energy(client: Any) -> dict[str, Any]:
    """What ``energy/validate`` reports (the call itself must succeed)."""
    await client.send_json_auto_id({"type": "energy/validate"})
    result = await client.receive_json()
    assert result["success"], result
    return dict(result["result"])
