"""Gold standards equal a plain float64 brute force ranked by (float32 distance, id), in any
split: exact duplicates and rows tied only in float32 included."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.pipeline import blas, gold
from generator.pipeline.gold import (
    candidate_margin,
    empty_candidates,
    empty_topk,
    exact_knn,
    merge_candidates,
    merge_topk,
    rerank,
    screen,
    screen_bound,
)
from generator.pipeline.model import TopK
from generator.pipeline.vectors import DegenerateVectorError
from tests.planted import near_copies

DIM = 768


def unit_float16(rows: np.ndarray) -> np.ndarray:
    """LAION's storage: normalised in float32, then cast to float16."""
    rows = rows.astype(np.float32)
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float16)


def clustered(rng: np.random.Generator, n: int, clusters: int = 20, spread: float = 0.3):
    centres = rng.standard_normal((clusters, DIM))
    return unit_float16(centres[rng.integers(clusters, size=n)]
                        + spread * rng.standard_normal((n, DIM)))


def distances64(queries: np.ndarray, objects: np.ndarray) -> np.ndarray:
    """Every distance in float64 by one matrix product of normalised copies."""
    q = queries.astype(np.float64)
    x = objects.astype(np.float64)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return 1.0 - q @ x.T


def brute_force(queries: np.ndarray, objects: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """docs/design/data.md#gold-standards: rank by the float32 value of the float64 distance, then by id."""
    dists = distances64(queries, objects).astype(np.float32)
    ids = np.arange(1, len(objects) + 1)
    order = np.array([np.lexsort((ids, row))[:k] for row in dists])
    return order + 1, np.take_along_axis(dists, order, axis=1)


def assert_exact(result: TopK, queries: np.ndarray, objects: np.ndarray, k: int) -> None:
    ids, dists = brute_force(queries, objects, k)
    np.testing.assert_array_equal(result.ids, ids)
    # Two float64 evaluations in different summation orders round to the same float32
    # except at a rounding boundary: at most one float32 step apart.
    assert result.dists.dtype == np.float32
    np.testing.assert_allclose(result.dists, dists, rtol=0, atol=2.0 ** -23)
    assert_ranked(result)


def assert_ranked(result: TopK) -> None:
    """dists ascend along each row; where two adjacent are equal, their ids ascend (unfilled
    slots, id 0 at +inf, excepted)."""
    before, after = result.dists[:, :-1], result.dists[:, 1:]
    assert (after >= before).all()
    tied = (after == before) & (result.ids[:, 1:] > 0)
    assert (result.ids[:, 1:][tied] > result.ids[:, :-1][tied]).all()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(4)
    objects = np.concatenate([clustered(rng, 1500), unit_float16(rng.standard_normal((500, DIM)))])
    queries = np.concatenate([clustered(rng, 60).astype(np.float32),
                              rng.standard_normal((40, DIM)).astype(np.float32)])
    return queries, objects


@pytest.mark.parametrize("k", [1, 10, 100])
def test_equals_float64_brute_force(data, k):
    queries, objects = data
    assert_exact(exact_knn(queries, objects, 1, k), queries, objects, k)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_objects_of_any_float_dtype(data, dtype):
    queries, objects = data
    wide = objects.astype(dtype) * 3  # norms far from 1 are normalised away
    assert_exact(exact_knn(queries, wide, 1, 20), queries, wide, 20)


def test_planted_exact_ties_go_to_the_lower_id():
    rng = np.random.default_rng(5)
    objects = clustered(rng, 1200)
    twin = objects[700].copy()
    for row in (50, 300, 1199):
        objects[row] = twin
    objects[900] = twin * np.float16(2)   # same direction, same float64 unit vector
    queries = np.stack([twin, objects[10], objects[1000]]).astype(np.float32)
    queries[1:] += np.float32(0.05) * rng.standard_normal((2, DIM)).astype(np.float32)
    result = exact_knn(queries, objects, 1, 8)
    assert_exact(result, queries, objects, 8)
    np.testing.assert_array_equal(result.ids[0, :5], [51, 301, 701, 901, 1200])
    assert len(set(result.dists[0, :5].tolist())) == 1


def test_rows_tied_only_in_float32_rank_by_id_and_the_kth_goes_to_the_lowest_id():
    """Three near-copies of the query's nearest row: their float64 distances differ (the
    highest id nearest), their float32 values are equal, so they rank by ascending id."""
    rng = np.random.default_rng(15)
    objects = clustered(rng, 600)
    query = objects[5].astype(np.float32) + np.float32(0.02) * rng.standard_normal(DIM).astype(np.float32)
    objects[300], objects[200], objects[100] = near_copies(objects[5], query, 3)
    objects[5] *= np.float16(-1)   # far away now
    exact64 = distances64(query[None, :], objects[[100, 200, 300]])[0]
    assert exact64[0] > exact64[1] > exact64[2], "the planted rows must differ in float64"
    assert len(set(exact64.astype(np.float32).tolist())) == 1, "... and tie in float32"
    result = exact_knn(query[None, :], objects, 1, 3)
    np.testing.assert_array_equal(result.ids[0], [101, 201, 301])
    assert_exact(result, query[None, :], objects, 3)
    # At k = 2 the tie straddles the k-th place: the lowest ids take it.
    np.testing.assert_array_equal(exact_knn(query[None, :], objects, 1, 2).ids[0], [101, 201])


def test_many_ties_at_the_kth_fall_back_to_float64_and_stay_exact(monkeypatch):
    """Forty copies straddle rank 10, more than the screen keeps: the proof fails."""
    fallbacks = []
    brute_force = gold._brute_force
    monkeypatch.setattr(gold, "_brute_force", lambda *args: fallbacks.append(args) or brute_force(*args))
    rng = np.random.default_rng(6)
    objects = clustered(rng, 1000)
    near = unit_float16(objects[:1].astype(np.float32)
                        + 0.01 * rng.standard_normal((1, DIM)).astype(np.float32))[0]
    copies = rng.choice(np.arange(1, 1000), size=40, replace=False)
    objects[copies] = near
    queries = objects[:1].astype(np.float32)
    slots = 10 + 16
    assert slots < 40
    result = exact_knn(queries, objects, 1, 10)
    assert_exact(result, queries, objects, 10)
    np.testing.assert_array_equal(result.ids[0, 1:], np.sort(copies)[:9] + 1)
    assert len(fallbacks) == 1


def test_first_id_offsets_ids():
    rng = np.random.default_rng(7)
    objects, queries = clustered(rng, 300), clustered(rng, 5)
    plain = exact_knn(queries, objects, 1, 7)
    shifted = exact_knn(queries, objects, 1001, 7)
    np.testing.assert_array_equal(shifted.ids, plain.ids + 1000)
    np.testing.assert_array_equal(shifted.dists, plain.dists)


def test_fewer_rows_than_k_leaves_empty_slots():
    rng = np.random.default_rng(8)
    objects, queries = clustered(rng, 5), clustered(rng, 3)
    result = exact_knn(queries, objects, 11, 8)
    assert result.ids.shape == (3, 8)
    np.testing.assert_array_equal(np.sort(result.ids[:, :5], axis=1), np.tile(np.arange(11, 16), (3, 1)))
    assert (result.ids[:, 5:] == 0).all() and np.isinf(result.dists[:, 5:]).all()


def two_passes(queries, objects, bounds, k, order):
    """The pipeline's way: screen every block and merge in `order` (every other block told
    the candidates known so far), then re-rank every block."""
    candidates = empty_candidates(len(queries), k)
    for turn, index in enumerate(order):
        a, b = bounds[index], bounds[index + 1]
        known = candidates if turn % 2 else None
        candidates = merge_candidates(screen(queries, objects[a:b], a + 1, k, known), candidates)
    best = empty_topk(len(queries), k)
    for index in order:
        a, b = bounds[index], bounds[index + 1]
        best = merge_topk(rerank(queries, objects[a:b], a + 1, candidates, k), best, k)
    return best


@pytest.mark.parametrize("k", [10, 100])
def test_screened_blocks_then_reranked_blocks_equal_the_brute_force(data, k):
    queries, objects = data
    bounds = [0, 7, 500, 1200, 1999, 2000]
    result = two_passes(queries, objects, bounds, k, [3, 0, 4, 2, 1])
    assert_exact(result, queries, objects, k)
    whole = exact_knn(queries, objects, 1, k)
    np.testing.assert_array_equal(result.ids, whole.ids)
    np.testing.assert_array_equal(result.dists, whole.dists)


@pytest.mark.parametrize("workers", [1, 3])
def test_chunked_screen_equals_one_chunk(data, monkeypatch, workers):
    """Small row and query chunks exercise the running top rows across many tiles, and
    rows shared among several workers."""
    queries, objects = data
    whole = exact_knn(queries, objects, 1, 30)
    monkeypatch.setattr(gold, "blas_threads", lambda: workers)
    monkeypatch.setattr(blas, "blas_threads", lambda: workers)
    monkeypatch.setattr(gold, "ROW_CHUNK", 97)
    monkeypatch.setattr(gold, "ROWS_PER_SLOT", 1)
    monkeypatch.setattr(gold, "QUERY_CHUNK", 13)
    monkeypatch.setattr(gold, "CACHED_ROWS", 5)
    monkeypatch.setattr(gold, "RERANK_PAIRS", 64)
    chunked = exact_knn(queries, objects, 1, 30)
    np.testing.assert_array_equal(chunked.ids, whole.ids)
    np.testing.assert_array_equal(chunked.dists, whole.dists)


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(1, 399), max_size=5, unique=True), seed=st.integers(0, 2**32 - 1))
def test_merge_of_any_split_in_any_order_equals_the_whole(cuts, seed):
    rng = np.random.default_rng(0)
    objects = clustered(rng, 400, clusters=4, spread=0.05)
    objects[[40, 41, 350, 399]] = objects[200]   # exact ties across the pieces
    queries = np.concatenate([objects[200:201], clustered(rng, 6)]).astype(np.float32)
    whole = exact_knn(queries, objects, 1, 12)
    bounds = [0, *sorted(cuts), 400]
    parts = [exact_knn(queries, objects[a:b], a + 1, 12) for a, b in zip(bounds, bounds[1:])]
    order = np.random.default_rng(seed).permutation(len(parts))
    left_fold = empty_topk(len(queries), 12)
    for index in order:
        left_fold = merge_topk(left_fold, parts[index], 12)
    right_fold = empty_topk(len(queries), 12)
    for index in order:
        right_fold = merge_topk(parts[index], right_fold, 12)
    for merged in (left_fold, right_fold):
        np.testing.assert_array_equal(merged.ids, whole.ids)
        np.testing.assert_array_equal(merged.dists, whole.dists)


VALUES = [-1e-16, 0.0, 0.25, 0.25000001, 0.5]   # the middle two are one float32


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_merge_topk_is_associative_and_commutative(data):
    """On arbitrary partial results with many equal float32 distances, ids disjoint."""
    q, k = 3, data.draw(st.integers(1, 6))
    ids = np.random.default_rng(data.draw(st.integers(0, 1000))).permutation(np.arange(1, 40))
    def part(offset):
        width = data.draw(st.integers(0, k))
        dists = np.array(data.draw(st.lists(st.sampled_from(VALUES), min_size=q * width, max_size=q * width)),
                         dtype=np.float32).reshape(q, width)
        own = np.tile(ids[offset:offset + width], (q, 1))
        return gold._smallest(dists, own, k)
    a, b, c = part(0), part(10), part(20)
    left = merge_topk(merge_topk(a, b, k), c, k)
    right = merge_topk(a, merge_topk(c, b, k), k)
    np.testing.assert_array_equal(left.ids, right.ids)
    np.testing.assert_array_equal(left.dists, right.dists)
    np.testing.assert_array_equal(merge_topk(a, empty_topk(q, k), k).ids, a.ids)
    for merged in (left, right):
        assert_ranked(merged)
    ties = merge_topk(a, b, k)
    np.testing.assert_array_equal(ties.ids, merge_topk(b, a, k).ids)


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_merge_candidates_is_associative_and_commutative(data):
    """Lists, similarity ties and floors drawn at random: any grouping and order agree."""
    q, k = 2, data.draw(st.integers(1, 4))
    slots = gold.candidate_slots(k)
    ids = np.random.default_rng(data.draw(st.integers(0, 1000))).permutation(np.arange(1, 200))
    def part(offset):
        width = data.draw(st.integers(0, slots))
        sims = np.full((q, slots), -np.inf, dtype=np.float32)
        sims[:, :width] = np.array(data.draw(st.lists(st.sampled_from([0.1, 0.5, 0.5000001, 0.9]),
                                                      min_size=q * width, max_size=q * width))).reshape(q, width)
        own = np.zeros((q, slots), dtype=np.int64)
        own[:, :width] = ids[offset:offset + width]
        floor = np.full(q, data.draw(st.sampled_from([-np.inf, 0.0, 0.3])), dtype=np.float32)
        return merge_candidates(gold.Candidates(own, sims, 1 + own / 1000, floor), empty_candidates(q, k))
    a, b, c = part(0), part(50), part(100)
    for left, right in ((merge_candidates(merge_candidates(a, b), c), merge_candidates(a, merge_candidates(c, b))),
                        (merge_candidates(a, b), merge_candidates(b, a))):
        for field in ("ids", "sims", "norms", "floor"):
            np.testing.assert_array_equal(getattr(left, field), getattr(right, field))
    merged = merge_candidates(merge_candidates(a, b), c)
    assert (merged.sims[:, 1:] <= merged.sims[:, :-1]).all()
    np.testing.assert_array_equal(merged.norms, 1 + merged.ids / 1000)   # each row keeps its norm
    dropped = [s for part_ in (a, b, c) for s, i in zip(part_.sims[0], part_.ids[0]) if i and i not in merged.ids[0]]
    assert merged.floor[0] == max([a.floor[0], b.floor[0], c.floor[0], *dropped])


def test_known_candidates_leave_hopeless_rows_out_from_the_start(data):
    queries, objects = data
    known = screen(queries, objects[:1000], 1, 10)
    alone, told = screen(queries, objects[1000:], 1001, 10), screen(queries, objects[1000:], 1001, 10, known)
    limit = known.sims[:, 9].astype(np.float64) - candidate_margin(DIM)
    assert (told.floor.astype(np.float64) >= np.nextafter(limit.astype(np.float32), np.float32(-np.inf))).all()
    assert np.count_nonzero(told.ids) < np.count_nonzero(alone.ids)
    for merged in (merge_candidates(known, alone), merge_candidates(known, told)):
        np.testing.assert_array_equal(rerank(queries, objects, 1, merged, 10).ids, exact_knn(queries, objects, 1, 10).ids)


def at_similarity(query: np.ndarray, cosines: list[float], rng: np.random.Generator) -> np.ndarray:
    """float64 rows whose cosine with `query` is each of `cosines` (to float64 rounding)."""
    unit = query / np.linalg.norm(query)
    rows = []
    for cosine in cosines:
        other = rng.standard_normal(len(query))
        other -= (other @ unit) * unit
        rows.append(cosine * unit + np.sqrt(1 - cosine ** 2) * other / np.linalg.norm(other))
    return np.array(rows)


def worst_screen(query: np.ndarray, block: np.ndarray, k: int, error: float) -> gold.Candidates:
    """Candidates as a screen erring by `error` at worst would list them, erring against the
    truth: the true k nearest made `error` less similar, every other row `error` more."""
    exact = 1.0 - distances64(query[None, :], block)[0]
    ids = np.arange(1, len(block) + 1)
    order = np.lexsort((ids, -exact))
    skewed = exact + np.where(np.isin(ids, ids[order[:k]]), -error, error)
    return gold._listed(skewed.astype(np.float32)[None, :], ids[None, :], gold.row_norms64(block)[None, :],
                        np.full(1, -np.inf, dtype=np.float32), gold.candidate_slots(k))


@pytest.mark.parametrize("spread", [0.1, 0.5, 1.0, 1.5, 1.9])
def test_rows_at_the_edge_of_the_margin_are_still_reranked_exactly(spread):
    """The true k-th row sits `spread` screen bounds B above three rows that miss the top k. A
    screen erring by B against the truth (the top k lowered, the rest raised) lists those
    outsiders (2 - spread) B ahead of the k-th, pushing it out of the screen's top k; the margin
    keeps it in the re-rank and the result is exact."""
    rng = np.random.default_rng(31)
    query = rng.standard_normal(DIM)
    bound, k = screen_bound(DIM), 10
    kth = 0.6
    cosines = [0.9 - 0.01 * i for i in range(k - 1)] + [kth] + [kth - spread * bound] * 3 + [0.3, 0.2]
    block = at_similarity(query, cosines, rng)
    candidates = worst_screen(query, block, k, bound)
    result = rerank(query[None, :], block, 1, candidates, k)
    assert_exact(result, query[None, :], block, k)
    assert k in result.ids[0]


def test_a_margin_of_one_bound_would_lose_the_kth_row(monkeypatch):
    """The same plant with the outsiders 0.1 B below the k-th: the worst screen lists them 1.9 B
    ahead of it, so a margin of B instead of 2B (plus the rounding of distances) loses it."""
    rng = np.random.default_rng(31)
    query = rng.standard_normal(DIM)
    bound, k = screen_bound(DIM), 10
    cosines = [0.9 - 0.01 * i for i in range(k - 1)] + [0.6] + [0.6 - 0.1 * bound] * 3
    block = at_similarity(query, cosines, rng)
    candidates = worst_screen(query, block, k, bound)
    monkeypatch.setattr(gold, "candidate_margin", lambda dim: screen_bound(dim))
    assert k not in rerank(query[None, :], block, 1, candidates, k).ids[0]


def test_screen_bound_covers_observed_float32_error(data):
    queries, objects = data
    q64 = queries.astype(np.float64) / np.linalg.norm(queries.astype(np.float64), axis=1, keepdims=True)
    x64 = objects.astype(np.float64) / np.linalg.norm(objects.astype(np.float64), axis=1, keepdims=True)
    screened = np.empty(objects.shape, dtype=np.float32)
    norms = gold._screen_units(objects, 1, np.empty(objects.shape), screened)
    np.testing.assert_array_equal(norms, gold.row_norms64(objects.astype(np.float64)))
    error = np.abs(q64.astype(np.float32) @ screened.T - q64 @ x64.T).max()
    assert error < screen_bound(DIM) < 1e-4


def test_degenerate_rows_are_named():
    rng = np.random.default_rng(9)
    objects, queries = clustered(rng, 50), clustered(rng, 2)
    objects[17] = 0
    with pytest.raises(DegenerateVectorError, match="object id 118 has norm"):
        exact_knn(queries, objects, 101, 5)
    objects[17] = np.inf
    with pytest.raises(DegenerateVectorError, match="object id 118"):
        exact_knn(queries, objects, 101, 5)
    queries[1] = 0
    with pytest.raises(DegenerateVectorError, match="query 2 has norm"):
        exact_knn(queries, objects[:10], 101, 5)


def test_bad_shapes_and_ids_are_errors():
    rng = np.random.default_rng(10)
    objects, queries = clustered(rng, 20), clustered(rng, 2)
    with pytest.raises(ValueError, match="same width"):
        screen(queries[:, :10], objects, 1, 3)
    with pytest.raises(ValueError, match="outside"):
        screen(queries, objects, 2**32 - 5, 3)
    with pytest.raises(ValueError, match="do not serve"):
        rerank(queries, objects, 1, empty_candidates(3, 3), 3)
    with pytest.raises(ValueError, match="cannot merge candidates"):
        merge_candidates(empty_candidates(2, 3), empty_candidates(2, 30))
