"""EKM through a noisy bus, in a real in-process Home Assistant, at real 9600-baud timing.

8 simulated v4 meters (A+B every poll) behind the simulator's TCP server (``socket://``), with
the noise mix of issue 11: CRC errors 15 %, truncated 5 %, no reply 10 %, garbage 10 %, wrong
address 5 %, CRC escapes 1 %, and the connection dropped every 40 s. After ``--minutes`` of
that, the TCP server stops for ``--outage`` seconds and comes back. The simulator runs on its
own thread and event loop; Home Assistant polls on its own schedule (every 10 s).

Figures: the share of energy/power entity samples (one sample per entity per poll) that were
unavailable, outside the deliberate outage; spikes (a published total above what the simulated
meter's registers say, plus one resolution step); drops (a published total lower than before:
nothing here resets a meter); recovery (seconds from the port being back to every meter's
values flowing again). Run on demand (``scripts/bench ekm-faults``). Last line:
``ekm-faults-bench unavailable_pct=<x> spikes=<n> drops=<n> recovery_s=<s>``.
"""

import argparse
import asyncio
import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from homeassistant import loader  # noqa: E402
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN  # noqa: E402
from homeassistant.core import HomeAssistant, callback  # noqa: E402
from homeassistant.helpers import entity_registry as er  # noqa: E402
from pytest_homeassistant_custom_component.common import (  # noqa: E402
    async_test_home_assistant,
)

from custom_components.energy_local.ekm_bus.coordinator import EkmBusCoordinator  # noqa: E402
from custom_components.energy_local.ekm_bus.descriptions import (  # noqa: E402
    SENSORS,
    EkmSensorDescription,
)
from simulators.ekm_bus import EkmBusSimulator, FaultKind, LineConfig  # noqa: E402
from tests.ekm_bus.helpers import bus_entry, meter_subentry  # noqa: E402

METERS = [f"{300001001 + i:012d}" for i in range(8)]
NOISE = {  # share of all read replies
    FaultKind.CORRUPT_CRC: 0.15,
    FaultKind.TRUNCATED: 0.05,
    FaultKind.NO_REPLY: 0.10,
    FaultKind.GARBAGE: 0.10,
    FaultKind.WRONG_ADDRESS: 0.05,
    FaultKind.CRC_ESCAPE: 0.01,
}
DROP_EVERY = 40.0  # seconds between dropped TCP connections
STEP = 0.1  # kWh: one register step at kWh_Scale 1 (the simulator's default)
DESCRIPTIONS = {description.key: description for description in SENSORS}


def conditional_rates(shares: dict[FaultKind, float]) -> dict[FaultKind, float]:
    """Per-kind chances for the fault plan, which rolls kinds in order until one hits.

    A kind is rolled only when no earlier kind hit, so its chance is its share of all replies
    divided by what the earlier kinds left: the replies then carry exactly ``shares``.
    """
    rates: dict[FaultKind, float] = {}
    left = 1.0
    for kind in FaultKind:
        if kind in shares:
            rates[kind] = shares[kind] / left
            left -= shares[kind]
    return rates


def lines() -> list[LineConfig]:
    """Loaded legs and an exporting one, heavy enough that totals move poll by poll."""
    return [
        LineConfig(watts=15000, power_factor="L095"),
        LineConfig(watts=9000, power_factor="C087", exporting=True),
        LineConfig(watts=3000, power_factor=" 100"),
    ]


class SimThread:
    """The simulator, paced (real wire timing), behind a TCP server on a thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.sim = EkmBusSimulator(paced=True, seed=11)
        for address in METERS:
            self.sim.add_meter(address, 4, lines=lines())
        for kind, probability in conditional_rates(NOISE).items():
            self.sim.faults.set_probability(kind, probability)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.port = self.run(self.sim.start_tcp())
        self._dropper = asyncio.run_coroutine_threadsafe(self._drop_every(), self.loop)

    def run[T](self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the simulator's loop and wait for its result."""
        result: T = asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)
        return result

    def call[T](self, fn: Callable[[], T]) -> T:
        """Call ``fn`` on the simulator's loop (its meters are not thread-safe)."""

        async def wrapped() -> T:
            return fn()

        return self.run(wrapped())

    async def _drop_every(self) -> None:
        while True:
            await asyncio.sleep(DROP_EVERY)
            self.sim.faults.schedule(FaultKind.DROP_CONNECTION, count=1)

    def registers(self) -> dict[str, dict[str, Any]]:
        """Every meter's registers now (no time passes: what its last reply was built from)."""
        return self.call(lambda: {a: m.values() for a, m in self.sim.meters.items()})

    def close(self) -> None:
        self._dropper.cancel()
        self.run(self.sim.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@dataclass
class Tally:
    """What the samples showed."""

    samples: int = 0
    unavailable: int = 0
    spikes: int = 0
    drops: int = 0
    polls: int = 0
    outage_samples: int = 0
    highest: dict[str, float] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(text)


@dataclass(frozen=True)
class Tracked:
    """One energy or power entity: its meter and (for totals) its description."""

    entity_id: str
    address: str
    subentry_id: str
    description: EkmSensorDescription


class WarningCounter(logging.Handler):
    """Counts our records at WARNING and above."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: Counter[str] = Counter()
        self.started = time.monotonic()

    def emit(self, record: logging.LogRecord) -> None:
        self.records[record.getMessage()[:90]] += 1


def tracked_entities(hass: HomeAssistant, coordinator: EkmBusCoordinator) -> list[Tracked]:
    """Every enabled energy/power sensor of the bus's meters."""
    by_address = {meter.address: meter for meter in coordinator.meters.values()}
    tracked = []
    for entry in er.async_entries_for_config_entry(
        er.async_get(hass), coordinator.config_entry.entry_id
    ):
        if entry.domain != "sensor" or entry.disabled:
            continue
        address, _, key = entry.unique_id.partition("_")
        description = DESCRIPTIONS.get(key)
        if address not in by_address or description is None:
            continue
        if description.device_class not in ("energy", "power"):
            continue
        tracked.append(
            Tracked(entry.entity_id, address, by_address[address].subentry_id, description)
        )
    return tracked


async def run(
    hass: HomeAssistant, sim: SimThread, minutes: float, outage: float, warnings: WarningCounter
) -> None:
    """Set the bus up, poll through the noise, then through an outage; print the figures."""
    entry = bus_entry(
        f"socket://127.0.0.1:{sim.port}",
        [meter_subentry(address, 4) for address in METERS],
        block_b_every=1,
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator: EkmBusCoordinator = entry.runtime_data
    tracked = tracked_entities(hass, coordinator)
    tally = Tally()
    in_outage = False
    outage_pending: dict[str, object] = {}  # subentry id -> its reading when the port came back
    back_at: float | None = None
    recovery: float | None = None
    fresh: list[float] = []  # seconds from the port being back to each meter's first new values

    def sample() -> None:
        tally.polls += 1
        registers = sim.registers()
        for item in tracked:
            state = hass.states.get(item.entity_id)
            if state is None:
                continue
            if in_outage:
                tally.outage_samples += 1
                continue
            tally.samples += 1
            if state.state == STATE_UNAVAILABLE:
                tally.unavailable += 1
                continue
            if state.state == STATE_UNKNOWN or not item.description.guarded:
                continue
            value = float(state.state)
            meter = coordinator.meters[item.subentry_id]
            true = item.description.value_fn(registers[item.address], meter)
            if isinstance(true, int | float) and value > true + STEP + 1e-9:
                tally.spikes += 1
                tally.note(f"spike {item.entity_id}: {value} > register {true}")
            last = tally.highest.get(item.entity_id)
            if last is not None and value < last:
                tally.drops += 1
                tally.note(f"drop {item.entity_id}: {value} < {last}")
            tally.highest[item.entity_id] = max(value, last or value)
        check_recovery()

    def check_recovery() -> None:
        nonlocal in_outage, recovery
        if back_at is not None and recovery is None:
            now = time.monotonic() - back_at
            for subentry_id, before in list(outage_pending.items()):
                meter_state = coordinator.meter_state(subentry_id)
                if meter_state and meter_state.available and meter_state.reading is not before:
                    del outage_pending[subentry_id]
                    fresh.append(now)
            if not outage_pending and coordinator.last_update_success:
                recovery = now
                in_outage = False

    @callback
    def polled() -> None:
        # Entities write their states in their own listeners: sample once they all have.
        hass.loop.call_soon(sample)

    coordinator.async_add_listener(polled)
    for subentry_id in coordinator.meters:
        # A meter's entities are told as soon as it is read, before the cycle ends.
        coordinator.async_add_listener(check_recovery, context=subentry_id)
    start = time.monotonic()
    await asyncio.sleep(minutes * 60)
    noise_s = time.monotonic() - start

    in_outage = True
    sim.run(sim.sim.stop())  # the serial-over-TCP converter goes away
    await asyncio.sleep(outage)
    sim.run(sim.sim.start_tcp(port=sim.port))
    back_at = time.monotonic()
    outage_pending.update(
        {
            subentry_id: state.reading
            for subentry_id in coordinator.meters
            if (state := coordinator.meter_state(subentry_id)) is not None
        }
    )
    async with asyncio.timeout(120):
        while recovery is None:  # noqa: ASYNC110  (sampled on the coordinator's schedule)
            await asyncio.sleep(0.1)
    await asyncio.sleep(30)  # and some noisy polls after the outage
    await hass.config_entries.async_unload(entry.entry_id)

    faults = sim.call(lambda: dict(sim.sim.faults.injected))
    stats = coordinator.bus.stats
    pct = 100 * tally.unavailable / max(tally.samples, 1)
    print(f"meters: {len(METERS)} x v4, A+B every poll, poll interval {coordinator.poll_interval}")
    print(f"noise: {noise_s / 60:.1f} min of bus time, then a {outage:g} s outage")
    print(f"faults injected: {', '.join(f'{k}={v}' for k, v in sorted(faults.items()))}")
    print(f"bus: transactions={stats.transactions} retries={stats.retries} "
          f"timeouts={stats.timeouts} crc_errors={stats.crc_errors} "
          f"frame_errors={stats.frame_errors} address_mismatches={stats.address_mismatches} "
          f"reconnects={stats.reconnects} opens={stats.opens}")  # fmt: skip
    print(f"meter failures (polls): {dict(coordinator.diagnostics.meter_failures)}")
    print(f"port failures (cycles): {coordinator.diagnostics.port_failures}")
    gate = Counter[str]()
    for subentry_id in coordinator.meters:
        gate.update(coordinator.gates.diagnostics(subentry_id)["counters"])
    print(f"gates: {dict(gate)}")
    print(f"polls sampled: {tally.polls}, entities: {len(tracked)}, samples: {tally.samples} "
          f"(+{tally.outage_samples} in the outage), unavailable: {tally.unavailable}")  # fmt: skip
    for line in tally.examples:
        print(f"  {line}")
    print(f"our log records at WARNING+: {sum(warnings.records.values())}")
    for message, count in warnings.records.most_common(8):
        print(f"  {count} x {message}")
    recovery_s = recovery if recovery is not None else float("nan")
    print(f"run time: {time.monotonic() - warnings.started:.0f} s")
    print(f"recovery: first meter's values {fresh[0]:.1f} s after the port was back, every "
          f"meter's {recovery_s:.1f} s ({', '.join(f'{t:.1f}' for t in fresh)})")  # fmt: skip
    print(f"ekm-faults-bench unavailable_pct={pct:.2f} spikes={tally.spikes} drops={tally.drops} "
          f"recovery_s={recovery_s:.1f}")  # fmt: skip


async def main_async(minutes: float, outage: float) -> None:
    """Run the measurement in a test Home Assistant."""
    sim = SimThread()
    warnings = WarningCounter()
    logging.getLogger("custom_components.energy_local").addHandler(warnings)
    try:
        async with async_test_home_assistant() as hass:
            hass.config.skip_pip = True
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)  # let HA find custom_components/
            await run(hass, sim, minutes, outage, warnings)
            await hass.async_stop(force=True)
    finally:
        sim.close()


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=5.0, help="bus time under noise")
    parser.add_argument("--outage", type=float, default=30.0, help="seconds the port is gone")
    args = parser.parse_args()
    asyncio.run(main_async(args.minutes, args.outage))


if __name__ == "__main__":
    main()
