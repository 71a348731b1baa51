"""Look at a volume: slice previews, orthogonal slices, overlays and 3-D views.

Every view is a HoloViews object drawn with Bokeh (through hvplot), in physical
coordinates with units on the axes and an aspect ratio true to the voxel spacing.
Views are lazy in the way that matters for big scans: a slider position or a zoom only
computes the voxels on screen — one slice, and on a pyramid (a DataTree) only the
window of the level that fits the screen. The intensity range comes from global
percentiles computed from the whole volume with a streaming histogram (on a pyramid,
from its coarsest level), so the contrast does not jump from slice to slice.

Functions take a volume (``xarray.DataArray``) or a pyramid (``xarray.DataTree``); the
same functions are the accessor methods ``vol.microct.preview()`` etc.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from xarray_microct.core.volume import SPATIAL_DIMS, Grid, as_dask, grid_of
from xarray_microct.slices import (
    PLANE,
    SCREEN,
    centre,
    check_dim,
    index_of,
    label_colors,
    level_for_screen,
    pyramid_levels,
    resolve_clim,
)

VIEW3D_EXTRA = 'pip install "xarray-microct[view3d]"'

def load_holoviews() -> Any:
    """HoloViews with hvplot's ``.hvplot`` accessor and the Bokeh backend loaded."""
    import holoviews as hv
    import hvplot.xarray  # noqa: F401  (registers .hvplot)

    if "bokeh" not in hv.Store.loaded_backends():
        hv.extension("bokeh", logo=False)
    return hv


# ---------------------------------------------------------------------------------------
# volumes and pyramids


def _spatial_only(volume: xr.DataArray) -> xr.DataArray:
    if volume.ndim != 3:
        extra = [d for d in volume.dims if d not in SPATIAL_DIMS]
        raise ValueError(
            f"the volume has leading dims {extra}; view one of them, e.g. "
            f"vol.isel({extra[0]}=0).microct.preview()"
        )
    return volume


def _axis_label(dim: str, units: str) -> str:
    return f"{dim} ({units})"


def _window(coord: np.ndarray, lim: tuple[float, float] | None, spacing: float) -> slice:
    """Voxel index range of ``coord`` covering the physical range ``lim``."""
    if lim is None or lim[0] is None or lim[1] is None:
        return slice(None)
    low, high = sorted(lim)
    start = int(np.searchsorted(coord, low - spacing, side="left"))
    stop = int(np.searchsorted(coord, high + spacing, side="right"))
    start, stop = max(start - 1, 0), min(stop + 1, coord.size)
    if stop - start < 2:
        return slice(None)
    return slice(start, stop)


def _level_for_window(
    levels: Sequence[xr.DataArray],
    dim: str,
    x_range: tuple[float, float] | None,
    y_range: tuple[float, float] | None,
    screen: tuple[int, int],
    start: int,
) -> int:
    """Finest level (not finer than needed) whose window fits the screen."""
    h_dim, v_dim = PLANE[dim]
    if x_range is None and y_range is None:
        return start
    for index, level in enumerate(levels):
        grid = grid_of(level)
        h_sp = grid.spacing[SPATIAL_DIMS.index(h_dim)]
        v_sp = grid.spacing[SPATIAL_DIMS.index(v_dim)]
        h_n = level.sizes[h_dim] if x_range is None else abs(x_range[1] - x_range[0]) / h_sp
        v_n = level.sizes[v_dim] if y_range is None else abs(y_range[1] - y_range[0]) / v_sp
        if h_n <= screen[0] and v_n <= screen[1]:
            return index
    return len(levels) - 1


def slice_image(
    level: xr.DataArray,
    dim: str,
    position: float,
    *,
    clim: tuple[float, float] | None = None,
    cmap: str | list[str] = "gray",
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    frame_width: int = 400,
    title: str | None = None,
) -> Any:
    """One slice of ``level`` across ``dim`` at physical ``position``, as an ``hv.Image``.

    Only that slice (or its window ``x_range``/``y_range``) is computed.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.random.rand(4, 6, 8), spacing=(2.0, 0.5, 0.5))
    >>> image = slice_image(vol, "z", 2.0)
    >>> image.dimension_values(2, flat=False).shape, [str(d) for d in image.kdims]
    ((6, 8), ['x', 'y'])
    """
    load_holoviews()
    check_dim(dim)
    level = _spatial_only(level)
    grid = grid_of(level)
    h_dim, v_dim = PLANE[dim]
    index = index_of(level, dim, position)
    spacing = dict(zip(grid.dims, grid.spacing, strict=True))
    selection = {
        dim: index,
        h_dim: _window(level.coords[h_dim].values, x_range, spacing[h_dim]),
        v_dim: _window(level.coords[v_dim].values, y_range, spacing[v_dim]),
    }
    plane = level.isel(selection).transpose(v_dim, h_dim).compute()
    values = plane.values
    if values.dtype == np.bool_:
        values = values.astype(np.uint8)
    name = str(level.name or "intensity")
    data = xr.DataArray(
        values, dims=(v_dim, h_dim), coords={d: plane.coords[d].values for d in (v_dim, h_dim)},
        name=name,
    )
    at = float(level.coords[dim].values[index])
    options: dict[str, Any] = {
        "cmap": cmap,
        "data_aspect": 1.0,
        "frame_width": frame_width,
        "xlabel": _axis_label(h_dim, grid.units),
        "ylabel": _axis_label(v_dim, grid.units),
        "title": title if title is not None else f"{name}, {dim} = {at:.4g} {grid.units}",
        "colorbar": True,
        "tools": ["hover"],
        "flip_yaxis": True,  # first row on top, as in image viewers and the PNG figures
    }
    if clim is not None:
        options["clim"] = clim
    if 1 in values.shape:  # hvplot cannot tell a voxel's size from one coordinate
        hv = load_holoviews()
        h, v = (data.coords[d].values for d in (h_dim, v_dim))
        half_h, half_v = spacing[h_dim] / 2, spacing[v_dim] / 2
        bounds = (h[0] - half_h, v[0] - half_v, h[-1] + half_h, v[-1] + half_v)
        # an hv.Image's first row is its top (largest v): rows in descending v
        image = hv.Image(values[::-1], bounds=bounds, kdims=[h_dim, v_dim], vdims=[name])
        opts = {k: v for k, v in options.items() if k != "flip_yaxis"}
        return image.opts(invert_yaxis=True, **opts)  # hvplot's flip_yaxis
    return data.hvplot.image(x=h_dim, y=v_dim, **options)


def _slider_dim(level: xr.DataArray, dim: str, units: str) -> Any:
    hv = load_holoviews()
    values = level.coords[dim].values
    step = float(values[1] - values[0]) if values.size > 1 else 1.0
    return hv.Dimension(
        dim, label=dim, unit=units, range=(float(values[0]), float(values[-1])), step=step,
        default=float(values[values.size // 2]),
    )


def _dynamic_slices(
    levels: list[xr.DataArray],
    dim: str,
    make: Callable[[xr.DataArray, float, Any, Any], Any],
    start: int,
    screen: tuple[int, int],
    refine: bool,
) -> Any:
    """A DynamicMap over positions along ``dim`` (slider), refining the level on zoom."""
    hv = load_holoviews()
    base = levels[start]
    grid = grid_of(base)
    streams = [hv.streams.RangeXY()] if refine and len(levels) > 1 else []

    def callback(position: float, x_range: Any = None, y_range: Any = None) -> Any:
        level = levels[_level_for_window(levels, dim, x_range, y_range, screen, start)]
        return make(level, position, x_range, y_range)

    return hv.DynamicMap(callback, kdims=[_slider_dim(base, dim, grid.units)], streams=streams)


def preview(
    obj: xr.DataArray | xr.DataTree,
    dim: str = "z",
    *,
    clim: tuple[float, float] | str | None = "auto",
    cmap: str = "gray",
    screen: tuple[int, int] = SCREEN,
    frame_width: int = 500,
    positions: Sequence[float] | int | None = None,
) -> Any:
    """An image of one slice with a slider over ``dim``, in physical coordinates.

    Parameters
    ----------
    obj : xarray.DataArray or xarray.DataTree
        A volume, or a pyramid whose coarsest level that fits ``screen`` is shown (and,
        in a live session, finer levels as you zoom in).
    dim : {"z", "y", "x"}
        The slider's dim; the slice spans the other two.
    clim : "auto", (low, high) or None
        Intensity range; "auto" uses the 0.5 and 99.5 global percentiles
        (:func:`xarray_microct.slices.intensity_range`), None lets Bokeh scale each slice.
    cmap : str
        Colormap name.
    screen : (int, int)
        Pixel budget (width, height) for picking a pyramid level.
    frame_width : int
        Width of the plot frame in screen pixels; the height follows the aspect ratio.
    positions : int or sequence of float, optional
        ``None`` (default): a live ``DynamicMap`` that computes each slice when the
        slider reaches it. An int ``n`` or a list of physical positions: a static
        ``HoloMap`` of those slices, for an HTML file that works without a server.

    Returns
    -------
    holoviews.DynamicMap or holoviews.HoloMap

    Examples
    --------
    >>> import numpy as np, holoviews as hv, xarray_microct as mct
    >>> vol = mct.from_array(np.random.rand(8, 16, 16), spacing=(2.0, 0.65, 0.65))
    >>> view = preview(vol, clim=(0, 1))             # nothing computed yet
    >>> slice_3 = view[6.0]                          # z = 6 um: computes one slice
    >>> slice_3.dimension_values(2, flat=False).shape
    (16, 16)
    """
    check_dim(dim)
    levels = pyramid_levels(obj)
    for level in levels:
        _spatial_only(level)
    start = level_for_screen(levels, dim, screen)
    limits = resolve_clim(obj, clim)

    def make(level: xr.DataArray, position: float, x_range: Any, y_range: Any) -> Any:
        return slice_image(
            level, dim, position, clim=limits, cmap=cmap, x_range=x_range, y_range=y_range,
            frame_width=frame_width,
        )

    if positions is None:
        return _dynamic_slices(levels, dim, make, start, screen, refine=True)
    level = levels[start]
    return _static_slices(level, dim, positions, lambda p: make(level, p, None, None))


def _static_slices(
    level: xr.DataArray, dim: str, positions: Sequence[float] | int, make: Callable[[float], Any]
) -> Any:
    hv = load_holoviews()
    coord = level.coords[dim].values
    if isinstance(positions, int | np.integer):
        if positions < 1:
            raise ValueError(f"positions must be at least 1, got {positions}")
        picks = np.unique(np.linspace(0, coord.size - 1, min(int(positions), coord.size) + 2))
        picks = picks[1:-1] if picks.size > 2 else picks
        values = [float(coord[round(float(i))]) for i in picks]
    else:
        values = [float(coord[index_of(level, dim, float(p))]) for p in positions]
    if not values:
        raise ValueError("positions is empty; give at least one position")
    grid = grid_of(level)
    kdim = hv.Dimension(dim, unit=grid.units)
    return hv.HoloMap({v: make(v) for v in dict.fromkeys(values)}, kdims=[kdim])


def _point_of(level: xr.DataArray, point: Any) -> dict[str, float]:
    if point is None:
        return centre(level)
    if isinstance(point, dict):
        unknown = set(point) - set(SPATIAL_DIMS)
        if unknown:
            raise ValueError(f"point has unknown dims {sorted(unknown)}; use z, y, x")
        return {**centre(level), **{d: float(v) for d, v in point.items()}}
    values = tuple(point)
    if len(values) != 3:
        raise ValueError(f"point needs (z, y, x) in physical units, got {point!r}")
    return dict(zip(SPATIAL_DIMS, (float(v) for v in values), strict=True))


def orthoslices(
    obj: xr.DataArray | xr.DataTree,
    point: Sequence[float] | dict[str, float] | None = None,
    *,
    clim: tuple[float, float] | str | None = "auto",
    cmap: str = "gray",
    screen: tuple[int, int] = SCREEN,
    frame_width: int = 300,
) -> Any:
    """Three linked orthogonal slices (xy, xz, zy) through ``point``.

    The views share their axes (zooming one zooms the others along the shared dim),
    cross-hairs mark the point, and in a live session a tap on any view moves the
    point, recomputing only the three slices through it.

    Parameters
    ----------
    obj : xarray.DataArray or xarray.DataTree
    point : tuple or dict, optional
        Physical coordinates of the point, ``(z, y, x)`` or a dict by dimension; the
        centre of the volume by default.
    clim, cmap, screen, frame_width
        As in :func:`preview`.

    Returns
    -------
    holoviews.Layout
        ``[xy, xz, zy]`` views; each is a DynamicMap driven by the shared point.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.random.rand(8, 12, 16), spacing=(2.0, 1.0, 1.0))
    >>> layout = orthoslices(vol, point=(4.0, 5.0, 7.0), clim=(0, 1))
    >>> len(layout)
    3
    """
    hv = load_holoviews()
    levels = pyramid_levels(obj)
    for level in levels:
        _spatial_only(level)
    start = min(level_for_screen(levels, d, screen) for d in SPATIAL_DIMS)
    level = levels[start]
    limits = resolve_clim(obj, clim)
    first = _point_of(level, point)
    Point = hv.streams.Stream.define("Point", **first)
    shared = Point()

    def make_view(dim: str) -> tuple[Callable[..., Any], Callable[..., None]]:
        h_dim, v_dim = PLANE[dim]

        def view(**where: float) -> Any:
            image = slice_image(
                level, dim, where[dim], clim=limits, cmap=cmap, frame_width=frame_width
            )
            cross = hv.VLine(where[h_dim]).opts(color="orange", line_width=1) * hv.HLine(
                where[v_dim]
            ).opts(color="orange", line_width=1)
            return image * cross

        def moved(x: float | None = None, y: float | None = None) -> None:
            if x is not None and y is not None:
                shared.event(**{h_dim: float(x), v_dim: float(y)})

        return view, moved

    views = []
    for dim in SPATIAL_DIMS:
        view, moved = make_view(dim)
        dmap = hv.DynamicMap(view, streams=[shared])
        h_dim, v_dim = PLANE[dim]
        tap = hv.streams.Tap(source=dmap, x=first[h_dim], y=first[v_dim])
        tap.add_subscriber(moved)
        views.append(dmap)
    return hv.Layout(views).cols(3)


def label_image(
    labels: xr.DataArray,
    dim: str,
    position: float,
    *,
    alpha: float = 0.5,
    x_range: Any = None,
    y_range: Any = None,
    frame_width: int = 500,
) -> Any:
    """One slice of a label (or boolean mask) volume with a categorical colormap.

    Background (0) is transparent; labels cycle through a 256-colour Glasbey palette,
    so neighbouring objects get distinct colours; hovering shows the label.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> lab = mct.from_array(np.arange(64, dtype="int32").reshape(4, 4, 4) % 3)
    >>> image = label_image(lab, "z", 0.0)
    >>> sorted(np.unique(image.dimension_values("label_colour"))[:2].tolist())
    [0.0, 1.0]
    """
    hv = load_holoviews()
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == np.bool_):
        raise TypeError(
            f"overlay needs integer labels or a boolean mask, got {labels.dtype}; "
            "threshold or label the volume first"
        )
    check_dim(dim)
    grid = grid_of(labels)
    h_dim, v_dim = PLANE[dim]
    index = index_of(labels, dim, position)
    spacing = dict(zip(grid.dims, grid.spacing, strict=True))
    plane = (
        labels.isel(
            {
                dim: index,
                h_dim: _window(labels.coords[h_dim].values, x_range, spacing[h_dim]),
                v_dim: _window(labels.coords[v_dim].values, y_range, spacing[v_dim]),
            }
        )
        .transpose(v_dim, h_dim)
        .compute()
    )
    values = plane.values.astype(np.int64)
    colours = label_colors()
    colour_index = np.where(values > 0, (values - 1) % len(colours), np.nan)
    data = xr.Dataset(
        {
            "label_colour": ((v_dim, h_dim), colour_index),
            "label": ((v_dim, h_dim), values),
        },
        coords={d: plane.coords[d].values for d in (v_dim, h_dim)},
    )
    # one row or column: holoviews cannot tell a voxel's size from one coordinate
    density = (
        {"xdensity": 1 / spacing[h_dim], "ydensity": 1 / spacing[v_dim]}
        if 1 in values.shape
        else {}
    )
    image = hv.Image(data, kdims=[h_dim, v_dim], vdims=["label_colour", "label"], **density)
    return image.opts(
        cmap=colours,
        clim=(-0.5, len(colours) - 0.5),
        alpha=alpha,
        clipping_colors={"NaN": (0, 0, 0, 0)},
        color_levels=len(colours),
        colorbar=False,
        tools=["hover"],
    )


def _as_label_volume(volume: xr.DataArray, labels: Any) -> xr.DataArray:
    if isinstance(labels, xr.DataTree):
        levels = pyramid_levels(labels)
        matching = [lv for lv in levels if lv.shape == volume.shape]
        if not matching:
            raise ValueError(
                "no level of the label pyramid has the shape of the shown level "
                f"{volume.shape}; pass the matching level"
            )
        labels = matching[0]
    if not isinstance(labels, xr.DataArray):
        raise TypeError(f"labels must be an xarray.DataArray, got {type(labels).__name__}")
    if labels.shape != volume.shape:
        raise ValueError(
            f"labels have shape {labels.shape} but the volume {volume.shape}; they must lie "
            "on the same grid (for a pyramid, pass the labels of the shown level)"
        )
    grid_l, grid_v = grid_of(labels), grid_of(volume)
    if not np.allclose(grid_l.spacing, grid_v.spacing) or grid_l.units != grid_v.units:
        raise ValueError(
            f"labels have spacing {grid_l.spacing} {grid_l.units} but the volume "
            f"{grid_v.spacing} {grid_v.units}; they must lie on the same grid"
        )
    return as_dask(labels)


def overlay(
    obj: xr.DataArray | xr.DataTree,
    labels: xr.DataArray | xr.DataTree,
    alpha: float = 0.5,
    dim: str = "z",
    *,
    clim: tuple[float, float] | str | None = "auto",
    cmap: str = "gray",
    screen: tuple[int, int] = SCREEN,
    frame_width: int = 500,
    positions: Sequence[float] | int | None = None,
) -> Any:
    """Labels or a mask drawn over the image, with a slider over ``dim``.

    Parameters
    ----------
    obj : xarray.DataArray or xarray.DataTree
        The image (on a pyramid, the level that fits ``screen``).
    labels : xarray.DataArray or xarray.DataTree
        Integer labels (0 = background, transparent) or a boolean mask, on the same
        grid as the shown level.
    alpha : float
        Opacity of the labels.
    dim, clim, cmap, screen, frame_width, positions
        As in :func:`preview`.

    Returns
    -------
    holoviews.DynamicMap or holoviews.HoloMap

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.random.rand(6, 10, 10))
    >>> mask = vol > 0.5
    >>> view = overlay(vol, mask, alpha=0.4, clim=(0, 1))
    >>> len(view[2.0])        # the image and the labels
    2
    """
    check_dim(dim)
    levels = pyramid_levels(obj)
    for level in levels:
        _spatial_only(level)
    start = level_for_screen(levels, dim, screen)
    level = levels[start]
    label_volume = _as_label_volume(level, labels)
    limits = resolve_clim(obj, clim)

    def make(position: float) -> Any:
        image = slice_image(
            level, dim, position, clim=limits, cmap=cmap, frame_width=frame_width
        )
        return image * label_image(
            label_volume, dim, position, alpha=alpha, frame_width=frame_width
        )

    if positions is None:
        hv = load_holoviews()
        return hv.DynamicMap(make, kdims=[_slider_dim(level, dim, grid_of(level).units)])
    return _static_slices(level, dim, positions, make)


def centres_plot(
    obj: xr.DataArray | xr.DataTree,
    detected: Any,
    truth: Any = None,
    z: float | None = None,
    *,
    columns: tuple[str, str] = ("x", "y"),
    clim: tuple[float, float] | str | None = "auto",
    frame_width: int = 500,
    tolerance: float | None = None,
) -> Any:
    """Detected (and true) object centres as markers over one slice.

    Parameters
    ----------
    obj : xarray.DataArray or xarray.DataTree
        The image; the slice at ``z`` (the middle slice by default) is shown.
    detected, truth : pandas.DataFrame or mapping of arrays
        Centres in physical units, with columns ``columns`` (``x``, ``y``) and optionally
        ``z``; rows farther than ``tolerance`` (default: half a slice) from the shown
        slice are dropped when a ``z`` column is present.
    columns : (str, str)
        Names of the horizontal and vertical coordinate columns.
    clim, frame_width
        As in :func:`preview`.

    Returns
    -------
    holoviews.Overlay
        The slice, detected centres (red crosses) and true centres (cyan circles).

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray_microct as mct
    >>> vol = mct.from_array(np.random.rand(4, 20, 20), spacing=0.5)
    >>> found = pd.DataFrame({"x": [2.0, 5.0], "y": [3.0, 6.0]})
    >>> true = pd.DataFrame({"x": [2.1], "y": [3.0]})
    >>> plot = centres_plot(vol, found, true, clim=(0, 1))
    >>> [len(el) for el in plot.values()][1:]
    [2, 1]
    """
    hv = load_holoviews()
    import pandas as pd

    levels = pyramid_levels(obj)
    level = _spatial_only(levels[level_for_screen(levels, "z")])
    grid = grid_of(level)
    position = centre(level)["z"] if z is None else float(z)
    shown = float(level.coords["z"].values[index_of(level, "z", position)])
    limit = grid.spacing[0] / 2 if tolerance is None else float(tolerance)
    image = slice_image(level, "z", shown, clim=resolve_clim(obj, clim), frame_width=frame_width)

    def points(table: Any, label: str) -> Any:
        frame = pd.DataFrame(table)
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(
                f"the {label} table has no column(s) {missing}; it has {list(frame.columns)}. "
                "Pass columns=(horizontal, vertical) naming the centre coordinates"
            )
        if "z" in frame.columns:
            frame = frame[np.abs(frame["z"].to_numpy(float) - shown) <= limit]
        return hv.Points(frame, kdims=list(columns), label=label)

    layers = [image, points(detected, "detected").opts(
        marker="x", color="red", size=10, line_width=2)]
    if truth is not None:
        layers.append(points(truth, "true").opts(
            marker="circle", fill_alpha=0, line_color="cyan", size=12, line_width=2))
    return hv.Overlay(layers).opts(legend_position="top_right")


def fibers_plot(
    obj: xr.DataArray | xr.DataTree,
    fibers: Any,
    truth: Any = None,
    z: float | None = None,
    *,
    clim: tuple[float, float] | str | None = "auto",
    frame_width: int = 500,
) -> Any:
    """Detected fibers (centres and radii) against the true centres, on one z slice.

    Parameters
    ----------
    obj : xarray.DataArray or xarray.DataTree
        The scan.
    fibers : pandas.DataFrame
        The table of ``detect_fibers``: ``fiber_id, z, y, x, radius`` in physical units.
    truth : pandas.DataFrame, optional
        True centres with the same columns (e.g. ``fiber_bed``'s ``truth.centres``).
    z : float, optional
        Physical position of the slice; the middle slice by default.
    clim, frame_width
        As in :func:`preview`.

    Returns
    -------
    holoviews.Overlay
        The slice, a circle of each detected fiber's radius, detected centres (red
        crosses) and true centres (cyan circles); hovering a centre shows its fiber id.

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray_microct as mct
    >>> vol = mct.from_array(np.random.rand(4, 20, 20), spacing=0.5)
    >>> found = pd.DataFrame({"fiber_id": [1, 2], "z": [1.0, 1.0], "y": [3.0, 6.0],
    ...                       "x": [2.0, 5.0], "radius": [1.0, 1.5]})
    >>> shown = fibers_plot(vol, found, z=1.0, clim=(0, 1))
    >>> len(shown.get(2).data)      # one circle per fiber on the slice
    2
    """
    hv = load_holoviews()
    import pandas as pd

    table = pd.DataFrame(fibers)
    missing = [c for c in ("z", "y", "x", "radius") if c not in table.columns]
    if missing:
        raise ValueError(
            f"the fiber table has no column(s) {missing}; pass the table of "
            "vol.microct.detect_fibers() (columns fiber_id, z, y, x, radius)"
        )
    levels = pyramid_levels(obj)
    level = _spatial_only(levels[level_for_screen(levels, "z")])
    position = centre(level)["z"] if z is None else float(z)
    shown = float(level.coords["z"].values[index_of(level, "z", position)])
    spacing = grid_of(level).spacing[0]
    on_slice = table[np.abs(table["z"].to_numpy(float) - shown) <= spacing / 2]
    base = centres_plot(
        level, on_slice, truth, z=shown, clim=resolve_clim(obj, clim), frame_width=frame_width
    )
    angles = np.linspace(0, 2 * np.pi, 33)
    rings = [
        {"x": x + r * np.cos(angles), "y": y + r * np.sin(angles)}
        for x, y, r in on_slice[["x", "y", "radius"]].to_numpy(float)
    ]
    circles = hv.Path(rings, kdims=["x", "y"], label="fiber radius").opts(
        color="orange", line_width=1.5
    )
    image, *markers = base.values()
    return hv.Overlay([image, *markers[:1], circles, *markers[1:]]).opts(
        legend_position="top_right"
    )


# ---------------------------------------------------------------------------------------
# 3-D


def _fiber_polylines(table: Any) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The centre lines of a fiber table as one polyline per fiber, in ``z`` order, the
    fibers separated by a NaN vertex; and the fiber id of each vertex (NaN between)."""
    ordered = table.sort_values(["fiber_id", "z"], kind="stable")
    ids = ordered["fiber_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    # one NaN row before every fiber but the first: np.insert puts it before ``starts``
    gaps = starts[1:]
    lines = {d: np.insert(ordered[d].to_numpy(float), gaps, np.nan) for d in SPATIAL_DIMS}
    return lines, np.insert(ids.astype(float), gaps, np.nan)


def fiber_axes_view(table: Any, summary: Any = None, *, width: int = 700, height: int = 600) -> Any:
    """A live 3-D view of fiber centre lines (Plotly: rotate, zoom, hover for the fiber).

    Each fiber of a :func:`~xarray_microct.ops.fibers.detect_fibers` table is drawn
    through its centres in ``z`` order, in physical units with equal axis scales,
    coloured by its misalignment from the bed axis z (the polar angle of
    :func:`~xarray_microct.fiber_summary`); hovering a line shows the fiber's id, mean
    radius and misalignment. The report shows the same lines as a static image
    (:func:`xarray_microct.report.fiber_axes_figure`). All fibers are one trace, so a bed
    of thousands of fibers stays responsive. ``view3d(table)`` calls this.

    Parameters
    ----------
    table : pandas.DataFrame
        A ``detect_fibers`` table: ``fiber_id, z, y, x, radius``, one row per fiber and
        slice.
    summary : xarray_microct.ops.fibers.summary.FiberSummary, optional
        ``xarray_microct.fiber_summary(table)``, computed if not given.
    width, height : int
        Size of the figure in pixels.

    Returns
    -------
    plotly.graph_objects.Figure
        Displays live in Jupyter; ``fig.write_html(path, include_plotlyjs=True)`` (or
        :func:`xarray_microct.report.save_view`) saves a page that works offline.

    Raises
    ------
    ValueError
        The table lacks a column of a fiber table.
    ImportError
        Naming the extra to install when Plotly is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"fiber_id": [1, 1, 2, 2], "z": [0.0, 4.0, 0.0, 4.0],
    ...                   "y": [2.0, 2.0, 9.0, 9.0], "x": [2.0, 2.0, 9.0, 13.0],
    ...                   "radius": 3.0})
    >>> fig = fiber_axes_view(t)
    >>> (line,) = fig.data           # one trace: the fibers are split by a NaN vertex
    >>> line.x.tolist()
    [2.0, 2.0, nan, 9.0, 13.0]
    >>> line.line.color[[0, 3]].round().tolist()   # misalignment from z (degrees)
    [0.0, 45.0]
    """
    from xarray_microct.ops.fibers import fiber_summary
    from xarray_microct.ops.fibers.summary import TABLE_COLUMNS

    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(
            f"the fiber table has no column(s) {missing}; pass the table of "
            "vol.microct.detect_fibers() (columns fiber_id, z, y, x, radius)"
        )
    try:
        go = importlib.import_module("plotly.graph_objects")
    except ImportError as err:
        raise ImportError(
            f"the live 3-D view of fibers needs Plotly; install it with {VIEW3D_EXTRA}"
        ) from err
    if summary is None:
        summary = fiber_summary(table)
    per_fiber = summary.fibers.set_index("fiber_id")
    lines, ids = _fiber_polylines(table)
    polar = per_fiber["polar"].reindex(ids).to_numpy(float)
    radius = per_fiber["radius"].reindex(ids).to_numpy(float)
    units = str(summary.bed.get("units") or "")
    suffix = f" ({units})" if units else ""
    top = max(float(np.nanmax(polar)) if np.isfinite(polar).any() else 0.0, 1.0)
    trace = go.Scatter3d(
        x=lines["x"],
        y=lines["y"],
        z=lines["z"],
        mode="lines",
        connectgaps=False,
        line={
            "color": np.nan_to_num(polar),
            "colorscale": "Plasma",
            "cmin": 0.0,
            "cmax": top,
            "width": 4,
            "colorbar": {"title": {"text": "misalignment<br>from z (°)"}},
        },
        customdata=np.column_stack([ids, radius, polar]),
        hovertemplate=(
            "fiber %{customdata[0]:.0f}<br>radius %{customdata[1]:.3g}"
            + (f" {units}" if units else "")
            + "<br>misalignment %{customdata[2]:.2f}°<extra></extra>"
        ),
        name="fiber axes",
    )
    figure = go.Figure(trace)
    figure.update_layout(
        title=f"{len(per_fiber)} fiber centre lines",
        width=width,
        height=height,
        scene={
            "xaxis_title": "x" + suffix,
            "yaxis_title": "y" + suffix,
            "zaxis_title": "z" + suffix,
            "aspectmode": "data",  # equal physical scales on the three axes
            "camera": {"eye": {"x": 1.9, "y": 1.9, "z": 1.3}},  # the whole bed in view
        },
        margin={"l": 0, "r": 0, "b": 0, "t": 50},
    )
    return figure


def view3d(
    obj: xr.DataArray | xr.DataTree | Any, *, screen_voxels: int = 256**3, **options: Any
) -> Any:
    """An interactive 3-D view in Jupyter (optional extra ``view3d``): a volume rendering
    with itkwidgets, or, for a fiber table, the fiber axes with Plotly.

    On a pyramid, the finest level with at most ``screen_voxels`` voxels is rendered
    (a volume renderer holds the whole level in GPU memory). Spacing and origin are
    passed on, so the rendering has physical proportions. A
    :func:`~xarray_microct.ops.fibers.detect_fibers` table (a ``pandas.DataFrame``) is
    shown with :func:`fiber_axes_view` instead.

    Parameters
    ----------
    obj : xarray.DataArray, xarray.DataTree or pandas.DataFrame
        A volume, a pyramid, or a fiber table.
    screen_voxels : int
        Largest level to send to the renderer.
    **options
        Passed to ``itkwidgets.view`` (e.g. ``cmap``, ``gradient_opacity``), or to
        :func:`fiber_axes_view` for a fiber table.

    Returns
    -------
    The itkwidgets viewer, or a ``plotly.graph_objects.Figure`` for a fiber table.

    Raises
    ------
    ImportError
        Naming the extra to install when itkwidgets (or Plotly) is missing.
    """
    if not isinstance(obj, xr.DataArray | xr.DataTree):
        return fiber_axes_view(obj, **options)
    try:
        itkwidgets = importlib.import_module("itkwidgets")
    except ImportError as err:
        raise ImportError(
            f"view3d needs the optional 3-D viewer itkwidgets; install it with {VIEW3D_EXTRA}"
        ) from err
    import itk

    levels = pyramid_levels(obj)
    fitting = [lv for lv in levels if int(np.prod(lv.shape[-3:])) <= screen_voxels]
    level = _spatial_only(fitting[0] if fitting else levels[-1])
    grid: Grid = grid_of(level)
    image = itk.image_view_from_array(np.ascontiguousarray(level.values))
    image.SetSpacing(tuple(float(s) for s in reversed(grid.spacing)))
    image.SetOrigin(tuple(float(o) for o in reversed(grid.origin)))
    return itkwidgets.view(image=image, **options)
