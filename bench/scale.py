"""Scale rehearsal (`make bench-scale`): the whole pipeline on synthetic parts of realistic size,
plain and on a Dask LocalCluster, stage by stage.

Writes `--parts` synthetic parts of `--rows` rows each (part 0 holds the queries, parts 1.. the
subset, so there are parts + 1 files; kept between runs), a release of the sample's kinds of
bundle for one strict subset of them (gold standards at k = 100 and 1000, as published), then
runs every stage of the stage table in order as make would, each in its own process: once
plain, once with --scheduler pointed at a LocalCluster started here. For each stage it prints
the rows per second of both runs, the peak resident memory of the stage's process and of each
worker (sampled every 0.1 s), and the time the stage would take on the 10M and 100M subsets:
on this machine (plain and on the cluster), and in worker-hours on the cluster, which divide
by the number of such workers (each a core of this machine) a cluster has. Times are assumed
linear in the rows, the gold standard's also in the queries (the published 10,000). The two
runs' artifacts are compared byte for byte at the end.

Not part of the tests: at the default size it writes about 6 GB per 1M-row part and its
outputs, and takes a good while.
"""
from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import yaml
from distributed import Client, LocalCluster

from generator.io.h5 import h5_shape
from generator.pipeline.blas import blas_report
from generator.pipeline.stages import STAGES
from generator.release.read import read_release

ROOT = Path(__file__).resolve().parents[1]
SUBSETS = {"10M": 10_120_191, "100M": 102_000_000}
PUBLISHED_QUERIES = 10_000
GIB = 2.0 ** 30
UNSCALED = ("queries", "sketch-model")  # stages whose work does not grow with the subset
ON_WORKERS = ("pca-model", "pca", "hamming", "gold")  # the stages whose tasks the workers run


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, default=3, help="parts of the subset (default 3)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per part (default 1M)")
    parser.add_argument("--queries", type=int, default=PUBLISHED_QUERIES, help="queries (default 10,000)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of the LocalCluster (default 2)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (default 1)")
    parser.add_argument("--dir", type=Path, default=ROOT / "build" / "bench-scale",
                        help="folder of the parts and both runs' artifacts (default build/bench-scale)")
    return parser.parse_args()


def scale_release(args, path: Path) -> None:
    """The sample release's bundles for one strict subset of parts 1..parts."""
    release = yaml.safe_load((ROOT / "data" / "release-sample.yml").read_text())
    label = f"S{args.parts}"
    release["name"] = f"Scale rehearsal: {args.parts} parts of {args.rows:,} rows"
    release["sample"] = {**release["sample"], "parts": args.parts + 1, "rows": args.rows}
    release["subsets"] = [{"label": label, "parts": [1, args.parts], "rule": "strict"}]
    release["queries"] = {**release["queries"], "count": args.queries}
    for bundle in release["bundles"]:
        bundle["publish"] = [name for name in bundle["publish"] if name in (label, release["queries"]["label"])]
    release["pca"] = {"train": label}
    release["sketches"]["create"]["sample_rows"] = min(args.rows, 100_000)
    path.write_text(yaml.safe_dump(release, sort_keys=False))


@dataclass
class Peaks:
    """Peak resident memory of the stage's process tree and of each worker process."""

    driver: int = 0
    workers: dict[int, int] = field(default_factory=dict)


def sample_memory(process: subprocess.Popen, worker_pids: list[int], peaks: Peaks, done: threading.Event) -> None:
    try:
        tree = psutil.Process(process.pid)
    except psutil.NoSuchProcess:
        return
    while not done.wait(0.1):
        try:
            members = [tree, *tree.children(recursive=True)]
            peaks.driver = max(peaks.driver, sum(member.memory_info().rss for member in members))
        except psutil.NoSuchProcess:
            pass
        for pid in worker_pids:
            try:
                peaks.workers[pid] = max(peaks.workers.get(pid, 0), psutil.Process(pid).memory_info().rss)
            except psutil.NoSuchProcess:
                pass


@dataclass
class Figures:
    seconds: float = 0.0
    rows: int = 0
    driver: int = 0
    worker: int = 0


def run_pipeline(args, release_path: Path, parts: Path, out: Path, address: str | None,
                 worker_pids: list[int]) -> dict[str, Figures]:
    """Every stage of the table in order, timed; {stage name: figures}."""
    release = read_release(release_path)
    shutil.rmtree(out, ignore_errors=True)
    figures: dict[str, Figures] = {}
    command = [sys.executable, "-m", "generator", "pipeline", "--release", str(release_path), "--parts", str(parts),
               "--out", str(out), *(["--scheduler", address] if address else [])]
    for stage in STAGES:
        for label in stage.labels(release):
            peaks, done = Peaks(), threading.Event()
            started = time.perf_counter()
            process = subprocess.Popen([*command, stage.name, *([label] if label else [])], cwd=ROOT,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            sampler = threading.Thread(target=sample_memory, args=(process, worker_pids, peaks, done))
            sampler.start()
            _, errors = process.communicate()
            seconds = time.perf_counter() - started
            done.set()
            sampler.join()
            if process.returncode:
                sys.exit(f"{stage.name} {label or ''} failed:\n{errors}")
            rows = 0 if stage.name in UNSCALED else h5_shape(
                out / release.embeddings_file(label or release.pca_train), "emb")[0]
            entry = figures.setdefault(stage.name, Figures())
            entry.seconds += seconds
            entry.rows += rows
            entry.driver = max(entry.driver, peaks.driver)
            entry.worker = max([entry.worker, *peaks.workers.values()])
            print(f"  {'on Dask' if address else 'plain':8} {stage.name:12} {label or '':8} {seconds:8.1f} s",
                  flush=True)
    return figures


def hours(seconds: float) -> str:
    return f"{seconds / 3600:7.2f} h"


def report(args, plain: dict[str, Figures], dask: dict[str, Figures]) -> None:
    print(f"\nper stage, {args.parts} parts of {args.rows:,} rows, {args.queries:,} queries; "
          f"LocalCluster of {args.workers} worker(s) x {args.threads} thread(s); peak RSS in GiB")
    print(f"{'stage':12} {'rows':>10} {'plain s':>8} {'Dask s':>8} {'plain rows/s':>13} {'Dask rows/s':>12} "
          f"{'RSS plain':>9} {'RSS driver':>10} {'RSS worker':>10}")
    for name, mine in plain.items():
        theirs = dask[name]
        rates = [f"{f.rows / f.seconds:,.0f}" if f.rows else "" for f in (mine, theirs)]
        print(f"{name:12} {mine.rows:10,} {mine.seconds:8.1f} {theirs.seconds:8.1f} {rates[0]:>13} {rates[1]:>12} "
              f"{mine.driver / GIB:9.2f} {theirs.driver / GIB:10.2f} {theirs.worker / GIB:10.2f}")
    print("\nextrapolated, linear in the rows (the gold standard also in the queries, to "
          f"{PUBLISHED_QUERIES:,}); the worker-hours of the stages run by the workers divide by the "
          "workers of a cluster (each a core like these), the other stages run in the stage's process:")
    print(f"{'stage':12} " + " ".join(f"{label + ' plain':>12} {label + ' Dask':>12} {label + ' worker-h':>14}"
                                      for label in SUBSETS))
    totals = {label: [0.0, 0.0, 0.0] for label in SUBSETS}
    for name, mine in plain.items():
        if not mine.rows:
            continue
        theirs, cells = dask[name], []
        factor = PUBLISHED_QUERIES / args.queries if name == "gold" else 1.0
        for label, rows in SUBSETS.items():
            scale = rows / mine.rows * factor
            on_workers = theirs.seconds * scale * args.workers if name in ON_WORKERS else 0.0
            times = (mine.seconds * scale, theirs.seconds * scale, on_workers)
            totals[label] = [total + value for total, value in zip(totals[label], times)]
            cells.append(f"{hours(times[0]):>12} {hours(times[1]):>12} "
                         f"{hours(on_workers) if on_workers else 'this process':>14}")
        print(f"{name:12} " + " ".join(cells))
    print(f"{'total':12} " + " ".join(f"{hours(a):>12} {hours(b):>12} {hours(c):>14}" for a, b, c in totals.values()))


def same_artifacts(first: Path, second: Path) -> list[str]:
    """Names of the published files whose bytes differ between the two runs (the recall table
    holds measured times and is left out)."""
    names = sorted(path.name for path in first.iterdir() if path.suffix in (".h5", ".tsv"))
    return [name for name in names if not filecmp.cmp(first / name, second / name, shallow=False)]


def main() -> int:
    args = arguments()
    args.dir.mkdir(parents=True, exist_ok=True)
    release_path, parts = args.dir / "release.yml", args.dir / "parts"
    scale_release(args, release_path)
    stamp = parts / f".written-{args.parts + 1}x{args.rows}"
    if not stamp.exists():
        print(f"writing {args.parts + 1} synthetic parts of {args.rows:,} rows into {parts}", flush=True)
        shutil.rmtree(parts, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "generator", "pipeline", "--release", str(release_path),
                        "--parts", str(parts), "sample"], cwd=ROOT, check=True)
        stamp.touch()
    print("plain:", flush=True)
    plain = run_pipeline(args, release_path, parts, args.dir / "out-plain", None, [])
    with LocalCluster(n_workers=args.workers, threads_per_worker=args.threads, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as client:
        print(f"on Dask: LocalCluster at {cluster.scheduler_address}, dashboard {cluster.dashboard_link}", flush=True)
        pids = list(client.run(os.getpid).values())
        dask = run_pipeline(args, release_path, parts, args.dir / "out-dask", cluster.scheduler_address, pids)
    report(args, plain, dask)
    differing = same_artifacts(args.dir / "out-plain", args.dir / "out-dask")
    print(f"\nartifacts of both runs byte-identical: {'yes' if not differing else 'NO: ' + ', '.join(differing)}")
    print(blas_report())
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
