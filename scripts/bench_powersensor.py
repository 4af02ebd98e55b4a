"""Benchmark: our Powersensor pipeline against powersensor-local 2.4.0 on the same datagrams.

Both run in this process, on the same pre-built stream of plug and relayed sensor datagrams:

* ours: UdpPlugLink.datagram_received -> PlugClient (translate, duplicate filter) -> Household
* theirs: PlugListenerUdp.datagram_received -> PlugApi (translate_raw_message) -> VirtualHousehold

Each listener is started for real (its UDP socket connected to a silent peer on 127.0.0.1), then
fed by calling its ``datagram_received`` directly, so the kernel's share and packet loss stay
out of the figures; the loop gets a turn every 100 datagrams in both runs (powersensor-local
makes a task per message, which only runs then). CPU is process time; after a warm-up pass each,
both run three times, alternating, and the median runs are compared. Then 1M fresh datagrams
go through ours alone while resident memory is read before and after.

Run on demand: ``.venv/bin/python scripts/bench_powersensor.py`` (two to three minutes).
The last line is ``ps-bench cpu_ratio=<ours/theirs> us_per_datagram=<ours> rss_growth_mb=<y>``.
"""

import argparse
import asyncio
import gc
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from powersensor_local import PlugApi, VirtualHousehold

from custom_components.energy_local.powersensor import (
    Household,
    LinkTiming,
    PlugClient,
    PlugEvent,
)
from simulators.powersensor_plug import (
    HOUSE_NET_MAC,
    SOLAR_MAC,
    WATER_MAC,
    HouseModel,
    PlugMeter,
    SimulatedSensor,
)

PLUG_MAC = "246f280487a4"
SENSORS_EVERY = 5
"""Plug datagrams per round of relayed sensor datagrams: about 30 % of datagrams are relayed."""
YIELD_EVERY = 100
EVENT_NAMES = [
    "average_power",
    "average_power_components",
    "summation_energy",
    "average_flow",
    "summation_volume",
    "uncalibrated_average_reading",
    "battery_level",
    "radio_signal_quality",
    "now_relaying_for",
]


def datagrams(seed: int = 7) -> Iterator[bytes]:
    """Endless, realistic stream: plug reports, and every 5th a house-net + solar round.

    Every third round adds a water reading, and every fourth round sends house-net and solar
    in one two-line datagram. Start times never repeat, so nothing is a duplicate.
    """
    rng = random.Random(seed)
    meter = PlugMeter(random.Random(seed + 1), starttime=1_772_164_754.096228)
    model = HouseModel(random.Random(seed + 2))
    house = SimulatedSensor(HOUSE_NET_MAC, "house-net", -281_230_401, 1_769_972_064)
    solar = SimulatedSensor(SOLAR_MAC, "solar", -906_357_844, 1_770_530_454)
    water = SimulatedSensor(WATER_MAC, "water", 1321, 1_769_972_151, 3_612_871)
    sensor_time = 1_772_164_800
    rounds = 0
    count = 0
    while True:
        count += 1
        yield json.dumps(meter.reading(PLUG_MAC)).encode() + b"\n"
        if count % SENSORS_EVERY:
            continue
        rounds += 1
        sensor_time += 30
        house_w, solar_w, water_w = model.powers(sensor_time)
        lines = [
            json.dumps(house.reading(sensor_time, 30, house_w, rng)).encode() + b"\n",
            json.dumps(solar.reading(sensor_time, 30, solar_w, rng)).encode() + b"\n",
        ]
        if rounds % 3 == 0:
            lines.append(json.dumps(water.reading(sensor_time, 30, water_w, rng)).encode() + b"\n")
        if rounds % 4 == 0:
            yield lines[0] + lines[1]
            yield from lines[2:]
        else:
            yield from lines


def rss_mb() -> float:
    """Resident set size now (not the peak), from /proc."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class SilentPeer(asyncio.DatagramProtocol):
    """Where the listeners' sockets point: takes their subscribe commands, says nothing."""


async def drive(feed: Callable[[bytes, Any], None], stream: list[bytes], addr: Any) -> float:
    """Feed every datagram; return the CPU seconds it took, the loop's turns included."""
    gc.collect()
    start = time.process_time()
    for index, datagram in enumerate(stream, 1):
        feed(datagram, addr)
        if index % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    await asyncio.sleep(0)
    return time.process_time() - start


async def run_ours(stream: list[bytes], port: int) -> tuple[float, int, int]:
    client = PlugClient("127.0.0.1", port, mac=PLUG_MAC, timing=LinkTiming())
    household = Household()
    counts = [0, 0]

    def on_event(event: PlugEvent) -> None:
        counts[0] += 1
        counts[1] += len(household.process(event))

    client.add_event_listener(on_event)
    client.start()
    await asyncio.sleep(0.05)  # socket open, subscribed
    link = client.link
    cpu = await drive(link.datagram_received, stream, ("127.0.0.1", port))  # type: ignore[attr-defined]
    await client.stop()
    return cpu, counts[0], counts[1]


async def run_theirs(stream: list[bytes], port: int) -> tuple[float, int, int]:
    api = PlugApi(PLUG_MAC, "127.0.0.1", port, "udp")
    household = VirtualHousehold(with_solar=False)
    counts = [0, 0]

    async def count_household(_name: str, _payload: dict[str, Any]) -> None:
        counts[1] += 1

    for name in ("from_grid", "home_usage", "solar_generation", "to_grid"):
        household.subscribe(name, count_household)
        household.subscribe(f"{name}_summation", count_household)

    async def on_event(name: str, payload: dict[str, Any]) -> None:
        counts[0] += 1
        if name == "average_power":
            await household.process_average_power_event(payload)
        elif name == "summation_energy":
            await household.process_summation_event(payload)

    for name in EVENT_NAMES:
        api.subscribe(name, on_event)
    api.connect()
    await asyncio.sleep(0.05)
    listener = api._listener
    cpu = await drive(listener.datagram_received, stream, ("127.0.0.1", port))  # type: ignore[union-attr]
    await api.disconnect()
    await asyncio.sleep(0.05)
    return cpu, counts[0], counts[1]


async def run_memory(total: int, port: int) -> tuple[float, float]:
    client = PlugClient("127.0.0.1", port, mac=PLUG_MAC, timing=LinkTiming())
    household = Household()
    client.add_event_listener(household.process)
    client.start()
    await asyncio.sleep(0.05)
    feed = client.link.datagram_received  # type: ignore[attr-defined]
    addr = ("127.0.0.1", port)
    source = datagrams(seed=11)
    gc.collect()
    before = rss_mb()
    for index in range(1, total + 1):
        feed(next(source), addr)
        if index % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    gc.collect()
    after = rss_mb()
    await client.stop()
    return before, after


async def main(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    peer, _ = await loop.create_datagram_endpoint(SilentPeer, local_addr=("127.0.0.1", 0))
    port = peer.get_extra_info("sockname")[1]
    source = datagrams()
    stream = [next(source) for _ in range(args.datagrams)]
    relayed = sum(b'"sensor"' in datagram for datagram in stream)
    lines = sum(datagram.count(b"\n") for datagram in stream)
    print(f"stream: {len(stream)} datagrams, {lines} lines, {relayed} with relayed sensor readings")

    # Warm both up (allocator arenas, the interpreter's specialisation), then alternate.
    await run_theirs(stream[: len(stream) // 10], port)
    await run_ours(stream[: len(stream) // 10], port)
    theirs_runs, ours_runs = [], []
    for _ in range(args.rounds):
        theirs_runs.append(await run_theirs(stream, port))
        ours_runs.append(await run_ours(stream, port))
    theirs_cpu, theirs_events, theirs_household = sorted(theirs_runs)[len(theirs_runs) // 2]
    ours_cpu, ours_events, ours_household = sorted(ours_runs)[len(ours_runs) // 2]
    if (ours_events, ours_household) != (theirs_events, theirs_household):
        print(f"warning: outputs differ: ours {ours_events}/{ours_household}, "
              f"theirs {theirs_events}/{theirs_household}")  # fmt: skip
    n = len(stream)
    ours_us = ours_cpu / n * 1e6
    theirs_us = theirs_cpu / n * 1e6
    print(f"median of {args.rounds} alternating rounds (CPU process time):")
    print(
        f"powersensor-local: {n / theirs_cpu:10.0f} datagrams/s  {theirs_us:6.2f} us CPU/datagram"
        f"  ({theirs_events} events, {theirs_household} household events)"
    )
    print(
        f"ours:              {n / ours_cpu:10.0f} datagrams/s  {ours_us:6.2f} us CPU/datagram"
        f"  ({ours_events} events, {ours_household} household events)"
    )
    ratio = ours_cpu / theirs_cpu
    print(f"cpu ratio ours/theirs: {ratio:.3f} (target <= 0.5)")

    del stream
    before, after = await run_memory(args.memory_datagrams, port)
    print(
        f"memory (ours, {args.memory_datagrams} datagrams): rss before {before:.1f} MB, "
        f"after {after:.1f} MB"
    )
    peer.close()
    print(
        f"ps-bench cpu_ratio={ratio:.3f} us_per_datagram={ours_us:.2f} "
        f"rss_growth_mb={after - before:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datagrams", type=int, default=200_000)
    parser.add_argument("--memory-datagrams", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3, help="alternating timed rounds each")
    asyncio.run(main(parser.parse_args()))
