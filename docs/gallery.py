"""Figures and tables of the documentation, made at build time from the installed package.

``build_generated(folder)`` draws small synthetic examples of each verb group with
:mod:`xarray_microct.report`'s PNG writers and writes the table of registered verbs, so
the guide always shows what the code does now. It takes a few seconds.

It also configures the example gallery (sphinx-gallery, see ``conf.py``): which scripts of
``examples/`` run at build time and with which small sizes (``EXECUTED``), their order, and
the scraper that shows the PNGs each script writes beside its code.
"""

from __future__ import annotations

import ast
import inspect
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import xarray_microct as mct
from xarray_microct.report import _orthoslices_png, save_slice_png

GROUPS = {
    "filters": "enhancement",
    "hessian": "Hessian objectness",
    "segment": "partitioning",
    "morphology": "partitioning",
    "label": "objects",
    "distance": "objects",
    "watershed": "objects",
    "measure": "objects",
    "regionprops": "objects",
    "fibers": "materials",
    "beads": "materials",
    "pyramid": "representation",
}


def verb_table() -> str:
    """A Markdown table of every registered verb: group, name, signature, summary."""
    rows = []
    for name, op in sorted(REGISTRY_ITEMS()):
        module = op.func.__module__.rsplit(".", 1)[-1]
        group = GROUPS.get(module, module)
        params = list(inspect.signature(op.func).parameters.values())[1:]
        signature = ", ".join(p.name for p in params)
        summary = (inspect.getdoc(op.func) or "").split("\n", 1)[0].replace("|", "\\|")
        rows.append((group, name, signature, summary))
    rows.sort()
    lines = ["| group | verb | parameters | what it does |", "| --- | --- | --- | --- |"]
    lines += [f"| {g} | `{n}` | {s} | {d} |" for g, n, s, d in rows]
    return "\n".join(lines) + "\n"


def REGISTRY_ITEMS():
    return mct.REGISTRY.items()


def build_generated(out: Path) -> None:
    """Write ``verbs.md`` and the guide's PNG figures into ``out``."""
    from xarray_microct.pipelines import beads as bead_pipeline
    from xarray_microct.synthetic import bead_pack, fiber_bed

    out.mkdir(parents=True, exist_ok=True)
    (out / "verbs.md").write_text(verb_table(), encoding="utf-8")

    scan, truth = fiber_bed((24, 96, 96), seed=1, chunks=(12, 48, 48))
    save_slice_png(scan, out / "fiber-slice.png")
    _orthoslices_png(scan, out / "fiber-orthoslices.png", None, None, 0.5)
    smooth = scan.microct.gaussian(sigma="1.3 um")
    save_slice_png(smooth, out / "filters-gaussian.png")
    tube = scan.microct.tubeness(sigma="3.2 um")
    save_slice_png(tube, out / "hessian-tubeness.png")
    mask = smooth.microct.threshold(method="otsu")
    save_slice_png(smooth, out / "segment-threshold.png", labels=mask, alpha=0.4)
    labels = mask.microct.label()
    save_slice_png(smooth, out / "objects-label.png", labels=labels, alpha=0.5)
    fibers = scan.microct.detect_fibers(radius="6.4 um")
    save_slice_png(scan, out / "fibers-centres.png",
                   centres={"detected": fibers, "true": truth.centres})

    beads, _ = bead_pack(48, radius=6.0, seed=1, chunks=48)
    save_slice_png(beads, out / "beads-slice.png")
    clean = beads.microct.denoise(sigma="0.7 voxel").microct.remove_rings()
    post = clean.microct.invert().microct.threshold().microct.fill_holes()
    save_slice_png(beads, out / "beads-mask.png", labels=post.microct.label(), alpha=0.5)
    bead_labels = bead_pipeline(beads, bead_radius="6 um")
    save_slice_png(beads, out / "beads-watershed.png", labels=bead_labels, alpha=0.5)


def drop_volume_parameter(
    app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """``autodoc-process-docstring``: a verb's method does not list the volume it is on.

    On ``vol.microct.<verb>`` the verb's first parameter is the accessor's volume, so its
    entry (``volume : xarray.DataArray`` and its description) is left out of the
    method's Parameters.
    """
    if what != "method" or not name.startswith("xarray_microct.accessor."):
        return
    op = mct.REGISTRY.get(name.rsplit(".", 1)[-1])
    if op is None or obj.__doc__ is not op.func.__doc__:
        return
    first = next(iter(inspect.signature(op.func).parameters))
    starts = [i for i, line in enumerate(lines)
              if line == first or line.startswith(f"{first} :")]
    if not starts:
        return
    start = end = starts[0]
    while end + 1 < len(lines) and lines[end + 1].startswith((" ", "\t")):
        end += 1
    del lines[start:end + 1]


# ---------------------------------------------------------------------------------------
# The example gallery (sphinx-gallery): the analyses in examples/ run at a small size, and
# the PNGs they write are shown beside their code. The set-up examples (laptop, cluster,
# MPI, SLURM, cloud) need their cluster: they are shown, not run.

#: Examples run when the docs are built, with the arguments that keep them small (a few
#: seconds each); ``MICROCT_DOCS_FULL=1`` runs them at their own default sizes instead.
EXECUTED = {
    "quickstart": [],
    "fibers": ["--shape", "16", "96", "96", "--chunks", "48"],
    "beads": ["--size", "40", "--radius", "5", "--chunks", "24"],
    "paper_figures": ["--small", "--workers", "2"],
}
#: The gallery's order: the analyses, then the shared analysis and its set-ups.
ORDER = ["quickstart", "fibers", "beads", "paper_figures", "enhance", "laptop",
         "local_cluster", "mpi_run", "slurm", "cloud_coiled"]
EXECUTED_PATTERN = r"/(" + "|".join(EXECUTED) + r")\.py$"
_OUTPUT: list[Path] = []  # the temporary folder of this build, made on first use


def output_folder(src_file: str | Path) -> Path:
    """Where the example ``src_file`` writes its files during the docs build."""
    if not _OUTPUT:
        _OUTPUT.append(Path(tempfile.mkdtemp(prefix="microct-gallery-")))
    return _OUTPUT[0] / Path(src_file).stem


def reset_argv(gallery_conf: dict[str, Any], script_vars: dict[str, Any]) -> list[str]:
    """The command line of an executed example (sphinx-gallery's ``reset_argv``).

    Its output goes to a temporary folder, never into the source tree. sphinx-gallery
    blanks ``__doc__`` while it runs a script; the examples use theirs as the
    ``--help`` text, so it is given back here.
    """
    src_file = Path(script_vars["src_file"])
    script_vars["example_globals"]["__doc__"] = ast.get_docstring(
        ast.parse(src_file.read_text(encoding="utf-8")))
    name = src_file.stem
    out = output_folder(src_file)
    out.mkdir(parents=True, exist_ok=True)
    args = [] if os.environ.get("MICROCT_DOCS_FULL") else list(EXECUTED.get(name, []))
    return [str(out)] if name == "quickstart" else [*args, "--output", str(out)]


def scrape_pngs(block: Any, block_vars: dict[str, Any], gallery_conf: dict[str, Any]) -> str:
    """sphinx-gallery image scraper: the PNGs an example wrote to its output folder.

    Each PNG is shown once, after the code block that wrote it.
    """
    from sphinx_gallery.scrapers import figure_rst

    folder = output_folder(block_vars["src_file"])
    shown = _SHOWN.setdefault(str(folder), set())
    new = sorted(p for p in folder.rglob("*.png") if p not in shown)
    names = []
    for png, target in zip(new, block_vars["image_path_iterator"], strict=False):
        shutil.copyfile(png, target)
        shown.add(png)
        names.append(target)
    return figure_rst(names, gallery_conf["src_dir"])


_SHOWN: dict[str, set[Path]] = {}


def remove_outputs(app: Any, exception: Exception | None) -> None:
    """``build-finished``: delete the temporary folder the examples wrote into."""
    while _OUTPUT:
        shutil.rmtree(_OUTPUT.pop(), ignore_errors=True)


class ExampleOrder:
    """sphinx-gallery ``within_subsection_order``: the analyses first (see ``ORDER``)."""

    def __init__(self, src_dir: str) -> None:
        self.src_dir = src_dir

    def __call__(self, filename: str) -> tuple[int, str]:
        stem = Path(filename).stem
        return (ORDER.index(stem) if stem in ORDER else len(ORDER), stem)
