"""Synthetic phantoms with known ground truth (fiber beds, bead packs)."""

__all__ = ["bead_pack"]
__all__ = ["fiber_bed"]
from xarray_microct.synthetic.beads import bead_pack
from xarray_microct.synthetic.fibers import fiber_bed
