"""One writer at a time per output: a local write claims its output with an exclusive
create (``.NAME.microct-claim.json``, a link to its writer's record) before it writes;
a second writer, even one past the output checks, is refused and removes only what it
made; a killed writer's claim is freed by the next write; what another write did while
a write started is refused under the claim. And a writer of an earlier boot of this
machine is known dead (its leftovers tidied), only when its record proves it."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from helpers import HALF_WAY_WRITER, race_three_writers

import xarray_microct as mct
from xarray_microct.io import safety
from xarray_microct.io.ngff_labels import label_names, write_labels
from xarray_microct.io.safety import (
    check_claim,
    check_write,
    earlier_boot_of_this_machine,
    staged_write,
    tidy_killed_url_writes,
    tidy_killed_writes,
)

TOKEN = "0123abcd"
REMOVER = "89abcdef"
WAIT = 600
"""Seconds a test waits for a writer to reach its event: a bound on a hang, not a timing."""


def _volume(value: int) -> xr.DataArray:
    return mct.from_array(np.full((16, 8, 8), value, "uint16"), spacing=1.0, name="scan", chunks=8)


def _left(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def _record(out: Path, token: str = TOKEN, **fields) -> dict:
    """A writer's record of a write of ``out``: by default a dead writer of this machine
    (this pid, another process's start)."""
    return {
        "writer": "xarray-microct staging",
        "machine": safety.machine_identity(),
        "host": socket.gethostname(),
        "pid_namespace": safety.pid_namespace(),
        "pid": os.getpid(),
        "started": "boot of another process",
        "output": out.name,
        "token": token,
        **fields,
    }


def _claimed(out: Path, token: str = TOKEN, **fields) -> tuple[Path, Path]:
    """The record and the claim a writer of ``out`` holding it leaves (killed: as is)."""
    record_file = out.with_name(f".{out.name}.microct-writer-{token}.json")
    record_file.write_text(json.dumps(_record(out, token, **fields)))
    claim = out.with_name(f".{out.name}.microct-claim.json")
    os.link(record_file, claim)
    return record_file, claim


def _start_half_way_writer(tmp_path: Path, out: Path) -> tuple[subprocess.Popen, Path]:
    """A process writing ``out`` (new) with ``to_zarr``, stopped half-way."""
    script, ready = tmp_path / "writer.py", tmp_path / "ready"
    script.write_text(HALF_WAY_WRITER)
    writer = subprocess.Popen(
        [sys.executable, str(script), str(out), "to_zarr", str(ready)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + WAIT
    while not ready.exists() and writer.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), "the writer did not reach its second chunk"
    return writer, ready


def test_a_second_new_write_is_refused_naming_the_first_and_a_killed_ones_claim_is_freed(
    tmp_path,
):
    out = tmp_path / "out.zarr"
    writer, _ = _start_half_way_writer(tmp_path, out)
    try:
        left = _left(out)
        assert [n.split("-")[1] for n in left] == ["claim.json", "writer"]  # a new write: in place
        before = _files(tmp_path)
        since = json.loads((tmp_path / left[0]).read_text())["since"]
        who = rf"process {writer.pid} of this host \(host {socket.gethostname()}, writing since "
        # refused at the output check, before anything is computed...
        with pytest.raises(FileExistsError, match=who + re.escape(since)):
            _volume(2).microct.to_zarr(out, chunks=8)
        # ...and by the claim, for a writer that passed the check before the first began
        with pytest.raises(FileExistsError, match=who):
            with staged_write(out, replace=False):
                pytest.fail("a second writer started")
        assert _files(tmp_path) == before  # the second writer removed its own record only
    finally:
        writer.send_signal(signal.SIGKILL)
        assert writer.wait(timeout=WAIT) == -signal.SIGKILL
    assert _left(out) == left  # a killed writer leaves its claim and record...
    _volume(3).microct.to_zarr(out, mode="w", chunks=8)  # ...freed by the next write
    assert _left(out) == []
    assert (mct.open_volume(out).values == 3).all()


RACER = textwrap.dedent(
    """
    import os, sys, time, pathlib
    from xarray_microct.io.safety import staged_write

    out, go = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    while not go.exists():
        time.sleep(0.001)
    try:
        with staged_write(out, replace=False) as target:
            target.mkdir(exist_ok=True)  # as zarr's mode="w" would: over what is there
            (target / f"by-{os.getpid()}").write_text("mine")
            time.sleep(0.5)
    except FileExistsError as err:
        print(err)
        sys.exit(3)
    """
)


def test_of_new_writes_racing_for_one_path_exactly_one_writes(tmp_path):
    out, go, script = tmp_path / "out.zarr", tmp_path / "go", tmp_path / "racer.py"
    script.write_text(RACER)
    race_three_writers(script, str(out), go, out, WAIT)
    assert _left(out) == []


def test_a_stale_claim_of_a_killed_new_write_is_freed_by_the_next_write(tmp_path):
    out = tmp_path / "out.zarr"
    _claimed(out)  # killed before it made anything
    _volume(1).microct.to_zarr(out, chunks=8)
    assert _left(out) == [] and (mct.open_volume(out).values == 1).all()


def test_a_claim_that_cannot_be_told_dead_refuses_the_write_and_is_left(tmp_path):
    out = tmp_path / "out.zarr"
    _claimed(out, host="elsewhere.example", since="2026-01-02T03:04:05+00:00")
    before = _files(tmp_path)
    with pytest.raises(
        FileExistsError,
        match=r"may be being written by another writer: its claim .* process "
        rf"{os.getpid()} of host elsewhere.example .* writing since 2026-01-02T03:04:05.*"
        r"remove .*microct-claim.json yourself",
    ):
        _volume(1).microct.to_zarr(out, chunks=8)
    assert _files(tmp_path) == before and not out.exists()


@pytest.mark.parametrize("damage", ["not json", "a link"])
def test_a_claim_not_surely_a_writers_refuses_the_write(tmp_path, monkeypatch, damage):
    monkeypatch.setattr(safety, "RECORD_READS", 1)
    out = tmp_path / "out.zarr"
    claim = tmp_path / ".out.zarr.microct-claim.json"
    if damage == "a link":  # to a dead writer's record, but not a claim a writer makes
        elsewhere = tmp_path / "record.json"
        elsewhere.write_text(json.dumps(_record(out)))
        claim.symlink_to(elsewhere)
    else:
        claim.write_text("{not json")
    with pytest.raises(FileExistsError, match="is not a well-formed writer's record"):
        _volume(1).microct.to_zarr(out, chunks=8)
    assert _left(out) == [".out.zarr.microct-claim.json"] and not out.exists()


def test_a_claim_made_meanwhile_is_never_freed_for_a_dead_one(tmp_path):
    out = tmp_path / "out.zarr"
    with staged_write(out, replace=False):  # this process holds the claim
        safety._unclaim(out, TOKEN)  # a remover of a dead writer's claim, come late
        with pytest.raises(FileExistsError, match="another write of"):
            check_claim(out)
    assert _left(out) == []


def _marked(out: Path, token: str = TOKEN, remover: str = REMOVER, **fields) -> Path:
    """The mark a remover of the claim of the write ``token`` of ``out`` holds while it
    frees it (killed: left as is); its record by default a dead writer's."""
    mark = out.with_name(f".{out.name}.microct-unclaiming-{token}")
    mark.write_text(json.dumps(_record(out, remover, **fields)))
    return mark


def test_a_dead_claim_another_write_is_freeing_is_waited_for_then_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(safety.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(safety, "_WRITING", {REMOVER})  # this process frees it now
    out = tmp_path / "out.zarr"
    _, claim = _claimed(out)
    mark = _marked(out, started=safety.process_start(os.getpid()))
    with pytest.raises(FileExistsError, match="another write, which runs, is removing it"):
        with staged_write(out, replace=False):
            pytest.fail("claimed while another write frees the claim")
    assert claim.exists() and mark.exists() and not out.exists()


def test_the_mark_of_a_remover_killed_while_freeing_a_dead_claim_is_freed_by_the_next_write(
    tmp_path,
):
    out = tmp_path / "out.zarr"
    _claimed(out)
    script = tmp_path / "remover.py"
    script.write_text(KILLED_REMOVER)
    remover = subprocess.run([sys.executable, str(script), str(out)], timeout=WAIT, check=False)
    assert remover.returncode == -signal.SIGKILL
    assert [n.split("-")[1] for n in _left(out)] == ["claim.json", "unclaiming", "writer"]
    _volume(1).microct.to_zarr(out, chunks=8)
    assert _left(out) == [] and (mct.open_volume(out).values == 1).all()


KILLED_REMOVER = textwrap.dedent(
    """
    import os, signal, sys, pathlib
    from xarray_microct.io import safety

    out, holder = pathlib.Path(sys.argv[1]), safety._holder

    def killed_once_marked(file, path):
        if file.name.endswith("claim.json") and any(".microct-unclaiming-" in p.name
                                                     for p in out.parent.iterdir()):
            os.kill(os.getpid(), signal.SIGKILL)  # killed while freeing the dead claim
        return holder(file, path)

    safety._holder = killed_once_marked
    safety.check_claim(out)
    """
)


def test_marks_of_removers_killed_one_after_another_are_freed_in_turn(tmp_path):
    out = tmp_path / "out.zarr"
    _claimed(out)
    mark = _marked(out)
    second = mark.with_name(f"{mark.name}-{REMOVER}")  # killed freeing the first's mark
    second.write_text(json.dumps(_record(out, "76543210")))
    _volume(1).microct.to_zarr(out, chunks=8)
    assert _left(out) == [] and (mct.open_volume(out).values == 1).all()


def test_the_mark_of_a_remover_killed_after_the_claim_was_gone_is_freed_by_the_next_write(
    tmp_path,
):
    out = tmp_path / "out.zarr"
    _marked(out)  # its claim removed, then its remover killed before removing the mark
    _volume(1).microct.to_zarr(out, chunks=8)
    assert _left(out) == [] and (mct.open_volume(out).values == 1).all()


def test_the_mark_of_a_remover_on_another_host_is_left_with_a_warning(tmp_path):
    out = tmp_path / "out.zarr"
    mark = _marked(out, host="elsewhere.example")
    with pytest.warns(RuntimeWarning, match=re.escape(mark.name)):
        _volume(1).microct.to_zarr(out, chunks=8)
    assert mark.exists() and (mct.open_volume(out).values == 1).all()


@pytest.mark.parametrize("record", ["another host", "none"])
def test_a_removers_mark_not_surely_dead_is_left_and_refuses_the_write(
    tmp_path, monkeypatch, record
):
    monkeypatch.setattr(safety.time, "sleep", lambda seconds: None)
    out = tmp_path / "out.zarr"
    _claimed(out)
    if record == "none":  # an earlier version's mark, or one killed before its record
        mark = out.with_name(f".{out.name}.microct-unclaiming-{TOKEN}")
        mark.write_text("")
        why = "records no writer of xarray-microct"
    else:
        mark = _marked(out, host="elsewhere.example")
        why = "was left by process .* of host elsewhere.example .* cannot be checked from here"
    before = _files(tmp_path)
    with pytest.raises(
        FileExistsError,
        match=rf"a write that was freeing it left its mark: .*{re.escape(mark.name)} {why}",
    ):
        _volume(1).microct.to_zarr(out, chunks=8)
    assert _files(tmp_path) == before and not out.exists()


@pytest.mark.parametrize("where", ["local", "url"])
def test_a_store_made_while_a_new_write_started_is_refused_and_kept(tmp_path, where):
    """Both writers found the path free; the later one, once it holds the claim, finds
    the earlier one's store and writes nothing (it would have written over it)."""
    out = tmp_path / "out.zarr"
    _volume(1).microct.to_zarr(out, chunks=8)  # the other write, finished meanwhile
    before = _files(tmp_path)
    target = out if where == "local" else f"local://{out}"
    with pytest.raises(FileExistsError, match="made by another write while this one started"):
        with staged_write(target, replace=False):
            pytest.fail("a new write started over an existing store")
    assert _files(tmp_path) == before


def test_a_store_removed_before_it_is_written_into_is_refused(tmp_path):
    out = tmp_path / "out.zarr"
    with pytest.raises(FileNotFoundError, match="removed before it could be written into"):
        with staged_write(out, replace=False, in_place=True):
            pytest.fail("a resume started without its store")
    assert list(tmp_path.iterdir()) == []


def test_labels_are_not_written_while_another_write_of_the_image_runs(tmp_path):
    out = tmp_path / "scan.zarr"
    volume = _volume(1)
    volume.microct.to_zarr(out, chunks=8)
    before = _files(out)
    with staged_write(out, replace=False, in_place=True):  # e.g. another labels write
        with pytest.raises(FileExistsError, match="another write of"):
            write_labels((volume > 0).rename("on"), out, "on")
    assert _files(out) == before
    write_labels((volume > 0).rename("on"), out, "on")
    assert label_names(out) == ["on"] and _left(out) == []


# ---------------------------------------------------------------------------------------
# A writer of an earlier boot of this machine

THIS_BOOT = "boot_id 11111111-this-boot"
CARD = "00:1b:21:3a:4f:10"  # a network card's own (universally administered) address
MACHINE_ID = "0123456789abcdef0123456789abcdef"
EARLIER = {
    "machine": "boot_id 00000000-earlier-boot",
    "machine_id": MACHINE_ID,
    "addresses": [CARD],
    "since": "2000-01-01T00:00:00+00:00",
    "pid": 1,  # on this machine now: init, running
    "started": "boot 00000000-earlier-boot tick 1",
}


@pytest.fixture
def this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine: a boot, an installation id and a network card of its own."""
    monkeypatch.setattr(safety, "machine_identity", lambda: THIS_BOOT)
    monkeypatch.setattr(safety, "machine_id", lambda: MACHINE_ID)
    monkeypatch.setattr(
        safety, "hardware_addresses", lambda folder=None: [CARD, "00:0c:29:01:02:03"]
    )


@pytest.fixture
def out(tmp_path: Path) -> Path:
    path = tmp_path / "out.zarr"
    _volume(1).microct.to_zarr(path, chunks=8)
    return path


def _leave_staging(out: Path, **fields) -> None:
    shutil.copytree(out, out.with_name(f".{out.name}.microct-new-{TOKEN}"))
    _claimed(out, **fields)


def test_a_writer_of_an_earlier_boot_of_this_machine_is_tidied_after(out, this_machine):
    _leave_staging(out, **EARLIER)
    assert earlier_boot_of_this_machine(_record(out, **EARLIER))
    assert len(tidy_killed_writes(out)) == 2 and _left(out) == []  # its staging and record
    _leave_staging(out, **EARLIER)
    _volume(2).microct.to_zarr(out, mode="w", chunks=8)
    assert _left(out) == [] and (mct.open_volume(out).values == 2).all()


NOT_PROVEN = {
    # machines cloned from one image: the same machine id, their own network cards
    "another card": {"addresses": ["00:1b:21:ff:ff:ff"]},
    "no card (a container)": {"addresses": []},
    "a hypervisor's card, kept by a clone": {"addresses": ["00:0c:29:01:02:03"]},
    "another host name": {"host": "another-host"},
    "another installation": {"machine_id": "f" * 32},
    "no machine id": {"machine_id": ""},
    "written during this boot": {"since": "2999-01-01T00:00:00+00:00"},
    "a record without these facts": {"machine_id": None, "addresses": None, "since": None},
    "damaged: unhashable addresses": {"addresses": [[CARD], {"a": 1}]},
    "damaged: a time out of range": {"since": "0001-01-01T00:00:00"},
}


@pytest.mark.parametrize("fields", NOT_PROVEN.values(), ids=NOT_PROVEN)
def test_a_writer_of_another_boot_not_proven_this_machines_is_left_and_refuses(
    out, this_machine, fields
):
    record = {k: v for k, v in {**EARLIER, **fields}.items() if v is not None}
    _leave_staging(out, **record)
    assert not earlier_boot_of_this_machine(_record(out, **record))
    before = _files(out.parent)
    with pytest.raises(FileExistsError, match=r"another writer: .* cannot be checked from here"):
        _volume(2).microct.to_zarr(out, mode="w", chunks=8)
    assert _files(out.parent) == before


def test_a_writer_of_an_earlier_boot_is_tidied_after_at_a_url_too(this_machine):
    import fsspec

    out = "memory://claims-earlier-boot/out.zarr"
    fs = fsspec.filesystem("memory")
    try:
        _volume(1).microct.to_zarr(out, chunks=8)
        record = _record(Path("out.zarr"), **EARLIER)
        record_path = f"/claims-earlier-boot/.out.zarr.microct-writer-{TOKEN}.json"
        fs.pipe_file(record_path, json.dumps(record).encode())
        assert [u.rsplit("/", 1)[1] for u in tidy_killed_url_writes(out)] == [
            f".out.zarr.microct-writer-{TOKEN}.json"
        ]
    finally:
        fs.rm("/claims-earlier-boot", recursive=True)


def test_check_write_reports_a_running_writer_of_this_process(tmp_path):
    out = tmp_path / "out.zarr"
    with staged_write(out, replace=False):
        with pytest.raises(FileExistsError, match=rf"process {os.getpid()} of this host"):
            check_write(out, replace=True)
    assert check_write(out, replace=False) == "new"


def test_a_file_system_without_hard_links_gets_the_claim_as_a_copy(tmp_path, monkeypatch):
    def no_links(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(safety.os, "link", no_links)
    out = tmp_path / "out.zarr"
    with staged_write(out, replace=False):
        (record,) = [p for p in _left(out) if "-writer-" in p]
        claim = tmp_path / ".out.zarr.microct-claim.json"
        assert claim.read_text() == (tmp_path / record).read_text()
        with pytest.raises(FileExistsError, match="another write of"):
            with staged_write(out, replace=False):
                pytest.fail("a second writer started")
    assert _left(out) == []


@pytest.mark.parametrize("how", ["to_zarr", "write_volume", "url"])
def test_files_put_where_a_new_store_is_about_to_be_made_are_left_as_they_are(
    tmp_path, monkeypatch, how
):
    """Another program puts files at the output after its checks, before the store is
    made: the write is refused and the files stay (Zarr's mode "w" cleared them, and a
    failed new write removed what it took for its own)."""
    import contextlib

    from xarray_microct.io import ome, results

    module = results if how == "write_volume" else ome
    staged = module.staged_write

    @contextlib.contextmanager
    def files_put_meanwhile(*args, **kwargs):
        with staged(*args, **kwargs) as target:
            folder = Path(str(target).removeprefix("local://"))
            folder.mkdir()
            (folder / "notes.txt").write_text("precious")
            yield target

    monkeypatch.setattr(module, "staged_write", files_put_meanwhile)
    out = tmp_path / "out.zarr"
    with pytest.raises(FileExistsError, match="something is there"):
        if how == "write_volume":
            results.write_volume(_volume(1), out)
        else:
            ome.to_ome_zarr(
                _volume(1),
                f"local://{out}" if how == "url" else out,
                chunks=8,
                storage_options={"auto_mkdir": True} if how == "url" else None,
            )
    assert _files(out) == {"notes.txt": b"precious"} and _left(out) == []


@pytest.mark.parametrize("how", ["to_zarr", "write_volume"])
def test_a_new_store_in_folders_not_made_yet_is_written(tmp_path, how):
    out = tmp_path / "not" / "yet" / "out.zarr"
    if how == "to_zarr":
        _volume(4).microct.to_zarr(out, chunks=8)
        assert (mct.open_volume(out).values == 4).all()
    else:
        from xarray_microct.io.results import open_result, write_volume

        write_volume(_volume(4), out)
        assert (open_result(out).values == 4).all()
    assert _left(out) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's /proc")
def test_a_process_of_another_user_hidden_by_proc_is_not_taken_for_ended(monkeypatch):
    def of_another_user(pid, signal):
        raise PermissionError(1, "Operation not permitted")

    hidden = 2**30  # no /proc entry, as /proc mounted hidepid=2 shows another user's
    assert not Path(f"/proc/{hidden}").exists()
    monkeypatch.setattr(safety.os, "kill", of_another_user)
    assert safety.process_start(hidden) == "unknown"


@pytest.mark.parametrize("then", [FileExistsError, KeyboardInterrupt])
def test_a_claim_linked_then_reported_failed_is_this_writes(tmp_path, monkeypatch, then):
    """NFS may link and then answer EEXIST (a retransmitted request); Ctrl-C may land
    just after the link: the claim is this write's, never left to refuse later ones."""
    link = os.link

    def linked_then(source, target, **kwargs):
        link(source, target, **kwargs)
        raise then(17, "File exists") if then is FileExistsError else then()

    monkeypatch.setattr(safety.os, "link", linked_then)
    out = tmp_path / "out.zarr"
    if then is FileExistsError:
        with staged_write(out, replace=False) as target:
            assert target == out
    else:
        with pytest.raises(KeyboardInterrupt):
            with staged_write(out, replace=False):
                pytest.fail("written although interrupted")
    assert _left(out) == []
    monkeypatch.setattr(safety.os, "link", link)
    with staged_write(out, replace=False):
        pass


def test_a_claim_copy_that_fails_is_not_left(tmp_path, monkeypatch):
    def no_links(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    read_text = Path.read_text

    def records_unreadable(self, *args, **kwargs):
        if "-writer-" in self.name:
            raise OSError(5, "Input/output error")
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(safety.os, "link", no_links)
    monkeypatch.setattr(safety.Path, "read_text", records_unreadable)
    out = tmp_path / "out.zarr"
    with pytest.raises(OSError, match="Input/output"):
        with staged_write(out, replace=False):
            pytest.fail("written without a claim")
    assert _left(out) == []


def test_a_boot_time_read_off_linux_may_drift_between_processes_of_one_boot(tmp_path, monkeypatch):
    """Off Linux the boot time is computed (clock minus uptime): a killed writer's
    record may differ from the next process's by a second, yet names this machine."""
    here = "host lab-pc boot 1700000000.5 node 001b213a4f10"
    monkeypatch.setattr(safety, "machine_identity", lambda: here)
    out = tmp_path / "out.zarr"
    _claimed(out, machine="host lab-pc boot 1699999999.7 node 001b213a4f10")
    check_claim(out)  # a dead writer of this machine: its claim freed
    assert _left(out) == [f".out.zarr.microct-writer-{TOKEN}.json"]
    for another in (
        "host lab-pc boot 1699990000.0 node 001b213a4f10",  # an earlier boot
        "host lab-pc boot 1700000000.5 node 001b213a4f11",  # another card
        "host lab-pc2 boot 1700000000.5 node 001b213a4f10",
    ):
        assert not safety._this_machine(another)


@pytest.mark.parametrize("replace", [False, True])
def test_a_claim_and_record_that_cannot_be_removed_after_a_write_are_left_to_the_next(
    tmp_path, monkeypatch, replace
):
    """Windows refuses to remove a file another process holds open (a reader, a virus
    scanner): the write is done all the same, and the next write frees what it left."""
    out = tmp_path / "out.zarr"
    if replace:
        _volume(1).microct.to_zarr(out, chunks=8)
    unlink = Path.unlink

    def held_open(self, *args, **kwargs):
        if re.search(r"microct-(claim|writer-)", self.name):
            raise PermissionError(13, "The process cannot access the file")
        return unlink(self, *args, **kwargs)

    monkeypatch.setattr(safety.Path, "unlink", held_open)
    with pytest.warns(RuntimeWarning, match="the next write of its output removes it"):
        _volume(2).microct.to_zarr(out, mode="w", chunks=8)
    assert (mct.open_volume(out).values == 2).all()
    assert any("-claim" in name for name in _left(out))
    monkeypatch.setattr(safety.Path, "unlink", unlink)
    _volume(3).microct.to_zarr(out, mode="w", chunks=8)
    assert _left(out) == [] and (mct.open_volume(out).values == 3).all()


@pytest.mark.parametrize("url", [False, True])
def test_a_replacement_of_a_store_gone_before_its_claim_leaves_nothing_when_it_fails(
    tmp_path, monkeypatch, url
):
    """The store was there when checked, gone when claimed: the replacement is written
    in place, and a failure to create it removes what it made."""
    from xarray_microct.io import ome

    out = "memory://claims-gone/out.zarr" if url else tmp_path / "out.zarr"

    def fails(*args, **kwargs):
        raise RuntimeError("no space left")

    monkeypatch.setattr(ome, "_check_target", lambda *args: "replace")
    monkeypatch.setattr(ome, "create_levels", fails)
    with pytest.raises(RuntimeError, match="no space left"):
        ome.to_ome_zarr(_volume(1), out, mode="w")
    if url:
        import fsspec

        assert not fsspec.filesystem("memory").exists("/claims-gone/out.zarr")
    else:
        assert not out.exists() and _left(out) == []


@pytest.mark.parametrize("writer", ["to_zarr", "microct run"])
def test_an_old_result_that_cannot_be_removed_after_the_swap_warns_and_is_left_to_the_next(
    tmp_path, monkeypatch, writer
):
    """Windows refuses to remove a folder holding a file another process has open: once
    the new result is swapped in, the old copy left beside it is named in a warning (the
    write succeeded), and the next write removes it."""
    from xarray_microct.io.results import open_result, write_volume

    out = tmp_path / "out.zarr"

    def write(value: int) -> None:
        if writer == "to_zarr":
            _volume(value).microct.to_zarr(out, mode="w", chunks=8)
        else:
            write_volume(_volume(value), out, overwrite=True)

    write(1)
    rmtree = shutil.rmtree

    def held_open(path, *args, **kwargs):
        if "microct-old-" in Path(path).name:
            raise PermissionError(13, "The process cannot access the file", str(path))
        return rmtree(path, *args, **kwargs)

    monkeypatch.setattr(safety.shutil, "rmtree", held_open)
    with pytest.warns(RuntimeWarning, match=r"microct-old-\w+, the result .* could not be remov"):
        write(2)
    assert (open_result(out).values == 2).all()
    assert [n.split("-")[1] for n in _left(out)] == ["old", "writer"]
    with pytest.warns(RuntimeWarning, match="microct-old-"):  # still held open: both left
        write(3)
    assert [n.split("-")[1] for n in _left(out)] == ["old", "old", "writer", "writer"]
    assert (open_result(out).values == 3).all()
    monkeypatch.setattr(safety.shutil, "rmtree", rmtree)
    write(4)
    assert _left(out) == [] and (open_result(out).values == 4).all()
