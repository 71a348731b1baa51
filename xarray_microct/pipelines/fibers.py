"""The fiber-bed pipeline of the seed paper (Fig. 4–5): tubeness → segment → detect.

:func:`fibers` runs the whole chain on a scan (a volume, or a pyramid whose finest level
is used unless ``level=`` picks another) and returns the fiber table of
:meth:`detect_fibers <xarray_microct.ops.fibers.detect_fibers>`:

0. the working grid: large fibers (9 pixels of radius or more, such as the seed's 6.4 µm
   fibers at 0.65 µm) are found on the scan binned ``b × b`` in y and x, ``b`` = radius
   / 6 rounded (z kept), ``b²`` times fewer voxels for every stage below
   (:mod:`xarray_microct.ops.fibers.grid`);
1. ``tubeness`` (Sato) at σ = 0.6 × radius: bright along each fiber's centre line, low
   where touching fibers meet, so it seeds one centre per fiber;
2. segmentation: a global Otsu threshold (from the histogram of the whole volume, never
   per chunk) of the lightly smoothed scan (of the bins, smoothed along z) gives each
   fiber's cross-section; its histogram is gathered first, in one streaming pass;
3. detection: per slice, the tubeness maxima inside the mask seed a watershed that splits
   touching fibers; each region gives a centre and a radius; centres are linked along z.

Every stage streams: binning, tubeness and mask chunk by chunk (no rechunk, whatever
the input's chunks), centres tile by tile (a halo around each tile, never a whole
slice), linking slab by slab on the workers; :func:`fibers_graph` builds the whole job
as one lazy Dask graph without computing it.

The chain is recorded in the table's provenance, so ``xarray_microct.replay(table, other)``
re-runs it on another scan.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr
from dask.delayed import Delayed

from xarray_microct.core.units import resolve_length
from xarray_microct.core.volume import grid_of
from xarray_microct.ops.fibers import DEFAULT_RADIUS, detect_fibers, plan_detection


def fibers(
    volume: xr.DataArray | xr.DataTree,
    radius: Any = None,
    sigma: Any = None,
    level: int | str | None = None,
    *,
    min_radius: Any = None,
    link_distance: Any = None,
    max_gap: int = 5,
    min_slices: int = 3,
    axis: Literal["z", "y", "x"] = "z",
    invert: bool = False,
) -> pd.DataFrame:
    """Find the fibers of a scan: tubeness → segment → detect → fiber table.

    Parameters
    ----------
    volume : xarray.DataArray or xarray.DataTree
        The scan (fibers bright, running roughly along z, or ``axis``), or a pyramid of it.
    radius : length, optional
        Typical fiber radius: sets the tubeness scale, the seed spacing, the smallest
        radius kept and the linking distance. Estimated from the scan by default (and
        recorded in the table's provenance).
    sigma : length, optional
        Tubeness scale (default 0.6 × radius).
    level : int or str, optional
        Pyramid level to analyse when ``volume`` is a DataTree (default: the finest).
    min_radius, link_distance, max_gap, min_slices, axis
        The parameters of ``detect_fibers`` of those names, with its defaults (``axis``:
        fibers along y or x). Named here, so that ``microct run fibers --param`` checks
        their names when it reads the pipeline, before the input.
    invert : bool
        The fibers are darker than the matrix: detect them on ``vol.microct.invert()``
        (recorded in the provenance, so replay inverts too). ``microct run fibers``:
        ``--param invert=true``, which the warning about dark fibers names.

    Returns
    -------
    pandas.DataFrame
        One row per fiber per slice: ``fiber_id, z, y, x, radius`` in the scan's units,
        with units and provenance in ``attrs``. Summarise it with
        :func:`xarray_microct.fiber_summary`.

    Examples
    --------
    >>> import xarray_microct as mct
    >>> from xarray_microct.synthetic import fiber_bed
    >>> from xarray_microct.pipelines import fibers
    >>> vol, truth = fiber_bed((12, 48, 48), seed=3)
    >>> table = fibers(vol)
    >>> s = mct.metrics.object_metrics(table, truth.centres, like=vol, margin=6.4)
    >>> bool(s["f1"] > 0.9)
    True
    """
    if isinstance(volume, xr.DataArray) and level is not None:
        raise TypeError("level= applies to a pyramid (DataTree), not to a single volume")
    kwargs = {"level": level} if level is not None else {}
    if isinstance(volume, xr.DataArray) and volume.dtype == bool:
        raise TypeError(
            "the fiber pipeline starts from a scan (intensities); for a segmentation use "
            "vol.microct.detect_fibers() directly"
        )
    if not isinstance(invert, bool | np.bool_):
        raise TypeError(f"fibers: invert is True or False, got {invert!r}")
    if invert:
        volume = volume.microct.invert()
    params = dict(min_radius=min_radius, link_distance=link_distance, max_gap=max_gap)
    params.update(min_slices=min_slices, axis=axis)
    return detect_fibers(volume, radius=radius, source="intensity", sigma=sigma, **params, **kwargs)


def fibers_graph(
    volume: xr.DataArray, radius: Any = DEFAULT_RADIUS, sigma: Any = None, **params: Any
) -> Delayed:
    """The fiber pipeline on a volume as one lazy Dask graph (nothing is computed).

    The radius is 6.4 µm (the seed's SiC fibers) unless given: ``radius=None`` estimates
    it from the scan, which reads a few slices.

    The same graph :func:`fibers` computes, except that the global Otsu threshold stays a
    lazy reduction in it (:func:`fibers` computes that value first, in a streaming pass).
    For inspecting the graph (its tasks, their chunks) or submitting it to a cluster;
    ``compute()`` gives ``(table, z_coherence)`` without the table's ``attrs``.

    Parameters
    ----------
    volume : xarray.DataArray
        The scan (fibers bright, running roughly along z, or ``axis``).
    radius, sigma, **params
        As :func:`fibers`; lengths in any form the verbs accept.

    Examples
    --------
    >>> import dask.array as da
    >>> import xarray_microct as mct
    >>> vol = mct.from_array(da.zeros((64, 1024, 1024), "uint16", chunks=64), spacing=1.3)
    >>> graph = fibers_graph(vol)
    >>> len(graph.dask) > 0
    True
    """
    grid = grid_of(volume)
    lengths = {"radius": radius, "sigma": sigma}
    lengths.update({k: params.pop(k) for k in ("min_radius", "link_distance") if k in params})
    resolved = {  # radius=None stays None: the plan estimates it
        name: None if value is None else resolve_length(value, grid.spacing, grid.units, name=name)
        for name, value in lengths.items()
    }
    plan = plan_detection(volume, source="intensity", **resolved, **params)
    return plan.graph
