"""EKM bus benchmark: 8 v4 meters, A+B each, on the paced simulator; ours vs ekmmeters 0.2.5.

Run on demand (``scripts/bench ekm``), not part of the tests. The simulator runs in its own
process so the CPU time measured here is the client's alone. Prints the figures and, last,
``ekm-bench efficiency=<x> vs_ekmmeters=<y> max_loop_lag_ms=<z>``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
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
    """Measures how late a 1 ms timer fires: the event loop's worst blocking stretch."""

    def __init__(self) -> None:
        self.max_lag = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(0.001)
            self.max_lag = max(self.max_lag, loop.time() - start - 0.001)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[LoopLagMonitor]:
        """Monitor while the block runs."""
        self._task = asyncio.create_task(self._run())
        try:
            yield self
        finally:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def bench_ours(port: str, cycles: int) -> tuple[list[float], float, float]:
    """Poll all meters ``cycles`` times; return cycle times, CPU s per cycle, max loop lag."""
    times: list[float] = []
    async with EkmBus(port) as bus:
        for address in METERS:  # warm-up cycle (port open, caches), not measured
            await bus.read_meter(address, MeterVersion.V4)
        monitor = LoopLagMonitor()
        async with monitor.running():
            cpu0 = time.process_time()
            for _ in range(cycles):
                start = time.perf_counter()
                for address in METERS:
                    await bus.read_meter(address, MeterVersion.V4)
                times.append(time.perf_counter() - start)
            cpu = (time.process_time() - cpu0) / cycles
        if bus.stats.timeouts or bus.stats.crc_errors or bus.stats.frame_errors:
            raise RuntimeError(f"errors during the benchmark: {bus.stats}")
    return times, cpu, monitor.max_lag


def bench_ekmmeters(pty: str, cycles: int) -> list[float]:
    """The same cycle through EKM's ekmmeters 0.2.5 (synchronous; run in a thread)."""
    import ekmmeters  # noqa: PLC0415  (benchmark-only dependency)

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

    with simulator(args.turnaround_ms) as endpoints:
        times, cpu, lag = asyncio.run(bench_ours(endpoints["pty"], args.cycles))
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
        f"efficiency {bound / ours_mean:.3f}, CPU {cpu * 1000:.2f} ms/cycle, "
        f"max loop lag {lag * 1000:.2f} ms"
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
