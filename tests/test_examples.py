"""Every analysis in examples/ runs, at a small size, and gives sensible numbers."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import xarray_microct as mct
from xarray_microct.runner import open_result
from xarray_microct.synthetic import fiber_bed

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
    # the whole fibers' means on both sides (the cut ones read low: -5.7 % here)
    assert scores["mean radius"] == pytest.approx(scores["true mean radius"], rel=0.02)
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


def _scan_store(tmp_path: Path) -> Path:
    store = tmp_path / "scan.zarr"
    volume, _ = fiber_bed((16, 32, 32), spacing=0.65, radius=3.0, seed=1, chunks=16)
    volume.rename("scan").to_zarr(store)
    return store


def test_set_up_examples_take_overwrite_and_resume(tmp_path: Path, capsys) -> None:
    sys.path.insert(0, str(EXAMPLES))  # as `python examples/laptop.py` has it
    try:
        laptop = load("laptop")
        scan, out = _scan_store(tmp_path), tmp_path / "result.zarr"
        laptop.main(laptop.make_client, [str(scan), str(out)])
        capsys.readouterr()
        with pytest.raises(SystemExit) as refused:  # one line and exit 2, as `microct run`
            laptop.main(laptop.make_client, [str(scan), str(out)])
        assert refused.value.code == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and "exists; pass --overwrite" in error
        assert "Traceback" not in error
        laptop.main(laptop.make_client, [str(scan), str(out), "--overwrite"])
        with pytest.raises(SystemExit):  # one or the other
            laptop.main(laptop.make_client, [str(scan), str(out), "--overwrite", "--resume"])
    finally:
        sys.path.remove(str(EXAMPLES))


def test_set_up_examples_import_from_the_repository_root() -> None:
    # running.md: `from examples.slurm import make_cluster`, run from the repository root
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get(
        "PYTHONPATH"), str(EXAMPLES.parent)]))}
    for name in ("laptop", "local_cluster", "mpi_run", "slurm", "cloud_coiled"):
        done = subprocess.run(
            [sys.executable, "-c", f"import examples.{name} as m; print(m.main.__module__)"],
            cwd=EXAMPLES.parent, env=env, capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "examples.enhance"


def test_mpi_example_ends_without_shutdown_tracebacks(tmp_path: Path) -> None:
    pytest.importorskip("mpi4py", reason="MPI not installed: pip install 'xarray-microct[mpi]'")
    pytest.importorskip("dask_mpi", reason="pip install 'xarray-microct[mpi]'")
    beside = Path(sys.executable).parent / "mpirun"
    mpirun = str(beside) if beside.exists() else shutil.which("mpirun")
    if mpirun is None:
        pytest.skip("no mpirun: pip install 'xarray-microct[mpi]' brings the mpich wheel")
    scan, out = _scan_store(tmp_path), tmp_path / "result.zarr"
    command = [mpirun, "-n", "3", sys.executable, str(EXAMPLES / "mpi_run.py"), str(scan),
               str(out)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "processes=1" in done.stdout  # 3 ranks: scheduler, this script, one worker
    assert "Traceback" not in done.stderr and "ERROR" not in done.stderr, done.stderr
    expected = mct.open_volume(scan).microct.median(radius="1 voxel").microct.gaussian(
        sigma="0.65 um"
    ).microct.unsharp_mask(sigma="2 um", amount=0.5).microct.normalize()
    np.testing.assert_array_equal(open_result(out), expected)
