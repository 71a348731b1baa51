"""Pipelines as files, and running them from one Zarr store to another (``microct run``).

A *pipeline file* is the list of steps that :func:`xarray_microct.replay` runs: the
provenance records of a result, reduced to ``op`` and ``params``. In YAML::

    microct_pipeline: 1
    steps:
      - op: median
        params: {radius: 1 voxel}
      - op: gaussian
        params: {sigma: 0.65 um}
      - op: normalize
        params: {method: percentile}

JSON works the same, and so does the bare list of records (``attrs["microct_provenance"]``
of any result; source records such as ``open_volume`` are skipped). :func:`export_pipeline`
writes such a file from a stored result, :func:`load_pipeline` reads one (or a built-in
pipeline by name) and checks every step before any work starts, and :func:`run_pipeline`
runs it on a volume and writes the result with :func:`write_volume`, chunk by chunk,
resumably.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import shutil
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr
import yaml
import zarr
from zarr.core.sync import sync

from xarray_microct.cluster import ClusterOptions, dask_client, describe_client
from xarray_microct.core.provenance import package_version, records_of, to_json_value, utc_now
from xarray_microct.core.registry import REGISTRY, check_records
from xarray_microct.io.ome import MARKER, ngff_metadata, open_pyramid

PIPELINE_FORMAT = 1
RUN_KEY = "microct_run"
"""Root attribute of a store written by :func:`write_volume`: status and fingerprint."""
LEVEL = "scale0"
NGFF_VERSION = "0.5"

BUILTIN_PIPELINES: dict[str, str] = {
    "fibers": "xarray_microct.pipelines.fibers:fibers",
    "beads": "xarray_microct.pipelines.beads:beads",
}
"""Built-in pipeline names and the function (``module:name``) that runs each."""


@dataclass(frozen=True)
class Pipeline:
    """A named analysis: a chain of steps (the records :func:`xarray_microct.replay` runs)
    or a built-in pipeline function with its parameters.

    Attributes
    ----------
    name : str
        A built-in name or the file it was read from.
    steps : tuple of dict
        ``{"op": ..., "params": {...}}`` per step, already checked against the registry
        (empty for a built-in function).
    versions : mapping
        Package versions recorded with the steps (informative).
    func : callable, optional
        A built-in pipeline function ``func(volume, **params)``.
    params : mapping
        Parameters of ``func``.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> p = Pipeline("smooth", ({"op": "gaussian", "params": {"sigma": "1 voxel"}},))
    >>> out = p.apply(mct.from_array(np.random.rand(8, 8, 8)))
    >>> [r["op"] for r in out.attrs["microct_provenance"]]
    ['gaussian']
    >>> p.describe()
    'gaussian'
    """

    name: str
    steps: tuple[dict[str, Any], ...] = ()
    versions: Mapping[str, str] = field(default_factory=dict, compare=False)
    func: Callable[..., Any] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def apply(self, volume: Any) -> Any:
        """Build the result of the pipeline on ``volume`` (lazy for chains of verbs).

        Parameter values are checked here, while the graph is built, so a bad value
        fails before anything computes; the error names the step.
        """
        if self.func is not None:
            try:
                return self.func(volume, **self.params)
            except (ValueError, TypeError) as err:
                raise ValueError(
                    f"pipeline {self.name} with parameters {dict(self.params)}: {err}"
                ) from err
        out = volume
        for index, step in enumerate(self.steps):
            try:
                out = REGISTRY[step["op"]].verb(out, **step["params"])
            except (ValueError, TypeError) as err:
                raise ValueError(
                    f"pipeline {self.name}: step {index} ({step['op']}) with parameters "
                    f"{step['params']}: {err}"
                ) from err
        return out

    def describe(self) -> str:
        """The steps as ``a → b → c``, or ``name(params)`` for a built-in."""
        if self.func is not None:
            args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
            return f"{self.name}({args})"
        return " → ".join(s["op"] for s in self.steps)

    def identity(self) -> Any:
        """What identifies the analysis (compared when a run is resumed)."""
        if self.func is not None:
            return {"builtin": self.name, "params": dict(self.params)}
        return [{"op": s["op"], "params": dict(s["params"])} for s in self.steps]

    def to_dict(self) -> dict[str, Any]:
        """The pipeline as the mapping written to a pipeline file."""
        if self.func is not None:
            raise ValueError(
                f"the built-in pipeline {self.name} is run by name; export the pipeline of "
                "one of its results instead (microct export-pipeline RESULT FILE)"
            )
        out: dict[str, Any] = {"microct_pipeline": PIPELINE_FORMAT}
        if self.versions:
            out["versions"] = dict(self.versions)
        out["steps"] = self.identity()
        return out


def pipeline_from_records(records: Iterable[Mapping[str, Any]], name: str = "records") -> Pipeline:
    """A :class:`Pipeline` from provenance records or steps, checked against the registry.

    Raises
    ------
    ValueError
        An unknown verb, a parameter the verb does not take, or a step whose parameters
        could not be stored (e.g. an array).

    Examples
    --------
    >>> pipeline_from_records([{"op": "gaussain", "params": {}}])
    Traceback (most recent call last):
    ...
    ValueError: pipeline records: unknown operation 'gaussain'; known operations: ...
    """
    try:
        steps = check_records(records)
    except ValueError as err:
        raise ValueError(f"pipeline {name}: {err}") from err
    if not steps:
        raise ValueError(f"pipeline {name} has no steps to run")
    versions = {}
    for record in records:
        versions.update(record.get("versions", {}))
    return Pipeline(name, tuple(steps), versions)


def _parse_params(params: Mapping[str, Any] | Sequence[str] | None) -> dict[str, Any]:
    if params is None:
        return {}
    if isinstance(params, Mapping):
        return dict(params)
    out = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--param takes KEY=VALUE (e.g. bead_radius='20 um'), got {item!r}")
        out[key.strip()] = yaml.safe_load(value) if value.strip() else None
    return out


def _read_file(path: Path) -> Any:
    text = path.read_text()
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
        raise ValueError(f"pipeline file {path} is not valid {kind}: {err}") from err


def _builtin(name: str, params: Mapping[str, Any]) -> Pipeline:
    module_name, _, function_name = BUILTIN_PIPELINES[name].partition(":")
    try:
        func = getattr(importlib.import_module(module_name), function_name)
    except (ModuleNotFoundError, AttributeError) as err:
        raise ValueError(
            f"built-in pipeline {name!r} is not available in this installation ({err})"
        ) from err
    signature = inspect.signature(func)
    try:
        signature.bind(None, **params)
    except TypeError as err:
        raise ValueError(
            f"pipeline {name}: {err}; its parameters are {list(signature.parameters)[1:]} "
            "(give them with --param KEY=VALUE)"
        ) from err
    return Pipeline(name, func=func, params=dict(params))


def load_pipeline(
    spec: str | Path | Sequence[Mapping[str, Any]] | Pipeline,
    params: Mapping[str, Any] | Sequence[str] | None = None,
) -> Pipeline:
    """Read a pipeline: a built-in name, a YAML/JSON file, or a list of records.

    Every step is checked (known verb, accepted parameter names) before returning.

    Parameters
    ----------
    spec : str, Path, list of dict or Pipeline
        ``"fibers"`` or ``"beads"``; a ``.yaml``/``.yml``/``.json`` file with a
        ``steps`` list (or a bare list of records); or the records themselves.
    params : mapping or list of "KEY=VALUE", optional
        Parameters of a built-in pipeline (values are read as YAML: ``20``, ``'20 um'``).

    Returns
    -------
    Pipeline

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "smooth.yaml"
    >>> _ = path.write_text("steps:\\n  - op: gaussian\\n    params: {sigma: 2 um}\\n")
    >>> load_pipeline(path).steps
    ({'op': 'gaussian', 'params': {'sigma': '2 um'}},)
    >>> _ = path.write_text("steps:\\n  - op: gaussian\\n    params: {sigma: 2, truncat: 3}\\n")
    >>> load_pipeline(path)
    Traceback (most recent call last):
    ...
    ValueError: pipeline ...smooth.yaml: step 0 (gaussian): got an unexpected keyword ... 'truncat'
    """
    params = _parse_params(params)
    builtin = isinstance(spec, str) and spec in BUILTIN_PIPELINES
    if params and not builtin:
        raise ValueError(
            "--param sets parameters of a built-in pipeline; a pipeline file holds its "
            "own parameters (edit the file)"
        )
    if isinstance(spec, Pipeline):
        return spec
    if not isinstance(spec, (str, Path)):
        return pipeline_from_records(list(spec))
    if builtin:
        return _builtin(str(spec), params)
    path = Path(spec)
    if not path.is_file():
        looks_like_file = path.suffix.lower() in (".yaml", ".yml", ".json")
        what = f"pipeline file {path} does not exist" if looks_like_file else (
            f"unknown pipeline {str(spec)!r}"
        )
        raise ValueError(
            f"{what}: give a built-in name ({', '.join(sorted(BUILTIN_PIPELINES))}) or a "
            "YAML/JSON file of steps (e.g. from `microct export-pipeline`)"
        )
    content = _read_file(path)
    if isinstance(content, Mapping):
        version = content.get("microct_pipeline", PIPELINE_FORMAT)
        if version != PIPELINE_FORMAT:
            raise ValueError(
                f"pipeline file {path} has format {version!r}; this version of "
                f"xarray-microct reads format {PIPELINE_FORMAT}"
            )
        records = content.get("steps")
    else:
        records = content
    if not isinstance(records, list) or not all(isinstance(r, Mapping) for r in records):
        raise ValueError(
            f"pipeline file {path} must hold a list of steps ({{op: ..., params: {{...}}}}), "
            "either at the top level or under 'steps'"
        )
    return pipeline_from_records(records, name=str(path))


def save_pipeline(pipeline: Any, path: str | Path) -> Path:
    """Write a pipeline (or the provenance of a result) as a YAML or JSON pipeline file.

    Parameters
    ----------
    pipeline : Pipeline, list of records, or a result of xarray_microct
        What to write; a result's ``attrs["microct_provenance"]`` is used.
    path : str or Path
        ``.json`` writes JSON; anything else YAML.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.random.rand(8, 8, 8), spacing=0.5)
    >>> result = vol.microct.gaussian(sigma="1 um").microct.normalize()
    >>> path = save_pipeline(result, pathlib.Path(tempfile.mkdtemp()) / "p.yaml")
    >>> [s["op"] for s in load_pipeline(path).steps]
    ['gaussian', 'normalize']
    """
    if not isinstance(pipeline, Pipeline):
        pipeline = pipeline_from_records(records_of(pipeline), name=str(path))
    path = Path(path)
    content = pipeline.to_dict()
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(content, indent=2) + "\n")
    else:
        header = f"# xarray-microct pipeline, written {utc_now()}\n"
        path.write_text(header + yaml.safe_dump(content, sort_keys=False))
    return path


def export_pipeline(result_store: str | Path, path: str | Path) -> Path:
    """Export the provenance of a stored result as a pipeline file (``microct export-pipeline``).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray_microct as mct
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> vol = mct.from_array(np.random.rand(8, 8, 8), spacing=0.5, name="scan")
    >>> _ = vol.microct.median(radius="1 voxel").to_zarr(folder / "result.zarr")
    >>> p = export_pipeline(folder / "result.zarr", folder / "again.yaml")
    >>> load_pipeline(p).steps[0]["op"]
    'median'
    """
    return save_pipeline(_records_at(result_store), path)


# ------------------------------------------------------------------ writing results


def _store_path(store: str | Path) -> Path:
    return Path(store).expanduser().absolute()


def run_state(store: str | Path) -> dict[str, Any] | None:
    """The ``microct_run`` attribute of a store (status, fingerprint), or None.

    ``None`` when nothing is at ``store`` or the store was not written by
    :func:`write_volume`.

    Examples
    --------
    >>> run_state("/nonexistent/result.zarr") is None
    True
    """
    path = _store_path(store)
    if not path.exists():
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            group = zarr.open_group(str(path), mode="r")
    except (FileNotFoundError, ValueError, TypeError, zarr.errors.NodeTypeValidationError):
        return None
    state = group.attrs.get(RUN_KEY)
    return dict(state) if isinstance(state, Mapping) else None


def _chunk_keys(array: zarr.Array) -> set[str]:
    async def collect() -> set[str]:
        store = array.store_path.store
        prefix = array.store_path.path
        prefix = f"{prefix}/" if prefix else ""
        return {k[len(prefix):] async for k in store.list_prefix(prefix)}

    return sync(collect())


def written_blocks(array: zarr.Array) -> set[tuple[int, ...]]:
    """Indices of the chunks of ``array`` that are stored (each written atomically)."""
    present = _chunk_keys(array)
    grid = [int(np.ceil(s / c)) for s, c in zip(array.shape, array.chunks, strict=True)]
    return {
        index
        for index in np.ndindex(*grid)
        if array.metadata.encode_chunk_key(index) in present
    }


def _regular(data: da.Array) -> da.Array:
    """Rechunk so that every chunk but the last along each axis has the same size."""
    if all(len(set(c[:-1])) <= 1 and c[-1] <= c[0] for c in data.chunks):
        return data
    return data.rechunk(tuple(max(c) for c in data.chunks))


def _prepare(result: xr.DataArray) -> xr.DataArray:
    result = result.copy(data=_regular(da.asarray(result.data)))
    return result if result.name is not None else result.rename("volume")


def _fingerprint(result: xr.DataArray, meta: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **meta,
        "name": str(result.name),
        "shape": list(result.shape),
        "dtype": str(result.dtype),
        "chunks": [int(c[0]) for c in result.data.chunks],
    }


def check_output(
    store: str | Path,
    *,
    overwrite: bool = False,
    resume: bool = False,
    fingerprint: Mapping[str, Any] | None = None,
    inputs: Iterable[str | Path] = (),
) -> str:
    """Decide what to do with ``store`` before any work: ``"new"``, ``"overwrite"``,
    ``"resume"`` or ``"done"`` (a complete run with the same fingerprint and ``resume``).

    Raises
    ------
    FileExistsError
        Something is at ``store`` and neither ``overwrite`` nor ``resume`` is given.
    ValueError
        ``resume`` of a store that is not an interrupted run of the same pipeline on the
        same input, both flags at once, or an output that is one of the inputs.

    Examples
    --------
    >>> check_output("/nonexistent/result.zarr")
    'new'
    """
    if overwrite and resume:
        raise ValueError("give --overwrite (start again) or --resume (finish), not both")
    path = _store_path(store)
    for source in inputs:
        if _store_path(source) == path:
            raise ValueError(f"the output {store} is the input; write the result elsewhere")
    if not path.exists():
        return "new"
    state = run_state(path)
    if overwrite:
        return "overwrite"
    if state is None:
        raise FileExistsError(
            f"{store} exists and was not written by `microct run`; choose another output "
            "or pass --overwrite to replace it"
        )
    complete = state.get("status") == "complete"
    if not resume:
        if complete:
            raise FileExistsError(f"{store} exists; pass --overwrite to replace it")
        raise FileExistsError(
            f"{store} holds an interrupted run ({state.get('status')}); pass --resume to "
            "finish it, or --overwrite to start again"
        )
    if fingerprint is not None:
        recorded = state.get("fingerprint")
        if recorded != json.loads(json.dumps(dict(fingerprint))):
            raise ValueError(
                f"cannot resume {store}: it was started with a different pipeline, input or "
                f"chunking ({recorded}); pass --overwrite to start again"
            )
    return "done" if complete else "resume"


def _set_state(path: Path, state: Mapping[str, Any], ome: Mapping[str, Any] | None = None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        group = zarr.open_group(str(path), mode="r+")
        group.attrs.update({**(ome or {}), RUN_KEY: dict(state)})
        zarr.consolidate_metadata(str(path))


def _compute(stored: Any, client: Any, progress: bool) -> None:
    if client is not None:
        from distributed import progress as distributed_progress

        future = client.compute(stored)
        if progress:
            distributed_progress(future)
        future.result()
        return
    if progress:
        from dask.diagnostics import ProgressBar

        with ProgressBar():
            dask.compute(stored)
    else:
        dask.compute(stored)


def write_volume(
    result: xr.DataArray,
    store: str | Path,
    *,
    overwrite: bool = False,
    resume: bool = False,
    metadata: Mapping[str, Any] | None = None,
    client: Any = None,
    progress: bool = False,
) -> Path:
    """Write a lazy volume to an OME-Zarr store (NGFF 0.5) chunk by chunk, resumably.

    The layout is that of :func:`xarray_microct.io.ome.to_ome_zarr` (one level,
    ``scale0/<name>`` with its coordinates). The store is created first (metadata,
    coordinates, provenance) and marked incomplete; each chunk is then computed and
    written (Zarr writes every chunk atomically, empty ones included); the OME-NGFF
    metadata and the "complete" marks are written only when every chunk is stored. An
    interrupted write is therefore never mistaken for a finished one (readers refuse
    it), and ``resume=True`` computes only the chunks that are missing.

    Parameters
    ----------
    result : xarray.DataArray
        A lazy volume (e.g. a pipeline's result).
    store : str or Path
        The store to write (read it with :func:`open_result` or
        :func:`xarray_microct.open_pyramid`).
    overwrite : bool
        Replace whatever is at ``store``.
    resume : bool
        Finish an interrupted write of the same result (same ``metadata``, shape,
        dtype and chunks).
    metadata : mapping, optional
        JSON-serialisable facts identifying the run (pipeline, input); compared on
        resume.
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
    path = _store_path(store)
    result = _prepare(result)
    fingerprint = _fingerprint(result, metadata or {})
    action = check_output(path, overwrite=overwrite, resume=resume, fingerprint=fingerprint)
    if action == "done":
        return path
    state = {"status": "incomplete", "started": utc_now(), "fingerprint": fingerprint,
             "xarray_microct": package_version("xarray_microct")}
    array_path = f"{LEVEL}/{result.name}"
    if action in ("new", "overwrite"):
        if action == "overwrite" and path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # The layout of to_ome_zarr (scale0/<name> + coordinates): metadata and
            # coordinates now, the chunks below.
            result.to_dataset().to_zarr(str(path), group=LEVEL, mode="w-", compute=False,
                                        zarr_format=3)
            root = zarr.open_group(str(path), mode="r+")
            root.attrs.update({MARKER: {"complete": False, "ngff": NGFF_VERSION},
                               RUN_KEY: state})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        target = zarr.open_array(
            str(path), path=array_path, mode="r+", config={"write_empty_chunks": True}
        )
    done = written_blocks(target) if action == "resume" else set()
    data = result.data
    missing = [i for i in np.ndindex(*data.numblocks) if i not in done]
    if missing:
        if done:
            starts = [np.concatenate([[0], np.cumsum(c)[:-1]]) for c in data.chunks]
            sources = [data.blocks[i] for i in missing]
            regions = [
                tuple(
                    slice(int(s[j]), int(s[j]) + c[j])
                    for s, c, j in zip(starts, data.chunks, i, strict=True)
                )
                for i in missing
            ]
            stored = da.store(sources, [target] * len(missing), regions=regions,
                              lock=False, compute=False)
        else:
            stored = da.store(data, target, lock=False, compute=False)
        _compute(stored, client, progress)
    _set_state(path, {**state, "status": "complete", "finished": utc_now(),
                      "chunks_written": len(missing)},
               ome={**ngff_metadata([(LEVEL, result)], NGFF_VERSION),
                    MARKER: {"complete": True, "ngff": NGFF_VERSION}})
    return path


def write_table(
    table: pd.DataFrame,
    store: str | Path,
    *,
    overwrite: bool = False,
    resume: bool = False,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write a result table (e.g. the fiber table) to a Zarr store, one array per column.

    The table's ``attrs`` (units, provenance...) become the store's attributes; the
    store is marked complete only once written, like :func:`write_volume`. Read it back
    with :func:`read_table`.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "fibers.zarr"
    >>> table = pd.DataFrame({"fiber_id": [1, 2], "radius": [6.1, 6.6]})
    >>> table.attrs["units"] = "micrometer"
    >>> _ = write_table(table, store)
    >>> back = read_table(store)
    >>> list(back.columns), back["radius"].tolist(), back.attrs["units"]
    (['fiber_id', 'radius'], [6.1, 6.6], 'micrometer')
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"write_table writes a pandas.DataFrame, got {type(table).__name__}")
    path = _store_path(store)
    fingerprint = {**(metadata or {}), "columns": [str(c) for c in table.columns]}
    action = check_output(path, overwrite=overwrite, resume=resume, fingerprint=fingerprint)
    if action == "done":
        return path
    if path.exists():  # overwrite, or finish an interrupted table: write it again whole
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    state = {"status": "incomplete", "started": utc_now(), "fingerprint": fingerprint,
             "xarray_microct": package_version("xarray_microct")}
    dataset = xr.Dataset.from_dataframe(table.reset_index(drop=True).rename_axis("row"))
    dataset.attrs = {str(k): to_json_value(v) for k, v in table.attrs.items()}
    dataset.attrs[RUN_KEY] = state
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset.to_zarr(str(path), mode="w-")
    _set_state(path, {**state, "status": "complete", "finished": utc_now()})
    return path


def read_table(store: str | Path) -> pd.DataFrame:
    """Read a table written by :func:`write_table` (with its ``attrs``); see there."""
    path = _store_path(store)
    state = run_state(path)
    if state is not None and state.get("status") != "complete":
        raise ValueError(f"{store} is an interrupted write; run it again with --resume")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = xr.open_zarr(str(path))
    table = dataset.to_dataframe().reset_index(drop=True)
    columns = ((state or {}).get("fingerprint") or {}).get("columns")
    if columns and set(columns) == set(table.columns):
        table = table[columns]  # the order they were written in
    table.attrs = {k: v for k, v in dataset.attrs.items() if k != RUN_KEY}
    return table


def open_result(store: str | Path) -> xr.DataArray | pd.DataFrame:
    """Open what ``microct run`` wrote: a volume (OME-Zarr) or a table.

    Also opens any OME-Zarr image (its finest level) or volume :func:`open_volume` reads.

    Raises
    ------
    ValueError
        The run that writes ``store`` was interrupted (finish it with ``--resume``).

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

    state = run_state(store)
    if state is not None and state.get("status") != "complete":
        raise ValueError(
            f"{store} is an interrupted write (status {state.get('status')!r}): some of it "
            "is missing. Finish it with `microct run ... --resume`, or run again with "
            "--overwrite"
        )
    if _is_table(store):
        return read_table(store)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = zarr.open_group(str(_store_path(store)), mode="r") if Path(store).is_dir() else None
    if root is not None and ("ome" in root.attrs or "multiscales" in root.attrs):
        return open_pyramid(store).microct.select_level(0)
    return open_volume(store)


def _records_at(store: str | Path) -> list[dict[str, Any]]:
    """The provenance of a stored result: a volume, or a table from :func:`write_table`."""
    return records_of(open_result(store))


def _is_table(store: str | Path) -> bool:
    path = _store_path(store)
    if not path.is_dir():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            dataset = xr.open_zarr(str(path))
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return False
    return "row" in dataset.dims and not any(
        tuple(v.dims[-3:]) == ("z", "y", "x") for v in dataset.data_vars.values()
    )


# ------------------------------------------------------------------ microct run


def _dry_build(pipe: Pipeline, volume: xr.DataArray) -> Any:
    """The lazy result, or None when the pipeline computes while it is built (tables).

    Either way every parameter checked before the first computation has been checked.
    """
    from xarray_microct.testing import ComputeForbidden, raise_if_dask_computes

    try:
        with raise_if_dask_computes():
            return pipe.apply(volume)
    except ComputeForbidden:
        return None


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
        Rechunk the input to this many voxels per side (the store's chunks by default).
    progress : bool
        Show a progress bar.
    echo : callable
        Where to print the messages (``print`` by default).

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
    from xarray_microct.io import open_volume

    options = (options or ClusterOptions()).check()
    if chunks is not None and (not isinstance(chunks, int) or chunks < 1):
        raise ValueError(f"--chunks must be a positive number of voxels, got {chunks!r}")
    pipe = load_pipeline(pipeline, params)
    volume = open_volume(input)
    if chunks is not None:
        volume = volume.chunk(dict.fromkeys(volume.dims[-3:], chunks))
    result = _dry_build(pipe, volume)
    if result is not None and not isinstance(result, (xr.DataArray, pd.DataFrame)):
        raise TypeError(
            f"pipeline {pipe.name} returned a {type(result).__name__}; microct run writes "
            "a volume (DataArray) or a table (DataFrame)"
        )
    metadata = {"pipeline": pipe.identity(), "input": str(_store_path(input))}
    if isinstance(result, xr.DataArray):
        fingerprint = _fingerprint(_prepare(result), metadata)
    else:  # a table: its columns are known once computed
        fingerprint = None
    action = check_output(output, overwrite=overwrite, resume=resume,
                          fingerprint=fingerprint, inputs=[input])
    if action == "done":
        echo(f"{output} is already complete; nothing to do")
        return _store_path(output)
    with dask_client(options) as client:
        echo(describe_client(client))
        size = f"{volume.size / 1e6:.1f} Mvox, {int(np.prod(volume.data.numblocks))} chunks"
        echo(f"{pipe.name}: {pipe.describe()} on {input} ({size}) → {output}"
             + (" (resuming)" if action == "resume" else ""))
        if isinstance(result, xr.DataArray):
            path = write_volume(result, output, overwrite=overwrite, resume=resume,
                                metadata=metadata, client=client, progress=progress)
        else:
            with _progress_of_eager(client, progress):
                table = pipe.apply(volume)
            if not isinstance(table, pd.DataFrame):
                raise TypeError(
                    f"pipeline {pipe.name} returned a {type(table).__name__}; microct run "
                    "writes a volume (DataArray) or a table (DataFrame)"
                )
            echo(f"{len(table)} rows")
            path = write_table(table, output, overwrite=overwrite, resume=resume,
                               metadata=metadata)
    echo(f"wrote {path}")
    return path


@contextlib.contextmanager
def _progress_of_eager(client: Any, progress: bool) -> Iterator[None]:
    """A progress bar for computations a pipeline starts itself (threaded scheduler);
    with a client, the dashboard (printed above) shows them."""
    if progress and client is None:
        from dask.diagnostics import ProgressBar

        with ProgressBar():
            yield
    else:
        yield


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
