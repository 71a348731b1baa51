"""The ``microct`` command: ``info``, ``demo``, ``run`` and ``export-pipeline``.

``microct run PIPELINE INPUT OUTPUT`` runs a built-in pipeline or a pipeline file on a
stored volume and writes the result to Zarr, on the Dask client the options ask for::

    microct run steps.yaml scan.zarr result.zarr                     # threads, this machine
    microct run steps.yaml scan.zarr result.zarr --workers 4 --memory-limit 4GiB
    microct run steps.yaml scan.zarr result.zarr --scheduler tcp://head:8786
    mpirun -n 8 microct run steps.yaml scan.zarr result.zarr --mpi
    microct run fibers scan.zarr fibers.zarr --param radius='6.4 um'   # built-in, a table
    microct export-pipeline result.zarr steps.yaml                  # provenance -> file
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xarray_microct.core.volume import grid_of


def describe(path: str | Path) -> str:
    """A human-readable summary of the volume stored at ``path``.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, xarray_microct as mct
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "v.zarr"
    >>> _ = mct.from_array(np.zeros((4, 6, 8), "uint8"), spacing=0.65).to_zarr(store)
    >>> print(describe(store).splitlines()[1])
    shape (z, y, x): 4 × 6 × 8 voxels, uint8
    """
    from xarray_microct.io import open_volume

    volume = open_volume(path)
    grid = grid_of(volume)
    extent = [n * s for n, s in zip(grid.shape, grid.spacing, strict=True)]
    lines = [
        f"{Path(path).name}: {volume.name}",
        f"shape (z, y, x): {' × '.join(map(str, grid.shape))} voxels, {volume.dtype}",
        f"spacing: {', '.join(f'{s:g}' for s in grid.spacing)} {grid.units}",
        f"extent: {', '.join(f'{e:g}' for e in extent)} {grid.units}",
        f"chunks: {' × '.join(str(c[0]) for c in volume.chunks[-3:])}",
        f"size: {volume.nbytes / 2**20:.1f} MiB",
    ]
    steps = [r["op"] for r in volume.attrs.get("microct_provenance", [])]
    if steps:
        lines.append(f"provenance: {' → '.join(steps)}")
    return "\n".join(lines)


def _info(args: argparse.Namespace) -> int:
    print(describe(args.path))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from xarray_microct.demo import run_demo

    run_demo(Path(args.output), size=args.size, overwrite=args.overwrite)
    return 0


def _run(args: argparse.Namespace) -> int:
    from xarray_microct.cluster import ClusterOptions
    from xarray_microct.runner import run_pipeline

    options = ClusterOptions(
        workers=args.workers,
        threads_per_worker=args.threads_per_worker,
        memory_limit=args.memory_limit,
        scheduler=args.scheduler,
        scheduler_file=args.scheduler_file,
        mpi=args.mpi,
        timeout=args.timeout,
    )
    run_pipeline(
        args.pipeline,
        args.input,
        args.output,
        params=args.param,
        options=options,
        overwrite=args.overwrite,
        resume=args.resume,
        chunks=args.chunks,
        progress=not args.no_progress,
    )
    return 0


def _export_pipeline(args: argparse.Namespace) -> int:
    from xarray_microct.runner import export_pipeline

    if Path(args.pipeline).exists() and not args.overwrite:
        raise FileExistsError(f"{args.pipeline} exists; pass --overwrite to replace it")
    path = export_pipeline(args.result, args.pipeline)
    print(f"wrote {path}")
    return 0


def _add_run(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run",
        help="run a pipeline on a stored volume and write the result to Zarr",
        description="Run PIPELINE on INPUT and write OUTPUT (Zarr), on this machine's "
        "threads, a LocalCluster, an existing Dask cluster or dask-mpi. Everything is "
        "checked before any work starts; an interrupted run is finished with --resume.",
    )
    run.add_argument(
        "pipeline",
        help="a built-in pipeline (fibers, beads) or a YAML/JSON "
        "file of steps, e.g. from `microct export-pipeline`",
    )
    run.add_argument("input", help="the volume to process (Zarr store or TIFF)")
    run.add_argument("output", help="the Zarr store to write")
    run.add_argument(
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help="a parameter of a built-in pipeline, e.g. --param bead_radius='20 um'"
        " (repeat for several)",
    )
    where = run.add_argument_group("where to run (default: threads on this machine)")
    where.add_argument("--workers", type=int, help="start a LocalCluster of N worker processes")
    where.add_argument(
        "--threads-per-worker", type=int, help="threads per worker (--workers, --mpi; default 1)"
    )
    where.add_argument(
        "--memory-limit", help="memory per worker, e.g. 4GiB (--workers, --mpi; default auto)"
    )
    where.add_argument(
        "--scheduler", metavar="ADDRESS", help="use a running Dask scheduler, e.g. tcp://head:8786"
    )
    where.add_argument(
        "--scheduler-file", metavar="FILE", help="use a running Dask scheduler described by FILE"
    )
    where.add_argument(
        "--mpi",
        action="store_true",
        help="start Dask with dask-mpi: run under `mpirun -n K` (K >= 3)",
    )
    where.add_argument(
        "--timeout", default="10s", help="how long to try to reach the scheduler (default 10s)"
    )
    run.add_argument("--chunks", type=int, help="rechunk the input to N voxels per side")
    run.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT")
    run.add_argument(
        "--resume",
        action="store_true",
        help="finish an interrupted run into OUTPUT (only missing chunks)",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(handler=_run)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``microct`` command."""
    from xarray_microct import __version__

    parser = argparse.ArgumentParser(
        prog="microct", description="Analyse X-ray microtomography volumes with xarray-microct."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser("info", help="describe a stored volume")
    info.add_argument("path", help="a Zarr store, a TIFF file or a folder of TIFF slices")
    info.set_defaults(handler=_info)
    demo = commands.add_parser("demo", help="run the pipeline on a synthetic volume")
    demo.add_argument("--output", default="microct-demo", help="folder for the results")
    demo.add_argument("--size", type=int, default=128, help="edge of the synthetic volume")
    demo.add_argument("--overwrite", action="store_true", help="replace earlier results")
    demo.set_defaults(handler=_demo)
    _add_run(commands)
    export = commands.add_parser(
        "export-pipeline", help="write the provenance of a stored result as a pipeline file"
    )
    export.add_argument("result", help="a Zarr store written by xarray-microct")
    export.add_argument("pipeline", help="the pipeline file to write (.yaml or .json)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing file")
    export.set_defaults(handler=_export_pipeline)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so that writers stop cleanly."""


EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C (SIGINT): 128 + 2, as shells report it."""
EXIT_TERMINATED = 143
"""Exit status after SIGTERM (a batch system ending the job): 128 + 15."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated


def _interrupted(args: argparse.Namespace, err: KeyboardInterrupt) -> int:
    """One line saying what was stopped and what is left; the exit status."""
    signal_name = "SIGTERM" if isinstance(err, Terminated) else "Ctrl-C"
    line = f"microct: interrupted ({signal_name})"
    output = getattr(args, "output", None)
    if args.command == "run" and output is not None:
        from xarray_microct.io.results import RESUMABLE, run_state

        with contextlib.suppress(Exception):
            state = run_state(output)
            if state is not None and state.get("status") in RESUMABLE:
                line += (
                    f"; {output} is marked {state['status']}: finish it with the same "
                    "command and --resume"
                )
            else:
                line += f"; {output} was left as it was"
    print(line, file=sys.stderr)
    return EXIT_TERMINATED if isinstance(err, Terminated) else EXIT_INTERRUPTED


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``microct`` console script.

    Exit status: 0 done, 2 a clear error (bad input, refused output, unreachable
    scheduler, damaged store), 130 after Ctrl-C and 143 after SIGTERM (the output is
    then marked interrupted, and ``--resume`` finishes it).
    """
    args = build_parser().parse_args(argv)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return args.handler(args)
    except KeyboardInterrupt as err:
        return _interrupted(args, err)
    except (
        ValueError,
        TypeError,
        ImportError,
        FileNotFoundError,
        FileExistsError,
        ConnectionError,
        TimeoutError,
    ) as err:
        print(f"microct: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a full disk, a read-only folder...
        print(
            f"microct: error: {err}; nothing that existed before was changed (an "
            "interrupted output is resumable with --resume)",
            file=sys.stderr,
        )
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    raise SystemExit(main())
