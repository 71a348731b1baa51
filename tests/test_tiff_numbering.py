"""A folder of numbered TIFF files is read in the order its names' numbers give, and
never with a slice silently missing: the numbering is computed from the names (and, for
stacks, their page counts) before any pixel is read; a gap is refused naming what is
missing, a uniform step is read, and names holding two independent numbers (channel by
z) are refused.

Every file is written by tifffile with known pixel values (slice ``k`` of the truth holds
``100 * k`` plus noise), so a volume read in the wrong order or with a slice shifted
shows.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import tifffile

import xarray_microct as mct
from xarray_microct.io import TiffLayoutError, tiff, tiff_numbering
from xarray_microct.testing import raise_if_dask_computes


def coded(depth: int, plane: tuple[int, int] = (6, 7)) -> np.ndarray:
    """``depth`` slices, slice ``k`` about ``100 * k``: a slice out of place shows."""
    noise = np.random.default_rng(depth).integers(0, 50, (depth, *plane))
    return (np.arange(depth)[:, None, None] * 100 + noise).astype("uint16")


def write(folder: Path, files: dict[str, np.ndarray]) -> Path:
    folder.mkdir()
    for name, data in files.items():
        tifffile.imwrite(folder / name, data, photometric="minisblack")
    return folder


def read(folder: Path) -> np.ndarray:
    return mct.open_volume(folder, spacing=1, units="um").values


def refused_before_any_read(folder: Path, monkeypatch, match: str) -> str:
    """The refusal's message, checked to come from the headers alone."""
    reads: list = []
    monkeypatch.setattr(tiff, "_read_planes", lambda *args: reads.append(args))
    with raise_if_dask_computes(), pytest.raises(TiffLayoutError, match=match) as caught:
        mct.open_volume(folder, spacing=1, units="um")
    assert reads == []
    return str(caught.value)


def test_a_missing_slice_is_refused_by_its_number_before_any_read(tmp_path, monkeypatch):
    # was: 99 slices read, every one after 57 a slice too low
    truth = coded(100)
    folder = write(tmp_path / "scan", {f"scan_{z:04d}.tif": truth[z] for z in range(100)})
    np.testing.assert_array_equal(read(folder), truth)
    (folder / "scan_0057.tif").unlink()
    message = refused_before_any_read(folder, monkeypatch, r"have no file: 0057\.")
    assert "99 files named scan_*.tif are numbered 0000 to 0099 in steps of 1" in message
    assert "1 number(s)" in message


def test_many_gaps_are_listed_in_part_with_their_count(tmp_path, monkeypatch):
    truth = coded(100)
    gone = {3, 50, 51, 52, *range(70, 83), 90, 91, 93, 95}
    folder = write(
        tmp_path / "scan", {f"scan_{z:04d}.tif": truth[z] for z in range(100) if z not in gone}
    )
    message = refused_before_any_read(folder, monkeypatch, r"21 number\(s\)")
    assert "0003, 0050-0052 (3), 0070-0082 (13), 0090-0091 (2), 0093 and 1 more (6 gaps)" in (
        message
    )


def test_timestamp_names_are_judged_by_their_differences(tmp_path, monkeypatch):
    # a gap of 40 seconds between slices named by time (yyyymmddHHMMSS): its bounds and
    # count, nothing enumerated
    truth = coded(6)
    stamps = [20261203153057, 20261203153058, 20261203153059, 20261203153100, 20261203153101]
    folder = write(tmp_path / "times", {f"t{s}.tif": truth[i] for i, s in enumerate(stamps)})
    refused_before_any_read(folder, monkeypatch, r"20261203153060-20261203153099 \(40\)")
    # a gap of 10**15 numbers: as fast as one of 1
    numbers = [Decimal(0), Decimal(1), Decimal(10**15 + 2)]
    assert tiff_numbering._missing(numbers, [1, 1, 1]) == (
        "step",
        Decimal(1),
        [(Decimal(2), Decimal(10**15 + 1), 10**15)],
    )


@pytest.mark.parametrize(
    ("start", "step"), [(0, 1), (1, 1), (0, 2), (10, 10)], ids=["0-1", "1-1", "0-2", "10-10"]
)
def test_slices_in_one_step_are_read_and_a_step_skipped_is_refused(
    tmp_path, monkeypatch, start, step
):
    truth = coded(8)
    numbers = [start + step * k for k in range(8)]
    folder = write(tmp_path / "scan", {f"rec_{n}.tif": truth[k] for k, n in enumerate(numbers)})
    np.testing.assert_array_equal(read(folder), truth)  # natural order: rec_2 < rec_10
    (folder / f"rec_{numbers[5]}.tif").unlink()
    message = refused_before_any_read(
        folder, monkeypatch, rf"in steps of {step}, .* have no file: {numbers[5]}\."
    )
    assert f"numbered {start} to {numbers[-1]}" in message


def test_irregular_steps_and_twice_the_same_number_are_refused(tmp_path, monkeypatch):
    # was: read as 4 (and 3) consecutive slices
    truth = coded(4)
    irregular = write(
        tmp_path / "irregular",
        {f"rec_{n}.tif": truth[k] for k, n in enumerate((0, 3, 5, 8))},
    )
    refused_before_any_read(irregular, monkeypatch, r"not numbered in one step: the smallest is 2")
    twice = write(
        tmp_path / "twice", {"rec_1.tif": truth[0], "rec_01.tif": truth[1], "rec_2.tif": truth[2]}
    )
    refused_before_any_read(twice, monkeypatch, r"rec_0?1\.tif and rec_0?1\.tif carry the same")


def _parts(truth: np.ndarray, starts: list[int], naming: str) -> dict[str, np.ndarray]:
    """The stack parts of ``truth`` starting at ``starts``, named by ``naming``: their
    first slice, last slice, part number or slice range."""
    ends = [*starts[1:], len(truth)]
    names = {
        "first": lambda i, a, b: f"part_{a:04d}.tif",
        "last": lambda i, a, b: f"part_{b - 1:04d}.tif",
        "part": lambda i, a, b: f"part_{i + 1}.tif",
        "range": lambda i, a, b: f"slices_{a:04d}-{b - 1:04d}.tif",
    }[naming]
    return {names(i, a, b): truth[a:b] for i, (a, b) in enumerate(zip(starts, ends, strict=True))}


@pytest.mark.parametrize("naming", ["first", "last", "part", "range"])
def test_stack_parts_are_joined_in_order_and_a_part_missing_is_refused(
    tmp_path, monkeypatch, naming
):
    # parts of 10 slices and a last one of 3; names in natural order and numeric order
    # differ (part_0010 < part_0100 both ways, but 9 < 10 only as numbers)
    truth = coded(43)
    files = _parts(truth, [0, 10, 20, 30, 40], naming)
    folder = write(tmp_path / "parts", files)
    np.testing.assert_array_equal(read(folder), truth)
    (folder / list(files)[2]).unlink()  # slices 20-29
    expected = {
        "first": r"named by their first slice .* 10 slice\(s\) are in no file: 0020-0029 \(10\)",
        "last": r"named by their last slice .* 10 slice\(s\) are in no file: 0020-0029 \(10\)",
        "part": r"numbered 1 to 5 in steps of 1, .* have no file: 3\.",
        "range": r"named by their first slice .* 10 slice\(s\) are in no file: 0020-0029 \(10\)",
    }[naming]
    refused_before_any_read(folder, monkeypatch, expected)


def test_two_parts_named_by_slice_are_judged_by_their_page_counts(tmp_path, monkeypatch):
    # two parts of 50 slices named 0000 and 0100: one difference is "one step", but as
    # slice indices 50-99 are missing
    truth = coded(150)
    files = {"part_0000.tif": truth[:50], "part_0100.tif": truth[100:]}
    folder = write(tmp_path / "parts", files)
    refused_before_any_read(folder, monkeypatch, r"slice\(s\) are in no file: 0050-0099 \(50\)")


def test_numbers_varying_together_are_one_numbering(tmp_path, monkeypatch):
    # a slice number with its z position: in order, and judged by the slice number
    truth = coded(10)
    names = [f"slice{k + 1:04d}_z{0.65 * k:.2f}.tif" for k in range(10)]
    folder = write(tmp_path / "scan", dict(zip(names, truth, strict=True)))
    np.testing.assert_array_equal(read(folder), truth)
    (folder / names[4]).unlink()
    refused_before_any_read(folder, monkeypatch, r"numbered 0001 to 0010 .* no file: 0005\.")


def test_decimal_numbers_are_ordered_and_judged_as_numbers(tmp_path, monkeypatch):
    # z positions written as Python prints them: 0.5 and 0.25 in natural order of their
    # digit runs (5 < 25) came in the wrong order
    truth = coded(6)
    names = [f"z{0.25 * (k + 1)}.tif" for k in range(6)]  # z0.25, z0.5, z0.75, z1.0...
    folder = write(tmp_path / "scan", dict(zip(names, truth, strict=True)))
    np.testing.assert_array_equal(read(folder), truth)
    # not decimals where they would make two names one number (1.1 and 1.10)
    runs = coded(12)
    names_of_runs = [f"s_1.{k + 1}.tif" for k in range(12)]
    np.testing.assert_array_equal(
        read(write(tmp_path / "runs", dict(zip(names_of_runs, runs, strict=True)))), runs
    )
    (folder / names[2]).unlink()
    refused_before_any_read(folder, monkeypatch, r"in steps of 0\.25, .* have no file: 0\.75\.")


def test_channels_by_z_in_one_folder_are_refused(tmp_path, monkeypatch):
    # was: the 2 channels read as 10 slices, channel 0 then channel 1
    truth = coded(10)
    files = {f"c{c}_z{z:03d}.tif": truth[5 * c + z] for c in range(2) for z in range(5)}
    folder = write(tmp_path / "channels", files)
    message = refused_before_any_read(folder, monkeypatch, r"vary independently")
    assert "c*_z*.tif" in message and "c0_z000.tif, c1_z000.tif" in message
    assert "put each channel (or time point) in its own folder" in message


def test_positions_written_by_str_float_are_read(tmp_path, monkeypatch):
    # z positions as Python prints 0.65 * k (z_1.9500000000000002.tif beside z_1.3.tif):
    # were refused, "not numbered in one step: the smallest is 0.6499999999999995"
    truth = coded(12)
    names = [f"z_{0.65 * k}.tif" for k in range(12)]
    folder = write(tmp_path / "scan", dict(zip(names, truth, strict=True)))
    np.testing.assert_array_equal(read(folder), truth)
    (folder / names[3]).unlink()  # z_1.9500000000000002.tif
    refused_before_any_read(folder, monkeypatch, r"in steps of 0\.65, .* have no file: 1\.95\.")


def test_a_minus_sign_after_a_separator_is_read(tmp_path, monkeypatch):
    # z_-7.80 ... z_-0.65 were read in reversed z order; z_-3.25 ... z_3.90 as two name
    # patterns, the 5 negative ones left out with a warning only
    truth = coded(12)
    below = [f"z_{-0.65 * (12 - k):.2f}.tif" for k in range(12)]
    np.testing.assert_array_equal(
        read(write(tmp_path / "below", dict(zip(below, truth, strict=True)))), truth
    )
    # a "-" after a letter or a digit separates: scan-0001 is slice 1, not -1 (reversed)
    hyphens = {f"scan-{k:04d}_2026-12-03.tif": truth[k] for k in range(12)}
    np.testing.assert_array_equal(read(write(tmp_path / "hyphens", hyphens)), truth)
    across = [f"z_{0.65 * (k - 5):.2f}.tif" for k in range(12)]  # z_-3.25 ... z_3.90
    folder = write(tmp_path / "across", dict(zip(across, truth, strict=True)))
    np.testing.assert_array_equal(read(folder), truth)
    (folder / "z_-1.30.tif").unlink()
    refused_before_any_read(folder, monkeypatch, r"numbered -3\.25 to 3\.90 .* no file: -1\.30\.")


@pytest.mark.parametrize("naming", ["batches", "time of day"])
def test_a_number_one_per_file_orders_the_others(tmp_path, monkeypatch, naming):
    # a batch number, or a time of day whose minute goes 30 -> 31, besides the slice
    # number: were refused as channel by z (one per file is the slice's number); a gap
    # in the slice numbers was read (main: 19 slices, every one after the gap too low)
    truth = coded(20)
    names = {
        "batches": lambda k: f"batch{1 + k // 10}_rec{k:04d}.tif",
        "time of day": lambda k: (
            f"img_{k:04d}_15-{30 + (50 + k) // 60:02d}-{(50 + k) % 60:02d}.tif"
        ),
    }[naming]
    folder = write(tmp_path / "scan", {names(k): truth[k] for k in range(20)})
    np.testing.assert_array_equal(read(folder), truth)
    (folder / names(10)).unlink()
    refused_before_any_read(folder, monkeypatch, r"in steps of 1, .* have no file: 0010\.")


def test_rounded_whole_positions_are_read_and_their_gaps_refused(tmp_path, monkeypatch):
    # positions 6.543 µm apart rounded to whole µm (0, 7, 13, 20...): were refused, "not
    # numbered in one step"; main read them with slices missing
    truth = coded(20)
    names = [f"z_{round(6.543 * k):05d}um.tif" for k in range(20)]
    folder = write(tmp_path / "scan", dict(zip(names, truth, strict=True)))
    np.testing.assert_array_equal(read(folder), truth)
    for k in (5, 9, 10, 11):
        (folder / names[k]).unlink()
    message = refused_before_any_read(folder, monkeypatch, r"in steps of about 6\.5")
    assert "4 number(s) of that sequence have no file: 00033, 00059-00072 (3)" in message


def test_a_gap_names_the_files_left_out_that_may_fill_it(tmp_path, monkeypatch):
    # z1.tif is named apart from z0.75.tif (z*.tif, z*.*.tif), slice_0005.tiff apart from
    # the .tif files: the gap's message said 1.00 (0005) had no file; main read z1.tif's
    # folder in the wrong order (1, 0, 2, 4: z0.5 before z0.25) without z1.tif
    truth = coded(10)
    names = ["z0.25.tif", "z0.5.tif", "z0.75.tif", "z1.tif", "z1.25.tif"]
    folder = write(tmp_path / "g", dict(zip(names, truth[:5], strict=True)))
    with pytest.warns(UserWarning, match="left out: z1.tif"):
        message = refused_before_any_read(folder, monkeypatch, r"have no file: 1\.00\.")
    assert "other names z1.tif were left out (not named like the others) and may hold" in message
    files = {f"slice_{k:04d}.tif" if k != 5 else "slice_0005.tiff": truth[k] for k in range(10)}
    folder = write(tmp_path / "suffix", files)
    with pytest.warns(UserWarning, match="left out: slice_0005.tiff"):
        message = refused_before_any_read(folder, monkeypatch, r"have no file: 0005\.")
    assert "other names slice_0005.tiff were left out" in message


@pytest.mark.parametrize(
    "names",
    [
        ("rec_1.tif", "rec_01.tif"),
        ("z_1.5.tif", "z_1.50.tif"),
        ("z_0.5.tif", "z_0.50.tif", "z_1.0.tif"),
    ],
    ids=["integers", "decimals", "decimals-and-another"],
)
def test_names_of_one_number_are_refused_even_alone(tmp_path, monkeypatch, names):
    # were read as 2 (3) slices; z_0.5, z_0.50, z_1.0 was refused as channel by z
    truth = coded(len(names))
    folder = write(tmp_path / "twice", dict(zip(names, truth, strict=True)))
    refused_before_any_read(
        folder, monkeypatch, r"{} and {} carry the same number".format(*sorted(names[:2]))
    )


def _hms(seconds: int, sep: str = "-", base: int = 14 * 3600 + 32 * 60 + 30) -> str:
    s = base + seconds
    return f"{s // 3600:02d}{sep}{s % 3600 // 60:02d}{sep}{s % 60:02d}"


_STEPS = [0, 2, 5, 8, 12, 14, 17, 21, 23, 26, 29, 33, 35, 38, 41, 44, 46, 50, 53, 56]
_BEFORE_THE_INDEX = {
    # one slice every 2 s, the time of day first: its seconds wrap (58, then 00); read
    # in the wrong z order ([15..29, 0..14]) after the first review
    "time wrapping": [f"2023-11-05_{_hms(2 * i)}_rec{i:04d}.tif" for i in range(30)],
    # a time, an epoch (s and ms), a rounded z in µm or a temperature before a clean
    # index: refused as missing numbers after the first review, read by main in order
    "HHMMSS": [f"rec_{_hms(t, '')}_{i:04d}.tif" for i, t in enumerate(_STEPS)],
    "HH-MM-SS": [f"2023-11-05_{_hms(t)}_rec{i:04d}.tif" for i, t in enumerate(_STEPS)],
    "epoch": [f"img_{1700000000 + t}_{i:04d}.tif" for i, t in enumerate(_STEPS)],
    "epoch ms": [f"img_{1700000000000 + 1337 * t + i}_{i:04d}.tif" for i, t in enumerate(_STEPS)],
    "z um": [f"rec_z{round(1.3 * i)}um_{i:04d}.tif" for i in range(12)],
    "temperature": [f"T{20 + t}_rec{i:04d}.tif" for i, t in enumerate(_STEPS)],
}


@pytest.mark.parametrize("names", _BEFORE_THE_INDEX.values(), ids=_BEFORE_THE_INDEX.keys())
def test_a_time_or_position_before_the_index_reads_in_main_s_order(tmp_path, monkeypatch, names):
    # the names' natural order (main's) is the scan's; the index judges the gaps
    truth = coded(len(names))
    folder = write(tmp_path / "scan", dict(zip(names, truth, strict=True)))
    np.testing.assert_array_equal(read(folder), truth)
    (folder / names[5]).unlink()  # a slice missing is still refused, by the index
    refused_before_any_read(folder, monkeypatch, rf"have no file: {5:04d}\.")


def test_rounded_positions_alone_with_a_small_step_say_so(tmp_path, monkeypatch):
    # z_0, z_1, z_3 ... for 1.3 µm: none missing, but the steps cannot tell
    truth = coded(12)
    names = [f"z_{round(1.3 * i)}.tif" for i in range(12)]
    folder = write(tmp_path / "scan", dict(zip(names, truth, strict=True)))
    refused_before_any_read(folder, monkeypatch, r"If the numbers are positions rounded in")


_STACKS_BY_TIME_OR_POSITION = {
    # main read these in name order; the first review invented missing slices
    "time": [f"scan_{_hms(t, '')}.tif" for t in (0, 301, 640, 905)],
    "epoch": [f"scan_{1700000000 + t}.tif" for t in (0, 301, 640, 905)],
    "z um": [f"vol_z{round(k * 5 * 6.5)}um.tif" for k in range(4)],
    "parts by 10": [f"vol_{10 * (k + 1)}.tif" for k in range(4)],
}


@pytest.mark.parametrize(
    "names", _STACKS_BY_TIME_OR_POSITION.values(), ids=_STACKS_BY_TIME_OR_POSITION.keys()
)
def test_stacks_named_by_a_time_or_position_are_read_in_name_order(tmp_path, names):
    truth = coded(20)
    files = {name: truth[5 * k : 5 * k + 5] for k, name in enumerate(names)}
    np.testing.assert_array_equal(read(write(tmp_path / "scan", files)), truth)


def test_stack_parts_numbered_by_ten_with_one_missing_say_how_to_number_them(tmp_path, monkeypatch):
    truth = coded(12)
    files = {f"vol_{n}.tif": truth[4 * k : 4 * k + 4] for k, n in enumerate((10, 20, 40))}
    message = refused_before_any_read(
        write(tmp_path / "scan", files), monkeypatch, r"steps of 10, .* have no file: 30\."
    )
    assert "number the parts 1, 2, 3 or by their first slice" in message


def test_a_gap_among_signed_padded_numbers_is_shown_padded(tmp_path, monkeypatch):
    # z_-04 .. z_01 without z_-02: the width of the digits, the sign aside
    truth = coded(5)
    names = [f"z_{n:03d}.tif" if n < 0 else f"z_{n:02d}.tif" for n in (-4, -3, -1, 0, 1)]
    folder = write(tmp_path / "scan", dict(zip(names, truth, strict=True)))
    refused_before_any_read(folder, monkeypatch, r"have no file: -02\.")
