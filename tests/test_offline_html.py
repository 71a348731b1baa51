"""The documented offline way to save a view: every script inlined, nothing fetched."""

import re

import hvplot
import numpy as np
import pytest

import xarray_microct as mct

SCRIPT_SOURCES = re.compile(r"<script[^>]*\ssrc=[\"']([^\"']+)[\"']")


@pytest.fixture
def view():
    scan = mct.from_array(np.random.default_rng(0).random((16, 24, 24), "float32"), spacing=0.65)
    return scan.microct.preview(dim="z", positions=3, clim=(0.0, 1.0))


def test_preview_saved_inline_loads_nothing_from_the_network(tmp_path, view):
    hvplot.save(view, tmp_path / "preview.html", resources="inline")
    page = (tmp_path / "preview.html").read_text()
    assert SCRIPT_SOURCES.findall(page) == []
    assert "Bokeh" in page and len(page) > 1_000_000  # the library itself is in the page
