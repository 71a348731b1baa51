"""The rim exchange: block results grown across block borders, round by round.

Some answers travel arbitrarily far (a watershed basin, a flood): no fixed halo holds
them. Instead every block is solved on its own, then, round after round, each block is
solved again from its own previous result and a one-voxel *rim*: the faces of its
neighbours' previous results. A block whose neighbours show the faces they showed the
round before need not change. After the last round a final task per block reads its
result and checks that it has settled (the last round changed nothing at its borders).

The graph is built by hand (one layer per round), so that a round's task reads exactly
its block's previous result and its neighbours' — never a whole row of blocks. The
neighbours read only the faces of a result (a layer of their own, taken out of it by
``faces_of``): a block's full result of one round is released as soon as its own next
round has run, whatever its neighbours still have to do.

Examples
--------
>>> neighbour_directions(1)
[(-1, 0, 0), (0, -1, 0), (0, 0, -1), (0, 0, 1), (0, 1, 0), (1, 0, 0)]
>>> face((0, 0, 1), rim=False)
(slice(None, None, None), slice(None, None, None), slice(-1, None, None))
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np


def neighbour_directions(connectivity: int) -> list[tuple[int, int, int]]:
    """Offsets of the neighbouring blocks a block exchanges rims with."""
    return [
        d for d in itertools.product((-1, 0, 1), repeat=3) if 0 < sum(map(abs, d)) <= connectivity
    ]


def face(d: tuple[int, ...], rim: bool) -> tuple[slice, ...]:
    """The slab on side ``d`` of a block (``rim``: of its extended array, outside the core)."""
    if rim:
        return tuple(
            slice(0, 1) if s < 0 else slice(-1, None) if s > 0 else slice(1, -1) for s in d
        )
    return tuple(slice(0, 1) if s < 0 else slice(-1, None) if s > 0 else slice(None) for s in d)


def neighbour_keys(
    name: str | None, idx: tuple[int, ...], grid: tuple[int, ...], connectivity: int
) -> list | None:
    """Keys of the neighbouring blocks' results in layer ``name`` (None outside the grid)."""
    if name is None:
        return None
    out: list = []
    for d in neighbour_directions(connectivity):
        n = tuple(i + s for i, s in zip(idx, d, strict=True))
        inside = all(0 <= k < g for k, g in zip(n, grid, strict=True))
        out.append((name, *n) if inside else None)
    return out


def rim_rounds(
    dsk: dict,
    prefix: str,
    grid: tuple[int, ...],
    rounds: int,
    connectivity: int,
    round_task: Callable[..., Any],
    block_args: Callable[[tuple[int, ...], bool], tuple],
    final_task: Callable[..., Any],
    faces_of: Callable[[Any], Any] | None = None,
) -> str:
    """Add the layers of a rim exchange over a grid of blocks to ``dsk``.

    Round ``r`` (1 … ``rounds`` − 1) of block ``idx`` runs
    ``round_task(*block_args(idx, first), own, rim, rim_before)``: ``own`` is the
    block's result of the round before (None in the first round), ``rim`` and
    ``rim_before`` its neighbours' faces one and two rounds before (``faces_of`` of
    their results, the results themselves without it; in :func:`neighbour_directions`
    order, None outside the grid; the whole list None when there is no such round).
    The layer ``{prefix}-labels`` then runs ``final_task(own, rim, rim_before)`` per
    block; its name is returned.

    Examples
    --------
    >>> import dask
    >>> dsk = {("v", 0, 0, 0): 1, ("v", 0, 0, 1): 2}
    >>> def step(value, own, rim, rim_before):
    ...     return (value if own is None else own) + sum(r for r in rim or [] if r is not None)
    >>> out = rim_rounds(dsk, "demo", (1, 1, 2), 3, 1, step,
    ...                  lambda idx, first: (("v", *idx),), lambda own, rim, before: own)
    >>> dask.get(dsk, [(out, 0, 0, 0), (out, 0, 0, 1)])
    (3, 3)
    """
    names: list[str | None] = [None]
    faces: list[str | None] = [None]
    for r in range(1, rounds):
        name = f"{prefix}-round{r}"
        face_name = name if faces_of is None else f"{prefix}-faces{r}"
        before = faces[-2] if len(faces) > 1 else None
        for idx in np.ndindex(*grid):
            dsk[(name, *idx)] = (
                round_task,
                *block_args(idx, names[-1] is None),
                None if names[-1] is None else (names[-1], *idx),
                neighbour_keys(faces[-1], idx, grid, connectivity),
                neighbour_keys(before, idx, grid, connectivity),
            )
            if faces_of is not None:
                dsk[(face_name, *idx)] = (faces_of, (name, *idx))
        names.append(name)
        faces.append(face_name)
    out = f"{prefix}-labels"
    for idx in np.ndindex(*grid):
        dsk[(out, *idx)] = (
            final_task,
            (names[-1], *idx),
            neighbour_keys(faces[-1], idx, grid, connectivity),
            neighbour_keys(faces[-2], idx, grid, connectivity),
        )
    return out
