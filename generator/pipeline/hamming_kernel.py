"""The compiled loop of generator/pipeline/hamming.py, in a module of its own so that numba is
imported only when a Hamming search runs."""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(inline="always")
def _popcount(word: np.uint64) -> np.uint64:
    """Set bits of a 64-bit word, by the SWAR sums that LLVM compiles to a popcount."""
    word = word - ((word >> np.uint64(1)) & np.uint64(0x5555555555555555))
    word = (word & np.uint64(0x3333333333333333)) + ((word >> np.uint64(2)) & np.uint64(0x3333333333333333))
    word = (word + (word >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (word * np.uint64(0x0101010101010101)) >> np.uint64(56)


@numba.njit(nogil=True, cache=True)
def nearest_rows(query_words: np.ndarray, block: np.ndarray, first_id: int, dists: np.ndarray,
                 ids: np.ndarray) -> None:
    """Lets each row of `block` into the sorted k best (dists, ids) of each query, in place.
    query_words (words, b) is a batch of queries transposed: the inner loop runs over queries in
    contiguous memory, where it vectorises. GIL released: workers run in parallel."""
    batch, k = query_words.shape[1], dists.shape[1]
    # Unsigned throughout: a popcount is a uint64, and mixing it with signed integers would
    # make numba compute in float64.
    counts = np.empty(batch, dtype=np.uint64)
    worst = np.empty(batch, dtype=np.uint64)
    for query in range(batch):
        worst[query] = dists[query, k - 1]
    for row in range(block.shape[0]):
        counts[:] = 0
        for word in range(block.shape[1]):
            value = block[row, word]
            for query in range(batch):
                counts[query] += _popcount(query_words[word, query] ^ value)
        for query in range(batch):
            distance = counts[query]
            if distance < worst[query]:
                place = k - 1
                while place > 0 and np.uint64(dists[query, place - 1]) > distance:
                    dists[query, place] = dists[query, place - 1]
                    ids[query, place] = ids[query, place - 1]
                    place -= 1
                dists[query, place] = distance
                ids[query, place] = first_id + row
                worst[query] = dists[query, k - 1]
