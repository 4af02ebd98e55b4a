"""What each ioStack entity shows: description tables (some built per ioStack or sensor).

Analog inputs carry the unit set in the subentry, one-wire sensors exist only where the ioStack
reports one, so those descriptions are made per ioStack / per sensor by the functions below.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from homeassistant.components.binary_sensor import BinarySensorEntityDescription
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    LIGHT_LUX,
    PERCENTAGE,
    EntityCategory,
    UnitOfEnergy,
    UnitOfTemperature,
    UnitOfTime,
    UnitOfVolume,
)

from ..const import PulseKind
from ..models import IoStackConfig
from .backend import INPUTS, IoStackReading, OneWireReading

type IoStackValue = float | str | datetime | None


@dataclass(frozen=True, kw_only=True)
class IoStackSensorDescription(SensorEntityDescription):
    """An ioStack sensor: how to compute its value from a reading."""

    value_fn: Callable[[IoStackReading, IoStackConfig], IoStackValue]
    exists_fn: Callable[[IoStackConfig], bool] = lambda _config: True
    # Counter totals are guarded: a value that would go backwards is not published.
    guarded: bool = False
    # One-wire values are None when the sensor is gone (or reports "no sensor"): unavailable.
    unavailable_without_value: bool = False


@dataclass(frozen=True, kw_only=True)
class IoStackBinarySensorDescription(BinarySensorEntityDescription):
    """An ioStack input or output state."""

    is_on_fn: Callable[[IoStackReading], bool | None]


def _pulses(number: int) -> Callable[[IoStackReading, IoStackConfig], IoStackValue]:
    def value(reading: IoStackReading, config: IoStackConfig) -> IoStackValue:
        return config.pulse_inputs[number - 1].apply(reading.pulse_counts[number - 1])

    return value


def _kind_is(number: int, kind: PulseKind) -> Callable[[IoStackConfig], bool]:
    return lambda config: config.pulse_inputs[number - 1].kind is kind


def _pulse(
    number: int,
    kind: PulseKind,
    translation_key: str,
    device_class: SensorDeviceClass | None,
    unit: str,
) -> IoStackSensorDescription:
    return IoStackSensorDescription(
        key=f"{translation_key.removeprefix('iostack_')}_{number}",
        translation_key=translation_key,
        translation_placeholders={"input": str(number)},
        device_class=device_class,
        native_unit_of_measurement=unit,
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=_pulses(number),
        exists_fn=_kind_is(number, kind),
        guarded=True,
    )


def _pulse_descriptions(number: int) -> tuple[IoStackSensorDescription, ...]:
    """What pulse input ``number`` becomes: water, gas or energy total, or a plain counter."""
    return (
        _pulse(number, PulseKind.WATER, "water", SensorDeviceClass.WATER, UnitOfVolume.LITERS),
        _pulse(number, PulseKind.GAS, "gas", SensorDeviceClass.GAS, UnitOfVolume.CUBIC_METERS),
        _pulse(
            number,
            PulseKind.ENERGY,
            "iostack_pulse_energy",
            SensorDeviceClass.ENERGY,
            UnitOfEnergy.KILO_WATT_HOUR,
        ),
        _pulse(number, PulseKind.NONE, "pulse_count", None, "pulses"),
    )


def _device_time(reading: IoStackReading, _config: IoStackConfig) -> IoStackValue:
    return reading.device_time


def _lifetime(reading: IoStackReading, _config: IoStackConfig) -> IoStackValue:
    return reading.lifetime_ms


SENSORS: tuple[IoStackSensorDescription, ...] = (
    *(description for number in INPUTS for description in _pulse_descriptions(number)),
    IoStackSensorDescription(
        key="device_time",
        translation_key="iostack_device_time",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        # It changes on every poll: enabled, it would fill the logbook and the recorder.
        entity_registry_enabled_default=False,
        value_fn=_device_time,
    ),
    IoStackSensorDescription(
        key="lifetime",
        translation_key="iostack_lifetime",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MILLISECONDS,
        suggested_unit_of_measurement=UnitOfTime.DAYS,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_lifetime,
    ),
)


def _analog(number: int) -> Callable[[IoStackReading, IoStackConfig], IoStackValue]:
    def value(reading: IoStackReading, config: IoStackConfig) -> IoStackValue:
        raw = reading.analog[number - 1]
        return None if raw is None else config.analog_inputs[number - 1].apply(raw)

    return value


def analog_descriptions(config: IoStackConfig) -> tuple[IoStackSensorDescription, ...]:
    """The 4 analog inputs: raw values, or scaled into the unit set for each input."""
    return tuple(
        IoStackSensorDescription(
            key=f"analog_{number}",
            translation_key="iostack_analog",
            translation_placeholders={"input": str(number)},
            native_unit_of_measurement=config.analog_inputs[number - 1].unit,
            state_class=SensorStateClass.MEASUREMENT,
            value_fn=_analog(number),
        )
        for number in INPUTS
    )


def _one_wire_value(
    key: str, pick: Callable[[OneWireReading], float | None]
) -> Callable[[IoStackReading, IoStackConfig], IoStackValue]:
    def value(reading: IoStackReading, _config: IoStackConfig) -> IoStackValue:
        sensor = reading.one_wire.get(key)
        return None if sensor is None else pick(sensor)

    return value


def one_wire_descriptions(sensor: OneWireReading) -> tuple[IoStackSensorDescription, ...]:
    """The values one one-wire sensor actually has (humidity 255 / lux 65535 mean none)."""
    placeholders = {"port": str(sensor.port), "sensor": str(sensor.index)}
    kinds = (
        (
            "temperature",
            sensor.temperature,
            SensorDeviceClass.TEMPERATURE,
            UnitOfTemperature.CELSIUS,
            lambda s: s.temperature,
        ),
        ("humidity", sensor.humidity, SensorDeviceClass.HUMIDITY, PERCENTAGE, lambda s: s.humidity),
        ("illuminance", sensor.lux, SensorDeviceClass.ILLUMINANCE, LIGHT_LUX, lambda s: s.lux),
    )
    pickers: list[tuple[str, SensorDeviceClass, str, Callable[[OneWireReading], float | None]]]
    pickers = [(kind, dc, unit, pick) for kind, value, dc, unit, pick in kinds if value is not None]
    return tuple(
        IoStackSensorDescription(
            key=f"ow_{sensor.key}_{kind}",
            translation_key=f"iostack_{kind}",
            translation_placeholders=placeholders,
            device_class=device_class,
            native_unit_of_measurement=unit,
            state_class=SensorStateClass.MEASUREMENT,
            value_fn=_one_wire_value(sensor.key, pick),
            unavailable_without_value=True,
        )
        for kind, device_class, unit, pick in pickers
    )


def _input(number: int) -> Callable[[IoStackReading], bool | None]:
    return lambda reading: reading.input_on(number)


def _output(number: int) -> Callable[[IoStackReading], bool | None]:
    return lambda reading: reading.output_on(number)


BINARY_SENSORS: tuple[IoStackBinarySensorDescription, ...] = (
    *(
        IoStackBinarySensorDescription(
            key=f"input_{number}",
            translation_key="input",
            translation_placeholders={"input": str(number)},
            is_on_fn=_input(number),
        )
        for number in INPUTS
    ),
    # Output states as the ioStack reports them (State_Out). No output command is documented,
    # so they are not switches.
    *(
        IoStackBinarySensorDescription(
            key=f"output_{number}",
            translation_key="iostack_output",
            translation_placeholders={"output": str(number)},
            is_on_fn=_output(number),
        )
        for number in INPUTS
    ),
)
