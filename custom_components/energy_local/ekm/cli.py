"""Command-line tool: read a meter, switch a relay, set a meter's clock.

    python -m custom_components.energy_local.ekm read --port URL --address ADDR
        [--version 3|4] [--json]
    python -m custom_components.energy_local.ekm relay --port URL --address ADDR --relay 1|2
        --state open|closed [--seconds N] [--password P]
    python -m custom_components.energy_local.ekm set-time --port URL --address ADDR [--password P]

Exit code 0 on success; on failure 1 with a one-line error on stderr (2 for bad arguments).
"""

import argparse
import asyncio
import json
import sys
from datetime import datetime
from typing import TextIO

from .bus import EkmBus
from .errors import EkmError
from .frames import DEFAULT_PASSWORD, Relay, RelayState
from .models import MeterReading, MeterVersion


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m custom_components.energy_local.ekm",
        description="Talk to EKM Omnimeters on an RS-485 bus.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--port", required=True, help="/dev/ttyUSB0, socket://h:p, rfc2217://h:p")
        sub.add_argument("--address", required=True, help="meter serial number (1-12 digits)")

    read = commands.add_parser("read", help="read one meter and print its fields")
    common(read)
    read.add_argument("--version", type=int, choices=(3, 4), help="default: detect")
    read.add_argument("--json", action="store_true", help="one JSON object of EKM field names")

    relay = commands.add_parser("relay", help="open or close a v4 relay")
    common(relay)
    relay.add_argument("--relay", type=int, choices=(1, 2), required=True)
    relay.add_argument("--state", choices=("open", "closed"), required=True)
    relay.add_argument("--seconds", type=int, default=0, help="hold time; 0 = hold (default)")
    relay.add_argument("--password", default=DEFAULT_PASSWORD)

    set_time = commands.add_parser("set-time", help="set the meter clock to this computer's time")
    common(set_time)
    set_time.add_argument("--version", type=int, choices=(3, 4), help="default: detect")
    set_time.add_argument("--password", default=DEFAULT_PASSWORD)
    return parser


def _json_value(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def print_reading(reading: MeterReading, *, as_json: bool, out: TextIO) -> None:
    """Print a reading as aligned ``field value`` lines, or one JSON object."""
    if as_json:
        obj = {name: _json_value(value) for name, value in reading.values.items()}
        out.write(json.dumps(obj) + "\n")
        return
    width = max(len(name) for name in reading.values)
    out.write(f"# meter {reading.address} (v{reading.version.value})\n")
    for name, value in reading.values.items():
        out.write(f"{name:<{width}}  {_json_value(value)}\n")


async def _run(args: argparse.Namespace, out: TextIO) -> None:
    async with EkmBus(args.port) as bus:
        version = MeterVersion(args.version) if getattr(args, "version", None) else None
        if args.command == "read":
            version = version or await bus.identify(args.address)
            reading = await bus.read_meter(args.address, version)
            print_reading(reading, as_json=args.json, out=out)
        elif args.command == "relay":
            state = RelayState.CLOSED if args.state == "closed" else RelayState.OPEN
            await bus.set_relay(
                args.address, Relay(args.relay), state, seconds=args.seconds, password=args.password
            )
            out.write(f"relay {args.relay} {args.state}\n")
        else:
            version = version or await bus.identify(args.address)
            now = datetime.now().replace(microsecond=0)  # noqa: DTZ005  (the meter keeps local time)
            await bus.set_time(args.address, version, now, password=args.password)
            out.write(f"meter clock set to {now.isoformat()}\n")


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Run the tool; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        asyncio.run(_run(args, out or sys.stdout))
    except (EkmError, ValueError) as err:
        sys.stderr.write(f"error: {err}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
