"""Per-thread work arrays: reused by one thread's next tasks, never shared between threads."""

from __future__ import annotations

import threading

import numpy as np

from xarray_microct.kernels.scratch import MAX_KEPT, work_array


def test_threads_never_share_a_work_array():
    # two threads hold their arrays of one name at the same time, as two Dask tasks do
    both_ready = threading.Barrier(2)
    arrays: dict[int, np.ndarray] = {}

    def task(value: int) -> None:
        array = work_array("test-threads", (4, 5), np.int32)
        array.fill(value)
        both_ready.wait()  # the other thread has filled its own array by now
        arrays[value] = array.copy()
        arrays[-value] = array

    threads = [threading.Thread(target=task, args=(v,)) for v in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (arrays[1] == 1).all() and (arrays[2] == 2).all()
    assert not np.shares_memory(arrays[-1], arrays[-2])


def test_a_thread_reuses_its_buffer_and_grows_it():
    small = work_array("test-grow", (2, 3), np.float32)
    again = work_array("test-grow", (6,), np.float32)
    assert np.shares_memory(small, again) and again.flags.c_contiguous
    larger = work_array("test-grow", (4, 4), np.float32)  # grown: a new buffer, then kept
    assert larger.shape == (4, 4) and not np.shares_memory(larger, small)
    assert np.shares_memory(larger, work_array("test-grow", (3,), np.float32))
    other = work_array("test-grow", (3,), np.float64)  # another dtype: a new buffer
    assert other.dtype == np.float64 and not np.shares_memory(other, larger)
    assert not np.shares_memory(work_array("test-other", (3,), np.float64), other)


def test_arrays_above_the_limit_are_not_kept():
    n = MAX_KEPT // 8 + 1
    first = work_array("test-large", (n,), np.float64)
    assert not np.shares_memory(first, work_array("test-large", (n,), np.float64))
