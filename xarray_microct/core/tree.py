"""DataTree helpers: which nodes hold volumes, and picking one level of a pyramid.

A multiscale pyramid is an :class:`xarray.DataTree` whose nodes (``scale0``,
``scale1``...) each hold one volume. These helpers are shared by the registry (a verb
maps over every image node), the writers, and the viewers.

One level taken from a pyramid the chain made (:func:`level_taken`: ``level=`` of a verb,
``select_level``) has the level on its ``pyramid`` record, as a level read back from a
store has it (``xarray_microct.pipeline_file.pyramid_levels_recorded``), so that
``replay`` and a pipeline file go on with that level of the other scan's pyramid. The
levels' plan (:func:`plan_levels`) is here too: the ``pyramid`` verb makes them by it, and
:func:`level_taken` checks a tree's levels against it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import xarray as xr

from xarray_microct.core.volume import PROVENANCE_KEY, SPATIAL_DIMS, grid_of


def is_image(variable: xr.DataArray) -> bool:
    """Whether a variable has the spatial dims of a volume.

    Examples
    --------
    >>> import numpy as np
    >>> is_image(xr.DataArray(np.zeros((1, 2, 3)), dims=("z", "y", "x")))
    True
    >>> is_image(xr.DataArray(0.5))
    False
    """
    return tuple(variable.dims[-3:]) == SPATIAL_DIMS


def image_nodes(tree: xr.DataTree) -> list[xr.DataTree]:
    """The nodes of ``tree`` holding at least one volume, in tree order.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> tree = mct.from_array(np.zeros((8, 8, 8)), chunks=4).microct.pyramid(levels=2)
    >>> [node.path for node in image_nodes(tree)]
    ['/scale0', '/scale1']
    """
    return [
        node
        for node in tree.subtree
        if any(is_image(v) for v in node.to_dataset(inherit=False).data_vars.values())
    ]


def select_node(tree: xr.DataTree, level: int | str) -> xr.DataTree:
    """The image node of ``tree`` at index ``level`` (0 = first) or path ``level``.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> tree = mct.from_array(np.zeros((8, 8, 8)), chunks=4).microct.pyramid(levels=2)
    >>> select_node(tree, -1).path
    '/scale1'
    """
    nodes = image_nodes(tree)
    if not nodes:
        raise ValueError("the DataTree holds no volume (no variable with dims z, y, x)")
    if isinstance(level, str):
        try:
            return tree[level]  # type: ignore[return-value]
        except KeyError as err:
            names = [n.path for n in nodes]
            raise KeyError(f"no level {level!r} in the tree; levels are {names}") from err
    if not -len(nodes) <= level < len(nodes):
        raise IndexError(f"level {level} out of range: the tree has {len(nodes)} levels")
    return nodes[level]


def single_image(node: xr.DataTree) -> xr.DataArray:
    """The one volume of a node, with a clear error when it holds several or none.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> tree = mct.from_array(np.zeros((8, 8, 8)), chunks=4, name="scan").microct.pyramid()
    >>> single_image(tree["scale0"]).name
    'scan'
    """
    images = [v for v in node.to_dataset(inherit=False).data_vars.values() if is_image(v)]
    if len(images) != 1:
        raise ValueError(
            f"node {node.path!r} holds {len(images)} volumes; pick one with "
            "tree[path][name].microct"
        )
    return images[0]


def level_images(tree: xr.DataTree) -> list[xr.DataArray]:
    """The one volume of every image node, in tree order: the levels of a pyramid.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> tree = mct.from_array(np.zeros((8, 8, 8)), chunks=4).microct.pyramid(levels=2)
    >>> [level.shape for level in level_images(tree)]
    [(8, 8, 8), (4, 4, 4)]
    """
    nodes = image_nodes(tree)
    if not nodes:
        raise ValueError("the DataTree holds no volume (no variable with dims z, y, x)")
    return [single_image(node) for node in nodes]


def levels_made(record: Mapping[str, Any]) -> int | None:
    """How many levels a ``pyramid`` record's step made: recorded by the verb
    (``estimated``), or given (``levels``); None when neither says.

    Examples
    --------
    >>> levels_made({"op": "pyramid", "params": {"levels": None}, "estimated": {"levels": 3}})
    3
    >>> levels_made({"op": "pyramid", "params": {"levels": None}}) is None
    True
    """
    made = (record.get("estimated") or {}).get("levels")
    params = record.get("params")
    if made is None and isinstance(params, Mapping):
        made = params.get("levels")
    return made if type(made) is int else None


def level_factor(finest: xr.DataArray, level: xr.DataArray) -> list[int]:
    """How many voxels of ``finest`` one voxel of ``level`` spans, per axis (z, y, x).

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> tree = mct.from_array(np.zeros((8, 8, 8)), chunks=4).microct.pyramid(levels=2)
    >>> level_factor(*level_images(tree))
    [2, 2, 2]
    """
    fine, coarse = grid_of(finest).spacing, grid_of(level).spacing
    return [round(c / f) for c, f in zip(coarse, fine, strict=True)]


def plan_levels(
    shape: Sequence[int],
    spacing: Sequence[float],
    chunks: Sequence[int],
    factor: Sequence[int],
    levels: int | None = None,
) -> list[tuple[int, ...]]:
    """Per-level, per-axis downsampling factors of a pyramid (each relative to the level before).

    Which axes a level downsamples is decided by the voxel spacing and shape alone, never
    by the chunks: the finest axes are downsampled, an axis much coarser than them is
    kept until they catch up (an axis is downsampled when that brings its spacing closer,
    on a log scale, to ``min(spacing * factor)``), and an axis of fewer than ``factor``
    voxels is kept (no level has an axis of 0 voxels). The chunks decide only how many
    levels ``levels=None`` makes.

    Parameters
    ----------
    shape, spacing, chunks : sequences of 3
        The full-resolution grid (``z, y, x``) and its chunk size per axis.
    factor : sequence of 3 int
        The largest factor per axis (1 = never downsample that axis).
    levels : int, optional
        Number of levels including full resolution. ``None``: continue while some axis
        that ``factor`` lets shrink is larger than one chunk (and can still shrink) and
        the level holds more voxels than one chunk.

    Returns
    -------
    list of tuple of int
        One ``(fz, fy, fx)`` per level after the first. Two chunkings of one grid give
        the same factors; one list is the start of the other.

    Examples
    --------
    >>> plan_levels((512, 512, 512), (1, 1, 1), (128, 128, 128), (2, 2, 2))
    [(2, 2, 2), (2, 2, 2)]

    Slices four times thicker than the pixels are kept until the pixels catch up:

    >>> plan_levels((64, 256, 256), (4, 1, 1), (64, 64, 64), (2, 2, 2), levels=4)
    [(1, 2, 2), (1, 2, 2), (2, 2, 2)]

    A stack read one slice per chunk plans the same levels as any other chunking, as
    many as bring a level down to one chunk's voxels (z alone would fit one chunk only
    at one slice thick):

    >>> plan_levels((64, 512, 512), (1, 1, 1), (64, 128, 128), (2, 2, 2))
    [(2, 2, 2), (2, 2, 2)]
    >>> plan_levels((64, 512, 512), (1, 1, 1), (1, 128, 128), (2, 2, 2))
    [(2, 2, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2)]
    """
    shape, spacing = [int(n) for n in shape], [float(s) for s in spacing]
    plan: list[tuple[int, ...]] = []
    while levels is None or len(plan) + 1 < levels:
        candidates = [a for a in range(3) if factor[a] > 1 and shape[a] >= factor[a]]
        if levels is None and (
            math.prod(shape) <= math.prod(chunks)
            or not any(shape[a] > chunks[a] for a in candidates)
        ):
            break
        if not candidates:
            raise ValueError(
                f"cannot make {levels} levels: level {len(plan)} has shape {tuple(shape)}, "
                f"too small to downsample by {tuple(factor)}; ask for at most "
                f"{len(plan) + 1} levels, or levels=None"
            )
        target = min(spacing[a] * factor[a] for a in candidates)
        step = tuple(
            factor[a]
            if a in candidates and spacing[a] ** 2 * factor[a] <= target**2 * (1 + 1e-9)
            else 1
            for a in range(3)
        )
        shape = [n // f for n, f in zip(shape, step, strict=True)]
        spacing = [s * f for s, f in zip(spacing, step, strict=True)]
        plan.append(step)
    return plan


def steps_down(levels: Sequence[xr.DataArray], factor: Any) -> bool:
    """Whether ``levels`` are the levels a pyramid of ``factor`` (its record's, an int or
    z, y, x) makes of the first: each level the one before downsampled by the per-axis
    step that pyramid plans for it (its voxel that many of the level before's, its shape
    the level before's divided by it, rounded down).

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> levels = level_images(mct.from_array(np.zeros((8, 8, 8)), chunks=4).microct.pyramid())
    >>> steps_down(levels, 2), steps_down(levels[::-1], 2), steps_down(levels, 4)
    (True, False, False)
    """
    first = grid_of(levels[0])
    try:
        factors = tuple(int(f) for f in (factor if isinstance(factor, Sequence) else [factor] * 3))
        plan = plan_levels(first.shape, first.spacing, first.shape, factors, len(levels))
    except (TypeError, ValueError):  # no factor of a pyramid, or too small for its levels
        return False
    for (fine, coarse), steps in zip(itertools.pairwise(levels), plan, strict=True):
        fine_grid, coarse_grid = grid_of(fine), grid_of(coarse)
        ratios = [c / f for c, f in zip(coarse_grid.spacing, fine_grid.spacing, strict=True)]
        if any(abs(r - s) > 1e-6 * s for r, s in zip(ratios, steps, strict=True)):
            return False
        if [n // s for n, s in zip(fine_grid.shape, steps, strict=True)] != list(coarse_grid.shape):
            return False
    return True


def level_taken(tree: xr.DataTree, level: int | str) -> xr.DataArray:
    """The volume at ``level`` (index or path), the ``pyramid`` record that made the tree
    marked with the level taken (``"level"``, an index) and its downsampling factor
    (``"level_factor"``, z, y, x). The one place a level's index in its pyramid is known
    (``pyramid`` of a pyramid reads it: :func:`~xarray_microct.core.registry.restarted`).

    The record is marked only where it describes this tree: the tree's levels are that
    pyramid's, its last ``pyramid`` record (not marked already) having made as many
    levels as the tree holds and the levels stepping down as that record's factor does
    (:func:`steps_down`). A tree of other levels (one level of a pyramid stored alone,
    levels left out or reordered, a tree built by hand) gives the volume as it is.

    Examples
    --------
    >>> import numpy as np, xarray_microct as mct
    >>> tree = mct.from_array(np.zeros((8, 8, 8)), chunks=4).microct.pyramid(levels=2)
    >>> record = level_taken(tree, 1).attrs["microct_provenance"][-1]
    >>> record["op"], record["level"], record["level_factor"]
    ('pyramid', 1, [2, 2, 2])
    >>> alone = xr.DataTree.from_dict({"scale0": tree["scale1"].to_dataset()})
    >>> "level" in level_taken(alone, 0).attrs["microct_provenance"][-1]
    False
    """
    nodes = image_nodes(tree)
    node = select_node(tree, level)
    volume = single_image(node)
    paths = [n.path for n in nodes]
    records = list(volume.attrs.get(PROVENANCE_KEY, []))
    made = next(
        (
            i
            for i in reversed(range(len(records)))
            if isinstance(records[i], Mapping)
            and records[i].get("op") == "pyramid"
            and not records[i].get("source")
        ),
        None,
    )
    if (
        made is None
        or node.path not in paths
        or "level" in records[made]
        or levels_made(records[made]) != len(nodes)
    ):
        return volume
    levels = [single_image(n) for n in nodes]
    if not steps_down(levels, (records[made].get("params") or {}).get("factor")):
        return volume
    index = paths.index(node.path)
    records[made] = {
        **records[made],
        "level": index,
        "level_factor": level_factor(levels[0], volume),
    }
    return volume.assign_attrs({PROVENANCE_KEY: records})
