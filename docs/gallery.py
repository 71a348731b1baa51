"""Figures and tables of the documentation, made at build time from the installed package.

``build_generated(folder)`` draws small synthetic examples of each verb group with
:mod:`xarray_microct.report`'s PNG writers and writes the table of registered verbs, so
the guide always shows what the code does now. It takes a few seconds.
"""

from __future__ import annotations

import inspect
from pathlib import Path

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
    rough = beads.microct.median(radius="1 voxel").microct.invert().microct.threshold()
    post = rough.microct.opening(radius="1 voxel").microct.fill_holes()
    save_slice_png(beads, out / "beads-mask.png", labels=post.microct.label(), alpha=0.5)
    bead_labels = bead_pipeline(beads, bead_radius="6 um")
    save_slice_png(beads, out / "beads-watershed.png", labels=bead_labels, alpha=0.5)
