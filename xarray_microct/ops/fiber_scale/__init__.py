"""The fiber radius from the data, and an unbiased per-slice radius measurement.

:func:`detect_fibers <xarray_microct.ops.fibers.detect_fibers>` needs the typical fiber
radius: it sets the tubeness scale, the seed spacing, the smallest radius kept and the
linking distance, and detection is reliable only for a radius within 0.75–1.75× the
true one. This package estimates it from a bounded sample of the scan and measures
radii without the bias of a thresholded mask.

Its parts, each with its lab book in its module docstring (each imports only those above
it):

* :mod:`~xarray_microct.ops.fiber_scale.disks`: the unbiased measure of a fiber's
  cross-section — its intensity over a local background (:func:`refine_radii`), the fit of
  blurred disks where the blur is comparable to the radius (:func:`fit_blurred_disks`),
  the disks' labels; where the radius bias at 2–3 voxels comes from.
* :mod:`~xarray_microct.ops.fiber_scale.table`: the fiber table's per-row radii — whole
  sections, the tilt's correction, the intensity measure of each row
  (:func:`refine_table_radii`); why a mask's radius is biased, and the wiring into
  ``detect_fibers``.
* :mod:`~xarray_microct.ops.fiber_scale.sample`: the radius estimate and the bed's
  direction from a bounded sample of the scan (:func:`estimate_fiber_radius`,
  :func:`measure_fiber_bed`), the sample's dark cores, and the detection parameters that
  follow from a radius (:func:`derived_parameters`).

The public names are imported here (``from xarray_microct.ops.fiber_scale import
measure_fiber_bed``); private ones are imported from their part, and a test that patches a
name patches the part that looks it up (e.g. ``fiber_scale.sample._coarse_scale``).
"""

from xarray_microct.ops.fiber_scale.disks import (
    BlurredDisks,
    UnfittableImageError,
    disk_labels,
    fit_blurred_disks,
    refine_radii,
)
from xarray_microct.ops.fiber_scale.sample import (
    FiberBedScale,
    FittedSections,
    NoFibersError,
    derived_parameters,
    estimate_fiber_radius,
    measure_fiber_bed,
    sampled_bed_cores,
    tubeness_scale,
)
from xarray_microct.ops.fiber_scale.table import (
    axis_slopes,
    refine_disk_radii,
    refine_table_radii,
    tilt_corrected_radii,
    tilt_factors,
    whole_sections,
)

__all__ = [
    "BlurredDisks",
    "FiberBedScale",
    "FittedSections",
    "NoFibersError",
    "UnfittableImageError",
    "axis_slopes",
    "derived_parameters",
    "disk_labels",
    "estimate_fiber_radius",
    "fit_blurred_disks",
    "measure_fiber_bed",
    "refine_disk_radii",
    "refine_radii",
    "refine_table_radii",
    "sampled_bed_cores",
    "tilt_corrected_radii",
    "tilt_factors",
    "tubeness_scale",
    "whole_sections",
]
