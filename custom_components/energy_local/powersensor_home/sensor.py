"""Powersensor sensors: plugs, relayed sensors and the household view, created as they appear.

Energy and volume totals are always written exactly; power is throttled (see entity.py).
"""

from homeassistant.components.sensor import (
    SensorEntity,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from ..const import DOMAIN
from ..powersensor import HouseholdFlow
from .coordinator import HOUSEHOLD, SENSOR, PowersensorConfigEntry, PowersensorHome
from .descriptions import (
    DEVICE_SENSORS,
    HOUSEHOLD_SENSORS,
    ROLE_SENSOR,
    DeviceSensorDescription,
    HouseholdSensorDescription,
)
from .entity import PowersensorEntity, device_info


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
