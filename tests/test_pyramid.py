"""The pyramid verb: chunk-exact downsampling against whole-array references."""

from __future__ import annotations

import math

import dask.array as da
import numpy as np
import pytest
import scipy.ndimage as ndi
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

import xarray_microct as mct
from xarray_microct.ops.pyramid import downsample_array, plan_levels
from xarray_microct.pipeline_file import pipeline_from_records
from xarray_microct.testing import raise_if_dask_computes

# --- independent whole-array references ------------------------------------------------


def gaussian_matrix(n: int, f: int) -> np.ndarray:
    """Rows of weights: output i = Gaussian centred on its block, border clamped."""
    m = n // f
    if f == 1:
        return np.eye(n)
    sigma = math.sqrt(f * f - 1) / (2 * math.sqrt(2 * math.log(2)))
    matrix = np.zeros((m, n))
    for i in range(m):
        centre = f * i + (f - 1) / 2
        for j in range(math.ceil(centre - 4 * sigma), math.floor(centre + 4 * sigma) + 1):
            matrix[i, min(max(j, 0), n - 1)] += math.exp(-((j - centre) ** 2) / (2 * sigma**2))
        matrix[i] /= matrix[i].sum()
    return matrix


def reference_gaussian(a: np.ndarray, factor: tuple[int, ...]) -> np.ndarray:
    out = a.astype(np.float64)
    for axis, f in enumerate(factor):
        out = np.moveaxis(
            np.tensordot(gaussian_matrix(out.shape[axis], f), np.moveaxis(out, axis, 0), axes=1),
            0,
            axis,
        )
    return out


def crop(a: np.ndarray, factor: tuple[int, ...]) -> np.ndarray:
    return a[tuple(slice(0, (n // f) * f) for n, f in zip(a.shape, factor, strict=True))]


def reference_mean(a: np.ndarray, factor: tuple[int, ...]) -> np.ndarray:
    c = crop(a, factor).astype(np.float64)
    m = [n // f for n, f in zip(a.shape, factor, strict=True)]
    return c.reshape(m[0], factor[0], m[1], factor[1], m[2], factor[2]).mean(axis=(1, 3, 5))


def reference_mode(a: np.ndarray, factor: tuple[int, ...]) -> np.ndarray:
    m = [n // f for n, f in zip(a.shape, factor, strict=True)]
    out = np.empty(m, dtype=a.dtype)
    for i, j, k in np.ndindex(*m):
        block = a[
            i * factor[0] : (i + 1) * factor[0],
            j * factor[1] : (j + 1) * factor[1],
            k * factor[2] : (k + 1) * factor[2],
        ]
        values, counts = np.unique(block, return_counts=True)
        out[i, j, k] = values[np.argmax(counts)]  # first maximum: the smallest label
    return out


# --- strategies ----------------------------------------------------------------------

factors = st.tuples(*[st.integers(1, 3)] * 3).filter(lambda f: max(f) > 1)


@st.composite
def volumes(draw, dtype=np.float64):
    shape = tuple(draw(st.integers(3, 30)) for _ in range(3))
    chunks = tuple(
        tuple(draw(st.lists(st.integers(1, 12), min_size=1, max_size=8))) for _ in range(3)
    )
    # turn the drawn sizes into a valid irregular chunking of each axis
    valid = []
    for n, sizes in zip(shape, chunks, strict=True):
        axis, total = [], 0
        for s in sizes:
            if total + s >= n:
                break
            axis.append(s)
            total += s
        axis.append(n - total)
        valid.append(tuple(axis))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        array = rng.random(shape).astype(dtype)
    else:
        array = rng.integers(0, draw(st.integers(2, 6)), shape).astype(dtype)
    return array, tuple(valid)


# --- correctness across chunkings ------------------------------------------------------


@given(volumes(), factors, st.sampled_from(["gaussian", "mean"]))
def test_filters_match_whole_array_reference(case, factor, method):
    array, chunks = case
    if min(n // f for n, f in zip(array.shape, factor, strict=True)) < 1:
        return
    chunked = downsample_array(da.from_array(array, chunks=chunks), factor, method).compute()
    whole = downsample_array(da.from_array(array, chunks=-1), factor, method).compute()
    reference = (reference_gaussian if method == "gaussian" else reference_mean)(array, factor)
    assert chunked.shape == reference.shape
    np.testing.assert_array_equal(chunked, whole)  # bitwise, whatever the chunking
    np.testing.assert_allclose(chunked, reference, rtol=1e-12, atol=1e-12)


@given(volumes(dtype=np.int32), factors)
def test_mode_matches_reference_and_never_invents_labels(case, factor):
    labels, chunks = case
    if min(n // f for n, f in zip(labels.shape, factor, strict=True)) < 1:
        return
    out = downsample_array(da.from_array(labels, chunks=chunks), factor, "mode").compute()
    np.testing.assert_array_equal(out, reference_mode(crop(labels, factor), factor))
    assert set(np.unique(out)) <= set(np.unique(labels))


@given(volumes(dtype=np.uint16), factors)
def test_integer_levels_keep_dtype_and_round(case, factor):
    array, chunks = case
    if min(n // f for n, f in zip(array.shape, factor, strict=True)) < 1:
        return
    x = da.from_array(array, chunks=chunks)
    mean = downsample_array(x, factor, "mean").compute()
    assert mean.dtype == np.uint16
    np.testing.assert_array_equal(mean, np.rint(reference_mean(array, factor)))
    gauss = downsample_array(x, factor, "gaussian").compute()
    assert np.abs(gauss.astype(float) - reference_gaussian(array, factor)).max() <= 0.5 + 1e-3
    stride = downsample_array(x, factor, "stride").compute()
    np.testing.assert_array_equal(
        stride, crop(array, factor)[:: factor[0], :: factor[1], :: factor[2]]
    )


@pytest.mark.parametrize("factor", [(3, 3, 3), (3, 1, 3)])
def test_gaussian_matches_scipy_for_odd_factors(factor):
    # For an odd factor the block centre is a voxel: the result is scipy's Gaussian
    # (same sigma, same reach, nearest border) sampled at the block centres.
    rng = np.random.default_rng(3)
    array = rng.random((25, 20, 31))
    x = da.from_array(array, chunks=(6, 7, 8))
    out = downsample_array(x, factor, "gaussian").compute()
    expected = array
    for axis, f in enumerate(factor):
        if f == 1:
            continue
        sigma = math.sqrt(f * f - 1) / (2 * math.sqrt(2 * math.log(2)))
        reach = math.floor(4 * sigma)
        expected = ndi.gaussian_filter1d(
            expected, sigma, axis=axis, mode="nearest", truncate=(reach - 0.49) / sigma
        )
        index = [slice(None)] * 3
        index[axis] = slice((f - 1) // 2, (array.shape[axis] // f) * f, f)
        expected = expected[tuple(index)]
    np.testing.assert_allclose(out, expected, rtol=1e-12)


# --- the verb ----------------------------------------------------------------------------


def make_volume(shape=(40, 48, 56), spacing=(2.0, 0.5, 0.5), chunks=16, dtype="uint16"):
    rng = np.random.default_rng(0)
    array = rng.integers(0, 4000, shape).astype(dtype)
    return mct.from_array(
        array,
        spacing=spacing,
        chunks=chunks,
        name="scan",
        origin=(1.0, 2.0, 3.0),
        attrs={"long_name": "attenuation"},
    )


def test_pyramid_tree_levels_coords_units_and_provenance():
    vol = make_volume(spacing=(0.5, 0.5, 0.5))
    with raise_if_dask_computes():
        tree = vol.microct.pyramid(levels=3, method="mean")
    assert isinstance(tree, xr.DataTree)
    assert list(tree.children) == ["scale0", "scale1", "scale2"]
    xr.testing.assert_equal(tree["scale0"]["scan"], vol)
    level = tree["scale2"]["scan"]
    assert level.shape == (10, 12, 14) and level.dtype == np.uint16
    assert level.chunks == ((10,), (12,), (14,))
    grid = level.microct.grid
    assert grid.spacing == (2.0, 2.0, 2.0) and grid.units == "micrometer"
    # a 4x4x4 block of centres 0..3 has its centre at 1.5 voxels of the finest grid
    assert grid.origin == pytest.approx((1.0 + 1.5 * 0.5, 2.0 + 1.5 * 0.5, 3.0 + 1.5 * 0.5))
    np.testing.assert_allclose(level.x.values, vol.x.values[: 14 * 4].reshape(14, 4).mean(axis=1))
    assert level.attrs["long_name"] == "attenuation"
    for name in tree.children:
        record = tree[name]["scan"].attrs["microct_provenance"][-1]
        assert record["op"] == "pyramid"
        assert record["params"] == {
            "levels": 3,
            "factor": 2,
            "method": "mean",
            "nan_policy": "propagate",
        }
        assert record["estimated"] == {"levels": 3}
    # each level is made from the one before, rounded to the dtype
    level1 = np.rint(reference_mean(vol.values, (2, 2, 2)))
    np.testing.assert_array_equal(level.values, np.rint(reference_mean(level1, (2, 2, 2))))


def test_stride_keeps_origin():
    vol = make_volume()
    level = vol.microct.pyramid(levels=2, method="stride", factor=(1, 2, 2))["scale1"]["scan"]
    np.testing.assert_array_equal(level.x.values, vol.x.values[::2][: level.sizes["x"]])
    np.testing.assert_array_equal(level.values, vol.values[:, ::2, ::2])


def test_anisotropic_levels_keep_thick_slices_until_pixels_catch_up():
    vol = make_volume(shape=(16, 64, 64), spacing=(2.0, 0.5, 0.5), chunks=8)
    tree = vol.microct.pyramid(levels=4)
    shapes = [tree[n]["scan"].shape for n in tree.children]
    spacings = [tree[n]["scan"].microct.grid.spacing for n in tree.children]
    assert shapes == [(16, 64, 64), (16, 32, 32), (16, 16, 16), (8, 8, 8)]
    assert spacings[-1] == (4.0, 4.0, 4.0)
    # z untouched while it was the coarse axis: its coordinate is exactly the input's
    np.testing.assert_array_equal(tree["scale2"]["scan"].z.values, vol.z.values)


def test_levels_none_stops_when_every_axis_fits_one_chunk_or_a_level_holds_one_chunk():
    assert plan_levels((512, 512, 512), (1, 1, 1), (128,) * 3, (2, 2, 2)) == [(2, 2, 2)] * 2
    assert plan_levels((100, 100, 100), (1, 1, 1), (128,) * 3, (2, 2, 2)) == []
    # a thin stack of isotropic voxels thins in z with x and y (isotropic levels), until
    # x and y fit one chunk; its chunking along z plays no part
    assert plan_levels((32, 512, 512), (1, 1, 1), (32, 128, 128), (2, 2, 2)) == [(2, 2, 2)] * 2
    # ... z stops below 2 voxels (a level is never less than one voxel thick), and the
    # levels stop at 1 x 256 x 256 voxels, as many as one chunk of 4 x 128 x 128 holds
    assert plan_levels((4, 4096, 4096), (1, 1, 1), (4, 128, 128), (2, 2, 2)) == [
        (2, 2, 2),
        (2, 2, 2),
        (1, 2, 2),
        (1, 2, 2),
    ]
    # one-slice chunks: z never fits one chunk until a level is one slice thick, so the
    # levels went on to 1 x 2 x 2 (9 levels); they stop at one chunk's voxels (16 x 32 x 32)
    assert plan_levels((256, 512, 512), (1, 1, 1), (1, 128, 128), (2, 2, 2)) == [(2, 2, 2)] * 4
    stack = make_volume(shape=(64, 64, 64), spacing=1.0, chunks=(1, 64, 64)).microct.pyramid()
    assert [stack[n]["scan"].shape for n in stack.children] == [(64,) * 3, (32,) * 3, (16,) * 3]
    vol = make_volume(shape=(20, 40, 40), spacing=1.0, chunks=10)
    assert list(vol.microct.pyramid().children) == ["scale0", "scale1", "scale2"]


def test_per_axis_factor_one_never_downsamples_that_axis():
    vol = make_volume(spacing=1.0)
    tree = vol.microct.pyramid(levels=3, factor=(1, 2, 2))
    assert tree["scale2"]["scan"].shape == (40, 12, 14)


def test_leading_channel_axis_is_kept():
    rng = np.random.default_rng(1)
    array = rng.random((2, 12, 14, 16))
    vol = mct.from_array(array, spacing=1.0, chunks=(1, 5, 5, 5), name="multi")
    level = vol.microct.pyramid(levels=2, method="gaussian")["scale1"]["multi"]
    assert level.dims == ("c", "z", "y", "x") and level.shape == (2, 6, 7, 8)
    for c in range(2):
        np.testing.assert_allclose(level.values[c], reference_gaussian(array[c], (2, 2, 2)))


def test_tree_input_uses_finest_level_and_bool_masks_work():
    vol = make_volume(spacing=1.0)
    mask = (vol > 2000).rename("mask")
    tree = xr.DataTree.from_dict({"scale0": mask.to_dataset()})
    out = tree.microct.pyramid(levels=2, method="mode")
    level = out["scale1"]["mask"]
    assert level.dtype == bool
    np.testing.assert_array_equal(
        level.values, reference_mode(crop(mask.values, (2, 2, 2)), (2, 2, 2))
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"method": "median"}, ValueError, "method must be one of"),
        ({"factor": 0}, ValueError, "factor must be"),
        ({"factor": (2, 2)}, TypeError, "three integers"),
        ({"factor": 2.5}, TypeError, "integer"),
        ({"levels": 0}, ValueError, "levels must be"),
        ({"levels": 12}, ValueError, "cannot make 12 levels"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_volume().microct.pyramid(**kwargs)


def test_a_volume_in_one_chunk_still_gets_a_coarse_level():
    vol = mct.from_array(np.zeros((100, 256, 256), "uint8"), chunks=-1)
    tree = vol.microct.pyramid()
    assert tree.microct.levels == ["/scale0", "/scale1"]
    # isotropic voxels: z halves with x and y, though it fits in one chunk
    assert tree.microct.select_level(1).shape == (50, 128, 128)


# --- the plan depends on the spacing, not on the chunks ----------------------------------

spacings = st.tuples(*[st.sampled_from([0.5, 0.7, 1.0, 2.0, 2.6, 8.0])] * 3)
chunkings = st.tuples(*[st.integers(1, 160)] * 3)


@given(
    st.tuples(*[st.integers(1, 600)] * 3),
    spacings,
    chunkings,
    chunkings,
    st.tuples(*[st.integers(1, 3)] * 3).filter(lambda f: max(f) > 1),
)
def test_plan_depends_on_chunks_only_through_the_level_count(shape, spacing, a, b, factor):
    plan_a = plan_levels(shape, spacing, a, factor)
    plan_b = plan_levels(shape, spacing, b, factor)
    shorter, longer = sorted((plan_a, plan_b), key=len)
    assert longer[: len(shorter)] == shorter  # the same factors, more or fewer levels
    # the factors are those of an explicit number of levels, which ignores the chunks
    if longer:
        assert plan_levels(shape, spacing, (1, 1, 1), factor, len(longer) + 1) == longer
    level, step_spacing = list(shape), list(spacing)
    for step in longer:
        assert all(f in (1, g) for f, g in zip(step, factor, strict=True)) and max(step) > 1
        assert all(n // f >= 1 for n, f in zip(level, step, strict=True))
        finest = min(
            s for s, n, g in zip(step_spacing, level, factor, strict=True) if g > 1 and n >= g
        )
        for axis, f in enumerate(step):  # the finest shrinkable axis is always downsampled
            if step_spacing[axis] == finest and level[axis] >= factor[axis] > 1:
                assert f == factor[axis]
        level = [n // f for n, f in zip(level, step, strict=True)]
        step_spacing = [s * f for s, f in zip(step_spacing, step, strict=True)]
    for plan, chunks in ((plan_a, a), (plan_b, b)):  # levels=None stops at one chunk
        before, end = None, list(shape)
        for step in plan:
            before, end = end, [n // f for n, f in zip(end, step, strict=True)]
        assert math.prod(end) <= math.prod(chunks) or all(
            n <= c or n < g or g == 1 for n, c, g in zip(end, chunks, factor, strict=True)
        )
        if before is not None:  # ... and not before: the level before held more than one
            assert math.prod(before) > math.prod(chunks)


@given(
    st.tuples(*[st.integers(2, 40)] * 3),
    spacings,
    chunkings,
    st.sampled_from(["mean", "stride", "gaussian"]),
)
def test_every_level_has_consistent_coordinates_whatever_the_chunking(
    shape, spacing, chunks, method
):
    chunks = tuple(min(c, 12) for c in chunks)
    vol = mct.from_array(
        np.zeros(shape, "float32"),
        spacing=spacing,
        chunks=chunks,
        origin=(1.0, -2.0, 0.5),
        name="scan",
    )
    tree = vol.microct.pyramid(method=method)
    other = vol.chunk(-1).microct.pyramid(method=method, levels=len(tree.children))
    finest = vol.microct.grid
    for name in tree.children:
        level = tree[name]["scan"]
        grid = level.microct.grid
        assert level.shape == other[name]["scan"].shape  # chunking: the count only
        assert grid.spacing == other[name]["scan"].microct.grid.spacing
        factor = [round(s / f) for s, f in zip(grid.spacing, finest.spacing, strict=True)]
        for dim, s, f, o, f0, n in zip(
            "zyx", grid.spacing, factor, grid.origin, finest.origin, level.shape, strict=True
        ):
            values = level[dim].values
            np.testing.assert_allclose(np.diff(values), s, rtol=1e-9)  # regular, spacing s
            shift = 0.0 if method == "stride" else (f - 1) / 2 * finest.spacing["zyx".index(dim)]
            assert o == pytest.approx(f0 + shift)  # the centre of the first block
            assert n == shape["zyx".index(dim)] // f  # (n // a) // b == n // (a * b)


def test_one_slice_chunks_and_odd_chunks_give_isotropic_levels():
    # a TIFF stack read one slice per chunk: its z no longer halves alone
    vol = mct.from_array(
        np.zeros((64, 128, 128), "uint8"), spacing=(2.0, 0.5, 0.5), chunks=(1, 128, 128)
    )
    tree = vol.microct.pyramid()
    spacings = [
        tree.microct.select_level(k).microct.grid.spacing for k in range(len(tree.children))
    ]
    assert spacings[:4] == [(2.0, 0.5, 0.5), (2.0, 1.0, 1.0), (2.0, 2.0, 2.0), (4.0, 4.0, 4.0)]
    assert all(max(s) / min(s) <= 4 for s in spacings)
    fibers = mct.from_array(np.zeros((40, 80, 112), "uint8"), spacing=1.0, chunks=(13, 80, 30))
    assert fibers.microct.pyramid().microct.select_level(1).shape == (20, 40, 56)


# --- a pyramid of a pyramid ----------------------------------------------------------------


def _ops(volume):
    return [r["op"] for r in volume.attrs["microct_provenance"]]


def test_pyramid_of_a_pyramid_is_the_pyramid_of_its_full_resolution():
    vol = make_volume(spacing=1.0)
    tree = vol.microct.pyramid(levels=2, method="mean")
    again = vol.microct.pyramid(levels=3, method="mean")
    for made in (
        tree.microct.pyramid(levels=3, method="mean"),
        tree.microct.pyramid(levels=3, method="mean", level=0),
        tree.microct.select_level(0).microct.pyramid(levels=3, method="mean"),
    ):
        assert list(made.children) == ["scale0", "scale1", "scale2"]
        for name in made.children:
            level = made[name]["scan"]
            assert _ops(level) == ["pyramid"]  # one record, the new one
            assert level.attrs["microct_provenance"][0]["params"]["levels"] == 3
            assert level.attrs["history"].count("pyramid(") == 1
            xr.testing.assert_identical(level.drop_attrs(), again[name]["scan"].drop_attrs())
        replayed = mct.replay(made, make_volume(spacing=1.0))
        assert replayed["scale2"]["scan"].shape == again["scale2"]["scan"].shape


def test_pyramid_of_a_level_in_memory_or_stored_replays_from_that_level(tmp_path):
    # was refused for a level taken in memory: its level was not recorded
    vol = make_volume(spacing=1.0)
    tree = vol.microct.pyramid(levels=3, method="mean")
    data = np.random.default_rng(1).integers(0, 4000, vol.shape).astype("uint16")
    other = mct.from_array(data, spacing=1.0, chunks=16, name="scan")
    other_tree = other.microct.pyramid(levels=3, method="mean")
    for made in (
        tree.microct.pyramid(level=1, levels=2, method="mean"),
        tree.microct.select_level(1).microct.pyramid(levels=2, method="mean"),
    ):
        coarse = made["scale1"]["scan"]
        assert _ops(coarse) == ["pyramid", "pyramid"]  # level 1 of the first, then the new
        assert coarse.attrs["microct_provenance"][0]["level"] == 1
        np.testing.assert_array_equal(coarse.values, tree["scale2"]["scan"].values)
        # the replay takes level 1 of the other scan's pyramid first
        replayed = mct.replay(made, other)
        np.testing.assert_array_equal(
            replayed["scale0"]["scan"].values, other_tree["scale1"]["scan"].values
        )
        np.testing.assert_array_equal(
            replayed["scale1"]["scan"].values, other_tree["scale2"]["scan"].values
        )
    # a node's volume read as it is: its level is not recorded
    with pytest.raises(ValueError, match="its level is not recorded"):
        tree["scale2"]["scan"].microct.pyramid()
    tree.microct.to_zarr(tmp_path / "scan.ome.zarr")
    stored = mct.open_volume(tmp_path / "scan.ome.zarr", level=1).microct.pyramid(
        levels=2, method="mean"
    )
    # the same levels as the full pyramid's, and a replay pyramids level 1 again
    np.testing.assert_array_equal(stored["scale1"]["scan"].values, tree["scale2"]["scan"].values)
    replayed = mct.replay(stored, make_volume(spacing=1.0))
    assert replayed["scale1"]["scan"].shape == tree["scale2"]["scan"].shape
    np.testing.assert_array_equal(replayed["scale1"]["scan"].values, tree["scale2"]["scan"].values)
    # a stored level 0 is the volume: the new pyramid replaces the stored one's record
    first = mct.open_volume(tmp_path / "scan.ome.zarr").microct.pyramid(levels=2)
    assert _ops(first["scale1"]["scan"]) == ["open_volume", "pyramid"]


def test_exported_records_with_a_pyramid_after_an_unrecorded_level_are_refused():
    # such records were made before pyramid() refused a level taken in memory; they
    # exported as two pyramid steps, which replay as the pyramid of the full resolution
    records = [
        {"op": "pyramid", "params": {"levels": 3}},
        {"op": "pyramid", "params": {"levels": 2}},
    ]
    with pytest.raises(ValueError, match="which level is not recorded"):
        pipeline_from_records(records)
    records[0]["level"] = 1  # recorded: a pyramid of level 1
    assert [s.get("level") for s in pipeline_from_records(records).steps] == [1, None]
