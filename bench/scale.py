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

Against the machine's limits (bench/limits.py): before and after the stages it measures
the float32 GEMM rate on all cores and the disk's sequential rates (the faster of the two
counts); each stage of the plain run gets its
bound (its GEMM operations at that rate, or its bytes at the disk's rate, whichever is
slower) and the ratio of its time to it. The table, a plot of time against bound and the
machine's description are written into --results (bench/results/), with the projected times
of the 10M and 100M releases on this machine and with one core more (stages bound by GEMM
divide by the cores, the others are taken not to). --no-dask skips the run on Dask.

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

import numpy as np
import psutil
import yaml
from distributed import Client, LocalCluster

from limits import Machine, Work, best_of_machines, gemm_flops, h5_columns, measure_machine

from generator.io.h5 import h5_shape
from generator.pipeline.blas import blas_report
from generator.pipeline.parts import npy_path, parquet_path
from generator.pipeline.stages import STAGES, Stage
from generator.release.model import EMBEDDING_DIM, PCA, Release
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
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results",
                        help="folder of the report, its table and plot (default bench/results)")
    parser.add_argument("--no-dask", action="store_true", help="run the stages plain only")
    return parser.parse_args()


def scale_release(args, path: Path) -> None:
    """The first sample edition's bundles for one strict subset of parts 1..parts and its first
    query set (drawn from part 0)."""
    release = yaml.safe_load((ROOT / "data" / "releases" / "sample-2023.yml").read_text())
    label = f"S{args.parts}"
    queries = {**release["query_sets"][0], "count": args.queries}
    release["name"] = f"Scale rehearsal: {args.parts} parts of {args.rows:,} rows"
    release["sample"] = {**release["sample"], "parts": args.parts + 1, "rows": args.rows}
    release["subsets"] = [{"label": label, "parts": [1, args.parts], "rule": "strict"}]
    release["query_sets"] = [queries]
    release["bundles"] = [bundle for bundle in release["bundles"] if bundle.get("queries", queries["label"])
                          == queries["label"]]
    for bundle in release["bundles"]:
        bundle["publish"] = [name for name in bundle["publish"] if name in (label, queries["label"])]
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
    work: Work = field(default_factory=Work)


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
                out / release.embeddings_file(subset_of(label or release.pca_train)), "emb")[0]
            entry = figures.setdefault(stage.name, Figures())
            entry.work += stage_work(stage, release, label, parts, out, args.queries)
            entry.seconds += seconds
            entry.rows += rows
            entry.driver = max(entry.driver, peaks.driver)
            entry.worker = max([entry.worker, *peaks.workers.values()])
            print(f"  {'on Dask' if address else 'plain':8} {stage.name:12} {label or '':8} {seconds:8.1f} s",
                  flush=True)
    return figures


def subset_of(label: str) -> str:
    """The subset (or query set) whose rows a stage's label counts: the gold stage's is SUBSET/QUERIES."""
    return label.split("/", 1)[0]


def stage_work(stage: Stage, release: Release, label: str | None, parts: Path, out: Path, queries: int) -> Work:
    """The GEMM operations and the bytes read and written of one stage run (bench/limits.py)."""
    needs = stage.needs(release, label)
    outputs = [out / name for name in stage.outputs(release, label)]
    inputs = [out / name for name in needs.out] + list(needs.files) + [
        path for number in needs.parts for path in (npy_path(parts, number), parquet_path(parts, number))]
    moved = sum(path.stat().st_size for path in inputs + outputs if path.is_file())
    if stage.name == "recall":
        flops = sum(gemm_flops("recall", h5_shape(out / release.embeddings_file(each), "emb")[0], queries,
                               EMBEDDING_DIM, _pca_columns(release, each, out)) for each in release.labels)
        return Work(flops, moved)
    rows_of = subset_of(label or release.pca_train)
    rows = h5_shape(out / release.embeddings_file(rows_of), "emb")[0]
    projected = stage.name in ("pca", "hamming")
    columns = sum(h5_columns(path) for path in outputs if path.suffix == ".h5") if projected else 0
    return Work(gemm_flops(stage.name, rows, queries, EMBEDDING_DIM, columns), moved)


def _pca_columns(release: Release, label: str, out: Path) -> int:
    return sum(h5_columns(out / kind.file_name(label)) for kind in release.kinds_of(PCA))


def limits_report(args: argparse.Namespace, machine: Machine, plain: dict[str, Figures]) -> list[str]:
    """The table of the plain run against the machine's limits, and the projections."""
    lines = [f"# Scale rehearsal: {args.parts} parts of {args.rows:,} rows, {args.queries:,} queries", "",
             *(f"- {line}" for line in machine.describe()), "",
             "| stage | rows | seconds | rows/s | GEMM GFLOP | GB moved | bound s | bound by | time / bound |",
             "|---|---:|---:|---:|---:|---:|---:|---|---:|"]
    for name, mine in plain.items():
        bound = mine.work.bound(machine)
        by = "GEMM" if mine.work.scales_with_cores(machine) else "disk"
        rate = f"{mine.rows / mine.seconds:,.0f}" if mine.rows else ""
        ratio = f"{mine.seconds / bound:.2f}" if bound > 0 else ""
        lines.append(f"| {name} | {mine.rows:,} | {mine.seconds:.1f} | {rate} | {mine.work.flops / 1e9:,.0f} | "
                     f"{mine.work.bytes / 1e9:.2f} | {bound:.1f} | {by} | {ratio} |")
    total = sum(f.seconds for f in plain.values())
    lines += [f"| total | | {total:.1f} | | | | {sum(f.work.bound(machine) for f in plain.values()):.1f} | | |", ""]
    if "gold" in plain and "recall" in plain:
        lines += [f"The recall stage took {plain['recall'].seconds / plain['gold'].seconds:.2f} times the gold "
                  "stage's time (its bound counts the GEMM of the PCA searches only: popcounts have no "
                  "measured rate).", ""]
    cores = machine.cores
    lines += [(f"Projected, linear in the rows (gold and recall also in the queries, to {PUBLISHED_QUERIES:,}): "
               f"minutes on this machine ({cores} cores) and with one core more (stages bound by GEMM divide "
               "by the cores)."), "",
              "| release | " + f"{cores} cores | {cores + 1} cores | saved per added core |", "|---|---:|---:|---:|"]
    for label, rows in SUBSETS.items():
        now, more = projected(args, machine, plain, rows, cores), projected(args, machine, plain, rows, cores + 1)
        lines.append(f"| {label} | {now / 60:.1f} | {more / 60:.1f} | {(now - more) / 60:.1f} |")
    return lines


def projected(args: argparse.Namespace, machine: Machine, plain: dict[str, Figures], rows: int, cores: int) -> float:
    """Seconds of the whole plain run for a subset of `rows` rows on `cores` cores like these."""
    total = 0.0
    for name, mine in plain.items():
        scale = rows / mine.rows if mine.rows else 1.0
        if name in ("gold", "recall"):
            scale *= PUBLISHED_QUERIES / args.queries
        total += mine.seconds * scale * (machine.cores / cores if mine.work.scales_with_cores(machine) else 1.0)
    return total


def write_results(folder: Path, lines: list[str], machine: Machine, plain: dict[str, Figures]) -> None:
    """scale.md (the report), scale.csv (the table) and scale.svg (time against bound per stage)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scale.md").write_text("\n".join(lines) + "\n")
    rows = ["stage,rows,seconds,gemm_flops,bytes,bound_seconds"] + [
        f"{name},{f.rows},{f.seconds:.3f},{f.work.flops:.0f},{f.work.bytes},{f.work.bound(machine):.3f}"
        for name, f in plain.items()]
    (folder / "scale.csv").write_text("\n".join(rows) + "\n")
    names = list(plain)
    figure, axes = plt.subplots(figsize=(8, 4))
    positions = np.arange(len(names))
    axes.bar(positions - 0.2, [plain[n].seconds for n in names], 0.4, label="measured")
    axes.bar(positions + 0.2, [plain[n].work.bound(machine) for n in names], 0.4, label="bound (GEMM or disk)")
    axes.set_xticks(positions, names, rotation=30, ha="right")
    axes.set_ylabel("seconds")
    axes.set_title(f"stages against the machine's limits ({machine.gflops:.0f} GFLOP/s, "
                   f"{min(machine.write_mb, machine.read_mb):.0f} MB/s)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(folder / "scale.svg")
    plt.close(figure)


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
    machine = measure_machine(args.dir)
    print("\n".join(machine.describe()), flush=True)
    print("plain:", flush=True)
    plain = run_pipeline(args, release_path, parts, args.dir / "out-plain", None, [])
    machine = best_of_machines(machine, measure_machine(args.dir))
    lines = limits_report(args, machine, plain)
    print("\n".join(lines))
    write_results(args.results, lines, machine, plain)
    if args.no_dask:
        return 0
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
