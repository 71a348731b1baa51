"""The layer rule of docs/architecture.md: no module imports from a layer above its own.

The layers are read from the table in ``docs/architecture.md`` (one source of truth);
imports are read with :mod:`ast`, including those inside functions.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "xarray_microct"
DOC = ROOT / "docs" / "architecture.md"

# (importer, imported) pairs that break the rule today, each with the change removing it.
def layers() -> dict[str, int]:
    """Top-level module or package name -> layer number, from the table of the doc."""
    table = {}
    for match in re.finditer(r"^\| (\d+) \| ([^|]+) \|", DOC.read_text(), re.MULTILINE):
        for name in re.findall(r"`([\w.]+)`", match[2]):
            table[name] = int(match[1])
    return table


def modules() -> list[str]:
    """Every module of the package, dotted, relative to it (``core.registry``)."""
    return sorted(
        ".".join(path.relative_to(PACKAGE).with_suffix("").parts) for path in PACKAGE.rglob("*.py")
    )


def layer_of(module: str, table: dict[str, int]) -> int:
    top = module.split(".")[0]
    if top not in table:
        raise AssertionError(
            f"module {module!r} is in no layer: add it to the table of docs/architecture.md"
        )
    return table[top]


def imports_of(module: str) -> set[str]:
    """The package's modules that ``module`` imports (dotted, relative to the package)."""
    known = set(modules())
    path = PACKAGE.joinpath(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    found = set()

    def add(dotted: str) -> None:
        name = dotted.removeprefix("xarray_microct").lstrip(".")
        while name and name not in known and f"{name}.__init__" not in known:
            name = name.rpartition(".")[0]
        found.add(name or "__init__")

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "xarray_microct":
                    add(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:
                raise AssertionError(f"{module}: use absolute imports, not relative ones")
            if node.module.split(".")[0] == "xarray_microct":
                for alias in node.names:  # ``from xarray_microct import plot`` is plot
                    add(f"{node.module}.{alias.name}")
    return found


def test_every_module_is_in_a_layer():
    table = layers()
    assert {"kernels", "core", "ops", "cli"} <= set(table)
    for module in modules():
        layer_of(module, table)


@pytest.mark.parametrize("module", modules())
def test_no_module_imports_from_a_layer_above_its_own(module):
    table = layers()
    mine = layer_of(module, table)
    above = sorted(imported for imported in imports_of(module) if layer_of(imported, table) > mine)
    assert not above, (
        f"{module} (layer {mine}) imports {above} from a higher layer; move the shared "
        "code down (see docs/architecture.md)"
    )


def test_the_rule_catches_an_upward_import(tmp_path, monkeypatch):
    """The checker itself: a core module importing plot is reported."""
    fake = tmp_path / "xarray_microct"
    (fake / "core").mkdir(parents=True)
    (fake / "core" / "__init__.py").write_text("")
    (fake / "plot.py").write_text("")
    (fake / "core" / "bad.py").write_text("def f():\n    from xarray_microct import plot\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert imports_of("core.bad") == {"plot"}
    assert layer_of("plot", layers()) > layer_of("core.bad", layers())
