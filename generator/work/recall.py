"""The projection recall table (SPEC §2): brute-force k-NN in a projected space, scored
against the gold standard. L2 distance for PCA projections, Hamming for sketches."""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

Distances = Callable[[np.ndarray, np.ndarray], np.ndarray]


def l2_distances(queries: np.ndarray, block: np.ndarray) -> np.ndarray:
    """Squared L2 distances (q, n); the order of the nearest is all that is needed."""
    q, x = queries.astype(np.float32), block.astype(np.float32)
    return (q * q).sum(axis=1)[:, None] - 2 * (q @ x.T) + (x * x).sum(axis=1)[None, :]


def hamming_distances(queries: np.ndarray, block: np.ndarray) -> np.ndarray:
    """popcount(a xor b) over all bits, (q, n), as |a| + |b| - 2 a.b on 0/1 vectors.

    The dot product runs in float32 BLAS; its values are integers of at most the bit
    count (1024), which float32 holds exactly, so the distances are exact.
    """
    a, b = _bits(queries), _bits(block)
    counts = a.sum(axis=1)[:, None] + b.sum(axis=1)[None, :] - 2 * (a @ b.T)
    return counts.astype(np.int32)


def _bits(words: np.ndarray) -> np.ndarray:
    as_bytes = np.ascontiguousarray(words, dtype="<u8").view(np.uint8).reshape(len(words), -1)
    return np.unpackbits(as_bytes, axis=1).astype(np.float32)


def nearest(queries: np.ndarray, blocks: Iterable[tuple[int, np.ndarray]], k: int,
            distances: Distances) -> np.ndarray:
    """1-based ids (q, k) of the k nearest rows over (first row index, block) pairs; ties by id."""
    best_d = np.empty((len(queries), 0))
    best_i = np.empty((len(queries), 0), dtype=np.int64)
    for start, block in blocks:
        d = np.concatenate([best_d, distances(queries, block)], axis=1)
        ids = np.concatenate([best_i, np.broadcast_to(np.arange(start + 1, start + 1 + len(block)),
                                                     (len(queries), len(block)))], axis=1)
        if d.shape[1] > k:
            keep = np.argpartition(d, k - 1, axis=1)[:, :k]
            d, ids = np.take_along_axis(d, keep, axis=1), np.take_along_axis(ids, keep, axis=1)
        best_d, best_i = d, ids
    order = np.lexsort((best_i, best_d), axis=1)
    return np.take_along_axis(best_i, order, axis=1)


def recall_at(found: np.ndarray, gold: np.ndarray, k: int) -> float:
    """Mean over queries of |found[:k] ∩ gold[:k]| / k."""
    hits = sum(len(np.intersect1d(f[:k], g[:k])) for f, g in zip(found, gold))
    return hits / (k * len(found))
