"""distance_transform: exact anisotropic EDT for any chunking, against scipy."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given
from hypothesis import strategies as st

import xarray_microct as mct
from xarray_microct.ops.distance import ball_union_envelope, edt_array
from xarray_microct.testing import raise_if_dask_computes


@st.composite
def masks_and_chunks(draw):
    shape = tuple(draw(st.integers(1, 30)) for _ in range(3))
    chunks = tuple(draw(st.integers(1, n)) for n in shape)
    density = draw(st.sampled_from([0.02, 0.3, 0.9, 0.995]))
    seed = draw(st.integers(0, 2**16))
    mask = np.random.default_rng(seed).random(shape) < density
    spacing = tuple(draw(st.sampled_from([0.5, 1.0, 1.3, 2.6])) for _ in range(3))
    return mask, chunks, spacing


@given(masks_and_chunks())
def test_equals_scipy_for_any_chunking(case):
    mask, chunks, spacing = case
    if mask.all():
        mask.flat[0] = False  # scipy's answer without background is meaningless
    vol = mct.from_array(mask, spacing=spacing, chunks=chunks)
    out = vol.microct.distance_transform().values
    ref = ndi.distance_transform_edt(mask, sampling=spacing)
    np.testing.assert_allclose(out, ref, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("chunks", [(16, 12, 20), (40, 5, 44), (7, 36, 3)])
def test_lines_of_blocks_on_a_cluster_equal_scipy(chunks):
    """On a two-worker cluster, with the mask's blocks hinted to the workers as the
    pipelines hint them (lines then placed where most of their blocks are)."""
    from distributed import Client, LocalCluster

    from xarray_microct.core.blocks.placement import block_hint, spread_over_workers

    rng = np.random.default_rng(7)
    mask = rng.random((40, 36, 44)) < 0.97
    mask[20:, 18:, 22:] = True  # one corner far from the background
    spacing = (2.0, 0.5, 1.3)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster,
        Client(cluster) as client,
    ):
        data = spread_over_workers(da.from_array(mask, chunks=chunks))
        assert block_hint(data) is not None
        out = edt_array(data, spacing).compute()
        squared = edt_array(data, spacing, squared=True).compute()
        assert len(client.scheduler_info()["workers"]) == 2
    ref = ndi.distance_transform_edt(mask, sampling=spacing)
    np.testing.assert_allclose(out, ref, rtol=2e-6)
    np.testing.assert_allclose(squared, ref**2, rtol=4e-6)


def _pass_layers(out: da.Array) -> dict[str, dict]:
    """The distance map's layers by what they hold: ``x_pass-line``, ``x_pass`` (cuts)..."""
    layers = out.__dask_graph__().layers
    return {
        name.rsplit("-", 1)[0]: dict(layers[name])
        for name in layers
        if name.split("-")[0] in ("x_pass", "y_pass", "z_pass")
    }


@given(masks_and_chunks(), st.booleans())
def test_a_pass_takes_its_blocks_from_the_lines_before_unless_they_cross(case, hinted):
    # a task per block cut each line back into blocks between the passes (96 of the
    # bead chain's tasks a map): now a line takes its blocks from the earlier lines
    # where both are in the same memory, and only the blocks of lines on another
    # worker are cut (and the result's blocks)
    from xarray_microct.core.blocks.placement import placing_on, spread_over_workers

    mask, chunks, spacing = case
    data = da.from_array(mask, chunks=chunks)
    workers = {"tcp://a:1": 1, "tcp://b:1": 1}
    if hinted:
        data = spread_over_workers(data, workers)
        with placing_on(workers):
            out = edt_array(data, spacing)
    else:
        out = edt_array(data, spacing)
    layers = _pass_layers(out)
    numblocks = data.numblocks
    lines = [int(np.prod(numblocks)) // n for n in numblocks]
    assert [len(layers[f"{p}_pass-line"]) for p in "zyx"] == lines
    assert len(layers["z_pass"]) == int(np.prod(numblocks))  # the result
    graph = out.__dask_graph__().layers

    def worker(key):
        return graph[key[0]].annotations["workers"](key)

    for cut, after in (("x_pass", "y_pass-line"), ("y_pass", "z_pass-line")):
        for key, (_, line, _) in layers.get(cut, {}).items():  # none without a cluster
            (reader,) = [k for k, task in layers[after].items() if key in task[1]]
            assert hinted and worker(line) != worker(reader)
    if not hinted:
        assert "x_pass" not in layers and "y_pass" not in layers
    if mask.all():
        mask.flat[0] = False
        out = edt_array(da.from_array(mask, chunks=chunks), spacing)
    ref = ndi.distance_transform_edt(mask, sampling=spacing)
    np.testing.assert_allclose(out.compute(), ref, rtol=2e-6, atol=1e-6)


def test_object_spanning_many_chunks_far_background():
    # One background voxel in a corner: its reach crosses every chunk of the volume.
    mask = np.ones((33, 17, 25), bool)
    mask[0, 0, 0] = False
    out = edt_array(da.from_array(mask, chunks=4), (1.0, 2.0, 0.7)).compute()
    ref = ndi.distance_transform_edt(mask, sampling=(1.0, 2.0, 0.7))
    np.testing.assert_allclose(out, ref, rtol=2e-6)


def test_ball_radius_in_physical_units_and_metadata():
    z, y, x = np.ogrid[-10:11, -20:21, -20:21]
    spacing = (2.0, 1.0, 1.0)
    ball = (z * 2.0) ** 2 + y**2 + x**2 <= 18**2
    vol = mct.from_array(ball, spacing=spacing, units="um", chunks=(5, 9, 13))
    with raise_if_dask_computes():
        dist = vol.microct.distance_transform()
    assert dist.dtype == np.float32
    assert dist.attrs["units"] == "micrometer"
    assert dist.attrs["microct_provenance"][-1]["op"] == "distance_transform"
    # the centre is about one radius (18 um) from the outside
    assert 18.0 <= float(dist[10, 20, 20]) <= 19.0
    assert float(dist.where(~ball).max()) == 0.0


def test_no_background_is_inf_and_all_background_is_zero():
    assert np.isinf(edt_array(da.ones((4, 5, 6), dtype=bool, chunks=2), (1, 1, 1)).compute()).all()
    assert (edt_array(da.zeros((4, 5, 6), dtype=bool, chunks=2), (1, 1, 1)).compute() == 0).all()


def test_leading_channel_axis_is_per_channel():
    rng = np.random.default_rng(3)
    mask = rng.random((2, 9, 10, 11)) < 0.7
    vol = mct.from_array(mask, spacing=(1.0, 0.5, 0.5), chunks=(1, 4, 4, 4))
    out = vol.microct.distance_transform().values
    for c in range(2):
        ref = ndi.distance_transform_edt(mask[c], sampling=(1.0, 0.5, 0.5))
        np.testing.assert_allclose(out[c], ref, rtol=2e-6)


def test_float_input_is_refused():
    vol = mct.from_array(np.random.default_rng(0).random((5, 5, 5)))
    with pytest.raises(TypeError, match="binary mask"):
        vol.microct.distance_transform()


def test_bad_spacing_is_refused():
    with pytest.raises(ValueError, match="spacing"):
        edt_array(da.ones((3, 3, 3), dtype=bool), (1.0, 0.0, 1.0))


@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from([1.0, 0.65, 2.5]),
    st.floats(0.0, 0.9),
    st.tuples(st.integers(1, 3), st.integers(1, 40), st.integers(1, 37)),
)
def test_envelope_axis_equals_brute_force(seed, spacing, background, shape):
    """The lower envelope along the middle axis, for values 0 on the background (as the
    distance passes make them), and ``inf`` on lines with no background, against the
    minimum over every pair of voxels of the line."""
    from xarray_microct.kernels.distance import envelope_axis

    rng = np.random.default_rng(seed)
    f = rng.integers(1, 60, shape).astype(np.float32)
    f[rng.random(shape) < background] = 0.0
    f[rng.random(shape) < 0.1] = np.inf
    out = np.empty_like(f)
    envelope_axis(f, spacing, out)
    p = np.arange(shape[1])
    reach = ((p[:, None] - p[None, :]) * spacing) ** 2  # (output p, source q)
    ref = np.min(f.astype(np.float64)[:, None, :, :] + reach[None, :, :, None], axis=2)
    np.testing.assert_allclose(out, ref.astype(np.float32), rtol=1e-6)


@given(
    seed=st.integers(0, 2**16),
    shape=st.tuples(st.integers(1, 12), st.integers(1, 12), st.integers(1, 12)),
    spacing=st.tuples(*[st.sampled_from([0.5, 0.65, 1.0, 1.5]) for _ in range(3)]),
    balls=st.integers(0, 6),
)
def test_ball_union_envelope_is_negative_inside_the_balls_only(seed, shape, spacing, balls):
    # the union of closed balls of random centres and radii, voxel by voxel
    rng = np.random.default_rng(seed)
    radius = np.zeros(shape)
    centres = [tuple(int(rng.integers(n)) for n in shape) for _ in range(balls)]
    for centre in centres:
        radius[centre] = rng.uniform(0.3, 5.0)
    grid = np.stack(np.indices(shape), -1) * np.asarray(spacing)
    expected = np.full(shape, np.inf)
    for centre in centres:
        here = np.square(grid - grid[centre]).sum(-1) - radius[centre] ** 2
        expected = np.minimum(expected, here)
    out = ball_union_envelope(radius, spacing)
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(np.isfinite(out), finite)
    np.testing.assert_allclose(out[finite], expected[finite], rtol=1e-9, atol=1e-9)
