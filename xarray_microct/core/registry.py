"""The operation registry: each verb is written once, as a function plus a declaration.

An operation is a function ``func(volume, **params)`` from a validated, Dask-backed
volume to a result. The :func:`operation` decorator declares what the verb takes (an
image, a mask, labels or a table; whether leading ``t``/``c`` dims are allowed), what
it returns (a volume, a scalar, a table or a tree), whether building the result
computes nothing (``lazy``), what becomes of the intensity unit, and which parameters
are physical lengths or volumes. The wrapper it returns then

1. validates the input against the declaration and chunks it with Dask when it is in
   memory;
2. binds the parameters, fills defaults, and resolves each length (per axis) and each
   volume to voxels (the function receives the resolved values);
3. calls the function, checks the result against the declaration, sets its intensity
   unit, and sets its provenance to the input's records plus one new record (and the
   input's ``history`` plus one line) — for every kind of result, so a table or a
   scalar carries the whole chain that made it; no verb touches provenance;
4. on a :class:`xarray.DataTree`, maps the verb over every image node (every pyramid
   level), or applies it to one level (``level=``).

Records keep every length and volume with its unit (a bare ``sigma=2`` on a micrometre
scan is recorded as ``"2 micrometer"``) next to the voxels it resolved to, so
:func:`replay` on a scan in other units or spacing uses the same physical kernels.

Every registered verb is also a method of the ``.microct`` accessors.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import itertools
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal

import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from xarray_microct.core.labels import is_label_volume
from xarray_microct.core.physical import (
    length_as_recorded,
    volume_as_recorded,
    volume_in_voxels,
)
from xarray_microct.core.provenance import history_line, make_record, records_of, to_json_value
from xarray_microct.core.tree import (
    image_nodes,
    is_image,
    level_factor,
    level_taken,
    levels_made,
    select_node,
    single_image,
)
from xarray_microct.core.units import resolve_length
from xarray_microct.core.validation import (
    binary_values,
    check_labels,
    check_mask,
    check_spatial_only,
)
from xarray_microct.core.volume import PROVENANCE_KEY, Grid, as_dask, grid_of

ESTIMATED_KEY = "microct_estimated"
"""Result attribute where a verb leaves what it estimated from the data (e.g. a radius
given as ``None``); the registry moves it into the record under ``"estimated"``, so the
provenance says which value was used while ``replay`` estimates afresh on another scan."""

TreePolicy = Literal["map", "level", "finest"]
InputKind = Literal["image", "mask", "labels", "table"]
ResultKind = Literal["volume", "scalar", "table", "tree", "dataset"]
UnitsPolicy = Literal["keep", "drop", "length"]

INPUT_KINDS: tuple[str, ...] = ("image", "mask", "labels", "table")
RESULT_KINDS: tuple[str, ...] = ("volume", "scalar", "table", "tree", "dataset")
UNITS_POLICIES: tuple[str, ...] = ("keep", "drop", "length")
_RESULT_OF_ANNOTATION = {
    xr.DataArray: "volume",
    pd.DataFrame: "table",
    xr.DataTree: "tree",
    xr.Dataset: "dataset",
}


@dataclass(frozen=True)
class LengthParam:
    """How one length parameter is resolved.

    Attributes
    ----------
    allow_zero : bool
        Accept 0 (a no-op radius).
    multiscale : bool
        A list is a list of scales (each resolved separately), not one value per axis.
    within_volume : bool
        Refuse a length larger than the volume along any axis.
    """

    allow_zero: bool = False
    multiscale: bool = False
    within_volume: bool = True


@dataclass(frozen=True)
class Operation:
    """A registered verb and its declaration (see :func:`operation`)."""

    name: str
    func: Callable[..., Any]
    lengths: Mapping[str, LengthParam]
    packages: tuple[str, ...]
    on_tree: TreePolicy
    takes: InputKind = "image"
    returns: ResultKind = "volume"
    spatial_only: bool = False
    lazy: bool = True
    intensity_units: UnitsPolicy = "drop"
    volumes: tuple[str, ...] = ()
    earlier: tuple[str, ...] = ()
    restarts: bool = False
    verb: Callable[..., Any] = field(init=False, repr=False, compare=False)

    @property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.func)

    def __reduce_ex__(self, protocol: Any) -> Any:
        """Pickled by reference, as functions are: the verb's name and its module, looked
        up in :data:`REGISTRY` where unpickled (a worker process imports the module).

        An operation that is not the registered one of its name, or one registered by
        ``__main__`` (a script's or a notebook's own verb, which a worker's ``__main__``
        does not hold), is pickled by value instead, as a dataclass is.

        Examples
        --------
        >>> import pickle
        >>> declare_verbs("xarray_microct.ops.intensity", ["invert"])
        >>> pickle.loads(pickle.dumps(REGISTRY["invert"])) is REGISTRY["invert"]
        True
        """
        if REGISTRY.loaded.get(self.name) is not self or self.func.__module__ == "__main__":
            return super().__reduce_ex__(protocol)
        return _registered_operation, (self.name, self.func.__module__)


def _registered_operation(name: str, module: str) -> Operation:
    """The operation ``name``, registered by ``module`` (imported when the verb is not
    declared here: a verb defined outside the package)."""
    if name not in REGISTRY:
        importlib.import_module(module)
    return get_operation(name)


class Registry(MutableMapping[str, Operation]):
    """The verbs by name: those registered, and those declared by :func:`declare_verbs`
    whose module is imported on first use.

    Looking a declared verb up (``REGISTRY[name]``, ``.values()``, ``.items()``) imports
    its module, which registers it; listing the names (``list(REGISTRY)``, ``in``,
    ``len``) imports nothing. :attr:`loaded` holds the verbs registered so far.
    """

    def __init__(self) -> None:
        self.loaded: dict[str, Operation] = {}
        self._modules: dict[str, str] = {}  # declared verb -> its module, until registered
        self._names: dict[str, None] = {}  # every name, in the order first declared

    def __getitem__(self, name: str) -> Operation:
        if name not in self.loaded and name in self._modules:
            importlib.import_module(self._modules[name])
            if name not in self.loaded:
                raise ImportError(
                    f"{self._modules[name]} was declared to define the verb {name!r} but "
                    "did not register it"
                )
        return self.loaded[name]

    def __setitem__(self, name: str, op: Operation) -> None:
        self.loaded[name] = op
        self._modules.pop(name, None)
        self._names[name] = None

    def __delitem__(self, name: str) -> None:
        if name not in self._names:
            raise KeyError(name)
        self.loaded.pop(name, None)
        self._modules.pop(name, None)
        del self._names[name]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names))  # a copy: looking verbs up registers them

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __repr__(self) -> str:
        return f"Registry({list(self._names)})"

    def declare(self, module: str, names: Iterable[str]) -> list[str]:
        """Declare verbs defined in ``module`` (see :func:`declare_verbs`); returns those
        not registered yet."""
        pending = [name for name in names if name not in self.loaded]
        for name in pending:
            self._modules[name] = module
            self._names[name] = None
        return pending


REGISTRY = Registry()
_LISTENERS: list[Callable[[Operation], None]] = []
_DECLARE_LISTENERS: list[Callable[[str], None]] = []


def on_register(
    listener: Callable[[Operation], None], on_declare: Callable[[str], None] | None = None
) -> None:
    """Call ``listener(op)`` for every registered operation, now and in the future, and
    ``on_declare(name)`` for every verb declared but not imported yet (its module calls
    ``listener`` when it registers the verb)."""
    _LISTENERS.append(listener)
    for op in list(REGISTRY.loaded.values()):
        listener(op)
    if on_declare is not None:
        _DECLARE_LISTENERS.append(on_declare)
        for name in REGISTRY:
            if name not in REGISTRY.loaded:
                on_declare(name)


def declare_verbs(module: str, names: Iterable[str]) -> None:
    """Declare that importing ``module`` registers the verbs ``names``, without importing it.

    The verbs are listed in :data:`REGISTRY` and are methods of the ``.microct``
    accessors at once (for ``dir()``, help and tab completion); the module, with the
    libraries it needs, is imported when one of them is first used. A process that runs
    a few verbs imports only their modules.

    Examples
    --------
    >>> declare_verbs("xarray_microct.ops.intensity", ["invert"])
    >>> "invert" in REGISTRY, REGISTRY["invert"].name
    (True, 'invert')
    """
    for name in REGISTRY.declare(module, names):
        for listener in _DECLARE_LISTENERS:
            listener(name)


def _declared_result(func: Callable[..., Any], returns: ResultKind | None) -> ResultKind:
    if returns is not None:
        return returns
    try:
        annotation = inspect.signature(func, eval_str=True).return_annotation
    except NameError:
        annotation = inspect.Signature.empty
    if annotation is inspect.Signature.empty:
        return "volume"
    if annotation in _RESULT_OF_ANNOTATION:
        return _RESULT_OF_ANNOTATION[annotation]  # type: ignore[return-value]
    raise TypeError(
        f"{func.__name__}: declare returns= ({', '.join(RESULT_KINDS)}); its return "
        f"annotation {annotation!r} does not say"
    )


def _tree_policy(
    func: Callable[..., Any], result_kind: ResultKind, on_tree: TreePolicy | None
) -> TreePolicy:
    if on_tree is None:
        return "map" if result_kind == "volume" else "level"
    if on_tree in ("map", "finest") and result_kind != "volume":
        raise ValueError(
            f"{func.__name__}: only a verb returning a volume can map over a DataTree; "
            f"it returns a {result_kind}: declare on_tree='level'"
        )
    return on_tree


def operation(
    name: str | None = None,
    *,
    takes: InputKind = "image",
    returns: ResultKind | None = None,
    spatial_only: bool = False,
    lazy: bool | None = None,
    intensity_units: UnitsPolicy = "drop",
    lengths: Iterable[str] | Mapping[str, LengthParam] = (),
    volumes: Iterable[str] = (),
    packages: Iterable[str] = (),
    on_tree: TreePolicy | None = None,
    earlier: Iterable[str] = (),
    restarts: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``func`` as a verb of the ``.microct`` accessors.

    Parameters
    ----------
    name : str, optional
        Verb name; the function's name by default.
    takes : {"image", "mask", "labels", "table"}
        What the verb works on: any volume; a mask (boolean, integers 0 and 1, or the
        labels of a label verb read as ``!= 0``; another integer volume, a scan, fails
        as it is computed: :func:`mask_checked`); integer labels; or a table (a
        :class:`pandas.DataFrame`). Floats given where a mask or labels are expected
        are refused with a clear message.
    returns : {"volume", "scalar", "table", "tree", "dataset"}, optional
        What the verb returns: a volume on the input's grid, a DataArray without
        spatial dims (a fraction, a threshold), a :class:`pandas.DataFrame`, an
        :class:`xarray.DataTree` or an :class:`xarray.Dataset`. Read from the return
        annotation when not given (``xr.DataArray`` is a volume, ``pd.DataFrame`` a
        table, ``xr.DataTree`` a tree, ``xr.Dataset`` a dataset; none, a volume); a
        scalar must be declared.
    spatial_only : bool
        The verb handles ``(z, y, x)`` volumes only, not leading ``t``/``c`` dims.
    lazy : bool, optional
        Whether building the result computes nothing. A table is in memory by nature,
        so the default is ``False`` for tables and ``True`` otherwise; a lazy verb must
        return Dask-backed data.
    intensity_units : {"drop", "keep", "length"}
        The ``units`` attribute of a volume or scalar result: dropped (the default: a
        mask, labels, a normalised or filter-response image has no intensity unit),
        kept from the input (smoothing, morphology, a threshold value), or the
        coordinate unit (a distance map).
    lengths : iterable of str or mapping of str to LengthParam
        Parameters that are physical lengths, resolved to voxels per spatial axis
        before ``func`` is called (``None`` values are passed through).
    volumes : iterable of str
        Parameters that are physical volumes (a bare number counts voxels, or e.g.
        ``"100 um^3"``), resolved to a number of voxels before ``func`` is called.
    packages : iterable of str
        Packages whose versions go into the provenance record (besides the core ones).
    on_tree : {"map", "level", "finest"}, optional
        On a DataTree: map over every image node, or apply to one level
        (``level=0`` by default, the finest). By default a verb returning a volume
        maps, any other applies to one level (a tree of tables or scalars is refused).
        ``"finest"`` (verbs that number objects: ``label``, ``watershed``): apply to the
        finest level and make the coarser ones from its result by the ``pyramid``
        verb's majority (``"mode"``) downsampling, so that an object keeps its number
        at every level (``_finest_with_its_pyramid``).
    earlier : iterable of str
        Parameters that take a volume of the input's own chain (the scan the chain began
        with, a map made on the way), beside the input (optional where their default is
        ``None``: not given, nothing is recorded): recorded as the number of steps
        of the chain that made each (the record's ``"earlier"``), so that :func:`replay`
        passes the same stage of its own chain. A stage is known by its dask name
        (:func:`stage_in`); where a volume given there is not one (made beside the chain,
        computed), the record cannot be replayed and its ``"not_stages"`` says why.
    restarts : bool
        The verb's result holds its input as its first level (a pyramid). Given that
        first level of an earlier result of the same verb (a tree of it, its level 0),
        the verb starts again from the volume the earlier one was given: the earlier
        record is replaced by the new one, not stacked under it. Given a coarser level
        whose index is not recorded, it refuses (:func:`restarted`).

    Returns
    -------
    callable
        The verb: ``verb(volume_or_tree, *args, **params)``.

    Examples
    --------
    >>> @operation("double_it", intensity_units="keep")
    ... def double_it(volume: xr.DataArray) -> xr.DataArray:
    ...     return volume * 2
    >>> REGISTRY["double_it"].returns, REGISTRY["double_it"].lazy
    ('volume', True)
    >>> del REGISTRY["double_it"]
    """
    if isinstance(lengths, Mapping):
        length_params = dict(lengths)
    else:
        length_params = {p: LengthParam() for p in lengths}
    for value, allowed, what in (
        (takes, INPUT_KINDS, "takes"),
        (returns or "volume", RESULT_KINDS, "returns"),
        (intensity_units, UNITS_POLICIES, "intensity_units"),
    ):
        if value not in allowed:
            raise ValueError(f"{what} must be one of {allowed}, got {value!r}")

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        result_kind = _declared_result(func, returns)
        if lazy and result_kind == "table":
            raise ValueError(f"{func.__name__}: a table is computed, it cannot be lazy")
        op = Operation(
            name=name or func.__name__,
            func=func,
            lengths=length_params,
            packages=tuple(packages),
            on_tree=_tree_policy(func, result_kind, on_tree),
            takes=takes,
            returns=result_kind,
            spatial_only=spatial_only,
            lazy=(result_kind != "table") if lazy is None else lazy,
            intensity_units=intensity_units,
            volumes=tuple(volumes),
            earlier=tuple(earlier),
            restarts=restarts,
        )
        missing = (set(length_params) | set(op.volumes) | set(op.earlier)) - set(
            op.signature.parameters
        )
        if missing:
            raise TypeError(f"{op.name}: physical parameters {missing} are not in its signature")
        if takes == "table" and (length_params or op.volumes):
            raise TypeError(f"{op.name}: a verb on tables has no voxels to resolve lengths to")

        @functools.wraps(func)
        def verb(obj: Any, *args: Any, level: int | str | None = None, **params: Any) -> Any:
            return apply(op, obj, args, params, level=level)

        object.__setattr__(op, "verb", verb)
        REGISTRY[op.name] = op
        for listener in _LISTENERS:
            listener(op)
        return verb

    return decorate


def _resolve(op: Operation, name: str, value: Any, grid: Grid) -> Any:
    spec = op.lengths[name]
    if spec.multiscale and isinstance(value, list):
        if not value:
            raise ValueError(f"{op.name}: {name} is an empty list of scales")
        return [_resolve_one(op, name, v, grid, spec) for v in value]
    return _resolve_one(op, name, value, grid, spec)


def _resolve_one(op: Operation, name: str, value: Any, grid: Grid, spec: LengthParam) -> Any:
    voxels = resolve_length(
        value, grid.spacing, grid.units, name=f"{op.name}: {name}", allow_zero=spec.allow_zero
    )
    if spec.within_volume:
        for dim, v, n in zip(grid.dims, voxels, grid.shape, strict=True):
            if v > n:
                raise ValueError(
                    f"{op.name}: {name}={value!r} is {v:.3g} voxels along {dim!r}, larger "
                    f"than the volume ({n} voxels); give a smaller {name}, or one value "
                    "per axis (z, y, x)"
                )
    return voxels


def _check_input(op: Operation, volume: xr.DataArray) -> None:
    if op.takes == "mask":
        check_mask(volume, op.name)
    elif op.takes == "labels":
        check_labels(volume, op.name)
    if op.spatial_only:
        check_spatial_only(volume.dims, op.name)


def mask_checked(volume: xr.DataArray, what: str) -> xr.DataArray:
    """A volume given as a mask, with the lazy check that an integer one holds only 0
    and 1 (:func:`~xarray_microct.core.validation.binary_values`). Integer labels made
    by a label verb (:func:`~xarray_microct.core.labels.is_label_volume`) are read as
    ``!= 0`` without it; a boolean mask is returned as it is."""
    if volume.dtype == np.bool_ or is_label_volume(volume):
        return volume
    return volume.copy(data=binary_values(volume.data, what))


def _bind(op: Operation, first: Any, args: tuple, params: dict) -> dict[str, Any]:
    """The parameters as given, defaults filled in, without the input itself."""
    try:
        bound = op.signature.bind(first, *args, **params)
    except TypeError as err:
        raise TypeError(f"{op.name}: {err}; see help(vol.microct.{op.name})") from err
    bound.apply_defaults()
    given = dict(bound.arguments)
    given.pop(next(iter(op.signature.parameters)))
    return given


def _apply_to_volume(op: Operation, obj: xr.DataArray, args: tuple, params: dict) -> Any:
    if op.takes == "table":
        raise TypeError(f"{op.name} works on a table (pandas.DataFrame), got a volume")
    grid = grid_of(obj)
    _check_input(op, obj)
    entered = as_dask(obj)
    if op.restarts:
        entered = restarted(op.name, entered)
    volume = mask_checked(entered, op.name) if op.takes == "mask" else entered
    given = _bind(op, volume, args, params)
    stages = {name: given.pop(name) for name in op.earlier}
    call, recorded, resolved = dict(given), dict(given), {}
    for name, stage in list(stages.items()):
        if stage is None and op.signature.parameters[name].default is None:
            del stages[name]  # an optional stage not given: nothing recorded
            continue
        if not isinstance(stage, xr.DataArray):
            raise TypeError(f"{op.name}: {name} is a volume of the input's chain, got {stage!r}")
        call[name] = as_dask(stage)
    for name in op.lengths:
        if given.get(name) is not None:
            resolved[name] = call[name] = _resolve(op, name, given[name], grid)
            recorded[name] = length_as_recorded(given[name], grid.units)
    for name in op.volumes:
        if given.get(name) is not None:
            resolved[name] = call[name] = volume_in_voxels(
                given[name], grid.spacing, grid.units, name=name
            )
            recorded[name] = volume_as_recorded(given[name])
    result = op.func(volume, **call)
    _check_result(op, result)
    result = _set_units(op, result, volume.attrs.get("units"), grid.units)
    record = make_record(op.name, recorded, resolved, op.packages)
    names = stage_names(entered)
    if stages:
        found = {name: stage_in(call[name], names) for name in stages}
        record["earlier"] = {name: k for name, k in found.items() if isinstance(k, int)}
        missing = {name: why for name, why in found.items() if isinstance(why, str)}
        if missing:
            record["replayable"] = False
            record["not_stages"] = missing
    estimated = _estimates_of(result)
    if estimated:
        record["estimated"] = to_json_value(estimated)
    out = with_chain(result, volume.attrs, record)
    for made in _volumes_of(out):
        if isinstance(made.data, da.Array):
            _remember(made, (*names, made.data.name))
    return out


def restarted(name: str, volume: xr.DataArray) -> xr.DataArray:
    """The volume a restarting verb ``name`` (a pyramid) starts from: ``volume`` without
    the verb's own last record where it is level 0 of that verb's result (the volume the
    verb was given); ``volume`` as it is where its chain does not end with the verb, or
    where it is a coarser level whose index is recorded: taken in memory (its record
    marked with ``"level"`` by :func:`~xarray_microct.core.tree.level_taken`:
    ``tree.microct.select_level(k)``, ``level=k``) or read back from a store
    (``open_volume(store, level=k)``). The new result's replay then takes that level of
    the other scan's pyramid first.

    Level 0 is known from the level marked on the record (a level taken from a tree
    is marked there only, by :func:`~xarray_microct.core.tree.level_taken`: not from its
    position in a tree that may not be the pyramid), from a stored level read back (its
    ``open_volume`` record), from a result of one level, or from the data being the data
    the verb was given (its dask name).

    Raises
    ------
    ValueError
        ``volume`` is a coarser level whose index is not recorded (a level of a tree the
        verb's record does not describe, such as one built by hand): its provenance could
        not say which level the new result started from.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.zeros((8, 8, 8)), chunks=4)
    >>> tree = vol.microct.pyramid(levels=2)
    >>> first = restarted("pyramid", tree.microct.select_level(0))
    >>> [r["op"] for r in first.attrs["microct_provenance"]]
    []
    >>> coarse = restarted("pyramid", tree.microct.select_level(1))
    >>> [(r["op"], r["level"]) for r in coarse.attrs["microct_provenance"]]
    [('pyramid', 1)]
    >>> unmarked = single_image(tree["scale1"])  # read as it is: its level is not recorded
    >>> restarted("pyramid", unmarked)
    Traceback (most recent call last):
    ...
    ValueError: pyramid of a coarser level of a pyramid: ...
    """
    records = list(volume.attrs.get(PROVENANCE_KEY, []))
    last = next((i for i in reversed(range(len(records))) if not records[i].get("source")), None)
    if last is None or records[last].get("op") != name:
        return volume
    opened = [
        r.get("params", {}).get("level")
        for r in records[last + 1 :]
        if r.get("op") == "open_volume"
    ]
    if "level" in records[last]:
        taken = records[last]["level"]
        if not (type(taken) is int and taken == 0):
            return volume  # a coarser level, recorded: the replay takes it first
    elif opened:
        if not (type(opened[-1]) is int and opened[-1] == 0):
            return volume  # a stored level, read back: its index is recorded
    elif levels_made(records[last]) != 1:  # not a result of one level (the volume itself)
        names = stage_names(volume)
        if not (len(names) > 1 and names[-1] is not None and names[-1] == names[-2]):
            raise ValueError(
                f"{name} of a coarser level of a {name}: its level is not recorded (a "
                "node's volume read as it is, or a tree its record does not describe), so "
                "its provenance could not say which level the result started from. Take "
                f"the level with tree.microct.select_level(k) or {name}(level=k), which "
                f"record it, or make it from the full-resolution volume (tree.microct.{name}"
                "(levels=...): each level is made from the one before, so the coarser "
                "levels are the same)"
            )
    dropped = records.pop(last)
    out = volume.copy(data=volume.data)
    out.attrs = {**volume.attrs, PROVENANCE_KEY: records}
    lines = str(out.attrs.get("history", "")).split("\n")
    line = history_line(dropped) if {"params", "versions", "time"} <= set(dropped) else None
    if line in lines:
        del lines[len(lines) - 1 - lines[::-1].index(line)]
        out.attrs["history"] = "\n".join(lines)
        if not out.attrs["history"]:
            del out.attrs["history"]
    return out


def _volumes_of(result: Any) -> list[xr.DataArray]:
    """The volumes a verb returned: itself, or every volume of a tree (a pyramid's)."""
    if isinstance(result, xr.DataArray):
        return [result]
    if isinstance(result, xr.DataTree):
        return [v for node in image_nodes(result) for v in node.data_vars.values() if is_image(v)]
    return []


def _steps(attrs: Mapping[str, Any]) -> list[Any]:
    """The replayed records of a provenance (the source records left out)."""
    return [r for r in attrs.get(PROVENANCE_KEY, []) if not r.get("source")]


# The dask names of the stages of the chains the verbs made, by the last one's name and
# count of steps: ``names[k]`` is the data of the volume after ``k`` steps of its records
# (``None`` where unknown). A verb may return its input's data under one more record (a
# pyramid's finest level): the count keeps the two apart. Held here, not in the
# attributes, so that nothing of it is written to a file; the oldest are forgotten past
# STAGES_HELD (their later steps then cannot take them).
_STAGES: dict[tuple[str, int], tuple[str | None, ...]] = {}
STAGES_HELD = 4096
_STAGES_LOCK = threading.Lock()


def _stage_key(volume: xr.DataArray) -> tuple[str, int]:
    return volume.data.name, len(_steps(volume.attrs))


def _remember(volume: xr.DataArray, names: tuple[str | None, ...]) -> None:
    key = _stage_key(volume)
    with _STAGES_LOCK:
        _STAGES.pop(key, None)
        _STAGES[key] = names
        while len(_STAGES) > STAGES_HELD:
            del _STAGES[next(iter(_STAGES))]


def stage_names(volume: xr.DataArray) -> tuple[str | None, ...]:
    """The dask names of the stages of ``volume``'s chain, its input first and ``volume``'s
    own data last: as the verbs made them where its data is one they made with these
    records, else only its own (the earlier ones ``None``: computed, read from a file)."""
    key = _stage_key(volume)
    with _STAGES_LOCK:
        names = _STAGES.get(key)
    if names is None:
        return (*([None] * key[1]), key[0])
    return names


def stage_in(stage: xr.DataArray, names: tuple[str | None, ...]) -> int | str:
    """Which stage of the chain whose stages' dask names are ``names`` (:func:`stage_names`)
    the dask-backed ``stage`` is: the number of steps that made it, or why it is none.

    A stage is known exactly by its dask name (the same name is the same graph, the same
    values): a volume made by hand beside the chain is not taken for one of its stages,
    even with no records as the chain's input has none.

    Examples
    --------
    >>> import xarray_microct as mct
    >>> scan = mct.from_array(np.arange(64.0).reshape(4, 4, 4), chunks=2)
    >>> smooth = scan.microct.gaussian(sigma=1)
    >>> names = stage_names(smooth.microct.invert())
    >>> stage_in(scan, names), stage_in(smooth, names)
    (0, 1)
    >>> stage_in(scan + 1, names)
    "is not a stage of the input's chain (made beside it, or by hand)"
    >>> stage_in(as_dask(smooth.compute()), names)
    'is not the lazy stage the chain made (computed, loaded, sliced or rechunked since); pass the stage as its verb returned it'
    """  # noqa: E501
    name, count = _stage_key(stage)
    if count < len(names) and names[count] == name:
        return count  # its own count of steps: a stage that another shares the data of
    if name in names:
        return names.index(name)
    if None in names:
        return (
            "cannot be told from the input's stages: the input is not the lazy volume its "
            "chain's verbs made (computed, loaded, sliced or rechunked since); pass the "
            "input as its verb returned it"
        )
    with _STAGES_LOCK:
        known = (name, count) in _STAGES
    if count and not known:
        return (
            "is not the lazy stage the chain made (computed, loaded, sliced or rechunked "
            "since); pass the stage as its verb returned it"
        )
    return "is not a stage of the input's chain (made beside it, or by hand)"


def run_step(step: Mapping[str, Any], out: Any, stages: list[Any]) -> Any:
    """One checked step (:func:`check_records`) on ``out``, the stages of the chain so far
    (``stages[k]``: after ``k`` steps) given to the parameters its ``"earlier"`` names."""
    earlier = {name: _stage_volume(stages[k]) for name, k in step.get("earlier", {}).items()}
    return REGISTRY[step["op"]].verb(out, **step["params"], **earlier)


def _stage_volume(stage: Any) -> Any:
    """A stage as a verb takes it: a pyramid's finest level (the volume a stage made by
    a pyramid step is known by, the level a verb on a tree reads by default)."""
    if isinstance(stage, xr.DataTree):
        return single_image(select_node(stage, 0))
    return stage


def _estimates_of(result: Any) -> dict[str, Any]:
    """The values a verb estimated from the data (``attrs[ESTIMATED_KEY]``), taken off
    the result so that the registry records them in the verb's provenance record."""
    attrs = getattr(result, "attrs", None)
    if not isinstance(attrs, dict):
        return {}
    return dict(attrs.pop(ESTIMATED_KEY, None) or {})


def _apply_to_table(op: Operation, table: pd.DataFrame, args: tuple, params: dict) -> Any:
    if op.takes != "table":
        raise TypeError(f"{op.name} works on a volume, got a table (pandas.DataFrame)")
    given = _bind(op, table, args, params)
    result = op.func(table, **given)
    _check_result(op, result)
    return with_chain(result, table.attrs, make_record(op.name, given, {}, op.packages))


def _is_lazy(data: Any) -> bool:
    return isinstance(data, da.Array)


def _check_result(op: Operation, result: Any) -> None:
    """Refuse a result that breaks the declaration: a bug in the verb, not in its input."""
    kind = op.returns
    if kind == "volume":
        ok = isinstance(result, xr.DataArray) and is_image(result)
    elif kind == "scalar":
        ok = isinstance(result, xr.DataArray) and not is_image(result)
    elif kind == "table":
        ok = isinstance(result, pd.DataFrame)
    elif kind == "dataset":
        ok = isinstance(result, xr.Dataset)
    else:
        ok = isinstance(result, xr.DataTree)
    if not ok:
        raise TypeError(f"{op.name} is declared to return a {kind}, got {type(result).__name__}")
    if op.lazy:
        if isinstance(result, xr.DataTree):
            arrays = [v.data for node in image_nodes(result) for v in node.data_vars.values()]
        elif isinstance(result, xr.Dataset):
            arrays = [v.data for v in result.data_vars.values()]
        else:
            arrays = [result.data]
        if not all(_is_lazy(a) for a in arrays):
            raise TypeError(f"{op.name} is declared lazy but returned computed data")


def _units_of(op: Operation, input_units: Any, length_units: str) -> Any:
    if op.intensity_units == "keep":
        return input_units
    if op.intensity_units == "length":
        return length_units
    return None


def _with_units(variable: xr.DataArray, units: Any) -> xr.DataArray:
    attrs = {k: v for k, v in variable.attrs.items() if k != "units"}
    if units is not None:
        attrs["units"] = units
    out = variable.copy(data=variable.data)
    out.attrs = attrs
    return out


def _set_units(op: Operation, result: Any, input_units: Any, length_units: str) -> Any:
    units = _units_of(op, input_units, length_units)
    if isinstance(result, xr.DataArray):
        return _with_units(result, units)
    if isinstance(result, xr.DataTree):
        return _map_images(result, lambda variable: _with_units(variable, units))
    return result


def _map_images(tree: xr.DataTree, change: Callable[[xr.DataArray], xr.DataArray]) -> xr.DataTree:
    datasets = {}
    for node in tree.subtree:
        ds = node.to_dataset(inherit=False)
        for name, variable in ds.data_vars.items():
            if is_image(variable):
                ds[name] = change(variable)
        datasets[node.path] = ds
    return xr.DataTree.from_dict(datasets)


def _chain_attrs(
    attrs: Mapping[str, Any], source: Mapping[str, Any], record: Mapping[str, Any]
) -> dict[str, Any]:
    out = dict(attrs)
    out[PROVENANCE_KEY] = [*source.get(PROVENANCE_KEY, []), dict(record)]
    previous, line = source.get("history"), history_line(record)
    out["history"] = f"{previous}\n{line}" if previous else line
    return out


def with_chain(result: Any, source: Mapping[str, Any], record: Mapping[str, Any]) -> Any:
    """Set the provenance of ``result`` to the records of ``source`` plus ``record``.

    ``source`` is the attributes of the input; ``result`` is a volume, a scalar
    DataArray, a DataTree (every volume in it), a Dataset (its ``attrs`` and every
    variable in it) or a table (``DataFrame.attrs``). Whatever provenance the result already held is
    replaced, so the chain is the input's, whatever the verb did with attributes.

    Examples
    --------
    >>> import pandas as pd
    >>> table = with_chain(pd.DataFrame({"a": [1]}), {"microct_provenance": [{"op": "x"}]},
    ...                    {"op": "y", "params": {}, "versions": {}, "time": "now"})
    >>> [r["op"] for r in table.attrs["microct_provenance"]]
    ['x', 'y']
    """
    if isinstance(result, xr.DataArray):
        out = result.copy(data=result.data)
        out.attrs = _chain_attrs(result.attrs, source, record)
        return out
    if isinstance(result, xr.DataTree):
        return _map_images(result, lambda variable: with_chain(variable, source, record))
    if isinstance(result, xr.Dataset):
        out = result.copy()
        out.attrs = _chain_attrs(result.attrs, source, record)
        for name, variable in result.data_vars.items():
            out[name] = with_chain(variable, source, record)
        return out
    if isinstance(result, pd.DataFrame):
        out = result.copy(deep=False)  # never change a table the verb was given
        out.attrs = _chain_attrs(result.attrs, source, record)
        return out
    raise TypeError(f"operation returned {type(result).__name__}, which cannot carry provenance")


def _apply_to_tree(
    op: Operation, tree: xr.DataTree, args: tuple, params: dict, level: int | str | None
) -> Any:
    if level is not None or op.on_tree == "level":
        which = 0 if level is None else level
        # the level taken goes on the pyramid's record: replay takes it again
        return _apply_to_volume(op, level_taken(tree, which), args, params)
    if not image_nodes(tree):
        raise ValueError("the DataTree holds no volume (no variable with dims z, y, x)")
    if op.on_tree == "finest":
        numbered = _finest_with_its_pyramid(op, tree, args, params)
        if numbered is not None:
            return numbered
    return _map_images(tree, lambda variable: _apply_to_volume(op, variable, args, params))


def _same_grid(a: xr.DataArray, b: xr.DataArray) -> bool:
    """Whether two volumes have the same voxel centres (shape and coordinates)."""
    return a.shape[-3:] == b.shape[-3:] and all(
        np.allclose(a[dim].values, b[dim].values, rtol=1e-9, atol=0) for dim in a.dims[-3:]
    )


def _finest_with_its_pyramid(
    op: Operation, tree: xr.DataTree, args: tuple, params: dict
) -> xr.DataTree | None:
    """A verb that numbers objects, on a pyramid: its result on the finest level (as
    mapping gives it), and the coarser levels made from that result by the ``pyramid``
    verb's majority downsampling (``method="mode"``: an object keeps its number, and no
    number is made up) at the tree's own levels. None where the tree's levels are not
    a pyramid that ``pyramid`` makes of its finest level (the caller then maps the verb
    over every level, each numbered on its own, and a warning says so).

    A coarser level's records are the finest result's (its pyramid step marked level 0)
    plus that ``pyramid`` step: one level taken and replayed (:func:`level_taken`) is
    made as it was. Building a coarser level computes the finest one's objects (the
    whole scan's labelling), not the coarser level's alone.
    """
    try:
        levels = [single_image(node) for node in image_nodes(tree)]
    except ValueError:  # a node of several volumes: not a pyramid's level
        return None
    if len(levels) < 2:
        return None
    finest = _apply_to_volume(op, levels[0], args, params)
    steps = [level_factor(fine, coarse) for fine, coarse in itertools.pairwise(levels)]
    factor = [max(1, *(step[axis] for step in steps)) for axis in range(3)]
    # the pyramid's record of the input, marked "level 0": the chain ran on the finest
    source = records_of(level_taken(tree, 0))
    marked = finest.assign_attrs({PROVENANCE_KEY: [*source, *records_of(finest)[len(source) :]]})
    coarser = None
    for count in (None, len(levels)):  # as many as the chunking plans, as by default; or given
        try:
            made = REGISTRY["pyramid"].verb(marked, levels=count, factor=factor, method="mode")
        except (ValueError, TypeError):
            continue
        planned = [single_image(node) for node in image_nodes(made)][1:]
        if len(planned) == len(levels) - 1 and all(
            _same_grid(a, b) for a, b in zip(planned, levels[1:], strict=True)
        ):
            coarser = planned
            break
    if coarser is None:
        warnings.warn(
            f"{op.name} on a DataTree: its levels are not a pyramid that pyramid() makes of "
            "the finest one, so each level is numbered on its own (an object's number "
            "differs between levels); make the tree with vol.microct.pyramid(), or run "
            f"{op.name} on one level and make its pyramid (pyramid(method='mode'))",
            UserWarning,
            stacklevel=6,  # the caller of tree.microct.<verb>()
        )
        return None
    by_path = dict(zip([n.path for n in image_nodes(tree)], [finest, *coarser], strict=True))
    datasets = {}
    for node in tree.subtree:
        ds = node.to_dataset(inherit=False)
        for name, variable in ds.data_vars.items():
            if is_image(variable):
                made_level = by_path[node.path]
                ds[name] = made_level.copy(data=made_level.data).assign_coords(
                    {dim: variable[dim] for dim in variable.dims[-3:]}
                )
        datasets[node.path] = ds
    return xr.DataTree.from_dict(datasets)


def apply(
    op: Operation,
    obj: Any,
    args: tuple = (),
    params: Mapping[str, Any] | None = None,
    level: int | str | None = None,
) -> Any:
    """Run a registered operation on a volume, a DataTree or a table (see module docstring)."""
    params = dict(params or {})
    if isinstance(obj, xr.DataTree):
        return _apply_to_tree(op, obj, args, params, level)
    if level is not None:
        raise TypeError(f"{op.name}: level= applies to a DataTree, not a {type(obj).__name__}")
    if isinstance(obj, xr.DataArray):
        return _apply_to_volume(op, obj, args, params)
    if isinstance(obj, pd.DataFrame):
        return _apply_to_table(op, obj, args, params)
    raise TypeError(
        f"{op.name} works on an xarray.DataArray volume or a DataTree, got {type(obj).__name__}"
    )


def get_operation(name: str) -> Operation:
    """The registered operation called ``name``, with a clear error for unknown names."""
    try:
        return REGISTRY[name]
    except KeyError as err:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown operation {name!r}; known operations: {known}") from err


# The keys of a provenance record or pipeline step other than the verb's parameters.
_RECORD_KEYS = frozenset(
    {
        "op",
        "params",
        "versions",
        "time",
        "replayable",
        "source",
        "estimated",
        "level",
        "level_factor",
        "earlier",
        "not_stages",
    }
)


def check_records(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Check that records can be replayed (known ops, valid parameters, serialisable).

    Returns the records that replay will run (source records are skipped).
    """
    steps = []
    for index, record in enumerate(records):
        if record.get("source"):
            continue
        if "op" not in record:
            raise ValueError(f"step {index} has no 'op': {dict(record)}")
        op = get_operation(record["op"])
        if not record.get("replayable", True) and op.earlier:
            why = record.get("not_stages") or {
                name: "is not a stage of its input's chain"
                for name in op.earlier
                if name not in record.get("earlier", {})
            }
            if why:
                said = "; ".join(f"{name} {reason}" for name, reason in why.items())
                raise ValueError(f"step {index} ({record['op']}) cannot be replayed: {said}")
        if not record.get("replayable", True):
            raise ValueError(
                f"step {index} ({record['op']}) was given a value that cannot be stored "
                f"(e.g. an array); its parameters are {record.get('params')}"
            )
        params = _step_params(record, index)
        beside = [
            key
            for key in _parameter_names(op.signature)
            if key in record and key not in _RECORD_KEYS
        ]
        if beside:
            given = ", ".join(f"{key}: {record[key]}" for key in beside)
            raise ValueError(
                f"step {index} ({record['op']}): {', '.join(map(repr, beside))} given beside "
                f"'op'; a step's parameters go under 'params', e.g. "
                f"{{op: {record['op']}, params: {{{given}}}}}"
            )
        try:
            op.signature.bind(None, **params, **dict.fromkeys(op.earlier))
        except TypeError as err:
            unknown = _unknown_params(op.signature, params)
            why = unknown or str(err)
            raise ValueError(f"step {index} ({record['op']}): {why}") from err
        step = {"op": record["op"], "params": params}
        if op.earlier or "earlier" in record:
            step["earlier"] = _checked_earlier(op, record.get("earlier"), len(steps), index)
        steps.append(step)
    return steps


def _step_params(record: Mapping[str, Any], index: int) -> dict[str, Any]:
    """A step's parameters: its ``params`` mapping (none: ``{}``), refused with the reason
    when it is not a mapping (``params: sigma=1`` read as a string) or when a key close
    to ``params`` stands in its place (``parms:``, whose parameters would be left out).

    Examples
    --------
    >>> _step_params({"op": "gaussian", "params": {"sigma": 1}}, 0)
    {'sigma': 1}
    >>> _step_params({"op": "gaussian", "parms": {"sigma": 1}}, 0)
    Traceback (most recent call last):
    ...
    ValueError: step 0 (gaussian): 'parms' (did you mean 'params'?); a step's parameters go ...
    """
    op = record.get("op")
    if "params" not in record:
        close = [k for k in record if difflib.get_close_matches(str(k), ["params"], n=1)]
        if close:
            raise ValueError(
                f"step {index} ({op}): {close[0]!r} (did you mean 'params'?); a step's "
                "parameters go under 'params', which this step lacks"
            )
    params = record.get("params")
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise ValueError(
            f"step {index} ({op}): 'params' is {params!r}, not a mapping of names to "
            f"values; write e.g. {{op: {op}, params: {{name: value, ...}}}}"
        )
    return dict(params)


def _checked_earlier(op: Operation, earlier: Any, count: int, index: int) -> dict[str, int]:
    """A step's ``"earlier"``: each of the verb's parameters that takes a stage of the
    chain, with the number of steps before it that made the stage (``0..count``)."""
    names = sorted(op.earlier)
    optional = {n for n in names if op.signature.parameters[n].default is None}
    if earlier is None and set(names) <= optional:
        earlier = {}  # the optional stages none given
    if (
        not isinstance(earlier, Mapping)
        or not set(earlier) <= set(names)
        or not set(names) - optional <= set(earlier)
    ):
        raise ValueError(
            f"step {index} ({op.name}) takes stages of the chain as {names}: give 'earlier' "
            f"with the number of steps before it that made each, got {earlier!r}"
        )
    for name, k in earlier.items():
        if type(k) is not int or not 0 <= k <= count:
            raise ValueError(
                f"step {index} ({op.name}): earlier {name}={k!r}; a stage is a number of "
                f"steps before this one, 0 (the input) to {count}"
            )
    return dict(earlier)


def _parameter_names(signature: inspect.Signature) -> list[str]:
    """The named parameters a verb takes after the volume.

    Examples
    --------
    >>> _parameter_names(inspect.signature(lambda volume, sigma, *a, truncate=4.0, **k: None))
    ['sigma', 'truncate']
    """
    taken = list(signature.parameters.values())[1:]
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [p.name for p in taken if p.kind not in variadic]


def _unknown_params(signature: inspect.Signature, params: Mapping[str, Any]) -> str:
    """The parameters a verb does not take, each with the close names it does take (a
    misspelt required key otherwise reads "missing a required argument" only); "" when
    every name is known (or the verb takes any keyword).

    Examples
    --------
    >>> sig = inspect.signature(lambda volume, sigma, truncate=4.0: None)
    >>> _unknown_params(sig, {"sigmaa": 2})
    "got an unexpected keyword argument 'sigmaa' (did you mean 'sigma'?); it takes sigma, truncate"
    """
    taken = list(signature.parameters.values())[1:]  # after the volume
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in taken):
        return ""
    names = _parameter_names(signature)
    unknown = [key for key in params if key not in names]
    if not unknown:
        return ""
    parts = []
    for key in unknown:
        close = difflib.get_close_matches(key, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        parts.append(f"got an unexpected keyword argument {key!r}{hint}")
    return f"{'; '.join(parts)}; it takes {', '.join(names)}"


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
    The result of the same chain on ``volume``, lazy.

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
    out, stages = volume, [volume]
    for step in check_records(records_of(records_or_result)):
        out = run_step(step, out, stages)
        stages.append(out)
    return out
