"""The ioStack subentry flow: read an ioStack through ekmdevice, then ask what its inputs are."""

from typing import Any

import probatio as vol
from homeassistant.config_entries import ConfigSubentryFlow, SubentryFlowResult
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)

from ..config_flow import async_bus_coordinator, new_address
from ..const import (
    CONF_ADDRESS,
    CONF_ANALOG_INPUTS,
    CONF_NAME,
    CONF_OFFSET,
    CONF_PULSE_FACTOR,
    CONF_PULSE_INPUTS,
    CONF_PULSE_KIND,
    CONF_SCALE,
    CONF_UNIT,
    SUBENTRY_IOSTACK,
    PulseKind,
)
from ..models import iostack_title
from .backend import (
    EKMDEVICE_REQUIREMENT,
    INPUTS,
    IoStackBackendError,
    IoStackError,
    IoStackPortError,
    IoStackReading,
    async_get_ekmdevice,
)

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
            address = new_address(
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
                title=iostack_title(self._address, self._name),
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
                title=iostack_title(data[CONF_ADDRESS], name or None),
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
