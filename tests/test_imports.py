"""The package's modules are reachable as attributes, and no function hides a module."""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
import sys
import types

import cloudpickle
import pytest
from helpers import fresh_python

import xarray_microct as mct


def test_subpackages_are_attributes_imported_on_first_use():
    # a fresh interpreter: nothing imported the subpackages before the attribute access
    code = (
        "import sys, xarray_microct as mct\n"
        "assert 'xarray_microct.pipelines' not in sys.modules\n"
        "assert callable(mct.pipelines.fibers) and callable(mct.pipelines.beads)\n"
        "assert callable(mct.synthetic.bead_pack) and callable(mct.report.save_report)\n"
        "assert 'pipelines' in dir(mct)\n"
        "print('ok')\n"
    )
    assert fresh_python(code) == "ok"


def test_dir_of_the_package_lists_what_a_user_may_reach():
    # tab completion listed the package's own imports (sys, xr, Any, importlib...)
    names = dir(mct)
    assert not {"sys", "xr", "Any", "importlib", "threading", "warnings"} & set(names)
    assert {"open_volume", "from_array", "pipelines", "metrics", "__version__"} <= set(names)
    assert all(hasattr(mct, name) for name in names)


def test_modules_of_ops_and_core_are_attributes_imported_on_first_use():
    # the verbs' modules are no longer imported by the package: still reachable by name
    code = (
        "import sys, xarray_microct as mct\n"
        "assert 'xarray_microct.ops.filters' not in sys.modules\n"
        "assert callable(mct.ops.filters.gaussian_array)\n"
        "assert callable(mct.ops.fibers.detect_fibers) and callable(mct.core.stats.phase_levels)\n"
        "assert 'watershed' in dir(mct.ops) and 'stats' in dir(mct.core)\n"
        "try:\n"
        "    mct.ops.no_such_module\n"
        "except AttributeError as err:\n"
        "    print(err)\n"
    )
    assert fresh_python(code) == "module 'xarray_microct.ops' has no attribute 'no_such_module'"


def test_modules_of_kernels_are_attributes_imported_on_first_use():
    code = (
        "import sys, xarray_microct as mct\n"
        "assert 'xarray_microct.kernels.gaussian' not in sys.modules\n"
        "assert mct.kernels.gaussian is sys.modules['xarray_microct.kernels.gaussian']\n"
        "assert 'watershed' in dir(mct.kernels)\n"
        "try:\n"
        "    mct.kernels.no_such_module\n"
        "except AttributeError as err:\n"
        "    print(err)\n"
    )
    assert fresh_python(code) == "module 'xarray_microct.kernels' has no attribute 'no_such_module'"


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'pipeline'"):
        mct.pipeline  # noqa: B018


def test_no_module_is_hidden_by_a_function():
    # every module of the package is the attribute of its parent package of that name
    for info in pkgutil.walk_packages(mct.__path__, prefix="xarray_microct."):
        module = importlib.import_module(info.name)
        parent_name, _, attribute = info.name.rpartition(".")
        reached = getattr(sys.modules[parent_name], attribute)
        assert reached is module, f"{info.name} is hidden by {reached!r}"
        assert isinstance(reached, types.ModuleType)


@pytest.mark.parametrize("name", ["beads", "fibers"])
def test_pipeline_module_is_the_module_and_calls_its_function(name, monkeypatch):
    module = importlib.import_module(f"xarray_microct.pipelines.{name}")
    function = getattr(module, name)
    assert isinstance(function, types.FunctionType) and function.__module__ == module.__name__
    assert getattr(mct.pipelines, name) is module
    assert inspect.signature(module) == inspect.signature(function)
    calls = []
    monkeypatch.setattr(module, name, lambda *args, **kwargs: calls.append((args, kwargs)) or 7)
    assert module("volume", radius="3 um") == 7
    assert calls == [(("volume",), {"radius": "3 um"})]


def test_a_pipeline_module_is_imported_on_first_use_only():
    code = (
        "import sys, xarray_microct.pipelines.beads as beads\n"
        "assert type(beads).__name__ == 'PipelineModule' and callable(beads)\n"
        "print(sorted(m for m in sys.modules if m.startswith('xarray_microct.ops.fibers')))\n"
    )
    assert fresh_python(code) == "[]"


def test_pipeline_modules_pickle_by_name():
    for dumps in (pickle.dumps, cloudpickle.dumps):
        assert pickle.loads(dumps(mct.pipelines.fibers)) is mct.pipelines.fibers


# Optional or heavy modules a plain ``import xarray_microct`` leaves alone: viewers, the
# cluster machinery, readers of other formats, pint-xarray until ``.pint`` is used, and
# the operations (numba, scikit-image) until a verb is used.
NOT_IMPORTED = (
    "bokeh",
    "distributed",
    "h5py",
    "holoviews",
    "hvplot",
    "itk",
    "matplotlib",
    "napari",
    "numba",
    "panel",
    "pint_xarray",
    "skimage",
    "tifffile",
    "xarray_microct.io",
    "xarray_microct.ops",
    "xarray_microct.plot",
    "xarray_microct.report",
)


def test_import_leaves_heavy_optional_modules_alone():
    # a fresh interpreter: what the package import alone brings in (each worker process
    # of a cluster pays it again)
    code = (
        "import sys, xarray_microct\n"
        f"print(sorted(m for m in {NOT_IMPORTED!r} if m in sys.modules))\n"
    )
    assert fresh_python(code) == "[]"


def test_the_fiber_detection_leaves_scipy_stats_alone():
    # scipy.stats costs ~0.9 CPU s to import, in the command and in each spawned worker;
    # the radius estimate imports it only where it compares two rounds (fisher_exact)
    code = (
        "import sys, xarray_microct.cli, xarray_microct.runner\n"
        "import xarray_microct.ops.fibers.detect, xarray_microct.pipelines.fibers\n"
        "print('scipy.stats' in sys.modules)\n"
    )
    assert fresh_python(code) == "False"


def test_pint_accessor_and_readers_load_on_first_use():
    code = (
        "import sys, warnings\n"
        "warnings.simplefilter('error')\n"
        "import numpy as np, xarray as xr, xarray_microct as mct\n"
        "from xarray_microct import open_volume\n"
        "assert 'xarray_microct.io' in sys.modules and callable(open_volume)\n"
        "vol = mct.from_array(np.zeros((2, 3, 4)), units='nm', attrs={'units': 'mm'})\n"
        "assert 'pint_xarray' not in sys.modules\n"
        "quantified = vol.pint.quantify()\n"
        "import pint, pint_xarray\n"
        "assert isinstance(quantified.data, pint.Quantity)\n"
        "assert str(quantified.data.units) == 'millimeter'\n"
        "assert xr.DataArray.pint is pint_xarray.accessors.PintDataArrayAccessor\n"
        "assert xr.Dataset.pint is pint_xarray.accessors.PintDatasetAccessor\n"
        "assert vol.to_dataset(name='a').pint.quantify().x.pint.units == 'nanometer'\n"
        "print('ok')\n"
    )
    assert fresh_python(code) == "ok"


def test_pint_xarray_imported_after_the_package_replaces_the_stand_in_silently():
    code = (
        "import warnings\n"
        "warnings.simplefilter('error')\n"
        "import numpy as np, xarray as xr, xarray_microct as mct\n"
        "import pint_xarray\n"  # registers its accessor where the stand-in was
        "assert xr.DataArray.pint is pint_xarray.accessors.PintDataArrayAccessor\n"
        "vol = mct.from_array(np.zeros((2, 3, 4)), units='um')\n"
        "assert str(vol.pint.quantify().x.pint.units) == 'micrometer'\n"
        "print('ok')\n"
    )
    assert fresh_python(code) == "ok"
