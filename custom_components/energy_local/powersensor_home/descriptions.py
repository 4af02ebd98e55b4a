"""What each Powersensor sensor shows: device values and household flows."""

from dataclasses import dataclass

from homeassistant.components.sensor import (
    SensorDeviceClass,
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

from ..powersensor import HouseholdFlow
from .coordinator import PLUG, SENSOR


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
