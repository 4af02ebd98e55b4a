"""What the newest Home Assistant's venv needs at startup, for ``scripts/develop``.

Run with that venv's interpreter, after ``homeassistant`` is installed there::

    .venv-ha/bin/python scripts/devenv/ha_requirements.py requirements_develop.txt MANIFEST

Prints one requirement a line: each line of requirements_develop.txt, except that a package
pinned there because a core manifest asks for that version gets the version the installed
release's manifest asks for instead (the pins there are the oldest release's); then our own
manifest's requirements (serialx). Everything unpinned is left to the release's
package_constraints.txt. Standard library only: the venv has no test stack.
"""

import importlib.util
import json
import re
import sys
from pathlib import Path


def normalized(name: str) -> str:
    """A distribution name as the registry compares it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """``gTTS==2.5.4`` -> ``gtts``."""
    return normalized(re.split(r"[=<>~!\[; ]", requirement.strip(), maxsplit=1)[0])


def manifest_requirements(components: Path) -> dict[str, str]:
    """Every core integration's requirement, by package name (the first manifest wins)."""
    found: dict[str, str] = {}
    for manifest in sorted(components.glob("*/manifest.json")):
        for requirement in json.loads(manifest.read_text(encoding="utf-8")).get("requirements", []):
            found.setdefault(requirement_name(requirement), requirement)
    return found


def startup_requirements(develop: str, core: dict[str, str], ours: list[str]) -> list[str]:
    """requirements_develop.txt with the release's own manifest pins, plus ``ours``."""
    result: list[str] = []
    for raw in develop.splitlines():
        if not (line := raw.split("#", 1)[0].strip()):
            continue
        pinned = "==" in line
        result.append(core.get(requirement_name(line), line) if pinned else line)
    return result + ours


def main(argv: list[str]) -> int:
    """Print the requirements (see the module's docstring)."""
    develop, manifest = (Path(arg) for arg in argv)
    spec = importlib.util.find_spec("homeassistant")
    if spec is None or spec.origin is None:
        print("homeassistant is not installed in this interpreter", file=sys.stderr)
        return 1
    components = Path(spec.origin).parent / "components"
    ours = list(json.loads(manifest.read_text(encoding="utf-8")).get("requirements", []))
    lines = startup_requirements(
        develop.read_text(encoding="utf-8"), manifest_requirements(components), ours
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
