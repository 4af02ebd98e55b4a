"""EKM in Home Assistant: CPU per poll cycle in the integration, and writes when nothing changed.

8 simulated v4 meters (A+B every cycle) on a pty; the simulator runs on its own thread and
event loop, so the CPU time of Home Assistant's loop thread is the integration's (bus I/O,
parsing, entity updates, state writes) plus the HA core work those writes cause. Run on demand
(``scripts/bench ekm-ha``). Last line:
``ekm-ha-bench cpu_ms_per_cycle=<x> writes_when_unchanged=<n>``.
"""

import argparse
import asyncio
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from homeassistant import loader  # noqa: E402
from homeassistant.const import EVENT_STATE_CHANGED  # noqa: E402
from homeassistant.core import Event, EventStateChangedData, HomeAssistant  # noqa: E402
from pytest_homeassistant_custom_component.common import (  # noqa: E402
    async_test_home_assistant,
)

from simulators.ekm_bus import EkmBusSimulator  # noqa: E402
from tests.ekm_bus.helpers import (  # noqa: E402
    MidpointRng,
    bus_entry,
    frozen_clock,
    house_lines,
    meter_subentry,
)

METERS = [f"{300001001 + i:012d}" for i in range(8)]


class SimThread:
    """The simulator, unpaced, on a pty served by a thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.sim = EkmBusSimulator(paced=False, seed=1)
        self.sim.clock = frozen_clock()
        for address in METERS:
            self.sim.add_meter(address, 4, jitter=0.0, rng=MidpointRng(), lines=house_lines())
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self.sim.start_pty(), self.loop).result(5)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


async def measure(hass: HomeAssistant, sim: SimThread, cycles: int) -> tuple[float, float, float]:
    """Return CPU ms per cycle (unchanged, changing values) and writes per unchanged cycle."""
    entry = bus_entry(sim.port, [meter_subentry(address, 4) for address in METERS])
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator = entry.runtime_data
    writes: list[Event[EventStateChangedData]] = []
    hass.bus.async_listen(EVENT_STATE_CHANGED, writes.append)

    async def cycle() -> float:
        start = time.thread_time()
        await coordinator.async_refresh()
        await hass.async_block_till_done()
        return time.thread_time() - start

    await cycle()  # warm-up
    writes.clear()
    unchanged = [await cycle() for _ in range(cycles)]
    unchanged_writes = len(writes) / cycles
    changing = []
    for _ in range(cycles):
        sim.loop.call_soon_threadsafe(sim.sim.clock.advance, 10.0)  # 10 s of energy per poll
        await asyncio.sleep(0.01)
        changing.append(await cycle())
    changing_writes = (len(writes) - unchanged_writes * cycles) / cycles
    print(f"state writes per cycle while values change: {changing_writes:.1f}")
    await hass.config_entries.async_unload(entry.entry_id)
    return statistics.mean(unchanged) * 1000, statistics.mean(changing) * 1000, unchanged_writes


async def main_async(cycles: int) -> None:
    """Run the measurement in a test Home Assistant."""
    sim = SimThread()
    try:
        async with async_test_home_assistant() as hass:
            hass.config.skip_pip = True
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)  # let HA find custom_components/
            unchanged_ms, changing_ms, writes = await measure(hass, sim, cycles)
            await hass.async_stop(force=True)
    finally:
        sim.close()
    print(f"meters: {len(METERS)} x v4, A+B every cycle, {cycles} cycles each way")
    print(f"HA loop CPU per cycle, values unchanged: {unchanged_ms:.2f} ms")
    print(f"HA loop CPU per cycle, values changing:  {changing_ms:.2f} ms")
    print(f"ekm-ha-bench cpu_ms_per_cycle={changing_ms:.2f} writes_when_unchanged={writes:g}")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=50)
    asyncio.run(main_async(parser.parse_args().cycles))


if __name__ == "__main__":
    main()
