"""Lending the port to another program (ekmdevice for ioStacks) keeps the bus's one-owner rule."""

import asyncio
import fcntl
import os
import termios

import pytest

from custom_components.energy_local.ekm import EkmBus, EkmPortError, MeterVersion
from custom_components.energy_local.ekm.frames import CLOSE_FRAME
from simulators.ekm_bus import EkmBusSimulator

from .bus_helpers import V3, V4, host_frames


def lock_exclusively(path: str) -> int:
    """Open ``path`` the way pyserial (exclusive) and serialx do: fails while another holds it."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    return fd


async def test_the_port_is_free_inside_and_taken_back_after(
    sim: EkmBusSimulator, bus: EkmBus
) -> None:
    await bus.read_meter(V4, MeterVersion.V4)
    # While the bus holds the port nobody else can lock it.
    with pytest.raises(BlockingIOError):
        os.close(lock_exclusively(bus.url))
    async with bus.hand_off() as port:
        assert port == bus.url
        assert not bus.is_open
        # The meter session was ended before the port changed hands.
        assert host_frames(sim)[-1] == CLOSE_FRAME
        fd = await asyncio.get_running_loop().run_in_executor(None, lock_exclusively, port)
        os.close(fd)
    assert bus.is_open
    assert bus.stats.hand_offs == 1
    assert (await bus.read_meter(V3, 3)).address == V3


async def test_no_meter_transaction_while_lent(sim: EkmBusSimulator, bus: EkmBus) -> None:
    lent = asyncio.Event()
    give_back = asyncio.Event()

    async def borrower() -> None:
        async with bus.hand_off():
            lent.set()
            await give_back.wait()

    holder = asyncio.create_task(borrower())
    await lent.wait()
    sent_before = len(host_frames(sim))
    read = asyncio.create_task(bus.read_meter(V4, 4))
    await asyncio.sleep(0.1)
    assert not read.done()
    assert len(host_frames(sim)) == sent_before  # nothing went on the wire
    give_back.set()
    await holder
    assert (await read).address == V4


async def test_a_cancelled_borrower_gives_the_port_back(bus: EkmBus) -> None:
    entered = asyncio.Event()

    async def borrower() -> None:
        async with bus.hand_off():
            entered.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(borrower())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert bus.is_open
    assert (await bus.read_meter(V3, 3)).address == V3


async def test_port_gone_while_lent_is_reported_by_the_next_transaction(
    sim: EkmBusSimulator, bus: EkmBus
) -> None:
    async with bus.hand_off():
        await sim.stop()
    assert not bus.is_open  # reopening failed quietly ...
    with pytest.raises(EkmPortError):
        await bus.read_meter(V4, 4)  # ... and the next transaction says so


def configure_like_pyserial(path: str) -> None:
    """What pyserial's open does to a port at 9600 7E1: read the settings, change, write back.

    With glibc >= 2.42, writing back settings that serialx left on a terminal fails (EINVAL),
    so ekmdevice (pyserial) could not open a port the bus had just used.
    """
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        iflag, oflag, cflag, lflag, _ispeed, _ospeed, cc = termios.tcgetattr(fd)
        cflag = (cflag & ~(termios.CSIZE | termios.CSTOPB | termios.PARODD)) | termios.CS7
        cflag |= termios.PARENB | termios.CLOCAL | termios.CREAD
        speed = termios.B9600
        termios.tcsetattr(fd, termios.TCSANOW, [iflag, oflag, cflag, lflag, speed, speed, cc])
    finally:
        os.close(fd)


async def test_the_borrower_can_configure_the_port(sim: EkmBusSimulator, bus: EkmBus) -> None:
    """The lent port is a plain terminal again, whatever serialx left on it."""
    await bus.read_meter(V4, MeterVersion.V4)
    async with bus.hand_off() as port:
        await asyncio.get_running_loop().run_in_executor(None, configure_like_pyserial, port)
    reading = await bus.read_meter(V4, MeterVersion.V4, include_b=False)
    assert reading.address == V4
