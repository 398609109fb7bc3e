"""Rows planted in test data so that gold standards meet rows tied only in float32."""
from __future__ import annotations

import numpy as np


def near_copies(row: np.ndarray, query: np.ndarray, count: int) -> list[np.ndarray]:
    """`count` float16 copies of `row` whose float64 distances to `query` grow by about 1e-11
    from one to the next, far below a float32 step at any distance above 1e-3: one element,
    set to a tiny value, moves by one float16 step (2^-24) against the query's sign."""
    i = int(np.argmin(np.abs(np.abs(query) - 1e-3)))
    direction = -np.sign(query[i])
    base = np.asarray(row, dtype=np.float16).copy()
    base[i] = np.float16(2.0 ** -18)
    copies = []
    for step in range(count):
        copy = base.copy()
        copy[i] = np.float16(base[i] + direction * step * 2.0 ** -24)
        copies.append(copy)
    return copies
