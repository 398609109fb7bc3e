"""Exact Hamming k-NN over packed sketch words (docs/design/performance.md#the-recall-stage).

The distance of two sketches is the popcount of their words' XOR: a small integer, the same
whatever the order of the sums. The kernel is compiled by numba for the machine it runs on,
where LLVM turns the word loop over a batch of queries into vector popcounts, about two and a
half times faster per pair than faiss's `IndexBinaryFlat` for 1024-bit codes (faiss specialises
codes of up to 64 bytes only). Each query keeps its k best (distance, id) pairs sorted; a row enters only
below the k-th distance, so of rows at equal distance the lowest id stays, as in faiss's heap
when it meets rows in id order.

numba is imported at the first search, not with this module: it takes about a second to load,
which every command that imports the stage table would otherwise pay.
"""
from __future__ import annotations

from functools import cache
from typing import Any, Callable

import numpy as np

from generator.pipeline.blas import map_on_blas_threads

QUERY_BATCH = 256  # queries whose words and running distances stay in a core's L1 cache
UNFILLED = np.iinfo(np.int32).max


def empty_hamming_topk(queries: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(distances int32, ids int64) of `queries` x k unfilled slots: distance UNFILLED, id 0."""
    return np.full((queries, k), UNFILLED, dtype=np.int32), np.zeros((queries, k), dtype=np.int64)


def hamming_topk(queries: np.ndarray, block: np.ndarray, first_id: int,
                 best: tuple[np.ndarray, np.ndarray]) -> None:
    """Lets the rows of `block` into each query's k nearest, in place.

    Parameters: queries (q, words) and block (n, words), uint64 sketch words; first_id, the id
    of block row 0 (ids must grow from block to block for ties to keep the lowest id);
    best, (distances, ids) of shape (q, k) from empty_hamming_topk or earlier blocks, sorted
    by (distance, id). Queries are shared out among one worker per core.
    Example: best = empty_hamming_topk(len(q), 30); hamming_topk(q, x, 1, best); best[1][0]
    lists query 0's 30 nearest ids.
    """
    queries, block = _words(queries, "queries"), _words(block, "block")
    if queries.shape[1] != block.shape[1]:
        raise ValueError(f"queries of {queries.shape[1]} words cannot be compared with rows of {block.shape[1]}")
    dists, ids = best
    if dists.shape != ids.shape or dists.shape[0] != len(queries) or dists.dtype != np.int32 or ids.dtype != np.int64:
        raise ValueError(f"best neighbours of shapes {dists.shape}, {ids.shape} do not serve {len(queries)} queries")
    if not len(block) or not len(queries):
        return
    kernel = loaded_kernel()
    words_by_batch = [np.ascontiguousarray(queries[start:start + QUERY_BATCH].T)
                      for start in range(0, len(queries), QUERY_BATCH)]

    def search(batch: int) -> None:
        part = slice(batch * QUERY_BATCH, (batch + 1) * QUERY_BATCH)
        kernel(words_by_batch[batch], block, first_id, dists[part], ids[part])

    map_on_blas_threads(search, range(len(words_by_batch)))


def _words(rows: np.ndarray, what: str) -> np.ndarray:
    rows = np.asarray(rows)
    if rows.ndim != 2 or rows.dtype != np.uint64:
        raise ValueError(f"{what}: expected a matrix of uint64 sketch words, not {rows.dtype} {rows.shape}")
    return np.ascontiguousarray(rows)


@cache
def loaded_kernel() -> Callable[..., Any]:
    """The compiled kernel, ready to run: imported, and compiled or loaded from numba's cache
    (which keeps the machine code between processes) by a call on empty arrays. A timed search
    calls this first, so that its time is the search's alone."""
    from generator.pipeline import hamming_kernel
    dists, ids = empty_hamming_topk(1, 1)
    words = np.zeros((1, 1), dtype=np.uint64)
    hamming_kernel.nearest_rows(words, words[:0], 1, dists, ids)
    return hamming_kernel.nearest_rows
