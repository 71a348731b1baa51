"""Section radii from the fibers' excess of intensity, for fibers of a few pixels.

A threshold sets the radius of a fiber of 2–3 pixels only to within a few per cent
(see :mod:`~xarray_microct.ops.fibers.mask`): the blur is comparable to the radius, so
a threshold contour's place depends on the blur, on the fiber's level, which its core
never reaches, and on the tails of its neighbours that fill the gaps between packed
fibers. The blur conserves intensity, though: a fiber's excess of intensity over its
background, summed over its section and its blurred rim, is its area × (fiber level −
background level), whatever the point-spread function and the neighbours (their tails
reach into a section's cell as far as its own reach into theirs).

:func:`mass_radii` measures each section of a slice that way, in one pass, with the
scan's fiber level ``f``, blur and section radius ``R`` of the radius estimate's fit of
blurred disks (:func:`~xarray_microct.ops.fiber_scale.measure_fiber_bed` fits the
sampled slices aligned along the bed's drift and averaged; :func:`bed_mass_model`):

* the disks the background is measured about: at each section's centre, of radius
  ``R`` plus the section's own departure from the mean of the mask's radii of the
  sections within the background's window (the mask's radii are a few per cent off as
  a whole, but follow each section's size);
* those disks blurred (``U``, the fiber fraction), and the background ``b``: the local
  least squares of ``I ≈ b (1 − U) + f U`` in a Gaussian window of a radius (at least
  2 pixels);
* each section's area: the sum of ``(I − b) / (f − b)`` over its cell (the pixels
  nearest its disk, grown by the blur's reach), and its radius that of the disk of
  that area.

Why one pass and these disks. Level, blur and radius are nearly degenerate at 2 pixels
(see :mod:`~xarray_microct.ops.fiber_scale`): the fit's level runs 1–3 % high on
``fiber_bed`` (41 000 for 40 000) with its blur 5–13 % high, but its radius is right,
and the three are one consistent solution: on the fit's own images, a pass about disks
of the fit's radii with its level gives back the fit's radii (their mean within 0.25 %,
9 cases of ``fiber_bed`` at 2 pixels). Passes repeated from their own radii are
not: each moves the mean by −0.3 to −1 % towards a fixed point 1–3 % low in a packed
bed (the window's background takes in part of what the disks miss), so any number of
rounds is a choice (3 were chosen on these benchmarks before). Disks of ``R`` alone
keep the mean but follow each section's own size only by 0.4 (the slope of the
measured on the true radius: a disk too large lowers its own background); with each
section's departure from its neighbours' mask radii the slope is 0.9–1.1 and the
error per section smaller than the mask's or the rounds' (2 pixels, noise 0.05 /
0.15, seeds 1 / 2: ``fiber_bed`` 5.6 / 7.4 % against 8.9 / 9.7 % for the mask's areas
and 5.9 / 8.1 % for 3 rounds; ``other_bed`` 8.9 / 10.7 % against 13.7 / 14.1 % and
9.3 / 11.4 %).

Each section depends only on the pixels and sections within :func:`mass_reach` of
it, so a tile read with that much more halo gives the whole slice's radii to the bit.
``detect_fibers`` uses it on the scan itself for fibers under ``MASS_BELOW`` pixels of
radius, with square pixels in-plane, wherever the bed's measure ran its fit; the mask
still decides which regions are fibers (and ``min_radius``).

Measured (``benchmarks/fiber_table_radius.py --radii 2 3 --estimate``, the true radius
given; ``rad%`` the table's radius against the true one, per phantom and radius the
range over the 9 cases (noise 0.05 / 0.15 / 0.25 at 0 / 8 / 15°, seeds 1–3); before:
the mask's areas, main at 0a8768c; after: this measure):

=================  ===============  ===============  ========================
case               before           after            within ±2 % (of 9)
=================  ===============  ===============  ========================
fiber_bed, R 2     −2.52 .. −0.52   −1.75 .. −0.15   6 → 9
fiber_bed, R 3     −2.35 .. +0.26   −0.40 .. +0.73   8 → 9
other_bed, R 2     +2.00 .. +6.46   −1.22 .. +1.39   1 → 9
other_bed, R 3     +0.43 .. +5.05   +0.88 .. +2.21   7 → 8
=================  ===============  ===============  ========================

Per case (``rad%`` before → after; ``other_bed``'s object F1 before → after; the
tilt is 0 / 8 / 15° at noise 0.05 / 0.15 / 0.25, where an unbiased section measure
reads +0 / +0.5 / +1.7 % against the true radius, the ellipse's):

===  =====  ====  ================  ================  ============
R    noise  seed  fiber_bed         other_bed         other F1
===  =====  ====  ================  ================  ============
2    0.05   1     −1.45 → −0.15     +3.23 → +0.55     .993 → .992
2    0.05   2     −2.13 → −0.23     +4.01 → +0.23     .987 → .987
2    0.05   3     −2.52 → −0.22     +2.71 → +0.60     .989 → .991
2    0.15   1     −0.52 → −0.47     +3.59 → −1.22     .987 → .988
2    0.15   2     −1.32 → −0.57     +4.53 → +0.66     .988 → .988
2    0.15   3     −2.00 → −0.54     +2.52 → −0.78     .974 → .978
2    0.25   1     −0.66 → −1.75     +5.46 → +0.32     .944 → .945
2    0.25   2     −1.57 → −1.43     +2.00 → +0.85     .965 → .959
2    0.25   3     −2.16 → −0.96     +6.46 → +1.39     .951 → .955
3    0.05   1     −1.95 → −0.11     +0.43 → +1.78     .998 → .995
3    0.05   2     −1.49 → +0.57     +0.45 → +1.79     1.000 → .999
3    0.05   3     −2.35 → +0.70     +0.60 → +1.44     .999 → .999
3    0.15   1     −1.47 → −0.23     +1.74 → +1.00     1.000 → 1.000
3    0.15   2     −0.97 → +0.21     +1.07 → +0.88     .996 → .996
3    0.15   3     −1.95 → +0.73     +0.56 → +1.06     1.000 → 1.000
3    0.25   1     −0.32 → −0.40     +3.04 → +1.15     .999 → .999
3    0.25   2     +0.26 → −0.02     +5.05 → +2.21     .999 → .999
3    0.25   3     −1.05 → +0.48     +1.69 → +1.31     1.000 → 1.000
===  =====  ====  ================  ================  ============

35 of the 36 cases within ±2 % (22 before), the worst error 2.2 % (6.5 before). At
the radius estimate instead (``--estimate``): ``fiber_bed`` R 2 −1.79..−0.08 %, R 3
−0.38..+0.79 %; ``other_bed`` R 2 −0.91..+1.32 %, R 3 +0.38..+2.18 %: 35 of 36 within
±2 %. The object F1 moves by at most 0.006 (the linking reads the radii); fibers of 4
pixels and more are not measured this way. The table's mean radius follows the
estimate's fit (its radius and level): where that fit is off, so is the table.

Cost (``detect_fibers`` CPU s, ``fiber_bed`` at 2 pixels, noise 0.15, radius given,
two runs each, interleaved, on a loaded machine): 32 × 512² in one chunk a slice,
main 3.1–3.2, 3 rounds (the first version of this module) 5.5–6.3, this 4.1–4.2
(+30 %); 16 × 1024² in chunks of 256² (4 tiles a slice) 4.7–5.3, 9.5–10.3, 7.3 (+45 %).
:func:`mass_reach` is 28 pixels at 2 pixels of radius under a blur of 1 (65 with 3
rounds); a pass over a slice of 512² takes about 45 ms, of which the cells
(``expand_labels``) 16 ms.

What was tried before and left (the first version, 3 rounds from the mask's radii
with the level of a second fit of the sample): that fit put ``fiber_bed``'s level
2.6–2.75 % high, hence −1.4 to −3.2 % at 2 pixels; a fit of each slice
(``fit_blurred_disks`` per slice, 3 or 10 rounds) was no better and cost the
detection's CPU again; a background weighted to exclude a guard ring of 1 pixel about
each disk settled at the truth without noise but gave −2.9 to −10 % on ``other_bed``
at noise 0.15–0.25; a threshold at the contour of an isolated blurred disk gave −11
to −14 % (noise 0.05) and +2 to +5 % (0.25) on ``other_bed`` at 2 pixels.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.ndimage as ndi
from scipy.spatial import cKDTree
from skimage.segmentation import expand_labels

from xarray_microct.kernels.disks import paint_soft_disks
from xarray_microct.ops import fiber_scale

__all__ = [
    "MASS_BELOW",
    "MassModel",
    "bed_mass_model",
    "mass_radii",
    "mass_reach",
]

MASS_BELOW = 4.0  # fibers of a smaller radius (pixels) on the scan are measured by their mass
WINDOW_TRUNCATE = 3.0  # the background's Gaussian window, truncated at this many sigmas
BLUR_TRUNCATE = 4.0  # the blur's Gaussian, truncated at this many sigmas (SciPy's default)
LARGEST = 2.0  # the largest disk measured about, in model radii (two fibers merged: √2)


class MassModel(NamedTuple):
    """What :func:`mass_radii` needs of a scan: its fiber level (the scan's units), its
    blur (the Gaussian's σ, pixels) and the fibers' typical radius (pixels; it sets the
    background's window, the same for every tile)."""

    fiber_level: float
    blur: float
    radius_px: float


def bed_mass_model(
    bed: fiber_scale.FiberBedScale | None, spacing: tuple[float, ...]
) -> MassModel | None:
    """The scan's fiber level and blur for :func:`mass_radii`, from its radius estimate.

    ``bed`` is :func:`~xarray_microct.ops.fiber_scale.measure_fiber_bed`'s measure of the
    scan (with or without a given radius): under 4 pixels of radius it fits blurred disks
    (:func:`~xarray_microct.ops.fiber_scale.fit_blurred_disks`) to the sampled slices
    aligned along the bed's drift and averaged, and carries that fit's fiber level and
    blur. ``spacing`` is the scan's ``(z, y, x)``, ``radius_px`` the fibers' typical
    radius (pixels). ``None`` where no fit ran (no bed, or fibers of 4 pixels or more)
    and for pixels that are not square in-plane (the sections are then not disks on
    the pixel grid): the mask's areas then.

    Examples
    --------
    >>> from xarray_microct.synthetic import textured_fiber_bed
    >>> vol, _ = textured_fiber_bed((16, 64, 64), 2.0, noise=0.05, tilt=0.0, seed=1)
    >>> bed = fiber_scale.measure_fiber_bed(vol, 2.0)  # unit pixels
    >>> model = bed_mass_model(bed, (1.0, 1.0, 1.0))  # the phantom: 1.0 and 1.0
    >>> bool(abs(model.fiber_level - 1.0) < 0.05), bool(abs(model.blur - 1.0) < 0.2)
    (True, True)
    """
    if bed is None or bed.fiber_level is None or bed.blur is None:
        return None
    _, dy, dx = spacing
    if not np.isclose(dy, dx, rtol=1e-6):
        return None
    # the fit's radius of the sections (the bed's is that of the fibers, tilt corrected)
    section = bed.radius * (1.0 + np.hypot(*bed.slope) ** 2) ** 0.25 / np.sqrt(dy * dx)
    return MassModel(float(bed.fiber_level), float(bed.blur), float(section))


def _window(radius_px: float) -> float:
    """The background's Gaussian window (σ, pixels): a radius, at least 2 pixels."""
    return max(float(radius_px), 2.0)


def _cell_reach(blur: float) -> float:
    """How far (pixels) a section's cell reaches beyond its disk: the blur's tails."""
    return max(2.0, 2.5 * float(blur))


def _start_radii(centres: np.ndarray, radii: np.ndarray, radius_px: float) -> np.ndarray:
    """The disks the background is measured about: of the model's radius ``radius_px``,
    each plus its section's own departure from the mean of ``radii`` (the mask's) over
    the sections within the background's window of it (itself included), at most
    ``LARGEST`` times the model's radius (which bounds :func:`mass_reach`)."""
    reach = WINDOW_TRUNCATE * _window(radius_px)
    pairs = cKDTree(centres).query_pairs(reach, output_type="ndarray")
    own = np.arange(len(radii))
    i = np.concatenate([own, pairs[:, 0], pairs[:, 1]])
    j = np.concatenate([own, pairs[:, 1], pairs[:, 0]])
    local = np.bincount(i, weights=radii[j], minlength=len(radii)) / np.bincount(i)
    return np.clip(radius_px + radii - local, 0.0, LARGEST * radius_px)


def mass_reach(model: MassModel) -> int:
    """Pixels around a section that its mass radius depends on (a tile's extra halo).

    The sections whose mask radii set its disk (within the background's window of
    it), its cell (its disk, at most ``LARGEST`` model radii, grown by the blur's
    reach), the background's window about each pixel of the cell, and the blurred
    disks at the other sections' centres that reach those pixels: a tile read with
    this much more halo than its sections' own gives their radii to the bit.

    Examples
    --------
    >>> mass_reach(MassModel(1.0, 1.0, 2.0))
    28
    """
    radius = float(model.radius_px)
    largest = LARGEST * radius
    cell = largest + _cell_reach(model.blur)
    window = WINDOW_TRUNCATE * _window(radius)
    disks = largest + 1.0 + BLUR_TRUNCATE * float(model.blur)
    return int(np.ceil(window + cell + window + disks))


def mass_radii(
    image: np.ndarray, centres: np.ndarray, radii: np.ndarray, model: MassModel
) -> np.ndarray:
    """Each section's radius (pixels) from its excess of intensity over its background.

    ``image`` is the slice (fibers bright, in the units of ``model.fiber_level``);
    ``centres`` ``(y, x)`` its sections, every one of them (a section left out is taken
    for background), ``radii`` theirs as the mask gave them (pixels; only their
    departures from their neighbours' mean are used). The background is that left by
    disks of ``model.radius_px`` at the centres, each plus its section's departure,
    blurred by ``model.blur``; see the module docstring. A section whose excess is not
    positive gets radius 0.

    Examples
    --------
    >>> truth = np.array([(y, x) for y in (20.0, 25.0, 30.0) for x in (20.0, 24.9, 29.8)])
    >>> fine = np.zeros((512, 512))  # packed disks of radius 2.3 on an 8x finer grid
    >>> fy, fx = np.mgrid[:512, :512] / 8 - 7 / 16
    >>> for (y, x), r in zip(truth, [2.3, 2.3, 2.3, 2.3, 2.0, 2.3, 2.3, 2.3, 2.3]):
    ...     fine[np.hypot(fy - y, fx - x) <= r] = 1.0
    >>> image = ndi.gaussian_filter(0.3 + 0.7 * fine.reshape(64, 8, 64, 8).mean(axis=(1, 3)), 1.0)
    >>> int(ndi.label(image > 0.65)[1])  # at the mid-level, the blur fills the gaps
    1
    >>> mask = np.array([2.5, 2.5, 2.5, 2.5, 2.2, 2.5, 2.5, 2.5, 2.5])  # 0.2 large
    >>> found = mass_radii(image, truth, mask, MassModel(1.0, 1.0, 2.3))
    >>> np.round(found[[1, 4]], 2)  # above the middle one, and the middle one (of 2.0)
    array([2.38, 1.97])
    """
    image = np.asarray(image, dtype=np.float64)
    centres = np.asarray(centres, dtype=np.float64).reshape(-1, 2)
    if image.ndim != 2:
        raise ValueError(f"mass_radii measures a 2-D slice, got {image.ndim} dimensions")
    radii = np.asarray(radii, dtype=np.float64).reshape(-1)
    n = len(centres)
    if len(radii) != n:
        raise ValueError(f"mass_radii: {n} centres but {len(radii)} radii")
    if n == 0:
        return np.zeros(0)
    fiber, blur = float(model.fiber_level), float(model.blur)
    window = _window(model.radius_px)
    radii = _start_radii(centres, radii, float(model.radius_px))
    # each section's cell: the pixels nearest its disk, grown by the blur's reach
    cells = expand_labels(fiber_scale.disk_labels(image.shape, centres, radii), _cell_reach(blur))
    image = image.astype(np.float32)
    # soft disks (a ramp of one pixel: π (r² + 1/12) each) of the model's area, blurred
    painted = np.zeros(image.shape)
    paint_soft_disks(centres, np.sqrt(np.maximum(radii**2 - 1.0 / 12.0, 0.0)), painted)
    cover = ndi.gaussian_filter(painted.astype(np.float32), blur, truncate=BLUR_TRUNCATE)
    empty = 1.0 - cover
    norm = ndi.gaussian_filter(empty * empty, window, truncate=WINDOW_TRUNCATE)
    np.maximum(norm, 1e-12, out=norm)
    cover *= fiber  # then the residual of the fibers, weighted: (1 − U) (I − f U)
    np.subtract(image, cover, out=cover)
    cover *= empty
    background = ndi.gaussian_filter(cover, window, truncate=WINDOW_TRUNCATE)
    background /= norm
    contrast = fiber - background
    share = np.divide(image - background, contrast, out=np.zeros_like(contrast), where=contrast > 0)
    area = np.bincount(cells.ravel(), weights=share.ravel(), minlength=n + 1)[1:]
    return np.sqrt(np.maximum(area, 0.0) / np.pi)
