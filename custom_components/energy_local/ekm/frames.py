"""Frames the host sends to an Omnimeter, byte for byte as EKM's ekmmeters library sends them.

Read requests and the close frame carry no CRC; password, write and settings-read frames do
(§4 of the protocol notes). All builders validate their arguments and raise ``ValueError``
(never build a frame the meter would misread).
"""

from datetime import datetime
from enum import IntEnum, StrEnum

from .address import normalize_address
from .crc import ekm_crc

SOH = 0x01
STX = 0x02
ETX = 0x03
ACK = 0x06
NAK = 0x15

CLOSE_FRAME = b"\x01B0\x03u"
"""``SOH B 0 ETX u``: ends a meter session. The last byte is fixed (not a CRC); no reply."""

DEFAULT_PASSWORD = "00000000"  # noqa: S105  (the factory default, documented by EKM)

VALID_CT_RATIOS = (100, 200, 400, 600, 800, 1000, 1200, 1500, 2000, 3000, 4000, 5000)
MAX_RELAY_SECONDS = 9999
MAX_PULSE_RATIO = 9999
MAX_LCD_ITEMS = 40


class ReadBlock(StrEnum):
    """The two v4 read blocks; the value is the request-type suffix sent after the address."""

    A = "00"
    B = "01"


class Relay(IntEnum):
    """The v4 control outputs."""

    RELAY_1 = 1
    RELAY_2 = 2


class RelayState(IntEnum):
    """What a relay command asks for (the digit sent)."""

    OPEN = 0
    CLOSED = 1


class MaxDemandPeriod(IntEnum):
    """Max-demand averaging period codes, as ekmmeters sends them.

    ekmmeters sends 3 for 60 minutes; EKM's newer ekmdevice documents 4. Which one the meter
    firmware takes is unverified, so the 60-minute member follows the library that produced
    the vectors, and callers may pass a raw code instead.
    """

    MINUTES_15 = 1
    MINUTES_30 = 2
    MINUTES_60 = 3


class MaxDemandResetInterval(IntEnum):
    """How often the meter resets max demand by itself."""

    OFF = 0
    MONTHLY = 1
    WEEKLY = 2
    DAILY = 3
    HOURLY = 4


def read_request(address: int | str, block: ReadBlock | None = None) -> bytes:
    """Build a read request: ``/?<addr>!CRLF`` for v3, ``/?<addr>00!CRLF``/``01`` for v4 A/B."""
    addr = normalize_address(address)
    suffix = block.value if block is not None else ""
    return f"/?{addr}{suffix}!\r\n".encode("ascii")


def _crc_frame(body: bytes) -> bytes:
    """``SOH`` + body + ``ETX`` + CRC; the CRC covers everything after SOH up to ETX."""
    covered = body + bytes((ETX,))
    return bytes((SOH,)) + covered + ekm_crc(covered)


def _digits(name: str, value: str, length: int, *, secret: bool = False) -> str:
    if len(value) != length or not value.isascii() or not value.isdigit():
        # A password is never echoed: error texts end up in logs and UI messages.
        got = "" if secret else f", got {value!r}"
        raise ValueError(f"{name} must be exactly {length} decimal digits{got}")
    return value


def _int_field(name: str, value: int, low: int, high: int, width: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return str(value).zfill(width)


def password_frame(password: str = DEFAULT_PASSWORD) -> bytes:
    """Build ``SOH P1 STX (<8 digits>) ETX CRC``: unlocks the next write."""
    pwd = _digits("meter password", password, 8, secret=True)
    return _crc_frame(f"P1\x02({pwd})".encode("ascii"))


def write_frame(register: str, data: str) -> bytes:
    """Build ``SOH W1 STX <register>(<data>) ETX CRC`` for any 4-character register."""
    if len(register) != 4 or not register.isascii() or not register.isalnum():
        raise ValueError(f"register must be 4 ASCII letters or digits, got {register!r}")
    if not data.isascii() or not (data == "" or data.isdigit()):
        raise ValueError(f"write data must be ASCII digits, got {data!r}")
    return _crc_frame(f"W1\x02{register}({data})".encode("ascii"))


def settings_read_frame(register: str) -> bytes:
    """Build ``SOH R1 STX <register>() ETX CRC`` (settings reads: tariffs, schedules, holidays)."""
    if len(register) != 4 or not register.isascii() or not register.isalnum():
        raise ValueError(f"register must be 4 ASCII letters or digits, got {register!r}")
    return _crc_frame(f"R1\x02{register}()".encode("ascii"))


def relay_frame(relay: Relay | int, state: RelayState | int, seconds: int = 0) -> bytes:
    """Switch a v4 relay; ``seconds`` = 0 holds the state, 1-9999 makes the meter time it."""
    relay = Relay(relay)
    state = RelayState(state)
    secs = _int_field("relay seconds", seconds, 0, MAX_RELAY_SECONDS, 4)
    return write_frame(f"008{relay.value}", f"{state.value}{secs}")


def set_time_frame(when: datetime) -> bytes:
    """Set the meter clock: ``YYMMDDWWHHMMSS`` with WW the ISO weekday (Monday = 01).

    The weekday convention is the one ekmmeters sends; the meter's own is undocumented.
    """
    if not 2000 <= when.year <= 2099:
        raise ValueError(f"the meter clock holds years 2000-2099, got {when.year}")
    text = (
        f"{when.year % 100:02d}{when.month:02d}{when.day:02d}{when.isoweekday():02d}"
        f"{when.hour:02d}{when.minute:02d}{when.second:02d}"
    )
    return write_frame("0060", text)


def ct_ratio_frame(ratio: int) -> bytes:
    """Set the current-transformer ratio (one of :data:`VALID_CT_RATIOS`)."""
    if ratio not in VALID_CT_RATIOS or isinstance(ratio, bool):
        raise ValueError(f"CT ratio must be one of {VALID_CT_RATIOS}, got {ratio!r}")
    return write_frame("00D0", f"{ratio:04d}")


def pulse_input_ratio_frame(line: int, ratio: int) -> bytes:
    """Set how many closures of pulse input ``line`` (1-3) count as one pulse (v4)."""
    line_no = _int_field("pulse input", line, 1, 3, 1)
    value = _int_field("pulse input ratio", ratio, 1, MAX_PULSE_RATIO, 4)
    return write_frame(f"00A{int(line_no) - 1}", value)


def pulse_output_ratio_frame(ratio: int) -> bytes:
    """Set the pulse output ratio (v4)."""
    return write_frame("00D4", _int_field("pulse output ratio", ratio, 1, MAX_PULSE_RATIO, 4))


def zero_resettable_frame() -> bytes:
    """Zero the resettable kWh registers kWh_Rst and Rev_kWh_Rst (v4)."""
    return write_frame("00D3", "")


def max_demand_period_frame(period: MaxDemandPeriod | int) -> bytes:
    """Set the max-demand period code (1-4, see :class:`MaxDemandPeriod`)."""
    return write_frame("0050", _int_field("max demand period", int(period), 1, 4, 1))


def max_demand_reset_interval_frame(interval: MaxDemandResetInterval | int) -> bytes:
    """Set the automatic max-demand reset interval (0 off … 4 hourly)."""
    return write_frame("00D5", _int_field("max demand reset interval", int(interval), 0, 4, 1))


def max_demand_reset_now_frame() -> bytes:
    """Reset max demand now."""
    return write_frame("0040", "000000")


def meter_password_frame(new_password: str) -> bytes:
    """Change the meter password (needs the old password in the preceding password frame)."""
    return write_frame("0020", _digits("new meter password", new_password, 8))


def lcd_frame(items: list[int] | tuple[int, ...]) -> bytes:
    """Choose the v4 LCD display items (1-40 codes, each 1-99), padded with 00."""
    if not 1 <= len(items) <= MAX_LCD_ITEMS:
        raise ValueError(f"LCD takes 1 to {MAX_LCD_ITEMS} items, got {len(items)}")
    codes = "".join(_int_field("LCD item", item, 1, 99, 2) for item in items)
    return write_frame("00D2", codes.ljust(2 * MAX_LCD_ITEMS, "0"))
