"""Compiled per-chunk kernels.

Its modules are attributes, imported on first use (``mct.kernels.gaussian``), as those
of ``ops``, ``core`` and ``pipelines`` are (there by ``core.lazy.modules_on_first_use``,
which this bottom layer may not import): importing the package compiles nothing.

Examples
--------
>>> import xarray_microct as mct
>>> mct.kernels.gaussian.__name__, "watershed" in dir(mct.kernels)
('xarray_microct.kernels.gaussian', True)
"""

import importlib
import pkgutil
import sys
from typing import Any

_MODULES = frozenset(info.name for info in pkgutil.iter_modules(__path__))


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*vars(sys.modules[__name__]), *_MODULES})
