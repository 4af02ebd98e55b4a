"""The native API's plaintext framing: 0x00, varint body length, varint message type, body."""

from collections.abc import Iterator

PREAMBLE = 0x00
MAX_FRAME = 1 << 20
"""Largest body accepted; a real device's limit is far lower, this only bounds memory."""


class FramingError(ValueError):
    """The peer sent something that is not a plaintext API frame (e.g. a Noise handshake)."""


def encode_varint(value: int) -> bytes:
    """Protobuf's base-128 varint."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_frame(msg_type: int, body: bytes) -> bytes:
    """One frame as it goes on the socket."""
    return bytes([PREAMBLE]) + encode_varint(len(body)) + encode_varint(msg_type) + body


def _read_varint(buf: bytearray, pos: int) -> tuple[int, int] | None:
    """(value, next position), or None when the varint is not complete yet."""
    value = shift = 0
    while pos < len(buf):
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 35:
            raise FramingError("varint too long")
    return None


class FrameDecoder:
    """Splits a byte stream into (message type, body) pairs."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        """Add ``data``; yield every frame it completes."""
        self._buf += data
        while self._buf:
            if self._buf[0] != PREAMBLE:
                # 0x01 starts a Noise frame: this device has no encryption key.
                raise FramingError(f"bad preamble 0x{self._buf[0]:02x}")
            length = _read_varint(self._buf, 1)
            if length is None:
                return
            size, pos = length
            if size > MAX_FRAME:
                raise FramingError(f"frame of {size} bytes")
            kind = _read_varint(self._buf, pos)
            if kind is None:
                return
            msg_type, pos = kind
            if len(self._buf) - pos < size:
                return
            body = bytes(self._buf[pos : pos + size])
            del self._buf[: pos + size]
            yield msg_type, body
