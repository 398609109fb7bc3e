"""Gold standards: the exact k nearest neighbours of SPEC §2, fast.

The distance is d(q, x) = 1 - dot(q̂, x̂) with both vectors L2-normalised, evaluated in
float64 (vectors.unit_rows64, then a float64 product summed along the contiguous last
axis, so that a pair gives the same bits wherever it is computed). Ties go to the lower
id. Computing that for every pair would cost a float64 product per pair; instead:

1. Screen: float32 similarities of normalised float32 copies with one BLAS product per
   tile, keeping the `slots` best rows of each query (k + min(max(16, k/4), 128)).
2. Prove: every float32 similarity is within B = screen_bound(dim) of the float64 one.
   If t is the k-th best float32 similarity of a query, each of the k rows above t has
   a float64 similarity >= t - B, so every true neighbour has a float64 similarity
   >= t - B and a float32 one >= t - 2B. The kept rows contain all of them
   whenever the best row *not* kept is below t - 2B, which holds when the worst kept row
   is (rows are dropped only below the worst kept one).
3. Re-rank the kept rows in float64 and sort by (distance, id). A query whose proof fails
   (many rows within 2B of its k-th, e.g. duplicates) is computed in float64 over the
   whole block instead.

Blocks of rows and queries keep memory bounded whatever the sizes; partial results of
disjoint row ranges merge with merge_topk in any grouping and order.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from generator.pipeline.model import TopK
from generator.pipeline.blas import blas_threads
from generator.pipeline.vectors import unit_rows32, unit_rows64

ROW_CHUNK = 8192      # rows normalised to float32 at a time (25 MB at 768 dims), at least
ROWS_PER_SLOT = 16    # ... this many per kept row, so that folding a tile in stays cheap
QUERY_CHUNK = 1024    # queries per BLAS tile (a tile is 32 MB)
GATHER_BYTES = 1 << 22  # float64 candidate rows re-ranked at a time: 4 MB stays in cache


def screen_bound(dim: int) -> float:
    """B: a bound on |s32 - s64| for one pair of screened vectors of dimension `dim`.

    u = 2**-24 is float32's unit roundoff and g = dim*u / (1 - dim*u) the classic bound
    on the relative error of a float32 sum of dim terms in any order, FMA or not.
    - Object rows (float16, converted exactly) are normalised in float32: the sum of
      squares is off by a factor (1 + g) at most, its root by g/2, and the root and the
      division add u each (a reciprocal and a product would add 3u; 3u is kept), so
      x̃_i = x̂_i (1 + θ), |θ| <= g/2 + 3u + g².
      Rows of other dtypes are normalised in float64 and rounded once: |θ| <= u + 2^-50.
      Add one u for a float64 input rounded to float32 before that: |θ| <= g/2 + 4u + g².
    - Queries are normalised in float64 and rounded: q̃_i = q̂_i (1 + δ), |δ| <= u + 2^-50.
    - Exact dot of the rounded vectors vs dot(q̂, x̂): at most (|θ| + |δ| + |θδ|) times
      Σ|q̂_i x̂_i| <= |q̂| |x̂| = 1 (Cauchy-Schwarz).
    - Its float32 evaluation adds at most g Σ|q̃_i x̃_i| <= g (1 + θ)(1 + δ).
    - The float64 side is itself within dim * 2^-53 + a few float64 ulps of the exact
      value: 1e-12 covers it for any dim up to 9,000.
    At dim 768: B = 6.9e-5, so rows within 1.4e-4 of the k-th similarity are re-ranked.
    """
    u = 2.0 ** -24
    g = dim * u / (1 - dim * u)
    theta = g / 2 + 4 * u + g * g
    delta = u + 2.0 ** -50
    return theta + delta + theta * delta + g * (1 + theta) * (1 + delta) + 1e-12


def empty_topk(q: int, k: int) -> TopK:
    """The identity of merge_topk: k unfilled slots (id 0, distance +inf) per query."""
    return TopK(np.zeros((q, k), dtype=np.int64), np.full((q, k), np.inf))


def merge_topk(a: TopK, b: TopK, k: int) -> TopK:
    """The k best of both (disjoint row ranges), by (distance, id): associative and
    commutative, ties included, since it is the k smallest of the union under one total
    order."""
    if a.ids.shape[0] != b.ids.shape[0]:
        raise ValueError(f"cannot merge top-k of {a.ids.shape[0]} and {b.ids.shape[0]} queries")
    return _smallest(np.concatenate([a.dists, b.dists], axis=1),
                     np.concatenate([a.ids, b.ids], axis=1), k)


def exact_knn(queries: np.ndarray, block: np.ndarray, first_id: int, k: int) -> TopK:
    """The k nearest rows of `block` to each query under SPEC §2's float64 distance.

    `first_id` is the 1-based object id of block row 0. Returns k columns even when the
    block has fewer rows (unfilled slots as in empty_topk).
    """
    queries = np.asarray(queries)
    block = np.asarray(block)
    if queries.ndim != 2 or block.ndim != 2 or queries.shape[1] != block.shape[1]:
        raise ValueError(f"queries {queries.shape} and block {block.shape} must be "
                         "matrices of the same width")
    if k < 1:
        raise ValueError(f"k must be positive, not {k}")
    query_units = unit_rows64(queries, "query", 1)
    n = block.shape[0]
    if n == 0:
        return empty_topk(len(queries), k)
    k_here = min(k, n)
    slots = min(n, k_here + min(max(16, k_here // 4), 128))
    sims, rows = _screen(query_units.astype(np.float32), block, first_id, slots)

    kth_best = np.partition(sims, slots - k_here, axis=1)[:, slots - k_here]
    worst_kept = sims.min(axis=1)
    bound = screen_bound(block.shape[1])
    proven = (n == slots) | (worst_kept < kth_best - 2 * bound)

    # Only rows within 2B of the k-th similarity can be neighbours: re-rank those (in
    # each chunk of queries, as many per query as the query needing most), chunks in
    # parallel since numpy releases the GIL in every step.
    needed = np.count_nonzero(sims >= (kth_best - 2 * bound)[:, None], axis=1)
    dists = np.empty((len(queries), k_here))
    ids = np.empty((len(queries), k_here), dtype=np.int64)

    def rerank(part: np.ndarray) -> None:
        width = int(needed[part].max())
        order = np.argsort(-sims[part], axis=1, kind="stable")[:, :width]
        candidates = np.take_along_axis(rows[part], order, axis=1)
        best = _smallest(_distances64(query_units[part], block[candidates]),
                         candidates + first_id, k_here)
        dists[part], ids[part] = best.dists, best.ids

    parts = list(_chunks(np.flatnonzero(proven),
                         max(1, GATHER_BYTES // (slots * block.shape[1] * 8))))
    with ThreadPoolExecutor(max(1, min(blas_threads(), len(parts)))) as pool:
        list(pool.map(rerank, parts))
    for query in np.flatnonzero(~proven):
        best = _brute_force64(query_units[query], block, first_id, k_here)
        dists[query], ids[query] = best.dists[0], best.ids[0]
    return _smallest(dists, ids, k)


def _screen(query32: np.ndarray, block: np.ndarray, first_id: int,
            slots: int) -> tuple[np.ndarray, np.ndarray]:
    """The `slots` rows of highest float32 similarity per query: (similarities, rows).

    The rows are shared out among one worker per BLAS thread, each calling BLAS
    single-threaded on its own rows: then the folding between products (numpy releases
    the GIL there too) runs in parallel with the products instead of between them.
    The best `slots` of the workers' kept rows are kept: a row dropped by a worker lies
    below its worst kept row, which is at most the worst row kept in the end.
    """
    row_chunk = max(ROW_CHUNK, ROWS_PER_SLOT * slots)
    chunks = -(-block.shape[0] // row_chunk)
    workers = min(blas_threads(), chunks)
    if workers <= 1:
        return _screen_rows(query32, block, first_id, slots, row_chunk)
    span = -(-chunks // workers) * row_chunk
    starts = range(0, block.shape[0], span)
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(lambda start: _screen_rows(
            query32, block[start:start + span], first_id + start, slots, row_chunk), starts))
    sims = np.concatenate([part_sims for part_sims, _ in parts], axis=1)
    rows = np.concatenate([np.where(part_rows >= 0, part_rows + start, -1)
                           for start, (_, part_rows) in zip(starts, parts)], axis=1)
    keep = np.argpartition(sims, sims.shape[1] - slots, axis=1)[:, sims.shape[1] - slots:]
    return np.take_along_axis(sims, keep, axis=1), np.take_along_axis(rows, keep, axis=1)


def _screen_rows(query32: np.ndarray, block: np.ndarray, first_id: int, slots: int,
                 row_chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """_screen for one worker: every query against `block`, tile by tile."""
    best_sims = np.full((len(query32), slots), -np.inf, dtype=np.float32)
    best_rows = np.full((len(query32), slots), -1, dtype=np.int64)
    # One tile and one mask buffer for the whole block: fresh 32 MB arrays per tile would
    # cost page faults comparable to the product itself.
    tile_buffer = np.empty(min(len(query32), QUERY_CHUNK) * row_chunk, dtype=np.float32)
    mask_buffer = np.empty(tile_buffer.size, dtype=bool)
    for start in range(0, block.shape[0], row_chunk):
        units = _screen_units(block[start:start + row_chunk], first_id + start)
        for q0 in range(0, len(query32), QUERY_CHUNK):
            queries = query32[q0:q0 + QUERY_CHUNK]
            shape = (len(queries), len(units))
            tile = np.matmul(queries, units.T, out=tile_buffer[:shape[0] * shape[1]].reshape(shape))
            mask = mask_buffer[:tile.size].reshape(shape)
            _keep_best(best_sims[q0:q0 + QUERY_CHUNK], best_rows[q0:q0 + QUERY_CHUNK],
                       tile, mask, start)
    return best_sims, best_rows


def _screen_units(chunk: np.ndarray, first_id: int) -> np.ndarray:
    """Float32 unit rows for the screen, within screen_bound's θ of the float64 ones."""
    if chunk.dtype == np.float16:
        return unit_rows32(chunk, "object id", first_id)
    return unit_rows64(chunk, "object id", first_id).astype(np.float32)


def _keep_best(best_sims: np.ndarray, best_rows: np.ndarray, tile: np.ndarray,
               mask: np.ndarray, first_row: int) -> None:
    """Fold a tile of similarities into the kept rows, in place.

    Only entries above a query's worst kept similarity can enter, and only its `slots`
    best in the tile: in the first tiles, where many pass the first test, the second
    (a partition of values, no index arrays) cuts them down. The entering entries are
    scattered into a narrow extension and the best `slots` of each row are kept. A row
    is dropped only if it lies below the worst row kept afterwards.
    """
    slots = best_sims.shape[1]
    np.greater(tile, best_sims.min(axis=1)[:, None], out=mask)
    entering = np.flatnonzero(mask)  # 1-D: far faster than a 2-D nonzero
    if entering.size > slots * len(tile) // 2 and tile.shape[1] > slots:
        cut = np.partition(tile, tile.shape[1] - slots, axis=1)[:, tile.shape[1] - slots]
        mask &= tile >= cut[:, None]
        entering = np.flatnonzero(mask)
    if entering.size == 0:
        return
    query, column = np.divmod(entering, tile.shape[1])
    counts = np.bincount(query, minlength=len(tile))
    width = int(counts.max())
    position = slots + np.arange(query.size) - (np.cumsum(counts) - counts)[query]
    sims = np.full((len(tile), slots + width), -np.inf, dtype=np.float32)
    rows = np.full((len(tile), slots + width), -1, dtype=np.int64)
    sims[:, :slots], rows[:, :slots] = best_sims, best_rows
    sims[query, position] = tile[query, column]
    rows[query, position] = first_row + column
    keep = np.argpartition(sims, width, axis=1)[:, width:]
    best_sims[:] = np.take_along_axis(sims, keep, axis=1)
    best_rows[:] = np.take_along_axis(rows, keep, axis=1)


def _distances64(query_units: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """SPEC §2 distances of each query (q, dim) to its rows (q, m, dim), in float64."""
    units = unit_rows64(rows, "object row")
    return 1.0 - np.sum(units * query_units[:, None, :], axis=-1)


def _brute_force64(query_unit: np.ndarray, block: np.ndarray, first_id: int, k: int) -> TopK:
    """One query against every row in float64: the fallback when the screen proves nothing."""
    best = empty_topk(1, k)
    step = max(1, GATHER_BYTES // (block.shape[1] * 8))
    for start in range(0, block.shape[0], step):
        chunk = block[start:start + step]
        dists = _distances64(query_unit[None, :], chunk[None, :, :])
        ids = np.arange(first_id + start, first_id + start + len(chunk), dtype=np.int64)
        best = merge_topk(best, _smallest(dists, ids[None, :], k), k)
    return best


def _smallest(dists: np.ndarray, ids: np.ndarray, k: int) -> TopK:
    """Per row, the k smallest (distance, id) pairs in that order; pads with empty slots."""
    if dists.shape[1] < k:
        pad = empty_topk(dists.shape[0], k - dists.shape[1])
        dists = np.concatenate([dists, pad.dists], axis=1)
        ids = np.concatenate([ids, pad.ids], axis=1)
    order = np.lexsort((ids, dists), axis=1)[:, :k]
    return TopK(np.take_along_axis(ids, order, axis=1), np.take_along_axis(dists, order, axis=1))


def _chunks(indices: np.ndarray, size: int):
    for start in range(0, len(indices), size):
        yield indices[start:start + size]
