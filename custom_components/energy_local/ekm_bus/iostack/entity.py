"""ioStack entities: analog inputs, pulse counters, one-wire sensors, input and output states.

Each ioStack is a device under its bus. One-wire sensors get entities only once the ioStack
reports them (and only for the values they have); new ones are added when they appear.
"""

from datetime import datetime

from homeassistant.components.binary_sensor import BinarySensorEntity
from homeassistant.components.sensor import RestoreSensor
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from ...const import DOMAIN
from ..coordinator import EkmBusConfigEntry, EkmBusCoordinator
from ..entity import ChangeOnlyBusEntity, GuardedTotal
from ..models import IoStackConfig
from .backend import IoStackReading
from .descriptions import (
    BINARY_SENSORS,
    SENSORS,
    IoStackBinarySensorDescription,
    IoStackSensorDescription,
    analog_descriptions,
    one_wire_descriptions,
)


def iostack_device_info(
    entry_id: str, iostack: IoStackConfig, bus_device_id: str | None, reading: IoStackReading | None
) -> DeviceInfo:
    """Describe the device of one ioStack, under its bus."""
    info = DeviceInfo(
        identifiers={(DOMAIN, f"iostack_{entry_id}_{iostack.address}")},
        manufacturer="EKM Metering",
        model="ioStack",
        name=iostack.title,
    )
    if bus_device_id is not None:
        info["via_device_id"] = bus_device_id
    if reading is not None:
        info["sw_version"] = reading.firmware
        info["serial_number"] = reading.chip_id
        if reading.model is not None:
            info["model_id"] = f"{reading.model:g}"
    return info


class IoStackEntity(ChangeOnlyBusEntity):
    """An entity of one ioStack."""

    def __init__(
        self,
        coordinator: EkmBusCoordinator,
        iostack: IoStackConfig,
        description: EntityDescription,
    ) -> None:
        """Bind the entity to its ioStack and description."""
        super().__init__(coordinator)
        self.entity_description = description
        self.iostack = iostack
        entry_id = coordinator.config_entry.entry_id
        self._attr_unique_id = f"{entry_id}_iostack_{iostack.address}_{description.key}"
        self._attr_device_info = iostack_device_info(
            entry_id, iostack, coordinator.bus_device_id, self.reading
        )

    @property
    def reading(self) -> IoStackReading | None:
        """The ioStack's latest good reading."""
        state = self.coordinator.iostack_state(self.iostack.subentry_id)
        return state.reading if state else None

    @property
    def available(self) -> bool:
        """Available while the bus works and this ioStack answers."""
        state = self.coordinator.iostack_state(self.iostack.subentry_id)
        return super().available and state is not None and state.available


class IoStackSensor(IoStackEntity, RestoreSensor):
    """One ioStack value. Counter totals are guarded so they never go backwards."""

    entity_description: IoStackSensorDescription

    def __init__(
        self,
        coordinator: EkmBusCoordinator,
        iostack: IoStackConfig,
        description: IoStackSensorDescription,
    ) -> None:
        """Set up the sensor."""
        super().__init__(coordinator, iostack, description)
        # No gate reads ekmdevice's frames: an increase waits for the next reading to agree.
        self._total = GuardedTotal(
            f"ioStack {iostack.address}",
            f"iostack_{iostack.address}_{description.key}",
            confirm=True,
        )

    async def async_added_to_hass(self) -> None:
        """Restore the last published total (the high-water mark) before the first update."""
        if self.entity_description.guarded:
            await self._total.async_restore(self)
        await super().async_added_to_hass()

    @property
    def available(self) -> bool:
        """One-wire values without a value (sensor gone, or "no sensor") are unavailable."""
        if self.entity_description.unavailable_without_value and self._attr_native_value is None:
            return False
        return super().available

    def _update_from_reading(self) -> None:
        reading = self.reading
        desc = self.entity_description
        value = desc.value_fn(reading, self.iostack) if reading else None
        if desc.guarded:
            value = self._total.check(
                value,
                entity_id=self.entity_id,
                diagnostics=self.coordinator.diagnostics,
            )
        elif isinstance(value, datetime) and value.tzinfo is None:
            # The ioStack keeps wall time without a zone: taken as Home Assistant's zone.
            value = value.replace(tzinfo=dt_util.get_default_time_zone())
        self._attr_native_value = value

    def _shown_state(self) -> tuple[object, ...]:
        return (self.available, self._attr_native_value)


class IoStackBinarySensor(IoStackEntity, BinarySensorEntity):
    """A digital input or control output state."""

    entity_description: IoStackBinarySensorDescription

    def _update_from_reading(self) -> None:
        reading = self.reading
        self._attr_is_on = self.entity_description.is_on_fn(reading) if reading else None

    def _shown_state(self) -> tuple[object, ...]:
        return (self.available, self._attr_is_on)


def async_setup_iostack_sensors(
    entry: EkmBusConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add every ioStack's sensors; one-wire sensors as the ioStack reports them."""
    coordinator = entry.runtime_data
    known: dict[str, set[str]] = {subentry_id: set() for subentry_id in coordinator.iostacks}

    @callback
    def add_one_wire() -> None:
        for iostack in coordinator.iostacks.values():
            state = coordinator.iostack_state(iostack.subentry_id)
            if state is None or state.reading is None:
                continue
            seen = known[iostack.subentry_id]
            new = [
                description
                for sensor in state.reading.one_wire.values()
                for description in one_wire_descriptions(sensor)
                if description.key not in seen
            ]
            if new:
                seen.update(description.key for description in new)
                async_add_entities(
                    (IoStackSensor(coordinator, iostack, d) for d in new),
                    config_subentry_id=iostack.subentry_id,
                )

    for iostack in coordinator.iostacks.values():
        descriptions = [*analog_descriptions(iostack), *SENSORS]
        async_add_entities(
            (
                IoStackSensor(coordinator, iostack, description)
                for description in descriptions
                if description.exists_fn(iostack)
            ),
            config_subentry_id=iostack.subentry_id,
        )
    add_one_wire()
    if coordinator.iostacks:
        entry.async_on_unload(coordinator.async_add_listener(add_one_wire))


def async_setup_iostack_binary_sensors(
    entry: EkmBusConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add every ioStack's input and output states."""
    coordinator = entry.runtime_data
    for iostack in coordinator.iostacks.values():
        async_add_entities(
            (IoStackBinarySensor(coordinator, iostack, d) for d in BINARY_SENSORS),
            config_subentry_id=iostack.subentry_id,
        )
