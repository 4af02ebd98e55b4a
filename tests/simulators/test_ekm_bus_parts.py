"""The simulator's parts on their own: request parser, meter model, writes, faults, wire, CLI."""

import asyncio
import json
import os
import signal
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from custom_components.energy_local.ekm.frames import (
    CLOSE_FRAME,
    ReadBlock,
    lcd_frame,
    password_frame,
    read_request,
    relay_frame,
    write_frame,
)
from custom_components.energy_local.ekm.models import MeterVersion
from custom_components.energy_local.ekm.parse import parse_v3, parse_v4_a, parse_v4_b
from simulators.ekm_bus import FaultKind, FaultPlan, LineConfig, SimClock, SimMeter
from simulators.ekm_bus.__main__ import build_parser, build_simulator, resolve_config
from simulators.ekm_bus.commands import apply_write
from simulators.ekm_bus.config import load_config, meter_spec, parse_fault, parse_meter_list
from simulators.ekm_bus.requests import FrameKind, RequestParser
from simulators.ekm_bus.wire import Wire

V4 = "000300001285"
V3 = "000010006388"
REPO = Path(__file__).resolve().parents[2]


# --- request parser -----------------------------------------------------------------------


def test_parser_byte_by_byte_and_joined() -> None:
    parser = RequestParser()
    request = read_request(V4, ReadBlock.B)
    for byte in request[:-1]:
        assert parser.feed(bytes((byte,))) == []
    (frame,) = parser.feed(request[-1:])
    assert (frame.kind, frame.address, frame.block, frame.end) == (
        FrameKind.READ,
        V4,
        ReadBlock.B,
        1,
    )
    chunk = b"\x00" + read_request(V3) + password_frame("12345678") + CLOSE_FRAME
    frames = parser.feed(chunk)
    assert [f.kind for f in frames] == [FrameKind.READ, FrameKind.PASSWORD, FrameKind.CLOSE]
    assert [f.end for f in frames] == [18, 35, 40]
    assert frames[0].block is None
    assert frames[1].data == "12345678"
    assert frames[1].crc_ok
    assert parser.bytes_skipped == 1


def test_parser_skips_noise_and_flags_bad_crc() -> None:
    parser = RequestParser()
    write = write_frame("00D0", "0400")
    bad = write[:-1] + bytes((write[-1] ^ 1,))
    frames = parser.feed(b"/?12\x01W1\x02\x7f" + b"\x01B0\x03x" + bad + lcd_frame([1, 2]))
    assert [(f.kind, f.crc_ok) for f in frames] == [
        (FrameKind.WRITE, False),
        (FrameKind.WRITE, True),
    ]
    assert frames[0].register == "00D0"
    assert frames[0].data == "0400"
    assert frames[1].register == "00D2"
    assert parser.bytes_skipped == len(b"/?12\x01W1\x02\x7f\x01B0\x03x")
    # An SOH that never reaches an ETX is noise, not a frame that blocks the stream.
    assert parser.feed(b"\x01R1\x02" + b"0" * 200) == []
    (frame,) = parser.feed(CLOSE_FRAME)
    assert frame.kind is FrameKind.CLOSE


# --- meter model --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exporting", "code"),
    [
        ((False, False, False), 1),
        ((False, False, True), 2),
        ((False, True, False), 3),
        ((True, False, False), 4),
        ((False, True, True), 5),
        ((True, False, True), 6),
        ((True, True, False), 7),
        ((True, True, True), 8),
    ],
)
def test_state_watts_dir(exporting: tuple[bool, bool, bool], code: int) -> None:
    lines = [LineConfig(watts=100, exporting=flag) for flag in exporting]
    meter = SimMeter(V4, 4, SimClock(), lines=lines)
    values: dict[str, Any] = dict(parse_v4_a(meter.reply(ReadBlock.A), V4))
    assert values["State_Watts_Dir"] == code
    signs = [values[f"Net_Calc_Watts_Ln_{n}"] < 0 for n in (1, 2, 3)]
    assert tuple(signs) == exporting


def test_meter_replies_and_scales() -> None:
    clock = SimClock()
    v3 = SimMeter(V3, MeterVersion.V3, clock, initial_kwh=500.0)
    values = parse_v3(v3.reply(None), V3)
    assert values["Model"] == "1017"
    assert values["Firmware"] == "15"
    assert values["kWh_Tot"] == pytest.approx(500.0, abs=0.1)
    v4 = SimMeter(V4, 4, clock, kwh_scale=2, initial_kwh=500.0)
    frame_a = v4.reply(ReadBlock.A)
    assert parse_v4_a(frame_a, V4)["kWh_Tot"] == pytest.approx(500.0, abs=0.01)
    block_b: dict[str, Any] = dict(parse_v4_b(v4.reply(ReadBlock.B), V4, 2))
    tariffs = sum(block_b[f"kWh_Tariff_{n}"] for n in (1, 2, 3, 4))
    assert tariffs == pytest.approx(500.0, abs=0.05)
    with pytest.raises(ValueError, match="kWh_Scale"):
        SimMeter(V3, 3, clock, kwh_scale=2)
    with pytest.raises(ValueError, match="Cos_Theta"):
        LineConfig(power_factor="X095")
    with pytest.raises(ValueError, match="password"):
        SimMeter(V4, 4, clock, password="1234")


def test_registers_roll_over_and_clamp_instead_of_overflowing() -> None:
    clock = SimClock()
    lines = [
        LineConfig(watts=1_000_000, power_factor="L010"),
        LineConfig(watts=1_000_000),
        LineConfig(watts=0),
    ]
    meter = SimMeter(V4, 4, clock, kwh_scale=2, lines=lines, initial_kwh=999_990.0, jitter=0)
    clock.advance(36_000)  # 20 MWh more than 8 digits of hundredths can hold
    values = parse_v4_a(meter.reply(ReadBlock.A), V4)
    assert values["kWh_Tot"] < 1_000_000
    assert values["Amps_Ln_1"] == 9999.9
    assert values["Reactive_Pwr_Ln_1"] == 999_999
    with pytest.raises(ValueError, match="0-1e6 W"):
        LineConfig(watts=2_000_000)
    with pytest.raises(ValueError, match="one digit"):
        SimMeter(V4, 4, clock, kwh_scale=10)


def test_meter_clock_and_pulses() -> None:
    clock = SimClock(speed=10)
    meter = SimMeter(V4, 4, clock, clock_offset=timedelta(hours=-1), pulse_rates=(2.0, 0, 0))
    assert abs(meter.meter_time() - (datetime.now() - timedelta(hours=1))) < timedelta(seconds=2)
    counts = meter.pulse_counts[0]
    clock.advance(100)
    meter.update()
    assert meter.pulse_counts[0] == pytest.approx(counts + 200, rel=0.01)
    assert apply_write(meter, "00A0", "0010")
    clock.advance(100)
    meter.update()
    assert meter.pulse_counts[0] == pytest.approx(counts + 220, rel=0.01)
    with pytest.raises(ValueError, match="backward"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="positive"):
        SimClock(speed=0)


@pytest.mark.parametrize(
    ("register", "data", "accepted"),
    [
        ("0081", "10001", True),
        ("0082", "00000", True),
        ("0081", "20001", False),
        ("0081", "1001", False),
        ("0060", "24111801143015", True),
        ("0060", "24023001143015", False),
        ("00D3", "", True),
        ("00D3", "0", False),
        ("00D0", "0400", True),
        ("00D0", "04a0", False),
        ("00A2", "9999", True),
        ("00A1", "0000", False),
        ("00D4", "0800", True),
        ("0040", "000000", True),
        ("0050", "5", False),
        ("00D5", "3", True),
        ("0020", "1234567", False),
        ("0073", "0" * 48, True),
        ("0080", "0" * 47, False),
        ("00B0", "0" * 80, True),
        ("00D2", "01" + "0" * 78, True),
        ("00E0", "1", False),
    ],
)
def test_write_validation(register: str, data: str, accepted: bool) -> None:
    meter = SimMeter(V4, 4, SimClock())
    assert apply_write(meter, register, data) is accepted


# --- faults --------------------------------------------------------------------------------


def test_fault_plan_schedule_and_probabilities() -> None:
    plan = FaultPlan(seed=5)
    plan.schedule(FaultKind.TRUNCATED, count=2, address=300001285)
    plan.schedule(FaultKind.GARBAGE)
    assert plan.pending == 3
    assert plan.choose(V3) is FaultKind.GARBAGE  # the truncation waits for its meter
    assert plan.choose(V4, ack=True) is None  # ACKs are spared unless asked
    assert plan.choose(V4) is FaultKind.TRUNCATED
    assert plan.choose(V4) is FaultKind.TRUNCATED
    assert plan.choose(V4) is None
    assert plan.injected == {FaultKind.TRUNCATED: 2, FaultKind.GARBAGE: 1}

    def rolls(seed: int) -> list[FaultKind | None]:
        seeded = FaultPlan({FaultKind.NO_REPLY: 0.3, FaultKind.CORRUPT_CRC: 0.3}, seed=seed)
        return [seeded.choose(V4) for _ in range(200)]

    assert rolls(1) == rolls(1)
    assert rolls(1) != rolls(2)
    counts = {kind: rolls(1).count(kind) for kind in FaultKind}
    assert 30 < counts[FaultKind.CORRUPT_CRC] < 90
    assert 20 < counts[FaultKind.NO_REPLY] < 80
    assert all(0x00 <= byte < 0x80 for byte in plan.garbage())
    with pytest.raises(ValueError, match="probability"):
        plan.set_probability(FaultKind.GARBAGE, 1.5)
    plan.clear()
    assert plan.pending == 0


# --- wire ----------------------------------------------------------------------------------


class _Recorder:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.chunks: list[tuple[float, bytes]] = []
        self.dropped = False

    @property
    def is_open(self) -> bool:
        return not self.dropped

    def send(self, data: bytes) -> None:
        self.chunks.append((self.loop.time(), data))

    def drop(self) -> None:
        self.dropped = True


async def test_wire_paces_without_drift() -> None:
    loop = asyncio.get_running_loop()
    char = 0.001
    wire = Wire(loop, turnaround=0.005, char_time=char, chunk_chars=10)
    first = wire.host_bytes(10)
    second = wire.host_bytes(10)  # queued behind the first burst
    assert second == pytest.approx(first + 10 * char)
    request_end = wire.char_end(second, 10)
    sink = _Recorder(loop)
    wire.transmit(sink, bytes(range(60)), request_end)
    start = request_end + 0.005
    assert wire.free_at == pytest.approx(start + 60 * char)
    await asyncio.sleep(wire.free_at - loop.time() + 0.01)
    assert not wire.busy
    assert b"".join(data for _, data in sink.chunks) == bytes(range(60))
    assert len(sink.chunks) >= 2  # chunked, not byte by byte or all at once
    sent = 0
    for when, data in sink.chunks:
        sent += len(data)
        assert when >= start + sent * char - 1e-6  # never early
    assert sink.chunks[-1][0] - (start + 60 * char) < 0.01
    wire.drop(sink, wire.char_end(wire.host_bytes(5), 5))
    assert not sink.dropped
    await asyncio.sleep(wire.free_at + wire.turnaround - loop.time() + 0.01)
    assert not wire.busy
    assert sink.dropped


# --- configuration and program ---------------------------------------------------------------


def test_config_parsing(tmp_path: Path) -> None:
    assert [(m.address, m.version) for m in parse_meter_list("300001285:4, 10006388:3")] == [
        (V4, MeterVersion.V4),
        (V3, MeterVersion.V3),
    ]
    assert parse_fault("crc=0.05") == (FaultKind.CORRUPT_CRC, 0.05)
    for bad in ("crc", "bogus=0.1", "drop=2"):
        with pytest.raises(ValueError, match="fault"):
            parse_fault(bad)
    with pytest.raises(ValueError, match="VERSION"):
        parse_meter_list("300001285")
    with pytest.raises(ValueError, match="unknown meter keys"):
        meter_spec({"address": "1", "colour": "red"})
    path = tmp_path / "bus.json"
    path.write_text(
        json.dumps(
            {
                "meters": [
                    {
                        "address": "300001285",
                        "version": 4,
                        "kwh_scale": 2,
                        "clock_offset_s": 90,
                        "pulse_rates": [1, 0, 0],
                        "lines": [{"watts": 10}, {"watts": 20, "exporting": True}, {}],
                    }
                ],
                "pacing": False,
                "turnaround_ms": 5,
                "speed": 60,
                "seed": 9,
                "faults": {"garbage": 0.5},
            }
        ),
        encoding="utf-8",
    )
    args = build_parser().parse_args(
        ["--config", str(path), "--meters", "10006388:3", "--speed", "2", "--fault", "drop=0.1"]
    )
    config = resolve_config(args)
    assert (config.pacing, config.turnaround_ms, config.speed, config.seed) == (False, 5, 2, 9)
    assert config.faults == {FaultKind.GARBAGE: 0.5, FaultKind.DROP_CONNECTION: 0.1}
    sim = build_simulator(config)
    meter = sim.meters[V4]
    assert meter.kwh_scale == 2
    assert meter.clock_offset == timedelta(seconds=90)
    assert meter.state_watts_dir == 3
    assert sim.meters[V3].version is MeterVersion.V3
    assert sim.meters["10006388"] is sim.meters[V3]
    with pytest.raises(KeyError):
        sim.meters["123"]
    with pytest.raises(KeyError):
        sim.meters["not an address"]
    with pytest.raises(ValueError, match="already"):
        sim.add_meter("10006388", 3)
    assert sim.turnaround == 0.005
    assert not sim.paced
    assert load_config(path).meters[0].options["lines"][0].watts == 10
    with pytest.raises(ValueError, match="no meters"):
        resolve_config(build_parser().parse_args([]))


async def test_program_serves_until_sigterm(socket_enabled: None) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulators.ekm_bus",
        "--meters",
        "300001285:4",
        "--no-pacing",
        "--pty",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        tcp = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().split()
        pty = (await asyncio.wait_for(process.stdout.readline(), 5)).decode().split()
        assert tcp[0] == "tcp"
        assert tcp[1].startswith("socket://127.0.0.1:")
        assert pty[0] == "pty"
        assert pty[1].startswith("/dev/")
        reader, writer = await asyncio.open_connection("127.0.0.1", int(tcp[1].rsplit(":")[-1]))
        writer.write(read_request(V4, ReadBlock.A) + relay_frame(1, 1))
        frame = await asyncio.wait_for(reader.readexactly(255), 5)
        assert parse_v4_a(frame, V4)["Meter_Address"] == V4
        writer.close()
        await writer.wait_closed()
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
        summary = (await process.stdout.read()).decode()
        assert "stopped: 2 frames" in summary
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
