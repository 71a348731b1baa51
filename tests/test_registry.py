"""The registry's contract, checked on every registered verb.

One parametrised test runs each verb on a small input of the kind it declares (image,
mask or labels) and checks what the registry promises for every verb alike:

* the output's provenance is the input's records plus exactly one new record;
* ``replay(output, original_input)`` gives the output again;
* a verb declared lazy computes nothing while it builds its result.

The other tests check the declarations themselves: refused inputs, the intensity unit,
lengths and volumes recorded with their units (so a replay on other units is right).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pickle
import pkgutil
import sys

import cloudpickle
import numpy as np
import pandas as pd
import pytest
import scipy.ndimage as ndi
import xarray as xr
from helpers import fresh_python

import xarray_microct as mct
from xarray_microct.core.provenance import make_record
from xarray_microct.core.registry import (
    ESTIMATED_KEY,
    REGISTRY,
    Operation,
    declare_verbs,
    operation,
)
from xarray_microct.core.tree import image_nodes, is_image
from xarray_microct.core.volume import PROVENANCE_KEY
from xarray_microct.testing import raise_if_dask_computes

SPACING = (2.0, 1.0, 1.0)
CHUNKS = (8, 12, 12)

# Parameters for verbs that have required ones; lengths are bare numbers on purpose
# (the coordinate unit, micrometre here), so recording them with their unit is tested.
EXAMPLE_PARAMS: dict[str, dict] = {
    "gaussian": {"sigma": 1},
    "denoise": {"sigma": 1},
    "median": {"radius": 1},
    "unsharp_mask": {"sigma": 1},
    "hessian_eigenvalues": {"sigma": 1.5},
    "tubeness": {"sigma": 1.5},
    "objectness": {"sigma": 1.5},
    "frangi": {"sigma": 1.5},
    "blobness": {"sigma": 1.5},
    "plateness": {"sigma": 1.5},
    "erosion": {"radius": 1},
    "dilation": {"radius": 1},
    "opening": {"radius": 1},
    "closing": {"radius": 1},
    "remove_small_objects": {"min_size": 8},
    "watershed": {"min_distance": 2},
    "smooth_labels": {"sigma": 1, "radius": 3},
    "pyramid": {"levels": 2},
    "detect_fibers": {"radius": 2},
}


def _image() -> xr.DataArray:
    """Two bright rods along z and a bright ball in noise: something for every verb."""
    z, y, x = np.ogrid[:16, :24, :24]
    rods = ((y - 6) ** 2 + (x - 6) ** 2 <= 6) | ((y - 16) ** 2 + (x - 8) ** 2 <= 6)
    ball = (2 * (z - 8)) ** 2 + (y - 15) ** 2 + (x - 17) ** 2 <= 16
    noise = np.random.default_rng(0).normal(0, 0.1, (16, 24, 24))
    data = (rods | ball) * 1.0 + noise
    return mct.from_array(
        data.astype("float32"),
        spacing=SPACING,
        units="um",
        chunks=CHUNKS,
        name="scan",
        attrs={"units": "1/cm"},
    )


def _mask() -> xr.DataArray:
    return mct.from_array(_image().values > 0.5, spacing=SPACING, units="um", chunks=CHUNKS)


def _labels() -> xr.DataArray:
    labels, _ = ndi.label(_image().values > 0.5)
    return mct.from_array(labels.astype("int32"), spacing=SPACING, units="um", chunks=CHUNKS)


def _opened(make) -> xr.DataArray:
    """An input with a history, as if opened from a store (a source record)."""
    vol = make()
    source = make_record("open_volume", {"path": "scan.ome.zarr"}, source=True)
    return vol.assign_attrs({PROVENANCE_KEY: [source]})


INPUTS = {"image": _image, "mask": _mask, "labels": _labels}


def _records(obj) -> list[list[dict]]:
    """The provenance of every volume in a result (one list for a volume or a table)."""
    if isinstance(obj, xr.DataTree):
        return [
            v.attrs[PROVENANCE_KEY]
            for node in image_nodes(obj)
            for v in node.data_vars.values()
            if is_image(v)
        ]
    return [obj.attrs[PROVENANCE_KEY]]


def _assert_same_result(a, b) -> None:
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif isinstance(a, xr.DataTree):
        assert [n.path for n in a.subtree] == [n.path for n in b.subtree]
        for node in a.subtree:
            for name, variable in node.data_vars.items():
                np.testing.assert_array_equal(variable.values, b[node.path][name].values)
    else:
        np.testing.assert_array_equal(a.values, b.values)
        assert a.dims == b.dims


def _strip(records: list[dict]) -> list[dict]:
    return [{k: r.get(k) for k in ("op", "params", "resolved")} for r in records]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_verb_keeps_the_chain_replays_and_is_as_lazy_as_declared(name):
    op = REGISTRY[name]
    required = [
        p
        for p, spec in list(op.signature.parameters.items())[1:]
        if spec.default is inspect.Parameter.empty
    ]
    original = _opened(INPUTS[op.takes])
    # a verb that takes stages of its input's chain is given the input itself (stage 0)
    params = {**EXAMPLE_PARAMS.get(name, {}), **dict.fromkeys(op.earlier, original)}
    assert set(required) <= set(params), f"add example parameters for {name} to this test"

    if op.lazy:
        with raise_if_dask_computes():
            out = op.verb(original, **params)
    else:
        out = op.verb(original, **params)

    before = original.attrs[PROVENANCE_KEY]
    assert before[0]["op"] == "open_volume"
    for chain in _records(out):
        assert chain[:-1] == before, f"{name} lost the input's records"
        assert chain[-1]["op"] == name
    replayed = mct.replay(out, original)
    _assert_same_result(out, replayed)
    assert [_strip(c) for c in _records(replayed)] == [_strip(c) for c in _records(out)]


def test_a_chain_ending_in_a_table_or_a_scalar_keeps_every_step():
    vol = _image()
    table = vol.microct.gaussian(sigma=1).microct.threshold().microct.label().microct.regionprops()
    assert [r["op"] for r in table.attrs[PROVENANCE_KEY]] == [
        "gaussian",
        "threshold",
        "label",
        "regionprops",
    ]
    fraction = vol.microct.threshold().microct.volume_fraction()
    assert [r["op"] for r in fraction.attrs[PROVENANCE_KEY]] == ["threshold", "volume_fraction"]
    again = mct.replay(table, _image())
    pd.testing.assert_frame_equal(again, table)


def test_bare_lengths_are_recorded_with_their_unit_and_replay_on_other_units():
    um = _image()
    smooth = um.microct.gaussian(sigma=2)
    record = smooth.attrs[PROVENANCE_KEY][-1]
    assert record["params"]["sigma"] == "2 micrometer"
    assert record["resolved"]["sigma"] == [1.0, 2.0, 2.0]
    # The same scan described in millimetres: the replay uses the same physical sigma.
    mm = mct.from_array(um.values, spacing=[s / 1000 for s in SPACING], units="mm", chunks=CHUNKS)
    again = mct.replay(smooth, mm)
    assert again.attrs[PROVENANCE_KEY][-1]["resolved"]["sigma"] == pytest.approx([1, 2, 2])
    np.testing.assert_allclose(again.values, smooth.values, rtol=1e-6)
    # Voxels stay voxels; per-axis and multiscale lists are recorded item by item.
    record = um.microct.gaussian(sigma=(2, "1 um", "1 voxel")).attrs[PROVENANCE_KEY][-1]
    assert record["params"]["sigma"] == ["2 micrometer", "1 um", "1 voxel"]
    record = um.microct.tubeness(sigma=[1, 2]).attrs[PROVENANCE_KEY][-1]
    assert record["params"]["sigma"] == ["1 micrometer", "2 micrometer"]


def test_volumes_are_resolved_and_recorded_with_their_unit():
    mask = _mask()
    counted = mask.microct.remove_small_objects(min_size=8).attrs[PROVENANCE_KEY][-1]
    assert counted["params"]["min_size"] == "8 voxel"
    assert counted["resolved"]["min_size"] == 8.0
    physical = mask.microct.remove_small_objects(min_size="16 um^3").attrs[PROVENANCE_KEY][-1]
    assert physical["params"]["min_size"] == "16 um^3"
    assert physical["resolved"]["min_size"] == 8.0  # 16 um^3 / (2 x 1 x 1 um^3)


@pytest.mark.parametrize("verb", ["label", "fill_holes", "volume_fraction", "regionprops"])
def test_a_float_volume_is_refused_where_a_mask_or_labels_are_declared(verb):
    with pytest.raises(TypeError, match=f"{verb} needs"):
        getattr(_image().microct, verb)()


@pytest.mark.parametrize("verb", ["label", "fill_holes", "hysteresis", "regionprops"])
def test_leading_dims_are_refused_where_spatial_only_is_declared(verb):
    mask = _mask()
    stacked = xr.concat([mask, mask], dim="c").transpose("c", "z", "y", "x")
    kwargs = {"low": 0.2, "high": 0.8} if verb == "hysteresis" else {}
    if verb == "hysteresis":
        stacked = stacked.astype("float32")
    with pytest.raises(ValueError, match=f"{verb} works on a 3-D volume"):
        getattr(stacked.microct, verb)(**kwargs)


def test_intensity_units_follow_the_declaration():
    vol = _image()
    assert vol.microct.gaussian(sigma=1).attrs["units"] == "1/cm"
    assert vol.microct.threshold_value().attrs["units"] == "1/cm"
    assert "units" not in vol.microct.threshold().attrs
    assert "units" not in vol.microct.normalize().attrs
    assert "units" not in vol.microct.tubeness(sigma=1).attrs
    assert _mask().microct.distance_transform().attrs["units"] == "micrometer"
    tree = vol.microct.pyramid(levels=2)
    assert all(tree[n]["scan"].attrs["units"] == "1/cm" for n in tree.children)


def test_a_verb_breaking_its_declaration_is_a_clear_error():
    @operation("returns_numpy_for_test")
    def returns_numpy_for_test(volume: xr.DataArray) -> xr.DataArray:
        return volume.copy(data=np.asarray(volume.values))

    @operation("returns_table_for_test", returns="volume")
    def returns_table_for_test(volume: xr.DataArray) -> xr.DataArray:
        return pd.DataFrame({"a": [1]})

    try:
        with pytest.raises(TypeError, match="declared lazy but returned computed data"):
            _image().microct.returns_numpy_for_test()
        with pytest.raises(TypeError, match="declared to return a volume, got DataFrame"):
            _image().microct.returns_table_for_test()
        with pytest.raises(ValueError, match="declare on_tree='level'"):
            operation("mapped_scalar_for_test", returns="scalar", on_tree="map")(lambda v: v)
        with pytest.raises(ValueError, match="cannot be lazy"):
            operation("lazy_table_for_test", returns="table", lazy=True)(lambda v: v)
    finally:
        for name in ("returns_numpy_for_test", "returns_table_for_test"):
            del REGISTRY[name]


def test_a_verb_on_tables_continues_the_chain_of_the_table():
    @operation("count_rows_for_test", takes="table", returns="table")
    def count_rows_for_test(table: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"rows": [len(table)]})

    try:
        table = _labels().microct.regionprops()
        counted = count_rows_for_test(table)
        ops = [r["op"] for r in counted.attrs[PROVENANCE_KEY]]
        assert ops == ["regionprops", "count_rows_for_test"]
        pd.testing.assert_frame_equal(mct.replay(counted, _labels()), counted)
        with pytest.raises(TypeError, match="works on a table"):
            count_rows_for_test(_labels())
        assert not hasattr(_labels().microct, "count_rows_for_test")
    finally:
        del REGISTRY["count_rows_for_test"]


def test_on_a_pyramid_each_level_records_its_own_voxels_and_the_same_length():
    tree = _opened(_image).microct.pyramid(levels=2)
    smooth = tree.microct.gaussian(sigma=2)
    # level 1 is (2, 2, 2) um: xy halved, z kept (the pyramid first evens out spacing)
    for node, voxels in (("scale0", [1.0, 2.0, 2.0]), ("scale1", [1.0, 1.0, 1.0])):
        assert [2 / s for s in tree[node]["scan"].microct.grid.spacing] == voxels
        chain = smooth[node]["scan"].attrs[PROVENANCE_KEY]
        assert chain[:-1] == tree[node]["scan"].attrs[PROVENANCE_KEY]
        assert chain[-1]["params"]["sigma"] == "2 micrometer"
        assert chain[-1]["resolved"]["sigma"] == voxels


def test_a_dataset_result_carries_the_chain_on_itself_and_every_variable():
    @operation("stats_for_test")
    def stats_for_test(volume: xr.DataArray) -> xr.Dataset:
        return xr.Dataset({"mean": volume.mean(), "inverted": -volume})

    try:
        original = _opened(_image)
        stats = original.microct.stats_for_test()
        assert REGISTRY["stats_for_test"].returns == "dataset"
        for attrs in (stats.attrs, stats["mean"].attrs, stats["inverted"].attrs):
            ops = [r["op"] for r in attrs[PROVENANCE_KEY]]
            assert ops == ["open_volume", "stats_for_test"]
        xr.testing.assert_allclose(mct.replay(stats, original), stats)
    finally:
        del REGISTRY["stats_for_test"]


def test_what_a_verb_estimates_is_recorded_in_its_record_not_left_in_attrs():
    @operation("estimates_mean_for_test", returns="table")
    def estimates_mean_for_test(volume: xr.DataArray, cut: float | None = None):
        estimated = cut is None
        cut = float(volume.mean()) if estimated else cut
        table = pd.DataFrame({"above": [int((volume > cut).sum())]})
        if estimated:
            table.attrs[ESTIMATED_KEY] = {"cut": cut}
        return table

    try:
        image = _image()
        table = estimates_mean_for_test(image)
        record = table.attrs[PROVENANCE_KEY][-1]
        assert record["params"] == {"cut": None}
        assert record["estimated"] == {"cut": pytest.approx(float(image.mean()))}
        assert ESTIMATED_KEY not in table.attrs
        given = estimates_mean_for_test(image, cut=0.5)
        assert "estimated" not in given.attrs[PROVENANCE_KEY][-1]
    finally:
        del REGISTRY["estimates_mean_for_test"]


def test_the_declared_verbs_are_those_their_modules_register():
    # the table in xarray_microct/__init__.py: each verb's module, and no verb left out
    declared = {}
    for module, names in mct._VERB_MODULES.items():
        importlib.import_module(f"xarray_microct.ops.{module}")
        declared.update(dict.fromkeys(names, f"xarray_microct.ops.{module}"))
    for info in pkgutil.walk_packages(mct.ops.__path__, prefix="xarray_microct.ops."):
        importlib.import_module(info.name)
    registered = {
        name: op.func.__module__
        for name, op in REGISTRY.loaded.items()
        if op.func.__module__.startswith("xarray_microct.")
    }
    assert registered == declared


def test_a_verb_is_listed_and_a_method_before_its_module_is_imported():
    code = (
        "import inspect, sys, numpy as np, xarray_microct as mct\n"
        "ops = lambda: sorted(m for m in sys.modules if m.startswith('xarray_microct.ops'))\n"
        "assert ops() == [], ops()\n"
        "assert 'watershed' in mct.REGISTRY and 'watershed' not in mct.REGISTRY.loaded\n"
        "vol = mct.from_array(np.zeros((4, 4, 4)), spacing=0.5)\n"
        "assert 'watershed' in dir(vol.microct)\n"
        "assert 'tubeness' in dir(mct.accessor.MicroCTTreeAccessor)\n"
        "assert ops() == [], ops()\n"
        "out = vol.microct.invert()\n"  # imports its own module only
        "assert ops() == ['xarray_microct.ops', 'xarray_microct.ops.intensity'], ops()\n"
        "assert out.attrs['microct_provenance'][-1]['op'] == 'invert'\n"
        "method = mct.accessor.MicroCTArrayAccessor.tubeness\n"  # help() and docs read this
        "assert 'sigma' in inspect.signature(method).parameters and method.__doc__\n"
        "assert 'xarray_microct.ops.hessian' in sys.modules\n"
        "assert sorted(mct.REGISTRY) == sorted(name for name, _ in mct.REGISTRY.items())\n"
        "assert set(mct.REGISTRY.loaded) == set(mct.REGISTRY)\n"
        "print('ok')\n"
    )
    assert fresh_python(code) == "ok"


def test_declared_verbs_of_a_module_imported_on_first_use(tmp_path, monkeypatch):
    (tmp_path / "verbs_for_test.py").write_text(
        "import pandas as pd\n"
        "from xarray_microct.core.registry import operation\n"
        "@operation('halve_for_test', intensity_units='keep')\n"
        "def halve_for_test(volume):\n"
        "    return volume / 2\n"
        "@operation('rows_for_test', takes='table', returns='table')\n"
        "def rows_for_test(table: pd.DataFrame) -> pd.DataFrame:\n"
        "    return pd.DataFrame({'rows': [len(table)]})\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    names = ["halve_for_test", "rows_for_test", "missing_for_test"]
    declare_verbs("verbs_for_test", names)
    try:
        assert "verbs_for_test" not in sys.modules
        assert set(names) <= set(REGISTRY) and not set(names) & set(REGISTRY.loaded)
        image = _image()
        assert "halve_for_test" in dir(image.microct)
        halved = image.microct.halve_for_test()  # imports the module
        assert "verbs_for_test" in sys.modules
        np.testing.assert_array_equal(halved.values, image.values / 2)
        assert [r["op"] for r in halved.attrs[PROVENANCE_KEY]][-1] == "halve_for_test"
        assert REGISTRY["rows_for_test"].takes == "table"
        assert not hasattr(image.microct, "rows_for_test")  # a verb on tables: no method
        with pytest.raises(ImportError, match="did not register it"):
            REGISTRY["missing_for_test"]
        with pytest.raises(ImportError, match="did not register it"):
            image.microct.missing_for_test  # noqa: B018
    finally:
        for name in names:
            del REGISTRY[name]
        for cls in (mct.accessor.MicroCTArrayAccessor, mct.accessor.MicroCTTreeAccessor):
            delattr(cls, "halve_for_test")  # a registered verb's method stays (as ever)
    assert not set(names) & set(REGISTRY)
    for name in names:
        assert not hasattr(image.microct, name)
        assert name not in dir(mct.accessor.MicroCTTreeAccessor)


def test_a_declared_verb_taken_out_of_the_registry_is_no_method():
    declare_verbs("xarray_microct.ops.intensity", ["withdrawn_for_test"])
    assert "withdrawn_for_test" in dir(_image().microct)
    del REGISTRY["withdrawn_for_test"]
    assert not hasattr(_image().microct, "withdrawn_for_test")
    assert "withdrawn_for_test" not in dir(mct.accessor.MicroCTTreeAccessor)


# ------------------------------------------------- operations pickle by their name


def _is_the_registered_one(op: Operation) -> bool:
    return op is REGISTRY[op.name]


def test_operations_pickle_by_name_to_the_registered_one():
    for op in REGISTRY.values():
        for dumps in (pickle.dumps, cloudpickle.dumps):
            assert pickle.loads(dumps(op)) is op, op.name
    # unpickled where its module was never imported: the registered one, by reference
    data = pickle.dumps(REGISTRY["gaussian"])
    code = (
        "import pickle, sys\n"
        f"op = pickle.loads({data!r})\n"
        "from xarray_microct.core.registry import REGISTRY\n"
        "print(op is REGISTRY['gaussian'], op.func.__module__ in sys.modules)\n"
    )
    assert fresh_python(code) == "True True"


def test_an_operation_reaches_dask_workers_as_the_registered_one():
    distributed = pytest.importorskip("distributed")
    op = REGISTRY["gaussian"]
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # tasks are pickled on their way to the scheduler, even in one process
        assert client.submit(_is_the_registered_one, op).result()
        assert client.submit(REGISTRY.__getitem__, "gaussian").result() is op


def test_an_operation_not_in_the_registry_is_pickled_by_value():
    op = REGISTRY["gaussian"]
    stranger = dataclasses.replace(op, lengths={})
    copy = cloudpickle.loads(cloudpickle.dumps(stranger))
    assert copy is not op and copy.name == op.name and copy.lengths == {}


def test_a_verb_of_main_is_pickled_by_value(monkeypatch):
    op = REGISTRY["gaussian"]
    monkeypatch.setattr(op.func, "__module__", "__main__")  # as a script's own verb
    copy = cloudpickle.loads(cloudpickle.dumps(op))
    assert copy is not op and copy.name == op.name and copy.lengths == op.lengths
