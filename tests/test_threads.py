"""The one way BLAS threads are set (generator/pipeline/blas.py): the kernels' workers, one per BLAS
thread; their single-thread sections, shared by overlapping callers; the process's own number
(what a Dask worker sets). Threads meet at barriers and events, never after a sleep."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy  # noqa: F401  (loads the BLAS threadpoolctl sees)
import pytest
from threadpoolctl import threadpool_info

from generator.pipeline.blas import blas_threads, map_on_blas_threads, set_blas_threads, single_threaded_blas
from tests.conftest import ROOT


def test_one_worker_per_blas_thread():
    """Every item waits at a barrier of as many parties as workers are expected: with fewer
    workers the barrier breaks, and with more the count of distinct threads says so."""
    threads = blas_threads()
    workers = min(threads, 4)
    meet = threading.Barrier(workers)
    seen = []

    def work(item: int) -> int:
        meet.wait(timeout=10)
        seen.append(threading.get_ident())
        return item * item

    assert map_on_blas_threads(work, range(4)) == [0, 1, 4, 9]
    assert len(set(seen)) == workers
    assert blas_threads() == threads  # the single-thread limit ends with the call


def blas_limits() -> list[tuple[str, int]]:
    """Every loaded BLAS and its threads, seen from this thread."""
    return sorted((info["filepath"], info["num_threads"]) for info in threadpool_info() if info["user_api"] == "blas")


# The environment of a fresh process, less the variables Dask sets here when it starts workers.
BLAS_UNSET = {name: value for name, value in os.environ.items()
              if name not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def in_a_fresh_process(function) -> None:
    """Runs `function` of this module in a new interpreter, its BLAS set by no thread before, as in
    a Dask worker: OpenBLAS ignores a thread count set from another thread once the main thread
    has set one (docs/design/pipeline.md#scheduling-on-dask), and earlier tests of this process
    ran kernels on the main thread."""
    run = subprocess.run([sys.executable, "-c", f"from tests.test_threads import {function.__name__} as f; "
                          "import threading; t = threading.Thread(target=f); t.start(); t.join()"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, env=BLAS_UNSET)
    assert run.returncode == 0 and not run.stderr, run.stderr  # a failed assertion prints "Exception in thread"


def overlapping_calls() -> None:
    before = blas_limits()
    both_in, first_out = threading.Barrier(2), threading.Event()
    inside_after_first = []

    def first() -> None:
        def work(item: int) -> int:
            if item == 0:
                both_in.wait(timeout=10)
            return item
        map_on_blas_threads(work, range(4))
        first_out.set()

    def second() -> None:
        def work(item: int) -> int:
            if item == 0:
                both_in.wait(timeout=10)
                first_out.wait(timeout=10)
                inside_after_first.append(blas_threads())
            return item
        map_on_blas_threads(work, range(4))

    callers = [threading.Thread(target=first), threading.Thread(target=second)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(timeout=30)
    assert inside_after_first == [1], inside_after_first
    assert blas_limits() == before, (blas_limits(), before)


def test_overlapping_calls_share_one_limit_and_the_last_out_lifts_it():
    """Two callers at once (the tasks of a Dask worker's threads), the second in leaving last: the
    first one out leaves BLAS on one thread for the second, and the second restores what was
    there before either came in."""
    in_a_fresh_process(overlapping_calls)


def number_set_inside_a_section() -> None:
    before = blas_threads()
    assert before > 1, "needs a BLAS of more than one thread"
    with single_threaded_blas() as threads:
        assert threads == before
        set_blas_threads(before - 1)
        assert blas_threads() == 1, blas_threads()
    assert blas_threads() == before - 1, blas_threads()
    with single_threaded_blas() as threads:
        assert threads == before - 1
        assert blas_threads() == 1
    set_blas_threads(before)
    assert blas_threads() == before


@pytest.mark.skipif(blas_threads() < 2, reason="needs a BLAS of more than one thread")
def test_a_number_set_inside_a_section_applies_when_the_last_caller_leaves():
    """set_blas_threads (a Dask worker's share of its host) never lifts a kernel's one thread."""
    in_a_fresh_process(number_set_inside_a_section)
