"""The last line of ``microct run`` after Ctrl-C names what the output holds, whatever the
moment of the interrupt: marked interrupted (mid-write), complete (the run had finished
writing it: a signal in its last moments), or left as it was (nothing of this run in it)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from helpers import StopAfterStores

import xarray_microct as mct
import xarray_microct.runner
from xarray_microct.cli import main
from xarray_microct.runner import open_result, run_state


@pytest.fixture
def job(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A stored scan, a one-step pipeline file and the output path."""
    source = tmp_path / "scan.zarr"
    data = np.random.default_rng(0).random((16, 16, 16))
    mct.from_array(data, spacing=0.5, chunks=8, name="scan").microct.to_zarr(source, chunks=8)
    steps = tmp_path / "steps.yaml"
    steps.write_text(yaml.safe_dump({"steps": [{"op": "gaussian", "params": {"sigma": "1 um"}}]}))
    return steps, source, tmp_path / "out.zarr"


def _interrupt_after_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C as ``run_pipeline`` returns, its output written."""
    run = xarray_microct.runner.run_pipeline

    def interrupted(*args: Any, **kwargs: Any) -> Path:
        run(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(xarray_microct.runner, "run_pipeline", interrupted)


def test_an_interrupt_after_the_write_says_the_output_is_complete(
    job: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    steps, source, out = job
    _interrupt_after_the_run(monkeypatch)
    assert main(["run", str(steps), str(source), str(out), "--no-progress"]) == 130
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == (
        f"microct: interrupted (Ctrl-C); {out} is complete: the run had finished writing it"
    )
    assert run_state(out)["status"] == "complete"
    expected = mct.open_volume(source).microct.gaussian(sigma="1 um").values
    np.testing.assert_array_equal(open_result(out).values, expected)


def test_an_interrupted_replacement_says_the_old_output_was_left(
    job: tuple[Path, Path, Path], capsys: pytest.CaptureFixture
) -> None:
    steps, source, out = job
    assert main(["run", str(steps), str(source), str(out), "--no-progress"]) == 0
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    with StopAfterStores(2):
        # in the stored chunks (8³), not one merged chunk, to stop between two
        args = ["run", str(steps), str(source), str(out), "--no-progress", "--chunks", "8"]
        code = main([*args, "--overwrite"])
    assert code == 130
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == f"microct: interrupted (Ctrl-C); {out} was left as it was"
    assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.zarr", "scan.zarr", "steps.yaml"]


def test_an_interrupt_mid_write_says_the_output_is_marked_interrupted(
    job: tuple[Path, Path, Path], capsys: pytest.CaptureFixture
) -> None:
    steps, source, out = job
    args = ["run", str(steps), str(source), str(out), "--no-progress", "--chunks", "8"]
    with StopAfterStores(2):  # in the stored chunks (8³), not one merged chunk
        assert main(args) == 130
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == (
        f"microct: interrupted (Ctrl-C); {out} is marked interrupted: finish it with the same "
        "command and --resume"
    )
    assert run_state(out)["status"] == "interrupted"


@pytest.mark.parametrize("rank", [0, 1, 2])
def test_under_mpi_only_the_rank_that_runs_the_analysis_says_what_is_left(
    job: tuple[Path, Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    rank: int,
) -> None:
    # was: `mpirun -n 4 microct run ... --mpi` and Ctrl-C printed the line four times,
    # once a rank (mpirun sends the Ctrl-C to every rank)
    import xarray_microct.cluster

    steps, source, out = job
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", sys.modules.get("mpi4py.MPI", object()))
    monkeypatch.setattr(xarray_microct.cluster, "mpi_rank", lambda: rank, raising=False)

    def stopped(*args: Any, **kwargs: Any) -> Path:
        raise KeyboardInterrupt

    monkeypatch.setattr(xarray_microct.runner, "run_pipeline", stopped)
    assert main(["run", str(steps), str(source), str(out), "--mpi", "--no-progress"]) == 130
    said = capsys.readouterr().err.strip()
    assert said == (f"microct: interrupted (Ctrl-C); {out} was left as it was" if rank == 1 else "")
