"""Where the work runs: client options, LocalCluster == threads, killed workers, graphs, SLURM."""

from __future__ import annotations

import atexit
import contextlib
import importlib
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import cloudpickle
import dask
import numpy as np
import pandas as pd
import psutil
import pytest
import xarray as xr
from distributed import Client, WorkerPlugin

import xarray_microct as mct
from xarray_microct.cluster import (
    START_METHOD_KEY,
    ClusterOptions,
    dashboard_on_first_visit,
    dask_client,
    describe_client,
    require_mpi,
    worker_start_method,
)
from xarray_microct.core.blocks.placement import cluster_threads
from xarray_microct.ops.fibers.detect import plan_detection
from xarray_microct.pipelines import fibers
from xarray_microct.runner import open_result, read_table, run_pipeline, run_state, write_volume
from xarray_microct.synthetic import fiber_bed

EXAMPLES = Path(__file__).parent.parent / "examples"
# A neighbourhood step (halo exchange across chunks) and a global statistic (percentiles
# of the whole volume): the two kinds of graph that must not depend on the scheduler.
STEPS = [
    {"op": "gaussian", "params": {"sigma": "1.3 um"}},
    {"op": "normalize", "params": {}},
]
CHAIN = [{"op": "median", "params": {"radius": "1 voxel"}}, *STEPS]


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic fiber scan stored as Zarr, 2×2×2 chunks (few tasks: a 2-core
    machine shared with other work pays milliseconds per distributed task)."""
    store = tmp_path_factory.mktemp("scan") / "scan.zarr"
    volume, _ = fiber_bed((48, 48, 48), spacing=0.65, radius=3.0, seed=1, chunks=24)
    volume.rename("scan").to_zarr(store)
    return store


@pytest.fixture(scope="module")
def client() -> Client:
    """``--workers 2 --threads-per-worker 1 --memory-limit 1GiB``: a LocalCluster of 2
    worker processes, started as ``microct run`` starts it, shared by the tests below."""
    options = ClusterOptions(
        workers=2, threads_per_worker=1, memory_limit="1GiB", fork_workers=True
    )
    with dask_client(options) as client:
        yield client


def fiber_reference(store: Path) -> pd.DataFrame:
    """The fiber pipeline on the threaded scheduler, in this process."""
    with dask.config.set(scheduler="threads"):
        return fibers(mct.open_volume(store))


def reference(scan: Path) -> np.ndarray:
    """The pipeline on Dask's synchronous scheduler, in this process."""
    with dask.config.set(scheduler="synchronous"):
        return mct.replay(STEPS, mct.open_volume(scan)).values


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- options, fast errors


def test_options_pick_one_way_to_run() -> None:
    assert ClusterOptions().kind == "threads"
    assert ClusterOptions(workers=2).kind == "local"
    assert ClusterOptions(scheduler="tcp://h:1").kind == "scheduler"
    assert ClusterOptions(mpi=True).kind == "mpi"
    with pytest.raises(ValueError, match="choose one way to run"):
        ClusterOptions(workers=2, mpi=True).check()
    with pytest.raises(ValueError, match="positive integer"):
        ClusterOptions(workers=0).check()
    with pytest.raises(ValueError, match="--memory-limit must be a size"):
        ClusterOptions(workers=1, memory_limit="plenty").check()
    with pytest.raises(ValueError, match="needs workers"):
        ClusterOptions(memory_limit="1GiB").check()
    with pytest.raises(ValueError, match="configure workers that this command starts"):
        ClusterOptions(scheduler="tcp://h:1", threads_per_worker=2).check()
    with pytest.raises(FileNotFoundError, match="dask scheduler --scheduler-file"):
        ClusterOptions(scheduler_file="/nonexistent/scheduler.json").check()


def test_unreachable_scheduler_is_a_clear_error() -> None:
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(ConnectionError, match=f"cannot reach the Dask scheduler at {address}"):
        with dask_client(scheduler=address, timeout="1s"):
            pass


def test_mpi_without_mpi4py_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mpi4py" else real(name, *a)
    )
    with pytest.raises(ImportError, match=r"pip install 'xarray-microct\[mpi\]'"):
        require_mpi()
    with pytest.raises(ImportError, match="mpi4py"):
        ClusterOptions(mpi=True).check()


@pytest.mark.parametrize("interrupted", [True, False])
def test_ctrl_c_on_a_running_cluster_keeps_the_work_cut_short_quiet(interrupted: bool) -> None:
    """Ctrl-C during a run on an existing cluster (``--scheduler``, ``--mpi``) left the
    result gathers waiting; as the client closed they ended in asyncio's "Task exception
    was never retrieved ... AllExit" tracebacks, one per gather, above the command's
    line. They are kept off the screen as with ``--workers``; a run that ends otherwise
    leaves the logging as it was."""
    import distributed

    loggers = [logging.getLogger(name) for name in ("distributed", "distributed.client", "asyncio")]
    levels = [logger.level for logger in loggers]
    try:
        with distributed.LocalCluster(
            n_workers=1, processes=False, dashboard_address=None
        ) as cluster:
            with contextlib.suppress(KeyboardInterrupt):
                with dask_client(scheduler=cluster.scheduler_address):
                    if interrupted:
                        raise KeyboardInterrupt
            shown = [logger.isEnabledFor(logging.ERROR) for logger in loggers]
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    assert shown == [not interrupted] * 3


@pytest.mark.skipif(importlib.util.find_spec("dask_mpi") is None, reason="needs the mpi extra")
def test_ctrl_c_under_mpi_stops_the_cluster_without_waiting_for_its_scheduler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C under ``mpirun`` reaches every rank: the scheduler's stopped, and rank 1's
    exit hook from dask-mpi (stop the cluster) tried to reach it for 30 s, then printed
    a traceback (measured: the command ended 30 s after the Ctrl-C). The stop is tried
    for 2 s as the run stops, and the hook is gone."""
    import xarray_microct.cluster

    hooks = importlib.import_module("dask_mpi.initialize")  # the package's is the function
    tried: list[object] = []

    def send_close_signal() -> None:  # the scheduler is gone
        tried.append(dask.config.get("distributed.comm.timeouts.connect"))
        raise OSError("Timed out trying to connect")

    class Client:
        def close(self) -> None:
            pass

    exit_hooks: list[Any] = []

    def started(options: ClusterOptions) -> Client:  # what initialize does on rank 1
        exit_hooks.append(hooks.send_close_signal)  # atexit.register(send_close_signal)
        return Client()

    monkeypatch.setattr(hooks, "send_close_signal", send_close_signal)
    monkeypatch.setattr(xarray_microct.cluster, "_mpi_client", started)
    monkeypatch.setattr(atexit, "unregister", exit_hooks.remove)
    loggers = [logging.getLogger(name) for name in ("distributed", "distributed.client", "asyncio")]
    levels = [logger.level for logger in loggers]
    try:
        with pytest.raises(KeyboardInterrupt):
            with dask_client(mpi=True):
                raise KeyboardInterrupt
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
    assert exit_hooks == []
    assert tried == ["2s"]


def test_no_client_means_the_default_scheduler() -> None:
    with dask_client() as client:
        assert client is None
        assert "threaded scheduler" in describe_client(client)


# ---------------------------------------------------------------- graph hygiene


def test_graph_is_picklable_small_and_embeds_no_arrays(tmp_path: Path) -> None:
    volume, _ = fiber_bed((48, 48, 48), spacing=0.65, radius=3.0, seed=1, chunks=16)
    volume.rename("scan").to_zarr(tmp_path / "scan.zarr")
    volume = mct.open_volume(tmp_path / "scan.zarr")  # 48³ in 16³ chunks: 27 chunks
    result = mct.replay(CHAIN, volume)
    graph = dict(result.data.__dask_graph__())
    n_chunks = int(np.prod(result.data.numblocks))
    total = len(cloudpickle.dumps(graph))
    largest = max(len(cloudpickle.dumps(task)) for task in graph.values())
    chunk_bytes = 16**3 * 4
    # No task carries data: each is far smaller than one float32 chunk of the volume.
    assert largest < chunk_bytes / 2, largest
    assert total / n_chunks < 8 * chunk_bytes
    # Dask's map_overlap costs ~20 tasks per chunk per neighbourhood step (halo slices and
    # a concatenate) on a 3×3×3 chunk grid; this chain measures ~108: guard a blow-up.
    assert len(graph) / n_chunks < 150
    # The check can fail: a volume built from an in-memory NumPy array embeds it.
    embedded = mct.from_array(np.zeros((48, 48, 48), "float32"), chunks=48)
    big = max(len(cloudpickle.dumps(t)) for t in dict(embedded.data.__dask_graph__()).values())
    assert big > 48**3 * 4


# ---------------------------------------------------------------- LocalCluster == threads


def test_fiber_pipeline_on_two_worker_processes_equals_threads(
    fiber_scan: Path, tmp_path: Path, client: Client
) -> None:
    workers = client.scheduler_info()["workers"].values()
    assert [w["nthreads"] for w in workers] == [1, 1]
    assert all(w["memory_limit"] == 2**30 for w in workers)
    assert len(set(client.run(os.getpid).values()) | {os.getpid()}) == 3  # 2 processes
    lines: list[str] = []
    out = run_pipeline(
        "fibers",
        fiber_scan,
        tmp_path / "fibers.zarr",
        options=ClusterOptions(scheduler=client.scheduler.address),
        progress=False,
        echo=lines.append,
    )
    assert "2 workers, 2 threads; dashboard: http" in lines[0]
    table = read_table(out)
    expected = fiber_reference(fiber_scan)
    assert len(table) > 100 and table["fiber_id"].nunique() > 10
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)
    assert table.attrs["microct_provenance"][-1]["op"] == "detect_fibers"
    # the polarity check, a task beside the detection's on the workers, measures the same
    polarity = [t.attrs["microct_provenance"][-1]["estimated"] for t in (table, expected)]
    assert polarity[0]["fiber_polarity"] == polarity[1]["fiber_polarity"]
    assert polarity[0]["fiber_polarity"]["fibers"] == "bright"


def test_worker_processes_keep_glibc_adaptive_memory_allocation(client: Client) -> None:
    # distributed's MALLOC_TRIM_THRESHOLD_=65536 turns glibc's adaptive mmap threshold
    # off (every array over 128 KiB a fresh mmap, faulted in page by page): not set here
    for nanny in client.cluster.workers.values():
        assert "MALLOC_TRIM_THRESHOLD_" not in nanny.pre_spawn_env
        assert nanny.pre_spawn_env["OMP_NUM_THREADS"] == "1"  # the rest kept
    inherited = os.environ.get("MALLOC_TRIM_THRESHOLD_")  # a user's own setting is kept
    seen = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
    assert set(seen.values()) == {inherited}


def test_cluster_processes_watch_themselves_rarely(client: Client) -> None:
    # distributed's defaults: a tick every 20 ms in every process, the running task's
    # stack sampled every 10 ms, the host's counters every 0.5 s (CPU the tasks lose)
    def watching(dask_worker: Any) -> tuple[float, bool, float]:
        return (
            dask_worker.periodic_callbacks["tick"].callback_time,
            "profile" in dask_worker.periodic_callbacks,
            dask_worker.periodic_callbacks["monitor"].callback_time,
        )

    assert set(client.run(watching).values()) == {(500.0, False, 2000.0)}
    scheduler = client.cluster.scheduler
    assert scheduler.periodic_callbacks["tick"].callback_time == 500.0
    assert not scheduler.monitor.monitor_disk_io
    for nanny in client.cluster.workers.values():
        assert nanny.periodic_callbacks["tick"].callback_time == 500.0
    assert dask.config.get("distributed.admin.tick.interval") != "500ms"  # here: as it was


def test_monitoring_the_user_set_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED", "True")
    options = ClusterOptions(workers=1, threads_per_worker=1, memory_limit="1GiB")
    with dask.config.set({"distributed.admin.tick.interval": "200ms"}):
        with dask_client(options) as client:
            watched = client.run(
                lambda dask_worker: (
                    "profile" in dask_worker.periodic_callbacks,
                    dask_worker.periodic_callbacks["tick"].callback_time,
                    dask_worker.periodic_callbacks["monitor"].callback_time,
                )
            )
    assert set(watched.values()) == {(True, 200.0, 2000.0)}


def test_cluster_does_not_steal_work_and_the_fiber_bins_start_in_contiguous_parts(
    client: Client, tmp_path: Path
) -> None:
    # stealing would move queued tasks (and their inputs) off the part of the volume
    # their worker was given
    extensions = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.extensions))
    assert "stealing" not in extensions
    scan = mct.from_array(np.zeros((8, 1024, 1024), "uint16"), spacing=0.65, chunks=(8, 256, 256))
    scan.rename("scan").microct.to_zarr(tmp_path / "scan.ome.zarr")
    # fibers of 9.8 pixels: 2 × 2 bins of 256² bins, read from the store by 4 tasks
    plan = plan_detection(mct.open_volume(tmp_path / "scan.ome.zarr"), radius=(9.8,) * 3)
    hinted = {
        name: layer.annotations["workers"]
        for name, layer in plan.graph.dask.layers.items()
        if layer.annotations and "workers" in layer.annotations
    }
    # the first chunks, and the later stages of each block where its first chunk is (the
    # tiles, the link stage's settled parts, the halos' slab cuts and the histograms' sums
    # per worker have hints of their own)
    own = ("tile_centres", "link-fibers", "halo-slabs", "summed-by-worker")
    (hint,) = {h for name, h in hinted.items() if not name.startswith(own)}
    assert hint.name in hinted and len(hinted) > 2
    bins = sorted(
        k for k in plan.graph.dask.to_dict() if isinstance(k, tuple) and k[0] == hint.name
    )
    assert len(bins) == 4
    first, second = sorted(cluster_threads())
    assert [hint(k) for k in bins] == [[first]] * 2 + [[second]] * 2


def test_a_fiber_slabs_chains_and_piece_pairs_are_found_on_two_workers(client: Client) -> None:
    # both need the slab's rows: on the rows' worker they ran one after the other while
    # the other worker, done with its tiles, waited
    scan = mct.from_array(np.zeros((32, 512, 512), "uint16"), spacing=0.65, chunks=(32, 256, 256))
    plan = plan_detection(scan, radius=(9.8,) * 3)
    (name,) = [n for n in plan.graph.dask.layers if n.startswith("link-fibers")]
    layer = plan.graph.dask.layers[name]
    hint = layer.annotations["workers"]
    slabs = sorted(k[2] for k in layer if k[1] == "rows")
    assert slabs == [0]
    assert hint((name, "rows", 0)) != hint((name, "near", 0))
    assert {w for k in slabs for w in hint((name, "rows", k)) + hint((name, "near", k))} == set(
        cluster_threads()
    )
    assert hint((name, "chains", 0)) is None  # with its rows


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers fork on Linux only")
def test_worker_processes_are_forks_of_this_process(client: Client) -> None:
    # forked, not spawned: a copy of this interpreter, its imports done (a spawned worker
    # is a new interpreter started with multiprocessing's spawn_main)
    me = psutil.Process()
    workers = [psutil.Process(pid) for pid in client.run(os.getpid).values()]
    assert [w.cmdline() for w in workers] == [me.cmdline()] * 2
    assert all(w.ppid() == me.pid for w in workers)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers fork on Linux only")
def test_forked_workers_end_on_sigterm_as_processes_do_not_as_the_command() -> None:
    # `microct run` turns SIGTERM into an exception in its main thread (to mark its output
    # interrupted); a worker forked from it kept that handler, so a SIGTERM to the job's
    # process group (scancel, kill -TERM -PGID) printed a traceback from every worker.
    # The workers end on SIGTERM by default, as any process does (and ignore SIGINT).
    from xarray_microct.cli import _raise_terminated

    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        options = ClusterOptions(workers=1, fork_workers=True, dashboard=False)
        with dask_client(options) as own:
            handlers = own.run(lambda: signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert list(handlers.values()) == [True]


def test_worker_processes_start_with_the_compiler_of_this_process(client: Client) -> None:
    # Numba's one-time set-up (0.6-0.9 s a process) was done here before the fork
    ready = client.run(lambda: sys.modules["xarray_microct.cluster"]._compiler_ready)
    assert set(ready.values()) == {sys.platform.startswith("linux")}


def test_worker_processes_load_the_cached_kernels_as_they_start(client: Client) -> None:
    loaded = client.run(lambda: sys.modules["xarray_microct.cluster"].kernels_loaded.wait(120))
    assert set(loaded.values()) == {True}


def test_forked_workers_have_the_kernels_this_process_loaded(client: Client) -> None:
    # loaded once here before the fork, not once more in each worker
    def loaded_by() -> int | None:
        cluster = sys.modules["xarray_microct.cluster"]
        cluster.kernels_loaded.wait(120)  # a spawned worker loads them in a thread
        return cluster.kernels_loaded_by

    by = client.run(loaded_by)
    if worker_start_method(fork=True) == "fork":
        assert set(by.values()) == {os.getpid()}
    else:  # spawned: each worker loads them itself
        assert set(by.values()) == set(client.run(os.getpid).values())


def test_cached_kernels_are_loaded_before_their_first_call(tmp_path) -> None:
    # A cache of this test's own: the shared one gains entries as other tests compile
    # (in parallel), which a second load would then find.
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    compile_once = (
        "import numpy as np\n"
        "from xarray_microct.kernels.chains import first_seen\n"
        "first_seen(np.array([2, 1, 2]))\n"  # compiled here: in this Numba cache from now on
    )
    subprocess.run([sys.executable, "-c", compile_once], env=env, check=True, timeout=300)
    code = (
        "from xarray_microct.kernels.chains import _first_seen as kernel\n"
        "from xarray_microct.cluster import load_cached_kernels\n"
        "before = len(kernel.signatures)\n"
        "print(before, load_cached_kernels(), len(kernel.signatures), load_cached_kernels())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert result.stdout.split() == ["0", "1", "1", "0"], result


def test_dashboard_pages_are_served_from_their_first_visit(client: Client) -> None:
    import urllib.request

    routing = client.cluster.scheduler.http_application
    assert len(routing.applications) == 1  # the first-visit handler, no Bokeh yet
    link = client.dashboard_link
    with urllib.request.urlopen(link, timeout=60) as page:
        assert page.status == 200 and page.url == link
        assert b"bokeh" in page.read().lower()  # the dashboard's page, not a redirect loop
    assert len(routing.applications) == 1  # the Bokeh application in its place
    with urllib.request.urlopen(link.replace("/status", "/workers"), timeout=60) as page:
        assert page.status == 200


def test_a_dashboard_distributed_cannot_serve_is_a_warning_not_a_failed_run() -> None:
    class SchedulerWithoutHttp:  # as a distributed release whose internals changed
        pass

    with pytest.warns(RuntimeWarning, match="no Dask dashboard"):
        dashboard_on_first_visit(SchedulerWithoutHttp())


def test_worker_start_method_follows_a_chosen_one() -> None:
    forked = "fork" if sys.platform.startswith("linux") else "spawn"
    assert worker_start_method() == "spawn"  # distributed's default unless asked
    assert worker_start_method(fork=True) == forked
    for method in ("forkserver", "spawn"):
        with dask.config.set({START_METHOD_KEY: method}):
            # spawn is distributed's default: only another choice is followed
            assert worker_start_method(fork=True) == (method if method != "spawn" else forked)
            assert worker_start_method() == method


def test_worker_processes_and_the_command_end_without_a_final_garbage_collection(
    client: Client, tmp_path: Path
) -> None:
    # the workers ran the cluster module's preload hook, which registers the exit hook
    registered = client.run(lambda: sys.modules["xarray_microct.cluster"]._exits_quickly)
    assert set(registered.values()) == {True}
    # the microct command: at exit (after its own hooks) the objects alive are frozen, so
    # the interpreter's last collections skip them
    code = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
        "from xarray_microct.cli import main\n"
        "print('status', main(['info', sys.argv[1]]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "missing.zarr")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.split("\n")[-3:] == ["status 2", "frozen at exit: True", ""], result


def test_fiber_pipeline_graph_is_small_and_embeds_no_data(fiber_scan: Path) -> None:
    graphs: list[dict] = []

    def capture(dsk: object, keys: object, **kwargs: object) -> object:
        graphs.append(dict(dsk.__dask_graph__() if hasattr(dsk, "__dask_graph__") else dsk))
        return dask.threaded.get(dsk, keys, **kwargs)

    volume = mct.open_volume(fiber_scan)
    with dask.config.set(scheduler=capture):
        fibers(volume)
    assert graphs, "the fiber pipeline ran no Dask graph"
    volume_bytes = volume.size * 4  # the float32 intermediates
    for graph in graphs:
        pickled = cloudpickle.dumps(graph)  # picklable: could be shipped to workers
        assert len(pickled) < volume_bytes / 4
        assert max(len(cloudpickle.dumps(task)) for task in graph.values()) < 16_384


GATE_WAIT = 600
"""Seconds a gated chunk or the test waits for its event: a bound on a hang, not a timing."""


def _gate_chunk_writes(folder: Path, passing: int) -> None:
    """In this (worker) process, let the chunk writes of every writer, after the first
    ``passing`` to start on any worker, wait until the file ``folder / "gate"`` exists:
    the run cannot store another chunk (nor end) before the test opens the gate, however
    loaded the machine. Undone by :func:`_ungate_chunk_writes`.

    A write claims a ticket (a file created exclusively in ``folder``, numbered in the
    order the writes start); tickets below ``passing`` go on.
    """
    from xarray_microct.io import safety

    write = safety.GuardedTarget.__setitem__

    def gated(self: Any, key: Any, value: Any) -> None:
        ticket = 0
        while True:
            try:
                os.close(os.open(folder / f"ticket-{ticket}", os.O_CREAT | os.O_EXCL))
                break
            except FileExistsError:
                ticket += 1
        deadline = time.monotonic() + GATE_WAIT
        while ticket >= passing and not (folder / "gate").exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the gate {folder} was not opened")
            time.sleep(0.02)
        write(self, key, value)

    gated.ungated = write  # type: ignore[attr-defined]
    safety.GuardedTarget.__setitem__ = gated


def _ungate_chunk_writes() -> None:
    from xarray_microct.io import safety

    write = safety.GuardedTarget.__setitem__
    safety.GuardedTarget.__setitem__ = getattr(write, "ungated", write)


class _ChunkWriteGate(WorkerPlugin):
    """:func:`_gate_chunk_writes` on every worker that can run a chunk write: those of the
    cluster when it is registered and any that joins later (the nanny restarts a killed
    worker; one killed by an earlier test may join while this write runs). A joining
    worker sets its plugins up before it runs a task; unregistering undoes the gate."""

    name = "xarray-microct-test-chunk-write-gate"

    def __init__(self, folder: Path, passing: int) -> None:
        self.folder, self.passing = folder, passing

    def setup(self, worker: Any) -> None:
        _gate_chunk_writes(self.folder, self.passing)

    def teardown(self, worker: Any) -> None:
        _ungate_chunk_writes()


def _kill_a_worker_while_writing(
    client: Client,
    result: xr.DataArray,
    out: Path,
    files: int,
    running: str,
    folder: Path,
    **write_options: Any,
) -> None:
    """Write ``result`` to ``out`` in a thread, kill a worker once ``files`` chunk files are
    stored and every other chunk write waits at a gate (the store's status still
    ``running``), then open the gate, and check the write ends without an error."""
    errors: list[BaseException] = []
    chunks = out / "0" / "scan" / "c"

    def stored() -> int:
        # (not the temporary file Zarr writes a chunk to before renaming it into place)
        return len([p for p in chunks.rglob("*") if p.is_file() and p.suffix != ".partial"])

    folder.mkdir()
    client.register_plugin(_ChunkWriteGate(folder, files - stored()))

    def write() -> None:
        try:
            write_volume(result, out, client=client, **write_options)
        except BaseException as err:  # reported below, not lost in the thread
            errors.append(err)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        deadline = time.monotonic() + GATE_WAIT
        while stored() < files:
            assert thread.is_alive(), f"the write ended before storing {files} chunks: {errors}"
            assert time.monotonic() < deadline, "no chunk was written"
            time.sleep(0.05)
        assert run_state(out)["status"] == running  # killed mid-run, not after
        assert stored() == files  # the gate holds every other write
        victim = next(iter(client.run(os.getpid).values()))
        os.kill(victim, signal.SIGKILL)
    finally:
        (folder / "gate").touch()  # only now may the other chunks be stored
        thread.join(timeout=GATE_WAIT)
        client.unregister_worker_plugin(_ChunkWriteGate.name)
    assert not thread.is_alive(), "the write did not end"
    assert not errors, errors


def test_killed_worker_does_not_lose_or_corrupt_the_output(
    scan: Path, tmp_path: Path, client: Client
) -> None:
    result = mct.replay(STEPS, mct.open_volume(scan))
    out = tmp_path / "killed.zarr"
    _kill_a_worker_while_writing(
        client, result, out, files=1, running="incomplete", folder=tmp_path / "gate"
    )
    assert run_state(out)["status"] == "complete"
    np.testing.assert_array_equal(open_result(out).values, reference(scan))


def test_killed_worker_during_resume_still_completes_the_output(
    scan: Path, tmp_path: Path, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run fails part-way (threads); its resume on worker processes loses a worker."""
    import zarr

    result = mct.replay(STEPS, mct.open_volume(scan))
    out = tmp_path / "resumed.zarr"
    original = zarr.storage.LocalStore.set
    written = []

    async def failing(store, key, value, *args, **kwargs):
        if "/scan/c/" in key:
            if len(written) >= 2:
                raise OSError(5, "Input/output error", key)
            written.append(key)
        return await original(store, key, value, *args, **kwargs)

    with monkeypatch.context() as patch, dask.config.set(scheduler="synchronous"):
        patch.setattr(zarr.storage.LocalStore, "set", failing)
        with pytest.raises(OSError):
            write_volume(result, out)
    assert run_state(out)["status"] == "failed"
    # while the resume runs the store says so (not the old failure) until it completes
    _kill_a_worker_while_writing(
        client, result, out, files=3, running="incomplete", folder=tmp_path / "gate", resume=True
    )
    state = run_state(out)
    assert state["status"] == "complete" and state["chunks_written"] == 8 - 2
    np.testing.assert_array_equal(open_result(out).values, reference(scan))


# ---------------------------------------------------------------- examples and SLURM


def _load_example(name: str):
    if str(EXAMPLES) not in sys.path:  # as `python examples/<name>.py` has it
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_examples_run_the_same_analysis_on_their_own_client() -> None:
    modules = {
        name: _load_example(name)
        for name in ["laptop", "local_cluster", "mpi_run", "slurm", "cloud_coiled"]
    }
    enhance = importlib.import_module("enhance")  # what the examples import
    for name, module in modules.items():
        assert module.main is enhance.main, f"{name}.py does not run the shared analysis"
        assert callable(module.make_client)


def test_laptop_example_runs(tmp_path: Path) -> None:
    scan = tmp_path / "scan.zarr"
    volume, _ = fiber_bed((24, 32, 32), spacing=0.65, radius=3.0, seed=1, chunks=16)
    volume.rename("scan").to_zarr(scan)
    laptop = _load_example("laptop")
    assert laptop.make_client() is None
    laptop.main(laptop.make_client, [str(scan), str(tmp_path / "laptop.zarr")])
    expected = (
        mct.open_volume(scan)
        .microct.median(radius="1 voxel")
        .microct.gaussian(sigma="0.65 um")
        .microct.unsharp_mask(sigma="2 um", amount=0.5)
        .microct.normalize()
    )
    np.testing.assert_array_equal(open_result(tmp_path / "laptop.zarr"), expected)


def test_slurm_job_script_asks_for_the_right_resources() -> None:
    pytest.importorskip("dask_jobqueue")
    cluster = _load_example("slurm").make_cluster()
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    lines = script.splitlines()
    for directive in (
        "#SBATCH -p normal",
        "#SBATCH -A my-project",
        "#SBATCH -n 1",
        "#SBATCH --cpus-per-task=16",
        "#SBATCH --mem=60G",  # 64 GB, written in GiB
        "#SBATCH -t 01:00:00",
        "#SBATCH --exclusive",
    ):
        assert directive in lines, (directive, script)
    command = next(line for line in lines if "distributed.cli.dask_worker" in line)
    assert "--nworkers 4" in command and "--nthreads 4" in command
    assert "--memory-limit 14.90GiB" in command  # 64 GB shared by 4 workers
