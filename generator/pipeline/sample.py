"""Synthetic LAION parts (docs/design/data.md#parts) for running the whole pipeline offline.

Embeddings are drawn around a fixed set of cluster centres (shared by every part,
with uneven cluster sizes and a common offset, as real CLIP embeddings have); within
a cluster rows vary mostly along a few hundred shared directions of decaying variance,
plus isotropic noise, so that projections and the recall table behave like real ones.
Metadata has the LAION columns, realistic NSFW shares including nulls, and captions
with tabs, newlines, quotes, backslashes and non-ASCII text. Everything is a function
of (sample spec, part number): the same spec gives the same bytes. Embeddings are drawn
in float32 and in blocks of rows, each block from a generator seeded by its number, so
memory is bounded by a block whatever the part size.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from generator.release.model import EMBEDDING_DIM, SampleSettings
from generator.pipeline.vectors import row_norms32

NSFW_VALUES = ("UNLIKELY", "UNSURE", "NSFW", None)
NSFW_SHARES = (0.89, 0.06, 0.03, 0.02)
LICENSES = ("?", "creativecommons.org/licenses/by/4.0/", "creativecommons.org/licenses/by-sa/3.0/", None)
LICENSE_SHARES = (0.90, 0.05, 0.03, 0.02)
WORDS = ("photo", "of", "a", "red", "vintage", "car", "on", "the", "beach", "café", "naïve", "Straße",
         "東京", "ciudad", "München", "смартфон", "😀", "poster", "50%", "sale", "<b>", "&", "size:")
ODDITIES = ("\t", "\n", "\r\n", '"', "'", "\\", '"quoted"', "\\n")
# Chosen so that the nearest neighbour's cosine similarity is about 0.65, rows of a
# cluster are clearly closer than others (0.55 against 0.2), and recall@30 of PCA-32 and
# PCA-96 brute force is about 0.3 and 0.6 at 20k rows, near the published figures.
LATENT_DIMS, LATENT_DECAY, LATENT_NORM = 200, 0.7, 1.0
CENTRE_NORM, OFFSET_NORM, NOISE_NORM = 1.0, 0.8, 0.6
SAMPLE_BLOCK = 65536  # rows drawn at a time (200 MB of float32 at 768 dims)


def _shape(spec: SampleSettings) -> tuple[np.ndarray, np.ndarray]:
    """Cluster centres (with the common offset) and latent directions, the same for every part."""
    rng = np.random.default_rng([spec.seed, 0xC1A55])
    centres = rng.standard_normal((spec.clusters, EMBEDDING_DIM))
    centres *= CENTRE_NORM / np.linalg.norm(centres, axis=1, keepdims=True)
    offset = rng.standard_normal(EMBEDDING_DIM)
    latent = rng.standard_normal((LATENT_DIMS, EMBEDDING_DIM)) * (LATENT_NORM / np.sqrt(EMBEDDING_DIM))
    return (centres + OFFSET_NORM * offset / np.linalg.norm(offset)).astype(np.float32), latent.astype(np.float32)


def part_embeddings(spec: SampleSettings, number: int, out: np.ndarray | None = None) -> np.ndarray:
    """(rows, 768) float16, normalised in float32 and then cast, like the LAION parts.

    Parameters: spec, the sample settings; number, the part; out, a float16 (rows, 768)
    array to fill (by default a new one). Returns the filled array.
    Example: part_embeddings(spec, 1) is part 0001's embeddings.
    """
    out = np.empty((spec.rows, EMBEDDING_DIM), dtype=np.float16) if out is None else out
    weights = 1.0 / np.arange(1, spec.clusters + 1)
    weights /= weights.sum()
    centres, latent = _shape(spec)
    scales = np.arange(1, LATENT_DIMS + 1) ** -LATENT_DECAY
    spread = np.sqrt(scales / scales.sum()).astype(np.float32)
    for block, start in enumerate(range(0, spec.rows, SAMPLE_BLOCK)):
        rng = np.random.default_rng([spec.seed, number, 1, block])
        count = min(SAMPLE_BLOCK, spec.rows - start)
        members = rng.choice(spec.clusters, size=count, p=weights)
        vectors = (rng.standard_normal((count, LATENT_DIMS), dtype=np.float32) * spread) @ latent
        vectors += centres[members]
        vectors += rng.standard_normal((count, EMBEDDING_DIM), dtype=np.float32) * np.float32(
            NOISE_NORM / np.sqrt(EMBEDDING_DIM))
        vectors /= row_norms32(vectors, "sample row", start)[:, None]
        out[start:start + count] = vectors
    return out


def part_metadata(spec: SampleSettings, number: int) -> pa.Table:
    """The metadata table of a part, row-aligned with `part_embeddings`."""
    rng = np.random.default_rng([spec.seed, number, 2])
    n = spec.rows
    nsfw = rng.choice(len(NSFW_VALUES), size=n, p=NSFW_SHARES)
    licence = rng.choice(len(LICENSES), size=n, p=LICENSE_SHARES)
    return pa.table({
        "SAMPLE_ID": pa.array(number * 10**9 + np.arange(n), pa.int64()),
        "url": [f"https://img.example.com/{number:04d}/{row:07d}.jpg" for row in range(n)],
        "caption": [_caption(rng) for _ in range(n)],
        "similarity": pa.array(rng.uniform(0.28, 0.45, n), pa.float64()),
        "width": pa.array(rng.integers(64, 2048, n), pa.int64()),
        "height": pa.array(rng.integers(64, 2048, n), pa.int64()),
        "LICENSE": pa.array([LICENSES[i] for i in licence], pa.string()),
        "NSFW": pa.array([NSFW_VALUES[i] for i in nsfw], pa.string()),
        "key": [f"{number:05d}{row:04d}" for row in range(n)],
        "punsafe": pa.array(rng.uniform(0, 1, n).astype(np.float32), pa.float32()),
        "pwatermark": pa.array(rng.uniform(0, 1, n).astype(np.float32), pa.float32()),
    })


def _caption(rng: np.random.Generator) -> str:
    words = [WORDS[i] for i in rng.integers(0, len(WORDS), rng.integers(2, 10))]
    if rng.random() < 0.3:
        words.insert(int(rng.integers(0, len(words) + 1)), ODDITIES[int(rng.integers(0, len(ODDITIES)))])
    return " ".join(words)
