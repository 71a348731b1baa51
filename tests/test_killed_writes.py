"""A replacement killed before its end (SIGKILL, a lost node) leaves hidden siblings
beside its output; the next write of that output tidies them when their writer, named
in a record beside them, is dead on this host, and touches nothing else."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from helpers import HALF_WAY_WRITER

import xarray_microct as mct
from xarray_microct.io import safety
from xarray_microct.io.results import open_result, write_volume
from xarray_microct.io.safety import (
    check_write,
    machine_identity,
    pid_namespace,
    process_start,
    staged_write,
    tidy_killed_writes,
)

TOKEN = "0123abcd"


def _volume(value: int) -> xr.DataArray:
    return mct.from_array(np.full((16, 8, 8), value, "uint16"), spacing=1.0, name="scan", chunks=8)


def _write(value: int, out: Path, how: str) -> None:
    if how == "to_zarr":
        _volume(value).microct.to_zarr(out, mode="w", chunks=8)
    else:
        write_volume(_volume(value), out, overwrite=out.exists())


def _read(out: Path, how: str) -> np.ndarray:
    return (mct.open_volume(out) if how == "to_zarr" else open_result(out)).values


def _left(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.mark.parametrize("how", ["to_zarr", "write_volume"])
def test_a_killed_replacement_is_refused_while_it_runs_and_tidied_once_dead(tmp_path, how):
    out = tmp_path / "out.zarr"
    _write(1, out, how)
    before = _files(out)
    script, ready = tmp_path / "writer.py", tmp_path / "ready"
    script.write_text(HALF_WAY_WRITER)
    writer = subprocess.Popen(
        [sys.executable, str(script), str(out), how, str(ready)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not ready.exists() and writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ready.exists(), "the writer did not reach its second chunk"
        left = _left(out)
        # its claim (a link to its record), its staging copy and its record
        assert [n.split("-")[1] for n in left] == ["claim.json", "new", "writer"]
        record = json.loads((tmp_path / left[2]).read_text())
        assert record["pid"] == writer.pid and record["host"] == socket.gethostname()
        assert json.loads((tmp_path / left[0]).read_text()) == record
        # a running write of the same output: refused before anything is computed
        with pytest.raises(FileExistsError, match=rf"process {writer.pid} of this host"):
            _write(2, out, how)
        assert _left(out) == left and _files(out) == before
    finally:
        writer.send_signal(signal.SIGKILL)
        assert writer.wait(timeout=60) == -signal.SIGKILL
    assert _left(out) == left  # a killed writer leaves its staging copy...
    _write(3, out, how)  # ...which the next write removes, then writes as asked
    assert _left(out) == []
    assert (_read(out, how) == 3).all()


def _leave(out: Path, token: str = TOKEN, stage: bool = True, **record) -> tuple[Path, Path]:
    """A staging copy (a copy of ``out``) and the writer's record a killed replacement
    of ``out`` leaves; the record's fields as given (a dead writer of this host)."""
    staging = out.with_name(f".{out.name}.microct-new-{token}")
    if stage:
        shutil.copytree(out, staging)
    fields = {
        "writer": "xarray-microct staging",
        "machine": machine_identity(),
        "host": socket.gethostname(),
        "pid_namespace": pid_namespace(),
        "pid": os.getpid(),
        "started": "boot of another process",  # this pid, given to a later process
        "output": out.name,
        "token": token,
        **record,
    }
    record_file = out.with_name(f".{out.name}.microct-writer-{token}.json")
    record_file.write_text(json.dumps(fields))
    return staging, record_file


@pytest.fixture
def out(tmp_path: Path) -> Path:
    path = tmp_path / "out.zarr"
    _write(1, path, "to_zarr")
    return path


def test_a_dead_writers_staging_is_removed_when_its_pid_runs_another_process(out):
    staging, record_file = _leave(out)
    assert check_write(out, replace=True) == "replace"
    assert _left(out) == []
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    _leave(out, pid=int(dead.stdout))  # a pid that ran and ended
    assert tidy_killed_writes(out) == [staging, record_file]


def test_a_replacement_this_process_writes_is_refused_one_it_left_is_removed(out):
    with staged_write(out, replace=True) as staging:  # a replacement being written
        shutil.copytree(out, staging)
        before = _files(out.parent)
        with pytest.raises(FileExistsError, match=r"another write of .* is running: process"):
            _volume(2).microct.to_zarr(out, mode="w", chunks=8)
        with pytest.raises(FileExistsError, match="wait for it to end"):
            write_volume(_volume(2), out, overwrite=True)
        assert _files(out.parent) == before
    assert _left(out) == []
    # one this process left (its record names this process, which writes it no more)
    staging, record_file = _leave(out, started=process_start(os.getpid()))
    assert tidy_killed_writes(out) == [staging, record_file]


def test_another_hosts_staging_is_left_with_a_warning(out):
    _leave(out, host="elsewhere.example")
    before = _files(out.parent)
    with pytest.warns(
        RuntimeWarning,
        match=r"host elsewhere.example \(pid namespace .*\), which cannot be checked",
    ):
        _volume(2).microct.to_zarr(out, mode="w", chunks=8)
    assert (mct.open_volume(out).values == 2).all()
    assert {k: v for k, v in _files(out.parent).items() if k.startswith(".")} == {
        k: v for k, v in before.items() if k.startswith(".")
    }


def test_another_pid_namespaces_staging_is_left_with_a_warning(out):
    _leave(out, pid_namespace="another container")  # same host name, other pids
    with pytest.warns(RuntimeWarning, match="pid namespace another container"):
        assert tidy_killed_writes(out) == []
    assert len(_left(out)) == 2  # the copy and its record, both left


def test_a_pid_of_another_user_is_still_told_from_a_later_process(monkeypatch):
    started = process_start(os.getpid())

    def no_permission(pid, signal):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(safety.os, "kill", no_permission)
    assert process_start(os.getpid()) == started != "unknown"


def test_a_copy_another_write_tidies_meanwhile_is_no_error(out, monkeypatch):
    staging, _ = _leave(out)
    remove = shutil.rmtree

    def removed_by_another_write_first(path, *args, **kwargs):
        remove(path)
        raise FileNotFoundError(2, "No such file or directory", str(path))

    monkeypatch.setattr(safety.shutil, "rmtree", removed_by_another_write_first)
    assert tidy_killed_writes(out) == []
    assert not staging.exists()


@pytest.mark.parametrize(
    "damage",
    ["no record", "bad json", "other output", "other token", "pid text", "pid 0", "foreign file"],
)
def test_a_staging_copy_not_surely_ours_is_never_removed(out, damage):
    staging, record_file = _leave(out)
    if damage == "no record":
        record_file.unlink()
    elif damage == "bad json":
        record_file.write_text("{not json")
    elif damage == "foreign file":
        (staging / "notes.txt").write_text("precious")
    else:
        field, value = {
            "other output": ("output", "other.zarr"),
            "other token": ("token", "ffffffff"),
            "pid text": ("pid", str(os.getpid())),
            "pid 0": ("pid", 0),
        }[damage]
        record_file.write_text(json.dumps({**json.loads(record_file.read_text()), field: value}))
    before = _files(out.parent)
    with pytest.warns(RuntimeWarning, match="remove it yourself"):
        assert tidy_killed_writes(out) == []
    assert _files(out.parent) == before


def test_a_staging_name_that_is_a_link_is_left(out, tmp_path):
    elsewhere = tmp_path / "mine"
    elsewhere.mkdir()
    (elsewhere / "zarr.json").write_text("{}")
    _, record_file = _leave(out, stage=False)
    out.with_name(f".{out.name}.microct-new-{TOKEN}").symlink_to(elsewhere)
    with pytest.warns(RuntimeWarning, match="not part of a store"):
        tidy_killed_writes(out)
    assert (elsewhere / "zarr.json").read_text() == "{}" and record_file.exists()


def test_a_writer_killed_between_the_renames_gets_the_old_result_back(out):
    before = _files(out)
    staging, record_file = _leave(out)
    old = out.with_name(f".{out.name}.microct-old-{TOKEN}")
    out.rename(old)  # the first rename of the swap done, the second not
    assert tidy_killed_writes(out) == [out, staging, record_file]
    assert _files(out) == before and _left(out) == []


def test_a_writer_killed_while_removing_the_old_result_leaves_the_new_one(out):
    _, record_file = _leave(out, stage=False)
    old = out.with_name(f".{out.name}.microct-old-{TOKEN}")
    shutil.copytree(out, old)  # the swap done, the old store not yet removed
    after = _files(out)
    assert tidy_killed_writes(out) == [old, record_file]
    assert _files(out) == after and _left(out) == []
