"""Metrics: the seed paper's pixel-wise scores, object matching, ImageJ click tables."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import xarray_microct as mct
from xarray_microct.core.matching import optimal_pairs
from xarray_microct.metrics import (
    confusion_scores,
    disk_mask,
    match_centres,
    object_metrics,
    pixel_metrics,
    read_clicks,
)


def test_confusion_scores_hand_computed():
    # 10 pixels: TP = 3, FP = 1, FN = 2, TN = 4
    predicted = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], bool)
    truth = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 0], bool)
    s = confusion_scores(predicted, truth)
    assert (s["tp"], s["fp"], s["fn"], s["tn"]) == (3, 1, 2, 4)
    assert s["dice"] == pytest.approx(6 / 9)
    assert s["sensitivity"] == pytest.approx(3 / 5)
    assert s["specificity"] == pytest.approx(4 / 5)
    assert s["accuracy"] == pytest.approx(7 / 10)
    assert s["auc"] == pytest.approx((3 / 5 + 4 / 5) / 2)
    assert s["precision"] == pytest.approx(3 / 4)
    p, r = 3 / 4, 3 / 5
    assert s["f_score"] == pytest.approx(2 * p * r / (p + r))


def test_paper_figures_are_consistent_with_the_definitions():
    # The seed's reported numbers: AUC is the mean of sensitivity and specificity, and
    # Dice equals the F-score of precision and sensitivity.
    sens, spec, prec = 0.7962, 0.929, 0.6955
    assert (sens + spec) / 2 == pytest.approx(0.8626, abs=1e-4)
    assert 2 * prec * sens / (prec + sens) == pytest.approx(0.7424, abs=1e-4)


@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=60))
def test_dice_equals_f_score_and_matches_counts(pairs):
    predicted = np.array([p for p, _ in pairs])
    truth = np.array([t for _, t in pairs])
    s = confusion_scores(predicted, truth)
    assert s["tp"] + s["fp"] + s["fn"] + s["tn"] == len(pairs)
    if s["tp"] > 0:
        assert s["dice"] == pytest.approx(s["f_score"])
    # reference: accuracy is the fraction of equal pixels
    assert s["accuracy"] == pytest.approx(np.mean(predicted == truth))


def test_zero_division_is_well_defined():
    empty = np.zeros((4, 4), bool)
    s = confusion_scores(empty, empty)
    assert s["precision"] == 0.0 and s["sensitivity"] == 0.0 and s["dice"] == 0.0
    assert s["specificity"] == 1.0 and s["accuracy"] == 1.0
    s = confusion_scores(empty, empty, zero_division=1.0)
    assert s["dice"] == 1.0
    with pytest.raises(ValueError, match="shape"):
        confusion_scores(empty, np.zeros((3, 4), bool))


def test_disk_mask_diameter_10_matches_skimage_disk():
    from skimage.draw import disk

    mask = disk_mask([(20, 20), (3.3, 40.2)], (40, 48), diameter=10)
    ref = np.zeros((40, 48), bool)
    for centre in [(20, 20), (3.3, 40.2)]:
        rr, cc = disk(centre, 5, shape=ref.shape)
        ref[rr, cc] = True
    np.testing.assert_array_equal(mask, ref)
    # a disk of diameter 10 on the pixel grid: 69 pixels (distance < 5)
    assert disk_mask([(20, 20)], (40, 40)).sum() == sum(
        1 for i, j in itertools.product(range(-5, 6), repeat=2) if i * i + j * j < 25
    )


def test_pixel_metrics_hand_computed_on_physical_coordinates():
    vol = mct.from_array(np.zeros((2, 40, 60), "uint8"), spacing=(2.0, 0.5, 0.5))
    truth = pd.DataFrame({"z": [2.0, 2.0, 0.0], "y": [5.0, 15.0, 5.0], "x": [5.0, 5.0, 25.0]})
    detected = pd.DataFrame({"z": [2.0, 2.0], "y": [5.0, 10.0], "x": [5.0, 25.0]})
    s = pixel_metrics(detected, truth, like=vol, z=2.0)
    area = disk_mask([(20, 20)], (40, 40), 10).sum()  # one whole disk
    # slice z=2: detected disks at pixels (10,10), (20,50); true at (10,10), (30,10)
    assert s["tp"] == area and s["fp"] == area and s["fn"] == area
    assert s["tn"] == 40 * 60 - 3 * area
    assert s["dice"] == pytest.approx(0.5)
    assert s["auc"] == pytest.approx((s["sensitivity"] + s["specificity"]) / 2)
    # the same comparison given the slice itself
    assert pixel_metrics(detected, truth, like=vol.isel(z=1), z=2.0) == s


def test_optimal_pairs_is_optimal_not_greedy():
    # greedy nearest-first would pair a0-b0 (0.9) and leave a1 unmatched
    a = np.array([[0.0, 0.0], [0.0, 1.8]])
    b = np.array([[0.0, 0.9], [0.0, -0.9]])
    ia, ib, dist = optimal_pairs(a, b, max_distance=1.0)
    assert ia.tolist() == [0, 1] and ib.tolist() == [1, 0]
    np.testing.assert_allclose(dist, [0.9, 0.9])


@given(
    st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), max_size=8, unique=True),
    st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), max_size=8, unique=True),
    st.sampled_from([1.0, 2.5, 4.0]),
)
def test_optimal_pairs_matches_brute_force(a, b, max_distance):
    a = np.array(a, float).reshape(-1, 2)
    b = np.array(b, float).reshape(-1, 2)
    ia, ib, dist = optimal_pairs(a, b, max_distance) if len(a) and len(b) else ([], [], [])
    # brute force: maximum number of pairs, then minimum total distance
    best = (0, 0.0)
    if len(a) and len(b) and len(a) <= 6 and len(b) <= 6:
        d = np.linalg.norm(a[:, None] - b[None], axis=-1)
        for k in range(min(len(a), len(b)), 0, -1):
            options = [
                sum(d[i, j] for i, j in zip(rows, cols, strict=True))
                for rows in itertools.combinations(range(len(a)), k)
                for cols in itertools.permutations(range(len(b)), k)
                if all(d[i, j] <= max_distance for i, j in zip(rows, cols, strict=True))
            ]
            if options:
                best = (k, min(options))
                break
        assert len(ia) == best[0]
        assert float(np.sum(dist)) == pytest.approx(best[1])
    assert len(set(np.asarray(ia).tolist())) == len(ia)
    assert len(set(np.asarray(ib).tolist())) == len(ib)


def test_object_metrics_hand_computed_and_by_slice():
    truth = pd.DataFrame(
        {"z": [0.0, 0.0, 1.0], "y": [0.0, 10.0, 0.0], "x": [0.0, 0.0, 0.0], "radius": 4.0}
    )
    # the third detection is near the first truth in y/x but on another slice
    detected = pd.DataFrame({"z": [0.0, 0.0, 1.0], "y": [1.0, 10.0, 30.0], "x": [0.0, 0.0, 0.0]})
    s = object_metrics(detected, truth)
    assert (s["tp"], s["fp"], s["fn"]) == (2, 1, 1)
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == pytest.approx(2 / 3)
    assert s["f1"] == pytest.approx(2 / 3)
    assert s["mean_error"] == pytest.approx(0.5)
    assert s["max_distance"] == 2.0
    pairs = match_centres(detected, truth, 2.0)
    assert pairs[["detected", "truth"]].to_numpy().tolist() == [[0, 0], [1, 1]]


def test_object_metrics_empty_detections_and_empty_truth():
    truth = pd.DataFrame({"y": [1.0, 5.0], "x": [1.0, 5.0]})
    empty = pd.DataFrame({"y": [], "x": []})
    s = object_metrics(empty, truth, max_distance=1)
    assert (s["tp"], s["fp"], s["fn"], s["f1"], s["recall"]) == (0, 0, 2, 0.0, 0.0)
    assert np.isnan(s["mean_error"])
    s = object_metrics(truth, empty, max_distance=1)
    assert (s["tp"], s["fp"], s["fn"], s["precision"]) == (0, 2, 0, 0.0)
    s = object_metrics(empty, empty, max_distance=1)
    assert s["f1"] == 0.0 and s["tp"] == 0
    assert object_metrics(empty, empty, max_distance=1, zero_division=1.0)["f1"] == 1.0


def test_object_metrics_margin_ignores_the_border_band():
    vol = mct.from_array(np.zeros((1, 20, 20)), spacing=1.0)
    truth = pd.DataFrame({"y": [10.0, 0.5], "x": [10.0, 10.0]})
    detected = pd.DataFrame({"y": [10.2, 19.0], "x": [10.0, 10.0]})
    s = object_metrics(detected, truth, max_distance=1, like=vol, margin=2)
    assert (s["tp"], s["fp"], s["fn"]) == (1, 0, 0)
    s = object_metrics(detected, truth, max_distance=1)
    assert (s["tp"], s["fp"], s["fn"]) == (1, 1, 1)
    with pytest.raises(ValueError, match="like="):
        object_metrics(detected, truth, max_distance=1, margin=2)


def test_bad_tables_get_clear_errors():
    with pytest.raises(ValueError, match="columns 'y' and 'x'"):
        object_metrics(pd.DataFrame({"X": [1.0], "Y": [2.0]}), np.zeros((0, 2)), 1.0)
    with pytest.raises(ValueError, match=r"\(n, 2\|3\)"):
        pixel_metrics(np.zeros((3, 4)), np.zeros((1, 2)), like=(10, 10))
    with pytest.raises(ValueError, match="max_distance"):
        optimal_pairs(np.zeros((1, 2)), np.zeros((1, 2)), 0.0)


def test_read_clicks_imagej_results(tmp_path):
    path = tmp_path / "Results.csv"
    path.write_text(" ,Area,Mean,X,Y,Slice\n1,0,255,10,20,3\n2,0,255,30.5,40,3\n")
    clicks = read_clicks(path)
    assert clicks.columns.tolist() == ["y", "x", "z"]
    assert clicks["z"].tolist() == [2, 2]
    vol = mct.from_array(np.zeros((5, 50, 50), "uint8"), spacing=(2.0, 0.5, 0.5), origin=1.0)
    physical = read_clicks(path, like=vol)
    np.testing.assert_allclose(physical["x"], [1 + 10 * 0.5, 1 + 30.5 * 0.5])
    np.testing.assert_allclose(physical["y"], [1 + 20 * 0.5, 1 + 40 * 0.5])
    np.testing.assert_allclose(physical["z"], [1 + 2 * 2.0] * 2)
    assert physical.attrs["units"] == "micrometer"


def test_read_clicks_without_slice_and_tab_separated(tmp_path):
    path = tmp_path / "clicks.tsv"
    path.write_text("x\ty\n1\t2\n3\t4\n")
    clicks = read_clicks(path)
    assert clicks[["y", "x"]].to_numpy().tolist() == [[2, 1], [4, 3]]


def test_read_clicks_bad_input(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("X,Area\n1,2\n")
    with pytest.raises(ValueError, match="needs columns X and Y"):
        read_clicks(path)
    path.write_text("X,Y\n1,abc\n")
    with pytest.raises(ValueError, match="non-numeric"):
        read_clicks(path)
    path.write_text("X,Y,Slice\n1,2,0\n")
    with pytest.raises(ValueError, match="one_based_slices"):
        read_clicks(path)
    with pytest.raises(FileNotFoundError):
        read_clicks(tmp_path / "missing.csv")
    path.write_text("X,Y,Slice\n1,2,9\n")
    with pytest.raises(ValueError, match="beyond"):
        read_clicks(path, like=mct.from_array(np.zeros((3, 4, 4))))


def test_clicks_as_truth_for_pixel_metrics(tmp_path):
    path = tmp_path / "Results.csv"
    path.write_text(" ,X,Y\n1,10,10\n2,30,10\n")
    vol = mct.from_array(np.zeros((1, 40, 40), "uint8"), spacing=0.65)
    clicks = read_clicks(path, like=vol)
    detected = clicks.copy()
    s = pixel_metrics(detected, clicks, like=vol)
    assert s["dice"] == 1.0 and s["fp"] == 0


def test_disk_mask_is_exact_on_ties():
    # Pixel (2, 45) lies exactly 5 from (3.4, 40.2): 1.4² + 4.8² = 25. In floats the sum
    # is 24.999999999999996, and skimage.draw.disk includes it; exact arithmetic does not.
    from fractions import Fraction

    centre = (Fraction("3.4"), Fraction("40.2"))
    exact = np.array(
        [[(i - centre[0]) ** 2 + (j - centre[1]) ** 2 < 25 for j in range(48)]
         for i in range(40)]
    )
    mask = disk_mask([(3.4, 40.2)], (40, 48), diameter=10)
    np.testing.assert_array_equal(mask, exact)
    assert not mask[2, 45]


@pytest.mark.parametrize("spacing", [0.65, 0.1, 3.25])
def test_disk_of_a_whole_pixel_centre_given_in_physical_units_is_skimage_disk(spacing):
    # 31 * 0.65 / 0.65 = 31.000000000000004 used to turn a 69-pixel disk into 74 pixels
    from skimage.draw import disk

    vol = mct.from_array(np.zeros((1, 64, 64), "uint8"), spacing=spacing)
    for row in range(5, 59):
        reference = np.zeros((64, 64), bool)
        reference[disk((row, 20), 5, shape=reference.shape)] = True
        position = pd.DataFrame({"y": [row * spacing], "x": [20 * spacing]})
        rows = (position["y"].to_numpy() - float(vol.y[0])) / spacing
        np.testing.assert_array_equal(
            disk_mask(np.column_stack([rows, [20.0]]), (64, 64)), reference
        )
        s = pixel_metrics(position, position, like=vol)
        assert s["tp"] == 69 and s["fp"] == 0 and s["fn"] == 0


def test_object_metrics_uses_z_of_3d_centres():
    # by=None used to match on y and x only: moving every z by 50 still scored F1 = 1
    rng = np.random.default_rng(3)
    truth = pd.DataFrame(rng.uniform(0, 100, (40, 3)), columns=["z", "y", "x"])
    detected = truth + rng.normal(0, 0.3, truth.shape)
    assert object_metrics(detected, truth, max_distance=2, by=None)["f1"] == 1.0
    moved = detected.assign(z=detected["z"] + 50)
    assert object_metrics(moved, truth, max_distance=2, by=None)["tp"] == 0
    # distances are 3-D: the independent reference is scipy's cdist on (z, y, x)
    from scipy.spatial.distance import cdist

    pairs = match_centres(detected, truth, max_distance=2, by=None)
    expected = cdist(detected.to_numpy(), truth.to_numpy())[pairs["detected"], pairs["truth"]]
    np.testing.assert_allclose(pairs["distance"], expected)


def test_object_metrics_refuses_an_axis_in_one_table_only():
    with_z = pd.DataFrame({"z": [0.0], "y": [1.0], "x": [1.0]})
    without_z = pd.DataFrame({"y": [1.0], "x": [1.0]})
    for by in ("z", None):
        with pytest.raises(ValueError, match="truth has a column 'z' but detected has not"):
            object_metrics(without_z, with_z, max_distance=1, by=by)
    # an empty table has no axis to drop
    empty = pd.DataFrame({"y": [], "x": []})
    assert object_metrics(empty, with_z, max_distance=1)["fn"] == 1


def test_parameters_that_make_no_sense_are_refused():
    vol = mct.from_array(np.zeros((3, 20, 20)), spacing=1.0)
    several = pd.DataFrame({"z": [0.0, 1.0], "y": [5.0, 5.0], "x": [5.0, 9.0]})
    # disks of two slices drawn on one image: refused, z= picks the slice
    with pytest.raises(ValueError, match=r"2 slices.*pass z="):
        pixel_metrics(several, several, like=vol)
    assert pixel_metrics(several, several, like=vol, z=1.0)["tp"] == 69
    with pytest.raises(ValueError, match="margin must be a non-negative"):
        object_metrics(several, several, max_distance=1, like=vol, margin=-1)
    with pytest.raises(ValueError, match="leaves nothing"):
        object_metrics(several, several, max_distance=1, like=vol, margin=10)
    empty = pd.DataFrame({"y": [], "x": []})
    with pytest.raises(ValueError, match="max_distance must be positive"):
        object_metrics(empty, several, max_distance=-1)
