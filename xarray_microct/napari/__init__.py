"""napari plugin: open xarray-microct OME-Zarr stores, run verbs and pipelines on layers.

Install with ``pip install "xarray-microct[napari]"``; napari then finds the plugin
through its npe2 manifest (``xarray_microct/napari.yaml``):

* a reader for OME-Zarr stores (:func:`get_reader`): one multiscale layer per store,
  with the physical scale, translation and units of the finest level, contrast from
  the store's omero ``window``, and a Labels layer for label stores (``image-label``);
  and for the table stores of ``microct run`` with positions (a fiber table, centres),
  a Points layer in physical coordinates, on top of the image;
* a dock widget (:func:`run_widget`) that runs any registered verb, or a built-in
  pipeline, on the selected layer, lazily: the new layer is a Dask array computed as
  napari shows it.

Nothing here imports napari until napari calls it, so the core never needs napari.
"""

from xarray_microct.napari._layers import layer_data, layer_volume, run_on_volume, table_points
from xarray_microct.napari._reader import get_reader, read_store, read_table_store
from xarray_microct.napari._widget import run_on_layer, run_widget

__all__ = [
    "get_reader",
    "layer_data",
    "layer_volume",
    "read_store",
    "read_table_store",
    "run_on_layer",
    "run_on_volume",
    "run_widget",
    "table_points",
]
