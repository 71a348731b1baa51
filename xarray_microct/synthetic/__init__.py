"""Synthetic phantoms with known ground truth (fiber beds, bead packs)."""

from xarray_microct.synthetic.beads import bead_pack
from xarray_microct.synthetic.broken import broken_fiber_bed
from xarray_microct.synthetic.fibers import fiber_bed
from xarray_microct.synthetic.textured import textured_fiber_bed

__all__ = ["bead_pack", "broken_fiber_bed", "fiber_bed", "textured_fiber_bed"]
