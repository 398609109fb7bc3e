"""Gold standards against faiss-cpu IndexFlatIP, then every numeric stage's rows per second.

Both sides search the same seeded, clustered database of unit float16 rows: faiss gets
its float32 copy normalised by faiss.normalize_L2 (timed apart, on a line of its own); the
gold kernels read the float16 rows block by block as the pipeline does: `screen` per
block (told the candidates merged so far), `merge_candidates`, then `rerank` per block and
`merge_topk`, conversion included.
faiss and the screen are timed block by block, alternating, and the fastest of the
repeated runs of each block counts, which damps the noise of a shared machine; faiss's
time leaves out merging its partial results, ours includes every merge and the whole
re-rank. Printed for each k (default 100 and 1000): throughput of both in query x row
pairs per second and in GFLOP/s of their products (2 x dim operations per pair), their
ratio in wall time (target >= 1.0) and in process CPU time (which other processes on a
shared machine distort less), and whether our result equals a plain float64 brute force
ranked by (float32 distance, id) on sampled queries: the exit status is 1 when it does not.

Then the rows per second of each numeric stage on the same rows: the PCA fit, the
projections (32 and 96 dimensions), the sketches (the official BinWalk model), the gold
standard at the largest k, and the recall search in each projected space (faiss brute force
for the PCA spaces, the compiled popcount kernel for the sketches). Last, the BLAS kernel and
threads each side used.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import faiss
import numpy as np

from generator.pipeline.binwalk import read_binwalk_model
from generator.pipeline.blas import blas_libraries, blas_report
from generator.pipeline.gold import (empty_candidates, empty_topk, merge_candidates, merge_topk, rerank,
                                     screen)
from generator.pipeline.pca import CovarianceAccumulator, project
from generator.pipeline.recall import brute_force
from generator.pipeline.sketches import sketch
from generator.pipeline.stages import GOLD_BLOCK_ROWS

DIM = 768
TARGET = 1.0  # exact gold standards at least as fast as faiss's float32 search
OFFICIAL_MODEL = (Path(__file__).resolve().parents[1] / "data" / "models" / "binwalk"
                  / "binwalk-model-nrefs=1024-permsize=64.jld2")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="database rows (default 1M)")
    parser.add_argument("--queries", type=int, default=2000, help="queries (default 2000)")
    parser.add_argument("--k", type=int, nargs="+", default=[100, 1000],
                        help="neighbours per query, one comparison each (default 100 1000)")
    parser.add_argument("--block-rows", type=int, default=GOLD_BLOCK_ROWS,
                        help=f"rows per screen and re-rank call (default {GOLD_BLOCK_ROWS:,}, the pipeline's)")
    parser.add_argument("--check", type=int, default=20,
                        help="queries checked against a float64 brute force (default 20)")
    parser.add_argument("--repeat", type=int, default=2,
                        help="timed runs of each per block, alternating; the fastest counts (default 2)")
    parser.add_argument("--recall-k", type=int, default=30, help="k of the recall search (default 30)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def clustered_rows(rng: np.random.Generator, centres: np.ndarray, n: int, dtype) -> np.ndarray:
    """Unit rows around random centres, normalised in float32 then cast (LAION's way)."""
    out = np.empty((n, DIM), dtype=dtype)
    for start in range(0, n, 65536):
        count = min(65536, n - start)
        rows = centres[rng.integers(len(centres), size=count)]
        rows += rng.standard_normal((count, DIM), dtype=np.float32)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        out[start:start + count] = rows
    return out


def bench_data(seed: int, rows: int, queries: int) -> tuple[np.ndarray, np.ndarray]:
    """The benchmarks' data: float16 database rows and float32 queries around the same seeded
    centres."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((1000, DIM), dtype=np.float32) * np.float32(0.8)
    return clustered_rows(rng, centres, rows, np.float16), clustered_rows(rng, centres, queries, np.float32)


def float64_ranking(queries: np.ndarray, database: np.ndarray, k: int) -> np.ndarray:
    """Plain float64 1 - dot of normalised rows, top k by (float32 distance, id)."""
    q = queries.astype(np.float64)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    dists = np.empty((len(q), len(database)), dtype=np.float32)
    for start in range(0, len(database), 65536):
        x = database[start:start + 65536].astype(np.float64)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        dists[:, start:start + len(x)] = 1.0 - q @ x.T
    ids = np.arange(1, len(database) + 1)
    return np.array([np.lexsort((ids, row))[:k] + 1 for row in dists])


def best_of(repeat: int, call) -> tuple[float, object]:
    """The fastest of `repeat` runs of `call` and its last result."""
    best, result = timed(repeat, call)
    return best[0], result


def timed(repeat: int, call) -> tuple[tuple[float, float], object]:
    """(wall, process CPU) seconds of the fastest of `repeat` runs of `call`, and its last result."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        result = call()
        best = min(best, (time.perf_counter() - started, time.process_time() - cpu))
    return best, result


def compare(args, database: np.ndarray, queries: np.ndarray, k: int) -> float:
    """Gold kernels against faiss at one k; prints the figures, returns our seconds."""
    query_units = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    blocks = [(start, database[start:start + args.block_rows]) for start in range(0, args.rows, args.block_rows)]
    faiss_seconds = screen_seconds = merge_seconds = rerank_seconds = faiss_loading_seconds = 0.0
    faiss_cpu = ours_cpu = 0.0
    candidates = empty_candidates(args.queries, k)
    for start, block in blocks:
        started = time.perf_counter()
        index = faiss.IndexFlatIP(DIM)
        copy = block.astype(np.float32)
        faiss.normalize_L2(copy)
        index.add(copy)
        faiss_loading_seconds += time.perf_counter() - started
        faiss_best = ours_best = (float("inf"), float("inf"))
        for _ in range(args.repeat):  # alternating, so that a busy spell hits both alike
            faiss_best = min(faiss_best, timed(1, lambda: index.search(query_units, k))[0])
            seconds_cpu, part = timed(1, lambda: screen(queries, block, start + 1, k, candidates))
            ours_best = min(ours_best, seconds_cpu)
        (seconds, cpu), candidates = timed(1, lambda: merge_candidates(candidates, part))
        screen_seconds, merge_seconds = screen_seconds + ours_best[0], merge_seconds + seconds
        ours_cpu += ours_best[1] + cpu
        faiss_seconds, faiss_cpu = faiss_seconds + faiss_best[0], faiss_cpu + faiss_best[1]
        del index, copy
    result = empty_topk(args.queries, k)
    for start, block in blocks:
        (seconds, cpu), part = timed(args.repeat, lambda: rerank(queries, block, start + 1, candidates, k))
        (merged, merged_cpu), result = timed(1, lambda: merge_topk(result, part, k))
        rerank_seconds, merge_seconds = rerank_seconds + seconds, merge_seconds + merged
        ours_cpu += cpu + merged_cpu
    ours_seconds = screen_seconds + merge_seconds + rerank_seconds

    checked = np.random.default_rng(1).choice(args.queries, size=min(args.check, args.queries), replace=False)
    exact = np.array_equal(result.ids[checked], float64_ranking(queries[checked], database, k))
    pairs = args.queries * args.rows
    gflop = 2 * DIM * pairs / 1e9
    print(f"k = {k}:")
    print(f"  faiss IndexFlatIP float32:  {faiss_seconds:8.2f} s  {pairs / faiss_seconds:,.0f} pairs/s  "
          f"{gflop / faiss_seconds:5.0f} GFLOP/s  (CPU {faiss_cpu:.2f} s)")
    print(f"  gold kernels float64-exact: {ours_seconds:8.2f} s  {pairs / ours_seconds:,.0f} pairs/s  "
          f"{gflop / ours_seconds:5.0f} GFLOP/s  (CPU {ours_cpu:.2f} s; blocks of {args.block_rows:,} rows, "
          f"float16 input)")
    print(f"    screen {screen_seconds:.2f} s ({gflop / screen_seconds:.0f} GFLOP/s), float64 re-rank "
          f"{rerank_seconds:.2f} s, merges {merge_seconds:.2f} s")
    ratio = faiss_seconds / ours_seconds
    print(f"  ratio gold / faiss: {ratio:.2f}x in wall time (target >= {TARGET:g}x: "
          f"{'ok' if ratio >= TARGET else 'MISSED'}), {faiss_cpu / ours_cpu:.2f}x in CPU time")
    # The subsets are float16 on disk: faiss needs a normalised float32 copy first, which
    # the screen makes inside its timed call. Shown apart; the target is the ratio above.
    print(f"  with faiss also timed for making its float32 copy and index "
          f"({faiss_loading_seconds:.2f} s): {(faiss_seconds + faiss_loading_seconds) / ours_seconds:.2f}x")
    print(f"  equal to a float64 brute force ranked by (float32 distance, id) on {len(checked)} queries: "
          f"{'yes' if exact else 'NO'}")
    return ours_seconds if exact else float("nan")


def stage_rates(args, database: np.ndarray, queries: np.ndarray, gold_seconds: float) -> None:
    """Rows per second of each numeric stage's kernels on the bench rows."""
    rows = len(database)
    fit_seconds, accumulator = best_of(1, lambda: CovarianceAccumulator(DIM).add(database))
    models = {d: accumulator.fit(d) for d in (32, 96)}
    project_seconds, projected = best_of(1, lambda: {d: project(m, database) for d, m in models.items()})
    model = read_binwalk_model(OFFICIAL_MODEL)
    sketch_seconds, words = best_of(1, lambda: sketch(model, database))
    print("rows per second of each stage on these rows:")
    print(f"  PCA fit (covariance):          {rows / fit_seconds:12,.0f}")
    print(f"  PCA projections (32 and 96):   {rows / project_seconds:12,.0f}")
    print(f"  sketches (official BinWalk):   {rows / sketch_seconds:12,.0f}")
    print(f"  gold standard (k = {max(args.k)}, {args.queries:,} queries): {rows / gold_seconds:12,.0f}")
    spaces = {"pca32": (projected[32], project(models[32], queries)),
              "pca96": (projected[96], project(models[96], queries)),
              "hamming": (words, sketch(model, queries))}
    for name, (vectors, query_vectors) in spaces.items():
        blocks = [(start, vectors[start:start + 2**20]) for start in range(0, rows, 2**20)]
        search = brute_force(query_vectors, blocks, args.recall_k)
        engine = "popcount" if name == "hamming" else "faiss"
        print(f"  recall search {name:8} ({engine}, k = {args.recall_k}, {args.queries:,} queries): "
              f"{rows / search.query:12,.0f}  ({search.query / gold_seconds:.3f}x the gold standard's time)")


def blas_sides() -> str:
    """Which BLAS each side calls: the gold kernels numpy's, faiss its own (others loaded, such as
    SciPy's when numba brings it in, are named as such)."""
    lines = []
    for info in blas_libraries():
        path = info["filepath"]
        side = "faiss" if "faiss" in path else "gold kernels (numpy)" if "numpy" in path else "also loaded"
        lines.append(f"{side}: {blas_report([info])[len('BLAS: '):]}")
    return "\n".join(lines)


def main() -> int:
    args = arguments()
    print(f"building {args.rows:,} x {DIM} float16 rows and {args.queries:,} queries (seed {args.seed})")
    database, queries = bench_data(args.seed, args.rows, args.queries)
    seconds = [compare(args, database, queries, k) for k in args.k]
    stage_rates(args, database, queries, seconds[-1])
    print(blas_sides())
    print(f"faiss {faiss.__version__}: {faiss.omp_get_max_threads()} OpenMP thread(s)")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
          + (" (other processes competed for the cores: wall times are noisy, CPU times less so)"
             if os.getloadavg()[0] > (os.cpu_count() or 1) else ""))
    return 0 if all(np.isfinite(seconds)) else 1


if __name__ == "__main__":
    sys.exit(main())
