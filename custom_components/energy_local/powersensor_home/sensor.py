"""Powersensor sensors: plugs, relayed sensors and the household view, created as they appear."""

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from ..powersensor import HouseholdFlow
from .coordinator import NEW_ENTITIES, PowersensorConfigEntry, PowersensorHome
from .descriptions import (
    DEVICE_SENSORS,
    HOUSEHOLD_SENSORS,
    DeviceSensorDescription,
    HouseholdSensorDescription,
    StateValue,
)
from .entity import PowersensorEntity, device_info, household_device_info
from .store import HOUSEHOLD


class PowersensorDeviceSensor(PowersensorEntity):
    """A plug or sensor value."""

    entity_description: DeviceSensorDescription

    def __init__(
        self, home: PowersensorHome, mac: str, description: DeviceSensorDescription
    ) -> None:
        """Bind to device ``mac``."""
        super().__init__(home, mac)
        self.entity_description = description
        self._writes = description.writes
        self._mac = mac
        self._attr_unique_id = f"{mac}_{description.key}"
        self._attr_device_info = device_info(home, mac)

    def _read(self) -> tuple[bool, StateValue]:
        device = self.coordinator.data.devices.get(self._mac)
        if device is None:  # removed by the user
            return False, None
        desc = self.entity_description
        return device.available or desc.available_while_silent, desc.value_fn(device)


class HouseholdSensor(PowersensorEntity):
    """Home usage, from grid, to grid or solar generation: power or energy."""

    entity_description: HouseholdSensorDescription

    def __init__(self, home: PowersensorHome, description: HouseholdSensorDescription) -> None:
        """Bind to the household view."""
        super().__init__(home, HOUSEHOLD)
        self.entity_description = description
        self._writes = description.writes
        self._attr_unique_id = f"powersensor_household_{description.key}"
        self._attr_device_info = household_device_info()

    def _read(self) -> tuple[bool, StateValue]:
        household = self.coordinator.data.household
        desc = self.entity_description
        return household.available or desc.available_while_silent, desc.value_fn(household)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: PowersensorConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add entities for what is known now, and for every device and value as it appears."""
    home = entry.runtime_data
    created: set[tuple[str, str]] = set()

    @callback
    def add_new() -> None:
        snapshot = home.data
        new: list[PowersensorEntity] = []
        for mac, device in snapshot.devices.items():
            for desc in DEVICE_SENSORS:
                if (
                    device.kind in desc.kinds
                    and (mac, desc.key) not in created
                    and desc.value_fn(device) is not None
                ):
                    created.add((mac, desc.key))
                    new.append(PowersensorDeviceSensor(home, mac, desc))
        household = snapshot.household
        for household_desc in HOUSEHOLD_SENSORS:
            if (HOUSEHOLD, household_desc.key) in created:
                continue
            solar = household_desc.flow is HouseholdFlow.SOLAR_GENERATION
            if household.with_solar if solar else household.seen:
                created.add((HOUSEHOLD, household_desc.key))
                new.append(HouseholdSensor(home, household_desc))
        if new:
            async_add_entities(new)

    add_new()
    # Called only when a device or a first value of a kind appears (see the coordinator).
    entry.async_on_unload(home.async_add_listener(add_new, NEW_ENTITIES))
