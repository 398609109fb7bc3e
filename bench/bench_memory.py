"""Peak resident memory of `make artifacts`: a subset of 8 parts against one of 2 parts of the
same size (target: at most 1.2x), measured in the same run.

Both runs read the same synthetic parts (written first with the pipeline's own sample
stage) through a bench config that differs only in the subset's part range. The peak is
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

from generator.work.blas import blas_report  # noqa: E402

CONFIG = """
sample: {{parts: {parts}, rows: {rows}, clusters: 256, seed: 5}}
subsets:
  - {{label: B, parts: [1, {last}], rule: strict}}
queries: {{part: 0, count: {queries}, seed: 0}}
pca: {{dims: [32, 96], train: B}}
sketches:
  create: {{seed: 0, refs: 1024, sample_rows: 20000}}
gold: {{k: 100, k_f64: 1000}}
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
    command = ["make", "-C", str(REPO), "-j1", "--no-print-directory", "artifacts", f"CONFIG={config}",
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
        subprocess.run(["make", "-C", str(REPO), "--no-print-directory", "sample", f"CONFIG={config}",
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
