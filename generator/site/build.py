"""Rendering the datasets page from its inputs: read them all, join them, report every
problem, and write the page and the recall plot only when allowed to (SPEC §4)."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from generator.errors import ProjectError
from generator.manifests.read import read_manifest_set
from generator.release.read import read_release, read_wording
from generator.release.recall import RECALL_FILE, RecallTable, read_recall
from generator.release.wording import Texts
from generator.site.artifacts import read_artifacts
from generator.site.join import build_page
from generator.site.plot import write_recall_plot
from generator.site.render import write_page


class StrictModeFailure(ProjectError):
    pass


@dataclass(frozen=True)
class PageInputs:
    """Where the page's inputs are and where it goes. `recall` None: the recall table of
    `data`, else `fallback_recall` (the committed figures)."""

    release: Path
    wording: Path
    data: Path
    out: Path
    plot: Path
    recall: Path | None = None
    fallback_recall: Path | None = None
    artifacts: Path | None = None
    strict: bool = True


def recall_source(inputs: PageInputs) -> Path | None:
    if inputs.recall is not None:
        return inputs.recall
    for candidate in (inputs.data / RECALL_FILE, inputs.fallback_recall):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def render_site_page(inputs: PageInputs, report: TextIO = sys.stderr) -> str:
    """Writes the page (and plot); returns a one-line summary. StrictModeFailure when strict
    and anything is wrong, with nothing written."""
    release = read_release(inputs.release)
    texts = Texts(release, read_wording(inputs.wording))
    manifests = read_manifest_set(inputs.data)
    source = recall_source(inputs)
    recall = read_recall(source) if source else RecallTable("", ())
    artifacts = (read_artifacts(inputs.artifacts, [b.name for b in release.published()])
                 if inputs.artifacts else None)
    plot_link = Path(os.path.relpath(inputs.plot, inputs.out.parent)).as_posix()
    page = build_page(release, texts, manifests, recall, artifacts, plot_link if recall.rows else None)
    for problem in page.problems:
        print(problem, file=report)
    if page.problems and inputs.strict:
        raise StrictModeFailure(f"{len(page.problems)} problem(s) in the inputs; nothing was written "
                                f"(STRICT=0 renders the page with warnings in place of bad values)")
    if recall.rows:
        write_recall_plot(recall, release.recall_k, inputs.plot)
    write_page(page, inputs.out)
    files = sum(len(g.rows) for g in page.groups)
    return (f"wrote {inputs.out}: {files} files in {len(page.groups)} groups of {release.name}"
            + (f", {len(page.problems)} problem(s) shown as warnings" if page.problems else ""))
