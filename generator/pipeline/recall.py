"""The projection recall table (docs/design/data.md#recall-table): brute-force k-NN in a projected space, as a
participant's baseline runs it, scored against the gold standard.

The search is faiss's exact brute force: IndexFlatL2 (squared L2, float32) for PCA
projections, IndexBinaryFlat (Hamming) for sketches. A subset is searched block by block,
each block in an index of its own, and the blocks' results are merged in a faiss result
heap, so memory is bounded by a block. Rows at equal distance may come in another order
than by id (faiss keeps whichever its heap met first), which can swap rows tied at the
k-th place; recall@k against the gold standard is what the table reports.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable

import faiss
import numpy as np


@dataclass(frozen=True)
class Search:
    """The k nearest 1-based ids of each query, with the seconds spent filling the flat
    indexes (`build`) and searching them and merging the blocks (`query`)."""

    ids: np.ndarray  # int64 (q, k)
    build: float
    query: float


def brute_force(queries: np.ndarray, blocks: Iterable[tuple[int, np.ndarray]], k: int) -> Search:
    """Exact k-NN of `queries` over (first row index, block) pairs, by faiss brute force.

    Parameters: queries and blocks both float32 (L2) or both uint64 words (Hamming over
    all bits); blocks in any order, each starting at its 0-based row index; k.
    Returns a Search whose ids are 1-based (0 where fewer than k rows exist).
    Example: brute_force(pca_queries, [(0, pca_rows)], 30).ids[0] are query 0's 30 nearest.
    """
    heap = faiss.ResultHeap(len(queries), k)
    queries = _vectors(queries)
    build = query = 0.0
    for start, block in blocks:
        started = time.perf_counter()
        index = _flat_index(block)
        indexed = time.perf_counter()
        dists, rows = index.search(queries, min(k, len(block)))
        heap.add_result(dists.astype(np.float32, copy=False), np.where(rows >= 0, rows + start + 1, -1))
        build, query = build + indexed - started, query + time.perf_counter() - indexed
    started = time.perf_counter()
    heap.finalize()
    ids = np.where(heap.I > 0, heap.I, 0)
    return Search(ids, build, query + time.perf_counter() - started)


def _flat_index(block: np.ndarray) -> faiss.IndexBinaryFlat | faiss.IndexFlatL2:
    vectors = _vectors(block)
    if vectors.dtype == np.uint8:
        index: faiss.IndexBinaryFlat | faiss.IndexFlatL2 = faiss.IndexBinaryFlat(vectors.shape[1] * 8)
    else:
        index = faiss.IndexFlatL2(vectors.shape[1])
    index.add(vectors)
    return index


def _vectors(rows: np.ndarray) -> np.ndarray:
    """faiss's view of the rows: float32 as they are, uint64 sketch words as their bytes."""
    rows = np.asarray(rows)
    if rows.dtype == np.uint64:
        return np.ascontiguousarray(rows, dtype="<u8").view(np.uint8).reshape(len(rows), -1)
    if rows.dtype != np.float32:
        raise ValueError(f"expected float32 projections or uint64 sketches, not {rows.dtype}")
    return np.ascontiguousarray(rows)


def recall_at(found: np.ndarray, gold: np.ndarray, k: int) -> float:
    """Mean over queries of |found[:k] ∩ gold[:k]| / k.

    Example: recall_at(np.array([[1, 2]]), np.array([[2, 3]]), 2) == 0.5.
    """
    hits = sum(len(np.intersect1d(f[:k], g[:k])) for f, g in zip(found, gold))
    return hits / (k * len(found))
