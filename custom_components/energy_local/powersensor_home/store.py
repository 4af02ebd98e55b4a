"""What the Powersensor home keeps across restarts: the household, every total, device roles.

One Home Assistant store per home entry. Every total is a :class:`MonotonicTotal` guard; its
kind (plug, net sensor, water, household flow) fixes its physical bound, both when it is
created and when it is restored (the former ``ContinuousTotal`` format loads too). A stored
state that does not validate is logged and dropped, never a failed setup.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from ..const import DOMAIN
from ..powersensor import (
    MAINS_MAX_WATTS,
    PLUG_MAX_WATTS,
    WATER_MAX_LITRES_PER_S,
    Household,
    MonotonicTotal,
)
from ..powersensor.totals import ENERGY_ROUNDING, VOLUME_ROUNDING

_LOGGER = logging.getLogger(__name__)

STORE_VERSION: Final = 1
SAVE_DELAY: Final = 30.0  # seconds: persisted totals lag the live ones by at most this
HOUSEHOLD: Final = "household"


class DeviceKind(StrEnum):
    """A plug (on the LAN) or a battery sensor it relays."""

    PLUG = "plug"
    SENSOR = "sensor"


@dataclass(frozen=True, slots=True)
class StoredDevice:
    """A device as remembered: its kind, the plug that relayed it, the role it last reported."""

    kind: DeviceKind
    via: str | None = None
    reported_role: str | None = None


@dataclass(slots=True)
class StoredHome:
    """The restart state of one home."""

    household: Household = field(default_factory=Household)
    totals: dict[str, MonotonicTotal] = field(default_factory=dict)
    devices: dict[str, StoredDevice] = field(default_factory=dict)


def total_key(mac: str, quantity: str) -> str:
    """The store key of a device total (``quantity``: "energy" or "volume") or household flow."""
    return f"{mac}:{quantity}"


def _limits(key: str, kind: DeviceKind | None) -> tuple[float, float, bool]:
    """(max rate, rounding, signed) of the total stored under ``key``."""
    if key.endswith(":volume"):
        return WATER_MAX_LITRES_PER_S, VOLUME_ROUNDING, False
    if key.startswith(f"{HOUSEHOLD}:"):
        return MAINS_MAX_WATTS, ENERGY_ROUNDING, False
    if kind is DeviceKind.PLUG:
        return PLUG_MAX_WATTS, ENERGY_ROUNDING, False
    # A mains or solar sensor counts net energy: it falls while exporting.
    return MAINS_MAX_WATTS, ENERGY_ROUNDING, True


def new_total(key: str, kind: DeviceKind | None) -> MonotonicTotal:
    """A fresh guard for the total ``key`` of a device of ``kind`` (None: household)."""
    max_rate, rounding, signed = _limits(key, kind)
    return MonotonicTotal(max_rate, rounding, signed)


class HomeStore:
    """Loads and (lazily) saves one home's restart state."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """Bind to the entry's store file."""
        self._store: Store[dict[str, Any]] = Store(
            hass, STORE_VERSION, f"{DOMAIN}.powersensor.{entry_id}"
        )

    async def async_load(self) -> StoredHome:
        """The stored state, validated; anything unreadable is logged and starts afresh."""
        data = await self._store.async_load()
        return parse(data if isinstance(data, dict) else {})

    def schedule_save(self, export: Callable[[], dict[str, Any]]) -> None:
        """Save ``export()`` within :data:`SAVE_DELAY` (one write for many changes)."""
        self._store.async_delay_save(export, SAVE_DELAY)

    async def async_save(self, data: dict[str, Any]) -> None:
        """Save now (the home stops)."""
        await self._store.async_save(data)


def export(home: StoredHome) -> dict[str, Any]:
    """JSON-ready data of ``home`` (what :func:`parse` reads)."""
    return {
        "household": home.household.export_state(),
        "totals": {key: total.export() for key, total in home.totals.items()},
        "devices": {
            mac: {"kind": dev.kind.value, "via": dev.via, "role": dev.reported_role}
            for mac, dev in home.devices.items()
        },
    }


def parse(data: dict[str, Any]) -> StoredHome:
    """Rebuild the restart state; each bad part is dropped on its own, with a log line."""
    home = StoredHome()
    now = time.time()
    if "household" in data:
        try:
            home.household = Household.from_state(data["household"])
        except (TypeError, ValueError, KeyError) as err:
            _LOGGER.warning("Stored Powersensor household state dropped (%s); starting afresh", err)
    devices = data.get("devices")
    for mac, info in (devices if isinstance(devices, dict) else {}).items():
        if not isinstance(info, dict) or info.get("kind") not in tuple(DeviceKind):
            continue
        via, role = info.get("via"), info.get("role")
        home.devices[str(mac)] = StoredDevice(
            DeviceKind(info["kind"]),
            via if isinstance(via, str) else None,
            role if isinstance(role, str) else None,
        )
    totals = data.get("totals")
    for key, stored in (totals if isinstance(totals, dict) else {}).items():
        mac = str(key).split(":", 1)[0]
        device = home.devices.get(mac)
        if mac != HOUSEHOLD and device is None:
            continue  # a device that was dropped (or never known): its total goes with it
        max_rate, rounding, signed = _limits(str(key), device.kind if device else None)
        home.totals[str(key)] = MonotonicTotal.restore(
            stored, max_rate, rounding, now, signed=signed
        )
    return home
