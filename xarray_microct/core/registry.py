"""The operation registry: each verb is written once, as a function plus a declaration.

An operation is a function ``func(volume, **params)`` from a validated, Dask-backed
volume to a result (a volume, a DataTree, a table). The :func:`operation` decorator
declares which parameters are lengths; the wrapper it returns then

1. validates the volume and chunks it with Dask when it is in memory;
2. binds the parameters, fills defaults, and resolves each length to voxels per axis
   (the function receives the resolved tuples);
3. calls the function, and appends one provenance record and one ``history`` line
   to the result;
4. on a :class:`xarray.DataTree`, maps the verb over every image node (every pyramid
   level), or applies it to one level (``level=``).

Every registered verb is also a method of the ``.microct`` accessors, and can be
re-run from its records by :func:`replay`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import xarray as xr

from xarray_microct.core.provenance import make_record, records_of, with_record
from xarray_microct.core.units import resolve_length
from xarray_microct.core.volume import SPATIAL_DIMS, as_dask, grid_of

TreePolicy = Literal["map", "level"]


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
    """A registered verb."""

    name: str
    func: Callable[..., Any]
    lengths: Mapping[str, LengthParam]
    packages: tuple[str, ...]
    on_tree: TreePolicy
    verb: Callable[..., Any] = field(init=False, repr=False, compare=False)

    @property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.func)


REGISTRY: dict[str, Operation] = {}
_LISTENERS: list[Callable[[Operation], None]] = []


def on_register(listener: Callable[[Operation], None]) -> None:
    """Call ``listener(op)`` for every registered operation, now and in the future."""
    _LISTENERS.append(listener)
    for op in REGISTRY.values():
        listener(op)


def operation(
    name: str | None = None,
    *,
    lengths: Iterable[str] | Mapping[str, LengthParam] = (),
    packages: Iterable[str] = (),
    on_tree: TreePolicy = "map",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``func`` as a verb of the ``.microct`` accessors.

    Parameters
    ----------
    name : str, optional
        Verb name; the function's name by default.
    lengths : iterable of str or mapping of str to LengthParam
        Parameters that are physical lengths, resolved to voxels per spatial axis
        before ``func`` is called (``None`` values are passed through).
    packages : iterable of str
        Packages whose versions go into the provenance record (besides the core ones).
    on_tree : {"map", "level"}
        On a DataTree: map over every image node, or apply to one level
        (``level=0`` by default, the finest).

    Returns
    -------
    callable
        The verb: ``verb(volume_or_tree, *args, **params)``.

    Examples
    --------
    >>> @operation("double_it")
    ... def double_it(volume):
    ...     return volume * 2
    >>> "double_it" in REGISTRY
    True
    >>> del REGISTRY["double_it"]
    """
    if isinstance(lengths, Mapping):
        length_params = dict(lengths)
    else:
        length_params = {p: LengthParam() for p in lengths}

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        op = Operation(
            name=name or func.__name__,
            func=func,
            lengths=length_params,
            packages=tuple(packages),
            on_tree=on_tree,
        )
        missing = set(length_params) - set(op.signature.parameters)
        if missing:
            raise TypeError(f"{op.name}: length parameters {missing} are not in its signature")

        @functools.wraps(func)
        def verb(obj: Any, *args: Any, level: int | str | None = None, **params: Any) -> Any:
            return apply(op, obj, args, params, level=level)

        object.__setattr__(op, "verb", verb)
        REGISTRY[op.name] = op
        for listener in _LISTENERS:
            listener(op)
        return verb

    return decorate


def _resolve(op: Operation, name: str, value: Any, grid: Any) -> Any:
    spec = op.lengths[name]
    if spec.multiscale and isinstance(value, list):
        if not value:
            raise ValueError(f"{op.name}: {name} is an empty list of scales")
        return [_resolve_one(op, name, v, grid, spec) for v in value]
    return _resolve_one(op, name, value, grid, spec)


def _resolve_one(op: Operation, name: str, value: Any, grid: Any, spec: LengthParam) -> Any:
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


def _apply_to_volume(op: Operation, obj: xr.DataArray, args: tuple, params: dict) -> Any:
    grid = grid_of(obj)
    volume = as_dask(obj)
    try:
        bound = op.signature.bind(volume, *args, **params)
    except TypeError as err:
        raise TypeError(f"{op.name}: {err}; see help(vol.microct.{op.name})") from err
    bound.apply_defaults()
    given = dict(bound.arguments)
    given.pop(next(iter(op.signature.parameters)))
    call = dict(given)
    resolved = {}
    for name in op.lengths:
        if given.get(name) is not None:
            resolved[name] = call[name] = _resolve(op, name, given[name], grid)
    result = op.func(volume, **call)
    record = make_record(op.name, given, resolved, op.packages)
    return attach_record(result, record)


def attach_record(result: Any, record: Mapping[str, Any]) -> Any:
    """Append ``record`` to the provenance of a result (volume, tree, Dataset or table)."""
    if isinstance(result, xr.DataArray):
        return result.copy(data=result.data).assign_attrs(with_record(result.attrs, record))
    if isinstance(result, xr.DataTree):
        return result.map_over_datasets(
            lambda ds: _attach_to_dataset(ds, record) if ds is not None else ds
        )
    if isinstance(result, xr.Dataset):
        return _attach_to_dataset(result, record)
    if hasattr(result, "attrs"):  # pandas.DataFrame and friends
        result.attrs = with_record(result.attrs, record)
        return result
    raise TypeError(f"operation returned {type(result).__name__}, which cannot carry provenance")


def _attach_to_dataset(ds: xr.Dataset, record: Mapping[str, Any]) -> xr.Dataset:
    out = ds.copy()
    for name, variable in ds.data_vars.items():
        if is_image(variable):
            out[name] = variable.copy(data=variable.data).assign_attrs(
                with_record(variable.attrs, record)
            )
    return out


def is_image(variable: xr.DataArray) -> bool:
    """Whether a variable has the spatial dims of a volume."""
    return tuple(variable.dims[-3:]) == SPATIAL_DIMS


def image_nodes(tree: xr.DataTree) -> list[xr.DataTree]:
    """The nodes of ``tree`` holding at least one volume, in tree order."""
    return [
        node
        for node in tree.subtree
        if any(is_image(v) for v in node.to_dataset(inherit=False).data_vars.values())
    ]


def select_node(tree: xr.DataTree, level: int | str) -> xr.DataTree:
    """The image node of ``tree`` at index ``level`` (0 = first) or path ``level``."""
    nodes = image_nodes(tree)
    if not nodes:
        raise ValueError("the DataTree holds no volume (no variable with dims z, y, x)")
    if isinstance(level, str):
        try:
            return tree[level]  # type: ignore[return-value]
        except KeyError as err:
            names = [n.path for n in nodes]
            raise KeyError(f"no level {level!r} in the tree; levels are {names}") from err
    if not -len(nodes) <= level < len(nodes):
        raise IndexError(f"level {level} out of range: the tree has {len(nodes)} levels")
    return nodes[level]


def _single_image(node: xr.DataTree) -> xr.DataArray:
    images = [v for v in node.to_dataset(inherit=False).data_vars.values() if is_image(v)]
    if len(images) != 1:
        raise ValueError(
            f"node {node.path!r} holds {len(images)} volumes; pick one with "
            "tree[path][name].microct"
        )
    return images[0]


def _apply_to_tree(
    op: Operation, tree: xr.DataTree, args: tuple, params: dict, level: int | str | None
) -> Any:
    if level is not None or op.on_tree == "level":
        node = select_node(tree, 0 if level is None else level)
        return _apply_to_volume(op, _single_image(node), args, params)
    datasets = {}
    for node in tree.subtree:
        ds = node.to_dataset(inherit=False)
        for name, variable in ds.data_vars.items():
            if is_image(variable):
                ds[name] = _apply_to_volume(op, variable, args, params)
        datasets[node.path] = ds
    if not image_nodes(tree):
        raise ValueError("the DataTree holds no volume (no variable with dims z, y, x)")
    return xr.DataTree.from_dict(datasets)


def apply(
    op: Operation,
    obj: Any,
    args: tuple = (),
    params: Mapping[str, Any] | None = None,
    level: int | str | None = None,
) -> Any:
    """Run a registered operation on a volume or a DataTree (see module docstring)."""
    params = dict(params or {})
    if isinstance(obj, xr.DataTree):
        return _apply_to_tree(op, obj, args, params, level)
    if level is not None:
        raise TypeError(f"{op.name}: level= applies to a DataTree, not a {type(obj).__name__}")
    if isinstance(obj, xr.DataArray):
        return _apply_to_volume(op, obj, args, params)
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
        if not record.get("replayable", True):
            raise ValueError(
                f"step {index} ({record['op']}) was given a value that cannot be stored "
                f"(e.g. an array); its parameters are {record.get('params')}"
            )
        params = dict(record.get("params", {}))
        try:
            op.signature.bind(None, **params)
        except TypeError as err:
            raise ValueError(f"step {index} ({record['op']}): {err}") from err
        steps.append({"op": record["op"], "params": params})
    return steps


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
    out = volume
    for step in check_records(records_of(records_or_result)):
        out = REGISTRY[step["op"]].verb(out, **step["params"])
    return out
