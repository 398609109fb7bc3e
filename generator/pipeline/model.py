"""Records of the numeric kernels: a fitted PCA, a BinWalk sketch model, screened candidates
and a partial top-k."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PCAModel:
    """A PCA of L2-normalised vectors (docs/design/data.md#pca-projections): projection = (x̂ - mean) @ components.

    `components` holds one column per output dimension, by descending eigenvalue, each
    with its sign fixed so that its entry of largest magnitude is positive.
    """

    mean: np.ndarray         # float64 (dim,)
    components: np.ndarray   # float64 (dim, d)
    eigenvalues: np.ndarray  # float64 (d,)

    @property
    def dims(self) -> int:
        return int(self.components.shape[1])


@dataclass(frozen=True)
class BinWalkModel:
    """The BinWalk sketch model (docs/design/data.md#binwalk-sketches): unit reference vectors and their grouping.

    Row g of `pool` lists, as 0-based indices into `refs`, the 64 references whose
    consecutive distances give the 64 bits of word g.
    """

    refs: np.ndarray  # float32 (n_refs, dim), unit rows
    pool: np.ndarray  # int64 (groups, 64)

    @property
    def groups(self) -> int:
        return int(self.pool.shape[0])


@dataclass(frozen=True)
class Candidates:
    """The rows of a row range that may be among each query's k nearest, from the float32 screen.

    Row i is query i: `ids` are 1-based object ids, `sims` their float32 similarities,
    best first (ties by ascending id), and `norms` the float64 norms of their rows, so that
    the float64 re-rank need not compute them again; an unfilled slot holds id 0,
    similarity -inf and norm 1. `floor` bounds every row of the range that is *not*
    listed: its float32 similarity is at most floor[i] (-inf when no row was left out).
    """

    ids: np.ndarray    # int64 (q, slots)
    sims: np.ndarray   # float32 (q, slots)
    norms: np.ndarray  # float64 (q, slots)
    floor: np.ndarray  # float32 (q,)

    @property
    def slots(self) -> int:
        return int(self.ids.shape[1])


@dataclass(frozen=True)
class TopK:
    """The k nearest objects of each query among the rows seen so far.

    Row i is query i: `ids` are 1-based object ids, `dists` the float32 values of the
    float64 distances, ascending with ties by ascending id (docs/design/data.md#gold-standards). A slot not filled
    (fewer than k rows seen) holds id 0 and distance +inf, so that it sorts after every
    real object.
    """

    ids: np.ndarray    # int64 (q, k)
    dists: np.ndarray  # float32 (q, k)

    @property
    def k(self) -> int:
        return int(self.ids.shape[1])
