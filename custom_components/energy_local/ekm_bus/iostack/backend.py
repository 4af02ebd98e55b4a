"""EKM ioStacks through EKM's own ``ekmdevice`` library: install on demand, import, read.

The ioStack protocol is implemented only in ``ekmdevice`` (EKM's repository; not on PyPI, source
not available to us), so this module follows its documented API and nothing more:
``ekmserial.create_serial_port(port, 'iostack')`` opens the port, ``ekmiostack.read_data`` and
``ekmiostack.get_status`` read one ioStack. The library is installed through Home Assistant's
requirements mechanism when the first ioStack is added, is imported only in an executor thread
(never when this integration loads) and is called only while the EKM bus has lent it the port
(:meth:`EkmBus.hand_off`). Its outputs become a typed :class:`IoStackReading` here, in one place.
"""

import asyncio
import contextlib
import importlib
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol, cast

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.requirements import async_process_requirements
from homeassistant.util.hass_dict import HassKey

from ...const import DOMAIN
from ...ekm import EkmBus

_LOGGER = logging.getLogger(__name__)

EKMDEVICE_REQUIREMENT: Final = (
    "ekmdevice @ https://github.com/ekmmetering/ekmdevice/archive/refs/heads/main.zip"
)
"""Where ioStack support comes from: EKM's repository as a direct-URL requirement (no git)."""

DEVICE_TYPE: Final = "iostack"
ISSUE_BACKEND_MISSING: Final = "ekmdevice_missing"

INPUTS: Final = (1, 2, 3, 4)
"""An ioStack has 4 pulse inputs, 4 analog inputs and 4 control outputs."""

NO_HUMIDITY: Final = 255
NO_LUX: Final = 65535
"""Values EKM's example shows for one-wire sensors without humidity / light: "no such sensor"."""

_ONE_WIRE_FIELD = re.compile(r"^OW_(\d+)_(\d+)_(degC|Humidity|Lux)$")

_API_KEY: HassKey[EkmDeviceApi] = HassKey(f"{DOMAIN}_ekmdevice")


class IoStackError(Exception):
    """An ioStack could not be read."""


class IoStackBackendError(IoStackError):
    """``ekmdevice`` is not installed and could not be installed."""


class IoStackPortError(IoStackError):
    """``ekmdevice`` could not open the bus's port."""

    def __init__(self, port: str, error: object) -> None:
        """Remember the port and why it did not open."""
        super().__init__(f"ekmdevice could not open {port}: {error}")
        self.port = port
        self.network = "://" in port


class IoStackReadError(IoStackError):
    """One ioStack did not answer, or answered something unusable."""


# --- the library's documented API, as much of it as is used ---------------------------------


class _SerialModule(Protocol):
    def create_serial_port(self, port: str, device_type: str) -> AbstractContextManager[Any]: ...


class _IoStackModule(Protocol):
    def get_status(self, serial_port: Any, address: Any) -> Mapping[str, Any]: ...

    def read_data(
        self, serial_port: Any, address: Any, include_b: bool = ...
    ) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class EkmDeviceApi:
    """The imported ``ekmdevice`` modules (untyped library: this is the typed boundary)."""

    serial: _SerialModule
    iostack: _IoStackModule


def _import_ekmdevice() -> EkmDeviceApi:
    """Import ekmdevice (blocking: runs in an executor thread)."""
    importlib.invalidate_caches()
    serial = importlib.import_module("ekmdevice.ekmserial")
    iostack = importlib.import_module("ekmdevice.ekmiostack")
    return EkmDeviceApi(cast("_SerialModule", serial), cast("_IoStackModule", iostack))


async def async_get_ekmdevice(hass: HomeAssistant) -> EkmDeviceApi:
    """The ``ekmdevice`` library, installed through Home Assistant's requirements if missing.

    A failure raises :class:`IoStackBackendError` and a repair issue saying what to do; success
    clears that issue. Meters never depend on this.
    """
    if (api := hass.data.get(_API_KEY)) is not None:
        return api
    try:
        api = await hass.async_add_executor_job(_import_ekmdevice)
    except ImportError as not_found:
        if hass.config.skip_pip:
            _raise_issue(hass)
            raise IoStackBackendError(
                "ekmdevice is not installed and Home Assistant may not install packages"
            ) from not_found
        _LOGGER.info("Installing %s for EKM ioStacks", EKMDEVICE_REQUIREMENT)
        try:
            await async_process_requirements(hass, DOMAIN, [EKMDEVICE_REQUIREMENT])
            api = await hass.async_add_executor_job(_import_ekmdevice)
        except (HomeAssistantError, ImportError) as err:
            _LOGGER.warning("EKM's ekmdevice library could not be installed: %s", err)
            _raise_issue(hass)
            raise IoStackBackendError(f"ekmdevice could not be installed: {err}") from err
    except Exception as err:  # the library is installed but fails to import
        _LOGGER.warning("EKM's ekmdevice library is installed but does not import: %s", err)
        _raise_issue(hass)
        raise IoStackBackendError(f"ekmdevice does not import: {err}") from err
    ir.async_delete_issue(hass, DOMAIN, ISSUE_BACKEND_MISSING)
    hass.data[_API_KEY] = api
    return api


def _raise_issue(hass: HomeAssistant) -> None:
    ir.async_create_issue(
        hass,
        DOMAIN,
        ISSUE_BACKEND_MISSING,
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key=ISSUE_BACKEND_MISSING,
        translation_placeholders={"requirement": EKMDEVICE_REQUIREMENT},
    )


# --- readings -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OneWireReading:
    """One one-wire temperature/humidity/light sensor (``OW_<port>_<n>_*``)."""

    port: int
    index: int
    temperature: float | None = None
    humidity: float | None = None
    lux: float | None = None

    @property
    def key(self) -> str:
        """``<port>_<n>``, as in EKM's field names."""
        return f"{self.port}_{self.index}"


@dataclass(frozen=True, slots=True)
class IoStackReading:
    """What one ioStack reported in one poll, typed; ``None`` where a value was missing."""

    analog: tuple[float | None, ...]
    pulse_counts: tuple[float | None, ...]
    inputs: int | None
    outputs: int | None
    one_wire: Mapping[str, OneWireReading]
    device_time: datetime | None
    lifetime_ms: float | None
    firmware: str | None
    hardware_type: float | None
    model: float | None
    chip_id: str | None
    raw: Mapping[str, Any] = field(default_factory=dict)
    status: Mapping[str, Any] = field(default_factory=dict)

    def input_on(self, number: int) -> bool | None:
        """Bit ``number - 1`` of State_Inputs."""
        return None if self.inputs is None else bool(self.inputs >> (number - 1) & 1)

    def output_on(self, number: int) -> bool | None:
        """Bit ``number - 1`` of State_Out."""
        return None if self.outputs is None else bool(self.outputs >> (number - 1) & 1)


def _number(value: object) -> float | None:
    """A numeric field (EKM's cloud names sometimes carry numbers as text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return float(value)
    return None


def _integer(value: object) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number == int(number) else None


def _time(value: object) -> datetime | None:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value)
    return None


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _one_wire(data: Mapping[str, Any]) -> dict[str, OneWireReading]:
    """The one-wire sensors present: one per ``OW_<port>_<n>_degC`` (etc.) group."""
    found: dict[tuple[int, int], dict[str, float | None]] = {}
    for name, value in data.items():
        if (match := _ONE_WIRE_FIELD.match(name)) is None:
            continue
        port, index, kind = int(match[1]), int(match[2]), match[3]
        number = _number(value)
        if (kind == "Humidity" and number == NO_HUMIDITY) or (kind == "Lux" and number == NO_LUX):
            number = None
        found.setdefault((port, index), {})[kind] = number
    sensors = (
        OneWireReading(port, index, values.get("degC"), values.get("Humidity"), values.get("Lux"))
        for (port, index), values in sorted(found.items())
    )
    return {sensor.key: sensor for sensor in sensors}


def reading_from_library(data: Mapping[str, Any], status: Mapping[str, Any]) -> IoStackReading:
    """Turn ``read_data`` (flat EKM names) and ``get_status`` outputs into a reading."""
    return IoStackReading(
        analog=tuple(_number(data.get(f"Analog_In_{n}")) for n in INPUTS),
        pulse_counts=tuple(_number(data.get(f"Pulse_Cnt_{n}")) for n in INPUTS),
        inputs=_integer(data.get("State_Inputs")),
        outputs=_integer(data.get("State_Out")),
        one_wire=_one_wire(data),
        device_time=_time(data.get("Device_Time", status.get("device_time"))),
        lifetime_ms=_number(status.get("lifetime_ms")),
        firmware=_text(data.get("Firmware")),
        hardware_type=_number(data.get("Hardware_Type", status.get("hw_type"))),
        model=_number(data.get("Model", status.get("model"))),
        chip_id=_text(status.get("chip_id")),
        raw=dict(data),
        status=dict(status),
    )


# --- blocking reads (executor thread, while the bus has lent the port) -----------------------


def read_iostacks(
    api: EkmDeviceApi, port: str, addresses: Iterable[str]
) -> dict[str, IoStackReading | IoStackError]:
    """Open the port with ekmdevice and read every ioStack; one failure stays with its ioStack.

    Raises :class:`IoStackPortError` when the port does not open. ekmdevice is an opaque
    library: whatever it raises while reading one ioStack counts as that ioStack's failure.
    """
    results: dict[str, IoStackReading | IoStackError] = {}
    with contextlib.ExitStack() as stack:
        try:
            serial_port = stack.enter_context(api.serial.create_serial_port(port, DEVICE_TYPE))
        except Exception as err:  # any failure of the library to open the port
            raise IoStackPortError(port, err) from err
        for address in addresses:
            try:
                status = api.iostack.get_status(serial_port, address)
                data = api.iostack.read_data(serial_port, address, include_b=True)
                results[address] = reading_from_library(data, status)
            except Exception as err:  # noqa: BLE001  (any library error is this ioStack's)
                results[address] = IoStackReadError(f"{type(err).__name__}: {err}")
    return results


async def async_with_lent_port[T](hass: HomeAssistant, bus: EkmBus, job: Callable[[str], T]) -> T:
    """Run ``job(port)`` in an executor thread while ``bus`` has lent ekmdevice its port.

    Meter sessions are all closed, and no meter transaction starts, until ``job`` ends;
    even when the caller is cancelled the port is taken back only once the thread let go.
    """
    async with bus.hand_off() as port:
        future = hass.async_add_executor_job(job, port)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            await asyncio.wait([future])
            raise
