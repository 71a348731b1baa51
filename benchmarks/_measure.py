"""Measurement helpers shared by the benchmark scripts in this folder.

* :class:`PeakRSS`: the peak resident set size of this process above its level at entry,
  sampled by a psutil thread;
* :class:`Measure`: :class:`PeakRSS` plus the wall and CPU seconds (user + system, all
  threads) of the block;
* :func:`in_fresh_process`: run one case in a new (spawned) process, so that its peak
  memory and its one-time costs are its own;
* :func:`run_microct`: ``microct run`` as a user runs it, in a subprocess: its wall and
  CPU seconds and the peak RSS of its whole process tree (worker processes included);
* :func:`matched_sections`, :func:`matched_radii`: the radii of a fiber table's sections
  matched to true ones (and the true fiber of each);
* :func:`clustered_mean`: a mean and its standard error with the fibers, not the rows, as
  the units;
* :func:`scored_rows`, :func:`clustered_f1`: the rows that ``object_metrics`` scores, each
  a true positive, a false positive or a false negative of one fiber (its slice known),
  and an object F1 with its standard error, fibers as the units;
* :func:`chain_identity`: the chains of a fiber table that join two true fibers, and the
  true fibers split over two chains, on every slice.

The scripts import it as ``from _measure import ...``: run as
``python benchmarks/<name>.py``, this folder is the first entry of ``sys.path`` (and a
spawned child inherits the parent's ``sys.path``). Running this module itself does nothing.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import psutil
from scipy.spatial import cKDTree

from xarray_microct.core.matching import optimal_pairs
from xarray_microct.metrics import match_centres, object_metrics


class PeakRSS:
    """Context manager: ``peak`` is the largest rise of this process's RSS, in bytes.

    A daemon thread samples the RSS every ``interval`` seconds while the block runs; one
    more sample is taken at exit.
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.process = psutil.Process()
        self.peak = 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss - self.base)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self.base = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss - self.base)

    @property
    def peak_mb(self) -> float:
        """The peak rise in MiB."""
        return self.peak / 2**20


def cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU seconds used so far by ``process`` (all its threads)."""
    times = process.cpu_times()
    return times.user + times.system


class Measure(PeakRSS):
    """:class:`PeakRSS` that also times the block: ``seconds`` (wall) and ``cpu_seconds``."""

    def __enter__(self) -> Measure:
        super().__enter__()
        self._cpu = cpu_seconds(self.process)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start
        self.cpu_seconds = cpu_seconds(self.process) - self._cpu
        super().__exit__(*exc)


def in_fresh_process(target: Callable[..., None], *args: Any, timeout: float | None = None) -> Any:
    """Run ``target(*args, queue)`` in a spawned process; return what it puts on ``queue``.

    ``target`` must be importable by the child (a module-level function) and put exactly
    one result on the queue. ``timeout`` (seconds) bounds the wait for that result.
    """
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get(timeout=timeout)
    process.join()
    return result


def tree_rss(process: psutil.Process) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


class CommandRun(NamedTuple):
    """What :func:`run_microct` measured."""

    seconds: float
    cpu_seconds: float
    peak_rss: int


def run_microct(
    source: Path | None, pipeline: str, store: Path, out: Path, extra: Sequence[str] = ()
) -> CommandRun:
    """``microct run PIPELINE store out --overwrite --no-progress EXTRA`` in a subprocess.

    ``source``: a source tree of the package put first on ``PYTHONPATH`` (a baseline), or
    None for the installed one. The log goes to ``out`` with the suffix ``.log``. CPU
    seconds are those of the process and of the children it waited for (its worker
    processes); the RSS of the whole tree is sampled every 0.1 s.
    """
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(source), env.get("PYTHONPATH", "")])
    command = [
        sys.executable,
        "-c",
        "import sys; from xarray_microct.cli import main; sys.exit(main(sys.argv[1:]))",
        "run",
        pipeline,
        str(store),
        str(out),
        "--overwrite",
        "--no-progress",
        *extra,
    ]
    log_path = out.with_suffix(".log")
    start = time.perf_counter()
    with open(log_path, "w") as log:  # a file, not a pipe: a full pipe would stall the run
        # from the output's folder: `python -c` puts the working directory first on
        # sys.path, which would shadow a baseline when run from a source tree
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=out.parent
        )
        watched = psutil.Process(process.pid)
        peak = 0
        while True:
            # wait4: the resources of the process and of the children it waited for
            # (the worker processes), once it has ended
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, tree_rss(watched))
            time.sleep(0.1)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"microct run failed ({process.returncode}):\n{tail}")
    return CommandRun(seconds, usage.ru_utime + usage.ru_stime, peak)


def matched_sections(
    table: pd.DataFrame,
    truth: pd.DataFrame,
    column: str,
    extent: float,
    margin: float,
    within: float,
) -> pd.DataFrame:
    """The sections of a fiber table matched to true ones: ``found, true, fiber_id``.

    Each slice's detections are paired one to one with its true centres within
    ``within``; only true sections farther than ``margin`` from the sides of a slice of
    ``extent`` (all their neighbours in the table) are kept. ``found`` is the detection's
    ``column``, ``true`` and ``fiber_id`` the true section's radius and fiber.
    """
    parts = [pd.DataFrame({"found": [], "true": [], "fiber_id": np.zeros(0, int)})]
    for z, true in truth.groupby("z"):
        found = table[np.isclose(table["z"], z)]
        if found.empty:
            continue
        ia, ib, _ = optimal_pairs(found[["y", "x"]].to_numpy(), true[["y", "x"]].to_numpy(), within)
        matched = true.iloc[ib]
        inner = (
            matched["y"].between(margin, extent - margin)
            & matched["x"].between(margin, extent - margin)
        ).to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "found": found[column].to_numpy()[ia][inner],
                    "true": matched["radius"].to_numpy()[inner],
                    "fiber_id": matched["fiber_id"].to_numpy()[inner],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def matched_radii(
    table: pd.DataFrame,
    truth: pd.DataFrame,
    column: str,
    extent: float,
    margin: float,
    within: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(detected ``column``, true radius) of the sections matched slice by slice
    (:func:`matched_sections`)."""
    pairs = matched_sections(table, truth, column, extent, margin, within)
    return pairs["found"].to_numpy(float), pairs["true"].to_numpy(float)


class ClusteredMean(NamedTuple):
    """What :func:`clustered_mean` measured."""

    mean: float  # the mean over all rows
    se: float  # its standard error, the clusters (not the rows) as the units
    sd: float  # the standard deviation of the clusters' own means
    clusters: int  # the number of clusters


def clustered_mean(values: np.ndarray, clusters: np.ndarray) -> ClusteredMean:
    """The mean of ``values`` and its standard error when rows of a cluster are correlated.

    The rows of one fiber (its sections on successive slices) are not independent draws:
    the units are the fibers. The standard error is the cluster-robust one of the row
    mean, ``sqrt(G / (G - 1) * sum_g (sum_{i in g} (v_i - mean))**2) / n`` over ``G``
    clusters and ``n`` rows (equal to ``sd / sqrt(G)`` when every cluster has as many
    rows); ``sd`` is that of the clusters' own means. Fewer than two clusters give NaN.

    Examples
    --------
    >>> import numpy as np
    >>> m = clustered_mean(np.array([1.0, 1.0, 3.0, 3.0]), np.array([1, 1, 2, 2]))
    >>> float(m.mean), float(m.se), float(m.sd), m.clusters
    (2.0, 1.0, 1.4142135623730951, 2)
    """
    values = np.asarray(values, float)
    keys, inverse = np.unique(np.asarray(clusters), return_inverse=True)
    g, n = keys.size, values.size
    mean = float(values.mean()) if n else np.nan
    if g < 2:
        return ClusteredMean(mean, np.nan, np.nan, g)
    sums = np.bincount(inverse, weights=values - mean, minlength=g)
    se = float(np.sqrt(g / (g - 1) * np.sum(sums**2)) / n)
    means = np.bincount(inverse, weights=values, minlength=g) / np.bincount(inverse, minlength=g)
    return ClusteredMean(mean, se, float(means.std(ddof=1)), g)


def scored_rows(table: pd.DataFrame, truth: pd.DataFrame, like: Any, margin: float) -> pd.DataFrame:
    """Every row that ``object_metrics(table, truth, like=like, margin=margin)`` counts.

    One row per true section inside the border band (a true positive when matched, a
    false negative otherwise) and per unmatched detection inside it (a false positive):
    ``slice`` (the index along ``like``'s ``z``), ``fiber`` (a cluster key: the true
    fiber of a true section, ``-1 - fiber_id`` of a false positive's chain, or a key of
    its own for a detection without one) and ``tp, fp, fn`` (0 or 1). The counts are
    checked against ``object_metrics``'s.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from xarray_microct.core.volume import from_array
    >>> like = from_array(np.zeros((2, 20, 20), np.float32), spacing=1.0)
    >>> truth = pd.DataFrame({"fiber_id": [1, 1], "z": [0.0, 1.0], "y": [10.0, 10.0],
    ...                       "x": [10.0, 10.0], "radius": [2.0, 2.0]})
    >>> table = pd.DataFrame({"fiber_id": [5, 6], "z": [0.0, 1.0], "y": [10.2, 4.0],
    ...                       "x": [10.0, 4.0]})
    >>> scored_rows(table, truth, like, margin=2.0)[["slice", "fiber", "tp", "fp", "fn"]]
       slice  fiber  tp  fp  fn
    0      0      1   1   0   0
    1      1      1   0   0   1
    2      1     -7   0   1   0
    """
    truth = truth.reset_index(drop=True)
    table = table.reset_index(drop=True)
    radius = truth["radius"].to_numpy(float)
    pairs = match_centres(table, truth, 0.5 * float(np.nanmedian(radius)), by="z")
    z = like["z"].to_numpy().astype(float)

    def slice_of(frame: pd.DataFrame) -> np.ndarray:
        return np.abs(frame["z"].to_numpy(float)[:, None] - z[None, :]).argmin(axis=1)

    def inside(frame: pd.DataFrame) -> np.ndarray:
        keep = np.ones(len(frame), bool)
        for axis in ("y", "x"):
            c = like[axis].to_numpy().astype(float)
            step = c[1] - c[0]
            v = frame[axis].to_numpy(float)
            keep &= (v >= c[0] - 0.5 * step + margin) & (v <= c[-1] + 0.5 * step - margin)
        return keep

    matched_truth = np.zeros(len(truth), bool)
    matched_truth[pairs["truth"].to_numpy()] = True
    matched_table = np.zeros(len(table), bool)
    matched_table[pairs["detected"].to_numpy()] = True
    true_in, found_in = inside(truth), inside(table)
    chains = (
        table["fiber_id"].to_numpy(float) if "fiber_id" in table else np.full(len(table), np.nan)
    )
    own = truth["fiber_id"].max() + 1 + np.arange(len(table))  # a detection without a chain
    chains = np.where(np.isfinite(chains), -1 - np.nan_to_num(chains), own).astype(np.int64)
    false = found_in & ~matched_table
    rows = pd.DataFrame(
        {
            "slice": np.concatenate([slice_of(truth)[true_in], slice_of(table)[false]]),
            "fiber": np.concatenate([truth["fiber_id"].to_numpy(np.int64)[true_in], chains[false]]),
            "tp": np.concatenate([matched_truth[true_in], np.zeros(false.sum(), bool)]),
            "fp": np.concatenate([np.zeros(true_in.sum(), bool), np.ones(false.sum(), bool)]),
            "fn": np.concatenate([~matched_truth[true_in], np.zeros(false.sum(), bool)]),
        }
    ).astype({"tp": int, "fp": int, "fn": int})
    scores = object_metrics(table, truth, like=like, margin=margin)
    counts = tuple(int(rows[k].sum()) for k in ("tp", "fp", "fn"))
    if counts != (scores["tp"], scores["fp"], scores["fn"]):
        raise AssertionError(f"scored rows {counts} differ from object_metrics's {scores}")
    return rows


class ClusteredF1(NamedTuple):
    """What :func:`clustered_f1` measured."""

    f1: float  # 2 tp / (2 tp + fp + fn) over all rows
    se: float  # its standard error, the fibers (not the rows) as the units
    clusters: int  # the number of fibers (true fibers and chains of false positives)


def clustered_f1(rows: pd.DataFrame) -> ClusteredF1:
    """The object F1 of :func:`scored_rows` and its standard error, fibers as the units.

    F1 is the ratio ``A / B`` of ``a = 2 tp`` and ``b = 2 tp + fp + fn`` summed over the
    rows; a fiber's misses on successive slices are correlated, so the units are the
    clusters ``fiber``. The standard error is the cluster-robust one of the ratio
    (linearised), ``sqrt(G / (G - 1) * sum_g ((a_g - F1 b_g) / B)**2)`` over ``G``
    clusters: the form of :func:`clustered_mean` for a ratio. Fewer than two clusters
    give a NaN standard error; no rows give NaN.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"fiber": [1, 1, 2, 2], "tp": [1, 1, 1, 0],
    ...                      "fp": [0, 0, 0, 0], "fn": [0, 0, 0, 1]})
    >>> m = clustered_f1(rows)
    >>> round(m.f1, 4), round(m.se, 4), m.clusters
    (0.8571, 0.1633, 2)
    """
    keys, inverse = np.unique(rows["fiber"].to_numpy(), return_inverse=True)
    g = keys.size
    a = np.bincount(inverse, weights=2.0 * rows["tp"].to_numpy(), minlength=g)
    b = a + np.bincount(inverse, weights=(rows["fp"] + rows["fn"]).to_numpy(float), minlength=g)
    if b.sum() == 0:
        return ClusteredF1(np.nan, np.nan, g)
    f1 = float(a.sum() / b.sum())
    if g < 2:
        return ClusteredF1(f1, np.nan, g)
    se = float(np.sqrt(g / (g - 1) * np.sum(((a - f1 * b) / b.sum()) ** 2)))
    return ClusteredF1(f1, se, g)


def _rows_by(keys: np.ndarray) -> dict[int, np.ndarray]:
    """The row indices of each distinct key, in order."""
    if keys.size == 0:
        return {}
    order = np.argsort(keys, kind="stable")
    distinct, starts = np.unique(keys[order], return_index=True)
    return dict(zip(distinct.tolist(), np.split(order, starts[1:]), strict=True))


class ChainIdentity(NamedTuple):
    """What :func:`chain_identity` counted."""

    joined: int  # chains whose sections lie on two or more true fibers
    split: int  # true fibers whose sections lie on two or more chains
    matched: int  # sections matched to a true fiber
    sections: int  # sections of the table on the truth's slices


def chain_identity(
    table: pd.DataFrame, truth: pd.DataFrame, spacing: float, within: float
) -> ChainIdentity:
    """Count the chains joining two true fibers and the true fibers split over chains.

    Each section of ``table`` (``fiber_id, z, y, x``) is matched, on its slice, to the
    nearest true centre of ``truth`` (``fiber_id, z, y, x``; true ids from 1) closer
    than ``within`` (physical units); slices are ``round(z / spacing)``. A chain is
    *joined* when its matched sections belong to more than one true fiber; a true fiber
    is *split* when its matched sections belong to more than one chain (section by
    section: one section on a neighbour counts, unlike ``fiber_linking.py``'s counts of
    5 slices or more). Only slices present in ``truth`` are looked at, so passing the
    truth of every slice sees every join. Nothing to match gives zeros.

    Examples
    --------
    >>> import pandas as pd
    >>> truth = pd.DataFrame({"fiber_id": [1, 2, 1, 2], "z": [0.0, 0.0, 1.0, 1.0],
    ...                       "y": [0.0, 10.0, 0.0, 10.0], "x": [0.0] * 4})
    >>> table = pd.DataFrame({"fiber_id": [7, 8, 7, 7], "z": [0.0, 0.0, 1.0, 1.0],
    ...                       "y": [0.2, 9.9, 0.1, 10.1], "x": [0.0] * 4})
    >>> chain_identity(table, truth, spacing=1.0, within=1.0)
    ChainIdentity(joined=1, split=1, matched=4, sections=4)
    """
    table_slice = np.round(table["z"].to_numpy() / spacing).astype(np.int64)
    truth_slice = np.round(truth["z"].to_numpy() / spacing).astype(np.int64)
    on_truth = np.isin(table_slice, np.unique(truth_slice))
    found = table[on_truth]
    found_slice = table_slice[on_truth]
    true_of = np.zeros(len(found), np.int64)
    truth_rows = _rows_by(truth_slice)
    truth_ids = truth["fiber_id"].to_numpy()
    truth_yx = truth[["y", "x"]].to_numpy()
    found_yx = found[["y", "x"]].to_numpy()
    for k, rows in _rows_by(found_slice).items():
        here = truth_rows[k]
        distance, index = cKDTree(truth_yx[here]).query(found_yx[rows])
        near = distance < within
        true_of[rows[near]] = truth_ids[here[index[near]]]
    matched = true_of > 0
    pairs = pd.DataFrame(
        {"chain": found["fiber_id"].to_numpy()[matched], "fiber": true_of[matched]}
    ).drop_duplicates()
    return ChainIdentity(
        joined=int((pairs.groupby("chain").size() > 1).sum()),
        split=int((pairs.groupby("fiber").size() > 1).sum()),
        matched=int(matched.sum()),
        sections=len(found),
    )
