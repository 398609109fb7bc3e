"""BinWalk binary sketches (SPEC §2): 1024 bits per vector, as 16 little-endian uint64.

For group g, v[j] = 1 - dot(ref[pool[g][j]], x̂) and bit j of word g is set iff
v[j] < v[(j + 1) mod 64]. As in the original, x̂ and v are float32; the BLAS product
of all references at once gives every v of a row block in one call.
"""
from __future__ import annotations

import numpy as np

from generator.pipeline.model import BinWalkModel
from generator.pipeline.vectors import unit_rows32

SKETCH_ROWS = 16384  # rows per BLAS call (64 MB of distances for 1024 references)
WORD = np.dtype("<u8")


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
    """The sketches of the rows of `block`: uint64 (n, groups), little-endian words."""
    block = np.asarray(block)
    if block.ndim != 2 or block.shape[1] != model.refs.shape[1]:
        raise ValueError(f"expected rows of {model.refs.shape[1]} values, got shape {block.shape}")
    out = np.empty((len(block), model.groups), dtype=WORD)
    refs_t = np.ascontiguousarray(model.refs.T)
    for start in range(0, len(block), SKETCH_ROWS):
        units = unit_rows32(block[start:start + SKETCH_ROWS], "row", first_row + start)
        dists = np.float32(1) - units @ refs_t
        walk = dists[:, model.pool]                       # (rows, groups, 64)
        bits = walk < np.roll(walk, -1, axis=2)
        packed = np.packbits(bits, axis=2, bitorder="little")  # bit j -> byte j//8, bit j%8
        out[start:start + len(units)] = packed.view(WORD)[:, :, 0]
    return out
