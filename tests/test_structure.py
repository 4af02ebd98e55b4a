"""The integration's shape, read from its source as Home Assistant core's own checks read it.

hassfest and the quality-scale validators cannot run here (offline, no core checkout); these
tests make the same AST checks on our package, plus the layout rules we hold ourselves to.
"""

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "custom_components" / "energy_local"
TYPED_ENTRY = re.compile(r"^[A-Za-z]+ConfigEntry$")
ROOT_MODULES = {
    "__init__",
    "binary_sensor",
    "config_flow",
    "const",
    "diagnostics",
    "families",
    "sensor",
    "switch",
}
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical"}


def _module(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _top_async_function(module: ast.Module, name: str) -> ast.AsyncFunctionDef | None:
    for node in module.body:
        if isinstance(node, ast.AsyncFunctionDef) and node.name == name:
            return node
    return None


def _sources() -> Iterator[Path]:
    yield from sorted(PACKAGE.rglob("*.py"))


def test_init_defines_the_real_entry_points() -> None:
    """No module __getattr__: core's checks parse __init__.py and must find every entry point."""
    init = _module(PACKAGE / "__init__.py")
    assert not any(
        isinstance(node, ast.FunctionDef) and node.name == "__getattr__" for node in init.body
    )
    for name in (
        "async_setup",
        "async_setup_entry",
        "async_unload_entry",
        "async_remove_config_entry_device",
    ):
        assert _top_async_function(init, name) is not None, name
    assert any(
        isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "CONFIG_SCHEMA" for t in node.targets)
        for node in init.body
    )


def test_setup_entry_sets_runtime_data_itself() -> None:
    """Rule runtime-data: ``entry.runtime_data = ...`` inside __init__'s async_setup_entry."""
    setup_entry = _top_async_function(_module(PACKAGE / "__init__.py"), "async_setup_entry")
    assert setup_entry is not None
    entry_arg = setup_entry.args.args[1].arg
    assert any(
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == entry_arg
        and node.attr == "runtime_data"
        and isinstance(node.ctx, ast.Store)
        for node in ast.walk(setup_entry)
    )


@pytest.mark.parametrize(
    ("module", "function"),
    [
        ("__init__", "async_setup_entry"),
        ("__init__", "async_unload_entry"),
        ("__init__", "async_remove_config_entry_device"),
        ("sensor", "async_setup_entry"),
        ("binary_sensor", "async_setup_entry"),
        ("switch", "async_setup_entry"),
        ("diagnostics", "async_get_config_entry_diagnostics"),
    ],
)
def test_entry_points_take_a_typed_config_entry(module: str, function: str) -> None:
    """Rule strict-typing (runtime-data part): the entry argument is a ``<Name>ConfigEntry``."""
    node = _top_async_function(_module(PACKAGE / f"{module}.py"), function)
    assert node is not None
    annotation = node.args.args[1].annotation
    assert isinstance(annotation, ast.Name)
    assert TYPED_ENTRY.match(annotation.id), annotation.id


def test_options_flow_takes_a_typed_config_entry() -> None:
    flow = _module(PACKAGE / "config_flow.py")
    found = [
        item
        for node in flow.body
        if isinstance(node, ast.ClassDef)
        for item in node.body
        if isinstance(item, ast.FunctionDef) and item.name == "async_get_options_flow"
    ]
    assert len(found) == 1
    annotation = found[0].args.args[0].annotation
    assert isinstance(annotation, ast.Name)
    assert TYPED_ENTRY.match(annotation.id)


def test_a_setup_failure_raises_config_entry_not_ready() -> None:
    """Rule test-before-setup: something in the package raises ConfigEntryNotReady."""
    raised = {
        (node.exc.func.id if isinstance(node.exc, ast.Call) else getattr(node.exc, "id", None))
        for path in _sources()
        for node in ast.walk(_module(path))
        if isinstance(node, ast.Raise) and node.exc is not None
        if isinstance(node.exc, ast.Name)
        or (isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name))
    }
    assert "ConfigEntryNotReady" in raised


def _entry_type_reads() -> list[str]:
    """Every place that reads CONF_ENTRY_TYPE (writing it as a key of a dict display is not)."""
    reads: list[str] = []
    for path in _sources():
        module = _module(path)
        keys = {
            id(key)
            for node in ast.walk(module)
            if isinstance(node, ast.Dict)
            for key in node.keys
            if key is not None
        }
        reads.extend(
            f"{path.relative_to(PACKAGE)}:{node.lineno}"
            for node in ast.walk(module)
            if isinstance(node, ast.Name)
            and node.id == "CONF_ENTRY_TYPE"
            and isinstance(node.ctx, ast.Load)
            and id(node) not in keys
        )
    return reads


def test_the_entry_type_is_read_in_one_place() -> None:
    reads = _entry_type_reads()
    assert len(reads) == 1, reads
    assert reads[0].startswith("families.py:")


def test_the_root_keeps_only_what_home_assistant_needs() -> None:
    """Families and libraries are packages; no name prefix stands in for a folder."""
    root_modules = {path.stem for path in PACKAGE.glob("*.py")}
    assert root_modules == ROOT_MODULES
    packages = {path.parent.name for path in PACKAGE.glob("*/__init__.py")}
    assert packages == {"ekm", "powersensor", "ekm_bus", "powersensor_home"}


def test_coordinators_and_entity_bases_live_where_core_keeps_them() -> None:
    """DataUpdateCoordinator subclasses in coordinator.py; entity base classes in entity.py."""
    for path in _sources():
        for node in ast.walk(_module(path)):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {ast.unparse(base).split("[")[0] for base in node.bases}
            if "DataUpdateCoordinator" in bases:
                assert path.name == "coordinator.py", f"{path}: {node.name}"
            if node.name.endswith("Entity") and any(
                base.endswith(("Entity", "SensorEntity")) for base in bases
            ):
                assert path.name == "entity.py", f"{path}: {node.name}"


def test_log_messages_start_with_a_capital() -> None:
    lower = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path in _sources()
        for node in ast.walk(_module(path))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in LOG_METHODS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id.lstrip("_").upper() == "LOGGER"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
        and node.args[0].value[:1].islower()
    ]
    assert lower == []


@pytest.mark.parametrize("library", ["ekm", "powersensor"])
def test_libraries_and_their_tools_start_without_home_assistant(library: str) -> None:
    """With ``homeassistant`` made unimportable, the package imports and its tool answers."""
    script = (
        "import sys, runpy\n"
        "sys.modules['homeassistant'] = None\n"
        f"sys.argv = ['{library}', '--help']\n"
        f"runpy.run_module('custom_components.energy_local.{library}', run_name='__main__')\n"
    )
    result = subprocess.run(  # noqa: S603  (our own interpreter and code)
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_no_module_defers_annotations_by_hand() -> None:
    """Core bans ``from __future__ import annotations``: Python 3.14 defers them itself."""
    futures = [
        str(path.relative_to(ROOT))
        for folder in ("custom_components", "simulators", "scripts", "tests")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if any(
            isinstance(node, ast.ImportFrom)
            and node.module == "__future__"
            and any(alias.name == "annotations" for alias in node.names)
            for node in _module(path).body
        )
    ]
    assert futures == []
