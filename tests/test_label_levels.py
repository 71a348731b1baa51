"""Label verbs on a pyramid: an object keeps its number at every level.

``tree.microct.label()`` (and ``watershed``, on ``on_tree="finest"``) labels the finest
level and makes the coarser ones by the pyramid's majority downsampling of those labels
(``pyramid(method="mode")``), at the tree's own levels; level 0 is what mapping gave.
Before, each level was numbered on its own, so a viewer saw an object's number change
with the zoom.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
import xarray as xr

import xarray_microct as mct


def _balls(seed: int, shape=(32, 64, 64), count: int = 30) -> np.ndarray:
    """A mask of ``count`` balls (radius 2-5 voxels, some touching) at random places."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape)
    mask = np.zeros(shape, bool)
    for _ in range(count):
        c = rng.uniform(4, np.array(shape) - 4)
        r = rng.uniform(2, 5)
        mask |= (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= r * r
    return mask


def _levels(tree: xr.DataTree) -> list[np.ndarray]:
    return [tree[name]["scan"].values for name in tree.children]


def _fine_block_holds(fine: np.ndarray, coarse: np.ndarray) -> bool:
    """Whether each coarse voxel's label is one of the labels of its block of fine voxels
    (the factors read from the shapes)."""
    factor = [f // c for f, c in zip(fine.shape, coarse.shape, strict=True)]
    cut = fine[tuple(slice(0, c * f) for c, f in zip(coarse.shape, factor, strict=True))]
    blocks = cut.reshape(
        coarse.shape[0], factor[0], coarse.shape[1], factor[1], coarse.shape[2], factor[2]
    ).transpose(0, 2, 4, 1, 3, 5)
    blocks = blocks.reshape(*coarse.shape, -1)
    return bool((blocks == coarse[..., None]).any(axis=-1).all())


@pytest.mark.parametrize("seed", [0, 1])
def test_label_on_a_pyramid_numbers_each_object_alike_at_every_level(seed):
    mask = _balls(seed)
    spacing = (1.0, 0.5, 0.5)
    scan = mct.from_array(mask.astype("float32"), spacing=spacing, chunks=16, name="scan")
    tree = scan.microct.pyramid()  # 3 levels: (1, 2, 2) to isotropic voxels, then (2, 2, 2)
    labels = tree.microct.threshold(0.5).microct.label()
    fine, *coarser = _levels(labels)
    assert [level.shape for level in coarser] == [(32, 32, 32), (16, 16, 16)]

    # level 0 as before: the verb on the volume, the partition of scipy's labels
    np.testing.assert_array_equal(fine, scan.microct.threshold(0.5).microct.label().values)
    reference, count = ndi.label(mask)
    assert fine.max() == count
    pairs = {(int(a), int(b)) for a, b in zip(fine.ravel(), reference.ravel(), strict=True)}
    assert len(pairs) == count + 1  # one to one with scipy's, background included

    # every coarser level: the fine labels by majority, so the same numbers
    expected = _levels(
        mct.from_array(fine, spacing=spacing, chunks=16, name="scan").microct.pyramid(method="mode")
    )[1:]
    previous = fine
    for level, want in zip(coarser, expected, strict=True):
        np.testing.assert_array_equal(level, want)
        assert _fine_block_holds(previous, level)  # was: numbers of the level's own
        assert set(np.unique(level)) <= set(np.unique(fine))
        previous = level


def test_a_coarse_level_of_labels_replays_as_it_was_made():
    def chain(mask: np.ndarray) -> xr.DataArray:
        scan = mct.from_array(mask.astype("float32"), spacing=0.5, chunks=16, name="scan")
        labels = scan.microct.pyramid().microct.threshold(0.5).microct.label()
        return labels.microct.select_level(1)

    result, other = chain(_balls(0)), _balls(1)
    ops = [r["op"] for r in result.attrs["microct_provenance"]]
    assert ops == ["pyramid", "threshold", "label", "pyramid"]
    again = mct.replay(result, mct.from_array(other.astype("float32"), spacing=0.5, chunks=16))
    np.testing.assert_array_equal(again.values, chain(other).values)


def test_watershed_on_a_pyramid_keeps_the_numbers_too():
    mask = _balls(2, count=40)
    scan = mct.from_array(mask, spacing=0.5, chunks=16, name="scan")
    tree = scan.microct.pyramid()
    split = tree.microct.watershed(min_distance="1.5 um")
    fine, *coarser = _levels(split)
    np.testing.assert_array_equal(fine, scan.microct.watershed(min_distance="1.5 um").values)
    previous = fine
    for level in coarser:
        assert _fine_block_holds(previous, level)
        previous = level


def test_levels_that_are_not_a_pyramid_are_numbered_each_on_its_own_with_a_warning():
    mask = _balls(0)
    fine = mct.from_array(mask, spacing=0.5, chunks=16, name="scan")
    strided = fine[::2, ::2, ::2]  # voxel centres not those of a block's majority
    tree = xr.DataTree.from_dict({"a": fine.to_dataset(), "b": strided.to_dataset()})
    with pytest.warns(UserWarning, match="each level is numbered on its own"):
        labels = tree.microct.label()
    np.testing.assert_array_equal(labels["a"]["scan"].values, fine.microct.label().values)
    np.testing.assert_array_equal(labels["b"]["scan"].values, strided.microct.label().values)
