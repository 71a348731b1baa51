"""Measurement helpers shared by the benchmark scripts in this folder.

* :class:`PeakRSS`: the peak resident set size of this process above its level at entry,
  sampled by a psutil thread;
* :class:`Measure`: :class:`PeakRSS` plus the wall and CPU seconds (user + system, all
  threads) of the block;
* :func:`in_fresh_process`: run one case in a new (spawned) process, so that its peak
  memory and its one-time costs are its own.

The scripts import it as ``from _measure import ...``: run as
``python benchmarks/<name>.py``, this folder is the first entry of ``sys.path`` (and a
spawned child inherits the parent's ``sys.path``). Running this module itself does nothing.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil


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


def in_fresh_process(
    target: Callable[..., None], *args: Any, timeout: float | None = None
) -> Any:
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
