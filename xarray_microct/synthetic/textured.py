"""A fiber bed unlike :func:`~xarray_microct.synthetic.fiber_bed`: a check on overfitting.

Methods developed on ``fiber_bed`` (its matrix/pore patchwork, its blur of 0.7 voxel,
its rings) are checked on this one: fibers placed by random sequential addition with
log-normal radii, partial volume by supersampling, a continuous background textured at
the fibers' scale, a wider blur (1 voxel), no rings, float32 intensities. It is
``benchmarks/fiber_scale.py``'s ``other_bed``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.ndimage as ndi
import xarray as xr

from xarray_microct.core.volume import from_array


def _stationary_field(noise: np.ndarray, sigma: float) -> np.ndarray:
    """White ``noise`` smoothed by a Gaussian of ``sigma`` into a stationary field, mean 0.

    Filtered with the faces reflected, the noise near a face meets its own mirror image
    and the field's spread grows towards the faces (on 32 slices at σ = 4 the end slices'
    spread was 1.25–1.46 times the middle's, and the fit read that edge as the method's
    error). Filtered around the volume (``mode="wrap"``: a circular convolution of white
    noise), the spread is the same everywhere, at no cost (a margin of 4 σ drawn around
    the noise did it too, at up to 250 times the time and 7 times the memory for large
    σ on thin volumes). The volume holds few correlation lengths, so its own mean is
    taken off: the texture's mean level is the one asked for.

    Examples
    --------
    >>> noise = np.random.default_rng(0).normal(size=(32, 48, 48))
    >>> field = _stationary_field(noise, 4.0)
    >>> ends, middle = field[[0, -1]].std(), field[12:20].std()
    >>> bool(abs(ends / middle - 1) < 0.15), bool(abs(field.mean()) < 1e-9)
    (True, True)
    """
    field = ndi.gaussian_filter(noise, sigma, mode="wrap")
    return field - field.mean()


def textured_fiber_bed(
    shape: tuple[int, int, int], radius_px: float, noise: float, tilt: float, seed: int
) -> tuple[xr.DataArray, pd.DataFrame]:
    """An independent fiber bed: (float32 volume, true centres ``fiber_id, z, y, x, radius``).

    Straight parallel cylinders tilted by ``tilt`` degrees (random azimuth), radii
    log-normal (mean ``radius_px`` voxels, 10 %), placed by random sequential addition
    (no overlap, gaps of at least 0.1 radius across the fibers); each slice cuts a
    cylinder of radius r in an ellipse, r / cos(tilt) along the azimuth and r across;
    each voxel's fiber fraction is sampled on a 5 × 5 grid; fibers 1.0 on a background
    textured between about 0.25 and 0.55 (a Gaussian random field of 2 radii); blur
    σ = 1 voxel; Gaussian noise ``noise``. Coordinates in voxels of size 1 (micrometre).

    Examples
    --------
    >>> vol, centres = textured_fiber_bed((4, 32, 32), 3.0, noise=0.05, tilt=0.0, seed=1)
    >>> vol.shape, vol.dtype.name, sorted(centres.columns)
    ((4, 32, 32), 'float32', ['fiber_id', 'radius', 'x', 'y', 'z'])
    >>> bool(abs(centres["radius"].mean() / 3.0 - 1) < 0.1)
    True
    """
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape
    azimuth = rng.uniform(0, 2 * np.pi)
    along = np.array([np.sin(azimuth), np.cos(azimuth)])  # the tilt's direction in (y, x)
    slope = np.tan(np.radians(tilt)) * along
    cos_tilt = np.cos(np.radians(tilt))

    def across(offset: np.ndarray) -> np.ndarray:
        """Distance across the fibers of in-slice offsets ``(..., 2)`` (the ellipse's metric)."""
        a = offset @ along
        return np.sqrt(np.sum(offset * offset, axis=-1) - a * a * (1 - cos_tilt**2))

    reach = np.abs(slope) * nz  # fibers entering the volume from the sides
    lo, hi = -reach - 2 * radius_px, np.array([ny, nx]) + reach + 2 * radius_px
    centres, radii = [], []
    for _ in range(int(40 * np.prod(hi - lo) / (np.pi * radius_px**2))):
        r = radius_px * rng.lognormal(-0.005, 0.1)
        c = rng.uniform(lo, hi)
        if centres:
            gap = across(np.array(centres) - c) - np.array(radii) - r
            if gap.min() < 0.1 * radius_px:
                continue
        centres.append(c)
        radii.append(r)
    centres, radii = np.array(centres), np.array(radii)
    fine = 5
    sub = (np.arange(fine) + 0.5) / fine - 0.5
    volume = np.zeros(shape, np.float32)
    rows = []
    for z in range(nz):
        at = centres + (z - (nz - 1) / 2) * slope
        plane = np.zeros((ny, nx))
        for k, ((cy, cx), r) in enumerate(zip(at, radii, strict=True)):
            ry, rx = r * np.hypot(along * np.tan(np.radians(tilt)), 1.0)  # the ellipse's extent
            y0, y1 = max(int(cy - ry) - 1, 0), min(int(cy + ry) + 2, ny)
            x0, x1 = max(int(cx - rx) - 1, 0), min(int(cx + rx) + 2, nx)
            if y0 >= y1 or x0 >= x1:
                continue
            yy = (np.arange(y0, y1)[:, None] + sub[None, :]).reshape(-1, 1, 1)
            xx = (np.arange(x0, x1)[:, None] + sub[None, :]).reshape(1, -1, 1)
            offset = np.concatenate(np.broadcast_arrays(yy - cy, xx - cx), axis=-1)
            inside = across(offset) <= r
            fraction = inside.reshape(y1 - y0, fine, x1 - x0, fine).mean(axis=(1, 3))
            plane[y0:y1, x0:x1] = np.maximum(plane[y0:y1, x0:x1], fraction)
            if -0.5 <= cy <= ny - 0.5 and -0.5 <= cx <= nx - 0.5:
                rows.append((k + 1, float(z), cy, cx, r))
        volume[z] = plane
    field = _stationary_field(rng.normal(size=shape), 2 * radius_px)
    texture = 0.4 + 0.15 * field / field.std()
    image = volume + (1 - volume) * texture
    image = ndi.gaussian_filter(image, 1.0) + rng.normal(0, noise, shape)
    truth = pd.DataFrame(rows, columns=["fiber_id", "z", "y", "x", "radius"])
    return from_array(image.astype(np.float32), spacing=1.0, units="micrometer"), truth
