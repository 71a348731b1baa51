"""Where the time of ``microct run fibers`` goes: phases, CPU per process, tasks per stage.

Runs the fiber pipeline from a stored volume as ``microct run`` does (``run_pipeline``,
in this process, so that its phases can be timed) on Dask's threaded scheduler or on
``--workers N`` worker processes, and prints:

* the time and this process's CPU seconds at each phase: package imported, cluster
  started, radius estimate (``measure_fiber_bed``), plan ready (after the Otsu pass),
  main graph computed, cluster closed;
* the tasks of the main graph per stage (key prefix);
* the CPU seconds (user, system) of this process (on a cluster: the client and the
  scheduler) and of each worker process (psutil, polled every 0.05 s);
* on a cluster: per stage, the tasks and their summed compute and transfer times from
  distributed's task stream, each worker's busy time, its gaps between tasks (short
  ones: the handling of a task; long ones: waits for inputs) and when it finished, the
  bytes the workers received from each other during the detection per stage (the keys
  of their transfer logs), and the last tasks to end (the tail of the run);
  ``--stream FILE`` saves the task stream (a pickle of its records: key, worker, start
  and stop of each step);
* on threads: per stage, the summed task times (``dask.diagnostics.Profiler``) and the
  CPU seconds of the threads that ran them.

The first run of a source tree compiles its numba kernels into the cache: run twice.
On a shared machine, compare two trees in turns (``PYTHONPATH=TREE python
benchmarks/run_phases.py ...``) and read the CPU columns as well as the times.

Usage::

    python benchmarks/run_phases.py STORE OUT --workers 2
    python benchmarks/run_phases.py STORE OUT               # threaded
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import pickle
import threading
import time
from typing import Any

import psutil

START = time.perf_counter()
MARKS: list[tuple[float, str, float]] = []


def mark(name: str) -> None:
    """Record the time since start and this process's CPU seconds."""
    times = psutil.Process().cpu_times()
    MARKS.append((time.perf_counter() - START, name, times.user + times.system))


def stage(key: Any) -> str:
    """The stage of a task: its key's name without the token."""
    name = key[0] if isinstance(key, tuple) else key
    return str(name).rsplit("-", 1)[0]


def timed(module: Any, name: str, label: str) -> None:
    """Wrap ``module.name`` so that its start and end are marked."""
    original = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        mark(f"{label} start")
        try:
            return original(*args, **kwargs)
        finally:
            mark(f"{label} end")

    setattr(module, name, wrapper)


def print_stream(data: list[dict[str, Any]]) -> None:
    """Per stage: tasks, compute and transfer seconds; per worker: busy seconds; the tail."""
    per: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])
    busy: dict[str, float] = collections.defaultdict(float)
    first = min(d["startstops"][0]["start"] for d in data)
    last = max(d["startstops"][-1]["stop"] for d in data)
    for task in data:
        for step in task["startstops"]:
            label = stage(task["key"])
            if step["action"] == "compute":
                busy[task["worker"]] += step["stop"] - step["start"]
            else:
                label += ":" + step["action"]
            per[label][0] += 1
            per[label][1] += step["stop"] - step["start"]
    print(f"task stream: {len(data)} tasks over {last - first:.2f} s")
    waits = worker_waits(data)
    for worker, seconds in busy.items():
        short, long, end = waits[worker]
        print(
            f"  {worker} computing {seconds:.2f} s; between its tasks {short:.2f} s in gaps "
            f"under {WAIT:.2f} s, {long:.2f} s in longer waits; done at {end - first:.2f} s"
        )
    for label, (count, seconds) in sorted(per.items(), key=lambda x: -x[1][1]):
        print(f"  {count:6.0f} {seconds:7.2f} s  {label}")
    print("  the last tasks to end (start, end, s from the first task):")
    for task in sorted(data, key=lambda d: d["startstops"][-1]["stop"])[-8:]:
        step = next(s for s in task["startstops"] if s["action"] == "compute")
        print(f"    {step['start'] - first:7.2f} {step['stop'] - first:7.2f}  {task['key']!s:.70}")


@contextlib.contextmanager
def thread_cpu() -> Any:
    """Per stage, the CPU seconds of the threads that ran its tasks (threaded scheduler:
    ``dask.local.execute_task`` timed with ``time.thread_time``; the kernels are
    single-threaded), read in a loaded machine as well as on an idle one."""
    import dask.local

    spent: dict[str, float] = collections.defaultdict(float)
    original = dask.local.execute_task

    def timed_task(key: Any, *args: Any) -> Any:
        start = time.thread_time()
        try:
            return original(key, *args)
        finally:
            spent[stage(key)] += time.thread_time() - start

    dask.local.execute_task = timed_task
    try:
        yield spent
    finally:
        dask.local.execute_task = original


WAIT = 0.05  # s: a gap between a worker's tasks longer than this waited for an input


def worker_waits(data: list[dict[str, Any]]) -> dict[str, tuple[float, float, float]]:
    """Per worker: the gaps between its tasks' computations, summed (those under ``WAIT``:
    the handling of a task; longer ones: waits for inputs computed elsewhere or for the
    CPU), and the end of its last computation.

    Read the long waits on a loaded machine too: a worker that waits for a halo the
    other computes late shows them whatever the load."""
    steps: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
    for task in data:
        for step in task["startstops"]:
            if step["action"] == "compute":
                steps[task["worker"]].append((step["start"], step["stop"]))
    waits = {}
    for worker, spans in steps.items():
        spans.sort()
        short = long = 0.0
        end = spans[0][1]
        for start, stop in spans[1:]:
            gap = start - end
            if gap > 0:
                short, long = (short + gap, long) if gap < WAIT else (short, long + gap)
            end = max(end, stop)
        waits[worker] = (short, long, end)
    return waits


def received_since(before: dict[str, int], dask_worker: Any) -> list[tuple[str, Any, int]]:
    """(sender, key, bytes) of what a worker received after its ``before[address]``-th transfer."""
    log = list(dask_worker.transfer_incoming_log)[before.get(dask_worker.address, 0) :]
    return [(t["who"], key, int(n or 0)) for t in log for key, n in t["keys"].items()]


def print_transfers(received: dict[str, list[tuple[str, Any, int]]]) -> None:
    """Bytes the workers received from each other during the main graph, per stage."""
    per: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])
    for items in received.values():
        for _, key, nbytes in items:
            per[stage(key)][0] += 1
            per[stage(key)][1] += nbytes
    total = sum(n for _, n in per.values())
    print(f"sent between workers during the main graph: {total / 1e6:.0f} MB")
    for label, (count, nbytes) in sorted(per.items(), key=lambda x: -x[1][1]):
        print(f"  {count:6.0f} {nbytes / 1e6:7.1f} MB  {label}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", help="the input volume (OME-Zarr)")
    parser.add_argument("out", help="the output store (overwritten)")
    parser.add_argument("--workers", type=int, default=0, help="worker processes (0: threads)")
    parser.add_argument("--stream", default=None, help="save the task stream here (pickle)")
    args = parser.parse_args()

    from dask.delayed import Delayed
    from dask.diagnostics import Profiler

    import xarray_microct.ops.fibers.detect as detect
    from xarray_microct import runner
    from xarray_microct.cli import _no_client_to_look_for
    from xarray_microct.cluster import ClusterOptions

    mark("imported")
    timed(detect, "measure_fiber_bed", "radius estimate")
    plan = detect.plan_detection

    def planned(*a: Any, **k: Any) -> Any:
        result = plan(*a, **k)
        mark("plan ready (Otsu pass done)")
        counts = collections.Counter(stage(k) for k in result.graph.__dask_graph__())
        print(f"main graph: {sum(counts.values())} tasks")
        for name, count in counts.most_common():
            print(f"  {count:6d}  {name}")
        return result

    detect.plan_detection = planned
    hooked = getattr(detect, "_TableGraph", Delayed)  # the class of the main graph
    # the detection computes its table alone, or with the polarity check's task
    method = "compute_with" if hasattr(hooked, "compute_with") else "compute"
    compute = getattr(hooked, method)

    def computed(self: Delayed, *others: Any, **kwargs: Any) -> Any:
        mark("main graph start")
        if args.workers:
            import distributed

            client = distributed.get_client()
            before = client.run(lambda dask_worker: len(dask_worker.transfer_incoming_log))
            with distributed.get_task_stream() as stream:
                result = compute(self, *others, **kwargs)
            print_transfers(client.run(received_since, before))
            print_stream(stream.data)
            if args.stream:
                with open(args.stream, "wb") as file:
                    pickle.dump(stream.data, file)
        else:
            with Profiler() as profiler, thread_cpu() as spent:
                result = compute(self, *others, **kwargs)
            per: dict[str, float] = collections.defaultdict(float)
            for task in profiler.results:
                per[stage(task.key)] += task.end_time - task.start_time
            print("per stage: thread time (wall), CPU s of its threads:")
            for name, seconds in sorted(per.items(), key=lambda x: -x[1]):
                print(f"  {seconds:7.2f} s {spent.get(name, 0.0):7.2f} CPU s  {name}")
        mark("main graph end")
        return result

    setattr(hooked, method, computed)
    client_of = runner.dask_client

    @contextlib.contextmanager
    def timed_client(options: Any) -> Any:
        mark("cluster start")
        with client_of(options) as client:
            mark("cluster ready")
            yield client
            mark("work done")
        mark("cluster closed")

    runner.dask_client = timed_client
    cpu: dict[int, tuple[str, float, float]] = {}
    done = threading.Event()

    def poll() -> None:
        me = psutil.Process()
        while not done.is_set():
            for process in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    times = process.cpu_times()
                    role = "this process" if process.pid == me.pid else "worker process"
                    cpu[process.pid] = (role, times.user, times.system)
            time.sleep(0.05)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    # as the microct command runs it (cli._run), in this process
    options = ClusterOptions(
        workers=args.workers or None,
        threads_per_worker=1 if args.workers else None,
        fork_workers=True,
    )
    with _no_client_to_look_for(options.kind):
        runner.run_pipeline(
            "fibers", args.store, args.out, overwrite=True, progress=False, options=options
        )
    mark("end")
    done.set()
    watcher.join()
    print(f"{'s':>7} {'CPU s':>7}  phase (CPU s of this process)")
    for seconds, name, cpu_seconds in MARKS:
        print(f"{seconds:7.2f} {cpu_seconds:7.2f}  {name}")
    for pid, (role, user, system) in cpu.items():
        print(f"pid {pid} {role}: {user + system:.2f} CPU s (user {user:.2f}, system {system:.2f})")


if __name__ == "__main__":
    main()
