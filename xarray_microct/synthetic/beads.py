"""A monodisperse bead pack with CT artefacts and known labels (the paper's Fig. 3 data).

The seed paper tests its bead pipeline on a small synthetic scan of packed beads. This
phantom reproduces it with ground truth:

* bead centres by random sequential addition (a new bead is kept when its centre is at
  least ``2 * radius * (1 - overlap)`` from every other), dense enough that many
  beads touch through a small neck — the case a watershed must split. Random
  sequential addition saturates at a solid fraction of about 0.3–0.35 here (beads
  kept whole inside the volume), looser than a jammed bed (~0.6);
* every bead lies wholly inside the volume; the true label of a voxel is the bead it
  belongs to (the nearest centre where two beads overlap), numbered ``1..N``;
* the scan: dark beads on a bright background (the pipeline inverts it, as the paper
  does), partial-volume blur, concentric ring artefacts around the rotation axis ``z``
  (a fixed offset per detector radius, as miscalibrated detector pixels make), and
  Gaussian noise; 8-bit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.ndimage as ndi
import xarray as xr
from scipy.spatial import cKDTree

from xarray_microct.core.units import resolve_length
from xarray_microct.core.volume import from_array, ngff_unit_name

__all__ = ["bead_pack"]

BACKGROUND = 170.0
BEAD = 70.0


def _place_centres(
    shape: Sequence[int], radius: np.ndarray, overlap: float, rng: np.random.Generator,
    max_failures: int, batch: int = 256,
) -> np.ndarray:
    """Random sequential addition of centres (voxel coordinates).

    Candidates are drawn in batches and checked against the accepted beads with a
    k-d tree (in coordinates scaled by the radius, so ellipsoids in voxels are
    spheres), then one by one against those accepted earlier in the same batch.
    """
    low = radius + 1.0
    high = np.asarray(shape, float) - radius - 2.0
    if np.any(high < low):
        raise ValueError(
            f"bead_pack: beads of radius {radius.tolist()} voxels do not fit in shape "
            f"{tuple(shape)}; give a smaller radius or a larger shape"
        )
    min_gap = 2.0 * (1.0 - overlap)  # in units of the radius
    accepted = np.empty((0, 3))
    failures = 0
    while failures < max_failures:
        candidates = (low + rng.random((batch, 3)) * (high - low)) / radius
        if len(accepted):
            free = cKDTree(accepted).query(candidates, k=1)[0] >= min_gap
        else:
            free = np.ones(batch, bool)
        new: list[np.ndarray] = []
        for c, ok in zip(candidates, free, strict=True):
            if ok and all(np.sum((c - o) ** 2) >= min_gap**2 for o in new):
                new.append(c)
                failures = 0
            else:
                failures += 1
                if failures >= max_failures:
                    break
        if new:
            accepted = np.concatenate([accepted, np.array(new)])
    return accepted * radius


def _rasterise(shape: Sequence[int], centres: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """True labels: voxels within a bead, each given to its nearest centre."""
    labels = np.zeros(shape, np.int32)
    best = np.full(shape, np.inf, np.float32)
    for index, c in enumerate(centres, start=1):
        lo = np.maximum(np.floor(c - radius).astype(int), 0)
        hi = np.minimum(np.ceil(c + radius).astype(int) + 1, shape)
        box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        grids = np.ogrid[box]
        r2 = sum(((g - ci) / ri) ** 2 for g, ci, ri in zip(grids, c, radius, strict=True))
        r2 = np.asarray(r2, np.float32)
        take = (r2 <= 1.0) & (r2 < best[box])
        best[box][take] = r2[take]
        labels[box][take] = index
    return labels


def _rings(shape: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    """A per-radius offset (unit amplitude) around the z axis, the same on every slice."""
    ny, nx = shape[1], shape[2]
    y, x = np.ogrid[:ny, :nx]
    r = np.hypot(y - (ny - 1) / 2, x - (nx - 1) / 2)
    n_radii = int(np.ceil(r.max())) + 2
    profile = rng.normal(0.0, 0.35, n_radii)
    bad = rng.random(n_radii) < 0.06  # miscalibrated detector pixels: strong rings
    profile[bad] = rng.choice([-1.0, 1.0], int(bad.sum()))
    return np.interp(r, np.arange(n_radii), profile).astype(np.float32)[None]


def bead_pack(
    shape: int | Sequence[int] = 200,
    radius: object = 10.0,
    spacing: float | Sequence[float] = 1.0,
    units: str = "micrometer",
    noise: float = 0.1,
    rings: float = 0.15,
    blur: float = 0.8,
    overlap: float = 0.06,
    seed: int = 0,
    chunks: int | Sequence[int] | None = None,
    max_failures: int = 3000,
) -> tuple[xr.DataArray, xr.DataArray]:
    """A packed bed of equal beads, as a CT scan would show it, and its true labels.

    Parameters
    ----------
    shape : int or (int, int, int)
        Voxels along ``z, y, x`` (the paper's synthetic set is 200³).
    radius : length
        Bead radius: a number in ``units``, ``"10 um"``, or ``"8 voxel"``.
    spacing : float or (float, float, float)
        Voxel size in ``units`` (anisotropic spacing makes the beads ellipsoids in
        voxels, spheres in space).
    units : str
        Length unit of the coordinates.
    noise : float
        Standard deviation of the Gaussian noise, as a fraction of the bead/background
        contrast (100 grey levels).
    rings : float
        Amplitude of the ring artefacts, as a fraction of the contrast.
    blur : float
        Partial-volume blur (Gaussian sigma in voxels) before rings and noise.
    overlap : float
        How far neighbouring beads may interpenetrate, as a fraction of the diameter
        (0 = at most touching at a point; the default makes small necks, as touching
        beads have at the resolution of a scan).
    seed : int
        Seed of the random generator: same seed, same pack.
    chunks : int or tuple, optional
        Dask chunks of the returned arrays (default: up to 128 voxels per axis).
    max_failures : int
        Placement stops after this many rejected candidates in a row (higher is denser).

    Returns
    -------
    volume : xarray.DataArray of uint8
        The scan (dark beads near 70 on a background near 170), lazy.
    labels : xarray.DataArray of int32
        True bead labels ``1..N`` (0 = background); ``attrs["n_beads"] = N``.

    Examples
    --------
    >>> vol, truth = bead_pack(48, radius=6, seed=1)
    >>> vol.dtype, truth.attrs["n_beads"] == int(truth.max())
    (dtype('uint8'), True)
    """
    shape3 = (int(shape),) * 3 if np.isscalar(shape) else tuple(int(n) for n in shape)
    if len(shape3) != 3 or min(shape3) < 3:
        raise ValueError(f"bead_pack: shape needs 3 sizes of at least 3 voxels, got {shape!r}")
    for name, value in (("noise", noise), ("rings", rings), ("blur", blur)):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"bead_pack: {name} must be a non-negative number, got {value!r}")
    if not 0 <= overlap < 0.5:
        raise ValueError(f"bead_pack: overlap must be in [0, 0.5), got {overlap!r}")
    spacing3 = (float(spacing),) * 3 if np.isscalar(spacing) else tuple(map(float, spacing))
    radius_vox = np.array(
        resolve_length(radius, spacing3, ngff_unit_name(units), name="bead_pack: radius")
    )
    rng = np.random.default_rng(seed)
    centres = _place_centres(shape3, radius_vox, overlap, rng, max_failures)
    labels = _rasterise(shape3, centres, radius_vox)
    image = np.where(labels > 0, BEAD, BACKGROUND).astype(np.float32)
    if blur > 0:
        image = ndi.gaussian_filter(image, blur)
    contrast = BACKGROUND - BEAD
    if rings > 0:
        image += rings * contrast * _rings(shape3, rng)
    if noise > 0:
        image += rng.normal(0.0, noise * contrast, shape3).astype(np.float32)
    volume = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    common = {"spacing": spacing3, "units": units, "chunks": chunks}
    vol = from_array(volume, name="beads", attrs={"long_name": "synthetic bead pack"}, **common)
    truth = from_array(
        labels, name="true_labels",
        attrs={"long_name": "true bead labels", "n_beads": len(centres)}, **common,
    )
    return vol, truth
