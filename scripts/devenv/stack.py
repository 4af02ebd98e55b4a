"""The development stack: namespace, simulators, Home Assistant, forwarder."""

import asyncio
import json
import socket
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import haconfig, netns
from .forward import Forwarder
from .ha_requirements import kept_packages
from .procs import Child, ChildFailedError, Supervisor

ROOT = Path(__file__).resolve().parents[2]
# The newest Home Assistant (requirements_ha_newest.txt), installed by scripts/develop; the
# simulators keep running from the test venv this module runs in.
HA_PYTHON = ROOT / ".venv-ha" / "bin" / "python"
HA_PORT = 8123
EKM_PORT = 40485  # "RS-485"; fixed so the bus entry's socket:// address survives restarts
PLUG_PORT = 49476  # a real plug's port
ESPHOME_PORT = 6053  # the ESPHome native API's port
V4_ADDRESS = "300001285"
V3_ADDRESS = "10006388"
DEFAULT_METERS = ((V4_ADDRESS, 4), (V3_ADDRESS, 3))
# The bus behind the simulated ESPHome serial proxy: a bus of its own (one master per bus).
PROXY_V4_ADDRESS = "300001286"
PROXY_METERS = ((PROXY_V4_ADDRESS, 4),)
PROXY_NAME = "ekm_bus"

# The simulated meters start from a reading that grows with the wall clock (this many kWh per
# hour since 2026-01-01, more than they ever consume or export per hour), so a restarted
# simulator continues above what Home Assistant last saw instead of going backwards.
_KWH_PER_HOUR = 3.0
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def plug_simulator_present(root: Path = ROOT) -> bool:
    """Whether the Powersensor plug simulator exists (module or package)."""
    sims = root / "simulators"
    return (sims / "powersensor_plug.py").exists() or (
        sims / "powersensor_plug" / "__main__.py"
    ).exists()


def integration_discovers_plugs(root: Path = ROOT) -> bool:
    """Whether the integration's manifest asks zeroconf for Powersensor services."""
    manifest = root / "custom_components" / "energy_local" / "manifest.json"
    entries = json.loads(manifest.read_text(encoding="utf-8")).get("zeroconf", [])
    return any("_powersensor." in json.dumps(entry) for entry in entries)


def ekm_menu_label(root: Path = ROOT) -> str | None:
    """The "add" menu's label for an EKM bus, when the user step is a menu."""
    strings = root / "custom_components" / "energy_local" / "strings.json"
    step = json.loads(strings.read_text(encoding="utf-8"))["config"]["step"].get("user", {})
    label = step.get("menu_options", {}).get("ekm_bus")
    return str(label) if label else None


def ekm_simulator_config(meters: tuple[tuple[str, int], ...]) -> dict[str, object]:
    """JSON for ``simulators.ekm_bus --config``: steady loads, readings tied to the clock.

    The v4 meter exports on line 3 (a small solar feed) so both energy directions move. A
    line's worst case is ``watts * 1.03`` (jitter): import grows < 2.7 kWh/h, below
    ``_KWH_PER_HOUR``; export < 0.21 kWh/h, below the 0.3 kWh/h its start gains (a tenth of
    the import's, as the simulator makes it).
    """
    hours = (datetime.now(UTC) - _EPOCH).total_seconds() / 3600
    initial = round(1000 + _KWH_PER_HOUR * hours, 1)
    specs: list[dict[str, object]] = []
    for address, version in meters:
        lines: list[dict[str, object]] = [
            {"watts": 1500, "power_factor": "L095"},
            {"watts": 900, "power_factor": "L098"},
            {"watts": 200, "exporting": version == 4, "power_factor": " 100"},
        ]
        specs.append(
            {"address": address, "version": version, "initial_kwh": initial, "lines": lines}
        )
    return {"meters": specs, "seed": 1}


class PortTakenError(RuntimeError):
    """The UI's port on the host is in use."""


def _check_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))


@dataclass(slots=True)
class StackOptions:
    """What to start and where."""

    config_dir: Path
    netns: str | None
    """Namespace to create and run in; None runs on the host's loopback (restricted mode)."""
    host_port: int = HA_PORT
    """Port on the host's 127.0.0.1 for the UI (0: any free one; only with a namespace)."""
    ekm_port: int = EKM_PORT
    meters: tuple[tuple[str, int], ...] = DEFAULT_METERS
    plug: bool = True
    plug_port: int = PLUG_PORT
    esphome: bool = True
    """An ESPHome device simulator whose serial proxy leads to a second simulated bus."""
    esphome_port: int = ESPHOME_PORT
    echo_ha: bool = False
    """Show Home Assistant's console output on our terminal too (it always goes to a file)."""
    root: Path = ROOT
    python: str = sys.executable
    """Runs the simulators."""
    ha_python: str = str(HA_PYTHON)
    """Runs Home Assistant."""


@dataclass(slots=True)
class StackInfo:
    """What is running, for people (printed) and for the e2e test (JSON)."""

    url: str
    host_port: int
    netns: str | None
    config_dir: str
    ha_version: str
    ekm_port: str
    meters: list[dict[str, object]]
    plugs: list[dict[str, object]] = field(default_factory=list)
    plug_discovery: bool = False
    esphome: dict[str, object] | None = None
    """The simulated ESPHome device: ``host``, ``port``, ``proxy`` (its serial proxy's name),
    ``bus`` (the ``socket://`` address of the bus behind it) and ``meters``."""
    logs: dict[str, str] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    seconds_to_ready: float = 0.0

    def to_json(self) -> str:
        """One JSON object."""
        return json.dumps(asdict(self), indent=2)


async def http_status(port: int, path: str, *, within: float = 5) -> int | None:
    """Status code of ``GET http://127.0.0.1:port/path``; None when nothing answers."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    except OSError, TimeoutError:
        return None
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), within)
    except OSError, TimeoutError:
        return None
    finally:
        writer.close()
    parts = line.split()
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None


class HaNotInstalledError(RuntimeError):
    """The Home Assistant venv is missing (scripts/develop --setup-only makes it)."""


async def ha_version(python: str) -> str:
    """The version of Home Assistant that ``python`` runs (its package's metadata)."""
    try:
        process = await asyncio.create_subprocess_exec(
            python, "-c", "import importlib.metadata as m; print(m.version('homeassistant'))",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    except FileNotFoundError as err:
        missing = f"{python} does not exist: run scripts/develop --setup-only"
        raise HaNotInstalledError(missing) from err
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise HaNotInstalledError(f"no Home Assistant in {python}: {out.decode(errors='replace')}")
    return out.decode().strip()


class DevStack:
    """Start and stop everything; :meth:`stop` is safe to call at any point, twice."""

    def __init__(self, options: StackOptions) -> None:
        """Nothing runs until :meth:`start`."""
        self.options = options
        self.supervisor = Supervisor()
        self.forwarder: Forwarder | None = None
        self.ha: Child | None = None
        self._made_netns = False
        self.workdir = options.config_dir / "devenv"

    def _in_ns(self, *argv: str) -> list[str]:
        return [*netns.exec_prefix(self.options.netns), *argv]

    async def start(self, *, ready_within: float = 300) -> StackInfo:
        """Bring everything up and wait until Home Assistant answers; stop all on failure."""
        try:
            return await self._start(ready_within)
        except BaseException:
            await self.stop()
            raise

    async def _start(self, ready_within: float) -> StackInfo:
        opts = self.options
        began = time.monotonic()
        version = await ha_version(opts.ha_python)
        isolated = opts.netns is not None
        if opts.netns is not None:
            netns.create(opts.netns)
            self._made_netns = True
            if (found := netns.interfaces(opts.netns)) != ["lo"]:
                raise netns.NamespaceError(f"namespace has interfaces {found}, not only lo")
        elif opts.host_port != HA_PORT:
            raise ValueError("without a namespace Home Assistant listens on 8123 itself")
        # The UI's port first: if the host's 127.0.0.1:<port> is taken, fail before starting
        # anything else.
        port = HA_PORT
        try:
            if opts.netns is not None:
                self.forwarder = Forwarder(opts.netns, HA_PORT, opts.host_port)
                port = await self.forwarder.start()
            else:
                _check_port_free(HA_PORT)
        except OSError as err:
            raise PortTakenError(
                f"127.0.0.1:{opts.host_port} is taken on this host ({err.strerror}): "
                "stop what uses it, or pick another with --port"
            ) from err
        haconfig.prepare(opts.config_dir, opts.root, isolated=isolated, port=HA_PORT)
        self.workdir.mkdir(parents=True, exist_ok=True)
        logs: dict[str, str] = {}

        # EKM bus simulator.
        sim_config = self.workdir / "ekm_bus.json"
        sim_config.write_text(json.dumps(ekm_simulator_config(opts.meters), indent=2) + "\n")
        ekm = await self.supervisor.start(
            "ekm_bus",
            self._in_ns(
                opts.python, "-m", "simulators.ekm_bus",
                "--config", str(sim_config), "--tcp-port", str(opts.ekm_port),
            ),
            cwd=opts.root,
            log=self.workdir / "ekm_bus.log",
        )  # fmt: skip
        logs["ekm_bus"] = str(ekm.log)
        (match,) = await self.supervisor.wait_for_lines(ekm, r"^tcp (socket://\S+)$")
        ekm_url = match.group(1)

        # Powersensor plug simulator, advertised over zeroconf only inside the namespace.
        plugs: list[dict[str, object]] = []
        if opts.plug and plug_simulator_present(opts.root):
            argv = [opts.python, "-m", "simulators.powersensor_plug", "--plugs", "1"]
            argv += ["--port", str(opts.plug_port)]
            if isolated:
                argv.append("--zeroconf")
            plug = await self.supervisor.start(
                "powersensor_plug",
                self._in_ns(*argv),
                cwd=opts.root,
                log=self.workdir / "powersensor_plug.log",
            )
            logs["powersensor_plug"] = str(plug.log)
            lines = await self.supervisor.wait_for_lines(
                plug, r"^plug (\w+) udp=(\S+):(\d+) tcp=\S+$"
            )
            plugs += [
                {"mac": line.group(1), "port": int(line.group(3)), "zeroconf": isolated}
                for line in lines
            ]

        esphome = await self._start_esphome(logs) if opts.esphome else None

        # Home Assistant. Packages pinned apart from the release (requirements_develop.txt's
        # "# keep" lines) must not be re-installed at startup: the namespace has no network.
        argv = [opts.ha_python, "-m", "homeassistant", "--config", str(opts.config_dir)]
        develop = opts.root / "requirements_develop.txt"
        if develop.exists() and (kept := kept_packages(develop.read_text(encoding="utf-8"))):
            argv += ["--skip-pip-packages", ",".join(kept)]
        self.ha = await self.supervisor.start(
            "home_assistant",
            self._in_ns(*argv),
            # Not the repository: `python -m` puts the working directory first on sys.path, and
            # its custom_components/ would shadow the config directory's (and its symlink).
            cwd=opts.config_dir,
            log=self.workdir / "home-assistant.out",
            echo=opts.echo_ha,
        )
        logs["home_assistant"] = str(self.workdir / "home-assistant.out")

        await self._wait_ready(port, ready_within)
        return StackInfo(
            url=f"http://127.0.0.1:{port}",
            host_port=port,
            netns=opts.netns,
            config_dir=str(opts.config_dir),
            ha_version=version,
            ekm_port=ekm_url,
            meters=[{"address": a, "version": v} for a, v in opts.meters],
            plugs=plugs,
            plug_discovery=bool(plugs) and isolated and integration_discovers_plugs(opts.root),
            esphome=esphome,
            logs=logs,
            pids={child.name: child.pid for child in self.supervisor.children},
            seconds_to_ready=round(time.monotonic() - began, 1),
        )

    async def _start_esphome(self, logs: dict[str, str]) -> dict[str, object]:
        """A second simulated bus and the ESPHome device whose serial proxy leads to it."""
        opts = self.options
        sim_config = self.workdir / "ekm_bus_proxy.json"
        sim_config.write_text(json.dumps(ekm_simulator_config(PROXY_METERS), indent=2) + "\n")
        bus = await self.supervisor.start(
            "ekm_bus_proxy",
            self._in_ns(
                opts.python, "-m", "simulators.ekm_bus",
                "--config", str(sim_config), "--tcp-port", "0",
            ),
            cwd=opts.root,
            log=self.workdir / "ekm_bus_proxy.log",
        )  # fmt: skip
        logs["ekm_bus_proxy"] = str(bus.log)
        (match,) = await self.supervisor.wait_for_lines(bus, r"^tcp (socket://\S+)$")
        bus_url = match.group(1)
        device = await self.supervisor.start(
            "esphome_proxy",
            self._in_ns(
                opts.python, "-m", "simulators.esphome_proxy",
                "--bus", bus_url, "--port", str(opts.esphome_port), "--proxy", PROXY_NAME,
            ),
            cwd=opts.root,
            log=self.workdir / "esphome_proxy.log",
        )  # fmt: skip
        logs["esphome_proxy"] = str(device.log)
        (api,) = await self.supervisor.wait_for_lines(device, r"^api (\S+):(\d+)$")
        return {
            "host": api.group(1),
            "port": int(api.group(2)),
            "proxy": PROXY_NAME,
            "bus": bus_url,
            "meters": [{"address": a, "version": v} for a, v in PROXY_METERS],
        }

    async def _wait_ready(self, port: int, within: float) -> None:
        """Until bootstrap is done and the frontend and onboarding API answer 200 (via port)."""
        assert self.ha is not None
        began = time.monotonic()
        await self.supervisor.wait_for_lines(
            self.ha, r"Home Assistant initialized in", within=within
        )
        deadline = began + within
        while True:
            if self.ha.process.returncode is not None:
                raise ChildFailedError(
                    f"Home Assistant exited with {self.ha.process.returncode}\n{self.ha.tail()}"
                )
            if (
                await http_status(port, "/manifest.json") == 200
                and await http_status(port, "/api/onboarding") == 200
            ):
                return
            if time.monotonic() > deadline:
                raise ChildFailedError(f"Home Assistant did not answer within {within:.0f} s")
            await asyncio.sleep(0.5)

    async def stop(self) -> dict[str, int]:
        """Stop Home Assistant, the simulators and the forwarder; delete the namespace.

        Returns the children's exit statuses.
        """
        codes: dict[str, int] = {}
        try:
            codes = await self.supervisor.stop_all()
        finally:
            try:
                if self.forwarder is not None:
                    await self.forwarder.stop()
                    self.forwarder = None
            finally:
                if self._made_netns and self.options.netns is not None:
                    netns.delete(self.options.netns)
                    self._made_netns = False
        return codes
