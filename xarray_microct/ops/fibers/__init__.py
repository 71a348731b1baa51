"""Fiber detection in three stages — per-slice centres, linking, summary — and the verb.

:func:`detect_fibers` composes the stages:
:mod:`~xarray_microct.ops.fibers.slices` (centres and radii per slice, tile by tile),
:mod:`~xarray_microct.ops.fibers.linking` (chains along z, slab by slab) and
:mod:`~xarray_microct.ops.fibers.summary` (per-fiber measurements and the bed summary).
"""

from xarray_microct.ops.fibers.assembly import COHERENCE_MIN, assemble_fibers
from xarray_microct.ops.fibers.detect import (
    DEFAULT_RADIUS,
    SCORE_OPS,
    axis_first,
    detect_fibers,
    fiber_chain,
    plan_detection,
)
from xarray_microct.ops.fibers.linking import join_fragments, link_centres, z_coherence
from xarray_microct.ops.fibers.slices import mask_centres, slice_centres
from xarray_microct.ops.fibers.summary import TABLE_COLUMNS, FiberSummary, fiber_summary

__all__ = [
    "COHERENCE_MIN",
    "DEFAULT_RADIUS",
    "SCORE_OPS",
    "TABLE_COLUMNS",
    "FiberSummary",
    "assemble_fibers",
    "axis_first",
    "detect_fibers",
    "fiber_chain",
    "fiber_summary",
    "join_fragments",
    "link_centres",
    "mask_centres",
    "plan_detection",
    "slice_centres",
    "z_coherence",
]
