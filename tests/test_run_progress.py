"""What ``microct run`` prints while it works: a label per phase, in order, before its
bar; bars on a terminal only; nothing of it with ``--no-progress``."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from xarray_microct.cli import main
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
