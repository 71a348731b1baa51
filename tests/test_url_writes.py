"""Writes to fsspec URLs stopped before their end: the old store stays intact, what a
killed writer left beside it is tidied (or its copy into place finished) by the next
write, and a second writer of the same URL is refused while the first runs.

``memory://`` lives in this process; fsspec's ``local://`` protocol goes through the
same URL code on disk, so a writer in another process can be killed and its leftovers
inspected.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import fsspec.implementations.memory as memory
import numpy as np
import pytest
import xarray as xr
from faults import memory_folder
from helpers import HALF_WAY_WRITER, race_three_writers

import xarray_microct as mct
from xarray_microct.io import safety
from xarray_microct.io.ome import IncompleteStoreError, to_ome_zarr
from xarray_microct.io.safety import process_start, staged_write, tidy_killed_url_writes

TOKEN = "0123abcd"
WAIT = 600
"""Seconds a test waits for a writer to reach its event: a bound on a hang, not a timing."""
ON_DISK = {"auto_mkdir": True}  # fsspec's local file system makes no folders otherwise


def _volume(value: int) -> xr.DataArray:
    return mct.from_array(np.full((16, 8, 8), value, "uint16"), spacing=1.0, name="scan", chunks=8)


@pytest.fixture
def folder() -> Iterator[str]:
    """A fresh ``memory://`` prefix, removed afterwards."""
    with memory_folder() as prefix:
        yield prefix


def _objects(url: str) -> dict[str, bytes]:
    fs, root = fsspec.core.url_to_fs(url)
    fs.invalidate_cache()
    return {p[len(root) :]: fs.cat_file(p) for p in sorted(fs.find(root))}


def _left(out: str) -> list[str]:
    """The names beside ``out`` that writes of it leave (staging prefixes, records)."""
    fs, root = fsspec.core.url_to_fs(out)
    parent, name = root.rsplit("/", 1)
    fs.invalidate_cache()
    if not fs.exists(parent):
        return []
    names = [p.rstrip("/").rsplit("/", 1)[1] for p in fs.ls(parent, detail=False)]
    return sorted(n for n in names if n.startswith(f".{name}.microct-"))


def _dead_writer_record(name: str, token: str, **record) -> dict:
    """The fields of the record a killed write of ``name`` leaves (by default a dead
    writer of this machine: this pid, another process's start), updated by ``record``."""
    return {
        "writer": "xarray-microct staging",
        "machine": safety.machine_identity(),
        "host": os.uname().nodename,
        "pid_namespace": safety.pid_namespace(),
        "pid": os.getpid(),
        "started": "boot of another process",
        "output": name,
        "token": token,
        **record,
    }


def _leave(out: str, token: str = TOKEN, stage: bool = True, **record) -> tuple[str, str]:
    """The staging prefix (a copy of ``out``) and the writer's record a killed write of
    ``out`` leaves; the record's fields as given (by default a dead writer of this
    host: this pid, another process's start)."""
    fs, root = fsspec.core.url_to_fs(out)
    parent, name = root.rsplit("/", 1)
    staging = f"{parent}/.{name}.microct-new-{token}"
    if stage:
        fs.copy(root, staging, recursive=True)
    fields = _dead_writer_record(name, token, **record)
    record_path = f"{parent}/.{name}.microct-writer-{token}.json"
    fs.pipe_file(record_path, json.dumps(fields).encode())
    return staging, record_path


@pytest.fixture
def out(folder: str) -> str:
    url = f"{folder}/out.zarr"
    _volume(1).microct.to_zarr(url, mode="w", chunks=8)
    return url


def test_a_dead_writers_staging_is_removed_by_the_next_write(out):
    _leave(out)
    assert len(_left(out)) == 2
    _volume(2).microct.to_zarr(out, mode="w", chunks=8)
    assert _left(out) == []
    assert (mct.open_volume(out).values == 2).all()


def test_a_running_write_of_the_same_url_is_refused(out):
    before = _objects(out)
    with staged_write(out, replace=True) as staging:  # a replacement being written
        assert _left(out) == [f".out.zarr.microct-writer-{staging[-8:]}.json"]
        with pytest.raises(FileExistsError, match=r"another write of .* is running: process"):
            _volume(2).microct.to_zarr(out, mode="w", chunks=8)
        assert _objects(out) == before
        fs = fsspec.filesystem("memory")
        fs.copy(fsspec.core.url_to_fs(out)[1], fsspec.core.url_to_fs(staging)[1], recursive=True)
    assert _left(out) == []  # swapped in: the record removed
    assert _objects(out) == before


def test_of_two_writers_starting_together_the_later_sees_the_first_and_refuses(out):
    """A writer that passed the check before the other recorded itself still sees it
    once it has recorded itself, and withdraws its own record."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        _leave(out, stage=False, pid=sleeper.pid, started=process_start(sleeper.pid))
        with pytest.raises(FileExistsError, match=rf"process {sleeper.pid} of this host"):
            with staged_write(out, replace=True):  # past check_write already
                pytest.fail("a second writer started")
        assert _left(out) == [f".out.zarr.microct-writer-{TOKEN}.json"]  # only the other's
    finally:
        sleeper.kill()
        sleeper.wait(timeout=WAIT)
    tidied = tidy_killed_url_writes(out)  # its writer ended: its record goes
    assert [url.rsplit("/", 1)[1] for url in tidied] == [f".out.zarr.microct-writer-{TOKEN}.json"]
    assert _left(out) == []


class _StillRunning(set):
    """The writes this process runs, none of which ends (see :func:`_race`)."""

    def discard(self, token: str) -> None:
        pass


OTHERS_END = 60.0
"""Seconds a writer of a race waits for the others to give up before it ends (so they
see it running): a bound that keeps a failing race from hanging, not a timing."""


def _race(out: str, writers: int = 2) -> list[object]:
    """What each of ``writers`` threads starting a new write of ``out`` together got:
    ``"wrote"``, or the error that refused it. Each lists the records beside ``out``
    only once all have recorded themselves, and goes on from its first read of another's
    record only once all have read one (barriers): the case where each sees all the
    others, before any withdraws. Threads of one process: a writer that has given up
    still counts as running until all have (as a process of its own would)."""
    recorded, read = (threading.Barrier(writers, timeout=WAIT) for _ in range(2))
    listed, cat_file, first = safety._url_writers, memory.MemoryFileSystem.cat_file, set()
    outcomes: list[object] = [None] * writers

    def together(*args, **kwargs):
        if ("listed", threading.get_ident()) not in first:
            first.add(("listed", threading.get_ident()))
            recorded.wait()
        return listed(*args, **kwargs)

    def read_together(self, path, *args, **kwargs):
        data = cat_file(self, path, *args, **kwargs)
        if "-writer-" in path and ("read", threading.get_ident()) not in first:
            first.add(("read", threading.get_ident()))
            read.wait()
        return data

    def write(i: int) -> None:
        try:
            with staged_write(out, replace=False) as target:
                fs, root = fsspec.core.url_to_fs(target)
                fs.pipe_file(f"{root}/by-{i}", b"mine")
                # writing until the others have given up (a bound, should two write)
                deadline = time.monotonic() + OTHERS_END
                while time.monotonic() < deadline and outcomes.count(None) > 1:
                    time.sleep(0.01)
            outcomes[i] = "wrote"
        except BaseException as err:  # reported by the test
            outcomes[i] = err

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(safety, "_url_writers", together)
        patch.setattr(memory.MemoryFileSystem, "cat_file", read_together)
        patch.setattr(safety, "_WRITING", _StillRunning())
        threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
    return outcomes


@pytest.mark.parametrize("writers", [2, 3])
def test_of_writers_that_all_see_each_other_exactly_one_writes(folder, writers):
    """Each records itself before it looks at the others; when each sees all the others,
    their tickets decide: one writes, the others refuse, naming it, and withdraw."""
    out = f"{folder}/new.zarr"
    outcomes = _race(out, writers)
    assert outcomes.count("wrote") == 1, outcomes
    for outcome in outcomes:
        if outcome != "wrote":
            assert isinstance(outcome, FileExistsError), outcome
            assert f"another write of {out} is running" in str(outcome)
    (i,) = [i for i, outcome in enumerate(outcomes) if outcome == "wrote"]
    assert list(_objects(out)) == [f"/by-{i}"] and _left(out) == []


URL_RACER = textwrap.dedent(
    """
    import os, sys, time, pathlib
    from xarray_microct.io.safety import staged_write

    out, go = sys.argv[1], pathlib.Path(sys.argv[2])
    while not go.exists():
        time.sleep(0.001)
    try:
        with staged_write(out, replace=False) as target:
            import fsspec

            fs, root = fsspec.core.url_to_fs(target, auto_mkdir=True)
            fs.pipe_file(f"{root}/by-{os.getpid()}", b"mine")
            time.sleep(0.5)
    except FileExistsError as err:
        print(err)
        sys.exit(3)
    """
)


def test_of_processes_racing_to_write_one_url_exactly_one_writes(tmp_path):
    out, go, script = tmp_path / "out.zarr", tmp_path / "go", tmp_path / "racer.py"
    script.write_text(URL_RACER)
    race_three_writers(script, f"local://{out}", go, out, WAIT)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.zarr.")]


@pytest.mark.parametrize("then", ["a later ticket", "an earlier ticket"])
def test_a_writer_choosing_its_ticket_is_waited_for(out, then):
    """Another writer (running) is choosing its ticket when this one reads its record,
    and has chosen by its next read: a later ticket lets this write go on, an earlier
    one (it saw this writer still choosing too: the lower token wins) refuses it."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        alive = {"pid": sleeper.pid, "started": process_start(sleeper.pid)}
        other = "ffffffff" if then == "a later ticket" else "00000000"
        _, record_path = _leave(out, other, stage=False, choosing=True, **alive)
        chosen = _dead_writer_record("out.zarr", other, ticket=1, **alive)
        cat_file, reads = memory.MemoryFileSystem.cat_file, []

        def chooses_once_read_choosing(self, path, *args, **kwargs):
            data = cat_file(self, path, *args, **kwargs)
            if path.endswith(record_path):
                reads.append(json.loads(data).get("ticket"))
                if len(reads) == 2:  # read for this writer's ticket, then to compare
                    self.pipe_file(path, json.dumps(chosen).encode())
            return data

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(memory.MemoryFileSystem, "cat_file", chooses_once_read_choosing)
            if then == "a later ticket":
                with staged_write(out, replace=True) as staging:
                    fs = fsspec.filesystem("memory")
                    fs.copy(_root_of(out), _root_of(staging), recursive=True)
                    assert [n for n in _left(out) if "-writer-" in n] == [
                        f".out.zarr.microct-writer-{staging[-8:]}.json",
                        f".out.zarr.microct-writer-{other}.json",
                    ]
            else:
                with pytest.raises(FileExistsError, match=rf"process {sleeper.pid} of this host"):
                    with staged_write(out, replace=True):
                        pytest.fail("a writer after another went on")
        assert reads == [None, None, 1]  # waited while it chose
        assert _left(out) == [f".out.zarr.microct-writer-{other}.json"]  # only the other's
    finally:
        sleeper.kill()
        sleeper.wait(timeout=WAIT)


def _root_of(url: str) -> str:
    return fsspec.core.url_to_fs(url)[1]


def test_a_writer_choosing_its_ticket_too_long_refuses_the_write(out, monkeypatch):
    monkeypatch.setattr(safety, "CHOOSING_WAIT", 0.2)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        alive = {"pid": sleeper.pid, "started": process_start(sleeper.pid)}
        _leave(out, stage=False, choosing=True, **alive)
        with pytest.raises(FileExistsError, match="is still choosing its ticket"):
            with staged_write(out, replace=True):
                pytest.fail("a write went on while another chose its ticket")
    finally:
        sleeper.kill()
        sleeper.wait(timeout=WAIT)


def test_a_store_at_the_top_of_the_file_system_is_replaced_and_tidied():
    out = f"memory://top-{uuid.uuid4().hex[:12]}.zarr"
    try:
        _volume(1).microct.to_zarr(out, chunks=8)
        _leave(out)
        _volume(2).microct.to_zarr(out, mode="w", chunks=8)
        assert _left(out) == [] and (mct.open_volume(out).values == 2).all()
    finally:
        fsspec.filesystem("memory").rm(fsspec.core.url_to_fs(out)[1], recursive=True)


def test_a_file_url_is_a_local_path_with_its_local_staging(tmp_path):
    out = tmp_path / "out.zarr"
    _volume(1).microct.to_zarr(f"file://{out}", chunks=8)
    with staged_write(f"file://{out}", replace=True) as staging:
        assert isinstance(staging, Path) and staging.parent == tmp_path
        with pytest.raises(FileExistsError, match="another write of"):
            _volume(2).microct.to_zarr(f"file://{out}", mode="w", chunks=8)
        shutil.copytree(out, staging)
    assert (mct.open_volume(out).values == 1).all()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("how", [{"in_place": True}, {"resuming": "run-fingerprint"}])
def test_a_url_is_neither_written_in_place_nor_resumed(out, how):
    with pytest.raises(ValueError, match="only local stores"):
        with staged_write(out, replace=True, **how):
            pass
    assert (mct.open_volume(out).values == 1).all()


def test_a_new_store_is_claimed_too(folder):
    out = f"{folder}/new.zarr"
    with staged_write(out, replace=False) as target:
        assert target == out
        with pytest.raises(FileExistsError, match="another write of"):
            _volume(2).microct.to_zarr(out, chunks=8)
    assert _left(out) == []


def test_a_write_stopped_by_ctrl_c_leaves_the_old_store_and_nothing_beside(out):
    before = _objects(out)

    def interrupt(block: np.ndarray, block_info=None) -> np.ndarray:
        if block_info[0]["chunk-location"] == (1, 0, 0):
            raise KeyboardInterrupt
        return block

    volume = _volume(2)
    volume = volume.copy(data=volume.data.map_blocks(interrupt, dtype=volume.dtype))
    with pytest.raises(KeyboardInterrupt):
        volume.microct.to_zarr(out, mode="w", chunks=8)
    assert _objects(out) == before and _left(out) == []


def _copy_half_then(stop: BaseException):
    """A stand-in for fsspec's copy that copies the first half of the objects, then
    raises ``stop`` (a writer stopped while copying its new store into place)."""
    copy = memory.MemoryFileSystem.copy

    def copy_half(self, path1, path2, *args, **kwargs):
        if isinstance(path1, list) and len(path1) > 1:
            half = len(path1) // 2
            copy(self, path1[:half], path2[:half], *args, **kwargs)
            raise stop
        return copy(self, path1, path2, *args, **kwargs)

    return copy_half


@pytest.mark.parametrize("stop", [KeyboardInterrupt(), OSError("the network dropped")])
def test_a_copy_into_place_stopped_half_way_is_finished_by_the_next_write(out, stop):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(memory.MemoryFileSystem, "copy", _copy_half_then(stop))
        with pytest.raises(type(stop)):
            _volume(2).microct.to_zarr(out, mode="w", chunks=8)
    with pytest.raises(IncompleteStoreError):
        mct.open_volume(out)  # old and new objects mixed: marked interrupted
    assert [n.split("-")[1] for n in _left(out)] == ["new", "writer"]
    # the next write, even one that may not replace, first finishes the copy
    with pytest.raises(FileExistsError, match="already exists"):
        _volume(3).microct.to_zarr(out, chunks=8)
    assert _left(out) == []
    assert (mct.open_volume(out).values == 2).all()
    fresh = out.replace("out.zarr", "fresh.zarr")
    _volume(2).microct.to_zarr(fresh, chunks=8)
    assert list(_objects(out)) == list(_objects(fresh))  # no old object left


def _staging_kept(patch: pytest.MonkeyPatch) -> None:
    """A store that refuses to remove staging prefixes (a network failure, say)."""
    rm = memory.MemoryFileSystem.rm

    def kept(self, path, *args, **kwargs):
        if ".microct-new-" in str(path):
            raise OSError("the network dropped")
        return rm(self, path, *args, **kwargs)

    patch.setattr(memory.MemoryFileSystem, "rm", kept)


def test_a_staging_copy_that_cannot_be_removed_once_in_place_warns_and_is_left_to_the_next(out):
    """Once the new store is copied into place whole, a failure to remove its staging
    copy is named in a warning (the write succeeded); the next write removes it."""
    with pytest.MonkeyPatch.context() as patch:
        _staging_kept(patch)
        with pytest.warns(RuntimeWarning, match=r"microct-new-\w+, the copy .* could not be"):
            _volume(2).microct.to_zarr(out, mode="w", chunks=8)
        assert (mct.open_volume(out).values == 2).all()
        assert [n.split("-")[1] for n in _left(out)] == ["new", "writer"]
        with pytest.warns(RuntimeWarning, match="could not be removed .*holds a complete"):
            tidy_killed_url_writes(out)  # the next write's tidy: still refused, kept
        assert [n.split("-")[1] for n in _left(out)] == ["new", "writer"]
    _volume(3).microct.to_zarr(out, mode="w", chunks=8)
    assert _left(out) == [] and (mct.open_volume(out).values == 3).all()


def test_a_finished_copy_whose_staging_cannot_be_removed_keeps_its_record(out):
    """The tidy that finishes a killed writer's copy into place, then cannot remove the
    staging prefix, keeps its record too (a staging prefix without one is never removed)."""
    _interrupt_copy(out)
    with pytest.MonkeyPatch.context() as patch:
        _staging_kept(patch)
        with pytest.warns(RuntimeWarning, match="is a copy of the new store, now in place"):
            tidy_killed_url_writes(out)
    assert (mct.open_volume(out).values == 2).all()  # finished
    assert [n.split("-")[1] for n in _left(out)] == ["new", "writer"]
    tidy_killed_url_writes(out)
    assert _left(out) == [] and (mct.open_volume(out).values == 2).all()


def test_a_staging_prefix_with_a_foreign_object_is_left_with_a_warning(out):
    staging, record_path = _leave(out)
    fs = fsspec.filesystem("memory")
    fs.pipe_file(f"{staging}/notes.txt", b"precious")
    with pytest.warns(RuntimeWarning, match="not part of a store.*remove it yourself"):
        assert tidy_killed_url_writes(out) == []
    assert fs.cat_file(f"{staging}/notes.txt") == b"precious" and fs.exists(record_path)


def test_a_staging_prefix_without_a_record_is_left_with_a_warning(out):
    _, record_path = _leave(out)
    fsspec.filesystem("memory").rm_file(record_path)
    before = _objects(out.rsplit("/", 1)[0])
    with pytest.warns(RuntimeWarning, match="remove it yourself"):
        _volume(2).microct.to_zarr(out, mode="w", chunks=8)
    assert (mct.open_volume(out).values == 2).all()
    after = _objects(out.rsplit("/", 1)[0])
    assert {k: v for k, v in after.items() if "/.out.zarr." in k} == {
        k: v for k, v in before.items() if "/.out.zarr." in k
    }


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.mark.parametrize(
    "name",
    # SIGTERM ends a library caller as SIGKILL does (the CLI turns it into Ctrl-C)
    ["SIGKILL", pytest.param("SIGTERM", marks=pytest.mark.slow), "SIGINT"],
)
def test_a_url_writer_stopped_by_a_signal_leaves_the_old_store_intact(tmp_path, name):
    """On disk through ``local://`` (a URL, not a path): the writer runs in another
    process, stopped by the signal once it has stored chunks of its new store."""
    path = tmp_path / "out.zarr"
    out = f"local://{path}"
    to_ome_zarr(_volume(1), out, chunks=8, storage_options=ON_DISK)
    before = _files(path)
    script, ready = tmp_path / "writer.py", tmp_path / "ready"
    script.write_text(HALF_WAY_WRITER)
    writer = subprocess.Popen(
        [sys.executable, str(script), out, "url", str(ready)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + WAIT
        while not ready.exists() and writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if not ready.exists():
            writer.kill()
            _, err = writer.communicate(timeout=WAIT)
            pytest.fail(f"the writer did not reach its second chunk: {err}")
        left = _left(out)
        assert [n.split("-")[1] for n in left] == ["new", "writer"]  # staging + record
        with pytest.raises(FileExistsError, match=rf"process {writer.pid} of this host"):
            to_ome_zarr(_volume(2), out, mode="w", chunks=8, storage_options=ON_DISK)
        writer.send_signal(getattr(signal, name))
        _, err = writer.communicate(timeout=WAIT)
    finally:
        writer.kill()
    assert _files(path) == before  # the old store, byte for byte
    if name == "SIGINT":  # the writer removes what it wrote
        assert "KeyboardInterrupt" in err and _left(out) == []
    else:  # killed: its staging and record stay until the next write of the URL
        assert writer.returncode == -getattr(signal, name) and _left(out) == left
    to_ome_zarr(_volume(3), out, mode="w", chunks=8, storage_options=ON_DISK)
    assert _left(out) == []
    assert (mct.open_volume(path).values == 3).all()


NOT_SURELY_DEAD = {
    "another host": {"host": "elsewhere.example"},
    # the same host name and pid namespace on another machine sharing the bucket
    "another machine": {"machine": "boot_id 00000000-another-machine"},
    "a record without its machine": {"machine": None},
    "a damaged record": {"pid": "12"},
}


@pytest.mark.parametrize("record", NOT_SURELY_DEAD.values(), ids=NOT_SURELY_DEAD)
def test_a_writer_not_surely_dead_is_left_alone_and_refuses_the_next_write(out, record):
    """A record this process cannot tell dead (another machine: its writer may be
    running there) keeps its staging and record, and the next write is refused rather
    than interleaved with it (its tidy, which claims the store like a write, is), naming
    them."""
    _, record_path = _leave(out, **record)
    if record.get("machine", "") is None:  # a record written before it named the machine
        fs = fsspec.filesystem("memory")
        old = json.loads(fs.cat_file(record_path))
        fs.pipe_file(
            record_path, json.dumps({k: v for k, v in old.items() if k != "machine"}).encode()
        )
    before = _objects(out.rsplit("/", 1)[0])
    with pytest.raises(
        FileExistsError,
        match=r"may be being written by another writer: memory://.*/\.out\.zarr\.microct-writer-"
        rf"{TOKEN}\.json .*remove that record \(and \.out\.zarr\.microct-new-{TOKEN}, if",
    ):
        _volume(2).microct.to_zarr(out, mode="w", chunks=8)
    assert _objects(out.rsplit("/", 1)[0]) == before


@pytest.mark.parametrize("record", NOT_SURELY_DEAD.values(), ids=NOT_SURELY_DEAD)
def test_a_local_writer_not_surely_dead_is_left_alone(tmp_path, record):
    out = tmp_path / "out.zarr"
    _volume(1).microct.to_zarr(out, chunks=8)
    staging = tmp_path / f".out.zarr.microct-new-{TOKEN}"
    shutil.copytree(out, staging)
    fields = _dead_writer_record("out.zarr", TOKEN, **record)
    fields = {k: v for k, v in fields.items() if v is not None}
    (tmp_path / f".out.zarr.microct-writer-{TOKEN}.json").write_text(json.dumps(fields))
    before = _files(tmp_path)
    with pytest.warns(RuntimeWarning, match="remove it yourself"):
        assert safety.tidy_killed_writes(out) == []
    assert _files(tmp_path) == before


def test_a_half_written_record_of_another_writer_is_read_again(out):
    """A record caught while being written is read again: once whole (a dead writer's
    here) the write goes on."""
    _, record_path = _leave(out, stage=False)
    cat_file, reads = memory.MemoryFileSystem.cat_file, []

    def half_then_whole(self, path, *args, **kwargs):
        data = cat_file(self, path, *args, **kwargs)
        if path.endswith(record_path) and not reads:
            reads.append(path)
            return data[: len(data) // 2]
        return data

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(memory.MemoryFileSystem, "cat_file", half_then_whole)
        claimed = safety._claim_url(out, *safety.url_filesystem(out), TOKEN[::-1])
    assert reads and _left(out) == sorted(
        [f".out.zarr.microct-writer-{TOKEN}.json", claimed.rsplit("/", 1)[1]]
    )


def _interrupt_copy(out: str) -> None:
    """Replace ``out`` by a volume of 2s, stopped half way through its copy into place."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(memory.MemoryFileSystem, "copy", _copy_half_then(OSError("dropped")))
        with pytest.raises(OSError, match="dropped"):
            _volume(2).microct.to_zarr(out, mode="w", chunks=8)
    assert [n.split("-")[1] for n in _left(out)] == ["new", "writer"]


def test_of_two_tidies_at_once_one_refuses_and_the_store_ends_whole(out):
    """A tidy records itself before it looks, like a write: a second tidy while the
    first finishes a copy into place refuses instead of copying too."""
    _interrupt_copy(out)
    inside, go = threading.Event(), threading.Event()
    copy, first = memory.MemoryFileSystem.copy, threading.current_thread()

    def gated(self, *args, **kwargs):
        if threading.current_thread() is not first and not inside.is_set():
            inside.set()
            assert go.wait(WAIT)
        return copy(self, *args, **kwargs)

    failures: list[BaseException] = []

    def tidy() -> None:
        try:
            tidy_killed_url_writes(out)
        except BaseException as err:  # reported by the test below
            failures.append(err)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(memory.MemoryFileSystem, "copy", gated)
        other = threading.Thread(target=tidy)
        other.start()
        try:
            assert inside.wait(WAIT)
            with pytest.raises(FileExistsError, match=r"another write of .* is running"):
                tidy_killed_url_writes(out)
        finally:
            go.set()
            other.join(WAIT)
    assert failures == [] and _left(out) == []
    assert (mct.open_volume(out).values == 2).all()


def test_a_copy_into_place_of_a_staging_prefix_gone_touches_nothing(out):
    """A second tidy that reaches the copy once the first has finished it (and removed
    the staging prefix) finds no complete store to copy, and leaves the store alone."""
    _interrupt_copy(out)
    fs, root = safety.url_filesystem(out)
    staged = next(iter(safety._url_writers(fs, root).values()))["new"]
    tidy_killed_url_writes(out)  # the first: finishes the copy
    finished = _objects(out)
    with pytest.raises(OSError, match="holds no complete store"):
        safety._copy_into_place(out, fs, root, staged, fs.unstrip_protocol(staged))
    assert _objects(out) == finished
    assert (mct.open_volume(out).values == 2).all()


@pytest.mark.parametrize("where", ["the store", "its staging"])
def test_a_read_failing_during_the_tidy_removes_nothing(out, where):
    """The only complete copy of the new result is its staging prefix while the store
    is marked interrupted: a read that fails stops the tidy, it does not look like
    "nothing to finish"."""
    _interrupt_copy(out)
    fs, root = safety.url_filesystem(out)
    staged = next(iter(safety._url_writers(fs, root).values()))["new"]
    record = f"{root if where == 'the store' else staged}/.zattrs"  # its Zarr v2 record
    beside = _objects(out.rsplit("/", 1)[0])
    cat_file = memory.MemoryFileSystem.cat_file

    def flaky(self, path, *args, **kwargs):
        if path.endswith(record):
            raise OSError("the network dropped")
        return cat_file(self, path, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(memory.MemoryFileSystem, "cat_file", flaky)
        try:
            tidy_killed_url_writes(out)
        except OSError as err:
            assert "the network dropped" in str(err)
    assert _objects(out.rsplit("/", 1)[0]) == beside
    tidy_killed_url_writes(out)  # the network back: finished
    assert _left(out) == [] and (mct.open_volume(out).values == 2).all()


def test_a_staging_prefix_is_kept_while_the_store_holds_no_complete_result(out):
    """A dead writer's complete staging copy beside a store marked interrupted by
    another write (or removed) may be the only copy of a result: it is kept."""
    staging, _ = _leave(out)
    fs = fsspec.filesystem("memory")
    fs.rm(fsspec.core.url_to_fs(out)[1], recursive=True)
    before = _objects(staging)
    with pytest.warns(RuntimeWarning, match="may be the only copy of a result"):
        assert tidy_killed_url_writes(out) == []
    assert _objects(staging) == before


def test_objects_added_to_an_interrupted_store_stop_its_finishing(out):
    _interrupt_copy(out)
    fs, root = safety.url_filesystem(out)
    fs.pipe_file(f"{root}/notes.txt", b"precious")
    beside = _objects(out.rsplit("/", 1)[0])
    with pytest.warns(RuntimeWarning, match=r"were added to .* meanwhile \(notes.txt\)"):
        assert tidy_killed_url_writes(out) == []
    assert _objects(out.rsplit("/", 1)[0]) == beside
    fs.rm_file(f"{root}/notes.txt")  # moved out: the next write finishes the copy
    assert tidy_killed_url_writes(out)
    assert _left(out) == [] and (mct.open_volume(out).values == 2).all()


def test_a_store_that_is_a_whole_bucket_is_refused():
    pytest.importorskip("s3fs")
    with pytest.raises(ValueError, match=r"is a whole bucket.*s3://bucket/scan\.zarr"):
        safety.check_write("s3://bucket", replace=True)


def test_a_refused_record_names_the_permission_needed(folder):
    out = f"{folder}/new.zarr"

    def refuse(self, path, *args, **kwargs):
        raise PermissionError("403 Forbidden")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(memory.MemoryFileSystem, "pipe_file", refuse)
        with pytest.raises(PermissionError, match=r"permission to list and write objects in"):
            with staged_write(out, replace=False):
                pytest.fail("written without its record")


def test_the_document_holding_the_record_is_copied_into_place_last_and_alone(out):
    """A Zarr v2 store: ``.zattrs`` holds the completion record; copied in one list with
    ``.zgroup`` and ``.zmetadata``, an object store may copy it before them."""
    copy, calls = memory.MemoryFileSystem.copy, []

    def logged(self, path1, path2, *args, **kwargs):
        calls.append(path2 if isinstance(path2, list) else [path2])
        return copy(self, path1, path2, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(memory.MemoryFileSystem, "copy", logged)
        _volume(2).microct.to_zarr(out, mode="w", chunks=8)
    assert "/.zattrs" in _objects(out) and calls[-1][-1].endswith("/out.zarr/.zattrs")
    assert [len(c) for c in calls[-3:]] == [1, 1, 1]
    assert (mct.open_volume(out).values == 2).all()


def test_a_replacement_that_cannot_tell_whether_the_store_exists_touches_nothing(
    folder, monkeypatch
):
    """fsspec's ``exists`` answers False on any error (sftp, ftp, webdav keep it): a
    timeout there must not make the replacement write into the old store itself."""
    out = f"{folder}/out.zarr"
    _volume(1).microct.to_zarr(out, chunks=8)
    info = memory.MemoryFileSystem.info

    def timing_out_in_the_write(self, path, **kwargs):
        if sys._getframe(2).f_code.co_name == "_staged_url_write":
            raise OSError("timeout")
        return info(self, path, **kwargs)

    def failing(*args, **kwargs):
        raise RuntimeError("the computation failed")

    monkeypatch.setattr(memory.MemoryFileSystem, "exists", fsspec.spec.AbstractFileSystem.exists)
    monkeypatch.setattr(memory.MemoryFileSystem, "info", timing_out_in_the_write)
    monkeypatch.setattr(mct.io.ome, "_fill_image", failing)
    with pytest.raises(OSError, match="timeout"):
        _volume(2).microct.to_zarr(out, mode="w", chunks=8)
    monkeypatch.undo()
    assert int(mct.open_volume(out).max()) == 1
    assert _left(out) == []  # nor the writer's record


def test_a_write_that_cannot_tell_whether_the_store_exists_is_not_taken_for_new(
    folder, monkeypatch
):
    """The same timeout when the write decides whether the store is new: a new write
    opens its store with ``mode="w"`` and a failed one removes what is there."""
    out = f"{folder}/out.zarr"
    _volume(1).microct.to_zarr(out, chunks=8)
    root = fsspec.core.url_to_fs(out)[1]
    info = memory.MemoryFileSystem.info

    def timing_out_on_the_store(self, path, **kwargs):
        if self._strip_protocol(path).rstrip("/") == root:
            raise OSError("timeout")
        return info(self, path, **kwargs)

    def failing(*args, **kwargs):
        raise RuntimeError("the computation failed")

    monkeypatch.setattr(memory.MemoryFileSystem, "exists", fsspec.spec.AbstractFileSystem.exists)
    monkeypatch.setattr(memory.MemoryFileSystem, "info", timing_out_on_the_store)
    monkeypatch.setattr(mct.io.ome, "_fill_image", failing)
    with pytest.raises(OSError, match="timeout"):
        _volume(2).microct.to_zarr(out, chunks=8)
    monkeypatch.undo()
    assert int(mct.open_volume(out).max()) == 1
    assert _left(out) == []
