"""Query sets (docs/design/data.md#query-sets): a seeded choice of rows of a query part, and the
filter that selects queries whose nearest neighbours are neither tied at the cut nor
near-duplicates."""
from __future__ import annotations

import numpy as np

from generator.errors import ProjectError


def query_rows(part_rows: int, count: int, seed: int) -> np.ndarray:
    """`count` distinct row indices of a part of `part_rows` rows, ascending, fixed by `seed`."""
    if count > part_rows:
        raise ProjectError(f"{count:,} queries were asked for but the query part has only {part_rows:,} rows")
    chosen = np.random.default_rng(seed).choice(part_rows, size=count, replace=False)
    return np.sort(chosen)


def candidate_rows(part_rows: int, candidates: int, seed: int) -> np.ndarray:
    """The candidates of a selected query set: `candidates` row numbers drawn at random (with
    repetition) from a part of `part_rows` rows with `seed`, the distinct ones in ascending order.

    >>> candidate_rows(10, 8, 0).tolist() == sorted(set(candidate_rows(10, 8, 0).tolist()))
    True
    """
    if part_rows < 1:
        raise ProjectError("the query part has no rows to draw candidates from")
    drawn = np.random.default_rng(seed).integers(0, part_rows, size=candidates)
    return np.unique(drawn)


def selected(dists: np.ndarray, count: int, k: int, min_sum: float) -> np.ndarray:
    """Positions of the first `count` candidates that pass the filter.

    Parameters: `dists`, float32 (candidates, >= k + 1), each candidate's nearest distances in
    ascending order; `k`, the cut; `min_sum`, the least sum of the k nearest distances.
    A candidate passes when its k-th and (k+1)-th distances differ (no tie at the cut) and its k
    nearest distances sum to more than `min_sum` (no near-duplicates). Returns int64 positions,
    ascending. Raises ProjectError when fewer than `count` pass.

    >>> d = np.array([[0.1, 0.2, 0.3], [0.1, 0.2, 0.2], [0.0, 0.0, 0.5]], dtype=np.float32)
    >>> selected(d, 1, 2, 0.05).tolist()
    [0]
    """
    if dists.shape[1] < k + 1:
        raise ValueError(f"the filter needs {k + 1} distances per candidate, not {dists.shape[1]}")
    sums = dists[:, :k].astype(np.float64).sum(axis=1)
    keep = np.flatnonzero((dists[:, k - 1] != dists[:, k]) & (sums > min_sum))
    if len(keep) < count:
        raise ProjectError(f"only {len(keep):,} of {len(dists):,} candidates pass the query filter (distances "
                           f"{k} and {k + 1} differ, the {k} nearest sum to more than {min_sum}); {count:,} are "
                           "needed: raise 'candidates' or lower 'min_sum'")
    return keep[:count]
