"""Where the work runs: one function that yields the right Dask client from options.

Nothing in the library pins a scheduler. Every verb builds a lazy graph; the graph runs
on the active :class:`distributed.Client` when there is one, and on Dask's default
(threaded) scheduler otherwise. The only thing that changes between a laptop, an HPC
machine and a cloud cluster is how that client is made, which :func:`dask_client`
does from the options of ``microct run``:

=========================================  ==============================================
options                                    client
=========================================  ==============================================
none                                       no client: Dask's default threaded scheduler
``workers=N`` (``threads_per_worker``,     a :class:`distributed.LocalCluster` of N worker
``memory_limit``)                          processes on this machine
``scheduler="tcp://host:8786"``            an existing cluster (``dask scheduler`` + workers,
                                           dask-jobqueue, Coiled...)
``scheduler_file="scheduler.json"``        an existing cluster that wrote a scheduler file
``mpi=True``                               dask-mpi: run under ``mpirun -n K``; rank 0 is the
                                           scheduler, rank 1 runs the analysis, the other
                                           ranks are workers
=========================================  ==============================================

Bad options fail here, before any work: conflicting options, an unreachable scheduler
(within ``timeout``), ``mpi=True`` without mpi4py/dask-mpi installed.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import gc
import importlib.util
import json
import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from dask.utils import parse_bytes, parse_timedelta

MPI_EXTRA = "xarray-microct[mpi]"

# The worker processes of a LocalCluster start without distributed's default
# MALLOC_TRIM_THRESHOLD_=65536. That setting makes glibc hand freed memory back to the
# system at once and, being set, turns off glibc's adaptive mmap threshold: every array
# over 128 KiB is then a fresh mmap whose pages fault in one by one. The per-slice and
# per-tile stages allocate many arrays of a few MiB, so the fiber pipeline spent about
# a fifth more CPU time in worker processes with it (measured: 13 s of system time
# instead of 4 on a 67-Mvox scan). glibc's defaults still return arrays above 32 MiB to
# the system when freed. A value set in the environment is inherited as before.
WORKER_ENVIRONMENT = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
# The scheduler of a LocalCluster started here does not steal work. The fiber pipeline
# hints its first chunks to the workers in contiguous parts of the volume
# (:func:`~xarray_microct.core.blocks.placement.spread_over_workers`), so that the
# halos of its neighbourhood stages stay on one worker; stealing moved queued tasks to
# the other worker with their inputs, undoing that (measured on 128 × 2560² with two
# workers: 0.8 GB sent between the workers instead of 0.45, and about 2 CPU seconds
# more). The scheduler still balances as it assigns: a task goes to the worker where it
# starts first, counting the transfer of its inputs.
SCHEDULER_CONFIG = {"distributed.scheduler.work-stealing": False}
# The scheduler, the nannies and the workers of a LocalCluster started here watch
# themselves less often. Distributed's defaults wake every process 50 times a second to
# time its event loop (``tick``), sample the running task's stack every 10 ms for the
# dashboard's profile page, and read the host's disk and network counters every 0.5 s:
# measured on a 2-core machine, 0.093 CPU seconds per second for a cluster of two
# workers doing nothing, 0.025 with the settings below, which the tasks get back on a
# 2-core machine (whole fiber runs of 32-128 × 2560², 2 workers: 0.2 to 2 CPU seconds
# less of 14-45, measured on a loaded machine). A loop blocked for
# ``tick.limit`` (3 s) is still reported; the dashboard's system page is updated every
# 2 s (without the disk), and its profile page stays empty (the task stream, progress
# and memory pages are as before).
MONITORING_CONFIG = {
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.system-monitor.disk": False,
    "distributed.worker.profile.enabled": False,
}
START_METHOD_KEY = "distributed.worker.multiprocessing-method"


def _not_set_by_the_user(settings: dict[str, Any]) -> dict[str, Any]:
    """The ``settings`` the user did not give: neither in Dask's configuration files or
    ``DASK_*`` variables (e.g. ``DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED``) nor set
    in this session to a value other than the default.

    Examples
    --------
    >>> import dask, distributed
    >>> with dask.config.set({"distributed.admin.tick.interval": "100ms"}):
    ...     sorted(_not_set_by_the_user({"distributed.worker.profile.enabled": False,
    ...                                  "distributed.admin.tick.interval": "500ms"}))
    ['distributed.worker.profile.enabled']
    """
    import dask
    import distributed  # noqa: F401  (its defaults registered)

    defaults = dask.config.merge(*dask.config.defaults)
    given = dask.config.collect()  # the user's configuration files and DASK_* variables

    def set_by_the_user(key: str) -> bool:
        now = dask.config.get(key, None)
        return dask.config.get(key, None, config=given) is not None or now != dask.config.get(
            key, None, config=defaults
        )

    return {key: value for key, value in settings.items() if not set_by_the_user(key)}


def worker_start_method(fork: bool = False) -> str:
    """How the worker processes of a LocalCluster start.

    Distributed spawns them by default: each is a fresh interpreter that imports the
    scientific stack and this package again. On a 2-core machine two workers took 2 to
    3.5 s to start that way (2.5 CPU seconds, while the client reads the input), and 0.5 s
    forked from this process, which has imported everything already. ``fork=True`` (what
    ``microct run`` asks: it starts its workers before any computation, while no other
    thread of the command is at work) forks them on Linux; a fork while another thread
    holds a lock would leave that lock held forever in the worker, so an interactive
    session, whose thread pools may be busy, keeps the spawned start. When Dask's
    ``distributed.worker.multiprocessing-method`` is set to something other than its
    default (``"spawn"``), e.g. ``"forkserver"`` through
    ``DASK_DISTRIBUTED__WORKER__MULTIPROCESSING_METHOD``, that method is used.

    Examples
    --------
    >>> worker_start_method() in ("spawn", "forkserver", "fork")
    True
    """
    import dask

    configured = str(dask.config.get(START_METHOD_KEY, default="spawn"))
    forkable = fork and configured == "spawn" and sys.platform.startswith("linux")
    return "fork" if forkable else configured


@dataclass(frozen=True)
class ClusterOptions:
    """How to get a Dask client; see the module docstring for the choices.

    Attributes
    ----------
    workers : int, optional
        Start a LocalCluster with this many worker processes.
    threads_per_worker : int, optional
        Threads per worker (LocalCluster and dask-mpi; 1 by default under MPI).
    memory_limit : str or int, optional
        Memory limit per worker, e.g. ``"2GiB"``, bytes, or ``"auto"``
        (LocalCluster and dask-mpi). Workers spill to disk, then pause, then are
        restarted as they approach it.
    scheduler : str, optional
        Address of a running scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    scheduler_file : str or Path, optional
        A scheduler file written by ``dask scheduler --scheduler-file``.
    mpi : bool
        Start the cluster with dask-mpi (the program runs under ``mpirun``).
    timeout : str or float
        How long to try to reach a scheduler before giving up (``"10s"`` by default).
    dashboard : bool
        Serve Dask's dashboard from a cluster started here (LocalCluster, dask-mpi; on
        by default). A LocalCluster's pages start on the first visit of the link
        (:func:`dashboard_on_first_visit`); dask-mpi starts them with the scheduler.
    fork_workers : bool
        Fork a LocalCluster's workers from this process on Linux instead of spawning
        fresh interpreters (see :func:`worker_start_method`): for a program that starts
        its cluster before computing anything, as ``microct run`` does.

    Examples
    --------
    >>> ClusterOptions(workers=2, memory_limit="1GiB").kind
    'local'
    >>> ClusterOptions().kind
    'threads'
    >>> ClusterOptions(workers=2, scheduler="tcp://host:8786").check()
    Traceback (most recent call last):
    ...
    ValueError: choose one way to run: ... (got --workers, --scheduler)
    """

    workers: int | None = None
    threads_per_worker: int | None = None
    memory_limit: str | int | None = None
    scheduler: str | None = None
    scheduler_file: str | Path | None = None
    mpi: bool = False
    timeout: str | float = "10s"
    dashboard: bool = True
    fork_workers: bool = False

    @property
    def kind(self) -> str:
        """``"threads"``, ``"local"``, ``"scheduler"``, ``"scheduler_file"`` or ``"mpi"``."""
        if self.mpi:
            return "mpi"
        if self.scheduler is not None:
            return "scheduler"
        if self.scheduler_file is not None:
            return "scheduler_file"
        if self.workers is not None:
            return "local"
        return "threads"

    def check(self) -> ClusterOptions:
        """Validate the options without starting anything; returns ``self``.

        Raises
        ------
        ValueError
            Conflicting or malformed options.
        FileNotFoundError
            A scheduler file that does not exist.
        ImportError
            ``mpi=True`` without mpi4py and dask-mpi (names the extra to install).
        """
        chosen = [
            flag
            for flag, value in (
                ("--workers", self.workers is not None),
                ("--scheduler", self.scheduler is not None),
                ("--scheduler-file", self.scheduler_file is not None),
                ("--mpi", self.mpi),
            )
            if value
        ]
        if len(chosen) > 1:
            raise ValueError(
                "choose one way to run: --workers, --scheduler, --scheduler-file or --mpi "
                f"(got {', '.join(chosen)})"
            )
        if self.workers is not None and (
            isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1
        ):
            raise ValueError(f"--workers must be a positive integer, got {self.workers!r}")
        if self.threads_per_worker is not None and (
            not isinstance(self.threads_per_worker, int) or self.threads_per_worker < 1
        ):
            raise ValueError(
                f"--threads-per-worker must be a positive integer, got {self.threads_per_worker!r}"
            )
        remote = self.kind in ("scheduler", "scheduler_file")
        if remote and (self.threads_per_worker is not None or self.memory_limit is not None):
            raise ValueError(
                "--threads-per-worker and --memory-limit configure workers that this command "
                "starts (--workers or --mpi); an existing cluster's workers are configured "
                "where they are started"
            )
        if self.kind == "threads" and self.memory_limit is not None:
            raise ValueError(
                "--memory-limit needs workers to enforce it: add --workers N (or --mpi)"
            )
        if self.memory_limit is not None:
            memory_limit_bytes(self.memory_limit)
        try:
            if parse_timedelta(self.timeout) <= 0:
                raise ValueError
        except (ValueError, TypeError, KeyError) as err:
            raise ValueError(
                f"timeout must be a positive duration such as '10s', got {self.timeout!r}"
            ) from err
        if self.scheduler_file is not None and not Path(self.scheduler_file).is_file():
            raise FileNotFoundError(
                f"scheduler file {self.scheduler_file} does not exist; start the scheduler "
                "with `dask scheduler --scheduler-file FILE` first"
            )
        if self.mpi:
            require_mpi()
        return self


def memory_limit_bytes(limit: str | int | float) -> int | None:
    """Bytes of a memory limit such as ``"2GiB"``, ``"500 MB"`` or ``2**30``.

    ``"auto"`` (share the machine's memory between workers) gives ``None``.

    Examples
    --------
    >>> memory_limit_bytes("2GiB")
    2147483648
    >>> memory_limit_bytes("auto") is None
    True
    >>> memory_limit_bytes("lots")
    Traceback (most recent call last):
    ...
    ValueError: --memory-limit must be a size such as '4GiB' or '500MB', or 'auto'; got 'lots'
    """
    if isinstance(limit, str) and limit.strip().lower() == "auto":
        return None
    try:
        value = parse_bytes(limit) if isinstance(limit, str) else int(limit)
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"--memory-limit must be a size such as '4GiB' or '500MB', or 'auto'; got {limit!r}"
        ) from err
    if value <= 0:
        raise ValueError(f"--memory-limit must be positive, got {limit!r}")
    return value


def require_mpi() -> None:
    """Raise a clear ImportError when mpi4py or dask-mpi is missing.

    Examples
    --------
    >>> require_mpi()  # both installed here (the ``mpi`` extra)
    """
    missing = [m for m in ("mpi4py", "dask_mpi") if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(
            f"--mpi needs {' and '.join(missing)}: install them with "
            f"`pip install '{MPI_EXTRA}'` (this brings mpi4py, dask-mpi and an MPI "
            "library), then run under `mpirun -n K microct run ... --mpi`"
        )


def _scheduler_address(scheduler_file: str | Path) -> str:
    try:
        address = json.loads(Path(scheduler_file).read_text())["address"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"scheduler file {scheduler_file} is not a Dask scheduler file (a JSON "
            f"document with an 'address'): {err}"
        ) from err
    return str(address)


def probe_scheduler(address: str, timeout: Any) -> None:
    """Check, within ``timeout``, that a Dask scheduler answers at ``address``.

    Connects, sends the ``identity`` request and waits for a scheduler's reply, all
    under one deadline: a server that accepts and never answers, or answers with
    something else, fails here instead of hanging the client.

    Raises
    ------
    ConnectionError
        Nothing answers, or what answers is not a Dask scheduler.

    Examples
    --------
    >>> probe_scheduler("tcp://127.0.0.1:1", "0.5s")
    Traceback (most recent call last):
    ...
    ConnectionError: cannot reach the Dask scheduler at tcp://127.0.0.1:1 within 0.5 s: ...
    """
    from distributed.comm import connect

    seconds = float(parse_timedelta(timeout))
    timeout = _seconds(timeout)

    async def ask() -> Any:
        comm = await connect(address, timeout=seconds)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    try:
        # In a thread of its own: the caller may be inside an event loop (Jupyter).
        with ThreadPoolExecutor(1) as pool:
            reply = pool.submit(lambda: asyncio.run(asyncio.wait_for(ask(), seconds))).result()
    except TimeoutError as err:
        raise ConnectionError(
            f"cannot reach the Dask scheduler at {address} within {timeout}: the connection "
            "or the handshake timed out (is this the scheduler's address and port?)"
        ) from err
    except Exception as err:  # refused, garbage, a protocol error deep in a dependency
        raise ConnectionError(
            f"cannot reach the Dask scheduler at {address} within {timeout}: "
            f"{type(err).__name__}: {str(err)[:200]}"
        ) from err
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        raise ConnectionError(
            f"cannot reach the Dask scheduler at {address}: something answered, but not a "
            f"Dask scheduler (got {str(reply)[:100]!r})"
        )


def _seconds(timeout: Any) -> str:
    """A timeout as a message shows it, with its unit (a bare number is seconds, as
    ``--timeout`` reads it).

    Examples
    --------
    >>> [_seconds(t) for t in (2, "2", "10s", "1.5 minutes")]
    ['2 s', '2 s', '10 s', '90 s']
    """
    return f"{float(parse_timedelta(timeout)):g} s"


def _connect(address: str | None, scheduler_file: str | Path | None, timeout: Any) -> Any:
    from distributed import Client

    where = f"scheduler file {scheduler_file}" if scheduler_file else f"scheduler at {address}"
    hint = (
        "Check that the scheduler is running and the address is right (e.g. "
        "tcp://host:8786), or run without --scheduler to use this machine"
    )
    if scheduler_file is not None:
        address = _scheduler_address(scheduler_file)
    try:
        probe_scheduler(str(address), timeout)
    except ConnectionError as err:
        raise ConnectionError(f"{err}. {hint}") from err
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as err:
        raise ConnectionError(
            f"cannot reach the Dask {where} within {_seconds(timeout)}: {err}. {hint}"
        ) from err


def _mpi_client(options: ClusterOptions) -> Any:
    """Start dask-mpi. Only the client rank (1) returns; the other ranks serve and exit."""
    from dask_mpi import initialize
    from distributed import Client

    # The scheduler and workers run inside this program under MPI: keep their routine
    # INFO lines (and the tracebacks logged at INFO when the cluster shuts down) quiet.
    logging.getLogger("distributed").setLevel(logging.WARNING)
    initialize(
        nthreads=options.threads_per_worker or 1,
        memory_limit=options.memory_limit if options.memory_limit is not None else "auto",
        dashboard=options.dashboard,
        dashboard_address=":0",
        exit=True,
    )
    from mpi4py import MPI

    client = Client(timeout=options.timeout)
    # Every rank but the scheduler (0) and this one (1) is a worker: start when all have
    # joined (they register asynchronously), or after a minute with those that have.
    with contextlib.suppress(TimeoutError):
        client.wait_for_workers(MPI.COMM_WORLD.Get_size() - 2, timeout=60)
    return client


@contextlib.contextmanager
def _quiet_if_interrupted() -> Iterator[None]:
    """On Ctrl-C, keep ``distributed``'s and asyncio's reports of the work cut short off
    the screen: busy workers killed on the way out (a cluster started here), and the
    result gathers left waiting, which end in "Task exception was never retrieved ...
    AllExit" tracebacks as the client closes (seen with ``--scheduler``), and the
    client's attempts to reach a scheduler stopped by the same Ctrl-C (``--mpi``:
    ``distributed.client``, which ``distributed`` gives a level of its own). That is
    expected, not news: the command says what it left in one line."""
    try:
        yield
    except KeyboardInterrupt:
        for name in ("distributed", "distributed.client", "asyncio"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        raise


def _stop_mpi_cluster_briefly() -> None:
    """After Ctrl-C under ``mpirun`` (which sends it to every rank), stop the cluster now,
    trying its scheduler for two seconds, instead of at exit through dask-mpi's hook:
    the scheduler's rank has stopped on the same Ctrl-C, and the hook tried to reach it
    for Dask's 30 s connect timeout, then printed the failure's traceback. A scheduler
    still running (a Ctrl-C that reached this rank only) is stopped as the hook would."""
    import dask

    # the module (the package's ``initialize`` is the function)
    hooks = importlib.import_module("dask_mpi.initialize")
    atexit.unregister(hooks.send_close_signal)
    with contextlib.suppress(Exception):
        with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
            hooks.send_close_signal()


def mpi_rank() -> int:
    """This process's rank in ``MPI.COMM_WORLD`` (mpi4py must be installed; importing
    it starts MPI: 0 in a process not started by ``mpirun``).

    >>> mpi_rank()  # doctest: +SKIP
    0
    """
    from mpi4py import MPI

    return MPI.COMM_WORLD.Get_rank()


def prints_here(options: ClusterOptions) -> bool:
    """Whether this process prints a run's lines: always, except under MPI, where every
    rank checks the options and builds the graph before dask-mpi sorts them out (each
    rank must refuse bad options alike), but only rank 1, the one that runs the
    analysis, prints (``mpirun -n K`` printed each line K times).

    >>> prints_here(ClusterOptions())
    True
    """
    return options.kind != "mpi" or mpi_rank() == 1


@contextlib.contextmanager
def dask_client(options: ClusterOptions | None = None, **kwargs: Any) -> Iterator[Any]:
    """The Dask client that ``options`` ask for, or ``None`` for Dask's default scheduler.

    Parameters
    ----------
    options : ClusterOptions, optional
        How to run; or give its fields as keyword arguments.

    Yields
    ------
    distributed.Client or None
        While the block runs, computations go to this client (it is the default
        client); a cluster started here is closed at the end of the block, an
        existing one is left running. ``None`` means no client: Dask's threaded
        scheduler runs the work.

    Raises
    ------
    ConnectionError
        The scheduler cannot be reached within ``options.timeout``.

    Examples
    --------
    >>> import dask.array as da
    >>> with dask_client() as client:          # no options: the threaded scheduler
    ...     print(client, int(da.ones(10, chunks=5).sum().compute()))
    None 10
    >>> with dask_client(scheduler="tcp://127.0.0.1:1", timeout="0.2s"):
    ...     pass
    Traceback (most recent call last):
    ...
    ConnectionError: cannot reach the Dask scheduler at tcp://127.0.0.1:1 within 0.2 s: ...
    """
    options = (options or ClusterOptions(**kwargs)).check()
    kind = options.kind
    if kind == "threads":
        yield None
        return
    if kind == "mpi":
        client = _mpi_client(options)
        # Closing the client at exit of rank 1 shuts down the MPI cluster (dask-mpi
        # registered that with atexit); close only our connection here.
        try:
            with _quiet_if_interrupted():
                yield client
        except KeyboardInterrupt:
            _stop_mpi_cluster_briefly()
            raise
        finally:
            client.close()
        return
    if kind in ("scheduler", "scheduler_file"):
        client = _connect(options.scheduler, options.scheduler_file, options.timeout)
        try:
            with _quiet_if_interrupted():
                yield client
        finally:
            client.close()
        return
    import dask
    from distributed import Client, LocalCluster

    # Ctrl-C in a terminal reaches every process of the group: the workers ignore it
    # (inherited from here while they start), and this process stops the run cleanly.
    method = worker_start_method(options.fork_workers)
    if method == "fork":  # once here, not once per worker
        compiler_ready()
        kernels_ready()
    config = {**WORKER_ENVIRONMENT, **SCHEDULER_CONFIG, **_not_set_by_the_user(MONITORING_CONFIG)}
    with _worker_signals(), dask.config.set({**config, START_METHOD_KEY: method}):
        cluster = LocalCluster(
            n_workers=options.workers,
            threads_per_worker=options.threads_per_worker or 1,
            memory_limit=options.memory_limit if options.memory_limit is not None else "auto",
            processes=True,
            # the dashboard's address is served from the start, its pages from the
            # first visit (see dashboard_on_first_visit)
            dashboard_address=":0" if options.dashboard else None,
            scheduler_kwargs={"dashboard": False},
            # a spawned worker imports the package as it starts, while this process
            # is still reading the input and planning, rather than on its first task
            # (then calls dask_setup below)
            preload=["xarray_microct.cluster"],
        )
    with cluster, Client(cluster) as client:
        if options.dashboard:
            dashboard_on_first_visit(cluster.scheduler)
        with _quiet_if_interrupted():
            yield client


_compiler_ready = False


def _zeros_total(n: int) -> float:
    return np.zeros(n).sum()


def compiler_ready() -> None:
    """Set up Numba's compiler in this process (once), so that processes forked later share it.

    The first function Numba compiles or loads from its cache in a process costs 0.6 to
    0.9 s (its typing registries and its runtime are set up then; measured on a 2-core
    machine), every kernel after that a few milliseconds. Worker processes forked from
    this process after this call start with the compiler ready instead of each paying
    that set-up on its first task (two workers: 1.2 to 1.8 CPU seconds saved, about as
    much as the whole fiber job on a 64 × 1024² scan costs). The fiber pipeline sets it
    up in this process anyway, for the radius estimate.

    Examples
    --------
    >>> compiler_ready()
    """
    global _compiler_ready
    if not _compiler_ready:
        import numba

        numba.njit(cache=True)(_zeros_total)(1)
        _compiler_ready = True


class _FirstVisit:
    """Tornado handlers of a scheduler's dashboard address until its pages are served."""

    def __init__(self, scheduler: Any) -> None:
        import tornado.web

        self.scheduler = scheduler
        visit = self

        class Handler(tornado.web.RequestHandler):
            def get(self, *args: Any) -> None:
                visit.serve()
                self.redirect(self.request.uri or "/")

        self.application = tornado.web.Application([(r"/.*", Handler)])

    def serve(self) -> None:
        """Connect Dask's dashboard to the scheduler's HTTP server (on its event loop)."""
        routing = self.scheduler.http_application
        if self.application in routing.applications:
            import distributed.dashboard.scheduler as dashboard

            dashboard.connect(routing, self.scheduler.http_server, self.scheduler, prefix="/")
            routing.applications.remove(self.application)


def dashboard_on_first_visit(scheduler: Any) -> None:
    """Serve Dask's dashboard pages at ``scheduler``'s HTTP address from their first visit.

    Dask's dashboard (Bokeh) takes 0.6 to 1.0 s and as many CPU seconds to import and
    start on a 2-core machine: more than a cluster of two forked workers takes to
    start. A scheduler started without it still serves its HTTP address (health,
    metrics...); this adds a handler there that, on the first request for any other
    page, starts the dashboard and sends the browser to the page it asked for. The link
    is the same and works at once; a run nobody watches never pays for it.

    Examples
    --------
    >>> from distributed import LocalCluster
    >>> with LocalCluster(n_workers=0, dashboard_address=":0", processes=False,
    ...                   scheduler_kwargs={"dashboard": False}) as cluster:
    ...     dashboard_on_first_visit(cluster.scheduler)
    ...     import urllib.request
    ...     page = urllib.request.urlopen(cluster.dashboard_link, timeout=30)
    ...     page.status, page.url.endswith("/status")
    (200, True)
    """
    if importlib.util.find_spec("bokeh") is None:
        warnings.warn(
            "no Dask dashboard: it needs bokeh (pip install bokeh); the run goes on",
            RuntimeWarning,
            stacklevel=2,
        )
        return
    try:
        routing = scheduler.http_application
        routing.add_application(_FirstVisit(scheduler).application)
    except (AttributeError, ImportError) as error:  # distributed's internals changed
        warnings.warn(f"no Dask dashboard ({error}); the run goes on", RuntimeWarning, stacklevel=2)


@contextlib.contextmanager
def _worker_signals() -> Iterator[None]:
    """SIGINT ignored and SIGTERM at its default action while the block runs (in the main
    thread; elsewhere a no-op): the worker processes forked in it inherit these.

    Ctrl-C reaches the whole foreground process group, and the client stops the workers
    itself. ``microct run`` turns SIGTERM into an exception in its main thread (to mark
    its output interrupted); a worker forked with that handler raised it in its event
    loop when the job's process group was sent SIGTERM (``scancel``, ``kill -TERM
    -PGID``): a traceback from every worker. With the default action it just ends.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    previous_term = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)


_exits_quickly = False


def exit_quickly() -> None:
    """Let this process end without Python's last garbage collections (an ``atexit`` hook).

    As it ends, Python collects garbage over every object still alive, several times:
    with the scientific stack and the package loaded that took 3 to 5 s on a loaded
    2-core machine (0.3 to 0.6 s with this hook), paid by ``microct run`` and by each
    worker process as a cluster closes. The hook freezes the objects alive at exit
    (:func:`gc.freeze`), which those collections then skip; every other ``atexit`` hook
    still runs and the operating system reclaims the memory. For processes this
    package runs (the ``microct`` command, the workers of :func:`dask_client`), not for
    a library's host. Registered once per process.

    Examples
    --------
    >>> exit_quickly()
    """
    global _exits_quickly
    if not _exits_quickly:
        atexit.register(gc.freeze)
        _exits_quickly = True


def load_cached_kernels() -> int:
    """Load the package's compiled kernels that Numba's cache holds; return how many.

    A kernel is loaded from Numba's cache on its first call in a process (a few to tens
    of milliseconds each, 0.2 to 0.3 s for those of the fiber pipeline); this loads
    every overload the cache holds for the current code of
    :mod:`xarray_microct.kernels` (stale entries, of other code, are left alone: they
    would be compiled anew), so that no task pays for it later. Only an optimisation:
    nothing is loaded where Numba's cache cannot be read this way.

    Examples
    --------
    >>> load_cached_kernels() >= 0
    True
    """
    import importlib
    import pkgutil

    from numba.core.registry import CPUDispatcher

    import xarray_microct.kernels as kernels

    loaded = 0
    for info in pkgutil.iter_modules(kernels.__path__):
        module = importlib.import_module(f"{kernels.__name__}.{info.name}")
        for kernel in vars(module).values():
            if not isinstance(kernel, CPUDispatcher) or kernel.__module__ != module.__name__:
                continue
            try:
                cache, codegen = kernel._cache, kernel.targetctx.codegen()
                signatures = [
                    key[0]
                    for key in cache._cache_file._load_index()
                    if key == cache._index_key(key[0], codegen)
                ]
            except (AttributeError, OSError, TypeError, ValueError):  # no cache, or another Numba
                continue
            for signature in signatures:
                if signature in kernel.overloads:
                    continue
                try:
                    kernel.compile(signature)
                except Exception as error:  # only an optimisation: the first call compiles
                    warnings.warn(
                        f"could not load the cached kernel {kernel.__name__}{signature}: "
                        f"{error}; it is compiled on its first call instead",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                else:
                    loaded += 1
    return loaded


def dask_setup(worker: Any) -> None:
    """Preload hook of the worker processes that :func:`dask_client` starts.

    Distributed calls it in each worker as it starts (the cluster's preload is this
    module, which imports the package there while the client reads the input and
    plans): the worker ends without a final garbage collection (:func:`exit_quickly`).
    A spawned worker loads the package's compiled kernels (:func:`load_cached_kernels`)
    in a thread of its own, while the client plans, rather than on its first tasks; a
    forked one has them from this process already (:func:`kernels_ready`).
    """
    exit_quickly()
    if not kernels_loaded.is_set():  # a forked worker has them already (kernels_ready)
        threading.Thread(target=_load_kernels_in_background, daemon=True).start()


kernels_loaded = threading.Event()
kernels_loaded_by: int | None = None  # the process that loaded them (a fork inherits it)


def kernels_ready() -> None:
    """Load the cached kernels in this process (once), so that processes forked later share them.

    :func:`load_cached_kernels`, done before :func:`dask_client` forks its workers: each
    worker then starts with the kernels in its memory instead of loading them from the
    cache itself (0.3 to 0.5 CPU seconds a worker, measured with py-spy on a 2-core
    machine, spent while the radius estimate's first tasks ran on the same cores).

    Examples
    --------
    >>> kernels_ready()
    >>> kernels_loaded.is_set()
    True
    """
    if not kernels_loaded.is_set():
        _load_kernels_in_background()


def _load_kernels_in_background() -> None:
    global kernels_loaded_by
    try:
        load_cached_kernels()
    finally:
        kernels_loaded_by = os.getpid()
        kernels_loaded.set()


def describe_client(client: Any, dashboard: bool = True) -> str:
    """One line saying where the work runs, with the dashboard link when there is one.

    ``dashboard=False`` leaves the link out: for a cluster started without its
    dashboard, whose scheduler still reports a link (its HTTP port) that serves no pages.

    Examples
    --------
    >>> describe_client(None)
    "running on Dask's threaded scheduler (no distributed client)"
    """
    if client is None:
        return "running on Dask's threaded scheduler (no distributed client)"
    info = client.scheduler_info()
    workers = info.get("workers", {})
    threads = sum(w.get("nthreads", 0) for w in workers.values())
    line = f"running on {client.scheduler.address}: {len(workers)} workers, {threads} threads"
    with contextlib.suppress(Exception):
        link = client.dashboard_link if dashboard else ""
        if link:
            line += f"; dashboard: {link}"
    return line


__all__ = [
    "MPI_EXTRA",
    "ClusterOptions",
    "dask_client",
    "describe_client",
    "exit_quickly",
    "memory_limit_bytes",
    "mpi_rank",
    "prints_here",
    "require_mpi",
    "worker_start_method",
]
