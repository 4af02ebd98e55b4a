"""Validate and decode 255-byte Omnimeter replies, and build them (for simulators and tests).

Validation is strict: length, STX and ETX, 7-bit characters, CRC, the echoed address and, for
v4, the request-type echo. A field that does not decode is an error for the whole frame: unlike
ekmmeters, a bad field never silently keeps an old value.
"""

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import cast

from .crc import ekm_crc
from .errors import (
    EkmAddressMismatchError,
    EkmCrcError,
    EkmFrameError,
    EkmRequestTypeError,
)
from .frames import ETX, STX, ReadBlock
from .layout import (
    FRAME_LENGTH,
    KWH_SCALE_OFFSET,
    REQUEST_TYPE_OFFSET,
    V3_FIELDS,
    V4_A_FIELDS,
    V4_B_FIELDS,
    Encoding,
    Field,
)
from .models import MeterValues, Value, decode_cos_theta

_LOGGER = logging.getLogger(__name__)

KWH_SCALE_DIVISORS = {0: 1, 1: 10, 2: 100}
"""kWh_Scale → divisor, as ekmmeters decodes it. Other codes divide by 1 (with a warning)."""

_DIGITS = frozenset(b"0123456789")
_SIGNS = frozenset(b"+-")
_COS_PREFIX = frozenset(b"LC ")
_warned_scales: set[int] = set()


def kwh_divisor(scale: int) -> int:
    """Divisor for a kWh_Scale code; the one place the scale rule lives."""
    divisor = KWH_SCALE_DIVISORS.get(scale)
    if divisor is None:
        if scale not in _warned_scales:
            _warned_scales.add(scale)
            _LOGGER.warning("Unknown kWh_Scale %s; reading kWh registers unscaled", scale)
        return 1
    return divisor


def check_frame(frame: bytes, address: str, block: ReadBlock | None) -> None:
    """Raise the library's error for the first thing wrong with a reply frame."""
    if len(frame) != FRAME_LENGTH:
        raise EkmFrameError(f"reply is {len(frame)} bytes, expected {FRAME_LENGTH}")
    if frame[0] != STX or frame[252] != ETX:
        raise EkmFrameError("reply lacks STX at byte 0 or ETX at byte 252")
    if not frame.isascii():
        raise EkmFrameError("reply has a byte above 0x7F (not a 7-bit meter frame)")
    if frame[253:255] != ekm_crc(frame[1:253]):
        raise EkmCrcError(
            f"CRC mismatch: frame carries {frame[253:255].hex()}, "
            f"contents give {ekm_crc(frame[1:253]).hex()}"
        )
    echoed = frame[4:16]
    if echoed != address.encode("ascii"):
        raise EkmAddressMismatchError(
            f"reply is from meter {echoed.decode('ascii', 'replace')}, expected {address}"
        )
    if block is not None:
        echoed_type = frame[REQUEST_TYPE_OFFSET : REQUEST_TYPE_OFFSET + 2]
        if echoed_type != block.value.encode("ascii"):
            raise EkmRequestTypeError(
                f"reply answers request type {echoed_type.decode('ascii', 'replace')!r}, "
                f"expected {block.value!r}"
            )


def _digits(raw: bytes, name: str, *, signed: bool = False) -> int:
    body = raw[1:] if signed and raw[:1] in (b"+", b"-") else raw
    if not body or not _DIGITS.issuperset(body):
        raise EkmFrameError(f"field {name} is not a number: {raw!r}")
    return int(raw)


def _decode_time(raw: bytes) -> datetime | None:
    """YYMMDDWWHHMMSS → naive meter-local datetime; None when the meter clock is not valid."""
    if len(raw) != 14 or not _DIGITS.issuperset(raw):
        return None
    yy, mm, dd, _ww, hh, mi, ss = (int(raw[i : i + 2]) for i in range(0, 14, 2))
    try:
        return datetime(2000 + yy, mm, dd, hh, mi, ss)  # noqa: DTZ001  (meter time has no zone)
    except ValueError:
        return None


def _decode(fields: Iterable[Field], frame: bytes, kwh_div: int) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for fld in fields:
        raw = frame[fld.offset : fld.offset + fld.size]
        enc = fld.encoding
        value: Value
        if enc is Encoding.INT:
            value = _digits(raw, fld.name)
        elif enc is Encoding.KWH:
            value = _digits(raw, fld.name) / kwh_div
        elif enc is Encoding.DECIMAL:
            value = _digits(raw, fld.name) / 10**fld.decimals
        elif enc is Encoding.SIGNED_INT:
            value = _digits(raw, fld.name, signed=True)
        elif enc is Encoding.HEX:
            value = raw.hex()
        elif enc is Encoding.TEXT:
            value = raw.decode("ascii")
        elif enc is Encoding.COS_THETA:
            if raw[0] not in _COS_PREFIX or not _DIGITS.issuperset(raw[1:]):
                raise EkmFrameError(f"field {fld.name} is not a power factor: {raw!r}")
            value = raw.decode("ascii")
        else:  # Encoding.TIME
            value = _decode_time(raw)
        out[fld.name] = value
    return out


def _add_calculated(values: dict[str, Value]) -> None:
    """EKM's calculated fields: legacy Power_Factor_Ln_N and signed Net_Calc_Watts."""
    for line in (1, 2, 3):
        cos = decode_cos_theta(cast("str", values[f"Cos_Theta_Ln_{line}"]))
        pct = round(cos.value * 100)
        # EKM's legacy integer: lagging x, leading 200 - x, unity 100 (so >100 means leading).
        values[f"Power_Factor_Ln_{line}"] = {"leading": 200 - pct, "lagging": pct}.get(
            cos.kind.value, 100
        )
    direction = values.get("State_Watts_Dir")
    # State_Watts_Dir 1-8 = FFF, FFR, FRF, RFF, FRR, RFR, RRF, RRR for lines 1, 2, 3.
    if isinstance(direction, int) and 1 <= direction <= 8:
        pattern = ("FFF", "FFR", "FRF", "RFF", "FRR", "RFR", "RRF", "RRR")[direction - 1]
        total = 0
        for line, flow in zip((1, 2, 3), pattern, strict=True):
            watts = cast("int", values[f"RMS_Watts_Ln_{line}"])
            signed = -watts if flow == "R" else watts
            values[f"Net_Calc_Watts_Ln_{line}"] = signed
            total += signed
        values["Net_Calc_Watts_Tot"] = total


def parse_v3(frame: bytes, address: str) -> MeterValues:
    """Validate and decode a v3 reply (kWh registers always in tenths)."""
    check_frame(frame, address, None)
    values = _decode(V3_FIELDS, frame, 1)
    _add_calculated(values)
    return cast("MeterValues", values)


def frame_kwh_scale(frame: bytes) -> int:
    """Return the kWh_Scale digit of a (validated) v4 block-A frame."""
    return _digits(frame[KWH_SCALE_OFFSET : KWH_SCALE_OFFSET + 1], "kWh_Scale")


def parse_v4_a(frame: bytes, address: str) -> MeterValues:
    """Validate and decode a v4 block-A reply."""
    check_frame(frame, address, ReadBlock.A)
    values = _decode(V4_A_FIELDS, frame, kwh_divisor(frame_kwh_scale(frame)))
    _add_calculated(values)
    return cast("MeterValues", values)


def parse_v4_b(frame: bytes, address: str, kwh_scale: int) -> MeterValues:
    """Validate and decode a v4 block-B reply; its kWh use ``kwh_scale`` from block A."""
    check_frame(frame, address, ReadBlock.B)
    return cast("MeterValues", _decode(V4_B_FIELDS, frame, kwh_divisor(kwh_scale)))


def merge_v4(block_a: MeterValues, block_b: MeterValues) -> MeterValues:
    """One v4 reading from both blocks. Where they overlap, block A's values win.

    ekmmeters 0.2.5 let B win (and copied line 2's power factor into line 3); HEAD and we use
    A, whose values are the ones the calculated fields were derived from.
    """
    merged = dict(block_b)
    merged.update(block_a)
    return cast("MeterValues", merged)


# --- building replies: the inverse, for simulators and round-trip tests ------------------------


def _encode_value(fld: Field, value: Value, kwh_div: int) -> bytes:
    enc = fld.encoding
    if enc is Encoding.HEX:
        raw = bytes.fromhex(str(value))
    elif enc in (Encoding.TEXT, Encoding.COS_THETA):
        raw = str(value).encode("ascii")
    elif enc is Encoding.TIME:
        when = value if isinstance(value, datetime) else datetime(2000, 1, 1)  # noqa: DTZ001
        raw = (
            f"{when.year % 100:02d}{when.month:02d}{when.day:02d}{when.isoweekday():02d}"
            f"{when.hour:02d}{when.minute:02d}{when.second:02d}"
        ).encode("ascii")
    else:
        number = cast("float", value)
        if enc is Encoding.KWH:
            number = number * kwh_div
        elif enc is Encoding.DECIMAL:
            number = number * 10**fld.decimals
        whole = round(number)
        if whole < 0:
            raw = b"-" + str(-whole).zfill(fld.size - 1).encode("ascii")
        else:
            raw = str(whole).zfill(fld.size).encode("ascii")
    if len(raw) != fld.size:
        raise ValueError(f"{fld.name}={value!r} does not fit {fld.size} characters")
    return raw


def build_reply(
    values: Mapping[str, Value],
    address: str,
    block: ReadBlock | None,
    *,
    model: bytes = b"\x10\x24",
    firmware: bytes = b"\x45",
    kwh_scale: int = 1,
) -> bytes:
    """Build a valid 255-byte reply carrying ``values`` (missing fields are zero).

    ``block`` None builds a v3 reply. Reserved bytes are ASCII '0', as in the vectors.
    """
    fields = {None: V3_FIELDS, ReadBlock.A: V4_A_FIELDS, ReadBlock.B: V4_B_FIELDS}[block]
    frame = bytearray(b"0" * FRAME_LENGTH)
    frame[0] = STX
    frame[249:253] = b"!\r\n\x03"
    kwh_div = 10 if block is None else kwh_divisor(kwh_scale)
    defaults: dict[str, Value] = {
        "Model": model.hex(),
        "Firmware": firmware.hex(),
        "Meter_Address": address,
        "kWh_Scale": kwh_scale,
        "Request_Type": block.value.encode("ascii").hex() if block is not None else "",
    }
    for fld in fields:
        value = defaults.get(fld.name, values.get(fld.name))
        if fld.name == "Meter_Status_Code" or fld.name.startswith("Meter_Status_Code_"):
            value = values.get(fld.name, "30")
        if value is None:
            value = " 100" if fld.encoding is Encoding.COS_THETA else 0
        frame[fld.offset : fld.offset + fld.size] = _encode_value(fld, value, kwh_div)
    frame[253:255] = ekm_crc(bytes(frame[1:253]))
    return bytes(frame)
