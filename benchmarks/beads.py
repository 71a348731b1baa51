"""Bead pipeline benchmark: xarray-microct (Dask, chunked), optionally beside scipy/skimage.

Runs the paper's Fig. 3 chain (denoise → inverted Otsu → opening + fill holes →
distance map → watershed → labels) on the synthetic bead pack (512³ by default,
``--quick``: 256³) with xarray_microct.pipelines.beads on a chunked volume (128³
chunks, Dask's threaded scheduler), and with ``--reference`` also with the same steps
of scipy/skimage on one in-memory NumPy array. Each case runs in a fresh process, so
its peak memory (resident set size sampled every 20 ms, above the process's level once
the phantom — the input — is built; the returned labels count) is its own. Prints wall
and CPU seconds, Mvox/s, peak memory above the input (MiB and bytes per voxel), and the
bead count and matched IoU against the phantom's true labels.

The bead radius is given (``--radius``), as a user who knows it would; ``--estimate``
lets the pipeline estimate it (one more distance map, computed eagerly).

Both sides are warmed up on a small pack first (imports, numba's compiled-code cache).
On a shared machine wall times are noisy: the CPU seconds say how much work was done.

``--store FOLDER`` measures as a user runs it instead: the pack is written once (chunk
size ``--chunks``) as an OME-Zarr store in FOLDER (reused when there), then
``microct run beads STORE OUT`` runs in a subprocess with the default parameters (the
radius estimated), and the wall seconds, CPU seconds and peak RSS of the whole process
tree (sampled every 0.1 s; all of it, interpreter and libraries included) are printed
with the count and IoU against the truth. ``--baseline SRC`` runs the same command
first with another source tree of the package first on ``PYTHONPATH`` (e.g. a checkout
of the previous version), on the same store, in the same session.

``--stages`` says where the CPU seconds go instead: the pipeline (radius given) runs on
Dask's single-threaded scheduler and the CPU seconds of its tasks are summed by task
name (the work, whatever else loads the machine).

``--timeline`` (with ``--store``) says where the threads idle instead: ``microct run
beads`` runs in a fresh process with each task's start and end time recorded; printed
are the core-seconds no task ran, the eager steps of the pipeline (noise, radius) and
dask's ordering of the graph on the clock, and every half second in which fewer
threads than cores ran a task, with the tasks that did (the rest is serial work on
the main thread: graph building, optimisation, ordering, the eager estimates).

Run: python benchmarks/beads.py [--quick] [--sizes 512] [--radius 10] [--chunks 64] [--reference]
     python benchmarks/beads.py --store /tmp/beads-bench [--baseline ../previous]
     python benchmarks/beads.py --stages [--quick]
     python benchmarks/beads.py --store /tmp/beads-bench --timeline
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from _measure import Measure, in_fresh_process, run_microct


def matched_iou(labels: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """For each true bead, the IoU with the predicted label overlapping it most."""
    import scipy.ndimage as ndi

    n = int(truth.max())
    inter = np.bincount(
        truth.ravel().astype(np.int64) * (int(labels.max()) + 1) + labels.ravel(),
        minlength=(n + 1) * (int(labels.max()) + 1),
    ).reshape(n + 1, -1)
    inter[:, 0] = 0
    best = inter[1:].argmax(axis=1)
    true_size = ndi.sum_labels(np.ones_like(truth), truth, np.arange(1, n + 1))
    pred_size = np.bincount(labels.ravel(), minlength=int(labels.max()) + 1)
    overlap = inter[np.arange(1, n + 1), best]
    union = true_size + pred_size[best] - overlap
    return np.where(best > 0, overlap / np.maximum(union, 1), 0.0)


def reference_pipeline(scan: np.ndarray, radius: float) -> np.ndarray:
    """The same chain with scipy/skimage on one in-memory array."""
    import scipy.ndimage as ndi
    from skimage.feature import peak_local_max
    from skimage.filters import threshold_otsu
    from skimage.morphology import ball
    from skimage.segmentation import watershed

    smooth = ndi.median_filter(scan, footprint=ball(1))
    inverted = 255 - smooth
    mask = inverted > threshold_otsu(inverted)
    mask = ndi.binary_opening(mask, structure=ball(1))
    mask = ndi.binary_fill_holes(mask, structure=ndi.generate_binary_structure(3, 1))
    dist = ndi.distance_transform_edt(mask)
    coords = peak_local_max(
        dist, min_distance=max(1, int(radius / 2)), exclude_border=False, labels=mask
    )
    markers = np.zeros(mask.shape, np.int32)
    markers[tuple(coords.T)] = np.arange(1, len(coords) + 1)
    return watershed(-dist, markers, mask=mask)


def _case(kind: str, size: int, radius: float, chunks: int, estimate: bool, queue: Any) -> None:
    import dask

    from xarray_microct.pipelines import beads
    from xarray_microct.synthetic import bead_pack

    scan, truth = bead_pack(size, radius=radius, seed=0, chunks=chunks)
    scan_np, truth_np = scan.values, truth.values
    # warm-up on a small pack: imports and numba's compiled-code cache, not measured
    small, _ = bead_pack(48, radius=radius / 2, seed=1, chunks=24)
    if kind == "xarray-microct":
        beads(small, bead_radius=None if estimate else radius / 2).compute()
    else:
        reference_pipeline(small.values, radius / 2)
    with Measure(interval=0.02) as mem:
        if kind == "xarray-microct":
            with dask.config.set(scheduler="threads"):
                labels = beads(
                    scan.copy(data=dask.array.from_array(scan_np, chunks=chunks)),
                    bead_radius=None if estimate else radius,
                ).values
        else:
            labels = reference_pipeline(scan_np, radius)
    iou = matched_iou(labels, truth_np)
    queue.put(
        {
            "kind": kind,
            "size": size,
            "chunks": chunks,
            "time": mem.seconds,
            "peak": mem.peak,
            "cpu": mem.cpu_seconds,
            "n_true": int(truth.attrs["n_beads"]),
            "n_found": int(len(np.unique(labels)) - 1),
            "iou_min": float(iou.min()),
            "iou_mean": float(iou.mean()),
            "iou_ge_09": float((iou >= 0.9).mean()),
        }
    )


def run(kind: str, size: int, radius: float, chunks: int, estimate: bool) -> dict:
    return in_fresh_process(_case, kind, size, radius, chunks, estimate)


def build_store(folder: Path, size: int, radius: float, chunks: int) -> Path:
    """The pack written as OME-Zarr into ``folder`` (with its truth, ``.npy``), once."""
    import xarray_microct as mct
    from xarray_microct.synthetic import bead_pack

    store = folder / f"pack-{size}-r{radius:g}-c{chunks}.ome.zarr"
    truth_path = store.with_suffix(".truth.npy")
    try:
        mct.open_volume(store)
        if truth_path.exists():
            return store
    except (ValueError, FileNotFoundError, OSError):
        pass
    scan, truth = bead_pack(size, radius=radius, seed=0, chunks=chunks)
    scan.microct.to_zarr(store, mode="w" if store.exists() else "w-")
    np.save(truth_path, truth.values)
    return store


def run_stored(source: Path | None, store: Path, out: Path) -> dict:
    """``microct run beads store out`` in a subprocess: wall, CPU, peak tree RSS, scores."""
    import xarray_microct as mct

    seconds, cpu, peak = run_microct(source, "beads", store, out)
    labels = mct.open_volume(out).values
    truth = np.load(store.with_suffix(".truth.npy"))
    iou = matched_iou(labels, truth)
    return {
        "time": seconds,
        "cpu": cpu,
        "peak": peak,
        "n_true": int(truth.max()),
        "n_found": int(len(np.unique(labels)) - 1),
        "iou_min": float(iou.min()),
        "iou_median": float(np.median(iou)),
    }


def main_stored(args: argparse.Namespace) -> None:
    folder = Path(args.store).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    size = 256 if args.quick else args.sizes[0]
    chunks = args.chunks or 128
    store = build_store(folder, size, args.radius, chunks)
    sources: list[tuple[str, Path | None]] = [("this tree", None)]
    if args.baseline:
        sources.insert(0, ("baseline", Path(args.baseline).resolve()))
    voxels = size**3
    print(
        f"cores: {psutil.cpu_count()}, {size}³ uint8 bead pack, radius {args.radius} voxels, "
        f"{chunks}³ chunks; microct run beads (defaults: the radius estimated)"
    )
    print(
        f"{'code':>10} {'wall s':>7} {'cpu s':>7} {'Mvox/s':>7} {'peak MiB':>9} {'B/vox':>6} "
        f"{'beads':>11} {'IoU med':>8} {'IoU min':>8}"
    )
    for name, source in sources:
        r = run_stored(source, store, folder / f"labels-{name.replace(' ', '-')}.zarr")
        print(
            f"{name:>10} {r['time']:7.1f} {r['cpu']:7.1f} {voxels / r['time'] / 1e6:7.2f} "
            f"{r['peak'] / 2**20:9.0f} {r['peak'] / voxels:6.1f} "
            f"{r['n_found']:>5}/{r['n_true']:<5} {r['iou_median']:8.3f} {r['iou_min']:8.3f}",
            flush=True,
        )


def _stages(size: int, radius: float, chunks: int, queue: Any) -> None:
    import dask
    from dask.callbacks import Callback

    from xarray_microct.pipelines import beads
    from xarray_microct.synthetic import bead_pack

    small, _ = bead_pack(48, radius=radius / 2, seed=1, chunks=24)
    beads(small, bead_radius=radius / 2).compute()  # imports and compiled code, not measured
    scan, _ = bead_pack(size, radius=radius, seed=0, chunks=chunks)
    scan = scan.persist()
    seconds: dict[str, float] = {}

    class PerTask(Callback):  # CPU seconds of each task, summed by the task's name
        def _pretask(self, key: Any, dsk: Any, state: Any) -> None:
            self.start = time.thread_time()

        def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker: Any) -> None:
            name = re.sub(r"-?[0-9a-f]{32}", "", key[0] if isinstance(key, tuple) else key)
            seconds[name] = seconds.get(name, 0.0) + time.thread_time() - self.start

    labels = beads(scan, bead_radius=radius)
    cpu = time.process_time()
    with PerTask(), dask.config.set(scheduler="sync"):
        labels.data.compute(optimize_graph=False)  # unfused: one name per step
    queue.put((sorted(seconds.items(), key=lambda kv: -kv[1]), time.process_time() - cpu))


def main_stages(args: argparse.Namespace) -> None:
    size = 256 if args.quick else args.sizes[0]
    chunks = args.chunks or 128
    rows, total = in_fresh_process(_stages, size, args.radius, chunks)
    print(
        f"{size}³ bead pack, radius {args.radius} (given), {chunks}³ chunks, one thread "
        f"(sync): CPU seconds by task name, {total:.1f} s in all ({size**3 / total / 1e6:.1f} "
        "Mvox/s)"
    )
    for name, cpu in rows:
        if cpu >= 0.005 * total:
            print(f"{cpu:8.2f}  {100 * cpu / total:5.1f} %  {name}")


def _timeline(store: Path, out: Path, queue: Any) -> None:
    import threading

    import dask.local
    from dask.callbacks import Callback

    import xarray_microct.pipelines.beads as bead_module
    from xarray_microct.runner import run_pipeline

    clock = time.perf_counter
    start, tasks, steps, begun = clock(), [], [], {}

    class Span(Callback):  # each task's (start, end, name)
        def _pretask(self, key: Any, dsk: Any, state: Any) -> None:
            begun[key, threading.get_ident()] = clock() - start

        def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker: Any) -> None:
            name = re.sub(r"-?[0-9a-f]{32}", "", key[0] if isinstance(key, tuple) else key)
            tasks.append((begun.pop((key, threading.get_ident())), clock() - start, name))

    def timed(module: Any, name: str) -> None:  # the step's (name, start, end) on the clock
        step = getattr(module, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = clock() - start
            result = step(*args, **kwargs)
            steps.append((name, t, clock() - start))
            return result

        setattr(module, name, wrapper)

    for name in ("noise_ratio", "sample_radius", "beads"):
        timed(bead_module, name)
    timed(dask.local, "order")
    with Span():
        run_pipeline("beads", store, out, overwrite=True, progress=False, echo=lambda s: None)
    queue.put((clock() - start, tasks, steps))


def main_timeline(args: argparse.Namespace) -> None:
    folder = Path(args.store).resolve()
    chunks = args.chunks or 128
    store = build_store(folder, args.sizes[0], args.radius, chunks)
    in_fresh_process(_timeline, store, folder / "labels-timeline.zarr")  # warm-up
    total, tasks, steps = in_fresh_process(_timeline, store, folder / "labels-timeline.zarr")
    cores, step = psutil.cpu_count(), 0.5
    busy = np.zeros(int(total / step) + 1)
    names: list[dict[str, float]] = [{} for _ in busy]
    for begin, end, name in tasks:
        for b in range(int(begin / step), int(end / step) + 1):
            overlap = min(end, (b + 1) * step) - max(begin, b * step)
            if overlap > 0:
                busy[b] += overlap / step
                names[b][name] = names[b].get(name, 0.0) + overlap
    idle = cores * total - busy.sum() * step
    print(f"microct run beads in-process: {total:.1f} s, {cores} threads; {idle:.1f} core-s idle")
    for name, begin, end in sorted(steps, key=lambda s: s[1]):
        print(f"  {name:>14} {begin:6.2f} .. {end:6.2f} s")
    print("half seconds with fewer busy threads than cores (busy threads: main tasks):")
    for b, level in enumerate(busy):
        if level < cores - 0.1:
            top = sorted(names[b].items(), key=lambda kv: -kv[1])[:3]
            print(f"  {b * step:6.1f} s {level:5.2f}: " + ", ".join(f"{n} {t:.2f}" for n, t in top))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512])
    parser.add_argument("--quick", action="store_true", help="one 256³ pack")
    parser.add_argument("--radius", type=float, default=10.0)
    parser.add_argument("--chunks", type=int, help="chunk side (default: 128, 67 at 200³)")
    parser.add_argument("--estimate", action="store_true", help="let the pipeline estimate it")
    parser.add_argument("--reference", action="store_true", help="also scipy/skimage")
    parser.add_argument("--store", help="measure `microct run beads` on a store in this folder")
    parser.add_argument("--baseline", help="with --store: another source tree to compare")
    parser.add_argument("--stages", action="store_true", help="CPU seconds per stage")
    parser.add_argument("--timeline", action="store_true", help="with --store: idle threads")
    args = parser.parse_args()
    if args.timeline and args.store:
        main_timeline(args)
        return
    if args.stages:
        main_stages(args)
        return
    if args.store:
        main_stored(args)
        return
    sizes = [256] if args.quick else args.sizes
    print(f"cores: {psutil.cpu_count()}, bead radius {args.radius} voxels, seed 0")
    print(
        f"{'case':>22} {'chunks':>6} {'wall s':>7} {'cpu s':>7} {'Mvox/s':>7} {'peak MiB':>9} "
        f"{'B/vox':>6} {'beads':>11} {'IoU min':>8} {'IoU mean':>8}"
    )
    for size in sizes:
        chunks = args.chunks or {200: 67}.get(size, min(128, max(32, size // 2)))
        kinds = ("xarray-microct", "scipy/skimage") if args.reference else ("xarray-microct",)
        for kind in kinds:
            r = run(kind, size, args.radius, chunks, args.estimate)
            print(
                f"{r['kind'] + f' {size}³':>22} {r['chunks']:>6} {r['time']:7.1f} "
                f"{r['cpu']:7.1f} {size**3 / r['time'] / 1e6:7.2f} {r['peak'] / 2**20:9.0f} "
                f"{r['peak'] / size**3:6.1f} {r['n_found']:>5}/{r['n_true']:<5} "
                f"{r['iou_min']:8.3f} {r['iou_mean']:8.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
