"""The ekmdevice backend: install on demand, typed readings from its documented outputs, reads."""

import sys
from datetime import datetime
from pathlib import Path
from types import ModuleType
from unittest.mock import AsyncMock, patch

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.requirements import RequirementsNotFound

from custom_components.energy_local.const import DOMAIN
from custom_components.energy_local.ekm_bus.iostack.backend import (
    EKMDEVICE_REQUIREMENT,
    ISSUE_BACKEND_MISSING,
    IoStackBackendError,
    IoStackPortError,
    IoStackReadError,
    IoStackReading,
    async_get_ekmdevice,
    read_iostacks,
    reading_from_library,
)
from tests.ekm_bus.iostack.helpers import (
    IOSTACK_ADDRESS,
    STANDIN,
    forget_ekmdevice,
    put_standin_on_path,
)

PROCESS = "custom_components.energy_local.ekm_bus.iostack.backend.async_process_requirements"

# EKM's documented get_status example, verbatim.
STATUS = {
    "hw_type": 133,
    "model": 1,
    "version_major": 1,
    "version_minor": 2,
    "lifetime_ms": 10139455050,
    "chip_id": "0009ffffffffffff4e4553157009000e",
    "rtc_period": 60,
    "rtc_offset": 1,
    "device_time": "2024-05-28T18:52:10",
}


def documented_read_data() -> dict[str, object]:
    """EKM's documented read_data example (values the documentation elides are made up)."""
    data: dict[str, object] = {
        "Firmware": "99.2",
        "Hardware_Type": 133,
        "Model": 1,
        "Device_Time": "2024-05-28T18:35:05",
        "State_Inputs": 0,
        "State_Out": 1,
        "Analog_In_1": 2406,
        "Analog_In_2": 1095,
        "Analog_In_3": 905,
        "Analog_In_4": 856,
    }
    for n in (1, 2, 3, 4):
        data[f"Pulse_Cnt_{n}"] = 10 * n
        data[f"Pulse_Cnt_Rst_{n}"] = 0
    for port, temp in ((1, 18.0), (2, 18.6), (3, 19.1), (4, 20.3)):
        data[f"OW_{port}_1_degC"] = temp
        data[f"OW_{port}_1_Humidity"] = 255
        data[f"OW_{port}_1_Lux"] = 65535
    return data


def test_documented_example_becomes_a_typed_reading() -> None:
    reading = reading_from_library(documented_read_data(), STATUS)
    assert reading.analog == (2406, 1095, 905, 856)
    assert reading.pulse_counts == (10, 20, 30, 40)
    assert [reading.input_on(n) for n in (1, 2, 3, 4)] == [False] * 4
    # State_Out 1: output 1 on (a waveform owns it in EKM's example), the others off.
    assert [reading.output_on(n) for n in (1, 2, 3, 4)] == [True, False, False, False]
    assert reading.device_time == datetime(2024, 5, 28, 18, 35, 5)
    assert reading.lifetime_ms == 10139455050
    assert reading.firmware == "99.2"
    assert reading.chip_id == STATUS["chip_id"]
    assert list(reading.one_wire) == ["1_1", "2_1", "3_1", "4_1"]
    first = reading.one_wire["1_1"]
    # Humidity 255 and lux 65535 mean "no such sensor": only the temperature is there.
    assert (first.temperature, first.humidity, first.lux) == (18.0, None, None)
    assert reading.one_wire["2_1"].temperature == 18.6


def test_a_full_one_wire_sensor_and_bits() -> None:
    data = documented_read_data() | {
        "OW_2_3_degC": "21.5",
        "OW_2_3_Humidity": 48,
        "OW_2_3_Lux": 320,
        "State_Inputs": 0b1010,
        "State_Out": 0b0110,
    }
    reading = reading_from_library(data, {})
    sensor = reading.one_wire["2_3"]
    assert (sensor.port, sensor.index) == (2, 3)
    assert (sensor.temperature, sensor.humidity, sensor.lux) == (21.5, 48, 320)
    assert [reading.input_on(n) for n in (1, 2, 3, 4)] == [False, True, False, True]
    assert [reading.output_on(n) for n in (1, 2, 3, 4)] == [False, True, True, False]


def test_missing_and_odd_values_are_none() -> None:
    reading = reading_from_library(
        {"Analog_In_1": True, "Analog_In_2": "n/a", "State_Inputs": 1.5, "Device_Time": "later"},
        {},
    )
    assert reading.analog == (None, None, None, None)
    assert reading.pulse_counts == (None, None, None, None)
    assert reading.inputs is None
    assert reading.input_on(1) is None
    assert reading.output_on(1) is None
    assert reading.device_time is None
    assert reading.lifetime_ms is None
    assert reading.firmware is None
    assert reading.one_wire == {}
    # get_status fills what read_data lacks.
    assert reading_from_library({}, STATUS).device_time == datetime(2024, 5, 28, 18, 52, 10)


@pytest.fixture
def port_file(tmp_path: Path) -> str:
    path = tmp_path / "ttyIOSTACK"
    path.write_bytes(b"")
    return str(path)


async def test_read_iostacks_through_the_standin(
    hass: HomeAssistant, ekmdevice_standin: ModuleType, port_file: str
) -> None:
    api = await async_get_ekmdevice(hass)
    ekmdevice_standin.devices[IOSTACK_ADDRESS].pulse_counts = [5, 6, 7, 8]
    results = read_iostacks(api, port_file, [IOSTACK_ADDRESS, "000000000002"])
    reading = results[IOSTACK_ADDRESS]
    assert isinstance(reading, IoStackReading)
    assert reading.pulse_counts == (5, 6, 7, 8)
    assert reading.analog == (2405, 1095, 905, 856)
    assert reading.one_wire["2_1"].temperature == 18.6
    assert reading.lifetime_ms == 10139455050
    # An address nobody answers fails alone.
    assert isinstance(results["000000000002"], IoStackReadError)
    assert ekmdevice_standin.calls[0] == ("create_serial_port", port_file, "iostack")
    assert ("read_data", IOSTACK_ADDRESS) in ekmdevice_standin.calls
    assert not ekmdevice_standin.open_ports  # the port was closed again


async def test_library_errors_stay_with_their_iostack(
    hass: HomeAssistant, ekmdevice_standin: ModuleType, port_file: str
) -> None:
    api = await async_get_ekmdevice(hass)
    import ekmdevice  # noqa: PLC0415  (the stand-in, importable only inside this test)

    ekmdevice_standin.errors[IOSTACK_ADDRESS] = ekmdevice.EKMDeviceError("CRC_ERR")
    result = read_iostacks(api, port_file, [IOSTACK_ADDRESS])[IOSTACK_ADDRESS]
    assert isinstance(result, IoStackReadError)
    assert "CRC_ERR" in str(result)


@pytest.mark.parametrize(
    ("port", "network"),
    [("socket://127.0.0.1:4001", True), ("rfc2217://127.0.0.1:4001", True), ("/dev/none", False)],
)
async def test_a_port_ekmdevice_cannot_open(
    hass: HomeAssistant, ekmdevice_standin: ModuleType, port: str, network: bool
) -> None:
    api = await async_get_ekmdevice(hass)
    with pytest.raises(IoStackPortError) as caught:
        read_iostacks(api, port, [IOSTACK_ADDRESS])
    assert caught.value.network is network
    assert caught.value.port == port
    assert not any(call[0] == "read_data" for call in ekmdevice_standin.calls)


async def test_installed_library_is_used_without_installing(
    hass: HomeAssistant, ekmdevice_standin: ModuleType
) -> None:
    with patch(PROCESS) as process:
        api = await async_get_ekmdevice(hass)
        assert await async_get_ekmdevice(hass) is api  # loaded once per Home Assistant
    process.assert_not_called()


async def test_missing_library_is_installed_on_demand(hass: HomeAssistant) -> None:
    forget_ekmdevice()
    hass.config.skip_pip = False

    async def install(_hass: HomeAssistant, name: str, requirements: list[str]) -> None:
        assert name == DOMAIN
        assert requirements == [EKMDEVICE_REQUIREMENT]
        put_standin_on_path()

    try:
        with patch(PROCESS, side_effect=install) as process:
            api = await async_get_ekmdevice(hass)
        process.assert_awaited_once()
        assert hasattr(api.iostack, "read_data")
        assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_BACKEND_MISSING) is None
    finally:
        sys.path.remove(str(STANDIN))
        forget_ekmdevice()


async def test_failed_install_raises_a_repair_issue(hass: HomeAssistant) -> None:
    forget_ekmdevice()
    hass.config.skip_pip = False
    failure = RequirementsNotFound(DOMAIN, [EKMDEVICE_REQUIREMENT])
    with (
        patch(PROCESS, AsyncMock(side_effect=failure)),
        pytest.raises(IoStackBackendError, match="could not be installed"),
    ):
        await async_get_ekmdevice(hass)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_BACKEND_MISSING)
    assert issue is not None
    assert issue.translation_key == ISSUE_BACKEND_MISSING
    assert issue.translation_placeholders == {"requirement": EKMDEVICE_REQUIREMENT}
    assert issue.severity is ir.IssueSeverity.ERROR


async def test_no_install_when_home_assistant_skips_pip(hass: HomeAssistant) -> None:
    forget_ekmdevice()
    assert hass.config.skip_pip
    with patch(PROCESS) as process, pytest.raises(IoStackBackendError, match="may not install"):
        await async_get_ekmdevice(hass)
    process.assert_not_called()
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_BACKEND_MISSING) is not None


async def test_a_library_that_does_not_import(hass: HomeAssistant) -> None:
    with (
        patch(
            "custom_components.energy_local.ekm_bus.iostack.backend.importlib.import_module",
            side_effect=SyntaxError("broken"),
        ),
        pytest.raises(IoStackBackendError, match="does not import"),
    ):
        await async_get_ekmdevice(hass)
    assert ir.async_get(hass).async_get_issue(DOMAIN, ISSUE_BACKEND_MISSING) is not None
