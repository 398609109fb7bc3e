"""The public query set (docs/design/data.md#query-sets): a seeded choice of rows of the query part."""
from __future__ import annotations

import numpy as np

from generator.errors import ProjectError


def query_rows(part_rows: int, count: int, seed: int) -> np.ndarray:
    """`count` distinct row indices of a part of `part_rows` rows, ascending, fixed by `seed`."""
    if count > part_rows:
        raise ProjectError(f"{count:,} queries were asked for but the query part has only {part_rows:,} rows")
    chosen = np.random.default_rng(seed).choice(part_rows, size=count, replace=False)
    return np.sort(chosen)
