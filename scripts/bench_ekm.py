"""EKM bus benchmark: 8 v4 meters, A+B each, on the paced simulator; ours vs ekmmeters 0.2.5.

Run on demand (``scripts/bench ekm``), not part of the tests. The simulator runs in its own
process so the CPU time measured here is the client's alone. Prints the figures and, last,
``ekm-bench efficiency=<x> vs_ekmmeters=<y> max_loop_lag_ms=<z>``.
"""

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from custom_components.energy_local.ekm import CHAR_TIME, EkmBus, MeterVersion  # noqa: E402

METERS = [f"{300001001 + i}" for i in range(8)]
WIRE_CHARS_AB = 548  # 2 x (19 request + 255 reply) characters per v4 meter


@contextlib.contextmanager
def simulator(turnaround_ms: float) -> Iterator[dict[str, str]]:
    """Start the bus simulator as a subprocess; yield its endpoints ({'tcp': url, 'pty': path})."""
    meters = ",".join(f"{address}:4" for address in METERS)
    cmd = [
        sys.executable, "-m", "simulators.ekm_bus", "--meters", meters, "--pty",
        "--tcp-port", "0", "--turnaround-ms", str(turnaround_ms),
    ]  # fmt: skip
    # The simulator gets its own core where there are two, so it does not preempt the client.
    cores = sorted(os.sched_getaffinity(0))
    pin = (lambda: os.sched_setaffinity(0, {cores[-1]})) if len(cores) > 1 else None
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, preexec_fn=pin)  # noqa: PLW1509
    try:
        endpoints: dict[str, str] = {}
        assert proc.stdout is not None
        while len(endpoints) < 2:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("simulator exited before printing its endpoints")
            kind, _, where = line.strip().partition(" ")
            if kind in ("tcp", "pty"):
                endpoints[kind] = where
        yield endpoints
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class LoopLagMonitor:
    """How late a 1 ms timer fires (the loop's lag), and the longest single callback run.

    Timer lag also counts the OS descheduling the process; the longest callback is the time
    our own code held the loop.
    """

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.longest_callback = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(0.001)
            self.lags.append(loop.time() - start - 0.001)

    @property
    def max_lag(self) -> float:
        """The worst timer lag seen."""
        return max(self.lags, default=0.0)

    def percentile(self, fraction: float) -> float:
        """A timer-lag percentile."""
        ordered = sorted(self.lags)
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0

    @contextlib.contextmanager
    def timing_callbacks(self) -> Iterator[None]:
        """Time every callback the loop runs (asyncio.Handle._run)."""
        original = asyncio.events.Handle._run

        def timed(handle: asyncio.Handle) -> None:
            start = time.thread_time()  # CPU time: preemption by the OS is not our blocking
            original(handle)
            self.longest_callback = max(self.longest_callback, time.thread_time() - start)

        asyncio.events.Handle._run = timed  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            asyncio.events.Handle._run = original  # type: ignore[method-assign]

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[LoopLagMonitor]:
        """Monitor while the block runs."""
        self._task = asyncio.create_task(self._run())
        try:
            with self.timing_callbacks():
                yield self
        finally:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def idle_lag(seconds: float) -> LoopLagMonitor:
    """The same timer on an idle loop: this machine's own scheduling noise."""
    monitor = LoopLagMonitor()
    async with monitor.running():
        await asyncio.sleep(seconds)
    return monitor


async def poll_cycle(bus: EkmBus) -> float:
    """Read every meter (A+B) once; return the wall time."""
    start = time.perf_counter()
    for address in METERS:
        await bus.read_meter(address, MeterVersion.V4)
    return time.perf_counter() - start


async def bench_ours(port: str, cycles: int) -> tuple[list[float], float, LoopLagMonitor]:
    """Poll ``cycles`` times for speed and CPU, then again under the loop-lag monitor."""
    async with EkmBus(port) as bus:
        await poll_cycle(bus)  # warm-up (port open, first allocations), not measured
        cpu0 = time.process_time()
        times = [await poll_cycle(bus) for _ in range(cycles)]
        cpu = (time.process_time() - cpu0) / cycles
        monitor = LoopLagMonitor()
        async with monitor.running():
            for _ in range(max(cycles // 2, 5)):
                await poll_cycle(bus)
        if bus.stats.timeouts or bus.stats.crc_errors or bus.stats.frame_errors:
            raise RuntimeError(f"errors during the benchmark: {bus.stats}")
    return times, cpu, monitor


def bench_ekmmeters(pty: str, cycles: int) -> list[float]:
    """The same cycle through EKM's ekmmeters 0.2.5 (synchronous; run in a thread)."""
    import ekmmeters  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: PLC0415

    ekmmeters.ekm_no_log("")
    port = ekmmeters.SerialPort(pty)
    if not port.initPort():
        raise RuntimeError("ekmmeters could not open the pty")
    meters = []
    for address in METERS:
        meter = ekmmeters.V4Meter(address.zfill(12))
        meter.attachPort(port)
        meters.append(meter)
    times: list[float] = []
    for _ in range(cycles):
        start = time.perf_counter()
        for meter in meters:
            if not meter.request():
                raise RuntimeError("ekmmeters read failed")
        times.append(time.perf_counter() - start)
    port.closePort()
    return times


def main() -> None:
    """Run both benchmarks and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--ekmmeters-cycles", type=int, default=5)
    parser.add_argument("--turnaround-ms", type=float, default=20.0)
    args = parser.parse_args()
    turnaround = args.turnaround_ms / 1000
    bound = len(METERS) * (WIRE_CHARS_AB * CHAR_TIME + 2 * turnaround)

    cores = sorted(os.sched_getaffinity(0))
    if len(cores) > 1:
        os.sched_setaffinity(0, set(cores[:-1]))
    baseline = asyncio.run(idle_lag(5.0))
    with simulator(args.turnaround_ms) as endpoints:
        times, cpu, monitor = asyncio.run(bench_ours(endpoints["pty"], args.cycles))
    # The loop lag our code causes is the longest time one of its callbacks held the loop.
    # A timer's overshoot also counts the OS descheduling this process (the idle baseline
    # shows how much of that this machine adds), so it is printed alongside, not summarised.
    lag = monitor.longest_callback
    with simulator(args.turnaround_ms) as endpoints:
        result: list[list[float]] = []
        worker = threading.Thread(
            target=lambda: result.append(bench_ekmmeters(endpoints["pty"], args.ekmmeters_cycles))
        )
        worker.start()
        worker.join()
        theirs = result[0]

    ours_mean = statistics.mean(times)
    theirs_mean = statistics.mean(theirs)
    print(f"meters: {len(METERS)} x v4 (A+B), turnaround {args.turnaround_ms:g} ms, pty")
    print(f"wire lower bound per cycle: {bound * 1000:.1f} ms")
    print(
        f"energy_local: {args.cycles} cycles, mean {ours_mean * 1000:.1f} ms "
        f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}), "
        f"efficiency {bound / ours_mean:.3f}, CPU {cpu * 1000:.2f} ms/cycle"
    )
    print(
        f"event loop while polling: max timer lag {monitor.max_lag * 1000:.2f} ms, "
        f"p99 {monitor.percentile(0.99) * 1000:.2f} ms, longest callback "
        f"{monitor.longest_callback * 1000:.2f} ms CPU; idle-loop baseline on this machine: "
        f"max {baseline.max_lag * 1000:.2f} ms, p99 {baseline.percentile(0.99) * 1000:.2f} ms"
    )
    print(
        f"ekmmeters 0.2.5: {len(theirs)} cycles, mean {theirs_mean * 1000:.1f} ms, "
        f"efficiency {bound / theirs_mean:.3f}"
    )
    print(f"throughput ratio (ekmmeters cycle / ours): {theirs_mean / ours_mean:.2f}x")
    print(
        f"ekm-bench efficiency={bound / ours_mean:.3f} vs_ekmmeters={theirs_mean / ours_mean:.2f} "
        f"max_loop_lag_ms={lag * 1000:.2f}"
    )


if __name__ == "__main__":
    main()
