"""The bus against the simulated meters over a pty and TCP: sessions, commands, every fault."""

import asyncio
from unittest.mock import patch

import pytest

from custom_components.energy_local.ekm import (
    EkmAddressMismatchError,
    EkmBus,
    EkmCommandError,
    EkmCrcError,
    EkmFrameError,
    EkmPasswordError,
    EkmPortError,
    EkmTimeoutError,
    MeterVersion,
    Relay,
    RelayState,
)
from custom_components.energy_local.ekm.frames import CLOSE_FRAME, ct_ratio_frame
from simulators.ekm_bus import EkmBusSimulator, FaultKind

from .bus_helpers import V3, V4, host_frames

A = b"/?00030000128500!\r\n"
B = b"/?00030000128501!\r\n"


async def settle(sim: EkmBusSimulator, frame: bytes) -> None:
    """Wait until the simulator has received ``frame`` (bytes cross the pty asynchronously)."""
    async with asyncio.timeout(2):
        while frame not in host_frames(sim):  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def test_v4_read_is_a_b_close(sim: EkmBusSimulator, bus: EkmBus) -> None:
    reading = await bus.read_meter(V4, MeterVersion.V4)
    assert reading.address == V4
    assert reading.has_block_b
    assert reading.values["Meter_Address"] == V4
    assert reading.values["CT_Ratio"] == 200
    assert len(reading.frames) == 2
    await settle(sim, CLOSE_FRAME)
    assert host_frames(sim) == [A, B, CLOSE_FRAME]


async def test_v3_read_and_a_only(sim: EkmBusSimulator, bus: EkmBus) -> None:
    v3 = await bus.read_meter(int(V3), 3)
    assert v3.version is MeterVersion.V3
    assert v3.values["kWh_Tot"] > 0
    only_a = await bus.read_meter(V4, MeterVersion.V4, include_b=False)
    assert not only_a.has_block_b


async def test_identify(sim: EkmBusSimulator, bus: EkmBus) -> None:
    assert await bus.identify(300001285) is MeterVersion.V4
    assert await bus.identify("10006388") is MeterVersion.V3
    with pytest.raises(EkmTimeoutError):
        await bus.identify(42)


async def test_reads_over_tcp(sim: EkmBusSimulator, socket_enabled: None) -> None:
    port = await sim.start_tcp()
    async with EkmBus(f"socket://127.0.0.1:{port}") as ekm:
        ekm.char_time = 0.0
        assert (await ekm.read_meter(V4, 4)).values["Meter_Address"] == V4
        assert (await ekm.read_meter(V3, 3)).values["Meter_Address"] == V3
        assert ekm.is_open
    assert not ekm.is_open


async def test_relay_command_session(sim: EkmBusSimulator, bus: EkmBus) -> None:
    await bus.set_relay(V4, Relay.RELAY_1, RelayState.CLOSED, seconds=0)
    await settle(sim, CLOSE_FRAME)
    frames = host_frames(sim)
    assert frames[0] == A
    assert frames[1] == bytes.fromhex("0150310228303030303030303029033244")
    assert frames[2].startswith(b"\x01W1\x020081(10000)\x03")
    assert frames[3] == CLOSE_FRAME
    assert len(frames) == 4
    assert sim.meters[V4].relay_closed == [True, False]
    reading = await bus.read_meter(V4, 4, include_b=False)
    assert reading.relays_closed == (True, False)


async def test_wrong_password_never_sends_the_write(sim: EkmBusSimulator, bus: EkmBus) -> None:
    with pytest.raises(EkmPasswordError, match="NAK"):
        await bus.set_relay(V4, 1, 1, password="12345678")
    await settle(sim, CLOSE_FRAME)
    frames = host_frames(sim)
    assert not any(f.startswith(b"\x01W1") for f in frames)
    assert frames[-1] == CLOSE_FRAME
    assert sim.meters[V4].relay_closed == [False, False]
    assert bus.stats.naks == 1


async def test_nak_on_write(sim: EkmBusSimulator, bus: EkmBus) -> None:
    with (
        patch("simulators.ekm_bus.simulator.apply_write", return_value=False),
        pytest.raises(EkmCommandError, match="write not acknowledged"),
    ):
        await bus.command(V4, 4, ct_ratio_frame(400))
    await settle(sim, CLOSE_FRAME)


async def test_silent_ack(sim: EkmBusSimulator, bus: EkmBus) -> None:
    # The read gets its reply; the password's ACK never comes.
    with (
        patch.object(sim.faults, "choose", side_effect=[None, FaultKind.NO_REPLY]),
        pytest.raises(EkmPasswordError, match="no reply"),
    ):
        await bus.set_relay(V4, 2, 1)
    assert bus.stats.timeouts == 1


async def test_commands_for_time_reset_and_demand(sim: EkmBusSimulator, bus: EkmBus) -> None:
    from datetime import datetime  # noqa: PLC0415

    await bus.set_time(V3, 3, datetime(2031, 5, 6, 7, 8, 9))
    assert sim.meters[V3].meter_time().year == 2031
    await bus.zero_resettable(V4)
    assert (await bus.read_meter(V4, 4)).values["kWh_Rst"] == 0
    sim.meters[V4].max_demand_w = 1e6
    await bus.reset_max_demand(V4, 4)
    assert sim.meters[V4].max_demand_w < 1e6


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        (FaultKind.CORRUPT_CRC, EkmCrcError),
        (FaultKind.WRONG_ADDRESS, EkmAddressMismatchError),
        (FaultKind.TRUNCATED, EkmFrameError),
    ],
)
async def test_a_bad_frame_is_retried_once(
    sim: EkmBusSimulator, bus: EkmBus, kind: FaultKind, error: type[Exception]
) -> None:
    sim.faults.schedule(kind, count=1)
    reading = await bus.read_meter(V4, 4, include_b=False)  # the retry succeeds
    assert reading.address == V4
    assert bus.stats.retries == 1
    sim.faults.schedule(kind, count=2)
    with pytest.raises(error):
        await bus.read_meter(V4, 4, include_b=False)  # two bad frames in a row: give up
    assert bus.stats.retries == 2
    assert (await bus.read_meter(V4, 4)).address == V4  # and the bus is fine after


async def test_garbage_before_a_reply_is_skipped(sim: EkmBusSimulator, bus: EkmBus) -> None:
    for _ in range(5):
        sim.faults.schedule(FaultKind.GARBAGE, count=1)
        assert (await bus.read_meter(V4, 4, include_b=False)).address == V4


async def test_no_reply_is_a_timeout_without_retry(sim: EkmBusSimulator, bus: EkmBus) -> None:
    sim.faults.schedule(FaultKind.NO_REPLY, count=1)
    with pytest.raises(EkmTimeoutError):
        await bus.read_meter(V4, 4)
    assert bus.stats.timeouts == 1
    assert bus.stats.retries == 0
    await settle(sim, CLOSE_FRAME)  # the session was still closed


async def test_dropped_tcp_connection_reopens(sim: EkmBusSimulator, socket_enabled: None) -> None:
    port = await sim.start_tcp()
    async with EkmBus(f"socket://127.0.0.1:{port}", timeout=0.2) as ekm:
        ekm.char_time = 0.0
        sim.faults.schedule(FaultKind.DROP_CONNECTION, count=1)
        # Reopened and retried within the same call: the drop costs one transaction.
        assert (await ekm.read_meter(V4, 4)).address == V4
        assert ekm.stats.opens == 2
        assert ekm.stats.reconnects == 1
        assert (await ekm.read_meter(V4, 4)).address == V4
        assert ekm.stats.opens == 2


async def test_port_vanishes_and_returns(sim: EkmBusSimulator, socket_enabled: None) -> None:
    port = await sim.start_tcp()
    ekm = EkmBus(f"socket://127.0.0.1:{port}", timeout=0.2)
    ekm.char_time = 0.0
    assert (await ekm.read_meter(V4, 4)).address == V4
    await sim.stop()
    with pytest.raises(EkmPortError):
        await ekm.read_meter(V4, 4)
    with pytest.raises(EkmPortError, match="cannot open"):
        await ekm.read_meter(V4, 4)
    await sim.start_tcp(port=port)
    assert (await ekm.read_meter(V4, 4)).address == V4
    await ekm.close()


async def test_network_port_reopens_after_repeated_timeouts(
    sim: EkmBusSimulator, socket_enabled: None
) -> None:
    port = await sim.start_tcp()
    async with EkmBus(f"socket://127.0.0.1:{port}", timeout=0.02) as ekm:
        ekm.char_time = 0.0
        sim.unplug(V4)
        for _ in range(3):
            with pytest.raises(EkmTimeoutError):
                await ekm.read_meter(V4, 4)
        sim.plug(V4)
        assert (await ekm.read_meter(V4, 4)).address == V4
        assert ekm.stats.opens == 2  # a silently dead TCP link is not trusted forever


async def test_pty_vanishing(sim: EkmBusSimulator, bus: EkmBus) -> None:
    await bus.read_meter(V4, 4)
    await sim.stop()
    with pytest.raises(EkmPortError):
        await bus.read_meter(V4, 4)


async def test_missing_port() -> None:
    with pytest.raises(EkmPortError, match="cannot open"):
        await EkmBus("/dev/ttyEKM-none").open()


async def test_one_transaction_at_a_time(sim: EkmBusSimulator, bus: EkmBus) -> None:
    readings = await asyncio.gather(*(bus.read_meter(a, v) for a, v in [(V4, 4), (V3, 3)] * 3))
    assert [r.address for r in readings] == [V4, V3] * 3
    await settle(sim, CLOSE_FRAME)
    frames = host_frames(sim)
    # Sessions never interleave: every read is followed by its own close before the next meter.
    # (On a loaded machine a late reply may be asked for again: within the same session.)
    sessions = b"".join(frames).split(CLOSE_FRAME)[:-1]
    assert len(sessions) == 6
    for session, address in zip(sessions, [V4, V3] * 3, strict=True):
        requests = session.split(b"\r\n")[:-1]
        assert {request[2:14] for request in requests} == {address.encode()}
    assert all(A in s and B in s for s in sessions[::2])


async def test_cancelled_read_still_closes_and_frees_the_bus(
    sim: EkmBusSimulator, bus: EkmBus
) -> None:
    sim.unplug(V4)
    bus.timeout = 5
    task = asyncio.create_task(bus.read_meter(V4, 4))
    await settle(sim, A)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await settle(sim, CLOSE_FRAME)
    bus.timeout = 0.1
    assert (await bus.read_meter(V3, 3)).address == V3


async def test_a_closed_bus_stays_closed_until_opened(sim: EkmBusSimulator, bus: EkmBus) -> None:
    """After close() nothing reopens the port behind the back of whoever owns it next."""
    await bus.read_meter(V4, MeterVersion.V4, include_b=False)
    await bus.close()
    sent = len(host_frames(sim))
    with pytest.raises(EkmPortError, match="closed"):
        await bus.read_meter(V4, MeterVersion.V4, include_b=False)
    with pytest.raises(EkmPortError, match="closed"):
        await bus.set_relay(V4, Relay.RELAY_1, RelayState.CLOSED)
    assert not bus.is_open
    assert len(host_frames(sim)) == sent
    # Another owner can take the port meanwhile; open() makes this bus usable again after.
    async with EkmBus(bus.url, timeout=0.1) as other:
        other.char_time = 0.0
        assert (await other.read_meter(V4, MeterVersion.V4, include_b=False)).address == V4
    await bus.open()
    assert (await bus.read_meter(V4, MeterVersion.V4, include_b=False)).address == V4


async def test_a_failed_block_b_can_leave_block_a(sim: EkmBusSimulator, bus: EkmBus) -> None:
    """With b_optional a good block A is not thrown away for a bad B (the caller keeps its B)."""
    sim.faults.schedule(FaultKind.CORRUPT_CRC, count=2, after=1)  # B and its retry
    reading = await bus.read_meter(V4, 4, b_optional=True)
    assert reading.has_block_b is False
    assert len(reading.frames) == 1
    assert "kWh_Tot" in reading.values
    sim.faults.schedule(FaultKind.CORRUPT_CRC, count=2, after=1)
    with pytest.raises(EkmCrcError):
        await bus.read_meter(V4, 4)  # without it, the read fails as before
    await settle(sim, CLOSE_FRAME)  # the session was closed either way
