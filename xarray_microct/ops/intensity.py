"""Intensity mappings that need no neighbourhood: ``invert``.

The paper's bead chain inverts the scan before Otsu's threshold (the beads are the dark
phase); a recorded ``invert`` step keeps that chain replayable.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from xarray_microct.core.registry import operation
from xarray_microct.core.volume import wrap_like

__all__ = ["fill_outside", "fill_padding", "invert"]


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


@operation(intensity_units="keep")
def fill_padding(volume: xr.DataArray, phase: str = "dark") -> xr.DataArray:
    """Replace the out-of-field padding of a scan by the level of one of its phases.

    A reconstruction's circular field of view is often surrounded by one constant
    (0, say): the padding, recognised from the histogram of the whole volume by the
    rule of :mod:`xarray_microct.core.stats` (an extreme value held exactly by at least
    2 % of the voxels of an intensity scan, almost none of them in the slices' central
    disk, where clipping would put some). Filters that mix neighbours (denoising,
    ring removal) would otherwise spread it into the field of view, and every
    threshold would take it as a third phase. Filled with the level of the phase that
    is background to the objects, it reads as background. A float scan's NaN (what many
    reconstructions write outside the field of view) are filled the same way when the
    same rule holds for them (at least 2 % of the voxels, almost none in the central
    disk). A scan without padding is returned unchanged.

    Parameters
    ----------
    volume : xarray.DataArray
    phase : {"dark", "bright"}
        Whose level fills the padding (the phase around the objects).

    Returns
    -------
    xarray.DataArray
        Same dtype, lazy; the scalar coordinates ``padding_value`` (NaN when none),
        ``padding_share`` (of the finite voxels) and ``padding_nan_share`` (the share
        of the voxels that were NaN padding, 0 when none) record what was filled, and
        ``padding_grid_size`` the voxels of the volume they describe (a crop of the
        result keeps the coordinates:
        :func:`~xarray_microct.ops.measure.volume_fraction` refuses them there).

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> rng = np.random.default_rng(0)
    >>> scan = np.where(rng.random((4, 20, 20)) < 0.5, 60.0, 160.0)
    >>> scan += rng.normal(0, 5, scan.shape); scan[:, :, :5] = 0.0  # padding
    >>> out = mct.from_array(scan, chunks=7).microct.fill_padding("bright").compute()
    >>> round(float(out[0, 0, 0])), float(out.padding_value), float(out.padding_share)
    (160, 0.0, 0.25)
    """
    from xarray_microct.core.stats import fill_padding_array

    filled, padding = fill_padding_array(volume.data, bright=_is_bright(phase, "fill_padding"))
    out = wrap_like(volume, filled)
    return out.assign_coords(
        padding_value=((), padding[0]),
        padding_share=((), padding[1]),
        padding_nan_share=((), padding[2]),
        padding_grid_size=((), np.int64(volume.data.size)),
    )


@operation(intensity_units="keep")
def fill_outside(volume: xr.DataArray, phase: str = "dark") -> xr.DataArray:
    """Move the air about a sample that does not fill the field to one of its phases' level.

    A sample that does not fill the field of view (a column filled part way, a tube or
    a cylinder in air, a plate's surface in view) leaves air in the scan: a third
    phase, darker than the sample's two, which every threshold would take for one of
    them. It is recognised as in :mod:`xarray_microct.core.outside` (a mode of its own
    below the sample's two in the histogram, filling regions that reach the volume's
    faces: a large one, or several that run through the volume, such as the four
    corners of a square field about a cylinder; the same for any chunking) and moved
    to the level of the phase that is
    background to the objects, keeping its own noise. A scan without such a region is
    returned unchanged. The out-of-field padding is left as it is (``fill_padding``).

    Parameters
    ----------
    volume : xarray.DataArray
    phase : {"dark", "bright"}
        Whose level the air takes (the phase around the objects).

    Returns
    -------
    xarray.DataArray
        Same dtype, lazy; the scalar coordinates ``outside_below`` (the cut under which
        the outside's voxels were moved; NaN when none) and ``outside_share`` (of the
        volume's cells) record what was moved.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> rng = np.random.default_rng(0)
    >>> scan = np.where(rng.random((24, 32, 32)) < 0.4, 60.0, 160.0)
    >>> scan[16:] = 0.0  # air above the sample
    >>> scan += rng.normal(0, 5, scan.shape)
    >>> out = mct.from_array(scan, chunks=12).microct.fill_outside("bright").compute()
    >>> round(float(np.median(out[20:]))), bool(0 < out.outside_below < 60)
    (160, True)
    """
    import dask
    import dask.array as da

    from xarray_microct.core.outside import fill_outside_array

    filled, found = fill_outside_array(volume.data, bright=_is_bright(phase, "fill_outside"))
    below = da.from_delayed(dask.delayed(getattr)(found, "cut"), (), dtype=np.float64)
    share = da.from_delayed(dask.delayed(getattr)(found, "share"), (), dtype=np.float64)
    out = wrap_like(volume, filled)
    return out.assign_coords(outside_below=((), below), outside_share=((), share))


def _is_bright(phase: str, verb: str) -> bool:
    """Whether a fill's ``phase`` is the bright one (a ValueError naming ``verb`` when it
    is neither ``"dark"`` nor ``"bright"``)."""
    if phase not in ("dark", "bright"):
        raise ValueError(f"{verb}: phase is 'dark' or 'bright', got {phase!r}")
    return phase == "bright"
