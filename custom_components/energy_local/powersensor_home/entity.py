"""Base entity of the Powersensor home: pushed values, change-only (power: throttled) writes.

Power readings arrive every second; their entities write state at most once per the configured
interval unless power moves by more than 10 % (and 5 W), so the recorder is not flooded.
"""

import time
from typing import Any, Final

from homeassistant.components.sensor import (
    SensorEntity,
    SensorEntityDescription,
)
from homeassistant.core import callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo

from ..const import DOMAIN
from ..powersensor import Role
from .const import CONF_POWER_INTERVAL, DEFAULT_POWER_INTERVAL
from .coordinator import PLUG, PowersensorHome

SIGNIFICANT_CHANGE: Final = 0.10
SIGNIFICANT_WATTS: Final = 5.0


def device_info(home: PowersensorHome, mac: str) -> DeviceInfo:
    """A plug, or a sensor shown under the plug that relays it."""
    device = home.devices[mac]
    if device.kind == PLUG:
        return DeviceInfo(
            identifiers={(DOMAIN, mac)},
            connections={(dr.CONNECTION_NETWORK_MAC, dr.format_mac(mac))},
            manufacturer="Powersensor",
            model="Plug",
            name=f"Powersensor plug {mac[-6:]}",
        )
    names = {Role.HOUSE_NET.value: "mains", Role.SOLAR.value: "solar", Role.WATER.value: "water"}
    label = names.get(home.role(mac) or "", "")
    info = DeviceInfo(
        identifiers={(DOMAIN, mac)},
        manufacturer="Powersensor",
        model="Sensor",
        name=f"Powersensor {label + ' ' if label else ''}sensor {mac[-6:]}",
    )
    if device.via is not None:
        plug = dr.async_get(home.hass).async_get_device_by_identifier(
            (DOMAIN, device.via), home.entry.entry_id
        )
        if plug is not None:
            info["via_device_id"] = plug.id
    return info


class PowersensorEntity(SensorEntity):
    """Pushed value: written when it changes (power: throttled), never polled."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(
        self, home: PowersensorHome, key: str, description: SensorEntityDescription
    ) -> None:
        """Bind to a device (MAC) or the household."""
        self.home = home
        self.device_key = key
        self.entity_description = description
        self._written: tuple[Any, ...] | None = None
        self._written_at = 0.0
        self._throttled = getattr(description, "throttled", False)

    async def async_added_to_hass(self) -> None:
        """Follow the device."""
        self._refresh()
        self.async_on_remove(self.home.add_listener(self.device_key, self._on_change))

    def _refresh(self) -> None:
        """Set ``_attr_native_value`` and ``_attr_available`` (subclasses)."""

    @callback
    def _on_change(self) -> None:
        self._refresh()
        shown = (self._attr_available, self._attr_native_value)
        if shown == self._written:
            return
        if (
            self._throttled
            and self._written is not None
            and shown[0] == self._written[0]
            and not self._due(shown[1], self._written[1])
        ):
            return
        self._written = shown
        self._written_at = time.monotonic()
        self.async_write_ha_state()

    def _due(self, new: Any, old: Any) -> bool:
        """Throttled values: write after the interval, or at once on a large change."""
        interval = self.home.entry.options.get(CONF_POWER_INTERVAL, DEFAULT_POWER_INTERVAL)
        if time.monotonic() - self._written_at >= interval:
            return True
        if not isinstance(new, int | float) or not isinstance(old, int | float):
            return True
        return abs(new - old) > max(SIGNIFICANT_WATTS, abs(old) * SIGNIFICANT_CHANGE)
