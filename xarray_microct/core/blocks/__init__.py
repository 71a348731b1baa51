"""The block engine: how the verbs turn a chunked volume into a chunk-exact result.

Every verb whose answer at a voxel depends on more than that voxel is built from a few
graph patterns over the blocks of a Dask array; they live here, once, so that the ops
modules hold only the verbs and their ``<verb>_array`` compositions:

* :mod:`~xarray_microct.core.blocks.components` — the component tables: every block
  labelled on its own with a static label offset, equivalences across the faces, one
  union-find, the per-object tables (sizes, marks, any lookup) painted back per block.
  Globally consistent labels, hole filling, hysteresis, small-object removal.
* :mod:`~xarray_microct.core.blocks.windows` — the pyramid window planner: the input
  window (with its halo slab) that each output block of a downsampled level reads,
  assembled from the neighbouring blocks only, so a level costs one pass.

Two more engines are to join this package: the overlap engine
(``core.chunks.map_spatial_overlap``: a halo as deep as the neighbourhood, cut off
exactly; interior offsets so the Hessian uses it too) and the rim exchange of the
watershed (labels grown across block borders from a rim of neighbouring blocks).

The compiled per-block functions these engines call are in :mod:`xarray_microct.kernels`.
"""
