"""Command-line tool: watch one plug's events, or discover plugs.

``watch`` prints one line per event on stdout (``--json``: one JSON object per line with
``event``, ``mac`` and the payload fields; household events have ``"mac": null``) until
SIGINT/SIGTERM, then unsubscribes. Connection state changes go to stderr, so stdout stays
data only. ``--raw`` prints the plug's JSON lines as received instead of events.
"""

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from zeroconf.asyncio import AsyncZeroconf

from .client import PlugClient
from .const import DEFAULT_PORT
from .discovered import DiscoveredPlug
from .discovery import discover_plugs
from .events import PlugEvent
from .household import Household
from .legacy_discovery import legacy_discover
from .link import LinkStatus, Transport

PROG = "python -m custom_components.energy_local.powersensor"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the tool."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    watch = commands.add_parser("watch", help="print one plug's events until interrupted")
    watch.add_argument("--host", required=True, help="the plug's IPv4 or IPv6 address")
    watch.add_argument("--port", type=int, default=DEFAULT_PORT, help="default %(default)s")
    watch.add_argument(
        "--transport", choices=[t.value for t in Transport], default=Transport.UDP.value
    )
    watch.add_argument("--json", action="store_true", help="one JSON object per line")
    watch.add_argument("--raw", action="store_true", help="print the plug's raw lines instead")
    watch.add_argument("--household", action="store_true", help="add household view events")

    discover = commands.add_parser("discover", help="list plugs (zeroconf, or legacy broadcast)")
    discover.add_argument("--seconds", type=float, default=None, help="default 5 (legacy 2)")
    discover.add_argument(
        "--legacy", metavar="ADDRESS", help="send discover() to this broadcast or plug address"
    )
    discover.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="legacy discovery port (%(default)s)"
    )
    return parser


def format_event(name: str, mac: str | None, payload: dict[str, Any], *, as_json: bool) -> str:
    """Return the output line for one event."""
    if as_json:
        return json.dumps({"event": name, "mac": mac, **payload})
    fields = " ".join(f"{key}={value}" for key, value in payload.items())
    return f"{name} {fields}"


def format_status(status: LinkStatus) -> str:
    """Return the stderr line for a link state change."""
    detail = f": {status.detail}" if status.detail else ""
    return (
        f"{status.state.value} {status.host} port={status.port} "
        f"transport={status.transport.value} reason={status.reason.value}{detail}"
    )


def format_plug(plug: DiscoveredPlug) -> str:
    """Return the output line for one discovered plug."""
    name = f" name={plug.name}" if plug.name else ""
    return f"{plug.mac} host={plug.host} port={plug.port} transport={plug.transport.value}{name}"


async def run_watch(args: argparse.Namespace, stop: asyncio.Event, out: TextIO, err: TextIO) -> int:
    """Watch a plug until ``stop`` is set, then unsubscribe."""
    household = Household() if args.household else None

    def write(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    def on_raw_line(line: bytes) -> None:
        write(line.decode("utf-8", "replace"))

    def on_event(event: PlugEvent) -> None:
        write(format_event(event.name, event.mac, event.payload(), as_json=args.json))
        if household is not None:
            for derived in household.process(event):
                write(format_event(derived.name, None, derived.payload(), as_json=args.json))

    def on_status(status: LinkStatus) -> None:
        err.write(format_status(status) + "\n")
        err.flush()

    client = PlugClient(
        args.host,
        args.port,
        transport=args.transport,
        on_raw_line=on_raw_line if args.raw else None,
    )
    if not args.raw:
        client.add_event_listener(on_event)
    client.add_status_listener(on_status)
    client.start()
    try:
        await stop.wait()
    finally:
        await client.stop()
    return 0


async def run_discover(args: argparse.Namespace, out: TextIO) -> int:
    """Print the plugs found; exit status 1 when there are none."""
    if args.legacy is not None:
        seconds = 2.0 if args.seconds is None else args.seconds
        plugs = await legacy_discover(args.legacy, port=args.port, timeout_s=seconds)
    else:
        seconds = 5.0 if args.seconds is None else args.seconds
        aiozc = AsyncZeroconf()
        try:
            plugs = await discover_plugs(aiozc, seconds)
        finally:
            await aiozc.async_close()
    for plug in plugs:
        out.write(format_plug(plug) + "\n")
    out.flush()
    return 0 if plugs else 1


async def _run(args: argparse.Namespace) -> int:
    if args.command == "discover":
        return await run_discover(args, sys.stdout)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    try:
        return await run_watch(args, stop, sys.stdout, sys.stderr)
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tool; return its exit status."""
    args = build_parser().parse_args(argv)
    return asyncio.run(_run(args))
