"""The machine's limits for `make bench-scale`, measured in the same run as the stages, and each
stage's bound under them (docs/design/performance.md#bounds-of-the-stages).

A stage's bound is the larger of two times: its matrix products (floating-point operations
counted from the shapes of what it reads and writes) at the rate of a float32 GEMM on all
cores, and the bytes it reads and writes at the disk's sequential rate. A stage cannot beat
its bound; the ratio measured / bound says how much is left to gain. Stages bound by GEMM
divide by the cores; the others are taken to gain nothing from added cores.
"""
from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import h5py
import numpy as np

from generator.pipeline.blas import blas_report

GEMM_SHAPE = (2048, 32768, 768)  # queries x rows x dim: a screen tile of the gold stage
DISK_BYTES = 1 << 30
DISK_CHUNK = 64 << 20


@dataclass(frozen=True)
class Machine:
    """What bounds the stages here: GEMM GFLOP/s on all cores, disk MB/s, and the description."""

    gflops: float
    write_mb: float
    read_mb: float
    cores: int
    cpu: str
    blas: str
    load: float

    def describe(self) -> list[str]:
        return [f"CPU: {self.cpu}, {self.cores} cores; load average up to {self.load:.1f} when measured",
                (f"float32 GEMM on all cores: {self.gflops:.0f} GFLOP/s (numpy, {GEMM_SHAPE[0]} x "
                 f"{GEMM_SHAPE[2]} by {GEMM_SHAPE[2]} x {GEMM_SHAPE[1]}, best of 3)"),
                (f"disk, sequential: write {self.write_mb:.0f} MB/s (fsync), read {self.read_mb:.0f} MB/s "
                 f"(page cache dropped), {DISK_BYTES >> 20} MiB"),
                *self.blas.splitlines()]


def best_of_machines(first: Machine, second: Machine) -> Machine:
    """The faster rates of two measurements of the same machine (say before and after the stages):
    the machine's limit is what it reached at best, and on a shared machine one measurement may
    fall in a busy spell the stages did not meet."""
    return replace(first, gflops=max(first.gflops, second.gflops), write_mb=max(first.write_mb, second.write_mb),
                   read_mb=max(first.read_mb, second.read_mb), load=max(first.load, second.load))


def measure_machine(folder: Path) -> Machine:
    """GEMM rate and disk rates, measured now (the machine's load is part of the figures)."""
    write_mb, read_mb = disk_rates(folder)
    return Machine(gemm_gflops(), write_mb, read_mb, os.cpu_count() or 1, _cpu_name(), blas_report(),
                   os.getloadavg()[0])


def gemm_gflops(repeats: int = 3) -> float:
    """Best GFLOP/s of a float32 product of GEMM_SHAPE, on every BLAS thread."""
    q, n, d = GEMM_SHAPE
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((q, d), dtype=np.float32), rng.standard_normal((n, d), dtype=np.float32)
    out = np.empty((q, n), dtype=np.float32)
    np.matmul(a, b.T, out=out)  # first touch of the output
    best = min(_timed(lambda: np.matmul(a, b.T, out=out)) for _ in range(repeats))
    return 2 * q * n * d / best / 1e9


def disk_rates(folder: Path) -> tuple[float, float]:
    """(write, read) MB/s of a DISK_BYTES file in `folder`: written and fsynced, then read after
    its pages are dropped from the cache (posix_fadvise), so that the disk, not memory, is read."""
    path = folder / ".disk-rate"
    chunk = np.random.default_rng(1).bytes(DISK_CHUNK)
    try:
        started = time.perf_counter()
        with open(path, "wb", buffering=0) as out:
            out.writelines(chunk for _ in range(DISK_BYTES // DISK_CHUNK))
            os.fsync(out.fileno())
        write = DISK_BYTES / (time.perf_counter() - started) / 1e6
        with open(path, "rb", buffering=0) as stream:
            os.posix_fadvise(stream.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
            buffer = bytearray(DISK_CHUNK)
            started = time.perf_counter()
            while stream.readinto(buffer):
                pass
        return write, DISK_BYTES / (time.perf_counter() - started) / 1e6
    finally:
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Work:
    """What one stage did: GEMM floating-point operations and bytes read and written."""

    flops: float = 0.0
    bytes: int = 0

    def __add__(self, other: Work) -> Work:
        return Work(self.flops + other.flops, self.bytes + other.bytes)

    def bound(self, machine: Machine) -> float:
        """Seconds it takes at least: the slower of its GEMM and its disk traffic."""
        return max(self.gemm_seconds(machine), self.disk_seconds(machine))

    def gemm_seconds(self, machine: Machine) -> float:
        return self.flops / (machine.gflops * 1e9)

    def disk_seconds(self, machine: Machine) -> float:
        return self.bytes / (min(machine.write_mb, machine.read_mb) * 1e6)

    def scales_with_cores(self, machine: Machine) -> bool:
        return self.flops > 0 and self.gemm_seconds(machine) >= self.disk_seconds(machine)


def gemm_flops(stage: str, rows: int, queries: int, dim: int, columns: int) -> float:
    """The GEMM operations of a stage over `rows` rows of `dim` values:
    - pca-model: the covariance, rows x dim x dim;
    - pca: the projection onto `columns` components (all PCA kinds together);
    - hamming: the products with the 64 references of each of `columns` sketch words;
    - gold: every query against every row, once: the stage searches at the largest k of the
      query set's gold standards and each file keeps a prefix of the columns;
    - recall: every query against every projected row (`columns`, all PCA kinds together);
    two operations (a multiply and an add) per term.

    Example: gemm_flops("gold", 10**6, 10**4, 768, 0) == 2 * 10**10 * 768.
    """
    per_row = {"pca-model": dim * dim, "pca": dim * columns, "hamming": dim * 64 * columns,
               "gold": queries * dim, "recall": queries * columns}
    return 2.0 * rows * per_row.get(stage, 0)


def h5_columns(path: Path) -> int:
    """The columns of all the 2-D datasets of an HDF5 file, together."""
    with h5py.File(path, "r") as file:
        return sum(int(item.shape[1]) for item in file.values() if isinstance(item, h5py.Dataset)
                   and len(item.shape) == 2)


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
