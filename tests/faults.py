"""The fault catalogue: bad inputs and faults, what happens for each, and the check.

Each :class:`Fault` names a case (``id``), says what is done (``what``) and what
xarray-microct does about it (``outcome``), and carries the function that does it and
asserts that outcome. ``tests/test_faults.py`` runs every case; ``docs/make_fault_table.py``
writes the same list into the documentation (``docs/reliability.md``), so the list
there is the list that is tested.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


# ----------------------------------------------------------------------------- helpers


def volume(seed: int = 0) -> xr.DataArray:
    data = np.random.default_rng(seed).integers(0, 1000, (16, 16, 16)).astype("uint16")
    return mct.from_array(data, spacing=0.5, chunks=8, name="scan")


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
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


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
        smoothed(source).microct.to_zarr(out, version=version, mode="w" if replace else "w-")

    return write


def _write_volume(source: Path, out: Path, replace: bool) -> Any:
    write_volume(smoothed(source), out, overwrite=replace)


def _write_table(source: Path, out: Path, replace: bool) -> Any:
    write_table(table_of(source), out, overwrite=replace)


def _run(source: Path, out: Path, replace: bool) -> Any:
    args = ["run", pipeline_file(Path(tempfile.mkdtemp())), source, out, "--no-progress"]
    code = cli([*args, *(["--overwrite"] if replace else [])])
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


def _refused(write: Callable[[Path, Path, bool], Any], source: Path, out: Path,
             keep: list[Path]) -> None:
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
    (out / "zarr.json").write_text(json.dumps(
        {"zarr_format": 3, "node_type": "group", "attributes": {}}))
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
    (out / "scale0" / "scan" / "notes.txt").write_text("kept inside the array folder")
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
    (out / "zarr.json").write_text(json.dumps({
        "zarr_format": 3, "node_type": "group",
        "attributes": {"xarray_microct": {"complete": True}}}))
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
    "bare-zarr-json": ("the output folder merely has a zarr.json at its top (and user files)",
                       _bare_zarr_json),
    "foreign-zarr": ("the output is a Zarr store written by another program", _foreign_zarr),
    "user-file-in-store": ("the output is a store we wrote, with a user file added at its top",
                           _ours_with_user_file),
    "user-file-in-array": ("the output is a store we wrote, with a user file inside an array "
                           "folder", _ours_with_file_in_array),
    "user-folder-in-store": ("the output is a store we wrote, with a user folder added",
                             _ours_with_user_folder),
    "forged-marker": ("the output's zarr.json carries our marker, but the folder holds user "
                      "files", _forged_marker_with_files),
    "plain-file": ("the output path is a file", _plain_file),
    "symlink-output": ("the output is a symbolic link to a store", _symlink_to_ours),
}


def _output_case(writer: str, hazard: str) -> Fault:
    what, make = OUTPUT_HAZARDS[hazard]

    def check(tmp: Path) -> None:
        source = make_input(_folder(tmp, "in"))
        out, keep = make(tmp)
        _refused(WRITERS[writer], source, out, [*keep, source])

    return Fault(f"{writer}-replace-{hazard}", "never clobber",
                 f"{writer} asked to replace: {what}",
                 "refused before any computing (FileExistsError / exit 2); every file kept",
                 check)


# ------------------------------------------------------------------------ inputs as outputs


def _in_folder(tmp: Path) -> Path:
    folder = tmp / "proj"
    folder.mkdir()
    return make_input(folder)


INPUT_HAZARDS: dict[str, tuple[str, Callable[[Path], Path]]] = {
    "is-input": ("the output is the input", lambda src: src),
    "dotdot-alias": ("the output is the input written as proj/../proj/scan.zarr",
                     lambda src: src.parent / ".." / src.parent.name / src.name),
    "trailing-dot": ("the output is the input written as proj/./scan.zarr/.",
                     lambda src: Path(f"{src.parent}/./{src.name}/.")),
    "parent-of-input": ("the output is the folder holding the input", lambda src: src.parent),
    "inside-input": ("the output lies inside the input store",
                     lambda src: src / "scale0" / "result.zarr"),
    "symlink-to-input": ("the output is a symbolic link to the input", "symlink"),  # type: ignore[dict-item]
    "symlinked-parent": ("the output is the input reached through a symlinked folder",
                         "symlinked-parent"),  # type: ignore[dict-item]
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

    return Fault(f"{writer}-{hazard}", "inputs are never replaced",
                 f"{writer}: {what}",
                 "refused before any computing (ValueError naming the input / exit 2); the "
                 "input is intact", check)


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

    return Fault(f"{writer}-replaces-own-{state}", "never clobber",
                 f"{writer} replaces a {state} store it wrote (overwrite / mode='w')",
                 "replaced: written beside, swapped in when complete; no staging left",
                 check)


def _no_replace(writer: str) -> Fault:
    def check(tmp: Path) -> None:
        source = make_input(tmp)
        out = tmp / "out.zarr"
        WRITERS[writer](source, out, False)
        before = snapshot(out)
        with pytest.raises(REFUSED):
            WRITERS[writer](source, out, False)
        assert snapshot(out) == before

    return Fault(f"{writer}-exists", "never clobber",
                 f"{writer} to an existing result without overwrite / mode='w'",
                 "refused (FileExistsError / exit 2), the result untouched", check)


# ------------------------------------------------------------------------- failing writes


class _Failing:
    """Make every chunk write raise ``OSError(code)`` after ``after`` writes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, code: int, after: int = 2) -> None:
        self.left = after
        original = zarr.storage.LocalStore.set

        async def set_(store: Any, key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
            if "/c/" in key or key.rsplit("/", 1)[-1][:1].isdigit():
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
            _Failing(patch, code)
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
    return Fault(f"{writer}-{name}-{'replace' if replace else 'new'}", "failing storage",
                 f"{writer} {action}; the disk fails ({os.strerror(code)}) part-way",
                 "the error is raised (exit 2 from microct); "
                 + ("the old result is intact" if replace else
                    "the store is marked failed/incomplete, never read as complete")
                 + "; a rerun succeeds", check)


# ---------------------------------------------------------------------- damaged stores


def _chunk_files(store: Path) -> list[Path]:
    array = store / "scale0" / "scan"
    if not array.exists():
        array = store / "scale0" / "volume"
    return sorted(p for p in array.rglob("*") if p.is_file()
                  and p.name not in ("zarr.json", ".zarray", ".zattrs"))


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
    path.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, len(path.read_bytes()),
                                                                 dtype=np.uint8)))


def _empty_chunk(store: Path) -> None:
    _chunk_files(store)[0].write_bytes(b"")


def _array_meta(store: Path) -> Path:
    name = "scan" if (store / "scale0" / "scan").exists() else "volume"
    folder = store / "scale0" / name
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
    "missing-chunk": ("one chunk file deleted", _delete_one, DamagedStoreError,
                      "is missing", True),
    "all-chunks-missing": ("every chunk file deleted", _delete_all, DamagedStoreError,
                           "is missing", True),
    "truncated-chunk": ("a chunk file cut in half", _truncate, DamagedStoreError,
                        "cannot be decoded", False),
    "garbled-chunk": ("a chunk file overwritten with random bytes", _garble,
                      DamagedStoreError, "cannot be decoded", False),
    "empty-chunk": ("a chunk file emptied (0 bytes)", _empty_chunk, DamagedStoreError,
                    "cannot be decoded", False),
    "edited-shape": ("the array's shape edited in its metadata", _edit_shape,
                     DamagedStoreError, "metadata was edited", True),
    "garbled-root-metadata": ("the root metadata document cut mid-JSON", _garble_root,
                              DamagedStoreError, "is not valid JSON", True),
    "marked-incomplete": ("the completion mark removed (an interrupted write)",
                          _mark_incomplete, IncompleteStoreError, "interrupted", True),
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
    outcome = ("`microct info` exits 2 with a one-line error" if reader == "microct-info" else
               f"{error.__name__} {when}, naming the store (and the file) and what to do")
    return Fault(f"{kind}-{damage}-{reader}", "damaged stores",
                 f"{kind} store: {what}; read with {reader}", outcome, check)


# ----------------------------------------------------------------------------- the list


def catalogue() -> list[Fault]:
    """Every case, in documentation order."""
    faults: list[Fault] = []
    for writer in WRITERS:
        faults += [_output_case(writer, hazard) for hazard in OUTPUT_HAZARDS]
        faults += [_input_case(writer, hazard) for hazard in INPUT_HAZARDS]
        faults += [_replace_ours(writer, state) for state in ("complete", "interrupted")]
        faults.append(_no_replace(writer))
    for writer in WRITERS:
        for code in (errno.ENOSPC, errno.EACCES, errno.EIO):
            faults += [_disk_fault(writer, code, replace) for replace in (False, True)]
    for kind in ("ome-0.4", "ome-0.5", "run-output"):
        for damage in DAMAGES:
            faults.append(_damage_case(kind, damage, "open_volume"))
            if DAMAGES[damage][4]:  # found on open: `microct info` reports it too
                faults.append(_damage_case(kind, damage, "microct-info"))
    return faults


__all__ = ["Fault", "catalogue", "make_input", "pipeline_file", "snapshot", "volume"]
