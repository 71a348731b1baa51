"""Structuring elements: the ellipsoid of a physical radius, the 3×3×3 connectivity.

Filters, morphology, labelling and the watershed build their neighbourhoods here, so
"a radius of 2 µm" and "connectivity 2" mean the same voxels in every verb.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.ndimage as ndi

from xarray_microct.core.validation import check_connectivity


def ellipsoid_footprint(radius: Sequence[float]) -> np.ndarray:
    """Boolean ellipsoid of the given radius in voxels per axis (a ball when isotropic).

    A voxel at offset ``(i, j, k)`` is inside when ``(i/rz)² + (j/ry)² + (k/rx)² <= 1``;
    an axis with a radius under one voxel is not extended.

    Examples
    --------
    >>> ellipsoid_footprint((1, 1, 1)).sum()
    np.int64(7)
    """
    half = [int(np.floor(r + 1e-9)) for r in radius]
    grids = np.ogrid[tuple(slice(-h, h + 1) for h in half)]
    distance = sum(
        (g / r) ** 2 if r > 0 else np.zeros_like(g, dtype=float)
        for g, r in zip(grids, radius, strict=True)
    )
    return np.asarray(distance <= 1.0 + 1e-9)


def structure(connectivity: int) -> np.ndarray:
    """The 3×3×3 structuring element of a connectivity, as ``scipy.ndimage`` uses it.

    Examples
    --------
    >>> int(structure(1).sum()), int(structure(2).sum()), int(structure(3).sum())
    (7, 19, 27)
    """
    return ndi.generate_binary_structure(3, check_connectivity(connectivity))
