"""readloop.toml: the accepted spellings, and every problem named with what and where."""

import pytest

from custom_components.energy_local.ekm import (
    EkmError,
    MeterVersion,
    Readloop,
    ReadloopError,
    ReadloopIoStack,
    ReadloopMeter,
    read_readloop,
)
from custom_components.energy_local.ekm.readloop import MAX_SIZE

GOOD = """\
# as EKM's examples lay it out
port = "/dev/ttyUSB0"

[[meters]]
address = 300001285
version = 4
name = "Main panel"

[[meters]]
address = "10006388"
version = "v3"

[[iostacks]]
address = 1
name = "Pump house"
"""


def _error(content: bytes | str) -> ReadloopError:
    with pytest.raises(ReadloopError) as caught:
        read_readloop(content)
    return caught.value


def test_a_good_file() -> None:
    assert read_readloop(GOOD) == Readloop(
        port="/dev/ttyUSB0",
        meters=(
            ReadloopMeter("000300001285", MeterVersion.V4, "Main panel"),
            ReadloopMeter("000010006388", MeterVersion.V3, None),
        ),
        iostacks=(ReadloopIoStack("000000000001", "Pump house"),),
    )


def test_uploaded_bytes_with_a_bom() -> None:
    assert read_readloop(b"\xef\xbb\xbf" + GOOD.encode()) == read_readloop(GOOD)


@pytest.mark.parametrize(
    ("spelling", "version"),
    [
        ("3", MeterVersion.V3),
        ("4", MeterVersion.V4),
        ('"4"', MeterVersion.V4),
        ('"v4"', MeterVersion.V4),
        ('"V3"', MeterVersion.V3),
        ('" v4 "', MeterVersion.V4),
    ],
)
def test_version_spellings(spelling: str, version: MeterVersion) -> None:
    found = read_readloop(f'port = "p"\n[[meters]]\naddress = 1\nversion = {spelling}\n')
    assert found.meters[0].version is version


def test_no_version_means_detect() -> None:
    found = read_readloop('port = "p"\n[[meters]]\naddress = 1\n')
    assert found.meters[0].version is None


@pytest.mark.parametrize("spelling", ["30001", '"30001"', '"000000030001"', '" 30001 "'])
def test_address_spellings(spelling: str) -> None:
    found = read_readloop(f'port = "p"\n[[iostacks]]\naddress = {spelling}\n')
    assert found.iostacks[0].address == "000000030001"


def test_port_in_a_serial_table_and_trimmed() -> None:
    found = read_readloop('[serial]\nport = " socket://127.0.0.1:4001 "\n[[meters]]\naddress=1\n')
    assert found.port == "socket://127.0.0.1:4001"


def test_inline_tables_and_empty_names() -> None:
    found = read_readloop('port = "p"\nmeters = [{address = 1, name = "  "}]\n')
    assert found.meters == (ReadloopMeter("000000000001"),)
    assert found.iostacks == ()


def test_malformed_toml_names_line_and_column() -> None:
    error = _error('port = "/dev/ttyUSB0"\n[[meters]]\naddress = 300001285\nversion = 4 4\n')
    assert error.code == "malformed"
    assert error.placeholders["line"] == "4"
    assert error.placeholders["column"] == "13"
    assert error.placeholders["detail"]
    assert isinstance(error, EkmError)
    assert isinstance(error, ValueError)


def test_a_key_twice_is_malformed() -> None:
    error = _error('port = "a"\nport = "b"\n')
    assert (error.code, error.placeholders["line"]) == ("malformed", "2")


def test_not_utf8() -> None:
    assert _error(b'port = "\xff"\n').code == "not_text"


def test_too_large() -> None:
    error = _error("#" * (MAX_SIZE + 1))
    assert error.code == "too_large"
    assert error.placeholders == {"limit": "64 KiB"}


@pytest.mark.parametrize(
    ("text", "key", "where"),
    [
        ('port = "p"\nbaud = 9600\n[[meters]]\naddress = 1\n', "baud", "top level"),
        ('[serial]\nport = "p"\nbaudrate = 9600\n[[meters]]\naddress=1\n', "baudrate", "[serial]"),
        (
            'port = "p"\n[[meters]]\naddress = 1\n[[meters]]\nadress = 2\n',
            "adress",
            "[[meters]] #2",
        ),
        ('port = "p"\n[[iostacks]]\naddress = 1\nversion = 4\n', "version", "[[iostacks]] #1"),
        ('port = "p"\n[[meter]]\naddress = 1\n', "meter", "top level"),
    ],
)
def test_unknown_keys_are_named_with_where(text: str, key: str, where: str) -> None:
    error = _error(text)
    assert error.code == "unknown_key"
    assert error.placeholders == {"key": key, "where": where}


@pytest.mark.parametrize(
    ("text", "key", "where"),
    [
        ("[[meters]]\naddress = 1\n", "port", "top level"),
        ('port = "  "\n[[meters]]\naddress = 1\n', "port", "top level"),
        ('[serial]\nport = ""\n[[meters]]\naddress = 1\n', "port", "[serial]"),
        ('port = "p"\n[[meters]]\nversion = 4\n', "address", "[[meters]] #1"),
        (
            'port = "p"\n[[meters]]\naddress = 1\n[[iostacks]]\nname = "x"\n',
            "address",
            "[[iostacks]] #1",
        ),
    ],
)
def test_missing_keys(text: str, key: str, where: str) -> None:
    error = _error(text)
    assert error.code == "missing_key"
    assert error.placeholders == {"key": key, "where": where}


@pytest.mark.parametrize(
    ("text", "key", "where"),
    [
        ("port = 1\n[[meters]]\naddress = 1\n", "port", "top level"),
        ('serial = "p"\n[[meters]]\naddress = 1\n', "serial", "top level"),
        ("[serial]\nport = 1\n[[meters]]\naddress = 1\n", "port", "[serial]"),
        ('port = "p"\n[meters]\naddress = 1\n', "meters", "top level"),
        ('port = "p"\nmeters = [1, 2]\n', "meters", "top level"),
        ('port = "p"\niostacks = {address = 1}\n', "iostacks", "top level"),
        ('port = "p"\n[[meters]]\naddress = 1\nname = 7\n', "name", "[[meters]] #1"),
    ],
)
def test_wrong_types(text: str, key: str, where: str) -> None:
    error = _error(text)
    assert error.code == "wrong_type"
    assert (error.placeholders["key"], error.placeholders["where"]) == (key, where)
    assert error.placeholders["expected"]


@pytest.mark.parametrize(
    ("spelling", "shown"),
    [
        ("5", "5"),
        ("2", "2"),
        ('"v5"', "'v5'"),
        ('"four"', "'four'"),
        ("4.0", "4.0"),
        ("true", "True"),
    ],
)
def test_bad_versions(spelling: str, shown: str) -> None:
    error = _error(
        f'port = "p"\n[[meters]]\naddress = 1\n[[meters]]\naddress = 2\nversion = {spelling}\n'
    )
    assert error.code == "bad_version"
    assert error.placeholders == {"value": shown, "where": "[[meters]] #2"}


@pytest.mark.parametrize(
    ("spelling", "shown"),
    [
        ('"12ab"', "'12ab'"),
        ("-1", "-1"),
        ("1234567890123", "1234567890123"),
        ('""', "''"),
        ("1.5", "1.5"),
        ("true", "True"),
        ("[1]", "[1]"),
    ],
)
def test_invalid_addresses(spelling: str, shown: str) -> None:
    error = _error(f'port = "p"\n[[iostacks]]\naddress = {spelling}\n')
    assert error.code == "invalid_address"
    assert error.placeholders == {"value": shown, "where": "[[iostacks]] #1"}


def test_duplicate_addresses_in_any_spelling() -> None:
    error = _error(
        'port = "p"\n[[meters]]\naddress = 30001\n[[meters]]\naddress = 2\n'
        '[[meters]]\naddress = "000000030001"\n'
    )
    assert error.code == "duplicate_address"
    assert error.placeholders == {
        "address": "000000030001",
        "where": "[[meters]] #3",
        "first": "[[meters]] #1",
    }


def test_duplicate_iostacks() -> None:
    error = _error('port = "p"\n[[iostacks]]\naddress = 1\n[[iostacks]]\naddress = "1"\n')
    assert (error.code, error.placeholders["where"]) == ("duplicate_address", "[[iostacks]] #2")


def test_a_meter_and_an_iostack_may_share_a_number() -> None:
    """Meters and ioStacks speak different protocols; the add flows allow this too."""
    found = read_readloop('port = "p"\n[[meters]]\naddress = 1\n[[iostacks]]\naddress = 1\n')
    assert found.meters[0].address == found.iostacks[0].address


def test_two_ports() -> None:
    error = _error('port = "a"\n[serial]\nport = "b"\n[[meters]]\naddress = 1\n')
    assert (error.code, error.placeholders) == ("two_ports", {})


@pytest.mark.parametrize("text", ['port = "p"\n', 'port = "p"\nmeters = []\niostacks = []\n'])
def test_no_devices(text: str) -> None:
    assert _error(text).code == "no_devices"
