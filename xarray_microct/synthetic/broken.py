"""A fiber bed whose fibers end inside the volume: broken or short fibers.

Real beds hold fibers that break or stop within a scan; an estimate that averages
slices along z sees such a fiber in some of them only. Straight fibers along z, placed
by random sequential addition with log-normal radii, partial volume by supersampling, a
flat background, blur and Gaussian noise; a share of the fibers ends (or begins) at a
random slice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.ndimage as ndi
import xarray as xr

from xarray_microct.core.volume import from_array

SUPERSAMPLING = 5  # each voxel's fiber fraction is sampled on a grid this many a side


def broken_fiber_bed(
    shape: tuple[int, int, int],
    radius_px: float,
    ends: float,
    noise: float,
    seed: int,
    background: float = 0.4,
    blur: float = 1.0,
) -> tuple[xr.DataArray, pd.DataFrame]:
    """Fibers of which a share ends within the volume: (float32 volume, true centres
    ``fiber_id, z, y, x, radius`` of the slices each fiber crosses).

    Straight cylinders along z, radii log-normal (mean ``radius_px`` voxels, 10 %),
    placed by random sequential addition (gaps of at least 0.2 radius); a share ``ends``
    of them is present on one side only of a slice drawn uniformly along z (half of
    those end there, half begin). Each voxel's fiber fraction is sampled on a 5 × 5
    grid; fibers 1.0 on a flat ``background``, blurred in-plane by ``blur`` voxels,
    Gaussian noise ``noise``. Coordinates in voxels of size 1 (micrometre).

    Examples
    --------
    >>> vol, centres = broken_fiber_bed((8, 32, 32), 2.0, ends=0.5, noise=0.05, seed=1)
    >>> vol.shape, vol.dtype.name, sorted(centres.columns)
    ((8, 32, 32), 'float32', ['fiber_id', 'radius', 'x', 'y', 'z'])
    >>> bool(centres.groupby("fiber_id").size().min() < 8)  # some fibers end inside
    True
    """
    if not 0 <= ends <= 1:
        raise ValueError(f"ends is the share of fibers that end inside, in [0, 1]; got {ends}")
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape
    lo, hi = np.array([-2 * radius_px] * 2), np.array([ny, nx]) + 2 * radius_px
    tries = int(40 * np.prod(hi - lo) / (np.pi * radius_px**2))
    centres, radii = np.empty((tries, 2)), np.empty(tries)
    count = 0
    draws = rng.uniform(lo, hi, (tries, 2)), radius_px * rng.lognormal(-0.005, 0.1, tries)
    for c, r in zip(*draws, strict=True):
        gap = np.hypot(*(centres[:count] - c).T) - radii[:count] - r
        if count and gap.min() < 0.2 * radius_px:
            continue
        centres[count], radii[count] = c, r
        count += 1
    centres, radii = centres[:count], radii[:count]
    broken = rng.uniform(size=count) < ends
    cut = rng.integers(0, nz, count)
    ending = rng.uniform(size=count) < 0.5
    first = np.where(broken & ~ending, cut, 0)
    last = np.where(broken & ending, cut, nz - 1)  # present on slices first..last
    fraction = np.zeros(shape, np.float32)
    rows: list[np.ndarray] = []
    offsets = (np.arange(SUPERSAMPLING) + 0.5) / SUPERSAMPLING - 0.5
    for index, ((cy, cx), r) in enumerate(zip(centres, radii, strict=True)):
        y0, y1 = max(int(np.floor(cy - r)), 0), min(int(np.ceil(cy + r)) + 1, ny)
        x0, x1 = max(int(np.floor(cx - r)), 0), min(int(np.ceil(cx + r)) + 1, nx)
        if y1 <= y0 or x1 <= x0:
            continue
        yy = (np.arange(y0, y1)[:, None] + offsets[None, :]).reshape(-1, 1)
        xx = (np.arange(x0, x1)[:, None] + offsets[None, :]).reshape(1, -1)
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        cover = inside.reshape(y1 - y0, SUPERSAMPLING, x1 - x0, SUPERSAMPLING).mean(axis=(1, 3))
        fraction[first[index] : last[index] + 1, y0:y1, x0:x1] += cover
        z = np.arange(first[index], last[index] + 1, dtype=np.float64)
        rows.append(
            np.column_stack([np.full_like(z, index), z] + [np.full_like(z, v) for v in (cy, cx, r)])
        )
    image = background + (1 - background) * fraction
    image = ndi.gaussian_filter(image, (0, blur, blur)) + rng.normal(0, noise, shape)
    volume = from_array(image.astype(np.float32), spacing=1.0, units="micrometer")
    table = pd.DataFrame(np.concatenate(rows), columns=["fiber_id", "z", "y", "x", "radius"])
    table["fiber_id"] = table["fiber_id"].astype(np.int64)
    return volume, table
