"""The kernels' workers: one per BLAS thread."""
from __future__ import annotations

import threading
import time

import numpy  # noqa: F401  (loads the BLAS threadpoolctl sees)
from threadpoolctl import threadpool_info

from generator.pipeline.blas import blas_threads, map_on_blas_threads


def test_one_worker_per_blas_thread():
    threads = blas_threads()
    seen = []

    def work(item: int) -> int:
        seen.append(threading.get_ident())
        time.sleep(0.05)  # long enough for every worker to take an item
        return item * item

    assert map_on_blas_threads(work, range(4)) == [0, 1, 4, 9]
    assert len(set(seen)) == min(threads, 4)
    assert blas_threads() == threads  # the single-thread limit ends with the call



def blas_limits() -> list[tuple[str, int]]:
    """Every loaded BLAS and its threads, seen from this thread."""
    return sorted((info["filepath"], info["num_threads"]) for info in threadpool_info() if info["user_api"] == "blas")


def test_overlapping_calls_share_one_limit_and_the_last_out_lifts_it():
    """Two callers at once (the tasks of a Dask worker's threads), the second in leaving last: each
    gets one worker per BLAS thread there was before either came in, and the limit it found on
    entry (the first's) is not what the last one out leaves behind."""
    before, threads = blas_limits(), blas_threads()
    first_in, together = threading.Event(), threading.Barrier(2)
    workers = {}

    def caller(name: str, hold: float) -> None:
        def work(item: int) -> int:
            if item == 0:
                first_in.set()
                together.wait(timeout=10)
            workers.setdefault(name, set()).add(threading.get_ident())
            time.sleep(hold)
            return item
        map_on_blas_threads(work, range(4))

    first = threading.Thread(target=caller, args=("first", 0.01))
    second = threading.Thread(target=caller, args=("second", 0.3))
    first.start()
    assert first_in.wait(timeout=10)
    second.start()
    for thread in (first, second):
        thread.join()
    assert {name: len(idents) for name, idents in workers.items()} == {"first": min(threads, 4),
                                                                        "second": min(threads, 4)}
    assert blas_limits() == before
