"""The projection recall table (docs/design/data.md#recall-table): brute-force k-NN in a projected space, as a
participant's baseline runs it, scored against the gold standard.

The search is exact brute force: faiss's IndexFlatL2 (squared L2, float32) for PCA
projections, the popcount kernel of generator/pipeline/hamming.py for sketches (Hamming
distances, exact integers). A subset is searched block by block, so memory is bounded by a
block: each PCA block in a faiss index of its own, the blocks' results merged in a faiss
result heap. Each block's queries are shared out among one worker per core, each running
faiss on its own thread: a query's answer does not depend on the others, so the result is
that of one search, without faiss's OpenMP threads spinning between blocks
(docs/design/performance.md#the-recall-stage). Of rows at equal distance at the k-th place, both searches
keep the first they meet, the lowest id; recall@k against the gold standard is what the
table reports.
"""
from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from typing import Any

import faiss
import numpy as np

from generator.pipeline.blas import blas_threads, map_on_blas_threads
from generator.pipeline.hamming import empty_hamming_topk, hamming_topk, loaded_kernel


@dataclass(frozen=True)
class Search:
    """The k nearest 1-based ids of each query, with the seconds spent filling faiss's flat
    indexes (`build`, 0 for sketches, which need none) and searching and merging the blocks
    (`query`)."""

    ids: np.ndarray  # int64 (q, k)
    build: float
    query: float


def brute_force(queries: np.ndarray, blocks: Iterable[tuple[int, np.ndarray]], k: int) -> Search:
    """Exact k-NN of `queries` over (first row index, block) pairs, by brute force: faiss for
    L2, the popcount kernel for Hamming.

    Parameters: queries and blocks both float32 (L2) or both uint64 words (Hamming over
    all bits); blocks in ascending order, each starting at its 0-based row index; k.
    Returns a Search whose ids are 1-based (0 where fewer than k rows exist).
    Example: brute_force(pca_queries, [(0, pca_rows)], 30).ids[0] are query 0's 30 nearest.
    """
    if np.asarray(queries).dtype == np.uint64:
        return _hamming_search(queries, blocks, k)
    heap = faiss.ResultHeap(len(queries), k)
    queries = _vectors(queries)
    shares = _shares(len(queries), blas_threads(), _least_share(queries))
    build = query = 0.0
    for start, block in blocks:
        started = time.perf_counter()
        index = _flat_index(block)
        indexed = time.perf_counter()
        found = map_on_blas_threads(partial(_search_alone, index, queries, min(k, len(block))), shares)
        dists, rows = (np.concatenate(parts) for parts in zip(*found))
        heap.add_result(dists.astype(np.float32, copy=False), np.where(rows >= 0, rows + start + 1, -1))
        build, query = build + indexed - started, query + time.perf_counter() - indexed
    started = time.perf_counter()
    heap.finalize()
    ids = np.where(heap.I > 0, heap.I, 0)
    return Search(ids, build, query + time.perf_counter() - started)


def _hamming_search(queries: np.ndarray, blocks: Iterable[tuple[int, np.ndarray]], k: int) -> Search:
    best = empty_hamming_topk(len(queries), k)
    loaded_kernel()
    started = time.perf_counter()
    for start, block in blocks:
        hamming_topk(queries, block, start + 1, best)
    return Search(best[1], 0.0, time.perf_counter() - started)


def _shares(count: int, workers: int, least: int = 1) -> list[slice]:
    """`count` queries in contiguous shares, one per worker, of at least `least` queries each
    (fewer shares when there are too few queries); their sizes differ by one at most."""
    workers = max(1, min(workers, count // max(1, least)))
    bounds = [count * share // workers for share in range(workers + 1)]
    return [slice(first, stop) for first, stop in pairwise(bounds)]


def _least_share(queries: np.ndarray) -> int:
    """The fewest queries a share may hold so that faiss searches it as it searches all of them.
    faiss's L2 search takes one of two ways by the size of the call: below
    distance_compute_blas_threshold values of queries (count x dimension), each distance on its
    own; from there on, by BLAS products, ten times faster and rounded otherwise. A share must
    stay on the side all the queries are on, or the search would be slower and could rank
    near-ties differently."""
    if not len(queries):
        return 1
    threshold = int(faiss.cvar.distance_compute_blas_threshold)
    values = queries.shape[0] * queries.shape[1]
    return -(-threshold // queries.shape[1]) if values >= threshold else 1


def _search_alone(index: Any, queries: np.ndarray, k: int, share: slice) -> tuple[np.ndarray, np.ndarray]:
    """index.search on this thread alone: each query's answer is computed on its own whatever
    the other queries, so the shares of several workers equal one search of all queries,
    without faiss's OpenMP threads spinning while they wait (on a shared machine that spin
    costs as much CPU as the search)."""
    faiss.omp_set_num_threads(1)  # the calling thread's setting only
    dists, rows = index.search(queries[share], k)
    return np.asarray(dists), np.asarray(rows)


def _flat_index(block: np.ndarray) -> Any:
    vectors = _vectors(block)
    index = faiss.IndexFlatL2(vectors.shape[1])
    index.add(vectors)
    return index


def _vectors(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows)
    if rows.dtype != np.float32:
        raise ValueError(f"expected float32 projections or uint64 sketches, not {rows.dtype}")
    return np.ascontiguousarray(rows)


def recall_at(found: np.ndarray, gold: np.ndarray, k: int) -> float:
    """Mean over queries of |found[:k] ∩ gold[:k]| / k.

    Example: recall_at(np.array([[1, 2]]), np.array([[2, 3]]), 2) == 0.5.
    """
    hits = sum(len(np.intersect1d(f[:k], g[:k])) for f, g in zip(found, gold))
    return hits / (k * len(found))
