"""Recognise host frames in the byte stream a meter hears, incrementally.

Bytes may arrive split anywhere or several frames at once. Anything that cannot start a known
frame is skipped one byte at a time, the way a meter ignores line noise.
"""

from dataclasses import dataclass, replace
from enum import StrEnum

from custom_components.energy_local.ekm.crc import ekm_crc
from custom_components.energy_local.ekm.frames import CLOSE_FRAME, ETX, SOH, STX, ReadBlock

_DIGITS = frozenset(b"0123456789")
_READ_V3_LENGTH = 17  # / ? addr12 ! CR LF
_READ_V4_LENGTH = 19  # / ? addr12 0 0|1 ! CR LF
_MAX_COMMAND_LENGTH = 160  # the longest real W1 frame is 93 bytes
_COMMAND_KINDS = {ord("P"): "P", ord("W"): "W", ord("R"): "R"}


class FrameKind(StrEnum):
    """What a host frame asks for."""

    READ = "read"
    CLOSE = "close"
    PASSWORD = "password"  # noqa: S105  (a frame kind, not a secret)
    WRITE = "write"
    SETTINGS_READ = "settings_read"


@dataclass(frozen=True, slots=True)
class HostFrame:
    """One recognised host frame.

    ``end`` is how many bytes of the chunk just fed were needed to complete it (the wire
    model uses it to know when the frame's last character left the host).
    """

    kind: FrameKind
    raw: bytes
    end: int
    address: str = ""
    block: ReadBlock | None = None  # READ: None = v3-style request
    register: str = ""  # WRITE / SETTINGS_READ
    data: str = ""  # PASSWORD: the password; WRITE: the data between the parentheses
    crc_ok: bool = True


class _IncompleteError(Exception):
    """The buffer holds the start of a frame; wait for more bytes."""


class _NoFrameError(Exception):
    """The buffer does not start with a frame; skip a byte."""


class RequestParser:
    """Turns the host byte stream into :class:`HostFrame` objects."""

    def __init__(self) -> None:
        """Start with an empty buffer."""
        self._buffer = bytearray()
        self.bytes_skipped = 0

    def feed(self, data: bytes) -> list[HostFrame]:
        """Add bytes; return the frames they completed, in order."""
        buf = self._buffer
        before = len(buf)
        buf += data
        frames: list[HostFrame] = []
        consumed = 0  # bytes of buf removed so far in this call
        while buf:
            try:
                frame, length = _parse(buf)
            except _IncompleteError:
                break
            except _NoFrameError:
                del buf[0]
                consumed += 1
                self.bytes_skipped += 1
                continue
            del buf[:length]
            consumed += length
            end = consumed - before
            frames.append(replace(frame, end=end))
        return frames


def _expect(buf: bytearray, index: int, allowed: frozenset[int] | bytes) -> None:
    if index >= len(buf):
        raise _IncompleteError
    if buf[index] not in allowed:
        raise _NoFrameError


def _parse(buf: bytearray) -> tuple[HostFrame, int]:
    first = buf[0]
    if first == ord("/"):
        return _parse_read(buf)
    if first == SOH:
        return _parse_soh(buf)
    raise _NoFrameError


def _parse_read(buf: bytearray) -> tuple[HostFrame, int]:
    _expect(buf, 1, b"?")
    for index in range(2, 14):
        _expect(buf, index, _DIGITS)
    _expect(buf, 14, b"!0")
    if buf[14] == ord("!"):
        _expect(buf, 15, b"\r")
        _expect(buf, 16, b"\n")
        length, block = _READ_V3_LENGTH, None
    else:
        _expect(buf, 15, b"01")
        _expect(buf, 16, b"!")
        _expect(buf, 17, b"\r")
        _expect(buf, 18, b"\n")
        length = _READ_V4_LENGTH
        block = ReadBlock.A if buf[15] == ord("0") else ReadBlock.B
    raw = bytes(buf[:length])
    address = raw[2:14].decode("ascii")
    return HostFrame(FrameKind.READ, raw, 0, address=address, block=block), length


def _parse_soh(buf: bytearray) -> tuple[HostFrame, int]:
    _expect(buf, 1, b"BPWR")
    if buf[1] == ord("B"):
        for index, byte in enumerate(CLOSE_FRAME[2:], start=2):
            _expect(buf, index, bytes((byte,)))
        return HostFrame(FrameKind.CLOSE, CLOSE_FRAME, 0), len(CLOSE_FRAME)
    _expect(buf, 2, b"1")
    _expect(buf, 3, bytes((STX,)))
    etx = buf.find(ETX, 4, _MAX_COMMAND_LENGTH)
    if etx == -1:
        if len(buf) >= _MAX_COMMAND_LENGTH:
            raise _NoFrameError
        # Until the ETX arrives, everything must still be printable ASCII.
        if any(not 0x20 <= byte < 0x7F for byte in buf[4:]):
            raise _NoFrameError
        raise _IncompleteError
    if len(buf) < etx + 3:
        raise _IncompleteError
    length = etx + 3
    raw = bytes(buf[:length])
    crc_ok = raw[-2:] == ekm_crc(raw[1 : etx + 1])
    body = raw[4:etx].decode("ascii", "replace")
    kind = _COMMAND_KINDS[buf[1]]
    if kind == "P":
        if len(body) != 10 or body[0] != "(" or body[-1] != ")":
            raise _NoFrameError
        return HostFrame(FrameKind.PASSWORD, raw, 0, data=body[1:-1], crc_ok=crc_ok), length
    register = body[:4]
    if len(body) < 6 or body[4] != "(" or body[-1] != ")" or not _is_register(register):
        raise _NoFrameError
    frame_kind = FrameKind.WRITE if kind == "W" else FrameKind.SETTINGS_READ
    return (
        HostFrame(frame_kind, raw, 0, register=register, data=body[5:-1], crc_ok=crc_ok),
        length,
    )


def _is_register(text: str) -> bool:
    return len(text) == 4 and text.isascii() and text.isalnum()
