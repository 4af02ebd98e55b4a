"""Typed events: what a plug reports, and what the household view derives from it.

Field names and units follow powersensor-local's documented events, so ``payload()`` gives
exactly the dict that library emits (``role`` and ``via`` only when known).
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar


class EventKind(StrEnum):
    """Name of a plug event, as powersensor-local names it."""

    AVERAGE_POWER = "average_power"
    AVERAGE_POWER_COMPONENTS = "average_power_components"
    SUMMATION_ENERGY = "summation_energy"
    AVERAGE_FLOW = "average_flow"
    SUMMATION_VOLUME = "summation_volume"
    UNCALIBRATED_AVERAGE_READING = "uncalibrated_average_reading"
    BATTERY_LEVEL = "battery_level"
    RADIO_SIGNAL_QUALITY = "radio_signal_quality"
    NOW_RELAYING_FOR = "now_relaying_for"


class Role(StrEnum):
    """Roles a device reports. Devices may send others; events keep the raw string."""

    HOUSE_NET = "house-net"
    SOLAR = "solar"
    WATER = "water"
    APPLIANCE = "appliance"
    UNKNOWN = "unknown"


@dataclass(slots=True, kw_only=True)
class Reading:
    """Fields every reading event carries.

    ``mac`` is the device that measured (plug or sensor), ``via`` the plug that relayed a
    sensor's reading (``None`` for the plug's own readings), ``starttime_utc`` the start of the
    averaging window in seconds since the epoch (UTC).
    """

    kind: ClassVar[EventKind]
    _fields: ClassVar[tuple[str, ...]] = ()

    mac: str
    role: str | None
    starttime_utc: float
    via: str | None

    @property
    def name(self) -> str:
        """Event name, e.g. ``average_power``."""
        return self.kind.value

    def payload(self) -> dict[str, Any]:
        """Return the event as powersensor-local's payload dict."""
        out: dict[str, Any] = {"mac": self.mac}
        if self.role is not None:
            out["role"] = self.role
        out["starttime_utc"] = self.starttime_utc
        for field_name in self._fields:
            out[field_name] = getattr(self, field_name)
        if self.via is not None:
            out["via"] = self.via
        return out


@dataclass(slots=True, kw_only=True)
class AveragePower(Reading):
    """Average real power over ``duration_s``: W; negative means export (sensors)."""

    kind: ClassVar[EventKind] = EventKind.AVERAGE_POWER
    _fields: ClassVar[tuple[str, ...]] = ("watts", "duration_s")

    watts: float
    duration_s: float


@dataclass(slots=True, kw_only=True)
class AveragePowerComponents(Reading):
    """The plug's voltage and current components for the window of the same ``starttime_utc``."""

    kind: ClassVar[EventKind] = EventKind.AVERAGE_POWER_COMPONENTS
    _fields: ClassVar[tuple[str, ...]] = (
        "apparent_current",
        "active_current",
        "reactive_current",
        "volts",
    )

    apparent_current: float
    active_current: float
    reactive_current: float
    volts: float


@dataclass(slots=True, kw_only=True)
class SummationEnergy(Reading):
    """Energy counter in J since ``summation_resettime_utc``; a sensor's is net and may fall."""

    kind: ClassVar[EventKind] = EventKind.SUMMATION_ENERGY
    _fields: ClassVar[tuple[str, ...]] = ("summation_joules", "summation_resettime_utc")

    summation_joules: float
    summation_resettime_utc: float


@dataclass(slots=True, kw_only=True)
class AverageFlow(Reading):
    """Water flow in L/min over ``duration_s``."""

    kind: ClassVar[EventKind] = EventKind.AVERAGE_FLOW
    _fields: ClassVar[tuple[str, ...]] = ("litres_per_minute", "duration_s")

    litres_per_minute: float
    duration_s: float


@dataclass(slots=True, kw_only=True)
class SummationVolume(Reading):
    """Water volume counter in L since ``summation_resettime_utc``."""

    kind: ClassVar[EventKind] = EventKind.SUMMATION_VOLUME
    _fields: ClassVar[tuple[str, ...]] = ("summation_litres", "summation_resettime_utc")

    summation_litres: float
    summation_resettime_utc: float


@dataclass(slots=True, kw_only=True)
class UncalibratedAverageReading(Reading):
    """A sensor's reading before the cloud calibrated it: unitless, NOT watts."""

    kind: ClassVar[EventKind] = EventKind.UNCALIBRATED_AVERAGE_READING
    _fields: ClassVar[tuple[str, ...]] = ("value", "duration_s")

    value: float
    duration_s: float


@dataclass(slots=True, kw_only=True)
class BatteryLevel(Reading):
    """A sensor's battery voltage (3.7 V nominal, about 4.2 V full)."""

    kind: ClassVar[EventKind] = EventKind.BATTERY_LEVEL
    _fields: ClassVar[tuple[str, ...]] = ("volts",)

    volts: float


@dataclass(slots=True, kw_only=True)
class RadioSignalQuality(Reading):
    """RSSI in dBm of the sensor-to-plug radio: average over the window and the last one."""

    kind: ClassVar[EventKind] = EventKind.RADIO_SIGNAL_QUALITY
    _fields: ClassVar[tuple[str, ...]] = ("duration_s", "average_rssi", "last_rssi")

    duration_s: float
    average_rssi: float
    last_rssi: float


@dataclass(slots=True, kw_only=True)
class NowRelayingFor:
    """First reading of another device (a sensor) through this plug, before its data events."""

    kind: ClassVar[EventKind] = EventKind.NOW_RELAYING_FOR

    mac: str
    device_type: str | None
    role: str | None

    @property
    def name(self) -> str:
        """Event name: ``now_relaying_for``."""
        return self.kind.value

    def payload(self) -> dict[str, Any]:
        """Return the event as powersensor-local's payload dict."""
        out: dict[str, Any] = {"mac": self.mac}
        if self.device_type is not None:
            out["device_type"] = self.device_type
        if self.role is not None:
            out["role"] = self.role
        return out


type PlugEvent = (
    AveragePower
    | AveragePowerComponents
    | SummationEnergy
    | AverageFlow
    | SummationVolume
    | UncalibratedAverageReading
    | BatteryLevel
    | RadioSignalQuality
    | NowRelayingFor
)
"""Everything a plug client emits as data."""


class HouseholdFlow(StrEnum):
    """The four power flows of the household view."""

    FROM_GRID = "from_grid"
    HOME_USAGE = "home_usage"
    SOLAR_GENERATION = "solar_generation"
    TO_GRID = "to_grid"


@dataclass(frozen=True, slots=True)
class HouseholdPower:
    """Gross power of one flow (W, never negative) for the window starting at ``timestamp_utc``."""

    flow: HouseholdFlow
    timestamp_utc: int
    watts: float

    @property
    def name(self) -> str:
        """Event name, e.g. ``home_usage``."""
        return self.flow.value

    def payload(self) -> dict[str, Any]:
        """Return the event as powersensor-local's payload dict."""
        return {"timestamp_utc": self.timestamp_utc, "watts": self.watts}


@dataclass(frozen=True, slots=True)
class HouseholdEnergy:
    """Gross energy counter of one flow in J, never decreasing between resets.

    ``summation_resettime_utc`` is when the household's own counters last started from 0
    (not a sensor's reset time).
    """

    flow: HouseholdFlow
    timestamp_utc: int
    summation_resettime_utc: int
    summation_joules: float

    @property
    def name(self) -> str:
        """Event name, e.g. ``home_usage_summation``."""
        return f"{self.flow.value}_summation"

    def payload(self) -> dict[str, Any]:
        """Return the event as powersensor-local's payload dict."""
        return {
            "timestamp_utc": self.timestamp_utc,
            "summation_resettime_utc": self.summation_resettime_utc,
            "summation_joules": self.summation_joules,
        }


type HouseholdEvent = HouseholdPower | HouseholdEnergy
"""Everything the household view emits."""
