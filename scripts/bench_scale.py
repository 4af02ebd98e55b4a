"""Scale: 8 EKM buses x 8 v4 meters and 10 Powersensor plugs in one Home Assistant, on PostgreSQL.

Every EKM bus is a paced simulator process of its own on a ``socket://`` port (all meters read
A+B every 10 s); the plugs are one simulator process, at the plugs' real rates (a reading a
second), each relaying two sensors (house-net and solar, a report every 30 s). The recorder
writes to a PostgreSQL server the benchmark starts (initdb in a temporary directory, on
127.0.0.1) and removes. Home Assistant runs in this process, so its memory is this process's.

Phases: an idle event loop (the machine's timer-lag baseline); one bus alone in Home Assistant
(the lone bus's cycle time); every entry set up at once (first start, then a restart with
stored gates); then ``--minutes`` of steady running with relay switching spread over the
buses. Run on demand (``scripts/bench scale``). Last line:
``scale-bench buses=<n> meters=<n> plugs=<n> cycle_ratio=<x> max_loop_lag_ms=<x>
relay_p95_s=<x> writes_per_datagram=<x> rss_growth_mb=<x>``.
"""

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from homeassistant import loader  # noqa: E402
from homeassistant.config_entries import ConfigEntryState  # noqa: E402
from homeassistant.const import EVENT_STATE_CHANGED  # noqa: E402
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback  # noqa: E402
from homeassistant.helpers import entity_registry as er  # noqa: E402
from homeassistant.helpers.recorder import async_initialize_recorder, get_instance  # noqa: E402
from homeassistant.setup import async_setup_component  # noqa: E402
from pytest_homeassistant_custom_component.common import (  # noqa: E402
    MockConfigEntry,
    async_test_home_assistant,
)

from scripts.bench_scale_support import (  # noqa: E402
    CallbackClock,
    Postgres,
    SimProcess,
    StallSampler,
    TimerLag,
    idle_timer_lag,
    machine_load,
    mean_or_zero,
    percentile,
    rss_mb,
    start_ekm_bus,
    start_plugs,
)
from tests.ekm_bus.helpers import bus_entry, meter_subentry  # noqa: E402
from tests.powersensor_home.helpers import home_entry  # noqa: E402

PACKAGE = "custom_components.energy_local"


@dataclass
class Bus:
    """One simulated bus and its entry."""

    index: int
    sim: SimProcess
    url: str
    entry: MockConfigEntry


@dataclass
class CycleLog:
    """Every bus's poll cycles: (bus, end, seconds), from the coordinators' diagnostics."""

    cycles: list[tuple[int, float, float]] = field(default_factory=list)
    commands: list[tuple[int, float, float]] = field(default_factory=list)
    _unsubscribe: list[Any] = field(default_factory=list)

    def watch(self, bus: Bus) -> None:
        """Record each cycle of ``bus``'s coordinator (its listeners hear every update)."""
        coordinator = bus.entry.runtime_data
        seen = [coordinator.diagnostics.cycles]

        @callback
        def updated() -> None:
            diagnostics = coordinator.diagnostics
            if diagnostics.cycles != seen[0] and diagnostics.last_cycle_seconds is not None:
                seen[0] = diagnostics.cycles
                self.cycles.append((bus.index, time.monotonic(), diagnostics.last_cycle_seconds))

        self._unsubscribe.append(coordinator.async_add_listener(updated))

    def stop(self) -> None:
        """Stop recording."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    def clean(self, bus: int) -> list[float]:
        """``bus``'s cycle times, leaving out cycles a relay command ran inside."""
        return [
            seconds
            for index, end, seconds in self.cycles
            if index == bus
            and not any(
                b == bus and start < end and stop > end - seconds
                for b, start, stop in self.commands
            )
        ]

    def all_of(self, bus: int) -> list[float]:
        """``bus``'s cycle times, all of them."""
        return [seconds for index, _, seconds in self.cycles if index == bus]


@dataclass
class Writes:
    """State writes, split into the Powersensor home's and the rest."""

    home_entry_id: str
    counts: Counter[str] = field(default_factory=Counter)
    powersensor: Counter[str] = field(default_factory=Counter)  # by kind of entity

    def listen(self, hass: HomeAssistant) -> Any:
        """Count every state write from now on."""
        registry = er.async_get(hass)

        @callback
        def written(event: Event[EventStateChangedData]) -> None:
            entry = registry.async_get(event.data["entity_id"])
            if entry is not None and entry.config_entry_id == self.home_entry_id:
                self.counts["powersensor"] += 1
                self.powersensor[entry.translation_key or entry.entity_id] += 1
            elif entry is not None and entry.platform == "energy_local":
                self.counts["ekm"] += 1
            else:
                self.counts["other"] += 1

        return hass.bus.async_listen(EVENT_STATE_CHANGED, written)


def datagrams(home: MockConfigEntry) -> int:
    """Datagrams the Powersensor home's clients have received."""
    clients = getattr(home.runtime_data, "clients", {})
    return sum(client.stats.datagrams for client in clients.values())


def relay_entities(hass: HomeAssistant, entry: MockConfigEntry) -> list[str]:
    """Relay 1 of every meter on a bus entry."""
    registry = er.async_get(hass)
    return sorted(
        e.entity_id
        for e in er.async_entries_for_config_entry(registry, entry.entry_id)
        if e.domain == "switch" and e.unique_id.endswith("_relay_1")
    )


async def switch_relays(
    hass: HomeAssistant, buses: list[Bus], count: int, span: float, log: CycleLog
) -> list[float]:
    """Switch ``count`` relays spread over the buses and ``span`` seconds; call-to-confirmed s."""
    rng = random.Random(14)
    relays = {bus.index: relay_entities(hass, bus.entry) for bus in buses}
    spacing = span / count
    took = []
    for i in range(count):
        await asyncio.sleep(rng.uniform(0.3, 0.7) * spacing)
        bus = buses[i % len(buses)]
        entity_id = relays[bus.index][(i // len(buses)) % len(relays[bus.index])]
        state = hass.states.get(entity_id)
        target = "off" if state is not None and state.state == "on" else "on"
        start = time.monotonic()
        await hass.services.async_call(
            "switch", f"turn_{target}", {"entity_id": entity_id}, blocking=True
        )
        async with asyncio.timeout(15):
            while (state := hass.states.get(entity_id)) is None or state.state != target:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
        end = time.monotonic()
        log.commands.append((bus.index, start, end))
        took.append(end - start)
        await asyncio.sleep(rng.uniform(0.3, 0.7) * spacing)
    return took


async def setup_all(hass: HomeAssistant, entries: list[MockConfigEntry]) -> dict[str, float]:
    """Set every entry up at once, as Home Assistant's start does: seconds until each loaded."""
    start = time.monotonic()

    async def one(entry: MockConfigEntry) -> tuple[str, float]:
        await hass.config_entries.async_setup(entry.entry_id)
        return entry.entry_id, time.monotonic() - start

    loaded = dict(await asyncio.gather(*(one(entry) for entry in entries)))
    for entry in entries:
        if entry.state is not ConfigEntryState.LOADED:
            raise RuntimeError(f"{entry.title} did not load: {entry.state}")
    return loaded


async def wait_cycles(log: CycleLog, bus: int, count: int) -> None:
    """Until ``bus`` has run ``count`` cycles."""
    while len(log.all_of(bus)) < count:  # noqa: ASYNC110
        await asyncio.sleep(0.2)


@dataclass
class Results:
    """What the run measured, printed by :func:`report`."""

    args: argparse.Namespace
    idle: TimerLag
    lone: list[float] = field(default_factory=list)
    startups: dict[str, tuple[dict[str, float], float]] = field(default_factory=dict)
    first_cycles: dict[str, list[float]] = field(default_factory=dict)
    stalls: list[tuple[str, int]] = field(default_factory=list)
    log: CycleLog = field(default_factory=CycleLog)
    steady: TimerLag = field(default_factory=TimerLag)
    clock: CallbackClock | None = None
    startup_max_ours: float = 0.0
    relays: list[float] = field(default_factory=list)
    writes: Counter[str] = field(default_factory=Counter)
    powersensor_writes: Counter[str] = field(default_factory=Counter)
    datagrams: int = 0
    seconds: float = 0.0
    backlog: list[int] = field(default_factory=list)
    db_bytes: tuple[int, int] = (0, 0)
    rss: dict[str, float] = field(default_factory=dict)
    loads: list[str] = field(default_factory=list)


async def run_home_assistant(
    args: argparse.Namespace, pg: Postgres, buses: list[Bus], home: MockConfigEntry, res: Results
) -> None:
    """Everything that happens inside Home Assistant."""
    config_dir = pg.base.parent / "config"
    config_dir.mkdir()
    async with async_test_home_assistant(config_dir=str(config_dir)) as hass:
        hass.config.skip_pip = True
        hass.data.pop(loader.DATA_CUSTOM_COMPONENTS)
        hass.config.components.add("zeroconf")  # the plugs are configured by address
        res.rss["home assistant created"] = rss_mb()
        async_initialize_recorder(hass)  # what Home Assistant's bootstrap does
        assert await async_setup_component(hass, "recorder", {"recorder": {"db_url": pg.url}})
        await hass.async_block_till_done()
        recorder = get_instance(hass)
        assert await recorder.async_db_ready
        clock = res.clock = CallbackClock(PACKAGE)
        clock.install()

        # The lone bus: one bus in Home Assistant, nothing else of ours.
        lone = buses[0]
        lone.entry.add_to_hass(hass)
        await hass.config_entries.async_setup(lone.entry.entry_id)
        clock.instrument()
        res.log.watch(lone)
        await wait_cycles(res.log, 0, args.lone_cycles + 1)
        res.lone = res.log.all_of(0)[1:]  # the first cycle after set-up confirms new baselines
        res.log.stop()
        res.log.cycles.clear()
        await hass.config_entries.async_unload(lone.entry.entry_id)
        for bus in buses[1:]:
            bus.entry.add_to_hass(hass)
        home.add_to_hass(hass)
        entries = [bus.entry for bus in buses] + [home]

        # Start-up: every entry at once, first with new meters, then a restart.
        for kind in ("first start", "restart"):
            clock.reset()
            started = time.monotonic()
            loaded = await setup_all(hass, entries)
            res.startups[kind] = (loaded, time.monotonic() - started)
            res.first_cycles[kind] = [
                bus.entry.runtime_data.diagnostics.last_cycle_seconds or 0.0 for bus in buses
            ]
            clock.instrument()
            res.startup_max_ours = max(
                res.startup_max_ours, max((h.seconds for h in clock.ours), default=0.0)
            )
            if kind == "first start":
                await asyncio.sleep(args.settle)
                for entry in entries:
                    await hass.config_entries.async_unload(entry.entry_id)
                await hass.async_block_till_done()

        # Steady running.
        await asyncio.sleep(args.settle)  # the plugs' sensors appear; the first writes pass
        for bus in buses:
            res.log.watch(bus)
        writes = Writes(home.entry_id)
        unlisten = writes.listen(hass)
        res.rss["steady start"] = rss_mb()
        db_start = await hass.async_add_executor_job(pg.database_bytes)
        datagrams_start = datagrams(home)
        clock.reset()
        probe = asyncio.create_task(res.steady.run())
        sampler = StallSampler(res.steady, asyncio.get_running_loop())
        sampler.start()
        span = args.minutes * 60
        relay_task = asyncio.create_task(
            switch_relays(hass, buses, args.switches, span - 15, res.log)
        )
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < span:
            await asyncio.sleep(1.0)
            res.backlog.append(recorder.backlog)
            if int(elapsed) % 60 == 0:
                res.loads.append(machine_load())
        res.seconds = time.monotonic() - started
        res.datagrams = datagrams(home) - datagrams_start
        probe.cancel()
        sampler.stop()
        res.stalls = sampler.top()
        res.relays = await relay_task
        res.writes = writes.counts
        res.powersensor_writes = writes.powersensor
        unlisten()
        res.log.stop()
        res.rss["steady end"] = rss_mb()
        res.db_bytes = (db_start, await hass.async_add_executor_job(pg.database_bytes))
        clock.uninstall()
        for entry in entries:
            await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_stop(force=True)


def report(res: Results, buses: list[Bus]) -> None:
    """Print every figure, then the summary line."""
    args = res.args
    print(f"\n== scale: {args.buses} buses x {args.meters} v4 meters (A+B), {args.plugs} plugs")
    print(f"machine load averages (1/5/15 min) during the run: {', '.join(res.loads)}")
    lone = mean_or_zero(res.lone)
    print(f"lone bus: mean cycle {lone:.3f} s over {len(res.lone)} cycles")
    ratios = []
    for bus in buses:
        clean, every = res.log.clean(bus.index), res.log.all_of(bus.index)
        ratio = mean_or_zero(clean) / lone if lone else 0.0
        ratios.append(ratio)
        print(
            f"bus {bus.index}: mean cycle {mean_or_zero(clean):.3f} s over {len(clean)} cycles "
            f"without a command (ratio {ratio:.3f}); with commands {mean_or_zero(every):.3f} s "
            f"over {len(every)}; max {max(every, default=0):.3f} s"
        )
    worst = max(ratios, default=0.0)
    print(f"worst cycle ratio (bus / lone bus): {worst:.3f}")
    for kind, (loaded, total) in res.startups.items():
        bus_times = [loaded[bus.entry.entry_id] for bus in buses]
        home_time = max(
            t for entry_id, t in loaded.items() if entry_id not in {b.entry.entry_id for b in buses}
        )
        print(
            f"start-up ({kind}): every entry loaded after {total:.2f} s; buses "
            f"{min(bus_times):.2f}-{max(bus_times):.2f} s ({max(bus_times) / lone:.2f} lone "
            f"cycles); Powersensor home {home_time:.2f} s"
        )
        first = res.first_cycles[kind]
        print(
            f"  the buses' first cycles took {min(first):.2f}-{max(first):.2f} s (run side by "
            f"side, not one after another: {sum(first):.1f} s in sum); start-up waited "
            f"{total - max(first):.2f} s beyond the slowest"
        )
    clock = res.clock
    assert clock is not None
    longest = clock.longest()
    by_cpu = clock.longest(5, cpu=True)
    cpu_held = (by_cpu[0].cpu_seconds - by_cpu[0].gc_seconds) if by_cpu else 0.0
    print(
        f"event loop, steady: {clock.callbacks} callbacks timed; longest of any kind "
        f"{clock.all_max * 1000:.2f} ms wall, {clock.all_cpu_max * 1000:.2f} ms CPU; ours over "
        f"5 ms wall: {clock.over(0.005)}, over 2 ms: {clock.over(0.002)} "
        f"(start-up: longest ours {res.startup_max_ours * 1000:.2f} ms wall)"
    )
    print("Longest callbacks that ran our code, wall time (CPU of the loop thread, GC in it):")
    for item in longest:
        print(
            f"  {item.seconds * 1000:7.2f} ms (cpu {item.cpu_seconds * 1000:.2f}, gc "
            f"{item.gc_seconds * 1000:.2f})  first ours {item.first_ours}  in {item.callback}"
        )
    print("Longest by the loop thread's CPU time less garbage collection:")
    for item in by_cpu:
        print(
            f"  {(item.cpu_seconds - item.gc_seconds) * 1000:7.2f} ms (wall "
            f"{item.seconds * 1000:.2f})  first ours {item.first_ours}  in {item.callback}"
        )
    print("Where the loop thread was while the 50 ms timer was over 20 ms late (2 ms samples):")
    for stack, samples in res.stalls:
        print(f"  {samples:5d}  {stack}")
    print(f"timer lag, idle loop:   {res.idle.summary()}")
    print(f"timer lag, steady run:  {res.steady.summary()}")
    relays = res.relays
    print(
        f"relay call -> state confirmed by the meter, {len(relays)} switches over "
        f"{len(buses)} buses: p50 {percentile(relays, 0.5):.2f} s, p95 "
        f"{percentile(relays, 0.95):.2f} s, max {max(relays, default=0):.2f} s"
    )
    seconds = res.seconds
    writes = res.writes
    per_datagram = writes["powersensor"] / res.datagrams if res.datagrams else 0.0
    print(
        f"state writes: {sum(writes.values()) / seconds:.1f}/s in all; EKM "
        f"{writes['ekm'] / seconds:.1f}/s; Powersensor {writes['powersensor'] / seconds:.2f}/s "
        f"= {per_datagram:.2f} per datagram ({res.datagrams} datagrams, "
        f"{res.datagrams / seconds:.1f}/s); other {writes['other'] / seconds:.2f}/s"
    )
    kinds = res.powersensor_writes.most_common(6)
    print(
        "  Powersensor writes per datagram by entity kind: "
        + ", ".join(f"{kind} {n / res.datagrams:.2f}" for kind, n in kinds if res.datagrams)
    )
    print(
        f"recorder backlog (queue), sampled each second: mean {mean_or_zero(res.backlog):.1f}, "
        f"p99 {percentile(res.backlog, 0.99):.0f}, max {max(res.backlog, default=0)}"
    )
    db_start, db_end = res.db_bytes
    growth = (db_end - db_start) / seconds * 3600 / 1e6
    print(
        f"database: {db_start / 1e6:.1f} MB -> {db_end / 1e6:.1f} MB in {seconds / 60:.1f} min "
        f"= {growth:.1f} MB per hour"
    )
    rss_growth = res.rss["steady end"] - res.rss["steady start"]
    print("process memory (RSS): " + ", ".join(f"{k} {v:.1f} MB" for k, v in res.rss.items()))
    print(
        f"scale-bench buses={args.buses} meters={args.meters} plugs={args.plugs} "
        f"cycle_ratio={worst:.3f} max_loop_lag_ms={cpu_held * 1000:.2f} "
        f"relay_p95_s={percentile(relays, 0.95):.2f} writes_per_datagram={per_datagram:.2f} "
        f"rss_growth_mb={rss_growth:.1f}"
    )


def main() -> None:
    """Parse arguments, start the servers, run, report, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="steady run after start-up")
    parser.add_argument("--buses", type=int, default=8)
    parser.add_argument("--meters", type=int, default=8, help="v4 meters per bus")
    parser.add_argument("--plugs", type=int, default=10)
    parser.add_argument("--switches", type=int, default=24, help="relay switches (>= 20)")
    parser.add_argument("--lone-cycles", type=int, default=6, help="cycles of the lone bus")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="idle-loop baseline")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds after start-up")
    args = parser.parse_args()

    res = Results(args, idle_timer_lag(args.idle_seconds))
    res.rss["before home assistant"] = rss_mb()
    base = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    pg = Postgres(base / "postgres")
    sims: list[SimProcess] = []
    buses: list[Bus] = []
    try:
        pg.start()
        print(f"PostgreSQL {pg.sql('SHOW server_version')} on 127.0.0.1:{pg.port}", flush=True)
        for index in range(args.buses):
            addresses = [f"{300_010_000 + index * 100 + i:012d}" for i in range(args.meters)]
            sim, url = start_ekm_bus(addresses, seed=index + 1)
            sims.append(sim)
            meters = [meter_subentry(address, 4) for address in addresses]
            buses.append(Bus(index, sim, url, bus_entry(url, meters)))
        plug_sim, plugs = start_plugs(args.plugs)
        sims.append(plug_sim)
        print(f"simulators: {args.buses} EKM bus processes, 1 plug process ({len(plugs)} plugs)")
        asyncio.run(run_home_assistant(args, pg, buses, home_entry(plugs), res))
    finally:
        for sim in sims:
            last = sim.stop().splitlines()
            if last and last[-1].startswith("stopped"):
                print(f"  {last[-1]}")
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)
    report(res, buses)


if __name__ == "__main__":
    main()
