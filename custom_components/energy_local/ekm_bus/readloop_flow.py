"""Import an ekmdevice readloop.toml: a bus with its meters and ioStacks in one step.

Every device in the file is read before anything is stored, so a device that does not answer
leaves no half-made entry. A bus already set up on the file's port gets only the devices it
lacks; the others are reported as skipped.
"""

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import probatio as vol
from homeassistant.components.file_upload import process_uploaded_file
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlowResult,
    ConfigSubentry,
    ConfigSubentryData,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    FileSelector,
    FileSelectorConfig,
    TextSelector,
    TextSelectorConfig,
)

from ..const import CONF_ENTRY_TYPE, EntryType
from ..ekm import (
    DEFAULT_PASSWORD,
    EkmBus,
    EkmError,
    EkmPortError,
    MeterVersion,
    Readloop,
    ReadloopError,
    ReadloopIoStack,
    ReadloopMeter,
    printed_address,
    read_readloop,
)
from ..ekm.readloop import MAX_SIZE
from .config_flow import EkmBusSteps, async_bus_coordinator, port_error_key
from .const import (
    CONF_ADDRESS,
    CONF_ANALOG_INPUTS,
    CONF_NAME,
    CONF_OFFSET,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_PULSE_FACTOR,
    CONF_PULSE_INPUTS,
    CONF_PULSE_KIND,
    CONF_SCALE,
    CONF_UNIT,
    CONF_VERSION,
    SUBENTRY_IOSTACK,
    SUBENTRY_METER,
    PulseKind,
)
from .coordinator import EkmBusConfigEntry
from .iostack.backend import (
    EKMDEVICE_REQUIREMENT,
    INPUTS,
    EkmDeviceApi,
    IoStackBackendError,
    IoStackError,
    IoStackPortError,
    async_get_ekmdevice,
    async_with_lent_port,
    read_iostacks,
)
from .models import iostack_title, meter_title

CONF_FILE: Final = "file"
CONF_CONTENT: Final = "content"
NONE_LISTED: Final = "none"


@dataclass(frozen=True, slots=True)
class _Found:
    """Every new device answered; each meter's version (as read, or detected), by address."""

    versions: dict[str, MeterVersion]


@dataclass(frozen=True, slots=True)
class _Refused:
    """A device did not answer (or the port failed): the form's error and the address."""

    error: str
    address: str = ""


def _read_upload(hass: HomeAssistant, file_id: str) -> bytes:
    """The uploaded file's bytes, one more than the limit at most (blocking: executor)."""
    with process_uploaded_file(hass, file_id) as path, Path(path).open("rb") as file:
        return file.read(MAX_SIZE + 1)


def _meter_line(meter: ReadloopMeter) -> str:
    version = f"v{meter.version.value}" if meter.version else "version detected"
    name = f": {meter.name}" if meter.name else ""
    return f"- Omnimeter {printed_address(meter.address)} ({version}){name}"


def _iostack_line(iostack: ReadloopIoStack) -> str:
    name = f": {iostack.name}" if iostack.name else ""
    return f"- ioStack {printed_address(iostack.address)}{name}"


def _listing(lines: list[str]) -> str:
    return "\n".join(lines) if lines else NONE_LISTED


def _meter_subentry(meter: ReadloopMeter, version: MeterVersion) -> ConfigSubentryData:
    """The subentry the meter flow would make with its defaults (pulse inputs count nothing)."""
    return ConfigSubentryData(
        data={
            CONF_ADDRESS: meter.address,
            CONF_VERSION: version.value,
            CONF_PASSWORD: DEFAULT_PASSWORD,
            CONF_PULSE_INPUTS: [
                {CONF_PULSE_KIND: PulseKind.NONE.value, CONF_PULSE_FACTOR: 1.0} for _ in range(3)
            ],
        },
        subentry_type=SUBENTRY_METER,
        title=meter.name or meter_title(meter.address),
        unique_id=meter.address,
    )


def _iostack_subentry(iostack: ReadloopIoStack) -> ConfigSubentryData:
    """The subentry the ioStack flow would make with its defaults (raw inputs)."""
    data: dict[str, Any] = {
        CONF_ADDRESS: iostack.address,
        CONF_PULSE_INPUTS: [
            {CONF_PULSE_KIND: PulseKind.NONE.value, CONF_PULSE_FACTOR: 1.0} for _ in INPUTS
        ],
        CONF_ANALOG_INPUTS: [{CONF_SCALE: 1.0, CONF_OFFSET: 0.0, CONF_UNIT: ""} for _ in INPUTS],
    }
    if iostack.name:
        data[CONF_NAME] = iostack.name
    return ConfigSubentryData(
        data=data,
        subentry_type=SUBENTRY_IOSTACK,
        title=iostack_title(iostack.address, iostack.name),
        unique_id=f"iostack_{iostack.address}",
    )


def _new_devices(
    readloop: Readloop, port: str, entry: ConfigEntry | None
) -> tuple[tuple[ReadloopMeter, ...], tuple[ReadloopIoStack, ...], dict[str, str]]:
    """The file's meters and ioStacks that ``entry`` lacks, and the listing of what is where."""
    meters, iostacks, skipped = readloop.meters, readloop.iostacks, []
    if entry is not None:
        have = {(sub.subentry_type, sub.data[CONF_ADDRESS]) for sub in entry.subentries.values()}
        meters = tuple(m for m in meters if (SUBENTRY_METER, m.address) not in have)
        iostacks = tuple(i for i in iostacks if (SUBENTRY_IOSTACK, i.address) not in have)
        skipped = [_meter_line(m) for m in readloop.meters if m not in meters]
        skipped += [_iostack_line(i) for i in readloop.iostacks if i not in iostacks]
    placeholders = {
        "port": port,
        "meters": _listing([_meter_line(m) for m in meters]),
        "iostacks": _listing([_iostack_line(i) for i in iostacks]),
        "skipped": _listing(skipped),
    }
    return meters, iostacks, placeholders


async def _read_meters(bus: EkmBus, meters: tuple[ReadloopMeter, ...]) -> _Found | _Refused:
    """Each meter's version (read, or detected); else the first meter that stayed silent."""
    found: dict[str, MeterVersion] = {}
    for meter in meters:
        try:
            if meter.version is None:
                found[meter.address] = await bus.identify(meter.address)
            else:
                await bus.read_meter(meter.address, meter.version, include_b=False)
                found[meter.address] = meter.version
        except EkmPortError:
            raise
        except EkmError:
            return _Refused("readloop_meter_not_responding", meter.address)
    return _Found(found)


class ReadloopSteps(EkmBusSteps):
    """The config flow's readloop.toml import: read the file, show it, read its devices, add."""

    _readloop: Readloop | None = None
    _bus_port: str = ""

    async def async_step_ekm_readloop(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Upload or paste a readloop.toml; it is checked before anything is read."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            file_id = user_input.get(CONF_FILE)
            pasted = (user_input.get(CONF_CONTENT) or "").strip()
            if file_id and pasted:
                errors["base"] = "readloop_file_and_text"
            elif not file_id and not pasted:
                errors["base"] = "readloop_empty"
            else:
                try:
                    content: bytes | str = pasted
                    if file_id:
                        content = await self.hass.async_add_executor_job(
                            _read_upload, self.hass, file_id
                        )
                    readloop = read_readloop(content)
                except ReadloopError as err:
                    errors["base"] = f"readloop_{err.code}"
                    placeholders = err.placeholders
                except ValueError:  # process_uploaded_file: an unknown (expired) file id
                    errors["base"] = "readloop_upload_missing"
                else:
                    self._readloop = readloop
                    self._bus_port = await self._async_resolve_port(readloop.port)
                    return await self.async_step_ekm_readloop_confirm()
        schema = vol.Schema(
            {
                vol.Optional(CONF_FILE): FileSelector(FileSelectorConfig(accept=".toml")),
                vol.Optional(CONF_CONTENT): TextSelector(TextSelectorConfig(multiline=True)),
            }
        )
        return self.async_show_form(
            step_id="ekm_readloop",
            data_schema=self.add_suggested_values_to_schema(
                schema, {CONF_CONTENT: user_input.get(CONF_CONTENT)} if user_input else None
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    def _bus_entry(self, port: str) -> EkmBusConfigEntry | None:
        """The bus entry already on ``port``, if any (one entry per port)."""
        for entry in self._async_current_entries(include_ignore=False):
            if entry.data.get(CONF_PORT) == port:
                return entry
        return None

    async def async_step_ekm_readloop_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show what the file holds (and what is already on the bus); read it all, then add."""
        readloop = self._readloop
        assert readloop is not None  # noqa: S101  (only reached after a good file)
        port = self._bus_port
        entry = self._bus_entry(port)
        meters, iostacks, placeholders = _new_devices(readloop, port, entry)
        if not meters and not iostacks:
            return self.async_abort(
                reason="readloop_nothing_new", description_placeholders=placeholders
            )
        errors: dict[str, str] = {}
        if user_input is not None:
            api: EkmDeviceApi | None = None
            if iostacks:
                if not isinstance(got := await self._async_iostack_api(), EkmDeviceApi):
                    return got
                api = got
            if entry is None:
                outcome = await self._async_read_new_bus(port, meters, iostacks, api)
            else:
                outcome = await self._async_read_on_bus(entry, meters, iostacks, api)
            if isinstance(outcome, _Found) and entry is not None:
                return self._add_to_bus(entry, readloop, outcome)
            if isinstance(outcome, _Found):
                # Another flow may have set this port up while the devices were read.
                self._async_abort_entries_match({CONF_PORT: port})
                subentries = [_meter_subentry(m, outcome.versions[m.address]) for m in meters]
                subentries += [_iostack_subentry(i) for i in iostacks]
                return self.async_create_entry(
                    title=f"EKM bus {port}",
                    data={CONF_ENTRY_TYPE: EntryType.EKM_BUS, CONF_PORT: port},
                    subentries=subentries,
                )
            if not isinstance(outcome, _Refused):
                return outcome  # an abort: nothing to retry in this flow
            errors["base"] = outcome.error
            placeholders["address"] = printed_address(outcome.address)
        return self.async_show_form(
            step_id="ekm_readloop_confirm",
            errors=errors,
            description_placeholders=placeholders,
        )

    def _add_to_bus(
        self, entry: EkmBusConfigEntry, readloop: Readloop, found: _Found
    ) -> ConfigFlowResult:
        """Add the devices the bus still lacks (it reloads once by itself), and report."""
        # A device added by hand while the others were read is skipped, not added twice.
        meters, iostacks, placeholders = _new_devices(readloop, self._bus_port, entry)
        subentries = [_meter_subentry(m, found.versions[m.address]) for m in meters]
        subentries += [_iostack_subentry(i) for i in iostacks]
        for sub in subentries:
            self.hass.config_entries.async_add_subentry(
                entry,
                ConfigSubentry(
                    data=MappingProxyType(sub["data"]),
                    subentry_type=sub["subentry_type"],
                    title=sub["title"],
                    unique_id=sub["unique_id"],
                ),
            )
        reason = "readloop_added" if subentries else "readloop_nothing_new"
        return self.async_abort(reason=reason, description_placeholders=placeholders)

    async def _async_read_new_bus(
        self,
        port: str,
        meters: tuple[ReadloopMeter, ...],
        iostacks: tuple[ReadloopIoStack, ...],
        api: EkmDeviceApi | None,
    ) -> _Found | _Refused | ConfigFlowResult:
        """Open the port ourselves (no entry holds it yet) and read every device on it."""
        bus = EkmBus(port)
        try:
            await bus.open()
            found = await _read_meters(bus, meters)
            if isinstance(found, _Refused) or api is None:
                return found
            addresses = [iostack.address for iostack in iostacks]
            try:
                results = await async_with_lent_port(
                    self.hass, bus, lambda url: read_iostacks(api, url, addresses)
                )
            except IoStackPortError as err:
                return self._iostack_failed(err, addresses[0])
            for address in addresses:
                if isinstance(error := results[address], IoStackError):
                    return self._iostack_failed(error, address)
        except EkmPortError as err:
            return _Refused(port_error_key(bus, err))
        finally:
            await bus.close()
        return found

    async def _async_read_on_bus(
        self,
        entry: EkmBusConfigEntry,
        meters: tuple[ReadloopMeter, ...],
        iostacks: tuple[ReadloopIoStack, ...],
        api: EkmDeviceApi | None,
    ) -> _Found | _Refused | ConfigFlowResult:
        """Read the new devices through the running bus, which holds the port."""
        coordinator = await async_bus_coordinator(entry)
        if coordinator is None:
            return _Refused("bus_not_ready")
        try:
            found = await _read_meters(coordinator.bus, meters)
        except EkmPortError:
            return _Refused("bus_not_ready")
        if isinstance(found, _Refused) or api is None:
            return found
        for iostack in iostacks:
            try:
                await coordinator.async_read_iostack(api, iostack.address)
            except IoStackError as err:
                return self._iostack_failed(err, iostack.address)
        return found

    async def _async_iostack_api(self) -> EkmDeviceApi | ConfigFlowResult:
        """The ekmdevice library (installed on demand, as for an ioStack added by hand)."""
        try:
            return await async_get_ekmdevice(self.hass)
        except IoStackBackendError:
            return self.async_abort(
                reason="ekmdevice_unavailable",
                description_placeholders={"requirement": EKMDEVICE_REQUIREMENT},
            )

    def _iostack_failed(self, err: IoStackError, address: str) -> _Refused | ConfigFlowResult:
        """As the ioStack flow: a network port ekmdevice cannot open ends the import."""
        if isinstance(err, IoStackPortError):
            if not err.network:
                return _Refused("iostack_port_error", address)
            return self.async_abort(
                reason="iostack_port_unsupported",
                description_placeholders={"port": err.port, "error": str(err.__cause__)},
            )
        return _Refused("readloop_iostack_not_responding", address)
