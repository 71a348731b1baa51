"""A failed write while other chunk tasks still run: no chunk lands after the failure.

Dask's compute raises at the first failed task while the tasks already running on other
threads (or workers) go on and write their chunks. Each test here holds one chunk task
until the failure has reached the caller, then lets it go on: without the write guard
its chunk would bring back the staging folder the failed replacement removed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dask
import fsspec
import numpy as np
import pytest

import xarray_microct as mct
from xarray_microct.io.ngff_labels import label_names, open_labels, write_labels
from xarray_microct.io.ome import open_pyramid, to_ome_zarr
from xarray_microct.io.results import open_result, run_state, write_volume
from xarray_microct.io.safety import WriteGuard, WritesStopped


class ChunkFailed(Exception):
    pass


# Module state, not a closure: the chunk function is pickled for a distributed client.
_RACE: dict[str, threading.Event | threading.Lock | list[str]] = {}


def _new_race() -> None:
    _RACE.update(
        lock=threading.Lock(),
        started=threading.Event(),
        release=threading.Event(),
        roles=["held", "failing"],
    )


def _held_or_failing(block: np.ndarray) -> np.ndarray:
    """The first chunk to start is held until released; the second fails once the
    first has started (so it is still running when the compute raises)."""
    with _RACE["lock"]:
        role = _RACE["roles"].pop(0) if _RACE["roles"] else "plain"
    if role == "held":
        _RACE["started"].set()
        _RACE["release"].wait(30)
    elif role == "failing":
        _RACE["started"].wait(30)
        raise ChunkFailed("disk full")
    return block


def _racing(volume):
    _new_race()
    held = volume.data.map_blocks(_held_or_failing, meta=np.empty((0, 0, 0), volume.dtype))
    return volume.copy(data=held)


def _volume(value: float = 1.0):
    return mct.from_array(np.full((8, 8, 8), value), spacing=1.0, chunks=4, name="scan")


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


COPY = {"step": "copy"}
"""The run metadata of every write here."""


def _old_result(out: Path) -> dict[str, bytes]:
    """Write the old result (ones) to ``out``; its files, to compare with afterwards."""
    write_volume(_volume(1.0), out, metadata=COPY)
    return _files(out)


def _failing_overwrite(out: Path, volume: Any, client: Any = None) -> None:
    """Replace ``out`` with ``volume``, whose computation fails (``ChunkFailed``)."""
    with pytest.raises(ChunkFailed):
        write_volume(volume, out, overwrite=True, metadata=COPY, client=client)


@contextlib.contextmanager
def _local_cluster(**options: Any) -> Iterator[tuple[Any, Any]]:
    """A LocalCluster with ``options`` (no dashboard) and its client."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(dashboard_address=":0", **options) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield cluster, client


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    """The threaded scheduler's threads, to wait for the held chunk's task to end."""
    with ThreadPoolExecutor(4) as threads, dask.config.set(scheduler="threads", pool=threads):
        yield threads


def test_a_failed_overwrite_on_threads_leaves_the_old_result_and_no_staging(
    tmp_path: Path, pool: ThreadPoolExecutor
) -> None:
    out = tmp_path / "out.zarr"
    before = _old_result(out)
    _failing_overwrite(out, _racing(_volume(2.0)))
    _RACE["release"].set()  # the held chunk goes on and tries to write...
    pool.shutdown(wait=True)  # ...and its task has ended
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr"]
    assert _files(out) == before
    with dask.config.set(scheduler="synchronous"):
        assert open_result(out).values.tolist() == _volume(1.0).values.tolist()


def test_a_failed_new_run_on_threads_says_failed_after_its_last_chunk(
    tmp_path: Path, pool: ThreadPoolExecutor
) -> None:
    out = tmp_path / "out.zarr"
    with pytest.raises(ChunkFailed):
        write_volume(_racing(_volume()), out, metadata=COPY)
    stopped = _files(out)
    _RACE["release"].set()
    pool.shutdown(wait=True)
    assert _files(out) == stopped  # nothing written after the run was marked failed
    assert run_state(out)["status"] == "failed"
    with dask.config.set(scheduler="synchronous"):
        write_volume(_volume(), out, metadata=COPY, resume=True)
        assert open_result(out).values.tolist() == _volume().values.tolist()


def test_a_failed_ome_zarr_replacement_on_threads_leaves_no_staging(
    tmp_path: Path, pool: ThreadPoolExecutor
) -> None:
    out = tmp_path / "scan.ome.zarr"
    to_ome_zarr(_volume(1.0), out, chunks=4)
    before = _files(out)
    with pytest.raises(ChunkFailed):
        to_ome_zarr(_racing(_volume(2.0)), out, mode="w", chunks=4)
    _RACE["release"].set()
    pool.shutdown(wait=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scan.ome.zarr"]
    assert _files(out) == before


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_failed_labels_on_threads_leave_the_image_as_it_was(
    tmp_path: Path, pool: ThreadPoolExecutor, version: str
) -> None:
    out = tmp_path / "scan.ome.zarr"
    to_ome_zarr(_volume(1.0), out, version=version, chunks=4)
    before = _files(out)
    with pytest.raises(ChunkFailed):
        write_labels(_racing(_volume(1.0) > 0).rename("bright"), out, "bright", chunks=4)
    _RACE["release"].set()
    pool.shutdown(wait=True)
    assert _files(out) == before  # a rerun under the same name is not blocked
    with dask.config.set(scheduler="synchronous"):
        write_labels((_volume(1.0) > 0).rename("bright"), out, "bright", chunks=4)
        assert label_names(out) == ["bright"]
        assert bool(open_labels(out, "bright")["scale0"]["bright"].all())


def test_a_failed_url_replacement_on_threads_leaves_no_staging_prefix(
    pool: ThreadPoolExecutor,
) -> None:
    fs = fsspec.filesystem("memory")
    parent = f"/test-late-{uuid.uuid4().hex[:12]}"
    out = f"memory://{parent}/scan.ome.zarr"
    try:
        to_ome_zarr(_volume(1.0), out, chunks=4)
        before = {p: fs.cat_file(p) for p in fs.find(parent)}
        with pytest.raises(ChunkFailed):
            to_ome_zarr(_racing(_volume(2.0)), out, mode="w", chunks=4)
        _RACE["release"].set()
        pool.shutdown(wait=True)
        assert {p: fs.cat_file(p) for p in fs.find(parent)} == before
        with dask.config.set(scheduler="synchronous"):
            assert float(open_pyramid(out)["scale0"]["scan"].mean()) == 1.0
    finally:
        fs.rm(parent, recursive=True)


def test_a_failed_overwrite_on_a_cluster_leaves_the_old_result_and_no_staging(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out.zarr"
    before = _old_result(out)
    with _local_cluster(n_workers=1, threads_per_worker=3, processes=False) as (cluster, client):
        _failing_overwrite(out, _racing(_volume(2.0)), client)
        _RACE["release"].set()
        (worker,) = cluster.workers.values()
        deadline = time.monotonic() + 30
        while worker.state.executing and time.monotonic() < deadline:  # the held task ends
            time.sleep(0.02)
        assert not worker.state.executing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr"]
    assert _files(out) == before


def test_a_settled_guard_refuses_later_writes_and_waits_for_running_ones() -> None:
    guard, out = WriteGuard(), np.zeros(4)
    writing, release = threading.Event(), threading.Event()

    class Slow:
        def __setitem__(self, key, value):
            writing.set()
            release.wait(30)
            out[key] = value

    writer = threading.Thread(target=guard.wrap(Slow()).__setitem__, args=(slice(0, 2), 1))
    writer.start()
    writing.wait(30)
    settled: list[bool] = []
    waiter = threading.Thread(target=lambda: settled.append(guard.settle()))
    waiter.start()
    waiter.join(0.2)
    assert settled == []  # still waiting for the running write
    release.set()
    waiter.join(30)
    writer.join(30)
    assert settled == [True] and out.tolist() == [1, 1, 0, 0]
    with pytest.raises(WritesStopped) as refused:
        guard.wrap(out)[2:] = 1
    assert out.tolist() == [1, 1, 0, 0]
    # a worker logs this refusal; after Ctrl-C the output is kept, marked interrupted
    # for --resume, so the refusal must not say that it is being removed
    assert "stopped" in str(refused.value) and "removed" not in str(refused.value)


def _held_or_failing_in(folder: str, block: np.ndarray) -> np.ndarray:
    """:func:`_held_or_failing` across processes: roles taken and released by files."""
    for role in ("held", "failing"):
        try:
            os.close(os.open(os.path.join(folder, role), os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            continue
        if role == "failing":  # the held chunk has started: it took its role first
            raise ChunkFailed("disk full")
        deadline = time.monotonic() + 30
        while not os.path.exists(os.path.join(folder, "release")) and time.monotonic() < deadline:
            time.sleep(0.02)
        break
    return block


def _executing(dask_worker) -> int:
    return len(dask_worker.state.executing)


@pytest.mark.slow
def test_a_failed_overwrite_on_worker_processes_leaves_no_staging(tmp_path: Path) -> None:
    cloudpickle = pytest.importorskip("cloudpickle")
    out, roles = tmp_path / "out.zarr", tmp_path / "roles"
    roles.mkdir()
    before = _old_result(out)
    held = _volume(2.0).data.map_blocks(
        functools.partial(_held_or_failing_in, str(roles)), meta=np.empty((0, 0, 0))
    )
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers lack tests/
    try:
        with _local_cluster(n_workers=2, threads_per_worker=2, processes=True) as (_, client):
            _failing_overwrite(out, _volume(2.0).copy(data=held), client)
            (roles / "release").touch()
            deadline = time.monotonic() + 30
            while any(client.run(_executing).values()) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not any(client.run(_executing).values())
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr", "roles"]
    assert _files(out) == before


def test_a_staging_copy_that_cannot_be_removed_is_named_in_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xarray_microct.io import safety

    out = tmp_path / "out.zarr"
    out.mkdir()
    (out / "kept").write_text("old result")
    monkeypatch.setattr(safety.shutil, "rmtree", lambda *args, **kwargs: None)  # it fails
    with (
        pytest.warns(RuntimeWarning, match=r"\.out\.zarr\.microct-new-.*remove it yourself"),
        pytest.raises(OSError, match="disk failed"),
        safety.staged_write(out, replace=True, guard=WriteGuard()) as staging,
    ):
        staging.mkdir()
        raise OSError("disk failed")
    assert (out / "kept").read_text() == "old result"
