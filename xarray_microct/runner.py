"""``microct run``: run a pipeline from one stored volume to a Zarr store.

The jobs are split by module; this one only orchestrates:

* pipeline files (load, save, export): :mod:`xarray_microct.pipeline_file`;
* the resumable volume writer, run state and fingerprint:
  :mod:`xarray_microct.io.results`;
* result tables: :mod:`xarray_microct.io.tables`;
* the write rule every writer follows: :mod:`xarray_microct.io.safety`.

Their public names are importable from here too.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pandas as pd
import xarray as xr

from xarray_microct.cluster import ClusterOptions, dask_client, describe_client, prints_here
from xarray_microct.core.blocks.placement import cluster_threads, moved_to_workers, placing_on
from xarray_microct.core.errors import OptionError
from xarray_microct.core.memory import keep_large_arrays_unpooled
from xarray_microct.core.progress import own_progress_bar, phase, phases_shown
from xarray_microct.io.ome import written_blocks
from xarray_microct.io.results import (
    RUN_KEY,
    check_output,
    open_result,
    prepare,
    run_identity,
    run_state,
    store_path,
    write_volume,
    writing_for,
)
from xarray_microct.io.tables import read_table, write_table
from xarray_microct.pipeline_file import (
    BUILTIN_PIPELINES,
    Pipeline,
    export_pipeline,
    load_pipeline,
    pipeline_from_records,
    save_pipeline,
)

# What ``microct run`` computes in when no ``--chunks`` is given: whole stored chunks
# merged, per axis (z, y, x), until they reach at least these voxels (or the axis' length),
# for a pipeline that computes its own table (the fiber job: z as stored) and for a lazy
# chain (the bead chain, a pipeline file); never over READ_BUDGET voxels a chunk.
READ_LEAST = {"table": (1, 256, 256), "lazy": (128, 128, 128)}
READ_BUDGET = 2**23  # voxels a merged chunk holds at most (128 × 256²)


def read_chunks(chunks: tuple[tuple[int, ...], ...], kind: str = "lazy") -> tuple[int, ...] | None:
    """Chunks to read a store with when the user gives no ``--chunks``, or None.

    Small stored chunks (64³, 128² pixels) cost a task each per step, and a halo read
    two to three times over: Dask's cost per task, not the work, then sets the run's
    CPU (with ``--workers``, 2-3× that of threads at 64³ on the bead chain). Whole stored
    chunks are merged along each spatial axis until they reach ``READ_LEAST[kind]``
    voxels (the axis' length at most), the innermost axis first, never beyond
    ``READ_BUDGET`` voxels a chunk: the merged chunks are whole multiples of the stored
    ones, so they are read directly (no rechunk in the graph). Leading axes (``c``,
    ``t``) stay as stored. None when the stored chunks are large enough already.

    Measured (2026-12-05, ``microct run beads`` on bead tubes of 8.4–33.6 Mvox stored in
    64³ chunks, 2 rounds interleaved): merged to 128³, two workers 37–141 → 26–83 CPU s
    of the process tree, threads the same within noise, their peak RSS +0.25–0.32 GB
    (80–90 bytes a voxel of each chunk in flight, a thread); merged to 128 × 256², two
    workers 24–75 CPU s but the threaded peak 1.22–2.42 GB: so 128³ for a chain, and
    the budget of 2²³ voxels (about 0.75 GB a thread) only binds on thin stored chunks.

    Parameters
    ----------
    chunks : tuple of tuples
        The Dask chunks of the volume as stored (its last three axes ``z, y, x``).
    kind : {"lazy", "table"}
        A pipeline that builds a lazy result (a chain of verbs), or one that computes
        its own table (the fiber job).

    Examples
    --------
    >>> read_chunks(((64,) * 8, (64,) * 4, (64,) * 4))
    (128, 128, 128)
    >>> read_chunks(((64,), (128,) * 8, (128,) * 8), "table")
    (64, 256, 256)
    >>> read_chunks(((64,), (512, 512), (512, 512)), "table") is None
    True
    """
    first = [c[0] for c in chunks]
    least = (1,) * (len(first) - 3) + READ_LEAST[kind]
    merged = list(first)
    for axis in reversed(range(len(first) - 3, len(first))):
        step, others = first[axis], int(np.prod(merged)) // first[axis]
        times = -(-min(least[axis], sum(chunks[axis])) // step)
        while times > 1 and others * step * times > READ_BUDGET:
            times -= 1
        merged[axis] = step * times
    return None if merged == first else tuple(merged)


def _dry_build(pipe: Pipeline, volume: xr.DataArray) -> Any:
    """The lazy result of a pipeline declared lazy, built now so that every parameter is
    checked before anything computes; None for one that computes its table itself."""
    return pipe.apply(volume) if pipe.lazy else None


def run_pipeline(
    pipeline: str | Path | Sequence[Mapping[str, Any]] | Pipeline,
    input: str | Path,
    output: str | Path,
    *,
    params: Mapping[str, Any] | Sequence[str] | None = None,
    options: ClusterOptions | None = None,
    overwrite: bool = False,
    resume: bool = False,
    chunks: int | None = None,
    progress: bool = True,
    echo: Callable[[str], Any] = print,
    calibration: Mapping[str, Any] | None = None,
    release_memory: bool = False,
) -> Path:
    """Run a pipeline on a stored volume and write the result to Zarr (``microct run``).

    Everything that can be wrong is checked before any work starts, in this order:
    the cluster options, the pipeline (known verbs, parameter names), the input, the
    parameter values (while the lazy graph is built on the input), the output
    (never clobbered without ``overwrite``), and the scheduler (reachable within the
    timeout). Then the graph runs on the chosen client. A volume is written chunk by
    chunk with :func:`write_volume` (an interrupted run is finished with
    ``resume=True``); a table (the fiber pipeline's) with :func:`write_table`.

    Parameters
    ----------
    pipeline : str, Path, list of records or Pipeline
        A built-in name (``"fibers"``, ``"beads"``) or a pipeline file.
    input : str or Path
        A volume :func:`xarray_microct.open_volume` reads (Zarr, OME-Zarr, TIFF...).
    output : str or Path
        The Zarr store to write.
    params : mapping or list of "KEY=VALUE", optional
        Parameters of a built-in pipeline.
    options : ClusterOptions, optional
        Where to run (threaded scheduler when omitted).
    overwrite, resume : bool
        Replace an existing output; finish an interrupted one.
    chunks : int, optional
        Rechunk the input to this many voxels per side. By default the store's chunks
        merged (:func:`read_chunks`), and on ``resume`` the chunks the run started with.
    progress : bool
        Say what the run is doing: a line naming each phase that can take a while (the
        fiber radius estimate, the threshold pass, the detection, the writing) before
        it starts, and, on a terminal, a progress bar under it (Dask's, or
        ``distributed``'s with a client), counting only that phase's computations (the
        bar changes no Dask setting; a run on a client makes that client Dask's default
        while it runs, in every thread). False: only the opening lines and the last.
    echo : callable
        Where to print the messages (``print`` by default).
    calibration : mapping, optional
        Keywords of :func:`xarray_microct.open_volume` for the input: ``spacing`` and
        ``units`` for an input that does not state its voxel size (TIFF, HDF5, raw), and
        how to read it (``level``, ``channel``, ``time``, ``dataset``, ``shape``,
        ``dtype``, ``byte_order``, ``offset``); part of the run's fingerprint (a resume
        with another channel is refused; a pick on an axis of length one that the input
        drops without a pick, an OME-Zarr's or a TIFF's, counts as none).
    release_memory : bool
        For a pipeline whose result is a volume, hand freed arrays back to the operating
        system at once, in this process and in the worker processes it starts
        (:func:`~xarray_microct.core.memory.keep_large_arrays_unpooled`; the ``microct``
        command does): its peak memory is then what it holds, not what its earlier
        stages held. Process-wide, so off for library callers. A table pipeline keeps
        glibc's pools: its memory is small and fresh pages cost it a tenth of its time.

    Returns
    -------
    Path
        The output store.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray_microct as mct
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> scan = mct.from_array(np.random.rand(16, 16, 16), spacing=0.5, chunks=8, name="scan")
    >>> _ = scan.to_zarr(folder / "scan.zarr")
    >>> steps = [{"op": "gaussian", "params": {"sigma": "1 um"}}]
    >>> out = run_pipeline(steps, folder / "scan.zarr", folder / "out.zarr",
    ...                    progress=False, echo=lambda line: None)
    >>> [r["op"] for r in open_result(out).attrs["microct_provenance"]]
    ['open_volume', 'gaussian']
    """
    from xarray_microct.io import _open_input
    from xarray_microct.io.picks import significant_picks

    options = (options or ClusterOptions()).check()
    if not prints_here(options):  # an MPI rank that will serve: rank 1 prints
        echo, progress = (lambda line: None), False
    if chunks is not None and (not isinstance(chunks, int) or chunks < 1):
        raise OptionError(
            f"chunks must be a positive number of voxels, got {chunks!r}",
            f"--chunks must be a positive number of voxels, got {chunks!r}",
        )
    pipe = load_pipeline(pipeline, params)
    if release_memory and pipe.lazy:
        keep_large_arrays_unpooled()
    output_path = store_path(output)
    # never an input, nothing not ours replaced: checked before reading anything (all
    # but the fingerprint, which needs the built result; a pipeline may compute while it
    # is built, e.g. a radius estimated from the scan)
    check_output(
        output_path, overwrite=overwrite, resume=resume, inputs=[input], writer="run_pipeline"
    )
    calibration = dict(calibration or {})
    volume, _, squeezed = _open_input(input, **calibration)
    if chunks is not None:
        volume = volume.chunk(dict.fromkeys(volume.dims[-3:], chunks))
    else:
        started = _started_chunks(output_path) if resume else None
        wanted = started or read_chunks(volume.data.chunks, "lazy" if pipe.lazy else "table")
        if wanted is not None and list(wanted) != [c[0] for c in volume.data.chunks]:
            volume = _read_in(volume, wanted, input, calibration)
    # a local cluster's workers are known before it starts: the graph is built for them
    # once, under names that stand for them until they are up (see below)
    planned = _planned_workers(options)
    with placing_on(planned) if planned else contextlib.nullcontext():
        with phases_shown(_phase_listener(echo, progress, None)):
            result = _dry_build(pipe, volume)
    if result is not None and not isinstance(result, (xr.DataArray, pd.DataFrame)):
        raise TypeError(
            f"pipeline {pipe.name} returned a {type(result).__name__}; microct run writes "
            "a volume (DataArray) or a table (DataFrame)"
        )
    metadata = {"pipeline": pipe.identity(), "chunks": [int(c[0]) for c in volume.data.chunks]}
    if significant := significant_picks(calibration, squeezed):
        metadata["calibration"] = significant
    if isinstance(result, xr.DataArray):
        identity = run_identity(metadata, [input], prepare(result))
    else:  # a table: compared without its shape, known once computed
        identity = run_identity(metadata, [input])
    action = check_output(
        output_path,
        overwrite=overwrite,
        resume=resume,
        identity=identity,
        inputs=[input],
        writer="run_pipeline",
    )
    if action == "done":
        echo(f"{output} is already complete (same pipeline, parameters and input); nothing to do")
        return output_path
    with dask_client(options) as client, writing_for("run_pipeline"):
        echo(describe_client(client, dashboard=options.dashboard))
        blocks = int(np.prod(volume.data.numblocks))
        size = f"{volume.size / 1e6:.1f} Mvox, {blocks} chunk{'s' if blocks != 1 else ''}"
        echo(
            f"{pipe.name}: {pipe.describe()} on {input} ({size}) → {output}"
            + (" (resuming)" if action == "resume" else "")
        )
        workers = cluster_threads()
        if isinstance(result, xr.DataArray) and workers:
            if sorted(planned.values()) == sorted(workers.values()):
                # the planned workers are these: the hints renamed, the graph kept
                addresses = dict(zip(planned, workers, strict=True))
                result = result.copy(data=moved_to_workers(result.data, addresses))
            else:
                # built again with the cluster's workers known, so that a pipeline
                # that places its blocks on them (the bead chain) does: the same
                # values. Its eager steps run here, on threads, as in the first build
                # (on the cluster they cost the workers 2.7 CPU seconds more on a
                # 128 × 256² bead scan; the build itself 1.2 s here)
                with placing_on(workers), dask.config.set(scheduler="threads"):
                    with phases_shown(_phase_listener(echo, progress, None)):
                        result = pipe.apply(volume)
        if isinstance(result, xr.DataArray):
            if progress:
                out = int(np.prod(result.data.numblocks))
                echo(f"computing and writing {out} chunk{'s' if out != 1 else ''}")
            path = write_volume(
                result,
                output_path,
                overwrite=overwrite,
                resume=resume,
                metadata=metadata,
                inputs=[input],
                client=client,
                progress=progress and _on_a_terminal(),
            )
        else:
            # the built-in pipelines name their own phases; a chain is one phase
            whole = pipe.name not in BUILTIN_PIPELINES
            with phases_shown(_phase_listener(echo, progress, client)):
                with phase(f"computing {pipe.describe()}") if whole else contextlib.nullcontext():
                    table = pipe.apply(volume)
            if not isinstance(table, pd.DataFrame):
                raise TypeError(
                    f"pipeline {pipe.name} returned a {type(table).__name__}; microct run "
                    "writes a volume (DataArray) or a table (DataFrame)"
                )
            echo(f"{len(table)} rows")
            if progress:
                echo("writing the table")
            path = write_table(
                table,
                output_path,
                overwrite=overwrite,
                resume=resume,
                metadata=metadata,
                inputs=[input],
            )
    echo(f"wrote {path}")
    return path


def _started_chunks(output: Path) -> tuple[int, ...] | None:
    """The chunks a run being resumed computed in (its record), so that a resume without
    ``--chunks`` computes as it started, whatever the default chunking was then."""
    state = run_state(output) or {}
    recorded = (state.get("identity") or {}).get("chunks")
    if isinstance(recorded, list) and recorded and all(isinstance(c, int) for c in recorded):
        return tuple(recorded)
    return None


def _read_in(
    volume: xr.DataArray, wanted: Sequence[int], input: str | Path, calibration: Mapping
) -> xr.DataArray:
    """``volume`` (``input`` opened with ``calibration``) in chunks of ``wanted`` voxels
    per axis: read again so when they are whole stored chunks (no rechunk in the graph),
    rechunked otherwise (a run started with another ``--chunks``)."""
    from xarray_microct.io import open_volume

    stored = [c[0] for c in volume.data.chunks]
    if len(wanted) != len(stored):
        # recorded by a run whose input read with another number of axes (another
        # channel= or time= pick): the chunks this run records differ then in length,
        # so check_output refuses the resume, naming what differs
        return volume
    if all(w % s == 0 or w >= n for w, s, n in zip(wanted, stored, volume.shape, strict=True)):
        return open_volume(input, chunks=tuple(wanted), **calibration)
    return volume.chunk(dict(zip(volume.dims, wanted, strict=True)))


def _planned_workers(options: ClusterOptions) -> dict[str, int]:
    """Threads per worker of the local cluster ``options`` start, under names standing
    for the workers' addresses (in their order); ``{}`` for any other kind of run or a
    single worker."""
    if options.kind != "local" or options.workers < 2:
        return {}
    threads = options.threads_per_worker or 1
    return {f"planned-worker-{i:04d}": threads for i in range(options.workers)}


def _on_a_terminal() -> bool:
    """Whether standard output is a terminal (or a Jupyter kernel's, which draws bars in
    place too): progress bars are drawn there only (in a log they would be lines of
    carriage returns; none where it is closed or None, as in a service that prints
    through ``echo``)."""
    if type(sys.stdout).__module__.startswith("ipykernel"):
        return True
    isatty = getattr(sys.stdout, "isatty", None)
    try:
        return bool(isatty is not None and isatty())
    except (ValueError, OSError):  # closed: "I/O operation on closed file"
        return False


def _phase_listener(
    echo: Callable[[str], Any], progress: bool, client: Any
) -> Callable[[str], Any] | None:
    """What ``microct run`` does at the start of each phase of a pipeline (see
    :mod:`xarray_microct.core.progress`): print its label, then (on a terminal) show a
    progress bar of its computations; None when ``progress`` is off."""
    if not progress:
        return None

    def show(label: str) -> contextlib.AbstractContextManager:
        echo(label)
        return _phase_bar(client) if _on_a_terminal() else contextlib.nullcontext()

    return show


_SHOWING: ContextVar[Any] = ContextVar("microct_phase_bar", default=None)
"""The client whose bar the computations started in this context show; other threads'
computations show none."""
_BARS_LOCK = threading.Lock()
_BARS: dict[int, int] = {}
"""Phases showing a bar on each client (by ``id``), while its ``get`` draws them."""


@contextlib.contextmanager
def _phase_bar(client: Any) -> Iterator[None]:
    """A progress bar for the computations a phase starts itself: Dask's on the threaded
    scheduler (computations under a second show none), ``distributed``'s on a client.

    Only the computations started in the phase's own context (its thread) draw in it,
    and they compute where they would without a bar: nothing global is set for the
    phase (Dask's ``scheduler`` setting is left alone: another thread computing
    meanwhile runs where it would without the bar, on the run's client where there is
    one, and its work is not counted), and what the bar installed is removed when the
    phase ends, also on an error.
    """
    if client is None:
        with own_progress_bar(minimum=1.0):
            yield
        return
    token = _SHOWING.set(client)
    try:
        with _bars_drawn_by(client):
            yield
    finally:
        _SHOWING.reset(token)


@contextlib.contextmanager
def _bars_drawn_by(client: Any) -> Iterator[None]:
    """While the block runs, ``client.get`` (what ``dask.compute`` calls on a client)
    draws ``distributed``'s bar for the computations of a context showing ``client``'s
    bar (:data:`_SHOWING`) and computes the others as before; the client's own ``get``
    is back once no phase shows a bar on it."""
    with _BARS_LOCK:
        if not _BARS.get(id(client)):
            client.get = types.MethodType(_get_with_bar, client)
        _BARS[id(client)] = _BARS.get(id(client), 0) + 1
    try:
        yield
    finally:
        with _BARS_LOCK:
            _BARS[id(client)] -= 1
            if not _BARS[id(client)]:
                del _BARS[id(client)]
                vars(client).pop("get", None)  # the class's ``get`` again


def _get_with_bar(client: Any, graph: Any, keys: Any, **kwargs: Any) -> Any:
    """``client.get`` with ``distributed``'s bar for a computation of a phase that shows
    it (see :func:`_bars_drawn_by`)."""
    get = type(client).get.__get__(client)
    if _SHOWING.get() is not client or kwargs.get("sync", True) is False:
        return get(graph, keys, **kwargs)
    from distributed import progress as distributed_progress

    futures = get(graph, keys, **{**kwargs, "sync": False})
    distributed_progress(futures)
    return client.gather(futures)


__all__ = [
    "BUILTIN_PIPELINES",
    "RUN_KEY",
    "Pipeline",
    "check_output",
    "export_pipeline",
    "load_pipeline",
    "open_result",
    "pipeline_from_records",
    "read_table",
    "run_pipeline",
    "run_state",
    "save_pipeline",
    "write_table",
    "write_volume",
    "written_blocks",
]
