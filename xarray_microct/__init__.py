"""xarray-microct: lazy, chunk-exact analysis of X-ray microtomography volumes.

Importing the package registers the ``.microct`` accessor on ``xarray.DataArray`` and
``xarray.DataTree``.

Examples
--------
>>> import numpy as np, xarray_microct as mct
>>> vol = mct.from_array(np.random.rand(32, 32, 32), spacing=0.65, units="um")
>>> smooth = vol.microct.gaussian(sigma="1.3 um")   # lazy: nothing computed yet
>>> smooth.attrs["microct_provenance"][-1]["op"]
'gaussian'
"""

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pint_xarray as _pint_xarray  # noqa: F401  (registers .pint, for vol.pint.quantify())

from xarray_microct import accessor as _accessor  # noqa: F401  (registers .microct)
from xarray_microct.core.provenance import records_of
from xarray_microct.core.registry import REGISTRY, replay
from xarray_microct.core.tables import table_quantities
from xarray_microct.core.units import resolve_length, ureg
from xarray_microct.core.volume import Grid, from_array, grid_of
from xarray_microct.io import open_pyramid, open_volume
from xarray_microct.ops import distance as _distance  # noqa: F401
from xarray_microct.ops import filters as _filters  # noqa: F401  (registers the verbs)
from xarray_microct.ops import hessian as _hessian  # noqa: F401  (registers the verbs)
from xarray_microct.ops import intensity as _intensity  # noqa: F401
from xarray_microct.ops import label as _label  # noqa: F401
from xarray_microct.ops import measure as _measure  # noqa: F401
from xarray_microct.ops import morphology as _morphology  # noqa: F401
from xarray_microct.ops import pyramid as _pyramid  # noqa: F401  (registers the verbs)
from xarray_microct.ops import segment as _segment  # noqa: F401
from xarray_microct.ops import watershed as _watershed  # noqa: F401
from xarray_microct.ops.fibers import fiber_summary

try:
    __version__ = version("xarray-microct")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

# Subpackages and modules reachable as attributes, imported on first use (as scipy and
# scikit-image do): ``mct.pipelines.fibers(...)`` works after ``import xarray_microct``.
_LAZY_SUBMODULES = (
    "accessor", "cli", "cluster", "core", "demo", "io", "kernels", "metrics", "ops",
    "pipelines", "plot", "report", "runner", "synthetic", "testing",
)


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))

__all__ = [
    "REGISTRY",
    "Grid",
    "__version__",
    "fiber_summary",
    "from_array",
    "grid_of",
    "open_pyramid",
    "open_volume",
    "records_of",
    "replay",
    "resolve_length",
    "table_quantities",
    "ureg",
]
