"""Whether a scan's fibers are bright or dark: the curvature of its bright phase's edges.

:func:`~xarray_microct.ops.fibers.detect_fibers` finds fibers brighter than the matrix; on
a scan of dark fibers it can find the bright gaps between them, coherent along z, and
return their table. The check here tells the two apart on a few slices of the scan.

The measure (:func:`bright_phase_curvature`): the curvature of the image's iso-lines,
signed so that the edge of a bright disk curves by ``+1 / r``, averaged over the
pixels with the weight ``|∇I|³`` (the strongest edges: the fibers' own, where they are
the scan's main contrast), at a Gaussian scale of a quarter of the bright and dark
phases' smaller typical size (at least 0.7 pixel), times that size. By the coarea
formula the integral of that curvature weighted by ``|∇I|`` is 2π times the Euler
characteristic of the bright set summed over the intensity levels (the weight ``|∇I|³``
puts those levels where the edges are steepest first): a bed of bright
fibers is, at the levels between matrix and fibers, many separate convex sections
(positive); a bed of dark fibers is a bright network with a hole for each fiber
(negative). The measure is odd (an inverted scan gives its negative, exactly), so a bed
and its inverse are told apart by its sign alone; :data:`DARK_FIBERS` keeps off the
noise's values about zero.

Measured (``benchmarks/fiber_polarity.py``, 2026-12-04; 12-slice beds, the 8 middle
slices read): ``fiber_bed`` and ``textured_fiber_bed`` at radii 2, 3, 5, 8, 12 and 20
voxels, noise 0.05 / 0.15 / 0.25 at tilts 0 / 8 / 15°, seeds 1–3 and held-out seeds 4–5
(90 beds each): every bright bed positive, ``fiber_bed`` +0.23 to +0.47,
``textured_fiber_bed`` +0.30 to +0.74 from 3 voxels and +0.07 to +0.27 at 2 (a blur of
1 voxel on fibers of 2: the sections merge at the lower levels); every inverted bed the
exact negative, so no bright bed is judged dark and 179 of 180 dark beds are (the miss:
``textured_fiber_bed`` at 2 voxels, noise 0.25, 15°, seed 4: −0.07). :data:`DARK_FIBERS`
was set at −0.1 before the held-out seeds were run, from white noise alone (−0.015 on
128²). ``fiber_bed`` with pores only, a third matrix or matrix only (3 voxels, noise
0.15, seeds 1–3) +0.30 to +0.36. Fibers with dark cores (``tests/test_fiber_cores.py``'s
beds, 4–10 pixels, cores of 0.2–0.35 radius at 0.1–0.4 under a matrix of 0.4) +0.68 to
+0.83 with the cores filled first, as the detection fills them
(:mod:`~xarray_microct.ops.fiber_cores`), +0.16 to +0.35 unfilled but −0.06 for a core
of 0.35 radius at 0.3 (a ring's edges curve both ways: its Euler characteristic is 0).
``bead_pack`` (dark beads) −0.51 and −0.56, its inverse as far positive; the detection
returns no fibers on the former (the "no fibers" warning, which names ``invert()``) and,
on seed 2's inverse, 31 "fibers" unwarned as before: bright beads are not dark fibers.
The measure's cost: a mean of 0.04–0.06 CPU s up to 5 voxels, 0.21 s at 20 (512² read);
in ``detect_fibers`` on ``fiber_bed`` of 32 slices (noise 0.15, 8°; interleaved, 2 runs
each), 0.71–0.78 → 0.78 CPU s at 3 voxels (64²), 0.65–0.66 → 0.73–0.80 at 8 (160²),
1.14–1.30 → 1.43–1.44 at 20 (400²). In ``microct run fibers`` the sample is sliced from
the detection's own reads (:func:`polarity_tile`, computed with the detection by
``detect._polarity_task``): read apart, once the table was computed, it cost 2-3 CPU s a
run on a 64 × 768² bed in 64 × 256² chunks with ``--workers 2`` (see that function's
notes). End to end, ``detect_fibers`` on the inverted beds
of held-out seed 4 (32 slices, all radii and conditions, both phantoms): 32 of 36 return
a table and warn that the fibers look dark, 4 return none (the "no fibers" warning); none
is silent.

Tried first and not used: a fit of blurred disks
(:func:`~xarray_microct.ops.fiber_scale.fit_blurred_disks`, seeded at half of each
phase's coarse scale) to the sample and to its inverse. The inverse's fit explains about
as much at noise 0.25, the fit's local background following the gaps as well as the
fibers: explained variance of ``fiber_bed`` at 5 voxels, 15°: 0.79 for the bright disks,
0.83 for the inverse's; ``textured_fiber_bed`` at 3 voxels 0.69 / 0.74 (at noise 0.05,
0.94 / 0.80 and 0.96 / 0.96).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import ndimage as ndi

from xarray_microct.ops.fiber_cores import filled_runs, sampled_cores
from xarray_microct.ops.fiber_scale.sample import (
    COARSE_TILE,
    NoFibersError,
    _checked_tile,
    _coarse_scale,
    _half_means,
    _sample_runs,
    _tile_of,
)

DARK_FIBERS = -0.1  # a measure below this: the bright phase is a network with holes
SMOOTHING_SHARE = 0.25  # the Gaussian's scale, of the phases' smaller typical size ...
MIN_SMOOTHING = 0.7  # ... in pixels, at least this
POLARITY_TILE = 512  # the central tile (pixels a side) of the slices read


def bright_phase_curvature(images: np.ndarray) -> float:
    """The mean curvature of the bright phase's edges, weighted by ``|∇I|³``, times the
    phases' smaller typical size: positive for bright convex sections (bright fibers),
    negative for a bright network about dark ones (see the module docstring).

    ``images``: 2-D images (``n × ny × nx``), e.g. means of a few consecutive slices
    across the fibers. 0.0 for images without contrast.

    Examples
    --------
    >>> yy, xx = np.mgrid[:96, :96] % 16 - 7.5
    >>> fibers = (np.hypot(yy, xx) < 6).astype(float)[None]  # bright disks of radius 6
    >>> bool(bright_phase_curvature(fibers) > 0.3), bool(bright_phase_curvature(-fibers) < -0.3)
    (True, True)
    """
    images = np.asarray(images, dtype=np.float64)
    tiles = images[:, :COARSE_TILE, :COARSE_TILE]
    try:
        scale = min(_coarse_scale(tiles), _coarse_scale(-tiles))
    except NoFibersError:  # one phase empty: a constant image
        return 0.0
    sigma = max(MIN_SMOOTHING, SMOOTHING_SHARE * scale)
    turning = weight = 0.0
    for image in images:
        # about its mean: the truncated kernels of the second derivatives do not sum to
        # 0, and an offset (65535 − v, an inverted uint16 scan) would read as curvature
        image = image - image.mean()
        iy, ix, iyy, ixx, ixy = (
            ndi.gaussian_filter(image, sigma, order=order)
            for order in ((1, 0), (0, 1), (2, 0), (0, 2), (1, 1))
        )
        # the iso-lines' curvature (bright side inwards) times |∇I|³: a polynomial
        turning -= float(np.sum(ixx * iy * iy - 2.0 * ix * iy * ixy + iyy * ix * ix))
        weight += float(np.sum(np.hypot(iy, ix) ** 3))
    return scale * turning / weight if weight > 0 else 0.0


def sampled_polarity(volume: xr.DataArray) -> float:
    """:func:`bright_phase_curvature` of a scan: on the means of the 4 first and 4 last of
    8 slices about its middle, on a central tile of at most :data:`POLARITY_TILE` pixels a
    side, the fibers' dark cores filled where the sample shows them (as the detection
    fills them: a ring's edges curve both ways). Below :data:`DARK_FIBERS`: dark fibers.

    Examples
    --------
    >>> from xarray_microct.synthetic import fiber_bed
    >>> vol, _ = fiber_bed((12, 64, 64), seed=1)
    >>> bool(sampled_polarity(vol) > 0.2), bool(sampled_polarity(vol.microct.invert()) < -0.2)
    (True, True)
    """
    return tile_polarity(polarity_tile(volume).values)


def polarity_tile(volume: xr.DataArray) -> xr.DataArray:
    """The slices :func:`sampled_polarity` reads (8 about the middle, a central tile),
    lazy: computed with other work on the same scan, its reads are shared.

    Examples
    --------
    >>> from xarray_microct.core.volume import from_array
    >>> polarity_tile(from_array(np.zeros((12, 640, 640), "uint16"), spacing=1.0)).shape
    (8, 512, 512)
    """
    return _tile_of(volume, _sample_runs(volume.shape[0], 1), POLARITY_TILE)


def tile_polarity(tile: np.ndarray) -> float:
    """:func:`sampled_polarity` on the values of :func:`polarity_tile`.

    Raises ValueError where the tile holds NaN or ±inf (as the radius estimate's sample).

    Examples
    --------
    >>> from xarray_microct.synthetic import fiber_bed
    >>> vol, _ = fiber_bed((12, 64, 64), seed=1)
    >>> tile_polarity(polarity_tile(vol).values) == sampled_polarity(vol)
    True
    """
    stack = _checked_tile(tile, 1)
    cores = sampled_cores(_half_means(stack))
    if cores.cored:
        stack = filled_runs(stack, cores.radius)
    return bright_phase_curvature(_half_means(stack))
