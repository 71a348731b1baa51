"""Shapes of labelled objects: each label's outline smoothed, the smoothing's shrink undone.

A noisy mask gives its objects rough surfaces, bumps and dents of a voxel that no
threshold or smoothing of the scan takes off without moving the surfaces: smoothing the
scan, or the mask of all objects, fills the necks and gaps between touching objects
and pulls back their caps. :func:`smooth_labels` smooths each object on its own instead:
the indicator of each label is blurred by a Gaussian and the voxel goes to the label
whose blurred indicator is highest, when that exceeds a level. The level is where the
blurred indicator of a ball of the objects' radius crosses the ball's surface
(:func:`ball_surface_level`), so a ball keeps its radius: a Gaussian of sigma ``s``
moves the half-level of a ball of radius ``R`` inwards by about ``s² / R``; at its
own level it stays where it is. Objects near that radius and shape (beads) keep their
size; the bumps and dents narrower than the Gaussian are averaged away. Necks between
touching objects are not filled, since each object is blurred alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import dask.array as da
import numpy as np
import xarray as xr

from xarray_microct.core.blocks.overlap import kernel_radius, map_spatial_interior
from xarray_microct.core.registry import LengthParam, operation
from xarray_microct.core.volume import wrap_like
from xarray_microct.kernels.smooth_labels import smooth_labels_block

__all__ = ["ball_surface_level", "smooth_labels", "smooth_labels_array"]

TRUNCATE = 3.0  # kernel half-widths, in sigmas


def ball_surface_level(ratio: float) -> float:
    """The value of a ball's indicator blurred by a Gaussian, on the ball's surface.

    For a ball of radius ``R`` and a Gaussian of sigma ``s = ratio * R`` (3-D), the
    blurred indicator at distance ``R`` from the centre is
    ``1/2 - Phi(-2 / ratio) - ratio / sqrt(2 pi) * (1 - exp(-2 / ratio²))``, where
    ``Phi`` is the normal distribution function: a half for a plane (``ratio = 0``),
    less for a ball, since a Gaussian rounds it inwards.

    Examples
    --------
    >>> round(ball_surface_level(0.0), 3), round(ball_surface_level(0.25), 3)
    (0.5, 0.4)
    """
    if not (math.isfinite(ratio) and ratio >= 0):
        raise ValueError(f"the ratio of sigma to radius must be >= 0, got {ratio!r}")
    if ratio == 0:
        return 0.5
    tail = 0.5 * math.erfc(math.sqrt(2.0) / ratio)  # Phi(-2 / ratio)
    return 0.5 - tail - ratio / math.sqrt(2 * math.pi) * -math.expm1(-2.0 / ratio**2)


def smooth_labels_array(data: da.Array, sigma: Sequence[float], level: float) -> da.Array:
    """Chunk-exact :func:`smooth_labels` of a Dask label array, sigma in voxels per axis.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.where(rng.random((20, 20, 20)) < 0.5, 1, 2).astype(np.int32)
    >>> level = ball_surface_level(0.25)
    >>> whole = smooth_labels_array(da.from_array(labels), (1.5,) * 3, level).compute()
    >>> parts = smooth_labels_array(da.from_array(labels, chunks=7), (1.5,) * 3, level)
    >>> bool((parts.compute() == whole).all())
    True
    """
    sigma = tuple(float(s) for s in sigma)
    if len(sigma) != 3 or min(sigma) <= 0:
        raise ValueError(f"smooth_labels: sigma needs 3 values above 0 voxels, got {sigma}")
    if not 0 < level < 1:
        raise ValueError(f"smooth_labels: level must lie in (0, 1), got {level!r}")
    return map_spatial_interior(
        _smooth_chunk,
        data,
        kernel_radius(sigma, TRUNCATE),
        data.dtype,
        token="smooth-labels",
        sigma=sigma,
        level=float(level),
    )


def _smooth_chunk(
    block: np.ndarray,
    origin: tuple[int, ...],
    shape: tuple[int, ...],
    start: tuple[int, ...],
    *,
    sigma: tuple[float, ...],
    level: float,
) -> np.ndarray:
    """The smoothed labels of a chunk, from the chunk with its halo (``block``)."""
    return smooth_labels_block(block, sigma, level, origin, shape)


@operation(
    takes="labels",
    lengths={
        "sigma": LengthParam(within_volume=False),
        "radius": LengthParam(within_volume=False),
    },
    spatial_only=True,
    packages=["numba", "scipy"],
)
def smooth_labels(volume: xr.DataArray, sigma: object, radius: object) -> xr.DataArray:
    """Smooth each label's shape by a Gaussian, keeping balls of ``radius`` as they are.

    Each label's indicator is blurred by a Gaussian of ``sigma`` (truncated at 3
    sigmas); a voxel goes to the label whose blurred indicator is highest there, when
    it exceeds the value that a ball of ``radius`` has on its surface
    (:func:`ball_surface_level` of ``sigma / radius``), else to the background. A ball
    of that radius keeps its size, bumps and dents narrower than ``sigma`` are
    averaged away, and necks between touching labels are not filled (each label is
    blurred alone). Labels much smaller than ``radius``, or far from round, shrink at
    their tips (by about ``sigma²`` times their curvature beyond ``1 / radius``).
    The same for any chunking.

    Parameters
    ----------
    volume : xarray.DataArray of int
        Labels (0 = background), e.g. of :func:`~xarray_microct.ops.watershed.watershed`;
        labels are positive: a negative one (or an unsigned one of 2**63 and more) is
        treated as background.
    sigma : length
        Sigma of the Gaussian, e.g. ``"1.5 voxel"`` or ``"2 um"`` (give it in physical
        units for objects round in space on anisotropic voxels).
    radius : length
        The objects' typical radius (e.g. the bead radius). The level follows the
        ratio ``sigma / radius`` (averaged over the axes when it differs between them).

    Returns
    -------
    xarray.DataArray
        Lazy labels, same dtype; a label whose blurred indicator never reaches the
        level (an object much thinner than ``sigma``) is gone.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> z, y, x = np.ogrid[:24, :24, :24]
    >>> r = np.sqrt((z - 12.0) ** 2 + (y - 12) ** 2 + (x - 12) ** 2)
    >>> ball = r <= 7
    >>> flips = (np.random.default_rng(0).random(ball.shape) < 0.1) & (np.abs(r - 7) < 1.5)
    >>> rough = ball ^ flips  # bumps and dents on a ball of radius 7
    >>> labels = mct.from_array(rough.astype("int32"), chunks=12)
    >>> smooth = labels.microct.smooth_labels(sigma=1.5, radius=7).values
    >>> int((rough != ball).sum()), int((smooth != ball).sum())  # voxels wrong
    (175, 30)
    >>> int(ball.sum()), int(smooth.sum())
    (1419, 1419)
    """
    ratios = [s / r for s, r in zip(sigma, radius, strict=True)]
    level = ball_surface_level(float(np.mean(ratios)))
    data = smooth_labels_array(volume.data, sigma, level)
    return wrap_like(volume, data, long_name="smoothed labels")
