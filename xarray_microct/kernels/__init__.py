"""Compiled per-chunk kernels.

Its modules are attributes, imported on first use (``mct.kernels.gaussian``), as those
of ``ops``, ``core`` and ``pipelines`` are (:func:`xarray_microct.lazy.modules_on_first_use`):
importing the package compiles nothing.

Examples
--------
>>> import xarray_microct as mct
>>> mct.kernels.gaussian.__name__, "watershed" in dir(mct.kernels)
('xarray_microct.kernels.gaussian', True)
"""

from xarray_microct.lazy import modules_on_first_use

__getattr__, __dir__ = modules_on_first_use(__name__, __path__)
