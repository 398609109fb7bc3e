"""Gold standards equal a plain float64 brute force, ties by lower id, in any split."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from generator.pipeline.model import TopK
from generator.pipeline import gold
from generator.pipeline.gold import empty_topk, exact_knn, merge_topk, screen_bound
from generator.pipeline.vectors import DegenerateVectorError

DIM = 768


def unit_float16(rows: np.ndarray) -> np.ndarray:
    """LAION's storage: normalised in float32, then cast to float16."""
    rows = rows.astype(np.float32)
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float16)


def clustered(rng: np.random.Generator, n: int, clusters: int = 20, spread: float = 0.3):
    centres = rng.standard_normal((clusters, DIM))
    return unit_float16(centres[rng.integers(clusters, size=n)]
                        + spread * rng.standard_normal((n, DIM)))


def brute_force(queries: np.ndarray, objects: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Every distance in float64 by one matrix product; order by (distance, id)."""
    q = queries.astype(np.float64)
    x = objects.astype(np.float64)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    dists = 1.0 - q @ x.T
    ids = np.arange(1, len(objects) + 1)
    order = np.array([np.lexsort((ids, row))[:k] for row in dists])
    return order + 1, np.take_along_axis(dists, order, axis=1)


def assert_exact(result: TopK, queries: np.ndarray, objects: np.ndarray, k: int) -> None:
    ids, dists = brute_force(queries, objects, k)
    np.testing.assert_array_equal(result.ids, ids)
    # Two float64 evaluations in different summation orders: a few ulps apart.
    np.testing.assert_allclose(result.dists, dists, rtol=0, atol=1e-12)


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


def test_many_ties_at_the_kth_fall_back_to_float64_and_stay_exact(monkeypatch):
    """Forty copies straddle rank 10, more than the screen keeps: the proof fails."""
    fallbacks = []
    brute_force64 = gold._brute_force64
    monkeypatch.setattr(gold, "_brute_force64", lambda *args: fallbacks.append(args) or brute_force64(*args))
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


@pytest.mark.parametrize("workers", [1, 3])
def test_chunked_screen_equals_one_chunk(data, monkeypatch, workers):
    """Small row and query chunks exercise the running top rows across many tiles, and
    rows shared among several workers."""
    queries, objects = data
    whole = exact_knn(queries, objects, 1, 30)
    monkeypatch.setattr(gold, "blas_threads", lambda: workers)
    monkeypatch.setattr(gold, "ROW_CHUNK", 97)
    monkeypatch.setattr(gold, "ROWS_PER_SLOT", 1)
    monkeypatch.setattr(gold, "QUERY_CHUNK", 13)
    monkeypatch.setattr(gold, "GATHER_BYTES", 1 << 16)
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


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_merge_topk_is_associative_and_commutative(data):
    """On arbitrary partial results with many equal distances, ids disjoint."""
    q, k = 3, data.draw(st.integers(1, 6))
    ids = np.random.default_rng(data.draw(st.integers(0, 1000))).permutation(np.arange(1, 40))
    def part(offset):
        width = data.draw(st.integers(0, k))
        dists = np.sort(np.array(data.draw(st.lists(st.sampled_from([0.0, 0.25, 0.5]),
                                                    min_size=q * width, max_size=q * width)))
                        .reshape(q, width), axis=1)
        own = np.tile(ids[offset:offset + width], (q, 1))
        return gold._smallest(dists, own, k)
    a, b, c = part(0), part(10), part(20)
    left = merge_topk(merge_topk(a, b, k), c, k)
    right = merge_topk(a, merge_topk(c, b, k), k)
    np.testing.assert_array_equal(left.ids, right.ids)
    np.testing.assert_array_equal(left.dists, right.dists)
    np.testing.assert_array_equal(merge_topk(a, empty_topk(q, k), k).ids, a.ids)


def test_screen_bound_covers_observed_float32_error(data):
    queries, objects = data
    q64 = queries.astype(np.float64) / np.linalg.norm(queries.astype(np.float64), axis=1, keepdims=True)
    x64 = objects.astype(np.float64) / np.linalg.norm(objects.astype(np.float64), axis=1, keepdims=True)
    screened = gold._screen_units(objects, 1)
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
