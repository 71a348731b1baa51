"""Connected components with one global numbering across chunks.

The verb and its array composition; the block-graph machinery (per-block labels with
static offsets, face equivalences, one union-find, the tables painted back per block)
is :mod:`xarray_microct.core.blocks.components`.
"""

from __future__ import annotations

import dask.array as da
import xarray as xr

from xarray_microct.core.blocks.components import components
from xarray_microct.core.registry import operation
from xarray_microct.core.validation import check_connectivity
from xarray_microct.core.volume import wrap_like

__all__ = ["label", "label_array"]


def label_array(mask: da.Array, connectivity: int = 1) -> tuple[da.Array, da.Array]:
    """Connected components of a 3-D Dask mask, numbered ``1..N`` across all chunks.

    Parameters
    ----------
    mask : dask.array.Array
        Boolean (or integer, read as ``!= 0``) 3-D array, any chunking.
    connectivity : {1, 2, 3}
        Neighbours sharing a face (6), also an edge (18), also a corner (26).

    Returns
    -------
    labels : dask.array.Array
        Same chunks as ``mask``; int32 (int64 beyond 2**31 voxels); equal to
        ``scipy.ndimage.label`` on the whole array up to a renumbering of the objects.
    count : dask.array.Array
        0-d, the number of objects ``N``.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((6, 6, 6), bool); m[0, 0, :] = True; m[5, 5, 5] = True
    >>> labels, n = label_array(da.from_array(m, chunks=2))
    >>> int(n.compute()), np.unique(labels.compute()).tolist()
    (2, [0, 1, 2])
    """
    cc = components(mask, connectivity)
    return cc.labels, cc.count


@operation(takes="mask", spatial_only=True, packages=["scipy"], on_tree="finest")
def label(volume: xr.DataArray, connectivity: int = 1) -> xr.DataArray:
    """Connected components with one global numbering ``1..N`` across all chunks.

    Parameters
    ----------
    volume : xarray.DataArray
        A boolean mask (e.g. from :func:`threshold`), or integers 0 and 1, or labels
        made by a label verb (read as ``!= 0``). Another integer volume (a scan) fails
        as it is computed, and float input at once: threshold it first.
    connectivity : {1, 2, 3}
        Voxels are connected through faces (1, 6 neighbours), also edges (2, 18) or
        also corners (3, 26) — as ``scipy.ndimage.generate_binary_structure(3, c)``.

    Returns
    -------
    xarray.DataArray
        Lazy int32 labels (int64 beyond 2**31 voxels), 0 = background, objects
        ``1..N`` numbered in the order of their first voxel by chunk then raster order.
        Equal to ``scipy.ndimage.label`` on the whole volume up to renumbering, for any
        chunking. ``attrs["units"]`` is dropped. On a pyramid (a DataTree), the finest
        level is labelled and the coarser levels are its labels downsampled by majority
        (``pyramid(method="mode")``), so an object has the same number at every level.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> m = np.zeros((8, 8, 8), bool); m[1:7, 2, 2] = True; m[0, 0, 0] = True
    >>> labels = mct.from_array(m, chunks=3).microct.label(connectivity=3)
    >>> int(labels.max())
    2
    """
    labels, _ = label_array(volume.data, check_connectivity(connectivity))
    return wrap_like(volume, labels, long_name="labels")
