"""Synthetic phantoms with known ground truth (fiber beds, bead packs)."""

from xarray_microct.synthetic.fibers import fiber_bed

__all__ = ["fiber_bed"]
