"""Synthetic phantoms with known ground truth (fiber beds, bead packs)."""

from xarray_microct.synthetic.beads import bead_pack

__all__ = ["bead_pack"]
