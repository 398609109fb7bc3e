"""`make artifacts` end to end on tiny synthetic parts: every artifact, its layout, its content
against plain numpy, determinism, make's up-to-date check, crash safety, bad inputs."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from distributed import Client, LocalCluster, WorkerPlugin

from generator.errors import InputError
from generator.io.checksums import file_md5
from generator.pipeline import stages
from generator.pipeline.meta import unescape_field
from generator.pipeline.parts import Part, check_all_parts, check_embedding_rows, npy_path, parquet_path
from generator.pipeline.queries import query_rows
from generator.pipeline.schedule import Scheduler, TaskError
from generator.release.read import read_release
from tests.conftest import OFFICIAL_BINWALK, ROOT as REPO, TINY_RELEASE, bundle_name, write_tiny
from tests.planted import near_copies

QUERIES = "queries"
LABELS = ("1500", "P2", "P5")
TIED_COPIES = {1: [5, 6, 7], 2: [0, 9]}  # part -> rows overwritten with a copy of query 0's vector
NEAR_COPIES = (1, [40, 30, 20])  # part, rows: near copies of a row near query 0, tied only in float32,
                                 # the nearest in float64 at the highest id
MANIFESTS = ("dataset-files-md5.txt", "dataset-files-size.txt", "dataset-files-bytes.txt",
             "dataset-files-urls.txt")

LAYOUT = {  # bundle kind -> (dataset key, dtype, columns)
    "clip768": ("emb", np.float16, 768), "pca32": ("pca32", np.float32, 32),
    "pca96": ("pca96", np.float32, 96), "hamming": ("hamming", np.uint64, 16),
}


def make(out: Path, parts: Path, release: Path, *goals: str, **kwargs) -> subprocess.CompletedProcess:
    command = ["make", "-C", str(REPO), "-j2", *goals, f"PARTS={parts}", f"OUT={out}", f"RELEASE={release}"]
    return subprocess.run(command, capture_output=True, text=True, **kwargs)


def digests(out: Path, names) -> dict[str, str]:
    return {name: file_md5(out / name) for name in names}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Tiny parts (with planted exact ties) and one uninterrupted `make artifacts` of them, in a
    folder whose name holds a space and quotes (PARTS, OUT and RELEASE all pass through make)."""
    root = tmp_path_factory.mktemp("pipeline") / "it's a \"run\""
    root.mkdir()
    config, config_path, parts = write_tiny(root)
    query_row = int(query_rows(config.sample.rows, config.query_set(QUERIES).count, config.query_set(QUERIES).seed)[0])
    query_vector = np.load(npy_path(parts, 0))[query_row]
    for number, rows in TIED_COPIES.items():
        embeddings = np.load(npy_path(parts, number))
        embeddings[rows] = query_vector
        np.save(npy_path(parts, number), embeddings)
    number, rows = NEAR_COPIES
    embeddings = np.load(npy_path(parts, number))
    near = query_vector.astype(np.float32) + np.float32(0.03) * np.random.default_rng(4).standard_normal(
        query_vector.shape, dtype=np.float32)
    embeddings[rows] = near_copies(near / np.linalg.norm(near), query_vector.astype(np.float32), len(rows))
    np.save(npy_path(parts, number), embeddings)
    out = root / "out"
    run = make(out, parts, config_path, "artifacts")
    assert run.returncode == 0, run.stderr
    return config, config_path, parts, out


def kept(parts: Path, numbers, rule: str, limit: int | None = None) -> np.ndarray:
    """The plain reference of a subset: rows of the parts the NSFW rule keeps, in order."""
    rows = []
    for number in numbers:
        nsfw = pq.read_table(parquet_path(parts, number), columns=["NSFW"]).column("NSFW").to_pylist()
        keep = [(v is not None and v != "NSFW") if rule == "strict" else v != "NSFW" for v in nsfw]
        rows.append(np.load(npy_path(parts, number))[np.asarray(keep)])
    return np.concatenate(rows)[:limit]


def test_every_artifact_has_the_layout_of_spec_section_2(tiny):
    config, _, _, out = tiny
    for bundle in config.bundles():
        assert (out / bundle.name).is_file(), bundle.name
    queries = config.query_set(QUERIES).count
    for label in LABELS + (QUERIES,):
        with h5py.File(out / bundle_name(config, "clip768", label), "r") as file:
            rows = file["emb"].shape[0]
        for kind, (key, dtype, cols) in LAYOUT.items():
            with h5py.File(out / bundle_name(config, kind, label), "r") as file:
                assert list(file.keys()) == [key]
                expected_dtype = np.float32 if (label, kind) == (QUERIES, "clip768") else dtype
                assert file[key].dtype == expected_dtype and file[key].shape == (rows, cols)
                assert dict(file[key].attrs) == {}
        if label == QUERIES:
            assert rows == queries
            continue
        for kind, k in (("gold", 10), ("gold-f64", 50)):
            with h5py.File(out / bundle_name(config, kind, label), "r") as file:
                assert sorted(file.keys()) == ["dists", "knns"]
                assert file["knns"].dtype == np.int32 and file["knns"].shape == (queries, k)
                assert file["dists"].dtype == np.float32 and file["dists"].shape == (queries, k)


def test_manifests_pass_md5sum_and_recall_table_has_the_published_columns(tiny):
    config, _, _, out = tiny
    check = subprocess.run(["md5sum", "-c", "dataset-files-md5.txt"], cwd=out, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    published = [bundle.name for bundle in config.published()]
    assert check.stdout.splitlines() == [f"{name}: OK" for name in published]
    urls = (out / "dataset-files-urls.txt").read_text().split()
    assert urls == [f"http://127.0.0.1:8008/tiny/{name}" for name in published]
    lines = (out / "recall-projections.csv").read_text().splitlines()
    assert lines[0] == "data,size,algo,buildtime,querytime,params,recall"
    rows = [line.split(",") for line in lines[1:]]
    assert {(r[0], r[1]) for r in rows} == {(kind, label) for kind in ("hamming", "pca32", "pca96")
                                            for label in LABELS}
    assert all(0 < float(r[6]) <= 1 for r in rows)


def test_a_second_run_with_nothing_changed_does_nothing(tiny):
    _, config_path, parts, out = tiny
    again = make(out, parts, config_path, "artifacts")
    assert again.returncode == 0 and "Nothing to be done for 'artifacts'" in again.stdout, again.stdout
    assert make(out, parts, config_path, "-q", "artifacts").returncode == 0


def test_subsets_follow_the_nsfw_rules_and_queries_come_from_part_0(tiny):
    config, _, parts, out = tiny
    for spec in config.subsets:
        with h5py.File(out / bundle_name(config, "clip768", spec.label), "r") as file:
            np.testing.assert_array_equal(file["emb"][:], kept(parts, spec.parts, spec.rule, spec.rows))
    strict = kept(parts, [1, 2], "strict")
    dev = kept(parts, [1, 2], "dev", 1500)
    assert not np.array_equal(strict[:1500], dev), "the dev subset must differ from the strict prefix"
    rows = query_rows(config.sample.rows, config.query_set(QUERIES).count, config.query_set(QUERIES).seed)
    with h5py.File(out / bundle_name(config, "clip768", QUERIES), "r") as file:
        np.testing.assert_array_equal(file["emb"][:], np.load(npy_path(parts, 0))[rows].astype(np.float32))


def test_gold_standards_equal_a_float64_brute_force_ranked_by_float32_distance_then_id(tiny):
    """docs/design/data.md#gold-standards on every query: float64 distances, ranked by their float32 value, ties by
    ascending id, with planted exact duplicates and rows tied only in float32."""
    config, _, _, out = tiny
    with h5py.File(out / bundle_name(config, "clip768", QUERIES), "r") as file:
        queries = file["emb"][:].astype(np.float64)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    float32_only_ties = 0
    for label in LABELS:
        with h5py.File(out / bundle_name(config, "clip768", label), "r") as file:
            objects = file["emb"][:].astype(np.float64)
        objects /= np.linalg.norm(objects, axis=1, keepdims=True)
        dists64 = 1 - queries @ objects.T
        dists = dists64.astype(np.float32)
        ids = np.arange(1, len(objects) + 1)
        order = np.array([np.lexsort((ids, row))[:config.gold_k(QUERIES)] for row in dists])
        for kind, k in (("gold-f64", 50), ("gold", 10)):
            with h5py.File(out / bundle_name(config, kind, label), "r") as file:
                knns, stored = file["knns"][:], file["dists"][:]
            np.testing.assert_array_equal(knns, (order[:, :k] + 1).astype(np.int32))
            # Another float64 summation order may round to the neighbouring float32.
            np.testing.assert_allclose(stored, np.take_along_axis(dists, order[:, :k], 1), rtol=0, atol=2.0 ** -23)
            tied = stored[:, 1:] == stored[:, :-1]
            assert (stored[:, 1:] >= stored[:, :-1]).all() and (knns[:, 1:][tied] > knns[:, :-1][tied]).all()
        earlier, later = order[:, :-1], order[:, 1:]
        same32 = np.take_along_axis(dists, later, 1) == np.take_along_axis(dists, earlier, 1)
        later_nearer64 = np.take_along_axis(dists64, later, 1) < np.take_along_axis(dists64, earlier, 1)
        float32_only_ties += np.count_nonzero(same32 & later_nearer64)
    assert float32_only_ties > 0, "the planted rows must tie in float32 with the farther one first"
    with h5py.File(out / bundle_name(config, "gold", "P5"), "r") as file:
        knns, dists = file["knns"][0], file["dists"][0]
    tied = knns[dists == dists[0]]
    assert len(tied) >= 2 and np.all(np.diff(tied) > 0), "planted exact ties must come by ascending id"


def test_a_rows_projections_and_sketch_depend_on_the_row_alone(tiny):
    """P2's rows are the first rows of P5: the same bytes. And wherever the same vector
    occurs (the dev subset holds P2's rows at other places, planted copies of a query sit
    in the subsets), it has the same projections and sketch, as a query too."""
    config, _, _, out = tiny
    def read(kind, label):
        with h5py.File(out / bundle_name(config, kind, label), "r") as file:
            return file[LAYOUT[kind][0]][:]
    for kind in ("pca32", "pca96", "hamming"):
        prefix, whole = read(kind, "P2"), read(kind, "P5")
        assert prefix.tobytes() == whole[:len(prefix)].tobytes(), kind
        seen = {}
        for label in LABELS + (QUERIES,):
            vectors = read("clip768", label).astype(np.float16)
            for vector, output in zip(vectors, read(kind, label)):
                assert seen.setdefault(vector.tobytes(), output.tobytes()) == output.tobytes(), (kind, label)
        assert len(seen) < sum(len(read(kind, label)) for label in LABELS + (QUERIES,)) - 1000


def test_pca_projections_match_a_float64_reference_up_to_sign(tiny):
    config, _, _, out = tiny
    with h5py.File(out / bundle_name(config, "clip768", "P5"), "r") as file:
        train = file["emb"][:].astype(np.float64)
    train /= np.linalg.norm(train, axis=1, keepdims=True)
    mean = train.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(train - mean, rowvar=False))
    for d in (32, 96):
        components = vectors[:, ::-1][:, :d]
        for label in ("P2", QUERIES):
            with h5py.File(out / bundle_name(config, "clip768", label), "r") as file:
                x = file["emb"][:].astype(np.float64)
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            reference = (x - mean) @ components
            with h5py.File(out / bundle_name(config, f"pca{d}", label), "r") as file:
                projected = file[f"pca{d}"][:]
            signs = np.sign(np.sum(projected * reference, axis=0))
            np.testing.assert_allclose(projected, reference * signs, atol=2e-5)


def test_the_published_pca_model_projects_the_queries_as_the_published_files(tiny):
    """Anyone can project their own vectors as the published files were made: (x / |x| - mean) @
    components in float64 numpy, rounded to float32, is the published projection within one float32
    step (the files hold the float32 nearest to the exact product)."""
    config, _, _, out = tiny
    model = out / bundle_name(config, "pca-model", "P5")
    with h5py.File(out / bundle_name(config, "clip768", QUERIES), "r") as file:
        queries = file["emb"][:].astype(np.float64)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    for d in (32, 96):
        with h5py.File(model, "r") as file:
            mean, components = file[f"pca{d}_mean"][:], file[f"pca{d}_components"][:]
            assert file[f"pca{d}_eigenvalues"].shape == (d,) and components.shape == (768, d)
        with h5py.File(out / bundle_name(config, f"pca{d}", QUERIES), "r") as file:
            published = file[f"pca{d}"][:]
        ours = ((queries - mean) @ components).astype(np.float32)
        assert np.all(np.abs(ours - published) <= np.spacing(np.abs(published))), d


def test_metadata_tables_hold_one_escaped_line_per_object(tiny):
    config, _, parts, out = tiny
    spec = config.subset("P2")
    table = pq.read_table(parquet_path(parts, 1)).to_pylist() + pq.read_table(parquet_path(parts, 2)).to_pylist()
    expected = [r for r in table if r["NSFW"] is not None and r["NSFW"] != "NSFW"]
    lines = (out / bundle_name(config, "meta", spec.label)).read_text(encoding="utf-8").split("\n")
    assert lines[0] == "caption\tNSFW\tLICENSE\turl" and lines[-1] == ""
    assert len(lines) - 2 == len(expected)
    assert any("\t" in r["caption"] or "\n" in r["caption"] for r in expected)
    for line, row in zip(lines[1:], expected):
        fields = [unescape_field(f) for f in line.split("\t")]
        assert fields == [row["caption"], row["NSFW"], row["LICENSE"] or "", row["url"]]


def test_a_second_run_on_a_dask_local_cluster_gives_identical_md5s(tiny, tmp_path):
    """`make artifacts SCHEDULER=local` from scratch, the heavy stages' tasks on two worker
    processes: every file the same bytes as the plain run's (which also shows that two runs
    from scratch agree)."""
    config, config_path, parts, out = tiny
    names = [bundle.name for bundle in config.bundles()] + list(MANIFESTS)
    second = tmp_path / "second"
    run = make(second, parts, config_path, "artifacts", "SCHEDULER=local", "DASK_WORKERS=2", "DASK_THREADS=1")
    assert run.returncode == 0, run.stderr
    assert "Dask LocalCluster at tcp://127.0.0.1:" in run.stderr and "2 worker(s), 2 thread(s)" in run.stderr
    assert "gold standard P5, queries queries: on Dask at tcp://127.0.0.1:" in run.stderr and "dashboard http://127.0.0.1:" in run.stderr
    assert digests(second, names) == digests(out, names)


def test_killed_in_the_middle_and_rerun_gives_the_same_artifacts(tiny, tmp_path):
    """SIGKILL while a stage writes; no final name ever holds an incomplete file."""
    config, config_path, parts, out = tiny
    names = [bundle.name for bundle in config.bundles()] + list(MANIFESTS)
    reference = digests(out, names)
    crashed = tmp_path / "crashed"
    command = ["make", "-C", str(REPO), "-j2", "artifacts", f"PARTS={parts}", f"OUT={crashed}",
               f"RELEASE={config_path}"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if any(crashed.glob(".laion2B-en-pca*.tmp")):  # a projection is being written
                break
            assert_final_files_complete(crashed, reference)
            time.sleep(0.02)
        assert process.poll() is None, "the run ended before the kill"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert_final_files_complete(crashed, reference)
    assert not all((crashed / name).exists() for name in names)
    rerun = make(crashed, parts, config_path, "artifacts")
    assert rerun.returncode == 0, rerun.stderr
    assert digests(crashed, names) == reference


def assert_final_files_complete(out: Path, reference: dict[str, str]) -> None:
    for name, digest in reference.items():
        try:
            assert file_md5(out / name) == digest, f"{name} is present but incomplete"
        except FileNotFoundError:
            pass


# --- on Dask: a worker killed, Dask missing -------------------------------------------------

@pytest.fixture(scope="module")
def cluster():
    """Two worker processes of one thread on 127.0.0.1, no dashboard."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as local:
        yield local


@contextmanager
def killing(cluster, prefix: str, armed: Path, once: bool):
    """While in the block (while `armed` exists), a worker process SIGKILLs itself as a task
    whose key starts with `prefix` (the function's name) starts to run: the first such task of
    the cluster only when `once` (it removes `armed`), every one otherwise. Disarmed rather than
    unregistered at the end: workers may still be restarting then."""
    class KillWorker(WorkerPlugin):
        name = "kill-worker"

        def transition(self, key, start, finish, **kwargs):
            if finish != "executing" or not str(key).startswith(prefix):
                return
            try:
                if once:
                    os.remove(armed)
                elif not os.path.exists(armed):
                    return
            except FileNotFoundError:
                return
            os.kill(os.getpid(), signal.SIGKILL)

    armed.touch()
    try:
        with Client(cluster) as client:
            client.wait_for_workers(len(cluster.workers))
            client.register_plugin(KillWorker())
        yield
    finally:
        armed.unlink(missing_ok=True)


def gold_on_dask(tiny, work: Path, cluster, monkeypatch) -> None:
    """The gold stage of P2 on the cluster, on a grid of 3 query blocks x 4 row blocks (so that
    merges run on the workers too), from copies of the subset and the queries in `work`."""
    config, _, _, out = tiny
    for label in ("P2", QUERIES):
        shutil.copy(out / bundle_name(config, "clip768", label), work)
    monkeypatch.setattr(stages, "GOLD_BLOCK_ROWS", 500)
    monkeypatch.setattr(stages, "GOLD_QUERY_ROWS", 40)
    stages.write_gold(stages.Run(config, work, work, scheduler=Scheduler(cluster.scheduler_address)), f"P2/{QUERIES}")


def test_a_worker_killed_during_the_gold_stage_changes_no_result(tiny, cluster, tmp_path, monkeypatch):
    config, _, _, out = tiny
    names = [bundle_name(config, kind, "P2") for kind in ("gold", "gold-f64")]
    armed = tmp_path.parent / f"{tmp_path.name}-armed"
    with killing(cluster, "screen_of_rows", armed, once=True):
        gold_on_dask(tiny, tmp_path, cluster, monkeypatch)
        assert not armed.exists(), "a worker must have been killed"
    assert digests(tmp_path, names) == digests(out, names)


def test_workers_killed_past_the_retries_fail_the_stage_by_name_and_write_nothing(tiny, cluster, tmp_path,
                                                                                  monkeypatch):
    config, _, _, _ = tiny
    allowed = cluster.scheduler.allowed_failures
    cluster.scheduler.allowed_failures = 0
    try:
        with killing(cluster, "screen_of_rows", tmp_path.parent / f"{tmp_path.name}-armed", once=False), \
                pytest.raises(TaskError) as error:
            gold_on_dask(tiny, tmp_path, cluster, monkeypatch)
    finally:
        cluster.scheduler.allowed_failures = allowed
    assert re.fullmatch(r"gold standard P2, queries queries: screen, queries \d+\.\.\d+ x rows [\d,]+\.\.[\d,]+: the Dask worker "
                        r"running it died 1 time\(s\) .*", str(error.value)), str(error.value)
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        bundle_name(config, "clip768", label) for label in ("P2", QUERIES))


@pytest.mark.parametrize("scheduler, stage", [("local", ["gold", "P2/queries"]), ("tcp://127.0.0.1:1", ["pca", "P2"]),
                                               ("local", ["local-cluster", "--", "true"])])
def test_without_dask_a_scheduler_is_one_error_saying_how_to_install_it(tiny, tmp_path, scheduler, stage):
    """Dask made unimportable, as in an installation without the 'dask' extra."""
    config, config_path, _, out = tiny
    for label in ("P2", QUERIES):
        shutil.copy(out / bundle_name(config, "clip768", label), tmp_path)
    before = sorted(tmp_path.rglob("*"))
    without_dask = ("import sys; sys.modules.update(dask=None, distributed=None); "
                    "from generator.cli import main; sys.exit(main())")
    options = ["--scheduler", scheduler] if stage[0] != "local-cluster" else []
    run = subprocess.run([sys.executable, "-c", without_dask, "pipeline", "--release", str(config_path),
                          "--parts", str(tmp_path), "--out", str(tmp_path), *options, *stage],
                         cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr == (f"error: --scheduler {scheduler} (SCHEDULER={scheduler}) needs Dask, which is not installed: "
                          "install the project's 'dask' extra with `pip install -e '.[dask]'` in its folder (make "
                          "does it itself when SCHEDULER is set)\n")
    assert sorted(tmp_path.rglob("*")) == before


# --- bad inputs: a clear error naming the file, and nothing written ------------------------

def damaged_copy(parts: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "parts"
    shutil.copytree(parts, copy)
    return copy


def save_raw(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as stream:
        np.lib.format.write_array(stream, array, allow_pickle=False)


def drop_rows(parts: Path) -> Path:
    path = npy_path(parts, 2)
    save_raw(path, np.load(path)[:-1])
    return path


def wrong_dtype(parts: Path) -> Path:
    path = npy_path(parts, 2)
    save_raw(path, np.load(path).astype(np.float32))
    return path


def wrong_dimension(parts: Path) -> Path:
    path = npy_path(parts, 2)
    save_raw(path, np.load(path)[:, :512])
    return path


def truncated(parts: Path) -> Path:
    path = npy_path(parts, 2)
    content = path.read_bytes()
    path.write_bytes(content[:len(content) // 2])
    return path


def no_nsfw_column(parts: Path) -> Path:
    path = parquet_path(parts, 2)
    pq.write_table(pq.read_table(path).drop_columns(["NSFW"]), path)
    return path


def missing_part(parts: Path) -> Path:
    path = parquet_path(parts, 2)
    path.unlink()
    return path


# Damage to the values of part 5, which neither subset P2 nor the queries read: every part of the
# release is checked before any stage that reads parts writes.

def with_nsfw(parts: Path, column: pa.Array) -> Path:
    path = parquet_path(parts, 5)
    table = pq.read_table(path)
    pq.write_table(table.set_column(table.schema.get_field_index("NSFW"), "NSFW", column), path)
    return path


def nsfw_integers(parts: Path) -> Path:
    return with_nsfw(parts, pa.array(np.zeros(1000, dtype=np.int64)))


def nsfw_all_empty(parts: Path) -> Path:
    return with_nsfw(parts, pa.nulls(1000, pa.string()))


def nsfw_unknown_value(parts: Path) -> Path:
    return with_nsfw(parts, pa.array(["UNLIKELY"] * 17 + ["nsfw"] + ["UNSURE"] * 982))


def empty_metadata(parts: Path) -> Path:
    """A 0-row parquet (same columns) beside the part's full npy file."""
    path = parquet_path(parts, 5)
    pq.write_table(pq.read_table(path).slice(0, 0), path)
    return npy_path(parts, 5)


def empty_part(parts: Path) -> Path:
    """Both files of a part hold 0 rows."""
    empty_metadata(parts)
    save_raw(npy_path(parts, 5), np.zeros((0, 768), dtype=np.float16))
    return npy_path(parts, 5)


def set_embeddings(parts: Path, index, value: float) -> Path:
    path = npy_path(parts, 5)
    embeddings = np.load(path)
    embeddings[index] = value
    np.save(path, embeddings)
    return path


def nan_row(parts: Path) -> Path:
    return set_embeddings(parts, (123, 7), np.nan)


def infinite_row(parts: Path) -> Path:
    return set_embeddings(parts, (7, 0), np.inf)


def zero_rows(parts: Path) -> Path:
    return set_embeddings(parts, [40, 41], 0)


@pytest.mark.parametrize("damage, message", [
    (drop_rows, "not row-aligned"), (wrong_dtype, "expected row-major float16"),
    (wrong_dimension, "expected (rows, 768)"), (truncated, "truncated"),
    (no_nsfw_column, "no 'NSFW' column"), (missing_part, "missing"),
    (nsfw_integers, "has an 'NSFW' column of int64, not text (UNLIKELY, UNSURE, NSFW or empty)"),
    (nsfw_all_empty, "has no value in its 'NSFW' column (1,000 rows, all empty): the strict rule would keep "
                     "none of them and the dev rule all"),
    (nsfw_unknown_value, "row 17: the NSFW value 'nsfw' is not one of UNLIKELY, UNSURE, NSFW (or empty)"),
    (nan_row, "row 123 holds NaN and cannot be normalised (1 such row in the part)"),
    (infinite_row, "row 7 holds an infinite value and cannot be normalised (1 such row in the part)"),
    (zero_rows, "row 40 is all zeros and cannot be normalised (2 such rows in the part)"),
    (empty_metadata, "holds 1,000 rows but {parts}/laion2B-en-metadata/metadata_0005.parquet holds 0: the part is "
                     "not row-aligned"),
    (empty_part, "holds 0 rows and so does {parts}/laion2B-en-metadata/metadata_0005.parquet: the part is empty")])
def test_a_bad_part_is_named_and_no_stage_writes(tiny, tmp_path, damage, message):
    config, _, parts, _ = tiny
    parts = damaged_copy(parts, tmp_path)
    damaged = damage(parts)
    out = tmp_path / "out"
    run = stages.Run(config, parts, out)
    for write in (lambda: stages.write_subset(run, "P2"), lambda: stages.write_queries(run, QUERIES),
                  lambda: stages.write_meta(run, "P2"), lambda: stages.checked_parts(config, parts, out)):
        with pytest.raises(InputError) as error:
            write()
        assert f"{damaged}: " in str(error.value) and message.format(parts=parts) in str(error.value)
    assert not out.exists()


def test_rows_are_judged_as_their_float32_norms_would_be(tmp_path):
    rows = np.ones((40_000, 768), dtype=np.float16)  # more than one block
    rows[3] = -0.0                              # all zeros, with the sign bit set
    rows[4] = np.float16(6e-8)                  # subnormal, but not zero: fine
    rows[5, 9] = -np.inf
    rows[6] = np.float16(65504)                 # the largest float16: fine
    rows[39_999, 0] = np.nan                    # in the last block
    save_raw(tmp_path / "img_emb_0000.npy", rows)
    with pytest.raises(InputError) as error:
        check_embedding_rows([Part(0, tmp_path / "img_emb_0000.npy", tmp_path / "unused.parquet", len(rows))])
    squares = np.einsum("ij,ij->i", rows.astype(np.float32), rows.astype(np.float32))
    assert np.flatnonzero(~(np.isfinite(squares) & (squares > 0))).tolist() == [3, 5, 39_999]
    assert str(error.value).endswith("row 3 is all zeros and cannot be normalised (3 such rows in the part)")


def test_a_part_is_read_once_per_version(tiny, tmp_path):
    config, _, parts, _ = tiny
    parts = damaged_copy(parts, tmp_path)
    an_hour_ago = time.time() - 3600
    for path in parts.rglob("*.*"):
        os.utime(path, (an_hour_ago, an_hour_ago))  # not just written: its stamp can be trusted
    memo, rows = tmp_path / "memo", []
    assert [part.rows for part in check_all_parts(parts, config.parts, memo, rows.append)] == [1000] * 6
    assert sum(rows) == 6000
    rows.clear()
    assert len(check_all_parts(parts, config.parts, memo, rows.append)) == 6 and rows == []
    # Part 5 rewritten with a NaN and its modification time set back: its change time tells.
    time.sleep(0.05)
    nan_row(parts)
    os.utime(npy_path(parts, 5), (an_hour_ago, an_hour_ago))
    with pytest.raises(InputError, match="row 123 holds NaN"):
        check_all_parts(parts, config.parts, memo, rows.append)
    assert sum(rows) == 1000  # only part 5 was read again


@pytest.mark.parametrize("damage, message", [
    (truncated, "is truncated"), (nan_row, "row 123 holds NaN"),
    (empty_metadata, "holds 1,000 rows but {parts}/laion2B-en-metadata/metadata_0005.parquet holds 0"),
    (empty_part, "holds 0 rows and so does {parts}/laion2B-en-metadata/metadata_0005.parquet")])
def test_make_reports_a_bad_part_by_name_and_leaves_no_artifact(tiny, tmp_path, damage, message):
    _, config_path, parts, _ = tiny
    parts = damaged_copy(parts, tmp_path)
    damaged = damage(parts)
    out = tmp_path / "out"
    run = make(out, parts, config_path, "queries")  # part 0 only, and still refused
    assert run.returncode != 0
    assert f"error: {damaged}: {message.format(parts=parts)}" in run.stderr and "Traceback" not in run.stderr
    assert run.stderr.count("error: ") == 1, run.stderr
    assert [p.name for p in out.iterdir() if p.name not in (".rules", ".stamps")] == []


def test_make_names_a_missing_part(tiny, tmp_path):
    _, config_path, parts, _ = tiny
    parts = damaged_copy(parts, tmp_path)
    missing = missing_part(parts)
    run = make(tmp_path / "out", parts, config_path, "meta")
    assert run.returncode != 0 and f"{missing}: part file is missing" in run.stderr, run.stderr


OFFICIAL_MODEL = OFFICIAL_BINWALK


def test_hamming_with_the_official_model_follows_the_rule_of_spec_section_2(tiny, tmp_path):
    """Every bit whose two distances differ by more than 1e-5 is as the rule of
    docs/design/data.md#binwalk-sketches says."""
    config, _, _, out = tiny
    official = tmp_path / "official.yml"
    official.write_text(TINY_RELEASE.replace("  create: {seed: 1, sample_rows: 2000}", f"  model: {OFFICIAL_MODEL}"))
    work = tmp_path / "out"
    work.mkdir()
    shutil.copy(out / bundle_name(config, "clip768", "P2"), work)
    stages.write_hamming(stages.Run(read_release(official), tmp_path, work), "P2")
    with h5py.File(OFFICIAL_MODEL, "r") as file:
        model = file["model"][()]
        refs = np.asarray(file[model["refs"]["matrix"]], dtype=np.float32)
        pool = np.asarray(file[model["pool"]], dtype=np.int64) - 1
    with h5py.File(work / bundle_name(config, "clip768", "P2"), "r") as file:
        x = file["emb"][:200].astype(np.float32)
    with h5py.File(work / bundle_name(config, "hamming", "P2"), "r") as file:
        words = file["hamming"][:200]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    compared = 0
    for g in range(16):
        v = 1 - x @ refs[pool[g]].T                        # (rows, 64)
        following = np.roll(v, -1, axis=1)
        expected = v < following
        bits = (words[:, g, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)
        clear = np.abs(v - following) > 1e-5
        np.testing.assert_array_equal(bits.astype(bool)[clear], expected[clear])
        compared += clear.sum()
    assert compared > 0.9 * 200 * 1024


def test_the_command_names_an_unknown_subset_without_a_traceback(tiny, tmp_path):
    _, config_path, parts, _ = tiny
    run = subprocess.run([sys.executable, "-m", "generator", "pipeline", "--release", str(config_path),
                          "--parts", str(parts), "--out", str(tmp_path), "gold", "10M"],
                         cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 1, run.stderr
    assert run.stderr == (f"error: '10M' is not a label stage 'gold' runs for in {config_path} "
                          "(labels: 1500/queries, P2/queries, P5/queries)\n")
    assert list(tmp_path.iterdir()) == []


# --- what a change rebuilds: make -n after an edit of the release or of the code ---------------
# (docs/design/pipeline.md#rebuild-dependencies)

def planned(run: subprocess.CompletedProcess) -> set[tuple[str, ...]]:
    """The stage commands (stage and label) `make -n` would run."""
    assert run.returncode == 0, run.stderr
    commands = {tuple(line.rsplit("'", 1)[1].split()) for line in run.stdout.splitlines()
                if " -m generator pipeline " in line and " rules --to " not in line}
    return commands - {()}


def copied_out(out: Path, tmp_path: Path, name: str = "out") -> Path:
    """A copy of OUT with its files' times (its stamps included), for make -n to judge: make -n
    still rewrites the stamps (they are written with the rules), so each edit gets its own."""
    copy = tmp_path / name
    shutil.copytree(out, copy)
    return copy


def edited_release(config_path: Path, tmp_path: Path, old: str, new: str) -> Path:
    text = config_path.read_text()
    assert old in text
    edited = tmp_path / f"edited-{len(list(tmp_path.glob('edited-*')))}.yml"
    edited.write_text(text.replace(old, new, 1))
    return edited


def code_copy(tmp_path: Path, module: str, old: str, new: str) -> Path:
    """The Makefile and the package copied, one line of `module` edited; make run there uses the
    copy (its python runs from the copy's folder) with this checkout's environment."""
    root = tmp_path / "code"
    root.mkdir()
    shutil.copy2(REPO / "Makefile", root)
    for name in ("pyproject.toml", "constraints.txt", "mkdocs.yml"):
        shutil.copy2(REPO / name, root)  # copy2: older than .venv/.installed, no reinstall
    shutil.copytree(REPO / "generator", root / "generator", ignore=shutil.ignore_patterns("__pycache__"))
    (root / ".venv").symlink_to(REPO / ".venv")
    path = root / module
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))
    return root


ALL_LABELS = ("1500", "P2", "P5")
VECTOR_LABELS = ALL_LABELS + (QUERIES,)
PCA_AND_AFTER = {("pca-model",), *(("pca", label) for label in VECTOR_LABELS), ("recall",), ("manifests",)}
SKETCHES_AND_AFTER = {("sketch-model",), *(("hamming", label) for label in VECTOR_LABELS)}


def test_nothing_changed_plans_nothing_and_a_publish_list_only_the_manifests(tiny, tmp_path):
    _, config_path, parts, out = tiny
    assert planned(make(copied_out(out, tmp_path, "same"), parts, config_path, "-n", "artifacts")) == set()
    published = edited_release(config_path, tmp_path, "publish: [P5, P2, 1500, queries]\n  - id: pca96",
                               "publish: [P5, queries]\n  - id: pca96")
    assert planned(make(copied_out(out, tmp_path, "published"), parts, published, "-n", "artifacts")) == \
        {("manifests",)}
    renamed = edited_release(config_path, tmp_path, "name: Tiny test release", "name: A tiny release, renamed")
    assert planned(make(copied_out(out, tmp_path, "renamed"), parts, renamed, "-n", "artifacts")) == set()


def test_a_new_training_subset_plans_the_pca_and_the_created_sketch_model_and_their_files(tiny, tmp_path):
    """The sketch model of `sketches: create` is drawn from the training subset too."""
    _, config_path, parts, out = tiny
    trained = edited_release(config_path, tmp_path, "pca: {train: P5}", "pca: {train: P2}")
    assert planned(make(copied_out(out, tmp_path), parts, trained, "-n", "artifacts")) == \
        PCA_AND_AFTER | SKETCHES_AND_AFTER


@pytest.mark.parametrize("old, new, expected", [
    ('          lambda run, label: write_gold(run, label), _gold_definition),',
     '          lambda run, label: write_gold(run, label), _gold_definition, version=2),',
     {*(("gold", f"{label}/{QUERIES}") for label in ALL_LABELS), ("recall",), ("manifests",)}),
    ("BLOCK_ROWS = 65536 ", "BLOCK_ROWS = 32768 ", PCA_AND_AFTER),
    ("COVARIANCE_ROWS = 4096 ", "COVARIANCE_ROWS = 2048 ", PCA_AND_AFTER)],
    ids=["gold's version", "BLOCK_ROWS", "COVARIANCE_ROWS"])
def test_a_stage_version_or_numerics_constant_plans_that_stage_and_what_follows(tiny, tmp_path, old, new, expected):
    _, config_path, parts, out = tiny
    root = code_copy(tmp_path, "generator/pipeline/stages.py", old, new)
    command = ["make", "-C", str(root), "-n", "artifacts", f"PARTS={parts}", f"OUT={copied_out(out, tmp_path)}",
               f"RELEASE={config_path}"]
    assert planned(subprocess.run(command, capture_output=True, text=True)) == expected


# Stages whose bytes no BLAS or machine can change (copies, and gold standards exact in float64):
# their files on the tiny parts are recorded with the stage's version.
PINNED = ("subset", "queries", "meta", "gold")
STAGE_OUTPUTS = REPO / "tests" / "reference" / "stage-outputs.json"


def stage_outputs(config, out: Path) -> dict[str, dict]:
    recorded = {}
    for name in PINNED:
        chosen = stages.stage(name)
        files = [file for label in chosen.labels(config) for file in chosen.outputs(config, label)]
        recorded[name] = {"version": chosen.version, "files": {file: file_md5(out / file) for file in sorted(files)}}
    return recorded


def test_a_stage_whose_bytes_changed_has_a_new_version(tiny):
    """Fails when a change of code changes a pinned stage's bytes and not its version (make would
    then keep the old files): raise the version in the stage table, and record the new bytes in
    tests/reference/stage-outputs.json."""
    config, _, _, out = tiny
    recorded = json.loads(STAGE_OUTPUTS.read_text(encoding="utf-8"))
    now = stage_outputs(config, out)
    for name in PINNED:
        assert now[name] == recorded[name], (
            f"stage {name}: its bytes or version differ from those recorded: a change of bytes needs a new version "
            f"(then record both in {STAGE_OUTPUTS.name})")
