"""PCA projections (docs/design/data.md#pca-projections): a covariance streamed block by block, then eigh.

The accumulator holds the row count, the sum and X^T X of L2-normalised rows in float64;
blocks can arrive in any split and accumulators of disjoint row ranges merge, so a
subset of any size is fitted in the memory of one block plus a dim x dim matrix.
Different splits round differently: models agree to float64 rounding, not bit for bit,
so a reproducible build keeps its split fixed (the stage's row blocks, merged in order).

A projection, by contrast, is a function of the row alone: each value is the float32
nearest to the exact product of the row's centred float64 vector and the component (see
`project`), whatever the block, the BLAS or the threads.
"""
from __future__ import annotations

import numpy as np

from generator.pipeline.blas import map_on_blas_threads, single_threaded_blas
from generator.pipeline.exact import nearest_float32, product_terms, sum_error_bound
from generator.pipeline.model import PCAModel
from generator.pipeline.vectors import row_norms64, unit_rows64

PROJECT_ROWS = 4096  # rows per BLAS call and worker (25 MB in float64 at 768 dims)


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
        # LAPACK's eigh rounds differently on more BLAS threads: on one, the model is the same
        # bits whatever the machine's cores or the process's thread limits (a Dask worker's).
        with single_threaded_blas():
            eigenvalues, vectors = np.linalg.eigh(self.covariance())
        order = np.argsort(eigenvalues, kind="stable")[::-1][:dims]
        components = vectors[:, order]
        largest = np.abs(components).argmax(axis=0)
        components *= np.sign(components[largest, np.arange(dims)])
        return PCAModel(mean=self.total / self.count, components=components,
                        eigenvalues=eigenvalues[order])


def stacked(models: list[PCAModel]) -> PCAModel:
    """One model with the components of `models` side by side, for one projection pass that
    serves them all; each value is the one its own model gives (project is value by value).

    The models must share their mean (fitted on the same rows, as every dimension of a
    release is). Example: stacked([pca32, pca96]) projects to 128 columns, 32 then 96.
    """
    if any(not np.array_equal(model.mean, models[0].mean) for model in models):
        raise ValueError("only models fitted on the same rows (the same mean) can be stacked")
    return PCAModel(mean=models[0].mean, components=np.hstack([model.components for model in models]),
                    eigenvalues=np.concatenate([model.eigenvalues for model in models]))


def project(model: PCAModel, block: np.ndarray, first_row: int = 0) -> np.ndarray:
    """(x̂ - mean) @ components (docs/design/data.md#pca-projections), each value the float32 nearest to the exact
    product of the centred float64 row c = x̂ - mean (elementwise, so a function of the
    row) and the component.

    A float64 BLAS product is within γ_dim |c| |component| of it (Cauchy-Schwarz); where
    that interval rounds to one float32, that is the value. The rare value near a float32
    rounding boundary is computed exactly (exact.nearest_float32). So a row's projection
    is the same bytes in any block, with any BLAS and any number of threads.

    Parameters: model; block (n, dim) of any float dtype; first_row numbers the rows in
    errors. Returns float32 (n, model.dims).
    Example: project(model, subset[:7]) equals project(model, subset)[:7], byte for byte.
    """
    block = np.asarray(block)
    if block.ndim != 2 or block.shape[1] != len(model.mean):
        raise ValueError(f"expected rows of {len(model.mean)} values, got shape {block.shape}")
    components = np.ascontiguousarray(model.components)
    # One term more than the dim products covers the rounding of approx ± error (at most
    # u |c| |component|); the factor, the rounding of the norms.
    bound = (sum_error_bound(len(model.mean) + 1, np.float64) * (1 + 1e-9)
             * row_norms64(components.T))
    out = np.empty((len(block), model.dims), dtype=np.float32)
    starts = range(0, len(block), PROJECT_ROWS)

    def project_rows(start: int) -> None:
        centred = unit_rows64(block[start:start + PROJECT_ROWS], "row", first_row + start)
        centred -= model.mean
        approx = centred @ components
        error = row_norms64(centred)[:, None] * bound
        values = approx.astype(np.float32)
        for row, column in np.argwhere((approx - error).astype(np.float32) != (approx + error).astype(np.float32)):
            values[row, column] = nearest_float32(product_terms(centred[row], components[:, column]))
        out[start:start + len(values)] = values

    map_on_blas_threads(project_rows, starts)
    return out
