"""The stages' pure parts on tiny data against plain numpy or Python: NSFW rules and the
dev cut, the query choice, metadata escaping, faiss brute-force search in projected
spaces, the make rules, and the atomic HDF5 writer."""
from __future__ import annotations

import re

import faiss
import h5py
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

from generator.errors import Origin, ProjectError
from generator.io.h5 import h5_output, write_h5
from generator.pipeline import blas, hamming, recall
from generator.pipeline.meta import (
    escape_field,
    header_line,
    meta_lines,
    unescape_field,
)
from generator.pipeline.queries import candidate_rows, query_rows, selected
from generator.pipeline.recall import brute_force, recall_at
from generator.pipeline.rules import make_rules
from generator.pipeline.stages import STAGES, TARGETS
from generator.pipeline.subsets import kept_rows, select_rows
from generator.release.model import Subset
from generator.release.read import read_release
from tests.conftest import ROOT

NSFW = ["UNLIKELY", None, "NSFW", "UNSURE", None, "UNLIKELY", "NSFW", "UNLIKELY"]


def spec(rule: str, rows: int | None = None, parts=(1, 3)) -> Subset:
    return Subset("S", parts[0], parts[1], rule, rows, None, None, Origin("release.yml", 4))


def test_strict_keeps_present_values_other_than_nsfw_and_dev_drops_only_nsfw():
    assert kept_rows(NSFW, "strict").tolist() == [0, 3, 5, 7]
    assert kept_rows(NSFW, "dev").tolist() == [0, 1, 3, 4, 5, 7]


def test_a_dev_subset_stops_after_its_rows_and_reads_no_further_part():
    read = []

    def columns():
        for part in (1, 2, 3):
            read.append(part)
            yield part, NSFW

    selection = list(select_rows(spec("dev", rows=8), columns()))
    assert [(part, rows.tolist()) for part, rows in selection] == [(1, [0, 1, 3, 4, 5, 7]), (2, [0, 1])]
    assert read == [1, 2]


def test_a_strict_subset_concatenates_every_part():
    selection = list(select_rows(spec("strict"), ((p, NSFW) for p in (1, 2, 3))))
    assert [part for part, _ in selection] == [1, 2, 3]
    assert sum(len(rows) for _, rows in selection) == 12


def test_a_dev_subset_larger_than_its_parts_is_an_error_naming_the_release_line():
    with pytest.raises(ProjectError, match=r"release.yml:4: subset 'S' needs 100 rows .* only 18"):
        list(select_rows(spec("dev", rows=100), ((p, NSFW) for p in (1, 2, 3))))


def test_queries_are_a_seeded_sorted_choice_without_repeats():
    rows = query_rows(1000, 100, seed=5)
    assert len(set(rows.tolist())) == 100 and np.all(np.diff(rows) > 0) and rows.max() < 1000
    np.testing.assert_array_equal(rows, query_rows(1000, 100, seed=5))
    assert not np.array_equal(rows, query_rows(1000, 100, seed=6))
    with pytest.raises(ProjectError, match="only 10 rows"):
        query_rows(10, 11, seed=0)


@given(st.one_of(st.none(), st.text()))
def test_escaped_fields_are_one_tab_free_line_and_read_back(value):
    field = escape_field(value)
    assert "\t" not in field and "\n" not in field and "\r" not in field
    assert unescape_field(field) == ("" if value is None else value)


def test_meta_lines_hold_the_columns_of_the_selected_rows():
    columns = {"caption": ["a\tb", "c\nd", 'say "hi" \\ café'], "NSFW": ["UNLIKELY", None, "UNSURE"],
               "LICENSE": ["?", "?", None], "url": ["u0", "u1", "u2"]}
    names = ("caption", "NSFW", "LICENSE", "url")
    assert header_line(names) == "caption\tNSFW\tLICENSE\turl\n"
    assert meta_lines(columns, names, np.array([0, 2])) == 'a\\tb\tUNLIKELY\t?\tu0\nsay "hi" \\\\ café\tUNSURE\t\tu2\n'


def l2_distances(queries: np.ndarray, objects: np.ndarray) -> np.ndarray:
    return ((queries.astype(np.float64)[:, None, :] - objects.astype(np.float64)[None, :, :]) ** 2).sum(axis=2)


def hamming_distances(queries: np.ndarray, objects: np.ndarray) -> np.ndarray:
    return np.array([[sum(bin(int(a) ^ int(b)).count("1") for a, b in zip(q, x)) for x in objects] for q in queries])


@pytest.mark.parametrize("block_rows", [7, 50, 1000])
def test_blocked_faiss_search_finds_the_k_nearest_in_l2_and_hamming(block_rows):
    """The found rows are k distinct rows at the k smallest distances (rows tied at the
    k-th may be any of them)."""
    rng = np.random.default_rng(0)
    for objects, queries, distances in (
            (rng.standard_normal((300, 8)).astype(np.float32), rng.standard_normal((20, 8)).astype(np.float32),
             l2_distances),
            (rng.integers(0, 2**64, (300, 16), dtype=np.uint64), rng.integers(0, 2**64, (20, 16), dtype=np.uint64),
             hamming_distances)):
        blocks = [(first, objects[first:first + block_rows]) for first in range(0, len(objects), block_rows)]
        found = brute_force(queries, blocks, 10)
        assert found.ids.shape == (20, 10) and found.build >= 0 and found.query > 0
        exact = distances(queries, objects)
        for row, ids in zip(exact, found.ids):
            assert len(set(ids.tolist())) == 10 and ids.min() >= 1
            np.testing.assert_allclose(np.sort(row[ids - 1]), np.sort(row)[:10], rtol=1e-5)


@pytest.mark.parametrize("kind", ["l2", "hamming"])
def test_the_search_finds_the_same_rows_whatever_the_number_of_workers(kind):
    """Queries are shared out among the BLAS threads' workers: with one, three or four of them
    the answer is the same, rows tied at the k-th place included (one-word sketches tie a lot)."""
    rng = np.random.default_rng(2)
    if kind == "l2":
        objects = rng.integers(-3, 4, (2000, 4)).astype(np.float32)  # small integers: many exact ties
        queries = rng.integers(-3, 4, (37, 4)).astype(np.float32)
    else:
        objects, queries = (rng.integers(0, 2**64, (n, 1), dtype=np.uint64) for n in (2000, 37))
    blocks = [(first, objects[first:first + 700]) for first in range(0, len(objects), 700)]
    answers = []
    for threads in (1, 3, 4):
        with threadpool_limits(threads, user_api="blas"):
            assert blas.blas_threads() == threads
            answers.append(brute_force(queries, blocks, 25).ids)
    for other in answers[1:]:
        np.testing.assert_array_equal(other, answers[0])


@given(st.integers(0, 20_000), st.sampled_from([32, 96, 768]), st.integers(1, 8))
def test_shares_of_queries_keep_faiss_on_the_way_of_one_search(count, dim, workers):
    """faiss's L2 search changes its way (and its rounding) at distance_compute_blas_threshold
    values per call: every share must be on the side all the queries are on, and the shares
    must cover the queries in order, each once."""
    queries = np.zeros((count, dim), dtype=np.float32)
    shares = recall._shares(count, workers, recall._least_share(queries))
    assert [i for share in shares for i in range(count)[share]] == list(range(count))
    threshold = faiss.cvar.distance_compute_blas_threshold
    for share in shares:
        size = len(range(count)[share])
        assert (size * dim >= threshold) == (count * dim >= threshold)
    assert len(shares) <= max(1, workers)


def test_fewer_rows_than_k_leave_id_0():
    rng = np.random.default_rng(1)
    words = rng.integers(0, 2**64, (3, 16), dtype=np.uint64)
    found = brute_force(words[:2], [(0, words)], 5)
    assert sorted(found.ids[0].tolist()) == [0, 0, 1, 2, 3]
    with pytest.raises(ValueError, match="float32 projections or uint64 sketches"):
        brute_force(np.zeros((1, 4)), [(0, np.zeros((2, 4)))], 1)


def test_recall_counts_the_shared_ids_of_the_first_k():
    found = np.array([[1, 2, 3], [4, 5, 6]])
    gold = np.array([[3, 2, 9, 1], [7, 8, 9, 4]])
    assert recall_at(found, gold, 3) == pytest.approx(2 / 6)


def test_make_rules_name_every_output_once_with_its_inputs(tmp_path):
    release = read_release(ROOT / "data" / "releases" / "sample-2023.yml")
    rules = make_rules(release)
    assert "PIPELINE_FILE_laion2B_en_clip768v2_n_S3_h5 := $(RULE_OUT)/laion2B-en-clip768v2-n=S3.h5" in rules
    targets = [line.split(":")[0] for line in rules.splitlines() if line.startswith("$(") and ":" in line]
    assert len(targets) == len(set(targets))
    # The second file of a command after the first (make -n does not follow grouped targets).
    pca96, pca32 = (r"\$\(PIPELINE_FILE_laion2B_en_" + kind + r"v2_n_S3_h5\)" for kind in ("pca96", "pca32"))
    assert re.search(rf"^{pca96}: .* \| {pca32}$", rules, re.MULTILINE)
    # Every bundle of the release, the recall table and the manifests are made by one rule each.
    made = {name for stage in STAGES for label in stage.labels(release) for name in stage.outputs(release, label)}
    assert {b.name for b in release.bundles()} <= made
    everything = next(line for line in rules.splitlines() if line.startswith("PIPELINE_ALL := ")).split()[2:]
    assert len(everything) == len(made)


def test_the_makefile_offers_exactly_the_make_targets_of_the_stage_table():
    makefile = (ROOT / "Makefile").read_text()
    listed = next(line for line in makefile.splitlines() if line.startswith("PIPELINE_TARGETS := ")).split()[2:]
    assert listed == ["artifacts", *TARGETS]
    for target in TARGETS:
        assert f"\n{target}: $(PIPELINE_{target.upper()})  ## " in makefile


def test_an_h5_file_appears_only_when_complete(tmp_path):
    final = tmp_path / "x.h5"
    with pytest.raises(RuntimeError):
        with h5_output(final, {"emb": ((10, 4), np.float32)}) as datasets:
            datasets["emb"][:5] = 1
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    write_h5(final, {"knns": np.arange(6, dtype=np.int32).reshape(2, 3)})
    with h5py.File(final, "r") as file:
        assert file["knns"].dtype == np.int32 and file["knns"][1, 2] == 5
    assert [p.name for p in tmp_path.iterdir()] == ["x.h5"]


def test_too_few_candidates_passing_the_query_filter_is_one_error_with_the_numbers():
    dists = np.array([[0.1, 0.2, 0.2], [0.0, 0.0, 0.5], [0.3, 0.4, 0.5]], dtype=np.float32)
    assert selected(dists, 1, 2, 0.05).tolist() == [2]  # a tie at the cut, then a near-duplicate
    with pytest.raises(ProjectError, match=r"only 1 of 3 candidates pass the query filter .* 2 are needed"):
        selected(dists, 2, 2, 0.05)
    drawn = candidate_rows(50, 80, seed=3)
    assert np.all(np.diff(drawn) > 0) and drawn.max() < 50


@pytest.mark.parametrize("block_rows", [97, 333, 5000])
def test_hamming_search_is_the_exact_ranking_by_distance_then_id_and_faiss_baseline_ids(block_rows):
    """The popcount kernel returns each query's k rows of smallest Hamming distance, of rows at
    equal distance the lowest ids, whatever the blocks: the ids faiss's IndexBinaryFlat returns,
    the baseline a participant runs. Duplicated rows and queries equal to a row make many ties."""
    rng = np.random.default_rng(5)
    objects = rng.integers(0, 2**64, (1200, 16), dtype=np.uint64)
    objects[700:760] = objects[3]
    objects[:, 8:] &= np.uint64(0xFF)  # half the words nearly alike: distances crowd together
    queries = rng.integers(0, 2**64, (300, 16), dtype=np.uint64)  # more than one batch of queries
    queries[:4] = objects[3]
    blocks = [(first, objects[first:first + block_rows]) for first in range(0, len(objects), block_rows)]
    found = brute_force(queries, blocks, 40)
    distances = np.bitwise_count(queries[:, None, :] ^ objects[None]).sum(axis=2)  # numpy's own popcount
    ranked = np.argsort(distances, axis=1, kind="stable")[:, :40] + 1  # stable: ties by id
    np.testing.assert_array_equal(found.ids, ranked)
    index = faiss.IndexBinaryFlat(1024)
    index.add(objects.view(np.uint8))
    np.testing.assert_array_equal(found.ids, index.search(queries.view(np.uint8), 40)[1] + 1)


def test_hamming_search_refuses_words_it_cannot_compare():
    words = np.zeros((3, 16), dtype=np.uint64)
    best = hamming.empty_hamming_topk(3, 2)
    with pytest.raises(ValueError, match="queries: expected a matrix of uint64 sketch words, not int64"):
        hamming.hamming_topk(words.astype(np.int64), words, 1, best)
    with pytest.raises(ValueError, match="queries of 16 words cannot be compared with rows of 8"):
        hamming.hamming_topk(words, words[:, :8], 1, best)
    with pytest.raises(ValueError, match=r"best neighbours of shapes \(3, 2\), \(3, 2\) do not serve 2 queries"):
        hamming.hamming_topk(words[:2], words, 1, best)
    assert (best[0] == hamming.UNFILLED).all() and (best[1] == 0).all()  # nothing written
