"""The meters and ioStacks of a bus entry, as the coordinator and the entities use them.

Subentry data is read into these frozen dataclasses once per setup; comparing them tells whether a
changed entry needs a reload (devices changed) or only new options.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigSubentry

from ..ekm import DEFAULT_PASSWORD, MeterVersion, printed_address
from .const import (
    CONF_ADDRESS,
    CONF_ANALOG_INPUTS,
    CONF_NAME,
    CONF_OFFSET,
    CONF_PASSWORD,
    CONF_PULSE_FACTOR,
    CONF_PULSE_INPUTS,
    CONF_PULSE_KIND,
    CONF_SCALE,
    CONF_UNIT,
    CONF_VERSION,
    SUBENTRY_IOSTACK,
    SUBENTRY_METER,
    PulseKind,
)
from .iostack.backend import INPUTS


@dataclass(frozen=True, slots=True)
class PulseInput:
    """What one meter pulse input counts, and how much one (ratio-applied) pulse is."""

    kind: PulseKind = PulseKind.NONE
    factor: float = 1.0

    def apply(self, count: float | None) -> float | None:
        """The amount ``count`` pulses stand for (plain counts stay counts)."""
        if count is None or self.kind is PulseKind.NONE:
            return count
        return round(count * self.factor, 6)


@dataclass(frozen=True, slots=True)
class MeterConfig:
    """A meter subentry, as the coordinator uses it."""

    subentry_id: str
    address: str
    version: MeterVersion
    password: str
    pulse_inputs: tuple[PulseInput, PulseInput, PulseInput]

    @classmethod
    def from_subentry(cls, subentry: ConfigSubentry) -> MeterConfig:
        """Build from a subentry's data."""
        data = subentry.data
        raw_inputs: list[dict[str, Any]] = list(data.get(CONF_PULSE_INPUTS, []))
        raw_inputs += [{}] * (3 - len(raw_inputs))
        inputs = tuple(
            PulseInput(
                PulseKind(raw.get(CONF_PULSE_KIND, PulseKind.NONE)),
                float(raw.get(CONF_PULSE_FACTOR, 1.0)),
            )
            for raw in raw_inputs[:3]
        )
        return cls(
            subentry_id=subentry.subentry_id,
            address=data[CONF_ADDRESS],
            version=MeterVersion(data[CONF_VERSION]),
            password=data.get(CONF_PASSWORD, DEFAULT_PASSWORD),
            pulse_inputs=inputs,  # type: ignore[arg-type]
        )


def _pulse_inputs(raw_inputs: Iterable[dict[str, Any]], count: int) -> tuple[PulseInput, ...]:
    raw = list(raw_inputs)[:count]
    raw += [{}] * (count - len(raw))
    return tuple(
        PulseInput(
            PulseKind(item.get(CONF_PULSE_KIND, PulseKind.NONE)),
            float(item.get(CONF_PULSE_FACTOR, 1.0)),
        )
        for item in raw
    )


@dataclass(frozen=True, slots=True)
class AnalogInput:
    """How an ioStack analog input is shown: raw, or ``raw x scale + offset`` in ``unit``."""

    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None

    def apply(self, raw: float) -> float:
        """The shown value of a raw reading."""
        if self.scale == 1 and self.offset == 0:
            return raw
        return round(raw * self.scale + self.offset, 6)


@dataclass(frozen=True, slots=True)
class IoStackConfig:
    """An ioStack subentry, as the coordinator uses it."""

    subentry_id: str
    address: str
    name: str | None
    pulse_inputs: tuple[PulseInput, ...]
    analog_inputs: tuple[AnalogInput, ...]

    @classmethod
    def from_subentry(cls, subentry: ConfigSubentry) -> IoStackConfig:
        """Build from a subentry's data."""
        data = subentry.data
        analog = [dict(item) for item in data.get(CONF_ANALOG_INPUTS, [])][: len(INPUTS)]
        analog += [{}] * (len(INPUTS) - len(analog))
        return cls(
            subentry_id=subentry.subentry_id,
            address=data[CONF_ADDRESS],
            name=data.get(CONF_NAME) or None,
            pulse_inputs=_pulse_inputs(data.get(CONF_PULSE_INPUTS, []), len(INPUTS)),
            analog_inputs=tuple(
                AnalogInput(
                    float(item.get(CONF_SCALE, 1.0)),
                    float(item.get(CONF_OFFSET, 0.0)),
                    item.get(CONF_UNIT) or None,
                )
                for item in analog
            ),
        )

    @property
    def title(self) -> str:
        """The device name: the given name, or "ioStack <address>"."""
        return iostack_title(self.address, self.name)


def meter_title(address: str) -> str:
    """A meter's default name: "Omnimeter <address as printed on it>"."""
    return f"Omnimeter {printed_address(address)}"


def iostack_title(address: str, name: str | None) -> str:
    """An ioStack's name: the given one, or "ioStack <address as printed on it>"."""
    return name or f"ioStack {printed_address(address)}"


def devices_of(
    entry: ConfigEntry,
) -> tuple[dict[str, MeterConfig], dict[str, IoStackConfig]]:
    """The meters and ioStacks a bus entry's subentries describe, by subentry id."""
    meters = {
        sub.subentry_id: MeterConfig.from_subentry(sub)
        for sub in entry.get_subentries_of_type(SUBENTRY_METER)
    }
    iostacks = {
        sub.subentry_id: IoStackConfig.from_subentry(sub)
        for sub in entry.get_subentries_of_type(SUBENTRY_IOSTACK)
    }
    return meters, iostacks
