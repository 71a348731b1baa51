"""The fiber-bed section of the report: count, volume fraction, radius and misalignment
distributions, 3-D centre lines — checked against a bed of known fibers."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import xarray_microct as mct
from xarray_microct import report

RADII = np.array([3.0, 3.5, 4.0, 4.5, 5.0, 5.0])
TILTS = np.array([0.0, 2.0, 4.0, 6.0, 9.0, 13.0])  # degrees from z, tilted towards +x
NZ, NY, NX = 10, 64, 64


@pytest.fixture
def bed() -> pd.DataFrame:
    """Straight fibers, one centre per z slice (spacing 1), known radius and tilt."""
    rows = []
    for fid, (radius, tilt) in enumerate(zip(RADII, TILTS, strict=True), start=1):
        for z in range(NZ):
            rows.append(
                {
                    "fiber_id": fid,
                    "z": float(z),
                    "y": 8.0 * fid,
                    "x": 10.0 + z * np.tan(np.radians(tilt)),
                    "radius": radius,
                }
            )
    table = pd.DataFrame(rows)
    table.attrs = {
        "units": "micrometer",
        "shape": (NZ, NY, NX),
        "spacing": (1.0, 1.0, 1.0),
        "microct_provenance": [{"op": "detect_fibers", "params": {}}],
    }
    return table


def bars(ax) -> list[tuple[float, float, float]]:
    return [(b.get_x(), b.get_x() + b.get_width(), b.get_height()) for b in ax.patches]


def in_bin(values: np.ndarray, low: float, high: float, last: bool) -> int:
    """How many values a histogram bin [low, high) holds (the last bin is closed)."""
    eps = 1e-9
    upper = values <= high + eps if last else values < high - eps
    return int(((values >= low - eps) & upper).sum())


def page_text(path: Path) -> str:
    """The report's HTML sections as written (Panel stores them escaped twice)."""
    return html.unescape(html.unescape(path.read_text()))


def test_radius_histogram_counts_every_fiber_in_its_bin(bed: pd.DataFrame) -> None:
    ax = report.fiber_radius_figure(mct.fiber_summary(bed)).axes[0]
    counted = bars(ax)
    assert sum(h for _, _, h in counted) == len(RADII)
    for i, (low, high, height) in enumerate(counted):
        assert height == in_bin(RADII, low, high, last=i == len(counted) - 1)
    assert "micrometer" in ax.get_xlabel()


def test_orientation_histogram_bins_the_true_misalignment(bed: pd.DataFrame) -> None:
    summary = mct.fiber_summary(bed)
    np.testing.assert_allclose(summary.fibers["polar"], TILTS, atol=1e-6)
    hist, rose = report.fiber_orientation_figure(summary).axes[:2]
    counted = bars(hist)
    assert sum(h for _, _, h in counted) == len(TILTS)
    for i, (low, high, height) in enumerate(counted):
        assert height == in_bin(TILTS, low, high, last=i == len(counted) - 1)
    points = rose.collections[0].get_offsets()
    np.testing.assert_allclose(np.asarray(points)[:, 1], TILTS, atol=1e-6)


def test_axes_figure_draws_each_fiber_through_its_centres(bed: pd.DataFrame) -> None:
    ax = report.fiber_axes_figure(bed, mct.fiber_summary(bed)).axes[0]
    assert ax.name == "3d"
    assert len(ax.lines) == len(RADII)
    for line, (_, fiber) in zip(ax.lines, bed.groupby("fiber_id"), strict=True):
        x, y, z = line.get_data_3d()
        np.testing.assert_allclose(x, fiber["x"])
        np.testing.assert_allclose(y, fiber["y"])
        np.testing.assert_allclose(z, fiber["z"])


def test_axes_figure_keeps_the_beds_proportions_or_says_how_z_is_stretched(
    bed: pd.DataFrame,
) -> None:
    def box_and_title(table: pd.DataFrame) -> tuple[np.ndarray, str]:
        ax = report.fiber_axes_figure(table, mct.fiber_summary(table)).axes[0]
        box = np.asarray(ax.get_box_aspect(), float)
        return box / box[0], ax.get_title()

    x = np.ptp(bed["x"])
    y = np.ptp(bed["y"])  # 40, the widest: z (9) is stretched to 40 / 3
    box, title = box_and_title(bed)
    np.testing.assert_allclose(box, [1.0, y / x, y / 3 / x])
    assert f"z stretched ×{y / 3 / (NZ - 1):.2g}" in title
    tall = bed.assign(z=bed["z"] * 10)  # 90 tall: drawn as it is
    box, title = box_and_title(tall)
    np.testing.assert_allclose(box, [1.0, y / x, 90 / x])
    assert "stretched" not in title


def test_bed_table_gives_count_and_volume_fraction(bed: pd.DataFrame) -> None:
    text = report.fiber_bed_html(mct.fiber_summary(bed))
    fraction = np.sum(np.pi * RADII**2 * NZ) / (NZ * NY * NX)
    assert "<td>fiber count</td><td>6</td>" in text
    assert f"<td>fiber volume fraction</td><td>{fraction:.4g}</td>" in text


@pytest.mark.parametrize("how", ["result", "fibers"])
def test_report_of_a_fiber_table_has_the_fiber_section(
    bed: pd.DataFrame, tmp_path: Path, how: str
) -> None:
    volume = mct.from_array(
        np.random.default_rng(0).random((NZ, NY, NX)), spacing=1.0, units="micrometer"
    )
    out = report.save_report(tmp_path / "bed.html", volume, slices=2, **{how: bed})
    text = page_text(out)
    assert "<h2>Fibers</h2>" in text
    assert "<td>fiber count</td><td>6</td>" in text
    for name in ("radius", "orientation", "axes"):
        png = tmp_path / f"bed-fiber-{name}.png"
        with Image.open(png) as image:
            image.verify()
        with Image.open(png) as image:
            pixels = np.asarray(image.convert("L"), float)
        assert min(pixels.shape) > 200
        assert pixels.std() > 5 and len(np.unique(pixels)) > 20  # drawn, not blank
        # the page embeds the file written beside it
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        assert f'alt="fiber {name}" src="data:image/png;base64,{data}"' in text


def test_report_without_a_fiber_table_has_no_fiber_section(tmp_path: Path) -> None:
    volume = mct.from_array(np.random.default_rng(0).random((4, 16, 16)), spacing=1.0)
    out = report.save_report(tmp_path / "plain.html", volume, slices=2)
    assert "<h2>Fibers</h2>" not in page_text(out)
    assert not list(tmp_path.glob("*fiber*"))
