"""Raw message → events: every powersensor-local vector, and what it did not check."""

import json
from typing import Any

import pytest

from custom_components.energy_local.powersensor import (
    AveragePower,
    InvalidMessageError,
    MessageError,
    NowRelayingFor,
    UnknownMessageTypeError,
    translate_message,
)
from custom_components.energy_local.powersensor.events import EventKind

from .helpers import vectors

CASES = vectors("translate_raw_message.json")["cases"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_every_vector_gives_the_same_events(case: dict[str, Any]) -> None:
    message = json.loads(case["raw_line"])
    if case["result"] == "KeyError":
        # powersensor-local raised and dropped the message: we raise a counted error instead.
        with pytest.raises(MessageError):
            translate_message(message, case["relay_mac"])
        return
    events = translate_message(message, case["relay_mac"])
    assert [event.name for event in events] == case["event_names"]
    assert {event.name: event.payload() for event in events} == case["events"]
    # Ints stay ints and floats are rounded, exactly as the other library does.
    for event in events:
        for key, value in event.payload().items():
            assert type(value) is type(case["events"][event.name][key]), (event.name, key)


def test_vectors_cover_every_reading_kind() -> None:
    names = {name for case in CASES if case["result"] == "ok" for name in case["event_names"]}
    assert names == {kind.value for kind in EventKind} - {"now_relaying_for"}


PLUG = {
    "type": "instant_power",
    "device": "plug",
    "mac": "246f280487a4",
    "starttime": 1_772_164_800.5,
    "duration": 1.0,
    "power": 5.0,
    "unit": "W",
    "current": 0.1,
    "active_current": 0.1,
    "reactive_current": 0.0,
    "voltage": 230.0,
}


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"type": None}, InvalidMessageError),
        ({"type": 7}, InvalidMessageError),
        ({"device": None}, InvalidMessageError),
        ({"mac": 42}, InvalidMessageError),
        ({"role": ["house-net"]}, InvalidMessageError),
        ({"power": "5"}, InvalidMessageError),
        ({"power": [5]}, InvalidMessageError),
        ({"starttime": None}, InvalidMessageError),
        ({"summation": "x", "summation_start": 1_772_000_000}, InvalidMessageError),
        ({"type": "firmware_update"}, UnknownMessageTypeError),
    ],
)
def test_wrong_fields_are_errors_not_crashes(change: dict[str, Any], error: type) -> None:
    message = {**PLUG, **change}
    with pytest.raises(error):
        translate_message(message, "246f280487a4")


def test_plug_reading_has_no_via_and_sensor_reading_has_the_relay() -> None:
    (power, _components) = translate_message(PLUG, "246f280487a4")
    assert isinstance(power, AveragePower)
    assert power.via is None
    assert power.starttime_utc == 1_772_164_800.5
    sensor = {**PLUG, "device": "sensor", "mac": "bcddc247d1f5", "unit": "I"}
    sensor.update(batteryMicrovolt=3_700_000, rssi=-80.04, raw_rssi=-81)
    events = translate_message(sensor, "246f280487a4")
    assert [event.name for event in events] == ["battery_level", "radio_signal_quality"]
    assert {event.via for event in events} == {"246f280487a4"}


def test_water_volume_needs_the_flow_event_too() -> None:
    water = {
        "type": "instant_power",
        "device": "sensor",
        "mac": "bcddc247d338",
        "role": "water",
        "starttime": 1_772_164_800,
        "duration": 30,
        "unit": "L",
        "summation_volume": 10.0,
        "summation_start": 1_772_000_000,
        "batteryMicrovolt": 3_600_000,
        "rssi": -80,
        "raw_rssi": -80,
    }
    names = [event.name for event in translate_message(water, None)]
    assert names == ["battery_level", "radio_signal_quality"]
    names = [event.name for event in translate_message({**water, "average_flow": 1.0}, None)]
    assert names[:2] == ["average_flow", "summation_volume"]
    without_start = {**water, "average_flow": 1.0}
    del without_start["summation_start"]
    names = [event.name for event in translate_message(without_start, None)]
    assert names[0] == "average_flow"
    assert "summation_volume" not in names


def test_ignored_types_give_no_events() -> None:
    for kind in ("auxiliary", "raw_waveform", "adc", "ble_stats", "lrradio", "sensor"):
        assert translate_message({"type": kind, "device": "plug"}, None) == []


def test_now_relaying_for_payload_leaves_out_what_is_unknown() -> None:
    event = NowRelayingFor(mac="c0ffee000001", device_type=None, role=None)
    assert (event.name, event.payload()) == ("now_relaying_for", {"mac": "c0ffee000001"})


NOW = 1_772_164_801.0


@pytest.mark.parametrize(
    "change",
    [
        {"starttime": 0},  # a plug clock that lost its time
        {"starttime": 4_000_000_000.0},  # far future (issue 12 point 3)
        {"starttime": NOW + 301},  # beyond the allowed skew
        {"starttime": float("nan")},
        {"power": float("inf")},
        {"power": float("nan")},
        {"power": -float("inf")},
        {"power": 1.7e308},  # valid JSON (issue 12 point 4)
        {"voltage": -1.7e308},
        {"summation": 1.7e308, "summation_start": 1_772_000_000},
        {"summation": 1000, "summation_start": 1_772_164_900},  # start after the reading
        {"summation": 1000, "summation_start": 0},
    ],
)
def test_insane_readings_are_invalid(change: dict[str, Any]) -> None:
    with pytest.raises(InvalidMessageError):
        translate_message({**PLUG, **change}, "246f280487a4", now=NOW)


def test_the_skew_is_configurable_and_now_optional() -> None:
    late = {**PLUG, "starttime": NOW + 600}
    assert translate_message(late, None)  # no clock given: only the fixed window applies
    assert translate_message(late, None, now=NOW, max_skew_s=900)
    with pytest.raises(InvalidMessageError):
        translate_message(late, None, now=NOW, max_skew_s=60)
