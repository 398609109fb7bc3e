"""The recall plot of the projections (SPEC §4.6), as a byte-stable SVG."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from generator.io.files import atomic_output  # noqa: E402
from generator.release.recall import RecallTable  # noqa: E402


def recall_figure(table: RecallTable, k: int):
    subsets = table.subsets()
    figure, axes = plt.subplots(figsize=(7, 3.6))
    for projection in table.projections():
        cells = [table.cell(projection, s) for s in subsets]
        axes.plot(subsets, [c.recall if c else float("nan") for c in cells], marker="o", label=projection)
    axes.set_xlabel("subset")
    axes.set_ylabel(f"recall@{k} against the gold standard")
    axes.set_ylim(0, 1)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return figure


def write_recall_plot(table: RecallTable, k: int, path: Path) -> None:
    # A fixed hash salt and no date keep the SVG identical from run to run.
    with matplotlib.rc_context({"svg.hashsalt": "recall-projections", "svg.fonttype": "none"}):
        figure = recall_figure(table, k)
        with atomic_output(path) as temporary:
            figure.savefig(temporary, format="svg", metadata={"Date": None})
        plt.close(figure)
