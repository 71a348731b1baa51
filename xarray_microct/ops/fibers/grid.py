"""The working grid of fiber detection: the scan binned in-plane to suit the fiber.

Fiber detection needs a few voxels across a fiber's radius, not twenty: the seed's SiC
fibers (radius 6.4 µm) span about ten pixels of radius at 0.65 µm. Large fibers are
detected on the scan binned ``b × b`` in y and x (:func:`working_factor` picks ``b`` so
that the binned radius is about six voxels), z kept, so that the table still has one
row per fiber per slice. ``b²`` times fewer voxels for tubeness, the mask, Otsu's
histogram and the per-slice centres; binning conserves intensity (a bin is the mean of
its pixels), so the area of a fiber's cross-section, and the radius measured from it,
stays right.

Bins are aligned on the volume's first pixel: bin ``j`` of an axis holds pixels
``b·j .. b·j + b - 1``, its centre at ``origin + (b·j + (b - 1)/2) · spacing``, the
same whatever the chunking. A partial last bin (an axis of ``n`` pixels, ``n`` not a
multiple of ``b``) is completed with copies of the last pixel (the ``"nearest"``
border rule of the filters), so every pixel is in a bin. Each binned chunk is one task
that reads the input pieces its bins cover (:func:`~xarray_microct.core.blocks.windows.
map_windows`): input chunks that are not multiples of ``b`` need no rechunk and no
shuffle.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr
from dask.base import tokenize

from xarray_microct.core.blocks.windows import map_windows
from xarray_microct.core.volume import SPATIAL_DIMS, grid_of, spatial_coords
from xarray_microct.kernels.pyramid import decimate

__all__ = [
    "GRID_KEY",
    "TARGET_RADIUS",
    "balanced_chunks",
    "bin_yx",
    "bin_yx_array",
    "binned_dtype",
    "block_partitions",
    "input_units",
    "working_factor",
    "working_grid",
]

TARGET_RADIUS = 6.0  # voxels of fiber radius the working grid aims at
GRID_KEY = "detection_grid"  # table attribute: the grid the fibers were detected on
# balanced_chunks: block counts tried a side, the largest float32 block with its halo, and how
# much cheaper the busiest run of larger blocks must be to be taken
MAX_SIZES = 8
MAX_BLOCK_BYTES = 256 * 2**20
SHARE_TOLERANCE = 0.03


def working_factor(radius_px: float) -> int:
    """In-plane binning factor for fibers of ``radius_px`` pixels: ``R / 6`` rounded, ≥ 1.

    Fibers of under 9 pixels of radius are detected on the scan itself; larger ones on
    bins that leave them 4.5 to 7.5 voxels of radius: enough for the seeds, the
    watershed and the area of a cross-section (on the phantoms of
    ``benchmarks/fiber_grid.py``, at R = 9.8, 12 and 20 pixels, the object F1 and the
    radius error are those of the unbinned scan or better), at ``b²`` times fewer voxels.

    Examples
    --------
    >>> [working_factor(r) for r in (3.0, 8.0, 9.8, 12.0, 20.0, 30.0)]
    [1, 1, 2, 2, 3, 5]
    """
    if not np.isfinite(radius_px) or radius_px <= 0:
        raise ValueError(f"the fiber radius must be a positive number of pixels, got {radius_px!r}")
    return max(1, math.floor(radius_px / TARGET_RADIUS + 0.5))


def binned_dtype(dtype: Any) -> np.dtype:
    """Dtype of the binned means: float64 for float64 and wide integers, else float32.

    The sum of a bin of 8/16-bit integers (up to ``16²`` of them) is exact in float32.

    Examples
    --------
    >>> binned_dtype("uint16"), binned_dtype("float64")
    (dtype('float32'), dtype('float64'))
    """
    dtype = np.dtype(dtype)
    wide = dtype == np.float64 or (dtype.kind in "iu" and dtype.itemsize >= 4)
    return np.dtype(np.float64 if wide else np.float32)


def _check_factor(factor: int) -> int:
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValueError(f"the binning factor must be a whole number >= 1, got {factor!r}")
    return int(factor)


def bin_yx(volume: np.ndarray, factor: int) -> np.ndarray:
    """The NumPy reference: mean over ``factor × factor`` bins of the last two axes.

    Bins start at pixel 0; a partial last bin is completed with copies of the last
    pixel. Leading axes (z) are kept.

    Examples
    --------
    >>> bin_yx(np.arange(15, dtype="uint16").reshape(1, 3, 5), 2)
    array([[[ 3. ,  5. ,  6.5],
            [10.5, 12.5, 14. ]]], dtype=float32)
    """
    factor = _check_factor(factor)
    volume = np.asarray(volume)
    ny, nx = volume.shape[-2:]
    my, mx = -(-ny // factor), -(-nx // factor)
    pad = [(0, 0)] * (volume.ndim - 2) + [(0, my * factor - ny), (0, mx * factor - nx)]
    padded = np.pad(volume, pad, mode="edge").astype(binned_dtype(volume.dtype))
    # the order of the sums (rows of a bin, then its columns) is the compiled kernel's
    rows = np.zeros((*volume.shape[:-2], my, padded.shape[-1]), padded.dtype)
    for t in range(factor):
        rows += padded[..., t::factor, :]
    sums = np.zeros((*volume.shape[:-2], my, mx), padded.dtype)
    for u in range(factor):
        sums += rows[..., u::factor]
    return sums / padded.dtype.type(factor * factor)


def _bin_block(window: np.ndarray, out_shape: tuple[int, ...], factor: int) -> np.ndarray:
    acc = binned_dtype(window.dtype)
    ones = np.ones(factor, dtype=acc)
    sums = decimate(window, (np.ones(1, dtype=acc), ones, ones), (1, factor, factor))
    np.divide(sums, factor * factor, out=sums)  # exact sums, divided once: correctly rounded
    return sums


def input_units(chunks: Sequence[int], factor: int) -> tuple[int, ...]:
    """The input's chunks along an axis, in bins: the bins between its chunk borders.

    A border inside a bin (chunks that are not multiples of ``factor``) moves to the
    bin's end.

    Examples
    --------
    >>> input_units((256, 256, 100), 2), input_units((5, 5), 2)
    ((128, 128, 50), (3, 2))
    """
    borders = -(-np.cumsum(chunks) // int(factor))
    return tuple(int(b) for b in np.diff(np.unique(np.concatenate([[0], borders]))))


def block_partitions(units: Sequence[int], min_chunk: int) -> list[tuple[int, ...]]:
    """The cuts of an axis into blocks that :func:`balanced_chunks` tries.

    Two kinds, both of blocks of about ``min_chunk`` to 1.5 × ``min_chunk`` bins:

    * blocks of one size with the remainder in the last: the multiples of the input's
      first chunk (``units[0]``, in bins) from ``min_chunk`` up (at most ``MAX_SIZES``),
      where their borders are the input's;
    * blocks of whole input chunks (``units``, in bins) as equal as they allow: for each
      number of blocks ``m`` from the axis over 1.5 × ``min_chunk`` to the axis over
      ``min_chunk``, both rounded up (at most ``MAX_SIZES`` numbers, both ends kept),
      the ``k``-th block ends at the chunk border nearest ``k / m`` of the axis; a cut
      with a block of several input chunks over 1.5 × ``min_chunk`` is left out (the
      memory of a task stays that of one size) unless no other cut is left. Unlike
      one size, whose last block takes the remainder, these deal evenly: 2560 pixels
      read in chunks of 256 (128 bins) give blocks of 256 and 384 bins, and 10 input
      chunks make 4 blocks of 2.5 on average only as (256, 384, 256, 384).

    Examples
    --------
    >>> block_partitions([128] * 10, 256)  # 2560 pixels in chunks of 256, 2 × 2 bins
    [(256, 256, 256, 256, 256), (384, 384, 384, 128), (256, 384, 256, 384)]
    >>> block_partitions([64] * 20, 256)
    [(256, 256, 256, 256, 256), (320, 320, 320, 320), (384, 384, 384, 128)]
    >>> block_partitions([100], 256), block_partitions([600, 600, 300], 256)
    ([(100,)], [(600, 600, 300)])
    """
    units = [int(u) for u in units]
    n, unit = sum(units), units[0]
    first = unit * -(-int(min_chunk) // unit)
    sizes = list(range(first, max(first, int(1.5 * min_chunk)) + 1, unit))
    borders = np.cumsum(units)[:-1]
    found = [
        tuple(int(c) for c in da.core.normalize_chunks(min(size, n), (n,))[0])
        for size in sizes[:: -(-len(sizes) // MAX_SIZES)]
    ]
    # whole input chunks: every border of a cut one of the input's
    found = [cut for cut in found if set(np.cumsum(cut)[:-1]) <= set(borders)]
    fewest = -(-n // int(1.5 * min_chunk))
    most = max(1, min(len(units), -(-n // int(min_chunk))))
    too_large = []  # cuts with a block of several chunks over 1.5 × min_chunk
    for m in np.unique(np.linspace(min(fewest, most), most, MAX_SIZES).round().astype(int)):
        at = [int(np.argmin(np.abs(borders - k * n / m))) for k in range(1, m)]
        cut = np.diff([0, *borders[at], n]).astype(int)
        chunks = np.diff([-1, *at, len(units) - 1])  # input chunks per block
        if (cut > 0).all():
            large = ((cut > 1.5 * min_chunk) & (chunks > 1)).any()
            (too_large if large else found).append(tuple(int(c) for c in cut))
    return list(dict.fromkeys(found)) or too_large[:1] or [tuple(units)]


def balanced_chunks(
    units: Sequence[Sequence[int]],
    z_chunks: Sequence[int],
    min_chunk: int,
    slots: int,
    halo: int,
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Binned chunks along y and x that share out best over ``slots`` threads.

    Each binned chunk is one unit of work (binning, tubeness, mask, a tile's centres),
    and each reads a ``halo`` of bins around it. On a cluster the blocks go to the
    workers in contiguous runs of equal count
    (:func:`~xarray_microct.core.blocks.placement.spread_over_workers`): 25 blocks
    on two workers give one 13 and the other 12, and the second waits for the first
    for one block's work (about 3 s of a 30 s detection on 128 × 2560² with two
    workers). The cuts tried are those of :func:`block_partitions` (blocks of about
    ``min_chunk`` to 1.5 × ``min_chunk`` bins: of one size, or of whole input chunks as
    equal as they allow; for input chunks that are multiples of the binning factor, no
    input chunk read by two blocks), and none whose largest float32 block with its halo
    would exceed ``MAX_BLOCK_BYTES`` (but the cut into most blocks). Each block costs its
    voxels with the halo around it, ``z_chunk × (y + 2 halo) × (x + 2 halo)``; of the
    cuts whose busiest run costs within ``SHARE_TOLERANCE`` of the least, the one into
    most blocks is kept (then the least work in all): larger blocks only where they
    share the work out better, or save more halo than that.

    Blocks of one size alone were tried first: ``microct run`` reads a store of 128²
    chunks in chunks of 256² pixels, 128 bins, so that the sizes allowed on 2560²
    pixels were 256 and 384 bins; 5 × 5 blocks of 256 dealt 13 and 12, and 5 × 4 of
    256 × (384, 384, 384, 128) gave one worker 2 s more of the per-slice centres than
    the other (``benchmarks/run_phases.py``). Cut as (256, 384, 256, 384), 4 × 4
    blocks deal evenly.

    Parameters
    ----------
    units : sequence of sequence of int
        The input's chunks along y and along x, in bins (:func:`input_units`).
    z_chunks : sequence of int
        The chunks along z.
    min_chunk : int
        The smallest binned chunk wanted along y and x (on average).
    slots : int
        Threads that compute (all workers').
    halo : int
        Bins read around each block by its neighbourhood stages.

    Returns
    -------
    tuple of tuple of int
        The binned chunks along y and along x.

    Examples
    --------
    >>> y, x = balanced_chunks(([128] * 10, [128] * 10), (128,), 256, slots=2, halo=30)
    >>> y  # two runs of 2 × 4 blocks of the same cost, whatever the cut along x
    (256, 384, 256, 384)
    >>> balanced_chunks(([64] * 20, [64] * 20), (128,), 256, slots=2, halo=30)
    ((320, 320, 320, 320), (320, 320, 320, 320))
    """
    z = np.asarray(z_chunks, dtype=np.float64)
    along = [block_partitions(axis, min_chunk) for axis in units]
    smallest = (max(along[0], key=len), max(along[1], key=len))  # the most blocks
    pairs = [
        (y, x)
        for y in along[0]
        for x in along[1]
        if (y, x) == smallest
        or z.max() * (max(y) + 2 * halo) * (max(x) + 2 * halo) * 4 <= MAX_BLOCK_BYTES
    ]

    def runs_of(pair: tuple[tuple[int, ...], tuple[int, ...]]) -> tuple[float, float]:
        along_y, along_x = (np.asarray(cut, dtype=np.float64) + 2 * halo for cut in pair)
        costs = np.multiply.outer(np.multiply.outer(z, along_y), along_x).ravel()
        # contiguous runs of equal count, as the blocks are hinted to the workers
        runs = np.array_split(costs, max(1, min(int(slots), costs.size)))
        return max(float(run.sum()) for run in runs), float(costs.sum())

    costs = {pair: runs_of(pair) for pair in pairs}
    least = min(busiest for busiest, _ in costs.values())
    near = [pair for pair in pairs if costs[pair][0] <= (1 + SHARE_TOLERANCE) * least]
    return min(near, key=lambda pair: (-len(pair[0]) * len(pair[1]), costs[pair][1]))


def bin_yx_array(
    data: da.Array,
    factor: int,
    min_chunk: int | Sequence[int] = 1,
    yx_chunks: Sequence[Sequence[int]] | None = None,
) -> da.Array:
    """Bin a ``(z, y, x)`` Dask array ``factor × factor`` in y and x, lazily (see :func:`bin_yx`).

    One task per binned chunk, reading the input pieces its bins cover (no rechunk).
    Binned chunks along y and x are the input's first chunk size divided by ``factor``
    (rounded up), times the smallest whole number that makes them at least
    ``min_chunk`` bins (one number, or one along y and one along x; so that, for chunks
    that are multiples of ``factor``, each binned chunk is made of whole input chunks),
    or ``yx_chunks`` (the binned chunks along y and along x, e.g. from
    :func:`balanced_chunks`; ``min_chunk`` is then not used); z chunks are the input's.
    Equal to
    :func:`bin_yx` of the whole array for any input chunking.

    Examples
    --------
    >>> x = da.from_array(np.arange(2 * 6 * 7, dtype="uint16").reshape(2, 6, 7), chunks=(1, 3, 5))
    >>> b = bin_yx_array(x, 2)
    >>> b.shape, b.chunks
    ((2, 3, 4), ((1, 1), (2, 1), (3, 1)))
    >>> bool((b.compute() == bin_yx(x.compute(), 2)).all())
    True
    >>> bin_yx_array(x, 2, min_chunk=3).chunks
    ((1, 1), (3,), (3, 1))
    >>> bin_yx_array(x, 2, yx_chunks=((1, 2), (4,))).chunks
    ((1, 1), (1, 2), (4,))
    """
    factor = _check_factor(factor)
    if data.ndim != 3:
        raise ValueError(f"bin_yx_array bins a (z, y, x) array, got {data.ndim} dimensions")
    dtype = binned_dtype(data.dtype)
    if factor == 1:
        return data.astype(dtype)
    nz, ny, nx = data.shape
    out_shape = (nz, -(-ny // factor), -(-nx // factor))
    sizes = [-(-chunks[0] // factor) for chunks in data.chunks[1:]]
    least = (min_chunk, min_chunk) if np.ndim(min_chunk) == 0 else tuple(min_chunk)
    out_chunks = (
        data.chunks[0],
        *(
            da.core.normalize_chunks(size * -(-int(at_least) // size), (n,))[0]
            for size, n, at_least in zip(sizes, out_shape[1:], least, strict=True)
        ),
    )
    if yx_chunks is not None:
        out_chunks = (data.chunks[0], *(tuple(int(c) for c in axis) for axis in yx_chunks))
        if tuple(sum(axis) for axis in out_chunks[1:]) != out_shape[1:] or any(
            c < 1 for axis in out_chunks[1:] for c in axis
        ):
            raise ValueError(
                f"yx_chunks {yx_chunks} are not positive chunks of the bins {out_shape[1:]}"
            )
    name = "bin-yx-" + tokenize(data.name, factor, out_chunks)
    return map_windows(
        data,
        partial(_bin_block, factor=factor),
        out_chunks,
        (1, factor, factor),
        ((0, 0), (0, 0), (0, 0)),
        dtype,
        name,
    )


def working_grid(
    volume: xr.DataArray,
    factor: int,
    min_chunk: int | Sequence[int] = 1,
    yx_chunks: Sequence[Sequence[int]] | None = None,
) -> xr.DataArray:
    """The volume binned ``factor × factor`` in y and x, with the bins' centres as coordinates.

    Spacing ``factor ×`` the pixel's in y and x; the first bin's centre at ``origin +
    (factor - 1) / 2 × spacing``; z, attrs and name kept; chunks as
    :func:`bin_yx_array` makes them. ``factor=1`` returns the volume as it is.

    Examples
    --------
    >>> import xarray_microct as mct
    >>> vol = mct.from_array(np.zeros((2, 6, 5), "uint16"), spacing=0.5, units="um")
    >>> binned = working_grid(vol, 2)
    >>> binned.shape, binned.x.values.tolist(), binned.dtype
    ((2, 3, 3), [0.25, 1.25, 2.25], dtype('float32'))
    """
    factor = _check_factor(factor)
    if factor == 1:
        return volume
    grid = grid_of(volume)
    data = bin_yx_array(volume.data, factor, min_chunk, yx_chunks)
    scale = (1, factor, factor)
    spacing = tuple(s * f for s, f in zip(grid.spacing, scale, strict=True))
    origin = tuple(
        o + (f - 1) / 2 * s for o, s, f in zip(grid.origin, grid.spacing, scale, strict=True)
    )
    new = spatial_coords(data.shape, spacing, origin, grid.units)
    coords: dict[str, Any] = {"z": volume.coords["z"].variable, "y": new["y"], "x": new["x"]}
    for name, coord in volume.coords.items():
        if name not in coords and not set(coord.dims) & set(SPATIAL_DIMS):
            coords[str(name)] = coord.variable
    return xr.DataArray(
        data, dims=SPATIAL_DIMS, coords=coords, name=volume.name, attrs=dict(volume.attrs)
    )
