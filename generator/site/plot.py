"""The recall plot of the projections (docs/design/data.md#recall-table), as byte-stable SVGs: one for the light colour
scheme and one for the dark, both on a transparent background so that they sit on the page's."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.figure import Figure  # noqa: E402

from generator.io.files import atomic_output  # noqa: E402
from generator.release.recall import RecallTable  # noqa: E402

# Text, axes and grid colour of each scheme: near the theme's own text colours.
INK = {"light": "#1f2328", "dark": "#e2e4e9"}


def dark_variant(path: Path) -> Path:
    """Where the dark scheme's plot goes, beside the light one."""
    path = Path(path)
    return path.with_name(f"{path.stem}-dark{path.suffix}")


def recall_figure(table: RecallTable, k: int) -> Figure:
    subsets = table.subsets()
    figure, axes = plt.subplots(figsize=(7, 3.6))
    for projection in table.projections():
        cells = [table.cell(projection, s) for s in subsets]
        axes.plot(subsets, [c.recall if c else float("nan") for c in cells], marker="o", label=projection)
    axes.set_xlabel("subset")
    axes.set_ylabel(f"recall@{k} against the gold standard")
    axes.set_ylim(0, 1)
    axes.grid(True, alpha=0.3)
    axes.legend(framealpha=0)
    figure.tight_layout()
    return figure


def _ink(scheme: str) -> dict[Any, str]:  # keys: matplotlib rc parameter names
    ink = INK[scheme]
    return {"text.color": ink, "axes.labelcolor": ink, "axes.edgecolor": ink, "xtick.color": ink,
            "ytick.color": ink, "grid.color": ink, "legend.edgecolor": ink}


def write_recall_plot(table: RecallTable, k: int, path: Path) -> None:
    """Writes the light plot to `path` and the dark one to `dark_variant(path)`."""
    for scheme, target in (("light", Path(path)), ("dark", dark_variant(path))):
        # A fixed hash salt and no date keep the SVG identical from run to run.
        with matplotlib.rc_context({"svg.hashsalt": "recall-projections", "svg.fonttype": "none", **_ink(scheme)}):
            figure = recall_figure(table, k)
            with atomic_output(target) as temporary:
                figure.savefig(temporary, format="svg", metadata={"Date": None}, transparent=True)
            plt.close(figure)
