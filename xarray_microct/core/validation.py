"""Checks of what a verb is given: a mask, labels, a 3-D volume, a connectivity.

The registry runs the checks a verb declares (``takes="mask"``, ``spatial_only=True``)
before calling it; array functions below the verbs call the same checks, so a message
reads the same wherever the problem is found.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xarray_microct.core.volume import SPATIAL_DIMS


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
