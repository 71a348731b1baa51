"""Sphinx configuration of the xarray-microct documentation (built by ``make docs``)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from gallery import EXECUTED_PATTERN  # noqa: E402

import xarray_microct  # noqa: E402

project = "xarray-microct"
author = "xarray-microct developers"
copyright = "the xarray-microct developers"
version = release = xarray_microct.__version__

extensions = [
    "myst_nb",  # Markdown (MyST) and executed notebooks
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
# gallery/ is written by sphinx-gallery: its notebooks are downloads, not pages
exclude_patterns = ["_build", "_generated", "**.ipynb_checkpoints", "gallery/*.ipynb"]
templates_path = ["_templates"]
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

# Notebooks (docs/tutorials/*.ipynb) are stored without outputs and run at every build.
nb_execution_mode = "force"
nb_execution_in_temp = True
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_merge_streams = True

# The example gallery: see gallery.py for what runs, at which size, and the figures shown.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "gallery",
    "filename_pattern": EXECUTED_PATTERN,
    "ignore_pattern": r"__init__\.py",
    "reset_argv": "gallery.reset_argv",
    "image_scrapers": ("matplotlib", "gallery.scrape_pngs"),
    "within_subsection_order": "gallery.ExampleOrder",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
}

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
    from gallery import build_generated, drop_volume_parameter, remove_outputs
    from make_fault_table import write as write_fault_table

    app.connect("builder-inited", lambda app: build_generated(HERE / "_generated"))
    app.connect("builder-inited", lambda app: write_fault_table(HERE / "_generated" / "faults.md"))
    # before napoleon (priority 500) reads the NumPy sections
    app.connect("autodoc-process-docstring", drop_volume_parameter, priority=400)
    app.connect("build-finished", remove_outputs)
    return {"parallel_read_safe": True}
