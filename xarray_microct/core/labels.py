"""Label volumes: masks and label images, told apart from intensity images.

A volume is a *label volume* when its values name classes or objects rather than
measure intensity: a boolean mask, or an integer volume made by a verb that assigns
labels (``label``, ``watershed``, ``threshold``...) as its provenance records. Label
volumes are downsampled by majority (``mode``, never inventing a label id) and written
to OME-Zarr with ``image-label`` metadata, so viewers (napari) show them as labels.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from xarray_microct.core.volume import PROVENANCE_KEY

LABEL_OPS = frozenset(
    {
        "label",
        "watershed",
        "threshold",
        "hysteresis",
        "segment",
        "fill_holes",
        "remove_small_objects",
    }
)
"""Verbs whose integer or boolean result is a label volume."""


def is_label_volume(volume: xr.DataArray) -> bool:
    """Whether ``volume`` holds labels: boolean, or integer and made by a label verb.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> is_label_volume(mct.from_array(np.zeros((2, 2, 2), bool), spacing=1.0))
    True
    >>> is_label_volume(mct.from_array(np.zeros((2, 2, 2), "uint16"), spacing=1.0))
    False
    """
    dtype = np.dtype(volume.dtype)
    if dtype == np.bool_:
        return True
    if not np.issubdtype(dtype, np.integer):
        return False
    return any(
        isinstance(record, dict) and record.get("op") in LABEL_OPS
        for record in volume.attrs.get(PROVENANCE_KEY, [])
    )


def default_pyramid_method(volume: xr.DataArray) -> str:
    """``"mode"`` for label volumes, ``"gaussian"`` for intensity images.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> default_pyramid_method(mct.from_array(np.zeros((2, 2, 2), bool), spacing=1.0))
    'mode'
    """
    return "mode" if is_label_volume(volume) else "gaussian"


__all__ = ["LABEL_OPS", "default_pyramid_method", "is_label_volume"]
