"""The executors' arithmetic: the fixed grid of row ranges, the fixed merge tree, and the gold
standard's partial results merged in any order and grouping (what a Dask cluster may do)."""
from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from generator.pipeline.gold import exact_knn, merge_candidates, merge_topk, rerank, screen
from generator.pipeline.schedule import row_ranges, scheduler_address, tree_reduce
from tests.planted import near_copies
from tests.test_gold import brute_force, clustered

ROWS, K_MAX = 300, 12


def test_the_grid_covers_the_rows_in_fixed_blocks():
    assert row_ranges(5, 2) == [(0, 2), (2, 4), (4, 5)]
    assert row_ranges(4, 4) == [(0, 4)]
    assert row_ranges(0, 4) == []


@pytest.mark.parametrize("count, tree", [
    (1, "a"), (2, "(ab)"), (3, "((ab)c)"), (5, "(((ab)(cd))e)"), (7, "(((ab)(cd))((ef)g))"),
])
def test_the_merge_tree_depends_on_the_count_alone(count, tree):
    assert tree_reduce(lambda a, b: f"({a}{b})", "abcdefg"[:count]) == tree


def test_the_tree_holds_a_logarithmic_number_of_partial_results():
    """Values streaming in are merged as soon as a subtree is whole: 1000 values never have
    more than log2(1000) + 1 partial results waiting."""
    counts = {"in": 0, "merged": 0, "most": 0}

    def values():
        for value in range(1000):
            counts["in"] += 1
            counts["most"] = max(counts["most"], counts["in"] - counts["merged"])
            yield value

    def merge(a, b):
        counts["merged"] += 1
        return a + b

    assert tree_reduce(merge, values()) == sum(range(1000))
    assert counts["most"] <= 11
    with pytest.raises(ValueError):
        tree_reduce(merge, [])


@pytest.mark.parametrize("text", ["local", "tcp://127.0.0.1:8786", "tcp://scheduler.example.org:8786"])
def test_a_scheduler_is_local_or_an_address(text):
    assert scheduler_address(text) == text


@pytest.mark.parametrize("text", ["", "Local", "127.0.0.1:8786", "tcp://host", "tcp://host:port", "http://h:1"])
def test_anything_else_is_refused(text):
    with pytest.raises(ValueError, match="neither 'local' nor a Dask scheduler's address"):
        scheduler_address(text)


@pytest.fixture(scope="module")
def tied():
    """Clustered rows with exact duplicates of query 0's vector across the blocks, and rows tied
    with each other only in float32 near query 1."""
    rng = np.random.default_rng(8)
    objects = clustered(rng, ROWS, clusters=4)
    objects[[40, 41, 170, 299]] = objects[120]
    query = objects[60].astype(np.float32) + np.float32(0.02) * rng.standard_normal(objects.shape[1]).astype(np.float32)
    objects[[250, 150, 20]] = near_copies(objects[60], query, 3)
    objects[60] *= np.float16(-1)
    queries = np.concatenate([objects[120:121].astype(np.float32), query[None, :],
                              clustered(rng, 5).astype(np.float32)])
    return queries, objects


def merged_anyhow(data, merge, values: list):
    """The values merged two at a time, any two, the result put back anywhere, as drawn."""
    values = list(values)
    while len(values) > 1:
        left = values.pop(data.draw(st.integers(0, len(values) - 1)))
        right = values.pop(data.draw(st.integers(0, len(values) - 1)))
        values.insert(data.draw(st.integers(0, len(values))), merge(left, right))
    return values[0]


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_gold_blocks_merged_in_any_order_and_grouping_equal_the_single_pass(tied, data):
    """The stage's grid (query blocks x row blocks): each block screened on its own, the
    candidates merged in any grouping and order, each block re-ranked against them and the
    top-k merged anyhow again: the single pass's ids and distances, ties included, and the
    ranking of docs/design/data.md#gold-standards (float64 distance ranked by its float32 value, ties by ascending
    id)."""
    queries, objects = tied
    k = data.draw(st.sampled_from([1, 3, K_MAX]))
    bounds = [0, *sorted(data.draw(st.lists(st.integers(1, ROWS - 1), max_size=5, unique=True))), ROWS]
    split = data.draw(st.integers(1, len(queries)))
    blocks = list(zip(bounds, bounds[1:]))
    results = []
    for part in (queries[:split], queries[split:]):
        if not len(part):
            continue
        candidates = merged_anyhow(data, merge_candidates, [screen(part, objects[a:b], a + 1, k) for a, b in blocks])
        results.append(merged_anyhow(data, partial(merge_topk, k=k),
                                     [rerank(part, objects[a:b], a + 1, candidates, k) for a, b in blocks]))
    ids = np.concatenate([result.ids for result in results])
    dists = np.concatenate([result.dists for result in results])
    whole = exact_knn(queries, objects, 1, k)
    np.testing.assert_array_equal(ids, whole.ids)
    np.testing.assert_array_equal(dists, whole.dists)
    expected, _ = brute_force(queries, objects, k)
    np.testing.assert_array_equal(ids, expected)
    if k >= 4:
        assert ids[0, :4].tolist() == [41, 42, 121, 171]  # the exact duplicates, by ascending id
    if k == K_MAX:
        assert ids[1, :3].tolist() == [21, 151, 251]      # tied only in float32: by id, not by float64
