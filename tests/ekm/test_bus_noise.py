"""A noisy line: the receive buffer stays bounded under chatter (pty and TCP)."""

from collections.abc import AsyncIterator

import pytest

from custom_components.energy_local.ekm import EkmBus
from custom_components.energy_local.ekm.bus import RECEIVE_LIMIT, keep_possible_reply
from custom_components.energy_local.ekm.frames import ReadBlock
from custom_components.energy_local.ekm.parse import build_reply
from simulators.ekm_bus import EkmBusSimulator, FaultKind

from .bus_helpers import V3, V4

CHATTER = 400_000
FRAME = build_reply({"kWh_Tot": 1.0}, V4, ReadBlock.A)


@pytest.fixture
async def noisy() -> AsyncIterator[EkmBusSimulator]:
    """An unpaced bus whose every reply is preceded by 400 kB of chatter."""
    simulator = EkmBusSimulator([(V4, 4), (V3, 3)], paced=False, seed=5)
    simulator.faults.chatter_length = CHATTER
    simulator.faults.set_probability(FaultKind.CHATTER, 1.0)
    yield simulator
    await simulator.stop()


def test_pure_noise_is_discarded() -> None:
    """Bytes without an STX cannot start a frame: all go."""
    buf = bytearray(b"x" * 5000)
    assert keep_possible_reply(buf) == 5000
    assert buf == b""


def test_a_reply_still_arriving_is_kept() -> None:
    """Noise, then the first 100 bytes of a reply: the partial reply stays."""
    buf = bytearray(b"x" * 5000 + FRAME[:100])
    keep_possible_reply(buf)
    assert buf == FRAME[:100]


def test_a_complete_candidate_is_kept_before_later_noise() -> None:
    """Noise, a whole frame, more noise: the frame stays, the tail is bounded."""
    buf = bytearray(b"x" * 5000 + FRAME + b"y" * 5000)
    keep_possible_reply(buf)
    assert buf.startswith(FRAME)
    assert len(buf) == RECEIVE_LIMIT


def test_false_stx_without_etx_is_dropped() -> None:
    """An STX in noise with no ETX 252 bytes on is not a frame start."""
    buf = bytearray(b"\x02" + b"x" * 3000 + FRAME[:10])
    keep_possible_reply(buf)
    assert buf == FRAME[:10]


async def _check_bounded(bus: EkmBus, chatter_per_reply: int) -> None:
    for _ in range(3):
        assert (await bus.read_meter(V4, 4)).values["Meter_Address"] == V4
        assert (await bus.read_meter(V3, 3)).values["Meter_Address"] == V3
    stats = bus.stats
    assert stats.buffer_peak <= RECEIVE_LIMIT
    assert stats.buffer_overflows > 0
    # 9 replies (A, B and a v3 read, three times), each after its chatter.
    assert stats.bytes_discarded >= 9 * chatter_per_reply


async def test_chatter_over_pty(noisy: EkmBusSimulator) -> None:
    """Every reply follows 400 kB of chatter on the pty: reads work, memory stays bounded."""
    async with EkmBus(await noisy.start_pty(), timeout=2.0) as bus:
        bus.char_time = 0.0
        # The simulator's pty keeps at most 64 KiB unsent; the rest of the chatter is lost there.
        await _check_bounded(bus, 60_000)


async def test_chatter_over_tcp(noisy: EkmBusSimulator, socket_enabled: None) -> None:
    """The same over socket:// (where the issue saw the buffer grow to 1.6 GB)."""
    port = await noisy.start_tcp()
    async with EkmBus(f"socket://127.0.0.1:{port}", timeout=2.0) as bus:
        bus.char_time = 0.0
        await _check_bounded(bus, CHATTER)
