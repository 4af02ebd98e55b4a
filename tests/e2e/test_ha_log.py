"""The end-to-end proof's log guard: what it stops, and the one record it lets through.

The records are written as Home Assistant writes them (its LOG_FORMAT); the texts are the
shapes 2026.11 uses for custom integrations.
"""

from pathlib import Path

import pytest

from .ha_log import allowed_records, integration_problems

STAMP = "2026-12-01 22:00:00.123+00:00"  # 2026.11's time format (2026.10 had no offset)
CUSTOM = (
    f"{STAMP} WARNING (SyncWorker_0) [homeassistant.loader] We found a custom integration"
    " energy_local which has not been tested by Home Assistant. This component might cause"
    " stability problems, be sure to disable it if you experience issues with Home Assistant"
)


def write(tmp_path: Path, *lines: str) -> Path:
    log = tmp_path / "home-assistant.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return log


def test_the_custom_integration_warning_alone_is_allowed(tmp_path: Path) -> None:
    log = write(tmp_path, CUSTOM)
    assert integration_problems(log) == []
    assert allowed_records(log) == [CUSTOM]


@pytest.mark.parametrize(
    "line",
    [
        # Our own loggers, at every level from WARNING up.
        f"{STAMP} WARNING (MainThread) [custom_components.energy_local.ekm_bus] bus slow",
        f"{STAMP} ERROR (MainThread) [custom_components.energy_local] setup failed",
        f"{STAMP} CRITICAL (MainThread) [custom_components.energy_local.powersensor] gone",
        # Home Assistant's deprecation report about us.
        (
            f"{STAMP} WARNING (MainThread) [homeassistant.helpers.frame] Detected that custom"
            " integration 'energy_local' calls a deprecated API at"
            " custom_components/energy_local/sensor.py, line 9: x. This will stop working in"
            " Home Assistant 2027.5, please create a bug report at"
            " https://github.com/energy-local/energy_local/issues"
        ),
        # A Python warning attributed to our file.
        (
            f"{STAMP} WARNING (MainThread) [py.warnings] /config/custom_components/energy_local/"
            "x.py:3: DeprecationWarning: old"
        ),
        # Home Assistant naming our domain.
        f"{STAMP} ERROR (MainThread) [homeassistant.setup] Setup failed for 'energy_local': x",
        f"{STAMP} ERROR (MainThread) [homeassistant.config_entries] Set up Bus for energy_local",
        f"{STAMP} WARNING (MainThread) [homeassistant.helpers.entity] energy_local.sensor slow",
        # Allowed by its exact text only: a reworded loader warning is reported.
        CUSTOM.replace("has not been tested", "was not tested"),
    ],
)
def test_a_warning_about_us_is_a_problem(tmp_path: Path, line: str) -> None:
    assert integration_problems(write(tmp_path, CUSTOM, line)) == [line]


def test_records_in_the_older_time_format_are_read(tmp_path: Path) -> None:
    line = "2026-12-01 22:00:00.123 ERROR (MainThread) [custom_components.energy_local] x"
    assert integration_problems(write(tmp_path, line)) == [line]


def test_a_traceback_through_our_code_is_a_problem_at_any_level(tmp_path: Path) -> None:
    record = [
        f"{STAMP} DEBUG (MainThread) [homeassistant.core] Error doing job",
        "Traceback (most recent call last):",
        '  File "/config/custom_components/energy_local/ekm_bus/coordinator.py", line 3, in f',
        "ValueError: x",
    ]
    assert integration_problems(write(tmp_path, *record)) == ["\n".join(record)]


def test_the_allowed_text_with_a_traceback_is_a_problem(tmp_path: Path) -> None:
    lines = [CUSTOM, "Traceback (most recent call last):", "ValueError: x"]
    assert integration_problems(write(tmp_path, *lines)) == ["\n".join(lines)]


@pytest.mark.parametrize(
    "line",
    [
        f"{STAMP} DEBUG (MainThread) [custom_components.energy_local] polled energy_local",
        f"{STAMP} INFO (MainThread) [homeassistant.setup] Setting up energy_local",
        f"{STAMP} WARNING (MainThread) [homeassistant.components.http] someone else's problem",
        # The interpreter's directory is named like us; a library's traceback through it is
        # not about us.
        (
            f"{STAMP} ERROR (MainThread) [haffmpeg.core] FFmpeg fails\n"
            "Traceback (most recent call last):\n"
            '  File "/root/.cache/energy_local/python3.14/usr/lib/python3.14/subprocess.py",'
            " line 1039, in __init__\n"
            "FileNotFoundError: [Errno 2] No such file or directory: 'ffmpeg'"
        ),
    ],
)
def test_below_warning_or_not_about_us_passes(tmp_path: Path, line: str) -> None:
    assert integration_problems(write(tmp_path, CUSTOM, line)) == []
