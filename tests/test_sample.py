"""`make sample`: synthetic parts in the exact LAION layout, deterministic to the byte."""
from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from generator.io.checksums import file_md5
from generator.pipeline.parts import check_parts, npy_path, parquet_path
from generator.pipeline.stages import write_sample
from generator.release.read import parse_release

REPO = Path(__file__).resolve().parents[1]
CONFIG = """
name: sample parts only
date: 2024-01-01
hosts: {local: "http://127.0.0.1:8008"}
host: local
sample: {parts: 3, rows: 2000, clusters: 8, seed: 11}
subsets: [{label: A, parts: [1, 2], rule: strict}]
query_sets: [{label: queries, source: drawn, part: 0, count: 10, seed: 0}]
bundles:
  - {id: emb, of: embeddings, file: "emb-{subset}.h5", queries_file: q.h5,
     datasets: [{key: emb, dtype: float16, cols: 768}], publish: [A]}
"""


def sample(tmp_path: Path, folder: str = "parts") -> Path:
    config = parse_release(CONFIG, str(tmp_path / "sample.yml"))
    write_sample(config, tmp_path / folder)
    return tmp_path / folder


def test_parts_have_the_laion_layout_and_formats(tmp_path):
    parts = sample(tmp_path)
    checked = check_parts(parts, [0, 1, 2])
    assert [p.rows for p in checked] == [2000, 2000, 2000]
    embeddings = np.load(npy_path(parts, 1))
    assert embeddings.dtype == np.float16 and embeddings.shape == (2000, 768)
    norms = np.linalg.norm(embeddings.astype(np.float32), axis=1)
    assert np.all(np.abs(norms - 1) < 2e-3) and not np.all(norms == 1)
    table = pq.read_table(parquet_path(parts, 1))
    assert {"caption", "url", "NSFW", "LICENSE", "similarity", "key", "width", "height"} <= set(table.column_names)
    assert table.schema.field("NSFW").type == "string"


def test_nsfw_shares_are_realistic_and_captions_are_hard_to_escape(tmp_path):
    table = pq.read_table(parquet_path(sample(tmp_path), 2)).to_pydict()
    shares = Counter(table["NSFW"])
    assert shares["UNLIKELY"] > 0.8 * 2000 and 0 < shares["NSFW"] < 0.1 * 2000
    assert shares["UNSURE"] > 0 and shares[None] > 0
    captions = table["caption"]
    for needle in ("\t", "\n", '"', "\\", "é"):
        assert any(needle in caption for caption in captions), needle
    assert any(not caption.isascii() for caption in captions)


def test_embeddings_are_clustered_not_uniform_noise(tmp_path):
    x = np.load(npy_path(sample(tmp_path), 1)).astype(np.float32)
    similarities = x @ x.T
    np.fill_diagonal(similarities, -1)
    assert similarities.max(axis=1).mean() > 0.4 > abs(np.median(similarities[similarities > -1]) - 0.3)


def test_the_same_config_gives_the_same_bytes_and_a_rerun_leaves_files_alone(tmp_path):
    first, second = sample(tmp_path, "a"), sample(tmp_path, "b")
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert len(files) == 6
    assert [file_md5(first / f) for f in files] == [file_md5(second / f) for f in files]
    times = [(first / f).stat().st_mtime_ns for f in files]
    sample(tmp_path, "a")
    assert [(first / f).stat().st_mtime_ns for f in files] == times


def test_make_sample_writes_the_parts(tmp_path):
    config = tmp_path / "sample.yml"
    config.write_text(CONFIG)
    run = subprocess.run(["make", "-C", str(REPO), "sample", f"SAMPLE={tmp_path / 'out'}", f"RELEASE={config}"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert len(check_parts(tmp_path / "out", [0, 1, 2])) == 3
