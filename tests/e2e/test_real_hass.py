"""The whole product in a real Home Assistant, driven like a user over REST and websocket.

Onboarding, the EKM bus through the real config flow, two meters through the subentry flow,
entities, a relay switched and read back from the simulated meter, the Energy dashboard set
to our sensors and validated, screenshots of the integration page, a meter's device page and
the Energy dashboard (under artifacts/e2e/). Every step's time goes to
artifacts/e2e/summary.json.
"""

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from scripts.devenv import netns
from scripts.devenv.stack import V3_ADDRESS, V4_ADDRESS, integration_discovers_plugs

from .browser import ensure_chromium, logged_in_url, picture_facts, screenshot
from .cdp import Browser, open_browser
from .conftest import ARTIFACTS, ROOT, RealStack, newest_ha_version
from .ha_client import Ha, HaError, Ws, form_values, wait_until
from .ha_log import allowed_records, integration_problems

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

USER = "e2e"
PASSWORD = "energy-local-e2e"
V4 = f"sensor.omnimeter_{V4_ADDRESS}"
V3 = f"sensor.omnimeter_{V3_ADDRESS}"
RELAY_1 = f"switch.omnimeter_{V4_ADDRESS}_relay_1"
HOUSEHOLD_SOLAR = "sensor.household_solar_generation"
V4_PULSES = {
    "pulse_1_kind": "water",
    "pulse_1_factor": 10,
    "pulse_2_kind": "gas",
    "pulse_2_factor": 0.01,
    "pulse_3_kind": "none",
    "pulse_3_factor": 1,
}
# State_Out: 1 both open, 3 relay 1 closed (models.py).
STATE_OUT_OPEN = 1
STATE_OUT_RELAY_1 = 3
# The recorder compiles statistics every 5 minutes (10 s past); wait for at most one compile.
STATISTICS_WAIT = 5 * 60 + 45


class Steps:
    """Times each step; written to the summary."""

    def __init__(self) -> None:
        self.began = time.monotonic()
        self.seconds: dict[str, float] = {}
        self.facts: dict[str, Any] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        print(f"e2e: {name} …", flush=True)
        try:
            yield
        finally:
            self.seconds[name] = round(time.monotonic() - start, 1)

    def write(self, outcome: str) -> None:
        summary = {
            "outcome": outcome,
            "total_seconds": round(time.monotonic() - self.began, 1),
            "steps": self.seconds,
            **self.facts,
        }
        (ARTIFACTS / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")


async def cli_read(stack: RealStack, port: str, address: str) -> dict[str, Any]:
    """Read a v4 meter with the library's CLI inside the namespace (a second bus master)."""
    argv = [
        *netns.exec_prefix(stack.namespace),
        sys.executable,
        "-m", "custom_components.energy_local.ekm", "read",
        "--port", port, "--address", address, "--version", "4", "--json",
    ]  # fmt: skip
    last = b""
    for _ in range(5):  # Home Assistant polls the same bus: a collision is retried
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await asyncio.wait_for(process.communicate(), 30)
        if process.returncode == 0:
            values: dict[str, Any] = json.loads(out)
            return values
        last = out
        await asyncio.sleep(1)
    raise HaError(f"ekm read failed five times: {last!r}")


async def cli_state_out(stack: RealStack) -> int:
    """The v4 meter's relay state, read with the library's CLI."""
    return int((await cli_read(stack, stack.ekm_port, V4_ADDRESS))["State_Out"])


def energy_prefs() -> dict[str, Any]:
    """A grid connection on the v4 meter plus its water and gas inputs (2026.10 format)."""
    return {
        "energy_sources": [
            {
                "type": "grid",
                "stat_energy_from": f"{V4}_energy_import",
                "stat_energy_to": f"{V4}_energy_export",
                "stat_cost": None,
                "entity_energy_price": None,
                "number_energy_price": None,
                "stat_compensation": None,
                "entity_energy_price_export": None,
                "number_energy_price_export": None,
                "stat_rate": f"{V4}_power",
                "cost_adjustment_day": 0,
            },
            {
                "type": "water",
                "stat_energy_from": f"{V4}_water_input_1",
                "stat_cost": None,
                "entity_energy_price": None,
                "number_energy_price": None,
            },
            {
                "type": "gas",
                "stat_energy_from": f"{V4}_gas_input_2",
                "stat_cost": None,
                "entity_energy_price": None,
                "number_energy_price": None,
            },
        ],
        "device_consumption": [],
    }


async def _powersensor_energy_prefs(ha: Ha) -> dict[str, Any]:
    """The EKM preferences plus household solar and the plug's own energy as a device.

    Waits until the household has counted solar energy: a total still unknown would be
    (rightly) reported by ``energy/validate`` as unavailable.
    """

    async def counted() -> dict[str, Any] | None:
        states = await ha.states()
        solar = states.get(f"{HOUSEHOLD_SOLAR}_energy", {}).get("state")
        plugs = [
            entity_id
            for entity_id in states
            if entity_id.startswith("sensor.powersensor_plug_") and entity_id.endswith("_energy")
        ]
        return states if _is_number(str(solar)) and plugs else None

    states = await wait_until(counted, within=120, what="household solar energy counted")
    plug_energy = next(
        e for e in states if e.startswith("sensor.powersensor_plug_") and e.endswith("_energy")
    )
    prefs = energy_prefs()
    prefs["energy_sources"].append(
        {
            "type": "solar",
            "stat_energy_from": f"{HOUSEHOLD_SOLAR}_energy",
            "stat_rate": f"{HOUSEHOLD_SOLAR}_power",
            "config_entry_solar_forecast": None,
        }
    )
    prefs["device_consumption"] = [
        {
            "stat_consumption": plug_energy,
            "stat_rate": plug_energy.removesuffix("_energy") + "_power",
        }
    ]
    return prefs


def validation_issues(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every issue ``energy/validate`` reported, flattened."""
    issues: list[dict[str, Any]] = []
    for value in result.values():
        for group in value:
            issues += group if isinstance(group, list) else [group]
    return issues


async def bus_loaded(ha: Ha) -> None:
    """Wait until the bus entry is loaded (adding a meter reloads it)."""

    async def loaded() -> bool | None:
        entries = await ha.call("GET", "/api/config/config_entries/entry?domain=energy_local")
        return True if [e["state"] for e in entries] == ["loaded"] else None

    await wait_until(loaded, within=60, every=0.2, what="the bus entry to be loaded")


async def add_meter(ha: Ha, entry_id: str, address: str, extra: dict[str, Any]) -> str:
    """The subentry flow: read the form's schema, fill it, submit; the subentry's id.

    No waiting between two meters: the flow itself waits while the bus reloads.
    """
    form = await ha.call(
        "POST",
        "/api/config/config_entries/subentries/flow",
        json={"handler": [entry_id, "meter"], "show_advanced_options": False},
    )
    assert form["type"] == "form", form
    assert form["step_id"] == "user", form
    names = [field["name"] for field in form["data_schema"]]
    assert names[:3] == ["address", "version", "password"], names
    values = form_values(form["data_schema"], {"address": address, "version": "auto", **extra})
    done = await ha.call(
        "POST", f"/api/config/config_entries/subentries/flow/{form['flow_id']}", json=values
    )
    assert done["type"] == "create_entry", done
    return str(done.get("result", {}).get("subentry_id", ""))


async def test_real_home_assistant_end_to_end(real_stack: RealStack) -> None:
    steps = Steps()
    steps.facts["stack_seconds_to_ready"] = real_stack.info["seconds_to_ready"]
    outcome = "failed"
    try:
        async with aiohttp.ClientSession() as session:
            await _drive(real_stack, session, steps)
        outcome = "passed"
    finally:
        steps.write(outcome)


async def _drive(stack: RealStack, session: aiohttp.ClientSession, steps: Steps) -> None:
    ha = Ha(session, stack.base)
    assert netns.interfaces(stack.namespace) == ["lo"]

    with steps.step("onboarding"):
        await ha.onboard(USER, PASSWORD)
    assert ha.token is not None
    # The proof runs on the newest release (requirements_ha_newest.txt), as the stack says
    # and as the running Home Assistant itself says.
    version = (await ha.call("GET", "/api/config"))["version"]
    steps.facts["home_assistant_version"] = version
    assert version == stack.info["ha_version"] == newest_ha_version(), stack.info
    ws = await Ws.connect(session, stack.base, ha.token)
    try:
        with steps.step("http settings"):
            http = await ws.call("http/config")
            # Our settings are the confirmed ones: nothing pending that would revert in 5 min.
            assert http["active_config_type"] == "stable", http
            assert http["stable"]["server_host"] == ["127.0.0.1"], http
            assert http["pending"] is None, http

        steps.facts["screenshots"] = {}
        chromium = ensure_chromium()
        with steps.step("screenshot: the plug offered as discovered"):
            await wait_until(
                lambda: _discovered_plug_flow(ws), within=60, what="a discovered Powersensor plug"
            )
            await _shot(ha, chromium, stack, "discovered", "/config/integrations/dashboard", steps)

        with steps.step("walkthrough clicked in Chromium: Add integration, the menu, the bus form"):
            await _click_through(ha, chromium, stack, steps, _add_bus_dialogs)

        with steps.step("bus config flow"):
            form = await ha.call(
                "POST", "/api/config/config_entries/flow", json={"handler": "energy_local"}
            )
            if form["type"] == "menu":  # "what to add": the EKM bus
                assert "ekm_bus" in form["menu_options"], form
                form = await ha.call(
                    "POST",
                    f"/api/config/config_entries/flow/{form['flow_id']}",
                    json={"next_step_id": "ekm_bus"},
                )
            assert form["type"] == "form", form
            assert [f["name"] for f in form["data_schema"]] == ["port"], form
            done = await ha.call(
                "POST",
                f"/api/config/config_entries/flow/{form['flow_id']}",
                json={"port": stack.ekm_port},
            )
            assert done["type"] == "create_entry", done
            entry_id = done["result"]["entry_id"]

        with steps.step("meter subentry flows"):
            await add_meter(ha, entry_id, V4_ADDRESS, V4_PULSES)
            await add_meter(ha, entry_id, V3_ADDRESS, {})
            await bus_loaded(ha)
            subentries = await ws.call("config_entries/subentries/list", entry_id=entry_id)
            assert sorted(s["title"] for s in subentries) == [
                f"Omnimeter {V3_ADDRESS}",
                f"Omnimeter {V4_ADDRESS}",
            ], subentries

        with steps.step("readloop.toml import: the bus's meters skipped, a silent one named"):
            await _readloop_import(ha, stack, steps)

        with steps.step("entities"):
            wanted = [
                f"{V4}_energy_import",
                f"{V4}_energy_export",
                f"{V4}_power",
                f"{V4}_water_input_1",
                f"{V4}_gas_input_2",
                f"{V3}_energy_import",
                f"{V3}_power",
            ]

            async def numeric() -> dict[str, dict[str, Any]] | None:
                states = await ha.states()
                for entity_id in wanted:
                    try:
                        float(states.get(entity_id, {}).get("state", "x"))
                    except ValueError:
                        return None
                return states if states.get(RELAY_1, {}).get("state") == "off" else None

            states = await wait_until(numeric, within=90, what="numeric EKM sensors")
            steps.facts["states"] = {
                e: f"{states[e]['state']} {states[e]['attributes'].get('unit_of_measurement', '')}"
                for e in [*wanted, RELAY_1]
            }
            assert states[f"{V4}_energy_import"]["attributes"]["device_class"] == "energy"
            assert states[f"{V4}_energy_import"]["attributes"]["state_class"] == "total_increasing"

        with steps.step("energy preferences"):
            await ws.call("energy/save_prefs", **energy_prefs())
            prefs = await ws.call("energy/get_prefs")
            assert prefs["energy_sources"][0]["stat_energy_from"] == f"{V4}_energy_import"

        with steps.step("relay 1 on and off"):
            assert await cli_state_out(stack) == STATE_OUT_OPEN
            await ha.call("POST", "/api/services/switch/turn_on", json={"entity_id": RELAY_1})

            async def relay_is(state: str) -> bool | None:
                return True if (await ha.states())[RELAY_1]["state"] == state else None

            await wait_until(lambda: relay_is("on"), within=30, what="relay 1 on in HA")
            state_out_on = await cli_state_out(stack)
            await ha.call("POST", "/api/services/switch/turn_off", json={"entity_id": RELAY_1})
            await wait_until(lambda: relay_is("off"), within=30, what="relay 1 off in HA")
            state_out_off = await cli_state_out(stack)
            steps.facts["relay"] = {"state_out_on": state_out_on, "state_out_off": state_out_off}
            assert state_out_on == STATE_OUT_RELAY_1
            assert state_out_off == STATE_OUT_OPEN

        if integration_discovers_plugs(ROOT) and stack.info["plugs"]:
            with steps.step("powersensor discovered over zeroconf, confirmed, reporting"):
                await _powersensor(ha, ws, steps)
            with steps.step("energy preferences: household solar and the plug as a device"):
                prefs = await _powersensor_energy_prefs(ha)
                await ws.call("energy/save_prefs", **prefs)
                saved = await ws.call("energy/get_prefs")
                assert saved["device_consumption"] == prefs["device_consumption"], saved

        with steps.step("walkthrough clicked in Chromium: Add meter"):
            await _click_through(ha, chromium, stack, steps, _add_meter_dialog)

        with steps.step("screenshots"):
            devices = await ws.call("config/device_registry/list")
            v4_device = next(d for d in devices if d.get("name") == f"Omnimeter {V4_ADDRESS}")
            pages = {
                "integration": "/config/integrations/integration/energy_local",
                "device_v4": f"/config/devices/device/{v4_device['id']}",
            }
            for name, path in pages.items():
                await _shot(ha, chromium, stack, name, path, steps)

        with steps.step("energy validation (waits for the recorder's 5-minute compile)"):
            first, result, waited = await _validate_energy(ws)
            steps.facts["energy_validate_first"] = first
            steps.facts["energy_validate"] = result
            steps.facts["statistics_wait_seconds"] = waited
            assert validation_issues(result) == [], result

        with steps.step("energy dashboard and household screenshots"):
            await _shot(ha, chromium, stack, "energy", "/energy", steps)
            # Taken last: by now the household has seen its solar sensor and counted energy.
            devices = await ws.call("config/device_registry/list")
            household = next(d for d in devices if d.get("name") == "Household")
            household_page = f"/config/devices/device/{household['id']}"
            await _shot(ha, chromium, stack, "household", household_page, steps)

        with steps.step("no repair issue of ours"):
            issues = (await ws.call("repairs/list_issues"))["issues"]
            steps.facts["repair_issues"] = [(i["domain"], i["issue_id"]) for i in issues]
            assert [i for i in issues if i["domain"] == "energy_local"] == [], issues

        with steps.step("nothing about the integration at WARNING+ in Home Assistant's log"):
            log = stack.config_dir / "home-assistant.log"
            problems = integration_problems(log)
            steps.facts["integration_log_problems"] = problems
            steps.facts["integration_log_allowed"] = allowed = allowed_records(log)
            assert problems == [], "\n".join(problems)
            # The loader's warning comes once per start: not finding it means the guard no
            # longer reads this release's log format.
            assert len(allowed) == 1, allowed
    finally:
        await ws.close()


async def _readloop_import(ha: Ha, stack: RealStack, steps: Steps) -> None:
    """Paste an ekmdevice readloop.toml for the bus that is set up: nothing new to add; with
    a meter the bus lacks and that does not answer, the flow names it and adds nothing."""
    readloop = (
        f'port = "{stack.ekm_port}"\n'
        f"[[meters]]\naddress = {V4_ADDRESS}\nversion = 4\n"
        f'[[meters]]\naddress = "{V3_ADDRESS}"\nversion = "v3"\n'
    )

    async def paste(content: str) -> dict[str, Any]:
        menu = await ha.call(
            "POST", "/api/config/config_entries/flow", json={"handler": "energy_local"}
        )
        assert "ekm_readloop" in menu["menu_options"], menu
        form = await ha.call(
            "POST",
            f"/api/config/config_entries/flow/{menu['flow_id']}",
            json={"next_step_id": "ekm_readloop"},
        )
        assert form["step_id"] == "ekm_readloop", form
        result: dict[str, Any] = await ha.call(
            "POST", f"/api/config/config_entries/flow/{form['flow_id']}", json={"content": content}
        )
        return result

    async def our_entries() -> int:
        entries = await ha.call("GET", "/api/config/config_entries/entry")
        return sum(entry["domain"] == "energy_local" for entry in entries)

    before = await our_entries()
    nothing_new = await paste(readloop)
    assert nothing_new["type"] == "abort", nothing_new
    assert nothing_new["reason"] == "readloop_nothing_new", nothing_new
    silent = "300009999"
    confirm = await paste(readloop + f"[[meters]]\naddress = {silent}\nversion = 4\n")
    assert confirm["step_id"] == "ekm_readloop_confirm", confirm
    refused = await ha.call(
        "POST", f"/api/config/config_entries/flow/{confirm['flow_id']}", json={}
    )
    assert refused["errors"] == {"base": "readloop_meter_not_responding"}, refused
    await ha.call("DELETE", f"/api/config/config_entries/flow/{confirm['flow_id']}")
    assert await our_entries() == before  # nothing added
    steps.facts["readloop_import"] = {
        "nothing_new": nothing_new["reason"],
        "silent_meter": refused["errors"]["base"],
        "placeholders": refused.get("description_placeholders"),
    }


async def _discovered_plug_flow(ws: Ws) -> dict[str, Any] | None:
    """The zeroconf flow Home Assistant started for the simulated plug, if any yet."""
    flows = await ws.call("config_entries/flow/progress")
    return next(
        (
            f
            for f in flows
            if f.get("handler") == "energy_local"
            and f.get("context", {}).get("source") == "zeroconf"
        ),
        None,
    )


async def _powersensor(ha: Ha, ws: Ws, steps: Steps) -> None:
    """The simulated plug (advertised in the namespace) shows up as discovered; add it.

    Then every sensor of the new entry must report a number: the plug's own power and the
    house-net and solar sensors it relays.
    """

    flow = await wait_until(
        lambda: _discovered_plug_flow(ws), within=60, what="a discovered Powersensor plug"
    )
    steps.facts["powersensor_discovered"] = flow.get("context", {}).get("title_placeholders")
    done = await ha.call("POST", f"/api/config/config_entries/flow/{flow['flow_id']}", json={})
    assert done["type"] == "create_entry", done
    entry_id = done["result"]["entry_id"]

    # Only here: the plug simulator is optional.
    from simulators.powersensor_plug import (  # noqa: PLC0415
        HOUSE_NET_MAC,
        PLUG_MAC_BASE,
        SOLAR_MAC,
    )

    plug_mac = f"{PLUG_MAC_BASE:012x}"  # the simulator's first (only) plug

    # The plug reports itself every second; the house-net and solar sensors it relays every
    # 30 s (the simulator's default).
    async def reporting() -> dict[str, str] | None:
        registry = await ws.call("config/entity_registry/list")
        ours = {
            e["entity_id"]: str(e.get("unique_id", ""))
            for e in registry
            if e.get("config_entry_id") == entry_id
            and e["entity_id"].startswith("sensor.")
            and e.get("disabled_by") is None
        }
        states = await ha.states()
        values = {e: states.get(e, {}).get("state", "missing") for e in ours}
        devices = {HOUSE_NET_MAC: False, SOLAR_MAC: False, plug_mac: False}
        for entity_id, unique_id in ours.items():
            mac = unique_id.split("_", 1)[0]
            if mac in devices and _is_number(values[entity_id]):
                devices[mac] = True
        return values if all(devices.values()) else None

    values = await wait_until(reporting, within=120, what="plug, mains and solar sensors")
    steps.facts["powersensor_states"] = values


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


type Walk = Callable[[Browser, str], Awaitable[dict[str, Path]]]


async def _click_through(ha: Ha, chromium: str, stack: RealStack, steps: Steps, walk: Walk) -> None:
    """Drive the real frontend like a user, screenshotting each dialog; the texts it waits
    for are our translations, so this also proves the frontend shows them."""
    code = await ha.login_code(USER, PASSWORD)
    async with open_browser(chromium, stack.namespace) as browser:
        shots = await walk(browser, code)
    for name, png in shots.items():
        steps.facts["screenshots"][name] = {
            "file": str(png.relative_to(ROOT)),
            **picture_facts(png),
        }


async def _add_bus_dialogs(browser: Browser, code: str) -> dict[str, Path]:
    """Add integration → Energy Local: (the discovered plug is offered first) the menu of
    what to add, then the EKM bus form. The dialog is left open: the bus is added over REST."""
    await browser.open_page(
        logged_in_url("/config/integrations/dashboard/add?domain=energy_local", code)
    )
    await browser.click_text("OK", ("ha-button",))
    await browser.click_text("Set up another instance of Energy Local")
    await browser.wait_for_text("EKM RS-485 bus (Omnimeters)")
    await browser.wait_for_text("Powersensor plug by address")
    menu = ARTIFACTS / "flow_menu.png"
    await browser.screenshot(menu)
    await browser.click_text("EKM RS-485 bus (Omnimeters)")
    await browser.wait_for_text("Add an EKM RS-485 bus")
    await asyncio.sleep(0.5)  # the dialog's opening animation
    bus = ARTIFACTS / "flow_bus.png"
    await browser.screenshot(bus)
    return {"flow_menu": menu, "flow_bus": bus}


async def _add_meter_dialog(browser: Browser, code: str) -> dict[str, Path]:
    """The integration page → Add meter: the meter form (left open, not submitted)."""
    await browser.open_page(logged_in_url("/config/integrations/integration/energy_local", code))
    await browser.click_text("Add meter")
    await browser.wait_for_text("Add an Omnimeter")
    await asyncio.sleep(0.5)
    meter = ARTIFACTS / "flow_meter.png"
    await browser.screenshot(meter)
    return {"flow_meter": meter}


async def _shot(
    ha: Ha, chromium: str, stack: RealStack, name: str, path: str, steps: Steps
) -> None:
    """A logged-in screenshot of ``path``; fails on a blank, loading or login page.

    On this 2-core machine the first load after Home Assistant starts can still show the
    "Loading…" splash when the virtual-time budget ends: take it again (new login code).
    """
    png = ARTIFACTS / f"{name}.png"
    facts: dict[str, object] = {}
    for attempt in range(1, 4):
        code = await ha.login_code(USER, PASSWORD)
        await screenshot(chromium, stack.namespace, logged_in_url(path, code), png)
        facts = {"file": str(png.relative_to(ROOT)), "attempts": attempt, **picture_facts(png)}
        if facts["logged_in_page"]:
            break
    steps.facts["screenshots"][name] = facts
    assert facts["logged_in_page"], f"{png} is not a logged-in page: {facts}"


async def _validate_energy(ws: Ws) -> tuple[dict[str, Any], dict[str, Any], float]:
    """``energy/validate``; while statistics are not compiled yet, wait for the next compile.

    The recorder compiles 5-minute statistics at :00:10, :05:10, … for the period before; the
    first compile that covers our states defines the statistics the dashboard reads. Returns
    the first answer, the last one and how long we waited.
    """
    began = time.monotonic()
    first: dict[str, Any] | None = None
    while True:
        result: dict[str, Any] = await ws.call("energy/validate")
        first = first or result
        kinds = {issue["type"] for issue in validation_issues(result)}
        if kinds != {"statistics_not_defined"} or time.monotonic() - began > STATISTICS_WAIT:
            return first, result, round(time.monotonic() - began, 1)
        now = datetime.now(UTC)
        into_period = (now.minute % 5) * 60 + now.second
        # Shortly after the next compile (10 s past the boundary, plus its own run time).
        await asyncio.sleep(max(5.0, min(300 - into_period + 25, 60)))
