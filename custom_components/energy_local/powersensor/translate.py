"""Translation of a plug's raw JSON messages into typed events.

Gives the same events as powersensor-local 2.4.0's ``translate_raw_message`` for every message
that library accepts (same names, order, fields and rounding: only floats are rounded, ints
pass through). Where that library raises ``KeyError`` and drops the whole message, this raises
:class:`InvalidMessageError`; callers count it and go on. Values must be JSON numbers here (a
string or a boolean where a number belongs makes the message invalid); the other library
passed them through unchecked.

This runs for every line a plug sends (one a second per plug, plus the sensors). Numbers are
rounded with ``round(value, digits)`` alone: it rounds a float and returns an int unchanged,
exactly the rule above, and raises ``TypeError`` for anything else (a missing field, a
string), which becomes :class:`InvalidMessageError`. A JSON boolean reads as 0 or 1.
"""

from collections.abc import Callable, Mapping
from typing import Any, Final

from .events import (
    AverageFlow,
    AveragePower,
    AveragePowerComponents,
    BatteryLevel,
    PlugEvent,
    RadioSignalQuality,
    SummationEnergy,
    SummationVolume,
    UncalibratedAverageReading,
)
from .totals import MAX_CLOCK_SKEW_S


class MessageError(ValueError):
    """A raw message that gives no events for a reason worth counting."""


class InvalidMessageError(MessageError):
    """A message without a field it needs, or with a field of the wrong type."""


class UnknownMessageTypeError(MessageError):
    """A message whose ``type`` this library does not know."""


IGNORED_TYPES: Final = frozenset(
    {
        "auxiliary",  # external BLE devices linked to the plug
        "raw_waveform",  # debugging
        "adc",
        "ble_stats",
        "lrradio",  # installation
        "sensor",  # installation: wifi_join, install_data
        "plug_announce",
    }
)
"""Known message types that carry nothing to report."""

INSTANT_POWER: Final = "instant_power"

EARLIEST_TIME: Final = 1_262_304_000.0
"""2010-01-01 UTC: a start time before it (0, a clock that lost its time) is garbage."""

MAX_MAGNITUDE: Final = 1e13
"""Largest number a reading may carry: 1e13 J is 2.8 GWh; anything larger is corrupt."""


def _number(value: Any, key: str) -> float:
    """Check a number that is passed on unrounded (int or float, never bool)."""
    if type(value) is float or type(value) is int:
        return value
    raise InvalidMessageError(f"{key!r} must be a number, got {value!r}")


def _optional(value: Any, digits: int) -> float | None:
    """Round an optional number; ``None`` when the field is absent."""
    return None if value is None else round(value, digits)


def translate_message(
    message: Mapping[str, Any],
    relay_mac: str | None,
    *,
    now: float | None = None,
    max_skew_s: float = MAX_CLOCK_SKEW_S,
) -> list[PlugEvent]:
    """Translate one raw plug message into its events (possibly none).

    ``relay_mac`` is the plug the message came through; it becomes ``via`` on every event of a
    device other than a plug. Raises :class:`InvalidMessageError` or
    :class:`UnknownMessageTypeError`.

    A reading is invalid when a number is not finite or beyond :data:`MAX_MAGNITUDE`, its
    start time is before :data:`EARLIEST_TIME` or before its own summation start, or (given
    ``now``, seconds since the epoch) more than ``max_skew_s`` ahead of ``now``.
    """
    get: Callable[[str], Any] = message.get  # plain Any: round() does the checking
    kind = get("type")
    device = get("device")
    if type(kind) is not str:
        raise InvalidMessageError(f"'type' must be a string, got {kind!r}")
    if type(device) is not str:
        raise InvalidMessageError(f"'device' must be a string, got {device!r}")
    if kind != INSTANT_POWER:
        if kind in IGNORED_TYPES:
            return []
        raise UnknownMessageTypeError(kind)

    mac = get("mac")
    role = get("role")
    if type(mac) is not str:
        raise InvalidMessageError(f"'mac' must be a string, got {mac!r}")
    if role is not None and type(role) is not str:
        raise InvalidMessageError(f"'role' must be a string, got {role!r}")
    try:
        events = _reading_events(message, device, mac, role, relay_mac)
        if events:
            _check_sane(message, None if now is None else now + max_skew_s)
    except TypeError as error:  # round() or a comparison of a missing or non-numeric field
        raise InvalidMessageError(f"a number is missing or is not a number: {error}") from None
    except (OverflowError, ValueError) as error:  # round() of inf or nan
        raise InvalidMessageError(f"a number is not finite: {error}") from None
    return events


_NUMBERS: Final = (
    "duration",
    "power",
    "summation",
    "voltage",
    "current",
    "active_current",
    "reactive_current",
    "average_flow",
    "summation_volume",
    "batteryMicrovolt",
    "rssi",
    "raw_rssi",
)
"""Fields that become event values (``starttime`` and ``summation_start`` are checked apart)."""


def _check_sane(message: Mapping[str, Any], latest: float | None) -> None:
    """Raise :class:`InvalidMessageError` for a reading no real device could send.

    Runs on the raw message, once, after translation (so every number is known to be one):
    chained comparisons are False for NaN and infinities too.
    """
    get: Callable[[str], Any] = message.get
    start = get("starttime")
    if not EARLIEST_TIME <= start <= (latest if latest is not None else MAX_MAGNITUDE):
        raise InvalidMessageError(f"start time {start!r} outside the sane window")
    reset = get("summation_start")
    if reset is not None and not EARLIEST_TIME <= reset <= start + 1:
        raise InvalidMessageError(f"summation start {reset!r} is not before the reading")
    for key in _NUMBERS:
        value = get(key)
        if value is not None and not -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:
            raise InvalidMessageError(f"{key} {value!r} is not a plausible number")


def _reading_events(
    message: Mapping[str, Any], device: str, mac: str, role: str | None, relay_mac: str | None
) -> list[PlugEvent]:
    """Events of an ``instant_power`` message, by unit; ``TypeError`` for a bad number."""
    get: Callable[[str], Any] = message.get  # plain Any: round() does the checking
    start = round(get("starttime"), 3)
    via = None if device == "plug" else relay_mac
    unit = get("unit")
    events: list[PlugEvent]
    if unit == "W" or unit == "w":  # noqa: PLR1714 - two compares beat building a set here
        events = _power_events(message, mac, role, start, via, plug=device == "plug")
    elif unit == "L" or unit == "l":  # noqa: PLR1714
        events = _water_events(message, mac, role, start, via)
    elif unit == "U":
        # Learning mode: a unitless value, deliberately not rounded.
        events = [
            UncalibratedAverageReading(
                mac=mac,
                role=role,
                starttime_utc=start,
                via=via,
                value=_number(get("power"), "power"),
                duration_s=round(get("duration"), 3),
            )
        ]
    else:
        events = []  # unit "I" (an invalid sample) or unknown: no reading events
    if device == "sensor":
        volts = round(get("batteryMicrovolt") / 1e6, 6)
        events.append(BatteryLevel(mac=mac, role=role, starttime_utc=start, via=via, volts=volts))
        events.append(
            RadioSignalQuality(
                mac=mac,
                role=role,
                starttime_utc=start,
                via=via,
                duration_s=round(get("duration"), 3),
                average_rssi=round(get("rssi"), 1),
                last_rssi=round(get("raw_rssi"), 0),
            )
        )
    return events


def _power_events(
    message: Mapping[str, Any],
    mac: str,
    role: str | None,
    start: float,
    via: str | None,
    *,
    plug: bool,
) -> list[PlugEvent]:
    """Events of a calibrated power reading (unit ``W``, or ``w`` from sensors)."""
    get: Callable[[str], Any] = message.get  # plain Any: round() does the checking
    events: list[PlugEvent] = [
        AveragePower(
            mac=mac,
            role=role,
            starttime_utc=start,
            via=via,
            watts=round(get("power"), 0),
            duration_s=round(get("duration"), 3),
        )
    ]
    summation = _optional(get("summation"), 0)
    summation_start = _optional(get("summation_start"), 0)
    # Firmware without summation_start gives no energy event (not an error).
    if summation is not None and summation_start is not None:
        events.append(
            SummationEnergy(
                mac=mac,
                role=role,
                starttime_utc=start,
                via=via,
                summation_joules=summation,
                summation_resettime_utc=summation_start,
            )
        )
    if plug:
        events.append(
            AveragePowerComponents(
                mac=mac,
                role=role,
                starttime_utc=start,
                via=via,
                apparent_current=round(get("current"), 3),
                active_current=round(get("active_current"), 3),
                reactive_current=round(get("reactive_current"), 3),
                volts=round(get("voltage"), 3),
            )
        )
    return events


def _water_events(
    message: Mapping[str, Any], mac: str, role: str | None, start: float, via: str | None
) -> list[PlugEvent]:
    """Events of a water reading (unit ``L`` or ``l``).

    Only the firmware's scaled flow and volume are trusted; older water firmware sends neither
    and gives no water events. The volume event also needs the flow event.
    """
    get: Callable[[str], Any] = message.get  # plain Any: round() does the checking
    flow = _optional(get("average_flow"), 3)
    duration = _optional(get("duration"), 3)
    if flow is None or duration is None:
        return []
    events: list[PlugEvent] = [
        AverageFlow(
            mac=mac,
            role=role,
            starttime_utc=start,
            via=via,
            litres_per_minute=flow,
            duration_s=duration,
        )
    ]
    volume = _optional(get("summation_volume"), 3)
    volume_start = _optional(get("summation_start"), 0)
    if volume is not None and volume_start is not None:
        events.append(
            SummationVolume(
                mac=mac,
                role=role,
                starttime_utc=start,
                via=via,
                summation_litres=volume,
                summation_resettime_utc=volume_start,
            )
        )
    return events
