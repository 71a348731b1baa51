"""Sphinx configuration of the xarray-microct documentation (built by ``make docs``)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import xarray_microct  # noqa: E402

project = "xarray-microct"
author = "xarray-microct developers"
copyright = "the xarray-microct developers"
version = release = xarray_microct.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_generated", "**.ipynb_checkpoints"]
myst_enable_extensions = ["colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 3

autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_typehints = "description"
autodoc_member_order = "bysource"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

html_theme = "pydata_sphinx_theme"
html_title = "xarray-microct"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}


def setup(app):
    """Draw the guide's figures, the verb table and the fault table (from the tests)."""
    from gallery import build_generated
    from make_fault_table import write as write_fault_table

    app.connect("builder-inited", lambda app: build_generated(HERE / "_generated"))
    app.connect("builder-inited", lambda app: write_fault_table(HERE / "_generated" / "faults.md"))
    return {"parallel_read_safe": True}
