"""Which BLAS does the heavy products, a warning when it is a slow generic build, the one way
BLAS threads are set (threadpoolctl: `set_blas_threads`, and the kernels' `single_threaded_blas`
sections), and the one way the kernels spread work over the BLAS threads."""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar

from threadpoolctl import threadpool_info, threadpool_limits

Item = TypeVar("Item")
Result = TypeVar("Result")

log = logging.getLogger(__name__)

# OpenBLAS kernels chosen when the CPU is not recognised (or is forced down): portable
# SSE-era or plain C code, several times slower than a kernel for the actual CPU.
SLOW_KERNELS = {"generic", "prescott", "katmai", "coppermine", "northwood", "banias",
                "atom", "core2", "penryn", "dunnington", "armv7", "armv8"}


def blas_libraries() -> list[dict[str, Any]]:
    """threadpoolctl's description of every BLAS loaded in this process."""
    return [info for info in threadpool_info() if info.get("user_api") == "blas"]


def blas_threads() -> int:
    """The most threads any loaded BLAS uses (1 when none is visible)."""
    return max((int(info.get("num_threads") or 1) for info in blas_libraries()), default=1)


def map_on_blas_threads(function: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
    """[function(item) for item in items], on one worker per BLAS thread, each calling BLAS
    single-threaded: the numpy work between products (which releases the GIL) then runs
    alongside the other workers' products instead of between them.

    Example: map_on_blas_threads(lambda start: kernel(rows[start:start + n]), range(0, len(rows), n)).
    """
    with single_threaded_blas() as threads:
        with ThreadPoolExecutor(max(1, min(threads, len(items)))) as pool:
            return list(pool.map(function, items))


# The one place that sets BLAS threads (threadpoolctl): the process's own number (`_threads`,
# None until set: what BLAS had when first asked), and the single-thread sections of the kernels
# that overlap it.
_held = threading.Lock()
_holders = 0
_threads: int | None = None


def set_blas_threads(threads: int) -> None:
    """BLAS threads of this process from now on (a Dask worker's share of its host's cores, a
    benchmark's setting). Inside a kernel's single-thread section the section keeps its one
    thread and the last caller out applies the new number.

    Example: set_blas_threads(4); then blas_threads() == 4 (when the BLAS has 4 threads to give).
    """
    global _threads
    threads = max(1, int(threads))
    with _held:
        if threads == _threads:
            return
        _threads = threads
        if _holders == 0:
            threadpool_limits(threads, user_api="blas")


@contextmanager
def single_threaded_blas() -> Iterator[int]:
    """BLAS on one thread while any caller is inside; yields the process's BLAS threads (those
    it has outside such sections). The limit is the whole process's: calls that overlap (the
    tasks of a Dask worker's threads) share it and the count, and the last one out sets the
    process's number again, so that none of them sees another's limit as the number of threads,
    or lifts it while another still counts on products on one thread.
    """
    global _holders, _threads
    with _held:
        threads = blas_threads() if _threads is None else _threads
        _threads = threads
        if _holders == 0:
            threadpool_limits(1, user_api="blas")
        _holders += 1
    try:
        yield threads
    finally:
        with _held:
            _holders -= 1
            if _holders == 0:
                threadpool_limits(_threads, user_api="blas")


def slow_kernels(libraries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [info for info in libraries
            if str(info.get("architecture", "")).lower() in SLOW_KERNELS]


def blas_report(libraries: list[dict[str, Any]] | None = None) -> str:
    """One line per BLAS (library, version, kernel, threads, file), by default those
    loaded now; logs a warning for a slow generic kernel or when no BLAS is visible."""
    libraries = blas_libraries() if libraries is None else libraries
    if not libraries:
        log.warning("threadpoolctl finds no BLAS library: matrix products may be slow")
        return "BLAS: none found by threadpoolctl (import numpy first)"
    for info in slow_kernels(libraries):
        log.warning("BLAS %s uses the generic kernel %s: products will be slow "
                    "(is OPENBLAS_CORETYPE set, or the CPU not recognised?)",
                    Path(info["filepath"]).name, info.get("architecture"))
    return "\n".join(
        f"BLAS: {info.get('internal_api')} {info.get('version')}, kernel "
        f"{info.get('architecture', 'n/a')}, {info.get('num_threads')} thread(s), "
        f"{info.get('threading_layer', 'n/a')} threading ({Path(info['filepath']).name})"
        for info in libraries)
