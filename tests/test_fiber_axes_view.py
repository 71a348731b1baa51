"""The live 3-D view of fiber axes (``view3d`` of a fiber table), built headless."""

from __future__ import annotations

import re
import sys

import numpy as np
import pandas as pd
import pytest

from xarray_microct import plot
from xarray_microct.report import save_view

pytest.importorskip("plotly")

TILTS = {7: 0.0, 3: 10.0, 12: 30.0}  # fiber id: misalignment from z, degrees
AZIMUTH = {7: 0.0, 3: 90.0, 12: 200.0}


@pytest.fixture
def table() -> pd.DataFrame:
    """Straight fibers of known tilt, sampled every 2 um of z, rows shuffled."""
    z = np.arange(0.0, 40.0, 2.0)
    rows = []
    for fid, tilt in TILTS.items():
        slope = np.tan(np.radians(tilt))
        phi = np.radians(AZIMUTH[fid])
        x = 10.0 * fid + slope * np.cos(phi) * z
        y = 5.0 * fid + slope * np.sin(phi) * z
        rows.append(pd.DataFrame({"fiber_id": fid, "z": z, "y": y, "x": x, "radius": 0.5 * fid}))
    frame = pd.concat(rows).sample(frac=1.0, random_state=0).reset_index(drop=True)
    frame.attrs["units"] = "micrometer"
    return frame


def test_each_fiber_is_drawn_along_z_coloured_by_its_tilt(table):
    figure = plot.view3d(table)
    (line,) = figure.data  # one trace for all fibers
    x, y, z = (np.asarray(getattr(line, d), float) for d in "xyz")
    gaps = np.flatnonzero(np.isnan(z))
    assert len(gaps) == len(TILTS) - 1 and np.isnan(x[gaps]).all() and np.isnan(y[gaps]).all()
    ids = np.asarray(line.customdata)[:, 0]
    for fid, tilt in TILTS.items():
        vertices = ids == fid
        expected = table[table.fiber_id == fid].sort_values("z")
        np.testing.assert_allclose(z[vertices], expected["z"])
        np.testing.assert_allclose(x[vertices], expected["x"])
        np.testing.assert_allclose(y[vertices], expected["y"])
        np.testing.assert_allclose(np.asarray(line.line.color)[vertices], tilt, atol=1e-6)
        np.testing.assert_allclose(np.asarray(line.customdata)[vertices, 1], 0.5 * fid)
    assert line.line.cmax == pytest.approx(30.0) and line.connectgaps is False
    scene = figure.layout.scene
    assert scene.aspectmode == "data"  # equal physical scales
    assert scene.xaxis.title.text == "x (micrometer)" and scene.zaxis.title.text == "z (micrometer)"
    assert "micrometer" in line.hovertemplate and figure.layout.title.text.startswith("3 fiber")


def test_saved_view_is_live_and_offline(table, tmp_path):
    page = save_view(plot.view3d(table), tmp_path / "fibers.html", title="Bed 3").read_text()
    assert "<title>Bed 3</title>" in page
    assert re.findall(r"<script[^>]*\ssrc=", page) == []  # plotly.js is in the page
    assert "Plotly.newPlot" in page and len(page) > 1_000_000


def test_bad_table_and_missing_plotly_say_what_to_do(table, monkeypatch):
    with pytest.raises(ValueError, match="detect_fibers"):
        plot.view3d(table.drop(columns="radius"))
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    with pytest.raises(ImportError, match=r"xarray-microct\[view3d\]"):
        plot.view3d(table)
