"""Read an ekmdevice ``readloop.toml``: the port, the meters and the ioStacks of one bus.

The format is inferred from ekmdevice's documentation (its source was not available to us), so
it accepts the spellings that documentation shows and refuses anything else by name::

    port = "/dev/ttyUSB0"  # or: [serial] port = "/dev/ttyUSB0"

    [[meters]]
    address = 300001285  # or "300001285", "000300001285"
    version = 4  # optional (detected): 3, 4, "4", "v4"
    name = "Main panel"  # optional

    [[iostacks]]
    address = 1
    name = "Pump house"  # optional

Every problem raises :class:`ReadloopError` with a ``code`` and ``placeholders`` that say what
and where, so a user interface can explain it in its own words.
"""

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .address import normalize_address
from .errors import EkmError, InvalidAddressError
from .models import MeterVersion

MAX_SIZE: Final = 64 * 1024
"""A readloop.toml is a few hundred bytes; anything this large is not one."""

TOP_LEVEL: Final = "top level"
SERIAL: Final = "[serial]"
_TOP_KEYS: Final = frozenset({"port", "serial", "meters", "iostacks"})
_SERIAL_KEYS: Final = frozenset({"port"})
_METER_KEYS: Final = frozenset({"address", "version", "name"})
_IOSTACK_KEYS: Final = frozenset({"address", "name"})
_VERSIONS: Final = {str(version.value): version for version in MeterVersion}


class ReadloopError(EkmError, ValueError):
    """A readloop.toml that cannot be used; ``code`` names the problem, ``placeholders`` where."""

    def __init__(self, code: str, message: str, **placeholders: str) -> None:
        """Keep the problem's code and its details (key, where, value, line, …)."""
        super().__init__(message)
        self.code = code
        self.placeholders: dict[str, str] = placeholders


@dataclass(frozen=True, slots=True)
class ReadloopMeter:
    """One ``[[meters]]`` table; ``version`` None means "detect it by reading the meter"."""

    address: str
    version: MeterVersion | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ReadloopIoStack:
    """One ``[[iostacks]]`` table."""

    address: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Readloop:
    """What a readloop.toml describes: one bus, with its meters and ioStacks in file order."""

    port: str
    meters: tuple[ReadloopMeter, ...] = field(default=())
    iostacks: tuple[ReadloopIoStack, ...] = field(default=())


def read_readloop(content: bytes | str) -> Readloop:
    """Parse and check a readloop.toml (raw bytes of an upload, or pasted text)."""
    if len(content) > MAX_SIZE:
        raise ReadloopError(
            "too_large", f"larger than {MAX_SIZE} bytes", limit=f"{MAX_SIZE // 1024} KiB"
        )
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")  # editors on Windows write a BOM
        except UnicodeDecodeError as err:
            raise ReadloopError("not_text", f"not UTF-8 text: {err}") from err
    try:
        document = tomllib.loads(content)
    except tomllib.TOMLDecodeError as err:
        raise ReadloopError(
            "malformed",
            str(err),
            line=str(err.lineno),
            column=str(err.colno),
            detail=err.msg,
        ) from err
    return _readloop(document)


def _readloop(document: Mapping[str, Any]) -> Readloop:
    _refuse_unknown(document, _TOP_KEYS, TOP_LEVEL)
    port = _port(document)
    meters = tuple(_meter(table, where) for table, where in _tables(document, "meters"))
    iostacks = tuple(_iostack(table, where) for table, where in _tables(document, "iostacks"))
    if not meters and not iostacks:
        raise ReadloopError("no_devices", "no [[meters]] and no [[iostacks]]")
    _refuse_duplicates(meters, "meters")
    _refuse_duplicates(iostacks, "iostacks")
    return Readloop(port, meters, iostacks)


def _refuse_unknown(table: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    for key in table:
        if key not in known:
            raise ReadloopError(
                "unknown_key", f"unknown key {key!r} in {where}", key=key, where=where
            )


def _port(document: Mapping[str, Any]) -> str:
    """``port`` at the top level or in ``[serial]``, not both."""
    found: list[tuple[object, str]] = []
    if "port" in document:
        found.append((document["port"], TOP_LEVEL))
    if "serial" in document:
        serial = document["serial"]
        if not isinstance(serial, dict):
            raise _wrong_type("serial", TOP_LEVEL, "a [serial] table")
        _refuse_unknown(serial, _SERIAL_KEYS, SERIAL)
        if "port" in serial:
            found.append((serial["port"], SERIAL))
    if len(found) > 1:
        raise ReadloopError("two_ports", "port given at the top level and in [serial]")
    if not found:
        raise ReadloopError("missing_key", "no port", key="port", where=TOP_LEVEL)
    value, where = found[0]
    if not isinstance(value, str):
        raise _wrong_type("port", where, 'text, such as "/dev/ttyUSB0"')
    if not (port := value.strip()):
        raise ReadloopError("missing_key", "empty port", key="port", where=where)
    return port


def _tables(document: Mapping[str, Any], key: str) -> list[tuple[Mapping[str, Any], str]]:
    """The ``[[key]]`` tables, each with how to name it in an error (``[[meters]] #2``)."""
    value = document.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _wrong_type(key, TOP_LEVEL, f"[[{key}]] tables")
    return [(item, f"[[{key}]] #{number}") for number, item in enumerate(value, start=1)]


def _address(table: Mapping[str, Any], where: str) -> str:
    if "address" not in table:
        raise ReadloopError("missing_key", f"no address in {where}", key="address", where=where)
    value = table["address"]
    try:
        return normalize_address(value)
    except InvalidAddressError as err:
        raise ReadloopError(
            "invalid_address", f"{where}: {err}", value=repr(value), where=where
        ) from err


def _name(table: Mapping[str, Any], where: str) -> str | None:
    value = table.get("name")
    if value is None:
        return None
    if not isinstance(value, str):
        raise _wrong_type("name", where, "text")
    return value.strip() or None


def _version(table: Mapping[str, Any], where: str) -> MeterVersion | None:
    """3 or 4, as a number or as text ("4", "v4"); absent means detect it."""
    if "version" not in table:
        return None
    value = table["version"]
    text: str | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip().lower().removeprefix("v")
    if text is None or (version := _VERSIONS.get(text)) is None:
        raise ReadloopError(
            "bad_version", f"{where}: version {value!r}", value=repr(value), where=where
        )
    return version


def _meter(table: Mapping[str, Any], where: str) -> ReadloopMeter:
    _refuse_unknown(table, _METER_KEYS, where)
    return ReadloopMeter(_address(table, where), _version(table, where), _name(table, where))


def _iostack(table: Mapping[str, Any], where: str) -> ReadloopIoStack:
    _refuse_unknown(table, _IOSTACK_KEYS, where)
    return ReadloopIoStack(_address(table, where), _name(table, where))


def _refuse_duplicates(devices: tuple[ReadloopMeter | ReadloopIoStack, ...], key: str) -> None:
    """One address once per kind: 30001, "30001" and "000000030001" are the same device."""
    first: dict[str, int] = {}
    for number, device in enumerate(devices, start=1):
        if (earlier := first.setdefault(device.address, number)) != number:
            raise ReadloopError(
                "duplicate_address",
                f"{device.address} in [[{key}]] #{earlier} and #{number}",
                address=device.address,
                where=f"[[{key}]] #{number}",
                first=f"[[{key}]] #{earlier}",
            )


def _wrong_type(key: str, where: str, expected: str) -> ReadloopError:
    return ReadloopError(
        "wrong_type",
        f"{key} in {where} must be {expected}",
        key=key,
        where=where,
        expected=expected,
    )
