"""Simulator settings from the command line and from a JSON file.

JSON format (every key optional)::

    {
        "meters": [
            {
                "address": "300001285",
                "version": 4,
                "kwh_scale": 1,
                "password": "00000000",
                "clock_offset_s": 0,
                "pulse_rates": [0.5, 0.1, 0.0],
                "initial_kwh": 1234.5,
                "jitter": 0.03,
                "ct_ratio": 200,
                "lines": [
                    {"watts": 1500, "exporting": false, "power_factor": "L095", "volts": 120},
                    {"watts": 900},
                    {"watts": 2000, "exporting": true, "power_factor": " 100"},
                ],
            }
        ],
        "pacing": true,
        "turnaround_ms": 20,
        "speed": 1,
        "seed": 1,
        "faults": {"crc": 0.05, "no_reply": 0.02},
    }
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from custom_components.energy_local.ekm.address import normalize_address
from custom_components.energy_local.ekm.models import MeterVersion

from .faults import FaultKind
from .meter import LineConfig

_METER_KEYS = frozenset(
    {
        "address",
        "version",
        "kwh_scale",
        "password",
        "clock_offset_s",
        "pulse_rates",
        "initial_kwh",
        "jitter",
        "ct_ratio",
        "lines",
    }
)
_LINE_KEYS = frozenset({"watts", "exporting", "power_factor", "volts"})


@dataclass(slots=True)
class MeterSpec:
    """One meter to put on the bus: address, version and :class:`SimMeter` options."""

    address: str
    version: MeterVersion
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SimulatorConfig:
    """Everything the program needs to build a simulator."""

    meters: list[MeterSpec] = field(default_factory=list)
    pacing: bool = True
    turnaround_ms: float = 20.0
    speed: float = 1.0
    seed: int | None = None
    faults: dict[FaultKind, float] = field(default_factory=dict)


def parse_meter_list(text: str) -> list[MeterSpec]:
    """Parse ``"300001285:4,10006388:3"`` (address:version, comma separated)."""
    specs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        address, sep, version = item.partition(":")
        if not sep:
            raise ValueError(f"meter {item!r} must be ADDRESS:VERSION (version 3 or 4)")
        specs.append(MeterSpec(normalize_address(address), MeterVersion(int(version))))
    return specs


def parse_fault(text: str) -> tuple[FaultKind, float]:
    """Parse ``"crc=0.05"`` into a fault kind and its probability."""
    name, sep, value = text.partition("=")
    if not sep:
        raise ValueError(f"fault {text!r} must be NAME=PROBABILITY")
    try:
        kind = FaultKind(name.strip())
    except ValueError:
        names = ", ".join(kind.value for kind in FaultKind)
        raise ValueError(f"unknown fault {name!r}; known: {names}") from None
    probability = float(value)
    if not 0 <= probability <= 1:
        raise ValueError(f"fault probability must be within 0-1, got {probability}")
    return kind, probability


def _line(entry: Mapping[str, Any]) -> LineConfig:
    unknown = set(entry) - _LINE_KEYS
    if unknown:
        raise ValueError(f"unknown line keys {sorted(unknown)}")
    return LineConfig(**entry)


def meter_spec(entry: Mapping[str, Any]) -> MeterSpec:
    """Turn one JSON meter object into a :class:`MeterSpec`."""
    unknown = set(entry) - _METER_KEYS
    if unknown:
        raise ValueError(f"unknown meter keys {sorted(unknown)}")
    options: dict[str, Any] = {
        key: value for key, value in entry.items() if key not in {"address", "version"}
    }
    if "clock_offset_s" in options:
        options["clock_offset"] = timedelta(seconds=float(options.pop("clock_offset_s")))
    if "lines" in options:
        options["lines"] = [_line(line) for line in options["lines"]]
    if "pulse_rates" in options:
        options["pulse_rates"] = tuple(float(rate) for rate in options["pulse_rates"])
    return MeterSpec(
        normalize_address(entry["address"]), MeterVersion(int(entry.get("version", 4))), options
    )


def load_config(path: str | Path) -> SimulatorConfig:
    """Read a JSON configuration file."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise TypeError("the configuration must be a JSON object")
    config = SimulatorConfig(meters=[meter_spec(entry) for entry in data.get("meters", [])])
    config.pacing = bool(data.get("pacing", config.pacing))
    config.turnaround_ms = float(data.get("turnaround_ms", config.turnaround_ms))
    config.speed = float(data.get("speed", config.speed))
    seed = data.get("seed")
    config.seed = int(seed) if seed is not None else None
    for name, probability in data.get("faults", {}).items():
        kind, value = parse_fault(f"{name}={probability}")
        config.faults[kind] = value
    return config
