"""The simulator's CRC-escape and chatter faults, over TCP and from the command line."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from custom_components.energy_local.ekm.frames import STX, ReadBlock, read_request
from custom_components.energy_local.ekm.parse import check_frame, parse_v3, parse_v4_a
from simulators.ekm_bus import EkmBusSimulator, FaultKind
from simulators.ekm_bus.__main__ import build_parser, resolve_config

V4 = "000300001285"
V3 = "000010006388"
TIMEOUT = 5.0


@pytest.fixture
async def sim() -> AsyncIterator[EkmBusSimulator]:
    """An unpaced bus with a v4 and a v3 meter."""
    async with EkmBusSimulator([(V4, 4), (V3, 3)], paced=False, seed=11) as simulator:
        yield simulator


async def _ask(sim: EkmBusSimulator, request: bytes, count: int) -> bytes:
    port = await sim.start_tcp()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(count), TIMEOUT)
    finally:
        writer.close()
        await writer.wait_closed()


async def test_crc_escape_passes_every_check(sim: EkmBusSimulator, socket_enabled: None) -> None:
    """kWh_Tariff_1-style escape: one digit of a total changed, CRC valid, parses."""
    sim.faults.escape_field = "kWh_Tot"
    sim.faults.schedule(FaultKind.CRC_ESCAPE, address=V4)
    honest = parse_v4_a(sim.meters[V4].reply(ReadBlock.A), V4)["kWh_Tot"]
    frame = await _ask(sim, read_request(V4, ReadBlock.A), 255)
    check_frame(frame, V4, ReadBlock.A)  # raises if anything is wrong
    escaped = parse_v4_a(frame, V4)["kWh_Tot"]
    name, before, after = sim.faults.escapes[-1]
    assert name == "kWh_Tot"
    assert sum(a != b for a, b in zip(before, after, strict=True)) == 1
    assert escaped != pytest.approx(honest, abs=0.05)
    assert sim.faults.injected == {FaultKind.CRC_ESCAPE: 1}


async def test_crc_escape_hits_any_total_of_v3(sim: EkmBusSimulator, socket_enabled: None) -> None:
    """Without a field named, the escape hits some total register of the frame's layout."""
    sim.faults.schedule(FaultKind.CRC_ESCAPE, address=V3)
    frame = await _ask(sim, read_request(V3), 255)
    parse_v3(frame, V3)
    name, before, after = sim.faults.escapes[-1]
    assert before != after
    assert name.startswith(("kWh_", "Rev_kWh_", "Pulse_Cnt_"))


async def test_chatter_before_the_reply(sim: EkmBusSimulator, socket_enabled: None) -> None:
    """Hundreds of kB without an STX arrive at once, then the valid reply."""
    sim.faults.chatter_length = 300_000
    sim.faults.schedule(FaultKind.CHATTER)
    data = await _ask(sim, read_request(V4, ReadBlock.A), 300_000 + 255)
    assert STX not in data[:300_000]
    assert data.isascii()
    check_frame(data[300_000:], V4, ReadBlock.A)


def test_new_kinds_on_the_command_line() -> None:
    """``--fault crc_escape=P --fault chatter=P`` next to the existing kinds."""
    args = build_parser().parse_args(
        ["--meters", "300001285:4", "--fault", "crc_escape=0.01", "--fault", "chatter=0.5"]
    )
    config = resolve_config(args)
    assert config.faults == {FaultKind.CRC_ESCAPE: 0.01, FaultKind.CHATTER: 0.5}
    assert "crc_escape" in build_parser().format_help()
