"""The pipeline's stages (SPEC §2, §6) and the one table of them that the command line, the
make rules and a scheduler read.

Each stage reads its inputs, computes with the kernels and writes its output files, each
from this one place, crash-safe (temporary name, then rename). Heavy stages stream: a
subset is read and written in row blocks, so memory is bounded by a block or a part,
never by a subset. A stage checks the parts it reads (headers) before it starts an output,
so a bad part leaves nothing behind.

The heavy work (the PCA fit, projections, sketches, gold standards) is split on a fixed
grid of row ranges: each `*_of_rows` function opens its own input files and returns arrays
for rows start..stop, and runs as a task of an executor (`schedule`): in this process, or on
Dask when the run names a scheduler. The `write_*` functions are the one place that writes
each output file, from this process, merging partial results along the executor's fixed
tree, so the bytes are the same whichever executor ran the tasks.
"""
from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, Mapping

import numpy as np
from tqdm import tqdm

from generator.errors import ProjectError
from generator.io.checksums import file_md5
from generator.io.files import atomic_output, atomic_write_text
from generator.io.h5 import h5_output, h5_shape, read_h5, write_h5
from generator.manifests.model import MANIFEST_FILES
from generator.manifests.write import manifest_texts
from generator.pipeline import meta, recall
from generator.pipeline.binwalk import read_binwalk_model
from generator.pipeline.blas import blas_report, map_on_blas_threads
from generator.pipeline.gold import merge_candidates, merge_topk, rerank, screen
from generator.pipeline.model import BinWalkModel, Candidates, PCAModel, TopK
from generator.pipeline.parts import Part, check_all_parts, npy_image, read_columns, read_embeddings, write_part
from generator.pipeline.pca import CovarianceAccumulator, project, stacked
from generator.pipeline.queries import query_rows
from generator.pipeline.sample import part_embeddings, part_metadata
from generator.pipeline.schedule import Scheduler, Task, open_executor, progress, row_ranges, tree_reduce
from generator.pipeline.sketches import create_binwalk_model, sketch
from generator.pipeline.subsets import select_rows
from generator.release.model import (EMBEDDING_DIM, GOLD, META, NSFW_COLUMN, PCA, SKETCHES, BundleKind,
                                     DatasetLayout, Layout, Release, SampleSettings)
from generator.release.recall import RECALL_FILE, RecallRow, recall_csv

log = logging.getLogger(__name__)

COPY_ROWS = 65536          # rows copied per step when cutting a subset
BLOCK_ROWS = 65536         # rows per task of the PCA fit, projections and sketches (100 MB of float16)
COVARIANCE_ROWS = 4096     # rows per partial sum of the PCA fit, each one product with one BLAS thread
GOLD_BLOCK_ROWS = 2**19    # rows per gold screen and re-rank task (800 MB of float16): each call's first tiles
                           # cost extra, so few large calls are fastest; fixed, to bound memory
GOLD_QUERY_ROWS = 5000     # queries per gold task: the challenge's 10,000 in two blocks, twice the tasks to share
                           # out; their candidates at k = 1000 take 113 MB
RECALL_BLOCK_ROWS = 2**20  # rows per faiss flat index of the recall search (a part; 400 MB of pca96)


@dataclass(frozen=True)
class Run:
    """What every stage is given: the release, the folder of the parts, the folder of the
    artifacts, (for the manifests) the URL folder replacing the release's base_url, and where
    the heavy stages' tasks run. Tasks get it too: it holds no open file or connection."""

    release: Release
    parts: Path
    out: Path
    base_url: str | None = None
    scheduler: Scheduler = Scheduler()


def _single(layout: Layout) -> DatasetLayout:
    return layout.datasets[0]


def _gold_datasets(layout: Layout) -> tuple[DatasetLayout, DatasetLayout]:
    """(ids, distances) of a gold standard's layout: the integer dataset holds the ids."""
    ids, = [d for d in layout.datasets if np.dtype(d.dtype).kind in "iu"]
    dists, = [d for d in layout.datasets if d is not ids]
    return ids, dists


def _vectors(run: Run, kind: BundleKind, label: str) -> tuple[Path, str]:
    """The file and dataset key of a kind's vectors of a subset (or the queries)."""
    bundle = run.release.bundle(kind, label)
    return run.out / bundle.name, _single(bundle.layout).key


def _embeddings(run: Run, label: str) -> tuple[Path, str]:
    return _vectors(run, run.release.embeddings, label)


# --- the sample ---------------------------------------------------------------------------

def write_sample(release: Release, folder: Path) -> None:
    if release.sample is None:
        raise ProjectError(f"{release.path} has no 'sample' section: it describes no synthetic parts")
    spec = release.sample
    with progress(spec.parts * spec.rows, "sample parts") as bar:
        for number in range(spec.parts):
            _write_sample_part(folder, spec, number)
            bar.update(spec.rows)


def _write_sample_part(folder: Path, spec: SampleSettings, number: int) -> None:
    """One part, its embeddings drawn straight into the npy file's bytes (and freed on return,
    before the next part's are allocated)."""
    image, embeddings = npy_image(spec.rows)
    part_embeddings(spec, number, out=embeddings)
    write_part(folder, number, image, part_metadata(spec, number))


# --- subsets, queries, metadata: from the parts -----------------------------------------------

CHECKED_PARTS = ".checked-parts"  # the folder of OUT where parts found good are remembered


def checked_parts(release: Release, parts: Path, out: Path) -> list[Part]:
    """Every part of the release, checked (headers, NSFW column, every row) before a stage that
    reads parts writes anything: a bad row in the last part stops a run before its first subset
    is written. A part is read once per version, not once per stage (see check_all_parts)."""
    with progress(None, "checking parts") as bar:
        return check_all_parts(parts, release.parts, out / CHECKED_PARTS, bar.update)


def _parts(run: Run, numbers) -> list[Part]:
    return [part for part in checked_parts(run.release, run.parts, run.out) if part.number in numbers]


def _selection(run: Run, label: str, columns: tuple[str, ...] = (NSFW_COLUMN,)
               ) -> Iterator[tuple[tuple[Part, dict], np.ndarray]]:
    """((part, its columns), kept row indices) in subset order; parts read one at a time."""
    spec = run.release.subset(label)
    parts = _parts(run, spec.parts)
    columns = tuple(dict.fromkeys((NSFW_COLUMN,) + columns))
    columns_of = ((part, read_columns(part, columns)) for part in parts)
    return select_rows(spec, (((part, cols), cols[NSFW_COLUMN]) for part, cols in columns_of))


def write_subset(run: Run, label: str) -> None:
    """Two passes: count the kept rows, then copy them into the preallocated dataset."""
    rows = sum(len(kept) for _, kept in _selection(run, label))
    final, key = _embeddings(run, label)
    dtype = _single(run.release.embeddings.layout).dtype
    with h5_output(final, {key: ((rows, EMBEDDING_DIM), dtype)}) as datasets, \
            progress(rows, f"subset {label}") as bar:
        position = 0
        for (part, _), kept in _selection(run, label):
            for first in range(0, len(kept), COPY_ROWS):
                chunk = kept[first:first + COPY_ROWS]
                datasets[key][position:position + len(chunk)] = read_embeddings(part, chunk)
                position += len(chunk)
                bar.update(len(chunk))
    log.info("%s: %d rows", final.name, rows)


def write_queries(run: Run) -> None:
    spec = run.release.queries
    (part,) = _parts(run, [spec.part])
    rows = query_rows(part.rows, spec.count, spec.seed)
    final, key = _embeddings(run, spec.label)
    dtype = _single(run.release.bundle(run.release.embeddings, spec.label).layout).dtype
    write_h5(final, {key: read_embeddings(part, rows).astype(dtype)})


def write_meta(run: Run, label: str) -> None:
    for kind in run.release.kinds_of(META):
        names = kind.layout.columns
        selection = _selection(run, label, names)  # the parts are checked before the file is started
        with atomic_output(run.out / kind.file_name(label)) as temporary, \
                open(temporary, "w", encoding="utf-8", newline="") as stream:
            stream.write(meta.header_line(names))
            for (_, columns), kept in selection:
                stream.write(meta.meta_lines(columns, names, kept))


# --- projections and gold standards: from the subset files ----------------------------------

def _ranges(path: Path, key: str, what: str, block_rows: int) -> Iterator[tuple[int, int]]:
    """Row ranges covering a dataset, with progress."""
    rows = h5_shape(path, key)[0]
    with progress(rows, what) as bar:
        for start, stop in row_ranges(rows, block_rows):
            yield start, stop
            bar.update(stop - start)


def _rows(run: Run, label: str) -> int:
    """The number of vectors of a subset (or the queries)."""
    return h5_shape(*_embeddings(run, label))[0]


def _row_tasks(function: Callable, run: Run, label: str, ranges: list[tuple[int, int]], what: str) -> list[Task]:
    """One task per row range of a subset (or the queries): function(run, label, start, stop)."""
    return [Task(function, (run, label, start, stop), f"{what}, rows {start:,}..{stop:,}", stop - start)
            for start, stop in ranges]


def covariance_of_rows(run: Run, label: str, start: int, stop: int) -> CovarianceAccumulator:
    """The PCA statistics of rows start..stop of a subset (merge them with tree_reduce).

    Partial sums of COVARIANCE_ROWS rows each, every one a product on one BLAS thread, merged
    along the fixed tree: a BLAS product may sum in another order on more threads, and the
    model must be the same bits whichever machine, executor or thread count ran the task.
    """
    block = read_h5(*_embeddings(run, label), start, stop)
    sums = map_on_blas_threads(
        lambda first: CovarianceAccumulator(EMBEDDING_DIM).add(block[first:first + COVARIANCE_ROWS], start + first),
        range(0, len(block), COVARIANCE_ROWS))
    return tree_reduce(CovarianceAccumulator.merge, sums)


def write_pca_model(run: Run) -> None:
    """The PCA model of every dimension, from the covariance of the training subset: partial
    sums of row blocks merged along the fixed tree (the same bits on any executor)."""
    train = run.release.pca_train
    what = f"PCA fit on {train}"
    tasks = _row_tasks(covariance_of_rows, run, train, row_ranges(_rows(run, train), BLOCK_ROWS), what)
    with open_executor(run.scheduler, what) as executor:
        (merged,) = executor.reduce([tasks], CovarianceAccumulator.merge, what)
        accumulator = executor.value(merged, what)
    arrays = {}
    for d in _pca_dims(run.release):
        model = accumulator.fit(d)
        arrays.update({f"pca{d}/mean": model.mean, f"pca{d}/components": model.components,
                       f"pca{d}/eigenvalues": model.eigenvalues})
    write_h5(run.out / run.release.pca_model_file(), arrays)


def _pca_dims(release: Release) -> list[int]:
    return [kind.layout.cols for kind in release.kinds_of(PCA)]


def _pca_model(run: Run, d: int) -> PCAModel:
    path = run.out / run.release.pca_model_file()
    return PCAModel(*(read_h5(path, f"pca{d}/{name}") for name in ("mean", "components", "eigenvalues")))


def _kinds_for(release: Release, computation: str, label: str) -> list[BundleKind]:
    """The kinds of a computation that have a file for `label` (the queries need a queries_file)."""
    return [kind for kind in release.kinds_of(computation)
            if label != release.queries.label or kind.queries_file is not None]


def pca_of_rows(run: Run, label: str, start: int, stop: int) -> dict[int, np.ndarray]:
    """{d: float32 (rows, d)} projections of rows start..stop of a subset (or the queries),
    every dimension in one pass over the rows."""
    dims = [kind.layout.cols for kind in _kinds_for(run.release, PCA, label)]
    projected = project(stacked([_pca_model(run, d) for d in dims]), read_h5(*_embeddings(run, label), start, stop), start)
    edges = np.cumsum([0, *dims])
    return {d: np.ascontiguousarray(projected[:, a:b]) for d, a, b in zip(dims, edges, edges[1:])}


def write_pca(run: Run, label: str) -> None:
    """Every PCA file of a subset (or the queries) in one pass over its vectors."""
    what = f"PCA {label}"
    rows = _rows(run, label)
    ranges = row_ranges(rows, BLOCK_ROWS)
    with open_executor(run.scheduler, what) as executor, ExitStack() as stack:
        datasets = {}
        for kind in _kinds_for(run.release, PCA, label):
            path, key = _vectors(run, kind, label)
            layout = _single(run.release.bundle(kind, label).layout)
            output = stack.enter_context(h5_output(path, {key: ((rows, layout.cols), layout.dtype)}))
            datasets[layout.cols] = output[key]
        for (start, stop), projections in zip(ranges, executor.map(_row_tasks(pca_of_rows, run, label, ranges, what),
                                                                   what)):
            for d, projected in projections.items():
                datasets[d][start:stop] = projected


def write_sketch_model(run: Run) -> None:
    release = run.release
    settings = release.sketches
    sample = read_h5(*_embeddings(run, release.pca_train), 0, settings.sample_rows)
    if len(sample) < release.sketch_refs:
        raise ProjectError(f"{release.path}: the sketch model needs {release.sketch_refs} reference rows but "
                           f"the training subset '{release.pca_train}' has only {len(sample)}")
    model = create_binwalk_model(sample, n_refs=release.sketch_refs, seed=settings.seed)
    write_h5(run.out / release.created_sketch_model_file(), {"refs": model.refs, "pool": model.pool})


def _sketch_model(run: Run) -> BinWalkModel:
    release = run.release
    if release.sketches.model is not None:
        model = read_binwalk_model(release.sketches.model)
        if model.groups * 64 != release.sketch_refs:
            raise ProjectError(f"{release.sketches.model}: the model has {model.groups} groups of 64 references, "
                               f"but the sketches of {release.path} have {release.sketch_refs // 64} words")
        return model
    path = run.out / release.created_sketch_model_file()
    return BinWalkModel(read_h5(path, "refs"), read_h5(path, "pool"))


def sketches_of_rows(run: Run, label: str, start: int, stop: int) -> np.ndarray:
    """uint64 (rows, words) sketches of rows start..stop of a subset (or the queries)."""
    return sketch(_sketch_model(run), read_h5(*_embeddings(run, label), start, stop))


def write_hamming(run: Run, label: str) -> None:
    what = f"sketches {label}"
    rows = _rows(run, label)
    ranges = row_ranges(rows, BLOCK_ROWS)
    with open_executor(run.scheduler, what) as executor:
        for kind in _kinds_for(run.release, SKETCHES, label):
            path, key = _vectors(run, kind, label)
            layout = _single(run.release.bundle(kind, label).layout)
            with h5_output(path, {key: ((rows, layout.cols), layout.dtype)}) as datasets:
                for (start, stop), words in zip(ranges, executor.map(
                        _row_tasks(sketches_of_rows, run, label, ranges, what), what)):
                    datasets[key][start:stop] = words


def _queries(run: Run, queries: tuple[int, int]) -> np.ndarray:
    return read_h5(*_embeddings(run, run.release.queries.label), *queries)


def screen_of_rows(run: Run, label: str, queries: tuple[int, int], start: int, stop: int,
                   known: Candidates | None = None) -> Candidates:
    """The gold-standard candidates of queries q0..q1 (`queries`) among rows start..stop of a
    subset (merge the row ranges' candidates with merge_candidates, then pass them to
    gold_of_rows). `known`, the candidates of another row range, only saves work: rows that
    cannot beat them are left out from the start (see screen)."""
    return screen(_queries(run, queries), read_h5(*_embeddings(run, label), start, stop), start + 1,
                  run.release.gold_k, known)


def _same(value: Candidates) -> Candidates:
    """A task's result given as it is: lets a result of an earlier wave join a merge tree."""
    return value


def gold_of_rows(run: Run, label: str, queries: tuple[int, int], start: int, stop: int,
                 candidates: Candidates) -> TopK:
    """The nearest (as many as the largest gold standard holds) of queries q0..q1 among rows
    start..stop, given their candidates in the whole subset (merge with merge_topk)."""
    return rerank(_queries(run, queries), read_h5(*_embeddings(run, label), start, stop), start + 1, candidates,
                  run.release.gold_k)


def _gold_tasks(function: Callable, run: Run, label: str, what: str, query_blocks: list[tuple[int, int]],
                blocks: list[tuple[int, int]], extras: list[tuple]) -> list[list[Task]]:
    """A group of tasks per block of queries, one per block of rows:
    function(run, label, queries, start, stop, *that query block's extras); each is worth its
    share of the subset's rows in progress."""
    queries = query_blocks[-1][1]
    return [[Task(function, (run, label, (q0, q1), start, stop, *extra),
                  f"{what}, queries {q0:,}..{q1:,} x rows {start:,}..{stop:,}", (stop - start) * (q1 - q0) / queries)
             for start, stop in blocks] for (q0, q1), extra in zip(query_blocks, extras)]


def write_gold(run: Run, label: str) -> None:
    """Exact nearest neighbours, on the grid of query blocks x row blocks: every block screened
    and the candidates of each query block merged, then every block re-ranked against them and
    merged; each gold file holds a prefix of the columns."""
    release = run.release
    rows, k = _rows(run, label), release.gold_k
    if rows < k:
        raise ProjectError(f"{release.subset(label).origin}: subset '{label}' has {rows:,} rows, "
                           f"fewer than the {k} neighbours of its gold standard")
    query_blocks = row_ranges(_rows(run, release.queries.label), GOLD_QUERY_ROWS)
    blocks = row_ranges(rows, GOLD_BLOCK_ROWS)
    what = f"gold standard {label}"
    with open_executor(run.scheduler, what) as executor:
        log.info("%s", blas_report())
        # Two waves: first as many row blocks as keep every worker thread present now busy (at
        # least one), then every other block told their candidates, so that it skips the rows they
        # already beat. Either way the candidates lead to the same gold standard; the first wave
        # only saves work.
        wave = max(1, -(-executor.threads // len(query_blocks)))
        first = executor.reduce(_gold_tasks(screen_of_rows, run, label, f"{what}: screen", query_blocks,
                                            blocks[:wave], [()] * len(query_blocks)), merge_candidates,
                                f"{what}: screen")
        screened = [[Task(_same, (known,), f"{what}: screen, queries {q0:,}..{q1:,}", 0), *rest]
                    for ((q0, q1), known), rest in zip(zip(query_blocks, first), _gold_tasks(
                        screen_of_rows, run, label, f"{what}: screen", query_blocks, blocks[wave:],
                        [(known,) for known in first]))]
        candidates = executor.reduce(screened, merge_candidates, f"{what}: screen")
        reranked = _gold_tasks(gold_of_rows, run, label, f"{what}: re-rank", query_blocks, blocks,
                               [(merged,) for merged in candidates])
        best = [executor.value(merged, f"{what}: re-rank")
                for merged in executor.reduce(reranked, partial(merge_topk, k=k), f"{what}: re-rank")]
    ids, dists = np.concatenate([part.ids for part in best]), np.concatenate([part.dists for part in best])
    for kind in release.kinds_of(GOLD):
        ids_layout, dists_layout = _gold_datasets(kind.layout)
        write_h5(run.out / kind.file_name(label),
                 {layout.key: np.ascontiguousarray(values[:, :layout.cols]).astype(layout.dtype)
                  for layout, values in ((ids_layout, ids), (dists_layout, dists))})


def write_recall(run: Run) -> None:
    """The recall CSV. It holds measured times, so unlike the bundles it differs run to run:
    `buildtime` is the filling of faiss's flat indexes, `querytime` their brute-force search."""
    release = run.release
    k, gold_kind = release.recall_k, release.recall_gold
    ids_key = _gold_datasets(gold_kind.layout)[0].key
    rows = []
    for label in release.labels:
        gold = read_h5(run.out / gold_kind.file_name(label), ids_key)
        for kind in sorted(_projections(release), key=lambda kind: kind.id):
            queries = read_h5(*_vectors(run, kind, release.queries.label))
            path, key = _vectors(run, kind, label)
            ranges = _ranges(path, key, f"recall {kind.id} {label}", RECALL_BLOCK_ROWS)
            search = recall.brute_force(queries, ((start, read_h5(path, key, start, stop)) for start, stop in ranges), k)
            rows.append(RecallRow(kind.id, label, "bruteforce", round(search.build, 6), round(search.query, 6), "",
                                  recall.recall_at(search.ids, gold, k)))
    atomic_write_text(run.out / RECALL_FILE, recall_csv(rows))


def _projections(release: Release) -> list[BundleKind]:
    """The kinds the recall table scores: projections with a queries file to search with."""
    return [kind for kind in release.kinds_of(PCA) + release.kinds_of(SKETCHES) if kind.queries_file]


def write_manifests(run: Run) -> None:
    """md5, size (human and exact) and URL manifests of every published bundle, as `md5sum -c`
    reads them in the artifacts folder."""
    names = [bundle.name for bundle in run.release.published()]
    records = []
    with tqdm(total=sum((run.out / name).stat().st_size for name in names), desc="md5", unit="B",
              unit_scale=True, disable=None, leave=False) as bar:
        for name in names:
            path = run.out / name
            records.append((name, path.stat().st_size, file_md5(path, bar.update)))
    for file_name, text in manifest_texts(records, run.base_url or run.release.base_url).items():
        atomic_write_text(run.out / file_name, text)


# --- the stage table -----------------------------------------------------------------------

SUBSETS, VECTORS, ONCE = "subset", "vectors", "once"


@dataclass(frozen=True)
class Needs:
    """What a stage reads: part numbers of the parts folder, files of the artifacts folder,
    and other files (the official sketch model)."""

    parts: tuple[int, ...] = ()
    out: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Stage:
    """One stage: the command `pipeline NAME [LABEL]`, the make rules of its files and the
    make target (`target`) that builds them. `scope` says what LABEL is: a subset, a subset
    or the queries, or nothing (`once`); `labels` lists the labels a release runs it for.

    What its files depend on besides the files it reads (docs/design/pipeline.md#rebuild-dependencies):
    `definition`, the part of the release definition it reads, as plain JSON data; `version`,
    raised whenever a change of its code can change the bytes it writes; `numerics`, the
    constants that fix the order of its floating-point work (and so the bits it writes)."""

    name: str
    help: str
    target: str
    scope: str
    labels: Callable[[Release], list[str | None]]
    outputs: Callable[[Release, str | None], list[str]]
    needs: Callable[[Release, str | None], Needs]
    run: Callable[[Run, str | None], None]
    definition: Callable[[Release, str | None], object]
    version: int = 1
    numerics: Mapping[str, int] = field(default_factory=dict)

    def stamp(self, release: Release, label: str | None) -> dict[str, object]:
        """What the stage's files of `label` are made from, besides the files it reads."""
        return {"stage": self.name, "label": label, "version": self.version, "numerics": dict(self.numerics),
                "definition": self.definition(release, label)}


def _all_subsets(release: Release) -> list[str | None]:
    return list(release.labels)


def _vector_labels(computation: str) -> Callable[[Release], list[str | None]]:
    def labels(release: Release) -> list[str | None]:
        return [label for label in release.labels + [release.queries.label]
                if _kinds_for(release, computation, label)]
    return labels


def _once_if(condition: Callable[[Release], bool]) -> Callable[[Release], list[str | None]]:
    return lambda release: [None] if condition(release) else []


def _files(release: Release, computation: str, label: str) -> list[str]:
    return [release.bundle(kind, label).name for kind in _kinds_for(release, computation, label)]


def _sketch_needs(release: Release, label: str) -> Needs:
    source = release.embeddings_file(label)
    if release.sketches.model is not None:
        return Needs(out=(source,), files=(release.sketches.model,))
    return Needs(out=(release.created_sketch_model_file(), source))


def _recall_needs(release: Release, _label) -> Needs:
    files = [name for kind in _projections(release)
             for name in [release.bundle(kind, label).name for label in release.labels + [release.queries.label]]]
    return Needs(out=tuple(files + [release.recall_gold.file_name(label) for label in release.labels]))


# --- the part of the release each stage reads ----------------------------------------------

def _layout_of(layout: Layout) -> dict[str, object]:
    return {"datasets": [[d.key, d.dtype, d.cols] for d in layout.datasets], "columns": list(layout.columns)}


def _bundles_of(release: Release, kinds: list[BundleKind], label: str) -> list[dict[str, object]]:
    """Name and layout of the bundles of `kinds` for `label` (not whether they are published)."""
    bundles = [release.bundle(kind, label) for kind in kinds]
    return [{"kind": bundle.kind.id, "name": bundle.name, "layout": _layout_of(bundle.layout)} for bundle in bundles]


def _subset_of(release: Release, label: str) -> dict[str, object]:
    spec = release.subset(label)
    return {"label": label, "parts": [spec.first_part, spec.last_part], "rule": spec.rule, "rows": spec.rows}


def _queries_of(release: Release) -> dict[str, object]:
    spec = release.queries
    return {"label": spec.label, "part": spec.part, "count": spec.count, "seed": spec.seed}


def _sketch_model_of(release: Release) -> dict[str, object]:
    settings = release.sketches
    if settings.model is not None:
        return {"model": str(settings.model), "refs": release.sketch_refs}
    return {"train": release.pca_train, "seed": settings.seed, "sample_rows": settings.sample_rows,
            "refs": release.sketch_refs, "file": release.created_sketch_model_file()}


def _sketch_model_definition(release: Release, _label: str | None) -> object:
    return _sketch_model_of(release)


def _subset_definition(release: Release, label: str | None) -> object:
    assert label is not None  # a stage of subsets (or the queries)
    return {"subset": _subset_of(release, label), "bundles": _bundles_of(release, [release.embeddings], label)}


def _queries_definition(release: Release, _label: str | None) -> object:
    return {"queries": _queries_of(release),
            "bundles": _bundles_of(release, [release.embeddings], release.queries.label)}


def _meta_definition(release: Release, label: str | None) -> object:
    assert label is not None  # a stage of subsets (or the queries)
    return {"subset": _subset_of(release, label), "bundles": _bundles_of(release, release.kinds_of(META), label)}


def _pca_model_definition(release: Release, _label: str | None) -> object:
    return {"train": release.pca_train, "dims": _pca_dims(release), "file": release.pca_model_file()}


def _pca_definition(release: Release, label: str | None) -> object:
    assert label is not None  # a stage of subsets (or the queries)
    return {"model": release.pca_model_file(), "bundles": _bundles_of(release, _kinds_for(release, PCA, label), label)}


def _hamming_definition(release: Release, label: str | None) -> object:
    assert label is not None  # a stage of subsets (or the queries)
    return {"model": _sketch_model_of(release), "bundles": _bundles_of(release, _kinds_for(release, SKETCHES, label),
                                                                         label)}


def _gold_definition(release: Release, label: str | None) -> object:
    assert label is not None  # a stage of subsets (or the queries)
    return {"queries": release.queries.label, "bundles": _bundles_of(release, release.kinds_of(GOLD), label)}


def _recall_definition(release: Release, _label: str | None) -> object:
    return {"k": release.recall_k, "gold": release.recall_gold.id, "labels": list(release.labels),
            "projections": [kind.id for kind in _projections(release)]}


def _manifests_definition(release: Release, _label: str | None) -> object:
    return {"published": [bundle.name for bundle in release.published()], "base_url": release.base_url}


STAGES: tuple[Stage, ...] = (
    Stage("subset", "cut a database subset from the parts: NSFW rule, concatenation", "subsets", SUBSETS,
          _all_subsets, lambda r, label: [r.embeddings_file(label)],
          lambda r, label: Needs(parts=tuple(r.subset(label).parts)),
          lambda run, label: write_subset(run, label), _subset_definition),
    Stage("queries", "take the query vectors from the query part", "queries", ONCE,
          _once_if(lambda r: True), lambda r, _: [r.embeddings_file(r.queries.label)],
          lambda r, _: Needs(parts=(r.queries.part,)),
          lambda run, _: write_queries(run), _queries_definition),
    Stage("meta", "write the metadata tables of a subset", "meta", SUBSETS,
          lambda r: _all_subsets(r) if r.kinds_of(META) else [],
          lambda r, label: [kind.file_name(label) for kind in r.kinds_of(META)],
          lambda r, label: Needs(parts=tuple(r.subset(label).parts)),
          lambda run, label: write_meta(run, label), _meta_definition),
    Stage("pca-model", "fit the PCA model on the training subset", "pca", ONCE,
          _once_if(lambda r: bool(r.kinds_of(PCA))), lambda r, _: [r.pca_model_file()],
          lambda r, _: Needs(out=(r.embeddings_file(r.pca_train),)),
          lambda run, _: write_pca_model(run), _pca_model_definition,
          numerics={"BLOCK_ROWS": BLOCK_ROWS, "COVARIANCE_ROWS": COVARIANCE_ROWS}),
    Stage("pca", "project a subset (or the queries) with the PCA model", "pca", VECTORS,
          _vector_labels(PCA), lambda r, label: _files(r, PCA, label),
          lambda r, label: Needs(out=(r.pca_model_file(), r.embeddings_file(label))),
          lambda run, label: write_pca(run, label), _pca_definition),
    Stage("sketch-model", "create a BinWalk model from the training subset (release 'sketches: create')",
          "hamming", ONCE,
          _once_if(lambda r: bool(r.kinds_of(SKETCHES)) and r.sketches.model is None),
          lambda r, _: [r.created_sketch_model_file()],
          lambda r, _: Needs(out=(r.embeddings_file(r.pca_train),)),
          lambda run, _: write_sketch_model(run), _sketch_model_definition),
    Stage("hamming", "compute the binary sketches of a subset (or the queries)", "hamming", VECTORS,
          _vector_labels(SKETCHES), lambda r, label: _files(r, SKETCHES, label), _sketch_needs,
          lambda run, label: write_hamming(run, label), _hamming_definition),
    Stage("gold", "compute the gold standards of a subset (exact, float64)", "gold", SUBSETS,
          lambda r: _all_subsets(r) if r.kinds_of(GOLD) else [],
          lambda r, label: [kind.file_name(label) for kind in r.kinds_of(GOLD)],
          lambda r, label: Needs(out=(r.embeddings_file(label), r.embeddings_file(r.queries.label))),
          lambda run, label: write_gold(run, label), _gold_definition),
    Stage("recall", "write the projection recall table recall-projections.csv", "recall", ONCE,
          _once_if(lambda r: bool(_projections(r))), lambda r, _: [RECALL_FILE], _recall_needs,
          lambda run, _: write_recall(run), _recall_definition),
    Stage("manifests", "write the md5, size and URL manifests of every published bundle", "manifests", ONCE,
          _once_if(lambda r: True), lambda r, _: list(MANIFEST_FILES),
          lambda r, _: Needs(out=tuple(b.name for b in r.published())),
          lambda run, _: write_manifests(run), _manifests_definition),
)

# The make targets of the stages, in the order `make help` lists them; `artifacts` is all of them.
TARGETS = tuple(dict.fromkeys(stage.target for stage in STAGES))


def stage(name: str) -> Stage:
    for candidate in STAGES:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def run_stage(run: Run, name: str, label: str | None) -> None:
    """Runs one stage for one label, after checking the label is one the release runs it for."""
    chosen = stage(name)
    labels = chosen.labels(run.release)
    if label not in labels:
        if chosen.scope == ONCE:
            raise ProjectError(f"stage '{name}' has nothing to do for {run.release.path}")
        raise ProjectError(f"'{label}' is not a label stage '{name}' runs for in {run.release.path} "
                           f"(labels: {', '.join(str(lbl) for lbl in labels)})")
    chosen.run(run, label)
