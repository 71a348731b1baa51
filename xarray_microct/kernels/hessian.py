"""Compiled Hessian kernels: fused Gaussian second derivatives and 3×3 eigenvalues.

One call of :func:`hessian_measure_block` turns a block (with its halo) into a Hessian
measure of its interior, without ever holding the six Hessian components of the whole
block in memory:

1. the block is streamed plane by plane along ``z``; in each plane, three passes along
   ``x`` (smoothing, first and second derivative) and six along ``y`` give the in-plane
   parts of the six components (the 15 shared separable passes of a 3-D Hessian);
2. those planes go into a ring buffer ``2 r_z + 1`` planes deep, from which six passes
   along ``z`` give the components of one output plane;
3. per voxel, the closed-form eigenvalues of the symmetric 3×3 matrix (float64
   internals) feed the measure, written straight to the output.

Memory per call is the output plus about ``6 (2 r_z + 1)`` planes of the interior;
arithmetic is float32 for the passes (a sum of at most ``2r + 1`` products per pass) and
float64 for the eigenvalues, whose trigonometric (Cardano/Smith) form is otherwise
inaccurate near repeated eigenvalues. The kernels run single-threaded: Dask owns the
parallelism across blocks.

Reads beyond the block are extended by a border ``mode`` exactly as
``scipy.ndimage`` does; they only happen at the true border of the volume, because
interior block faces carry a halo at least as deep as the kernels.
"""

from __future__ import annotations

import math

import numba
import numpy as np

# Border modes, as in scipy.ndimage ("wrap" is excluded: it is not local to a border).
MODES: dict[str, int] = {"reflect": 0, "mirror": 1, "nearest": 2, "constant": 3}

# Measures computed from the sorted eigenvalues.
MEASURE_EIGENVALUES = 0  # the three eigenvalues, sorted by absolute value
MEASURE_SATO = 1  # Sato's line measure, as skimage.filters.sato
MEASURE_OBJECTNESS = 2  # ITK's HessianToObjectnessMeasureImageFilter (and Frangi)
MEASURE_NORM = 3  # Frobenius norm of the Hessian (for a global default gamma)


def gaussian_kernels(sigma: float, radius: int) -> np.ndarray:
    """Sampled Gaussian, first and second derivative kernels, scale-normalised.

    The kernels are those of ``scipy.ndimage.gaussian_filter`` (a sampled Gaussian
    normalised to unit sum, times the Hermite polynomial of the derivative), with the
    first derivative multiplied by ``sigma`` and the second by ``sigma**2`` (the scale
    normalisation of Lindeberg, used by Sato, Frangi and ITK's
    ``NormalizeAcrossScale``). Row ``k`` holds the ``k``-th derivative; column ``j`` the
    tap at offset ``j - radius``, i.e. correlation weights.

    Parameters
    ----------
    sigma : float
        Standard deviation in voxels.
    radius : int
        Half-width in voxels.

    Returns
    -------
    numpy.ndarray of float32, shape (3, 2 * radius + 1)

    Examples
    --------
    >>> k = gaussian_kernels(2.0, 8)
    >>> round(float(k[0].sum()), 6), abs(round(float(k[2].sum()), 3))
    (1.0, 0.0)
    """
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    g /= g.sum()
    # Correlation weights: d/dx f(x + t) g(t)... the derivative of the smoothed signal
    # at 0 is sum_t f(t) g'(-t), so the first derivative weights are -g'(t) = t g / s².
    k1 = x / sigma**2 * g
    k2 = (x**2 / sigma**4 - 1.0 / sigma**2) * g
    return np.stack([g, k1 * sigma, k2 * sigma**2]).astype(np.float32)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _source_index(i: int, n: int, mode: int) -> int:
    """Index of the sample that stands at position ``i`` of an axis of length ``n``."""
    if 0 <= i < n:
        return i
    if mode == 3:  # constant (zero)
        return -1
    if mode == 2:  # nearest
        return 0 if i < 0 else n - 1
    if mode == 0:  # reflect: d c b a | a b c d | d c b a
        period = 2 * n
        j = i % period
        return j if j < n else period - 1 - j
    # mirror: d c b | a b c d | c b a
    if n == 1:
        return 0
    period = 2 * n - 2
    j = i % period
    return j if j < n else period - j


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _index_map(start: int, count: int, n: int, mode: int) -> np.ndarray:
    out = np.empty(count, dtype=np.int64)
    for t in range(count):
        out[t] = _source_index(start + t, n, mode)
    return out


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _eigenvalues(a: float, b: float, c: float, d: float, e: float, f: float) -> tuple:
    """Eigenvalues of [[a, d, e], [d, b, f], [e, f, c]], sorted by absolute value.

    Float64 throughout. The matrix is scaled by its largest entry (no overflow or
    underflow whatever the intensity scale) and shifted by its mean eigenvalue before the
    trigonometric solution; a diagonal matrix is returned exactly, and the middle root
    comes from the trace, so the three always sum to the trace.
    """
    scale = max(abs(a), abs(b), abs(c), abs(d), abs(e), abs(f))
    if scale == 0.0:
        return 0.0, 0.0, 0.0
    a /= scale
    b /= scale
    c /= scale
    d /= scale
    e /= scale
    f /= scale
    off = d * d + e * e + f * f
    if off < 1e-30:
        l1, l2, l3 = a, b, c
    else:
        m = (a + b + c) / 3.0
        a0 = a - m
        b0 = b - m
        c0 = c - m
        p2 = (a0 * a0 + b0 * b0 + c0 * c0 + 2.0 * off) / 6.0
        p = math.sqrt(p2)
        det = a0 * (b0 * c0 - f * f) - d * (d * c0 - f * e) + e * (d * f - b0 * e)
        r = det / (2.0 * p2 * p)
        r = min(max(r, -1.0), 1.0)
        phi = math.acos(r) / 3.0
        l1 = m + 2.0 * p * math.cos(phi)  # largest
        l3 = m + 2.0 * p * math.cos(phi + 2.0 * math.pi / 3.0)  # smallest
        l2 = 3.0 * m - l1 - l3
    # sort by absolute value (three compare-and-swaps)
    if abs(l1) > abs(l2):
        l1, l2 = l2, l1
    if abs(l2) > abs(l3):
        l2, l3 = l3, l2
    if abs(l1) > abs(l2):
        l1, l2 = l2, l1
    return l1 * scale, l2 * scale, l3 * scale


def eigenvalues_sorted_by_magnitude(
    hzz: np.ndarray,
    hyy: np.ndarray,
    hxx: np.ndarray,
    hzy: np.ndarray,
    hzx: np.ndarray,
    hyx: np.ndarray,
) -> np.ndarray:
    """Eigenvalues of symmetric 3×3 matrices given by their six entries (arrays).

    A NumPy-facing wrapper of the compiled closed-form solver used inside the Hessian
    kernel, for testing it against ``numpy.linalg.eigvalsh``.

    Returns
    -------
    numpy.ndarray, shape (3, *hzz.shape), float64
        Sorted by absolute value, smallest first.

    Examples
    --------
    >>> ev = eigenvalues_sorted_by_magnitude(*[np.array([v]) for v in (2., -3., 1., 0, 0, 0)])
    >>> ev[:, 0].tolist()
    [1.0, 2.0, -3.0]
    """
    entries = [np.ascontiguousarray(np.asarray(h, dtype=np.float64).ravel())
               for h in (hzz, hyy, hxx, hzy, hzx, hyx)]
    out = np.empty((3, entries[0].size), dtype=np.float64)
    _eigenvalues_many(*entries, out)
    return out.reshape((3, *np.shape(hzz)))


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _eigenvalues_many(a, b, c, d, e, f, out):  # type: ignore[no-untyped-def]
    for i in range(a.size):
        out[0, i], out[1, i], out[2, i] = _eigenvalues(a[i], b[i], c[i], d[i], e[i], f[i])


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _measure(
    l1: float,
    l2: float,
    l3: float,
    measure: int,
    bright: bool,
    object_dimension: int,
    alpha: float,
    beta: float,
    gamma: float,
    scale_by_largest: bool,
) -> float:
    """One measure from eigenvalues sorted by absolute value (|l1| <= |l2| <= |l3|)."""
    if measure == MEASURE_NORM:
        return math.sqrt(l1 * l1 + l2 * l2 + l3 * l3)
    if measure == MEASURE_SATO:
        # Geometric mean of the two eigenvalues across a line, clipped at 0: for a
        # bright line, the two most negative eigenvalues of the Hessian, negated.
        if bright:
            lo = min(l1, l2, l3)
            mid = l1 + l2 + l3 - lo - max(l1, l2, l3)
            return math.sqrt(max(-lo, 0.0) * max(-mid, 0.0))
        hi = max(l1, l2, l3)
        mid = l1 + l2 + l3 - hi - min(l1, l2, l3)
        return math.sqrt(max(hi, 0.0) * max(mid, 0.0))
    # Objectness (ITK HessianToObjectnessMeasureImageFilter).
    ev0 = l1
    ev1 = l2
    ev2 = l3
    # sign constraints on the eigenvalues across the object
    for i in range(object_dimension, 3):
        v = ev0 if i == 0 else (ev1 if i == 1 else ev2)
        if (bright and v > 0.0) or ((not bright) and v < 0.0):
            return 0.0
    a0 = abs(ev0)
    a1 = abs(ev1)
    a2 = abs(ev2)
    result = 1.0
    if object_dimension < 2:
        if object_dimension == 0:
            ra = a0
            base = a1 * a2
            power = 0.5
        else:
            ra = a1
            base = a2
            power = 1.0
        if base > 0.0:
            if alpha != 0.0:
                ra = ra / base**power
                result *= 1.0 - math.exp(-0.5 * ra * ra / (alpha * alpha))
        else:
            result = 0.0
    if object_dimension > 0:
        if object_dimension == 1:
            rb = a0
            base = a1 * a2
            power = 0.5
        else:
            rb = a1
            base = a2
            power = 1.0
        if base > 0.0 and beta != 0.0:
            rb = rb / base**power
            result *= math.exp(-0.5 * rb * rb / (beta * beta))
        else:
            result = 0.0
    if gamma != 0.0:
        s2 = a0 * a0 + a1 * a1 + a2 * a2
        result *= 1.0 - math.exp(-0.5 * s2 / (gamma * gamma))
    if scale_by_largest:
        result *= a2
    return result


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _x_pass(row, r, kx, o0, o1, o2, count):  # type: ignore[no-untyped-def]
    """Smoothing, first and second derivative of a padded row (symmetry-folded taps)."""
    c0 = kx[0, r]
    c2 = kx[2, r]
    for x in range(count):
        v = row[x + r]
        o0[x] = c0 * v
        o1[x] = 0.0
        o2[x] = c2 * v
    for i in range(1, r + 1):
        k0 = kx[0, r + i]
        k1 = kx[1, r + i]
        k2 = kx[2, r + i]
        for x in range(count):
            hi = row[x + r + i]
            lo = row[x + r - i]
            s = hi + lo
            o0[x] += k0 * s
            o2[x] += k2 * s
            o1[x] += k1 * (hi - lo)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _block(  # type: ignore[no-untyped-def]
    img,
    origin,
    shape,
    radius,
    kz,
    ky,
    kx,
    mode,
    measure,
    bright,
    object_dimension,
    alpha,
    beta,
    gamma,
    scale_by_largest,
    combine,
    out,
):
    nz, ny, nx = img.shape
    oz, oy, ox = origin[0], origin[1], origin[2]
    mz, my, mx = shape[0], shape[1], shape[2]
    rz, ry, rx = radius[0], radius[1], radius[2]
    depth = 2 * rz + 1
    zmap = _index_map(oz - rz, mz + 2 * rz, nz, mode)
    ymap = _index_map(oy - ry, my + 2 * ry, ny, mode)
    xmap = _index_map(ox - rx, mx + 2 * rx, nx, mode)
    # rows of the x passes, one per source row (only those needed are filled)
    px = np.zeros((3, ny + 1, mx), dtype=np.float32)  # row ny stays zero: "constant"
    needed_rows = np.zeros(ny, dtype=np.bool_)
    for t in range(my + 2 * ry):
        if ymap[t] >= 0:
            needed_rows[ymap[t]] = True
    for t in range(my + 2 * ry):
        if ymap[t] < 0:
            ymap[t] = ny
    ring = np.zeros((6, depth, my, mx), dtype=np.float32)
    row = np.empty(mx + 2 * rx, dtype=np.float32)
    h = np.empty((6, mx), dtype=np.float32)
    for t in range(mz + 2 * rz):
        slot = t % depth
        src = zmap[t]
        if src < 0:
            ring[:, slot] = 0.0
        else:
            # passes along x of every needed row of the source plane
            for yy in range(ny):
                if not needed_rows[yy]:
                    continue
                for j in range(mx + 2 * rx):
                    xs = xmap[j]
                    row[j] = img[src, yy, xs] if xs >= 0 else 0.0
                _x_pass(row, rx, kx, px[0, yy], px[1, yy], px[2, yy], mx)
            # passes along y: (Y0X0, Y1X0, Y2X0, Y0X1, Y1X1, Y0X2)
            for y in range(my):
                c = ymap[y + ry]
                a00 = ring[0, slot, y]
                a10 = ring[1, slot, y]
                a20 = ring[2, slot, y]
                a01 = ring[3, slot, y]
                a11 = ring[4, slot, y]
                a02 = ring[5, slot, y]
                k0 = ky[0, ry]
                k2 = ky[2, ry]
                for x in range(mx):
                    a00[x] = k0 * px[0, c, x]
                    a10[x] = 0.0
                    a20[x] = k2 * px[0, c, x]
                    a01[x] = k0 * px[1, c, x]
                    a11[x] = 0.0
                    a02[x] = k0 * px[2, c, x]
                for i in range(1, ry + 1):
                    hi = ymap[y + ry + i]
                    lo = ymap[y + ry - i]
                    k0 = ky[0, ry + i]
                    k1 = ky[1, ry + i]
                    k2 = ky[2, ry + i]
                    for x in range(mx):
                        s0 = px[0, hi, x] + px[0, lo, x]
                        d0 = px[0, hi, x] - px[0, lo, x]
                        a00[x] += k0 * s0
                        a20[x] += k2 * s0
                        a10[x] += k1 * d0
                        a01[x] += k0 * (px[1, hi, x] + px[1, lo, x])
                        a11[x] += k1 * (px[1, hi, x] - px[1, lo, x])
                        a02[x] += k0 * (px[2, hi, x] + px[2, lo, x])
        if t < 2 * rz:
            continue
        z = t - 2 * rz  # output plane; its centre slot is (t - rz) % depth
        centre = (t - rz) % depth
        for y in range(my):
            k0 = kz[0, rz]
            k2 = kz[2, rz]
            for x in range(mx):
                h[0, x] = k2 * ring[0, centre, y, x]  # zz
                h[1, x] = k0 * ring[2, centre, y, x]  # yy
                h[2, x] = k0 * ring[5, centre, y, x]  # xx
                h[3, x] = 0.0  # zy
                h[4, x] = 0.0  # zx
                h[5, x] = k0 * ring[4, centre, y, x]  # yx
            for i in range(1, rz + 1):
                hi = (t - rz + i) % depth
                lo = (t - rz - i) % depth
                k0 = kz[0, rz + i]
                k1 = kz[1, rz + i]
                k2 = kz[2, rz + i]
                for x in range(mx):
                    h[0, x] += k2 * (ring[0, hi, y, x] + ring[0, lo, y, x])
                    h[1, x] += k0 * (ring[2, hi, y, x] + ring[2, lo, y, x])
                    h[2, x] += k0 * (ring[5, hi, y, x] + ring[5, lo, y, x])
                    h[3, x] += k1 * (ring[1, hi, y, x] - ring[1, lo, y, x])
                    h[4, x] += k1 * (ring[3, hi, y, x] - ring[3, lo, y, x])
                    h[5, x] += k0 * (ring[4, hi, y, x] + ring[4, lo, y, x])
            for x in range(mx):
                hzz = np.float64(h[0, x])
                hyy = np.float64(h[1, x])
                hxx = np.float64(h[2, x])
                hzy = np.float64(h[3, x])
                hzx = np.float64(h[4, x])
                hyx = np.float64(h[5, x])
                nan = (hzz + hyy + hxx + hzy + hzx + hyx) != (hzz + hyy + hxx + hzy + hzx + hyx)
                if measure == MEASURE_EIGENVALUES:
                    if nan:
                        out[0, z, y, x] = np.nan
                        out[1, z, y, x] = np.nan
                        out[2, z, y, x] = np.nan
                    else:
                        l1, l2, l3 = _eigenvalues(hzz, hyy, hxx, hzy, hzx, hyx)
                        out[0, z, y, x] = l1
                        out[1, z, y, x] = l2
                        out[2, z, y, x] = l3
                    continue
                if nan:
                    value = np.nan
                else:
                    l1, l2, l3 = _eigenvalues(hzz, hyy, hxx, hzy, hzx, hyx)
                    value = _measure(
                        l1, l2, l3, measure, bright, object_dimension, alpha, beta, gamma,
                        scale_by_largest,
                    )
                if combine:
                    old = out[0, z, y, x]
                    if value != value or old != old:
                        out[0, z, y, x] = np.nan
                    elif value > old:
                        out[0, z, y, x] = value
                else:
                    out[0, z, y, x] = value


def hessian_measure_block(
    block: np.ndarray,
    origin: tuple[int, int, int],
    shape: tuple[int, int, int],
    sigmas: list[tuple[float, float, float]],
    radii: list[tuple[int, int, int]],
    *,
    measure: int,
    mode: str = "reflect",
    bright: bool = True,
    object_dimension: int = 1,
    alpha: float = 0.5,
    beta: float = 0.5,
    gamma: float = 5.0,
    scale_by_largest: bool = True,
) -> np.ndarray:
    """A Hessian measure of the region ``origin : origin + shape`` of a 3-D block.

    Parameters
    ----------
    block : numpy.ndarray, 3-D
        Input samples (any real dtype; converted to float32 as they are read).
    origin, shape : 3 ints
        The output region inside ``block``. Reads beyond the block are extended by
        ``mode``; to match a larger volume, give the block a halo of ``radii``.
    sigmas : list of 3-tuples of float
        Gaussian scales in voxels per axis; the result is the maximum over scales
        (for ``measure=MEASURE_EIGENVALUES``, give a single scale).
    radii : list of 3-tuples of int
        Kernel half-widths in voxels per axis, one per scale.
    measure : int
        One of the ``MEASURE_*`` constants.
    mode : {"reflect", "mirror", "nearest", "constant"}
        Border extension, as in ``scipy.ndimage``.
    bright, object_dimension, alpha, beta, gamma, scale_by_largest
        Parameters of the measure (see :mod:`xarray_microct.ops.hessian`).

    Returns
    -------
    numpy.ndarray of float32, shape ``(3, *shape)`` for eigenvalues, else ``shape``

    Examples
    --------
    >>> z, y, x = np.mgrid[:15, :15, :15]
    >>> line = np.exp(-((y - 7.0) ** 2 + (x - 7.0) ** 2) / 8).astype("float32")
    >>> t = hessian_measure_block(line, (0, 0, 0), line.shape, [(2., 2., 2.)], [(8, 8, 8)],
    ...                           measure=MEASURE_SATO)
    >>> bool(t[7, 7, 7] == t.max())
    True
    """
    if block.ndim != 3:
        raise ValueError(f"expected a 3-D block, got shape {block.shape}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {tuple(MODES)}, got {mode!r}")
    if measure == MEASURE_EIGENVALUES and len(sigmas) != 1:
        raise ValueError("eigenvalues are computed at one scale at a time")
    n_out = 3 if measure == MEASURE_EIGENVALUES else 1
    out = np.zeros((n_out, *shape), dtype=np.float32)
    if block.dtype == np.bool_:
        block = block.view(np.uint8)
    for index, (sigma, radius) in enumerate(zip(sigmas, radii, strict=True)):
        kz, ky, kx = (gaussian_kernels(s, r) for s, r in zip(sigma, radius, strict=True))
        _block(
            block,
            np.asarray(origin, dtype=np.int64),
            np.asarray(shape, dtype=np.int64),
            np.asarray(radius, dtype=np.int64),
            kz,
            ky,
            kx,
            MODES[mode],
            measure,
            bool(bright),
            int(object_dimension),
            float(alpha),
            float(beta),
            float(gamma),
            bool(scale_by_largest),
            index > 0,
            out,
        )
    return out if measure == MEASURE_EIGENVALUES else out[0]
