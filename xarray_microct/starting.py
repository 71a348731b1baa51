"""Ctrl-C while the ``microct`` command starts: one line and exit status 130, no traceback.

The console script (``from xarray_microct.cli import main``) and ``python -m
xarray_microct`` import the package, and with it xarray, Dask and pandas, before
:func:`xarray_microct.cli.main` runs: seconds on a loaded machine, during which Python's
own Ctrl-C handler would end the command with a traceback of the imports. The package's
``__init__`` calls :func:`quiet_while_starting` first (this module imports nothing but
the standard library); when the process is the command, Ctrl-C until
:func:`started` (the first thing ``main`` does under its own handler) prints
``microct: interrupted (Ctrl-C) while starting; nothing was read or written`` and exits
with 130, as Ctrl-C does later. A program that imports the package is left alone.
"""

from __future__ import annotations

import re
import signal
import sys
import threading
from pathlib import Path
from typing import Any, NoReturn

EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C (SIGINT): 128 + 2, as shells report it."""

STARTING_MESSAGE = "microct: interrupted (Ctrl-C) while starting; nothing was read or written"


def is_command(argv: list[str] | None = None, orig_argv: list[str] | None = None) -> bool:
    """Whether this process is the ``microct`` command: its script (``microct``, or as
    pip names it on Windows, ``microct.exe``, ``microct-script.py``), or ``python -m
    xarray_microct`` (whose package is imported while ``sys.argv[0]`` is ``"-m"``).

    Examples
    --------
    >>> is_command(["/venv/bin/microct", "run"], ["/venv/bin/python", "/venv/bin/microct"])
    True
    >>> is_command(["-m", "run"], ["python", "-X", "importtime", "-m", "xarray_microct"])
    True
    >>> is_command(["-m"], ["python", "-m", "pytest"]), is_command(["analysis.py"], [])
    (False, False)
    """
    argv = sys.argv if argv is None else argv
    orig_argv = getattr(sys, "orig_argv", []) if orig_argv is None else orig_argv
    if not argv:
        return False
    if argv[0] == "-m":
        try:
            module = orig_argv[orig_argv.index("-m") + 1]
        except (ValueError, IndexError):
            return False
        return module == "xarray_microct"
    return re.sub(r"(-script\.pyw?|\.exe)?$", "", Path(argv[0]).name) == "microct"


def _interrupted_while_starting(signum: int, frame: Any) -> NoReturn:
    print(STARTING_MESSAGE, file=sys.stderr, flush=True)
    raise SystemExit(EXIT_INTERRUPTED)


def quiet_while_starting() -> None:
    """In the ``microct`` command (:func:`is_command`), make Ctrl-C print one line and
    exit with 130 until :func:`started`; elsewhere, or where Ctrl-C is not Python's
    default handler (ignored in a background job, a program's own), change nothing.

    Examples
    --------
    >>> quiet_while_starting()  # not the command: nothing changes
    >>> signal.getsignal(signal.SIGINT) is _interrupted_while_starting
    False
    """
    if threading.current_thread() is not threading.main_thread() or not is_command():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupted_while_starting)


def started() -> None:
    """Give Ctrl-C back to Python's handler (``KeyboardInterrupt``), which the command
    handles from here on; nothing if :func:`quiet_while_starting` did not take it.

    Examples
    --------
    >>> started()
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is _interrupted_while_starting:
        signal.signal(signal.SIGINT, signal.default_int_handler)


__all__ = ["EXIT_INTERRUPTED", "STARTING_MESSAGE", "is_command", "quiet_while_starting", "started"]
