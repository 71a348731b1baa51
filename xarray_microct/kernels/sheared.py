"""Compiled per-block kernel: a 1-D Gaussian along a sheared axis (along tilted fibers).

Smoothing straight along z averages a fiber tilted by θ with its surroundings: over a
tap ``k`` slices away the fiber has moved ``k tan θ`` pixels in-plane. The kernel
follows the fibers: tap ``k`` samples slice ``z + k`` at the in-plane point moved by
``k · (ty, tx)`` (the bed's measured drift per slice).

The taps farther than one slice are summed in the volume's sheared frame, with two
interpolations per voxel instead of one per tap: slice ``Z`` (its number in the whole
volume) is moved by ``−Z · (ty, tx)``, smoothed straight along z, and moved back by
``Z · (ty, tx)``. The integer part of ``Z · t`` is an index offset; the fraction is
interpolated by Lanczos' windowed sinc over 8 × 8 pixels (separable, normalised to sum
1). The slice's own tap is added as it is, the two next to it each shifted by ``±t``
(the same kernel, once). Every value depends on the volume's slice numbers only, so a
block with a halo of ``reach`` slices and ``ceil(reach · |t|) + 7`` pixels
(:func:`sheared_halo`) gives, inside, the values of the whole volume, bit for bit.
Beyond the volume's sides the nearest row or column is repeated (``scipy.ndimage``'s
``mode="nearest"``); beyond its first and last planes there is nothing: those taps are
left out and the others' weights renormalised (a slice near the volume's end is the
weighted mean of the slices there are). Repeating the end plane, as until 2026-12-02,
counted its noise again for every tap beyond it (at σ = 4 slices the end slice's own
weight was 0.55, a middle slice's 0.10: after smoothing, the end slices' noise was 2.2
times the middle's, 1.4 times with the renormalised taps), and on a tilted bed moved it
as if it lay at the taps' places, smearing the fibers along the drift. Measured (defaults,
``benchmarks/fiber_table_radius.py --phantom other --radii 2 --grid --noise 0.25``, seeds
1–3, 0 / 8 / 15°, object F1): 0.979 / 0.959 / 0.968, 0.967 / 0.966 / 0.970, 0.964 /
0.968 / 0.972 → 0.982 / 0.967 / 0.972, 0.976 / 0.970 / 0.969, 0.970 / 0.980 / 0.982
(mean 0.968 → 0.974). Tried before on an older detection (then mean 0.955; see
:func:`~xarray_microct.ops.fibers.detect._tubeness_sigmas`): +0.001, within the noise;
since then the smoothing along untilted beds grew to two radii, which the end planes
weigh on over more slices.

Tried and not used (2026-12-03): near the end planes, the taps within the volume
widened (the kernel raised to the power that makes them count as many planes,
``(Σw)² / Σw²``, as a middle plane's: the end planes' noise then the middle's, where
it is 1.4 times that with the taps renormalised). ``textured_fiber_bed`` at 2 pixels,
noise 0.25, seeds 1–3 at 0° / 8° / 15°, object F1 with the defaults: 0.985 / 0.965 /
0.977, 0.975 / 0.969 / 0.969, 0.969 / 0.980 / 0.977 (mean 0.974) → 0.986 / 0.971 /
0.982, 0.980 / 0.970 / 0.969, 0.973 / 0.977 / 0.976 (0.976); ``fiber_bed`` and the
textured bed at 2–8 pixels (noise 0.05 / 0.25, 0 / 15°, seeds 1–2) within 0.002 of F1
and 0.2 points of radius. But the widened window reaches further into the volume, and a
fiber that bends away from the bed's drift is smeared at its ends: beds of 2-pixel
fibers (64², 48 slices, a blur of 0.8, noise a quarter of the contrast, seeds 1–3; the
F1 of the 8 end slices) bowed by 2 pixels 0.996 / 1.000 / 1.000 → 0.994 / 0.995 /
0.998, bowed and tilted by 10° 0.997 / 1.000 / 1.000 → 0.989 / 0.991 / 0.994, on a helix
of 1 pixel's amplitude and 48 slices' period 0.885 / 0.922 / 0.915 → 0.874 / 0.918 /
0.895 (the whole bed of seed 3 0.950 → 0.941). Real fibers wave, and a scan's end
planes are few: the renormalised taps, the shortest lag, stay.

Interpolating twice blurs in-plane where the fraction falls halfway between pixels,
which shrinks small fibers' masks: with every tap in the sheared frame the detected
radii of ``benchmarks/fiber_scale.py`` at 2–3 voxels came out 0.6–0.9 % smaller than
with one Catmull-Rom interpolation per tap (the previous kernel) with Catmull-Rom's
cubic, 0.1–0.4 % with Lanczos over 8 pixels, and the 16-slice bed of
``tests/test_fiber_scale.py`` (2 voxels, noise 0.15, 8°) went from −1.6 % to −2.2 %;
with the nearest taps shifted once, −1.5 %. Object F1 at 2 voxels, noise 0.25, 15°
(seed 1): 0.978 on ``fiber_bed``, 0.946 on ``other_bed`` (0.974 / 0.943 per tap). On a
noise field smoothed in-plane over 2 pixels the values differ from the per-tap
Catmull-Rom smoothing by under 1.5 % of their spread (0.3 % on average). CPU per voxel
on one core (``benchmarks/fiber_along.py --baseline``, 64 × 512², shared machine, so
noisy): 28 / 30 / 37 / 47 ns at σ = 1 / 2 / 4 / 8 slices against 20 / 37 / 70 / 142
per tap: cheaper from σ = 2 on, 3 × at σ = 8.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["sheared_halo", "smooth_sheared"]

SUPPORT = 8  # pixels the in-plane interpolation reads per axis (Lanczos, a = 4)
NEAR = 1  # taps this near the slice are shifted each on its own, once


@numba.njit(nogil=True, cache=True)
def _lanczos(f: float, out: np.ndarray) -> None:  # pragma: no cover
    """Lanczos weights (``len(out)`` even) of the samples at offsets ``1 − len(out)/2 …
    len(out)/2`` for the point at fraction ``f``, normalised to sum 1."""
    n = out.shape[0]
    half = n // 2
    if f == 0.0:  # on a pixel: that pixel alone (the sines are 1e-16, not 0)
        out[:] = 0.0
        out[half - 1] = 1.0
        return
    total = 0.0
    for m in range(n):
        d = m - (half - 1) - f
        if abs(d) < 1e-7:  # the limit at 0 (error ~d²)
            w = 1.0
        else:
            w = half * math.sin(math.pi * d) * math.sin(math.pi * d / half) / (math.pi * d) ** 2
        out[m] = w
        total += w
    for m in range(n):
        out[m] /= total


@numba.njit(nogil=True, cache=True)
def _shift_plane(
    source: np.ndarray, wy: np.ndarray, oy: int, wx: np.ndarray, ox: int, out: np.ndarray
) -> None:  # pragma: no cover - compiled; checked through smooth_sheared
    """``out[j, i] = Σ_mn wy[m] wx[n] source[j + oy + m, i + ox + n]``, edges repeated."""
    ny, nx = source.shape
    my, mx = out.shape
    n = wy.shape[0]
    row = np.empty(nx, dtype=np.float32)
    lo = min(max(-ox, 0), mx)  # the x range whose reads lie inside the row
    hi = max(min(nx - n + 1 - ox, mx), lo)
    last = ny - 1
    for j in range(my):
        row[:] = 0
        for m in range(n):  # interpolated between the rows first
            r = source[min(max(j + oy + m, 0), last)]
            w = wy[m]
            for x in range(nx):
                row[x] += w * r[x]
        line = out[j]
        for i in range(lo, hi):
            q = i + ox
            total = np.float32(0.0)
            for m in range(n):
                total += wx[m] * row[q + m]
            line[i] = total
        for i in range(lo):
            line[i] = _clamped(row, i + ox, wx)
        for i in range(hi, mx):
            line[i] = _clamped(row, i + ox, wx)


@numba.njit(nogil=True, cache=True, inline="always")
def _clamped(row, q, wx):  # pragma: no cover - compiled
    """The sum from ``q`` with the row's ends repeated beyond them."""
    last = row.shape[0] - 1
    total = np.float32(0.0)
    for n in range(wx.shape[0]):
        total += wx[n] * row[min(max(q + n, 0), last)]
    return total


@numba.njit(nogil=True, cache=True)
def _smooth_sheared(
    block: np.ndarray,
    weights: np.ndarray,
    ty: float,
    tx: float,
    first: int,
    origin: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled; checked through smooth_sheared
    nz = block.shape[0]
    sz, sy, sx = out.shape
    oz, oy, ox = origin[0], origin[1], origin[2]
    reach = weights.shape[0] // 2
    near = min(NEAR, reach)
    # integer parts of the shifts of the output's slices: the sheared planes' extent
    low_y = high_y = math.floor((first + oz) * ty)
    low_x = high_x = math.floor((first + oz) * tx)
    for z in range(oz, oz + sz):
        iy, ix = math.floor((first + z) * ty), math.floor((first + z) * tx)
        low_y, high_y = min(low_y, iy), max(high_y, iy)
        low_x, high_x = min(low_x, ix), max(high_x, ix)
    # sheared plane index j holds the point j + j0 + floor(Z t) + frac(Z t) of slice Z
    j0y, j0x = oy - high_y - SUPPORT // 2, ox - high_x - SUPPORT // 2
    my, mx = sy + high_y - low_y + SUPPORT - 1, sx + high_x - low_x + SUPPORT - 1
    sheared = np.empty((sz + 2 * reach, my, mx), dtype=np.float32)
    wy, wx = np.empty(SUPPORT, dtype=np.float32), np.empty(SUPPORT, dtype=np.float32)
    half = SUPPORT // 2
    for s in range(sz + 2 * reach):
        z = oz - reach + s
        if z < 0 or z >= nz:  # beyond the volume's planes: a tap left out (see below)
            sheared[s] = 0
            continue
        vy, vx = (first + z) * ty, (first + z) * tx
        iy, ix = math.floor(vy), math.floor(vx)
        _lanczos(vy - iy, wy)
        _lanczos(vx - ix, wx)
        _shift_plane(block[z], wy, j0y + iy - half + 1, wx, j0x + ix - half + 1, sheared[s])
    smoothed = np.empty((my, mx), dtype=np.float32)
    tap = np.empty((sy, sx), dtype=np.float32)
    for z in range(sz):
        smoothed[:, :] = 0
        inside = np.float32(0.0)  # the weights of the taps within the volume
        total = np.float32(0.0)
        for k in range(weights.shape[0]):
            total += weights[k]
            if 0 <= oz + z + k - reach < nz:
                inside += weights[k]
        for k in range(weights.shape[0]):  # straight along z in the sheared frame
            if abs(k - reach) <= near or not 0 <= oz + z + k - reach < nz:
                continue  # the nearest taps are added below, each shifted on its own
            w = weights[k]
            plane = sheared[z + k]
            for j in range(my):
                for i in range(mx):
                    smoothed[j, i] += w * plane[j, i]
        vy, vx = (first + oz + z) * ty, (first + oz + z) * tx
        iy, ix = math.floor(vy), math.floor(vx)
        _lanczos(vy - iy, wy)
        _lanczos(vx - ix, wx)
        # back: the point y − Z t, weights mirrored (the kernel is even)
        wy, wx = wy[::-1].copy(), wx[::-1].copy()
        plane = out[z]
        _shift_plane(smoothed, wy, oy - iy - half - j0y, wx, ox - ix - half - j0x, plane)
        centre, source = weights[reach], block[oz + z]
        for j in range(sy):
            for i in range(sx):
                plane[j, i] += centre * source[oy + j, ox + i]
        for k in range(-near, near + 1):
            if k == 0:
                continue
            if not 0 <= oz + z + k < nz:
                continue
            w = weights[reach + k]
            vy, vx = k * ty, k * tx
            iy, ix = math.floor(vy), math.floor(vx)
            _lanczos(vy - iy, wy)
            _lanczos(vx - ix, wx)
            _shift_plane(block[oz + z + k], wy, oy + iy - half + 1, wx, ox + ix - half + 1, tap)
            for j in range(sy):
                for i in range(sx):
                    plane[j, i] += w * tap[j, i]
        if (oz + z < reach or oz + z + reach >= nz) and inside != 0:
            scale = total / inside  # near the volume's planes: the weights' sum restored
            for j in range(sy):
                for i in range(sx):
                    plane[j, i] *= scale


def sheared_halo(reach: int, slope: tuple[float, float]) -> tuple[int, int, int]:
    """The halo (z, y, x voxels) a block needs for :func:`smooth_sheared`.

    ``reach`` slices along z; in-plane the farthest tap's shift, ``reach · |t|``, rounded
    up, plus the seven pixels the two interpolations (there and back) read beyond it.

    Examples
    --------
    >>> sheared_halo(4, (0.27, -0.05))
    (4, 9, 8)
    """
    return (
        int(reach),
        math.ceil(reach * abs(slope[0])) + SUPPORT - 1,
        math.ceil(reach * abs(slope[1])) + SUPPORT - 1,
    )


def smooth_sheared(
    block: np.ndarray,
    weights: np.ndarray,
    slope: tuple[float, float],
    *,
    first_slice: int = 0,
    origin: tuple[int, int, int] = (0, 0, 0),
    shape: tuple[int, int, int] | None = None,
) -> np.ndarray:
    """Correlate a ``(z, y, x)`` block with ``weights`` along the axis ``(1, ty, tx)``.

    Output ``[z, y, x] ≈ Σ_k weights[k] · block(z + k − reach, y + (k − reach) ty,
    x + (k − reach) tx)``, ``reach`` = ``len(weights) // 2`` (odd length), the block's
    sides extended by their nearest values, the taps beyond its first and last planes
    left out and the others' weights scaled to the kernel's sum (where they sum to more
    than 0). Computed in the volume's sheared frame:
    slice ``Z`` (``first_slice`` + its index: the block's first slice in the volume) is
    moved by ``−Z · (ty, tx)`` (an index offset for the integer part, Lanczos' windowed
    sinc over 8 pixels for the fraction), smoothed straight along z (float32 sums over
    the taps in order) and moved back by ``Z · (ty, tx)``. Every value depends on the volume's slice
    numbers only, so any block with the halo of :func:`sheared_halo` gives, inside, the
    values of the whole volume. ``origin`` and ``shape``: the part of the block to
    return (default: all of it). ``slope = (0, 0)`` is a plain correlation along z.

    Examples
    --------
    >>> block = np.zeros((3, 1, 5), np.float32)
    >>> block[0, 0, 1] = block[1, 0, 2] = block[2, 0, 3] = 3  # a line moving +1 x/slice
    >>> smooth_sheared(block, np.full(3, 1 / 3, np.float32), (0.0, 1.0))[1, 0]
    array([0., 0., 3., 0., 0.], dtype=float32)
    """
    weights = np.asarray(weights, dtype=np.float32)
    if weights.ndim != 1 or weights.size % 2 == 0:
        raise ValueError(f"the weights must be a 1-D kernel of odd length, got {weights.shape}")
    out = np.empty(block.shape if shape is None else tuple(shape), dtype=np.float32)
    _smooth_sheared(
        np.ascontiguousarray(block, dtype=np.float32),
        weights,
        float(slope[0]),
        float(slope[1]),
        int(first_slice),
        np.asarray(origin, dtype=np.int64),
        out,
    )
    return out
