"""What Home Assistant's log says about our integration, for the end-to-end proof.

The proof fails on any record at WARNING or above that is ours or names us: our loggers
(``custom_components.energy_local…``), and Home Assistant's own records that mention
``energy_local`` (its "Detected that custom integration 'energy_local' …" deprecation reports,
a failed setup, a slow update, a Python warning raised in our files). Tracebacks through our
code fail it at any level.

One record is allowed, by its exact text: the loader's warning that every custom integration
gets once at startup (it says the integration is custom, nothing about what it does).
"""

import re
from dataclasses import dataclass
from pathlib import Path

INTEGRATION = "energy_local"
OUR_LOGGER = f"custom_components.{INTEGRATION}"
PROBLEM_LEVELS = frozenset({"WARNING", "ERROR", "CRITICAL"})
# homeassistant/loader.py's CUSTOM_WARNING, as 2026.10 and 2026.11 word it.
CUSTOM_INTEGRATION_WARNING = (
    "homeassistant.loader",
    "WARNING",
    (
        f"We found a custom integration {INTEGRATION} which has not been tested by Home"
        " Assistant. This component might cause stability problems, be sure to disable it if"
        " you experience issues with Home Assistant"
    ),
)

# Home Assistant's LOG_FORMAT: "<time> LEVEL (thread) [logger] message"; the time is
# "2026-12-01 22:28:30.438" up to 2026.10 and "2026-12-01 22:28:30.438+00:00" in 2026.11.
# Lines that do not start so continue the record above (a traceback).
_RECORD_START = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}(?:[+-]\d\d:\d\d)? "
    r"(?P<level>[A-Z]+) \((?P<thread>[^)]*)\) "
    r"\[(?P<logger>[^\]]+)\] (?P<message>.*)$"
)


# Our package, or the domain as a word ("custom integration 'energy_local'", "for
# energy_local", "energy_local.sensor"), not a directory of that name elsewhere (the Python
# interpreter lives under ~/.cache/energy_local/, so every traceback through the standard
# library has it).
_NAMES_US = re.compile(rf"custom_components[./]{INTEGRATION}|(?<![\w./-]){INTEGRATION}(?![\w/-])")


@dataclass(slots=True)
class Record:
    """One log record: its first line's fields, and any lines that follow it (a traceback)."""

    level: str
    logger: str
    message: str
    text: str
    """The whole record as written, first line included."""

    @property
    def ours(self) -> bool:
        """Written by one of our loggers."""
        return self.logger == OUR_LOGGER or self.logger.startswith(OUR_LOGGER + ".")

    @property
    def names_us(self) -> bool:
        """Names the integration anywhere (message or traceback)."""
        return _NAMES_US.search(self.text) is not None

    @property
    def through_our_code(self) -> bool:
        """Carries a traceback with a frame in our package."""
        return any(
            'File "' in line and f"custom_components/{INTEGRATION}/" in line
            for line in self.text.splitlines()[1:]
        )


def records(text: str) -> list[Record]:
    """The log's records, in order (lines before the first record are dropped)."""
    found: list[Record] = []
    lines: list[str] = []
    for line in text.splitlines():
        if (match := _RECORD_START.match(line)) is not None:
            if lines and found:
                found[-1].text = "\n".join(lines)
            found.append(Record(match["level"], match["logger"], match["message"], line))
            lines = [line]
        elif found:
            lines.append(line)
    if lines and found:
        found[-1].text = "\n".join(lines)
    return found


def allowed(record: Record) -> bool:
    """The one expected record (see the module's docstring)."""
    one_line = "\n" not in record.text
    return one_line and (record.logger, record.level, record.message) == CUSTOM_INTEGRATION_WARNING


def integration_problems(log: Path) -> list[str]:
    """Every record at WARNING+ that is ours or names us, except the allowed one; and every
    record, at any level, whose traceback passes through our code."""
    return [
        record.text
        for record in records(log.read_text(encoding="utf-8", errors="replace"))
        if not allowed(record)
        and (
            (record.level in PROBLEM_LEVELS and (record.ours or record.names_us))
            or record.through_our_code
        )
    ]


def allowed_records(log: Path) -> list[str]:
    """The allowed records found (the proof reports them, so an absent one is seen too)."""
    text = log.read_text(encoding="utf-8", errors="replace")
    return [record.text for record in records(text) if allowed(record)]
