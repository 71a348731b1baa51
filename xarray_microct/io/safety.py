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
   Its chunks are written through a :class:`WriteGuard`, so a failed computation ends
   only once none of its chunk writes still runs: the sibling is then removed for good.
4. One writer at a time: every local write claims its output before it writes (an
   exclusive create beside it, ``.NAME.microct-claim.json``, holding its writer's
   record: machine, host, pid namespace, pid, process start, since when), and a second
   writer is refused, naming the first; under the claim, what another write did while
   it started (a store made at a new path) is refused too. The next write tidies what
   a killed writer left and frees its claim: a writer of this machine and pid namespace
   that no longer runs, or one of an earlier boot of this machine
   (:func:`earlier_boot_of_this_machine`); anything else is left as it is, and the
   write refused, with what to do.

The same rule holds at fsspec URLs (``s3://``, ``gs://``, ``memory://``): existence, the
record and foreign objects are checked through fsspec (network waits bounded by
``microct.http-timeout``), URLs are compared after normalising
(:func:`~xarray_microct.io.paths.normal_url`), and a replacement is staged under a
hidden sibling prefix and then copied into place (see :func:`staged_write` for what
that guarantees without an atomic rename). Every write of a URL records its writer
beside the store, with a ticket (:func:`_claim_url`): of writers starting together
exactly one goes on, a second writer is refused while it runs, and the next write
tidies after a killed one (:func:`tidy_killed_url_writes`).

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
import datetime
import hashlib
import json
import os
import posixpath
import re
import shutil
import socket
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from xarray_microct.core.errors import OptionExistsError
from xarray_microct.io.paths import is_url, local_path, url_relation

MARKER = "xarray_microct"
"""Root attribute of every store this project writes: ``{"complete": bool, ...}``."""
RUN_KEY = "microct_run"
"""Root attribute of a store written by ``microct run``: status and fingerprint."""
METADATA_FILES = frozenset({"zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata"})
_CHUNK_V3 = re.compile(r"^c([./]\d+)*$")
_CHUNK_V2 = re.compile(r"^\d+([./]\d+)*$")
ZARR_TEMPORARY = re.compile(
    r"^(?:\d+(?:[.]\d+)*|zarr|[.]z(?:array|group|attrs|metadata))[.][0-9a-f]{32}[.]partial$"
)
"""The name of a file of a store zarr-python is writing: its local store writes each
chunk or metadata document to ``NAME.<uuid>.partial`` beside it (``NAME`` less its last
suffix) and renames it into place, so a writer killed in between (a worker lost
mid-write) leaves one: part of the store's writes, not a foreign file."""


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
    return _record_of(root_attributes(path))


def _record_of(attrs: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """This project's record in root attributes ``attrs`` (see :func:`project_record`)."""
    if attrs is None:
        return None
    marker, run = attrs.get(MARKER), attrs.get(RUN_KEY)
    if isinstance(run, Mapping) and isinstance(run.get("status"), str):
        return {"complete": run["status"] == "complete", **dict(run)}
    if isinstance(marker, Mapping) and isinstance(marker.get("complete"), bool):
        return dict(marker)
    return None


def how_to_finish(state: Mapping[str, Any] | None) -> tuple[str, str]:
    """How to finish the interrupted run whose run state is ``state`` (or start it
    again), in the words of a Python caller and of the ``microct`` command: the way of
    the function that wrote it, which its run state records (``writer``:
    ``run_pipeline``, which ``microct run`` calls, ``write_volume`` or ``write_table``; a
    store of an earlier version, without one, names them all).

    Examples
    --------
    >>> how_to_finish({"status": "failed", "writer": "write_volume"})[0]
    'finish it with write_volume(..., resume=True), or write it again with overwrite=True'
    >>> how_to_finish({"status": "failed", "writer": "run_pipeline"})[1]
    'finish it with the same `microct run` command and --resume, or run it again with --overwrite'
    """
    writer = state.get("writer") if isinstance(state, Mapping) else None
    command = "finish it with the same `microct run` command and --resume, or run it again with "
    if writer in ("write_volume", "write_table"):
        python = f"finish it with {writer}(..., resume=True), or write it again with overwrite=True"
        return python, f"{python} (it was written from Python)"
    if writer == "run_pipeline":
        return (
            "finish it with run_pipeline(..., resume=True), or run it again with overwrite=True",
            f"{command}--overwrite",
        )
    return (
        "finish it with resume=True to the function that wrote it (run_pipeline, "
        "write_volume or write_table), or write it again with overwrite=True",
        f"{command}--overwrite (or, written from Python, with resume=True to the function "
        "that wrote it)",
    )


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
                if entry.name in METADATA_FILES or ZARR_TEMPORARY.match(entry.name):
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
                if not (entry.is_file(follow_symlinks=False) and ZARR_TEMPORARY.match(entry.name)):
                    found.append(f"{relative}{entry.name}")
            elif entry.is_dir():
                chunk_files(Path(entry.path), f"{relative}{entry.name}/", pattern)

    visit(path, "")
    return found


_CHUNK_DIGITS = re.compile(r"^\d+([.]\d+)*$")


def remove_zarr_leftovers(path: Path) -> list[Path]:
    """Remove the files killed writes of zarr left in the store at ``path`` (see
    :data:`ZARR_TEMPORARY`); the paths removed.

    For a store this write holds (claimed, every chunk of it written): a chunk write of
    a worker killed mid-write leaves its temporary file in the store, which no later
    write renames, and which made the result look as if it held files of someone
    else's (an ``--overwrite`` of it was refused).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "out.zarr"
    >>> (store / "c" / "0").mkdir(parents=True)
    >>> _ = (store / "c" / "0" / "1").write_bytes(b"chunk")
    >>> _ = (store / "c" / "0" / ("1." + "0" * 32 + ".partial")).write_bytes(b"chu")
    >>> [p.name for p in remove_zarr_leftovers(store)], sorted(os.listdir(store / "c" / "0"))
    (['1.00000000000000000000000000000000.partial'], ['1'])
    """
    removed = []
    for folder, _, files in os.walk(path):
        for name in files:
            file = Path(folder) / name
            if ZARR_TEMPORARY.match(name) and not file.is_symlink():
                file.unlink(missing_ok=True)
                removed.append(file)
    return sorted(removed)


def check_replaceable(store: Any, storage_options: Mapping[str, Any] | None = None) -> None:
    """Refuse to replace ``store`` unless it is a store this project wrote, whole.

    ``store`` is a local path or an fsspec URL (``storage_options`` are passed to
    fsspec); the rule is the same for both.

    Raises
    ------
    FileExistsError
        ``store`` is a file, not a Zarr store of this project, or holds files that are
        not part of the store (named in the message).
    """
    path = local_path(store)
    if path is None:
        _check_replaceable_url(store, storage_options)
        return
    if not os.path.lexists(path):
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
    (device and inode) for other aliases; URLs after normalising them
    (:func:`~xarray_microct.io.paths.normal_url`: protocol, ``..``, ``.``, doubled and
    trailing slashes). A URL and a local path are never the same.

    Raises
    ------
    ValueError
        Naming the input and the relation.
    """
    path = local_path(store)
    for source in inputs:
        source_path = local_path(source)
        if path is None or source_path is None:
            if path is None and source_path is None:
                _check_url_not_input(store, source)
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
        if protocol in ("file", "local") or "://" in str(path):  # http(s): path is the URL
            return str(path)
        return f"{protocol}://{path}"
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


# ---------------------------------------------------------------------------------------
# Who writes a staging copy: a replacement killed before its end (SIGKILL, a lost node)
# leaves its hidden siblings; a later write of the same output tells a dead writer's from
# a running one's by the writer's record beside them.

WRITER_RECORD = "xarray-microct staging"
"""The ``writer`` of the record beside a replacement's staging copy."""


def _siblings(path: Path, token: str) -> tuple[Path, Path, Path]:
    """The staging copy, the old store while swapped, and the writer's record of the
    replacement ``token`` of ``path``."""
    name = f".{path.name}.microct"
    return (
        path.with_name(f"{name}-new-{token}"),
        path.with_name(f"{name}-old-{token}"),
        path.with_name(f"{name}-writer-{token}.json"),
    )


def process_start(pid: int) -> str | None:
    """When the running process ``pid`` started, in a form that stays the same while it
    runs and differs for a later process given the same pid; None when no such process
    runs (a zombie runs no more); ``"unknown"`` when it runs but cannot be inspected.

    On Linux the clock ticks from boot to its start, with the boot's id (immune to clock
    changes); elsewhere the start time ``psutil`` reads.

    Examples
    --------
    >>> process_start(os.getpid()) == process_start(os.getpid()) != None
    True
    """
    if sys.platform.startswith("linux"):
        others = False
        try:
            os.kill(pid, 0)  # signal 0: only whether it exists
        except ProcessLookupError:
            return None
        except PermissionError:  # another user's: its /proc entry is usually readable
            others = True
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        except FileNotFoundError:  # it ended meanwhile, or /proc hides others' (hidepid)
            return "unknown" if others else None
        except OSError:
            return "unknown"
        return None if fields[0] in ("Z", "X") else f"boot {boot} tick {fields[19]}"
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return f"time {process.create_time()!r}"
    except psutil.NoSuchProcess:
        return None
    except psutil.Error:
        return "unknown"


def pid_namespace() -> str:
    """The pid namespace this process runs in (Linux; ``""`` elsewhere): containers
    that share a host name may each number their processes, so a pid is checked only
    within its own namespace.

    Examples
    --------
    >>> pid_namespace() == pid_namespace()
    True
    """
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


def machine_identity() -> str:
    """What tells this machine (and boot) from every other one sharing a file system or
    a bucket: a host name alone does not (``localhost``, ``ubuntu``, ...), nor a pid
    namespace (the first one's number is the same on every Linux machine).

    On Linux the kernel's random id of this boot (``/proc/sys/kernel/random/boot_id``;
    containers of one machine share it, their pid namespaces tell them apart), else
    ``/etc/machine-id``; elsewhere the host name with the boot time and the network
    card's address (``uuid.getnode``, random per process when there is none: records
    of such a machine are then never taken for this process's machine's).

    Examples
    --------
    >>> machine_identity() == machine_identity() != ""
    True
    """
    for source in ("/proc/sys/kernel/random/boot_id", "/etc/machine-id"):
        try:
            found = Path(source).read_text().strip()
        except OSError:
            continue
        if found:
            return f"{Path(source).name} {found}"
    import psutil

    return f"host {socket.gethostname()} boot {psutil.boot_time()!r} node {uuid.getnode():012x}"


BOOT_TIME_TOLERANCE = 10.0
"""Seconds the boot time read off Linux may drift between processes of one boot (it is
computed from the clock and the uptime: clock steps, rounding), far less than a boot."""


def _this_machine(identity: str) -> bool:
    """Whether the :func:`machine_identity` ``identity`` is this machine's (and boot's):
    equal, or off Linux the same host and card with a boot time within
    :data:`BOOT_TIME_TOLERANCE`.

    Examples
    --------
    >>> _this_machine(machine_identity())
    True
    """
    here = machine_identity()
    if identity == here:
        return True
    form = r"host (.*) boot (\S+) node ([0-9a-f]{12})"
    a, b = re.fullmatch(form, identity), re.fullmatch(form, here)
    if a is None or b is None or (a[1], a[3]) != (b[1], b[3]):
        return False
    try:
        return abs(float(a[2]) - float(b[2])) <= BOOT_TIME_TOLERANCE
    except ValueError:
        return False


def machine_id() -> str:
    """This installation's stable id (``/etc/machine-id``, else D-Bus's copy of it),
    the same after a reboot; ``""`` where there is none (or an empty or malformed one,
    as containers often have).

    Not a machine's identity on its own: machines cloned from one image, and the
    containers of one image, may share it (see :func:`earlier_boot_of_this_machine`).

    Examples
    --------
    >>> machine_id() == machine_id()
    True
    """
    for source in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            found = Path(source).read_text().strip().lower()
        except OSError:
            continue
        if re.fullmatch(r"[0-9a-f]{32}", found) and found.strip("0"):
            return found
    return ""


def hardware_addresses(folder: str | os.PathLike[str] = "/sys/class/net") -> list[str]:
    """The globally unique hardware addresses of the network cards this process sees
    (Linux; ``[]`` elsewhere): universally administered (assigned by the IEEE to one
    card), unicast and not zero. Virtual cards (containers in their own network
    namespace, Docker, cloud and randomised addresses) are locally administered, and
    left out, as are the cards of hypervisors (:data:`HYPERVISOR_PREFIXES`), whose
    addresses clones of one machine may share.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> net = pathlib.Path(tempfile.mkdtemp())
    >>> for card, address in [("eth0", "00:1B:21:3a:4f:10"), ("docker0", "02:42:ac:11:00:02"),
    ...                       ("lo", "00:00:00:00:00:00"), ("vm0", "08:00:27:12:34:56")]:
    ...     (net / card).mkdir()
    ...     _ = (net / card / "address").write_text(address + "\\n")
    >>> hardware_addresses(net)
    ['00:1b:21:3a:4f:10']
    """
    found = set()
    try:
        cards = list(os.scandir(folder))
    except OSError:
        return []
    for card in cards:
        try:
            address = Path(card.path, "address").read_text().strip().lower()
        except OSError:
            continue
        if _of_one_card(address):
            found.add(address)
    return sorted(found)


HYPERVISOR_PREFIXES = (
    "08:00:27",  # VirtualBox
    "00:50:56",  # VMware
    "00:0c:29",  # VMware
    "00:05:69",  # VMware
    "00:15:5d",  # Hyper-V
    "00:1c:42",  # Parallels
    "00:16:3e",  # Xen
)
"""Universally administered prefixes that hypervisors give their virtual cards: a
machine cloned from another may keep its address."""


def _of_one_card(address: Any) -> bool:
    """Whether ``address`` (lower case) is a hardware address unique to one network
    card: universally administered, unicast, not zero, not a hypervisor's."""
    return (
        isinstance(address, str)
        and re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", address) is not None
        and not int(address[:2], 16) & 0b11  # universally administered, unicast
        and bool(address.strip("0:"))
        and not address.startswith(HYPERVISOR_PREFIXES)
    )


def _boot_started() -> float:
    """When this machine's current boot started (seconds since the epoch)."""
    import psutil

    return float(psutil.boot_time())


def earlier_boot_of_this_machine(record: Mapping[str, Any]) -> bool:
    """Whether the writer's ``record`` surely ran during an earlier boot of this machine
    (so nothing it started runs now): its boot differs from this one, and it names this
    machine by a hardware address this machine has now (a network card, its address
    unique to it, not a hypervisor's) as well as by this installation's
    :func:`machine_id` and host name, and it was written before this boot started.

    A shared machine id alone would not do: machines cloned from one image share it
    (with different boots), and so do the containers of one image (on one host they
    share the boot too). Containers with their own network see no hardware address,
    and their records are never taken for an earlier boot's. False for any record
    that lacks one of these facts (one written before records held them).

    Examples
    --------
    >>> earlier_boot_of_this_machine({**_writer(), "machine": "boot_id another-boot",
    ...     "addresses": ["00:1b:21:3a:4f:10"], "since": "2000-01-01T00:00:00+00:00"})
    False
    """
    here, there = machine_identity(), record.get("machine")
    boots = (here, there)
    if not all(isinstance(b, str) and b.startswith("boot_id ") for b in boots) or here == there:
        return False
    addresses, installation, since = (record.get(k) for k in ("addresses", "machine_id", "since"))
    if not (
        isinstance(addresses, list)
        and {a for a in addresses if _of_one_card(a)} & set(hardware_addresses())
        and isinstance(installation, str)
        and installation
        and installation == machine_id()
        and record.get("host") == socket.gethostname()
        and isinstance(since, str)
    ):
        return False
    try:
        written = datetime.datetime.fromisoformat(since).timestamp()
    except (ValueError, OverflowError, OSError):  # a damaged record
        return False
    return written < _boot_started()


def _writer() -> dict[str, Any]:
    return {
        "writer": WRITER_RECORD,
        "machine": machine_identity(),
        "machine_id": machine_id(),
        "addresses": hardware_addresses(),
        "host": socket.gethostname(),
        "pid_namespace": pid_namespace(),
        "pid": os.getpid(),
        "started": process_start(os.getpid()),
        "since": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _record_writer(path: Path, token: str) -> None:
    """Record beside ``path`` that this process writes the replacement ``token``."""
    record = {**_writer(), "output": path.name, "token": token}
    with open(_siblings(path, token)[2], "x") as file:  # never over anything
        json.dump(record, file)


# A local write claims its output first: it links its writer's record to the one name
# ``.NAME.microct-claim.json`` beside the output, which only one writer at a time can
# create (an exclusive create, atomic on local and network file systems alike). The
# claim of a writer that is surely dead is removed by the next write, by one remover
# at a time (``.NAME.microct-unclaiming-TOKEN``, created exclusively, holding the
# remover's record), which removes it only while it still names that writer. A remover
# killed meanwhile leaves its mark; the next write frees it the same way once its
# remover is surely dead (by the proofs a claim's writer is), under a mark of its own
# (``.NAME.microct-unclaiming-TOKEN-TOKEN2``).

CLAIM_TRIES = 5
"""Attempts to claim an output whose claim is being removed by another write."""


def _claim_file(path: Path) -> Path:
    return path.with_name(f".{path.name}.microct-claim.json")


def _holder(claim: Path, path: Path) -> tuple[bool, dict[str, Any] | None]:
    """Whether the claim of ``path`` is there, and its writer's record (None when it is
    not a well-formed record of a write of ``path``, after a few reads in case it was
    being written)."""
    record = None
    for attempt in range(RECORD_READS):
        if claim.is_symlink():  # never a writer's claim
            return True, None
        try:
            doc = json.loads(claim.read_text())
        except FileNotFoundError:
            return False, None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            doc = None
        token = doc.get("token") if isinstance(doc, dict) else None
        if isinstance(token, str) and re.fullmatch("[0-9a-f]{8}", token):
            record = _well_formed(doc, path.name, token)
        if record is not None:
            break
        time.sleep(0.1 * (attempt + 1))
    return True, record


def _refuse_claimed(store: Any, claim: Path, record: Mapping[str, Any] | None, why: str) -> None:
    holder = "" if record is None else f" ({Path(claim).name} of write {record['token']})"
    raise FileExistsError(
        f"{store} may be being written by another writer: its claim {claim}{holder} {why}; "
        f"nothing was written. Once no write of {store} runs anywhere, remove {claim} "
        "yourself (and what that write left beside it, .*.microct-*, after checking it), "
        "then write again"
    )


def check_claim(store: Any) -> None:
    """Refuse to write the local path ``store`` while another writer holds its claim;
    remove the claim of a writer that is surely dead (see :func:`tidy_killed_writes`).

    Raises
    ------
    FileExistsError
        Naming the writer (process, host, since when) and what to do: a writer of this
        machine that runs, or one whose death cannot be told from here (another
        machine or container), or a claim that is not a writer's record; or the mark a
        remover of a dead claim left (``.NAME.microct-unclaiming-TOKEN``), when that
        remover cannot be told dead (a mark whose remover is surely dead is freed).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "scan.zarr"
    >>> with staged_write(store, replace=False):
    ...     check_claim(store)
    Traceback (most recent call last):
    ...
    FileExistsError: another write of ... is running: process ... of this host (...
    >>> check_claim(store)  # that write has ended
    """
    path = local_path(store)
    if path is None:
        return
    claim = _claim_file(path)
    if not os.path.lexists(claim):
        return
    present, record = _holder(claim, path)
    if not present:
        return
    if record is None:
        _refuse_claimed(store, claim, None, "is not a well-formed writer's record")
    why = _why_left_alone(record, store, f"it (write {record['token']})")  # raises if it runs
    if why:
        _refuse_claimed(store, claim, record, why)
    left = _unclaim(path, record["token"])
    if left:
        raise FileExistsError(
            f"{store} could not be claimed: its claim {claim} names a writer that has "
            f"ended, but a write that was freeing it left its mark: {left}; nothing was "
            f"written. Once no write of {store} runs anywhere, remove that mark and the "
            "claim yourself, then write again"
        )


def _unclaim(path: Path, token: str) -> str:
    """Remove the claim of ``path`` while it is the write ``token``'s (whose writer has
    ended): one remover at a time, so that a claim made meanwhile is never removed.

    ``""`` when done, or left to another remover at work now; else why a mark a killed
    remover left is in the way (its remover not surely dead: it is left as it is).
    """
    mark = path.with_name(f".{path.name}.microct-unclaiming-{token}")
    return _remove_marked(path, _claim_file(path), token, mark)


def _remove_marked(path: Path, file: Path, token: str, mark: Path) -> str:
    """Remove ``file`` (the claim of ``path``, or a remover's mark) while it holds the
    record of the write ``token`` (whose writer has ended), holding ``mark`` meanwhile:
    created exclusively, holding this remover's record. A mark in place whose remover
    is surely dead is freed first (:func:`_free_dead_mark`: as many as removers were
    killed one after another, each while freeing the one before). See :func:`_unclaim`
    for what is returned."""
    remover = uuid.uuid4().hex[:8]
    _WRITING.add(remover)
    try:
        for _ in range(2):
            try:
                _make_mark(mark, path, remover)
                break
            except FileExistsError:
                freed, why = _free_dead_mark(path, mark)
                if not freed:
                    return why
        else:  # freed, then taken by another remover at work now
            return ""
        try:
            present, record = _holder(file, path)
            if present and record is not None and record["token"] == token:
                with contextlib.suppress(FileNotFoundError):
                    file.unlink()
        finally:
            mark.unlink()
    finally:
        _WRITING.discard(remover)
    return ""


def _make_mark(mark: Path, path: Path, token: str) -> None:
    """Create ``mark`` (FileExistsError if it is there) holding this process's record as
    the remover ``token`` of a claim of ``path``."""
    record = json.dumps({**_writer(), "output": path.name, "token": token})
    file = open(mark, "x")  # closed below, then removed on failure
    try:
        with file:
            file.write(record)
    except BaseException:  # never a mark without its record left in the way
        with contextlib.suppress(OSError):
            mark.unlink()
        raise


def _free_dead_mark(path: Path, mark: Path) -> tuple[bool, str]:
    """Remove the mark ``mark`` of a remover of a claim of ``path`` when that remover is
    surely dead (the proofs of :func:`_why_left_alone`), under a mark of its own. Whether
    it is gone, and why not: ``""`` while its remover runs (or another frees it now),
    else why it is left (no well-formed record, a remover that cannot be told dead)."""
    present, record = _holder(mark, path)
    if not present:
        return True, ""
    if record is None:
        return False, f"{mark} records no writer of xarray-microct"
    try:
        why = _why_left_alone(record, path, f"its mark {mark.name}")
    except FileExistsError:  # its remover runs: it ends in moments
        return False, ""
    if why:
        return False, f"{mark} {why}"
    own = mark.with_name(f"{mark.name}-{record['token']}")
    why = _remove_marked(path, mark, record["token"], own)
    return not os.path.lexists(mark), why


def _claim(path: Path, token: str, store: Any) -> None:
    """Claim ``path`` for the write ``token`` of this process: record the writer, then
    link the record to the claim's name. Raises FileExistsError (having removed the
    record again) while another writer holds the claim (see :func:`check_claim`)."""
    _record_writer(path, token)
    record_file, claim = _siblings(path, token)[2], _claim_file(path)
    try:
        for attempt in range(CLAIM_TRIES):
            try:
                _link(record_file, claim)
                return
            except FileExistsError:
                if _ours(claim, record_file, token):  # linked, the reply lost (NFS)
                    return
                check_claim(store)  # raises for a writer that may run; frees a dead one's
            time.sleep(0.05 * (attempt + 1))
        raise FileExistsError(
            f"{store} could not be claimed: {claim} names a writer that has ended, but "
            f"another write, which runs, is removing it ({path.name}.microct-unclaiming-*); "
            "write again once it is done"
        )
    except BaseException:  # also Ctrl-C between the link and the return
        if _ours(claim, record_file, token):
            with contextlib.suppress(FileNotFoundError):
                claim.unlink()
        record_file.unlink()
        raise


def _ours(claim: Path, record_file: Path, token: str) -> bool:
    """Whether ``claim`` is the write ``token``'s: a link to its ``record_file``, or a
    copy naming it."""
    if claim.is_symlink():  # never a writer's claim
        return False
    try:
        if os.path.samefile(claim, record_file):
            return True
        doc = json.loads(claim.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(doc, dict) and doc.get("token") == token


def _link(record_file: Path, claim: Path) -> None:
    """Create ``claim`` holding the record ``record_file`` (FileExistsError if it is
    there): a hard link, complete as it appears; a copy made with an exclusive create
    where the file system has no hard links."""
    try:
        os.link(record_file, claim, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError:  # no hard links here (FAT, some shares)
        record = record_file.read_text()
        file = open(claim, "x")  # closed below, then removed on failure
        try:
            with file:
                file.write(record)
        except BaseException:  # never an incomplete claim left to refuse every write
            with contextlib.suppress(OSError):
                claim.unlink()
            raise


def _release(path: Path, token: str) -> None:
    """Remove the claim of ``path`` by the write ``token`` (this process's, running)."""
    claim = _claim_file(path)
    present, record = _holder(claim, path)
    if present and record is not None and record["token"] == token:
        _remove_after_write(claim)


def _remove_after_write(file: Path) -> None:
    """Remove this write's claim or record ``file`` once the write is done; where that
    is refused (Windows, while another process reads it) warn and leave it: the next
    write of the output frees it, its writer having ended."""
    try:
        file.unlink()
    except PermissionError as err:
        warnings.warn(
            f"{file} could not be removed ({err}); the next write of its output removes it",
            RuntimeWarning,
            stacklevel=4,
        )


def _writer_of(record_file: Path, path: Path) -> dict[str, Any] | None:
    """The writer's record ``record_file`` of a replacement of ``path``: None unless it
    is a plain file holding a well-formed record of this project for that output."""
    name = rf"\.{re.escape(path.name)}\.microct-writer-([0-9a-f]{{8}})\.json"
    match = re.fullmatch(name, record_file.name)
    if match is None or record_file.is_symlink() or not record_file.is_file():
        return None
    return _well_formed(_read_json(record_file), path.name, match[1])


def _well_formed(record: Any, name: str, token: str) -> dict[str, Any] | None:
    """``record`` when it is a well-formed writer's record of the write ``token`` of the
    output named ``name``, else None."""
    if not (
        isinstance(record, dict)
        and record.get("writer") == WRITER_RECORD
        and record.get("output") == name
        and record.get("token") == token
        and isinstance(record.get("host"), str)
        and isinstance(record.get("pid_namespace"), str)
        and isinstance(record.get("pid"), int)
        and not isinstance(record.get("pid"), bool)
        and record["pid"] > 0
        and isinstance(record.get("started"), str)
        and isinstance(record.get("machine", ""), str)
    ):
        return None
    return record


_WRITING: set[str] = set()  # the replacements this process is writing now, by token


def _writer_runs(record: Mapping[str, Any]) -> bool:
    """Whether the replacement of ``record`` (of this host) is still being written: its
    writer's pid runs and started when the record says (a pid given to a later process
    is not it); when that writer is this process, whether it still writes it."""
    now = process_start(record["pid"])
    if record["pid"] == os.getpid() and now == record["started"]:
        return record["token"] in _WRITING
    return now is not None and now in ("unknown", record["started"])


def _why_left_alone(record: Mapping[str, Any] | None, store: Any, writing: str) -> str:
    """Why what the write of the writer's ``record`` left beside ``store`` must be left
    alone (no well-formed record; a writer of another host or pid namespace), or ``""``
    when that writer, of this host, is dead.

    Raises
    ------
    FileExistsError
        The writer runs: it is ``writing`` (named in the message) now.
    """
    if record is None:
        return "records no writer of xarray-microct"
    if "machine" not in record:  # written before records named the machine
        return (
            f"was left by process {record['pid']} of host {record['host']}{_since(record)}, "
            "but its record does not say which machine that is, so whether it still runs "
            "cannot be checked"
        )
    if earlier_boot_of_this_machine(record):  # this machine has restarted since
        return ""
    if (
        not _this_machine(record["machine"])
        or record["host"] != socket.gethostname()
        or record["pid_namespace"] != pid_namespace()
    ):
        return (
            f"was left by process {record['pid']} of host {record['host']} (pid "
            f"namespace {record['pid_namespace'] or 'unknown'}){_since(record)}, which "
            "cannot be checked from here (another machine or container, or an earlier "
            "boot of this one that its record cannot prove)"
        )
    if _writer_runs(record):
        raise FileExistsError(
            f"another write of {store} is running: process {record['pid']} of this host "
            f"(host {record['host']}{_since(record)}) is writing {writing}; wait for it to "
            "end (or stop it), then write again"
        )
    return ""


def _since(record: Mapping[str, Any]) -> str:
    """When the writer of ``record`` started writing, as a phrase (records of earlier
    versions do not say)."""
    since = record.get("since")
    return f", writing since {since}" if isinstance(since, str) else ""


def _is_plain_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def tidy_killed_writes(store: Any) -> list[Path]:
    """Undo what replacements of ``store`` killed before their end left beside it;
    the paths removed or restored.

    Each write records its writer (machine, host name, pid namespace, pid, when the
    process started, when it started writing) in a file beside ``store`` while it runs
    (``.NAME.microct-writer-TOKEN.json``), and claims ``store`` with it (see
    :func:`staged_write`). A writer is dead when it is of this machine and pid
    namespace and no longer runs (its pid gone, or given to a later process), or when
    it ran during an earlier boot of this machine (:func:`earlier_boot_of_this_machine`);
    then its claim is removed,
    the staging copy ``.NAME.microct-new-TOKEN`` is removed when it holds nothing but a
    Zarr store's files, an old store swapped out (``.NAME.microct-old-TOKEN``) is put
    back when ``store`` is missing (killed between the two renames) and removed when the
    new one is in place, then the record is removed. Nothing else is touched: not a
    staging copy without a well-formed record, nor one of a writer on another host
    (both named in a warning, with what to do). A URL: see :func:`tidy_killed_url_writes`.

    Raises
    ------
    FileExistsError
        A write of ``store`` by a process of this host is running now, or another
        writer whose death cannot be told holds its claim (see :func:`check_claim`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "scan.zarr"
    >>> (store.parent / ".scan.zarr.microct-new-0123abcd").mkdir()  # a dead writer's
    >>> _ = (store.parent / ".scan.zarr.microct-writer-0123abcd.json").write_text(
    ...     json.dumps({**_writer(), "started": "x", "output": "scan.zarr", "token": "0123abcd"}))
    >>> [p.name for p in tidy_killed_writes(store)]  # this pid, another start: not it
    ['.scan.zarr.microct-new-0123abcd', '.scan.zarr.microct-writer-0123abcd.json']
    """
    path = local_path(store)
    if path is None or not path.parent.is_dir():
        return []
    check_claim(path)  # a writer that runs (or may): refused before anything is touched
    done: list[Path] = []
    ours = re.compile(rf"^\.{re.escape(path.name)}\.microct-(?:new|old|writer)-([0-9a-f]{{8}})")
    tokens = sorted({m[1] for e in path.parent.iterdir() if (m := ours.match(e.name))})
    for token in tokens:
        staging, old, record_file = _siblings(path, token)
        left = [p for p in (staging, old) if os.path.lexists(p)]
        record = _writer_of(record_file, path)
        why = _why_left_alone(record, store, f"its replacement ({staging.name})")
        if why:
            left_alone = left if record is None else [*left, record_file]
            if left_alone:
                _warn_left_by_write(left_alone, store, why)
            continue
        try:
            done += _finish_killed(path, staging, old, record_file, store)
        except FileNotFoundError:  # another write of the output tidied it meanwhile
            continue
    return done + _free_dead_marks(path, store)


def _free_dead_marks(path: Path, store: Any) -> list[Path]:
    """The marks of removers killed after the claim they freed was gone (no later write
    meets that claim, so none frees them): removed when their remover is surely dead,
    else named in a warning. The marks removed."""
    mark_name = re.compile(rf"^\.{re.escape(path.name)}\.microct-unclaiming-[0-9a-f]{{8}}$")
    freed = []
    for mark in sorted(e for e in path.parent.iterdir() if mark_name.match(e.name)):
        gone, why = _free_dead_mark(path, mark)
        if gone:
            freed.append(mark)
        elif why:
            _warn_left_by_write([mark], store, why)
    return freed


def _finish_killed(
    path: Path, staging: Path, old: Path, record_file: Path, store: Any
) -> list[Path]:
    """Tidy what the replacement of ``path`` a killed writer recorded in ``record_file``
    left (see :func:`tidy_killed_writes`); the paths removed or restored."""
    done = []
    if os.path.lexists(old):
        swapped = os.path.lexists(path) and not os.path.lexists(staging)
        between = not os.path.lexists(path) and os.path.lexists(staging)
        if not (_is_plain_folder(old) and (swapped or between)):
            _warn_left_by_write([old], store, "holds the result that was being replaced")
            return done
        if between:  # killed between the two renames: the old result back in place
            os.replace(old, path)
            done.append(path)
        else:  # killed while removing the old result, the new one in place
            if not _remove_replaced(old, store):
                return done  # the record kept: a later write tries again
            done.append(old)
    if os.path.lexists(staging):
        if not _is_plain_folder(staging) or foreign_entries(staging):
            _warn_left_by_write([staging], store, "holds files that are not part of a store")
            return done
        shutil.rmtree(staging)
        done.append(staging)
    record_file.unlink()
    return [*done, record_file]


def _remove_replaced(old: Path, store: Any) -> bool:
    """Remove ``old``, the result a replacement of ``store`` has swapped out (the new one
    in place); whether it is gone. A failure (Windows refuses to remove a file another
    process holds open) warns, naming it, rather than raising: the write is done, and
    the next write of ``store`` removes what is left of ``old``."""
    try:
        shutil.rmtree(old)
    except OSError as err:
        warnings.warn(
            f"{old}, the result {store} held before it was replaced, could not be removed "
            f"({type(err).__name__}: {err}); the new result is in place at {store}. The next "
            "write of it removes what is left, or remove it yourself",
            RuntimeWarning,
            stacklevel=4,
        )
        return False
    return True


def _warn_left_by_write(left: list[Path], store: Any, why: str) -> None:
    warnings.warn(
        f"{', '.join(str(p) for p in left)}, left beside {store} by an unfinished write, "
        f"{why}; it is left as it is. Once no write of {store} runs, remove it yourself "
        "(a microct-new copy is an unfinished result; a microct-old one the result it "
        "was replacing)",
        RuntimeWarning,
        stacklevel=4,
    )


SETTLE_TIMEOUT = 60.0
"""Seconds a failed write waits for its chunk writes still running to end (a chunk
takes milliseconds to seconds to write); a cluster's answers are waited for as long."""

_WRITES = threading.Condition()
_IN_FLIGHT: dict[str, int] = {}
_STOPPED: set[str] = set()


class WritesStopped(RuntimeError):
    """A chunk write refused: the computation it belongs to has stopped (it failed, or
    was interrupted). What becomes of the output is its writer's to say: a failed
    replacement is removed, an interrupted ``microct run`` kept for ``--resume``; a
    worker logs this refusal, so its message claims neither."""


def _stop_and_count(token: str) -> int:
    """Refuse every later write of the guard ``token`` in this process; how many of its
    writes are still running here."""
    with _WRITES:
        _STOPPED.add(token)
        return _IN_FLIGHT.get(token, 0)


class GuardedTarget:
    """A write target (a Zarr array) whose writes a :class:`WriteGuard` counts and stops.

    Pickled with the task graph to worker processes: every process counts the writes it
    runs, under the guard's token.
    """

    def __init__(self, target: Any, token: str) -> None:
        self.target, self.token = target, token

    def __setitem__(self, key: Any, value: Any) -> None:
        with _WRITES:
            if self.token in _STOPPED:
                raise WritesStopped(
                    "this chunk was not written: its computation stopped (it failed or "
                    "was interrupted), and later writes of it are refused"
                )
            _IN_FLIGHT[self.token] = _IN_FLIGHT.get(self.token, 0) + 1
        try:
            self.target[key] = value
        finally:
            with _WRITES:
                left = _IN_FLIGHT[self.token] - 1
                if left:
                    _IN_FLIGHT[self.token] = left
                else:
                    del _IN_FLIGHT[self.token]
                    _WRITES.notify_all()

    def __dask_tokenize__(self) -> Any:
        from dask.base import tokenize

        return (type(self).__name__, self.token, tokenize(self.target))


class WriteGuard:
    """The chunk writes of one computation: counted while they run, stopped on failure.

    Dask's compute raises at the first failed task while tasks already running (on
    other threads, or on a cluster's workers) go on and write their chunks. Wrap every
    write target with :meth:`wrap`; when the computation fails, :meth:`settle` refuses
    every later write of the guard and returns once no write of it is still running,
    in this process and, with a Dask ``client``, in every worker. Only then can a failed
    write be cleaned up for good (:func:`staged_write`).

    The threads of Dask's threaded scheduler count in this process; its processes
    scheduler waits for its pool's tasks itself before it raises.

    Parameters
    ----------
    client : distributed.Client, optional
        The client the writes run on; by default the one Dask's current scheduler is
        (none for threads and processes of this machine).

    Examples
    --------
    >>> import numpy as np
    >>> guard, out = WriteGuard(), np.zeros(4)
    >>> guard.wrap(out)[:2] = 1
    >>> guard.settle()
    True
    >>> guard.wrap(out)[2:] = 1
    Traceback (most recent call last):
    ...
    xarray_microct.io.safety.WritesStopped: this chunk was not written: ...
    >>> out.tolist()
    [1.0, 1.0, 0.0, 0.0]
    """

    def __init__(self, client: Any = None) -> None:
        self.token = uuid.uuid4().hex
        self.client = client if client is not None else _scheduler_client()
        self.settled = False

    def wrap(self, target: Any) -> GuardedTarget:
        """``target``, with its writes counted and stopped by this guard."""
        return GuardedTarget(target, self.token)

    def settle(self, timeout: float = SETTLE_TIMEOUT) -> bool:
        """Refuse every later write; wait until none is running (``timeout`` seconds at
        most). True once none is; False when that could not be confirmed in time (a
        write still running, workers not answering)."""
        if self.settled:
            return True
        deadline = time.monotonic() + timeout
        with _WRITES:
            _STOPPED.add(self.token)
            quiet = _WRITES.wait_for(lambda: self.token not in _IN_FLIGHT, timeout)
        if quiet and self.client is not None:
            quiet = _settle_workers(self.client, self.token, deadline)
        self.settled = quiet
        return quiet


def _scheduler_client() -> Any:
    """The distributed client Dask's current scheduler is, or None."""
    if "distributed" not in sys.modules:  # no client without it
        return None
    from dask.base import get_scheduler
    from distributed import Client

    owner = getattr(get_scheduler(), "__self__", None)
    return owner if isinstance(owner, Client) else None


def _settle_workers(client: Any, token: str, deadline: float) -> bool:
    """Stop the writes of ``token`` on every worker of ``client``; True once none runs."""
    while (left := deadline - time.monotonic()) > 0:
        try:
            counts = client.run(_stop_and_count, token, on_error="return", callback_timeout=left)
        except Exception:  # the scheduler did not answer in time, or is gone
            return False
        if all(isinstance(count, int) and count == 0 for count in counts.values()):
            return True
        time.sleep(0.05)
    return False


def _remove_until_gone(
    exists: Callable[[], bool],
    remove: Callable[[], None],
    quiet: float = 0.5,
    timeout: float = 10.0,
    every: float = 0.05,
) -> None:
    """Remove what a failed write made, and again whenever it comes back, until it has
    stayed away ``quiet`` seconds (or ``timeout`` seconds have passed).

    For writes no :class:`WriteGuard` saw end (a caller writing into the staging target
    itself, workers that did not answer in time): one of them could land after the
    removal.
    """
    deadline = time.monotonic() + timeout
    while True:
        remove()
        calm = time.monotonic() + quiet
        while time.monotonic() < calm and not exists():
            time.sleep(every)
        if not exists() or time.monotonic() > deadline:
            return


def _remove_made(
    name: str,
    exists: Callable[[], bool],
    remove: Callable[[], None],
    guard: WriteGuard | None,
    every: float = 0.05,
) -> None:
    """Remove what a failed write made: once, when ``guard`` confirms that no write into
    it is still running; until it stays away otherwise. A warning names it if it could
    not be removed."""
    if guard is not None and guard.settle():
        remove()
    else:
        _remove_until_gone(exists, remove, every=every)
    if exists():
        _warn_left(name)


def remove_failed_write(path: Path, guard: WriteGuard | None) -> None:
    """Remove the folder a failed write made (a staging copy, a group it created), as
    :func:`_remove_made` does."""
    _remove_made(
        str(path),
        lambda: os.path.lexists(path),
        lambda: shutil.rmtree(path, ignore_errors=True),
        guard,
    )


def _warn_left(left: str) -> None:
    warnings.warn(
        f"{left}, made by the failed write, could not be removed (a write into it was "
        "still running, or the removal failed); it holds nothing of an earlier result: "
        "remove it yourself",
        RuntimeWarning,
        stacklevel=5,
    )


@contextlib.contextmanager
def staged_write(
    store: Any,
    replace: bool,
    storage_options: Mapping[str, Any] | None = None,
    guard: WriteGuard | None = None,
    *,
    in_place: bool = False,
    resuming: str | None = None,
    overwrite_said: str = "mode='w'",
) -> Iterator[Any]:
    """Where to write ``store``: the store itself when new (or when ``in_place``: the
    existing store, written into, as a resume or labels added to an image do), a hidden
    sibling when it replaces an existing store (``replace``; swapped in when the block
    ends without error).

    ``resuming``: the fingerprint of the run (``microct run``) this write resumes, which
    its caller read before it claimed ``store``; once claimed, the run state is read
    again, and a store that holds another run now (started or replaced by another
    write meanwhile) is refused.

    ``overwrite_said``: how the caller's Python caller asks for a replacement
    (``mode='w'`` to :func:`~xarray_microct.io.ome.to_ome_zarr`, ``overwrite=True`` to
    :func:`~xarray_microct.io.results.write_volume`), named when a store made meanwhile
    is refused (the ``microct`` command names ``--overwrite``).

    On error the sibling is removed and the old store is left as it was. The caller
    has already checked the target (:func:`check_write`). Every local write first
    claims ``store``: it records its writer beside it and links that record to the
    claim ``.NAME.microct-claim.json``, which one writer at a time can create; a
    second writer is refused (naming the first) and removes only its own record. Once
    claimed, what another write did meanwhile is refused too: a store made at a new
    path, one removed before it is written into, a run replaced by another. The record
    lets the next write of ``store`` tidy after a writer killed before its end, and free
    its claim (:func:`tidy_killed_writes`). A local path yields a :class:`~pathlib.Path`; a
    replacement is swapped in by two renames, then the old store is removed (where that
    fails, as on Windows while another process holds one of its files open, a warning
    names it and the next write of ``store`` removes it).

    A URL yields a URL. Every write of a URL, new or replacing, records its writer
    beside it with a ticket (:func:`_claim_url`), and refuses to start while another
    writer with an earlier ticket runs, or may (:func:`tidy_killed_url_writes` tidies
    after a killed one); of writers starting together exactly one goes on. The
    sibling is the prefix ``.NAME.microct-new-…``, and since object stores have no
    atomic rename the swap is done by copying, in this order: the old store is kept,
    untouched and readable, until the new one is complete in the sibling; then its root
    metadata is marked as an interrupted write of this project (so no reader takes a
    mix of old and new objects for a store), the new objects are copied over it, old
    objects the new store lacks are deleted, the new root metadata (with its completion
    record) is copied last, and the sibling is removed. A failure during that final
    copy is reported (``OSError``) and leaves the complete new store in the sibling; the
    target is then an interrupted write, which readers refuse and whose copy the next
    write of ``store`` finishes before it does anything else.

    A failed computation raises while chunk tasks still run and write: give the
    ``guard`` every chunk is written through (:class:`WriteGuard`), and the sibling is
    removed once no write into it can happen any more. Without one (or when the guard
    cannot confirm that in time) the sibling is removed again whenever it comes back,
    until it stays away for half a second.

    Examples
    --------
    >>> with staged_write("memory://doc/new.zarr", replace=True) as target:
    ...     target  # nothing there yet: written in place
    'memory://doc/new.zarr'
    """
    path = local_path(store)
    if path is None:
        if in_place or resuming is not None:
            raise ValueError(f"{store}: only local stores are written into in place or resumed")
        with _staged_url_write(str(store), replace, storage_options, guard) as target:
            yield target
        return
    token = uuid.uuid4().hex[:8]
    staging, old, record_file = _siblings(path, token)
    path.parent.mkdir(parents=True, exist_ok=True)  # as Zarr makes a new store's folders
    _WRITING.add(token)
    try:
        _claim(path, token, store)
        try:
            try:
                replacing = _replacing(path, store, replace, in_place, overwrite_said)
                if resuming is not None and os.path.lexists(path):
                    _check_resumed_run(path, store, resuming)
            except BaseException:
                record_file.unlink()
                raise
            if not replacing:
                try:
                    yield path
                finally:
                    _remove_after_write(record_file)
                return
            try:
                yield staging
            except BaseException:
                remove_failed_write(staging, guard)
                if not os.path.lexists(staging):
                    record_file.unlink()
                raise
            check_replaceable(path)  # still ours, nothing added meanwhile
            try:
                os.replace(path, old)
                os.replace(staging, path)
            except BaseException:  # also Ctrl-C, raised as the first rename returns
                if not os.path.lexists(path) and os.path.lexists(old):
                    os.replace(old, path)  # stopped between the renames: the old result back
                raise
            if _remove_replaced(old, store):
                _remove_after_write(record_file)  # else kept: the next write removes ``old``
        finally:
            _release(path, token)
    finally:
        _WRITING.discard(token)


def _replacing(
    path: Path, store: Any, replace: bool, in_place: bool, overwrite_said: str = "mode='w'"
) -> bool:
    """Whether the write of ``path`` that has just claimed it replaces a store (written
    beside it, then swapped in); False for a write in place: a new store, or the store
    written into. Its caller checked ``path`` before it claimed it: what another write
    did meanwhile is refused.

    Raises
    ------
    FileExistsError
        A new write, and a store appeared at ``path`` meanwhile: an
        :class:`~xarray_microct.core.errors.OptionExistsError` naming ``overwrite_said``
        (the Python caller's option) and ``--overwrite`` (the command's).
    FileNotFoundError
        A write into the store at ``path``, which is gone.
    """
    exists = os.path.lexists(path)
    if in_place and not exists:
        raise FileNotFoundError(
            f"{store} was removed before it could be written into; nothing was written"
        )
    if exists and not (replace or in_place):
        made = f"{store} was made by another write while this one started; nothing was written"
        raise OptionExistsError(
            f"{made}. Pass {overwrite_said} to replace it, or choose another path",
            f"{made}. Pass --overwrite to replace it, or choose another path",
        )
    return exists and replace and not in_place


def _check_resumed_run(path: Path, store: Any, fingerprint: str) -> None:
    """Refuse to resume the run ``fingerprint`` in the store at ``path`` (claimed by
    this write) unless its run state still has that fingerprint.

    Raises
    ------
    FileExistsError
        Another write made the store hold another run (or no run) since it was checked.
    """
    state = (root_attributes(path) or {}).get(RUN_KEY)
    found = state.get("fingerprint") if isinstance(state, Mapping) else None
    if found != fingerprint:
        now = (
            f"another run (fingerprint {str(found)[:12]}, status {state.get('status')!r})"
            if isinstance(state, Mapping)
            else "no run"
        )
        changed = (
            f"{store} changed while this run started: another write made it hold {now}, "
            "not the run this one resumes; nothing was written. Check what it holds"
        )
        raise OptionExistsError(
            f"{changed} (run_state(store)), then run again: with overwrite=True to replace "
            "it, or to another output",
            f"{changed} (`microct info`), then run again: with --overwrite to replace it, or "
            "to another output",
        )


def check_write(
    store: Any,
    *,
    replace: bool,
    inputs: Iterable[Any] = (),
    storage_options: Mapping[str, Any] | None = None,
) -> str:
    """The write rule, checked before any computing: ``"new"`` or ``"replace"``.

    ``store`` is a local path or an fsspec URL (``storage_options`` go to fsspec; network
    waits are bounded by ``microct.http-timeout``).

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
    >>> check_write("memory://doc/out.zarr", replace=False, inputs=["memory://doc/in.zarr"])
    'new'
    """
    check_not_input(store, inputs)
    path = local_path(store)
    if path is None:
        tidy_killed_url_writes(str(store), storage_options)
        exists = url_exists(str(store), storage_options)
    else:
        tidy_killed_writes(path)
        exists = os.path.lexists(path)
    if not exists:
        return "new"
    if not replace:
        raise FileExistsError(
            f"{store} already exists; nothing was written. Pass mode='w' to replace it, "
            "or choose another path"
        )
    check_replaceable(store if path is None else path, storage_options)
    return "replace"


# ---------------------------------------------------------------------------------------
# The same rule for fsspec URLs (object stores: no folders, no links, no atomic rename)


def url_filesystem(store: str, storage_options: Mapping[str, Any] | None = None) -> tuple[Any, str]:
    """The fsspec file system of the URL ``store`` and the store's path on it.

    Network waits are bounded: the options get the ``microct.http-timeout`` setting
    (:func:`xarray_microct.io.ome.network_options`); options given by the caller win.
    """
    import fsspec

    from xarray_microct.io.ome import network_options

    options = network_options(store, storage_options) or {}
    fs, root = fsspec.core.url_to_fs(str(store), **options)
    return fs, root.rstrip("/") or root


def _url_files(fs: Any, root: str) -> list[str]:
    """Every object under ``root``, relative to it."""
    prefix = root.rstrip("/") + "/"
    return sorted(p[len(prefix) :] for p in fs.find(root, withdirs=False) if p.startswith(prefix))


def _json_bytes(data: bytes | None) -> Any:
    try:
        return json.loads(data) if data is not None else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


class _UrlStore:
    """The objects of a store at a URL, listed once, metadata documents read on demand."""

    def __init__(self, fs: Any, root: str, strict: bool = False) -> None:
        self.fs, self.root, self.strict = fs, root, strict
        self.files = _url_files(fs, root)
        self._present = set(self.files)

    def document(self, relative: str) -> Any:
        """The JSON document ``relative``; None when absent or not JSON, and when it
        cannot be read (unless ``strict``: then the read's error is raised)."""
        if relative not in self._present:
            return None
        if self.strict:
            return _json_bytes(self.fs.cat_file(f"{self.root}/{relative}"))
        try:
            return _json_bytes(self.fs.cat_file(f"{self.root}/{relative}"))
        except OSError:
            return None

    def kind(self, folder: str) -> str | None:
        """Like :func:`_node_kind`, for the prefix ``folder`` ("" for the root)."""
        at = f"{folder}/" if folder else ""
        doc = self.document(f"{at}zarr.json")
        if isinstance(doc, Mapping) and doc.get("node_type") in ("group", "array"):
            return str(doc["node_type"])
        if f"{at}.zarray" in self._present:
            return "array-v2"
        if f"{at}.zgroup" in self._present:
            return "group"
        return None

    def attributes(self) -> dict[str, Any] | None:
        doc = self.document("zarr.json")
        if isinstance(doc, Mapping) and doc.get("node_type") == "group":
            attrs = doc.get("attributes", {})
            return dict(attrs) if isinstance(attrs, Mapping) else None
        if ".zgroup" in self._present:
            attrs = self.document(".zattrs") if ".zattrs" in self._present else {}
            return dict(attrs) if isinstance(attrs, Mapping) else None
        return None

    def foreign(self, limit: int = 5) -> list[str]:
        """Like :func:`foreign_entries`: objects that are not part of the Zarr hierarchy."""
        found: list[str] = []
        for relative in self.files:
            entry = self._foreign_entry(relative.split("/"))
            if entry is not None and entry not in found:
                found.append(entry)
                if len(found) >= limit:
                    break
        return found

    def _foreign_entry(self, parts: list[str]) -> str | None:
        folder: list[str] = []
        kind = self.kind("")
        for i, name in enumerate(parts):
            here = "/".join(parts[: i + 1])
            if i == len(parts) - 1:  # an object in ``folder``
                if name in METADATA_FILES:
                    return None
                if kind == "array-v2" and _CHUNK_V2.match(name):
                    return None
                if kind == "array" and _CHUNK_V3.match(name):
                    return None
                return here
            chunk_folder = (kind == "array" and name == "c") or (
                kind == "array-v2" and name.isdigit()
            )
            if chunk_folder:
                rest = parts[i + 1 :]
                return None if all(_CHUNK_DIGITS.match(p) for p in rest) else "/".join(parts)
            folder.append(name)
            child = self.kind("/".join(folder))
            if kind != "group" or child is None:
                return here + "/"
            kind = child
        return None


def url_exists(store: str, storage_options: Mapping[str, Any] | None = None) -> bool:
    """Whether anything (an object, or objects under it as a prefix) is at the URL; a
    failure to tell (a network timeout) is raised, not taken for "nothing there"."""
    fs, root = url_filesystem(store, storage_options)
    return _exists_strictly(fs, root)


def _exists_strictly(fs: Any, path: str) -> bool:
    """Whether ``path`` exists, a failure to tell raised: fsspec's ``exists`` answers
    False on any error (a network timeout), and a store taken for absent is written
    over (a new write opens it with ``mode="w"``; a failed one removes what is there)."""
    try:
        fs.info(path)
    except FileNotFoundError:
        return False
    return True


def _check_replaceable_url(store: str, storage_options: Mapping[str, Any] | None) -> None:
    fs, root = url_filesystem(store, storage_options)
    if not _exists_strictly(fs, root):
        return
    if fs.isfile(root):
        raise FileExistsError(
            f"{store} is a file, not a store written by xarray-microct; refusing to "
            "replace it. Remove it yourself or choose another URL"
        )
    found = _UrlStore(fs, root)
    if _record_of(found.attributes()) is None:
        raise FileExistsError(
            f"{store} was not written by xarray-microct (no xarray-microct record in its "
            "metadata); refusing to replace it. Remove it yourself or choose another URL"
        )
    foreign = found.foreign()
    if foreign:
        raise FileExistsError(
            f"{store} holds objects that are not part of the store ({', '.join(foreign)}); "
            "refusing to replace it and lose them. Move them out, or choose another URL"
        )


def _check_url_not_input(store: Any, source: Any) -> None:
    relation = url_relation(str(store), str(source))
    if relation == "is":
        raise ValueError(f"the output {store} is the input {source}; write the result elsewhere")
    if relation is not None:
        raise ValueError(
            f"the output {store} {relation} the input {source}; write the result elsewhere"
        )


def _mark_replacing(fs: Any, root: str, staging: str) -> None:
    """Mark the old store at ``root`` as an interrupted write of this project (readers
    refuse it, other OME-Zarr readers see no image), before its objects are replaced."""
    record = {MARKER: {"complete": False, "replaced_by": staging}}
    v3 = _exists_strictly(fs, f"{root}/zarr.json")
    doc = _json_bytes(fs.cat_file(f"{root}/zarr.json")) if v3 else None
    if isinstance(doc, Mapping):
        doc = {k: v for k, v in doc.items() if k != "consolidated_metadata"}
        fs.pipe_file(f"{root}/zarr.json", json.dumps({**doc, "attributes": record}).encode())
    else:
        fs.pipe_file(f"{root}/.zattrs", json.dumps(record).encode())
        if _exists_strictly(fs, f"{root}/.zmetadata"):
            fs.rm_file(f"{root}/.zmetadata")


def _swap_url(store: str, staging: str, storage_options: Mapping[str, Any] | None) -> str:
    """Move the complete store at ``staging`` into place at ``store`` (see
    :func:`staged_write`); see :func:`_copy_into_place` for what is returned."""
    fs, root = url_filesystem(store, storage_options)
    _, staged = url_filesystem(staging, storage_options)
    check_replaceable(store, storage_options)  # still ours, nothing added meanwhile
    return _copy_into_place(store, fs, root, staged, staging)


def _copy_into_place(store: str, fs: Any, root: str, staged: str, staging: str) -> str:
    """Copy the complete store at ``staged`` (the URL ``staging``) over the store at
    ``root`` (the URL ``store``), the document bearing the new root record last, then
    remove ``staged``. ``""``; or, when removing ``staged`` failed (the new store being
    in place, whole), that failure: the caller keeps the writer's record, so that the
    next write of ``store`` removes it.

    Raises
    ------
    OSError
        ``staged`` holds no complete store of this project (gone: another write finished
        it meanwhile; or unreadable): nothing at ``root`` was touched. Or the copy
        failed part way: ``root`` is marked as an interrupted write, ``staged`` kept.
    """
    source = _UrlStore(fs, staged, strict=True)
    new = source.files
    complete = _record_of(source.attributes())
    if not (complete and complete.get("complete") is True):
        raise OSError(
            f"{staging} holds no complete store of xarray-microct (anymore); {store} was "
            "left as it is"
        )
    # Zarr v3 keeps the record in zarr.json, v2 in .zattrs (.zmetadata repeats it)
    last = [f for f in (".zgroup", ".zmetadata", "zarr.json", ".zattrs") if f in new]
    try:
        old = set(_url_files(fs, root))
        _mark_replacing(fs, root, staging)
        body = [f for f in new if f not in last]
        fs.copy([f"{staged}/{f}" for f in body], [f"{root}/{f}" for f in body])
        # Old objects the new store lacks; its root documents (a store written in the
        # other Zarr format) only once the new root record is in place.
        leftovers = sorted(old - set(new))
        old_root = [f for f in leftovers if f in METADATA_FILES]
        if leftovers != old_root:
            fs.rm([f"{root}/{f}" for f in leftovers if f not in old_root])
        for name in last:  # one at a time: a list may be copied in any order
            fs.copy(f"{staged}/{name}", f"{root}/{name}")
    except Exception as err:
        raise OSError(
            f"replacing {store} failed while moving the new store into place "
            f"({type(err).__name__}: {err}). The complete new store is kept at {staging}; "
            f"{store} is marked as an interrupted write (readers refuse it). The next write "
            f"of {store} finishes the copy first"
        ) from err
    # The new store is complete in place; what is left is tidying up.
    stale = [f"{root}/{f}" for f in old_root if _exists_strictly(fs, f"{root}/{f}")]
    if stale:
        fs.rm(stale)
    try:
        fs.rm(staged, recursive=True)
    except FileNotFoundError:  # another write tidied it meanwhile
        pass
    except Exception as err:  # the new store is in place: what is left is a copy of it
        return f"{type(err).__name__}: {err}"
    return ""


def _url_siblings(root: str, token: str) -> tuple[str, str]:
    """The staging prefix and the writer's record of the write ``token`` of the store at
    ``root`` (paths on its file system)."""
    parent, name = posixpath.split(root)
    base = posixpath.join(parent, f".{name}.microct")
    return f"{base}-new-{token}", f"{base}-writer-{token}.json"


def _url_parent(store: str, fs: Any, root: str) -> str:
    """The prefix holding the store at ``root`` (where its writes record themselves).

    Raises
    ------
    ValueError
        ``store`` is a bucket (or container) itself: nothing can be recorded beside it.
    """
    parent = posixpath.split(root)[0]
    if not parent:
        raise ValueError(
            f"{store} is a whole bucket: xarray-microct writes a store at a URL with its "
            "staging copy and writer's record beside it, inside the same bucket; write to "
            f"a prefix inside it instead (e.g. {str(store).rstrip('/')}/scan.zarr)"
        )
    return parent


def _refused_listing(store: str, fs: Any, parent: str, err: OSError) -> PermissionError:
    return PermissionError(
        f"writing {store} needs permission to list and write objects in "
        f"{fs.unstrip_protocol(parent)} (beside the store: each write records itself "
        f"there), which was refused ({type(err).__name__}: {err}). Grant it, or write "
        "to a prefix where you have it"
    )


def _url_writers(fs: Any, root: str) -> dict[str, dict[str, str]]:
    """What writes of ``root`` left beside it, by token: its ``"new"`` prefix and its
    ``"writer"`` record (paths on ``fs``), each where present."""
    parent, name = posixpath.split(root)
    ours = re.compile(rf"^\.{re.escape(name)}\.microct-(new|writer)-([0-9a-f]{{8}})(\.json)?$")
    fs.invalidate_cache(parent)  # listings cached before other writers' objects
    try:
        entries = fs.ls(parent, detail=False)
    except FileNotFoundError:
        return {}
    except PermissionError as err:
        raise _refused_listing(str(fs.unstrip_protocol(root)), fs, parent, err) from err
    found: dict[str, dict[str, str]] = {}
    for entry in entries:
        match = ours.match(posixpath.basename(str(entry).rstrip("/")))
        if match and (match[1] == "writer") == bool(match[3]):
            found.setdefault(match[2], {})[match[1]] = str(entry).rstrip("/")
    return dict(sorted(found.items()))


def _url_writer_of(fs: Any, record_path: str, name: str, token: str) -> dict[str, Any] | None:
    """The writer's record at ``record_path`` (see :func:`_writer_of`), or None."""
    try:
        return _well_formed(_json_bytes(fs.cat_file(record_path)), name, token)
    except OSError:
        return None


def _live_url_writer(store: str, fs: Any, root: str, found: Mapping[str, str], token: str) -> str:
    """Why the write ``token`` of ``store`` (what it left: ``found``) must be left alone,
    or ``""`` when its writer is dead on this machine. Raises FileExistsError while that
    writer runs."""
    name = posixpath.basename(root)
    record = _url_writer_of(fs, found["writer"], name, token) if "writer" in found else None
    return _why_left_alone(record, store, f"it (.{name}.microct-…-{token})")


def _put_url_record(store: str, fs: Any, root: str, record_path: str, record: Any) -> None:
    """Write the writer's ``record`` of ``store`` at ``record_path`` (beside it)."""
    try:
        fs.pipe_file(record_path, json.dumps(record).encode())
    except PermissionError as err:
        raise _refused_listing(store, fs, posixpath.split(root)[0], err) from err


def tidy_killed_url_writes(
    store: str, storage_options: Mapping[str, Any] | None = None
) -> list[str]:
    """:func:`tidy_killed_writes` at the URL ``store``: what writes killed before their
    end left beside it, removed or finished; the URLs removed or finished.

    Each write of a URL records its writer beside the store
    (``.NAME.microct-writer-TOKEN.json``: machine, host name, pid namespace, pid, when
    the process started) while it runs; so does this tidy, which claims the store as a
    write does (:func:`_claim_url`: of two tidies or writes at once, one goes on and the
    other refuses). For a
    writer of this machine that no longer runs, its staging prefix
    ``.NAME.microct-new-TOKEN`` is removed when it holds nothing but a Zarr store's
    objects and the store holds a complete store of this project (so it is not the only
    copy of a result). When it was killed while copying its complete new store into
    place (the store's root record names that write as its replacement), the copy is
    finished first, so the store holds the new result whole, unless objects were added
    to the store meanwhile. Then the record is removed. Every read is checked: one that
    fails raises its error, and nothing is removed. Whatever cannot be told safe to
    remove is left and named in a warning: a record of another machine or pid namespace,
    a prefix without a well-formed record, one holding other objects, one that may be
    the only copy of a result.

    Raises
    ------
    FileExistsError
        A write of ``store`` by a process of this machine is running now.
    OSError
        Reading what a write left failed (nothing was removed).

    Examples
    --------
    >>> store = "memory://tidy-doc/scan.zarr"
    >>> url_filesystem(store)[0].pipe_file("/tidy-doc/.scan.zarr.microct-writer-0123abcd.json",
    ...     json.dumps({**_writer(), "started": "another process", "output": "scan.zarr",
    ...                 "token": "0123abcd"}).encode())  # this pid, another start: dead
    >>> tidy_killed_url_writes(store)
    ['memory:///tidy-doc/.scan.zarr.microct-writer-0123abcd.json']
    """
    fs, root = url_filesystem(store, storage_options)
    _url_parent(store, fs, root)
    if not _url_writers(fs, root):
        return []
    token = uuid.uuid4().hex[:8]
    _WRITING.add(token)
    try:
        record_path = _claim_url(store, fs, root, token)
        try:
            return _tidy_url_writes(store, fs, root, token)
        finally:
            _remove_record(fs, record_path)
    finally:
        _WRITING.discard(token)


def _tidy_url_writes(store: str, fs: Any, root: str, claimed: str) -> list[str]:
    """:func:`tidy_killed_url_writes` once this tidy has claimed the store (write
    ``claimed``): a writer that runs now comes after it (it withdraws, having written
    nothing) and is passed over."""
    done: list[str] = []
    left = {t: found for t, found in _url_writers(fs, root).items() if t != claimed}
    for token, found in left.items():
        try:
            why = _live_url_writer(store, fs, root, found, token)
        except FileExistsError:  # a writer after this one, withdrawing or about to
            continue
        if not why and "new" in found:
            tidied, why = _tidy_url_staging(store, fs, root, token, found["new"])
            done += tidied
        if why:
            if "new" in found:
                _warn_left_by_write([fs.unstrip_protocol(found["new"])], store, why)
            continue
        if "writer" in found:
            with contextlib.suppress(FileNotFoundError):  # another write tidied it meanwhile
                fs.rm_file(found["writer"])
            done.append(str(fs.unstrip_protocol(found["writer"])))
    return done


_STAGING_TOKEN = re.compile(r"\.microct-new-([0-9a-f]{8})/*$")


def _tidy_url_staging(
    store: str, fs: Any, root: str, token: str, staged: str
) -> tuple[list[str], str]:
    """Remove (or copy into place, then remove) the staging prefix ``staged`` a dead
    writer (write ``token``) of ``store`` left: the URLs removed or finished, and why
    the prefix is left (``""`` when it is not). Reads are strict: a failed one raises;
    a failure to remove the prefix leaves it (and its record) to the next write."""
    staging = str(fs.unstrip_protocol(staged))
    new = _UrlStore(fs, staged, strict=True)
    if new.foreign():
        return [], "holds objects that are not part of a store"
    fs.invalidate_cache(root)
    old = _UrlStore(fs, root, strict=True) if _exists_strictly(fs, root) else None
    record = _record_of(old.attributes()) if old is not None else None
    if record is not None and record.get("complete") is True:  # not the only copy
        try:
            fs.rm(staged, recursive=True)
        except FileNotFoundError:  # another write tidied it meanwhile
            pass
        except Exception as err:  # left, with its record, to the next write
            return [], (
                f"could not be removed ({type(err).__name__}: {err}); {store} holds a "
                "complete result"
            )
        return [staging], ""
    replaced_by = record.get("replaced_by") if record is not None else None
    match = _STAGING_TOKEN.search(replaced_by) if isinstance(replaced_by, str) else None
    if old is None or record is None or match is None or match[1] != token:
        return [], (
            f"may be the only copy of a result ({store} holds no complete store of "
            "xarray-microct, and is not being replaced by it)"
        )
    finished = _record_of(new.attributes())
    if not (finished and finished.get("complete") is True):
        return [], f"is an unfinished store that {store} was being replaced by"
    foreign = old.foreign()
    if foreign:
        return [], (
            f"is the new store {store} was being replaced by, but objects that are not part "
            f"of a store were added to {store} meanwhile ({', '.join(foreign)}); move them "
            "out, then write again to finish the replacement (do not remove it: "
            f"{store} holds old and new objects mixed)"
        )
    left = _copy_into_place(store, fs, root, staged, staging)
    if left:
        return [str(fs.unstrip_protocol(root))], (
            f"is a copy of the new store, now in place at {store}, that could not be "
            f"removed ({left})"
        )
    return [str(fs.unstrip_protocol(root)), staging], ""


def _claim_url(store: str, fs: Any, root: str, token: str) -> str:
    """Claim the URL ``store`` for the write ``token`` of this process; its writer's
    record's path on ``fs``.

    An object store has no exclusive create that every fsspec backend offers, so the
    writers of one store take tickets, as in Lamport's bakery: each records itself
    beside the store as choosing, reads the other records' tickets, and records itself
    again with a ticket one above the highest. Then it looks at every other record: it
    waits while one is still choosing, and goes on only if each holds a later ticket
    (ties go to the lower token), or is gone, or its writer is surely dead. Of writers
    starting together exactly one goes on: the others see its earlier ticket and
    refuse, removing their own record. This holds where a listing shows every object
    written before it starts, and a read the last write (as S3, Google Cloud Storage,
    Azure Blob Storage and local files do). A record of another writer not surely dead
    (another machine, or not a well-formed record after a few reads) that holds an
    earlier ticket, or none, refuses the write.

    Raises
    ------
    FileExistsError
        Another writer holds an earlier ticket and runs (or may: named, with what to do).
    """
    name = posixpath.basename(root)
    record_path = _url_siblings(root, token)[1]
    record = {**_writer(), "output": name, "token": token}
    _put_url_record(store, fs, root, record_path, {**record, "choosing": True})
    try:
        others = [
            (other, found["writer"])
            for other, found in _url_writers(fs, root).items()
            if other != token and "writer" in found
        ]
        ticket = 1 + max((_ticket_of(fs, path, name, other) for other, path in others), default=0)
        _put_url_record(store, fs, root, record_path, {**record, "ticket": ticket})
        for other, found in _url_writers(fs, root).items():
            if other != token and "writer" in found:
                _refuse_unless_after(store, fs, root, found["writer"], other, (ticket, token))
    except BaseException:
        with contextlib.suppress(Exception):
            fs.rm_file(record_path)
        raise
    return record_path


def _ticket(record: Mapping[str, Any]) -> int | None:
    """The ticket of a writer's ``record``, or None (choosing, or an earlier version's)."""
    ticket = record.get("ticket")
    return ticket if isinstance(ticket, int) and not isinstance(ticket, bool) else None


def _ticket_of(fs: Any, record_path: str, name: str, token: str) -> int:
    """The ticket the record at ``record_path`` holds; 0 when it holds none (or is not
    well-formed, or gone). A read that fails otherwise raises."""
    try:
        record = _well_formed(_json_bytes(fs.cat_file(record_path)), name, token)
    except FileNotFoundError:
        return 0
    return (_ticket(record) or 0) if record is not None else 0


RECORD_READS = 5
"""Reads of another writer's record that does not parse before it is taken as damaged
(one being written parses within moments)."""
CHOOSING_WAIT = 10.0
"""Seconds a write of a URL waits for another writer choosing its ticket (a listing, a
read of each record and a write: moments) before it refuses."""


def _refuse_unless_after(
    store: str, fs: Any, root: str, record_path: str, token: str, ours: tuple[int, str]
) -> None:
    """Raise FileExistsError unless the write ``token`` of ``store`` (its record at
    ``record_path``) comes after this one (ticket and token ``ours``), or the record is
    gone, or its writer is surely dead; while it chooses its ticket, wait."""
    name = posixpath.basename(root)
    writing = f"it (.{name}.microct-…-{token})"
    deadline, reads = time.monotonic() + CHOOSING_WAIT, 0
    while True:
        try:
            record = _well_formed(_json_bytes(fs.cat_file(record_path)), name, token)
        except FileNotFoundError:  # that write ended meanwhile
            return
        reads += 1
        if record is None:
            why = "is not a well-formed writer's record of xarray-microct (damaged, or not ours)"
            if reads >= RECORD_READS:
                break
        else:
            ticket = _ticket(record)
            if ticket is not None and (ticket, token) > ours:
                return  # it comes after this write, and withdraws
            choosing = ticket is None and record.get("choosing") is True
            try:
                why = _why_left_alone(record, store, writing)  # raises if it runs
            except FileExistsError:
                if not choosing:
                    raise
                why = "is still choosing its ticket (its writer runs)"
            if not why:
                return
            if not choosing or time.monotonic() > deadline:
                break
        time.sleep(0.1 * min(reads, RECORD_READS))
    raise FileExistsError(
        f"{store} may be being written by another writer: {fs.unstrip_protocol(record_path)} "
        f"{why}; nothing was written. Once no write of {store} runs anywhere, remove that "
        f"record (and .{name}.microct-new-{token}, if present, after checking it) "
        "yourself, then write again"
    )


@contextlib.contextmanager
def _staged_url_write(
    store: str,
    replace: bool,
    storage_options: Mapping[str, Any] | None,
    guard: WriteGuard | None,
) -> Iterator[str]:
    fs, root = url_filesystem(store, storage_options)
    _url_parent(store, fs, root)
    token = uuid.uuid4().hex[:8]
    staging = str(fs.unstrip_protocol(_url_siblings(root, token)[0]))
    _WRITING.add(token)
    try:
        record_path = _claim_url(store, fs, root, token)
        # The record is removed when the write ends, but a failure to do so (the network)
        # is not raised: a record of a writer that writes no more is tidied by the next
        # write of the store, and the write's own outcome is what is reported.
        try:
            exists = _exists_strictly(fs, root)
            if exists and not replace:  # made by another write since it was checked
                raise FileExistsError(
                    f"{store} was made by another write while this one started; nothing "
                    "was written. Pass mode='w' to replace it, or choose another URL"
                )
        except BaseException:
            _remove_record(fs, record_path)
            raise
        replacing = replace and exists
        if not replacing:
            try:
                yield store
            finally:
                _remove_record(fs, record_path)
            return
        try:
            yield staging
        except BaseException:
            _remove_url_staging(staging, storage_options, guard)
            with contextlib.suppress(Exception):
                if not url_exists(staging, storage_options):
                    _remove_record(fs, record_path)
            raise
        # A failure from here on keeps the staging copy and the record: the next write
        # of the store finishes the copy (or removes the copy, if it had not started).
        left = _swap_url(store, staging, storage_options)
        if left:  # the record kept: the next write of the store removes the copy
            warnings.warn(
                f"{staging}, the copy {store} was replaced from, could not be removed "
                f"({left}); {store} holds the new result, whole. The next write of it "
                f"from this machine removes the copy; writes from other machines or "
                f"containers are refused until {record_path} is removed",
                RuntimeWarning,
                stacklevel=3,
            )
        else:
            _remove_record(fs, record_path)
    finally:
        _WRITING.discard(token)


def _remove_record(fs: Any, record_path: str) -> None:
    with contextlib.suppress(Exception):
        fs.rm_file(record_path)


def _remove_url_staging(
    staging: str, storage_options: Mapping[str, Any] | None, guard: WriteGuard | None
) -> None:
    """Like :func:`remove_failed_write`, at a URL (network errors are not raised: the old
    store is intact, and the failure being reported is the write's)."""
    with contextlib.suppress(Exception):
        fs, staged = url_filesystem(staging, storage_options)

        def exists() -> bool:
            fs.invalidate_cache(staged)  # listings cached before the last writes
            return _exists_strictly(fs, staged)

        def remove() -> None:
            if exists():
                fs.rm(staged, recursive=True)

        _remove_made(staging, exists, remove, guard, every=0.1)


__all__ = [
    "MARKER",
    "RUN_KEY",
    "SETTLE_TIMEOUT",
    "ZARR_TEMPORARY",
    "GuardedTarget",
    "WriteGuard",
    "WritesStopped",
    "check_claim",
    "check_not_input",
    "check_replaceable",
    "check_write",
    "content_identity",
    "earlier_boot_of_this_machine",
    "foreign_entries",
    "hardware_addresses",
    "how_to_finish",
    "input_locations",
    "is_url",
    "local_path",
    "machine_id",
    "machine_identity",
    "process_start",
    "project_record",
    "remove_failed_write",
    "remove_zarr_leftovers",
    "staged_write",
    "tidy_killed_url_writes",
    "tidy_killed_writes",
    "url_exists",
    "url_filesystem",
]
