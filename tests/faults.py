"""The fault catalogue: bad inputs and faults, what happens for each, and the check.

Each :class:`Fault` names a case (``id``), says what is done (``what``) and what
xarray-microct does about it (``outcome``), and carries the function that does it and
asserts that outcome. ``tests/test_faults.py`` runs every case; ``docs/make_fault_table.py``
writes the same list into the documentation (``docs/reliability.md``), so the list
there is the list that is tested.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import http.server
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
import zarr

import xarray_microct as mct
from xarray_microct.cli import main
from xarray_microct.io.ome import DamagedStoreError, IncompleteStoreError
from xarray_microct.runner import open_result, read_table, run_state, write_table, write_volume

STEPS = [{"op": "gaussian", "params": {"sigma": "1 voxel"}}]


@dataclass(frozen=True)
class Fault:
    """One case of the catalogue."""

    id: str
    group: str
    what: str
    outcome: str
    check: Callable[[Path], None]
    slow: bool = False
    """Runs only with ``pytest -m slow`` (a subprocess or a cluster: seconds each)."""


# ----------------------------------------------------------------------------- helpers


def volume(seed: int = 0) -> xr.DataArray:
    data = np.random.default_rng(seed).integers(0, 1000, (16, 16, 16)).astype("uint16")
    return mct.from_array(data, spacing=0.5, chunks=8, name="scan")


IN_STORED_CHUNKS = ["--chunks", "8"]
"""``microct run`` options computing in the stored chunks: a run of several chunks to stop
part-way (merged, as by default, the scans here are one chunk); a resume without
``--chunks`` computes in the chunks its run started with."""


def make_input(folder: Path, kind: str = "ome-0.5", seed: int = 0) -> Path:
    """A small stored scan: an OME-Zarr image (``ome-0.4``/``ome-0.5``) or an xarray
    Zarr store (``xarray``)."""
    path = folder / "scan.zarr"
    if kind == "xarray":
        volume(seed).to_zarr(path)
    else:
        volume(seed).microct.to_zarr(path, version=kind.removeprefix("ome-"), chunks=8)
    return path


def snapshot(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` with its bytes (``{}`` when nothing is there)."""
    if path.is_file():
        return {"": path.read_bytes()}
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def _folder(parent: Path, name: str) -> Path:
    folder = parent / name
    folder.mkdir(exist_ok=True)
    return folder


def pipeline_file(folder: Path, steps: list[dict[str, Any]] | None = None) -> Path:
    path = folder / "steps.yaml"
    path.write_text(yaml.safe_dump({"steps": steps or STEPS}))
    return path


def cli(args: list[Any], capsys: Any = None) -> int:
    return main([str(a) for a in args])


def smoothed(source: Path) -> xr.DataArray:
    return mct.open_volume(source).microct.gaussian(sigma="1 voxel")


def expected(source: Path) -> np.ndarray:
    return smoothed(source).values


def table_of(source: Path) -> pd.DataFrame:
    vol = smoothed(source)
    table = pd.DataFrame({"label": [1, 2], "volume": [3.0, 4.0]})
    table.attrs["microct_provenance"] = vol.attrs["microct_provenance"]
    return table


# ------------------------------------------------------------------------------ writers
# Each writer takes (input store, output path, replace?) and writes a result of the input.


def _to_zarr(version: str) -> Callable[[Path, Path, bool], Any]:
    def write(source: Path, out: Path, replace: bool) -> Any:
        mode = "w" if replace else "w-"
        smoothed(source).microct.to_zarr(out, version=version, mode=mode, chunks=8)

    return write


def _write_volume(source: Path, out: Path, replace: bool) -> Any:
    write_volume(smoothed(source), out, overwrite=replace)


def _write_table(source: Path, out: Path, replace: bool) -> Any:
    write_table(table_of(source), out, overwrite=replace)


def _run(source: Path, out: Path, replace: bool) -> Any:
    args = ["run", pipeline_file(Path(tempfile.mkdtemp())), source, out, "--no-progress"]
    code = cli([*args, *IN_STORED_CHUNKS, *(["--overwrite"] if replace else [])])
    if code == 2:
        raise CliRefused
    assert code == 0


class CliRefused(Exception):
    """``microct`` exited with status 2 (a clear error, printed on one line)."""


WRITERS: dict[str, Callable[[Path, Path, bool], Any]] = {
    "to_zarr-0.4": _to_zarr("0.4"),
    "to_zarr-0.5": _to_zarr("0.5"),
    "write_volume": _write_volume,
    "write_table": _write_table,
    "microct-run": _run,
}
REFUSED = (FileExistsError, ValueError, CliRefused)


def _refused(
    write: Callable[[Path, Path, bool], Any], source: Path, out: Path, keep: list[Path]
) -> None:
    before = {p: snapshot(p) for p in keep}
    with pytest.raises(REFUSED):
        write(source, out, True)
    for path, files in before.items():
        assert snapshot(path) == files, f"{path} changed"


# ------------------------------------------------------------------- clobbering outputs


def _user_folder(tmp: Path) -> tuple[Path, list[Path]]:
    out = tmp / "results"
    out.mkdir()
    (out / "notes.txt").write_text("precious")
    return out, [out]


def _bare_zarr_json(tmp: Path) -> tuple[Path, list[Path]]:
    out = tmp / "folder"
    out.mkdir()
    (out / "zarr.json").write_text(
        json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {}})
    )
    (out / "thesis.tex").write_text("chapter 1")
    return out, [out]


def _foreign_zarr(tmp: Path) -> tuple[Path, list[Path]]:
    out = tmp / "foreign.zarr"
    xr.Dataset({"a": ("x", np.arange(4))}).to_zarr(out)
    return out, [out]


def _ours_with_user_file(tmp: Path) -> tuple[Path, list[Path]]:
    out = tmp / "ours.zarr"
    volume(1).microct.to_zarr(out)
    (out / "README.txt").write_text("my notes on this result")
    return out, [out]


def _ours_with_file_in_array(tmp: Path) -> tuple[Path, list[Path]]:
    out = tmp / "ours.zarr"
    volume(1).microct.to_zarr(out, version="0.5")
    (out / "0" / "scan" / "notes.txt").write_text("kept inside the array folder")
    return out, [out]


def _ours_with_user_folder(tmp: Path) -> tuple[Path, list[Path]]:
    out = tmp / "ours.zarr"
    volume(1).microct.to_zarr(out, version="0.5")
    (out / "figures").mkdir()
    (out / "figures" / "plot.png").write_bytes(b"\x89PNG")
    return out, [out]


def _forged_marker_with_files(tmp: Path) -> tuple[Path, list[Path]]:
    out = tmp / "forged"
    out.mkdir()
    (out / "zarr.json").write_text(
        json.dumps(
            {
                "zarr_format": 3,
                "node_type": "group",
                "attributes": {"xarray_microct": {"complete": True}},
            }
        )
    )
    (out / "data.csv").write_text("1,2,3")
    return out, [out]


def _plain_file(tmp: Path) -> tuple[Path, list[Path]]:
    out = tmp / "result.zarr"
    out.write_text("not a store")
    return out, [out]


def _symlink_to_ours(tmp: Path) -> tuple[Path, list[Path]]:
    target = tmp / "real.zarr"
    volume(1).microct.to_zarr(target)
    out = tmp / "link.zarr"
    out.symlink_to(target, target_is_directory=True)
    return out, [target]


OUTPUT_HAZARDS: dict[str, tuple[str, Callable[[Path], tuple[Path, list[Path]]]]] = {
    "user-folder": ("the output is a folder of user files", _user_folder),
    "bare-zarr-json": (
        "the output folder merely has a zarr.json at its top (and user files)",
        _bare_zarr_json,
    ),
    "foreign-zarr": ("the output is a Zarr store written by another program", _foreign_zarr),
    "user-file-in-store": (
        "the output is a store we wrote, with a user file added at its top",
        _ours_with_user_file,
    ),
    "user-file-in-array": (
        "the output is a store we wrote, with a user file inside an array folder",
        _ours_with_file_in_array,
    ),
    "user-folder-in-store": (
        "the output is a store we wrote, with a user folder added",
        _ours_with_user_folder,
    ),
    "forged-marker": (
        "the output's zarr.json carries our marker, but the folder holds user files",
        _forged_marker_with_files,
    ),
    "plain-file": ("the output path is a file", _plain_file),
    "symlink-output": ("the output is a symbolic link to a store", _symlink_to_ours),
}


def _output_case(writer: str, hazard: str) -> Fault:
    what, make = OUTPUT_HAZARDS[hazard]

    def check(tmp: Path) -> None:
        source = make_input(_folder(tmp, "in"))
        out, keep = make(tmp)
        _refused(WRITERS[writer], source, out, [*keep, source])

    return Fault(
        f"{writer}-replace-{hazard}",
        "never clobber",
        f"{writer} asked to replace: {what}",
        "refused before any computing (FileExistsError / exit 2); every file kept",
        check,
    )


# ------------------------------------------------------------------------ inputs as outputs


def _in_folder(tmp: Path) -> Path:
    folder = tmp / "proj"
    folder.mkdir()
    return make_input(folder)


INPUT_HAZARDS: dict[str, tuple[str, Callable[[Path], Path]]] = {
    "is-input": ("the output is the input", lambda src: src),
    "dotdot-alias": (
        "the output is the input written as proj/../proj/scan.zarr",
        lambda src: src.parent / ".." / src.parent.name / src.name,
    ),
    "trailing-dot": (
        "the output is the input written as proj/./scan.zarr/.",
        lambda src: Path(f"{src.parent}/./{src.name}/."),
    ),
    "parent-of-input": ("the output is the folder holding the input", lambda src: src.parent),
    "inside-input": (
        "the output lies inside the input store",
        lambda src: src / "0" / "result.zarr",
    ),
    "symlink-to-input": ("the output is a symbolic link to the input", "symlink"),  # type: ignore[dict-item]
    "symlinked-parent": (
        "the output is the input reached through a symlinked folder",
        "symlinked-parent",
    ),  # type: ignore[dict-item]
    "grandparent": ("the output is two folders above the input", lambda src: src.parent.parent),
}


def _input_case(writer: str, hazard: str) -> Fault:
    what, alias = INPUT_HAZARDS[hazard]

    def check(tmp: Path) -> None:
        source = _in_folder(tmp)
        if alias == "symlink":
            out = tmp / "alias.zarr"
            out.symlink_to(source, target_is_directory=True)
        elif alias == "symlinked-parent":
            (tmp / "elsewhere").symlink_to(source.parent, target_is_directory=True)
            out = tmp / "elsewhere" / source.name
        else:
            out = alias(source)
        _refused(WRITERS[writer], source, out, [source])

    return Fault(
        f"{writer}-{hazard}",
        "inputs are never replaced",
        f"{writer}: {what}",
        "refused before any computing (ValueError naming the input / exit 2); the input is intact",
        check,
    )


# ------------------------------------------------------------------ replacing our own results


def _replace_ours(writer: str, state: str) -> Fault:
    def check(tmp: Path) -> None:
        source = make_input(tmp)
        out = tmp / "out.zarr"
        if state == "complete":
            WRITERS[writer](make_input(_folder(tmp, "other"), seed=1), out, False)
        else:
            volume(1).microct.to_zarr(out, version="0.5")
            root = zarr.open_group(str(out), mode="r+")
            root.attrs["xarray_microct"] = {"complete": False, "ngff": "0.5"}
            if writer in ("write_volume", "write_table", "microct-run"):
                root.attrs["microct_run"] = {"status": "interrupted"}
        WRITERS[writer](source, out, True)
        result = open_result(out)
        if writer == "write_table":
            assert list(read_table(out)["volume"]) == [3.0, 4.0]
        else:
            np.testing.assert_array_equal(np.asarray(result), expected(source))
        assert not [p for p in tmp.iterdir() if ".microct-" in p.name]  # no staging left

    return Fault(
        f"{writer}-replaces-own-{state}",
        "never clobber",
        f"{writer} replaces a {state} store it wrote (overwrite / mode='w')",
        "replaced: written beside, swapped in when complete; no staging left",
        check,
    )


def _no_replace(writer: str) -> Fault:
    def check(tmp: Path) -> None:
        source = make_input(tmp)
        out = tmp / "out.zarr"
        WRITERS[writer](source, out, False)
        before = snapshot(out)
        with pytest.raises(REFUSED):
            WRITERS[writer](source, out, False)
        assert snapshot(out) == before

    return Fault(
        f"{writer}-exists",
        "never clobber",
        f"{writer} to an existing result without overwrite / mode='w'",
        "refused (FileExistsError / exit 2), the result untouched",
        check,
    )


# ------------------------------------------------------------------------- failing writes


VOLUME_CHUNK = re.compile(r"(/c/\d+/\d+/\d+|/\d+\.\d+\.\d+|/\d+/\d+/\d+)$")
"""The key of a chunk of a 3-D array (not of a coordinate): Zarr v3 (``c/0/0/0``), or v2
nested (``0/0/0``, as NGFF 0.4 stores are written) or flat (``0.0.0``, earlier stores)."""
ANY_CHUNK = re.compile(r"(/c(/\d+)+|/\d+(\.\d+)*)$")


class _Failing:
    """Make every chunk write matching ``pattern`` raise ``OSError(code)`` after ``after``
    such writes: a disk that fills up (or fails) part-way through the data."""

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        code: int,
        after: int = 2,
        pattern: re.Pattern[str] = VOLUME_CHUNK,
    ) -> None:
        self.left = after
        original = zarr.storage.LocalStore.set

        async def set_(store: Any, key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
            if pattern.search(key):
                if self.left <= 0:
                    raise OSError(code, os.strerror(code), key)
                self.left -= 1
            return await original(store, key, value, *args, **kwargs)

        monkeypatch.setattr(zarr.storage.LocalStore, "set", set_)


def _disk_fault(writer: str, code: int, replace: bool) -> Fault:
    name = {errno.ENOSPC: "disk-full", errno.EACCES: "read-only", errno.EIO: "io-error"}[code]

    def check(tmp: Path) -> None:
        source = make_input(tmp)
        out = tmp / "out.zarr"
        if replace:
            WRITERS[writer](source, out, False)
        before = snapshot(out) if replace else None
        with pytest.MonkeyPatch.context() as patch:
            _Failing(patch, code, pattern=ANY_CHUNK if writer == "write_table" else VOLUME_CHUNK)
            with pytest.raises((OSError, CliRefused)):
                WRITERS[writer](source, out, replace)
        if replace:
            assert snapshot(out) == before  # the old result is intact
        elif out.exists():
            state = run_state(out)
            assert state is None or state["status"] != "complete"
            with pytest.raises((IncompleteStoreError, ValueError)):
                open_result(out)
        assert not [p for p in tmp.iterdir() if ".microct-" in p.name]
        WRITERS[writer](source, out, True)  # a rerun is never blocked
        if writer != "write_table":
            np.testing.assert_array_equal(np.asarray(open_result(out)), expected(source))

    action = "replacing a result" if replace else "writing a new result"
    return Fault(
        f"{writer}-{name}-{'replace' if replace else 'new'}",
        "failing storage",
        f"{writer} {action}; the disk fails ({os.strerror(code)}) part-way",
        "the error is raised (exit 2 from microct); "
        + (
            "the old result is intact"
            if replace
            else "the store is marked failed/incomplete, never read as complete"
        )
        + "; a rerun succeeds",
        check,
    )


# ---------------------------------------------------------------------- damaged stores


def _chunk_files(store: Path) -> list[Path]:
    array = store / "0" / "scan"
    if not array.exists():
        array = store / "0" / "volume"
    return sorted(
        p
        for p in array.rglob("*")
        if p.is_file() and p.name not in ("zarr.json", ".zarray", ".zattrs")
    )


def _make_stored(kind: str, tmp: Path) -> Path:
    if kind == "run-output":
        out = tmp / "result.zarr"
        write_volume(volume(), out)
        return out
    return make_input(tmp, kind)


def _delete_one(store: Path) -> None:
    _chunk_files(store)[3].unlink()


def _delete_all(store: Path) -> None:
    for path in _chunk_files(store):
        path.unlink()


def _truncate(store: Path) -> None:
    path = _chunk_files(store)[2]
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def _garble(store: Path) -> None:
    path = _chunk_files(store)[1]
    path.write_bytes(
        bytes(np.random.default_rng(0).integers(0, 256, len(path.read_bytes()), dtype=np.uint8))
    )


def _empty_chunk(store: Path) -> None:
    _chunk_files(store)[0].write_bytes(b"")


def _array_meta(store: Path) -> Path:
    name = "scan" if (store / "0" / "scan").exists() else "volume"
    folder = store / "0" / name
    return folder / ("zarr.json" if (folder / "zarr.json").exists() else ".zarray")


def _edit_shape(store: Path) -> None:
    meta = _array_meta(store)
    doc = json.loads(meta.read_text())
    doc["shape"] = [24, 16, 16]
    meta.write_text(json.dumps(doc))
    consolidated = store / ".zmetadata"
    if consolidated.exists():
        consolidated.unlink()
    root = store / "zarr.json"
    if root.exists():
        top = json.loads(root.read_text())
        top.pop("consolidated_metadata", None)
        root.write_text(json.dumps(top))


def _garble_root(store: Path) -> None:
    root = store / "zarr.json" if (store / "zarr.json").exists() else store / ".zattrs"
    root.write_text('{"zarr_format": 3, "node_type": "gro')
    if (store / ".zmetadata").exists():
        (store / ".zmetadata").write_text("{garbage")


def _mark_incomplete(store: Path) -> None:
    root = zarr.open_group(str(store), mode="r+")
    root.attrs["xarray_microct"] = {**root.attrs["xarray_microct"], "complete": False}
    zarr.consolidate_metadata(str(store))


DAMAGES: dict[str, tuple[str, Callable[[Path], None], type[Exception], str, bool]] = {
    # name: (what, damage, error, message, raised on open (else on compute))
    "missing-chunk": ("one chunk file deleted", _delete_one, DamagedStoreError, "is missing", True),
    "all-chunks-missing": (
        "every chunk file deleted",
        _delete_all,
        DamagedStoreError,
        "is missing",
        True,
    ),
    "truncated-chunk": (
        "a chunk file cut in half",
        _truncate,
        DamagedStoreError,
        "cannot be decoded",
        False,
    ),
    "garbled-chunk": (
        "a chunk file overwritten with random bytes",
        _garble,
        DamagedStoreError,
        "cannot be decoded",
        False,
    ),
    "empty-chunk": (
        "a chunk file emptied (0 bytes)",
        _empty_chunk,
        DamagedStoreError,
        "cannot be decoded",
        False,
    ),
    "edited-shape": (
        "the array's shape edited in its metadata",
        _edit_shape,
        DamagedStoreError,
        "metadata was edited",
        True,
    ),
    "garbled-root-metadata": (
        "the root metadata document cut mid-JSON",
        _garble_root,
        DamagedStoreError,
        "is not valid JSON",
        True,
    ),
    "marked-incomplete": (
        "the completion mark removed (an interrupted write)",
        _mark_incomplete,
        IncompleteStoreError,
        "interrupted",
        True,
    ),
}


def _damage_case(kind: str, damage: str, reader: str) -> Fault:
    what, make, error, message, on_open = DAMAGES[damage]

    def check(tmp: Path) -> None:
        store = _make_stored(kind, tmp)
        make(store)
        if reader == "microct-info":
            assert cli(["info", store]) == 2
            return
        if on_open:
            with pytest.raises(error, match=message):
                mct.open_volume(store).values  # noqa: B018
        else:
            volume_ = mct.open_volume(store)
            with pytest.raises(error, match=message) as caught:
                volume_.values  # noqa: B018
            assert str(store) in str(caught.value)

    when = "on open" if on_open else "when the chunk is read"
    outcome = (
        "`microct info` exits 2 with a one-line error"
        if reader == "microct-info"
        else f"{error.__name__} {when}, naming the store (and the file) and what to do"
    )
    return Fault(
        f"{kind}-{damage}-{reader}",
        "damaged stores",
        f"{kind} store: {what}; read with {reader}",
        outcome,
        check,
    )


# ---------------------------------------------------------------------------- networks


@contextlib.contextmanager
def tcp_server(behaviour: str) -> Iterator[int]:
    """A local TCP server on 127.0.0.1 that is not a Dask scheduler; yields its port.

    ``silent`` accepts and never answers, ``garbage`` sends random bytes, ``close``
    hangs up at once, ``http`` answers as a web server, ``refused`` listens nowhere.
    """
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]
    if behaviour == "refused":
        server.close()
        yield port
        return
    server.listen(8)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)
            with contextlib.suppress(OSError):
                if behaviour == "garbage":
                    conn.sendall(bytes(range(256)) * 4)
                elif behaviour == "http":
                    conn.recv(1024)
                    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi")
                elif behaviour == "close":
                    conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        server.close()


def bounded(func: Callable[[], Any], seconds: float = 60) -> Any:
    """Run ``func`` in a thread; fail the test if it hangs (no timing asserted)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = func()
        except BaseException as err:  # handed to the caller
            box["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"hung for {seconds} s"
    if "error" in box:
        raise box["error"]
    return box.get("value")


def cli_output(args: list[Any]) -> tuple[int, str]:
    """Run ``microct`` in this process (bounded); its exit status and stderr."""
    err = io.StringIO()

    def call() -> int:
        with contextlib.redirect_stderr(err):
            return cli(args)

    code = bounded(call)
    return code, err.getvalue()


def _scheduler_case(behaviour: str, via_file: bool) -> Fault:
    def check(tmp: Path) -> None:
        source = make_input(tmp)
        out = tmp / "out.zarr"
        with tcp_server(behaviour) as port:
            address = f"tcp://127.0.0.1:{port}"
            if via_file:
                (tmp / "scheduler.json").write_text(json.dumps({"address": address}))
                where = ["--scheduler-file", tmp / "scheduler.json"]
            else:
                where = ["--scheduler", address]
            code, err = cli_output(
                ["run", pipeline_file(tmp), source, out, *where, "--timeout", "2s", "--no-progress"]
            )
        assert code == 2
        assert err.startswith("microct: error:") and err.count("\n") == 1, err
        assert "Traceback" not in err
        assert not out.exists()

    how = "--scheduler-file naming" if via_file else "--scheduler pointing at"
    what = {
        "silent": "a TCP server that accepts and never answers",
        "garbage": "a TCP server that sends garbage bytes",
        "close": "a TCP server that hangs up at once",
        "http": "a web server",
        "refused": "a port nobody listens on",
    }[behaviour]
    return Fault(
        f"scheduler-{'file-' if via_file else ''}{behaviour}",
        "networks",
        f"microct run {how} {what} (--timeout 2s)",
        "exit 2 within the timeout, one line `microct: error: cannot reach the Dask "
        "scheduler at ...`; no output created",
        check,
    )


def _bad_scheduler_file() -> Fault:
    def check(tmp: Path) -> None:
        source = make_input(tmp)
        (tmp / "scheduler.json").write_text("{not json")
        code, err = cli_output(
            [
                "run",
                pipeline_file(tmp),
                source,
                tmp / "out.zarr",
                "--scheduler-file",
                tmp / "scheduler.json",
            ]
        )
        assert code == 2 and "not a Dask scheduler file" in err

    return Fault(
        "scheduler-file-garbled",
        "networks",
        "--scheduler-file is not JSON",
        "exit 2: `... is not a Dask scheduler file`",
        check,
    )


class _Handler(http.server.SimpleHTTPRequestHandler):
    stall_on = ""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.stall_on and self.stall_on in self.path:
            time.sleep(30)
            return
        super().do_GET()


@contextlib.contextmanager
def http_server(folder: Path, stall_on: str = "") -> Iterator[str]:
    handler = type("Handler", (_Handler,), {"stall_on": stall_on})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
    )
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _http_case(behaviour: str) -> Fault:
    def check(tmp: Path) -> None:
        make_input(tmp)
        with dask.config.set({"microct.http-timeout": "1s"}):
            if behaviour in ("silent", "garbage", "close"):
                with tcp_server(behaviour) as port:
                    url = f"http://127.0.0.1:{port}/scan.zarr"
                    with pytest.raises((TimeoutError, ConnectionError, ValueError)) as caught:
                        bounded(lambda: mct.open_volume(url))
            elif behaviour == "missing":
                with http_server(tmp) as root:
                    with pytest.raises((ValueError, FileNotFoundError)) as caught:
                        bounded(lambda: mct.open_volume(f"{root}/nothing.zarr"))
            else:  # metadata served, chunk reads stall
                with http_server(tmp, stall_on="/scan/c/") as root:
                    remote = bounded(lambda: mct.open_volume(f"{root}/scan.zarr"))
                    with pytest.raises(TimeoutError) as caught:
                        bounded(lambda: remote.values)
        assert "http://127.0.0.1" in str(caught.value)
        assert type(caught.value).__module__ in ("builtins", "xarray_microct.io.ome")

    what = {
        "silent": "a server that accepts and never answers",
        "garbage": "a server that answers with garbage bytes",
        "close": "a server that hangs up at once",
        "missing": "a web server without the store (404)",
        "stalled-chunks": "a server that serves the metadata but never the chunks",
    }[behaviour]
    return Fault(
        f"http-{behaviour}",
        "networks",
        f"open_volume of an http:// URL: {what} (microct.http-timeout 1s)",
        "a one-sentence TimeoutError / ConnectionError / ValueError naming the URL, "
        "within the timeout",
        check,
    )


# ---------------------------------------------------------------------- resume and reruns


def _interrupted_run(tmp: Path, source: Path, out: Path, steps: list | None = None) -> None:
    """A run of ``steps`` on ``source`` into ``out`` that fails after a few chunks."""
    with pytest.MonkeyPatch.context() as patch:
        _Failing(patch, errno.EIO, after=2)
        args = ["run", pipeline_file(tmp, steps), source, out, "--no-progress"]
        assert cli([*args, *IN_STORED_CHUNKS]) == 2
    assert run_state(out)["status"] == "failed"


def _resume_mismatch(change: str) -> Fault:
    def check(tmp: Path) -> None:
        source = make_input(_folder(tmp, "in"))
        out = tmp / "out.zarr"
        _interrupted_run(tmp, source, out)
        before = snapshot(out)
        args = ["run", pipeline_file(tmp), source, out, "--resume", "--no-progress"]
        if change == "params":
            args[1] = pipeline_file(tmp, [{"op": "gaussian", "params": {"sigma": "2 voxel"}}])
        elif change == "pipeline":
            args[1] = pipeline_file(tmp, [{"op": "median", "params": {"radius": "1 voxel"}}])
        elif change == "chunks":
            args += ["--chunks", "4"]
        elif change == "input-replaced":
            shutil.rmtree(source)
            make_input(source.parent, seed=5)
        elif change == "input-edited":
            chunk = next(
                p
                for p in sorted((source / "0").rglob("*"))
                if p.is_file() and "/c/" in p.as_posix()
            )
            chunk.write_bytes(chunk.read_bytes())
            os.utime(chunk, ns=(1, 1))
        elif change == "input-moved":
            moved = source.parent / "moved.zarr"
            source.rename(moved)
            args[2] = moved
        code, err = cli_output(args)
        assert code == 2 and "cannot resume" in err, err
        assert snapshot(out) == before

    what = {
        "params": "a parameter changed",
        "pipeline": "another pipeline",
        "chunks": "other --chunks",
        "input-replaced": "the input replaced at the same path",
        "input-edited": "one chunk file of the input rewritten",
        "input-moved": "the input moved to another path",
    }[change]
    return Fault(
        f"resume-{change}",
        "fingerprinted resume",
        f"--resume of an interrupted run with {what}",
        "exit 2: `cannot resume ...: it was started with a different ...`; the partial output kept",
        check,
    )


def _resume_complete_table_with_other_param() -> Fault:
    def check(tmp: Path) -> None:
        source = make_input(tmp)
        out = tmp / "out.zarr"
        steps = [{"op": "regionprops", "params": {}}]
        labels = tmp / "labels.zarr"
        mct.from_array(
            (np.arange(16**3).reshape(16, 16, 16) % 3).astype("uint8"),
            spacing=0.5,
            chunks=8,
            name="labels",
        ).microct.to_zarr(labels)
        del source
        assert cli(["run", pipeline_file(tmp, steps), labels, out, "--no-progress"]) == 0
        other = [{"op": "regionprops", "params": {"properties": ["volume"]}}]
        code, err = cli_output(["run", pipeline_file(tmp, other), labels, out, "--resume"])
        assert code == 2 and "cannot resume" in err and "nothing to do" not in err

    return Fault(
        "resume-complete-table-other-params",
        "fingerprinted resume",
        "--resume on a complete table with other parameters",
        "exit 2: `cannot resume ...: it was made with a different pipeline or "
        "parameters` (never `nothing to do`)",
        check,
    )


def _resume_ok(scheduler: str) -> Fault:
    def check(tmp: Path) -> None:
        source = make_input(tmp)
        out = tmp / "out.zarr"
        _interrupted_run(tmp, source, out)
        if scheduler == "threads":
            assert cli(["run", pipeline_file(tmp), source, out, "--resume", "--no-progress"]) == 0
        else:
            from distributed import Client, LocalCluster

            with (
                LocalCluster(
                    n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
                ) as cluster,
                Client(cluster) as client,
            ):
                _resume_with(client, tmp, source, out)
        state = run_state(out)
        assert state["status"] == "complete" and 0 < state["chunks_written"] < 8
        np.testing.assert_array_equal(open_result(out).values, expected(source))
        assert cli(["run", pipeline_file(tmp), source, out, "--resume"]) == 0  # complete

    return Fault(
        f"resume-{scheduler}",
        "fingerprinted resume",
        f"--resume after a failed run, on {scheduler}",
        "only the missing chunks computed; the result equals an uninterrupted run; "
        "a second --resume says it is complete",
        check,
    )


def _resume_with(client: Any, tmp: Path, source: Path, out: Path) -> None:
    """Resume through write_volume on ``client`` (what ``microct run`` does with one)."""
    from xarray_microct.runner import load_pipeline

    pipe = load_pipeline(pipeline_file(tmp))
    volume_ = mct.open_volume(source)
    metadata = {"pipeline": pipe.identity(), "chunks": [int(c[0]) for c in volume_.data.chunks]}
    write_volume(
        pipe.apply(volume_), out, resume=True, metadata=metadata, inputs=[source], client=client
    )


def _run_on_output(kind: str) -> Fault:
    def check(tmp: Path) -> None:
        source = make_input(tmp, kind) if kind != "run-output" else None
        if kind == "run-output":
            first = tmp / "first.zarr"
            assert cli(["run", pipeline_file(tmp), make_input(tmp), first, "--no-progress"]) == 0
            source = first
        out = tmp / "second.zarr"
        assert cli(["run", pipeline_file(tmp), source, out, "--no-progress"]) == 0
        np.testing.assert_array_equal(open_result(out).values, expected(source))

    return Fault(
        f"run-on-{kind}",
        "runs",
        f"microct run with a {kind} store as input",
        "runs; the result equals the same steps in Python",
        check,
    )


def _bad_run(kind: str) -> Fault:
    def check(tmp: Path) -> None:
        source = make_input(tmp)
        out = tmp / "out.zarr"
        args: list[Any] = ["run", pipeline_file(tmp), source, out, "--no-progress"]
        if kind == "bad-value":
            args[1] = pipeline_file(tmp, [{"op": "gaussian", "params": {"sigma": "-1 um"}}])
        elif kind == "both-flags":
            args += ["--overwrite", "--resume"]
        elif kind == "bad-chunks":
            args += ["--chunks", "0"]
        elif kind == "missing-input":
            args[2] = tmp / "nothing.zarr"
        elif kind == "resume-foreign":
            out.mkdir()
            (out / "data.txt").write_text("mine")
            args.append("--resume")
        code, err = cli_output(args)
        assert code == 2 and err.startswith("microct: error:") and "Traceback" not in err
        assert (out / "data.txt").exists() if kind == "resume-foreign" else not out.exists()
        if kind != "resume-foreign":
            assert cli(["run", pipeline_file(tmp), source, out, "--no-progress"]) == 0

    what = {
        "bad-value": "a step with a bad parameter value (negative sigma)",
        "both-flags": "--overwrite and --resume together",
        "bad-chunks": "--chunks 0",
        "missing-input": "an input that does not exist",
        "resume-foreign": "--resume into a folder of user files",
    }[kind]
    return Fault(
        f"run-{kind}",
        "runs",
        f"microct run with {what}",
        "exit 2 with one line, before any computing; no output left behind to block a rerun",
        check,
    )


# ----------------------------------------------------------------------------- signals

SLOW_RUN = """
import signal, sys, time
from pathlib import Path
from xarray_microct.cli import main
from xarray_microct.core.registry import operation

@operation("slow_copy")
def slow_copy(volume):
    pause, gate = float(sys.argv[1]), sys.argv[2]
    last = tuple(n - 1 for n in volume.data.numblocks)

    def wait(block, block_info=None):
        time.sleep(pause)
        # the last chunk waits until the test, having sent its signal, opens the gate
        # (at most ten minutes): the run cannot end before the signal, however loaded
        if gate and tuple(block_info[0]["chunk-location"]) == last:
            deadline = time.monotonic() + 600
            while not Path(gate).exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        return block

    return volume.copy(data=volume.data.map_blocks(wait, dtype=volume.dtype))

if __name__ == "__main__":  # worker processes import this script
    # Ctrl-C as from a terminal, also when the test runs where SIGINT is ignored (a
    # shell script's background job: its children inherit that)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    raise SystemExit(main(sys.argv[3:]))
"""
SIGNAL_WAIT = 600
"""Seconds a signal case waits for an event (a chunk stored, the run ended) before it
fails: a bound on a hang, not a timing (a loaded machine takes what it needs)."""


def _signal_case(name: str, workers: bool = False) -> Fault:
    def check(tmp: Path) -> None:
        script = tmp / "slow_run.py"
        script.write_text(SLOW_RUN)
        source = tmp / "scan.zarr"
        mct.from_array(
            np.random.default_rng(0).random((32, 32, 32)), spacing=0.5, chunks=8, name="scan"
        ).microct.to_zarr(source, chunks=8)
        steps = pipeline_file(tmp, [{"op": "slow_copy", "params": {}}])
        out = tmp / "out.zarr"
        gate = tmp / "gate"
        args = [sys.executable, script, "0.1", gate, "run", steps, source, out, "--no-progress"]
        args += IN_STORED_CHUNKS
        args += ["--workers", "2"] if workers else []
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            [str(a) for a in args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=workers,  # a terminal's Ctrl-C reaches the whole group
        )
        try:
            deadline = time.monotonic() + SIGNAL_WAIT
            while not (out.exists() and any((out / "0").rglob("c/*/*/*"))):  # a chunk stored
                if process.poll() is not None:
                    pytest.fail(f"the run ended before storing a chunk:\n{process.stderr.read()}")
                if time.monotonic() > deadline:
                    pytest.fail(f"the run stored no chunk in {SIGNAL_WAIT} s")
                time.sleep(0.05)
            if workers:
                os.killpg(process.pid, getattr(signal, name))
            else:
                process.send_signal(getattr(signal, name))
            gate.touch()  # only now may the last chunk be computed
            _, err = process.communicate(timeout=SIGNAL_WAIT)
        finally:
            gate.touch()
            process.kill()
        assert process.returncode == (130 if name == "SIGINT" else 143), err
        assert "Traceback" not in err
        last = err.strip().splitlines()[-1]
        assert last.startswith("microct: interrupted") and "--resume" in last, err
        if not workers:  # (worker processes may log a cancelled task before it)
            assert err.strip().count("\n") == 0, err
        assert run_state(out)["status"] == "interrupted"
        fast = [sys.executable, script, "0", "", "run", steps, source, out, "--resume"]
        done = subprocess.run(
            [str(a) for a in [*fast, "--no-progress"]],
            capture_output=True,
            text=True,
            timeout=SIGNAL_WAIT,
            env=env,
        )
        assert done.returncode == 0, done.stderr
        np.testing.assert_array_equal(open_result(out).values, mct.open_volume(source).values)

    where = " on a LocalCluster (--workers 2), to the whole process group" if workers else ""
    return Fault(
        f"{name.lower()}-mid-write" + ("-workers" if workers else ""),
        "signals",
        f"{name} sent to `microct run` while it writes chunks{where}",
        f"exit {130 if name == 'SIGINT' else 143}, no traceback, a last line saying the "
        "output is marked interrupted; --resume completes it, equal to the input",
        check,
        slow=name == "SIGTERM" or workers,  # the same path as SIGINT; a cluster starts
    )


# ------------------------------------------------------------- stores at URLs (fsspec)
# The same rule through fsspec, on its in-process ``memory://`` file system.


@contextlib.contextmanager
def memory_folder() -> Iterator[str]:
    """A fresh ``memory://`` prefix, removed afterwards."""
    import uuid

    import fsspec

    fs = fsspec.filesystem("memory")
    root = f"/faults-{uuid.uuid4().hex[:12]}"
    try:
        yield f"memory://{root}"
    finally:
        if fs.exists(root):
            fs.rm(root, recursive=True)


def url_snapshot(url: str) -> dict[str, bytes]:
    """Every object under the prefix ``url`` with its bytes."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(url)
    return {p: fs.cat_file(p) for p in sorted(fs.find(root))}


def _url_foreign_zarr(folder: str) -> str:
    out = f"{folder}/foreign.zarr"
    zarr.open_group(out, mode="w").create_array("a", data=np.arange(4))
    return out


def _url_file(folder: str) -> str:
    import fsspec

    out = f"{folder}/result.zarr"
    fsspec.core.url_to_fs(out)[0].pipe_file(out, b"not a store")
    return out


def _url_ours_with_user_object(folder: str) -> str:
    import fsspec

    out = f"{folder}/ours.zarr"
    volume(1).microct.to_zarr(out, version="0.5")
    fsspec.core.url_to_fs(out)[0].pipe_file(f"{out}/0/scan/notes.txt", b"kept")
    return out


def _url_forged_marker(folder: str) -> str:
    import fsspec

    out = f"{folder}/forged"
    fs = fsspec.core.url_to_fs(out)[0]
    record = {
        "zarr_format": 3,
        "node_type": "group",
        "attributes": {"xarray_microct": {"complete": True}},
    }
    fs.pipe_file(f"{out}/zarr.json", json.dumps(record).encode())
    fs.pipe_file(f"{out}/data.csv", b"1,2,3")
    return out


URL_HAZARDS: dict[str, tuple[str, Callable[[str], str]]] = {
    "foreign-zarr": ("a Zarr store written by another program", _url_foreign_zarr),
    "plain-object": ("a single object (a file)", _url_file),
    "user-object-in-store": (
        "a store we wrote, with a user object inside an array prefix",
        _url_ours_with_user_object,
    ),
    "forged-marker": ("a zarr.json with our marker, beside user objects", _url_forged_marker),
}


def _url_output_case(version: str, hazard: str) -> Fault:
    what, make = URL_HAZARDS[hazard]

    def check(tmp: Path) -> None:
        source = make_input(tmp)
        with memory_folder() as folder:
            out = make(folder)
            before = url_snapshot(folder)
            with pytest.raises(FileExistsError, match="refusing to replace"):
                smoothed(source).microct.to_zarr(out, version=version, mode="w", chunks=8)
            assert url_snapshot(folder) == before

    return Fault(
        f"to_zarr-{version}-url-replace-{hazard}",
        "stores at URLs",
        f"to_zarr({version}) to a memory:// URL asked to replace {what}",
        "refused before any computing (FileExistsError naming the reason); every object kept",
        check,
    )


URL_INPUT_HAZARDS: dict[str, tuple[str, Callable[[str], str]]] = {
    "is-input": ("the output is the input", lambda src: src),
    "dotdot-alias": (
        "the output is the input written with /./, // and ..",
        lambda src: src.replace("/scan.zarr", "/x/..//./scan.zarr/"),
    ),
    "parent-of-input": (
        "the output is the prefix holding the input",
        lambda src: src.rsplit("/", 1)[0],
    ),
    "inside-input": (
        "the output lies inside the input store",
        lambda src: f"{src}/0/out.zarr",
    ),
}


def _url_input_case(hazard: str) -> Fault:
    what, alias = URL_INPUT_HAZARDS[hazard]

    def check(tmp: Path) -> None:
        with memory_folder() as folder:
            source = f"{folder}/scan.zarr"
            volume(0).microct.to_zarr(source, version="0.5", chunks=8)
            before = url_snapshot(folder)
            result = mct.open_volume(source).microct.gaussian(sigma="1 voxel")
            with pytest.raises(ValueError, match="input"):
                result.microct.to_zarr(alias(source), version="0.5", mode="w", chunks=8)
            assert url_snapshot(folder) == before

    return Fault(
        f"to_zarr-url-{hazard}",
        "stores at URLs",
        f"to_zarr of a result read from a memory:// store: {what}",
        "refused before any computing (ValueError naming the input); the input is intact",
        check,
    )


def _url_replace_ours(version: str, new_version: str) -> Fault:
    def check(tmp: Path) -> None:
        with memory_folder() as folder:
            out = f"{folder}/out.zarr"
            volume(1).microct.to_zarr(out, version=version, chunks=8)
            volume(2).microct.to_zarr(out, version=new_version, mode="w", chunks=4)
            np.testing.assert_array_equal(mct.open_volume(out).values, volume(2).values)
            fresh = f"{folder}/fresh.zarr"
            volume(2).microct.to_zarr(fresh, version=new_version, chunks=4)
            names = {k.split("/out.zarr/", 1)[1] for k in url_snapshot(out)}
            assert names == {k.split("/fresh.zarr/", 1)[1] for k in url_snapshot(fresh)}
            assert not [k for k in url_snapshot(folder) if "microct-" in k]  # no sibling left

    other = "" if new_version == version else f"-to-{new_version}"
    return Fault(
        f"to_zarr-{version}-url-replace-ours{other}",
        "stores at URLs",
        f"to_zarr({new_version}, mode='w') over a memory:// store it wrote "
        f"(OME-Zarr {version}, other chunking)",
        "replaced: the new store reads back exactly, no old object or staging prefix is left",
        check,
    )


def _url_no_replace() -> Fault:
    def check(tmp: Path) -> None:
        with memory_folder() as folder:
            out = f"{folder}/out.zarr"
            volume(1).microct.to_zarr(out, version="0.5", chunks=8)
            before = url_snapshot(folder)
            with pytest.raises(FileExistsError, match="already exists"):
                volume(2).microct.to_zarr(out, version="0.5", chunks=8)
            assert url_snapshot(folder) == before

    return Fault(
        "to_zarr-url-no-replace",
        "stores at URLs",
        "to_zarr (default mode='w-') to a memory:// URL where a store of ours already is",
        "refused before any computing (FileExistsError: pass mode='w'); every object kept",
        check,
    )


def _url_local_only(writer: str) -> Fault:
    def check(tmp: Path) -> None:
        source = make_input(tmp)
        with memory_folder() as folder:
            with pytest.raises((ValueError, CliRefused)):
                WRITERS[writer](source, f"{folder}/out.zarr", False)  # type: ignore[arg-type]
            assert url_snapshot(folder) == {}

    return Fault(
        f"{writer}-url-output",
        "stores at URLs",
        f"{writer} given a memory:// URL as its output",
        "refused before any computing (ValueError: it writes local paths / exit 2); "
        "nothing written",
        check,
    )


def _failing(vol: xr.DataArray) -> xr.DataArray:
    def fail(block: np.ndarray, block_info: Any = None) -> np.ndarray:
        if block_info[0]["chunk-location"] == (1, 1, 1):
            raise OSError("the network dropped")
        return block

    return vol.copy(data=vol.data.map_blocks(fail, dtype=vol.dtype))


def _url_failed_replace(version: str) -> Fault:
    def check(tmp: Path) -> None:
        with memory_folder() as folder:
            out = f"{folder}/out.zarr"
            volume(1).microct.to_zarr(out, version=version, chunks=8)
            before = url_snapshot(folder)
            with pytest.raises(OSError, match="network dropped"):
                _failing(volume(2)).microct.to_zarr(out, version=version, mode="w", chunks=8)
            assert url_snapshot(folder) == before
            np.testing.assert_array_equal(mct.open_volume(out).values, volume(1).values)

    return Fault(
        f"to_zarr-{version}-url-failed-replace",
        "stores at URLs",
        f"to_zarr({version}, mode='w') over a memory:// store: a chunk fails mid-write",
        "the error is raised; the old store is intact (every object, byte for byte) and "
        "the staging prefix removed",
        check,
    )


def _url_failed_swap() -> Fault:
    def check(tmp: Path) -> None:
        import fsspec.implementations.memory as memory

        with memory_folder() as folder:
            out = f"{folder}/out.zarr"
            volume(1).microct.to_zarr(out, version="0.5", chunks=8)
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(
                    memory.MemoryFileSystem, "copy", lambda *a, **k: _raise(OSError("lost"))
                )
                with pytest.raises(OSError, match="complete new store is kept at") as err:
                    volume(2).microct.to_zarr(out, version="0.5", mode="w", chunks=8)
            staging = re.search(r"kept at (\S+);", str(err.value)).group(1)
            np.testing.assert_array_equal(mct.open_volume(staging).values, volume(2).values)
            with pytest.raises(IncompleteStoreError):
                mct.open_volume(out)
            volume(2).microct.to_zarr(out, version="0.5", mode="w", chunks=8)  # a rerun
            np.testing.assert_array_equal(mct.open_volume(out).values, volume(2).values)

    return Fault(
        "to_zarr-url-failed-final-copy",
        "stores at URLs",
        "to_zarr(mode='w') over a memory:// store: copying the complete new store into place fails",
        "OSError naming the staging prefix, which holds the complete new store; the target "
        "is marked interrupted (readers refuse it) and a rerun replaces it",
        check,
    )


def _raise(err: BaseException) -> Any:
    raise err


# ----------------------------------------------------------------------------- the list


def catalogue() -> list[Fault]:
    """Every case, in documentation order."""
    faults: list[Fault] = []
    for writer in WRITERS:
        faults += [_output_case(writer, hazard) for hazard in OUTPUT_HAZARDS]
        faults += [_input_case(writer, hazard) for hazard in INPUT_HAZARDS]
        faults += [_replace_ours(writer, state) for state in ("complete", "interrupted")]
        faults.append(_no_replace(writer))
    for version in ("0.4", "0.5"):
        faults += [_url_output_case(version, hazard) for hazard in URL_HAZARDS]
        faults += [_url_replace_ours(version, version), _url_failed_replace(version)]
    faults += [_url_replace_ours("0.4", "0.5"), _url_replace_ours("0.5", "0.4")]
    faults += [_url_input_case(hazard) for hazard in URL_INPUT_HAZARDS]
    faults += [_url_local_only(writer) for writer in ("write_volume", "write_table", "microct-run")]
    faults += [_url_no_replace(), _url_failed_swap()]
    for writer in WRITERS:
        for code in (errno.ENOSPC, errno.EACCES, errno.EIO):
            faults += [_disk_fault(writer, code, replace) for replace in (False, True)]
    for kind in ("ome-0.4", "ome-0.5", "run-output"):
        for damage in DAMAGES:
            faults.append(_damage_case(kind, damage, "open_volume"))
            if DAMAGES[damage][4]:  # found on open: `microct info` reports it too
                faults.append(_damage_case(kind, damage, "microct-info"))
    for via_file in (False, True):
        faults += [
            _scheduler_case(b, via_file) for b in ("silent", "garbage", "close", "http", "refused")
        ]
    faults.append(_bad_scheduler_file())
    faults += [_http_case(b) for b in ("silent", "garbage", "close", "missing", "stalled-chunks")]
    faults += [
        _resume_mismatch(change)
        for change in (
            "params",
            "pipeline",
            "chunks",
            "input-replaced",
            "input-edited",
            "input-moved",
        )
    ]
    faults.append(_resume_complete_table_with_other_param())
    faults += [_resume_ok(scheduler) for scheduler in ("threads", "distributed-client")]
    faults += [_run_on_output(kind) for kind in ("run-output", "ome-0.4", "xarray")]
    faults += [
        _bad_run(kind)
        for kind in ("bad-value", "both-flags", "bad-chunks", "missing-input", "resume-foreign")
    ]
    faults += [_signal_case(name) for name in ("SIGINT", "SIGTERM")]
    faults.append(_signal_case("SIGINT", workers=True))
    return faults


__all__ = ["Fault", "catalogue", "make_input", "pipeline_file", "snapshot", "volume"]
