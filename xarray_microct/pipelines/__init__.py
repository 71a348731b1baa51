"""Whole analysis chains (fiber bed, bead pack) built from the verbs."""

from xarray_microct.pipelines.beads import beads

__all__ = ["beads"]
