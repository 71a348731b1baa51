"""Intensity mappings that need no neighbourhood: ``invert``.

The paper's bead chain inverts the scan before Otsu's threshold (the beads are the dark
phase); a recorded ``invert`` step keeps that chain replayable.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from xarray_microct.core.registry import operation
from xarray_microct.core.volume import wrap_like

__all__ = ["invert"]


def invert_array(data):  # type: ignore[no-untyped-def]
    """``skimage.util.invert`` semantics on any array: dark becomes bright.

    Unsigned integers: ``max - v`` (``255 - v`` for uint8); signed integers: ``-1 - v``;
    booleans: ``~v``; floats: ``-v`` (order reversed; no assumed [0, 1] range).

    Examples
    --------
    >>> invert_array(np.array([0, 10, 255], "uint8")).tolist()
    [255, 245, 0]
    """
    dtype = np.dtype(data.dtype)
    if dtype == np.bool_:
        return ~data
    if np.issubdtype(dtype, np.unsignedinteger):
        return dtype.type(np.iinfo(dtype).max) - data
    if np.issubdtype(dtype, np.signedinteger):
        return dtype.type(-1) - data
    return -data


@operation()
def invert(volume: xr.DataArray) -> xr.DataArray:
    """Invert intensities, as ``skimage.util.invert``: dark objects become bright.

    Parameters
    ----------
    volume : xarray.DataArray

    Returns
    -------
    xarray.DataArray
        Same dtype, lazy. Unsigned integers map ``v`` to ``max - v``, signed
        integers to ``-1 - v`` (both exact and reversible), booleans to ``not v``,
        floats to ``-v``. ``attrs["units"]`` is dropped for floats.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.array([[[0, 70, 170]]], "uint8"))
    >>> vol.microct.invert().values.tolist()
    [[[255, 185, 85]]]
    """
    return wrap_like(volume, invert_array(volume.data))
