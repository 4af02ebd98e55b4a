"""What each EKM meter sensor shows: one description per sensor, no per-sensor classes.

EKM's kWh_Tot counts energy through the meter in both directions (forward + reverse), so the
Energy dashboard's grid import is kWh_Tot - Rev_kWh_Tot, export is Rev_kWh_Tot, and the net
register kWh_Tot - 2 x Rev_kWh_Tot (protocol notes §7.6). The same holds per tariff, per line
(kWh_Ln_N - Rev_kWh_Ln_N) and for the resettable registers (kWh_Rst - Rev_kWh_Rst): kWh_Tot is
the sum of the kWh_Ln_N, so they count both directions too.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfPower,
    UnitOfReactiveEnergy,
    UnitOfReactivePower,
    UnitOfVolume,
)

from ..ekm import MeterVersion, decode_cos_theta
from .const import PulseKind
from .models import MeterConfig

type Values = Mapping[str, Any]  # a reading's values, read-only: never copied per entity
type SensorValue = float | int | str | datetime | None

V3_V4 = frozenset({MeterVersion.V3, MeterVersion.V4})
V4_ONLY = frozenset({MeterVersion.V4})


@dataclass(frozen=True, kw_only=True)
class EkmSensorDescription(SensorEntityDescription):
    """A meter sensor: how to compute its value from a reading's EKM fields."""

    value_fn: Callable[[Values, MeterConfig], SensorValue]
    versions: frozenset[MeterVersion] = V3_V4
    exists_fn: Callable[[MeterConfig], bool] = lambda _meter: True
    # A total's EKM fields (they pass the meter's gate). A total is published lower than
    # before only when the gate took one of them as reset: see entity.GuardedTotal.
    total_of: tuple[str, ...] = ()

    @property
    def guarded(self) -> bool:
        """Whether this is a total (never published lower, except at a reset)."""
        return bool(self.total_of)


def _field(name: str) -> Callable[[Values, MeterConfig], SensorValue]:
    return lambda values, _meter: values.get(name)


def _kwh(value: float) -> float:
    # kWh registers have at most 2 decimals (kWh_Scale 2); keep differences free of float dust.
    return round(value, 3)


def _forward(total: str, reverse: str) -> Callable[[Values, MeterConfig], SensorValue]:
    def value(values: Values, _meter: MeterConfig) -> SensorValue:
        if total not in values or reverse not in values:
            return None
        return _kwh(values[total] - values[reverse])

    return value


def _net(total: str, reverse: str) -> Callable[[Values, MeterConfig], SensorValue]:
    def value(values: Values, _meter: MeterConfig) -> SensorValue:
        if total not in values or reverse not in values:
            return None
        return _kwh(values[total] - 2 * values[reverse])

    return value


def _signed_watts(line: str) -> Callable[[Values, MeterConfig], SensorValue]:
    """Signed power (v4: from State_Watts_Dir; v3 meters report magnitude only)."""

    def value(values: Values, _meter: MeterConfig) -> SensorValue:
        watts: int | None = values.get(f"Net_Calc_Watts_{line}", values.get(f"RMS_Watts_{line}"))
        return watts

    return value


def _power_factor(line: int) -> Callable[[Values, MeterConfig], SensorValue]:
    """Power factor in %, negative when leading (capacitive), positive when lagging."""

    def value(values: Values, _meter: MeterConfig) -> SensorValue:
        text = values.get(f"Cos_Theta_Ln_{line}")
        return round(decode_cos_theta(text).signed * 100) if isinstance(text, str) else None

    return value


def _pulses(index: int) -> Callable[[Values, MeterConfig], SensorValue]:
    def value(values: Values, meter: MeterConfig) -> SensorValue:
        count: int | None = values.get(f"Pulse_Cnt_{index}")
        return meter.pulse_inputs[index - 1].apply(count)

    return value


def _pulse_kind_is(index: int, *kinds: PulseKind) -> Callable[[MeterConfig], bool]:
    return lambda meter: meter.pulse_inputs[index - 1].kind in kinds


def _energy(
    key: str,
    fn: Callable[[Values, MeterConfig], SensorValue],
    total_of: tuple[str, ...],
    **kw: Any,
) -> EkmSensorDescription:
    return EkmSensorDescription(
        key=key,
        translation_key=key,
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=1,
        value_fn=fn,
        total_of=total_of,
        **kw,
    )


def _measure(
    key: str,
    fn: Callable[[Values, MeterConfig], SensorValue],
    device_class: SensorDeviceClass,
    unit: str,
    **kw: Any,
) -> EkmSensorDescription:
    return EkmSensorDescription(
        key=key,
        translation_key=key,
        device_class=device_class,
        native_unit_of_measurement=unit,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=fn,
        **kw,
    )


def _diagnostic(key: str, name: str, **kw: Any) -> EkmSensorDescription:
    return EkmSensorDescription(
        key=key,
        translation_key=key,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_field(name),
        **kw,
    )


LINES = (1, 2, 3)
TARIFFS = (1, 2, 3, 4)

SENSORS: tuple[EkmSensorDescription, ...] = (
    # --- energy totals (Energy dashboard) ---
    _energy("energy_import", _forward("kWh_Tot", "Rev_kWh_Tot"), ("kWh_Tot", "Rev_kWh_Tot")),
    _energy("energy_export", _field("Rev_kWh_Tot"), ("Rev_kWh_Tot",)),
    EkmSensorDescription(
        key="energy_net",
        translation_key="energy_net",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        # Net energy falls while exporting: TOTAL, so HA adds negative differences.
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=1,
        value_fn=_net("kWh_Tot", "Rev_kWh_Tot"),
    ),
    _energy(
        "energy_both_directions",
        _field("kWh_Tot"),
        ("kWh_Tot",),
        entity_registry_enabled_default=False,
    ),
    *(
        _energy(
            f"energy_import_tariff_{t}",
            _forward(f"kWh_Tariff_{t}", f"Rev_kWh_Tariff_{t}"),
            (f"kWh_Tariff_{t}", f"Rev_kWh_Tariff_{t}"),
            translation_placeholders={"tariff": str(t)},
            entity_registry_enabled_default=False,
        )
        for t in TARIFFS
    ),
    *(
        _energy(
            f"energy_export_tariff_{t}",
            _field(f"Rev_kWh_Tariff_{t}"),
            (f"Rev_kWh_Tariff_{t}",),
            translation_placeholders={"tariff": str(t)},
            entity_registry_enabled_default=False,
        )
        for t in TARIFFS
    ),
    *(
        _energy(
            f"energy_import_line_{n}",
            _forward(f"kWh_Ln_{n}", f"Rev_kWh_Ln_{n}"),
            (f"kWh_Ln_{n}", f"Rev_kWh_Ln_{n}"),
            versions=V4_ONLY,
            translation_placeholders={"line": str(n)},
            entity_registry_enabled_default=False,
        )
        for n in LINES
    ),
    *(
        _energy(
            f"energy_export_line_{n}",
            _field(f"Rev_kWh_Ln_{n}"),
            (f"Rev_kWh_Ln_{n}",),
            versions=V4_ONLY,
            translation_placeholders={"line": str(n)},
            entity_registry_enabled_default=False,
        )
        for n in LINES
    ),
    _energy(
        "energy_resettable",
        _forward("kWh_Rst", "Rev_kWh_Rst"),
        ("kWh_Rst", "Rev_kWh_Rst"),
        versions=V4_ONLY,
        entity_registry_enabled_default=False,
    ),
    _energy(
        "energy_resettable_export",
        _field("Rev_kWh_Rst"),
        ("Rev_kWh_Rst",),
        versions=V4_ONLY,
        entity_registry_enabled_default=False,
    ),
    EkmSensorDescription(
        key="reactive_energy",
        translation_key="reactive_energy",
        device_class=SensorDeviceClass.REACTIVE_ENERGY,
        native_unit_of_measurement=UnitOfReactiveEnergy.KILO_VOLT_AMPERE_REACTIVE_HOUR,
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=_field("Reactive_Energy_Tot"),
        versions=V4_ONLY,
        total_of=("Reactive_Energy_Tot",),
        entity_registry_enabled_default=False,
    ),
    # --- power and the grid ---
    _measure("power", _signed_watts("Tot"), SensorDeviceClass.POWER, UnitOfPower.WATT),
    *(
        _measure(
            f"power_line_{n}",
            _signed_watts(f"Ln_{n}"),
            SensorDeviceClass.POWER,
            UnitOfPower.WATT,
            translation_placeholders={"line": str(n)},
        )
        for n in LINES
    ),
    _measure(
        "reactive_power",
        _field("Reactive_Pwr_Tot"),
        SensorDeviceClass.REACTIVE_POWER,
        UnitOfReactivePower.VOLT_AMPERE_REACTIVE,
        versions=V4_ONLY,
        entity_registry_enabled_default=False,
    ),
    *(
        _measure(
            f"reactive_power_line_{n}",
            _field(f"Reactive_Pwr_Ln_{n}"),
            SensorDeviceClass.REACTIVE_POWER,
            UnitOfReactivePower.VOLT_AMPERE_REACTIVE,
            versions=V4_ONLY,
            translation_placeholders={"line": str(n)},
            entity_registry_enabled_default=False,
        )
        for n in LINES
    ),
    *(
        _measure(
            f"voltage_line_{n}",
            _field(f"RMS_Volts_Ln_{n}"),
            SensorDeviceClass.VOLTAGE,
            UnitOfElectricPotential.VOLT,
            translation_placeholders={"line": str(n)},
            suggested_display_precision=1,
        )
        for n in LINES
    ),
    *(
        _measure(
            f"current_line_{n}",
            _field(f"Amps_Ln_{n}"),
            SensorDeviceClass.CURRENT,
            UnitOfElectricCurrent.AMPERE,
            translation_placeholders={"line": str(n)},
            suggested_display_precision=1,
        )
        for n in LINES
    ),
    *(
        _measure(
            f"power_factor_line_{n}",
            _power_factor(n),
            SensorDeviceClass.POWER_FACTOR,
            "%",
            translation_placeholders={"line": str(n)},
            entity_registry_enabled_default=False,
        )
        for n in LINES
    ),
    _measure(
        "frequency",
        _field("Line_Freq"),
        SensorDeviceClass.FREQUENCY,
        UnitOfFrequency.HERTZ,
        versions=V4_ONLY,
        suggested_display_precision=2,
        entity_registry_enabled_default=False,
    ),
    _measure(
        "max_demand",
        _field("RMS_Watts_Max_Demand"),
        SensorDeviceClass.POWER,
        UnitOfPower.WATT,
        entity_registry_enabled_default=False,
    ),
    # --- pulse inputs: water, gas, energy or plain counters, as configured ---
    *(
        EkmSensorDescription(
            key=f"water_{i}",
            translation_key="water",
            translation_placeholders={"input": str(i)},
            device_class=SensorDeviceClass.WATER,
            native_unit_of_measurement=UnitOfVolume.LITERS,
            state_class=SensorStateClass.TOTAL_INCREASING,
            value_fn=_pulses(i),
            exists_fn=_pulse_kind_is(i, PulseKind.WATER),
            total_of=(f"Pulse_Cnt_{i}",),
        )
        for i in LINES
    ),
    *(
        EkmSensorDescription(
            key=f"gas_{i}",
            translation_key="gas",
            translation_placeholders={"input": str(i)},
            device_class=SensorDeviceClass.GAS,
            native_unit_of_measurement=UnitOfVolume.CUBIC_METERS,
            state_class=SensorStateClass.TOTAL_INCREASING,
            value_fn=_pulses(i),
            exists_fn=_pulse_kind_is(i, PulseKind.GAS),
            total_of=(f"Pulse_Cnt_{i}",),
        )
        for i in LINES
    ),
    *(
        _energy(
            f"pulse_energy_{i}",
            _pulses(i),
            (f"Pulse_Cnt_{i}",),
            translation_placeholders={"input": str(i)},
            exists_fn=_pulse_kind_is(i, PulseKind.ENERGY),
        )
        for i in LINES
    ),
    *(
        EkmSensorDescription(
            key=f"pulse_count_{i}",
            translation_key="pulse_count",
            translation_placeholders={"input": str(i)},
            native_unit_of_measurement="pulses",
            state_class=SensorStateClass.TOTAL_INCREASING,
            value_fn=_pulses(i),
            exists_fn=_pulse_kind_is(i, PulseKind.NONE),
            total_of=(f"Pulse_Cnt_{i}",),
            entity_registry_enabled_default=False,
        )
        for i in LINES
    ),
    # --- diagnostics ---
    _diagnostic("ct_ratio", "CT_Ratio"),
    *(
        _diagnostic(
            f"pulse_ratio_{i}", f"Pulse_Ratio_{i}", translation_placeholders={"input": str(i)}
        )
        for i in LINES
    ),
    _diagnostic("pulse_output_ratio", "CF_Ratio", versions=V4_ONLY),
    _diagnostic("max_demand_period", "Max_Demand_Period"),
    _diagnostic("max_demand_reset_interval", "Max_Demand_Rst", versions=V4_ONLY),
    _diagnostic("kwh_scale", "kWh_Scale", versions=V4_ONLY),
    _diagnostic("status_code", "Meter_Status_Code", versions=frozenset({MeterVersion.V3})),
    *(
        _diagnostic(
            f"status_code_{x.lower()}",
            f"Meter_Status_Code_{x}",
            versions=V4_ONLY,
        )
        for x in "ABC"
    ),
    EkmSensorDescription(
        key="meter_time",
        translation_key="meter_time",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        # It changes on every poll: enabled, it would fill the logbook and the recorder.
        entity_registry_enabled_default=False,
        value_fn=_field("Meter_Time"),
    ),
)
