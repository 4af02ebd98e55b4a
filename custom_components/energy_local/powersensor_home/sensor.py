"""Powersensor sensors: plugs, relayed sensors and the household view, created as they appear.

Power readings arrive every second; their entities write state at most once per the configured
interval unless power moves by more than 10 % (and 5 W), so the recorder is not flooded.
Energy and volume totals are always written exactly.
"""

import time
from dataclasses import dataclass
from typing import Any, Final

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    SIGNAL_STRENGTH_DECIBELS,
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfPower,
    UnitOfVolume,
    UnitOfVolumeFlowRate,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from ..const import DOMAIN
from ..powersensor import HouseholdFlow, Role
from .const import CONF_POWER_INTERVAL, DEFAULT_POWER_INTERVAL
from .coordinator import HOUSEHOLD, PLUG, SENSOR, PowersensorConfigEntry, PowersensorHome

SIGNIFICANT_CHANGE: Final = 0.10
SIGNIFICANT_WATTS: Final = 5.0


@dataclass(frozen=True, kw_only=True)
class DeviceSensorDescription(SensorEntityDescription):
    """A value of a plug or relayed sensor (``Device.values[value_key]``)."""

    kinds: frozenset[str]
    value_key: str
    throttled: bool = False


def _power(kinds: frozenset[str]) -> DeviceSensorDescription:
    return DeviceSensorDescription(
        key="power",
        translation_key="ps_power",
        kinds=kinds,
        value_key="power",
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        throttled=True,
    )


BOTH = frozenset({PLUG, SENSOR})
DEVICE_SENSORS: tuple[DeviceSensorDescription, ...] = (
    _power(BOTH),
    DeviceSensorDescription(
        key="voltage",
        translation_key="ps_voltage",
        kinds=frozenset({PLUG}),
        value_key="voltage",
        device_class=SensorDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        throttled=True,
    ),
    *(
        DeviceSensorDescription(
            key=key,
            translation_key=f"ps_{key}",
            kinds=frozenset({PLUG}),
            value_key=key,
            device_class=SensorDeviceClass.CURRENT,
            native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
            state_class=SensorStateClass.MEASUREMENT,
            suggested_display_precision=2,
            entity_registry_enabled_default=key == "active_current",
            throttled=True,
        )
        for key in ("apparent_current", "active_current", "reactive_current")
    ),
    # A plug only measures consumption: its counter only grows (a reboot is bridged).
    DeviceSensorDescription(
        key="plug_energy",
        translation_key="ps_energy",
        kinds=frozenset({PLUG}),
        value_key="energy",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=3,
    ),
    # A mains or solar sensor counts net energy: it falls while exporting.
    DeviceSensorDescription(
        key="sensor_energy",
        translation_key="ps_net_energy",
        kinds=frozenset({SENSOR}),
        value_key="energy",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=3,
    ),
    DeviceSensorDescription(
        key="battery",
        translation_key="ps_battery",
        kinds=frozenset({SENSOR}),
        value_key="battery",
        device_class=SensorDeviceClass.BATTERY,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
    ),
    DeviceSensorDescription(
        key="signal_strength",
        translation_key="ps_signal_strength",
        kinds=frozenset({SENSOR}),
        value_key="rssi",
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
    ),
    DeviceSensorDescription(
        key="flow",
        translation_key="ps_water_flow",
        kinds=frozenset({SENSOR}),
        value_key="flow",
        device_class=SensorDeviceClass.VOLUME_FLOW_RATE,
        native_unit_of_measurement=UnitOfVolumeFlowRate.LITERS_PER_MINUTE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        throttled=True,
    ),
    DeviceSensorDescription(
        key="water",
        translation_key="ps_water",
        kinds=frozenset({SENSOR}),
        value_key="volume",
        device_class=SensorDeviceClass.WATER,
        native_unit_of_measurement=UnitOfVolume.LITERS,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=1,
    ),
)

ROLE_SENSOR = SensorEntityDescription(
    key="role", translation_key="ps_role", entity_category=EntityCategory.DIAGNOSTIC
)


@dataclass(frozen=True, kw_only=True)
class HouseholdSensorDescription(SensorEntityDescription):
    """A household flow's power or energy."""

    flow: HouseholdFlow
    energy: bool


HOUSEHOLD_SENSORS: tuple[HouseholdSensorDescription, ...] = tuple(
    HouseholdSensorDescription(
        key=f"{flow.value}_{'energy' if energy else 'power'}",
        translation_key=f"household_{flow.value}_{'energy' if energy else 'power'}",
        flow=flow,
        energy=energy,
        device_class=SensorDeviceClass.ENERGY if energy else SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR if energy else UnitOfPower.WATT,
        state_class=SensorStateClass.TOTAL_INCREASING if energy else SensorStateClass.MEASUREMENT,
        suggested_display_precision=3 if energy else 0,
    )
    for flow in HouseholdFlow
    for energy in (False, True)
)


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


class PowersensorDeviceSensor(PowersensorEntity):
    """A plug or sensor value."""

    entity_description: DeviceSensorDescription

    def __init__(
        self, home: PowersensorHome, mac: str, description: DeviceSensorDescription
    ) -> None:
        """Bind to device ``mac``."""
        super().__init__(home, mac, description)
        self._attr_unique_id = f"{mac}_{description.key}"
        self._attr_device_info = device_info(home, mac)

    def _refresh(self) -> None:
        device = self.home.devices.get(self.device_key)
        if device is None:  # removed by the user
            self._attr_available = False
            return
        self._attr_available = device.available or self.entity_description.value_key in (
            "energy",
            "volume",
        )
        self._attr_native_value = device.values.get(self.entity_description.value_key)


class PowersensorRoleSensor(PowersensorEntity):
    """A relayed sensor's role (reported, or set in the options)."""

    def __init__(self, home: PowersensorHome, mac: str) -> None:
        """Bind to sensor ``mac``."""
        super().__init__(home, mac, ROLE_SENSOR)
        self._attr_unique_id = f"{mac}_role"
        self._attr_device_info = device_info(home, mac)

    def _refresh(self) -> None:
        self._attr_available = True
        self._attr_native_value = self.home.role(self.device_key) or "unknown"


class HouseholdSensor(PowersensorEntity):
    """Home usage, from grid, to grid or solar generation: power or energy."""

    entity_description: HouseholdSensorDescription

    def __init__(self, home: PowersensorHome, description: HouseholdSensorDescription) -> None:
        """Bind to the household view."""
        super().__init__(home, HOUSEHOLD, description)
        self._throttled = not description.energy
        self._attr_unique_id = f"powersensor_household_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, "powersensor_household")},
            manufacturer="Powersensor",
            model="Household view",
            name="Household",
        )

    def _refresh(self) -> None:
        desc = self.entity_description
        if desc.energy:
            self._attr_available = True
            self._attr_native_value = self.home.household_energy_kwh(desc.flow)
        else:
            self._attr_available = self.home.household_available()
            self._attr_native_value = self.home.household_power.get(desc.flow)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PowersensorConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add entities for what is known now, and for every device and value as it appears."""
    home = entry.runtime_data
    created: set[tuple[str, str]] = set()
    # Readings arrive every second: only look for new entities when a device gained a value
    # (or, for the household, while some of its entities are still missing).
    value_counts: dict[str, int] = {}

    def add_for(key: str) -> None:
        new: list[SensorEntity] = []
        if key == HOUSEHOLD:
            if sum(k == HOUSEHOLD for k, _ in created) == len(HOUSEHOLD_SENSORS):
                return
            for household in HOUSEHOLD_SENSORS:
                if (HOUSEHOLD, household.key) in created:
                    continue
                solar = household.flow is HouseholdFlow.SOLAR_GENERATION
                if (solar and home.has_solar) or (not solar and home.household_seen):
                    created.add((HOUSEHOLD, household.key))
                    new.append(HouseholdSensor(home, household))
        else:
            device = home.devices.get(key)
            if device is None or value_counts.get(key) == len(device.values):
                return
            value_counts[key] = len(device.values)
            if device.kind == SENSOR and (key, "role") not in created:
                created.add((key, "role"))
                new.append(PowersensorRoleSensor(home, key))
            for desc in DEVICE_SENSORS:
                if (
                    device.kind in desc.kinds
                    and desc.value_key in device.values
                    and (key, desc.key) not in created
                ):
                    created.add((key, desc.key))
                    new.append(PowersensorDeviceSensor(home, key, desc))
        if new:
            async_add_entities(new)

    def watch(key: str) -> None:
        add_for(key)
        entry.async_on_unload(home.add_listener(key, lambda: add_for(key)))

    for mac in list(home.devices):
        watch(mac)
    watch(HOUSEHOLD)
    entry.async_on_unload(home.add_new_device_listener(watch))
