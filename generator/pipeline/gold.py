"""Gold standards: the exact k nearest neighbours of docs/design/data.md#gold-standards, fast.

The distance is d(q, x) = 1 - (q̂ · x) / |x| with q̂ the query normalised in float64, every
product and sum in float64 (the same expression as 1 - q̂ · x̂, evaluated without a second
normalised copy of x). Its float32 value is what the file stores and what ranks: rows by
ascending float32 distance, equal float32 distances by ascending id. Computing that for
every pair would cost a float64 product per pair; instead two passes over the rows, each a
function of a row range whose results merge in any grouping and order:

1. `screen`: float32 similarities of normalised float32 copies, one BLAS product per tile,
   keep each query's `candidate_slots(k)` best rows (`Candidates`, with the float64 norms
   of their rows), and a floor above every row left out; `merge_candidates` keeps the
   best of two row ranges.
2. `rerank`: once the candidates of the whole subset are known, compute the float64
   distance of each candidate that can still rank (those within `candidate_margin` of
   the k-th best float32 similarity) and keep the k best (`TopK`); `merge_topk` combines
   row ranges. The float64 work is about k rows per query per subset, whatever the
   number of blocks. A query whose candidates do not provably hold its k nearest (many
   rows within the margin, e.g. duplicates) is computed entirely in float64 instead.

`exact_knn` runs both passes over one block.
"""
from __future__ import annotations

import numpy as np

from generator.pipeline.blas import blas_threads, map_on_blas_threads
from generator.pipeline.exact import sum_error_bound
from generator.pipeline.model import Candidates, TopK
from generator.pipeline.vectors import check_norms, row_norms64, unit_rows64

ROW_CHUNK = 8192        # rows per BLAS tile, at least
ROWS_PER_SLOT = 4       # ... and this many per kept row (more makes tiles outgrow the caches: 7% more CPU at k = 1000)
QUERY_CHUNK = 1024      # queries per BLAS tile (1024 x 8192 float32 is 32 MB)
CACHED_ROWS = 256       # rows converted to float64 at a time: 1.5 MB stays in a core's cache
RERANK_PAIRS = 4096     # (query, candidate) pairs per re-rank task
ID_BITS = 32            # ids share an int64 sort key with a float32's bits
ID_MASK = (1 << ID_BITS) - 1


def screen_bound(dim: int) -> float:
    """B: a bound on |s32 - s64| for one pair of screened vectors of dimension `dim`.

    u = 2**-24 is float32's unit roundoff and g = dim*u / (1 - dim*u) the classic bound
    on the relative error of a float32 sum of dim terms in any order, FMA or not.
    - Rows (any float dtype, converted to float64 exactly) and queries are normalised in
      float64, within (dim + 3) 2^-53 <= 2^-40 of exact for dim up to 8,000, and rounded
      once to float32: x̃_i = x̂_i (1 + θ), q̃_i = q̂_i (1 + δ), |θ|, |δ| <= u + 2^-40.
    - Exact dot of the rounded vectors vs dot(q̂, x̂): at most (|θ| + |δ| + |θδ|) times
      Σ|q̂_i x̂_i| <= |q̂| |x̂| = 1 (Cauchy-Schwarz).
    - Its float32 evaluation adds at most g Σ|q̃_i x̃_i| <= g (1 + θ)(1 + δ).
    - The float64 side is itself within dim * 2^-53 + a few float64 ulps of the exact
      value: 1e-12 covers it for any dim up to 8,000.

    Parameters: dim, the vector dimension. Returns B as a float.
    Example: screen_bound(768) is about 4.6e-5.
    """
    u = 2.0 ** -24
    g = sum_error_bound(dim, np.float32)
    theta = delta = u + 2.0 ** -40
    return theta + delta + theta * delta + g * (1 + theta) * (1 + delta) + 1e-12


def candidate_margin(dim: int) -> float:
    """M: a row can rank among a query's k nearest only if its float32 similarity is at
    least t - M, t being the k-th best float32 similarity of the query.

    Proof, with B = screen_bound(dim) and rows ranked by r = fl32(d64): each of the k rows
    with s32 >= t has s64 >= t - B, so d64 <= 1 - t + B and r <= R = fl32(1 - t + B) (float32
    rounding is monotone). So the k nearest all have r <= R, hence d64 <= R + half an ulp
    <= 1 - t + B + ulp32, an ulp32 of a distance (< 2) being at most 2^-23; then
    s64 >= t - B - 2^-23 and s32 >= t - 2B - 2^-23. The rounding of 1 - s64 to float64 and
    of the bound itself are covered by taking 2^-22.

    Parameters: dim, the vector dimension. Returns M as a float.
    Example: candidate_margin(768) is about 9.2e-5.
    """
    return 2 * screen_bound(dim) + 2.0 ** -22


def candidate_slots(k: int) -> int:
    """Rows the screen keeps per query for a top-k: k plus a margin of min(max(16, k/4), 128)
    rows, so that ties and near-ties around the k-th rarely defeat the proof.

    Example: candidate_slots(100) == 125, candidate_slots(1000) == 1128.
    """
    return k + min(max(16, k // 4), 128)


def empty_candidates(q: int, k: int) -> Candidates:
    """The identity of merge_candidates: no row seen, nothing left out."""
    slots = candidate_slots(k)
    return Candidates(np.zeros((q, slots), dtype=np.int64), np.full((q, slots), -np.inf, dtype=np.float32),
                      np.ones((q, slots)), np.full(q, -np.inf, dtype=np.float32))


def empty_topk(q: int, k: int) -> TopK:
    """The identity of merge_topk: k unfilled slots (id 0, distance +inf) per query."""
    return TopK(np.zeros((q, k), dtype=np.int64), np.full((q, k), np.inf, dtype=np.float32))


def screen(queries: np.ndarray, block: np.ndarray, first_id: int, k: int,
           known: Candidates | None = None) -> Candidates:
    """The rows of `block` that may be among each query's k nearest, by float32 similarity.

    Parameters: queries (q, dim) and block (n, dim) of any float dtype (float16 as stored);
    first_id, the 1-based object id of block row 0; k, the neighbours wanted; known,
    optionally the merged candidates of other row ranges: rows that cannot beat their
    k-th best (less the margin) are then left out from the start, which saves work and
    changes no final result.
    Returns Candidates with candidate_slots(k) columns, best first.
    Example: screen(queries, part, 1, 100) then rerank(queries, part, 1, that, 100).
    """
    queries, block = _checked(queries, block, first_id, k)
    n, slots = len(block), candidate_slots(k)
    if n == 0:
        return empty_candidates(len(queries), k)
    kept = min(n, slots)
    query32 = unit_rows64(queries, "query", 1).astype(np.float32)
    seed = np.full(len(queries), -np.inf, dtype=np.float32) if known is None else _hopeless(known, k, block.shape[1])
    sims, rows, norms, floor = _screen(query32, block, first_id, kept, seed)
    if n <= slots:  # every row above the seed is listed
        floor = seed
    pad = ((0, 0), (0, max(0, slots - sims.shape[1])))  # _listed keeps the best `slots` of wider lists
    return _listed(np.pad(sims, pad, constant_values=-np.inf), np.pad(np.where(rows >= 0, rows + first_id, 0), pad),
                   np.pad(norms, pad, constant_values=1.0), floor, slots)


def merge_candidates(a: Candidates, b: Candidates) -> Candidates:
    """The candidates of two disjoint row ranges: the best `slots` of both by (similarity
    descending, id ascending), and a floor above every row either range left out.

    Associative and commutative: the kept rows are the best of the union under one total
    order, and the floor is the maximum of both floors and of every listed row not kept.
    Example: merge_candidates(screen(q, x[:n], 1, k), screen(q, x[n:], n + 1, k)).
    """
    if a.ids.shape != b.ids.shape:
        raise ValueError(f"cannot merge candidates of shapes {a.ids.shape} and {b.ids.shape}")
    sims, ids, norms = (np.concatenate(pair, axis=1) for pair in ((a.sims, b.sims), (a.ids, b.ids), (a.norms, b.norms)))
    return _listed(sims, ids, norms, np.maximum(a.floor, b.floor), a.slots)


def rerank(queries: np.ndarray, block: np.ndarray, first_id: int, candidates: Candidates, k: int) -> TopK:
    """The k nearest rows of `block` under the ranking of docs/design/data.md#gold-standards, among the subset's
    candidates.

    Parameters: queries and block as for screen; candidates of the whole subset (every
    block screened and merged); k. Only candidates that lie in this block and can still
    rank are re-ranked in float64; a query whose candidates are not proven complete is
    searched in float64 over the whole block. Returns TopK with k columns (unfilled slots
    as in empty_topk); merge the blocks' results with merge_topk.
    Example: merge_topk(rerank(q, x[:n], 1, c, k), rerank(q, x[n:], n + 1, c, k), k).
    """
    queries, block = _checked(queries, block, first_id, k)
    if candidates.ids.shape[0] != len(queries) or candidates.slots < k:
        raise ValueError(f"candidates of shape {candidates.ids.shape} do not serve {len(queries)} "
                         f"queries with k = {k}")
    query_units = unit_rows64(queries, "query", 1)
    threshold = candidates.sims[:, k - 1].astype(np.float64) - candidate_margin(block.shape[1])
    proven = (candidates.floor == -np.inf) | (candidates.floor < threshold)
    needed = ((candidates.sims >= threshold[:, None]) & proven[:, None]
              & (candidates.ids >= first_id) & (candidates.ids < first_id + len(block)))
    counts = np.count_nonzero(needed, axis=1)
    best = empty_topk(len(queries), k)

    def rerank_chunk(chunk: np.ndarray) -> None:
        width = int(counts[chunk].max())
        if width == 0:
            return
        order = np.argsort(~needed[chunk], axis=1, kind="stable")[:, :width]
        ids = np.take_along_axis(candidates.ids[chunk], order, axis=1)
        filled = np.arange(width) < counts[chunk, None]
        norms = np.take_along_axis(candidates.norms[chunk], order, axis=1)
        dists = _distances32(query_units[chunk], block, np.where(filled, ids - first_id, 0), norms)
        found = _smallest(np.where(filled, dists, np.inf), np.where(filled, ids, 0), k)
        best.ids[chunk], best.dists[chunk] = found.ids, found.dists

    width = max(1, int(counts.max()))
    chunks = _chunks(np.arange(len(queries)), max(1, RERANK_PAIRS // width))
    map_on_blas_threads(rerank_chunk, chunks)
    for query in np.flatnonzero(~proven):
        found = _brute_force(query_units[query], block, first_id, k)
        best.ids[query], best.dists[query] = found.ids[0], found.dists[0]
    return best


def merge_topk(a: TopK, b: TopK, k: int) -> TopK:
    """The k best of both (disjoint row ranges), by (float32 distance, id): associative and
    commutative, ties included, since it is the k smallest of the union under one total
    order.

    Example: merge_topk(empty_topk(q, k), part, k) equals part.
    """
    if a.ids.shape[0] != b.ids.shape[0]:
        raise ValueError(f"cannot merge top-k of {a.ids.shape[0]} and {b.ids.shape[0]} queries")
    return _smallest(np.concatenate([a.dists, b.dists], axis=1),
                     np.concatenate([a.ids, b.ids], axis=1), k)


def exact_knn(queries: np.ndarray, block: np.ndarray, first_id: int, k: int) -> TopK:
    """The k nearest rows of one block under the ranking of docs/design/data.md#gold-standards: screen, then rerank.

    Parameters: queries (q, dim), block (n, dim), first_id (1-based id of block row 0), k.
    Returns TopK with k columns even when the block has fewer rows (unfilled slots as in
    empty_topk). For a subset in several blocks, screen and merge them all first, then
    rerank block by block: the float64 work is then paid once per subset.
    Example: exact_knn(queries, subset, 1, 100).ids[0] lists query 0's 100 nearest ids.
    """
    return rerank(queries, block, first_id, screen(queries, block, first_id, k), k)


def _listed(sims: np.ndarray, ids: np.ndarray, norms: np.ndarray, floor: np.ndarray, slots: int) -> Candidates:
    """Candidates of the best `slots` entries per query by (similarity descending, id
    ascending), sorted so; an entry left out raises the floor to its similarity."""
    keys = _order_keys(-sims, ids)
    if keys.shape[1] > slots:
        order = np.argpartition(keys, slots, axis=1)
        floor = np.maximum(floor, np.take_along_axis(sims, order[:, slots:slots + 1], axis=1)[:, 0])
        order = order[:, :slots]
        order = np.take_along_axis(order, np.argsort(np.take_along_axis(keys, order, axis=1), axis=1), axis=1)
    else:
        order = np.argsort(keys, axis=1)
    kept_ids, kept_sims, kept_norms = (np.take_along_axis(values, order, axis=1) for values in (ids, sims, norms))
    return Candidates(kept_ids, kept_sims, kept_norms, floor)


def _hopeless(known: Candidates, k: int, dim: int) -> np.ndarray:
    """Per query, a float32 value strictly below the k-th best known similarity less the
    margin: a row at or below it can never rank, however the other rows turn out (the
    k-th best only rises as rows are added)."""
    if known.slots < k:
        raise ValueError(f"known candidates have {known.slots} slots, fewer than k = {k}")
    limit = known.sims[:, k - 1].astype(np.float64) - candidate_margin(dim)
    below = limit.astype(np.float32)
    return np.where(below.astype(np.float64) < limit, below, np.nextafter(below, np.float32(-np.inf)))


def _checked(queries: np.ndarray, block: np.ndarray, first_id: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    queries, block = np.asarray(queries), np.asarray(block)
    if queries.ndim != 2 or block.ndim != 2 or queries.shape[1] != block.shape[1]:
        raise ValueError(f"queries {queries.shape} and block {block.shape} must be "
                         "matrices of the same width")
    if k < 1:
        raise ValueError(f"k must be positive, not {k}")
    if first_id < 1 or first_id + len(block) - 1 > ID_MASK:
        raise ValueError(f"object ids {first_id}..{first_id + len(block) - 1} are outside 1..{ID_MASK}")
    return queries, block


def _screen(query32: np.ndarray, block: np.ndarray, first_id: int, slots: int,
            seed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each worker's `slots` rows of highest float32 similarity per query above `seed`,
    side by side: (similarities, rows, their float64 norms, floor), every row not returned
    having a similarity at most `floor` (the caller keeps the best `slots`, see _listed).

    The rows are shared out among one worker per BLAS thread, each calling BLAS
    single-threaded on its own rows: then the folding between products (numpy releases
    the GIL there too) runs in parallel with the products instead of between them.
    The floor is the highest of the workers' floors.
    """
    row_chunk = max(ROW_CHUNK, ROWS_PER_SLOT * slots)
    chunks = -(-block.shape[0] // row_chunk)
    span = -(-chunks // max(1, min(blas_threads(), chunks))) * row_chunk
    starts = range(0, block.shape[0], span)
    parts = map_on_blas_threads(lambda start: _screen_rows(
        query32, block[start:start + span], first_id + start, slots, row_chunk, seed), starts)
    sims = np.concatenate([kept.sims for kept, _ in parts], axis=1)
    rows = np.concatenate([np.where(kept.rows >= 0, kept.rows + start, -1)
                           for start, (kept, _) in zip(starts, parts)], axis=1)
    norms = np.concatenate([np.where(kept.rows >= 0, norms[kept.rows], 1.0) for kept, norms in parts], axis=1)
    return sims, rows, norms, np.max([kept.floor for kept, _ in parts], axis=0)


def _screen_rows(query32: np.ndarray, block: np.ndarray, first_id: int, slots: int,
                 row_chunk: int, seed: np.ndarray) -> tuple["_Kept", np.ndarray]:
    """_screen for one worker: every query against `block`, tile by tile. Returns the kept
    rows and the float64 norms of all rows of `block`."""
    kept = _Kept(slots, seed)
    norms = np.empty(len(block))
    # One buffer of each kind for the whole block: fresh arrays per tile would cost page
    # faults comparable to the product itself.
    units = np.empty((min(row_chunk, len(block)), block.shape[1]), dtype=np.float32)
    wide = np.empty((CACHED_ROWS, block.shape[1]))
    tile_buffer = np.empty(min(len(query32), QUERY_CHUNK) * row_chunk, dtype=np.float32)
    scratch = np.empty(tile_buffer.size, dtype=np.float32)
    mask_buffer = np.empty(tile_buffer.size, dtype=bool)
    for start in range(0, block.shape[0], row_chunk):
        chunk = block[start:start + row_chunk]
        for row in range(0, len(chunk), CACHED_ROWS):
            part = chunk[row:row + CACHED_ROWS]
            norms[start + row:start + row + len(part)] = _screen_units(
                part, first_id + start + row, wide[:len(part)], units[row:row + len(part)])
        for q0 in range(0, len(query32), QUERY_CHUNK):
            queries = query32[q0:q0 + QUERY_CHUNK]
            shape = (len(queries), len(chunk))
            tile = np.matmul(queries, units[:len(chunk)].T, out=tile_buffer[:shape[0] * shape[1]].reshape(shape))
            kept.fold(q0, tile, mask_buffer[:tile.size].reshape(shape), scratch, start)
    return kept.compacted(), norms


def _screen_units(chunk: np.ndarray, first_id: int, wide: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Writes the rows normalised in float64 and rounded once to float32 into `units` (by
    way of `wide`), and returns their float64 norms: the very values the re-rank divides
    by, row_norms64 of the same float64 rows."""
    np.copyto(wide, chunk)
    norms = row_norms64(wide)
    check_norms(norms, "object id", first_id)
    np.divide(wide, norms[:, None], out=units, casting="same_kind")
    return norms


class _Kept:
    """The rows one screening worker keeps per query: the `slots` best so far, then a
    buffer as wide again of rows that entered since, compacted only when it fills up.

    A row enters only above its query's threshold, which never exceeds the `slots`-th best
    similarity seen: it is raised to the worst kept row at each compaction, and to the
    `slots`-th best of a tile where more than `slots` rows would enter (the first tiles).
    Every row left out lies at or below the threshold, which is then the floor.
    """

    def __init__(self, slots: int, seed: np.ndarray):
        self.slots = slots
        self.sims = np.full((len(seed), 2 * slots), -np.inf, dtype=np.float32)
        self.rows = np.full((len(seed), 2 * slots), -1, dtype=np.int64)
        self.fill = np.zeros(len(seed), dtype=np.int64)
        self.floor = seed.copy()

    def fold(self, q0: int, tile: np.ndarray, mask: np.ndarray, scratch: np.ndarray, first_row: int) -> None:
        """Let in the entries of a tile (queries q0.., rows first_row..) above the threshold;
        `mask` and `scratch` are buffers as large as the tile."""
        part = slice(q0, q0 + len(tile))
        threshold = self.floor[part]
        if np.isneginf(threshold).any():  # the first tile: every entry would enter
            _cut(tile, threshold, np.flatnonzero(np.isneginf(threshold)), self.slots, scratch)
        np.greater(tile, threshold[:, None], out=mask)
        entering = np.flatnonzero(mask)  # 1-D: far faster than a 2-D nonzero
        query, counts = _per_query(entering, tile)
        crowded = np.flatnonzero(counts > self.slots)
        if crowded.size:
            _cut(tile, threshold, crowded, self.slots, scratch)
            entering, query, counts = _above(threshold, tile, entering, query)
        if (self.fill[part] + counts).max() > self.sims.shape[1]:
            self._compact(part)
            entering, query, counts = _above(threshold, tile, entering, query)
        # Flat indices: each query's entries go after its filled columns, in order.
        width = self.sims.shape[1]
        target = ((q0 + query) * width + self.fill[part][query] + np.arange(query.size)
                  - (np.cumsum(counts) - counts)[query])
        self.sims.reshape(-1)[target] = tile.reshape(-1)[entering]
        self.rows.reshape(-1)[target] = first_row + entering - query * tile.shape[1]
        self.fill[part] += counts

    def compacted(self) -> "_Kept":
        """Itself with the best `slots` of every query in the first `slots` columns only."""
        self._compact(slice(None))
        self.sims, self.rows = self.sims[:, :self.slots], self.rows[:, :self.slots]
        return self

    def _compact(self, part: slice) -> None:
        sims, rows = self.sims[part], self.rows[part]
        keep = np.argpartition(sims, sims.shape[1] - self.slots, axis=1)[:, sims.shape[1] - self.slots:]
        kept_sims, kept_rows = np.take_along_axis(sims, keep, axis=1), np.take_along_axis(rows, keep, axis=1)
        sims[:, :self.slots], rows[:, :self.slots] = kept_sims, kept_rows
        sims[:, self.slots:], rows[:, self.slots:] = -np.inf, -1
        self.fill[part] = self.slots
        np.maximum(self.floor[part], kept_sims.min(axis=1), out=self.floor[part])


def _cut(tile: np.ndarray, threshold: np.ndarray, queries: np.ndarray, slots: int, scratch: np.ndarray) -> None:
    """Raise the threshold of `queries` to their `slots`-th best entry of the tile, in place:
    `slots` entries at least that high exist, so nothing below it can be kept. `scratch`
    (as large as the tile) spares a fresh copy per call."""
    if tile.shape[1] > slots:
        rows = np.take(tile, queries, axis=0, out=scratch[:len(queries) * tile.shape[1]].reshape(len(queries), -1))
        rows.partition(tile.shape[1] - slots, axis=1)
        threshold[queries] = np.maximum(threshold[queries], rows[:, tile.shape[1] - slots])


def _per_query(entering: np.ndarray, tile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The query (tile row) of each flat tile index, and the count per query."""
    query = entering // tile.shape[1]
    return query, np.bincount(query, minlength=len(tile))


def _above(threshold: np.ndarray, tile: np.ndarray, entering: np.ndarray,
           query: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The entries (flat tile indices, their queries) still above their query's threshold,
    and their count per query."""
    above = tile.reshape(-1)[entering] > threshold[query]
    entering, query = entering[above], query[above]
    return entering, query, np.bincount(query, minlength=len(tile))


def _distances32(query_units: np.ndarray, block: np.ndarray, rows: np.ndarray,
                 norms: np.ndarray | None = None) -> np.ndarray:
    """float32 values of the distances (docs/design/data.md#gold-standards) of each query (q, dim) to
    its rows of `block` (indices (q, m)), given the rows' float64 norms or computing them (row_norms64).

    Every pair's products are summed along the contiguous last axis by einsum's own loop
    (no BLAS), so a pair gives the same bits in any batch: duplicates tie exactly. Rows
    are converted a few at a time into one float64 buffer that stays in cache.
    """
    step = max(1, CACHED_ROWS // len(rows))
    out = np.empty(rows.shape, dtype=np.float32)
    buffer = np.empty((len(rows), min(step, rows.shape[1]), block.shape[1]))
    for start in range(0, rows.shape[1], step):
        part = rows[:, start:start + step]
        wide = buffer[:, :part.shape[1]]
        np.copyto(wide, block[part])
        dots = np.einsum("qmj,qj->qm", wide, query_units)
        part_norms = row_norms64(wide) if norms is None else norms[:, start:start + step]
        out[:, start:start + part.shape[1]] = 1.0 - dots / part_norms
    return out


def _brute_force(query_unit: np.ndarray, block: np.ndarray, first_id: int, k: int) -> TopK:
    """One query against every row in float64: the fallback when the screen proves nothing."""
    dists = _distances32(query_unit[None, :], block, np.arange(len(block))[None, :])
    ids = np.arange(first_id, first_id + len(block), dtype=np.int64)
    return _smallest(dists, ids[None, :], k)


def _smallest(dists: np.ndarray, ids: np.ndarray, k: int) -> TopK:
    """Per row, the k smallest (float32 distance, id) pairs in that order; pads with empty slots."""
    if dists.shape[1] < k:
        pad = empty_topk(dists.shape[0], k - dists.shape[1])
        dists = np.concatenate([dists, pad.dists], axis=1)
        ids = np.concatenate([ids, pad.ids], axis=1)
    keys = _order_keys(dists.astype(np.float32), ids)
    if keys.shape[1] > k:
        keys = np.partition(keys, k - 1, axis=1)[:, :k]
    dists, ids = _from_keys(np.sort(keys, axis=1))
    return TopK(ids, dists)


def _order_keys(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """int64 keys that sort as (float32 value, id): the value's bits above the id's.

    A float32's bits read as an int32 sort like the float for non-negative values; for
    negative ones the magnitude bits are flipped. -0.0 is made 0.0 first.
    """
    bits = (values.astype(np.float32) + np.float32(0)).view(np.int32)
    bits = bits ^ ((bits >> 31) & 0x7FFFFFFF)
    keys: np.ndarray = (bits.astype(np.int64) << ID_BITS) | ids
    return keys


def _from_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(float32 values, ids) back from _order_keys."""
    bits = (keys >> ID_BITS).astype(np.int32)
    return (bits ^ ((bits >> 31) & 0x7FFFFFFF)).view(np.float32), keys & ID_MASK


def _chunks(indices: np.ndarray, size: int) -> list[np.ndarray]:
    return [indices[start:start + size] for start in range(0, len(indices), size)]
