"""Helpers for Home Assistant tests of EKM buses: a simulated bus and a configured entry."""

import asyncio
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from homeassistant.config_entries import ConfigSubentryData
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.energy_local.const import CONF_ENTRY_TYPE, DOMAIN, EntryType
from custom_components.energy_local.ekm import ReadBlock
from custom_components.energy_local.ekm.layout import V4_A_FIELDS
from custom_components.energy_local.ekm_bus.const import (
    CONF_ADDRESS,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_PULSE_INPUTS,
    CONF_VERSION,
    SUBENTRY_METER,
)
from simulators.ekm_bus import EkmBusSimulator, FaultKind, FaultPlan, LineConfig, SimMeter
from simulators.ekm_bus.clock import SimClock

ROOT = Path(__file__).resolve().parents[2]
V4_ADDRESS = "000300001285"
V3_ADDRESS = "000010006388"
START = datetime(2026, 11, 22, 12, 0, 0)


def frozen_clock() -> SimClock:
    """Simulated time that moves only when a test advances it: values are reproducible."""
    return SimClock(monotonic=lambda: 0.0, wall=lambda: START)


@dataclass
class SimBus:
    """A running simulator and where to reach it."""

    sim: EkmBusSimulator
    clock: SimClock
    port: str

    def meter(self, address: str) -> SimMeter:
        """The simulated meter at ``address``."""
        return self.sim.meters[address]


class MidpointRng(random.Random):
    """A "random" source that always answers the middle of the range: no noise at all."""

    def uniform(self, a: float, b: float) -> float:
        """The midpoint."""
        return (a + b) / 2


def house_lines() -> list[LineConfig]:
    """Two loaded legs and a solar leg exporting, so import and export both move."""
    return [
        LineConfig(watts=1500, power_factor="L095"),
        LineConfig(watts=900, power_factor="C087", exporting=True),
        LineConfig(watts=300, power_factor=" 100"),
    ]


async def start_sim_bus(spec: Iterable[tuple[str, int]], *, paced: bool = False) -> SimBus:
    """A simulator on a pty with frozen time and no noise, so values are reproducible."""
    sim = EkmBusSimulator(paced=paced, seed=1)
    sim.clock = frozen_clock()
    for address, version in spec:
        sim.add_meter(address, version, jitter=0.0, rng=MidpointRng(), lines=house_lines())
    port = await sim.start_pty()
    return SimBus(sim, sim.clock, port)


def meter_subentry(
    address: str,
    version: int,
    *,
    password: str = "00000000",
    pulses: list[dict[str, object]] | None = None,
) -> ConfigSubentryData:
    """A meter subentry as the subentry flow stores it."""
    return ConfigSubentryData(
        data={
            CONF_ADDRESS: address,
            CONF_VERSION: version,
            CONF_PASSWORD: password,
            CONF_PULSE_INPUTS: pulses or [],
        },
        subentry_type=SUBENTRY_METER,
        title=f"Omnimeter {address.lstrip('0')}",
        unique_id=address,
    )


def bus_entry(port: str, meters: list[ConfigSubentryData], **options: object) -> MockConfigEntry:
    """An EKM bus config entry with meter subentries."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=f"EKM bus {port}",
        data={CONF_ENTRY_TYPE: EntryType.EKM_BUS, CONF_PORT: port},
        options=dict(options),
        subentries_data=meters,
    )


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Add and set up an entry, waiting for everything to settle."""
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def wait_for(condition: Callable[[], bool], within: float = 2.0) -> None:
    """Let the event loop run until ``condition`` holds (bytes cross the pty asynchronously)."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110  (the simulator offers no event to wait on)
            await asyncio.sleep(0.005)


def upward_escape_seed(frame: bytes, field: str = "kWh_Tot") -> int:
    """A fault seed whose CRC escape raises ``frame``'s ``field`` by at least 10,000 steps."""
    for seed in range(1000):
        plan = FaultPlan(seed=seed, escape_field=field)
        plan.escape(frame, V4_A_FIELDS)
        _, raw, escaped = plan.escapes[0]
        if int(escaped) >= int(raw) + 10_000:  # 1,000 kWh in tenths
            return seed
    raise AssertionError("no seed gives an upward escape")


def schedule_upward_escape(bus: SimBus, address: str = V4_ADDRESS, field: str = "kWh_Tot") -> float:
    """Make a v4 meter's next reply carry ``field`` escaped upwards; return its true value."""
    meter = bus.meter(address)
    plan = bus.sim.faults
    plan.escape_field = field
    plan.rng = random.Random(upward_escape_seed(meter.reply(ReadBlock.A), field))
    plan.schedule(FaultKind.CRC_ESCAPE, count=1, address=address)
    true_total = meter.values()[field]
    assert isinstance(true_total, float)
    return round(true_total, 3)  # as the register reads: whole tenths
