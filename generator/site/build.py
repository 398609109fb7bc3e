"""Rendering the datasets page from its inputs: read them all, join them, report every
problem, and write the page and the recall plot only when allowed to (SPEC §4)."""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from generator.errors import InputError, ProjectError
from generator.manifests.model import is_http_url
from generator.manifests.read import read_manifest_set_leniently
from generator.release.facts import read_facts
from generator.release.read import read_release, read_wording
from generator.release.recall import RECALL_FILE, RecallTable, read_recall
from generator.release.wording import Texts
from generator.site.artifacts import read_artifacts
from generator.site.croissant import CROISSANT_FILE
from generator.site.join import build_page
from generator.site.plot import dark_variant, write_recall_plot
from generator.site.publish import published_files, write_published
from generator.site.render import write_page


class StrictModeFailure(ProjectError):
    pass


@dataclass(frozen=True)
class PageInputs:
    """Where the page's inputs are and where it goes. `recall` None: the recall table of
    `data`, else `fallback_recall` (the committed figures). `site_url` is where the site is
    published (the page's commands read the index from there); the index and the manifests are
    written beside the page, and with `facts` (the release's facts) its Croissant description."""

    release: Path
    wording: Path
    data: Path
    out: Path
    plot: Path
    site_url: str
    recall: Path | None = None
    fallback_recall: Path | None = None
    artifacts: Path | None = None
    strict: bool = True
    facts: Path | None = None


def recall_source(inputs: PageInputs) -> Path | None:
    if inputs.recall is not None:
        return inputs.recall
    for candidate in (inputs.data / RECALL_FILE, inputs.fallback_recall):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def render_site_page(inputs: PageInputs, report: TextIO | None = None) -> str:
    """Writes the page (and plot); returns a one-line summary. StrictModeFailure when strict
    and anything is wrong, with nothing written."""
    if not is_http_url(inputs.site_url):
        raise ProjectError(f"SITE_URL '{inputs.site_url}' is not an http(s) URL")
    release = read_release(inputs.release)
    facts = read_facts(inputs.facts) if inputs.facts else None
    texts = Texts(release, read_wording(inputs.wording))
    if not inputs.data.is_dir():
        raise InputError.at(inputs.data, "the manifests folder does not exist")
    manifests, unreadable = read_manifest_set_leniently(inputs.data)
    source = recall_source(inputs)
    recall = read_recall(source) if source else RecallTable("", ())
    artifacts = (read_artifacts(inputs.artifacts, [b.name for b in release.published()])
                 if inputs.artifacts else None)
    plots = tuple(Path(os.path.relpath(plot, inputs.out.parent)).as_posix()
                  for plot in (inputs.plot, dark_variant(inputs.plot)))
    page = build_page(release, texts, manifests, recall, inputs.site_url, artifacts,
                      plots if recall.rows else None, unreadable)
    for problem in page.problems:
        print(problem, file=report or sys.stderr)
    if page.problems and inputs.strict:
        raise StrictModeFailure(f"{len(page.problems)} problem(s) in the inputs; nothing was written "
                                f"(STRICT=0 renders the page with warnings in place of bad values)")
    if recall.rows:
        write_recall_plot(recall, release.recall_k, inputs.plot)
    published = published_files(page, facts)
    write_published(published, inputs.out.parent)
    write_page(page, inputs.out, sorted(published),
               json.loads(published[CROISSANT_FILE]) if CROISSANT_FILE in published else None)
    files = sum(len(g.rows) for g in page.groups)
    return (f"wrote {inputs.out} and {', '.join(sorted(published))}: {files} files in {len(page.groups)} groups "
            f"of {release.name}" + (f", {len(page.problems)} problem(s) shown as warnings" if page.problems else ""))
