"""Compiled Hessian kernels: fused Gaussian second derivatives and 3×3 eigenvalues.

One call of :func:`hessian_measure_block` turns a block (with its halo) into a Hessian
measure of its interior, without ever holding the six Hessian components of the whole
block in memory:

1. the block is streamed plane by plane along ``z``; in each plane, three passes along
   ``x`` (smoothing, first and second derivative) and six along ``y`` give the in-plane
   parts of the six components (the 15 shared separable passes of a 3-D Hessian);
2. those planes go into a ring buffer ``2 r_z + 1`` planes deep, from which six passes
   along ``z`` give the components of one output plane;
3. per row of voxels, the closed-form eigenvalues of the symmetric 3×3 matrices
   (float64 internals, branch-free so that the loop vectorises, see
   :func:`_eigenvalues_row`) feed the measure, written straight to the output.

Memory per call is the output plus about ``6 (2 r_z + 1)`` planes of the interior;
arithmetic is float32 for the passes (a sum of at most ``2r + 1`` products per pass) and
float64 for the eigenvalues, whose trigonometric (Cardano/Smith) form is otherwise
inaccurate near repeated eigenvalues (the float32 form loses ~3e-5; this one stays
within 1e-7 of ``numpy.linalg.eigvalsh``). The kernels run single-threaded (``nogil``):
Dask owns the parallelism across blocks. Compiled code is cached on disk
(``cache=True``), so only the first use on a machine pays the compilation.

Large scales (``COARSE_FROM_SIGMA`` voxels and more along an axis) would need long
kernels; they are computed on a grid twice as coarse along that axis instead (smooth,
keep the even samples of the volume, the same fused passes there, 8-point interpolation
back: :class:`AxisPlan`), so that the cost stops growing with the scale.

Reads beyond the block are extended by a border ``mode`` exactly as
``scipy.ndimage`` does; they only happen at the true border of the volume, because
interior block faces carry a halo at least as deep as the kernels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

# Border modes, as in scipy.ndimage ("wrap" is excluded: it is not local to a border).
MODES: dict[str, int] = {"reflect": 0, "mirror": 1, "nearest": 2, "constant": 3}

# Input dtypes read directly by the kernel (one compiled specialisation each; other
# dtypes are converted to float32 per block, so the kernel compiles only once).
_COMPILED_DTYPES = (np.dtype(np.float32),)

# Measures computed from the sorted eigenvalues.
MEASURE_EIGENVALUES = 0  # the three eigenvalues, sorted by absolute value
MEASURE_SATO = 1  # Sato's line measure, as skimage.filters.sato
MEASURE_OBJECTNESS = 2  # ITK's HessianToObjectnessMeasureImageFilter (and Frangi)
MEASURE_NORM = 3  # Frobenius norm of the Hessian (for a global default gamma)
_MEASURE_COMPONENTS = 4  # the six components (zz, yy, xx, zy, zx, yx): the coarse grid's

# Scales of at least COARSE_FROM_SIGMA voxels along an axis are computed on a grid twice
# as coarse along it (see :func:`axis_plan`): the cost then stops growing with sigma.
COARSE_FROM_SIGMA = 4.0
# Smoothing (in fine voxels) applied before keeping every other sample.
_PRESMOOTH_SIGMA = 2.0
# Lagrange interpolation halfway between two coarse samples, 8 points (exact on
# polynomials of degree 7): how the Hessian's components come back to the fine grid.
_MIDPOINT_WEIGHTS = np.array([-5.0, 49.0, -245.0, 1225.0, 1225.0, -245.0, 49.0, -5.0]) / 2048.0


def gaussian_kernels(sigma: float, radius: int) -> np.ndarray:
    """Sampled Gaussian, first and second derivative kernels, scale-normalised.

    The kernels are those of ``scipy.ndimage.gaussian_filter`` (a sampled Gaussian
    normalised to unit sum, times the Hermite polynomial of the derivative), except that
    the mass of the second derivative's truncated tails is added to its end taps, so
    that it sums to zero (no response to constants or linear ramps, as the continuous
    operator), with the
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
    # Correlation weights: the derivative of the smoothed signal at 0 is
    # sum_t f(t) g'(-t), so the first-derivative weight at offset t is t g(t) / s².
    k1 = x / sigma**2 * g
    k2 = (x**2 / sigma**4 - 1.0 / sigma**2) * g
    # Truncation leaves the second derivative a response to constants: its sum is minus
    # the (positive) mass of the tails cut beyond the radius, -3.5e-4 at sigma = 2.
    # Folding that mass onto the two end taps gives a kernel with zero sum and zero
    # first moment (no response to constants or linear ramps) that is also closer to
    # the untruncated derivative than scipy's (its second moment too). The first
    # derivative is odd: its sum is zero already.
    k2[0] -= k2.sum() / 2
    k2[-1] = k2[0]
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


def _cos_third_arccos_coefficients(degree: int = 18) -> np.ndarray:
    """Chebyshev coefficients of ``cos(arccos(r) / 3)`` in ``u = 2 sqrt((1 + r) / 2) - 1``.

    In ``u`` the function is analytic on ``[-1, 1]`` (the square-root singularity at
    ``r = -1`` is absorbed by the substitution), so a degree-18 interpolant is accurate
    to about 1e-14: the trigonometric solution of the cubic without calling ``acos``
    and ``cos``, in plain arithmetic that the compiler vectorises.
    """
    from numpy.polynomial import chebyshev

    return chebyshev.chebinterpolate(
        lambda u: np.cos(np.arccos((u + 1.0) / 2.0) * 2.0 / 3.0), degree
    )


_COS3 = _cos_third_arccos_coefficients()
_COS3_DEGREE = _COS3.size - 1


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _eigenvalues_row(h, n, ev):  # type: ignore[no-untyped-def]
    """Eigenvalues of ``n`` symmetric 3×3 matrices, sorted by absolute value.

    ``h`` holds the entries ``(zz, yy, xx, zy, zx, yx)`` as rows (float32), ``ev``
    receives ``λ1, λ2, λ3`` (``|λ1| <= |λ2| <= |λ3|``) as rows (float64). Float64
    throughout; branch-free so that the loop vectorises:

    * each matrix is scaled by its largest entry (no overflow or underflow) and
      shifted by its mean eigenvalue ``m`` (the deviator ``B``, ``p² = tr(B²)/6``);
    * ``r = det(B / p) / 2`` in ``[-1, 1]`` gives the largest root ``m + 2p cos(θ/3)``,
      ``θ = acos(r)``, through a Chebyshev series (see ``_COS3``), the other two by
      deflating the cubic (a square root) and the trace;
    * a diagonal matrix (off-diagonal entries below 1e-15 of the largest entry) is
      returned exactly: the guard against the cancellations of Cardano's form when
      entries differ greatly in magnitude.
    """
    for i in range(n):
        a = np.float64(h[0, i])
        b = np.float64(h[1, i])
        c = np.float64(h[2, i])
        d = np.float64(h[3, i])
        e = np.float64(h[4, i])
        f = np.float64(h[5, i])
        scale = max(max(max(abs(a), abs(b)), max(abs(c), abs(d))), max(abs(e), abs(f)))
        inv = 1.0 / scale if scale > 0.0 else 0.0
        a *= inv
        b *= inv
        c *= inv
        d *= inv
        e *= inv
        f *= inv
        off = d * d + e * e + f * f
        m = (a + b + c) * (1.0 / 3.0)
        a0 = a - m
        b0 = b - m
        c0 = c - m
        p2 = (a0 * a0 + b0 * b0 + c0 * c0 + 2.0 * off) * (1.0 / 6.0)
        p = math.sqrt(p2)
        det = a0 * (b0 * c0 - f * f) - d * (d * c0 - f * e) + e * (d * f - b0 * e)
        r = det / (2.0 * p2 * p) if p2 > 1e-300 else 0.0
        r = min(max(r, -1.0), 1.0)
        u = 2.0 * math.sqrt(0.5 * (1.0 + r)) - 1.0
        # Clenshaw recurrence for cos(acos(r) / 3) in [1/2, 1]
        b1 = 0.0
        b2 = 0.0
        for k in range(_COS3_DEGREE, 0, -1):
            t = _COS3[k] + 2.0 * u * b1 - b2
            b2 = b1
            b1 = t
        cos3 = _COS3[0] + u * b1 - b2
        beta1 = 2.0 * cos3
        disc = math.sqrt(max(12.0 - 3.0 * beta1 * beta1, 0.0))
        hi = m + p * beta1
        lo = m + p * 0.5 * (-beta1 - disc)
        mid = 3.0 * m - hi - lo
        diagonal = off <= 1e-30
        l1 = a if diagonal else hi
        l2 = b if diagonal else mid
        l3 = c if diagonal else lo
        # sort by absolute value: three compare-and-swaps
        s1 = l1 if abs(l1) <= abs(l2) else l2
        s2 = l2 if abs(l1) <= abs(l2) else l1
        t2 = s2 if abs(s2) <= abs(l3) else l3
        s3 = l3 if abs(s2) <= abs(l3) else s2
        u1 = s1 if abs(s1) <= abs(t2) else t2
        u2 = t2 if abs(s1) <= abs(t2) else s1
        # NaN (or inf) anywhere in the matrix gives NaN eigenvalues
        poison = (a + b + c + d + e + f) * 0.0
        ev[0, i] = u1 * scale + poison
        ev[1, i] = u2 * scale + poison
        ev[2, i] = s3 * scale + poison


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
    kernel (entries are rounded to float32 first, as in the kernel), for testing it
    against ``numpy.linalg.eigvalsh``.

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
    entries = np.stack(
        [np.asarray(h, dtype=np.float32).ravel() for h in (hzz, hyy, hxx, hzy, hzx, hyx)]
    )
    out = np.empty((3, entries.shape[1]), dtype=np.float64)
    _eigenvalues_row(entries, entries.shape[1], out)
    return out.reshape((3, *np.shape(hzz)))


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _objectness(
    l1: float,
    l2: float,
    l3: float,
    bright: bool,
    object_dimension: int,
    alpha: float,
    beta: float,
    gamma: float,
    scale_by_largest: bool,
) -> float:
    """ITK's objectness from eigenvalues sorted by absolute value (|l1| <= |l2| <= |l3|)."""
    if l1 + l2 + l3 != l1 + l2 + l3:
        return np.nan
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
            root = math.sqrt(base)
        else:
            ra = a1
            base = a2
            root = base
        if base > 0.0:
            if alpha != 0.0:
                ra = ra / root
                result *= 1.0 - math.exp(-0.5 * ra * ra / (alpha * alpha))
        else:
            result = 0.0
    if object_dimension > 0:
        if object_dimension == 1:
            rb = a0
            base = a1 * a2
            root = math.sqrt(base)
        else:
            rb = a1
            base = a2
            root = base
        if base > 0.0 and beta != 0.0:
            rb = rb / root
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
def _measure_row(  # type: ignore[no-untyped-def]
    ev,
    n,
    out,
    measure,
    bright,
    object_dimension,
    alpha,
    beta,
    gamma,
    scale_by_largest,
    combine,
):
    """Write (or max-combine, NaN-propagating) one measure of ``n`` voxels into ``out``."""
    for i in range(n):
        l1 = ev[0, i]
        l2 = ev[1, i]
        l3 = ev[2, i]
        if measure == MEASURE_SATO:
            # branch-free: the two lowest (bright) or highest (dark) of three values
            lo = min(min(l1, l2), l3)
            hi = max(max(l1, l2), l3)
            mid = l1 + l2 + l3 - lo - hi
            if bright:
                value = math.sqrt(max(-lo, 0.0) * max(-mid, 0.0))
            else:
                value = math.sqrt(max(hi, 0.0) * max(mid, 0.0))
            value += (l1 + l2 + l3) * 0.0  # NaN in, NaN out
        else:
            value = _objectness(
                l1, l2, l3, bright, object_dimension, alpha, beta, gamma, scale_by_largest
            )
        value32 = np.float32(value)
        if combine:
            old = out[i]
            out[i] = old + value32 * 0.0 if old >= value32 else value32 + old * 0.0
        else:
            out[i] = value32


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def _x_pass(row, r, kx, o0, o1, o2, count):  # type: ignore[no-untyped-def]
    """Smoothing, first and second derivative of a padded row (symmetry-folded taps).

    The derivatives are sums of differences (``hi - lo`` and ``hi + lo - 2 v``, the
    centre tap being minus the sum of the others), exactly zero on a constant row.
    """
    c0 = kx[0, r]
    for x in range(count):
        o0[x] = c0 * row[x + r]
        o1[x] = 0.0
        o2[x] = 0.0
    for i in range(1, r + 1):
        k0 = kx[0, r + i]
        k1 = kx[1, r + i]
        k2 = kx[2, r + i]
        for x in range(count):
            hi = row[x + r + i]
            lo = row[x + r - i]
            v = row[x + r]
            s = hi + lo
            o0[x] += k0 * s
            o2[x] += k2 * (s - (v + v))
            o1[x] += k1 * (hi - lo)


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
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
    x_first = ox - rx
    x_contiguous = x_first >= 0 and x_first + mx + 2 * rx <= nx  # no border in reach
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
    ev = np.empty((3, mx), dtype=np.float64)
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
                if x_contiguous:
                    row[:] = img[src, yy, x_first : x_first + mx + 2 * rx]
                else:
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
                for x in range(mx):
                    a00[x] = k0 * px[0, c, x]
                    a10[x] = 0.0
                    a20[x] = 0.0
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
                        a20[x] += k2 * (s0 - (px[0, c, x] + px[0, c, x]))
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
            for x in range(mx):
                h[0, x] = 0.0  # zz
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
                    h[0, x] += k2 * (
                        ring[0, hi, y, x]
                        + ring[0, lo, y, x]
                        - (ring[0, centre, y, x] + ring[0, centre, y, x])
                    )
                    h[1, x] += k0 * (ring[2, hi, y, x] + ring[2, lo, y, x])
                    h[2, x] += k0 * (ring[5, hi, y, x] + ring[5, lo, y, x])
                    h[3, x] += k1 * (ring[1, hi, y, x] - ring[1, lo, y, x])
                    h[4, x] += k1 * (ring[3, hi, y, x] - ring[3, lo, y, x])
                    h[5, x] += k0 * (ring[4, hi, y, x] + ring[4, lo, y, x])
            _emit_row(
                h,
                mx,
                ev,
                out,
                z,
                y,
                measure,
                bright,
                object_dimension,
                alpha,
                beta,
                gamma,
                scale_by_largest,
                combine,
            )


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _emit_row(  # type: ignore[no-untyped-def]
    h,
    mx,
    ev,
    out,
    z,
    y,
    measure,
    bright,
    object_dimension,
    alpha,
    beta,
    gamma,
    scale_by_largest,
    combine,
):
    """Write the measure of one row of Hessians ``h`` (6, mx) into ``out[:, z, y]``."""
    if measure == _MEASURE_COMPONENTS:
        for k in range(6):
            for x in range(mx):
                out[k, z, y, x] = h[k, x]
        return
    if measure == MEASURE_NORM:  # no eigenvalues needed
        for x in range(mx):
            a = np.float64(h[0, x])
            b = np.float64(h[1, x])
            c = np.float64(h[2, x])
            d = np.float64(h[3, x])
            e = np.float64(h[4, x])
            f = np.float64(h[5, x])
            norm = math.sqrt(a * a + b * b + c * c + 2.0 * (d * d + e * e + f * f))
            out[0, z, y, x] = max(out[0, z, y, x], norm) if combine else norm
        return
    _eigenvalues_row(h, mx, ev)
    if measure == MEASURE_EIGENVALUES:
        for k in range(3):
            for x in range(mx):
                out[k, z, y, x] = ev[k, x]
    else:
        _measure_row(
            ev,
            mx,
            out[0, z, y],
            measure,
            bright,
            object_dimension,
            alpha,
            beta,
            gamma,
            scale_by_largest,
            combine,
        )


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def _gather_correlate(src, index, weights, axis, out):  # type: ignore[no-untyped-def]
    """``out[.., k, ..] = sum_j weights[j] * src[.., index[k, j], ..]`` along ``axis``.

    ``index`` -1 reads zero (the "constant" border mode).
    """
    n0, n1, n2 = out.shape
    taps = weights.size
    if axis == 0:
        for k in range(n0):
            out[k] = 0.0
            for j in range(taps):
                i = index[k, j]
                if i >= 0:
                    w = weights[j]
                    for a in range(n1):
                        for b in range(n2):
                            out[k, a, b] += w * src[i, a, b]
    elif axis == 1:
        for a in range(n0):
            for k in range(n1):
                out[a, k] = 0.0
                for j in range(taps):
                    i = index[k, j]
                    if i >= 0:
                        w = weights[j]
                        for b in range(n2):
                            out[a, k, b] += w * src[a, i, b]
    else:
        for a in range(n0):
            for b in range(n1):
                for k in range(n2):
                    acc = np.float32(0.0)
                    for j in range(taps):
                        i = index[k, j]
                        if i >= 0:
                            acc += weights[j] * src[a, b, i]
                    out[a, b, k] = acc


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def _midpoints(src, weights, out):  # type: ignore[no-untyped-def]
    """``out[k] = sum_j weights[j] * src[k + j]`` along the first axis of 2-D arrays."""
    n, m = out.shape
    for k in range(n):
        w = weights[0]
        for b in range(m):
            out[k, b] = w * src[k, b]
        for j in range(1, weights.size):
            w = weights[j]
            for b in range(m):
                out[k, b] += w * src[k + j, b]


@numba.njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def _interpolated_measure(  # type: ignore[no-untyped-def]
    comp,
    zpos,
    zmid,
    ypos,
    ymid,
    xpos,
    xmid,
    weights,
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
    """The measure on the fine grid from Hessian components on a coarser one.

    ``comp`` (6, cz, cy, cx) holds the components. Output ``i`` along an axis is the
    coarse sample ``pos[i]`` when ``mid[i]`` is false, else the interpolation with
    ``weights`` halfway between samples ``pos[i]`` and ``pos[i] + 1``, i.e. from
    samples ``pos[i] - taps/2 + 1 ..``.
    """
    mz, my, mx = zpos.shape[0], ypos.shape[0], xpos.shape[0]
    cz, cy, cx = comp.shape[1], comp.shape[2], comp.shape[3]
    back = weights.size // 2 - 1
    plane = np.empty((6, cy, cx), dtype=np.float32)
    row = np.empty((6, cx), dtype=np.float32)
    # halfway values along x of one row of one component: slot k is between
    # samples k + back and k + back + 1
    half_x = np.empty((6, max(cx - weights.size + 1, 1)), dtype=np.float32)
    h = np.empty((6, mx), dtype=np.float32)
    ev = np.empty((3, mx), dtype=np.float64)
    plane_view = plane.reshape((6, cy * cx))
    for z in range(mz):
        k = zpos[z]
        if zmid[z]:
            for c in range(6):
                flat = comp[c].reshape((cz, cy * cx))
                _midpoints(flat[k - back :], weights, plane_view[c : c + 1])
        else:
            plane[:] = comp[:, k]
        for y in range(my):
            k = ypos[y]
            if ymid[y]:
                for c in range(6):
                    _midpoints(plane[c, k - back :], weights, row[c : c + 1])
            else:
                row[:] = plane[:, k]
            if cx >= weights.size:
                for c in range(6):
                    src = row[c]
                    dst = half_x[c]
                    w = weights[0]
                    for k in range(dst.size):
                        dst[k] = w * src[k]
                    for j in range(1, weights.size):
                        w = weights[j]
                        for k in range(dst.size):
                            dst[k] += w * src[k + j]
            for c in range(6):
                for x in range(mx):
                    k = xpos[x]
                    h[c, x] = half_x[c, k - back] if xmid[x] else row[c, k]
            _emit_row(
                h,
                mx,
                ev,
                out,
                z,
                y,
                measure,
                bright,
                object_dimension,
                alpha,
                beta,
                gamma,
                scale_by_largest,
                combine,
            )


@dataclass(frozen=True)
class AxisPlan:
    """How the Hessian of one scale is computed along one axis.

    ``step == 1``: sampled Gaussian derivative kernels of ``sigma`` on the voxel grid
    (``radius`` taps either side). ``step == 2``: the axis is smoothed with a Gaussian
    of ``presmooth_sigma`` voxels and every other sample kept (aligned on even indices
    of the whole volume, so that every chunk uses the same samples); the derivative
    kernels of ``sigma_coarse = sqrt(sigma² - presmooth_sigma²) / 2`` coarse samples
    (``radius`` coarse taps either side) act on that grid, whose Gaussians compose to
    the one of ``sigma``; the components come back to the voxel grid by 8-point
    interpolation halfway between coarse samples.
    """

    sigma: float
    step: int
    sigma_coarse: float
    radius: int
    presmooth_sigma: float = 0.0
    presmooth_radius: int = 0

    @property
    def reach(self) -> int:
        """Voxels either side of an output on which it depends: the halo it needs."""
        if self.step == 1:
            return self.radius
        return _MIDPOINT_WEIGHTS.size - 1 + 2 * self.radius + self.presmooth_radius


def axis_plan(
    sigma: float, truncate: float = 4.0, coarse_from: float | None = COARSE_FROM_SIGMA
) -> AxisPlan:
    """The :class:`AxisPlan` of a scale ``sigma`` (voxels), kernels cut at ``truncate``.

    Examples
    --------
    >>> axis_plan(2.0).reach, axis_plan(5.9).step, axis_plan(5.9, coarse_from=None).reach
    (8, 2, 24)
    """
    if coarse_from is None or sigma < coarse_from:
        return AxisPlan(sigma, 1, sigma, int(truncate * sigma + 0.5))
    coarse = math.sqrt(sigma**2 - _PRESMOOTH_SIGMA**2) / 2
    return AxisPlan(
        sigma,
        2,
        coarse,
        int(truncate * coarse + 0.5),
        _PRESMOOTH_SIGMA,
        int(truncate * _PRESMOOTH_SIGMA + 0.5),
    )


def hessian_reach(
    sigma: tuple[float, float, float],
    truncate: float = 4.0,
    coarse_from: float | None = COARSE_FROM_SIGMA,
) -> tuple[int, int, int]:
    """The halo per axis that a Hessian at scale ``sigma`` (voxels per axis) needs.

    Examples
    --------
    >>> hessian_reach((1.0, 2.0, 2.0))
    (4, 8, 8)
    """
    return tuple(axis_plan(s, truncate, coarse_from).reach for s in sigma)  # type: ignore[return-value]


def _presmoothing(
    plan: AxisPlan, positions: np.ndarray, n: int, mode: int
) -> tuple[np.ndarray, np.ndarray]:
    """Gather indices and weights of the samples at ``positions`` of a coarse axis."""
    r = plan.presmooth_radius
    if plan.step == 1:
        weights = np.ones(1, dtype=np.float32)
        offsets = np.zeros(1, dtype=np.int64)
    else:
        offsets = np.arange(-r, r + 1)
        g = np.exp(-0.5 * (offsets / plan.presmooth_sigma) ** 2)
        weights = (g / g.sum()).astype(np.float32)
    index = _index_map(
        int(positions[0]) - r, int(positions[-1] - positions[0]) + 2 * r + 1, n, mode
    )
    index = index[(positions - positions[0])[:, None] + offsets[None, :] + r]
    return index, weights


def _coarse_axis(
    plan: AxisPlan, origin: int, size: int, phase: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Grid positions of one axis of the coarse computation, and the interpolation back.

    Returns the positions (block coordinates) of the samples the coarse Hessian reads;
    for each of the ``size`` outputs from ``origin``, the coarse Hessian output at or
    before it and whether it lies halfway to the next; the number of coarse outputs.
    """
    if plan.step == 1:
        positions = np.arange(origin - plan.radius, origin + size + plan.radius)
        return positions, np.arange(size), np.zeros(size, dtype=np.bool_), size
    taps = _MIDPOINT_WEIGHTS.size
    low = origin - (taps - 1)
    first = low + (-(low + phase)) % 2  # samples sit on even indices of the volume
    count = (origin + size - 1 + taps - 1 - first) // 2 + 1
    positions = np.arange(first - 2 * plan.radius, first + 2 * (count + plan.radius), 2)
    where = origin + np.arange(size) - first
    return positions, where // 2, where % 2 == 1, count


def _coarse_scale(
    block: np.ndarray,
    origin: tuple[int, int, int],
    shape: tuple[int, int, int],
    plans: list[AxisPlan],
    phase: tuple[int, int, int],
    mode: int,
    args: tuple,
    out: np.ndarray,
) -> None:
    """One scale of :func:`hessian_measure_block` with some axes on a coarse grid."""
    axes = [
        _coarse_axis(p, o, m, f) for p, o, m, f in zip(plans, origin, shape, phase, strict=True)
    ]
    # smooth and subsample (z first: whole planes at a time; x last, on a quarter)
    samples = block
    for axis in (0, 1, 2):
        index, weights = _presmoothing(plans[axis], axes[axis][0], block.shape[axis], mode)
        target = list(samples.shape)
        target[axis] = index.shape[0]
        reduced = np.empty(target, dtype=np.float32)
        _gather_correlate(samples, index, weights, axis, reduced)
        samples = reduced
    # the six components on the coarse grid (kernels scaled to derivatives per voxel)
    kernels = []
    for p in plans:
        k = gaussian_kernels(p.sigma_coarse, p.radius)
        factor = p.sigma / (p.step * p.sigma_coarse)
        k[1] *= factor
        k[2] *= factor**2
        kernels.append(k)
    counts = tuple(a[3] for a in axes)
    components = np.zeros((6, *counts), dtype=np.float32)
    radius = np.asarray([p.radius for p in plans], dtype=np.int64)
    _block(
        samples,
        radius,
        np.asarray(counts, dtype=np.int64),
        radius,
        *kernels,
        mode,
        _MEASURE_COMPONENTS,
        *args[1:-1],
        False,
        components,
    )
    (_, zpos, zmid, _), (_, ypos, ymid, _), (_, xpos, xmid, _) = axes
    weights = _MIDPOINT_WEIGHTS.astype(np.float32)
    _interpolated_measure(components, zpos, zmid, ypos, ymid, xpos, xmid, weights, *args, out)


def hessian_measure_block(
    block: np.ndarray,
    origin: tuple[int, int, int],
    shape: tuple[int, int, int],
    sigmas: list[tuple[float, float, float]],
    *,
    measure: int,
    truncate: float = 4.0,
    mode: str = "reflect",
    phase: tuple[int, int, int] = (0, 0, 0),
    coarse_from: float | None = COARSE_FROM_SIGMA,
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
        Input samples (float32 is read directly; other dtypes are converted to float32
        first, exactly for integers up to 2**24).
    origin, shape : 3 ints
        The output region inside ``block``. Reads beyond the block are extended by
        ``mode``; to match a larger volume, give the block a halo of
        :func:`hessian_reach` voxels.
    sigmas : list of 3-tuples of float
        Gaussian scales in voxels per axis; the result is the maximum over scales
        (for ``measure=MEASURE_EIGENVALUES``, give a single scale).
    measure : int
        One of the ``MEASURE_*`` constants.
    truncate : float
        Kernel half-widths in sigmas.
    mode : {"reflect", "mirror", "nearest", "constant"}
        Border extension, as in ``scipy.ndimage``.
    phase : 3 ints
        Parity of the block's first voxel in the whole volume, per axis: where the
        coarse grid of large scales lies (see :class:`AxisPlan`).
    coarse_from : float or None
        Scales of at least this many voxels along an axis use the coarse grid along it;
        None: never (sampled kernels at every scale).
    bright, object_dimension, alpha, beta, gamma, scale_by_largest
        Parameters of the measure (see :mod:`xarray_microct.ops.hessian`).

    Returns
    -------
    numpy.ndarray of float32, shape ``(3, *shape)`` for eigenvalues, else ``shape``

    Examples
    --------
    >>> z, y, x = np.mgrid[:15, :15, :15]
    >>> line = np.exp(-((y - 7.0) ** 2 + (x - 7.0) ** 2) / 8).astype("float32")
    >>> t = hessian_measure_block(line, (0, 0, 0), line.shape, [(2., 2., 2.)],
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
    if block.dtype not in _COMPILED_DTYPES:
        # Other dtypes are converted (exactly for integers up to 2**24; no overflow).
        block = block.astype(np.float32)
    for index, sigma in enumerate(sigmas):
        plans = [axis_plan(s, truncate, coarse_from) for s in sigma]
        args = (
            measure,
            bool(bright),
            int(object_dimension),
            float(alpha),
            float(beta),
            float(gamma),
            bool(scale_by_largest),
            index > 0,
        )
        if any(p.step > 1 for p in plans):
            _coarse_scale(block, origin, shape, plans, phase, MODES[mode], args, out)
            continue
        radius = np.asarray([p.radius for p in plans], dtype=np.int64)
        kz, ky, kx = (gaussian_kernels(p.sigma, p.radius) for p in plans)
        _block(
            block,
            np.asarray(origin, dtype=np.int64),
            np.asarray(shape, dtype=np.int64),
            radius,
            kz,
            ky,
            kx,
            MODES[mode],
            *args,
            out,
        )
    return out if measure == MEASURE_EIGENVALUES else out[0]
