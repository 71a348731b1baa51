"""Synthetic phantoms with known ground truth (fiber beds, bead packs)."""
