"""BinWalk binary sketches (docs/design/data.md#binwalk-sketches): 1024 bits per vector, as 16 little-endian uint64.

For group g, v[j] = 1 - dot(ref[pool[g][j]], x̂) and bit j of word g is set iff
v[j] < v[(j + 1) mod 64], that is iff dot(ref_j, x) > dot(ref_j+1, x): normalising x
changes no bit. The row is taken in float32, as the original did (float16 rows exactly),
and each bit is the *exact* answer for that float32 row and the float32 references, so
a row's sketch depends on the row alone, never on the block, the BLAS or the threads:

1. one float32 BLAS product gives every similarity of a block of rows; a bit is decided
   where the two similarities differ by more than their proven error (exact.sum_error_bound,
   with Cauchy-Schwarz for the sums of products);
2. the few bits left open (about two of the 1024 per row) are recomputed in float64 with
   einsum, whose error bound is 10^9 times smaller;
3. what is still open (exact ties: equal references, or planted ones) is settled exactly.

A float32 implementation of the original agrees on every bit whose two values differ
by more than its own rounding (about 1e-6).
"""
from __future__ import annotations

import numpy as np

from generator.pipeline.blas import map_on_blas_threads
from generator.pipeline.exact import exact_sign, product_terms, sum_error_bound
from generator.pipeline.model import BinWalkModel
from generator.pipeline.vectors import row_norms32, row_norms64, unit_rows32

SKETCH_ROWS = 1024  # rows per BLAS call and worker: 4 MB of similarities for 1024 references, so
                    # the element-wise passes after the product run in cache (16% faster than 4096)
WORD = np.dtype("<u8")
SLACK = 1.01        # covers the rounding of the norms and of the differences compared


def create_binwalk_model(sample: np.ndarray, n_refs: int = 1024, group_size: int = 64,
                         seed: int = 0) -> BinWalkModel:
    """A model from data: `n_refs` rows of `sample` (no row twice) drawn with `seed`, normalised,
    and a seeded permutation of them cut into groups of `group_size`."""
    sample = np.asarray(sample)
    if group_size != 64:
        raise ValueError("a sketch word holds 64 bits: group_size must be 64")
    if n_refs % group_size:
        raise ValueError(f"n_refs ({n_refs}) must be a multiple of the group size ({group_size})")
    if sample.ndim != 2 or len(sample) < n_refs:
        raise ValueError(f"need at least {n_refs} sample rows, got shape {sample.shape}")
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(sample), size=n_refs, replace=False))
    refs = unit_rows32(sample[chosen], "sample row", 0)
    pool = rng.permutation(n_refs).reshape(-1, group_size).astype(np.int64)
    return BinWalkModel(refs=refs, pool=pool)


def sketch(model: BinWalkModel, block: np.ndarray, first_row: int = 0) -> np.ndarray:
    """The sketches of the rows of `block`: uint64 (n, groups), little-endian words.

    Parameters: model; block (n, dim) of any float dtype; first_row, the number of block
    row 0 in errors (DegenerateVectorError for a zero or non-finite row).
    Returns the words; row i depends on block row i alone.
    Example: sketch(model, subset[:7]) equals sketch(model, subset)[:7], byte for byte.
    """
    block = np.asarray(block)
    if block.ndim != 2 or block.shape[1] != model.refs.shape[1]:
        raise ValueError(f"expected rows of {model.refs.shape[1]} values, got shape {block.shape}")
    walk = _Walk(model)
    out = np.empty((len(block), model.groups), dtype=WORD)
    starts = range(0, len(block), SKETCH_ROWS)

    def sketch_rows(start: int) -> None:
        out[start:start + SKETCH_ROWS] = walk.words(block[start:start + SKETCH_ROWS], first_row + start)

    map_on_blas_threads(sketch_rows, starts)
    return out


class _Walk:
    """The references in walk order (column 64g + j is pool[g][j]) and the error bounds."""

    def __init__(self, model: BinWalkModel):
        refs = model.refs[model.pool.reshape(-1)]
        columns = np.arange(len(refs))
        self.after = columns - columns % 64 + (columns + 1) % 64   # the next column of the walk
        self.refs_t = np.ascontiguousarray(refs.T)
        self.refs64 = refs.astype(np.float64)
        self.steps64 = self.refs64 - self.refs64[self.after]       # s[j] - s[j+1] = x . step
        largest = float(row_norms64(self.refs64).max())
        dim = refs.shape[1]
        # Two similarities, each within γ_dim |x| |ref| (Cauchy-Schwarz); in float64 the
        # rounded step adds one more term's worth.
        self.margin32 = 2 * sum_error_bound(dim, np.float32) * largest * SLACK
        self.margin64 = 2 * sum_error_bound(dim + 1, np.float64) * largest * SLACK

    def words(self, chunk: np.ndarray, first_row: int) -> np.ndarray:
        """The sketches of a chunk of rows, numbered from first_row in errors."""
        rows = np.array(chunk, dtype=np.float32)
        norms = row_norms32(rows, "row", first_row)
        sims = (rows @ self.refs_t).reshape(len(rows), -1, 64)
        gaps = sims - np.roll(sims, -1, axis=2)         # s[j] - s[j+1]: bit j iff > 0
        bits = gaps > 0
        unsure = np.flatnonzero(np.abs(gaps) <= (self.margin32 * norms)[:, None, None])
        if unsure.size:
            self._settle(bits.reshape(-1), unsure, rows, norms)
        packed = np.packbits(bits, axis=2, bitorder="little")  # bit j -> byte j//8, bit j%8
        return packed.view(WORD)[:, :, 0]

    def _settle(self, bits: np.ndarray, unsure: np.ndarray, rows: np.ndarray, norms: np.ndarray) -> None:
        """Decide the bits (flat indices into `bits`) float32 left open: in float64, then
        exactly for the rest."""
        row, column = np.divmod(unsure, len(self.refs64))
        x = rows[row].astype(np.float64)
        gaps = np.einsum("ij,ij->i", x, self.steps64[column])
        sure = np.abs(gaps) > self.margin64 * norms[row]
        bits[unsure[sure]] = gaps[sure] > 0
        for i in np.flatnonzero(~sure):
            # float32 products are exact in float64, so the terms are exact.
            terms = np.concatenate([product_terms(x[i], self.refs64[column[i]]),
                                    product_terms(x[i], -self.refs64[self.after[column[i]]])])
            bits[unsure[i]] = exact_sign(terms) > 0
