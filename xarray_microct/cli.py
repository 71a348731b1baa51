"""The ``microct`` command: ``microct info PATH`` and ``microct demo``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``microct`` command."""
    parser = argparse.ArgumentParser(
        prog="microct", description="Analyse X-ray microtomography volumes with xarray-microct."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser("info", help="describe a stored volume")
    info.add_argument("path", help="a Zarr store, a TIFF file or a folder of TIFF slices")
    info.set_defaults(handler=_info)
    demo = commands.add_parser("demo", help="run the pipeline on a synthetic volume")
    demo.add_argument("--output", default="microct-demo", help="folder for the results")
    demo.add_argument("--size", type=int, default=128, help="edge of the synthetic volume")
    demo.add_argument("--overwrite", action="store_true", help="replace earlier results")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``microct`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, TypeError, FileNotFoundError, FileExistsError) as err:
        print(f"microct: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
