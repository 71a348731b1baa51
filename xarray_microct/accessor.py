"""The ``.microct`` accessors on ``xarray.DataArray`` and ``xarray.DataTree``.

They hold no state (xarray makes a new accessor for every object): each verb of the
operation registry becomes a method that passes the wrapped object to the verb.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import xarray as xr

from xarray_microct.core.registry import REGISTRY, Operation, on_register
from xarray_microct.core.tree import image_nodes, level_taken
from xarray_microct.core.volume import Grid, grid_of

if TYPE_CHECKING:  # the viewers import HoloViews lazily
    from pathlib import Path

    import holoviews as hv


class _MicroCTAccessor:
    """Verbs shared by the DataArray and DataTree accessors."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    # Viewing (xarray_microct.plot): views, not operations, so they add no provenance.

    def preview(self, dim: str = "z", **options: Any) -> hv.DynamicMap | hv.HoloMap:
        """A slice image with a slider over ``dim``; see :func:`xarray_microct.plot.preview`."""
        from xarray_microct import plot

        return plot.preview(self._obj, dim, **options)

    def orthoslices(self, point: Any = None, **options: Any) -> hv.Layout:
        """Three linked orthogonal slices; see :func:`xarray_microct.plot.orthoslices`."""
        from xarray_microct import plot

        return plot.orthoslices(self._obj, point, **options)

    def overlay(
        self, labels: Any, alpha: float = 0.5, **options: Any
    ) -> hv.DynamicMap | hv.HoloMap:
        """Labels or a mask over the image; see :func:`xarray_microct.plot.overlay`."""
        from xarray_microct import plot

        return plot.overlay(self._obj, labels, alpha, **options)

    def plot_centres(self, detected: Any, truth: Any = None, **options: Any) -> hv.Overlay:
        """Detected vs true centres on a slice; see :func:`xarray_microct.plot.centres_plot`."""
        from xarray_microct import plot

        return plot.centres_plot(self._obj, detected, truth, **options)

    def plot_fibers(self, fibers: Any, truth: Any = None, **options: Any) -> hv.Overlay:
        """Detected fibers vs truth on a slice; see :func:`xarray_microct.plot.fibers_plot`."""
        from xarray_microct import plot

        return plot.fibers_plot(self._obj, fibers, truth, **options)

    def view3d(self, **options: Any) -> Any:
        """A 3-D rendering (extra ``view3d``); see :func:`xarray_microct.plot.view3d`."""
        from xarray_microct import plot

        return plot.view3d(self._obj, **options)

    def save_report(self, path: str | Path, **options: Any) -> Path:
        """A self-contained HTML report; see :func:`xarray_microct.report.save_report`."""
        from xarray_microct import report

        return report.save_report(path, self._obj, **options)

    def to_zarr(
        self,
        store: Any,
        version: str = "0.4",
        mode: str = "w-",
        chunks: Any = None,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        """Write as OME-Zarr: a pyramid (DataTree) or a single-level image (DataArray).

        NGFF ``version="0.4"`` is Zarr v2, ``"0.5"`` Zarr v3; ``mode="w-"`` never
        overwrites, ``mode="w"`` replaces an existing store. See
        :func:`xarray_microct.io.ome.to_ome_zarr`.

        Examples
        --------
        >>> import tempfile, pathlib, numpy as np, xarray_microct as mct
        >>> store = pathlib.Path(tempfile.mkdtemp()) / "scan.ome.zarr"
        >>> vol = mct.from_array(np.zeros((8, 8, 8), "uint16"), spacing=0.65, chunks=4)
        >>> vol.microct.pyramid().microct.to_zarr(store, version="0.5")
        >>> mct.open_volume(store, level=1).shape
        (4, 4, 4)
        """
        from xarray_microct.io.ome import to_ome_zarr

        to_ome_zarr(self._obj, store, version, mode, chunks, storage_options)


@xr.register_dataarray_accessor("microct")
class MicroCTArrayAccessor(_MicroCTAccessor):
    """``vol.microct``: the verbs of xarray-microct on one volume.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.zeros((8, 8, 8)), spacing=0.65)
    >>> vol.microct.grid.spacing
    (0.65, 0.65, 0.65)
    """

    @property
    def grid(self) -> Grid:
        """The validated physical grid (dims, shape, spacing, origin, units)."""
        return grid_of(self._obj)

    @property
    def provenance(self) -> list[dict[str, Any]]:
        """The provenance records of this volume, oldest first."""
        return list(self._obj.attrs.get("microct_provenance", []))


@xr.register_datatree_accessor("microct")
class MicroCTTreeAccessor(_MicroCTAccessor):
    """``tree.microct``: the same verbs, mapped over every image node (pyramid level).

    Pass ``level=`` (an index, 0 = first/finest, or a node path) to apply a verb to one
    level only; the result is then that level's DataArray result.
    """

    @property
    def levels(self) -> list[str]:
        """Paths of the nodes that hold a volume, in tree order."""
        return [node.path for node in image_nodes(self._obj)]

    def select_level(self, level: int | str = 0) -> xr.DataArray:
        """The volume at one level (index or path); the tree must hold one per node.

        The level taken is recorded on the record of the pyramid that made the tree
        (:func:`~xarray_microct.core.tree.level_taken`), so that ``replay`` and an
        exported pipeline go on with that level of another scan's pyramid.

        Examples
        --------
        >>> import numpy as np, xarray as xr, xarray_microct as mct
        >>> vol = mct.from_array(np.zeros((4, 4, 4)))
        >>> tree = xr.DataTree.from_dict({"scale0": vol.to_dataset(name="image")})
        >>> tree.microct.select_level(0).shape
        (4, 4, 4)
        """
        return level_taken(self._obj, level)


def _bind(op: Operation) -> None:
    if op.takes == "table":  # a verb on tables is called as a function, not on a volume
        return

    def array_method(self: _MicroCTAccessor, *args: Any, **params: Any) -> Any:
        return op.verb(self._obj, *args, **params)

    def tree_method(
        self: _MicroCTAccessor, *args: Any, level: int | str | None = None, **params: Any
    ) -> Any:
        return op.verb(self._obj, *args, level=level, **params)

    parameters = [
        p
        for p in list(op.signature.parameters.values())[1:]
        if p.kind is not inspect.Parameter.VAR_KEYWORD
    ]
    level = inspect.Parameter(
        "level", inspect.Parameter.KEYWORD_ONLY, default=None, annotation="int | str | None"
    )
    returns = op.signature.return_annotation
    # on a tree, a mapped verb gives a tree (its one-level result with ``level=``)
    tree_returns = returns
    if op.on_tree in ("map", "finest") and returns is not inspect.Signature.empty:
        text = returns if isinstance(returns, str) else inspect.formatannotation(returns)
        tree_returns = f"xr.DataTree | {text}"
    for method, params, gives in (
        (array_method, parameters, returns),
        (tree_method, [*parameters, level], tree_returns),
    ):
        method.__name__ = op.name
        method.__qualname__ = op.name
        method.__doc__ = op.func.__doc__
        method.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY), *params],
            return_annotation=gives,
        )
        # the verb's own annotations (help(), IDEs and the API reference read these)
        method.__annotations__ = _annotations(params, gives)
    setattr(MicroCTArrayAccessor, op.name, array_method)
    setattr(MicroCTTreeAccessor, op.name, tree_method)


def _annotations(params: list[inspect.Parameter], returns: Any) -> dict[str, Any]:
    """The ``__annotations__`` of a bound verb: its parameters' and its return's."""
    annotations = {p.name: p.annotation for p in params if p.annotation is not p.empty}
    if returns is not inspect.Signature.empty:
        annotations["return"] = returns
    return annotations


class _VerbOnFirstUse:
    """Stand-in for the method of a verb whose module is not imported yet.

    It makes the verb an attribute of the accessor classes at once (``dir()``, help,
    tab completion, the API reference); its first access imports the module, whose
    registration binds the real methods (:func:`_bind`) in place of the stand-ins.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type) -> Any:
        op = REGISTRY.get(self.name)  # imports the verb's module: _bind replaces this stand-in
        if op is None or op.takes == "table":  # no longer registered; a verb on tables
            for cls in (MicroCTArrayAccessor, MicroCTTreeAccessor):
                if isinstance(cls.__dict__.get(self.name), _VerbOnFirstUse):
                    delattr(cls, self.name)
            raise AttributeError(f"the .microct accessor has no verb {self.name!r}")
        return getattr(owner, self.name).__get__(obj, owner)


def _bind_on_first_use(name: str) -> None:
    for cls in (MicroCTArrayAccessor, MicroCTTreeAccessor):
        setattr(cls, name, _VerbOnFirstUse(name))


on_register(_bind, _bind_on_first_use)
