"""Checks of what a verb is given: a mask, labels, a 3-D volume, a connectivity.

The registry runs the checks a verb declares (``takes="mask"``, ``spatial_only=True``)
before calling it; array functions below the verbs call the same checks, so a message
reads the same wherever the problem is found.
"""

from __future__ import annotations

from typing import Any, Literal

import dask.array as da
import numpy as np

from xarray_microct.core.volume import SPATIAL_DIMS

NanPolicy = Literal["raise", "propagate"]
NAN_POLICIES = ("raise", "propagate")


def check_connectivity(connectivity: Any) -> int:
    """Validate a 3-D connectivity: 1 (faces, 6 neighbours), 2 (edges, 18), 3 (corners, 26).

    Examples
    --------
    >>> check_connectivity(3)
    3
    """
    if isinstance(connectivity, bool) or not isinstance(connectivity, (int, np.integer)):
        raise TypeError(
            f"connectivity must be the integer 1 (faces), 2 (edges) or 3 (corners), "
            f"got {connectivity!r}"
        )
    if connectivity not in (1, 2, 3):
        raise ValueError(
            f"connectivity must be 1 (faces, 6 neighbours), 2 (edges, 18) or 3 "
            f"(corners, 26) in 3-D, got {connectivity}"
        )
    return int(connectivity)


def check_mask(data: Any, what: str = "label") -> None:
    """Refuse float (and other non-binary) input where a mask is expected.

    A boolean array is a mask; an integer array is accepted and read as ``!= 0``.
    Floats are refused: threshold them first (e.g. ``vol.microct.threshold()``).

    Examples
    --------
    >>> check_mask(np.zeros(3, bool))
    >>> check_mask(np.zeros(3))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: label needs a binary mask: a boolean mask or integer labels (non-zero = ...
    """
    dtype = np.dtype(data.dtype)
    if not (dtype == np.bool_ or np.issubdtype(dtype, np.integer)):
        raise TypeError(
            f"{what} needs a binary mask: a boolean mask or integer labels (non-zero = "
            f"foreground), got {dtype}; threshold it first, e.g. vol.microct.threshold() "
            "or vol > value"
        )


def _binary_block(block: np.ndarray, what: str) -> np.ndarray:
    check_binary_values(block, what)
    return block


def check_binary_values(values: np.ndarray, what: str = "label") -> None:
    """Refuse an integer array holding other values than 0 and 1 (an intensity scan).

    A uint8 array of 0 and 255 (a mask saved by ImageJ/Fiji or ``img_as_ubyte``) is a
    mask too.

    Examples
    --------
    >>> check_binary_values(np.array([0, 1, 1], "uint16"))
    >>> check_binary_values(np.array([0, 255, 255], "uint8"))
    >>> check_binary_values(np.array([0, 1, 1200], "uint16"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: label needs a mask (True/False, the integers 0 and 1, or 0/255 in uint8), ...
    """
    dtype = np.dtype(values.dtype)
    if dtype == np.bool_ or not np.issubdtype(dtype, np.integer) or values.size == 0:
        return
    low, high = int(values.min()), int(values.max())
    if low >= 0 and high <= 1:
        return
    if dtype == np.uint8 and high == 255 and not np.any((values != 0) & (values != 255)):
        return  # a 0/255 mask
    other = high if high > 1 else low
    raise ValueError(
        f"{what} needs a mask (True/False, the integers 0 and 1, or 0/255 in uint8), but "
        f"this {dtype} volume holds the value {other}: an intensity scan (or labels made "
        "elsewhere), "
        "not a mask. Threshold it first, e.g. vol.microct.threshold() or vol > value; "
        "labels made elsewhere read as one mask with vol > 0"
    )


def binary_values(data: da.Array, what: str = "label") -> da.Array:
    """``data`` as it is, with a lazy check that an integer array holds only 0 and 1.

    The check runs in each block's task when the result is computed (no pass over the
    volume now): a scan given where a mask is expected fails there with
    :func:`check_binary_values`'s message, instead of every non-zero voxel being read
    as foreground. Boolean (and non-integer) arrays are returned unchanged.

    Examples
    --------
    >>> mask = binary_values(da.from_array(np.array([0, 1, 1], "uint8"), chunks=2))
    >>> mask.compute().tolist()
    [0, 1, 1]
    >>> binary_values(da.from_array(np.array([0, 7], "uint8"))).compute()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: label needs a mask (True/False, the integers 0 and 1, or 0/255 in uint8), ...
    """
    dtype = np.dtype(data.dtype)
    if dtype == np.bool_ or not np.issubdtype(dtype, np.integer):
        return data
    return da.map_blocks(_binary_block, data, what=what, dtype=dtype, meta=data._meta)


def check_labels(data: Any, what: str) -> None:
    """Refuse non-integer input where a label image is expected.

    Examples
    --------
    >>> check_labels(np.zeros(3, "int32"), "regionprops")
    >>> check_labels(np.zeros(3, "float32"), "regionprops")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: regionprops needs integer labels (0 = background), got float32; ...
    """
    dtype = np.dtype(data.dtype)
    if not (np.issubdtype(dtype, np.integer) or dtype == np.bool_):
        raise TypeError(
            f"{what} needs integer labels (0 = background), got {dtype}; make them with "
            "vol.microct.label()"
        )


def check_spatial_only(dims: tuple[Any, ...], what: str) -> None:
    """Refuse a volume with leading ``t``/``c`` dims where only ``(z, y, x)`` is handled.

    Examples
    --------
    >>> check_spatial_only(("z", "y", "x"), "label")
    >>> check_spatial_only(("c", "z", "y", "x"), "label")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: label works on a 3-D volume (z, y, x), got dims ('c', 'z', 'y', 'x'); ...
    """
    if tuple(dims) != SPATIAL_DIMS:
        raise ValueError(
            f"{what} works on a 3-D volume (z, y, x), got dims {tuple(dims)}; "
            "select one t/c index first, e.g. vol.isel(c=0)"
        )


def check_nan_policy(nan_policy: Any) -> None:
    """Refuse a NaN policy other than ``"raise"`` and ``"propagate"``.

    Examples
    --------
    >>> check_nan_policy("raise")
    >>> check_nan_policy("omit")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: nan_policy must be 'raise' or 'propagate', got 'omit'
    """
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy must be 'raise' or 'propagate', got {nan_policy!r}")


def nan_message(what: str) -> str:
    """The error a filter raises on NaN input: what happened and the fixes.

    Examples
    --------
    >>> "fillna" in nan_message("gaussian") and "fill_padding" in nan_message("gaussian")
    True
    """
    return (
        f"{what}: the volume holds NaN (e.g. a reconstruction masked outside its field of "
        "view), which the filter would spread over its whole reach around each one. Fill "
        "them first: vol.fillna(value) with the background's level, or, for NaN around "
        "the field of view, vol.microct.fill_padding() (a fill_padding step first in a "
        "pipeline file; the fibers and beads pipelines fill it themselves); or pass "
        "nan_policy='propagate' to get NaN wherever a NaN is within reach"
    )


def inf_message(what: str) -> str:
    """The error a filter raises on infinite input: what happened and the fix.

    Examples
    --------
    >>> "isfinite" in inf_message("gaussian") and "propagate" in inf_message("gaussian")
    True
    """
    return (
        f"{what}: the volume holds infinite values (+inf or -inf), which the filter would "
        "spread over its whole reach around each one (as ±inf or NaN). Replace them "
        "first: vol.where(np.isfinite(vol), value) with the background's level; or pass "
        "nan_policy='propagate' to let them spread"
    )


def refuse_nan(block: np.ndarray, what: str, infinite: bool = True) -> None:
    """Raise :func:`nan_message` if a float block holds NaN, :func:`inf_message` if it
    holds ±inf and ``infinite`` (one ``sum``, no copy: NaN and ±inf make it non-finite;
    only then, or where finite values overflow it, the block is searched for which).

    Examples
    --------
    >>> refuse_nan(np.array([1.0, 3e38, 3e38], np.float32), "gaussian")  # overflow only
    >>> refuse_nan(np.array([1.0, -np.inf, np.nan]), "gaussian")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: gaussian: the volume holds NaN ...
    >>> refuse_nan(np.array([1.0, np.inf]), "gaussian")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: gaussian: the volume holds infinite values ...
    """
    if block.dtype.kind != "f" or not block.size:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(block.sum()):
            return
    if np.isnan(block).any():
        raise ValueError(nan_message(what))
    if infinite and np.isinf(block).any():
        raise ValueError(inf_message(what))


def _no_nan_block(block: np.ndarray, what: str, infinite: bool) -> np.ndarray:
    refuse_nan(block, what, infinite)
    return block


def nan_checked(data: da.Array, nan_policy: str, what: str, infinite: bool = True) -> da.Array:
    """``data`` as it is, checked for NaN and ±inf in each block's task as it is computed.

    ``nan_policy="raise"``: a float array holding NaN fails with :func:`nan_message`,
    one holding ±inf with :func:`inf_message` (unless not ``infinite``: the median, which
    ±inf do not spread through), when computed (no pass over the volume now);
    ``"propagate"`` (and integer input) returns ``data`` itself.

    Examples
    --------
    >>> x = da.from_array(np.array([1.0, np.nan, 3.0]), chunks=2)
    >>> nan_checked(x, "propagate", "gaussian") is x
    True
    >>> nan_checked(x, "raise", "gaussian").compute()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: gaussian: the volume holds NaN ...
    """
    check_nan_policy(nan_policy)
    if nan_policy == "propagate" or np.dtype(data.dtype).kind != "f":
        return data
    return da.map_blocks(
        _no_nan_block, data, what=what, infinite=infinite, dtype=data.dtype, meta=data._meta
    )
