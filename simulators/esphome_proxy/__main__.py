"""Run the ESPHome serial proxy simulator: ``python -m simulators.esphome_proxy --bus HOST:PORT``.

``--bus`` is the EKM bus simulator's TCP endpoint (``socket://127.0.0.1:PORT`` or
``127.0.0.1:PORT``). Prints ``api 127.0.0.1:PORT`` (where Home Assistant's ESPHome integration
connects) and ``proxy NAME esphome://…`` per serial proxy port, then serves until Ctrl-C or
SIGTERM. SIGUSR1 takes the device offline (every connection closed, nothing listening);
SIGUSR2 brings it back on the same port.
"""

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from .device import EspHomeProxySimulator


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m simulators.esphome_proxy",
        description="Simulate an ESPHome device whose serial proxy is wired to an EKM bus.",
    )
    parser.add_argument("--bus", required=True, help="the EKM bus simulator's HOST:PORT")
    parser.add_argument("--port", type=int, default=0, help="API port on 127.0.0.1 (0 = free)")
    parser.add_argument("--name", default="ekm-proxy", help="the device's node name")
    parser.add_argument("--mac", default="AC:67:B2:00:48:5A", help="the device's MAC")
    parser.add_argument(
        "--proxy", action="append", default=[], help="serial proxy port name (default ekm_bus)"
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay each way")
    parser.add_argument(
        "--flush-ms", type=float, default=0.0, help="batch UART bytes, one message per period"
    )
    return parser


def parse_bus(text: str) -> tuple[str, int]:
    """``socket://127.0.0.1:40485`` or ``127.0.0.1:40485`` -> (host, port)."""
    host, sep, port = text.removeprefix("socket://").rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"--bus wants HOST:PORT, not {text!r}")
    return host, int(port)


async def serve(args: argparse.Namespace, device: EspHomeProxySimulator) -> None:
    """Start the API server, print where it is, and run until SIGINT/SIGTERM."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, lambda: device.spawn(device.go_offline()))
    loop.add_signal_handler(signal.SIGUSR2, lambda: device.spawn(device.come_back()))
    await device.start("127.0.0.1", args.port)
    print(f"api {device.host}:{device.port}", flush=True)
    for port in device.ports:
        print(f"proxy {port.name} esphome://{device.host}:{device.port}/?port_name={port.name}")
    sys.stdout.flush()
    await stop.wait()
    stats = device.stats
    await device.stop()
    print(
        f"stopped: {stats.connections} connections, {stats.subscribes} subscribes, "
        f"{stats.bytes_to_uart} bytes to the bus, {stats.bytes_from_uart} from it, "
        f"{stats.dropped_bytes} dropped (port not 9600 7E1)",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        host, port = parse_bus(args.bus)
    except ValueError as err:
        parser.error(str(err))
    device = EspHomeProxySimulator(
        host,
        port,
        name=args.name,
        mac=args.mac,
        proxy_names=tuple(args.proxy) or ("ekm_bus",),
        latency=args.latency_ms / 1000,
        flush_interval=args.flush_ms / 1000,
    )
    asyncio.run(serve(args, device))
    return 0


if __name__ == "__main__":
    sys.exit(main())
