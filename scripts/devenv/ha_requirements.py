"""What the newest Home Assistant's venv needs at startup, for ``scripts/develop``.

Run with that venv's interpreter, after ``homeassistant`` is installed there::

    .venv-ha/bin/python scripts/devenv/ha_requirements.py requirements_develop.txt MANIFEST

Prints one requirement a line, each package once, as the installed release's manifests pin
it: the requirements of every core integration that ``default_config`` and our manifest's
dependencies pull in (through their dependencies and after-dependencies, as Home Assistant
itself resolves them before a setup); then each line of requirements_develop.txt (the pins
there are the oldest release's: a package a core manifest pins gets this release's version);
then our own manifest's requirements. Home Assistant would otherwise try to install any of
them at startup, and fail: the namespace has no network. Standard library only: the venv has
no test stack.
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


def _manifest(components: Path, domain: str) -> dict[str, list[str]]:
    path = components / domain / "manifest.json"
    if not path.exists():
        return {}
    loaded: dict[str, list[str]] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def dependency_requirements(components: Path, roots: list[str]) -> list[str]:
    """The requirements of ``roots`` and everything they (after-)depend on, in walk order."""
    seen: set[str] = set()
    todo = list(reversed(roots))
    found: list[str] = []
    while todo:
        if (domain := todo.pop()) in seen:
            continue
        seen.add(domain)
        manifest = _manifest(components, domain)
        found += manifest.get("requirements", [])
        todo += reversed(manifest.get("dependencies", []) + manifest.get("after_dependencies", []))
    return found


def manifest_requirements(components: Path) -> dict[str, str]:
    """Every core integration's requirement, by package name (the first manifest wins)."""
    found: dict[str, str] = {}
    for manifest in sorted(components.glob("*/manifest.json")):
        for requirement in json.loads(manifest.read_text(encoding="utf-8")).get("requirements", []):
            found.setdefault(requirement_name(requirement), requirement)
    return found


KEEP = "# keep"
"""A requirements_develop.txt line ending so keeps its own pin: the release's pin is not on
the package registry yet, so the newest there is installed and Home Assistant is told not to
install the release's (``--skip-pip-packages``, see :func:`kept_packages`)."""


def _develop_lines(develop: str) -> list[tuple[str, bool]]:
    """(requirement, kept) per requirement line of requirements_develop.txt."""
    found: list[tuple[str, bool]] = []
    for raw in develop.splitlines():
        requirement, _, comment = raw.partition("#")
        if requirement.strip():
            found.append((requirement.strip(), f"#{comment}".strip() == KEEP))
    return found


def kept_packages(develop: str) -> list[str]:
    """The packages requirements_develop.txt pins itself (Home Assistant must skip them)."""
    return [requirement_name(line) for line, kept in _develop_lines(develop) if kept]


def startup_requirements(
    walked: list[str], develop: str, core: dict[str, str], ours: list[str]
) -> list[str]:
    """``walked``, requirements_develop.txt and ``ours``, each package once, as the release's
    manifests pin it (``core``) where one does, except the lines marked ``# keep``."""
    lines = _develop_lines(develop)
    kept = {requirement_name(line): line for line, keep in lines if keep}
    result: dict[str, str] = {}
    for line in [*walked, *(line for line, _ in lines), *ours]:
        name = requirement_name(line)
        result.setdefault(name, kept.get(name) or core.get(name, line))
    return list(result.values())


def main(argv: list[str]) -> int:
    """Print the requirements (see the module's docstring)."""
    develop, manifest = (Path(arg) for arg in argv)
    spec = importlib.util.find_spec("homeassistant")
    if spec is None or spec.origin is None:
        print("homeassistant is not installed in this interpreter", file=sys.stderr)
        return 1
    components = Path(spec.origin).parent / "components"
    ours = json.loads(manifest.read_text(encoding="utf-8"))
    walked = dependency_requirements(components, ["default_config", *ours.get("dependencies", [])])
    lines = startup_requirements(
        walked,
        develop.read_text(encoding="utf-8"),
        manifest_requirements(components),
        list(ours.get("requirements", [])),
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
