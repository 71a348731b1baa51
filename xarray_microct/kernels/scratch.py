"""Work arrays kept per thread between tasks: no fresh pages for every block.

A task that needs a large temporary array (a transposed copy, a flooding state) would
get fresh memory from the operating system every time: ``microct run`` hands freed
large arrays back at once (:mod:`xarray_microct.core.memory`), so each 4 KiB of every
temporary costs a page fault, block after block. :func:`work_array` gives each thread
one buffer per name instead, grown to the largest size asked and reused by the
thread's next tasks. Only for arrays that never leave the task (its result must be a
fresh array, or a copy).

Examples
--------
>>> a = work_array("demo", (2, 3), np.float32)
>>> b = work_array("demo", (3, 2), np.float32)  # the same memory, another shape
>>> a.shape, b.shape, bool(np.shares_memory(a, b))
((2, 3), (3, 2), True)
>>> big = work_array("demo", (MAX_KEPT + 1,), np.uint8)  # too large to keep: fresh
>>> bool(np.shares_memory(big, work_array("demo", (4,), np.uint8)))
False
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

_BUFFERS = threading.local()
MAX_KEPT = 64 << 20  # bytes: a larger work array is fresh memory, not kept by the thread


def work_array(name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A C-contiguous array of this thread, reused by its next tasks (contents undefined).

    Parameters
    ----------
    name : str
        One buffer per name and thread: two arrays in use at once need two names.
    shape : tuple of int
    dtype : dtype

    Returns
    -------
    numpy.ndarray
        A view of the thread's buffer for ``name``, valid until the thread asks for that
        name again; a fresh array above :data:`MAX_KEPT` bytes (a thread keeps no more).
    """
    buffers = _BUFFERS.__dict__.setdefault("buffers", {})
    size = math.prod(shape)
    dtype = np.dtype(dtype)
    if size * dtype.itemsize > MAX_KEPT:
        return np.empty(shape, dtype)
    buffer = buffers.get(name)
    if buffer is None or buffer.dtype != dtype or buffer.size < size:
        buffer = buffers[name] = np.empty(size, dtype)
    return buffer[:size].reshape(shape)
