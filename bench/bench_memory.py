"""Peak resident memory of `make artifacts`: a subset of 8 parts against one of 2 parts of the
same size (target: at most 1.2x), measured in the same run.

Both runs read the same synthetic parts (written first with the pipeline's own sample
stage) through a bench release that differs only in the subset's part range. The peak is
the largest resident set of any process of the run (make runs one stage at a time, -j1),
read with getrusage(RUSAGE_CHILDREN) in a fresh wrapper process per run.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy  # noqa: E402,F401 (loads the BLAS that blas_report describes)

from generator.pipeline.blas import blas_report  # noqa: E402

CONFIG = """
name: memory bench
base_url: http://127.0.0.1:8008/bench
sample: {{parts: {parts}, rows: {rows}, clusters: 256, seed: 5}}
subsets:
  - {{label: B, parts: [1, {last}], rule: strict}}
queries: {{label: queries, part: 0, count: {queries}, seed: 0}}
bundles:
  - {{id: clip768, of: embeddings, file: "emb-{{subset}}.h5", queries_file: q-emb.h5,
     datasets: [{{key: emb, dtype: float16, cols: 768}}], queries_datasets: [{{key: emb, dtype: float32, cols: 768}}],
     publish: [B, queries]}}
  - {{id: pca32, of: pca, file: "pca32-{{subset}}.h5", queries_file: q-pca32.h5,
     datasets: [{{key: pca32, dtype: float32, cols: 32}}], publish: [B, queries]}}
  - {{id: pca96, of: pca, file: "pca96-{{subset}}.h5", queries_file: q-pca96.h5,
     datasets: [{{key: pca96, dtype: float32, cols: 96}}], publish: [B, queries]}}
  - {{id: hamming, of: sketches, file: "hamming-{{subset}}.h5", queries_file: q-hamming.h5,
     datasets: [{{key: hamming, dtype: uint64, cols: 16}}], publish: [B, queries]}}
  - {{id: gold, of: gold, file: "gold-{{subset}}.h5",
     datasets: [{{key: knns, dtype: int32, cols: 100}}, {{key: dists, dtype: float32, cols: 100}}], publish: [B]}}
  - {{id: gold-f64, of: gold, file: "gold-{{subset}}-F64.h5",
     datasets: [{{key: knns, dtype: int32, cols: 1000}}, {{key: dists, dtype: float32, cols: 1000}}], publish: []}}
  - {{id: meta, of: meta, file: "meta-{{subset}}.tsv", columns: [caption, NSFW, LICENSE, url], publish: [B]}}
pca: {{train: B}}
sketches:
  create: {{seed: 0, sample_rows: 20000}}
recall: {{k: 30}}
"""

# Runs a command and prints the largest resident set (KiB) among its waited-for descendants.
PEAK_WRAPPER = ("import resource, subprocess, sys; status = subprocess.run(sys.argv[1:]).returncode; "
                "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(status)")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows per part (default 100k)")
    parser.add_argument("--queries", type=int, default=2000, help="queries (default 2000)")
    parser.add_argument("--parts", type=int, nargs=2, default=(2, 8), metavar=("FEW", "MANY"),
                        help="parts in the small and the large subset (default 2 8)")
    return parser.parse_args()


def peak_of_artifacts(folder: Path, parts: Path, last: int, args) -> tuple[int, float]:
    config = folder / f"bench-{last}.yml"
    config.write_text(CONFIG.format(parts=max(args.parts) + 1, rows=args.rows, last=last, queries=args.queries))
    command = ["make", "-C", str(REPO), "-j1", "--no-print-directory", "artifacts", f"RELEASE={config}",
               f"PARTS={parts}", f"OUT={folder / f'out-{last}'}"]
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", PEAK_WRAPPER, *command], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"make artifacts with {last} parts failed:\n{run.stderr}")
    return int(run.stdout.split()[-1]), time.perf_counter() - started


def main() -> None:
    args = arguments()
    few, many = args.parts
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as temporary:
        folder = Path(temporary)
        parts = folder / "parts"
        config = folder / f"bench-{many}.yml"
        config.write_text(CONFIG.format(parts=many + 1, rows=args.rows, last=many, queries=args.queries))
        subprocess.run(["make", "-C", str(REPO), "--no-print-directory", "sample", f"RELEASE={config}",
                        f"SAMPLE={parts}"], check=True, capture_output=True)
        peaks = {last: peak_of_artifacts(folder, parts, last, args) for last in (few, many)}
    (few_kib, few_s), (many_kib, many_s) = peaks[few], peaks[many]
    print(blas_report())
    print(f"make artifacts, {args.rows:,} rows per part, {args.queries:,} queries:")
    print(f"  {few} parts: peak RSS {few_kib / 1024:,.0f} MiB in {few_s:.0f} s")
    print(f"  {many} parts: peak RSS {many_kib / 1024:,.0f} MiB in {many_s:.0f} s")
    ratio = many_kib / few_kib
    print(f"  ratio {many}/{few} parts: {ratio:.2f}x (target <= 1.2x) {'OK' if ratio <= 1.2 else 'ABOVE TARGET'}")
    print(json.dumps({"bench": "memory", "parts": [few, many], "peak_kib": [few_kib, many_kib],
                      "seconds": [round(few_s, 1), round(many_s, 1)], "ratio": round(ratio, 3)}))


if __name__ == "__main__":
    main()
