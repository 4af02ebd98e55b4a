"""The one table from a config entry's type to its device family; everything else asks it.

An entry is an EKM bus (a serial port with meters and ioStacks as subentries) or the Powersensor
home (its plugs and the sensors they relay). Each family brings its own setup, platforms, flows
and diagnostics; the integration's root modules only look the family up here.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import CONF_ENTRY_TYPE, EntryType
from .ekm_bus import binary_sensor as ekm_binary_sensor
from .ekm_bus import sensor as ekm_sensor
from .ekm_bus import switch as ekm_switch
from .ekm_bus.config_flow import EkmBusOptionsFlow, EkmBusSteps, MeterSubentryFlow
from .ekm_bus.const import SUBENTRY_IOSTACK, SUBENTRY_METER
from .ekm_bus.coordinator import EkmBusCoordinator
from .ekm_bus.diagnostics import async_get_bus_diagnostics
from .ekm_bus.iostack.config_flow import IoStackSubentryFlow
from .ekm_bus.setup import async_remove_bus_device, async_setup_bus
from .powersensor_home import sensor as home_sensor
from .powersensor_home.config_flow import PowersensorOptionsFlow, PowersensorSteps
from .powersensor_home.coordinator import PowersensorHome
from .powersensor_home.diagnostics import async_get_home_diagnostics
from .powersensor_home.setup import async_remove_home_device, async_setup_home

type RuntimeData = EkmBusCoordinator | PowersensorHome
type EnergyLocalConfigEntry = ConfigEntry[RuntimeData]
type PlatformSetup = Callable[
    [HomeAssistant, ConfigEntry[Any], AddConfigEntryEntitiesCallback], Awaitable[None]
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Family:
    """What one kind of entry brings: how it starts, its platforms, flows and diagnostics."""

    async_setup: Callable[[HomeAssistant, ConfigEntry[Any]], Awaitable[RuntimeData]]
    platforms: Mapping[Platform, PlatformSetup]
    options_flow: Callable[[], OptionsFlow]
    subentry_flows: Mapping[str, type[ConfigSubentryFlow]]
    async_reconfigure: Callable[[Any, dict[str, Any] | None], Awaitable[ConfigFlowResult]]
    async_diagnostics: Callable[[HomeAssistant, ConfigEntry[Any]], Awaitable[dict[str, Any]]]
    async_remove_device: Callable[
        [HomeAssistant, ConfigEntry[Any], dr.DeviceEntry], Awaitable[bool]
    ]

    async def async_setup_platform(
        self,
        platform: Platform,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        async_add_entities: AddConfigEntryEntitiesCallback,
    ) -> None:
        """Add the family's entities of ``platform`` (only forwarded platforms are asked)."""
        await self.platforms[platform](hass, entry, async_add_entities)

    @property
    def platform_list(self) -> list[Platform]:
        """The platforms the family's entries are forwarded to."""
        return list(self.platforms)


FAMILIES: Final[Mapping[EntryType, Family]] = {
    EntryType.EKM_BUS: Family(
        async_setup=async_setup_bus,
        platforms={
            Platform.BINARY_SENSOR: ekm_binary_sensor.async_setup_entry,
            Platform.SENSOR: ekm_sensor.async_setup_entry,
            Platform.SWITCH: ekm_switch.async_setup_entry,
        },
        options_flow=EkmBusOptionsFlow,
        subentry_flows={SUBENTRY_METER: MeterSubentryFlow, SUBENTRY_IOSTACK: IoStackSubentryFlow},
        async_reconfigure=EkmBusSteps.async_reconfigure_bus,
        async_diagnostics=async_get_bus_diagnostics,
        async_remove_device=async_remove_bus_device,
    ),
    EntryType.POWERSENSOR: Family(
        async_setup=async_setup_home,
        platforms={Platform.SENSOR: home_sensor.async_setup_entry},
        options_flow=PowersensorOptionsFlow,
        subentry_flows={},
        async_reconfigure=PowersensorSteps.async_reconfigure_home,
        async_diagnostics=async_get_home_diagnostics,
        async_remove_device=async_remove_home_device,
    ),
}


def family_of(entry: ConfigEntry[Any]) -> Family:
    """The family of an entry: the one place that reads an entry's type."""
    return FAMILIES[EntryType(entry.data[CONF_ENTRY_TYPE])]
