"""The one rule every writer follows: never lose a scan.

Every writer of xarray-microct (:func:`xarray_microct.io.ome.to_ome_zarr`,
``vol.microct.to_zarr``, :func:`xarray_microct.runner.write_volume`,
:func:`xarray_microct.runner.write_table` and ``microct run``) decides what it may do
with its output path here, before any computing starts:

1. A path that is, contains, or lies inside an input of the computation is refused,
   after resolving ``..``, symbolic links and other aliases of the same file
   (:func:`os.path.samefile`). The inputs are the paths the caller names and the
   stores the lazy data is read from (the ``location`` of ``open_volume`` provenance
   records, and the Zarr arrays in the Dask graph).
2. Only a store this project wrote may be replaced: its root metadata must carry this
   project's record (a complete or interrupted write), and every file in it must be
   a Zarr metadata document or a chunk of an array the metadata declares. A folder
   with user files (even inside a store), a folder that merely has a ``zarr.json`` at
   its top, a file: all refused.
3. A replacement is written beside the old result (a hidden sibling) and swapped in
   only once complete, so a failed or interrupted run leaves the old result intact.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> (folder / "notes.txt").write_text("precious")
8
>>> check_replaceable(folder)
Traceback (most recent call last):
...
FileExistsError: ... was not written by xarray-microct (no xarray-microct record ...
>>> check_not_input(folder / "scan.zarr" / "..", [folder / "scan.zarr"])
Traceback (most recent call last):
...
ValueError: the output ... contains the input ...; write the result elsewhere
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from xarray_microct.io.paths import is_url, local_path

MARKER = "xarray_microct"
"""Root attribute of every store this project writes: ``{"complete": bool, ...}``."""
RUN_KEY = "microct_run"
"""Root attribute of a store written by ``microct run``: status and fingerprint."""
METADATA_FILES = frozenset({"zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata"})
_CHUNK_V3 = re.compile(r"^c([./]\d+)*$")
_CHUNK_V2 = re.compile(r"^\d+([./]\d+)*$")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def root_attributes(path: Path) -> dict[str, Any] | None:
    """The attributes of the Zarr group at ``path`` (v3 or v2), read as plain JSON.

    None when ``path`` holds no readable Zarr group metadata.
    """
    doc = _read_json(path / "zarr.json")
    if isinstance(doc, Mapping) and doc.get("node_type") == "group":
        attrs = doc.get("attributes", {})
        return dict(attrs) if isinstance(attrs, Mapping) else None
    if (path / ".zgroup").is_file():
        attrs = _read_json(path / ".zattrs") if (path / ".zattrs").exists() else {}
        return dict(attrs) if isinstance(attrs, Mapping) else None
    return None


def project_record(path: Path) -> dict[str, Any] | None:
    """This project's record in the store at ``path``: ``{"complete": bool, ...}``.

    The record of :func:`~xarray_microct.io.ome.to_ome_zarr` (``xarray_microct``) or of
    ``microct run`` (``microct_run``); None for anything else.
    """
    attrs = root_attributes(path)
    if attrs is None:
        return None
    marker, run = attrs.get(MARKER), attrs.get(RUN_KEY)
    if isinstance(run, Mapping) and isinstance(run.get("status"), str):
        return {"complete": run["status"] == "complete", **dict(run)}
    if isinstance(marker, Mapping) and isinstance(marker.get("complete"), bool):
        return dict(marker)
    return None


def _node_kind(folder: Path) -> str | None:
    doc = _read_json(folder / "zarr.json")
    if isinstance(doc, Mapping) and doc.get("node_type") in ("group", "array"):
        return str(doc["node_type"])
    if (folder / ".zarray").is_file():
        return "array-v2"
    if (folder / ".zgroup").is_file():
        return "group"
    return None


def foreign_entries(path: Path, limit: int = 5) -> list[str]:
    """Files and folders in the store at ``path`` that are not part of its Zarr hierarchy.

    Part of the hierarchy: the metadata documents of its groups and arrays, and under
    an array the chunk files its chunk-key encoding names (``c/0/1/2``, ``0.1.2``).
    At most ``limit`` entries are returned (relative paths).
    """
    found: list[str] = []

    def visit(folder: Path, relative: str) -> None:
        kind = _node_kind(folder)
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if len(found) >= limit:
                return
            name = f"{relative}{entry.name}"
            if entry.is_symlink():
                found.append(name)
            elif entry.is_file():
                if entry.name in METADATA_FILES:
                    continue
                if kind == "array-v2" and _CHUNK_V2.match(entry.name):
                    continue
                if kind == "array" and _CHUNK_V3.match(entry.name):
                    continue
                found.append(name)
            elif entry.is_dir():
                child = Path(entry.path)
                if kind == "array" and entry.name == "c":
                    chunk_files(child, name + "/", _CHUNK_DIGITS)
                elif kind == "array-v2" and entry.name.isdigit():
                    chunk_files(child, name + "/", _CHUNK_DIGITS)
                elif kind == "group" and _node_kind(child) is not None:
                    visit(child, name + "/")
                else:
                    found.append(name + "/")

    def chunk_files(folder: Path, relative: str, pattern: re.Pattern[str]) -> None:
        for entry in os.scandir(folder):
            if len(found) >= limit:
                return
            if entry.is_symlink() or not pattern.match(entry.name):
                found.append(f"{relative}{entry.name}")
            elif entry.is_dir():
                chunk_files(Path(entry.path), f"{relative}{entry.name}/", pattern)

    visit(path, "")
    return found


_CHUNK_DIGITS = re.compile(r"^\d+([.]\d+)*$")


def check_replaceable(store: Any) -> None:
    """Refuse to replace ``store`` unless it is a store this project wrote, whole.

    Raises
    ------
    FileExistsError
        ``store`` is a file, not a Zarr store of this project, or holds files that are
        not part of the store (named in the message).
    """
    path = local_path(store)
    if path is None or not os.path.lexists(path):
        return
    if path.is_symlink():
        raise FileExistsError(
            f"{store} is a symbolic link; refusing to replace it (or what it points to). "
            "Remove the link yourself or choose another path"
        )
    if not path.is_dir():
        raise FileExistsError(
            f"{store} is a file, not a store written by xarray-microct; refusing to "
            "replace it. Remove it yourself or choose another path"
        )
    if project_record(path) is None:
        raise FileExistsError(
            f"{store} was not written by xarray-microct (no xarray-microct record in its "
            "metadata); refusing to replace it. Remove it yourself or choose another path"
        )
    foreign = foreign_entries(path)
    if foreign:
        raise FileExistsError(
            f"{store} holds files that are not part of the store ({', '.join(foreign)}); "
            "refusing to replace it and lose them. Move them out, or choose another path"
        )


def _aliases(path: Path) -> Iterator[Path]:
    """``path`` and its existing ancestors, resolved (links and ``..``)."""
    real = Path(os.path.realpath(path))
    yield real
    yield from real.parents


def _same(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_not_input(store: Any, inputs: Iterable[Any]) -> None:
    """Refuse an output path that is, contains, or lies inside one of ``inputs``.

    Paths are compared after resolving ``..`` and symbolic links, and by file identity
    (device and inode) for other aliases. URLs are compared as text.

    Raises
    ------
    ValueError
        Naming the input and the relation.
    """
    path = local_path(store)
    for source in inputs:
        source_path = local_path(source)
        if path is None or source_path is None:
            if str(store).rstrip("/") == str(source).rstrip("/"):
                raise ValueError(f"the output {store} is the input; write the result elsewhere")
            continue
        out_real = Path(os.path.realpath(path))
        in_real = Path(os.path.realpath(source_path))
        if _same(out_real, in_real):
            raise ValueError(
                f"the output {store} is the input {source}; write the result elsewhere"
            )
        if os.path.exists(out_real) and any(_same(out_real, p) for p in _aliases(in_real)):
            raise ValueError(
                f"the output {store} contains the input {source}; write the result elsewhere"
            )
        if os.path.exists(in_real) and any(
            _same(in_real, p) for p in _aliases(out_real) if os.path.exists(p)
        ):
            raise ValueError(
                f"the output {store} lies inside the input {source}; write the result elsewhere"
            )


def _unwrap_zarr(obj: Any) -> Any:
    import zarr

    for _ in range(8):
        if isinstance(obj, zarr.Array):
            return obj
        obj = (
            getattr(obj, "zarr_array", None)
            or getattr(obj, "array", None)
            or getattr(obj, "_array", None)
        )
        if obj is None:
            return None
    return None


def _store_location(array: Any) -> str | None:
    store = array.store_path.store
    root = getattr(store, "root", None)
    if root is not None:
        return os.fspath(root)
    path = getattr(store, "path", None)
    fs = getattr(store, "fs", None)
    if path is not None and fs is not None:
        protocol = fs.protocol[0] if isinstance(fs.protocol, tuple) else fs.protocol
        return str(path) if protocol in ("file", "local") else f"{protocol}://{path}"
    return None


def input_locations(obj: Any) -> list[str]:
    """The stores a lazy result reads: provenance ``location`` records and the Zarr
    arrays in its Dask graph(s).

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> input_locations(mct.from_array(np.zeros((2, 2, 2)), spacing=1.0))
    []
    """
    from xarray_microct.core.provenance import records_of

    found: list[str] = []
    with contextlib.suppress(TypeError, ValueError):
        for record in records_of(obj):
            location = record.get("params", {}).get("location")
            if record.get("source") and isinstance(location, str):
                found.append(location)
    for graph in _graphs(obj):
        for name, layer in graph.layers.items():
            if not str(name).startswith("original-"):
                continue
            for value in layer.values():
                array = _unwrap_zarr(value)
                location = _store_location(array) if array is not None else None
                if location:
                    found.append(location)
    return list(dict.fromkeys(found))


def _graphs(obj: Any) -> Iterator[Any]:
    import dask
    import xarray as xr

    if isinstance(obj, xr.DataTree):
        for node in obj.subtree:
            for variable in node.to_dataset(inherit=False).variables.values():
                yield from _graphs(variable)
        return
    data = getattr(obj, "data", None)
    if dask.is_dask_collection(data):
        graph = data.__dask_graph__()
        if hasattr(graph, "layers"):
            yield graph


def content_identity(location: Any) -> str:
    """A cheap digest of what is stored at ``location``: its metadata documents (by
    content) and every other file by name, size and modification time.

    Changes when the input is replaced or edited at the same path; a URL is identified
    by its text only.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a").write_text("1")
    >>> before = content_identity(folder)
    >>> _ = (folder / "a").write_text("22")
    >>> before == content_identity(folder)
    False
    """
    digest = hashlib.sha256()
    path = local_path(location)
    if path is None:
        digest.update(str(location).encode())
        return digest.hexdigest()
    path = Path(os.path.realpath(path))
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        stat = file.stat()
        relative = file.relative_to(path).as_posix() if file != path else file.name
        digest.update(f"{relative}\0{stat.st_size}\0".encode())
        if file.name in METADATA_FILES:
            digest.update(file.read_bytes())
        else:
            digest.update(str(stat.st_mtime_ns).encode())
    return digest.hexdigest()


def _sibling(path: Path, kind: str) -> Path:
    return path.with_name(f".{path.name}.{kind}-{uuid.uuid4().hex[:8]}")


@contextlib.contextmanager
def staged_write(store: Any, replace: bool) -> Iterator[Path]:
    """Where to write ``store``: the path itself when new, a hidden sibling when it
    replaces an existing store (swapped in when the block ends without error).

    On error the sibling is removed and the old store is left as it was. The caller
    has already checked the target (:func:`check_write`).
    """
    path = local_path(store)
    assert path is not None
    if not (replace and os.path.lexists(path)):
        yield path
        return
    staging = _sibling(path, "microct-new")
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = _sibling(path, "microct-old")
    check_replaceable(path)  # still ours, nothing added meanwhile
    os.replace(path, old)
    try:
        os.replace(staging, path)
    except BaseException:
        os.replace(old, path)
        raise
    shutil.rmtree(old)


def check_write(store: Any, *, replace: bool, inputs: Iterable[Any] = ()) -> str:
    """The write rule, checked before any computing: ``"new"`` or ``"replace"``.

    Raises
    ------
    ValueError
        ``store`` is, contains or lies inside an input.
    FileExistsError
        ``store`` exists and ``replace`` is false, or it may not be replaced
        (see :func:`check_replaceable`).

    Examples
    --------
    >>> check_write("/nonexistent/out.zarr", replace=False)
    'new'
    """
    check_not_input(store, inputs)
    path = local_path(store)
    if path is None or not os.path.lexists(path):
        return "new"
    if not replace:
        raise FileExistsError(
            f"{store} already exists; nothing was written. Pass mode='w' to replace it, "
            "or choose another path"
        )
    check_replaceable(path)
    return "replace"


__all__ = [
    "MARKER",
    "RUN_KEY",
    "check_not_input",
    "check_replaceable",
    "check_write",
    "content_identity",
    "foreign_entries",
    "input_locations",
    "is_url",
    "local_path",
    "project_record",
    "staged_write",
]
