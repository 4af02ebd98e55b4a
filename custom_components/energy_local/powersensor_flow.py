"""Powersensor parts of the config flow: plug addresses, probing a plug, home options."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, Final

import probatio as vol
from homeassistant.config_entries import ConfigFlowResult, OptionsFlow
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)

from .powersensor import PlugClient, PlugEvent

CONF_PLUGS: Final = "plugs"
CONF_HOST: Final = "host"
CONF_PS_PORT: Final = "port"
CONF_ROLES: Final = "roles"
CONF_POWER_INTERVAL: Final = "power_interval"
DEFAULT_POWER_INTERVAL: Final = 10  # seconds between power writes unless it changes a lot
POWERSENSOR_HOME_ID: Final = "powersensor_home"
ROLE_AUTO: Final = "auto"
ROLE_CHOICES: Final = (ROLE_AUTO, "house-net", "solar", "water", "appliance")
PROBE_SECONDS: Final = 5.0  # plugs push their own reading about once a second


@dataclass(frozen=True, slots=True)
class PlugAddress:
    """Where a plug's push service listens."""

    mac: str
    host: str
    port: int

    def as_data(self) -> dict[str, Any]:
        """The form stored in the home entry."""
        return {CONF_HOST: self.host, CONF_PS_PORT: self.port}


async def probe_plug(host: str, port: int, seconds: float = PROBE_SECONDS) -> str | None:
    """Subscribe to ``host:port`` and return the plug's MAC from its own reading, or None."""
    client = PlugClient(host, port)
    found: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_event(_event: PlugEvent) -> None:
        if client.mac is not None and not found.done():
            found.set_result(client.mac)

    client.add_event_listener(on_event)
    try:
        client.start()
    except OSError:
        return None
    try:
        async with asyncio.timeout(seconds):
            return await found
    except TimeoutError:
        return None
    finally:
        with contextlib.suppress(OSError):
            await client.stop()


class PowersensorOptionsFlow(OptionsFlow):
    """Roles of relayed sensors that do not report one, and how often power is written."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show one role choice per known sensor, and the power write interval."""
        options = self.config_entry.options
        roles: dict[str, str] = dict(options.get(CONF_ROLES, {}))
        home = getattr(self.config_entry, "runtime_data", None)
        sensors = sorted(set(home.sensor_macs() if home is not None else ()) | set(roles))
        if user_input is not None:
            chosen = {
                mac: user_input[f"role_{mac}"]
                for mac in sensors
                if user_input.get(f"role_{mac}", ROLE_AUTO) != ROLE_AUTO
            }
            return self.async_create_entry(
                data={
                    CONF_ROLES: chosen,
                    CONF_POWER_INTERVAL: int(user_input[CONF_POWER_INTERVAL]),
                }
            )
        fields: dict[Any, Any] = {
            vol.Required(
                CONF_POWER_INTERVAL,
                default=options.get(CONF_POWER_INTERVAL, DEFAULT_POWER_INTERVAL),
            ): NumberSelector(
                NumberSelectorConfig(
                    min=0, max=3600, step=1, unit_of_measurement="s", mode=NumberSelectorMode.BOX
                )
            )
        }
        for mac in sensors:
            fields[vol.Required(f"role_{mac}", default=roles.get(mac, ROLE_AUTO))] = SelectSelector(
                SelectSelectorConfig(
                    options=list(ROLE_CHOICES),
                    translation_key="sensor_role",
                    mode=SelectSelectorMode.DROPDOWN,
                )
            )
        return self.async_show_form(
            step_id="init",
            data_schema=vol.Schema(fields),
            description_placeholders={"sensors": ", ".join(sensors) or "none yet"},
        )
