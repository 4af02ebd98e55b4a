"""How late replies come back through an ESPHome serial proxy, against each kind's margin.

Run on demand (``scripts/bench esphome``), not part of the tests. The paced bus simulator (a
subprocess, 20 ms turnaround) is read directly over ``socket://`` and through the ESPHome
proxy simulator (in this process, serialx's ``esphome://`` transport and the native API on
127.0.0.1), first as is, then with the latency and UART batching of a real proxy added:
a good Wi-Fi link (10 ms each way, the UART forwarded every 16 ms), a busy one (50 ms, 32 ms)
and a bad one with power save (150 ms and 300 ms each way, 32 ms). Per path it prints how
late each reply's last byte was beyond its wire time (what the per-transaction margin must
cover: meter turnaround, forwarding, network), median / p95 / max over the reads, the
margin the bus gives that kind of port and the reads that timed out. Last line:
``esphome-bench late_ms_p95=<direct>,<proxy>,... margin_ms=<socket>,<esphome>``.
"""

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from custom_components.energy_local.ekm import (  # noqa: E402
    REPLY_MARGIN,
    EkmBus,
    EkmError,
    MeterVersion,
    PortKind,
)
from custom_components.energy_local.ekm.layout import FRAME_LENGTH  # noqa: E402
from scripts.bench_ekm import METERS, simulator  # noqa: E402
from simulators.esphome_proxy import EspHomeProxySimulator  # noqa: E402

# (label, one-way latency s, UART flush interval s); None: read the bus directly.
PATHS: list[tuple[str, float | None, float]] = [
    ("socket:// direct", None, 0.0),
    ("esphome proxy, loopback", 0.0, 0.0),
    ("esphome proxy, good Wi-Fi (10 ms, 16 ms)", 0.010, 0.016),
    ("esphome proxy, busy Wi-Fi (50 ms, 32 ms)", 0.050, 0.032),
    ("esphome proxy, power save (150 ms, 32 ms)", 0.150, 0.032),
    ("esphome proxy, bad link (300 ms, 32 ms)", 0.300, 0.032),
]


def instrument(bus: EkmBus, late: list[float]) -> None:
    """Record, per read request, how long after its wire time the whole reply was in."""
    original = bus._request_frame  # the bench times the bus's own step

    async def timed(receiver: Any, request: bytes) -> bytes:
        start = asyncio.get_running_loop().time()
        frame = await original(receiver, request)
        wire = (len(request) + FRAME_LENGTH) * bus.char_time
        late.append((asyncio.get_running_loop().time() - start - wire) * 1000)
        return frame

    bus._request_frame = timed  # type: ignore[method-assign]


async def measure(url: str, reads: int) -> tuple[list[float], int, float]:
    """Late times (ms) of ``reads`` v4 A+B reads on ``url``; timeouts; the bus's margin."""
    late: list[float] = []
    failures = 0
    async with EkmBus(url) as bus:
        instrument(bus, late)
        for i in range(reads):
            try:
                await bus.read_meter(METERS[i % len(METERS)], MeterVersion.V4)
            except EkmError:
                failures += 1
        return late, failures, bus.timeout


async def run(tcp: str, reads: int) -> list[tuple[str, list[float], int, float]]:
    """Every path in :data:`PATHS`."""
    host, _, port = tcp.removeprefix("socket://").rpartition(":")
    results = []
    for label, latency, flush in PATHS:
        if latency is None:
            results.append((label, *await measure(tcp, reads)))
            continue
        device = EspHomeProxySimulator(host, int(port), latency=latency, flush_interval=flush)
        await device.start()
        try:
            results.append((label, *await measure(device.url, reads)))
        finally:
            await device.stop()
    return results


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reads", type=int, default=20, help="v4 A+B reads per path")
    args = parser.parse_args()
    began = time.monotonic()
    with simulator(turnaround_ms=20) as endpoints:
        results = asyncio.run(run(endpoints["tcp"], args.reads))
    p95s = []
    print(f"{'path':<44} {'late ms: median':>15} {'p95':>7} {'max':>7} {'margin':>7}  timeouts")
    for label, late, failures, margin in results:
        ordered = sorted(late) or [float("nan")]
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        p95s.append(p95)
        print(
            f"{label:<44} {statistics.median(ordered):>15.1f} {p95:>7.1f} {ordered[-1]:>7.1f}"
            f" {margin * 1000:>7.0f}  {failures}/{args.reads}"
        )
    print(f"({time.monotonic() - began:.0f} s)")
    margins = ",".join(
        f"{REPLY_MARGIN[kind] * 1000:.0f}" for kind in (PortKind.SOCKET, PortKind.ESPHOME)
    )
    print(f"esphome-bench late_ms_p95={','.join(f'{v:.0f}' for v in p95s)} margin_ms={margins}")


if __name__ == "__main__":
    main()
