"""The block engine: how the verbs turn a chunked volume into a chunk-exact result.

Every verb whose answer at a voxel depends on more than that voxel is built from a few
graph patterns over the blocks of a Dask array; they live here, once, so that the ops
modules hold only the verbs and their ``<verb>_array`` compositions:

* :mod:`~xarray_microct.core.blocks.overlap` — the overlap engine: a halo as deep as
  the neighbourhood (derived from the kernel), cut off exactly, so each block's answer
  is the whole volume's (two tasks a block: its slabs cut for its neighbours, its halo
  joined; only slabs travel between workers); with interior offsets for kernels that
  need their position (the Hessian's coarse grid).
* :mod:`~xarray_microct.core.blocks.components` — the component tables: every block
  labelled on its own with a static label offset, equivalences across the faces, one
  union-find, the per-object tables (sizes, marks, any lookup) painted back per block.
  Globally consistent labels, hole filling, hysteresis, small-object removal.
* :mod:`~xarray_microct.core.blocks.rim` — the rim exchange: block results grown across
  block borders round by round from a one-voxel rim of the neighbours' results, until
  they settle (the watershed's flooding).
* :mod:`~xarray_microct.core.blocks.windows` — the pyramid window planner: the input
  window (with its halo slab) that each output block of a downsampled level reads,
  assembled from the neighbouring blocks only, so a level costs one pass.

The compiled per-block functions these engines call are in :mod:`xarray_microct.kernels`
(with :mod:`~xarray_microct.kernels.scratch`, the work arrays a thread keeps between
tasks).
"""
