"""Differential tests against powersensor-local 2.4.0 (a test-only dependency).

Random but valid (and sane: translate's time window and magnitude checks) message streams go
through both libraries' plug pipelines (translation plus
``now_relaying_for``) and must give the same events; random sensor streams go through both
household views and must agree wherever none of that library's defects is triggered.
"""

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from powersensor_local import PlugApi, VirtualHousehold

from custom_components.energy_local.powersensor import (
    Household,
    PlugClient,
    translate_message,
)
from custom_components.energy_local.powersensor.translate import MessageError

from .helpers import household_input, run_sync

PLUG_MAC = "246f280487a4"
SENSOR_MACS = ["bcddc247d1f5", "bcddc247d289", "bcddc247d338", "c0ffee000001"]
T0 = 1_772_164_800

numbers = st.one_of(
    st.integers(-100_000, 100_000),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
)
# A sane summation start (before the reading, after 2010): we reject others, the library not.
summation_starts = st.one_of(
    st.integers(T0 - 10_000_000, T0 - 1), st.floats(T0 - 10_000_000.0, T0 - 1.0)
)
roles = st.sampled_from(["house-net", "solar", "water", "appliance", "unknown", None])


@st.composite
def plug_message(draw: st.DrawFn, index: int) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "instant_power",
        "device": "plug",
        "mac": PLUG_MAC,
        "starttime": T0 + index + draw(st.sampled_from([0, 0.096228, 0.5])),
        "duration": draw(st.sampled_from([1.039551, 0.960214, 1])),
        "power": draw(numbers),
        "unit": "W",
        "voltage": draw(numbers),
        "current": draw(numbers),
        "active_current": draw(numbers),
        "reactive_current": draw(numbers),
        "summation": draw(numbers),
        "count": 13,
        "source": "BLE",
    }
    if draw(st.booleans()):
        message["summation_start"] = draw(summation_starts)
    if (role := draw(roles)) is not None:
        message["role"] = role
    if draw(st.integers(0, 9)) == 0:  # now and then a field is missing: dropped by both
        del message[draw(st.sampled_from(["current", "voltage", "power", "duration"]))]
    return message


@st.composite
def sensor_message(draw: st.DrawFn, index: int) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "instant_power",
        "device": "sensor",
        "mac": draw(st.sampled_from(SENSOR_MACS[:3])),
        "starttime": T0 + index,
        "duration": draw(st.sampled_from([30, 30.0, 29.5])),
        "unit": draw(st.sampled_from(["w", "W", "U", "I", "L", "l", "x"])),
        "batteryMicrovolt": draw(st.integers(3_000_000, 4_300_000)),
        "rssi": draw(numbers),
        "raw_rssi": draw(numbers),
    }
    for key in ("power", "summation", "summation_start", "average_flow", "summation_volume"):
        if draw(st.booleans()):
            message[key] = draw(summation_starts if key == "summation_start" else numbers)
    if (role := draw(roles)) is not None:
        message["role"] = role
    if draw(st.integers(0, 9)) == 0:
        del message[draw(st.sampled_from(["rssi", "raw_rssi", "batteryMicrovolt"]))]
    return message


@st.composite
def other_message(draw: st.DrawFn, index: int) -> dict[str, Any]:
    kind = draw(st.sampled_from(["auxiliary", "lrradio", "plug_announce", "adc", "ble_stats"]))
    return {
        "type": kind,
        "device": draw(st.sampled_from(["plug", "ble_sensor"])),
        "mac": draw(st.sampled_from([PLUG_MAC, *SENSOR_MACS])),
        "starttime": T0 + index,
    }


@st.composite
def message_stream(draw: st.DrawFn) -> list[dict[str, Any]]:
    kinds = draw(
        st.lists(st.sampled_from([plug_message, sensor_message, other_message]), max_size=30)
    )
    # Distinct start times: powersensor-local does not drop duplicates, we do.
    return [draw(kind(index)) for index, kind in enumerate(kinds)]


def theirs_plug_events(messages: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    api = PlugApi(PLUG_MAC, "127.0.0.1")  # never connected: messages are fed directly
    out: list[tuple[str, dict[str, Any]]] = []

    async def collect(name: str, payload: dict[str, Any]) -> None:
        out.append((name, payload))

    for name in [
        "average_power",
        "average_power_components",
        "summation_energy",
        "average_flow",
        "summation_volume",
        "uncalibrated_average_reading",
        "battery_level",
        "radio_signal_quality",
        "now_relaying_for",
    ]:
        api.subscribe(name, collect)
    for message in messages:
        run_sync(api._on_message("message", message))
    return out


def ours_plug_events(messages: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    client = PlugClient("127.0.0.1", mac=PLUG_MAC)  # never started: messages are fed directly
    out: list[tuple[str, dict[str, Any]]] = []
    client.add_event_listener(lambda event: out.append((event.name, event.payload())))
    for message in messages:
        client._handle_message(json.loads(json.dumps(message)))
    return out


@settings(max_examples=200, deadline=None)
@given(message_stream())
def test_plug_pipelines_give_the_same_events(messages: list[dict[str, Any]]) -> None:
    assert ours_plug_events(messages) == theirs_plug_events(messages)


@settings(max_examples=100, deadline=None)
@given(message_stream(), st.data())
def test_duplicates_are_dropped_once(messages: list[dict[str, Any]], data: st.DataObject) -> None:
    """Repeating any messages changes nothing: each reading is delivered once."""
    repeated = list(messages)
    for message in data.draw(st.lists(st.sampled_from(messages), max_size=10)) if messages else []:
        repeated.insert(data.draw(st.integers(0, len(repeated))), message)
    # The first copy of each reading is the one that counts.
    assert ours_plug_events(repeated) == theirs_plug_events(_first_copies(repeated))


def _first_copies(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, float]] = set()
    kept = []
    for message in messages:
        if message["type"] == "instant_power":
            key = (message["mac"], message["starttime"])
            if key in seen:
                continue
            try:
                translate_message(message, PLUG_MAC)
            except MessageError:
                pass  # invalid messages are not remembered, so a valid copy still counts
            else:
                seen.add(key)
        kept.append(message)
    return kept


# -- household ------------------------------------------------------------------------


@dataclass
class Sample:
    """One 30 s window of the mains and solar sensors, and what happened to its reports."""

    house_watts: int
    solar_watts: int
    lost: frozenset[str]
    solar_first: bool
    house_duration: int
    reset: bool


samples = st.builds(
    Sample,
    house_watts=st.integers(-6000, 8000),
    solar_watts=st.integers(-5000, 10),
    lost=st.frozensets(st.sampled_from(["hp", "hs", "sp", "ss"])),
    solar_first=st.booleans(),
    house_duration=st.sampled_from([30, 30, 30, 60]),
    reset=st.integers(0, 15).map(lambda n: n == 0),
)


def household_events(stream: list[Sample], *, solar: bool) -> list[dict[str, Any]]:
    """Translated average_power/summation_energy payloads for a sensor stream."""
    house_sum, solar_sum = 183_000_000, -906_000_000
    house_reset, solar_reset = 1_769_972_064, 1_770_530_454
    events: list[dict[str, Any]] = []
    for k, sample in enumerate(stream):
        start = T0 + 30 * k
        if sample.reset:  # both counters reset together (a one-sided reset is a known defect)
            house_sum, solar_sum = 4096, 1024
            house_reset = solar_reset = start - 5
        house_sum += sample.house_watts * 30
        solar_sum += sample.solar_watts * 30
        house = [
            (
                "hp",
                "average_power",
                {"watts": sample.house_watts, "duration_s": sample.house_duration},
            ),
            (
                "hs",
                "summation_energy",
                {"summation_joules": house_sum, "summation_resettime_utc": house_reset},
            ),
        ]
        solar_events = [
            ("sp", "average_power", {"watts": sample.solar_watts, "duration_s": 30}),
            (
                "ss",
                "summation_energy",
                {"summation_joules": solar_sum, "summation_resettime_utc": solar_reset},
            ),
        ]
        ordered = (solar_events + house) if sample.solar_first else (house + solar_events)
        for tag, name, fields in ordered:
            role = "house-net" if tag[0] == "h" else "solar"
            if tag in sample.lost or (role == "solar" and not solar):
                continue
            payload = {"mac": role, "role": role, "starttime_utc": start, **fields}
            events.append({"event": name, "data": payload})
    return events


def theirs_household(
    events: list[dict[str, Any]], with_solar: bool
) -> list[tuple[str, dict[str, Any]]]:
    household = VirtualHousehold(with_solar)
    out: list[tuple[str, dict[str, Any]]] = []

    async def collect(name: str, payload: dict[str, Any]) -> None:
        out.append((name, payload))

    for flow in ("from_grid", "home_usage", "solar_generation", "to_grid"):
        household.subscribe(flow, collect)
        household.subscribe(f"{flow}_summation", collect)
    for event in events:
        if event["event"] == "average_power":
            run_sync(household.process_average_power_event(dict(event["data"])))
        else:
            run_sync(household.process_summation_event(dict(event["data"])))
    return out


def ours_household(
    events: list[dict[str, Any]], with_solar: bool
) -> list[tuple[str, dict[str, Any]]]:
    household = Household(with_solar)
    return [
        (out.name, out.payload())
        for event in events
        for out in household.process(household_input(event["event"], event["data"]))
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(samples, max_size=25), st.booleans(), st.booleans())
def test_household_views_agree_where_no_defect_is_triggered(
    stream: list[Sample], with_solar: bool, solar: bool
) -> None:
    if stream and solar and not with_solar:
        # Solar appearing after house-net-only operation is a known defect: powersensor-local
        # then mixes a house-net delta from before solar's first sample with a solar delta
        # from it. Avoid it: solar reports first, at k=0.
        stream[0].lost = stream[0].lost - {"sp", "ss"}
        stream[0].solar_first = True
    events = household_events(stream, solar=solar)
    assert ours_household(events, with_solar) == theirs_household(events, with_solar)


@settings(max_examples=200, deadline=None)
@given(st.lists(samples, min_size=1, max_size=20), st.booleans(), st.data())
def test_stale_and_duplicate_readings_never_change_our_output(
    stream: list[Sample], with_solar: bool, data: st.DataObject
) -> None:
    """Re-inserting copies of earlier readings anywhere later gives the same output."""
    events = household_events(stream, solar=True)
    noisy = list(events)
    for _ in range(data.draw(st.integers(0, 10))):
        at = data.draw(st.integers(0, len(noisy)))
        if at == 0:
            continue
        noisy.insert(at, noisy[data.draw(st.integers(0, at - 1))])
    clean = ours_household(events, with_solar)
    assert ours_household(noisy, with_solar) == clean


def test_a_fixed_solar_stream_agrees_and_is_not_empty() -> None:
    stream = [Sample(400 - 90 * k, -30 * k, frozenset(), k % 2 == 0, 30, False) for k in range(12)]
    events = household_events(stream, solar=True)
    ours = ours_household(events, True)
    assert len([name for name, _ in ours if name.endswith("_summation")]) == 4 * 11
    assert ours == theirs_household(events, True)
