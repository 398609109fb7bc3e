"""The gold-standard stage on a Dask LocalCluster against the plain run, and the scheduler's
overhead per task.

The bench rows of bench_gold.py (seeded, clustered unit float16 rows, float32 queries) are
written as the sample release's subset and query files; the pipeline's gold stage
(`stages.write_gold`, k as the release's largest gold standard) then runs twice in this
call: plain, in this process, and with its tasks on a LocalCluster of 2 worker processes of 1
thread each, started before the clock runs. Printed: both times, their ratio (the same two
cores either way, so about 1x is the target: what the scheduler costs), whether both runs
wrote the same bytes, and the overhead per task: the round trip of an empty task submitted
after the previous one finished, and the time per empty task when many are submitted at once.
Last, the BLAS kernel of the driver and of each worker.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from bench_gold import bench_data
from distributed import Client, LocalCluster

from generator.io.checksums import file_md5
from generator.io.h5 import write_h5
from generator.pipeline import stages
from generator.pipeline.blas import blas_report
from generator.pipeline.schedule import Scheduler
from generator.release.read import read_release

ROOT = Path(__file__).resolve().parents[1]
DIM = 768


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="database rows (default 1M: two row blocks)")
    parser.add_argument("--queries", type=int, default=2000, help="queries (default 2000)")
    parser.add_argument("--tasks", type=int, default=200, help="empty tasks timed for the overhead (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def nothing() -> None:
    """The empty task."""


def overhead(client: Client, tasks: int) -> tuple[float, float]:
    """(seconds per empty task one after another, seconds per empty task all at once)."""
    client.submit(nothing, pure=False).result()  # the first task of a worker pays for imports
    started = time.perf_counter()
    for _ in range(tasks):
        client.submit(nothing, pure=False).result()
    serial = (time.perf_counter() - started) / tasks
    started = time.perf_counter()
    client.gather(client.map(lambda _: None, range(tasks), pure=False))
    return serial, (time.perf_counter() - started) / tasks


def main() -> int:
    args = arguments()
    release = read_release(ROOT / "data" / "releases" / "sample-2023.yml")
    label, queries_label = release.pca_train, release.gold_query_sets()[0]
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as folder:
        work = Path(folder)
        print(f"writing {args.rows:,} x {DIM} float16 rows and {args.queries:,} queries (seed {args.seed})")
        database, queries = bench_data(args.seed, args.rows, args.queries)
        write_h5(work / release.embeddings_file(label), {"emb": database})
        write_h5(work / release.embeddings_file(queries_label), {"emb": queries})
        del database, queries
        names = [kind.file_name(label) for kind in release.gold_kinds(queries_label)]
        tasks = -(-args.rows // stages.GOLD_BLOCK_ROWS) * -(-args.queries // stages.GOLD_QUERY_ROWS)
        print(f"gold stage, k = {release.gold_k(queries_label)}: {tasks} screen and {tasks} re-rank tasks "
              f"(blocks of {stages.GOLD_BLOCK_ROWS:,} rows x {stages.GOLD_QUERY_ROWS:,} queries)")

        started = time.perf_counter()
        stages.write_gold(stages.Run(release, work, work), f"{label}/{queries_label}")
        plain = time.perf_counter() - started
        digests = {name: file_md5(work / name) for name in names}
        for name in names:
            (work / name).unlink()

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as cluster, Client(cluster) as client:
            client.run(lambda: __import__("generator.pipeline.stages"))  # imports before the clock, as plain had
            started = time.perf_counter()
            stages.write_gold(stages.Run(release, work, work, scheduler=Scheduler(cluster.scheduler_address)),
                              f"{label}/{queries_label}")
            on_dask = time.perf_counter() - started
            serial, batch = overhead(client, args.tasks)
            worker_blas = sorted(set(client.run(lambda: blas_report()).values()))
        same = all(file_md5(work / name) == digest for name, digest in digests.items())

    pairs = args.rows * args.queries
    print(f"  plain (this process):             {plain:8.2f} s  {pairs / plain:,.0f} pairs/s")
    print(f"  LocalCluster, 2 workers x 1 thread: {on_dask:6.2f} s  {pairs / on_dask:,.0f} pairs/s")
    print(f"  ratio Dask / plain: {plain / on_dask:.2f}x (target about 1x: the same two cores)")
    print(f"  same bytes in every gold file: {'yes' if same else 'NO'}")
    print(f"scheduler overhead per task (pid {os.getpid()} to 2 workers): {serial * 1000:.2f} ms one after another, "
          f"{batch * 1000:.2f} ms each when {args.tasks} are submitted at once")
    print(f"driver {blas_report()}")
    for report in worker_blas:
        print(f"worker {report}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
