"""Every meter's plausibility gate on one bus: their stored baselines and the resets they accept.

The gate itself (:mod:`..ekm.gate`) decides what of a reading may be published; this keeps one
per meter, stores their baselines so they hold across restarts, and remembers how many resets
each accepted per field, so an entity publishes a lower total only at a reset of its fields.
"""

import logging
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from ..const import DOMAIN
from ..ekm import MeterReading
from ..ekm.gate import TOTAL_FIELDS, GatedFrame, GateEvent, GateEventKind, TotalsGate
from .models import MeterConfig

_LOGGER = logging.getLogger(__name__)

STORE_VERSION: Final = 1
SAVE_DELAY: Final = 60.0  # seconds: baselines on disk lag the live ones by at most this


class MeterGates:
    """The gates of a bus's meters, keyed by subentry id."""

    def __init__(
        self, hass: HomeAssistant, entry_id: str, meters: Mapping[str, MeterConfig]
    ) -> None:
        """Fresh gates; :meth:`async_load` restores the stored baselines."""
        self.meters = meters
        self._by_meter: dict[str, TotalsGate] = {sub: TotalsGate() for sub in meters}
        self._epochs: Counter[tuple[str, str]] = Counter()
        self._own_resets: set[tuple[str, str]] = set()
        self._store: Store[dict[str, Any]] = Store(
            hass, STORE_VERSION, f"{DOMAIN}.ekm_gates.{entry_id}"
        )

    def __getitem__(self, subentry_id: str) -> TotalsGate:
        """The gate of one meter."""
        return self._by_meter[subentry_id]

    async def async_load(self) -> None:
        """Restore every gate (a bad or missing stored state gives a fresh gate)."""
        stored = await self._store.async_load() or {}
        for subentry_id, meter in self.meters.items():
            self._by_meter[subentry_id] = TotalsGate.restore(stored.get(meter.address))

    async def async_save(self) -> None:
        """Write the baselines now (on unload, and when a reset was accepted)."""
        await self._store.async_save(self._export())

    def _export(self) -> dict[str, Any]:
        return {meter.address: self._by_meter[sub].export() for sub, meter in self.meters.items()}

    def check(
        self, meter: MeterConfig, reading: MeterReading
    ) -> tuple[MeterReading, list[GateEvent]]:
        """What of ``reading`` may be published, and the resets not caused by our own actions."""
        result = self._by_meter[meter.subentry_id].check(reading, time.monotonic())
        resets: list[GateEvent] = []
        for event in result.events:
            key = (meter.subentry_id, event.field)
            if event.kind is GateEventKind.RESET:
                self._epochs[key] += 1
                if key in self._own_resets:
                    self._own_resets.discard(key)
                else:
                    resets.append(event)
            elif event.kind is not GateEventKind.ACCEPTED:
                _LOGGER.debug(
                    "Meter %s: %s %s read %s (published %s)",
                    meter.address,
                    event.field,
                    event.kind.value,
                    event.read,
                    event.published,
                )
        self._store.async_delay_save(self._export, SAVE_DELAY)
        return result.apply(reading), resets

    def expect_reset(self, meter: MeterConfig, fields: tuple[str, ...]) -> None:
        """Our own action zeroed ``fields``: the next lower values are a reset, at once."""
        self._by_meter[meter.subentry_id].expect_reset(*fields)
        self._own_resets.update((meter.subentry_id, name) for name in fields)

    def reset_epoch(self, subentry_id: str, fields: tuple[str, ...]) -> int:
        """How many resets the gate of a meter accepted on any of ``fields``."""
        return sum(self._epochs[(subentry_id, name)] for name in fields)

    def diagnostics(self, subentry_id: str) -> dict[str, Any]:
        """What a meter's gate did: counters, published baselines, recent held readings."""
        gate = self._by_meter[subentry_id]
        return {
            "counters": gate.counters.as_dict(),
            "published": dict(gate.published),
            "distrusted_relations": sorted(gate.distrusted),
            "recent": [_frame(frame) for frame in gate.recent],
        }


def unconfirmed(reading: MeterReading, gated: MeterReading) -> bool:
    """Whether the gate held back a total of ``reading`` for want of a baseline."""
    return any(name in reading.values and name not in gated.values for name in TOTAL_FIELDS)


def _frame(frame: GatedFrame) -> dict[str, Any]:
    return {
        "at_monotonic": frame.at,
        "events": [
            {"field": e.field, "kind": e.kind.value, "read": e.read, "published": e.published}
            for e in frame.events
        ],
        "totals": dict(frame.totals),
        "frames_hex": list(frame.frames),
    }
