"""Pipelines as files: the steps :func:`xarray_microct.replay` runs, read and written.

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
of any result; source records such as ``open_volume`` are skipped).

A result computed on one level of a pyramid (``open_volume(store, level=1)`` of a
pyramid this project wrote) is exported with that level on its ``pyramid`` step::

    steps:
      - op: pyramid
        params: {levels: 3, factor: 2, method: null}
        level: 1                  # the analysis ran on this level
        level_factor: [2, 2, 2]   # its downsampling (z, y, x), checked on replay
      - op: gaussian
        params: {sigma: 1 um}

Such a step builds the pyramid of the input and goes on with the one level, so the file
replays on the original full-resolution volume (or the pyramid store itself, whose first
level is that volume) and gives the same result. A level downsampled differently on the
replay's input (``levels: null`` plans by the chunking) is an error, not a silent
change of resolution. :func:`export_pipeline`
writes such a file from a stored result, :func:`load_pipeline` reads one (or a built-in
pipeline by name) and checks every step before any work starts; ``microct run``
(:func:`xarray_microct.runner.run_pipeline`) runs it.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import inspect
import itertools
import json
import math
import os
import shutil
import typing
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from xarray_microct.core.errors import OptionError, OptionExistsError
from xarray_microct.core.provenance import records_of, utc_now
from xarray_microct.core.registry import REGISTRY, check_records, run_step
from xarray_microct.core.registry import replay as replay_chain
from xarray_microct.core.tree import level_factor, levels_made, select_node, single_image
from xarray_microct.core.volume import PROVENANCE_KEY

PIPELINE_FORMAT = 1

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
        (empty for a built-in function); a ``pyramid`` step may carry ``"level"``, the
        level the next steps run on.
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
        out, stages = volume, [volume]
        for index, step in enumerate(self.steps):
            try:
                out = run_step(step, out, stages)
                if "level" in step:
                    out = take_level(
                        out,
                        step["level"],
                        step.get("level_factor"),
                        factor=step["params"].get("factor", 2),
                        levels=step["params"].get("levels"),
                    )
            except (ValueError, TypeError, IndexError, KeyError) as err:
                raise ValueError(
                    f"pipeline {self.name}: step {index} ({step['op']}) with parameters "
                    f"{step['params']}: {err}"
                ) from err
            stages.append(out)
        return out

    @property
    def lazy(self) -> bool:
        """Whether building the result computes nothing: declared by the registry for
        each step (a chain is lazy when every verb is), and by the return annotation of
        a built-in (one returning a table computes it)."""
        if self.func is not None:
            return typing.get_type_hints(self.func).get("return") is not pd.DataFrame
        return all(REGISTRY[step["op"]].lazy for step in self.steps)

    def describe(self) -> str:
        """The steps as ``a → b → c``, or ``name(params)`` for a built-in."""
        if self.func is not None:
            args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
            return f"{self.name}({args})"
        return " → ".join(
            s["op"] + (f" (level {s['level']})" if "level" in s else "") for s in self.steps
        )

    def identity(self) -> Any:
        """What identifies the analysis (compared when a run is resumed)."""
        if self.func is not None:
            return {"builtin": self.name, "params": dict(self.params)}
        return [{**s, "params": dict(s["params"])} for s in self.steps]

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

    A ``pyramid`` step keeps the level the next steps ran on
    (:func:`pyramid_levels_recorded`).

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
    records = pyramid_levels_recorded(list(records))
    try:
        steps = check_records(records)
    except ValueError as err:
        raise ValueError(f"pipeline {name}: {err}") from err
    if not steps:
        raise ValueError(f"pipeline {name} has no steps to run")
    kept = [r for r in records if not r.get("source")]
    for index, (step, record) in enumerate(zip(steps, kept, strict=True)):
        if "level" not in record:
            continue
        level = record["level"]
        if step["op"] != "pyramid" or isinstance(level, bool) or not isinstance(level, (int, str)):
            raise ValueError(
                f"pipeline {name}: step {index} ({step['op']}) has level {level!r}; only a "
                "pyramid step takes a level (an index, 0 = full resolution, or a node name)"
            )
        step["level"] = level
        if "level_factor" in record:
            factor = record["level_factor"]
            if not (
                isinstance(factor, list)
                and len(factor) == 3
                and all(type(f) is int and f >= 1 for f in factor)
            ):
                raise ValueError(
                    f"pipeline {name}: step {index} (pyramid) has level_factor {factor!r}; "
                    "give the level's downsampling factor per axis, e.g. [1, 2, 2]"
                )
            step["level_factor"] = factor
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
        names = list(signature.parameters)[1:]
        close = [difflib.get_close_matches(key, names, n=1) for key in params if key not in names]
        hint = "".join(f" (did you mean {match[0]!r}?)" for match in close if match)
        raise ValueError(
            f"pipeline {name}: {err}{hint}; its parameters are {names} "
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
    ValueError: pipeline ...smooth.yaml: ... 'truncat' (did you mean 'truncate'?)...
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
        what = (
            f"pipeline file {path} does not exist"
            if looks_like_file
            else (f"unknown pipeline {str(spec)!r}")
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


PIPELINE_HEADER = "xarray-microct pipeline, written "
"""How a pipeline file this project wrote begins: the first line of a YAML file (after
``# ``), the ``written_by`` entry of a JSON file. Only such a file is replaced."""
_MAX_PIPELINE_BYTES = 16 * 2**20  # a larger file is not one of ours


def written_pipeline(path: str | Path) -> bool:
    """Whether ``path`` is a pipeline file this project wrote (:func:`save_pipeline`).

    A regular file (not a symbolic link) that parses as a pipeline (``microct_pipeline``
    and ``steps``) and carries this project's mark: a YAML file's first line
    ``# xarray-microct pipeline, written ...``, a JSON file's ``written_by`` entry.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "mine.yaml").write_text("steps:\\n  - op: gaussian\\n")
    >>> written_pipeline(folder / "mine.yaml")
    False
    >>> pipeline = pipeline_from_records([{"op": "gaussian", "params": {"sigma": 1}}])
    >>> written_pipeline(save_pipeline(pipeline, folder / "ours.json"))
    True
    """
    path = Path(path)
    try:
        if path.is_symlink() or not path.is_file():
            return False
        with path.open("rb") as file:
            data = file.read(_MAX_PIPELINE_BYTES + 1)
        if len(data) > _MAX_PIPELINE_BYTES:
            return False
        text = data.decode("utf-8")
        content = yaml.safe_load(text)  # JSON is YAML
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    if not (isinstance(content, Mapping) and "microct_pipeline" in content):
        return False
    if not isinstance(content.get("steps"), list):
        return False
    mark = content.get("written_by")
    return text.startswith(f"# {PIPELINE_HEADER}") or (
        isinstance(mark, str) and mark.startswith(PIPELINE_HEADER)
    )


def check_pipeline_target(
    path: str | Path, *, overwrite: bool = False, inputs: Iterable[Any] = ()
) -> bool:
    """Check that a pipeline file may be written at ``path`` without losing anything;
    return whether it replaces an existing file (a pipeline file this project wrote).

    Parameters
    ----------
    path : str or Path
        The pipeline file to write (a local path).
    overwrite : bool
        Whether a pipeline file this project wrote (:func:`written_pipeline`) may be
        replaced. Nothing else ever is: not a file of yours, a folder, a symbolic link
        (nor what it points to).
    inputs : iterable of str or Path
        Stores the pipeline comes from: ``path`` may not be, contain or lie inside one
        (a file inside a store would make it a store with foreign files).

    Raises
    ------
    ValueError
        ``path`` is a URL, or is, contains or lies inside an input.
    FileExistsError
        Something is at ``path`` that may not be replaced.
    FileNotFoundError
        The folder of ``path`` does not exist.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> check_pipeline_target(folder / "steps.yaml")
    False
    >>> _ = (folder / "scan.tif").write_bytes(b"II*\\x00")
    >>> check_pipeline_target(folder / "scan.tif", overwrite=True)
    Traceback (most recent call last):
    ...
    FileExistsError: ...scan.tif was not written by xarray-microct ...; refusing to replace it...
    """
    from xarray_microct.io.paths import is_url
    from xarray_microct.io.safety import check_not_input

    if is_url(str(path)):
        raise ValueError(
            f"{path} is a URL; a pipeline file is written to a local path (copy it "
            "there afterwards)"
        )
    check_not_input(path, inputs)
    path = Path(path)
    if not os.path.lexists(path):
        if path.parent.exists() and not path.parent.is_dir():
            raise FileExistsError(
                f"{path.parent} is a file, not a folder: a pipeline file cannot be written "
                "inside it; choose another path for the pipeline file"
            )
        if not path.parent.is_dir():
            raise FileNotFoundError(
                f"the folder {path.parent} does not exist; create it first, or choose "
                "another path for the pipeline file"
            )
        return False
    if path.is_symlink():
        raise FileExistsError(
            f"{path} is a symbolic link; refusing to write through it or replace it. "
            "Remove the link yourself or choose another path"
        )
    if path.is_dir():
        raise FileExistsError(
            f"{path} is a folder; a pipeline file is one file: give a file's path "
            f"(e.g. {path / 'pipeline.yaml'})"
        )
    if not written_pipeline(path):
        mark = (
            f"no 'written_by: {PIPELINE_HEADER}...' entry"
            if path.suffix.lower() == ".json"
            else f"its first line is not '# {PIPELINE_HEADER}...'"
        )
        raise FileExistsError(
            f"{path} was not written by xarray-microct ({mark}); refusing to replace it. "
            "Remove it yourself or choose another path"
        )
    if not overwrite:
        exists = f"{path} already exists; nothing was written"
        raise OptionExistsError(
            f"{exists}. Pass overwrite=True to replace it, or choose another path",
            f"{exists}. Pass --overwrite to replace it, or choose another path",
        )
    return True


def _write_file(path: Path, text: str, replace: bool) -> None:
    """Write ``text`` to ``path`` through a hidden file beside it, moved into place only
    when complete (a failure leaves what was at ``path`` as it was). A new file is put
    in place only where nothing is; a replaced one only while it is still ours."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.microct-new")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        if replace:
            if not written_pipeline(path) and os.path.lexists(path):
                raise FileExistsError(
                    f"{path} was changed by someone else while it was written; nothing "
                    "was written. Check it, then run again"
                )
            with contextlib.suppress(OSError):
                shutil.copymode(path, temporary)
            os.replace(temporary, path)
        else:
            _put_new(temporary, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(err, FileExistsError) or err.errno is None:
            raise
        raise OSError(err.errno, f"could not write {path}: {err.strerror}") from err
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _put_new(temporary: Path, path: Path) -> None:
    """Move ``temporary`` to ``path`` where nothing is (a hard link: never over a file
    made meanwhile; a rename where the file system has no hard links)."""
    try:
        os.link(temporary, path, follow_symlinks=False)
    except FileExistsError:
        made = f"{path} was made by another write while this one ran; nothing was written"
        raise OptionExistsError(
            f"{made}. Check it, then write again (with overwrite=True to replace a pipeline "
            "file of ours)",
            f"{made}. Check it, then run again (with --overwrite to replace a pipeline file "
            "of ours)",
        ) from None
    except OSError:  # no hard links here
        if os.path.lexists(path):
            raise FileExistsError(
                f"{path} was made by another write while this one ran; nothing was written"
            ) from None
        os.replace(temporary, path)
        return
    os.unlink(temporary)


def save_pipeline(
    pipeline: Any,
    path: str | Path,
    *,
    overwrite: bool = False,
    inputs: Iterable[Any] = (),
) -> Path:
    """Write a pipeline (or the provenance of a result) as a YAML or JSON pipeline file.

    The file is written beside ``path`` and moved into place when complete. Only a
    pipeline file this project wrote is ever replaced, and only with ``overwrite``
    (see :func:`check_pipeline_target`).

    Parameters
    ----------
    pipeline : Pipeline, list of records, or a result of xarray_microct
        What to write; a result's ``attrs["microct_provenance"]`` is used.
    path : str or Path
        ``.json`` writes JSON; anything else YAML.
    overwrite : bool
        Replace a pipeline file that xarray-microct wrote at ``path``.
    inputs : iterable of str or Path
        Stores ``path`` may not be or lie inside (besides those a result reads).

    Raises
    ------
    FileExistsError, ValueError, FileNotFoundError
        See :func:`check_pipeline_target`; nothing is written.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.random.rand(8, 8, 8), spacing=0.5)
    >>> result = vol.microct.gaussian(sigma="1 um").microct.normalize()
    >>> path = save_pipeline(result, pathlib.Path(tempfile.mkdtemp()) / "p.yaml")
    >>> [s["op"] for s in load_pipeline(path).steps]
    ['gaussian', 'normalize']
    >>> path = save_pipeline(result.microct.median(radius=1), path, overwrite=True)
    >>> [s["op"] for s in load_pipeline(path).steps]
    ['gaussian', 'normalize', 'median']
    """
    if isinstance(path, str) and path.startswith("file://"):
        from xarray_microct.io.paths import local_path

        path = local_path(path) or path
    inputs = list(inputs)
    if not isinstance(pipeline, Pipeline):
        if not isinstance(pipeline, (list, tuple)):
            from xarray_microct.io.safety import input_locations

            inputs += input_locations(pipeline)
        pipeline = pipeline_from_records(records_of(pipeline), name=str(path))
    replace = check_pipeline_target(path, overwrite=overwrite, inputs=inputs)
    path = Path(path)
    content = pipeline.to_dict()
    mark = f"{PIPELINE_HEADER}{utc_now()}"
    if path.suffix.lower() == ".json":
        version = content.pop("microct_pipeline")
        content = {"microct_pipeline": version, "written_by": mark, **content}
        text = json.dumps(content, indent=2) + "\n"
    else:
        text = f"# {mark}\n" + yaml.safe_dump(content, sort_keys=False)
    _write_file(path, text, replace)
    return path


def take_level(
    tree: Any,
    level: int | str,
    expected: Sequence[int] | None = None,
    *,
    factor: int | Sequence[int] = 2,
    levels: int | None = None,
) -> Any:
    """One level of a pyramid, its ``pyramid`` record marked with the level taken and
    its downsampling factor (``level_factor``), checked against ``expected`` if given.
    A level the pyramid lacks (planned by a coarser chunking than the one it was made
    with) is an error saying which ``--chunks``, or which ``levels`` on the pyramid
    step, gives it (``factor``, ``levels``: the pyramid step's); a level planned with
    other factors (an input of other voxel sizes) one naming the pyramid step's
    ``factor`` and ``levels`` that plan it as it was made, in Python words and in the
    command's (:class:`~xarray_microct.core.errors.OptionError`).

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.random.rand(16, 16, 16), chunks=8)
    >>> coarse = take_level(vol.microct.pyramid(levels=2), 1)
    >>> record = coarse.attrs["microct_provenance"][-1]
    >>> coarse.shape, record["level"], record["level_factor"]
    ((8, 8, 8), 1, [2, 2, 2])
    """
    import xarray as xr

    if not isinstance(tree, xr.DataTree):
        raise TypeError(f"level {level!r} is taken from a pyramid, got {type(tree).__name__}")
    try:
        volume = tree.microct.select_level(level)
    except (IndexError, KeyError) as err:
        if levels is not None:
            raise ValueError(
                f"the pyramid step makes {levels} level{'s' if levels != 1 else ''} "
                f"(levels: {levels}), but the pipeline goes on with its level {level!r}: "
                f"the file's pyramid step and level disagree; set 'levels: {level + 1}' "
                "on it (or more)"
                if type(level) is int
                else f"the pyramid step makes no level {level!r}: correct the file's level"
            ) from err
        raise _missing_level(tree, level, expected, factor) from err
    taken = {"level": level, "level_factor": _level_factor(tree, level)}
    if expected is not None and taken["level_factor"] != list(expected):
        said = (
            f"level {level} of the pyramid of this input is downsampled by "
            f"{taken['level_factor']} (z, y, x), but the pipeline was made on a level "
            f"downsampled by {list(expected)}. A pyramid plans which axes each level "
            "downsamples from the voxel size (an input of other voxel sizes, or a pipeline "
            "exported before the plan stopped depending on the chunking, has other levels)"
        )
        gives = _what_gives(tree, level, expected)
        if gives is None:
            raise ValueError(said)
        by, count = gives
        raise OptionError(
            f"{said}: set factor={by} and levels={count} in the params of the pyramid step "
            "to replay it",
            f"{said}: set 'factor: {by}' and 'levels: {count}' on the pyramid step to replay it",
        )
    records = records_of(volume)
    for index in reversed(range(len(records))):
        if records[index]["op"] == "pyramid":
            records[index] = {**records[index], **taken}
            break
    return volume.assign_attrs({PROVENANCE_KEY: records})


def _level_options(
    tree: Any, level: int, expected: Sequence[int] | None, factor: int | Sequence[int]
) -> tuple[int | None, bool]:
    """What makes the pyramid of ``tree``'s full-resolution volume hold ``level``,
    downsampled by ``expected`` (z, y, x; any factor if None): the largest cubic chunk
    size up to 128 (``--chunks N``) with which ``levels=None`` plans it, or None; and
    whether ``levels = level + 1`` plans it."""
    from xarray_microct.core.volume import grid_of
    from xarray_microct.ops.pyramid import plan_levels

    grid = grid_of(tree.microct.select_level(0))
    factors = (int(factor),) * 3 if isinstance(factor, int) else tuple(int(f) for f in factor)

    def made(plan: Sequence[Sequence[int]]) -> bool:
        if len(plan) < level:
            return False
        total = [1, 1, 1]
        for step in plan[:level]:
            total = [t * f for t, f in zip(total, step, strict=True)]
        return expected is None or total == list(expected)

    size = next(
        (
            n
            for n in (128, 64, 32, 16, 8, 4, 2, 1)
            if made(plan_levels(grid.shape, grid.spacing, (n,) * 3, factors))
        ),
        None,
    )
    try:
        levels = made(plan_levels(grid.shape, grid.spacing, (1,) * 3, factors, level + 1))
    except ValueError:  # too small for that many levels
        levels = False
    return size, levels


def _what_gives(
    tree: Any, level: int | str, expected: Sequence[int] | None
) -> tuple[list[int], int] | None:
    """The pyramid step's ``factor`` (one per axis) and ``levels`` that plan ``level`` of
    the pyramid of ``tree``'s full resolution downsampled by ``expected`` (z, y, x), or
    None.

    ``levels`` is ``level + 1`` (more levels do not change the first ones). An axis's
    factor is 1 where ``expected`` is 1, else one of 2, 3, 4 of which ``expected`` is a
    power: at most two per axis, so at most 8 plans are tried, smallest factors first.
    The step's own factor is not among the answers: the plan does not depend on the
    chunks, so the same factor plans the same levels of this input again.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.zeros((16, 16, 16)), chunks=8)
    >>> _what_gives(vol.microct.pyramid(levels=2), 1, [1, 2, 2])
    ([1, 2, 2], 2)
    >>> _what_gives(vol.microct.pyramid(levels=2), 1, [1, 6, 6]) is None
    True
    """
    from xarray_microct.core.volume import grid_of
    from xarray_microct.ops.pyramid import plan_levels

    if type(level) is not int or level < 1 or expected is None:
        return None
    if not all(type(e) is int and e >= 1 for e in expected):
        return None
    grid = grid_of(single_image(select_node(tree, 0)))
    per_axis = [
        [1] if e == 1 else [g for g in (2, 3, 4) if g ** round(math.log(e, g)) == e]
        for e in expected
    ]
    for candidate in itertools.product(*per_axis):
        try:
            plan = plan_levels(grid.shape, grid.spacing, (1,) * 3, candidate, level + 1)
        except ValueError:  # too small for that many levels, or no axis downsampled
            continue
        if [math.prod(step[axis] for step in plan) for axis in range(3)] == list(expected):
            return list(candidate), level + 1
    return None


def _rechunk(size: int) -> str:
    """The replay's input chunked ``size`` voxels a side, as Python does it (``--chunks
    size`` on the command line).

    Examples
    --------
    >>> _rechunk(32)
    'the input chunked 32 voxels a side (volume.chunk(32), open_volume(path, chunks=32) or run_pipeline(..., chunks=32))'
    """  # noqa: E501
    return (
        f"the input chunked {size} voxels a side (volume.chunk({size}), open_volume(path, "
        f"chunks={size}) or run_pipeline(..., chunks={size}))"
    )


def _missing_level(
    tree: Any, level: int | str, expected: Sequence[int] | None, factor: int | Sequence[int]
) -> OptionError:
    """Why the pyramid made of this input lacks ``level``, and what gives it: the
    chunking that plans it (``volume.chunk``, ``--chunks``) or the pyramid step's
    ``levels``, in Python words and in the command's (:class:`OptionError`).

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.zeros((16, 64, 64)), spacing=(2.0, 0.5, 0.5), chunks=64)
    >>> err = _missing_level(vol.microct.pyramid(), 1, [1, 2, 2], 2)
    >>> print(err.command_line)
    ... # doctest: +ELLIPSIS, +NORMALIZE_WHITESPACE
    the pipeline was made on level 1 of a pyramid (downsampled by [1, 2, 2], z, y, x), but
    the pyramid step (levels: null) makes 1 level of this input at this run's chunks
    (16 × 64 × 64 voxels): ... --chunks 32, ... 'levels: 2' ...
    >>> print(err)  # doctest: +ELLIPSIS, +NORMALIZE_WHITESPACE
    the pipeline was made ...(volume.chunk(32), ... levels=2 in the params of the pyramid step
    """
    nodes = list(tree.microct.levels) if hasattr(tree.microct, "levels") else []
    count = len(nodes) if nodes else "fewer"
    by = f" (downsampled by {list(expected)}, z, y, x)" if expected is not None else ""
    chunks = " × ".join(str(c[0]) for c in tree.microct.select_level(0).chunks[-3:])
    said = (
        f"the pipeline was made on level {level} of a pyramid{by}, but the pyramid step "
        f"(levels: null) makes {count} level{'s' if count != 1 else ''} of this input at "
        f"this run's chunks ({chunks} voxels): a pyramid without levels stops once every "
        "axis fits in one chunk, so a coarser chunking makes fewer levels"
    )
    if type(level) is not int or level < 1:
        return OptionError(said, said)
    try:
        size, levels = _level_options(tree, level, expected, factor)
    except (ValueError, TypeError):
        size, levels = None, False
    if size is None and not levels:
        said += "; no chunking of this input gives that level: is it the same scan?"
        return OptionError(said, said)
    python, command = [], []
    if size is not None:
        python.append(f"replay on {_rechunk(size)}, which plans that level as the pyramid was made")
        command.append(
            f"run on the input with --chunks {size}, which plans that level as the pyramid was made"
        )
    if levels:
        python.append(f"set levels={level + 1} in the params of the pyramid step")
        command.append(f"set 'levels: {level + 1}' on the pyramid step of the pipeline file")
    return OptionError(
        f"{said}. To replay it: {', or '.join(python)}",
        f"{said}. To replay it: {', or '.join(command)}",
    )


def _level_factor(tree: Any, level: int | str) -> list[int]:
    """How many voxels of the finest level one voxel of ``level`` spans, per axis."""
    return level_factor(single_image(select_node(tree, 0)), single_image(select_node(tree, level)))


def _stored_level(location: Any, level: int | str) -> tuple[list[int], int] | None:
    """The factor of ``level`` of the image stored at ``location`` and its number of
    levels, or None if it cannot be read (moved, deleted)."""
    from xarray_microct.io import open_pyramid

    try:
        tree = open_pyramid(location)
        return _level_factor(tree, level), len(tree.microct.levels)
    except (ValueError, OSError, KeyError, IndexError, TypeError):
        return None


def pyramid_levels_recorded(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The records with the level each ``pyramid`` step went on with.

    A pyramid written to a store and read back one level at a time
    (``open_volume(store, level=k)``) leaves a ``pyramid`` record and, later, the
    ``open_volume`` source record of level ``k``: the level goes on the pyramid record
    (as :func:`take_level` records it), so that the steps replay on the full-resolution
    volume. A pyramid of one level (its record says so: ``levels: 1`` given, or the
    levels the verb made) went on with level 0. A pyramid step at level 0 (the volume
    itself) is dropped. A pyramid step whose level is not recorded (a level computed in
    memory, or written alone to a one-level store), followed by more steps, is an
    error: the replay would not know which level to go on with.

    Examples
    --------
    >>> records = [{"op": "pyramid", "params": {"levels": 2}},
    ...            {"op": "open_volume", "params": {"level": 1}, "source": True},
    ...            {"op": "gaussian", "params": {"sigma": 1}}]
    >>> [r.get("level") for r in pyramid_levels_recorded(records)]
    [1, None, None]
    >>> records[1]["params"]["level"] = 0
    >>> [r["op"] for r in pyramid_levels_recorded(records)]
    ['open_volume', 'gaussian']
    """
    out = [dict(r) for r in records]
    pending: int | None = None  # index of a pyramid record whose level is not known yet
    for index, record in enumerate(out):
        if record.get("op") == "pyramid" and not record.get("source"):
            if pending is not None:
                break  # a pyramid of a level whose index is not recorded
            if "level" not in record and levels_made(record) == 1:
                record["level"] = 0  # a pyramid of one level: the volume itself
            pending = None if "level" in record else index
        elif pending is not None and record.get("op") == "open_volume":
            level = record.get("params", {}).get("level")
            stored = (
                None if level is None else _stored_level(record["params"].get("location"), level)
            )
            # a one-level store (e.g. one level written alone) does not say which level
            # of the pyramid it holds: the pyramid's level stays unknown
            if level is not None and (stored is None or stored[1] > 1):
                out[pending]["level"] = level
                if stored is not None:
                    out[pending]["level_factor"] = stored[0]
                pending = None
        elif pending is not None and not record.get("source"):
            break
    if pending is not None and any(not r.get("source") for r in out[pending + 1 :]):
        raise ValueError(
            "the result was computed on one level of a pyramid, but which level is not "
            "recorded (the level's tree is not the pyramid its record made: one level "
            "stored alone, or a tree built by hand); take the level from the pyramid "
            "itself (tree.microct.<verb>(..., level=k), tree.microct.select_level(k), or "
            "open_volume(store, level=k) of the whole stored pyramid) and compute the "
            "result from that, or add 'level: k' to the pyramid step of the exported file"
        )
    return _without_level_zero(out)


def _without_level_zero(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records without the ``pyramid`` steps that went on with level 0 (the volume
    itself), each later step's ``earlier`` stages counted without them: a stage made
    after such a step (its pyramid, whose finest level is its input) is one step fewer.

    Examples
    --------
    >>> records = [{"op": "gaussian"}, {"op": "pyramid", "level": 0}, {"op": "median"},
    ...            {"op": "drop_outside_labels", "earlier": {"scan": 0, "distance": 3}}]
    >>> [(r["op"], r.get("earlier")) for r in _without_level_zero(records)]
    [('gaussian', None), ('median', None), ('drop_outside_labels', {'scan': 0, 'distance': 2})]
    """
    kept: list[dict[str, Any]] = []
    dropped: list[int] = []  # the steps (counted from 0) of the dropped pyramid records
    step = 0
    for record in records:
        if record.get("source"):
            kept.append(record)
            continue
        if record.get("op") == "pyramid" and type(record.get("level")) is int:
            if record["level"] == 0:
                dropped.append(step)
                step += 1
                continue
        earlier = record.get("earlier")
        if dropped and isinstance(earlier, Mapping):
            record = {
                **record,
                "earlier": {
                    name: k - sum(k > d for d in dropped) if type(k) is int else k
                    for name, k in earlier.items()
                },
            }
        kept.append(record)
        step += 1
    return kept


def _level_recorded(records: list[dict[str, Any]]) -> bool:
    """Whether the records say which level of a ``pyramid`` step the chain went on with
    (see :func:`pyramid_levels_recorded`).

    Examples
    --------
    >>> _level_recorded([{"op": "pyramid", "params": {}, "level": 1},
    ...                  {"op": "gaussian", "params": {"sigma": 1}}])
    True
    >>> _level_recorded([{"op": "pyramid", "params": {}}, {"op": "gaussian", "params": {}}])
    False
    """
    try:
        marked = pyramid_levels_recorded(records)
    except ValueError:  # not recorded: the chain goes on with every level (a tree)
        return False
    return len(marked) < len(records) or any(
        r.get("op") == "pyramid" and not r.get("source") and "level" in r for r in marked
    )


def replay(records_or_result: Any, volume: Any) -> Any:
    """Re-run a recorded chain of operations on another volume.

    Parameters
    ----------
    records_or_result : list of dict, DataArray, DataTree or DataFrame
        A result of xarray_microct (its ``attrs["microct_provenance"]`` is used), or
        the records themselves (e.g. loaded from JSON or YAML).
    volume : xarray.DataArray or xarray.DataTree
        The volume to process.

    Returns
    -------
    The result of the same chain on ``volume``, lazy. A chain through a ``pyramid`` gives
    a pyramid (a DataTree), unless the records say which level it went on with (a level
    of a stored pyramid, ``open_volume(store, level=k)``): then that level of
    ``volume``'s pyramid, as ``microct run`` replays it (and a pyramid made of such a
    level, the pyramid of that level).

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> a = mct.from_array(np.random.rand(16, 16, 16), spacing=0.5)
    >>> chain = a.microct.gaussian(sigma="1 um").microct.normalize()
    >>> b = mct.from_array(np.random.rand(16, 16, 16), spacing=0.5)
    >>> again = mct.replay(chain, b)
    >>> [r["op"] for r in again.attrs["microct_provenance"]][-2:]
    ['gaussian', 'normalize']
    """
    records = records_of(records_or_result)
    if _level_recorded(records):
        return pipeline_from_records(records, "replay").apply(volume)
    return replay_chain(records, volume)


def export_pipeline(result_store: str | Path, path: str | Path, *, overwrite: bool = False) -> Path:
    """Export the provenance of a stored result as a pipeline file (``microct export-pipeline``).

    Written as :func:`save_pipeline` writes (``overwrite`` replaces only a pipeline file
    this project wrote); ``path`` may not be or lie inside ``result_store`` or a store
    the result was computed from.

    A result computed on one level of a stored pyramid gets that level on its
    ``pyramid`` step (see :func:`pyramid_levels_recorded`): the file replays on the
    full-resolution volume with ``microct run``.

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
    from xarray_microct.io.results import open_result
    from xarray_microct.io.safety import check_not_input

    check_not_input(path, [result_store])  # before reading it: nothing was written
    result = open_result(result_store)
    stored = _stored_level(result_store, 0)
    if stored is not None and stored[1] > 1:
        try:
            pyramid_levels_recorded(records_of(result))
        except ValueError as err:  # a pyramid of results: the chain ran on every level
            raise ValueError(
                f"{result_store} is a pyramid of results (a chain run on every level of a "
                "pyramid, e.g. tree.microct.tubeness(...)), and a pipeline file runs on one "
                "volume. Replay it on every level in Python, "
                "mct.replay(mct.open_pyramid(result), other_scan); or export a result "
                "computed on the full-resolution volume (without pyramid()) or on one "
                "level of a stored pyramid (open_volume(store, level=k))"
            ) from err
    return save_pipeline(result, path, overwrite=overwrite, inputs=[result_store])


__all__ = [
    "BUILTIN_PIPELINES",
    "PIPELINE_FORMAT",
    "PIPELINE_HEADER",
    "Pipeline",
    "check_pipeline_target",
    "export_pipeline",
    "load_pipeline",
    "pipeline_from_records",
    "pyramid_levels_recorded",
    "replay",
    "save_pipeline",
    "take_level",
    "written_pipeline",
]
