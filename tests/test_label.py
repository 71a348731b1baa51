"""Global connected components: equal to scipy.ndimage.label on the whole array."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given
from hypothesis import strategies as st

import xarray_microct as mct
from xarray_microct.core.blocks.components import components, object_sizes, relabel_blocks
from xarray_microct.ops.label import label_array
from xarray_microct.testing import raise_if_dask_computes


def assert_same_partition(labels: np.ndarray, reference: np.ndarray) -> None:
    """Equal up to a renumbering of the objects (a bijection, background fixed)."""
    assert labels.shape == reference.shape
    assert np.array_equal(labels == 0, reference == 0)
    pairs = np.unique(np.stack([labels.ravel(), reference.ravel()]), axis=1)
    assert pairs.shape[1] == len(np.unique(labels)) == len(np.unique(reference))


@st.composite
def masks_and_chunks(draw: st.DrawFn) -> tuple[np.ndarray, tuple[int, ...]]:
    shape = tuple(draw(st.integers(1, 18)) for _ in range(3))
    seed = draw(st.integers(0, 2**32 - 1))
    density = draw(st.floats(0.05, 0.75))
    mask = np.random.default_rng(seed).random(shape) < density
    chunks = tuple(draw(st.integers(-(-n // 4), n)) for n in shape)  # <= 4 chunks per axis
    return mask, chunks


@given(case=masks_and_chunks(), connectivity=st.sampled_from([1, 2, 3]))
def test_label_equals_scipy_whole_array(case, connectivity):
    mask, chunks = case
    labels, n = label_array(da.from_array(mask, chunks=chunks), connectivity)
    result, n = dask.compute(labels, n)
    reference, n_ref = ndi.label(mask, ndi.generate_binary_structure(3, connectivity))
    assert int(n) == n_ref
    assert np.array_equal(np.unique(result[mask]), np.arange(1, n_ref + 1))  # 1..N
    assert_same_partition(result, reference)


@pytest.mark.parametrize("connectivity", [1, 2, 3])
def test_object_across_many_chunks_and_corner_contacts(connectivity):
    # A diagonal staircase crossing 8 chunks along each axis, touching only at
    # corners (one object at connectivity 3), edges, or faces.
    mask = np.zeros((16, 16, 16), bool)
    for i in range(16):
        mask[i, i, i] = True  # corner contacts only
    mask[0, 8:16, 0] = True  # a rod across 4 chunks
    mask[2:4, 15, 2] = True
    mask[3, 14, 2] = False
    mask[4, 14, 3] = True  # edge contact with the rod end
    labels, n = label_array(da.from_array(mask, chunks=(2, 4, 3)), connectivity)
    result, n = dask.compute(labels, n)
    reference, n_ref = ndi.label(mask, ndi.generate_binary_structure(3, connectivity))
    assert int(n) == n_ref
    assert_same_partition(result, reference)
    diagonal = result[np.arange(16), np.arange(16), np.arange(16)]
    if connectivity == 3:  # one object through 8 chunks along each axis, by corners
        assert len(np.unique(diagonal)) == 1
    else:
        assert len(np.unique(diagonal)) == 16


@pytest.mark.parametrize("connectivity", [1, 2, 3])
def test_blocks_large_enough_for_the_compiled_labeller(connectivity):
    # blocks of 35^3 voxels go through cc3d rather than scipy
    mask = ndi.uniform_filter(np.random.default_rng(4).random((70, 70, 40)), 3) > 0.52
    labels, n = label_array(da.from_array(mask, chunks=(35, 35, 40)), connectivity)
    result, n = dask.compute(labels, n)
    reference, n_ref = ndi.label(mask, ndi.generate_binary_structure(3, connectivity))
    assert int(n) == n_ref
    assert_same_partition(result, reference)


def test_numbering_contiguous_and_deterministic():
    mask = np.zeros((6, 6, 6), bool)
    mask[0, 0, 0] = mask[5, 5, 5] = mask[0, 5, 0] = True
    out = label_array(da.from_array(mask, chunks=3))[0].compute()
    # objects numbered by chunk order, then raster order within the chunk
    assert out[0, 0, 0] == 1 and out[0, 5, 0] == 2 and out[5, 5, 5] == 3
    assert out.dtype == np.int32


def test_empty_and_full():
    empty, n = label_array(da.zeros((5, 5, 5), dtype=bool, chunks=2))
    assert int(n.compute()) == 0 and not empty.compute().any()
    full, n = label_array(da.ones((5, 5, 5), dtype=bool, chunks=2))
    assert int(n.compute()) == 1 and (full.compute() == 1).all()


def test_sizes_and_markers():
    rng = np.random.default_rng(1)
    mask = rng.random((12, 12, 12)) < 0.4
    markers = rng.random(mask.shape) < 0.02
    cc = components(da.from_array(mask, chunks=5), 1, da.from_array(markers, chunks=4))
    labels = cc.labels.compute()
    sizes = cc.sizes.compute()
    assert np.array_equal(sizes, np.bincount(labels.ravel()))
    marked = cc.marked.compute()
    assert np.array_equal(marked[1:], [markers[labels == k].any() for k in range(1, len(sizes))])
    painted = cc.map(cc.marked, bool).compute()
    assert np.array_equal(painted, marked[labels])
    assert np.array_equal(object_sizes(da.from_array(labels, chunks=4)).compute(), sizes)


def test_relabel_blocks_with_lazy_table():
    labels = da.from_array(np.array([[[0, 1, 2, 3]]]), chunks=(1, 1, 3))
    table = da.from_array(np.array([0, 10, 20, 30]), chunks=2)
    assert relabel_blocks(labels, table, "int64").compute().tolist() == [[[0, 10, 20, 30]]]


def test_label_verb_is_lazy_and_keeps_coords():
    mask = np.random.default_rng(2).random((10, 12, 14)) < 0.4
    vol = mct.from_array(mask, spacing=(2.0, 1.0, 0.5), units="um", chunks=4)
    with raise_if_dask_computes():
        labels = vol.microct.label(connectivity=2)
    assert labels.attrs["microct_provenance"][-1]["op"] == "label"
    assert float(labels.x[1]) == 0.5
    reference, _ = ndi.label(mask, ndi.generate_binary_structure(3, 2))
    assert_same_partition(labels.values, reference)


def test_integer_input_is_a_zero_one_mask_or_labels_of_a_label_verb():
    data = np.array([[[0, 1, 0, 1, 1]]], dtype="uint8")
    labels = mct.from_array(data, chunks=2).microct.label()
    assert labels.values.tolist() == [[[0, 1, 0, 2, 2]]]
    # labels made by a verb are read as non-zero (their provenance says what they are)
    merged = mct.from_array(data.astype(bool), chunks=2).microct.label().microct.label()
    assert merged.values.tolist() == [[[0, 1, 0, 2, 2]]]
    # other integers are a scan: refused as they are computed
    scan = mct.from_array(np.array([[[0, 3, 0, 5, 5]]], dtype="uint8"), chunks=2)
    with pytest.raises(ValueError, match=r"holds the value 5.*Threshold it first"):
        scan.microct.label().compute()


def test_bad_input():
    vol = mct.from_array(np.random.default_rng(0).random((4, 4, 4)))
    with pytest.raises(TypeError, match="threshold it first"):
        vol.microct.label()
    mask = vol > 0.5
    with pytest.raises(ValueError, match="connectivity must be 1"):
        mask.microct.label(connectivity=4)
    with pytest.raises(ValueError, match="connectivity must be 1"):
        mask.microct.label(connectivity=0)
    with pytest.raises(TypeError, match="connectivity must be the integer"):
        mask.microct.label(connectivity=1.5)


@given(
    st.integers(1, 9),
    st.integers(1, 9),
    st.integers(1, 3),
    st.integers(1, 6),
    st.integers(0, 2**16),
)
def test_face_pairs_are_the_distinct_touching_pairs(s1, s2, connectivity, n_labels, seed):
    """Every pair of foreground labels touching across a face, once, sorted; labels in
    runs (as on real faces) and scattered, against a brute-force loop over the voxels."""
    from xarray_microct.core.blocks.components import _face_pairs

    rng = np.random.default_rng(seed)
    face = rng.integers(0, n_labels + 1, (s1, s2)).astype(np.uint64)
    face[:, : s2 // 2] = face[:, :1]  # runs of one label along a row
    ext = rng.integers(0, n_labels + 1, (s1 + 2, s2 + 2)).astype(np.uint64) + np.uint64(100)
    ext[rng.random(ext.shape) < 0.3] = 0
    expected = set()
    for i in range(s1):
        for j in range(s2):
            for du in (-1, 0, 1):
                for dv in (-1, 0, 1):
                    other = ext[1 + i + du, 1 + j + dv]
                    if 1 + abs(du) + abs(dv) <= connectivity and face[i, j] and other:
                        expected.add((int(face[i, j]), int(other)))
    pairs = _face_pairs(face, ext, connectivity)
    assert pairs.dtype == np.uint64 and pairs.shape == (len(expected), 2)
    assert [tuple(p) for p in pairs.tolist()] == sorted(expected)
