"""Host frames: byte for byte what ekmmeters HEAD wrote in every recorded scenario."""

from datetime import datetime

import pytest

from custom_components.energy_local.ekm import frames as f
from custom_components.energy_local.ekm.address import normalize_address, printed_address
from custom_components.energy_local.ekm.errors import EkmError, InvalidAddressError
from tests.conftest import load_fixture
from tests.ekm.vectors import tx_frames

V4 = "000300001285"
V3 = "000010006388"
WHEN = datetime(2024, 11, 18, 14, 30, 15)

# Scenario → (the frames our builders make for it, in the order ekmmeters sent them).
COMMANDS: dict[str, tuple[bytes, bytes]] = {
    "cmd_max_demand_reset_now": (f.password_frame(), f.max_demand_reset_now_frame()),
    "cmd_relay1_close_1s": (f.password_frame(), f.relay_frame(1, f.RelayState.CLOSED, 1)),
    "cmd_relay1_close_9999s_pwd": (
        f.password_frame("12345678"),
        f.relay_frame(f.Relay.RELAY_1, f.RelayState.CLOSED, 9999),
    ),
    "cmd_relay2_open_hold": (f.password_frame(), f.relay_frame(2, f.RelayState.OPEN, 0)),
    "cmd_set_ct_ratio_200": (f.password_frame(), f.ct_ratio_frame(200)),
    "cmd_v3_set_ct_ratio_400": (f.password_frame(), f.ct_ratio_frame(400)),
    "cmd_set_lcd": (f.password_frame(), f.lcd_frame([1, 2, 3, 12, 28])),
    "cmd_set_max_demand_period_15min": (
        f.password_frame(),
        f.max_demand_period_frame(f.MaxDemandPeriod.MINUTES_15),
    ),
    "cmd_set_max_demand_period_60min": (
        f.password_frame(),
        f.max_demand_period_frame(f.MaxDemandPeriod.MINUTES_60),
    ),
    "cmd_set_max_demand_reset_interval_daily": (
        f.password_frame(),
        f.max_demand_reset_interval_frame(f.MaxDemandResetInterval.DAILY),
    ),
    "cmd_set_meter_password": (f.password_frame(), f.meter_password_frame("12345678")),
    "cmd_set_pulse_input_ratio_in1_55": (f.password_frame(), f.pulse_input_ratio_frame(1, 55)),
    "cmd_set_pulse_input_ratio_in3_9999": (
        f.password_frame(),
        f.pulse_input_ratio_frame(3, 9999),
    ),
    "cmd_set_pulse_output_ratio_800": (f.password_frame(), f.pulse_output_ratio_frame(800)),
    "cmd_set_time": (f.password_frame(), f.set_time_frame(WHEN)),
    "cmd_v3_set_time": (f.password_frame(), f.set_time_frame(WHEN)),
    "cmd_zero_resettable_kwh": (f.password_frame(), f.zero_resettable_frame()),
    # Schedules, seasons and holidays have no typed builder yet; the generic write frame
    # reproduces them from the register and data the protocol notes give.
    "cmd_set_holiday_dates": (f.password_frame(), f.write_frame("00B0", "010107041225" + "0" * 68)),
    "cmd_set_schedule": (
        f.password_frame(),
        f.write_frame("0071", "070001123002180003221504" + "0" * 24),
    ),
    "cmd_set_season_schedules": (
        f.password_frame(),
        f.write_frame("0080", "010101150402010703311004" + "0" * 24),
    ),
    "cmd_set_weekend_holiday_schedules": (f.password_frame(), f.write_frame("00C0", "0102")),
}


@pytest.mark.parametrize("scenario", sorted(COMMANDS))
def test_command_session_frames(scenario: str) -> None:
    sent = tx_frames(scenario)
    address = V3 if "v3" in scenario else V4
    # ekmmeters: read(s) first, then password, write, close.
    assert sent[-3:] == [*COMMANDS[scenario], f.CLOSE_FRAME]
    reads = sent[:-3]
    if "v3" in scenario:
        assert reads == [f.read_request(address)]
    else:
        assert reads[0] == f.read_request(address, f.ReadBlock.A)
        assert reads[1:] in ([], [f.read_request(address, f.ReadBlock.B)])


def test_every_distinct_request_frame_is_reproduced() -> None:
    ours = {frame for pair in COMMANDS.values() for frame in pair}
    ours |= {
        f.CLOSE_FRAME,
        f.read_request(V4, f.ReadBlock.A),
        f.read_request(V4, f.ReadBlock.B),
        f.read_request(V3),
        f.read_request("300009999", f.ReadBlock.A),
    }
    ours |= {f.settings_read_frame(reg) for reg in ("00B0", "0011", "0012", "0070", "0071")}
    vectors = load_fixture("ekm/request_frames.json")["frames"]
    missing = [name for name, v in vectors.items() if bytes.fromhex(v["hex"]) not in ours]
    assert missing == []


def test_read_requests_and_close() -> None:
    assert f.read_request(10006388) == b"/?000010006388!\r\n"
    assert f.read_request("300001285", f.ReadBlock.B) == b"/?00030000128501!\r\n"
    assert bytes.fromhex("0142300375") == f.CLOSE_FRAME
    assert tx_frames("end_session") == [f.CLOSE_FRAME]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (300001285, "000300001285"),
        ("300001285", "000300001285"),
        (" 000300001285 ", "000300001285"),
        ("1", "000000000001"),
        (999999999999, "999999999999"),
        (0, "000000000000"),
    ],
)
def test_address_normalisation(raw: int | str, expected: str) -> None:
    assert normalize_address(raw) == expected


@pytest.mark.parametrize(
    ("address", "printed"),
    [("000300001285", "300001285"), ("000010006388", "10006388"), ("000000000000", "0")],
)
def test_an_address_prints_without_its_padding(address: str, printed: str) -> None:
    assert printed_address(address) == printed


@pytest.mark.parametrize(
    "bad", ["", "0003000012850", "  1285x", "12 85", "-5", -5, 10**12, 1.5, None, True, "١٢٣"]
)
def test_bad_addresses_name_the_value(bad: object) -> None:
    with pytest.raises(InvalidAddressError, match="address") as info:
        normalize_address(bad)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, EkmError)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize(
    "build",
    [
        lambda: f.password_frame("1234567"),
        lambda: f.password_frame("1234567a"),
        lambda: f.relay_frame(3, 1, 0),
        lambda: f.relay_frame(1, 2, 0),
        lambda: f.relay_frame(1, 1, 10000),
        lambda: f.relay_frame(1, 1, -1),
        lambda: f.ct_ratio_frame(250),
        lambda: f.ct_ratio_frame(True),
        lambda: f.pulse_input_ratio_frame(4, 1),
        lambda: f.pulse_input_ratio_frame(1, 0),
        lambda: f.pulse_output_ratio_frame(10000),
        lambda: f.max_demand_period_frame(5),
        lambda: f.max_demand_reset_interval_frame(5),
        lambda: f.meter_password_frame("abc"),
        lambda: f.lcd_frame([]),
        lambda: f.lcd_frame([1] * 41),
        lambda: f.lcd_frame([100]),
        lambda: f.write_frame("00D", "1"),
        lambda: f.write_frame("00D0", "1a"),
        lambda: f.settings_read_frame("0!00"),
        lambda: f.set_time_frame(datetime(2100, 1, 1)),
    ],
)
def test_builders_refuse_what_the_meter_would_misread(build: object) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        build()  # type: ignore[operator]


FULLWIDTH_DIGITS = "".join(chr(0xFF11 + i) for i in range(8))  # isdigit() but not ASCII


@pytest.mark.parametrize("password", ["abc", "1234567", "123456789", "1234567x", FULLWIDTH_DIGITS])
def test_a_bad_password_is_refused_without_echoing_it(password: str) -> None:
    with pytest.raises(ValueError, match="exactly 8 decimal digits") as caught:
        f.password_frame(password)
    assert password not in str(caught.value)
