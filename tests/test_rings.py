"""remove_rings: known column offsets recovered, the same for any chunking."""

from __future__ import annotations

import numpy as np
import pytest

import xarray_microct as mct
from xarray_microct.ops.rings import ring_offsets_array


def _two_phase_scan(rings: float, noise: float, seed: int = 0, shape=(60, 24, 20)):
    """Blocks of two phases (70 and 170) plus known per-column offsets and noise."""
    rng = np.random.default_rng(seed)
    cells = rng.random(tuple(-(-n // 4) for n in shape)) < 0.4
    phases = np.where(cells.repeat(4, 0).repeat(4, 1).repeat(4, 2), 70.0, 170.0)
    phases = phases[: shape[0], : shape[1], : shape[2]]
    offsets = rng.normal(0.0, rings, shape[1:])
    scan = phases + offsets[None] + rng.normal(0.0, noise, shape)
    return np.clip(np.rint(scan), 0, 255).astype(np.uint8), offsets


def test_known_column_offsets_are_recovered():
    # rings up to about 40 grey levels, within half the contrast (100) of the phases
    scan, offsets = _two_phase_scan(rings=12.0, noise=8.0)
    found = ring_offsets_array(mct.from_array(scan, chunks=(16, 12, 7)).data).compute()
    error = found - (offsets - offsets.mean())  # offsets are relative to the phase levels
    # noise 8 averaged over the ~40 clear voxels of a column: 1.3 grey levels
    assert np.std(error) < 2.0 and np.abs(error).max() < 8.0
    assert np.std(offsets) > 10.0
    cleaned = mct.from_array(scan.astype("float32"), chunks=16).microct.remove_rings().values
    inside = scan.astype(float) - offsets[None]
    assert np.std(cleaned - inside) < 1.5  # what is left: a constant and the offsets' error
    rounded = mct.from_array(scan, chunks=16).microct.remove_rings()
    assert rounded.dtype == np.uint8
    # the integer scan comes back rounded: the same offsets up to the float histogram's
    # bins (the levels are bin centres there, 255 / 2**16 wide), so the two roundings
    # differ only where the float result lies within that of a half
    differ = rounded.values != np.clip(np.rint(cleaned), 0, 255)
    assert np.abs(rounded.values - np.rint(cleaned))[differ].max(initial=0) <= 1
    assert np.all(np.abs(cleaned[differ] % 1 - 0.5) < 0.01)


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_a_scan_without_rings_is_left_about_as_it_is(seed):
    scan, _ = _two_phase_scan(rings=0.0, noise=8.0, seed=seed)
    found = ring_offsets_array(mct.from_array(scan, chunks=20).data).compute()
    # each column's mean carries noise of about 8 / sqrt(40) = 1.3 grey levels; the two
    # halves of the scan do not agree on it, so the offsets are scaled down to near 0
    assert np.std(found) < 0.25 * 8.0 / np.sqrt(40)
    assert np.abs(found).max() < 8.0 / np.sqrt(40)


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_offsets_and_result_do_not_depend_on_the_chunking(dtype):
    scan, _ = _two_phase_scan(rings=15.0, noise=20.0, seed=5)
    scan = scan.astype(dtype)
    whole = mct.from_array(scan, chunks=-1).microct.remove_rings()
    for chunks in ((7, 24, 20), (23, 5, 9), (60, 11, 4)):
        other = mct.from_array(scan, chunks=chunks).microct.remove_rings()
        np.testing.assert_array_equal(other.values, whole.values)
    assert whole.dtype == dtype
    assert [r["op"] for r in whole.attrs["microct_provenance"]][-1] == "remove_rings"


def test_bad_input():
    with pytest.raises(ValueError, match="3-D"):
        ring_offsets_array(mct.from_array(np.zeros((4, 4, 4), "uint8")).data[0])


def test_float16_scans_lose_their_rings_as_float32_ones() -> None:
    rng = np.random.default_rng(5)
    scan = np.where(rng.random((16, 20, 20)) < 0.4, 60.0, 180.0) + rng.normal(0, 5, (1, 20, 20))
    half = scan.astype(np.float16)
    got = mct.from_array(half, chunks=8).microct.remove_rings()
    expected = mct.from_array(half.astype(np.float32), chunks=8).microct.remove_rings()
    np.testing.assert_allclose(got.values.astype(np.float32), expected.values, atol=0.25)
