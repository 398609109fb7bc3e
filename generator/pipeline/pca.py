"""PCA projections (SPEC §2): a covariance streamed block by block, then eigh.

The accumulator holds the row count, the sum and X^T X of L2-normalised rows in float64;
blocks can arrive in any split and accumulators of disjoint row ranges merge, so a
subset of any size is fitted in the memory of one block plus a dim x dim matrix.
Different splits round differently: models agree to float64 rounding, not bit for bit,
so a reproducible build keeps its split fixed (one block per part, in order).
"""
from __future__ import annotations

import numpy as np

from generator.pipeline.model import PCAModel
from generator.pipeline.vectors import unit_rows64

PROJECT_ROWS = 16384  # rows normalised in float64 at a time (100 MB at 768 dims)


class CovarianceAccumulator:
    """Count, sum and Gram matrix of the normalised rows seen so far."""

    def __init__(self, dim: int):
        self.dim = dim
        self.count = 0
        self.total = np.zeros(dim)
        self.gram = np.zeros((dim, dim))

    def add(self, block: np.ndarray, first_row: int = 0) -> "CovarianceAccumulator":
        """Accumulate rows of any float dtype; `first_row` numbers them in errors."""
        block = np.asarray(block)
        if block.ndim != 2 or block.shape[1] != self.dim:
            raise ValueError(f"expected rows of {self.dim} values, got shape {block.shape}")
        for start in range(0, len(block), PROJECT_ROWS):
            units = unit_rows64(block[start:start + PROJECT_ROWS], "row", first_row + start)
            self.count += len(units)
            self.total += units.sum(axis=0)
            self.gram += units.T @ units
        return self

    def merge(self, other: "CovarianceAccumulator") -> "CovarianceAccumulator":
        """A new accumulator holding the rows of both."""
        if other.dim != self.dim:
            raise ValueError(f"cannot merge accumulators of {self.dim} and {other.dim} dimensions")
        merged = CovarianceAccumulator(self.dim)
        merged.count = self.count + other.count
        merged.total = self.total + other.total
        merged.gram = self.gram + other.gram
        return merged

    def covariance(self) -> np.ndarray:
        """The sample covariance (divisor n - 1, as np.cov) of the rows seen."""
        if self.count < 2:
            raise ValueError(f"a covariance needs at least 2 rows, not {self.count}")
        mean = self.total / self.count
        centred = self.gram - self.count * np.outer(mean, mean)
        return (centred + centred.T) / (2 * (self.count - 1))

    def fit(self, dims: int) -> PCAModel:
        """The `dims` principal components, by descending eigenvalue, signs fixed so that
        each component's entry of largest magnitude is positive (eigh's signs are not
        portable)."""
        if not 1 <= dims <= self.dim:
            raise ValueError(f"cannot fit {dims} components in {self.dim} dimensions")
        eigenvalues, vectors = np.linalg.eigh(self.covariance())
        order = np.argsort(eigenvalues, kind="stable")[::-1][:dims]
        components = vectors[:, order]
        largest = np.abs(components).argmax(axis=0)
        components *= np.sign(components[largest, np.arange(dims)])
        return PCAModel(mean=self.total / self.count, components=components,
                        eigenvalues=eigenvalues[order])


def project(model: PCAModel, block: np.ndarray, first_row: int = 0) -> np.ndarray:
    """(x̂ - mean) @ components, computed in float64 and stored as float32 (SPEC §2)."""
    block = np.asarray(block)
    out = np.empty((len(block), model.dims), dtype=np.float32)
    for start in range(0, len(block), PROJECT_ROWS):
        units = unit_rows64(block[start:start + PROJECT_ROWS], "row", first_row + start)
        out[start:start + len(units)] = (units - model.mean) @ model.components
    return out
