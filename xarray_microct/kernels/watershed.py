"""Compiled watershed kernels: the flooding of one block, and bead centres of a distance map.

:func:`flood` solves the flooding equations of :mod:`xarray_microct.ops.watershed` on
one block given its fixed voxels (a one-voxel rim from the neighbouring blocks, and the
markers): Dijkstra's algorithm on keys ``(level, steps)`` packed in one ``uint64``.
Most voxels of a relief that falls away from its markers are reached from a lower
level, with the key ``(level, 0)`` known in advance: they leave a list sorted once by
level (a radix sort), and only the voxels of plateaus and pits go through a 4-ary heap
held in one ``(n, 2)`` array of (key, voxel) rows (half the depth of a binary heap,
each node's children side by side in memory): twice as fast as one heap for every
voxel on bead packs. Labels do not depend on the order in which equal keys leave: a
voxel takes the label of its smallest-key neighbour when it leaves, and that
neighbour's key is final by then. :func:`update` brings a flooded block up to date
when its rim changed.

:func:`ball_peaks` finds the centres of the largest inscribed balls of a distance map:
voxels that no voxel of their own inscribed ball (scaled by ``reach``) outranks; on the
volume's outer faces, the tops of the caps of balls cut there.

They run single-threaded without the GIL (Dask owns the parallelism) and are compiled
once per machine (``cache=True``).
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

UNREACHED = np.uint64(2**64 - 1)
_LEVEL = np.uint64(2**32 - 1)
_INSIDE = np.uint64(2**32)
_DONE = np.uint64(2**33)


PREFETCH_AHEAD = 8  # rows of the sorted list whose voxels are fetched into the cache early


@intrinsic
def _prefetch(typingctx, array, index):  # pragma: no cover
    """Ask the processor to load ``array[index]`` (1-D, C-contiguous) into its caches.

    LLVM's ``llvm.prefetch`` (read, high locality, data cache): a hint, never a fault,
    whatever the index. The flooding visits voxels in level order, scattered across
    the block: it knows which ones come next, and fetching them early overlaps the
    waits for memory (measured on a 512³ bead pack, 2 threads: the flooding in 64³
    blocks 14.2-15.5 -> 12.6-13.2 CPU s, in 128³ blocks 19.8-20.1 -> 13.6-14.0).
    """
    signature = types.void(array, index)

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        function = builder.module.declare_intrinsic(
            "llvm.prefetch",
            [byte_pointer],
            ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]),
        )
        pointer = builder.bitcast(builder.gep(data, [args[1]]), byte_pointer)
        builder.call(function, [pointer, i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return signature, codegen


@numba.njit(cache=True, nogil=True)
def ordered_altitude(
    altitude: np.ndarray, mask: np.ndarray, negate: bool, out: np.ndarray
) -> None:  # pragma: no cover
    """float32 altitudes (3-D) as uint32 that sort like the floats, into the core of ``out``.

    ``out`` has a one-voxel rim more than ``altitude`` on every side (left as it is);
    voxels outside ``mask`` get 0 (never read: a constant compresses well); ``negate``
    orders ``-altitude`` instead (to flood a distance map from its peaks).
    """
    flip = np.uint32(0x80000000) if negate else np.uint32(0)
    sign = np.uint32(0x80000000)
    nz, ny, nx = altitude.shape
    for z in range(nz):
        for y in range(ny):
            bits = altitude[z, y].view(np.uint32)  # a float's sign flips with its top bit
            for x in range(nx):
                if mask[z, y, x]:
                    b = bits[x] ^ flip
                    out[z + 1, y + 1, x + 1] = ~b if b & sign else b | sign
                else:
                    out[z + 1, y + 1, x + 1] = 0


@numba.njit(cache=True, nogil=True)
def _ext(key: np.uint64, level: np.uint32) -> np.uint64:  # pragma: no cover
    """The key that water with ``key`` has on reaching a voxel of altitude ``level``."""
    rise = np.uint64(level) << np.uint64(32)
    if rise > key:
        return rise
    return key + np.uint64(1)


@numba.njit(cache=True, nogil=True)
def _push(heap, size, k, p):  # pragma: no cover
    """Push ``(k, p)`` on a 4-ary heap of ``size`` entries (rows ``(key, voxel)``), doubling
    it when full; returns the heap (a new array after a doubling)."""
    if size == heap.shape[0]:
        grown = np.empty((2 * size, 2), np.uint64)
        grown[:size] = heap[:size]
        heap = grown
    i = size
    while i > 0:
        parent = (i - 1) >> 2
        if heap[parent, 0] <= k:
            break
        heap[i, 0] = heap[parent, 0]
        heap[i, 1] = heap[parent, 1]
        i = parent
    heap[i, 0] = k
    heap[i, 1] = p
    return heap


@numba.njit(cache=True, nogil=True)
def _pop_fix(heap, size):  # pragma: no cover
    """Remove the top of a 4-ary heap of ``size + 1`` entries (its last entry moves down).

    Four children per node halve the depth of a binary heap, and a node's children
    share a cache line or two: the pops of a large flooding front touch less memory.
    """
    k = heap[size, 0]
    p = heap[size, 1]
    i = 0
    while True:
        first = 4 * i + 1
        if first >= size:
            break
        child = first
        ck = heap[first, 0]
        for c in range(first + 1, min(first + 4, size)):
            if heap[c, 0] < ck:
                ck = heap[c, 0]
                child = c
        if ck >= k:
            break
        heap[i, 0] = ck
        heap[i, 1] = heap[child, 1]
        i = child
    heap[i, 0] = k
    heap[i, 1] = p


_RADIX_BITS = 11  # digits of the radix sort of the levels: 3 passes over 32 bits
_LOW = np.uint64(2**32 - 1)
_REACHED = np.uint64(2**34)


@numba.njit(cache=True, nogil=True)
def _by_level(level, inside, fixed):  # pragma: no cover
    """The free voxels of a block that may be labelled, as ``level << 32 | voxel`` rows
    sorted by level (ties in voxel order): a least-significant-digit radix sort, three
    passes of 11 bits, a pass skipped when every row has the same digit."""
    n = level.shape[0]
    m = 0
    for p in range(n):
        if inside[p] and not fixed[p]:
            m += 1
    rows = np.empty(m, np.uint64)
    buckets = 1 << _RADIX_BITS
    counts = np.zeros((3, buckets), np.int64)
    j = 0
    for p in range(n):
        if inside[p] and not fixed[p]:
            v = level[p]
            rows[j] = (np.uint64(v) << np.uint64(32)) | np.uint64(p)
            j += 1
            for d in range(3):
                counts[d, (v >> np.uint32(_RADIX_BITS * d)) & np.uint32(buckets - 1)] += 1
    other = np.empty(m, np.uint64)
    for d in range(3):
        if m == 0 or counts[d].max() == m:
            continue
        start = np.empty(buckets, np.int64)
        total = 0
        for b in range(buckets):
            start[b] = total
            total += counts[d, b]
        shift = np.uint64(32 + _RADIX_BITS * d)
        for r in rows:
            b = (r >> shift) & np.uint64(buckets - 1)
            other[start[b]] = r
            start[b] += 1
        rows, other = other, rows
    return rows


@numba.njit(cache=True, nogil=True)
def flood(  # pragma: no cover
    level: np.ndarray,
    inside: np.ndarray,
    fixed: np.ndarray,
    key: np.ndarray,
    lab: np.ndarray,
    offsets: np.ndarray,
    sources: np.ndarray,
    state: np.ndarray,
) -> None:
    """Keys and labels of every free voxel of a block, from its fixed voxels.

    All arrays are flat views of the block with a one-voxel rim: ``level`` (uint32, see
    :func:`ordered_altitude`), ``inside`` (may be labelled), ``fixed`` (rim and
    markers: their ``key`` and ``lab`` are given), ``key`` and ``lab`` (filled in for
    the free voxels), ``offsets`` (flat neighbour offsets), ``sources`` (the fixed
    voxels water starts from: the markers; the rim carries nothing, :data:`UNREACHED`),
    ``state`` (a ``(n, 2)`` uint64 work array, overwritten). Rim voxels are fixed, so
    neighbour offsets never leave the array.

    Dijkstra's algorithm in two queues. A voxel that water reaches from a lower level
    gets the key ``(level, 0)``, known in advance: such voxels (most of a relief that
    falls away from its markers) leave a list of the free voxels sorted once by level
    (:func:`_by_level`), in turn, and are only marked as reached when a neighbour is
    done. The others — water spreading at one level across a plateau or filling a pit,
    keys ``(M, s)`` with ``s >= 1`` — go through the heap. The two never hold the same
    key, and each step takes the smaller head: keys leave in increasing order, as from
    one heap.
    """
    n = key.shape[0]
    n_off = offsets.shape[0]
    # what a voxel's neighbours read of it, side by side in one 16-byte row (its key; its
    # level, inside, done and reached bits): one cache line per neighbour read
    for p in range(n):
        bits = np.uint64(level[p])
        if inside[p]:
            bits |= _INSIDE
        if fixed[p]:
            bits |= _DONE
        state[p, 0] = key[p]
        state[p, 1] = bits
    rows = _by_level(level, inside, fixed)
    flat_state = state.reshape(-1)
    heap = np.empty((1024, 2), np.uint64)
    size = 0
    for f in sources:  # the free neighbours of the sources start the flood
        if not inside[f] or key[f] == UNREACHED:
            continue
        for o in range(n_off):
            p = f + offsets[o]
            if inside[p] and not fixed[p]:
                k = _ext(key[f], level[p])
                if k & _LOW == 0:  # reached from a lower level: it leaves the sorted list
                    state[p, 1] |= _REACHED
                    state[p, 0] = k
                elif k < state[p, 0]:
                    state[p, 0] = k
                    heap = _push(heap, size, k, p)
                    size += 1
    i = 0
    m = rows.shape[0]
    while True:
        listed = rows[i] & ~_LOW if i < m else UNREACHED
        if size > 0 and heap[0, 0] < listed:
            k = heap[0, 0]
            p = np.int64(heap[0, 1])
            size -= 1
            _pop_fix(heap, size)
            if state[p, 1] & _DONE or k != state[p, 0]:
                continue
        elif i < m:
            if i + PREFETCH_AHEAD < m:  # the voxel that leaves the list a few rows on
                ahead = np.int64(rows[i + PREFETCH_AHEAD] & _LOW)
                _prefetch(flat_state, 2 * ahead)
                _prefetch(lab, ahead)
                for o in range(n_off):
                    _prefetch(flat_state, 2 * (ahead + offsets[o]))
            p = np.int64(rows[i] & _LOW)
            i += 1
            if not state[p, 1] & _REACHED:
                continue
            k = listed
        else:
            break
        state[p, 1] |= _DONE
        # one pass over the neighbours: p takes the label of its smallest-key neighbour
        # (first on ties), always a done one (key < k); the others get their keys, which
        # stay above k, so setting them here cannot change that smallest key
        best = UNREACHED
        arg = -1
        for o in range(n_off):
            q = p + offsets[o]
            bits = state[q, 1]
            if bits & _INSIDE:
                kq = state[q, 0]
                if kq < best:
                    best = kq
                    arg = q
                if not bits & _DONE:
                    rise = (bits & _LEVEL) << np.uint64(32)
                    if rise > k:  # its key is (level, 0): it leaves the sorted list
                        if not bits & _REACHED:
                            state[q, 1] = bits | _REACHED
                            state[q, 0] = rise
                    elif k + np.uint64(1) < kq:
                        state[q, 0] = k + np.uint64(1)
                        heap = _push(heap, size, k + np.uint64(1), q)
                        size += 1
        lab[p] = lab[arg]
    for p in range(n):
        if not fixed[p]:
            key[p] = state[p, 0]


@numba.njit(cache=True, nogil=True)
def _outranks(w: float, v: float, dz: int, dy: int, dx: int) -> bool:  # pragma: no cover
    """Whether a voxel of distance ``w`` at offset ``(dz, dy, dx)`` outranks one of ``v``."""
    return w > v or (w == v and (dz < 0 or (dz == 0 and (dy < 0 or (dy == 0 and dx < 0)))))


@numba.njit(cache=True, nogil=True)
def _in_region(
    dz: int, dy: int, dx: int, spacing: np.ndarray, r2: float, outward: np.ndarray, beyond: float
) -> bool:  # pragma: no cover
    """Whether offset ``(dz, dy, dx)`` lies in a voxel's dominance region: within the ball
    of radius ``sqrt(r2)`` about the voxel and, when ``beyond > 0``, within the ball of
    radius ``sqrt(r2)`` about the point ``beyond`` past the voxel along one of the axes
    whose ``outward`` sign is not 0 (physical units): the union of the caps that balls
    cut by those faces there would have."""
    pz = dz * spacing[0]
    py = dy * spacing[1]
    px = dx * spacing[2]
    near = pz * pz + py * py + px * px
    if near > r2:
        return False
    if beyond > 0:  # the nearest of the centres: along the axis the offset goes out most
        most = -np.inf
        if outward[0] != 0:
            most = max(most, outward[0] * pz)
        if outward[1] != 0:
            most = max(most, outward[1] * py)
        if outward[2] != 0:
            most = max(most, outward[2] * px)
        return near - 2 * beyond * most + beyond * beyond <= r2
    return True


@numba.njit(cache=True, nogil=True)
def _face_base(
    distance: np.ndarray,
    at: np.ndarray,
    spacing: np.ndarray,
    volume_start: np.ndarray,
    volume_shape: np.ndarray,
    base: float,
) -> float:  # pragma: no cover
    """The largest share of the disc of radius ``base`` about voxel ``at``, in the plane of
    a face of the volume it lies on (clipped to the array), that the objects
    (``distance > 0``) hold: the base a cap with its top there would have (0 off the
    faces). ``volume_start`` is the index in the volume of ``distance[0, 0, 0]``."""
    shape = distance.shape
    index = np.empty(3, np.int64)
    best = 0.0
    for a in range(3):
        here = volume_start[a] + at[a]
        if volume_shape[a] < 2 or (here != 0 and here != volume_shape[a] - 1):
            continue
        index[:] = at
        b, c = (a + 1) % 3, (a + 2) % 3
        eb = int(base / spacing[b])
        ec = int(base / spacing[c])
        held = 0
        total = 0
        for db in range(max(-eb, -at[b]), min(eb, shape[b] - 1 - at[b]) + 1):
            hb = (db * spacing[b]) ** 2
            index[b] = at[b] + db
            for dc in range(max(-ec, -at[c]), min(ec, shape[c] - 1 - at[c]) + 1):
                if hb + (dc * spacing[c]) ** 2 > base * base:
                    continue
                index[c] = at[c] + dc
                total += 1
                held += distance[index[0], index[1], index[2]] > 0
        best = max(best, held / total)
    return best


@numba.njit(cache=True, nogil=True)
def _round_about(  # pragma: no cover
    distance: np.ndarray, spacing: np.ndarray, z: int, y: int, x: int, v: float
) -> bool:
    """Whether the distance falls off about voxel ``(z, y, x)`` (distance ``v``) as about
    a ball's centre: every voxel from ``ROUND_INNER * v`` to ``ROUND_OUTER * v`` away
    (clipped to the array) is under ``ROUND_DROP * v`` (a ball's is under ``v / 4``; a
    rod's axis, a plate's middle or a bridge stay near ``v`` along them)."""
    nz, ny, nx = distance.shape
    outer, inner = ROUND_OUTER * v, ROUND_INNER * v
    outer2, inner2, top = outer * outer, inner * inner, ROUND_DROP * v
    ez, ey, ex = int(outer / spacing[0]), int(outer / spacing[1]), int(outer / spacing[2])
    for dz in range(max(-ez, -z), min(ez, nz - 1 - z) + 1):
        hz = (dz * spacing[0]) ** 2
        if hz > outer2:
            continue
        for dy in range(max(-ey, -y), min(ey, ny - 1 - y) + 1):
            hy = hz + (dy * spacing[1]) ** 2
            if hy > outer2:
                continue
            for dx in range(max(-ex, -x), min(ex, nx - 1 - x) + 1):
                h = hy + (dx * spacing[2]) ** 2
                if inner2 <= h <= outer2 and distance[z + dz, y + dy, x + dx] >= top:
                    return False
    return True


ROUND_INNER = 0.75  # the shell about a small marker that _round_about reads, in its distance
ROUND_OUTER = 1.5
ROUND_DROP = 0.85  # the most share of the marker's distance a voxel of that shell may have
NECK_LEVEL = 0.75  # the share of a small marker's distance that _necked follows out of it
NECK_RISE = 1.25  # how much higher than the marker a voxel of a larger object is
NECK_REACH = 3.0  # how far _necked follows the high voxels, in the marker's distance


@numba.njit(cache=True, nogil=True)
def _walk(  # pragma: no cover
    distance, spacing, z, y, x, start, level, above, inner2, far2, seen, queue
):
    """A breadth-first walk from offset ``start`` (3 ints) of voxel ``(z, y, x)`` over the
    voxels (26 neighbours) of ``distance >= level`` at least ``sqrt(inner2)`` and at most
    ``sqrt(far2)`` away, in the box that ``seen`` (marked as the walk goes) spans:
    whether it meets a voxel of ``distance > above``, and whether it runs on (a voxel of
    it lies next to that bound, or to the array's sides)."""
    nz, ny, nx = distance.shape
    ez, ey, ex = seen.shape[0] // 2, seen.shape[1] // 2, seen.shape[2] // 2
    seen[start[0] + ez, start[1] + ey, start[2] + ex] = True
    queue[0, 0], queue[0, 1], queue[0, 2] = start[0], start[1], start[2]
    head, tail = 0, 1
    rises = False
    runs_on = False
    while head < tail:
        cz, cy, cx = queue[head, 0], queue[head, 1], queue[head, 2]
        head += 1
        rises = rises or distance[z + cz, y + cy, x + cx] > above
        for oz in range(-1, 2):
            for oy in range(-1, 2):
                for ox in range(-1, 2):
                    qz, qy, qx = cz + oz, cy + oy, cx + ox
                    hq = (qz * spacing[0]) ** 2 + (qy * spacing[1]) ** 2 + (qx * spacing[2]) ** 2
                    if hq > far2 or abs(qz) > ez or abs(qy) > ey or abs(qx) > ex:
                        runs_on = True  # the bound: what lies beyond is not read
                        continue
                    if not (0 <= z + qz < nz and 0 <= y + qy < ny and 0 <= x + qx < nx):
                        runs_on = True
                        continue
                    if hq < inner2 or seen[qz + ez, qy + ey, qx + ex]:
                        continue
                    if distance[z + qz, y + qy, x + qx] < level:
                        continue
                    seen[qz + ez, qy + ey, qx + ex] = True
                    queue[tail, 0], queue[tail, 1], queue[tail, 2] = qz, qy, qx
                    tail += 1
    return rises, runs_on


@numba.njit(cache=True, nogil=True)
def _necked(  # pragma: no cover
    distance: np.ndarray, spacing: np.ndarray, z: int, y: int, x: int, v: float, cap: float
) -> bool:
    """Whether the distance falls off about voxel ``(z, y, x)`` (distance ``v``) as about a
    ball's centre but towards larger objects: the voxel tops the connected set of the
    voxels of ``v`` or more about it (26 neighbours; none of it higher, and it ends
    within the reach below), and every connected set of the voxels from
    ``ROUND_INNER * v`` to ``min(NECK_REACH * v, cap)`` away with a distance of
    ``NECK_LEVEL * v`` or more that meets the shell :func:`_round_about` reads either
    rises over ``NECK_RISE * v`` (the neck to a larger bead) or ends within that reach
    (a small neighbour). A rod's or a plate's ridge, or a bridge, runs on at about ``v``
    past the reach.

    Only voxels within the reach are read, and a set with a voxel next to its bound or
    to the array's sides (the volume's faces, in a block with a halo of ``cap``) counts
    as running on: the answer is the same in any block holding the voxels within
    ``cap`` of the voxel.
    """
    nz, ny, nx = distance.shape
    inner2 = (ROUND_INNER * v) ** 2
    outer2 = (ROUND_OUTER * v) ** 2
    far = min(NECK_REACH * v, cap)
    ez, ey, ex = int(far / spacing[0]), int(far / spacing[1]), int(far / spacing[2])
    seen = np.zeros((2 * ez + 1, 2 * ey + 1, 2 * ex + 1), np.bool_)
    queue = np.empty((seen.size, 3), np.int64)
    start = np.zeros(3, np.int64)
    rises, runs_on = _walk(distance, spacing, z, y, x, start, v, v, 0.0, far * far, seen, queue)
    if rises or runs_on:  # no drop on the way to a higher voxel: a shoulder, not a top
        return False
    seen[:] = False
    for dz in range(max(-ez, -z), min(ez, nz - 1 - z) + 1):
        for dy in range(max(-ey, -y), min(ey, ny - 1 - y) + 1):
            for dx in range(max(-ex, -x), min(ex, nx - 1 - x) + 1):
                h = (dz * spacing[0]) ** 2 + (dy * spacing[1]) ** 2 + (dx * spacing[2]) ** 2
                if not inner2 <= h <= outer2 or seen[dz + ez, dy + ey, dx + ex]:
                    continue
                if distance[z + dz, y + dy, x + dx] < NECK_LEVEL * v:
                    continue
                start[0], start[1], start[2] = dz, dy, dx
                rises, runs_on = _walk(
                    distance,
                    spacing,
                    z,
                    y,
                    x,
                    start,
                    NECK_LEVEL * v,
                    NECK_RISE * v,
                    inner2,
                    far * far,
                    seen,
                    queue,
                )
                if runs_on and not rises:
                    return False
    return True


@numba.njit(cache=True, nogil=True)
def ball_peaks(  # pragma: no cover
    distance: np.ndarray,
    spacing: np.ndarray,
    reach: float,
    cap: float,
    min_height: float,
    origin: np.ndarray,
    out: np.ndarray,
    start: np.ndarray,
    volume_shape: np.ndarray,
    radius: float,
    face_height: float,
    small_height: float,
) -> None:
    """Voxels that no other voxel of their dominance region outranks.

    ``distance`` is a 3-D distance map in physical units (``spacing`` per axis), ``d``
    its value at the voxel. ``q`` outranks ``p`` when ``d(q) > d(p)``, or when they are
    equal and the objects hold more of ``q``'s cap base than of ``p``'s (the disc below,
    for voxels of the faces with ``face_height <= d < min_height``; none for the others),
    or as much and ``q`` comes first in C order (so a plateau gives one peak, whichever
    rule its voxels follow). Regions are clipped to the array. Only the box of
    ``out``'s shape at ``origin`` (3 ints) of the map is tested: ``out[i, j, k]`` says
    whether voxel ``origin + (i, j, k)`` is a peak (its region reads the whole map).

    A voxel with ``d >= min_height`` has for region the ball of radius
    ``min(reach * d, cap)`` about it. A voxel of the volume's outer faces (``start``:
    the index in the volume of ``distance[0, 0, 0]``; ``volume_shape``: the volume's
    shape) with ``face_height <= d < min_height`` has for region the cap that a ball of
    ``radius`` cut by the face there would have, with its top at the voxel: the voxels
    within ``radius`` of the point ``radius - d`` beyond the voxel along the face's
    outward normal (on an edge or a corner, the union of the caps of its faces); it is a
    peak only if, besides, the objects (``distance > 0``) hold most of that cap's base
    on the face, the disc of radius ``min_height`` about it (on one of its faces, clipped
    to the array). Any other voxel with ``small_height <= d < min_height`` has the ball
    for region and is a peak only if, besides, the distance falls off about it as about
    a ball's centre (:func:`_round_about`), or does so but for necks that lead up into
    larger objects or end nearby (:func:`_necked`, which reads up to ``cap`` away).
    Other voxels are never peaks.
    """
    nz, ny, nx = distance.shape
    oz, oy, ox = origin[0], origin[1], origin[2]
    outward = np.zeros(3)
    at = np.zeros(3, np.int64)
    for z in range(oz, oz + out.shape[0]):
        for y in range(oy, oy + out.shape[1]):
            for x in range(ox, ox + out.shape[2]):
                out[z - oz, y - oy, x - ox] = False
                v = distance[z, y, x]
                if v <= 0 or not v >= min(face_height, small_height):
                    continue
                beyond = 0.0
                small = False  # a peak under min_height inside: only where round
                if v >= min_height:
                    r = min(reach * v, cap)
                else:  # on the outer faces, the caps of the beads cut there
                    faces = 0
                    for a, i in enumerate((z, y, x)):
                        here = start[a] + i
                        outward[a] = 0.0
                        if volume_shape[a] > 1 and here == 0:
                            outward[a] = -1.0
                        elif volume_shape[a] > 1 and here == volume_shape[a] - 1:
                            outward[a] = 1.0
                        faces += outward[a] != 0
                    if faces == 0:  # inside: a small object's centre, where round
                        if not v >= small_height:
                            continue
                        r, small = min(reach * v, cap), True
                    elif not v >= face_height:
                        continue
                    else:
                        r = radius
                        beyond = radius - v
                r2 = r * r
                # off the caps a voxel holds no base: a tie with an earlier one outranks it
                by_order = beyond == 0
                # a quick look at the face neighbours in the region rejects most voxels
                if (
                    (
                        z > 0
                        and _in_region(-1, 0, 0, spacing, r2, outward, beyond)
                        and (distance[z - 1, y, x] > v or (by_order and distance[z - 1, y, x] == v))
                    )
                    or (
                        y > 0
                        and _in_region(0, -1, 0, spacing, r2, outward, beyond)
                        and (distance[z, y - 1, x] > v or (by_order and distance[z, y - 1, x] == v))
                    )
                    or (
                        x > 0
                        and _in_region(0, 0, -1, spacing, r2, outward, beyond)
                        and (distance[z, y, x - 1] > v or (by_order and distance[z, y, x - 1] == v))
                    )
                    or (
                        z + 1 < nz
                        and _in_region(1, 0, 0, spacing, r2, outward, beyond)
                        and distance[z + 1, y, x] > v
                    )
                    or (
                        y + 1 < ny
                        and _in_region(0, 1, 0, spacing, r2, outward, beyond)
                        and distance[z, y + 1, x] > v
                    )
                    or (
                        x + 1 < nx
                        and _in_region(0, 0, 1, spacing, r2, outward, beyond)
                        and distance[z, y, x + 1] > v
                    )
                ):
                    continue
                share = 0.0
                if beyond > 0:
                    at[0] = z
                    at[1] = y
                    at[2] = x
                    share = _face_base(distance, at, spacing, start, volume_shape, min_height)
                    if not share > 0.5:
                        continue
                ez = int(r / spacing[0])
                ey = int(r / spacing[1])
                ex = int(r / spacing[2])
                peak = True
                for dz in range(max(-ez, -z), min(ez, nz - 1 - z) + 1):
                    hz = (dz * spacing[0]) ** 2
                    if hz > r2:
                        continue
                    for dy in range(max(-ey, -y), min(ey, ny - 1 - y) + 1):
                        hy = hz + (dy * spacing[1]) ** 2
                        if hy > r2:
                            continue
                        for dx in range(max(-ex, -x), min(ex, nx - 1 - x) + 1):
                            if hy + (dx * spacing[2]) ** 2 > r2:
                                continue
                            if beyond > 0 and not _in_region(
                                dz, dy, dx, spacing, r2, outward, beyond
                            ):
                                continue
                            w = distance[z + dz, y + dy, x + dx]
                            if w == v and not (dz == 0 and dy == 0 and dx == 0):
                                # a tie: first the voxel whose cap's base is held more (0
                                # off the caps' heights and the faces), then C order
                                other = 0.0
                                if face_height <= w < min_height:
                                    at[0] = z + dz
                                    at[1] = y + dy
                                    at[2] = x + dx
                                    other = _face_base(
                                        distance, at, spacing, start, volume_shape, min_height
                                    )
                                if other != share:
                                    if other > share:
                                        peak = False
                                        break
                                    continue
                            if _outranks(w, v, dz, dy, dx):
                                peak = False
                                break
                        if not peak:
                            break
                    if not peak:
                        break
                if peak and small:
                    peak = _round_about(distance, spacing, z, y, x, v) or _necked(
                        distance, spacing, z, y, x, v, cap
                    )
                out[z - oz, y - oy, x - ox] = peak


@numba.njit(cache=True, nogil=True)
def update(  # pragma: no cover
    level: np.ndarray,
    inside: np.ndarray,
    fixed: np.ndarray,
    key: np.ndarray,
    lab: np.ndarray,
    offsets: np.ndarray,
    seeds: np.ndarray,
) -> int:
    """Bring a flooded block up to date after its rim changed (arrays as in :func:`flood`).

    Keys on the rim only decrease between rounds. ``seeds`` are the voxels next to the
    rim voxels that changed (fixed ones and those outside the mask are skipped). A voxel
    is re-evaluated from its neighbours; when its key or label changes, the neighbours
    it could feed (whose key it reaches or beats, or whose label differs) are queued in
    turn. Returns how many times a voxel's key or label changed (0: the
    block is as it was).
    """
    n_off = offsets.shape[0]
    changes = 0
    heap = np.empty((max(1024, 2 * seeds.shape[0]), 2), np.uint64)
    size = 0
    for p in seeds:
        if fixed[p] or not inside[p]:
            continue
        best = UNREACHED
        for o in range(n_off):
            q = p + offsets[o]
            if inside[q] and key[q] < best:
                best = key[q]
        if best != UNREACHED:
            heap = _push(heap, size, _ext(best, level[p]), p)
            size += 1
    while size > 0:
        p = np.int64(heap[0, 1])
        size -= 1
        _pop_fix(heap, size)
        best = UNREACHED
        arg = -1
        for o in range(n_off):
            q = p + offsets[o]
            if inside[q] and key[q] < best:
                best = key[q]
                arg = q
        if arg < 0:
            continue
        new = _ext(best, level[p])
        new_lab = lab[arg]
        if new == key[p] and new_lab == lab[p]:
            continue
        key[p] = new
        lab[p] = new_lab
        changes += 1
        for o in range(n_off):
            q = p + offsets[o]
            if inside[q] and not fixed[q]:
                cand = _ext(new, level[q])
                if cand < key[q] or (cand == key[q] and lab[q] != new_lab):
                    heap = _push(heap, size, cand, q)
                    size += 1
    return changes


@numba.njit(cache=True, nogil=True)
def toggle_level_bits(
    key: np.ndarray, level: np.ndarray, inside: np.ndarray
) -> None:  # pragma: no cover
    """XOR each key (flat, in place) with the key a voxel takes when reached from below.

    That key is ``(level, 0)`` inside the mask and :data:`UNREACHED` outside: XORed, most
    keys of a flooded block become 0 (a stored state compresses to a few bits a voxel),
    and a second call restores them.
    """
    for p in range(key.shape[0]):
        if inside[p]:
            key[p] ^= np.uint64(level[p]) << np.uint64(32)
        else:
            key[p] ^= UNREACHED
