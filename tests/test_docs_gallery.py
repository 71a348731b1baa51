"""The example gallery of the docs can be built from ``examples/`` as it is.

sphinx-gallery makes one page per script, titled by the first line of its docstring,
which must be underlined as a reStructuredText title (the docs build fails otherwise);
the scripts that run at build time must exist under the names ``docs/gallery.py`` gives.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def gallery_config():
    spec = importlib.util.spec_from_file_location("docs_gallery", ROOT / "docs" / "gallery.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_every_example_docstring_starts_with_a_title(script: Path) -> None:
    docstring = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8")), clean=False)
    assert docstring, f"{script.name} has no module docstring"
    title, underline, *rest = docstring.split("\n")
    assert title.strip() and set(underline) == {"="} and len(underline) >= len(title)
    assert rest and rest[0] == "", "a blank line after the title"


def test_the_executed_and_ordered_examples_exist() -> None:
    gallery = gallery_config()
    names = {p.stem for p in EXAMPLES}
    assert set(gallery.EXECUTED) <= names
    assert set(gallery.ORDER) <= names  # no stale name (a new example goes last)
