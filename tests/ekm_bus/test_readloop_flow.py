"""Import a readloop.toml: paste or upload, every file error, devices read first, existing buses."""

import json
import re
import uuid
from collections.abc import AsyncIterator
from types import MappingProxyType, ModuleType
from typing import Any
from unittest.mock import AsyncMock, patch

import pytest
from aiohttp import FormData
from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState, ConfigSubentry
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.requirements import RequirementsNotFound
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.energy_local.const import DOMAIN
from custom_components.energy_local.ekm_bus.const import SUBENTRY_IOSTACK, SUBENTRY_METER
from custom_components.energy_local.ekm_bus.iostack.backend import EKMDEVICE_REQUIREMENT
from tests.ekm_bus.helpers import (
    ROOT,
    V3_ADDRESS,
    V4_ADDRESS,
    SimBus,
    bus_entry,
    meter_subentry,
    setup_entry,
    wait_for,
)
from tests.ekm_bus.iostack.helpers import (
    IOSTACK_ADDRESS,
    forget_ekmdevice,
    iostack_subentry,
    start_tcp_bus,
)

PROCESS = "custom_components.energy_local.ekm_bus.iostack.backend.async_process_requirements"
STRINGS = json.loads((ROOT / "custom_components/energy_local/strings.json").read_text())["config"]


def _readloop(port: str, *, v3_version: str = '"v3"', iostack: bool = True) -> str:
    """EKM's layout: the port, a v4 and a v3 meter, an ioStack."""
    text = f"""\
port = "{port}"

[[meters]]
address = 300001285
version = 4
name = "Main panel"

[[meters]]
address = "10006388"
version = {v3_version}
"""
    if iostack:
        text += '\n[[iostacks]]\naddress = 1\nname = "Pump house"\n'
    return text


def _translated(result: Any) -> Any:
    """Every error and abort the flow shows exists in strings.json, its placeholders filled."""
    placeholders = set(result.get("description_placeholders") or {})
    texts: list[str] = []
    if result["type"] is FlowResultType.ABORT:
        texts.append(STRINGS["abort"][result["reason"]])
    if result["type"] is FlowResultType.FORM:
        step = STRINGS["step"][result["step_id"]]
        texts += [step.get("description", "")]
        texts += [STRINGS["error"][error] for error in (result["errors"] or {}).values()]
    for text in texts:
        assert set(re.findall(r"{(\w+)}", text)) <= placeholders, (text, placeholders)
    return result


async def _import_form(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert "ekm_readloop" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "ekm_readloop"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "ekm_readloop"
    return result["flow_id"]


async def _paste(hass: HomeAssistant, flow_id: str, content: str) -> Any:
    return _translated(
        await hass.config_entries.flow.async_configure(flow_id, {"content": content})
    )


async def _confirm(hass: HomeAssistant, flow_id: str) -> Any:
    return _translated(await hass.config_entries.flow.async_configure(flow_id, {}))


async def test_paste_creates_the_bus_with_every_device(
    hass: HomeAssistant, ekm_bus: SimBus, ekmdevice_standin: ModuleType
) -> None:
    flow_id = await _import_form(hass)
    result = await _paste(hass, flow_id, _readloop(ekm_bus.port))
    assert result["step_id"] == "ekm_readloop_confirm"
    assert result["description_placeholders"] == {
        "port": ekm_bus.port,
        "meters": "- Omnimeter 300001285 (v4): Main panel\n- Omnimeter 10006388 (v3)",
        "iostacks": "- ioStack 1: Pump house",
        "skipped": "none",
    }
    # Nothing was read yet: the user sees the file's content first.
    assert ekmdevice_standin.calls == []
    assert not ekm_bus.sim.transcript
    result = await _confirm(hass, flow_id)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"EKM bus {ekm_bus.port}"
    assert result["data"] == {"entry_type": "ekm_bus", "port": ekm_bus.port}
    # Every device was read on the port before the entry was made.
    assert ("read_data", IOSTACK_ADDRESS) in ekmdevice_standin.calls
    assert ("create_serial_port", ekm_bus.port, "iostack") in ekmdevice_standin.calls
    await hass.async_block_till_done()
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert entry.state is ConfigEntryState.LOADED
    subs = {sub.unique_id: sub for sub in entry.subentries.values()}
    assert set(subs) == {V4_ADDRESS, V3_ADDRESS, f"iostack_{IOSTACK_ADDRESS}"}
    assert subs[V4_ADDRESS].title == "Main panel"
    assert subs[V4_ADDRESS].subentry_type == SUBENTRY_METER
    assert dict(subs[V4_ADDRESS].data) == {
        "address": V4_ADDRESS,
        "version": 4,
        "password": "00000000",
        "pulse_inputs": [{"kind": "none", "factor": 1.0}] * 3,
    }
    assert subs[V3_ADDRESS].title == "Omnimeter 10006388"
    assert subs[V3_ADDRESS].data["version"] == 3
    iostack = subs[f"iostack_{IOSTACK_ADDRESS}"]
    assert iostack.subentry_type == SUBENTRY_IOSTACK
    assert iostack.title == "Pump house"
    assert iostack.data["name"] == "Pump house"
    assert len(iostack.data["analog_inputs"]) == 4
    # The bus runs with all three devices.
    assert hass.states.get("sensor.omnimeter_300001285_power").state != STATE_UNAVAILABLE
    assert hass.states.get("sensor.omnimeter_10006388_power").state != STATE_UNAVAILABLE
    assert len(entry.runtime_data.iostacks) == 1


async def _upload(hass: HomeAssistant, client: ClientSessionGenerator, content: bytes) -> str:
    form = FormData()
    form.add_field("file", content, filename="readloop.toml")
    session = await client()
    response = await session.post("/api/file_upload", data=form)
    assert response.status == 200, await response.text()
    file_id: str = (await response.json())["file_id"]
    return file_id


async def test_upload_with_a_version_to_detect(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    ekm_bus: SimBus,
    ekmdevice_standin: ModuleType,
) -> None:
    flow_id = await _import_form(hass)  # loads the integration, and file_upload with it
    content = (
        f'port = "{ekm_bus.port}"\n[[meters]]\naddress = 300001285\n[[iostacks]]\naddress = 1\n'
    ).encode()
    file_id = await _upload(hass, hass_client, content)
    result = _translated(await hass.config_entries.flow.async_configure(flow_id, {"file": file_id}))
    assert result["step_id"] == "ekm_readloop_confirm"
    assert result["description_placeholders"]["meters"] == (
        "- Omnimeter 300001285 (version detected)"
    )
    assert result["description_placeholders"]["iostacks"] == "- ioStack 1"
    result = await _confirm(hass, flow_id)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    meter, iostack = result["subentries"]
    assert meter["data"]["version"] == 4  # detected by reading the meter
    assert iostack["title"] == "ioStack 1"
    assert "name" not in iostack["data"]
    await hass.async_block_till_done()


async def test_an_upload_that_is_gone(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    flow_id = await _import_form(hass)
    result = _translated(
        await hass.config_entries.flow.async_configure(flow_id, {"file": str(uuid.uuid4())})
    )
    assert result["errors"] == {"base": "readloop_upload_missing"}


async def test_an_upload_that_is_not_text(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    flow_id = await _import_form(hass)
    file_id = await _upload(hass, hass_client, b"\xff\xfe\x00port")
    result = _translated(await hass.config_entries.flow.async_configure(flow_id, {"file": file_id}))
    assert result["errors"] == {"base": "readloop_not_text"}


async def test_file_and_text_or_neither(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    flow_id = await _import_form(hass)
    result = _translated(await hass.config_entries.flow.async_configure(flow_id, {"content": " "}))
    assert result["errors"] == {"base": "readloop_empty"}
    file_id = await _upload(hass, hass_client, b'port = "x"\n')
    result = _translated(
        await hass.config_entries.flow.async_configure(
            flow_id, {"file": file_id, "content": 'port = "y"'}
        )
    )
    assert result["errors"] == {"base": "readloop_file_and_text"}


@pytest.mark.parametrize(
    ("content", "error", "placeholders"),
    [
        (
            'port = "/dev/ttyUSB0"\n[[meters]\naddress = 1\n',
            "readloop_malformed",
            {"line": "2", "column": "9"},
        ),
        (
            'port = "/dev/ttyUSB0"\n[[meters]]\naddress = 1\nbaud = 9600\n',
            "readloop_unknown_key",
            {"key": "baud", "where": "[[meters]] #1"},
        ),
        (
            'port = "/dev/ttyUSB0"\n[[meters]]\naddress = 1\nversion = "v5"\n',
            "readloop_bad_version",
            {"value": "'v5'", "where": "[[meters]] #1"},
        ),
        (
            (
                'port = "/dev/ttyUSB0"\n[[meters]]\naddress = 30001\n'
                '[[meters]]\naddress = "000000030001"\n'
            ),
            "readloop_duplicate_address",
            {"address": "000000030001", "where": "[[meters]] #2", "first": "[[meters]] #1"},
        ),
        (
            "[[meters]]\naddress = 1\n",
            "readloop_missing_key",
            {"key": "port", "where": "top level"},
        ),
        (
            "port = 4001\n[[meters]]\naddress = 1\n",
            "readloop_wrong_type",
            {"key": "port", "where": "top level"},
        ),
        (
            'port = "/dev/ttyUSB0"\n[[iostacks]]\naddress = "one"\n',
            "readloop_invalid_address",
            {"value": "'one'", "where": "[[iostacks]] #1"},
        ),
        (
            'port = "a"\n[serial]\nport = "b"\n[[meters]]\naddress = 1\n',
            "readloop_two_ports",
            {},
        ),
        ('port = "/dev/ttyUSB0"\n', "readloop_no_devices", {}),
        ("#" * 70_000, "readloop_too_large", {"limit": "64 KiB"}),
    ],
)
async def test_file_errors_are_named_then_recovery(
    hass: HomeAssistant,
    ekm_bus: SimBus,
    content: str,
    error: str,
    placeholders: dict[str, str],
) -> None:
    flow_id = await _import_form(hass)
    result = await _paste(hass, flow_id, content)
    assert result["step_id"] == "ekm_readloop"
    assert result["errors"] == {"base": error}
    assert placeholders.items() <= result["description_placeholders"].items()
    assert hass.config_entries.async_entries(DOMAIN) == []
    result = await _paste(hass, flow_id, _readloop(ekm_bus.port, iostack=False))
    assert result["step_id"] == "ekm_readloop_confirm"


async def test_a_silent_meter_is_named_and_nothing_is_added(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    flow_id = await _import_form(hass)
    ekm_bus.meter(V3_ADDRESS).silent = True
    result = await _paste(hass, flow_id, _readloop(ekm_bus.port, iostack=False))
    result = await _confirm(hass, flow_id)
    assert result["step_id"] == "ekm_readloop_confirm"
    assert result["errors"] == {"base": "readloop_meter_not_responding"}
    assert result["description_placeholders"]["address"] == "10006388"
    assert hass.config_entries.async_entries(DOMAIN) == []
    ekm_bus.meter(V3_ADDRESS).silent = False
    result = await _confirm(hass, flow_id)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()


async def test_a_wrong_version_is_a_meter_that_does_not_answer(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    """A v3 meter ignores v4 requests: the file's version is checked by reading."""
    flow_id = await _import_form(hass)
    await _paste(hass, flow_id, _readloop(ekm_bus.port, v3_version="4", iostack=False))
    result = await _confirm(hass, flow_id)
    assert result["errors"] == {"base": "readloop_meter_not_responding"}
    assert result["description_placeholders"]["address"] == "10006388"


async def test_a_silent_iostack_is_named_and_nothing_is_added(
    hass: HomeAssistant, ekm_bus: SimBus, ekmdevice_standin: ModuleType
) -> None:
    flow_id = await _import_form(hass)
    del ekmdevice_standin.devices[IOSTACK_ADDRESS]
    await _paste(hass, flow_id, _readloop(ekm_bus.port))
    result = await _confirm(hass, flow_id)
    assert result["errors"] == {"base": "readloop_iostack_not_responding"}
    assert result["description_placeholders"]["address"] == "1"
    assert hass.config_entries.async_entries(DOMAIN) == []


async def test_a_port_that_does_not_open(hass: HomeAssistant) -> None:
    flow_id = await _import_form(hass)
    await _paste(hass, flow_id, _readloop("/dev/ttyEKM-missing", iostack=False))
    result = await _confirm(hass, flow_id)
    assert result["errors"] == {"base": "port_not_found"}
    assert hass.config_entries.async_entries(DOMAIN) == []


async def test_iostack_port_busy_for_ekmdevice(
    hass: HomeAssistant, ekm_bus: SimBus, ekmdevice_standin: ModuleType
) -> None:
    ekmdevice_standin.port_error = OSError("could not lock the port")
    flow_id = await _import_form(hass)
    await _paste(hass, flow_id, _readloop(ekm_bus.port))
    result = await _confirm(hass, flow_id)
    assert result["errors"] == {"base": "iostack_port_error"}
    assert hass.config_entries.async_entries(DOMAIN) == []


async def test_ekmdevice_that_cannot_be_installed_aborts(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    forget_ekmdevice()  # not installed
    hass.config.skip_pip = False
    flow_id = await _import_form(hass)
    await _paste(hass, flow_id, _readloop(ekm_bus.port))
    failure = RequirementsNotFound(DOMAIN, [EKMDEVICE_REQUIREMENT])
    with patch(PROCESS, AsyncMock(side_effect=failure)):
        result = await _confirm(hass, flow_id)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "ekmdevice_unavailable"
    assert hass.config_entries.async_entries(DOMAIN) == []


@pytest.fixture
async def tcp_bus(socket_enabled: None) -> AsyncIterator[str]:
    """A simulated bus (one v4 meter) behind a serial-over-TCP converter."""
    sim, url = await start_tcp_bus()
    yield url
    await sim.stop()


async def test_iostacks_on_a_socket_port_abort_clearly(
    hass: HomeAssistant, tcp_bus: str, ekmdevice_standin: ModuleType
) -> None:
    flow_id = await _import_form(hass)
    content = f'port = "{tcp_bus}"\n[[meters]]\naddress = 300001285\n[[iostacks]]\naddress = 1\n'
    await _paste(hass, flow_id, content)
    result = await _confirm(hass, flow_id)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "iostack_port_unsupported"
    assert result["description_placeholders"]["port"] == tcp_bus
    assert hass.config_entries.async_entries(DOMAIN) == []


async def test_an_existing_bus_gets_only_the_missing_devices(
    hass: HomeAssistant, ekm_bus: SimBus, ekmdevice_standin: ModuleType
) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    flow_id = await _import_form(hass)
    result = await _paste(hass, flow_id, _readloop(ekm_bus.port))
    assert result["description_placeholders"] == {
        "port": ekm_bus.port,
        "meters": "- Omnimeter 10006388 (v3)",
        "iostacks": "- ioStack 1: Pump house",
        "skipped": "- Omnimeter 300001285 (v4): Main panel",
    }
    result = await _confirm(hass, flow_id)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "readloop_added"
    assert result["description_placeholders"]["skipped"] == (
        "- Omnimeter 300001285 (v4): Main panel"
    )
    await hass.async_block_till_done()  # the bus reloads with the new devices
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1
    assert {s.unique_id for s in entry.subentries.values()} == {
        V4_ADDRESS,
        V3_ADDRESS,
        f"iostack_{IOSTACK_ADDRESS}",
    }
    # The meter already there kept its subentry (its title is not the file's name).
    assert (
        entry.subentries[
            next(s.subentry_id for s in entry.subentries.values() if s.unique_id == V4_ADDRESS)
        ].title
        == "Omnimeter 300001285"
    )
    assert entry.state is ConfigEntryState.LOADED
    assert len(entry.runtime_data.meters) == 2
    assert len(entry.runtime_data.iostacks) == 1
    assert hass.states.get("sensor.omnimeter_10006388_power").state != STATE_UNAVAILABLE


async def test_an_existing_bus_with_everything_already(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    entry = bus_entry(
        ekm_bus.port,
        [meter_subentry(V4_ADDRESS, 4), meter_subentry(V3_ADDRESS, 3), iostack_subentry()],
    )
    await setup_entry(hass, entry)
    flow_id = await _import_form(hass)
    result = await _paste(hass, flow_id, _readloop(ekm_bus.port))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "readloop_nothing_new"
    assert result["description_placeholders"]["skipped"] == (
        "- Omnimeter 300001285 (v4): Main panel\n- Omnimeter 10006388 (v3)\n- ioStack 1: Pump house"
    )
    assert len(entry.subentries) == 3


async def test_an_existing_bus_with_a_silent_device_adds_nothing(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    ekm_bus.meter(V3_ADDRESS).silent = True
    flow_id = await _import_form(hass)
    await _paste(hass, flow_id, _readloop(ekm_bus.port, iostack=False))
    result = await _confirm(hass, flow_id)
    assert result["errors"] == {"base": "readloop_meter_not_responding"}
    assert result["description_placeholders"]["address"] == "10006388"
    assert len(entry.subentries) == 1


async def test_an_existing_bus_whose_iostack_does_not_answer(
    hass: HomeAssistant, ekm_bus: SimBus, ekmdevice_standin: ModuleType
) -> None:
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    del ekmdevice_standin.devices[IOSTACK_ADDRESS]
    flow_id = await _import_form(hass)
    await _paste(hass, flow_id, _readloop(ekm_bus.port))
    result = await _confirm(hass, flow_id)
    assert result["errors"] == {"base": "readloop_iostack_not_responding"}
    assert len(entry.subentries) == 1


async def test_an_existing_bus_that_is_not_running(hass: HomeAssistant) -> None:
    entry = bus_entry("/dev/ttyEKM-missing", [])
    await setup_entry(hass, entry)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    flow_id = await _import_form(hass)
    await _paste(hass, flow_id, _readloop("/dev/ttyEKM-missing", iostack=False))
    result = await _confirm(hass, flow_id)
    assert result["errors"] == {"base": "bus_not_ready"}
    assert len(entry.subentries) == 0


async def test_a_bus_set_up_meanwhile_on_the_port_wins(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    """Another flow made a bus on this port while the devices were read: no second entry."""
    flow_id = await _import_form(hass)
    await _paste(hass, flow_id, _readloop(ekm_bus.port, iostack=False))

    async def add_meanwhile() -> None:
        await wait_for(lambda: bool(ekm_bus.sim.transcript))  # the first read is on the wire
        bus_entry(ekm_bus.port, []).add_to_hass(hass)

    task = hass.async_create_task(add_meanwhile())
    result = await _confirm(hass, flow_id)
    await task
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def test_a_device_added_by_hand_meanwhile_is_skipped(
    hass: HomeAssistant, ekm_bus: SimBus, ekmdevice_standin: ModuleType
) -> None:
    """The meter is added by hand while the ioStack is read: it is skipped, not added twice."""
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    by_hand = meter_subentry(V3_ADDRESS, 3)
    added: list[bool] = []

    def add_by_hand() -> None:
        hass.config_entries.async_add_subentry(
            entry,
            ConfigSubentry(
                data=MappingProxyType(by_hand["data"]),
                subentry_type=by_hand["subentry_type"],
                title="Added by hand",
                unique_id=by_hand["unique_id"],
            ),
        )

    class AddsTheMeterMeanwhile(ekmdevice_standin.Device):  # type: ignore[name-defined,misc]
        def read_data(self, *, include_b: bool) -> dict[str, Any]:
            if not added:  # only during the import's read, not the polls after it
                added.append(True)
                hass.loop.call_soon_threadsafe(add_by_hand)  # ekmdevice runs in a thread
            return super().read_data(include_b=include_b)  # type: ignore[no-any-return]

    ekmdevice_standin.devices[IOSTACK_ADDRESS] = AddsTheMeterMeanwhile()
    flow_id = await _import_form(hass)
    result = await _paste(hass, flow_id, _readloop(ekm_bus.port))
    assert result["description_placeholders"]["meters"] == "- Omnimeter 10006388 (v3)"
    result = await _confirm(hass, flow_id)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "readloop_added"
    assert result["description_placeholders"]["meters"] == "none"
    assert result["description_placeholders"]["iostacks"] == "- ioStack 1: Pump house"
    assert "Omnimeter 10006388" in result["description_placeholders"]["skipped"]
    await hass.async_block_till_done()
    titles = sorted(sub.title for sub in entry.subentries.values())
    assert titles == ["Added by hand", "Omnimeter 300001285", "Pump house"]
    assert entry.state is ConfigEntryState.LOADED


async def test_a_port_lost_while_reading_a_new_bus(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    """The converter goes away after the port opened: the port's error, and nothing added."""
    sim, url = await start_tcp_bus()
    try:
        flow_id = await _import_form(hass)
        await _paste(hass, flow_id, f'port = "{url}"\n[[meters]]\naddress = 300001285\n')
        sim.unplug(V4_ADDRESS)  # the bus waits for its reply while the converter goes

        async def converter_gone() -> None:
            await wait_for(lambda: bool(sim.transcript))  # the port opened, a read is out
            await sim.stop()

        task = hass.async_create_task(converter_gone())
        result = await _confirm(hass, flow_id)
        await task
    finally:
        await sim.stop()
    assert result["step_id"] == "ekm_readloop_confirm"
    assert result["errors"] == {"base": "cannot_connect"}
    assert hass.config_entries.async_entries(DOMAIN) == []


async def test_an_existing_bus_whose_port_is_gone(hass: HomeAssistant, ekm_bus: SimBus) -> None:
    """The bus is still loaded but its adapter was unplugged: nothing can be read."""
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    flow_id = await _import_form(hass)
    await _paste(hass, flow_id, _readloop(ekm_bus.port, iostack=False))
    await ekm_bus.sim.stop()
    assert entry.state is ConfigEntryState.LOADED
    result = await _confirm(hass, flow_id)
    assert result["errors"] == {"base": "bus_not_ready"}
    assert len(entry.subentries) == 1


async def test_an_existing_bus_without_ekmdevice_aborts(
    hass: HomeAssistant, ekm_bus: SimBus
) -> None:
    forget_ekmdevice()  # not installed
    hass.config.skip_pip = False
    entry = bus_entry(ekm_bus.port, [meter_subentry(V4_ADDRESS, 4)])
    await setup_entry(hass, entry)
    flow_id = await _import_form(hass)
    await _paste(hass, flow_id, _readloop(ekm_bus.port))
    failure = RequirementsNotFound(DOMAIN, [EKMDEVICE_REQUIREMENT])
    with patch(PROCESS, AsyncMock(side_effect=failure)):
        result = await _confirm(hass, flow_id)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "ekmdevice_unavailable"
    assert len(entry.subentries) == 1
