"""Whole analysis chains (fiber bed, bead pack) built from the verbs."""

from xarray_microct.pipelines.fibers import fibers

__all__ = ["fibers"]
