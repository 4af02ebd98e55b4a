"""Run the EKM bus simulator: ``python -m simulators.ekm_bus --meters 300001285:4,10006388:3``.

Prints one line per endpoint (``tcp socket://127.0.0.1:PORT``, ``pty /dev/pts/N``) and serves
until Ctrl-C or SIGTERM.
"""

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from .config import SimulatorConfig, load_config, parse_fault, parse_meter_list
from .faults import FaultKind, FaultPlan
from .simulator import EkmBusSimulator


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m simulators.ekm_bus",
        description="Simulate an RS-485 bus of EKM Omnimeter v3/v4 meters over TCP and a pty.",
    )
    parser.add_argument(
        "--meters", default="", help="ADDRESS:VERSION,… e.g. 300001285:4,10006388:3"
    )
    parser.add_argument("--config", help="JSON file with meters and settings (see config.py)")
    parser.add_argument("--tcp-port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = free)")
    parser.add_argument("--no-tcp", action="store_true", help="do not serve TCP")
    parser.add_argument("--pty", action="store_true", help="also serve a pseudo-terminal")
    parser.add_argument("--no-pacing", action="store_true", help="reply at once, no wire time")
    parser.add_argument("--turnaround-ms", type=float, help="meter turnaround (default 20)")
    parser.add_argument("--speed", type=float, help="simulated time runs N times faster")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND=P",
        help="fault probability per reply: " + ", ".join(kind.value for kind in FaultKind),
    )
    parser.add_argument("--seed", type=int, help="seed for meter values and faults")
    return parser


def resolve_config(args: argparse.Namespace) -> SimulatorConfig:
    """The configuration file (if any) with the command-line options applied on top."""
    config = load_config(args.config) if args.config else SimulatorConfig()
    config.meters.extend(parse_meter_list(args.meters))
    if args.no_pacing:
        config.pacing = False
    if args.turnaround_ms is not None:
        config.turnaround_ms = args.turnaround_ms
    if args.speed is not None:
        config.speed = args.speed
    if args.seed is not None:
        config.seed = args.seed
    for text in args.fault:
        kind, probability = parse_fault(text)
        config.faults[kind] = probability
    if not config.meters:
        raise ValueError("no meters: give --meters or a --config with meters")
    return config


def build_simulator(config: SimulatorConfig) -> EkmBusSimulator:
    """A simulator (not yet serving) for ``config``."""
    sim = EkmBusSimulator(
        paced=config.pacing,
        turnaround=config.turnaround_ms / 1000,
        speed=config.speed,
        faults=FaultPlan(config.faults, seed=config.seed),
        seed=config.seed,
    )
    for spec in config.meters:
        sim.add_meter(spec.address, spec.version, **spec.options)
    return sim


async def serve(args: argparse.Namespace, simulator: EkmBusSimulator) -> None:
    """Start the endpoints, print them, and run until SIGINT/SIGTERM."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with simulator as sim:
        if not args.no_tcp:
            await sim.start_tcp("127.0.0.1", args.tcp_port)
        if args.pty:
            await sim.start_pty()
        for line in sim.endpoints:
            print(line, flush=True)
        await stop.wait()
        faults = ", ".join(f"{kind.value}={n}" for kind, n in sim.faults.injected.items())
        wire = sim.wire_stats
        print(
            f"stopped: {sim.stats.host_frames} frames, {sim.stats.replies} replies, "
            f"faults: {faults or 'none'}, last byte late by "
            f"{wire.late_mean * 1000:.3f} ms mean / {wire.late_max * 1000:.3f} ms max",
            flush=True,
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.no_tcp and not args.pty:
        parser.error("nothing to serve: --no-tcp needs --pty")
    try:
        simulator = build_simulator(resolve_config(args))
    except (ValueError, TypeError, KeyError, OSError) as err:
        parser.error(str(err))
    asyncio.run(serve(args, simulator))
    return 0


if __name__ == "__main__":
    sys.exit(main())
