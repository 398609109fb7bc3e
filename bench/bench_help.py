"""Start-up of the participant's command line: `laion2b --help` and `laion2b verify --help`, wall
clock, against the bare interpreter (`python -c pass`) measured in the same run.

Each command runs REPEATS times, the commands taking turns so that a busy spell of the machine
hits them alike; prints the median of each, the ratio of each command to the bare interpreter
(the cost of the project's own imports on top of Python's start), and the target: the median of
`laion2b --help` under 0.25 s (docs/design/performance.md#start-up-of-the-command-line).

    .venv/bin/python bench/bench_help.py [--repeats 10]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 0.25
LAION2B = Path(sys.executable).parent / "laion2b"
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "laion2b --help": [str(LAION2B), "--help"],
    "laion2b verify --help": [str(LAION2B), "verify", "--help"],
}


def median_seconds(commands: dict[str, list[str]], repeats: int) -> dict[str, float]:
    """The median wall-clock time of each command over `repeats` runs, the commands taking turns.

    Parameters: commands (label -> argument list), repeats (runs of each).
    Returns: label -> median seconds.
    Example: median_seconds({"true": ["true"]}, 3) -> {"true": 0.001}
    """
    runs: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(repeats):
        for label, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
            runs[label].append(time.perf_counter() - start)
    return {label: statistics.median(times) for label, times in runs.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10, help="runs of each command (default: %(default)s)")
    args = parser.parse_args()
    medians = median_seconds(COMMANDS, args.repeats)
    bare = medians["python -c pass"]
    print(f"command-line start-up, median of {args.repeats} runs (wall clock)")
    for label, seconds in medians.items():
        print(f"  {label:<24} {seconds * 1000:7.1f} ms   {seconds / bare:5.2f} x python -c pass")
    help_seconds = medians["laion2b --help"]
    verdict = "met" if help_seconds < TARGET_SECONDS else "MISSED"
    print(f"  target: laion2b --help < {TARGET_SECONDS * 1000:.0f} ms: {verdict} ({help_seconds * 1000:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
