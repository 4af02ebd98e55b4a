"""Simulated Powersensor plugs on the loopback interface.

Each plug serves UDP (up to five subscribers, each with a lease: warning before it ends,
expiry notice when it does) and TCP (one connection at a time) on its own port, and answers
legacy ``discover()`` probes. Every plug sends its own reading about once a second; the
relaying plug (plug 0, or every plug with ``--relay-all``) also sends a house-net sensor, a
solar sensor and optionally a water sensor every 30 s (``--sensor-interval`` to go faster:
start times still advance by 30 s, so a fast run covers hours of readings). Summations are
consistent with the powers (``summation_k = summation_(k-1) + power_k * duration``), and the
message shapes are those of the captured vectors.

Faults on request: summation resets, plug reboots (counter reset, ports closed, silence;
optionally overlapping the sensors' resets), malformed lines, duplicate and out-of-order
datagrams (every N, or with a probability), corrupt reports (far-future and zero start
times, absurd and non-finite numbers: ``simulators.powersensor_faults``), and new summation
starts that keep a large counter. ``--zeroconf`` advertises the plugs,
and refuses to run unless the only network interface is loopback (run it in a network
namespace of its own).

Run: ``python -m simulators.powersensor_plug --plugs 2 --port 49476``. One line per plug is
printed when it listens: ``plug <mac> udp=127.0.0.1:<port> tcp=127.0.0.1:<port>``.
"""

import argparse
import asyncio
import contextlib
import errno
import ipaddress
import json
import math
import random
import re
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from .powersensor_faults import CORRUPTIONS, maybe_corrupt

DEFAULT_PORT: Final = 49476
MAX_UDP_SUBSCRIBERS: Final = 5
PLUG_MAC_BASE: Final = 0x246F280487A4
HOUSE_NET_MAC: Final = "bcddc247d1f5"
SOLAR_MAC: Final = "bcddc247d289"
WATER_MAC: Final = "bcddc247d338"
RESET_BASE_JOULES: Final = 4096
"""A reset counter restarts here, not at 0 (powersensor-local's documentation)."""

_SUBSCRIBE = re.compile(rb"^subscribe\((\d+)\)\n?$")
_DISCOVER = b"discover()"

MALFORMED_LINES: Final = (
    b"this is not json\n",
    b'{"device": "plug"}\n',  # JSON, but no type
    b"\xff\xfe not utf-8\n",
    b"[1, 2, 3]\n",  # JSON, not an object
    b'{"type": "mystery", "device": "plug", "mac": "000000000000"}\n',  # unknown type
)


FAST_CLOCK_LEAD_S: Final = 30 * 86_400.0
"""Fast runs start their readings 30 days back: hours of readings per minute stay in the past."""

_PORT_ATTEMPTS: Final = 5
"""Tries at a port free for both UDP and TCP when any port will do."""


@dataclass(slots=True)
class SimOptions:
    """What the simulated plugs do."""

    plug_interval_s: float = 1.0
    sensor_interval_s: float = 30.0
    sensor_duration_s: int = 30
    warn_before_s: float = 10.0
    """Seconds before a lease ends that the warning is sent; 0 sends none."""
    solar: bool = True
    water: bool = False
    relay_all: bool = False
    bundle: bool = False
    """Send the sensors' readings of one tick in one datagram (one line each)."""
    reset_every: int = 0
    """Reset the sensors' summations every N sensor reports (0: never)."""
    malformed_every: int = 0
    duplicate_every: int = 0
    out_of_order_every: int = 0
    reboot_every_s: float = 0.0
    reboot_silence_s: float = 5.0
    duplicate_probability: float = 0.0
    """Each datagram is sent twice with this probability."""
    reorder_probability: float = 0.0
    """Each datagram is held back and sent after the next one with this probability."""
    corrupt_probability: float = 0.0
    """Each report (plug's or sensor's) is replaced by a corrupt one with this probability."""
    corruptions: tuple[str, ...] = CORRUPTIONS
    """Kinds of corrupt report to choose from (see ``simulators.powersensor_faults``)."""
    restart_large_every: int = 0
    """Every N sensor reports a sensor takes a new summation start but keeps its (large)
    counter: a reset time that is not a reset."""
    reboot_resets_sensors: bool = False
    """A plug reboot also resets the sensors' counters while the plug is silent."""
    start_in_past_s: float | None = None
    """How far before now the readings' start times begin. Faster rates than the real ones
    advance them faster than the wall clock; ``None`` starts them 30 days back then (and at
    now for real rates), so they never run into the future, which clients reject."""
    seed: int = 1

    def clock_lead(self) -> float:
        """Seconds before now that the readings' start times begin (see ``start_in_past_s``)."""
        if self.start_in_past_s is not None:
            return self.start_in_past_s
        real_rates = (
            self.plug_interval_s >= 1.0 and self.sensor_interval_s >= self.sensor_duration_s
        )
        return 0.0 if real_rates else FAST_CLOCK_LEAD_S


# -- readings ---------------------------------------------------------------------------


@dataclass(slots=True)
class SimulatedSensor:
    """A battery sensor at the switchboard (or on the water meter), relayed by a plug."""

    mac: str
    role: str
    summation: int
    summation_start: int
    battery_microvolt: int = 3_950_000
    volume_litres: float = 0.0
    reports: int = 0

    def reading(
        self, starttime: int, duration: int, power: int, rng: random.Random
    ) -> dict[str, Any]:
        """Return the next raw message, advancing the counter by this window's energy."""
        self.reports += 1
        self.summation += power * duration
        rssi = -85.0 - rng.random() * 8
        message: dict[str, Any] = {
            "starttime": starttime,
            "raw_rssi": round(rssi - rng.random() * 3),
            "device": "sensor",
            "rssi": rssi,
            "type": "instant_power",
            "summation_start": self.summation_start,
            "batteryMicrovolt": self.battery_microvolt,
            "mac": self.mac,
            "duration": duration,
            "role": self.role,
            "power": power,
            "unit": "w",
            "summation": self.summation,
        }
        if self.role == "water":
            flow = power / 10  # L/min, the firmware's scaled value
            self.volume_litres = round(self.volume_litres + flow * duration / 60, 3)
            message.update(
                unit="L",
                average_flow=flow,
                summation_volume=self.volume_litres,
                summation=round(self.volume_litres * 10),
            )
        return message

    def reset(self, starttime: int) -> None:
        """Restart the counter (as after a firmware update or battery change)."""
        self.summation = RESET_BASE_JOULES
        self.summation_start = starttime - 1
        self.volume_litres = 0.0


@dataclass(slots=True)
class HouseModel:
    """Deterministic loads and solar generation for a simulated household."""

    rng: random.Random
    load_w: float = 600.0

    def powers(self, starttime: float) -> tuple[int, int, int]:
        """Return (house-net, solar, water flow*10) for the window starting at ``starttime``."""
        hour = (starttime / 3600) % 24
        generation = max(0.0, 4200 * math.sin(math.pi * (hour - 6) / 12))
        self.load_w = min(6000.0, max(150.0, self.load_w + self.rng.gauss(0, 120)))
        solar = -round(generation) if generation > 0 else self.rng.choice((0, 2, 3))
        house_net = round(self.load_w) + solar  # net: load minus generation
        water = self.rng.choice((0, 0, 0, 45, 92))
        return house_net, solar, water


@dataclass(slots=True)
class PlugMeter:
    """The plug's own metering: an appliance load, about one report per second."""

    rng: random.Random
    starttime: float
    summation: float = 5_103_988.143331
    summation_start: float = 1_770_501_947.113085
    load_w: float = 40.0
    count: int = 0

    def reading(self, mac: str) -> dict[str, Any]:
        """Return the next raw plug message and advance the plug's clock and counter."""
        self.count += 1
        duration = 1.039551 if self.count % 2 else 0.960214
        self.load_w = min(2400.0, max(0.5, self.load_w + self.rng.gauss(0, 15)))
        voltage = 232.0 + self.rng.gauss(0, 1.5)
        active = self.load_w / voltage
        reactive = self.rng.gauss(0, 0.05)
        self.summation += self.load_w * duration
        message = {
            "reactive_current": round(reactive, 6),
            "type": "instant_power",
            "summation_start": self.summation_start,
            "count": 13 if duration > 1 else 12,
            "duration": duration,
            "role": "appliance",
            "power": round(self.load_w, 6),
            "unit": "W",
            "device": "plug",
            "source": "BLE",
            "active_current": round(active, 6),
            "mac": mac,
            "voltage": round(voltage, 6),
            "starttime": round(self.starttime, 6),
            "current": round(math.hypot(active, reactive), 6),
            "borrowed_summation": round(self.rng.random() * 0.2, 6),
            "summation": round(self.summation, 6),
        }
        self.starttime += duration
        return message

    def reset(self) -> None:
        """Restart the counter, as a reboot does."""
        self.summation = 0.0
        self.summation_start = self.starttime


def encode(message: dict[str, Any]) -> bytes:
    """Serialise a message as one LF-terminated line (the vectors' spacing)."""
    return json.dumps(message).encode() + b"\n"


# -- one plug ---------------------------------------------------------------------------


@dataclass(slots=True)
class Subscription:
    """One subscriber: a UDP address, or the TCP connection."""

    expires_at: float
    warned: bool = False


class SimulatedPlug:
    """One plug's push service on ``host:port`` (UDP and TCP), sending what it is given."""

    def __init__(
        self,
        mac: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        options: SimOptions | None = None,
        meter: PlugMeter | None = None,
        on_command: Callable[[str, Any, bytes], None] | None = None,
    ) -> None:
        """Prepare the plug; ``port`` 0 picks a free one (UDP first, TCP on the same number)."""
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the simulator only serves loopback addresses, not {host}")
        self.mac = mac
        self.host = host
        self.port = port
        self.options = options or SimOptions()
        self.meter = meter or PlugMeter(random.Random(self.options.seed), time.time())
        self.on_command = on_command
        self.udp_subscribers: dict[Any, Subscription] = {}
        self.tcp_subscription: Subscription | None = None
        self.commands: list[tuple[str, Any, bytes]] = []
        """Every command received: (transport, peer, bytes)."""
        self.rejected_subscribers = 0
        self.rejected_tcp = 0
        self.sent_lines = 0
        self.muted = False
        """While muted the plug neither sends nor hears anything (a network outage)."""
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp_server: asyncio.Server | None = None
        self._tcp_writer: asyncio.StreamWriter | None = None
        self._tcp_tasks: set[asyncio.Task[None]] = set()
        self._held: bytes | None = None
        self._fault_rng = random.Random(self.options.seed + 100)
        self._datagrams = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Open the UDP and TCP ports."""
        self._loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        wanted = self.port
        # A free UDP port (port 0) may be taken for TCP by another socket: then try another.
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            transport, _ = await self._loop.create_datagram_endpoint(
                lambda: _UdpServer(self), local_addr=(self.host, wanted), family=family
            )
            self._udp = transport
            self.port = transport.get_extra_info("sockname")[1]
            try:
                self._tcp_server = await asyncio.start_server(
                    self._serve_tcp, self.host, self.port, reuse_address=True
                )
            except OSError as err:
                transport.close()
                self._udp = None
                if wanted != 0 or err.errno != errno.EADDRINUSE or attempt == _PORT_ATTEMPTS:
                    raise
            else:
                return

    async def stop(self) -> None:
        """Close both ports and every connection."""
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp_writer is not None:
            self._tcp_writer.close()
            self._tcp_writer = None
        if self._tcp_server is not None:
            self._tcp_server.close()
            await self._tcp_server.wait_closed()
            self._tcp_server = None
        for task in list(self._tcp_tasks):
            task.cancel()
        await asyncio.gather(*self._tcp_tasks, return_exceptions=True)
        self.udp_subscribers.clear()
        self.tcp_subscription = None

    async def reboot(self, silence_s: float) -> None:
        """Reboot: ports closed (senders get ICMP unreachable), subscriptions and counter lost."""
        await self.stop()
        self.meter.reset()
        await asyncio.sleep(silence_s)
        await self.start()

    @property
    def subscriber_count(self) -> int:
        """Active subscriptions, UDP and TCP."""
        return len(self.udp_subscribers) + (self.tcp_subscription is not None)

    # -- commands -----------------------------------------------------------------------

    def handle_command(self, transport: str, peer: Any, data: bytes) -> None:
        """Act on ``subscribe(N)`` (0 ends it) and ``discover()`` from ``peer``."""
        if self.muted:
            return
        self.commands.append((transport, peer, data))
        if self.on_command is not None:
            self.on_command(transport, peer, data)
        for line in data.splitlines():
            if line.strip() == _DISCOVER and transport == "udp":
                reply = {"type": "discovery", "ip": self.host, "mac": self.mac}
                self._send_udp(encode(reply), peer)
                continue
            match = _SUBSCRIBE.match(line.strip())
            if match is not None:
                self._subscribe(transport, peer, int(match.group(1)))

    def _subscribe(self, transport: str, peer: Any, lease_s: int) -> None:
        now = self._now()
        if transport == "tcp":
            self.tcp_subscription = Subscription(now + lease_s) if lease_s else None
            return
        if lease_s == 0:
            self.udp_subscribers.pop(peer, None)
        elif peer in self.udp_subscribers:
            self.udp_subscribers[peer] = Subscription(now + lease_s)
        elif len(self.udp_subscribers) >= MAX_UDP_SUBSCRIBERS:
            self.rejected_subscribers += 1  # the sixth gets nothing
        else:
            self.udp_subscribers[peer] = Subscription(now + lease_s)

    def check_leases(self) -> None:
        """Send warnings before leases end and expiry notices when they do."""
        now = self._now()
        warn_before = self.options.warn_before_s
        for peer, sub in list(self.udp_subscribers.items()):
            if now >= sub.expires_at:
                del self.udp_subscribers[peer]
                self._send_udp(encode({"type": "subscription", "subtype": "expiry"}), peer)
            elif warn_before > 0 and not sub.warned and now >= sub.expires_at - warn_before:
                sub.warned = True
                self._send_udp(encode({"type": "subscription", "subtype": "warning"}), peer)
        tcp = self.tcp_subscription
        if tcp is not None and self._tcp_writer is not None:
            if now >= tcp.expires_at:
                self.tcp_subscription = None
                self._tcp_writer.write(encode({"type": "subscription", "subtype": "expiry"}))
            elif warn_before > 0 and not tcp.warned and now >= tcp.expires_at - warn_before:
                tcp.warned = True
                self._tcp_writer.write(encode({"type": "subscription", "subtype": "warning"}))

    # -- sending ------------------------------------------------------------------------

    def publish(self, lines: Sequence[bytes]) -> None:
        """Send readings to every subscriber, applying the configured faults."""
        if self.options.bundle:
            self._publish_datagram(b"".join(lines))
        else:
            for line in lines:
                self._publish_datagram(line)

    def _publish_datagram(self, datagram: bytes) -> None:
        options = self.options
        self._datagrams += 1
        count = self._datagrams
        if options.malformed_every and count % options.malformed_every == 0:
            self.send_malformed(count // options.malformed_every)
        rng = self._fault_rng
        reorder = (options.out_of_order_every and count % options.out_of_order_every == 0) or (
            options.reorder_probability and rng.random() < options.reorder_probability
        )
        if reorder and self._held is None:  # one held at a time: none is ever lost
            self._held = datagram  # goes out after the next one
            return
        self.send_datagram(datagram)
        if (options.duplicate_every and count % options.duplicate_every == 0) or (
            options.duplicate_probability and rng.random() < options.duplicate_probability
        ):
            self.send_datagram(datagram)
        if self._held is not None:
            held, self._held = self._held, None
            self.send_datagram(held)

    def send_malformed(self, index: int) -> None:
        """Send one bad line (cycling through the kinds), or a line split over two datagrams."""
        kinds = len(MALFORMED_LINES) + 1
        kind = index % kinds
        if kind < len(MALFORMED_LINES):
            self.send_datagram(MALFORMED_LINES[kind])
            return
        line = encode(self.meter.reading(self.mac))
        half = len(line) // 2
        self.send_datagram(line[:half])
        self.send_datagram(line[half:])

    def send_datagram(self, datagram: bytes) -> None:
        """Send bytes as they are to every subscriber (one datagram each over UDP)."""
        if self.muted:
            return
        self.sent_lines += datagram.count(b"\n")
        for peer in list(self.udp_subscribers):
            self._send_udp(datagram, peer)
        if self.tcp_subscription is not None and self._tcp_writer is not None:
            self._tcp_writer.write(datagram)

    def _send_udp(self, datagram: bytes, peer: Any) -> None:
        if self._udp is not None and not self.muted:
            self._udp.sendto(datagram, peer)

    def _now(self) -> float:
        return self._loop.time() if self._loop is not None else time.monotonic()

    # -- TCP ----------------------------------------------------------------------------

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._tcp_writer is not None:
            self.rejected_tcp += 1  # the plug accepts one TCP connection
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._tcp_tasks.add(task)
        self._tcp_writer = writer
        peer = writer.get_extra_info("peername")
        try:
            while line := await reader.readline():
                self.handle_command("tcp", peer, line)
        except ConnectionError, asyncio.CancelledError:
            pass
        finally:
            if self._tcp_writer is writer:
                self._tcp_writer = None
                self.tcp_subscription = None
            writer.close()
            if task is not None:
                self._tcp_tasks.discard(task)


class _UdpServer(asyncio.DatagramProtocol):
    def __init__(self, plug: SimulatedPlug) -> None:
        self.plug = plug

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.plug.handle_command("udp", addr, data)

    def error_received(self, exc: Exception) -> None:
        pass  # a subscriber went away; its lease will run out


# -- a household of plugs and sensors ---------------------------------------------------


@dataclass
class Simulation:
    """Plugs plus the sensors they relay, with the timers that make them report."""

    options: SimOptions = field(default_factory=SimOptions)
    plug_count: int = 1
    base_port: int = 0
    host: str = "127.0.0.1"
    plugs: list[SimulatedPlug] = field(default_factory=list)
    sensors: list[SimulatedSensor] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Create the plugs and sensors (nothing listens yet)."""
        rng = random.Random(self.options.seed)
        self.rng = rng
        self.fault_rng = random.Random(self.options.seed + 2)
        self.model = HouseModel(random.Random(self.options.seed + 1))
        duration = self.options.sensor_duration_s
        epoch = time.time() - self.options.clock_lead()
        self.sensor_time = int(epoch) // duration * duration
        self.sensors = [SimulatedSensor(HOUSE_NET_MAC, "house-net", -281_230_401, 1_769_972_064)]
        if self.options.solar:
            self.sensors.append(SimulatedSensor(SOLAR_MAC, "solar", -906_357_844, 1_770_530_454))
        if self.options.water:
            self.sensors.append(SimulatedSensor(WATER_MAC, "water", 1321, 1_769_972_151, 3_612_871))
        for index in range(self.plug_count):
            port = self.base_port + index if self.base_port else 0
            meter = PlugMeter(random.Random(self.options.seed + 10 + index), epoch)
            mac = f"{PLUG_MAC_BASE + index:012x}"
            self.plugs.append(
                SimulatedPlug(mac, host=self.host, port=port, options=self.options, meter=meter)
            )

    async def start(self) -> None:
        """Open every plug's ports and start reporting."""
        for plug in self.plugs:
            await plug.start()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._every(self.options.plug_interval_s, self.plug_tick)),
            loop.create_task(self._every(self.options.sensor_interval_s, self.sensor_tick)),
            loop.create_task(self._every(0.05, self._check_leases)),
        ]
        if self.options.reboot_every_s > 0:
            self._tasks.append(loop.create_task(self._reboots()))

    async def stop(self) -> None:
        """Stop reporting and close every port."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for plug in self.plugs:
            await plug.stop()

    def plug_tick(self) -> None:
        """Every plug reports its own reading."""
        options = self.options
        for plug in self.plugs:
            if plug.subscriber_count:
                reading = plug.meter.reading(plug.mac)
                reading = maybe_corrupt(
                    reading, options.corrupt_probability, options.corruptions, self.fault_rng
                )
                plug.publish([encode(reading)])

    def sensor_tick(self) -> None:
        """The sensors report once; the relaying plug(s) pass the readings on."""
        duration = self.options.sensor_duration_s
        self.sensor_time += duration
        start = self.sensor_time
        house_net, solar, water = self.model.powers(start)
        powers = {"house-net": house_net, "solar": solar, "water": water}
        options = self.options
        every = options.reset_every
        restart_every = options.restart_large_every
        lines = []
        for sensor in self.sensors:
            if every and sensor.reports and sensor.reports % every == 0:
                sensor.reset(start)
            if restart_every and sensor.reports and sensor.reports % restart_every == 0:
                sensor.summation_start = start - 1  # the counter carries on
            reading = sensor.reading(start, duration, powers[sensor.role], self.rng)
            reading = maybe_corrupt(
                reading, options.corrupt_probability, options.corruptions, self.fault_rng
            )
            lines.append(encode(reading))
        relays = self.plugs if self.options.relay_all else self.plugs[:1]
        for plug in relays:
            plug.publish(lines)

    def _check_leases(self) -> None:
        for plug in self.plugs:
            plug.check_leases()

    @staticmethod
    async def _every(interval_s: float, tick: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += interval_s
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            tick()

    async def _reboots(self) -> None:
        while True:
            await asyncio.sleep(self.options.reboot_every_s)
            await self.reboot_plugs(self.options.reboot_silence_s)

    async def reboot_plugs(self, silence_s: float) -> None:
        """Reboot every plug; with ``reboot_resets_sensors`` the sensors reset meanwhile."""
        if self.options.reboot_resets_sensors:
            for sensor in self.sensors:
                sensor.reset(self.sensor_time + self.options.sensor_duration_s)
        await asyncio.gather(*(plug.reboot(silence_s) for plug in self.plugs))


# -- zeroconf -------------------------------------------------------------------------


def only_loopback_interfaces() -> bool:
    """True when the only network interface is ``lo`` (a namespace of our own)."""
    return [name for _index, name in socket.if_nameindex()] == ["lo"]


def refuse_unless_loopback_only() -> None:
    """Exit unless multicast can only reach this namespace's loopback."""
    if not only_loopback_interfaces():
        raise SystemExit("--zeroconf only runs where lo is the only interface (ip netns)")


async def advertise(plugs: Sequence[SimulatedPlug]) -> Any:
    """Register every plug over zeroconf (UDP and TCP); return the AsyncZeroconf to close."""
    from zeroconf import ServiceInfo  # noqa: PLC0415 - only this option needs zeroconf
    from zeroconf.asyncio import AsyncZeroconf  # noqa: PLC0415

    refuse_unless_loopback_only()
    aiozc = AsyncZeroconf(interfaces=["127.0.0.1"])
    infos = []
    for plug in plugs:
        for kind in ("udp", "tcp"):
            service_type = f"_powersensor._{kind}.local."
            instance = f"Powersensor-gateway-{plug.mac}-civet"
            infos.append(
                ServiceInfo(
                    service_type,
                    f"{instance}.{service_type}",
                    port=plug.port,
                    properties={"id": plug.mac, "version": "1"},
                    server=f"{instance}.local.",
                    parsed_addresses=[plug.host],
                )
            )
    # Probe and announce all services at once rather than one after another.
    announcements = await asyncio.gather(*(aiozc.async_register_service(i) for i in infos))
    await asyncio.gather(*announcements)
    return aiozc


# -- command line ---------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Return the simulator's argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m simulators.powersensor_plug", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--plugs", type=int, default=1, help="number of plugs (%(default)s)")
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address (%(default)s)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="first plug's port, then +1 (0: any)"
    )
    parser.add_argument("--plug-interval", type=float, default=1.0, help="seconds")
    parser.add_argument("--sensor-interval", type=float, default=30.0, help="seconds")
    parser.add_argument("--warn-before", type=float, default=10.0, help="0: never warn")
    parser.add_argument("--no-solar", action="store_true", help="no solar sensor")
    parser.add_argument("--water", action="store_true", help="add a water sensor")
    parser.add_argument("--relay-all", action="store_true", help="every plug relays sensors")
    parser.add_argument("--bundle", action="store_true", help="sensors of a tick share a datagram")
    parser.add_argument("--reset-every", type=int, default=0, help="sensor reports per reset")
    parser.add_argument("--reboot-every", type=float, default=0.0, help="seconds between reboots")
    parser.add_argument("--reboot-silence", type=float, default=5.0, help="seconds off per reboot")
    parser.add_argument("--malformed-every", type=int, default=0, help="datagrams per bad line")
    parser.add_argument("--duplicate-every", type=int, default=0, help="datagrams per duplicate")
    parser.add_argument("--out-of-order-every", type=int, default=0, help="datagrams per swap")
    parser.add_argument("--duplicate-probability", type=float, default=0.0, help="0..1")
    parser.add_argument("--reorder-probability", type=float, default=0.0, help="0..1")
    parser.add_argument("--corrupt-probability", type=float, default=0.0, help="0..1 per report")
    parser.add_argument(
        "--corruptions",
        default=",".join(CORRUPTIONS),
        help="comma-separated kinds (%(default)s)",
    )
    parser.add_argument(
        "--restart-large-every", type=int, default=0, help="sensor reports per new start"
    )
    parser.add_argument(
        "--reboot-resets-sensors", action="store_true", help="sensors reset during a reboot"
    )
    parser.add_argument("--zeroconf", action="store_true", help="advertise (loopback-only netns)")
    parser.add_argument("--log-commands", action="store_true", help="print commands received")
    parser.add_argument("--seed", type=int, default=1)
    return parser


def options_from_args(args: argparse.Namespace) -> SimOptions:
    """Map parsed arguments to :class:`SimOptions`."""
    return SimOptions(
        plug_interval_s=args.plug_interval,
        sensor_interval_s=args.sensor_interval,
        warn_before_s=args.warn_before,
        solar=not args.no_solar,
        water=args.water,
        relay_all=args.relay_all,
        bundle=args.bundle,
        reset_every=args.reset_every,
        malformed_every=args.malformed_every,
        duplicate_every=args.duplicate_every,
        out_of_order_every=args.out_of_order_every,
        reboot_every_s=args.reboot_every,
        reboot_silence_s=args.reboot_silence,
        duplicate_probability=args.duplicate_probability,
        reorder_probability=args.reorder_probability,
        corrupt_probability=args.corrupt_probability,
        corruptions=tuple(kind for kind in args.corruptions.split(",") if kind),
        restart_large_every=args.restart_large_every,
        reboot_resets_sensors=args.reboot_resets_sensors,
        seed=args.seed,
    )


async def run(args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM."""
    if args.zeroconf:
        refuse_unless_loopback_only()  # before anything is opened
    simulation = Simulation(options_from_args(args), args.plugs, args.port, args.host)

    def log_command(mac: str) -> Callable[[str, Any, bytes], None]:
        def log(transport: str, peer: Any, data: bytes) -> None:
            text = data.decode("ascii", "replace").strip()
            print(f"command {mac} {transport} {peer[0]}:{peer[1]} {text}", flush=True)

        return log

    if args.log_commands:
        for plug in simulation.plugs:
            plug.on_command = log_command(plug.mac)
    await simulation.start()
    aiozc = await advertise(simulation.plugs) if args.zeroconf else None
    for plug in simulation.plugs:
        print(
            f"plug {plug.mac} udp={plug.host}:{plug.port} tcp={plug.host}:{plug.port}", flush=True
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    if aiozc is not None:
        await aiozc.async_unregister_all_services()
        await aiozc.async_close()
    await simulation.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
