"""What lending the bus to ekmdevice costs the meters: the port hand-off, measured.

Run on demand (``scripts/bench hand-off``), not part of the tests. On the paced simulator (a
pty, 20 ms turnaround), each round reads one v4 meter (A+B), then lends the port as the bus
coordinator does for ioStacks: the bus ends its session, closes the port, a worker thread opens
and closes it with pyserial at 9600 7E1 (what ``ekmserial.create_serial_port`` yields), and the
bus takes the port back. The ioStack's own wire time is unknown (no protocol bytes exist), so
this is the overhead alone. Prints the figures and, last,
``hand-off-bench overhead_ms=<median> read_ms=<median>``.
"""

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from custom_components.energy_local.ekm import EkmBus, MeterVersion  # noqa: E402
from scripts.bench_ekm import METERS, simulator  # noqa: E402


def _borrow(port: str) -> None:
    """What ekmdevice does with the lent port, minus its own traffic: open 9600 7E1, close."""
    # pyserial, as ekmdevice uses it (requirements_bench.txt; not installed by the tests).
    import serial  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: PLC0415

    with serial.Serial(port, 9600, bytesize=serial.SEVENBITS, parity=serial.PARITY_EVEN, timeout=1):
        pass


async def measure(port: str, rounds: int) -> tuple[list[float], list[float]]:
    """Per round: the meter read's time and the hand-off's time, in ms."""
    loop = asyncio.get_running_loop()
    reads: list[float] = []
    hand_offs: list[float] = []
    async with EkmBus(port) as bus:
        await bus.read_meter(METERS[0], MeterVersion.V4, include_b=True)  # warm up
        for _ in range(rounds):
            start = time.perf_counter()
            await bus.read_meter(METERS[0], MeterVersion.V4, include_b=True)
            middle = time.perf_counter()
            async with bus.hand_off() as url:
                await loop.run_in_executor(None, _borrow, url)
            # Taking the port back counts only once the next transaction can use it.
            await bus.read_meter(METERS[0], MeterVersion.V4, include_b=False)
            end = time.perf_counter()
            reads.append((middle - start) * 1000)
            hand_offs.append((end - middle) * 1000)
    return reads, hand_offs


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with simulator(turnaround_ms=20) as endpoints:
        reads, hand_offs = asyncio.run(measure(endpoints["pty"], args.rounds))
    # The hand-off round also reads block A once more: subtract a block-A read (half of A+B).
    block_a = statistics.median(reads) / 2
    overhead = [value - block_a for value in hand_offs]
    print(f"meter read A+B (pty, paced): median {statistics.median(reads):.1f} ms")
    print(
        f"hand-off to a pyserial borrower and back: median {statistics.median(overhead):.1f} ms,"
        f" max {max(overhead):.1f} ms over {args.rounds} rounds"
    )
    print(
        f"hand-off-bench overhead_ms={statistics.median(overhead):.1f}"
        f" read_ms={statistics.median(reads):.1f}"
    )


if __name__ == "__main__":
    main()
