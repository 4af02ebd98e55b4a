"""What each Powersensor sensor shows: device values and household flows, read from the snapshot."""

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfPower,
    UnitOfVolume,
    UnitOfVolumeFlowRate,
)

from ..powersensor import HouseholdFlow
from .snapshot import DeviceSnapshot, HouseholdSnapshot
from .store import DeviceKind
from .writes import (
    CURRENT_WRITES,
    DIAGNOSTIC_WRITES,
    FLOW_WRITES,
    POWER_WRITES,
    VOLTAGE_WRITES,
    Throttle,
    WritePolicy,
)

type StateValue = float | int | str | None


@dataclass(frozen=True, kw_only=True)
class DeviceSensorDescription(SensorEntityDescription):
    """A value of a plug or relayed sensor."""

    kinds: frozenset[DeviceKind]
    value_fn: Callable[[DeviceSnapshot], StateValue]
    writes: WritePolicy = Throttle.CHANGE
    available_while_silent: bool = False
    """Totals keep showing their last value while the device is silent."""


def _power(kinds: frozenset[DeviceKind]) -> DeviceSensorDescription:
    return DeviceSensorDescription(
        key="power",
        translation_key="ps_power",
        kinds=kinds,
        value_fn=lambda device: device.power,
        device_class=SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfPower.WATT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        writes=POWER_WRITES,
    )


def _current(key: str, value_fn: Callable[[DeviceSnapshot], StateValue]) -> DeviceSensorDescription:
    return DeviceSensorDescription(
        key=key,
        translation_key=f"ps_{key}",
        kinds=PLUG_ONLY,
        value_fn=value_fn,
        device_class=SensorDeviceClass.CURRENT,
        native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        entity_registry_enabled_default=key == "active_current",
        writes=CURRENT_WRITES,
    )


BOTH = frozenset(DeviceKind)
PLUG_ONLY = frozenset({DeviceKind.PLUG})
SENSOR_ONLY = frozenset({DeviceKind.SENSOR})
# The role a sensor reported, or the one chosen in the options.
ROLE_SENSOR = DeviceSensorDescription(
    key="role",
    translation_key="ps_role",
    kinds=SENSOR_ONLY,
    value_fn=lambda device: device.role or "unknown",
    entity_category=EntityCategory.DIAGNOSTIC,
    available_while_silent=True,
)


DEVICE_SENSORS: tuple[DeviceSensorDescription, ...] = (
    ROLE_SENSOR,
    _power(BOTH),
    DeviceSensorDescription(
        key="voltage",
        translation_key="ps_voltage",
        kinds=PLUG_ONLY,
        value_fn=lambda device: device.voltage,
        device_class=SensorDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        writes=VOLTAGE_WRITES,
    ),
    _current("apparent_current", lambda device: device.apparent_current),
    _current("active_current", lambda device: device.active_current),
    _current("reactive_current", lambda device: device.reactive_current),
    # A plug only measures consumption: its counter only grows (a reboot is bridged).
    DeviceSensorDescription(
        key="plug_energy",
        translation_key="ps_energy",
        kinds=PLUG_ONLY,
        value_fn=lambda device: device.energy,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=3,
        writes=Throttle.TOTAL,
        available_while_silent=True,
    ),
    # A mains or solar sensor counts net energy: it falls while exporting.
    DeviceSensorDescription(
        key="sensor_energy",
        translation_key="ps_net_energy",
        kinds=SENSOR_ONLY,
        value_fn=lambda device: device.energy,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=3,
        writes=Throttle.TOTAL,
        available_while_silent=True,
    ),
    DeviceSensorDescription(
        key="battery",
        translation_key="ps_battery",
        kinds=SENSOR_ONLY,
        value_fn=lambda device: device.battery,
        device_class=SensorDeviceClass.BATTERY,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        writes=DIAGNOSTIC_WRITES,
    ),
    DeviceSensorDescription(
        key="battery_voltage",
        translation_key="ps_battery_voltage",
        kinds=SENSOR_ONLY,
        value_fn=lambda device: device.battery_voltage,
        device_class=SensorDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=2,
        entity_category=EntityCategory.DIAGNOSTIC,
        writes=DIAGNOSTIC_WRITES,
    ),
    DeviceSensorDescription(
        key="signal_strength",
        translation_key="ps_signal_strength",
        kinds=SENSOR_ONLY,
        value_fn=lambda device: device.rssi,
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        writes=DIAGNOSTIC_WRITES,
    ),
    DeviceSensorDescription(
        key="flow",
        translation_key="ps_water_flow",
        kinds=SENSOR_ONLY,
        value_fn=lambda device: device.flow,
        device_class=SensorDeviceClass.VOLUME_FLOW_RATE,
        native_unit_of_measurement=UnitOfVolumeFlowRate.LITERS_PER_MINUTE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        writes=FLOW_WRITES,
    ),
    DeviceSensorDescription(
        key="water",
        translation_key="ps_water",
        kinds=SENSOR_ONLY,
        value_fn=lambda device: device.volume,
        device_class=SensorDeviceClass.WATER,
        native_unit_of_measurement=UnitOfVolume.LITERS,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=1,
        writes=Throttle.TOTAL,
        available_while_silent=True,
    ),
)


@dataclass(frozen=True, kw_only=True)
class HouseholdSensorDescription(SensorEntityDescription):
    """A household flow's power or energy."""

    flow: HouseholdFlow
    value_fn: Callable[[HouseholdSnapshot], StateValue]
    writes: WritePolicy
    available_while_silent: bool
    """Energy totals stay available; power follows the mains sensor."""


def _household(flow: HouseholdFlow, *, energy: bool) -> HouseholdSensorDescription:
    quantity = "energy" if energy else "power"
    return HouseholdSensorDescription(
        key=f"{flow.value}_{quantity}",
        translation_key=f"household_{flow.value}_{quantity}",
        flow=flow,
        value_fn=(
            (lambda household: household.energy.get(flow))
            if energy
            else (lambda household: household.power.get(flow))
        ),
        writes=Throttle.TOTAL if energy else POWER_WRITES,
        available_while_silent=energy,
        device_class=SensorDeviceClass.ENERGY if energy else SensorDeviceClass.POWER,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR if energy else UnitOfPower.WATT,
        state_class=SensorStateClass.TOTAL_INCREASING if energy else SensorStateClass.MEASUREMENT,
        suggested_display_precision=3 if energy else 0,
    )


HOUSEHOLD_SENSORS: tuple[HouseholdSensorDescription, ...] = tuple(
    _household(flow, energy=energy) for flow in HouseholdFlow for energy in (False, True)
)
