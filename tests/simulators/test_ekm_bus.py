"""The EKM bus simulator driven with raw protocol bytes over TCP (127.0.0.1) and a pty."""

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import serialx

from custom_components.energy_local.ekm import EkmBus, MeterVersion
from custom_components.energy_local.ekm.crc import ekm_crc
from custom_components.energy_local.ekm.errors import EkmAddressMismatchError, EkmCrcError
from custom_components.energy_local.ekm.frames import (
    ACK,
    CLOSE_FRAME,
    ETX,
    NAK,
    ReadBlock,
    ct_ratio_frame,
    meter_password_frame,
    password_frame,
    pulse_input_ratio_frame,
    pulse_output_ratio_frame,
    read_request,
    relay_frame,
    set_time_frame,
    settings_read_frame,
    write_frame,
    zero_resettable_frame,
)
from custom_components.energy_local.ekm.parse import check_frame, parse_v3, parse_v4_a, parse_v4_b
from simulators.ekm_bus import (
    CHAR_TIME,
    Direction,
    EkmBusSimulator,
    FaultKind,
    FaultPlan,
    LineConfig,
)
from tests.conftest import FIXTURES, load_fixture

V4 = "000300001285"
V3 = "000010006388"
SILENCE = 0.08  # long enough for an unpaced reply to have arrived
REPLY_TIMEOUT = 2.0


class Client:
    """A host on the bus: raw bytes out, raw bytes back."""

    def __init__(self, reader: asyncio.StreamReader, writer: Any) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def receive(self, count: int) -> bytes:
        return await asyncio.wait_for(self.reader.readexactly(count), REPLY_TIMEOUT)

    async def ask(self, data: bytes, count: int) -> bytes:
        await self.send(data)
        return await self.receive(count)

    async def assert_silent(self, wait: float = SILENCE) -> None:
        try:
            extra = await asyncio.wait_for(self.reader.read(1024), wait)
        except TimeoutError:
            return
        pytest.fail(f"expected silence, got {extra.hex()}")

    async def read_a(self, address: str = V4) -> dict[str, Any]:
        return dict(parse_v4_a(await self.ask(read_request(address, ReadBlock.A), 255), address))

    async def read_b(self, address: str = V4) -> dict[str, Any]:
        frame = await self.ask(read_request(address, ReadBlock.B), 255)
        return dict(parse_v4_b(frame, address, 1))

    async def command(self, write: bytes, password: str = "00000000") -> int:
        """Read A (opens the session), P1 (must be ACKed), W1; return the W1 answer."""
        await self.read_a()
        assert await self.ask(password_frame(password), 1) == bytes((ACK,))
        return (await self.ask(write, 1))[0]

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


@pytest.fixture
async def sim() -> AsyncIterator[EkmBusSimulator]:
    async with EkmBusSimulator([(V4, 4), (V3, 3)], paced=False, seed=7) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: EkmBusSimulator, socket_enabled: None) -> AsyncIterator[Client]:
    port = await sim.start_tcp()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    host = Client(reader, writer)
    yield host
    await host.close()


# --- reads --------------------------------------------------------------------------------


async def test_v3_read(client: Client) -> None:
    frame = await client.ask(read_request(V3), 255)
    values = parse_v3(frame, V3)
    assert values["Meter_Address"] == V3
    assert values["Model"] == "1017"
    assert values["kWh_Tot"] > 0
    # A v3 meter does not understand v4 requests.
    await client.send(read_request(V3, ReadBlock.A))
    await client.assert_silent()


async def test_v4_reads(client: Client) -> None:
    block_a = await client.read_a()
    assert block_a["Meter_Address"] == V4
    assert block_a["Model"] == "1024"
    assert block_a["kWh_Scale"] == 1
    assert 110 < block_a["RMS_Volts_Ln_1"] < 130
    assert 59.9 < block_a["Line_Freq"] < 60.1
    assert block_a["State_Watts_Dir"] == 1
    assert block_a["State_Out"] == 1
    block_b = await client.read_b()
    assert block_b["CT_Ratio"] == 200
    assert block_b["Pulse_Ratio_1"] == 1
    # A v3-style read makes a v4 meter answer with block A (so v4-then-v3 probing works).
    frame = await client.ask(read_request(V4), 255)
    check_frame(frame, V4, ReadBlock.A)


async def test_amps_follow_watts_and_power_factor(client: Client) -> None:
    values = await client.read_a()
    for line in (1, 2, 3):
        watts = values[f"RMS_Watts_Ln_{line}"]
        cos = values[f"Cos_Theta_Ln_{line}"]
        expected = watts / (values[f"RMS_Volts_Ln_{line}"] * int(cos[1:]) / 100)
        assert values[f"Amps_Ln_{line}"] == pytest.approx(expected, abs=0.2)
    assert values["RMS_Watts_Tot"] == sum(values[f"RMS_Watts_Ln_{n}"] for n in (1, 2, 3))
    assert values["Reactive_Pwr_Ln_1"] > 0  # lagging line
    assert values["Reactive_Pwr_Ln_3"] == 0  # unity power factor


async def test_unknown_address_is_silent(client: Client) -> None:
    await client.send(read_request("999999999999", ReadBlock.A))
    await client.assert_silent()


async def test_split_joined_and_noisy_bytes(sim: EkmBusSimulator, client: Client) -> None:
    request = read_request(V4, ReadBlock.A)
    for byte in b"\x00\xff/?x" + request[:7]:
        await client.send(bytes((byte,)))
    await client.send(request[7:] + b"garbage" + read_request(V3))
    check_frame(await client.receive(255), V4, ReadBlock.A)
    check_frame(await client.receive(255), V3, None)
    assert [entry.direction for entry in sim.transcript] == [Direction.HOST, Direction.METER] * 2
    assert sim.transcript[0].data == request


async def test_two_clients_share_the_bus(sim: EkmBusSimulator, client: Client) -> None:
    port = int(sim.endpoints[0].rsplit(":", 1)[1])
    other = Client(*await asyncio.open_connection("127.0.0.1", port))
    try:
        assert (await other.read_a())["Meter_Address"] == V4
        assert await other.ask(password_frame(), 1) == bytes((ACK,))
        # The session belongs to the meter, so another client's write is accepted too.
        assert await client.ask(relay_frame(1, 1), 1) == bytes((ACK,))
        await other.assert_silent()
        assert sim.meters[V4].relays() == (True, False)
    finally:
        await other.close()


# --- ekmmeters transcripts ------------------------------------------------------------------

HEAD_DIR = FIXTURES / "ekm" / "ekmmeters-git3933c34"
SCENARIOS = sorted(
    path.stem
    for path in HEAD_DIR.glob("*.json")
    if path.stem.startswith(("cmd_", "read_", "end_session"))
)


def _password_in(transcript: list[dict[str, Any]]) -> str | None:
    for entry in transcript:
        raw = bytes.fromhex(entry["hex"])
        if entry["dir"] == "tx" and raw.startswith(b"\x01P1\x02("):
            return raw[5:13].decode()
    return None


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_vector_transcripts(sim: EkmBusSimulator, client: Client, scenario: str) -> None:
    """Every host frame ekmmeters sent gets the kind of reply its transcript shows."""
    data = load_fixture(f"ekm/ekmmeters-git3933c34/{scenario}.json")
    transcript = data["transcript"]
    address = data["meter_address"]
    if (password := _password_in(transcript)) is not None:
        sim.meters[address].password = password
    steps: list[tuple[bytes, list[bytes]]] = []
    for entry in transcript:
        raw = bytes.fromhex(entry["hex"])
        if entry["dir"] == "tx":
            steps.append((raw, []))
        else:
            steps[-1][1].append(raw)
    for request, replies in steps:
        await client.send(request)
        for expected in replies:
            got = await client.receive(len(expected))
            if len(expected) == 1:
                assert got == expected, (scenario, request)
                continue
            assert got[253:255] == ekm_crc(got[1:253])
            if request.startswith(b"\x01R1"):  # settings read: register echo, content zeros
                assert got[:6] == expected[:6]
                assert got[252] == expected[252] == ETX
                continue
            # Values differ; the frame's shape must not.
            assert got[:16] == expected[:16], (scenario, request)
            assert got[247:253] == expected[247:253]
    await client.assert_silent()


def test_vectors_are_there() -> None:
    assert len(SCENARIOS) > 25
    assert any(name.startswith("cmd_v3") for name in SCENARIOS)


# --- sessions ---------------------------------------------------------------------------------


async def test_commands_need_a_read_first(client: Client) -> None:
    await client.send(password_frame())
    await client.send(write_frame("00D0", "0400"))
    await client.assert_silent()


async def test_write_needs_an_accepted_password(client: Client) -> None:
    await client.read_a()
    assert await client.ask(write_frame("00D0", "0400"), 1) == bytes((NAK,))
    assert await client.ask(password_frame("12345678"), 1) == bytes((NAK,))
    assert await client.ask(write_frame("00D0", "0400"), 1) == bytes((NAK,))
    assert await client.ask(password_frame(), 1) == bytes((ACK,))
    assert await client.ask(ct_ratio_frame(400), 1) == bytes((ACK,))
    # One password, one write.
    assert await client.ask(ct_ratio_frame(600), 1) == bytes((NAK,))
    assert (await client.read_b())["CT_Ratio"] == 400


async def test_close_and_foreign_reads_end_the_session(
    sim: EkmBusSimulator, client: Client
) -> None:
    await client.read_a()
    assert sim.session_address == V4
    await client.send(CLOSE_FRAME)
    await client.send(password_frame())
    await client.assert_silent()
    assert sim.session_address is None
    await client.read_a()
    await client.ask(read_request(V3), 255)  # another meter: V4's session ends
    assert await client.ask(password_frame(), 1) == bytes((ACK,))  # V3 has a session now
    assert (sim.session_address, sim.session_unlocked) == (V3, True)
    await client.read_a()
    assert await client.ask(password_frame(), 1) == bytes((ACK,))
    await client.send(read_request("999999999999", ReadBlock.A))
    await client.send(ct_ratio_frame(400))
    await client.assert_silent()


async def test_bad_crc_and_unknown_register(client: Client) -> None:
    await client.read_a()
    bad = bytearray(password_frame())
    bad[-1] ^= 0x01
    await client.send(bytes(bad))
    await client.assert_silent()
    assert await client.ask(password_frame(), 1) == bytes((ACK,))
    assert await client.ask(write_frame("0099", "1"), 1) == bytes((NAK,))


async def test_v4_only_registers_are_refused_by_v3(client: Client) -> None:
    await client.ask(read_request(V3), 255)
    assert await client.ask(password_frame(), 1) == bytes((ACK,))
    assert await client.ask(relay_frame(1, 1), 1) == bytes((NAK,))


async def test_meter_password_change(client: Client) -> None:
    assert await client.command(meter_password_frame("12345678")) == ACK
    await client.read_a()
    assert await client.ask(password_frame(), 1) == bytes((NAK,))
    assert await client.ask(password_frame("12345678"), 1) == bytes((ACK,))


# --- writes ---------------------------------------------------------------------------------


async def test_relays_and_timed_revert(sim: EkmBusSimulator, client: Client) -> None:
    assert await client.command(relay_frame(1, 1)) == ACK
    assert (await client.read_a())["State_Out"] == 3  # relay 1 on, relay 2 off
    assert await client.command(relay_frame(2, 1)) == ACK
    assert (await client.read_a())["State_Out"] == 4
    assert await client.command(relay_frame(1, 0, seconds=5)) == ACK
    assert (await client.read_a())["State_Out"] == 2
    sim.clock.advance(6)
    assert (await client.read_a())["State_Out"] == 4  # relay 1 went back to closed
    assert await client.command(relay_frame(2, 0)) == ACK
    sim.clock.advance(10_000)
    assert sim.meters[V4].relays() == (True, False)  # 0000 holds
    assert await client.command(write_frame("0081", "20000")) == NAK


async def test_set_time(sim: EkmBusSimulator, client: Client) -> None:
    assert await client.command(set_time_frame(datetime(2024, 11, 18, 14, 30, 15))) == ACK
    meter_time = (await client.read_a())["Meter_Time"]
    assert datetime(2024, 11, 18, 14, 30, 15) <= meter_time <= datetime(2024, 11, 18, 14, 30, 17)
    assert sim.meters[V4].clock_offset < timedelta(0)
    assert await client.command(write_frame("0060", "24133101143015")) == NAK


async def test_zero_resettable(sim: EkmBusSimulator, client: Client) -> None:
    sim.clock.advance(3600)
    before = await client.read_a()
    assert before["kWh_Rst"] > 0
    assert await client.command(zero_resettable_frame()) == ACK
    after = await client.read_a()
    assert after["kWh_Rst"] < 0.5
    assert after["Rev_kWh_Rst"] == 0
    assert after["kWh_Tot"] >= before["kWh_Tot"]
    sim.clock.advance(3600)
    assert (await client.read_a())["kWh_Rst"] > after["kWh_Rst"]


async def test_settings_writes(sim: EkmBusSimulator, client: Client) -> None:
    assert await client.command(pulse_input_ratio_frame(1, 55)) == ACK
    assert await client.command(pulse_output_ratio_frame(800)) == ACK
    assert await client.command(write_frame("0050", "3")) == ACK
    assert await client.command(write_frame("00D5", "4")) == ACK
    assert await client.command(write_frame("00C0", "0102")) == ACK
    assert await client.command(write_frame("0040", "000000")) == ACK
    block_b = await client.read_b()
    assert block_b["Pulse_Ratio_1"] == 55
    assert block_b["CF_Ratio"] == 800
    assert block_b["Max_Demand_Period"] == 3
    assert block_b["Max_Demand_Rst"] == 4
    assert block_b["RMS_Watts_Max_Demand"] < 5000
    assert sim.meters[V4].stored_settings == {"00C0": "0102"}


async def test_settings_read(client: Client) -> None:
    await client.read_a()
    frame = await client.ask(settings_read_frame("00B0"), 255)
    assert frame[:6] == b"\x0200B0("
    assert frame[252] == ETX
    assert frame[253:] == ekm_crc(frame[1:253])


# --- evolution --------------------------------------------------------------------------------


async def test_energy_never_decreases(socket_enabled: None) -> None:
    lines = [
        LineConfig(watts=3000),
        LineConfig(watts=2500, exporting=True, power_factor=" 100"),
        LineConfig(watts=500, power_factor="C090"),
    ]
    async with EkmBusSimulator(paced=False, speed=36_000, seed=3) as sim:
        sim.add_meter(V4, 4, lines=lines, kwh_scale=2, pulse_rates=(5.0, 1.0, 0.0))
        port = await sim.start_tcp()
        client = Client(*await asyncio.open_connection("127.0.0.1", port))
        monotonic = [
            "kWh_Tot",
            "Rev_kWh_Tot",
            "kWh_Ln_1",
            "kWh_Ln_2",
            "Rev_kWh_Ln_2",
            "kWh_Rst",
            "Rev_kWh_Rst",
            "Reactive_Energy_Tot",
            "Pulse_Cnt_1",
        ]
        first = previous = await client.read_a()
        assert first["State_Watts_Dir"] == 3  # FRF
        assert first["kWh_Scale"] == 2
        for _ in range(40):
            await asyncio.sleep(0.002)
            current = await client.read_a()
            for name in monotonic:
                assert current[name] >= previous[name], name
            assert current["Rev_kWh_Ln_1"] == first["Rev_kWh_Ln_1"]
            previous = current
        for name in monotonic:
            assert previous[name] > first[name], name
        # kWh_Tot counts both directions: forward = kWh_Tot - Rev_kWh_Tot rose as well.
        forward_then = first["kWh_Tot"] - first["Rev_kWh_Tot"]
        assert previous["kWh_Tot"] - previous["Rev_kWh_Tot"] > forward_then
        assert previous["kWh_Tot"] == pytest.approx(
            sum(previous[f"kWh_Ln_{n}"] for n in (1, 2, 3)), abs=0.05
        )
        await client.close()


# --- faults ---------------------------------------------------------------------------------


async def test_corrupt_crc(sim: EkmBusSimulator, client: Client) -> None:
    sim.faults.schedule(FaultKind.CORRUPT_CRC, count=1, address=V4)
    frame = await client.ask(read_request(V4, ReadBlock.A), 255)
    with pytest.raises(EkmCrcError):
        check_frame(frame, V4, ReadBlock.A)
    check_frame(await client.ask(read_request(V4, ReadBlock.A), 255), V4, ReadBlock.A)
    assert sim.faults.injected == {FaultKind.CORRUPT_CRC: 1}


async def test_truncated_reply(sim: EkmBusSimulator, client: Client) -> None:
    sim.faults.schedule(FaultKind.TRUNCATED)
    await client.ask(read_request(V4, ReadBlock.A), 200)
    await client.assert_silent()


async def test_no_reply_and_unplugged(sim: EkmBusSimulator, client: Client) -> None:
    sim.faults.schedule(FaultKind.NO_REPLY, count=2, address=V3)
    await client.read_a()  # another meter: not affected
    await client.send(read_request(V3))
    await client.send(read_request(V3))
    await client.assert_silent()
    check_frame(await client.ask(read_request(V3), 255), V3, None)
    sim.unplug(V4)
    await client.send(read_request(V4, ReadBlock.A))
    await client.assert_silent()
    sim.plug(V4)
    assert (await client.read_a())["Meter_Address"] == V4
    assert sim.faults.injected[FaultKind.NO_REPLY] == 2


async def test_wrong_address(sim: EkmBusSimulator, client: Client) -> None:
    sim.faults.schedule(FaultKind.WRONG_ADDRESS)
    frame = await client.ask(read_request(V4, ReadBlock.A), 255)
    with pytest.raises(EkmAddressMismatchError):
        check_frame(frame, V4, ReadBlock.A)
    check_frame(frame, V3, ReadBlock.A)  # the other meter on the bus, CRC intact


async def test_garbage_before_reply(sim: EkmBusSimulator, client: Client) -> None:
    sim.faults.schedule(FaultKind.GARBAGE)
    await client.send(read_request(V4, ReadBlock.A))
    await asyncio.sleep(SILENCE)
    data = await client.reader.read(1024)
    noise = len(data) - 255
    assert 2 <= noise <= 8
    assert data.isascii()
    check_frame(data[noise:], V4, ReadBlock.A)


async def test_dropped_connection(sim: EkmBusSimulator, client: Client) -> None:
    sim.faults.schedule(FaultKind.DROP_CONNECTION)
    await client.send(read_request(V4, ReadBlock.A))
    assert await asyncio.wait_for(client.reader.read(), REPLY_TIMEOUT) == b""
    assert sim.faults.injected[FaultKind.DROP_CONNECTION] == 1


async def test_fault_probabilities_and_acks(socket_enabled: None) -> None:
    plan = FaultPlan({FaultKind.CORRUPT_CRC: 1.0}, seed=1, apply_to_acks=True)
    async with EkmBusSimulator([(V4, 4)], paced=False, faults=plan) as sim:
        client = Client(*await asyncio.open_connection("127.0.0.1", await sim.start_tcp()))
        for _ in range(3):
            with pytest.raises(EkmCrcError):
                check_frame(await client.ask(read_request(V4, ReadBlock.A), 255), V4, ReadBlock.A)
        # CRC corruption cannot hit a 1-byte ACK; a scheduled no-reply can.
        assert await client.ask(password_frame(), 1) == bytes((ACK,))
        plan.schedule(FaultKind.NO_REPLY)
        await client.send(ct_ratio_frame(400))
        await client.assert_silent()
        assert plan.injected == {FaultKind.CORRUPT_CRC: 3, FaultKind.NO_REPLY: 1}
        await client.close()


# --- pty, pacing, lifecycle --------------------------------------------------------------------


async def test_pty_reads_and_commands() -> None:
    async with EkmBusSimulator([(V4, 4), (V3, 3)], paced=False) as sim:
        path = await sim.start_pty()
        reader, writer = await serialx.open_serial_connection(
            path,
            baudrate=9600,
            byte_size=7,
            parity=serialx.Parity.EVEN,
            stopbits=serialx.StopBits.ONE,
        )
        client = Client(reader, writer)
        try:
            assert (await client.read_a())["Meter_Address"] == V4
            check_frame(await client.ask(read_request(V3), 255), V3, None)
            assert await client.command(relay_frame(2, 1)) == ACK
            assert sim.meters[V4].relays() == (False, True)
        finally:
            await client.close()


async def test_ekm_bus_client_identifies_meters(sim: EkmBusSimulator, socket_enabled: None) -> None:
    """The project's own client probes v4 first, then v3, against the simulator."""
    port = await sim.start_tcp()
    async with EkmBus(f"socket://127.0.0.1:{port}", timeout=0.1) as bus:
        assert await bus.identify(V4) is MeterVersion.V4
        assert await bus.identify(V3) is MeterVersion.V3
        await bus.set_relay(V4, 1, 1)
    assert sim.meters[V4].relays() == (True, False)


async def test_paced_read_takes_wire_time(socket_enabled: None) -> None:
    async with EkmBusSimulator([(V4, 4)], turnaround=0.02) as sim:
        client = Client(*await asyncio.open_connection("127.0.0.1", await sim.start_tcp()))
        loop = asyncio.get_running_loop()
        request = read_request(V4, ReadBlock.A)
        started = loop.time()
        frame = await client.ask(request, 255)
        elapsed = loop.time() - started
        check_frame(frame, V4, ReadBlock.A)
        wire = (len(request) + 255) * CHAR_TIME + 0.02
        assert wire <= elapsed <= wire + 0.015
        assert sim.wire_stats.deliveries == 1
        assert sim.wire_stats.late_max < 0.01
        assert sim.stats.host_chars == len(request)
        assert sim.stats.reply_chars == 255
        await client.close()


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").exists() else set()


async def test_stop_releases_everything(socket_enabled: None) -> None:
    before = _open_fds()
    sim = EkmBusSimulator([(V4, 4)])  # paced: a reply is in flight when we stop
    port = await sim.start_tcp()
    path = await sim.start_pty()
    assert sim.endpoints == [f"tcp socket://127.0.0.1:{port}", f"pty {path}"]
    client = Client(*await asyncio.open_connection("127.0.0.1", port))
    await client.send(read_request(V4, ReadBlock.A))
    await asyncio.sleep(0.05)
    await sim.stop()
    partial = await asyncio.wait_for(client.reader.read(), REPLY_TIMEOUT)  # until EOF
    assert len(partial) < 255  # the reply in flight was abandoned
    await client.close()
    assert _open_fds() <= before
    await sim.stop()  # stopping twice is harmless
