"""xarray-microct: lazy, chunk-exact analysis of X-ray microtomography volumes.

Importing the package registers the ``.microct`` accessor on ``xarray.DataArray`` and
``xarray.DataTree`` (with every verb), and makes ``.pint`` (pint-xarray) available.

Examples
--------
>>> import numpy as np, xarray_microct as mct
>>> vol = mct.from_array(np.random.rand(32, 32, 32), spacing=0.65, units="um")
>>> smooth = vol.microct.gaussian(sigma="1.3 um")   # lazy: nothing computed yet
>>> smooth.attrs["microct_provenance"][-1]["op"]
'gaussian'
"""

import importlib
import sys
import threading
import warnings
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from xarray_microct.starting import quiet_while_starting

# in the `microct` command, Ctrl-C during the imports below prints one line and exits
# with 130 (not a traceback of xarray's imports); a program importing this is left alone
quiet_while_starting()

import xarray as xr  # noqa: E402

from xarray_microct import accessor as _accessor  # noqa: E402, F401  (registers .microct)
from xarray_microct.core.provenance import records_of  # noqa: E402
from xarray_microct.core.registry import REGISTRY, declare_verbs  # noqa: E402
from xarray_microct.core.tables import table_quantities  # noqa: E402
from xarray_microct.core.units import resolve_length, ureg  # noqa: E402
from xarray_microct.core.volume import Grid, from_array, grid_of  # noqa: E402

# The verbs of each module of operations. A module (with the libraries it needs: numba,
# scikit-image, the fiber stages) is imported when one of its verbs is first used, so a
# command or a worker imports only what it runs; every verb is listed in REGISTRY and is
# a method of the accessors from the start (tests/test_registry.py checks this table).
_VERB_MODULES = {
    "denoise": ["denoise"],
    "distance": ["distance_transform"],
    "filters": ["gaussian", "median", "unsharp_mask", "normalize"],
    "hessian": [
        "hessian_eigenvalues",
        "tubeness",
        "objectness",
        "frangi",
        "blobness",
        "plateness",
    ],
    "intensity": ["fill_outside", "fill_padding", "invert"],
    "label": ["label"],
    "measure": ["regionprops", "volume_fraction", "porosity"],
    "outside_labels": ["drop_outside_labels", "clear_padding"],
    "morphology": [
        "erosion",
        "dilation",
        "opening",
        "closing",
        "fill_holes",
        "remove_small_objects",
    ],
    "pyramid": ["pyramid"],
    "segment": ["threshold_value", "threshold", "hysteresis", "segment"],
    "rings": ["remove_rings"],
    "shapes": ["smooth_labels"],
    "watershed": ["watershed", "core_distance"],
    "fibers.detect": ["detect_fibers"],
}
for _module, _names in _VERB_MODULES.items():
    declare_verbs(f"{__name__}.ops.{_module}", _names)
del _module, _names

try:
    __version__ = version("xarray-microct")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

# Subpackages and modules reachable as attributes, imported on first use (as scipy and
# scikit-image do): ``mct.pipelines.fibers(...)`` works after ``import xarray_microct``.
_LAZY_SUBMODULES = (
    "accessor",
    "cli",
    "cluster",
    "core",
    "demo",
    "io",
    "kernels",
    "metrics",
    "ops",
    "pipelines",
    "plot",
    "report",
    "runner",
    "synthetic",
    "testing",
)
# Public functions of modules imported on first use: the readers (h5py, tifffile and the
# OME-Zarr layer) are not needed by a process that only runs tasks, such as a worker, nor
# the fiber stages by one that labels beads.
_LAZY_FUNCTIONS = {
    "open_volume": "xarray_microct.io",
    "open_pyramid": "xarray_microct.io",
    "fiber_summary": "xarray_microct.ops.fibers",
    "replay": "xarray_microct.pipeline_file",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY_FUNCTIONS:
        value = getattr(importlib.import_module(_LAZY_FUNCTIONS[name]), name)
        globals()[name] = value  # found directly from now on
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    # what a user may reach: the public names and the submodules (tab completion in
    # IPython shows these, not the modules this one imports for itself)
    return sorted(set(__all__) | set(_LAZY_SUBMODULES))


class _PintOnFirstUse:
    """Stand-in for pint-xarray's ``.pint`` accessor until a volume first uses it.

    Importing pint-xarray builds pint's unit registry (about a third of a second, paid
    again by every worker process); most runs never touch ``.pint``. This accessor
    imports pint-xarray on first use, which registers its own accessors in place of
    this one, and returns pint-xarray's accessor of the object.
    """

    _lock = threading.Lock()

    def __new__(cls, obj: Any) -> Any:
        with cls._lock:
            for klass in (xr.DataArray, xr.Dataset):
                if getattr(klass, "pint", None) is cls:
                    delattr(klass, "pint")  # pint-xarray registers on a free name
            import pint_xarray  # noqa: F401  (registers .pint)
        return obj.pint


def _offer_pint() -> None:
    """``vol.pint.quantify()`` works after ``import xarray_microct``, pint-xarray loaded
    on its first use (or now, when it was imported before)."""
    if "pint_xarray" in sys.modules:
        return
    # pint-xarray imported later replaces the stand-in: expected, not a conflict
    warnings.filterwarnings(
        "ignore", message=r"registration of accessor .*pint_xarray.* under name 'pint'"
    )
    for register in (xr.register_dataarray_accessor, xr.register_dataset_accessor):
        register("pint")(_PintOnFirstUse)


_offer_pint()

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
