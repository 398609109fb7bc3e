"""The pipeline's stages (SPEC §2, §6): each reads its inputs, computes with the kernels and
writes its output files, each from this one place, crash-safe.

Heavy stages stream: a subset is read and written in row blocks, so memory is bounded by a
block or a part, never by a subset. A stage checks the parts it reads (headers) before it
starts an output, so a bad part leaves nothing behind.
"""
from __future__ import annotations

import csv
import io
import logging
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from generator.errors import ProjectError
from generator.inputs.binwalk import read_binwalk_model
from generator.inputs.h5 import h5_shape, read_h5
from generator.inputs.parts import Part, check_parts, read_columns, read_embeddings
from generator.models.pipeline import (EMBEDDING_DIM, META_COLUMNS, NSFW_COLUMN, QUERIES, RECALL_COLUMNS,
                                       RECALL_FILE, SKETCH_WORDS, PipelineConfig, created_sketch_model_file,
                                       database_file, gold_file, h5_key, meta_file, pca_model_file,
                                       published_names, queries_file, vectors_file)
from generator.models.projections import BinWalkModel, PCAModel, TopK
from generator.outputs.files import atomic_output, atomic_write_text
from generator.outputs.h5 import h5_output, write_h5
from generator.outputs.manifests import manifest_texts
from generator.outputs.parts import write_part
from generator.work import meta, recall
from generator.work.blas import blas_report
from generator.work.checksums import file_md5
from generator.work.gold import empty_topk, exact_knn, merge_topk
from generator.work.pca import CovarianceAccumulator, project
from generator.work.queries import query_rows
from generator.work.sample import part_embeddings, part_metadata
from generator.work.sketches import create_binwalk_model, sketch
from generator.work.subsets import select_rows

log = logging.getLogger(__name__)

COPY_ROWS = 65536          # rows copied per step when cutting a subset
BLOCK_ROWS = 65536         # rows read per step by PCA and sketches
GOLD_BLOCK_ROWS = 2**17     # rows per exact k-NN call: large calls amortise the re-ranking, fixed to bound memory
RECALL_BLOCK_ROWS = 16384    # queries x rows distances and sort keys per step of the recall search


def _progress(total: int, what: str) -> tqdm:
    """Rows done, rate and ETA on a terminal; silent otherwise."""
    return tqdm(total=total, desc=what, unit=" rows", unit_scale=True, disable=None, leave=False)


# --- the sample ---------------------------------------------------------------------------

def write_sample(config: PipelineConfig, folder: Path) -> None:
    if config.sample is None:
        raise ProjectError(f"{config.path} has no 'sample' section: it describes no synthetic parts")
    spec = config.sample
    with _progress(spec.parts * spec.rows, "sample parts") as progress:
        for number in range(spec.parts):
            write_part(folder, number, part_embeddings(spec, number), part_metadata(spec, number))
            progress.update(spec.rows)


# --- subsets, queries, metadata: from the parts -----------------------------------------------

def _selection(config: PipelineConfig, parts_folder: Path, label: str,
               columns: tuple[str, ...] = (NSFW_COLUMN,)) -> Iterator[tuple[tuple[Part, dict], np.ndarray]]:
    """((part, its columns), kept row indices) in subset order; parts read one at a time."""
    spec = config.subset(label)
    parts = check_parts(parts_folder, spec.parts)
    columns_of = ((part, read_columns(part, columns)) for part in parts)
    return select_rows(spec, (((part, cols), cols[NSFW_COLUMN]) for part, cols in columns_of))


def write_subset(config: PipelineConfig, parts_folder: Path, out: Path, label: str) -> None:
    """Two passes: count the kept rows, then copy them into the preallocated dataset."""
    rows = sum(len(kept) for _, kept in _selection(config, parts_folder, label))
    final = out / database_file("clip768", label)
    with h5_output(final, {"emb": ((rows, EMBEDDING_DIM), np.float16)}) as datasets, \
            _progress(rows, f"subset {label}") as progress:
        position = 0
        for (part, _), kept in _selection(config, parts_folder, label):
            for first in range(0, len(kept), COPY_ROWS):
                chunk = kept[first:first + COPY_ROWS]
                datasets["emb"][position:position + len(chunk)] = read_embeddings(part, chunk)
                position += len(chunk)
                progress.update(len(chunk))
    log.info("%s: %d rows", final.name, rows)


def write_queries(config: PipelineConfig, parts_folder: Path, out: Path) -> None:
    spec = config.queries
    (part,) = check_parts(parts_folder, [spec.part])
    rows = query_rows(part.rows, spec.count, spec.seed)
    write_h5(out / queries_file("clip768"), {"emb": read_embeddings(part, rows).astype(np.float32)})


def write_meta(config: PipelineConfig, parts_folder: Path, out: Path, label: str) -> None:
    final = out / meta_file(label)
    selection = _selection(config, parts_folder, label, META_COLUMNS)
    with atomic_output(final) as temporary, open(temporary, "w", encoding="utf-8", newline="") as stream:
        stream.write(meta.header_line())
        for (_, columns), kept in selection:
            stream.write(meta.meta_lines(columns, kept))


# --- projections and gold standards: from the subset files ----------------------------------
#
# The heavy work is split by row range: each `*_of_rows` function opens its own input files
# and returns arrays for rows start..stop, so a scheduler (e.g. Dask at full scale) can run
# them anywhere; the `write_*` functions are the one place that writes each output file.

def _source(out: Path, label: str) -> Path:
    return out / vectors_file("clip768", label)


def _ranges(path: Path, key: str, what: str, block_rows: int = BLOCK_ROWS) -> Iterator[tuple[int, int]]:
    """Row ranges covering a dataset, with progress."""
    rows = h5_shape(path, key)[0]
    with _progress(rows, what) as progress:
        for start in range(0, rows, block_rows):
            stop = min(start + block_rows, rows)
            yield start, stop
            progress.update(stop - start)


def covariance_of_rows(config: PipelineConfig, out: Path, start: int, stop: int) -> CovarianceAccumulator:
    """The PCA statistics of rows start..stop of the training subset (merge them with .merge)."""
    return CovarianceAccumulator(EMBEDDING_DIM).add(read_h5(_source(out, config.pca.train), "emb", start, stop), start)


def write_pca_model(config: PipelineConfig, out: Path) -> None:
    accumulator = CovarianceAccumulator(EMBEDDING_DIM)
    for start, stop in _ranges(_source(out, config.pca.train), "emb", f"PCA fit on {config.pca.train}"):
        accumulator = accumulator.merge(covariance_of_rows(config, out, start, stop))
    arrays = {}
    for d in config.pca.dims:
        model = accumulator.fit(d)
        arrays.update({f"pca{d}/mean": model.mean, f"pca{d}/components": model.components,
                       f"pca{d}/eigenvalues": model.eigenvalues})
    write_h5(out / pca_model_file(config), arrays)


def _pca_model(config: PipelineConfig, out: Path, d: int) -> PCAModel:
    path = out / pca_model_file(config)
    return PCAModel(*(read_h5(path, f"pca{d}/{name}") for name in ("mean", "components", "eigenvalues")))


def pca_of_rows(config: PipelineConfig, out: Path, label: str, start: int, stop: int) -> dict[int, np.ndarray]:
    """{d: float32 (rows, d)} projections of rows start..stop of a subset (or the queries)."""
    block = read_h5(_source(out, label), "emb", start, stop)
    return {d: project(_pca_model(config, out, d), block, start) for d in config.pca.dims}


def write_pca(config: PipelineConfig, out: Path, label: str) -> None:
    """Every PCA dimension's file of a subset (or the queries) in one pass over its vectors."""
    source = _source(out, label)
    rows = h5_shape(source, "emb")[0]
    with ExitStack() as stack:
        datasets = {d: stack.enter_context(h5_output(out / vectors_file(f"pca{d}", label),
                                                     {f"pca{d}": ((rows, d), np.float32)}))[f"pca{d}"]
                    for d in config.pca.dims}
        for start, stop in _ranges(source, "emb", f"PCA {label}"):
            for d, projected in pca_of_rows(config, out, label, start, stop).items():
                datasets[d][start:stop] = projected


def write_sketch_model(config: PipelineConfig, out: Path) -> None:
    spec = config.sketches
    sample = read_h5(_source(out, config.pca.train), "emb", 0, spec.sample_rows)
    if len(sample) < spec.refs:
        raise ProjectError(f"{config.path}: the sketch model needs {spec.refs} reference rows but the "
                           f"training subset '{config.pca.train}' has only {len(sample)}")
    model = create_binwalk_model(sample, n_refs=spec.refs, seed=spec.seed)
    write_h5(out / created_sketch_model_file(config), {"refs": model.refs, "pool": model.pool})


def _sketch_model(config: PipelineConfig, out: Path) -> BinWalkModel:
    if config.sketches.model is not None:
        return read_binwalk_model(config.sketches.model)
    path = out / created_sketch_model_file(config)
    return BinWalkModel(read_h5(path, "refs"), read_h5(path, "pool"))


def sketches_of_rows(config: PipelineConfig, out: Path, label: str, start: int, stop: int) -> np.ndarray:
    """uint64 (rows, 16) sketches of rows start..stop of a subset (or the queries)."""
    return sketch(_sketch_model(config, out), read_h5(_source(out, label), "emb", start, stop))


def write_hamming(config: PipelineConfig, out: Path, label: str) -> None:
    source = _source(out, label)
    rows = h5_shape(source, "emb")[0]
    with h5_output(out / vectors_file("hamming", label),
                   {"hamming": ((rows, SKETCH_WORDS), np.uint64)}) as datasets:
        for start, stop in _ranges(source, "emb", f"sketches {label}"):
            datasets["hamming"][start:stop] = sketches_of_rows(config, out, label, start, stop)


def gold_of_rows(config: PipelineConfig, out: Path, label: str, start: int, stop: int) -> TopK:
    """The k_f64 nearest of each query among rows start..stop (merge partial results with merge_topk)."""
    queries = read_h5(out / queries_file("clip768"), "emb")
    return exact_knn(queries, read_h5(_source(out, label), "emb", start, stop), start + 1, config.gold.k_f64)


def write_gold(config: PipelineConfig, out: Path, label: str) -> None:
    """Exact k_f64 nearest neighbours, merged over row ranges; the k file is their prefix."""
    log.info("%s", blas_report())
    source = _source(out, label)
    rows, k = h5_shape(source, "emb")[0], config.gold.k_f64
    if rows < k:
        raise ProjectError(f"{config.subset(label).origin}: subset '{label}' has {rows:,} rows, "
                           f"fewer than gold k_f64 = {k}")
    best = empty_topk(h5_shape(out / queries_file("clip768"), "emb")[0], k)
    for start, stop in _ranges(source, "emb", f"gold standard {label}", GOLD_BLOCK_ROWS):
        best = merge_topk(best, gold_of_rows(config, out, label, start, stop), k)
    knns, dists = best.ids.astype(np.int32), best.dists.astype(np.float32)
    write_h5(out / gold_file(label, f64=True), {"knns": knns, "dists": dists})
    k = config.gold.k
    write_h5(out / gold_file(label), {"knns": np.ascontiguousarray(knns[:, :k]),
                                      "dists": np.ascontiguousarray(dists[:, :k])})


def write_recall(config: PipelineConfig, out: Path) -> None:
    """The recall CSV. It holds measured query times, so unlike the bundles it differs run to run."""
    k = config.recall_k
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(RECALL_COLUMNS)
    for spec in config.subsets:
        gold = read_h5(out / gold_file(spec.label), "knns")
        for kind in sorted(config.projections):
            key = h5_key(kind)
            queries = read_h5(out / vectors_file(kind, QUERIES), key)
            distances = recall.hamming_distances if kind == "hamming" else recall.l2_distances
            started = time.perf_counter()
            path = out / vectors_file(kind, spec.label)
            ranges = _ranges(path, key, f"recall {kind} {spec.label}", RECALL_BLOCK_ROWS)
            found = recall.nearest(queries, ((start, read_h5(path, key, start, stop)) for start, stop in ranges),
                                   k, distances)
            elapsed = time.perf_counter() - started
            writer.writerow([kind, spec.label, "bruteforce", 0.0, round(elapsed, 6), "",
                             recall.recall_at(found, gold, k)])
    atomic_write_text(out / RECALL_FILE, table.getvalue())


def write_manifests(config: PipelineConfig, out: Path, base_url: str) -> None:
    """md5, size (human and exact) and URL manifests of every bundle, as `md5sum -c` reads them in `out`."""
    names = published_names(config)
    records = []
    with tqdm(total=sum((out / name).stat().st_size for name in names), desc="md5", unit="B",
              unit_scale=True, disable=None, leave=False) as progress:
        for name in names:
            path = out / name
            records.append((name, path.stat().st_size, file_md5(path, progress.update)))
    for file_name, text in manifest_texts(records, base_url).items():
        atomic_write_text(out / file_name, text)
