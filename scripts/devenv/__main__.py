"""``python -m scripts.devenv [--check] …``: what ``scripts/develop`` runs after setting up."""

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from . import netns
from .procs import Child
from .stack import EKM_PORT, HA_PORT, ROOT, DevStack, StackInfo, StackOptions, ekm_menu_label

DEFAULT_NETNS = "el-dev"


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="scripts/develop",
        description="A real Home Assistant with a simulated EKM bus and Powersensor plug, "
        "isolated in a network namespace, on http://127.0.0.1:8123.",
        epilog="scripts/develop --setup-only installs what Home Assistant needs and starts "
        "nothing (tests/e2e uses it).",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="start everything, wait until Home Assistant answers, stop (a smoke test)",
    )
    parser.add_argument("--config", type=Path, default=ROOT / "config", help="config directory")
    parser.add_argument("--netns", default=DEFAULT_NETNS, help="namespace name (%(default)s)")
    parser.add_argument(
        "--no-netns", action="store_true", help="run on the host (restricted config)"
    )
    parser.add_argument("--port", type=int, default=HA_PORT, help="UI port on the host's 127.0.0.1")
    parser.add_argument("--ekm-port", type=int, default=EKM_PORT, help="EKM bus TCP port")
    parser.add_argument("--no-plug", action="store_true", help="no Powersensor plug simulator")
    parser.add_argument(
        "--no-esphome", action="store_true", help="no ESPHome serial proxy simulator"
    )
    parser.add_argument("--status-file", type=Path, help="write what runs here as JSON")
    parser.add_argument(
        "--quiet", action="store_true", help="Home Assistant's console output only to its file"
    )
    return parser


def summary(info: StackInfo) -> str:
    """What the user does next."""
    meters = ", ".join(f"{m['address']} (v{m['version']})" for m in info.meters)
    menu = f" -> {label}" if (label := ekm_menu_label()) else ""
    add = f"Settings -> Devices & services -> Add integration -> Energy Local{menu}"
    lines = [
        "",
        "=" * 78,
        f"Home Assistant {info.ha_version} is up: {info.url}   ({info.seconds_to_ready} s)",
        "  First time: create your user there (onboarding).",
        f"  Add the EKM bus: {add},",
        f"    port: {info.ekm_port}",
        f"  then on the bus entry 'Add meter' for each of: {meters}",
        "    (version 'auto' detects it; the v4 meter has two relays and pulse inputs).",
    ]
    if (esphome := info.esphome) is not None:
        proxy_meters = esphome["meters"]
        assert isinstance(proxy_meters, list)
        proxied = ", ".join(f"{m['address']} (v{m['version']})" for m in proxy_meters)
        lines.append(
            f"  ESPHome serial proxy (a second bus, meter {proxied}): add the ESPHome"
            f" integration with host {esphome['host']}, port {esphome['port']};"
        )
        lines.append(
            f"    then an EKM bus on its port '{esphome['proxy']}' (listed in the port picker)."
        )
    for plug in info.plugs:
        where = f"UDP/TCP 127.0.0.1:{plug['port']}"
        if not plug["zeroconf"]:
            lines.append(f"  Powersensor plug {plug['mac']} on {where} (not advertised: no netns).")
        elif info.plug_discovery:
            lines.append(
                f"  Powersensor plug {plug['mac']} ({where}, mains + solar sensors) is advertised"
                " over zeroconf: it shows up under Discovered."
            )
        else:
            lines.append(
                f"  Powersensor plug {plug['mac']} ({where}, mains + solar sensors) is advertised"
                " over zeroconf; the integration does not discover plugs yet."
            )
    if info.netns:
        lines.append(
            f"  Isolation: everything runs in network namespace {info.netns} (loopback only);"
            f" {info.url} is forwarded into it."
        )
    else:
        lines.append(
            "  Isolation: NO namespace (--no-netns, or not root / no iproute2). Discovery and "
            "cloud integrations are left out of the configuration; Home Assistant may still reach "
            "the internet for brand images or if you enable analytics."
        )
    lines.append("  Logs: " + ", ".join(f"{k}: {v}" for k, v in info.logs.items()))
    lines.append("  Ctrl-C stops everything.")
    lines.append("=" * 78)
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    """Start, report, wait for Ctrl-C (or a child's exit) or stop at once with --check."""
    name: str | None = None
    if not args.no_netns:
        if netns.can_isolate():
            name = args.netns
        else:
            print("develop: not root or no iproute2: running WITHOUT a network namespace")
    options = StackOptions(
        config_dir=args.config.resolve(),
        netns=name,
        host_port=args.port,
        ekm_port=args.ekm_port,
        plug=not args.no_plug,
        esphome=not args.no_esphome,
        echo_ha=not (args.quiet or args.check),
    )
    stack = DevStack(options)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)

    starting = asyncio.ensure_future(stack.start())
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        print("develop: stopping before Home Assistant was up")
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        return 130
    stopping.cancel()
    try:
        info = starting.result()
    except Exception as err:
        print(f"develop: failed: {err}", file=sys.stderr)
        return 1
    if args.status_file:
        args.status_file.write_text(info.to_json() + "\n", encoding="utf-8")
    print(summary(info), flush=True)
    code = 0
    try:
        if not args.check:
            exited = asyncio.ensure_future(stack.supervisor.first_exit())
            waiting = asyncio.ensure_future(stop.wait())
            await asyncio.wait({exited, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if exited.done():
                child: Child = exited.result()
                print(f"develop: {child.name} exited ({child.process.returncode}); stopping")
                print(child.tail())
                code = 1
            else:
                exited.cancel()
    finally:
        print("develop: stopping Home Assistant, simulators and forwarder", flush=True)
        codes = await stack.stop()
        print("develop: exit status " + ", ".join(f"{k} {v}" for k, v in codes.items()))
        if args.status_file:
            args.status_file.unlink(missing_ok=True)
    print("develop: stopped" + (f"; namespace {name} deleted" if name else ""))
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    if args.no_netns and args.port != HA_PORT:
        build_parser().error("--port needs a namespace (Home Assistant itself uses 8123)")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
