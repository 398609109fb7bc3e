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
    best = np.empty((len(queries), 0), dtype=np.int64)
    for start, block in blocks:
        ids = np.arange(start + 1, start + 1 + len(block), dtype=np.int64)
        keys = np.concatenate([best, _order_keys(distances(queries, block), ids)], axis=1)
        if keys.shape[1] > k:
            keys = np.partition(keys, k - 1, axis=1)[:, :k]
        best = keys
    return np.sort(best, axis=1) & ID_MASK


ID_BITS = 32
ID_MASK = (1 << ID_BITS) - 1


def _order_keys(distances: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """int64 keys ordered as (distance, id): the distance's bits above the id's.

    Non-negative float32 values order like their bit patterns read as integers, so
    float distances (clamped at 0 against rounding) and integer ones both fit.
    """
    if ids[-1] > ID_MASK:
        raise ValueError(f"ids above {ID_MASK} do not fit the search keys")
    if np.issubdtype(distances.dtype, np.floating):
        distances = np.maximum(distances, 0).astype(np.float32).view(np.int32)
    return (distances.astype(np.int64) << ID_BITS) | ids[None, :]


def recall_at(found: np.ndarray, gold: np.ndarray, k: int) -> float:
    """Mean over queries of |found[:k] ∩ gold[:k]| / k."""
    hits = sum(len(np.intersect1d(f[:k], g[:k])) for f, g in zip(found, gold))
    return hits / (k * len(found))
