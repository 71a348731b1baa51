"""Results of ``microct run``: the resumable volume writer, run state, reading back.

:func:`write_volume` writes a lazy volume as a one-level OME-Zarr image (NGFF 0.5), with
the arrays of :func:`xarray_microct.io.ome.create_levels` (the layout of
:func:`~xarray_microct.io.ome.to_ome_zarr`), chunk by chunk. Its root carries the run
state (``microct_run``): ``status`` (``incomplete``, ``interrupted``, ``failed`` or
``complete``), and the *fingerprint* of the run: a digest of the pipeline and its
parameters, the chunking, the result's shape and dtype, and the content identity of
every input (:func:`xarray_microct.io.safety.content_identity`). A resume is refused
unless the fingerprint is the same.

Every write follows :mod:`xarray_microct.io.safety`: the output is checked before any
computing, inputs are never replaced, and a replacement is swapped in only once
complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr
import zarr

from xarray_microct.core.blocks.placement import optimized_with_hints
from xarray_microct.core.errors import OptionError, OptionExistsError
from xarray_microct.core.progress import own_progress_bar
from xarray_microct.core.provenance import package_version, utc_now
from xarray_microct.core.tree import select_node, single_image
from xarray_microct.io.ome import (
    SCALAR_COORDS,
    complete_marker,
    create_levels,
    create_root,
    display_window,
    lazy_array,
    level_group,
    open_pyramid,
    prepare_levels,
    scalar_coords_json,
    written_blocks,
)
from xarray_microct.io.paths import local_path, normal_url
from xarray_microct.io.safety import (
    MARKER,
    RUN_KEY,
    WriteGuard,
    check_not_input,
    check_replaceable,
    content_identity,
    how_to_finish,
    input_locations,
    project_record,
    remove_zarr_leftovers,
    staged_write,
    tidy_killed_writes,
)

LEVEL = level_group(0)
"""The group of the result's array (``0/<name>``)."""
EARLIER_LEVEL = "scale0"
"""The group of the result's array in runs started by versions before the numbered
level groups: ``--resume`` finishes those where they are."""
NGFF_VERSION = "0.5"
WINDOW_SAMPLE_BYTES = 256 * 2**20
"""At most this much of a finished result is read back for its display window."""
RESUMABLE = ("incomplete", "interrupted", "failed")
"""Statuses of a run that ``--resume`` finishes."""


_CALLER: ContextVar[str | None] = ContextVar("microct_writer", default=None)


@contextlib.contextmanager
def writing_for(caller: str) -> Iterator[None]:
    """Name ``caller`` (the function the user called, e.g. ``run_pipeline``) rather than
    :func:`write_volume` or :func:`~xarray_microct.io.tables.write_table` in the
    messages and the run state (``writer``) of the writes in the block.

    Examples
    --------
    >>> with writing_for("run_pipeline"):
    ...     _writer("write_volume")
    'run_pipeline'
    >>> _writer("write_volume")
    'write_volume'
    """
    token = _CALLER.set(caller)
    try:
        yield
    finally:
        _CALLER.reset(token)


def _writer(function: str | None) -> str | None:
    """Who writes: the caller named by :func:`writing_for`, else ``function``."""
    return _CALLER.get() or function


def store_path(store: str | Path) -> Path:
    """The absolute local path of an output (URLs are not outputs of ``microct run``)."""
    path = local_path(store)
    if path is None:
        raise ValueError(
            f"{store}: microct run writes local stores (or a mounted file system); write "
            "to a local path and copy the result"
        )
    return path


def run_state(store: str | Path) -> dict[str, Any] | None:
    """The ``microct_run`` attribute of a store (status, fingerprint), or None.

    ``None`` when nothing is at ``store`` or the store was not written by
    :func:`write_volume` or :func:`~xarray_microct.io.tables.write_table`.

    Examples
    --------
    >>> run_state("/nonexistent/result.zarr") is None
    True
    """
    path = store_path(store)
    if not path.is_dir():
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            group = zarr.open_group(str(path), mode="r")
    except Exception:  # not a group, unreadable: not a run of ours
        return None
    state = group.attrs.get(RUN_KEY)
    return dict(state) if isinstance(state, Mapping) else None


def _regular(data: da.Array) -> da.Array:
    """Rechunk so that every chunk but the last along each axis has the same size."""
    if all(len(set(c[:-1])) <= 1 and c[-1] <= c[0] for c in data.chunks):
        return data
    return data.rechunk(tuple(max(c) for c in data.chunks))


def prepare(result: xr.DataArray) -> xr.DataArray:
    """The volume as written: named, regularly chunked."""
    result = result.copy(data=_regular(da.asarray(result.data)))
    return result if result.name is not None else result.rename("volume")


def input_location(source: str | Path) -> str:
    """One spelling of an input's location: a local path absolute with its links
    resolved (as the ``location`` of an ``open_volume`` record), a URL normalised; so
    that ``scan.zarr`` given on the command line, or a path through a linked folder, and
    the path recorded in the result's provenance are one input.

    Examples
    --------
    >>> import os
    >>> input_location("scan.zarr") == os.path.realpath("scan.zarr")
    True
    >>> input_location("S3://bucket/scans/./scan.zarr/")
    's3://bucket/scans/scan.zarr'
    """
    local = local_path(source)
    return normal_url(str(source)) if local is None else os.path.realpath(local)


def run_identity(
    facts: Mapping[str, Any], inputs: Iterable[Any], result: xr.DataArray | None = None
) -> dict[str, Any]:
    """What a run is: ``facts`` (pipeline, parameters, chunking...), every input's
    location and content identity, and the result's name, shape, dtype and chunks.

    Examples
    --------
    >>> run_identity({"pipeline": "p"}, [])["inputs"]
    []
    """
    identity: dict[str, Any] = json.loads(json.dumps(dict(facts), default=str))
    identity["inputs"] = [
        {"location": source, "content": content_identity(source)}
        for source in dict.fromkeys(input_location(s) for s in inputs)
    ]
    if result is not None:
        identity["result"] = {
            "name": str(result.name),
            "shape": list(result.shape),
            "dtype": str(result.dtype),
            "chunks": [int(c[0]) for c in result.data.chunks],
        }
    return identity


def fingerprint(identity: Mapping[str, Any]) -> str:
    """The digest of a run identity (see :func:`run_identity`)."""
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


_WHAT_DIFFERS = {
    "pipeline": "a different pipeline or parameters",
    "inputs": "a different input (its content changed since, or another path)",
    "result": "a different result shape, dtype or chunking",
}
_WHAT_DIFFERS_SAID = {  # (in Python words, in the command's)
    "chunks": ("a different chunking (chunks=)", "a different chunking (--chunks)"),
    "calibration": (
        "different input options (calibration: spacing, units, level, channel, time, "
        "dataset, raw layout)",
        "different input options (--spacing, --units, --level, --channel, --time, "
        "--dataset, raw layout)",
    ),
}


def _differences(
    recorded: Mapping[str, Any], identity: Mapping[str, Any], command_line: bool = False
) -> str:
    """What differs between the identity a run recorded and this one's, in Python words
    (``run_pipeline``'s keywords) or the ``microct`` command's (its options).

    Examples
    --------
    >>> _differences({"chunks": [12, 12, 12]}, {"chunks": [24, 24, 24]})
    'a different chunking (chunks=); it computes in chunks of 12 × 12 × 12 voxels: resume with chunks=None to finish it in those'
    >>> _differences({"chunks": [12, 12, 12]}, {"chunks": [24, 24, 24]}, command_line=True)
    'a different chunking (--chunks); it computes in chunks of 12 × 12 × 12 voxels: resume without --chunks to finish it in those'
    """  # noqa: E501
    said = {**_WHAT_DIFFERS, **{k: words[command_line] for k, words in _WHAT_DIFFERS_SAID.items()}}
    keys = sorted(set(recorded) | set(identity))
    found = [said.get(k, f"a different {k}") for k in keys if recorded.get(k) != identity.get(k)]
    chunks, now = recorded.get("chunks"), identity.get("chunks")
    if (
        isinstance(chunks, list)
        and isinstance(now, list)
        and chunks != now
        and len(chunks) == len(now)
    ):
        # a resume given no chunks computes in the recorded ones (``run_pipeline``); not
        # where the input reads with another number of axes (another channel= pick)
        how = "without --chunks" if command_line else "with chunks=None"
        found.append(
            f"it computes in chunks of {' × '.join(map(str, chunks))} voxels: resume "
            f"{how} to finish it in those"
        )
    return "; ".join(found) or "a different run"


def check_output(
    store: str | Path,
    *,
    overwrite: bool = False,
    resume: bool = False,
    identity: Mapping[str, Any] | None = None,
    inputs: Iterable[str | Path] = (),
    writer: str | None = None,
) -> str:
    """Decide what to do with ``store`` before any work: ``"new"``, ``"overwrite"``,
    ``"resume"`` or ``"done"`` (a complete run with the same fingerprint and ``resume``).

    ``writer`` names the function that will write ``store`` (``"write_volume"``,
    ``"write_table"``, ``"run_pipeline"``) in the messages to a Python caller; the
    ``microct`` command names ``microct run``.

    Raises
    ------
    FileExistsError
        Something is at ``store`` and neither ``overwrite`` nor ``resume`` is given, or
        it may not be replaced (not written by this project, or holding other files).
    ValueError
        ``resume`` of a store that is not a run of the same pipeline, parameters and
        chunking on the same input content; both flags at once; an output that is,
        contains or lies inside an input.

    Examples
    --------
    >>> check_output("/nonexistent/result.zarr")
    'new'
    """
    if overwrite and resume:
        raise OptionError(
            "give overwrite=True (start again) or resume=True (finish), not both",
            "give --overwrite (start again) or --resume (finish), not both",
        )
    path = store_path(store)
    check_not_input(path, inputs)
    tidy_killed_writes(path)
    if not path.exists() and not path.is_symlink():
        return "new"
    if overwrite:
        check_replaceable(path)
        return "overwrite"
    state = run_state(path)
    if state is None:
        writer = _writer(writer)
        by = writer or "write_volume, write_table or run_pipeline"
        if project_record(path) is not None:  # an image of to_ome_zarr: replaceable
            raise OptionExistsError(
                f"{store} exists: an image xarray-microct wrote, not the output of {by}; "
                "pass overwrite=True to replace it, or choose another output",
                f"{store} exists: an image xarray-microct wrote, not the output of "
                "`microct run`; pass --overwrite to replace it, or choose another output",
            )
        kept = "(nothing will be deleted or replaced that xarray-microct did not write)"
        raise OptionExistsError(
            f"{store} exists and was not written by {by}; choose another output {kept}",
            f"{store} exists and was not written by `microct run`; choose another output {kept}",
        )
    complete = state.get("status") == "complete"
    if not resume:
        if complete:
            raise OptionExistsError(
                f"{store} exists; pass overwrite=True to replace it",
                f"{store} exists; pass --overwrite to replace it",
            )
        held = f"{store} holds an interrupted run ({state.get('status')})"
        raise OptionExistsError(
            f"{held}; pass resume=True to finish it, or overwrite=True to start again",
            f"{held}; pass --resume to finish it, or --overwrite to start again",
        )
    if identity is not None and state.get("fingerprint") != fingerprint(identity):
        recorded = state.get("identity") or {}
        made = f"cannot resume {store}: it was {'made' if complete else 'started'} with"
        raise OptionError(
            f"{made} {_differences(recorded, identity)}; pass overwrite=True to start "
            "again, or write to another output",
            f"{made} {_differences(recorded, identity, command_line=True)}; pass "
            "--overwrite to start again, or write to another output",
        )
    return "done" if complete else "resume"


def set_state(path: Path, state: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> None:
    """Update the run state (and other root attributes) of a store, then consolidate."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        group = zarr.open_group(str(path), mode="r+")
        group.attrs.update({**(extra or {}), RUN_KEY: dict(state)})
        zarr.consolidate_metadata(str(path))


def compute(collections: list[Any], client: Any, progress: bool) -> list[Any]:
    """Compute Dask ``collections`` on ``client``, or on Dask's current scheduler."""
    if client is not None:
        from distributed import progress as distributed_progress

        # the tasks hinted to workers (the blocks of a pipeline that places them) keep
        # their hints through the optimization, which drops them
        hinted = optimized_with_hints(list(collections))
        if hinted is None:
            futures = client.compute(list(collections))
        else:
            futures = client.compute(hinted, optimize_graph=False)
        try:
            if progress:
                distributed_progress(futures)
            return list(client.gather(futures))
        except Exception:
            # A failed task: the tasks not started yet are dropped (those running finish
            # on their workers); the chunks already stored stay for --resume. On Ctrl-C
            # the gather is still waiting, and the futures go with the client instead.
            with contextlib.suppress(Exception):
                client.cancel(futures)
            raise
    if progress:
        # drawn for this thread's computation only, as a phase's bar (and, as there,
        # not for one under a second)
        with own_progress_bar(minimum=1.0):
            return list(dask.compute(*collections))
    return list(dask.compute(*collections))


def _record_stop(path: Path, state: Mapping[str, Any], err: BaseException) -> None:
    """Record in the store that its run stopped on ``err``: ``failed`` for an error,
    ``interrupted`` for a stop (Ctrl-C, a kill), with the time and the error's text."""
    status = "failed" if isinstance(err, Exception) else "interrupted"
    error = f"{type(err).__name__}: {err}"[:500]
    set_state(path, {**state, "status": status, "stopped": utc_now(), "error": error})


def _create(path: Path, levels: list, chunks: list[int], state: Mapping[str, Any]) -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = create_root(path, 3)
        root.attrs.update({MARKER: {"complete": False, "ngff": NGFF_VERSION}, RUN_KEY: dict(state)})
        return create_levels(root, levels, 3, chunks)


def start_run(
    path: Path,
    result: Any,
    metadata: Mapping[str, Any] | None,
    inputs: Iterable[str | Path],
    overwrite: bool,
    resume: bool,
    writer: str,
) -> tuple[str, dict[str, Any]]:
    """Check the output of a run writing ``result`` (a volume or a table) and give what
    to do (see :func:`check_output`) and the run state to record while it is written.
    ``writer``: the function writing it (see :func:`writing_for`)."""
    sources = [*inputs, *input_locations(result)]
    shaped = result if isinstance(result, xr.DataArray) else None
    identity = run_identity(metadata or {}, sources, shaped)
    writer = str(_writer(writer))
    action = check_output(
        path, overwrite=overwrite, resume=resume, identity=identity, inputs=sources, writer=writer
    )
    state = {
        "status": "incomplete",
        "writer": writer,
        "started": utc_now(),
        "fingerprint": fingerprint(identity),
        "identity": identity,
        "xarray_microct": package_version("xarray_microct"),
    }
    return action, state


def write_volume(
    result: xr.DataArray,
    store: str | Path,
    *,
    overwrite: bool = False,
    resume: bool = False,
    metadata: Mapping[str, Any] | None = None,
    inputs: Iterable[str | Path] = (),
    client: Any = None,
    progress: bool = False,
) -> Path:
    """Write a lazy volume to an OME-Zarr store (NGFF 0.5) chunk by chunk, resumably.

    The store is created first (arrays, coordinates, provenance) and marked
    incomplete; each chunk is then computed and written (every chunk, empty ones
    included, each atomically); the OME-NGFF metadata and the "complete" marks are
    written only when every chunk is stored. An interrupted write is never mistaken
    for a finished one (readers refuse it); ``resume=True`` computes only the missing
    chunks. A replaced store (``overwrite=True``) is written beside the old one and
    swapped in when complete: a failed run leaves the old result as it was.

    Parameters
    ----------
    result : xarray.DataArray
        A lazy volume (e.g. a pipeline's result).
    store : str or Path
        The store to write (read it with :func:`open_result` or
        :func:`xarray_microct.open_pyramid`).
    overwrite : bool
        Replace a store this project wrote at ``store`` (never anything else, never
        an input).
    resume : bool
        Finish an interrupted write of the same run (same fingerprint).
    metadata : mapping, optional
        JSON-serialisable facts identifying the run (pipeline, parameters); part of
        the fingerprint.
    inputs : iterable of paths, optional
        Inputs besides those found in ``result`` (its provenance and Dask graph).
    client : distributed.Client, optional
        Run on this client (its workers must see ``store``); Dask's current scheduler
        otherwise.
    progress : bool
        Show a progress bar on the terminal.

    Returns
    -------
    Path
        The store.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray_microct as mct
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "smooth.zarr"
    >>> vol = mct.from_array(np.random.rand(16, 16, 16), spacing=0.5, chunks=8, name="scan")
    >>> _ = write_volume(vol.microct.gaussian(sigma="1 um"), store)
    >>> run_state(store)["status"]
    'complete'
    >>> back = open_result(store)
    >>> bool(np.allclose(back, vol.microct.gaussian(sigma="1 um")))
    True
    """
    if not isinstance(result, xr.DataArray):
        raise TypeError(
            f"write_volume writes a volume (xarray.DataArray), got {type(result).__name__}"
        )
    path = store_path(store)
    result = prepare(result)
    levels, scalars = prepare_levels(result)
    action, state = start_run(path, result, metadata, inputs, overwrite, resume, "write_volume")
    if action == "done":
        return path
    chunks = [int(c[0]) for c in result.data.chunks[-3:]]
    guard = WriteGuard(client)
    with staged_write(
        path,
        action == "overwrite",
        guard=guard,
        in_place=action == "resume",
        resuming=state["fingerprint"] if action == "resume" else None,
        overwrite_said="overwrite=True",
    ) as target:
        if action == "resume":
            # The store says it is being written again (not the old failure) until done.
            previous = {
                k: v for k, v in (run_state(target) or {}).items() if k not in ("stopped", "error")
            }
            resumed = {"status": "incomplete", "resumed": utc_now(), "writer": state["writer"]}
            state = {**previous, **resumed}
            set_state(target, state)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                root = zarr.open_group(str(target), mode="r+")
                group = _started_level(target, str(result.name))
                array = zarr.open_array(
                    str(target),
                    path=f"{group}/{result.name}",
                    mode="r+",
                    config={"write_empty_chunks": True},
                )
            levels = [(group, levels[0][1])]
            created = [(array, result.data.rechunk(array.chunks))]
            del root
        else:
            try:
                created = _create(target, levels, chunks, state)
            except FileExistsError:  # not ours: left as it is
                raise
            except Exception:
                shutil.rmtree(target, ignore_errors=True)  # made just now: leave nothing
                raise
        written = _write_missing(target, created, scalars, state, action, client, progress, guard)
        if isinstance(target, Path):  # every chunk stored: what a killed chunk write left
            remove_zarr_leftovers(target)
        stored = created[0][0]
        try:
            window = stored_window(levels[0][1], lazy_array(stored, "store"), client)
        except BaseException as err:  # every chunk is stored: a resume reads the window only
            if action != "overwrite":  # an overwrite's staging copy is dropped instead
                _record_stop(target, state, err)
            raise
        set_state(
            target,
            {**state, "status": "complete", "finished": utc_now(), "chunks_written": written},
            extra=complete_marker(levels, [stored], NGFF_VERSION, window=window),
        )
    return path


def spread_blocks(data: da.Array, budget: int) -> da.Array:
    """Blocks of ``data`` spread evenly over its block grid, about ``budget`` bytes in all
    (every block when the whole array fits; at least one block).

    Examples
    --------
    >>> x = da.zeros((64, 64, 64), dtype="uint8", chunks=16)
    >>> spread_blocks(x, 64**3).numblocks, spread_blocks(x, 8 * 16**3).numblocks
    ((4, 4, 4), (2, 2, 2))
    """
    block_bytes = data.dtype.itemsize * int(np.prod([max(c) for c in data.chunks]))
    share = budget / (block_bytes * int(np.prod(data.numblocks)))
    if share >= 1:
        return data
    picks = []
    for count in data.numblocks:
        keep = max(1, int(count * share ** (1 / data.ndim)))
        step = count // keep
        first = (count - 1 - (keep - 1) * step) // 2  # centred in the grid
        picks.append(slice(first, first + (keep - 1) * step + 1, step))
    return data.blocks[tuple(picks)]


def stored_window(result: xr.DataArray, stored: da.Array, client: Any = None) -> list[float] | None:
    """The omero display window ``(min, start, end, max)`` of an intensity ``result``
    written as ``stored``, read back from the store: the
    :func:`~xarray_microct.io.ome.display_window` of at most :data:`WINDOW_SAMPLE_BYTES`
    of its blocks, spread over the volume. None for label
    volumes and masks (stored as other dtypes), volumes with channels or time, and a
    result with no finite value.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.arange(1000, dtype="float32").reshape(10, 10, 10), spacing=1)
    >>> [round(v) for v in stored_window(vol, vol.data)]
    [0, 1, 998, 999]
    """
    lazy = display_window(result, spread_blocks(stored, WINDOW_SAMPLE_BYTES))
    if lazy is None:
        return None
    (window,) = compute([lazy], client, progress=False)
    return [float(v) for v in window] if np.all(np.isfinite(window)) else None


def _started_level(path: Path, name: str) -> str:
    """The level group holding the array ``name`` of a run being resumed: ``LEVEL``,
    or ``EARLIER_LEVEL`` for a run an earlier version started."""
    started = [group for group in (LEVEL, EARLIER_LEVEL) if (path / group / name).is_dir()]
    return started[0] if started else LEVEL


def _write_missing(
    path: Path,
    created: list[tuple[zarr.Array, da.Array]],
    scalars: list[dict[str, Any]],
    state: Mapping[str, Any],
    action: str,
    client: Any,
    progress: bool,
    guard: WriteGuard,
) -> int:
    """Compute and store every chunk not yet stored (through ``guard``); returns how
    many were written. Raises only once no chunk write is running any more."""
    ((target, data),) = created
    done = written_blocks(target) if action == "resume" else set()
    missing = [i for i in np.ndindex(*data.numblocks) if i not in done]
    starts = [np.concatenate([[0], np.cumsum(c)[:-1]]) for c in data.chunks]
    regions = [
        tuple(
            slice(int(s[j]), int(s[j]) + c[j])
            for s, c, j in zip(starts, data.chunks, i, strict=True)
        )
        for i in missing
    ]
    collections = []
    guarded = guard.wrap(target)
    if missing and not done:
        collections.append(da.store(data, guarded, lock=False, compute=False))
    elif missing:
        collections.append(
            da.store(
                [data.blocks[i] for i in missing],
                [guarded] * len(missing),
                regions=regions,
                lock=False,
                compute=False,
            )
        )
    # the lazy scalar coordinates as collections of their own, optimised in one graph with
    # the chunks' (one culling, their shared tasks once): through ``dask.delayed`` of the
    # dict, each one's chain was optimised and materialised apart as the graph was built
    lazy = {name: value for name, value in scalars[0].items() if dask.is_dask_collection(value)}
    collections.extend(lazy.values())
    try:
        results = compute(collections, client, progress) if collections else []
    except BaseException as err:
        guard.settle()  # no chunk lands after the state says the run stopped
        if action != "overwrite":  # an overwrite's staging copy is dropped instead
            _record_stop(path, state, err)
        raise
    if scalars[0]:
        computed = dict(zip(lazy, results[len(results) - len(lazy) :], strict=True))
        target.attrs[SCALAR_COORDS] = scalar_coords_json({**scalars[0], **computed})
    return len(missing)


def open_result(store: str | Path) -> xr.DataArray | pd.DataFrame:
    """Open what ``microct run`` wrote: a volume (OME-Zarr) or a table.

    Also opens any OME-Zarr image (its finest level) or volume :func:`open_volume` reads.

    Raises
    ------
    ValueError
        The run that writes ``store`` was interrupted (finish it with ``resume=True``).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray_microct as mct
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "out.zarr"
    >>> vol = mct.from_array(np.ones((8, 8, 8), "float32"), spacing=0.5, name="scan")
    >>> _ = write_volume(vol, store)
    >>> open_result(store).microct.grid.spacing
    (0.5, 0.5, 0.5)
    """
    from xarray_microct.io import open_volume
    from xarray_microct.io.tables import is_table, read_table

    state = run_state(store)
    if state is not None and state.get("status") != "complete":
        missing = (
            f"{store} is an interrupted write (status {state.get('status')!r}): some of it "
            "is missing"
        )
        python, command = how_to_finish(state)
        raise OptionError(f"{missing}: {python}", f"{missing}: {command}")
    if is_table(store):
        return read_table(store)
    root = None
    if Path(store).is_dir():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                root = zarr.open_group(str(store_path(store)), mode="r")
            except Exception:
                root = None
    if root is not None and ("ome" in root.attrs or "multiscales" in root.attrs):
        # the finest level as stored (a pyramid of results stays one: no level marked)
        return single_image(select_node(open_pyramid(store), 0))
    return open_volume(store)


__all__ = [
    "EARLIER_LEVEL",
    "LEVEL",
    "RESUMABLE",
    "check_output",
    "fingerprint",
    "open_result",
    "run_identity",
    "run_state",
    "set_state",
    "write_volume",
    "writing_for",
]
