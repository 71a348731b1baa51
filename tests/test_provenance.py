"""Provenance records, the history line, and replay of a chain on another volume."""

import json

import numpy as np
import pytest

import xarray_microct as mct
from xarray_microct.core.registry import REGISTRY, operation
from xarray_microct.core.volume import wrap_like


def _volume(seed, spacing=(2.0, 1.0, 1.0)):
    data = np.random.default_rng(seed).integers(0, 4000, (18, 20, 22)).astype("uint16")
    return mct.from_array(data, spacing=spacing, chunks=(7, 9, 11))


def _chain(vol):
    return (
        vol.microct.median(radius="1 voxel")
        .microct.gaussian(sigma="2 um")
        .microct.unsharp_mask(sigma="2 um", amount=0.7)
        .microct.normalize(lower=2, upper=98)
    )


def test_each_verb_appends_a_complete_json_record():
    result = _chain(_volume(0))
    records = result.attrs["microct_provenance"]
    assert [r["op"] for r in records] == ["median", "gaussian", "unsharp_mask", "normalize"]
    gaussian = records[1]
    assert gaussian["params"] == {
        "sigma": "2 um",
        "truncate": 4.0,
        "mode": "nearest",
        "nan_policy": "raise",
    }
    assert gaussian["resolved"] == {"sigma": [1.0, 2.0, 2.0]}
    assert {"xarray_microct", "numpy", "dask", "xarray", "scipy"} <= set(gaussian["versions"])
    assert gaussian["time"].endswith("Z")
    assert json.loads(json.dumps(records)) == records
    history = result.attrs["history"].splitlines()
    assert len(history) == 4 and "gaussian(sigma='2 um'" in history[1]


def test_inputs_are_not_mutated():
    vol = _volume(0)
    before = dict(vol.attrs)
    _chain(vol)
    assert vol.attrs == before


def test_replay_reproduces_a_chain_exactly_on_another_volume():
    first = _chain(_volume(0))
    other = _volume(1)
    replayed = mct.replay(first, other)
    np.testing.assert_array_equal(replayed.values, _chain(other).values)
    strip = [{k: r[k] for k in ("op", "params", "resolved")} for r in
             replayed.attrs["microct_provenance"]]
    assert strip == [{k: r[k] for k in ("op", "params", "resolved")} for r in
                     first.attrs["microct_provenance"]]


def test_replay_from_json_records_and_from_a_zarr_store(tmp_path):
    first = _chain(_volume(0))
    records = json.loads(json.dumps(first.attrs["microct_provenance"]))
    other = _volume(2)
    np.testing.assert_array_equal(
        mct.replay(records, other).values, _chain(other).values
    )
    first.to_zarr(tmp_path / "first.zarr")
    reopened = mct.open_volume(tmp_path / "first.zarr")
    np.testing.assert_array_equal(mct.replay(reopened, other).values, _chain(other).values)


def test_physical_lengths_replay_physically_on_another_spacing():
    first = _volume(0).microct.gaussian(sigma="2 um")
    coarse = _volume(1, spacing=(2.0, 2.0, 2.0))
    record = mct.replay(first, coarse).attrs["microct_provenance"][-1]
    assert record["resolved"]["sigma"] == [1.0, 1.0, 1.0]


def test_replay_refuses_what_it_cannot_rerun():
    with pytest.raises(ValueError, match="unknown operation 'sharpen_more'"):
        mct.replay([{"op": "sharpen_more", "params": {}}], _volume(0))
    with pytest.raises(ValueError, match="unexpected keyword"):
        mct.replay([{"op": "gaussian", "params": {"sigma": 1, "radius": 2}}], _volume(0))
    with pytest.raises(ValueError, match="no provenance"):
        mct.replay(object(), _volume(0))


def test_unserialisable_parameters_are_recorded_but_not_replayed():
    @operation("add_array_for_test")
    def add_array_for_test(volume, other):
        return wrap_like(volume, volume.data + np.asarray(other))

    try:
        result = add_array_for_test(_volume(0), np.ones((18, 20, 22)))
        record = result.attrs["microct_provenance"][-1]
        assert record["params"]["other"]["unserialisable"] == "ndarray"
        assert record["replayable"] is False
        with pytest.raises(ValueError, match="cannot be stored"):
            mct.replay(result, _volume(1))
    finally:
        del REGISTRY["add_array_for_test"]


def test_source_records_are_skipped_by_replay(tmp_path):
    vol = _volume(0)
    vol.to_zarr(tmp_path / "raw.zarr")
    opened = mct.open_volume(tmp_path / "raw.zarr")
    result = opened.microct.gaussian(sigma=1)
    assert [r["op"] for r in result.attrs["microct_provenance"]] == ["open_volume", "gaussian"]
    replayed = mct.replay(result, _volume(1))
    assert [r["op"] for r in replayed.attrs["microct_provenance"]] == ["gaussian"]


def test_a_result_on_one_stored_pyramid_level_replays_on_that_level(tmp_path):
    """A chain computed on level 1 of a stored pyramid (``open_volume(store, level=1)``)
    replays as that level of the other volume's pyramid, as ``microct run`` replays its
    exported file; a chain on every level of a pyramid still replays as a pyramid."""
    _volume(0).microct.pyramid().microct.to_zarr(tmp_path / "pyr.ome.zarr", version="0.5")
    level = mct.open_volume(tmp_path / "pyr.ome.zarr", level=1)
    result = level.microct.gaussian(sigma="2 um")
    other = mct.from_array(
        np.random.default_rng(3).integers(0, 4000, (20, 24, 26)).astype("uint16"),
        spacing=(2.0, 1.0, 1.0),
        chunks=(7, 9, 11),
    )
    replayed = mct.replay(result, other)
    expected = other.microct.pyramid().microct.gaussian(sigma="2 um", level=1)
    assert replayed.shape == expected.shape != other.shape
    np.testing.assert_array_equal(replayed.values, expected.values)
    tree = _volume(0).microct.pyramid().microct.gaussian(sigma="2 um")
    again = mct.replay(tree, other)
    assert again.microct.levels == other.microct.pyramid().microct.levels


def test_registered_verbs_are_accessor_methods_with_docs():
    for name in ("gaussian", "median", "unsharp_mask", "normalize"):
        method = getattr(_volume(0).microct, name)
        assert method.__doc__ and "Examples" in method.__doc__
        assert name in REGISTRY


@pytest.mark.parametrize(
    ("name", "param", "close"),
    [
        ("fibers", "radiuss=3", "radius"),
        ("fibers", "max_gapp=2", "max_gap"),
        ("fibers", "min_slice=2", "min_slices"),
        ("beads", "bead_radiuss=3", "bead_radius"),
    ],
)
def test_misspelt_builtin_pipeline_parameter_named_before_the_input(name, param, close):
    """``microct run fibers IN OUT --param radiuss=3`` is refused when the pipeline is
    read, before the input is opened, naming the close parameter; the fiber pipeline's
    parameters for ``detect_fibers`` (``max_gap``...) were checked only when it ran on
    the input, without the close name."""
    from xarray_microct.pipeline_file import load_pipeline

    with pytest.raises(ValueError, match=rf"\(did you mean '{close}'\?\)"):
        load_pipeline(name, [param])
    assert load_pipeline(name, [f"{close}=3"]).params == {close: 3}


def test_the_fiber_pipeline_passes_detect_fibers_defaults():
    """The fiber pipeline's own defaults for ``detect_fibers``'s parameters are that
    verb's, so that leaving them out means the same thing in both."""
    import inspect

    from xarray_microct.ops.fibers import detect_fibers
    from xarray_microct.pipelines.fibers import fibers

    verb = inspect.signature(detect_fibers).parameters
    for parameter in list(inspect.signature(fibers).parameters.values())[1:]:
        if parameter.name in verb:
            assert parameter.default == verb[parameter.name].default, parameter.name
