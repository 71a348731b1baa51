"""Stage 1 of fiber detection: fiber centres and radii on each slice, tile by tile.

On one slice (:func:`slice_centres`), maxima of a centre map inside the fiber mask seed a
2-D watershed that splits touching fibers; each region gives one centre (its centroid
weighted by the squared centre map, which peaks on the fiber's axis: the noise on the
mask's edge hardly moves it) and one radius (of the disk with its area). Centres from a
bounded part of the region (within one radius of the seed, iterated, above a fraction of
the seed's score, other weights) change the 2-pixel F1 by −0.002 to 0.000: see the lab
book of :func:`~xarray_microct.ops.fibers.detect._tubeness_sigmas`.

On a volume (:func:`tile_tasks`), the slice is never gathered whole: each task reads one
z-chunk of a tile of the slice (a group of whole chunks along y and x, at least
``MIN_TILE`` pixels a side) plus a halo of ``halo`` pixels, finds the regions there and
keeps those whose centre falls inside the tile (the owner rule). A region is decided
by its neighbourhood only — seeds within ``seed_distance``, flooding bounded by the
neighbouring fibers — so with a halo wider than two fiber diameters plus the seed
distance, each kept region is the one the whole slice gives, to the bit: its centre is
summed over the same pixels, in the same order, in the slice's own coordinates. Memory
per task is a z-chunk of one tile, whatever the slice's area.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Sequence
from typing import Any

import dask
import dask.array as da
import numpy as np
import scipy.ndimage as ndi
from dask.base import tokenize
from dask.delayed import Delayed
from dask.highlevelgraph import HighLevelGraph

from xarray_microct.core.blocks.placement import BorderFirst, block_hint, hinted_layer
from xarray_microct.kernels.fiber_slices import flood_regions, plane_peaks

MIN_TILE = 384  # pixels a side of the owned part of a tile (before its halo)
ROW_COLUMNS = ("z", "y", "x", "radius")  # rows of the per-slice stage (pixels)


def _ellipse(radius_px: Sequence[float]) -> np.ndarray:
    ry, rx = (max(float(r), 1.0) for r in radius_px)
    hy, hx = int(np.floor(ry)), int(np.floor(rx))
    yy, xx = np.ogrid[-hy : hy + 1, -hx : hx + 1]
    return (yy / ry) ** 2 + (xx / rx) ** 2 <= 1.0


def _offsets(footprint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The footprint's offsets from its centre (the centre left out), nearest first."""
    hy, hx = footprint.shape[0] // 2, footprint.shape[1] // 2
    oy, ox = np.nonzero(footprint)
    oy, ox = oy - hy, ox - hx
    order = np.argsort(oy**2 + ox**2, kind="stable")
    oy, ox = oy[order], ox[order]
    away = (oy != 0) | (ox != 0)
    return oy[away].astype(np.int64), ox[away].astype(np.int64)


def local_maxima(image: np.ndarray, footprint: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Pixels of ``where`` equal to the maximum of ``image`` over ``footprint`` around them.

    The same as ``image == scipy.ndimage.maximum_filter(image, footprint=footprint,
    mode="nearest")`` on ``where`` (compiled: each pixel is compared with the footprint's
    pixels nearest first, so most are rejected by their first neighbours).

    Examples
    --------
    >>> image = np.array([[0, 1, 0, 0, 3], [0, 2, 0, 0, 0], [0, 0, 0, 0, 0.0]])
    >>> local_maxima(image, np.ones((3, 3), bool), image > 0).astype(int)
    array([[0, 0, 0, 0, 1],
           [0, 1, 0, 0, 0],
           [0, 0, 0, 0, 0]])
    """
    image = np.ascontiguousarray(image, dtype=np.float32)
    labels = np.zeros(image.shape, np.int32)
    plane_peaks(image, np.ascontiguousarray(where, dtype=bool), *_offsets(footprint), labels)
    return labels > 0


def slice_centres(
    mask: np.ndarray,
    spacing: Sequence[float],
    seed_distance: Sequence[float],
    min_radius: float,
    smooth: float = 1.0,
    score: np.ndarray | None = None,
    origin: tuple[int, int] = (0, 0),
    slice_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Fiber centres and radii on one 2-D slice of a fiber mask.

    Parameters
    ----------
    mask : 2-D array of bool
        Fiber cross-sections (touching fibers may merge).
    spacing : (float, float)
        Pixel size along y and x (physical units).
    seed_distance : (float, float)
        Radius of the local-maximum neighbourhood in pixels along y and x: two seeds are
        at least this far apart.
    min_radius : float
        Smallest fiber radius kept (physical units): seeds whose distance to the
        background is smaller, and regions whose equivalent radius is smaller, are dropped.
    smooth : float
        Sigma in pixels of the Gaussian applied to the distance map (breaks the plateaus of
        a discrete distance map); 0 for none.
    score : 2-D array of float, optional
        A centre map (e.g. a tubeness slice) whose positive local maxima inside the mask
        seed the fibers, instead of the distance map (which merges fibers touching along
        a wide contact, where tubeness keeps them apart).
    origin : (int, int)
        Where ``mask`` starts in the slice, when it is a piece of a slice (a tile): the
        centres are then in the slice's pixel coordinates.
    slice_shape : (int, int), optional
        The whole slice's shape, when ``mask`` is a piece of it (default: the piece
        ends where the slice does).

    Returns
    -------
    array of shape (n, 3)
        Rows ``(y, x, radius)``: the centre of each fiber's region in pixels (its
        centroid weighted by the squared score; the plain centroid for a region within
        two seed distances of the slice's side, where the score is distorted by the
        side) and the radius (physical) of the disk with the region's area.

    Examples
    --------
    >>> yy, xx = np.mgrid[:40, :60]
    >>> disks = ((yy - 20) ** 2 + (xx - 15) ** 2 < 81) | ((yy - 20) ** 2 + (xx - 33) ** 2 < 81)
    >>> np.round(slice_centres(disks, (1.0, 1.0), (6, 6), min_radius=3.0), 1)
    array([[20. , 15. ,  8.9],
           [20. , 33. ,  8.9]])
    """
    mask = np.ascontiguousarray(mask, dtype=bool)
    if not mask.any():
        return np.zeros((0, 3))
    dy, dx = (float(s) for s in spacing)
    if score is None:
        distance = ndi.distance_transform_edt(mask, sampling=(dy, dx)).astype(np.float32)
        score = ndi.gaussian_filter(distance, smooth) if smooth > 0 else distance
        floor = distance >= min_radius * 0.75
    else:
        score = np.asarray(score, dtype=np.float32)
        if score.shape != mask.shape:
            raise ValueError(f"score {score.shape} and mask {mask.shape} differ in shape")
        floor = score > 0
    score = np.ascontiguousarray(score, dtype=np.float32)
    labels = np.zeros(mask.shape, np.int32)
    n = plane_peaks(score, mask & floor, *_offsets(_ellipse(seed_distance)), labels)
    if n == 0:
        return np.zeros((0, 3))
    # sums in raster order in the slice's coordinates: a region gives the same centre
    # in any piece that holds all of it
    sums, box = flood_regions(score, mask, labels, n, *origin)
    area, weight = sums[:, 0], sums[:, 3]
    oy, ox = origin
    ny, nx = (oy + mask.shape[0], ox + mask.shape[1]) if slice_shape is None else slice_shape
    # the centre map (a filter's output) is bent near the slice's side, towards it
    ry, rx = (2 * float(r) for r in seed_distance)
    near_side = (
        (box[:, 0] < ry) | (box[:, 1] > ny - 1 - ry) | (box[:, 2] < rx) | (box[:, 3] > nx - 1 - rx)
    )
    weighted = (weight > 0) & ~near_side
    cy = np.where(weighted, sums[:, 4], sums[:, 1]) / np.where(weighted, weight, area)
    cx = np.where(weighted, sums[:, 5], sums[:, 2]) / np.where(weighted, weight, area)
    radius = np.sqrt(area * dy * dx / np.pi)
    keep = radius >= min_radius
    return np.column_stack([cy[keep], cx[keep], radius[keep]])


def tile_centres(
    mask: np.ndarray,
    score: np.ndarray | None,
    z_start: int,
    origin: tuple[int, int],
    owned: tuple[int, int, int, int],
    spacing: tuple[float, float],
    seed_distance: tuple[float, float],
    min_radius: float,
    slice_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Regions of a z-chunk of one tile (with its halo) whose centre the tile owns.

    ``origin`` is the slice pixel of ``mask[:, 0, 0]``; ``owned`` = ``(y0, y1, x0, x1)``
    the half-open pixel box the tile owns; ``slice_shape`` that of the whole slice
    (default: the tile ends where the slice does). Returns rows ``ROW_COLUMNS``
    (pixels; radius physical).

    Examples
    --------
    >>> yy, xx = np.mgrid[:16, :24]
    >>> plane = ((yy - 8) ** 2 + (xx - 5) ** 2 < 12) | ((yy - 8) ** 2 + (xx - 17) ** 2 < 12)
    >>> rows = tile_centres(plane[None], None, 3, (0, 0), (0, 16, 0, 12), (1, 1), (3, 3), 1.0)
    >>> rows[:, :3]
    array([[3., 8., 5.]])
    """
    y0, y1, x0, x1 = owned
    rows = []
    for k, plane in enumerate(mask):
        found = slice_centres(
            plane,
            spacing,
            seed_distance,
            min_radius,
            score=None if score is None else score[k],
            origin=origin,
            slice_shape=slice_shape,
        )
        mine = (found[:, 0] >= y0) & (found[:, 0] < y1) & (found[:, 1] >= x0) & (found[:, 1] < x1)
        found = found[mine]
        rows.append(np.column_stack([np.full(len(found), z_start + k, float), found]))
    return np.concatenate(rows) if rows else np.zeros((0, len(ROW_COLUMNS)))


def _copy_of(block: np.ndarray, region: tuple[slice, ...]) -> np.ndarray:
    """A copy of part of a chunk (a tile's halo), so the chunk itself can be released."""
    return block[region].copy()


def _tile_edges(chunks: Sequence[int], size: int) -> list[int]:
    """Tile borders along one axis: chunk borders, merged until tiles reach ``size``."""
    edges, start = [0], 0
    for step in chunks:
        start += step
        if start - edges[-1] >= size:
            edges.append(start)
    if edges[-1] != start:
        if len(edges) > 1 and start - edges[-1] < size // 2:
            edges[-1] = start  # fold a short last piece into the previous tile
        else:
            edges.append(start)
    return edges


def tile_tasks(
    mask: da.Array,
    score: da.Array | None,
    spacing: Sequence[float],
    seed_distance: Sequence[float],
    min_radius: float,
    halo: int,
    tile: int = MIN_TILE,
) -> list[tuple[int, int, Delayed]]:
    """Lazy per-slice centres of a 3-D Dask fiber mask, one task per z-chunk and tile.

    Returns ``(z_start, z_stop, rows)`` per task, ``rows`` a Delayed array of
    ``ROW_COLUMNS`` (see :func:`tile_centres`). ``spacing`` is ``(z, y, x)``; ``halo``
    the pixels read around each tile (more than two fiber diameters plus the seed
    distance: then the rows do not depend on the tiling).

    On a cluster, when ``mask``'s chunks carry the workers' hint of
    :func:`~xarray_microct.core.blocks.placement.spread_over_workers` (through
    :func:`~xarray_microct.core.blocks.placement.follow_blocks`), each tile is hinted to
    its middle chunk's worker, and the pieces of its halo in chunks hinted to another
    worker are cut there, each in a task of its own, so that only the halo is sent; tiles
    and pieces take their chunk's scheduling priority
    (:class:`~xarray_microct.core.blocks.placement.BorderFirst`).

    Examples
    --------
    >>> yy, xx = np.mgrid[:32, :32]
    >>> plane = (yy - 16) ** 2 + (xx - 10) ** 2 < 36
    >>> mask = da.from_array(np.stack([plane] * 4), chunks=(2, 16, 16))
    >>> tasks = tile_tasks(mask, None, (1, 1, 1), (4, 4), 2.0, halo=12, tile=16)
    >>> len(tasks), np.concatenate(dask.compute(*[t[2] for t in tasks]))[:, :3]
    (8, array([[ 0., 16., 10.],
           [ 1., 16., 10.],
           [ 2., 16., 10.],
           [ 3., 16., 10.]]))
    """
    if score is not None and score.shape != mask.shape:
        raise ValueError(f"score {score.shape} and mask {mask.shape} differ in shape")
    if score is not None and score.chunks != mask.chunks:
        score = score.rechunk(mask.chunks)
    _, ny, nx = mask.shape
    y_edges = _tile_edges(mask.chunks[1], tile)
    x_edges = _tile_edges(mask.chunks[2], tile)
    z_edges = np.cumsum((0, *mask.chunks[0])).tolist()
    y_bounds = np.cumsum((0, *mask.chunks[1]))
    x_bounds = np.cumsum((0, *mask.chunks[2]))
    token = tokenize(mask, score, spacing, seed_distance, min_radius, halo, tile)
    name = f"tile_centres-{token}"
    sources = [mask] if score is None else [mask, score]
    graph: dict[Any, Any] = {}
    params = (
        tuple(float(s) for s in spacing[1:]),
        tuple(float(s) for s in seed_distance),
        float(min_radius),
    )
    tasks = []
    hint = block_hint(mask)
    first = None if hint is None else BorderFirst(hint)
    workers: dict[Any, list[str]] = {}
    priorities: dict[Any, int] = {}
    n_tiles = (len(y_edges) - 1) * (len(x_edges) - 1)
    for iz, (z0, z1) in enumerate(itertools.pairwise(z_edges)):
        for it, ((y0, y1), (x0, x1)) in enumerate(
            itertools.product(itertools.pairwise(y_edges), itertools.pairwise(x_edges))
        ):
            ya, yb = max(y0 - halo, 0), min(y1 + halo, ny)
            xa, xb = max(x0 - halo, 0), min(x1 + halo, nx)
            key = (name, iz * n_tiles + it)
            if hint is not None:  # on a cluster: where the tile's middle chunk is hinted
                own_y = np.flatnonzero((y_bounds[:-1] >= y0) & (y_bounds[:-1] < y1))
                own_x = np.flatnonzero((x_bounds[:-1] >= x0) & (x_bounds[:-1] < x1))
                middle = (mask.name, iz, own_y[(len(own_y) - 1) // 2], own_x[(len(own_x) - 1) // 2])
                workers[key] = hint(middle)
                priorities[key] = first(middle)
            windows = []
            for which, source in enumerate(sources):
                rows_of_pieces = []
                for j in range(len(y_bounds) - 1):
                    if y_bounds[j + 1] <= ya or y_bounds[j] >= yb:
                        continue
                    pieces = []
                    for i in range(len(x_bounds) - 1):
                        if x_bounds[i + 1] <= xa or x_bounds[i] >= xb:
                            continue
                        cut = (
                            slice(None),
                            slice(max(ya - y_bounds[j], 0), min(yb, y_bounds[j + 1]) - y_bounds[j]),
                            slice(max(xa - x_bounds[i], 0), min(xb, x_bounds[i + 1]) - x_bounds[i]),
                        )
                        chunk = (source.name, iz, j, i)
                        if hint is not None and hint(chunk) != workers[key]:
                            # a halo hinted to another worker: cut there, in a task of
                            # its own, so that only the halo is sent, not the chunk;
                            # named by what it holds (one name, one piece, whatever
                            # the workers: plans on one scheduler never mix pieces)
                            piece = (f"tile_halo-{token}", which, iz, j, i)
                            piece += (cut[1].start, cut[1].stop, cut[2].start, cut[2].stop)
                            graph[piece] = (_copy_of, chunk, cut)
                            workers[piece] = hint(chunk)
                            priorities[piece] = first(chunk)
                            pieces.append(piece)
                        else:
                            # cut inside the tile's task: a task per piece cost a
                            # worker process about 3 ms each (500 on 32 × 2560²)
                            pieces.append((operator.getitem, chunk, cut))
                    rows_of_pieces.append(pieces)
                windows.append((np.block, rows_of_pieces))
            graph[key] = (
                tile_centres,
                windows[0],
                None if score is None else windows[1],
                int(z0),
                (ya, xa),
                (y0, y1, x0, x1),
                *params,
                (ny, nx),
            )
            tasks.append((int(z0), int(z1), Delayed(key, None)))
    layer = hinted_layer(graph, workers, priorities) if workers else graph
    layers = HighLevelGraph.from_collections(name, layer, dependencies=sources)
    return [(z0, z1, Delayed(rows.key, layers, layer=name)) for z0, z1, rows in tasks]


def mask_centres(
    mask: da.Array,
    spacing: Sequence[float],
    seed_distance: Sequence[float],
    min_radius: float,
    score: da.Array | None = None,
    halo: int | None = None,
) -> np.ndarray:
    """Per-slice centres of a 3-D Dask fiber mask: rows ``(z_index, y_px, x_px, radius)``.

    Computes :func:`tile_tasks` (halo default: 6 × ``seed_distance``, i.e. 4.5 fiber
    radii) and returns the rows sorted by slice, y and x. ``spacing`` is ``(z, y, x)``;
    see :func:`slice_centres` for the other parameters.

    Examples
    --------
    >>> yy, xx = np.mgrid[:32, :32]
    >>> plane = (yy - 16) ** 2 + (xx - 10) ** 2 < 36
    >>> mask = da.from_array(np.stack([plane] * 4), chunks=(2, 16, 16))
    >>> mask_centres(mask, (1, 1, 1), (4, 4), 2.0)[:, :3]
    array([[ 0., 16., 10.],
           [ 1., 16., 10.],
           [ 2., 16., 10.],
           [ 3., 16., 10.]])
    """
    if halo is None:
        halo = int(np.ceil(6 * max(seed_distance)))
    tasks = tile_tasks(mask, score, spacing, seed_distance, min_radius, halo)
    found = dask.compute(*[rows for _, _, rows in tasks])
    rows = np.concatenate(found) if found else np.zeros((0, len(ROW_COLUMNS)))
    return rows[np.lexsort((rows[:, 2], rows[:, 1], rows[:, 0]))]
