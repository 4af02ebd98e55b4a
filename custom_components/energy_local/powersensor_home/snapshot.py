"""The Powersensor home as its entities see it: immutable, typed snapshots.

The coordinator publishes a new :class:`HomeSnapshot` for every change; entities read their
value from it through the typed ``value_fn`` of their description.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..powersensor import HouseholdFlow
from .store import DeviceKind

_EMPTY_FLOWS: Mapping[HouseholdFlow, float] = MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceSnapshot:
    """A plug or relayed sensor: its latest readings (None until first reported).

    ``energy`` is in kWh and ``volume`` in L: the guarded, continuous totals.
    """

    mac: str
    kind: DeviceKind
    via: str | None = None
    role: str | None = None
    """The user's choice in the options, else the role the device last reported."""
    available: bool = False
    power: float | None = None
    voltage: float | None = None
    apparent_current: float | None = None
    active_current: float | None = None
    reactive_current: float | None = None
    energy: float | None = None
    flow: float | None = None
    volume: float | None = None
    battery: int | None = None
    battery_voltage: float | None = None
    rssi: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HouseholdSnapshot:
    """The household view: power per flow (W) and the guarded energy totals (kWh)."""

    seen: bool = False
    """A mains sensor is known: the household entities exist."""
    with_solar: bool = False
    available: bool = False
    """Its mains sensor is live (power follows it; energy totals stay available)."""
    power: Mapping[HouseholdFlow, float] = field(default=_EMPTY_FLOWS)
    energy: Mapping[HouseholdFlow, float] = field(default=_EMPTY_FLOWS)


@dataclass(frozen=True, slots=True, kw_only=True)
class HomeSnapshot:
    """Every device of the home, and the household."""

    devices: Mapping[str, DeviceSnapshot] = field(default_factory=lambda: MappingProxyType({}))
    household: HouseholdSnapshot = field(default_factory=HouseholdSnapshot)

    def sensor_macs(self) -> list[str]:
        """Every relayed sensor known so far."""
        return [mac for mac, dev in self.devices.items() if dev.kind is DeviceKind.SENSOR]
