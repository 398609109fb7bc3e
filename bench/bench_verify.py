"""Hashing throughput of `make verify` against GNU md5sum, measured on the same files in the same run.

Writes FILES x GIB GiB of random bytes in a temporary folder (removed afterwards),
reads them once so that both sides see a warm page cache, then times, best of
REPEATS with the two sides taking turns: one file (verify's hashing vs `md5sum
FILE`), and the whole set (verify's thread pool vs `md5sum` over the files one
after the other). Prints the ratios of wall-clock throughput (> 1: verify is
faster) next to the targets, and the bytes hashed per CPU second of each side,
which other processes on the machine do not distort.

    .venv/bin/python bench/bench_verify.py [--files 4] [--gib 1] [--repeats 5]
"""
from __future__ import annotations

import argparse
import os
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

from generator.io.checksums import BLOCK_BYTES
from generator.transfer.verify import Check, Status, run_checks
from generator.errors import Origin

GIB = 1024**3
TARGET_ONE, TARGET_SET = 0.95, 1.7


def write_random_files(folder: Path, count: int, size: int) -> list[Path]:
    rng = np.random.default_rng(20240601)
    paths = []
    for index in range(count):
        path = folder / f"bench-{index}.bin"
        with open(path, "wb") as out:
            for start in range(0, size, 64 * 1024**2):
                out.write(rng.bytes(min(64 * 1024**2, size - start)))
        paths.append(path)
    return paths


def warm(paths: list[Path]) -> None:
    for path in paths:
        with open(path, "rb", buffering=0) as stream:
            while stream.read(BLOCK_BYTES):
                pass


def best_times(actions: dict, repeats: int) -> dict:
    """For each action, its best wall-clock time and the CPU time (process and children) of that run.

    The actions take turns, so that a busy spell of the machine hits both sides alike.
    """
    runs = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            cpu_before, start = _cpu_seconds(), time.perf_counter()
            action()
            runs[name].append((time.perf_counter() - start, _cpu_seconds() - cpu_before))
    return {name: min(times) for name, times in runs.items()}


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def verify_hashing(checks: list[Check], jobs: int) -> None:
    results = list(run_checks(checks, jobs))
    if not all(r.status is Status.OK for r in results):
        raise SystemExit("verify's hashing disagreed with md5sum: the benchmark is void")


def md5sum(paths: list[Path]) -> None:
    subprocess.run(["md5sum", *map(str, paths)], check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    jobs = min(4, os.cpu_count() or 1)  # the default of `verify --jobs`
    size = int(args.gib * GIB)

    print(f"load average before the run: {os.getloadavg()[0]:.1f}")
    print(f"bench_verify: {args.files} x {size / GIB:g} GiB random files, best of {args.repeats}; "
          f"{os.cpu_count()} cores, verify --jobs {jobs}, block {BLOCK_BYTES // 1024**2} MiB, "
          f"hashlib md5 from {ssl.OPENSSL_VERSION}")
    for pool in threadpool_info():
        print(f"  BLAS/OpenMP: {pool['internal_api']} {pool['version']} "
              f"({pool.get('architecture', '?')}, {pool['num_threads']} threads; not used by hashing)")
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as folder:
        paths = write_random_files(Path(folder), args.files, size)
        md5sum_output = subprocess.run(["md5sum", *map(str, paths)], check=True, capture_output=True,
                                       text=True).stdout  # also warms the page cache
        digests = {Path(line.split("  ", 1)[1]).name: line.split()[0] for line in md5sum_output.splitlines()}
        warm(paths)
        checks = [Check(p.name, p, digests[p.name], Origin("md5sum")) for p in paths]

        one_ours, one_md5sum = best_times({"ours": lambda: verify_hashing(checks[:1], jobs),
                                           "md5sum": lambda: md5sum(paths[:1])}, args.repeats).values()
        set_ours, set_md5sum = best_times({"ours": lambda: verify_hashing(checks, jobs),
                                           "md5sum": lambda: md5sum(paths)}, args.repeats).values()

    mib = size / 1024**2
    rows = [("one file", one_ours, one_md5sum, 1, TARGET_ONE),
            (f"{args.files} files", set_ours, set_md5sum, args.files, TARGET_SET)]
    print(f"{'wall clock':12} {'verify MiB/s':>13} {'md5sum MiB/s':>13} {'ratio':>7} {'target':>7}"
          f"   {'CPU: verify MiB/cpu-s':>22} {'md5sum MiB/cpu-s':>17}")
    for label, (ours, ours_cpu), (theirs, theirs_cpu), count, target in rows:
        ratio = theirs / ours
        print(f"{label:12} {count * mib / ours:13.0f} {count * mib / theirs:13.0f} {ratio:6.2f}x "
              f"{'>=' + format(target, 'g') + 'x':>7} {'ok' if ratio >= target else 'MISSED':6}"
              f" {count * mib / ours_cpu:19.0f} {count * mib / theirs_cpu:17.0f}")
    busy = set_ours[1] / set_ours[0]
    print(f"verify's {jobs} threads kept {busy:.2f} cores busy on the set (the GIL would hold them to 1.00)")
    load = os.getloadavg()[0]
    print(f"load average after the run: {load:.1f} on {os.cpu_count()} cores"
          + (" (other processes competed for the cores: the parallel ratio is bounded by what was free)"
             if load > (os.cpu_count() or 1) else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
