"""What a W1 write does to a meter (spec §4.5): one function per register family."""

from collections.abc import Callable
from datetime import datetime

from custom_components.energy_local.ekm.models import MeterVersion

from .meter import SimMeter

_V4_ONLY = frozenset({"0081", "0082", "00A0", "00A1", "00A2", "00D2", "00D3", "00D4"})
# Registers the simulator only stores: schedules, seasons, holidays, weekend/holiday schedule.
_STORED_LENGTHS = {
    **{f"007{n}": 48 for n in range(6)},
    "0080": 48,
    "00B0": 80,
    "00C0": 4,
    "00D2": 80,
}


def _number(data: str, length: int, low: int, high: int) -> int | None:
    if len(data) != length or not data.isdigit():
        return None
    value = int(data)
    return value if low <= value <= high else None


def _relay(meter: SimMeter, register: str, data: str) -> bool:
    if len(data) != 5 or data[0] not in "01" or not data[1:].isdigit():
        return False
    meter.set_relay(int(register[3]), data[0] == "1", int(data[1:]))
    return True


def _set_time(meter: SimMeter, _register: str, data: str, lead: float = 0.0) -> bool:
    if len(data) != 14 or not data.isdigit():
        return False
    yy, mm, dd, _ww, hh, mi, ss = (int(data[i : i + 2]) for i in range(0, 14, 2))
    try:
        when = datetime(2000 + yy, mm, dd, hh, mi, ss)
    except ValueError:
        return False
    meter.set_meter_time(when, lead=lead)
    return True


def _zero_resettable(meter: SimMeter, _register: str, data: str) -> bool:
    if data:
        return False
    meter.zero_resettable()
    return True


def _ct_ratio(meter: SimMeter, _register: str, data: str) -> bool:
    value = _number(data, 4, 1, 9999)
    if value is None:
        return False
    meter.ct_ratio = value
    return True


def _pulse_input_ratio(meter: SimMeter, register: str, data: str) -> bool:
    value = _number(data, 4, 1, 9999)
    if value is None:
        return False
    meter.update()  # pulses so far count at the old ratio
    meter.pulse_ratios[int(register[3])] = value
    return True


def _pulse_output_ratio(meter: SimMeter, _register: str, data: str) -> bool:
    value = _number(data, 4, 1, 9999)
    if value is None:
        return False
    meter.cf_ratio = value
    return True


def _max_demand_reset_now(meter: SimMeter, _register: str, data: str) -> bool:
    if _number(data, 6, 0, 999999) is None:
        return False
    meter.reset_max_demand()
    return True


def _max_demand_period(meter: SimMeter, _register: str, data: str) -> bool:
    # ekmmeters sends 1-3, ekmdevice documents 4 for 60 minutes: accept both.
    value = _number(data, 1, 1, 4)
    if value is None:
        return False
    meter.max_demand_period = value
    return True


def _max_demand_reset_interval(meter: SimMeter, _register: str, data: str) -> bool:
    value = _number(data, 1, 0, 4)
    if value is None:
        return False
    meter.max_demand_reset_interval = value
    return True


def _meter_password(meter: SimMeter, _register: str, data: str) -> bool:
    if len(data) != 8 or not data.isdigit():
        return False
    meter.password = data
    return True


def _store(meter: SimMeter, register: str, data: str) -> bool:
    if len(data) != _STORED_LENGTHS[register] or not data.isdigit():
        return False
    meter.stored_settings[register] = data
    return True


_HANDLERS: dict[str, Callable[[SimMeter, str, str], bool]] = {
    "0081": _relay,
    "0082": _relay,
    "0060": _set_time,
    "00D3": _zero_resettable,
    "00D0": _ct_ratio,
    "00A0": _pulse_input_ratio,
    "00A1": _pulse_input_ratio,
    "00A2": _pulse_input_ratio,
    "00D4": _pulse_output_ratio,
    "0040": _max_demand_reset_now,
    "0050": _max_demand_period,
    "00D5": _max_demand_reset_interval,
    "0020": _meter_password,
    **dict.fromkeys(_STORED_LENGTHS, _store),
}


def apply_write(meter: SimMeter, register: str, data: str, *, lead: float = 0.0) -> bool:
    """Apply one write; True means the meter ACKs it, False NAK (unknown register, bad data).

    ``lead``: simulated seconds until the frame's last character has left the wire; the clock
    write takes effect then (a meter acts on a frame once it has all of it).
    """
    handler = _HANDLERS.get(register)
    if handler is None:
        return False
    if register in _V4_ONLY and meter.version is not MeterVersion.V4:
        return False
    if handler is _set_time:
        return _set_time(meter, register, data, lead)
    return handler(meter, register, data)
