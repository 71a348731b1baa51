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


def test_beads_example(tmp_path: Path) -> None:
    scores = load("beads").main(["--size", "40", "--radius", "5", "--chunks", "24",
                                 "--output", str(tmp_path)])
    assert scores["object f1"] >= 0.9
    assert scores["mean radius"] == pytest.approx(5.0, rel=0.1)
    assert {"beads.csv", "beads.html", "beads-slice.png"} <= {p.name for p in tmp_path.iterdir()}
    assert "watershed" in (tmp_path / "beads.html").read_text()


def test_paper_figures_example(tmp_path: Path) -> None:
    result = load("paper_figures").main(["--small", "--workers", "2", "--output",
                                         str(tmp_path)])
    written = {p.name for p in tmp_path.iterdir()}
    assert {"bead-pipeline.png", "fiber-pipeline.png", "fiber-detection.png",
            "fiber-metrics.csv", "timings.png", "timings.csv"} <= written
    timings = result["timings"]
    assert len(timings) == 2
    assert timings["fibers"].nunique() == 1  # the same answer on both schedulers
    assert result["scores"]["dice"] > 0.6


def test_quickstart_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    load("quickstart").main(tmp_path)
    out = capsys.readouterr().out
    assert "chain: median → gaussian → unsharp_mask → normalize" in out
    assert (tmp_path / "sharp.zarr").is_dir()
