"""Slices of a volume or a pyramid in physical space, shared by the viewers and the reports.

Which pyramid level suits a screen, which voxel lies at a physical position, the
display range from global percentiles, the plane shown for a slice across each axis and
the palette of labels: the interactive views (:mod:`xarray_microct.plot`) and the static
pages and figures (:mod:`xarray_microct.report`) use the same answers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from xarray_microct.core.stats import global_percentiles
from xarray_microct.core.tree import level_images
from xarray_microct.core.volume import SPATIAL_DIMS, as_dask, grid_of

SCREEN = (800, 800)
"""Default screen budget in pixels (width, height) for one slice view."""

PERCENTILES = (0.5, 99.5)
"""Default percentiles of the intensity range."""

# For a slice across ``dim``: the (horizontal, vertical) dims of the image. The layout of
# the three orthogonal views shares x between the xy and xz views and y between the xy
# and zy views.
PLANE = {"z": ("x", "y"), "y": ("x", "z"), "x": ("z", "y")}


def pyramid_levels(obj: xr.DataArray | xr.DataTree) -> list[xr.DataArray]:
    """The volumes of a pyramid, finest first (a DataArray is a one-level pyramid).

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.zeros((8, 8, 8)), spacing=1.0)
    >>> half = mct.from_array(np.zeros((4, 4, 4)), spacing=2.0, origin=0.5)
    >>> tree = xr.DataTree.from_dict({"0": vol.to_dataset(name="image"),
    ...                               "1": half.to_dataset(name="image")})
    >>> [level.shape for level in pyramid_levels(tree)]
    [(8, 8, 8), (4, 4, 4)]
    """
    if isinstance(obj, xr.DataArray):
        grid_of(obj)
        return [as_dask(obj)]
    if not isinstance(obj, xr.DataTree):
        raise TypeError(
            f"expected a volume (xarray.DataArray) or a pyramid (xarray.DataTree), "
            f"got {type(obj).__name__}"
        )
    levels = []
    for image in level_images(obj):
        grid_of(image)
        levels.append(as_dask(image))
    return sorted(levels, key=lambda v: -int(np.prod(v.shape[-3:])))


def check_dim(dim: str) -> None:
    """Refuse a dim that is not one of ``z, y, x``.

    Examples
    --------
    >>> check_dim("y")
    """
    if dim not in SPATIAL_DIMS:
        raise ValueError(f"dim must be one of {SPATIAL_DIMS}, got {dim!r}")


def level_for_screen(
    levels: Sequence[xr.DataArray], dim: str = "z", screen: tuple[int, int] = SCREEN
) -> int:
    """Index of the finest level whose slice across ``dim`` fits in ``screen`` pixels.

    Finer levels would only be averaged away by the screen; when none fits, the
    coarsest level is used.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> levels = [mct.from_array(np.zeros((4, n, n))) for n in (2048, 1024, 512)]
    >>> level_for_screen(levels, "z", screen=(1000, 1000))
    2
    >>> level_for_screen(levels, "z", screen=(1024, 1024))
    1
    """
    check_dim(dim)
    h_dim, v_dim = PLANE[dim]
    for index, level in enumerate(levels):
        if level.sizes[h_dim] <= screen[0] and level.sizes[v_dim] <= screen[1]:
            return index
    return len(levels) - 1


def intensity_range(
    obj: xr.DataArray | xr.DataTree, percentiles: tuple[float, float] = PERCENTILES
) -> tuple[float, float]:
    """Display range from global percentiles of the whole volume.

    Computed with a streaming histogram (``core.stats.global_percentiles``), one pass
    over the chunks, never holding the volume in memory; on a pyramid the coarsest
    level is used, which is cheap.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> vol = mct.from_array(np.arange(1000, dtype="uint16").reshape(10, 10, 10))
    >>> intensity_range(vol, (1, 99))
    (9.99, 989.01)
    """
    levels = pyramid_levels(obj)
    low, high = (float(v) for v in global_percentiles(levels[-1].data, percentiles).compute())
    if not np.isfinite(low) or not np.isfinite(high):
        raise ValueError("the volume holds no finite value to set an intensity range from")
    if high <= low:
        high = low + 1.0
    return round(low, 6), round(high, 6)


def resolve_clim(
    obj: xr.DataArray | xr.DataTree, clim: tuple[float, float] | str | None
) -> tuple[float, float] | None:
    """The display range: ``"auto"`` (global percentiles), ``None``, or a checked pair.

    Examples
    --------
    >>> resolve_clim(None, (0, 1.5))
    (0.0, 1.5)
    """
    if clim is None:
        return None
    if isinstance(clim, str):
        if clim != "auto":
            raise ValueError(f'clim must be "auto", None or (low, high), got {clim!r}')
        return intensity_range(obj)
    low, high = (float(c) for c in clim)
    if not high > low:
        raise ValueError(f"clim needs low < high, got {clim!r}")
    return low, high


def index_of(level: xr.DataArray, dim: str, position: float) -> int:
    """Index of the voxel nearest to a physical ``position`` along ``dim`` (clipped).

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> index_of(mct.from_array(np.zeros((4, 4, 4)), spacing=2.0), "z", 4.4)
    2
    """
    coord = level.coords[dim].values
    return int(np.clip(np.abs(coord - position).argmin(), 0, coord.size - 1))


def centre(level: xr.DataArray) -> dict[str, float]:
    """Physical position of the middle voxel along each spatial axis.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> centre(mct.from_array(np.zeros((4, 6, 8)), spacing=0.5))
    {'z': 1.0, 'y': 1.5, 'x': 2.0}
    """
    return {d: float(level.coords[d].values[level.sizes[d] // 2]) for d in SPATIAL_DIMS}


def label_colors(n: int = 256) -> list[str]:
    """The categorical palette of labels (colorcet's Glasbey colours), ``n`` of them.

    Examples
    --------
    >>> len(label_colors(3))
    3
    """
    import colorcet

    return list(colorcet.glasbey_light[:n])
