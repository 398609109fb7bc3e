"""Rendering the datasets pages of every edition from their inputs: read them all, join them,
report every problem, and write the pages, their published files and recall plots only when
allowed to (docs/design/failures.md#strict-and-lenient-rendering)."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from generator.errors import InputError, ProjectError
from generator.io.files import atomic_write_text
from generator.manifests.model import ManifestSet, is_http_url
from generator.manifests.read import UnreadableLine, read_manifest_set_leniently
from generator.release.model import Release
from generator.release.read import read_release, read_wording, release_files
from generator.release.facts import ReleaseFacts, read_facts
from generator.release.recall import RECALL_FILE, RecallTable, read_recall
from generator.release.wording import Texts
from generator.site.artifacts import read_artifacts
from generator.site.croissant import CROISSANT_FILE
from generator.site.join import build_page
from generator.site.model import ArtifactFacts, EditionLink, PagePlace
from generator.site.plot import dark_variant, write_recall_plot
from generator.site.publish import published_files, write_published
from generator.site.render import write_editions_page, write_page


class StrictModeFailure(ProjectError):
    pass


@dataclass(frozen=True)
class SiteInputs:
    """Where the site's inputs are and where its generated pages go. `releases` are the release
    files of the editions to publish; `data` holds a folder per edition with its manifests (and its
    recall table, recall-projections.csv, where it has one); `artifacts`, when given, a folder per
    edition of produced files. `docs` is the folder the pages are written into: the newest
    edition's page as datasets.md, the others as EDITION/datasets.md, every edition's index and
    manifests (and recall plot) in EDITION/, and editions.md listing them. `site_url` is where the
    site is published (the page's commands read the index from there)."""

    releases: tuple[Path, ...]
    wording: Path
    data: Path
    docs: Path
    site_url: str
    artifacts: Path | None = None
    strict: bool = True
    facts: Path | None = None


DEFAULT_PAGE = "datasets.md"
EDITIONS_PAGE = "editions.md"
PLOT_FILE = "recall-projections.svg"


def publishable_releases(folder: Path, editions: list[str] | None = None) -> tuple[Path, ...]:
    """The release files of `editions` in `folder`, or of every edition that is not a sample."""
    if editions:
        files = tuple(Path(folder) / f"{edition}.yml" for edition in editions)
        for file in files:
            if not file.is_file():
                raise InputError.at(file, "there is no release file for this edition")
        return files
    if not Path(folder).is_dir():
        raise InputError.at(folder, "the folder of release definitions does not exist")
    return tuple(path for path in release_files(folder) if read_release(path).sample is None)


def _places(editions: list[Release]) -> dict[str, tuple[Path, PagePlace]]:
    """Each edition's page (relative to docs) and place: the newest is the default page."""
    newest = editions[-1].edition
    return {release.edition: (Path(DEFAULT_PAGE), PagePlace(f"{release.edition}/", "", f"{release.edition}/"))
            if release.edition == newest else
            (Path(release.edition) / DEFAULT_PAGE, PagePlace("", "../", f"{release.edition}/"))
            for release in editions}


def _recall(folder: Path) -> RecallTable:
    path = folder / RECALL_FILE
    return read_recall(path) if path.is_file() else RecallTable("", ())


def _artifacts(root: Path, release: Release) -> dict[str, ArtifactFacts]:
    """The produced files of an edition's published bundles, each in the folder of its edition."""
    facts: dict[str, ArtifactFacts] = {}
    by_edition: dict[str, list[str]] = {}
    for bundle in release.published():
        by_edition.setdefault(bundle.edition, []).append(bundle.name)
    for edition, names in by_edition.items():
        facts.update(read_artifacts(root / edition, names))
    return facts


def render_site(inputs: SiteInputs, report: TextIO | None = None) -> str:
    """Writes every edition's page, files and plot, and the editions page; returns a summary.
    StrictModeFailure when strict and anything is wrong, with nothing written."""
    if not is_http_url(inputs.site_url):
        raise ProjectError(f"SITE_URL '{inputs.site_url}' is not an http(s) URL")
    if not inputs.releases:
        raise ProjectError("there is no edition to publish")
    editions = sorted((read_release(path) for path in inputs.releases), key=lambda r: (r.date, r.edition))
    wording = read_wording(inputs.wording)
    facts = read_facts(inputs.facts) if inputs.facts else None
    if not inputs.data.is_dir():
        raise InputError.at(inputs.data, "the manifests folder does not exist")
    places = _places(editions)
    links = tuple(EditionLink(r.edition, r.name, places[r.edition][0].as_posix(), r is editions[-1])
                  for r in reversed(editions))
    manifests: dict[str, tuple[ManifestSet, tuple[UnreadableLine, ...]]] = {}

    def manifests_of(edition: str) -> tuple[ManifestSet, tuple[UnreadableLine, ...]]:
        if edition not in manifests:
            folder = inputs.data / edition
            if not folder.is_dir():
                raise InputError.at(folder, f"edition {edition} has no manifests folder")
            manifests[edition] = read_manifest_set_leniently(folder)
        return manifests[edition]

    pages = []
    for release in editions:
        texts = Texts(release, wording)
        own, unreadable = manifests_of(release.edition)
        earlier = {b.edition: manifests_of(b.edition)[0] for b in release.published()
                   if b.referenced and (inputs.data / b.edition).is_dir()}
        recall = _recall(inputs.data / release.edition)
        path, place = places[release.edition]
        plots = (f"{place.files}{PLOT_FILE}", f"{place.files}{dark_variant(Path(PLOT_FILE)).as_posix()}")
        artifacts = _artifacts(inputs.artifacts, release) if inputs.artifacts else None
        pages.append((path, build_page(release, texts, own, recall, inputs.site_url, artifacts,
                                       plots if recall.rows else None, unreadable, earlier, links, place)))
    problems = [problem for _, page in pages for problem in page.problems]
    for problem in problems:
        print(problem, file=report or sys.stderr)
    if problems and inputs.strict:
        raise StrictModeFailure(f"{len(problems)} problem(s) in the inputs; nothing was written "
                                f"(STRICT=0 renders the pages with warnings in place of bad values)")
    summaries = []
    for path, page in pages:
        folder = inputs.docs / page.place.folder
        if page.recall.rows:
            write_recall_plot(page.recall, page.release.recall_k, folder / PLOT_FILE)
        published = published_files(page, _edition_facts(facts, page.release))
        write_published(published, folder)
        # The folder is generated whole: git leaves it alone without a list of editions to keep in step.
        atomic_write_text(folder / ".gitignore", "*\n")
        write_page(page, inputs.docs / path, sorted(published),
                   json.loads(published[CROISSANT_FILE]) if CROISSANT_FILE in published else None)
        files = sum(len(g.rows) for g in page.groups)
        summaries.append(f"{path}: {files} files in {len(page.groups)} groups of {page.release.name}")
    write_editions_page(links, inputs.docs / EDITIONS_PAGE)
    return "wrote " + "; ".join(summaries) + (f"; {len(problems)} problem(s) shown as warnings" if problems else "")


def _edition_facts(facts: ReleaseFacts | None, release: Release) -> ReleaseFacts | None:
    """The shared facts with the edition's own release date."""
    return replace(facts, date_published=facts.date_published or release.date) if facts else None
