"""Every analysis in examples/ runs, at a small size, and gives sensible numbers."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fibers_example(tmp_path: Path) -> None:
    scores = load("fibers").main(["--shape", "16", "96", "96", "--chunks", "48",
                                  "--output", str(tmp_path)])
    assert scores["object f1"] > 0.8
    assert scores["pixel dice"] > 0.6
    assert abs(scores["mean radius"] - scores["true mean radius"]) < 1.5
    assert {p.name for p in tmp_path.iterdir()} >= {"fibers.csv", "fibers.html",
                                                    "fibers-slice.png"}
    html = (tmp_path / "fibers.html").read_text()
    assert "detect_fibers" in html  # the provenance of the result


def test_examples_are_all_tested() -> None:
    tested = {"fibers", "beads", "paper_figures"}
    mine = {p.stem for p in EXAMPLES.glob("*.py")}
    untested = mine - tested - CLUSTER_EXAMPLES
    assert not untested, f"examples without a test here: {sorted(untested)}"


CLUSTER_EXAMPLES: set[str] = set()


@pytest.fixture(autouse=True)
def _quiet_dask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TQDM_DISABLE", "1")
