"""Gold-standard throughput: exact_knn (float64-exact) against faiss-cpu IndexFlatIP (float32).

Both search the same seeded, clustered database of unit float16 rows: faiss gets its
float32 copy normalised by faiss.normalize_L2 (timed apart, on a line of its own), exact_knn reads the float16
rows block by block as the pipeline does and merges partial results, conversion
included. Both are timed block by block, alternating, and the fastest of the repeated
runs of each block counts, which damps the noise of a shared machine; faiss's time
leaves out merging its partial results, ours includes it. Prints throughput (query x
row pairs per second) of both, their ratio (target >= 0.9), the BLAS kernels and
threads in use, and checks that our result equals a plain float64 brute force on
sampled queries.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from generator.pipeline.blas import blas_report
from generator.pipeline.gold import empty_topk, exact_knn, merge_topk

DIM = 768


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="database rows (default 1M)")
    parser.add_argument("--queries", type=int, default=2000, help="queries (default 2000)")
    parser.add_argument("--k", type=int, default=100, help="neighbours per query (default 100)")
    parser.add_argument("--block-rows", type=int, default=250_000,
                        help="rows per exact_knn call, merged with merge_topk (default 250k)")
    parser.add_argument("--check", type=int, default=20,
                        help="queries checked against a float64 brute force (default 20)")
    parser.add_argument("--repeat", type=int, default=2,
                        help="timed runs of each per block, alternating; the fastest counts (default 2)")
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


def unit32(rows: np.ndarray) -> np.ndarray:
    out = np.empty(rows.shape, dtype=np.float32)
    for start in range(0, len(rows), 65536):
        wide = rows[start:start + 65536].astype(np.float64)
        out[start:start + len(wide)] = wide / np.linalg.norm(wide, axis=1, keepdims=True)
    return out


def float64_brute_force(queries: np.ndarray, database: np.ndarray, k: int) -> np.ndarray:
    """Plain float64 1 - dot of normalised rows, top k by (distance, id), chunk by chunk."""
    q = queries.astype(np.float64)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    dists = np.empty((len(q), len(database)))
    for start in range(0, len(database), 65536):
        x = database[start:start + 65536].astype(np.float64)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        dists[:, start:start + len(x)] = 1.0 - q @ x.T
    ids = np.arange(1, len(database) + 1)
    return np.array([np.lexsort((ids, row))[:k] + 1 for row in dists])


def main() -> int:
    args = arguments()
    import faiss

    rng = np.random.default_rng(args.seed)
    centres = rng.standard_normal((1000, DIM), dtype=np.float32) * np.float32(0.8)
    print(f"building {args.rows:,} x {DIM} float16 rows and {args.queries:,} queries (seed {args.seed})")
    database = clustered_rows(rng, centres, args.rows, np.float16)
    queries = clustered_rows(rng, centres, args.queries, np.float32)
    pairs = args.queries * args.rows

    query_units = unit32(queries)
    faiss_seconds = ours_seconds = faiss_loading_seconds = 0.0
    result = empty_topk(args.queries, args.k)
    for start in range(0, args.rows, args.block_rows):
        block = database[start:start + args.block_rows]
        started = time.perf_counter()
        index = faiss.IndexFlatIP(DIM)
        copy = block.astype(np.float32)
        faiss.normalize_L2(copy)
        index.add(copy)
        faiss_loading_seconds += time.perf_counter() - started
        faiss_best = ours_best = float("inf")
        for _ in range(args.repeat):
            started = time.perf_counter()
            index.search(query_units, args.k)
            faiss_best = min(faiss_best, time.perf_counter() - started)
            started = time.perf_counter()
            part = exact_knn(queries, block, start + 1, args.k)
            ours_best = min(ours_best, time.perf_counter() - started)
        started = time.perf_counter()
        result = merge_topk(result, part, args.k)
        ours_seconds += ours_best + time.perf_counter() - started
        faiss_seconds += faiss_best
        del index

    checked = np.random.default_rng(1).choice(args.queries, size=min(args.check, args.queries),
                                              replace=False)
    exact = np.array_equal(result.ids[checked],
                           float64_brute_force(queries[checked], database, args.k))
    index = faiss.IndexFlatIP(DIM)
    index.add(unit32(database))
    _, faiss_ids = index.search(query_units[checked], args.k)
    agreement = np.mean([len(set(a) & set(b + 1)) / args.k
                         for a, b in zip(result.ids[checked], faiss_ids)])

    print(blas_report())
    print(f"faiss {faiss.__version__}: {faiss.omp_get_max_threads()} OpenMP thread(s)")
    print(f"faiss IndexFlatIP float32: {faiss_seconds:8.2f} s  {pairs / faiss_seconds:,.0f} pairs/s")
    print(f"exact_knn float64-exact:   {ours_seconds:8.2f} s  {pairs / ours_seconds:,.0f} pairs/s"
          f"  (blocks of {args.block_rows:,} rows, float16 input)")
    print(f"ratio exact_knn / faiss: {faiss_seconds / ours_seconds:.2f}x (target >= 0.9x)")
    # The subsets are float16 on disk: faiss needs a normalised float32 copy first, which
    # exact_knn makes inside its timed call. Shown apart; the target is the ratio above.
    print(f"  with faiss also timed for making its float32 copy and index "
          f"({faiss_loading_seconds:.2f} s): {(faiss_seconds + faiss_loading_seconds) / ours_seconds:.2f}x")
    print(f"exact against float64 brute force on {len(checked)} queries: {'yes' if exact else 'NO'}")
    print(f"faiss float32 top-{args.k} agreement with the exact top-{args.k} "
          f"on those queries: {agreement:.5f}")
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
