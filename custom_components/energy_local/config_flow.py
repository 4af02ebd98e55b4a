"""Config flows: an EKM bus per serial port, its meters and ioStacks as subentries."""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from typing import Any, Final

import probatio as vol
from homeassistant.components import usb
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.core import callback
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    SerialPortSelector,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo

from .const import (
    CONF_ADDRESS,
    CONF_ANALOG_INPUTS,
    CONF_BLOCK_B_EVERY,
    CONF_ENTRY_TYPE,
    CONF_NAME,
    CONF_OFFSET,
    CONF_PASSWORD,
    CONF_POLL_INTERVAL,
    CONF_PORT,
    CONF_PULSE_FACTOR,
    CONF_PULSE_INPUTS,
    CONF_PULSE_KIND,
    CONF_SCALE,
    CONF_UNIT,
    CONF_VERSION,
    DEFAULT_BLOCK_B_EVERY,
    DEFAULT_POLL_INTERVAL,
    DOMAIN,
    MAX_POLL_INTERVAL,
    MIN_POLL_INTERVAL,
    SUBENTRY_IOSTACK,
    SUBENTRY_METER,
    EntryType,
    PulseKind,
)
from .ekm import (
    DEFAULT_PASSWORD,
    EkmBus,
    EkmError,
    EkmPortError,
    InvalidAddressError,
    MeterVersion,
    normalize_address,
)
from .ekm_coordinator import EkmBusConfigEntry, EkmBusCoordinator
from .iostack_backend import (
    EKMDEVICE_REQUIREMENT,
    INPUTS,
    IoStackBackendError,
    IoStackError,
    IoStackPortError,
    IoStackReading,
    async_get_ekmdevice,
)
from .powersensor import normalize_mac
from .powersensor.const import DEFAULT_PORT as PS_DEFAULT_PORT
from .powersensor_flow import (
    CONF_HOST,
    CONF_PLUGS,
    CONF_PS_PORT,
    POWERSENSOR_HOME_ID,
    PlugAddress,
    PowersensorOptionsFlow,
    probe_plug,
)

VERSION_AUTO = "auto"

# Adding a meter or ioStack reloads the bus entry (about a second); a subentry flow that wants
# to read from the bus meanwhile waits for the new coordinator instead of failing.
BUS_RELOAD_WAIT: Final = 15.0
_RELOADING = (
    ConfigEntryState.NOT_LOADED,
    ConfigEntryState.SETUP_IN_PROGRESS,
    ConfigEntryState.UNLOAD_IN_PROGRESS,
)


def _new_address(
    entry: ConfigEntry,
    raw: str,
    subentry_type: str,
    errors: dict[str, str],
    *,
    duplicate: str = "already_configured",
) -> str | None:
    """``raw`` as a normalized address not yet on the bus; else None and the field's error."""
    try:
        address = normalize_address(raw)
    except InvalidAddressError:
        errors[CONF_ADDRESS] = "invalid_address"
        return None
    if any(
        sub.data[CONF_ADDRESS] == address for sub in entry.get_subentries_of_type(subentry_type)
    ):
        errors[CONF_ADDRESS] = duplicate
        return None
    return address


async def async_bus_coordinator(
    entry: EkmBusConfigEntry, *, replacing: EkmBusCoordinator | None = None
) -> EkmBusCoordinator | None:
    """The coordinator of the loaded bus entry, waiting while it reloads; None if it fails.

    With ``replacing``, wait for a coordinator other than that one (it was just unloaded).
    """
    deadline = time.monotonic() + BUS_RELOAD_WAIT
    while True:
        if entry.state is ConfigEntryState.LOADED:
            coordinator: EkmBusCoordinator = entry.runtime_data
            if coordinator is not replacing:
                return coordinator
        elif entry.state not in _RELOADING:
            return None  # setup failed (port gone, …): nothing to wait for
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(0.1)


def _port_error(err: EkmPortError) -> str:
    """The translated error key for a port that would not open."""
    cause = err.__cause__
    if isinstance(cause, socket.gaierror):
        return "host_not_found"
    code = getattr(cause, "errno", None)
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
        return "port_not_found"
    if code in (errno.EACCES, errno.EPERM):
        return "permission_denied"
    if code in (errno.EBUSY, errno.EAGAIN):
        return "port_busy"
    return "cannot_connect"


async def _validate_port(port: str) -> str | None:
    """Open and release the port; return an error key, or None when it works."""
    bus = EkmBus(port)
    try:
        await bus.open()
    except EkmPortError as err:
        return _port_error(err)
    finally:
        await bus.close()
    return None


class EnergyLocalConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add an EKM bus, or the Powersensor home (discovered by zeroconf or by address)."""

    VERSION = 1
    _plug: PlugAddress | None = None

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Options: an EKM bus's polling, or the Powersensor home's roles and write rate."""
        if config_entry.data.get(CONF_ENTRY_TYPE) == EntryType.POWERSENSOR:
            return PowersensorOptionsFlow()
        return EkmBusOptionsFlow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """Meters and ioStacks are subentries of a bus."""
        if config_entry.data.get(CONF_ENTRY_TYPE) == EntryType.EKM_BUS:
            return {SUBENTRY_METER: MeterSubentryFlow, SUBENTRY_IOSTACK: IoStackSubentryFlow}
        return {}

    async def _async_resolve_port(self, port: str) -> str:
        """Store local ports by their stable /dev/serial/by-id name (ttyUSB0 renumbers)."""
        port = port.strip()
        if "://" in port:
            return port
        return await self.hass.async_add_executor_job(usb.get_serial_by_id, port)

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose what to add: an EKM bus, or a Powersensor plug by its address."""
        return self.async_show_menu(step_id="user", menu_options=["ekm_bus", "powersensor"])

    async def async_step_ekm_bus(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Pick the serial port (local, socket:// or rfc2217://) of an EKM bus."""
        errors: dict[str, str] = {}
        if user_input is not None:
            port = await self._async_resolve_port(user_input[CONF_PORT])
            self._async_abort_entries_match({CONF_PORT: port})
            if (error := await _validate_port(port)) is None:
                return self.async_create_entry(
                    title=f"EKM bus {port}",
                    data={CONF_ENTRY_TYPE: EntryType.EKM_BUS, CONF_PORT: port},
                )
            errors[CONF_PORT] = error
        return self.async_show_form(
            step_id="ekm_bus",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema({vol.Required(CONF_PORT): SerialPortSelector()}), user_input
            ),
            errors=errors,
        )

    # --- Powersensor: one entry for the home, its plugs found by zeroconf or added by host ---

    def _home_entry(self) -> ConfigEntry | None:
        for entry in self._async_current_entries(include_ignore=False):
            if entry.data.get(CONF_ENTRY_TYPE) == EntryType.POWERSENSOR:
                return entry
        return None

    def _add_plug_to_home(self, home: ConfigEntry, plug: PlugAddress) -> bool:
        """Store a plug's address in the home entry; True when something changed."""
        plugs = dict(home.data.get(CONF_PLUGS, {}))
        if plugs.get(plug.mac) == plug.as_data():
            return False
        plugs[plug.mac] = plug.as_data()
        self.hass.config_entries.async_update_entry(home, data={**home.data, CONF_PLUGS: plugs})
        return True

    async def async_step_zeroconf(self, discovery_info: ZeroconfServiceInfo) -> ConfigFlowResult:
        """A plug announced itself: its MAC (TXT ``id``) is its identity."""
        raw_id = discovery_info.properties.get("id")
        mac = normalize_mac(raw_id) if isinstance(raw_id, str) else None
        if mac is None:
            return self.async_abort(reason="no_plug_id")
        plug = PlugAddress(mac, discovery_info.host, discovery_info.port or PS_DEFAULT_PORT)
        if (home := self._home_entry()) is not None:
            # A new plug joins the home; a known one that moved gets its new address.
            self._add_plug_to_home(home, plug)
            return self.async_abort(reason="already_configured")
        await self.async_set_unique_id(POWERSENSOR_HOME_ID)
        self._abort_if_unique_id_configured()
        self._plug = plug
        self.context["title_placeholders"] = {"mac": mac}
        return await self.async_step_zeroconf_confirm()

    async def async_step_zeroconf_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm adding the home with the discovered plug."""
        plug = self._plug
        assert plug is not None  # noqa: S101  (only reached from the zeroconf step)
        if user_input is not None:
            return self._create_home(plug)
        self._set_confirm_only()
        return self.async_show_form(
            step_id="zeroconf_confirm",
            description_placeholders={"mac": plug.mac, "host": plug.host},
        )

    def _create_home(self, plug: PlugAddress) -> ConfigFlowResult:
        return self.async_create_entry(
            title="Powersensor home",
            data={CONF_ENTRY_TYPE: EntryType.POWERSENSOR, CONF_PLUGS: {plug.mac: plug.as_data()}},
        )

    async def async_step_powersensor(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add a plug by its address (networks without multicast): it must answer first."""
        errors: dict[str, str] = {}
        if user_input is not None:
            host = user_input[CONF_HOST].strip()
            port = int(user_input.get(CONF_PS_PORT, PS_DEFAULT_PORT))
            mac = await probe_plug(host, port)
            if mac is None:
                errors["base"] = "plug_not_answering"
            else:
                plug = PlugAddress(mac, host, port)
                if (home := self._home_entry()) is not None:
                    self._add_plug_to_home(home, plug)
                    return self.async_abort(reason="plug_added")
                await self.async_set_unique_id(POWERSENSOR_HOME_ID)
                self._abort_if_unique_id_configured()
                return self._create_home(plug)
        schema = vol.Schema(
            {
                vol.Required(CONF_HOST): TextSelector(),
                vol.Optional(CONF_PS_PORT, default=PS_DEFAULT_PORT): NumberSelector(
                    NumberSelectorConfig(min=1, max=65535, step=1, mode=NumberSelectorMode.BOX)
                ),
            }
        )
        return self.async_show_form(
            step_id="powersensor",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Move a bus to another port; meters, entities and history stay."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            port = await self._async_resolve_port(user_input[CONF_PORT])
            if port != entry.data[CONF_PORT]:
                self._async_abort_entries_match({CONF_PORT: port})
            # The bus itself holds the old port while loaded; only a new port can be tested.
            if port == entry.data[CONF_PORT] or (error := await _validate_port(port)) is None:
                return self.async_update_reload_and_abort(
                    entry, title=f"EKM bus {port}", data_updates={CONF_PORT: port}
                )
            errors[CONF_PORT] = error
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema({vol.Required(CONF_PORT): SerialPortSelector()}),
                user_input or {CONF_PORT: entry.data[CONF_PORT]},
            ),
            errors=errors,
        )


class EkmBusOptionsFlow(OptionsFlow):
    """Poll interval and how often block B (tariffs, ratios, max demand) is read."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show and store the options."""
        if user_input is not None:
            return self.async_create_entry(
                data={
                    CONF_POLL_INTERVAL: int(user_input[CONF_POLL_INTERVAL]),
                    CONF_BLOCK_B_EVERY: int(user_input[CONF_BLOCK_B_EVERY]),
                }
            )
        options = self.config_entry.options
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_POLL_INTERVAL,
                    default=options.get(CONF_POLL_INTERVAL, DEFAULT_POLL_INTERVAL),
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=MIN_POLL_INTERVAL,
                        max=MAX_POLL_INTERVAL,
                        step=1,
                        unit_of_measurement="s",
                        mode=NumberSelectorMode.BOX,
                    )
                ),
                vol.Required(
                    CONF_BLOCK_B_EVERY,
                    default=options.get(CONF_BLOCK_B_EVERY, DEFAULT_BLOCK_B_EVERY),
                ): NumberSelector(
                    NumberSelectorConfig(min=1, max=100, step=1, mode=NumberSelectorMode.BOX)
                ),
            }
        )
        return self.async_show_form(step_id="init", data_schema=schema)


def _pulse_fields(defaults: list[dict[str, Any]]) -> dict[Any, Any]:
    fields: dict[Any, Any] = {}
    for index in range(3):
        current = defaults[index] if index < len(defaults) else {}
        fields[
            vol.Required(f"pulse_{index + 1}_kind", default=current.get(CONF_PULSE_KIND, "none"))
        ] = SelectSelector(
            SelectSelectorConfig(
                options=[kind.value for kind in PulseKind],
                translation_key="pulse_kind",
                mode=SelectSelectorMode.DROPDOWN,
            )
        )
        fields[
            vol.Required(f"pulse_{index + 1}_factor", default=current.get(CONF_PULSE_FACTOR, 1.0))
        ] = NumberSelector(
            NumberSelectorConfig(
                min=0.000001, max=1_000_000, step="any", mode=NumberSelectorMode.BOX
            )
        )
    return fields


def _pulse_inputs(user_input: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            CONF_PULSE_KIND: user_input[f"pulse_{i}_kind"],
            CONF_PULSE_FACTOR: float(user_input[f"pulse_{i}_factor"]),
        }
        for i in (1, 2, 3)
    ]


_VERSION_SELECTOR = SelectSelector(
    SelectSelectorConfig(
        options=[VERSION_AUTO, "3", "4"],
        translation_key="meter_version",
        mode=SelectSelectorMode.LIST,
    )
)
_PASSWORD_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))


class MeterSubentryFlow(ConfigSubentryFlow):
    """Add or reconfigure one meter on a bus: read it first, refuse what does not answer."""

    async def _probe(self, address: str, version: str) -> MeterVersion | str:
        """Read the meter (detecting its version when asked); return it, or an error key."""
        entry: EkmBusConfigEntry = self._get_entry()
        coordinator: EkmBusCoordinator | None = None
        for _attempt in range(2):
            coordinator = await async_bus_coordinator(entry, replacing=coordinator)
            if coordinator is None:
                break
            try:
                return await self._read(coordinator.bus, address, version)
            except EkmPortError:
                # Unless the entry began reloading under us (closing our bus), the port failed.
                if entry.state is ConfigEntryState.LOADED and entry.runtime_data is coordinator:
                    break
            except EkmError:
                return "meter_not_responding"
        return "bus_not_ready"

    @staticmethod
    async def _read(bus: EkmBus, address: str, version: str) -> MeterVersion:
        if version == VERSION_AUTO:
            return await bus.identify(address)
        found = MeterVersion(int(version))
        await bus.read_meter(address, found, include_b=False)
        return found

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask for the address (and optionally version, password, pulse inputs)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            address = _new_address(
                self._get_entry(), user_input[CONF_ADDRESS], SUBENTRY_METER, errors
            )
            if address is not None:
                version = await self._probe(address, user_input[CONF_VERSION])
                if isinstance(version, str):
                    errors["base"] = version
                else:
                    return self.async_create_entry(
                        title=f"Omnimeter {address.lstrip('0') or '0'}",
                        data={
                            CONF_ADDRESS: address,
                            CONF_VERSION: version.value,
                            CONF_PASSWORD: user_input.get(CONF_PASSWORD) or DEFAULT_PASSWORD,
                            CONF_PULSE_INPUTS: _pulse_inputs(user_input),
                        },
                        unique_id=address,
                    )
        schema = vol.Schema(
            {
                vol.Required(CONF_ADDRESS): TextSelector(),
                vol.Required(CONF_VERSION, default=VERSION_AUTO): _VERSION_SELECTOR,
                vol.Optional(CONF_PASSWORD): _PASSWORD_SELECTOR,
                **_pulse_fields([]),
            }
        )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a meter's version, password or pulse inputs (its address stays)."""
        subentry = self._get_reconfigure_subentry()
        data = subentry.data
        errors: dict[str, str] = {}
        if user_input is not None:
            version = await self._probe(data[CONF_ADDRESS], user_input[CONF_VERSION])
            if isinstance(version, str):
                errors["base"] = version
            else:
                return self.async_update_and_abort(
                    self._get_entry(),
                    subentry,
                    data_updates={
                        CONF_VERSION: version.value,
                        CONF_PASSWORD: user_input.get(CONF_PASSWORD) or data[CONF_PASSWORD],
                        CONF_PULSE_INPUTS: _pulse_inputs(user_input),
                    },
                )
        schema = vol.Schema(
            {
                vol.Required(CONF_VERSION, default=str(data[CONF_VERSION])): _VERSION_SELECTOR,
                vol.Optional(CONF_PASSWORD): _PASSWORD_SELECTOR,
                **_pulse_fields(list(data.get(CONF_PULSE_INPUTS, []))),
            }
        )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=schema,
            errors=errors,
            description_placeholders={"address": data[CONF_ADDRESS]},
        )


# --- ioStacks: EKM's I/O hub on the same bus, read through EKM's ekmdevice library ----------

_FACTOR_SELECTOR = NumberSelector(
    NumberSelectorConfig(min=0.000001, max=1_000_000, step="any", mode=NumberSelectorMode.BOX)
)
_NUMBER_SELECTOR = NumberSelector(
    NumberSelectorConfig(min=-1_000_000, max=1_000_000, step="any", mode=NumberSelectorMode.BOX)
)
_PULSE_KIND_SELECTOR = SelectSelector(
    SelectSelectorConfig(
        options=[kind.value for kind in PulseKind],
        translation_key="pulse_kind",
        mode=SelectSelectorMode.DROPDOWN,
    )
)


def _iostack_input_fields(data: dict[str, Any]) -> dict[Any, Any]:
    """Per input: what its pulses count and how much one is; how its analog value is scaled."""
    pulses: list[dict[str, Any]] = list(data.get(CONF_PULSE_INPUTS, []))
    analog: list[dict[str, Any]] = list(data.get(CONF_ANALOG_INPUTS, []))
    fields: dict[Any, Any] = {}
    for number in INPUTS:
        pulse = pulses[number - 1] if number <= len(pulses) else {}
        fields[vol.Required(f"pulse_{number}_kind", default=pulse.get(CONF_PULSE_KIND, "none"))] = (
            _PULSE_KIND_SELECTOR
        )
        fields[
            vol.Required(f"pulse_{number}_factor", default=pulse.get(CONF_PULSE_FACTOR, 1.0))
        ] = _FACTOR_SELECTOR
    for number in INPUTS:
        scaling = analog[number - 1] if number <= len(analog) else {}
        fields[vol.Required(f"analog_{number}_scale", default=scaling.get(CONF_SCALE, 1.0))] = (
            _NUMBER_SELECTOR
        )
        fields[vol.Required(f"analog_{number}_offset", default=scaling.get(CONF_OFFSET, 0.0))] = (
            _NUMBER_SELECTOR
        )
        unit_key = vol.Optional(f"analog_{number}_unit")
        if scaling.get(CONF_UNIT):
            unit_key = vol.Optional(
                f"analog_{number}_unit", description={"suggested_value": scaling[CONF_UNIT]}
            )
        fields[unit_key] = TextSelector()
    return fields


def _iostack_inputs(user_input: dict[str, Any]) -> dict[str, Any]:
    """The subentry data of the inputs form."""
    return {
        CONF_PULSE_INPUTS: [
            {
                CONF_PULSE_KIND: user_input[f"pulse_{n}_kind"],
                CONF_PULSE_FACTOR: float(user_input[f"pulse_{n}_factor"]),
            }
            for n in INPUTS
        ],
        CONF_ANALOG_INPUTS: [
            {
                CONF_SCALE: float(user_input[f"analog_{n}_scale"]),
                CONF_OFFSET: float(user_input[f"analog_{n}_offset"]),
                CONF_UNIT: (user_input.get(f"analog_{n}_unit") or "").strip(),
            }
            for n in INPUTS
        ],
    }


def _iostack_title(address: str, name: str | None) -> str:
    return name or f"ioStack {address.lstrip('0') or '0'}"


def _one_wire_summary(reading: IoStackReading) -> str:
    """Which one-wire sensors the ioStack reported, for the inputs form."""
    if not reading.one_wire:
        return "none"
    return ", ".join(f"{sensor.port}.{sensor.index}" for sensor in reading.one_wire.values())


class IoStackSubentryFlow(ConfigSubentryFlow):
    """Add or reconfigure one ioStack on a bus: read it through ekmdevice before adding it.

    The first ioStack installs EKM's ekmdevice library through Home Assistant's requirements.
    """

    _address: str = ""
    _name: str | None = None
    _reading: IoStackReading | None = None

    async def _probe(self, address: str) -> SubentryFlowResult | str | None:
        """Read the ioStack: None when it answered, else an error key or an abort."""
        coordinator = await async_bus_coordinator(self._get_entry())
        if coordinator is None:
            return "bus_not_ready"
        try:
            api = await async_get_ekmdevice(self.hass)
            self._reading = await coordinator.async_read_iostack(api, address)
        except IoStackError as err:
            return self._probe_failed(err)
        return None

    def _probe_failed(self, err: IoStackError) -> SubentryFlowResult | str:
        """Library missing, or a network port ekmdevice cannot open: nothing to retry here."""
        if isinstance(err, IoStackBackendError):
            return self.async_abort(
                reason="ekmdevice_unavailable",
                description_placeholders={"requirement": EKMDEVICE_REQUIREMENT},
            )
        if isinstance(err, IoStackPortError):
            if not err.network:
                return "iostack_port_error"
            return self.async_abort(
                reason="iostack_port_unsupported",
                description_placeholders={"port": err.port, "error": str(err.__cause__)},
            )
        return "iostack_not_responding"

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask for the ioStack's address (and a name); read it before going on."""
        errors: dict[str, str] = {}
        if user_input is not None:
            address = _new_address(
                self._get_entry(),
                user_input[CONF_ADDRESS],
                SUBENTRY_IOSTACK,
                errors,
                duplicate="iostack_already_configured",
            )
            if address is not None:
                outcome = await self._probe(address)
                if isinstance(outcome, str):
                    errors["base"] = outcome
                elif outcome is not None:
                    return outcome
                else:
                    self._address = address
                    self._name = (user_input.get(CONF_NAME) or "").strip() or None
                    return await self.async_step_inputs()
        schema = vol.Schema(
            {vol.Required(CONF_ADDRESS): TextSelector(), vol.Optional(CONF_NAME): TextSelector()}
        )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
            description_placeholders={"requirement": EKMDEVICE_REQUIREMENT},
        )

    async def async_step_inputs(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """What the pulse inputs count and how the analog inputs are scaled."""
        if user_input is not None:
            data: dict[str, Any] = {CONF_ADDRESS: self._address, **_iostack_inputs(user_input)}
            if self._name:
                data[CONF_NAME] = self._name
            return self.async_create_entry(
                title=_iostack_title(self._address, self._name),
                data=data,
                unique_id=f"iostack_{self._address}",
            )
        reading = self._reading
        assert reading is not None  # noqa: S101  (only reached after a good read)
        return self.async_show_form(
            step_id="inputs",
            data_schema=vol.Schema(_iostack_input_fields({})),
            description_placeholders={
                "address": self._address,
                "firmware": reading.firmware or "?",
                "one_wire": _one_wire_summary(reading),
            },
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change an ioStack's name, pulse inputs or analog scaling (its address stays)."""
        subentry = self._get_reconfigure_subentry()
        data = dict(subentry.data)
        if user_input is not None:
            name = (user_input.get(CONF_NAME) or "").strip()
            updates: dict[str, Any] = {**_iostack_inputs(user_input), CONF_NAME: name}
            return self.async_update_and_abort(
                self._get_entry(),
                subentry,
                title=_iostack_title(data[CONF_ADDRESS], name or None),
                data_updates=updates,
            )
        schema = vol.Schema(
            {vol.Optional(CONF_NAME): TextSelector(), **_iostack_input_fields(data)}
        )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                schema, {CONF_NAME: data.get(CONF_NAME) or ""}
            ),
            description_placeholders={"address": data[CONF_ADDRESS]},
        )
