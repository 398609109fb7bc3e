"""The pipeline's stages (docs/design/releases.md#stage-table) and the one table of them that the command line, the
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
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np
from tqdm import tqdm

from generator.errors import ProjectError
from generator.io.checksums import file_md5
from generator.io.files import atomic_copy, atomic_output, atomic_write_text
from generator.io.h5 import h5_output, h5_shape, read_h5, write_h5
from generator.manifests.model import MANIFEST_FILES, URLS_FILE
from generator.manifests.write import manifest_texts
from generator.pipeline import meta, recall
from generator.pipeline.binwalk import read_binwalk_model
from generator.pipeline.blas import blas_report, map_on_blas_threads
from generator.pipeline.gold import merge_candidates, merge_topk, rerank, screen
from generator.pipeline.model import BinWalkModel, Candidates, PCAModel, TopK
from generator.pipeline.parts import Part, check_all_parts, npy_image, read_columns, read_embeddings, write_part
from generator.pipeline.pca import CovarianceAccumulator, project, stacked
from generator.pipeline.queries import candidate_rows, query_rows, selected
from generator.pipeline.sample import part_embeddings, part_metadata
from generator.pipeline.schedule import Scheduler, Task, open_executor, progress, row_ranges, tree_reduce
from generator.pipeline.sketches import create_binwalk_model, sketch
from generator.pipeline.subsets import select_rows
from generator.manifests.read import read_urls
from generator.release.model import (BUILT, DRAWN, EMBEDDING_DIM, EXTERNAL, META, NSFW_COLUMN, PCA, REUSED,
                                     SKETCHES, Bundle, BundleKind, DatasetLayout, Layout, Release,
                                     SampleSettings)
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

    def path(self, bundle: Bundle) -> Path:
        """Where a bundle's file is: the edition's folder `out`, or, for a file reused by reference,
        the earlier edition's folder beside it (named after that edition)."""
        return self.edition_folder(bundle.edition) / bundle.name

    def edition_folder(self, edition: str) -> Path:
        return self.out if edition in ("", self.release.edition) else self.out.parent / edition


def _single(layout: Layout) -> DatasetLayout:
    return layout.datasets[0]


def _gold_datasets(layout: Layout) -> tuple[DatasetLayout, DatasetLayout]:
    """(ids, distances) of a gold standard's layout: the integer dataset holds the ids."""
    ids, = [d for d in layout.datasets if np.dtype(d.dtype).kind in "iu"]
    dists, = [d for d in layout.datasets if d is not ids]
    return ids, dists


def _vectors(run: Run, kind: BundleKind, label: str) -> tuple[Path, str]:
    """The file and dataset key of a kind's vectors of a subset (or a query set)."""
    bundle = run.release.bundle(kind, label)
    return run.path(bundle), _single(bundle.layout).key


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


STAND_IN_PART = 9000  # the sample part number whose vectors stand in for a sample edition's external files


def write_sample_externals(run: Run) -> None:
    """Stand-ins for a sample edition's external files, so that it builds offline: an external
    set's vectors are drawn like a sample part's (a part no subset holds), float32, in its layout.
    A real edition's external files come from the organisers."""
    release = run.release
    if release.sample is None:
        raise ProjectError(f"{release.path} has no 'sample' section: its external files come from the organisers")
    for number, bundle in enumerate(b for b in release.bundles() if b.source == EXTERNAL):
        layout = _single(bundle.layout)
        rows = bundle.rows or release.sample.rows
        vectors = np.concatenate([part_embeddings(release.sample, STAND_IN_PART + number + n)
                                  for n in range(-(-rows // release.sample.rows))])[:rows]
        write_h5(run.path(bundle), {layout.key: vectors.astype(layout.dtype)})


# --- subsets, queries, metadata: from the parts -----------------------------------------------

CHECKED_PARTS = ".checked-parts"  # the folder of OUT where parts found good are remembered


def checked_parts(release: Release, parts: Path, out: Path) -> list[Part]:
    """Every part of the release, checked (headers, NSFW column, every row) before a stage that
    reads parts writes anything: a bad row in the last part stops a run before its first subset
    is written. A part is read once per version, not once per stage (see check_all_parts)."""
    with progress(None, "checking parts") as bar:
        return check_all_parts(parts, release.parts, out / CHECKED_PARTS, bar.update)


def _parts(run: Run, numbers: Iterable[int]) -> list[Part]:
    return [part for part in checked_parts(run.release, run.parts, run.out) if part.number in numbers]


def _selection(run: Run, label: str, columns: tuple[str, ...] = (NSFW_COLUMN,)
               ) -> Iterator[tuple[tuple[Part, dict[str, Any]], np.ndarray]]:
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


def write_queries(run: Run, label: str) -> None:
    """The 768d vectors of a query set: drawn from its part, selected by the filter rule, or the
    bytes of the earlier edition's file copied under this edition's name."""
    release = run.release
    spec = release.query_set(label)
    bundle = release.embeddings_bundle(label)
    final, key = run.path(bundle), _single(bundle.layout).key
    if spec.source == REUSED:
        atomic_copy(run.edition_folder(bundle.from_edition) / bundle.from_name, final)
        return
    (part,) = _parts(run, [spec.part or 0])
    if spec.source == DRAWN:
        rows = query_rows(part.rows, spec.count, spec.seed or 0)
    else:
        rows = _selected_rows(run, label, part)
    write_h5(final, {key: read_embeddings(part, rows).astype(_single(bundle.layout).dtype)})


SELECTION = ".selection"  # the folder of OUT holding the candidates of selected query sets while they are filtered


def _selected_rows(run: Run, label: str, part: Part) -> np.ndarray:
    """The part's rows of a selected query set: the candidates' k+1 nearest distances in the
    subset it is filtered against, computed as the gold standards are (exact, float32 of the
    float64 distance), so that the choice is the same on every machine."""
    spec = run.release.query_set(label)
    selection = spec.selection
    assert selection is not None
    rows = candidate_rows(part.rows, selection.candidates, spec.seed or 0)
    if len(rows) < spec.count:
        raise ProjectError(f"{spec.origin}: query set '{label}': {selection.candidates:,} draws gave only "
                           f"{len(rows):,} distinct candidates, fewer than the {spec.count:,} queries")
    candidates = run.out / SELECTION / f"{label}.h5"
    write_h5(candidates, {"emb": read_embeddings(part, rows).astype(np.float32)})
    try:
        best = nearest(run, selection.against, (candidates, "emb"), selection.k + 1, f"query filter {label}")
    finally:
        candidates.unlink(missing_ok=True)
    chosen: np.ndarray = rows[selected(best.dists, spec.count, selection.k, selection.min_sum)]
    return chosen


def write_meta(run: Run, label: str) -> None:
    for kind in run.release.kinds_of(META):
        names = kind.layout.columns
        selection = _selection(run, label, names)  # the parts are checked before the file is started
        with atomic_output(run.path(run.release.bundle(kind, label))) as temporary, \
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
    """The number of vectors of a subset (or a query set)."""
    return h5_shape(*_embeddings(run, label))[0]


def _row_tasks(function: Callable[..., Any], run: Run, label: str, ranges: list[tuple[int, int]],
               what: str) -> list[Task]:
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
        arrays.update({f"pca{d}_mean": model.mean, f"pca{d}_components": model.components,
                       f"pca{d}_eigenvalues": model.eigenvalues})
    write_h5(run.out / run.release.pca_model_file(), arrays)


def _pca_dims(release: Release) -> list[int]:
    return [kind.layout.vector_cols for kind in release.kinds_of(PCA)]


def _pca_model(run: Run, d: int) -> PCAModel:
    path = run.out / run.release.pca_model_file()
    return PCAModel(*(read_h5(path, f"pca{d}_{name}") for name in ("mean", "components", "eigenvalues")))


def _kinds_for(release: Release, computation: str, label: str) -> list[BundleKind]:
    """The kinds of a computation whose file for `label` (a subset or a query set) this edition builds."""
    return [kind for kind in release.kinds_of(computation)
            if (not release.is_query_label(label) or kind.makes_queries(label))
            and release.bundle(kind, label).source == BUILT]


def pca_of_rows(run: Run, label: str, start: int, stop: int) -> dict[int, np.ndarray]:
    """{d: float32 (rows, d)} projections of rows start..stop of a subset (or the queries),
    every dimension in one pass over the rows."""
    dims = [kind.layout.vector_cols for kind in _kinds_for(run.release, PCA, label)]
    rows = read_h5(*_embeddings(run, label), start, stop)
    projected = project(stacked([_pca_model(run, d) for d in dims]), rows, start)
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


@dataclass(frozen=True)
class Search:
    """What a gold search reads and keeps: the query vectors (file, dataset key) and k."""

    source: tuple[Path, str]
    k: int


def _queries(search: Search, queries: tuple[int, int]) -> np.ndarray:
    return read_h5(*search.source, *queries)


def screen_of_rows(run: Run, label: str, search: Search, queries: tuple[int, int], start: int, stop: int,
                   known: Candidates | None = None) -> Candidates:
    """The gold-standard candidates of queries q0..q1 (`queries`) among rows start..stop of a
    subset (merge the row ranges' candidates with merge_candidates, then pass them to
    gold_of_rows). `known`, the candidates of another row range, only saves work: rows that
    cannot beat them are left out from the start (see screen)."""
    return screen(_queries(search, queries), read_h5(*_embeddings(run, label), start, stop), start + 1,
                  search.k, known)


def _same(value: Candidates) -> Candidates:
    """A task's result given as it is: lets a result of an earlier wave join a merge tree."""
    return value


def gold_of_rows(run: Run, label: str, search: Search, queries: tuple[int, int], start: int, stop: int,
                 candidates: Candidates) -> TopK:
    """The k nearest of queries q0..q1 among rows start..stop, given their candidates in the whole
    subset (merge with merge_topk)."""
    return rerank(_queries(search, queries), read_h5(*_embeddings(run, label), start, stop), start + 1, candidates,
                  search.k)


def _gold_tasks(function: Callable[..., Any], run: Run, label: str, search: Search, what: str,
                query_blocks: list[tuple[int, int]], blocks: list[tuple[int, int]],
                extras: list[tuple[Any, ...]]) -> list[list[Task]]:
    """A group of tasks per block of queries, one per block of rows:
    function(run, label, search, queries, start, stop, *that query block's extras); each is worth
    its share of the subset's rows in progress."""
    queries = query_blocks[-1][1]
    return [[Task(function, (run, label, search, (q0, q1), start, stop, *extra),
                  f"{what}, queries {q0:,}..{q1:,} x rows {start:,}..{stop:,}", (stop - start) * (q1 - q0) / queries)
             for start, stop in blocks] for (q0, q1), extra in zip(query_blocks, extras)]


def gold_label(subset: str, queries: str) -> str:
    """The label of the gold stage for a subset and a query set (`pipeline gold S11/public`)."""
    return f"{subset}/{queries}"


def write_gold(run: Run, label: str) -> None:
    """Exact nearest neighbours of a query set in a subset (label SUBSET/QUERIES); each gold file
    of that query set holds a prefix of the columns."""
    release = run.release
    subset, queries = label.split("/", 1)
    k = release.gold_k(queries)
    best = nearest(run, subset, _embeddings(run, queries), k, f"gold standard {subset}, {queries} queries")
    for kind in release.gold_kinds(queries):
        ids_layout, dists_layout = _gold_datasets(kind.layout)
        write_h5(run.path(release.bundle(kind, subset)),
                 {layout.key: np.ascontiguousarray(values[:, :layout.cols]).astype(layout.dtype)
                  for layout, values in ((ids_layout, best.ids), (dists_layout, best.dists))})


def nearest(run: Run, label: str, source: tuple[Path, str], k: int, what: str) -> TopK:
    """The exact k nearest rows of subset `label` of every vector of `source` (file, key), on the
    grid of query blocks x row blocks: every block screened and the candidates of each query block
    merged, then every block re-ranked against them and merged."""
    release = run.release
    rows = _rows(run, label)
    if rows < k:
        raise ProjectError(f"{release.subset(label).origin}: subset '{label}' has {rows:,} rows, "
                           f"fewer than the {k} neighbours asked for ({what})")
    search = Search(source, k)
    query_blocks = row_ranges(h5_shape(*source)[0], GOLD_QUERY_ROWS)
    blocks = row_ranges(rows, GOLD_BLOCK_ROWS)
    with open_executor(run.scheduler, what) as executor:
        log.info("%s", blas_report())
        # Two waves: first as many row blocks as keep every worker thread present now busy (at
        # least one), then every other
        # block told their candidates, so that it skips the rows they already beat. Either way
        # the candidates lead to the same gold standard; the first wave only saves work.
        wave = max(1, -(-executor.threads // len(query_blocks)))
        first = executor.reduce(_gold_tasks(screen_of_rows, run, label, search, f"{what}: screen", query_blocks,
                                            blocks[:wave], [()] * len(query_blocks)), merge_candidates,
                                f"{what}: screen")
        screened = [[Task(_same, (known,), f"{what}: screen, queries {q0:,}..{q1:,}", 0), *rest]
                    for ((q0, q1), known), rest in zip(zip(query_blocks, first), _gold_tasks(
                        screen_of_rows, run, label, search, f"{what}: screen", query_blocks, blocks[wave:],
                        [(known,) for known in first]))]
        candidates = executor.reduce(screened, merge_candidates, f"{what}: screen")
        reranked = _gold_tasks(gold_of_rows, run, label, search, f"{what}: re-rank", query_blocks, blocks,
                               [(merged,) for merged in candidates])
        best = [executor.value(merged, f"{what}: re-rank")
                for merged in executor.reduce(reranked, partial(merge_topk, k=k), f"{what}: re-rank")]
    return TopK(np.concatenate([part.ids for part in best]), np.concatenate([part.dists for part in best]))


def write_recall(run: Run) -> None:
    """The recall CSV. It holds measured times, so unlike the bundles it differs run to run:
    `buildtime` is the filling of faiss's flat indexes, `querytime` their brute-force search."""
    release = run.release
    k, gold_kind, queries_label = release.recall_k, release.recall_gold, release.recall_queries
    ids_key = _gold_datasets(gold_kind.layout)[0].key
    rows = []
    for label in release.labels:
        gold = read_h5(run.path(release.bundle(gold_kind, label)), ids_key)
        for kind in sorted(_projections(release), key=lambda kind: kind.id):
            queries = read_h5(*_vectors(run, kind, queries_label))
            path, key = _vectors(run, kind, label)
            ranges = _ranges(path, key, f"recall {kind.id} {label}", RECALL_BLOCK_ROWS)
            blocks = ((start, read_h5(path, key, start, stop)) for start, stop in ranges)
            search = recall.brute_force(queries, blocks, k)
            rows.append(RecallRow(kind.id, label, "bruteforce", round(search.build, 6), round(search.query, 6), "",
                                  recall.recall_at(search.ids, gold, k)))
    atomic_write_text(run.out / RECALL_FILE, recall_csv(rows))


def _projections(release: Release) -> list[BundleKind]:
    """The kinds the recall table scores: projections with a file for the recall queries."""
    return [kind for kind in release.kinds_of(PCA) + release.kinds_of(SKETCHES)
            if kind.makes_queries(release.recall_queries)]


def write_manifests(run: Run) -> None:
    """md5, size (human and exact) and URL manifests of every published bundle, as `md5sum -c`
    reads them in the artifacts folder. A file reused by reference keeps the URL the earlier
    edition's manifest gives it; the others get their host's URL (BASE_URL replaces every host)."""
    bundles = run.release.published()
    earlier_urls = {edition: _urls(run.edition_folder(edition)) for edition in
                    {bundle.edition for bundle in bundles if bundle.referenced}}
    records = []
    with tqdm(total=sum(run.path(bundle).stat().st_size for bundle in bundles), desc="md5", unit="B",
              unit_scale=True, disable=None, leave=False) as bar:
        for bundle in bundles:
            path = run.path(bundle)
            url = (earlier_urls[bundle.edition].get(bundle.name, bundle.url) if bundle.referenced
                   else f"{run.base_url.rstrip('/')}/{bundle.name}" if run.base_url else bundle.url)
            records.append((bundle.name, path.stat().st_size, file_md5(path, bar.update),
                            url[:-len(bundle.name)].rstrip("/")))
    for file_name, text in manifest_texts(records).items():
        atomic_write_text(run.out / file_name, text)


def _urls(folder: Path) -> dict[str, str]:
    """The URLs an earlier edition's run wrote into its URL manifest (none when it wrote none)."""
    path = folder / URLS_FILE
    if not path.is_file():
        return {}
    manifest = read_urls(path)
    return {name: entry.value for name in manifest.names() if (entry := manifest.get(name)) is not None}


# --- the stage table -----------------------------------------------------------------------

SUBSETS, QUERIES, VECTORS, GOLD_PAIRS, ONCE = "subset", "query set", "vectors", "subset/queries", "once"
# What a stage's functions are given: a label (str: a subset, a query set, or SUBSET/QUERIES) for a
# stage run per label, None for a stage run once. Any: each function of the table knows which its
# stage passes.
Label = Any


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
    outputs: Callable[[Release, Label], list[str]]
    needs: Callable[[Release, Label], Needs]
    run: Callable[[Run, Label], None]
    definition: Callable[[Release, Label], object]
    version: int = 1
    numerics: Mapping[str, int] = field(default_factory=dict)

    def stamp(self, release: Release, label: str | None) -> dict[str, object]:
        """What the stage's files of `label` are made from, besides the files it reads."""
        return {"stage": self.name, "label": label, "version": self.version, "numerics": dict(self.numerics),
                "definition": self.definition(release, label)}


def _built_subsets(release: Release) -> list[str | None]:
    """The subsets this edition cuts from the parts (not reused, not external)."""
    return [spec.label for spec in release.subsets if spec.source == BUILT]


def _made_query_sets(release: Release) -> list[str | None]:
    """The query sets whose 768d file this edition writes: drawn, selected, or reused under a new name."""
    return [label for label in release.query_labels
            if release.embeddings_bundle(label).source == BUILT
            or (release.embeddings_bundle(label).source == REUSED and not release.embeddings_bundle(label).referenced)]


def _vector_labels(computation: str) -> Callable[[Release], list[str | None]]:
    def labels(release: Release) -> list[str | None]:
        return [label for label in release.labels + release.query_labels
                if _kinds_for(release, computation, label)]
    return labels


def _gold_labels(release: Release) -> list[str | None]:
    return [gold_label(subset, queries) for queries in release.gold_query_sets() for subset in release.labels]


def _once_if(condition: Callable[[Release], bool]) -> Callable[[Release], list[str | None]]:
    return lambda release: [None] if condition(release) else []


def out_name(release: Release, bundle: Bundle) -> str:
    """A bundle's file relative to the edition's folder: an earlier edition's file is beside it."""
    return bundle.name if bundle.edition in ("", release.edition) else f"../{bundle.edition}/{bundle.name}"


def _embeddings_name(release: Release, label: str) -> str:
    return out_name(release, release.embeddings_bundle(label))


def _files(release: Release, computation: str, label: str) -> list[str]:
    return [release.bundle(kind, label).name for kind in _kinds_for(release, computation, label)]


def _query_needs(release: Release, label: str) -> Needs:
    spec = release.query_set(label)
    bundle = release.embeddings_bundle(label)
    if spec.source == REUSED:
        return Needs(out=(f"../{bundle.from_edition}/{bundle.from_name}",))
    against = (_embeddings_name(release, spec.selection.against),) if spec.selection else ()
    return Needs(parts=(spec.part,) if spec.part is not None else (), out=against)


def _sketch_needs(release: Release, label: str) -> Needs:
    source = _embeddings_name(release, label)
    if release.sketches.model is not None:
        return Needs(out=(source,), files=(release.sketches.model,))
    return Needs(out=(release.created_sketch_model_file(), source))


def _gold_needs(release: Release, label: str) -> Needs:
    subset, queries = label.split("/", 1)
    return Needs(out=(_embeddings_name(release, subset), _embeddings_name(release, queries)))


def _recall_needs(release: Release, _label: str | None) -> Needs:
    files = [out_name(release, release.bundle(kind, label)) for kind in _projections(release)
             for label in release.labels + [release.recall_queries]]
    return Needs(out=tuple(files + [out_name(release, release.bundle(release.recall_gold, label))
                                    for label in release.labels]))


def external_files(release: Release) -> list[str]:
    """The files of this edition the pipeline reads but never makes (EXTERNAL): make names them
    when they are missing."""
    return [bundle.name for bundle in release.bundles() if bundle.source == EXTERNAL]


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


def _query_set_of(release: Release, label: str) -> dict[str, object]:
    spec = release.query_set(label)
    selection = spec.selection
    return {"label": label, "source": spec.source, "part": spec.part, "count": spec.count, "seed": spec.seed,
            "selection": None if selection is None else {
                "candidates": selection.candidates, "k": selection.k, "min_sum": selection.min_sum,
                "against": _embeddings_name(release, selection.against)},
            "from": [spec.reused_edition, spec.reused_label]}


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


def _queries_definition(release: Release, label: Label) -> object:
    return {"query_set": _query_set_of(release, label),
            "bundles": _bundles_of(release, [release.embeddings], label)}


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


def _gold_definition(release: Release, label: Label) -> object:
    subset, queries = label.split("/", 1)
    return {"subset": _embeddings_name(release, subset), "queries": _embeddings_name(release, queries),
            "k": release.gold_k(queries), "bundles": _bundles_of(release, release.gold_kinds(queries), subset)}


def _recall_definition(release: Release, _label: str | None) -> object:
    return {"k": release.recall_k, "gold": release.recall_gold.id, "labels": list(release.labels),
            "queries": release.recall_queries,
            "projections": [kind.id for kind in _projections(release)]}


def _manifests_definition(release: Release, _label: str | None) -> object:
    return {"published": [[out_name(release, bundle), bundle.url] for bundle in release.published()]}


STAGES: tuple[Stage, ...] = (
    Stage("subset", "cut a database subset from the parts: NSFW rule, concatenation", "subsets", SUBSETS,
          _built_subsets, lambda r, label: [r.embeddings_file(label)],
          lambda r, label: Needs(parts=tuple(r.subset(label).parts)),
          lambda run, label: write_subset(run, label), _subset_definition),
    Stage("queries", "write the vectors of a query set: drawn from its part, selected by the filter rule, or "
                     "copied from the earlier edition", "queries", QUERIES,
          _made_query_sets, lambda r, label: [r.embeddings_file(label)], _query_needs,
          lambda run, label: write_queries(run, label), _queries_definition),
    Stage("meta", "write the metadata tables of a subset", "meta", SUBSETS,
          lambda r: _built_subsets(r) if r.kinds_of(META) else [],
          lambda r, label: [kind.file_name(label) for kind in r.kinds_of(META)],
          lambda r, label: Needs(parts=tuple(r.subset(label).parts)),
          lambda run, label: write_meta(run, label), _meta_definition),
    Stage("pca-model", "fit the PCA model on the training subset", "pca", ONCE,
          _once_if(lambda r: bool(_vector_labels(PCA)(r))), lambda r, _: [r.pca_model_file()],
          lambda r, _: Needs(out=(_embeddings_name(r, r.pca_train),)),
          lambda run, _: write_pca_model(run), _pca_model_definition,
          numerics={"BLOCK_ROWS": BLOCK_ROWS, "COVARIANCE_ROWS": COVARIANCE_ROWS}),
    Stage("pca", "project a subset (or a query set) with the PCA model", "pca", VECTORS,
          _vector_labels(PCA), lambda r, label: _files(r, PCA, label),
          lambda r, label: Needs(out=(r.pca_model_file(), _embeddings_name(r, label))),
          lambda run, label: write_pca(run, label), _pca_definition),
    Stage("sketch-model", "create a BinWalk model from the training subset (release 'sketches: create')",
          "hamming", ONCE,
          _once_if(lambda r: bool(_vector_labels(SKETCHES)(r)) and r.sketches.model is None),
          lambda r, _: [r.created_sketch_model_file()],
          lambda r, _: Needs(out=(_embeddings_name(r, r.pca_train),)),
          lambda run, _: write_sketch_model(run), _sketch_model_definition),
    Stage("hamming", "compute the binary sketches of a subset (or a query set)", "hamming", VECTORS,
          _vector_labels(SKETCHES), lambda r, label: _files(r, SKETCHES, label), _sketch_needs,
          lambda run, label: write_hamming(run, label), _hamming_definition),
    Stage("gold", "compute the gold standards of a subset for a query set (exact, float64)", "gold", GOLD_PAIRS,
          _gold_labels,
          lambda r, label: [kind.file_name(label.split("/")[0]) for kind in r.gold_kinds(label.split("/", 1)[1])],
          _gold_needs,
          lambda run, label: write_gold(run, label), _gold_definition),
    Stage("recall", "write the projection recall table recall-projections.csv", "recall", ONCE,
          _once_if(lambda r: bool(_projections(r))), lambda r, _: [RECALL_FILE], _recall_needs,
          lambda run, _: write_recall(run), _recall_definition),
    Stage("manifests", "write the md5, size and URL manifests of every published bundle", "manifests", ONCE,
          _once_if(lambda r: True), lambda r, _: list(MANIFEST_FILES),
          lambda r, _: Needs(out=tuple(out_name(r, b) for b in r.published())),
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
