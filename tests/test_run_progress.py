"""What ``microct run`` prints while it works: a label per phase, in order, before its
bar; bars on a terminal only; nothing of it with ``--no-progress``."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import pytest
from dask.diagnostics import ProgressBar
from distributed import futures_of
from helpers import two_workers

import xarray_microct.cluster
import xarray_microct.runner
from xarray_microct.cli import main
from xarray_microct.cluster import ClusterOptions
from xarray_microct.core.blocks.placement import cluster_threads
from xarray_microct.runner import run_pipeline
from xarray_microct.synthetic import bead_pack

FIBER_PHASES = [
    "fibers: fibers() on",
    "estimating the fiber radius",
    "threshold pass",
    "detecting the fibers",
    " rows",
    "writing the table",
    "wrote ",
]
BEAD_PHASES = [
    "measuring the beads on a central box",
    "beads: beads() on",
    "computing and writing 8 chunks",
    "wrote ",
]
LABELS = ("estimating", "threshold pass", "detecting", "measuring", "writing the", "computing")


@pytest.fixture(scope="module")
def bead_scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("beads") / "pack.zarr"
    volume, _ = bead_pack(48, radius=6, seed=3, chunks=24)
    volume.rename("scan").to_zarr(store)
    return store


def in_order(printed: str, expected: list[str]) -> list[str]:
    """The lines of ``printed`` that hold each of ``expected``, in that order (one line
    each, the first after the previous one's)."""
    lines = printed.splitlines()
    found, at = [], 0
    for text in expected:
        at = next((i for i in range(at, len(lines)) if text in lines[i]), None)
        assert at is not None, f"{text!r} not printed after {found}:\n{printed}"
        found.append(lines[at])
        at += 1
    return found


def test_a_threaded_fiber_run_names_its_phases_in_order_and_draws_no_bar_in_a_log(
    fiber_scan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "fibers", str(fiber_scan), str(tmp_path / "t.zarr")]) == 0
    printed = capsys.readouterr().out
    in_order(printed, FIBER_PHASES)
    # captured output is not a terminal: one line per message, no bar redrawn in place
    assert "\r" not in printed and "Completed" not in printed


def test_a_fiber_run_on_workers_names_its_phases_with_distributed_bars(
    fiber_scan: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("xarray_microct.runner._on_a_terminal", lambda: True)
    out = tmp_path / "w.zarr"
    args = ["run", "fibers", str(fiber_scan), str(out), "--workers", "1", "--no-dashboard"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "1 worker" in printed
    in_order(printed.replace("\r", "\n"), FIBER_PHASES)
    assert "Completed" in printed  # distributed's bar, under a phase


def test_a_bead_run_names_its_phases_in_order(
    bead_scan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "beads", str(bead_scan), str(tmp_path / "b.zarr"), "--chunks", "24"]) == 0
    in_order(capsys.readouterr().out, BEAD_PHASES)


@pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("mpi4py", "dask_mpi")),
    reason="needs the mpi extra",
)
def test_under_mpi_only_the_rank_that_runs_the_analysis_prints(
    bead_scan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``mpirun -n K microct run ... --mpi`` starts K copies of the command: each checks
    and builds the run (the bead chain measures its beads then) before dask-mpi makes
    rank 0 the scheduler and ranks 2.. workers, which serve and exit there. Only rank 1,
    which goes on to run the analysis, prints; a bead run printed its first phase line
    on every rank."""

    @contextlib.contextmanager
    def dask_mpi_serves(options: ClusterOptions) -> Iterator[None]:
        raise SystemExit(0)  # dask_mpi.initialize(exit=True) on a rank that serves
        yield

    monkeypatch.setattr(xarray_microct.runner, "dask_client", dask_mpi_serves)
    printed: dict[int, list[str]] = {}
    for rank in (0, 1, 2):
        monkeypatch.setattr(
            xarray_microct.cluster, "mpi_rank", lambda rank=rank: rank, raising=False
        )
        lines = printed.setdefault(rank, [])
        with pytest.raises(SystemExit):
            run_pipeline(
                "beads",
                bead_scan,
                tmp_path / "b.zarr",
                options=ClusterOptions(mpi=True),
                chunks=24,
                echo=lines.append,
            )
    assert printed[0] == printed[2] == []
    assert [line for line in printed[1] if "measuring the beads" in line] == [
        "measuring the beads on a central box of the scan (radius, phase kept)"
    ]


def test_no_progress_prints_no_phase(
    fiber_scan: Path, bead_scan: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fibers = ["run", "fibers", str(fiber_scan), str(tmp_path / "f.zarr"), "--no-progress"]
    beads = ["run", "beads", str(bead_scan), str(tmp_path / "b.zarr"), "--no-progress"]
    assert main(fibers) == 0 and main(beads) == 0
    printed = capsys.readouterr().out
    assert not [line for line in printed.splitlines() if line.startswith(LABELS)]
    assert "\r" not in printed
    in_order(printed, ["fibers: fibers() on", "wrote ", "beads: beads() on", "wrote "])


@pytest.mark.parametrize("stdout", ["closed", None])
def test_a_run_printing_through_echo_works_with_stdout_closed_or_none(
    bead_scan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stdout: str | None
) -> None:
    # was: a closed standard output (a service printing through echo) failed the run
    # once it asked whether to draw bars: "I/O operation on closed file"
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stdout", closed if stdout else None)
    steps = [{"op": "gaussian", "params": {"sigma": 1.0}}]
    lines: list[str] = []
    run_pipeline(steps, bead_scan, tmp_path / "g.zarr", echo=lines.append)
    in_order("\n".join(lines), ["gaussian on", "computing and writing 1 chunk", "wrote "])


class _PhaseFailed(Exception):
    pass


def _phase_with_another_thread(client: Any, fail: bool = False) -> dict[str, Any]:
    """Run a shown phase (on ``client``, or threads when None) that computes while
    another thread computes too; what each saw."""
    from dask.callbacks import Callback

    from xarray_microct.core.progress import phase, phases_shown
    from xarray_microct.runner import _phase_listener

    before = dask.config.get("scheduler", None)
    seen: dict[str, Any] = {"callbacks before": set(Callback.active), "scheduler before": before}
    inside, done = threading.Event(), threading.Event()

    def other() -> None:  # an embedding caller's thread, computing during the phase
        inside.wait(30)
        seen["scheduler setting"] = dask.config.get("scheduler", None)
        seen["other"] = int(da.arange(30, chunks=3).sum().compute())
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    try:
        with phases_shown(_phase_listener(lambda label: None, True, client)), phase("mine"):
            inside.set()
            assert done.wait(60)
            seen["mine"] = int(da.arange(40, chunks=4).sum().compute())
            seen["cluster threads"] = cluster_threads()
            if fail:
                raise _PhaseFailed
    except _PhaseFailed:
        seen["failed"] = True
    thread.join(60)
    seen["callbacks after"] = set(Callback.active)
    seen["scheduler after"] = dask.config.get("scheduler", None)
    return seen


@pytest.mark.parametrize("fail", [False, True])
def test_a_phase_bar_on_a_client_leaves_other_threads_their_scheduler(
    monkeypatch: pytest.MonkeyPatch, fail: bool
) -> None:
    # was: the bar set Dask's global scheduler to the phase's client while the phase
    # ran: another thread's compute went there, and was counted in the phase's bar
    shown: list[Any] = []

    def progress(futures: Any) -> None:  # what the bar would show: its computation's
        shown.append([f.result() for f in futures_of(futures)])

    monkeypatch.setattr("xarray_microct.runner._on_a_terminal", lambda: True)
    monkeypatch.setattr("distributed.progress", progress)
    with two_workers() as client:
        seen = _phase_with_another_thread(client, fail)
        assert "get" not in vars(client)  # the client's own get again
        workers = {address: 1 for address in client.scheduler_info()["workers"]}
    assert seen["scheduler setting"] == seen["scheduler after"] == seen["scheduler before"]
    assert (seen["mine"], seen["other"]) == (780, 435)
    assert seen.get("failed", False) == fail
    assert shown == [[780]]  # the phase's computation, not the other thread's
    # the phase computes where it would without a bar: on the client, seen as a cluster
    assert seen["cluster threads"] == workers
    assert seen["callbacks after"] == seen["callbacks before"]


@pytest.mark.parametrize("fail", [False, True])
def test_a_threaded_phase_bar_draws_only_its_own_computations(
    monkeypatch: pytest.MonkeyPatch, fail: bool
) -> None:
    started: list[int] = []
    monkeypatch.setattr("xarray_microct.runner._on_a_terminal", lambda: True)
    monkeypatch.setattr(ProgressBar, "_timer_func", lambda self: started.append(len(started)))
    seen = _phase_with_another_thread(None, fail)
    assert (seen["mine"], seen["other"]) == (780, 435)
    assert seen["scheduler setting"] == seen["scheduler after"] == seen["scheduler before"]
    assert seen["callbacks after"] == seen["callbacks before"]
    assert len(started) == 1  # the phase's computation; the other thread's none


def test_a_volume_write_under_a_second_draws_no_bar(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # was: the write of a volume (`computing and writing N chunks`, threaded) drew
    # Dask's ProgressBar for any computation (a bar of a few milliseconds on a terminal),
    # where a phase's bar waits a second; and it was Dask's global bar, which the
    # computations of other threads draw in
    from xarray_microct.io.results import compute

    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert compute([da.arange(40, chunks=4).sum()], None, progress=True) == [780]
    assert sys.stdout.getvalue() == ""
    bars: list[float] = []  # a longer one does draw its bar: the last at 100 %
    monkeypatch.setattr(ProgressBar, "_draw_bar", lambda self, frac, elapsed: bars.append(frac))
    slow = dask.delayed(time.sleep)(1.2)
    compute([slow], None, progress=True)
    assert bars and bars[-1] == 1
