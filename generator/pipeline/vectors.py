"""L2 normalisation of embedding rows, in float64 and in float32: the one definition every kernel shares."""
from __future__ import annotations

import numpy as np

from generator.errors import ProjectError


class DegenerateVectorError(ProjectError):
    """A row that cannot be normalised: zero norm, or a value that is not finite."""


def row_norms64(rows: np.ndarray) -> np.ndarray:
    """Euclidean norms along the last axis, in float64.

    einsum sums each row along the contiguous last axis in its own fixed order (no BLAS),
    wherever the row sits: a row's norm is a function of the row alone, so equal rows
    give bit-equal norms and a row normalises the same in any block.
    """
    wide = np.asarray(rows, dtype=np.float64)
    norms: np.ndarray = np.sqrt(np.einsum("...j,...j->...", wide, wide))
    return norms


def check_norms(norms: np.ndarray, what: str, first: int) -> None:
    """Raise DegenerateVectorError naming the first row (numbered from `first`) with a norm
    that is zero or not finite."""
    bad = np.flatnonzero(~(np.isfinite(norms) & (norms > 0)))
    if bad.size:
        row = int(bad[0])
        raise DegenerateVectorError(
            f"{what} {first + row} has norm {float(norms.reshape(-1)[row])!r} and cannot be "
            f"normalised ({bad.size} such row(s) in this block)")


def unit_rows64(rows: np.ndarray, what: str = "row", first: int = 0) -> np.ndarray:
    """Rows divided by their float64 norm, in float64 (the x̂ of docs/design/data.md#gold-standards): a new array.

    `what` and `first` name a bad row in the error: e.g. ("object id", 1) or ("query", 1).
    """
    wide = np.array(rows, dtype=np.float64)
    norms = row_norms64(wide)
    check_norms(norms.reshape(-1), what, first)
    wide /= norms[..., None]
    return wide


def row_norms32(rows: np.ndarray, what: str = "row", first: int = 0) -> np.ndarray:
    """Euclidean norms of float32 rows (n, dim), summed in float32 by einsum as row_norms64
    does in float64; raises DegenerateVectorError naming a row that has none.

    Example: row_norms32(np.ones((2, 4), np.float32)) is [2.0, 2.0].
    """
    norms: np.ndarray = np.sqrt(np.einsum("ij,ij->i", rows, rows))
    check_norms(norms, what, first)
    return norms


def unit_rows32(rows: np.ndarray, what: str = "row", first: int = 0) -> np.ndarray:
    """Rows normalised in float32, as the original BinWalk code does: the float32 copy is
    divided by its float32 norm. `what` and `first` name a bad row in the error."""
    units = np.array(rows, dtype=np.float32)
    units /= row_norms32(units, what, first)[:, None]
    return units
