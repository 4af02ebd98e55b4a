"""Reply parsing: the values ekmmeters HEAD decoded, strict validation, and round trips."""

import contextlib
import logging
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custom_components.energy_local.ekm import parse
from custom_components.energy_local.ekm.crc import ekm_crc
from custom_components.energy_local.ekm.errors import (
    EkmAddressMismatchError,
    EkmCrcError,
    EkmError,
    EkmFrameError,
    EkmRequestTypeError,
)
from custom_components.energy_local.ekm.frames import ReadBlock
from custom_components.energy_local.ekm.layout import V3_FIELDS, V4_A_FIELDS, V4_B_FIELDS
from custom_components.energy_local.ekm.models import (
    MeterReading,
    MeterVersion,
    PowerFactorKind,
    decode_cos_theta,
)
from tests.conftest import load_fixture
from tests.ekm.vectors import natives, rx_frames

V4 = "000300001285"
V3 = "000010006388"

# Documented corrections: where we differ from ekmmeters HEAD on purpose.
# Meter_Time: HEAD keeps the 14-character string; we decode it to a datetime.
CORRECTED = {"Meter_Time"}


def _meter_time(text: str) -> datetime:
    return datetime.strptime(text[:6] + text[8:], "%y%m%d%H%M%S")


def _assert_same_as_ekmmeters(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    assert set(ours) == set(theirs)
    for name, value in theirs.items():
        if name in CORRECTED:
            continue
        assert ours[name] == value, name
        assert type(ours[name]) is type(value), name
    assert ours["Meter_Time"] == _meter_time(theirs["Meter_Time"])


@pytest.mark.parametrize("scenario", ["read_v4_AB", "read_v4_AB_kwh_scale2"])
def test_v4_a_and_b(scenario: str) -> None:
    frame_a, frame_b = rx_frames(scenario)
    block_a = parse.parse_v4_a(frame_a, V4)
    block_b = parse.parse_v4_b(frame_b, V4, parse.frame_kwh_scale(frame_a))
    _assert_same_as_ekmmeters(dict(parse.merge_v4(block_a, block_b)), natives(scenario))


def test_v4_a_only() -> None:
    """HEAD's requestA() leaves its merged buffer empty; compare with its A+B read's A fields."""
    (frame_a,) = rx_frames("read_v4_A_only")
    ours = dict(parse.parse_v4_a(frame_a, V4))
    theirs = {k: v for k, v in natives("read_v4_AB").items() if k in ours}
    assert len(theirs) == len(ours)
    _assert_same_as_ekmmeters(ours, theirs)


@pytest.mark.parametrize("scenario", ["read_v3", "read_v3_with_terminator"])
def test_v3(scenario: str) -> None:
    (frame,) = rx_frames(scenario)
    _assert_same_as_ekmmeters(dict(parse.parse_v3(frame, V3)), natives(scenario))


def test_block_b_alone_uses_the_scale_of_block_a() -> None:
    """Correction: HEAD leaves B's kWh unscaled without a prior A read; we always use A's."""
    (frame_b,) = rx_frames("read_v4_B_only")
    theirs = natives("read_v4_B_only", "parsed_block_B")
    ours: dict[str, Any] = dict(parse.parse_v4_b(frame_b, V4, kwh_scale=1))
    assert theirs["kWh_Tariff_1"] == 20000.0  # HEAD: raw register, ÷1
    assert ours["kWh_Tariff_1"] == 2000.0  # ÷10, the scale block A of this meter reports
    for name, value in theirs.items():
        # Calculated fields come from block A (with its State_Watts_Dir), never from B alone.
        if name in CORRECTED or name.startswith(("Net_Calc_", "Power_Factor_")):
            continue
        if name.startswith(("kWh_", "Rev_kWh_")):
            assert ours[name] == value / 10, name
        else:
            assert ours[name] == value, name


def test_repeated_reads_match_every_time() -> None:
    frames = rx_frames("read_v4_repeated_B_caching")
    a_frames = [fr for fr in frames if fr[247:249] == b"00"]
    assert len(a_frames) == 12
    parsed = {repr(sorted(parse.parse_v4_a(fr, V4).items())) for fr in a_frames}
    assert len(parsed) == 1


def test_frames_agree_with_the_per_field_vector_table() -> None:
    frames = load_fixture("ekm/frames_meter_responses.json")
    layouts = {
        "v3_read_response": V3_FIELDS,
        "v4_A_response": V4_A_FIELDS,
        "v4_B_response": V4_B_FIELDS,
    }
    for key, fields in layouts.items():
        table = {fld["name"]: fld for fld in frames[key]["fields"]}
        for ours in fields:
            theirs = table[ours.name]
            assert (ours.offset, ours.size) == (theirs["offset"], theirs["size"]), ours.name


# --- strict validation -------------------------------------------------------------------


def test_crc_mismatch_vector() -> None:
    (frame,) = rx_frames("err_crc_mismatch")
    with pytest.raises(EkmCrcError, match="CRC"):
        parse.parse_v4_a(frame, V4)


def test_wrong_address_vector() -> None:
    (frame,) = rx_frames("err_wrong_address_echo")
    with pytest.raises(EkmAddressMismatchError, match="000300009999"):
        parse.parse_v4_a(frame, V4)


def test_wrong_request_type_vector() -> None:
    (frame,) = rx_frames("err_wrong_request_type")
    with pytest.raises(EkmRequestTypeError, match="'01'"):
        parse.parse_v4_a(frame, V4)


def test_partial_frame_vector() -> None:
    (frame,) = rx_frames("err_partial_frame")
    with pytest.raises(EkmFrameError, match="200 bytes"):
        parse.parse_v4_a(frame, V4)


def test_garbage_in_a_field_is_an_error_not_a_kept_old_value() -> None:
    """Correction: HEAD returns True and keeps the old value; we reject the frame."""
    frame_a = rx_frames("err_garbage_field_valid_crc")[0]
    assert b"?" in frame_a[104:108]
    with pytest.raises(EkmFrameError, match="RMS_Volts_Ln_1"):
        parse.parse_v4_a(frame_a, V4)


def _with_valid_crc(frame: bytes | bytearray) -> bytes:
    body = bytes(frame[:253])
    return body + ekm_crc(body[1:253])


def _good_a() -> bytes:
    return rx_frames("read_v4_A_only")[0]


@pytest.mark.parametrize(
    ("offset", "raw", "message"),
    [
        (0, b"\x01", "STX"),
        (252, b"\x02", "ETX"),
        (20, b"\xb1", "0x7F"),
        (159, b"X", "Cos_Theta_Ln_1"),
        (160, b"A", "Cos_Theta_Ln_1"),
        (171, b"?", "Reactive_Pwr_Ln_1"),
        (230, b" ", "kWh_Scale"),
    ],
)
def test_structural_errors(offset: int, raw: bytes, message: str) -> None:
    frame = bytearray(_good_a())
    frame[offset : offset + len(raw)] = raw
    with pytest.raises(EkmFrameError, match=message):
        parse.parse_v4_a(_with_valid_crc(frame), V4)


def test_signed_reactive_power_is_accepted() -> None:
    frame = bytearray(_good_a())
    frame[171:178] = b"-000512"
    values = parse.parse_v4_a(_with_valid_crc(frame), V4)
    assert values["Reactive_Pwr_Ln_1"] == -512


def test_invalid_meter_clock_is_none_not_an_error() -> None:
    frame = bytearray(_good_a())
    frame[233:247] = b"24??1801143015"
    assert parse.parse_v4_a(_with_valid_crc(frame), V4)["Meter_Time"] is None
    frame[233:247] = b"24133201143015"  # month 13
    assert parse.parse_v4_a(_with_valid_crc(frame), V4)["Meter_Time"] is None


def test_unknown_scale_divides_by_one_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    frame = bytearray(_good_a())
    frame[230:231] = b"7"
    frame = bytearray(_with_valid_crc(frame))
    with caplog.at_level(logging.WARNING):
        first = parse.parse_v4_a(bytes(frame), V4)
        parse.parse_v4_a(bytes(frame), V4)
    assert first["kWh_Tot"] == 26920.0
    assert first["kWh_Scale"] == 7
    assert sum("kWh_Scale 7" in r.getMessage() for r in caplog.records) == 1


# --- derived values ----------------------------------------------------------------------


def test_cos_theta_and_relays_and_inputs() -> None:
    frame_a, frame_b = rx_frames("read_v4_AB")
    values = parse.merge_v4(parse.parse_v4_a(frame_a, V4), parse.parse_v4_b(frame_b, V4, 1))
    reading = MeterReading(V4, MeterVersion.V4, values, (frame_a, frame_b))
    assert reading.has_block_b
    ln1 = reading.cos_theta(1)
    assert ln1 is not None
    assert (ln1.value, ln1.kind, ln1.signed) == (0.87, PowerFactorKind.LEADING, -0.87)
    assert reading.cos_theta(2) == decode_cos_theta("L095")
    assert decode_cos_theta(" 100").kind is PowerFactorKind.UNITY
    assert reading.relays_closed == (False, False)  # State_Out 1 = OffOff
    assert reading.inputs_low == (False, False, False)  # State_Inputs 0 = HighHighHigh
    only_a = MeterReading(V4, MeterVersion.V4, parse.parse_v4_a(frame_a, V4), (frame_a,))
    assert not only_a.has_block_b
    v3 = MeterReading(V3, MeterVersion.V3, parse.parse_v3(rx_frames("read_v3")[0], V3), ())
    assert v3.has_block_b
    assert v3.relays_closed is None
    assert v3.inputs_low is None


@pytest.mark.parametrize(
    ("state_out", "relays"),
    [(1, (False, False)), (2, (False, True)), (3, (True, False)), (4, (True, True)), (9, None)],
)
def test_state_out_decoding(state_out: int, relays: tuple[bool, bool] | None) -> None:
    reading = MeterReading(V4, MeterVersion.V4, {"State_Out": state_out}, ())
    assert reading.relays_closed == relays


@pytest.mark.parametrize(
    ("state", "low"),
    [(0, (False, False, False)), (4, (True, False, False)), (7, (True, True, True)), (8, None)],
)
def test_state_inputs_decoding(state: int, low: tuple[bool, bool, bool] | None) -> None:
    assert MeterReading(V4, MeterVersion.V4, {"State_Inputs": state}, ()).inputs_low == low


@pytest.mark.parametrize("bad", ["X100", "C1O0", "C10", "L0950"])
def test_cos_theta_rejects_garbage(bad: str) -> None:
    with pytest.raises(ValueError, match="Cos_Theta"):
        decode_cos_theta(bad)


def test_unknown_direction_leaves_no_signed_watts() -> None:
    frame = bytearray(_good_a())
    frame[228:229] = b"9"
    values = parse.parse_v4_a(_with_valid_crc(frame), V4)
    assert "Net_Calc_Watts_Tot" not in values


# --- property tests: build → parse round trips, and fuzzing --------------------------------

_kwh = st.integers(0, 99_999_999)
_cos = st.builds(lambda p, n: f"{p}{n:03d}", st.sampled_from("LC "), st.integers(0, 100))
_time = st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31, 23, 59, 59)).map(
    lambda d: d.replace(microsecond=0)
)


def _random_values(fields: tuple[Any, ...], draw: st.DrawFn, divisor: int) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for fld in fields:
        enc = fld.encoding
        if enc is parse.Encoding.KWH:
            values[fld.name] = draw(_kwh) / divisor
        elif enc is parse.Encoding.DECIMAL:
            values[fld.name] = draw(st.integers(0, 10**fld.size - 1)) / 10**fld.decimals
        elif enc is parse.Encoding.INT:
            values[fld.name] = draw(st.integers(0, 10**fld.size - 1))
        elif enc is parse.Encoding.SIGNED_INT:
            values[fld.name] = draw(st.integers(-(10 ** (fld.size - 1) - 1), 10**fld.size - 1))
        elif enc is parse.Encoding.COS_THETA:
            values[fld.name] = draw(_cos)
        elif enc is parse.Encoding.TIME:
            values[fld.name] = draw(_time)
    for name in ("State_Watts_Dir",):
        if name in values:
            values[name] = draw(st.integers(1, 8))
    return values


@st.composite
def _v4_case(draw: st.DrawFn) -> tuple[int, dict[str, Any], dict[str, Any]]:
    scale = draw(st.sampled_from([0, 1, 2]))
    divisor = 10**scale
    a = _random_values(V4_A_FIELDS, draw, divisor)
    b = _random_values(V4_B_FIELDS, draw, divisor)
    return scale, a, b


@settings(max_examples=150, deadline=None)
@given(_v4_case(), st.from_regex(r"\A[0-9]{12}\Z"))
def test_v4_build_then_parse_round_trip(
    case: tuple[int, dict[str, Any], dict[str, Any]], address: str
) -> None:
    scale, a, b = case
    frame_a = parse.build_reply(a, address, ReadBlock.A, kwh_scale=scale)
    frame_b = parse.build_reply(b, address, ReadBlock.B, kwh_scale=scale)
    got_a = parse.parse_v4_a(frame_a, address)
    got_b = parse.parse_v4_b(frame_b, address, parse.frame_kwh_scale(frame_a))
    for name, value in a.items():
        if name != "kWh_Scale":
            assert got_a[name] == value, name  # type: ignore[literal-required]
    assert got_a["kWh_Scale"] == scale
    for name, value in b.items():
        assert got_b[name] == value, name  # type: ignore[literal-required]


@settings(max_examples=100, deadline=None)
@given(st.data(), st.from_regex(r"\A[0-9]{12}\Z"))
def test_v3_build_then_parse_round_trip(data: st.DataObject, address: str) -> None:
    drawn = _random_values(V3_FIELDS, data.draw, 10)
    got = parse.parse_v3(parse.build_reply(drawn, address, None), address)
    for name, value in drawn.items():
        assert got[name] == value, name  # type: ignore[literal-required]


def _parse_any(frame: bytes) -> None:
    for call in (
        lambda: parse.parse_v3(frame, V3),
        lambda: parse.parse_v4_a(frame, V4),
        lambda: parse.parse_v4_b(frame, V4, 1),
    ):
        with contextlib.suppress(EkmError):
            call()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_library_errors(data: bytes) -> None:
    _parse_any(data)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["read_v4_A_only", "read_v3", "read_v4_B_only"]),
    st.lists(st.tuples(st.integers(0, 254), st.integers(0, 255)), min_size=1, max_size=8),
    st.booleans(),
)
def test_corrupted_frames_only_raise_library_errors(
    scenario: str, changes: list[tuple[int, int]], fix_crc: bool
) -> None:
    frame = bytearray(rx_frames(scenario)[0])
    for offset, byte in changes:
        frame[offset] = byte
    _parse_any(_with_valid_crc(frame) if fix_crc else bytes(frame))
