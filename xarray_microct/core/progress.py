"""Phases of a long computation, announced to whoever asked to hear them.

The library marks the steps of a pipeline that can take a while (the fiber radius
estimate, the threshold pass, the detection) with :func:`phase`; by default that does
nothing. ``microct run`` listens (:func:`phases_shown`): it prints each phase's label on
its own line before the phase computes, and shows a progress bar under it.

Phases do not nest: inside a phase being shown, another one is silent (its work counts
in the outer one's bar).

Examples
--------
>>> import dask.array as da
>>> with phases_shown(lambda label: print("->", label)):
...     with phase("summing"):
...         with phase("inner"):  # silent: inside a phase
...             total = int(da.ones(10, chunks=5).sum().compute())
-> summing
>>> with phase("nobody listens"):  # no listener: nothing printed
...     total = int(da.ones(10, chunks=5).sum().compute())
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from contextvars import ContextVar
from typing import Any

from dask.diagnostics import ProgressBar

_LISTENER: ContextVar[Callable[[str], Any] | None] = ContextVar("microct_phases", default=None)
_INSIDE: ContextVar[bool] = ContextVar("microct_inside_phase", default=False)


@contextlib.contextmanager
def phase(label: str) -> Iterator[None]:
    """Mark the block as a phase named ``label`` (a short line: what it does).

    The listener of :func:`phases_shown`, when there is one and no other phase is
    running, is called with ``label``; when it returns a context manager, the block
    runs inside it (e.g. a progress bar).

    Examples
    --------
    >>> with phase("reading"):
    ...     pass
    """
    listener = _LISTENER.get()
    if listener is None or _INSIDE.get():
        yield
        return
    inside = _INSIDE.set(True)
    try:
        shown = listener(label)
        with shown if isinstance(shown, contextlib.AbstractContextManager) else nullcontext():
            yield
    finally:
        _INSIDE.reset(inside)


@contextlib.contextmanager
def phases_shown(listener: Callable[[str], Any] | None) -> Iterator[None]:
    """Call ``listener(label)`` at the start of each :func:`phase` in the block (None:
    none shown); what it returns, if a context manager, wraps the phase.

    Examples
    --------
    >>> with phases_shown(print), phase("estimating"):
    ...     pass
    estimating
    """
    token = _LISTENER.set(listener)
    try:
        yield
    finally:
        _LISTENER.reset(token)


_DRAWING: ContextVar[Any] = ContextVar("microct_thread_bar", default=None)


class _ContextProgressBar(ProgressBar):
    """Dask's :class:`~dask.diagnostics.ProgressBar`, drawn only for the computations
    started in the context that shows it (Dask's callbacks are global: another thread's
    computation would otherwise restart and stop it)."""

    # each computation calls its callbacks in the thread that started it
    def _start(self, dsk: Any) -> None:
        if _DRAWING.get() is self:
            super()._start(dsk)

    def _pretask(self, key: Any, dsk: Any, state: Any) -> None:
        if _DRAWING.get() is self:
            super()._pretask(key, dsk, state)

    def _finish(self, dsk: Any, state: Any, errored: bool) -> None:
        if _DRAWING.get() is self:
            super()._finish(dsk, state, errored)


@contextlib.contextmanager
def own_progress_bar(minimum: float = 1.0) -> Iterator[None]:
    """Dask's progress bar (threaded scheduler) for the computations the block starts in
    its own context (thread), each drawn once it has run ``minimum`` seconds; another
    thread's computations meanwhile draw nothing in it. Nothing stays installed after
    the block, also on an error.

    Examples
    --------
    >>> import dask.array as da
    >>> with own_progress_bar():  # under a second: nothing drawn
    ...     total = int(da.ones(10, chunks=5).sum().compute())
    """
    bar = _ContextProgressBar(minimum=minimum)
    token = _DRAWING.set(bar)
    try:
        with bar:
            yield
    finally:
        _DRAWING.reset(token)
