"""Powersensor in Home Assistant: CPU per datagram from socket to state write, and writes/s.

3 simulated plugs, each relaying the same 4 sensors (mains, solar, two water meters), at 10x
the normal rate (plug readings every 0.1 s, sensor reports every 3 s), on 127.0.0.1. The
simulator runs on a thread and event loop of its own, so the CPU time of Home Assistant's loop
thread is the integration's work per datagram: receiving, parsing, de-duplicating, the
household view and the state writes (default write interval, 10 s: power at most that often
unless it changes by more than 10 %, totals at most that often and only on a display step).
Run on demand (``scripts/bench ps-ha``). Last line:
``ps-ha-bench us_per_datagram=<x> writes_per_s=<y> writes_per_datagram=<z>`` (target z <= 0.3).
"""

import argparse
import asyncio
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from homeassistant import loader  # noqa: E402
from homeassistant.const import EVENT_STATE_CHANGED  # noqa: E402
from homeassistant.core import Event, EventStateChangedData  # noqa: E402
from pytest_homeassistant_custom_component.common import (  # noqa: E402
    async_test_home_assistant,
)

from simulators.powersensor_plug import SimOptions, SimulatedSensor, Simulation  # noqa: E402
from tests.powersensor_home.helpers import home_entry, plugs_of  # noqa: E402

OPTIONS = SimOptions(plug_interval_s=0.1, sensor_interval_s=3.0, water=True, relay_all=True)


class SimThread:
    """The plug simulation served by a thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.sim = Simulation(options=OPTIONS, plug_count=3)
        self.sim.sensors.append(SimulatedSensor("bcddc247d3aa", "water", 0, 1_769_972_151))
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.sim.start(), self.loop).result(5)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


async def measure(hass: Any, seconds: float) -> tuple[float, Counter[str], int]:
    """Return (CPU us per datagram, state writes per entity, datagrams)."""
    sim = SimThread()
    try:
        entry = home_entry(plugs_of(sim.sim))
        entry.add_to_hass(hass)
        await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        await asyncio.sleep(8)  # every device and entity appears; warm-up
        home = entry.runtime_data
        writes: list[Event[EventStateChangedData]] = []
        hass.bus.async_listen(EVENT_STATE_CHANGED, writes.append)
        datagrams0 = sum(c.stats.datagrams for c in home.clients.values())
        cpu0 = time.thread_time()
        await asyncio.sleep(seconds)
        cpu = time.thread_time() - cpu0
        datagrams = sum(c.stats.datagrams for c in home.clients.values()) - datagrams0
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        sim.close()
    per_entity = Counter(event.data["entity_id"] for event in writes)
    return cpu / datagrams * 1e6, per_entity, datagrams


async def main_async(seconds: float) -> None:
    """Run in a test Home Assistant."""
    async with async_test_home_assistant() as hass:
        hass.config.skip_pip = True
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)
        # The integration's zeroconf dependency: no multicast in a benchmark.
        hass.config.components.add("zeroconf")
        us, per_entity, datagrams = await measure(hass, seconds)
        await hass.async_stop(force=True)
    writes = sum(per_entity.values())
    print(f"3 plugs x 4 relayed sensors at 10x rate: {datagrams} datagrams in {seconds:g} s")
    print("most written entities:")
    for entity_id, count in per_entity.most_common(8):
        print(f"  {count:5d}  {entity_id}")
    print(f"HA loop CPU per datagram (socket to state write): {us:.1f} us")
    print(f"state writes per second (default write interval): {writes / seconds:.2f}")
    print(f"state writes per datagram: {writes / datagrams:.3f} (target <= 0.3)")
    print(
        f"ps-ha-bench us_per_datagram={us:.1f} writes_per_s={writes / seconds:.2f} "
        f"writes_per_datagram={writes / datagrams:.3f}"
    )


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    asyncio.run(main_async(parser.parse_args().seconds))


if __name__ == "__main__":
    main()
