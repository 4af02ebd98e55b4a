"""An EKM bus behind an ESPHome serial proxy, in a real Home Assistant.

The stack's ESPHome device simulator speaks the native API on 127.0.0.1 with a serial proxy
``ekm_bus`` whose UART leads to a bus of its own (one v4 meter). Home Assistant's ESPHome
integration is set up through its own config flow; the port selector's list then has the
proxy as an ``esphome-hass://`` port, and the EKM bus is added on it through our flow. The
meter's values are compared with what the simulated meter holds (read by the library's CLI
on the bus behind the proxy), a relay is switched both ways, and the device goes offline and
comes back. Run alone with ``-k esphome``.
"""

import json
import os
import re
import signal
import time
from typing import Any

import aiohttp
import pytest

from scripts.devenv.stack import PROXY_V4_ADDRESS

from .conftest import ARTIFACTS, RealStack
from .ha_client import Ha, Ws, wait_until
from .ha_log import PROBLEM_LEVELS, integration_problems, records
from .test_real_hass import (
    PASSWORD,
    STATE_OUT_OPEN,
    STATE_OUT_RELAY_1,
    USER,
    Steps,
    add_meter,
    cli_read,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

METER = f"sensor.omnimeter_{PROXY_V4_ADDRESS}"
RELAY_1 = f"switch.omnimeter_{PROXY_V4_ADDRESS}_relay_1"
NO_PULSES = {f"pulse_{i}_kind": "none" for i in (1, 2, 3)}


async def proxied_meter(stack: RealStack) -> dict[str, Any]:
    """The simulated meter's registers, read on the bus behind the proxy (a second master)."""
    return await cli_read(stack, stack.info["esphome"]["bus"], PROXY_V4_ADDRESS)


async def test_ekm_bus_behind_an_esphome_serial_proxy(real_stack: RealStack) -> None:
    steps = Steps()
    outcome = "failed"
    try:
        async with aiohttp.ClientSession() as session:
            await _drive(real_stack, session, steps)
        outcome = "passed"
    finally:
        summary = {
            "outcome": outcome,
            "total_seconds": round(time.monotonic() - steps.began, 1),
            "steps": steps.seconds,
            **steps.facts,
        }
        (ARTIFACTS / "esphome_summary.json").write_text(json.dumps(summary, indent=2) + "\n")


async def _flow(ha: Ha, path: str, body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = await ha.call("POST", path, json=body)
    return result


async def _drive(stack: RealStack, session: aiohttp.ClientSession, steps: Steps) -> None:
    esphome = stack.info["esphome"]
    assert esphome is not None, stack.info
    ha = Ha(session, stack.base)
    with steps.step("onboarding"):
        await ha.onboard(USER, PASSWORD)
    assert ha.token is not None
    ws = await Ws.connect(session, stack.base, ha.token)
    try:
        with steps.step("ESPHome config flow (host, port)"):
            form = await _flow(ha, "/api/config/config_entries/flow", {"handler": "esphome"})
            assert form["type"] == "form", form
            assert form["step_id"] == "user", form
            done = await _flow(
                ha,
                f"/api/config/config_entries/flow/{form['flow_id']}",
                {"host": esphome["host"], "port": esphome["port"]},
            )
            assert done["type"] == "create_entry", done
            esphome_entry = done["result"]["entry_id"]

        with steps.step("the serial proxy in the port list"):

            async def proxy_port() -> dict[str, Any] | None:
                ports = await ws.call("usb/list_serial_ports")
                found = [p for p in ports if str(p["device"]).startswith("esphome-hass://")]
                return found[0] if found else None

            port = await wait_until(proxy_port, within=60, what="the ESPHome serial proxy port")
            steps.facts["proxy_port"] = port
            url = str(port["device"])
            assert esphome_entry in url, port
            assert f"port_name={esphome['proxy']}" in url, port

        with steps.step("bus config flow on the proxy port"):
            form = await _flow(ha, "/api/config/config_entries/flow", {"handler": "energy_local"})
            if form["type"] == "menu":
                form = await _flow(
                    ha,
                    f"/api/config/config_entries/flow/{form['flow_id']}",
                    {"next_step_id": "ekm_bus"},
                )
            done = await _flow(
                ha, f"/api/config/config_entries/flow/{form['flow_id']}", {"port": url}
            )
            assert done["type"] == "create_entry", done
            entry_id = done["result"]["entry_id"]
            assert done["result"]["title"] == f"EKM bus {url}", done

        with steps.step("meter through the proxy"):
            await add_meter(ha, entry_id, PROXY_V4_ADDRESS, NO_PULSES)

            async def numeric() -> dict[str, dict[str, Any]] | None:
                states = await ha.states()
                for entity_id in (f"{METER}_energy_import", f"{METER}_energy_export"):
                    try:
                        float(states.get(entity_id, {}).get("state", "x"))
                    except ValueError:
                        return None
                return states if states.get(RELAY_1, {}).get("state") == "off" else None

            states = await wait_until(numeric, within=90, what="numeric sensors via the proxy")

        with steps.step("values equal the simulated meter's"):
            registers = await proxied_meter(stack)
            states = await ha.states()
            imported = float(states[f"{METER}_energy_import"]["state"])
            exported = float(states[f"{METER}_energy_export"]["state"])
            # Registers of 0.1 kWh resolution: the difference without float noise.
            meter_import = round(registers["kWh_Tot"] - registers["Rev_kWh_Tot"], 1)
            steps.facts["values"] = {
                "ha_import": imported,
                "meter_import": meter_import,
                "ha_export": exported,
                "meter_export": registers["Rev_kWh_Tot"],
            }
            # The meter counts on between our poll and the CLI's read (2.6 kW: under 0.1 kWh
            # in two polls plus the gate's one-poll confirmation).
            assert -0.01 < meter_import - imported < 0.2, steps.facts["values"]
            assert -0.01 < registers["Rev_kWh_Tot"] - exported < 0.2, steps.facts["values"]

        with steps.step("relay 1 on and off through the proxy"):
            assert (await proxied_meter(stack))["State_Out"] == STATE_OUT_OPEN

            async def relay_is(state: str) -> bool | None:
                return True if (await ha.states())[RELAY_1]["state"] == state else None

            await ha.call("POST", "/api/services/switch/turn_on", json={"entity_id": RELAY_1})
            await wait_until(lambda: relay_is("on"), within=30, what="relay 1 on in HA")
            assert (await proxied_meter(stack))["State_Out"] == STATE_OUT_RELAY_1
            await ha.call("POST", "/api/services/switch/turn_off", json={"entity_id": RELAY_1})
            await wait_until(lambda: relay_is("off"), within=30, what="relay 1 off in HA")
            assert (await proxied_meter(stack))["State_Out"] == STATE_OUT_OPEN

        with steps.step("no repair issue of ours or about the device"):
            issues = (await ws.call("repairs/list_issues"))["issues"]
            steps.facts["repair_issues"] = [(i["domain"], i["issue_id"]) for i in issues]
            assert [i for i in issues if i["domain"] in ("energy_local", "esphome")] == [], issues

        log = stack.config_dir / "home-assistant.log"
        with steps.step("nothing about the integration at WARNING+ in Home Assistant's log"):
            problems = integration_problems(log)
            steps.facts["integration_log_problems"] = problems
            assert problems == [], "\n".join(problems)

        with steps.step("the ESPHome device goes offline and comes back"):
            pid = stack.info["pids"]["esphome_proxy"]
            os.kill(pid, signal.SIGUSR1)

            async def power_is(unavailable: bool) -> bool | None:
                state = (await ha.states())[f"{METER}_power"]["state"]
                return True if (state == "unavailable") == unavailable else None

            began = time.monotonic()
            await wait_until(lambda: power_is(True), within=120, what="the meter unavailable")
            steps.facts["offline_to_unavailable_s"] = round(time.monotonic() - began, 1)
            os.kill(pid, signal.SIGUSR2)
            began = time.monotonic()
            await wait_until(lambda: power_is(False), within=180, what="the meter back")
            steps.facts["back_to_available_s"] = round(time.monotonic() - began, 1)
            entries = await ha.call("GET", "/api/config/config_entries/entry?domain=energy_local")
            assert [e["state"] for e in entries] == ["loaded"], entries

        with steps.step("the outage logged once, as an unavailable port, and nothing else"):
            problems = integration_problems(log)
            steps.facts["outage_log"] = problems
            # What the outage itself must log (once each): the meter not answering because
            # the port cannot be opened, and the coordinator's failed update with its
            # traceback at DEBUG (the e2e configuration logs our package at DEBUG).
            expected = [
                re.compile(rf"WARNING .* Meter 0*{PROXY_V4_ADDRESS} is not answering: cannot open"),
                re.compile(
                    r"ERROR .* Error fetching EKM bus esphome-hass://\S+ data: .*unavailable"
                ),
                re.compile(r"DEBUG .* Full error:$"),
            ]
            firsts = [p.splitlines()[0] for p in problems]
            assert len(firsts) == len(expected), "\n".join(problems)
            for line, pattern in zip(firsts, expected, strict=True):
                assert pattern.search(line), line
            text = log.read_text(encoding="utf-8", errors="replace")
            # ESPHome's own warnings (the skipped pin, reconnects while offline), reported.
            steps.facts["esphome_log_warnings"] = [
                r.text.splitlines()[0]
                for r in records(text)
                if r.level in PROBLEM_LEVELS
                and not r.ours
                and (
                    r.logger.startswith(("homeassistant.components.esphome", "aioesphomeapi"))
                    or "aioesphomeapi" in r.message
                    or "ESPHome" in r.message
                )
            ]
    finally:
        await ws.close()
