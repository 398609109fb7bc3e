"""The kernels' workers: one per BLAS thread."""
from __future__ import annotations

import threading
import time

import numpy  # noqa: F401  (loads the BLAS threadpoolctl sees)

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
