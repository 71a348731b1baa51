"""``python -m xarray_microct``: the ``microct`` command (same options and exit codes)."""

from xarray_microct.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
