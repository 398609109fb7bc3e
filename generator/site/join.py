"""The join of the release's published bundles × manifests (× produced artifacts) into the rows
of the datasets page.

Pure: every input is already read. Each problem of the inputs (a missing URL, size or md5; an
unreadable manifest line; a name with two different values; an artifact that disagrees with the
manifest or with the layout of the release) is attached to the cell it concerns, with the file
and line a maintainer should look at.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

from generator.errors import Problem
from generator.manifests.model import APPROXIMATE_SIZE_TOLERANCE, Manifest, ManifestSet, Size
from generator.manifests.read import UnreadableLine
from generator.release.model import GOLD, Bundle, Release
from generator.release.recall import RecallTable
from generator.release.wording import Texts
from generator.site.model import (DESCRIPTION, LAYOUT, MD5, SIZE, URL, ArtifactFacts, CellProblem, DatasetFacts,
                                  DownloadBlock, EditionLink, FileLayout, Page, PageGroup, PagePlace, PageRow,
                                  QuickStart, SubsetCut, SubsetDownloads)

DEFAULT_PLACE = PagePlace()  # a page at the site's root with its files beside it


def release_layout(bundle: Bundle) -> FileLayout:
    datasets = tuple(DatasetFacts(d.key, d.dtype, d.shape, " × ".join(f"{n:,}" for n in d.shape)) if d.shape else
                     DatasetFacts(d.key, d.dtype, (bundle.rows, d.cols), f"{bundle.rows_text} × {d.cols:,}")
                     for d in bundle.layout.datasets)
    return FileLayout(datasets=datasets, columns=bundle.layout.columns, source="release")


def size_disagrees(stated: Size, actual_bytes: int) -> bool:
    """Whether a file's byte count contradicts the stated size: exactly, or by more than the
    tolerance of a rounded size. Stricter than Size.admits, which also allows a unit of the last
    digit (what a download must accept): a produced artifact is expected to be within 5%."""
    if stated.exact:
        return actual_bytes != stated.bytes
    return abs(actual_bytes - stated.bytes) > APPROXIMATE_SIZE_TOLERANCE * max(stated.bytes, 1)


def artifact_problems(bundle: Bundle, size: Size | None, md5: str | None,
                      artifact: ArtifactFacts) -> list[CellProblem]:
    """How a produced file disagrees with the release's layout and the manifests' size and md5."""
    def problem(field: str, message: str) -> CellProblem:
        return CellProblem(field, f"the file built here {message}",
                           Problem(bundle.kind.origin, f"'{bundle.name}': {artifact.path} {message}"))

    problems = []
    expected = release_layout(bundle)
    found = [(d.key, d.dtype, _cols(d.shape)) for d in artifact.layout.datasets]
    wanted = [(d.key, d.dtype, _cols(d.shape)) for d in expected.datasets]
    if sorted(found) != sorted(wanted):
        problems.append(problem(LAYOUT, f"holds datasets {_shown(found)}, bundle '{bundle.kind.id}' of the "
                                        f"release says {_shown(wanted)}"))
    elif any(d.shape for d in bundle.layout.datasets):
        wanted_shapes = {d.key: d.shape for d in bundle.layout.datasets}
        shapes = {d.shape_text for d in artifact.layout.datasets if tuple(d.shape) != wanted_shapes.get(d.key)}
        if shapes:
            problems.append(problem(LAYOUT, f"has shape {', '.join(sorted(shapes))}, other than the release's"))
    elif bundle.rows is not None:
        shapes = {d.shape_text for d in artifact.layout.datasets if d.shape != (bundle.rows, _cols(d.shape))}
        if shapes:
            problems.append(problem(LAYOUT, f"has shape {', '.join(sorted(shapes))}, the release says "
                                            f"{expected.datasets[0].shape_text}"))
    if artifact.layout.columns != expected.columns:
        problems.append(problem(LAYOUT, f"has columns {list(artifact.layout.columns)}, "
                                        f"the release says {list(expected.columns)}"))
    if md5 is not None and artifact.md5 != md5:
        problems.append(problem(MD5, f"has md5 {artifact.md5}, the md5 manifest says {md5}"))
    if size is not None and size_disagrees(size, artifact.bytes):
        problems.append(problem(SIZE, f"has {artifact.bytes:,} bytes, the size manifest says {size.text}"))
    return problems


def _cols(shape: tuple[int | None, ...]) -> int | None:
    return shape[-1] if shape else None


def _shown(datasets: list[tuple[str, str, int | None]]) -> str:
    return ", ".join(f"{key} {dtype} (… × {cols})" for key, dtype, cols in datasets) or "none"


# The cell of each manifest's values (Manifest.kind).
_MANIFEST_FIELDS = {"url": URL, "size": SIZE, "md5": MD5}


def _missing(bundle: Bundle, manifest: Manifest[Any], unreadable: Sequence[UnreadableLine]) -> list[CellProblem]:
    """Why a manifest has no value for the bundle: its unreadable lines that name it, else the
    plain absence."""
    field = _MANIFEST_FIELDS[manifest.kind]
    mine = [line.problem for line in unreadable if line.kind == manifest.kind]
    if mine:
        return [CellProblem(field, str(problem), problem) for problem in mine]
    return [CellProblem(field, f"not in {manifest.path}",
                        Problem(bundle.kind.origin, f"'{bundle.name}' is not in {manifest.path}"))]


def page_row(bundle: Bundle, description: str | None, manifests: ManifestSet,
             artifact: ArtifactFacts | None, unreadable: Sequence[UnreadableLine] = ()) -> PageRow:
    """The row of a bundle; `unreadable` are the manifest lines left out that seem to name it."""
    name = bundle.name
    url, size, md5 = manifests.urls.get(name), manifests.size_of(name), manifests.md5s.get(name)
    problems = [cell for entry, manifest in ((url, manifests.urls), (size, manifests.sizes), (md5, manifests.md5s))
                if entry is None for cell in _missing(bundle, manifest, unreadable)]
    problems += [CellProblem(_MANIFEST_FIELDS[manifest.kind], f"listed twice with different values in "
                                                              f"{manifest.path}", problem)
                 for manifest in manifests.manifests() for problem in manifest.conflicts(name)]
    if description is None:
        problems.append(CellProblem(DESCRIPTION, "no wording for its group", Problem(
            bundle.kind.origin, f"'{name}': bundle '{bundle.kind.id}' has no wording in the page's texts")))
    size_value = size.value if size else None
    md5_value = md5.value if md5 else None
    layout = release_layout(bundle)
    if artifact is not None:
        problems += artifact_problems(bundle, size_value, md5_value, artifact)
        layout = artifact.layout
    return PageRow(name, bundle.group, bundle.subset, description or "", url.value if url else None, size_value,
                   md5_value, layout, tuple(problems), bundle.source, bundle.from_edition, bundle.queries)


def reuse_problems(bundle: Bundle, manifests: ManifestSet, earlier: ManifestSet | None) -> list[CellProblem]:
    """A file reused by reference must have the URL and md5 the earlier edition's manifests give it."""
    if not bundle.referenced or earlier is None:
        return []
    problems = []
    for field, mine, theirs in ((URL, manifests.urls, earlier.urls), (MD5, manifests.md5s, earlier.md5s)):
        here, there = mine.get(bundle.name), theirs.get(bundle.name)
        if here is not None and there is not None and here.value != there.value:
            problems.append(CellProblem(field, f"differs from edition {bundle.edition}'s", Problem(
                here.origin, f"'{bundle.name}' is reused from edition {bundle.edition}, whose {theirs.path} "
                             f"(line {there.origin.line}) gives {there.value}; this manifest gives {here.value}")))
    return problems


def subset_cuts(texts: Texts) -> tuple[SubsetCut, ...]:
    release = texts.release
    cuts = [SubsetCut(s.label, texts.subset_phrase(s)) for s in release.subsets]
    return tuple(cuts) + tuple(SubsetCut(label, texts.queries_phrase(label)) for label in release.query_labels)


def subset_downloads(release: Release, groups: list[PageGroup]) -> tuple[SubsetDownloads, ...]:
    """Per subset, a block per representation (a kind of bundle made for the queries too) with what
    a task on that subset in that representation needs: the subset's file, the queries' file of
    the same kind and the subset's gold standards. The query set gets a block per representation
    with its own file."""
    rows = {(row.group, row.subset): row for group in groups for row in group.rows}
    titles = {group.id: group.title for group in groups}
    golds = [kind for kind in release.kinds_of(GOLD)]
    downloads = []
    for label in release.labels + release.query_labels:
        blocks = []
        for kind in (kind for kind in release.kinds if any(kind.makes_queries(q) for q in release.query_labels)):
            if (kind.id, label) not in rows:
                continue
            wanted = [(kind.id, label)]
            if not release.is_query_label(label):
                # The subset's gold standards, and the queries of those, in this representation.
                mine = [gold for gold in golds if (gold.id, label) in rows]
                wanted += [(kind.id, gold.queries) for gold in mine if gold.queries]
                wanted += [(gold.id, label) for gold in mine]
            blocks.append(DownloadBlock(kind.id, titles[kind.id],
                                        tuple(dict.fromkeys(rows[key] for key in wanted if key in rows))))
        if blocks:
            downloads.append(SubsetDownloads(label, tuple(blocks)))
    return tuple(downloads)


def build_page(release: Release, texts: Texts, manifests: ManifestSet, recall: RecallTable, site_url: str,
               artifacts: dict[str, ArtifactFacts] | None = None, recall_plots: tuple[str, str] | None = None,
               unreadable: tuple[UnreadableLine, ...] = (), earlier: dict[str, ManifestSet] | None = None,
               editions: tuple[EditionLink, ...] = (), place: PagePlace = DEFAULT_PLACE) -> Page:
    """The page; `unreadable` are the manifest lines (or manifests) the lenient reader left out;
    `earlier` the manifests of the editions this one reuses files from, by edition id."""
    earlier = earlier or {}
    artifacts = artifacts or {}
    published = release.published()
    names = {bundle.name for bundle in published}
    groups = []
    for kind in release.kinds:
        bundles = [bundle for bundle in published if bundle.kind == kind]
        if not bundles:
            continue
        wording = texts.wording.groups.get(kind.id)
        title, intro = ((texts.group_text(wording.title, kind), texts.group_text(wording.intro, kind)) if wording
                        else (kind.id, ""))
        rows = tuple(_with_problems(
            page_row(bundle, texts.description(bundle) if wording else None, manifests, artifacts.get(bundle.name),
                     [u for u in unreadable if u.name == bundle.name]),
            reuse_problems(bundle, manifests, earlier.get(bundle.edition))) for bundle in bundles)
        groups.append(PageGroup(kind.id, title, intro, rows))
    loose = tuple(u.problem for u in unreadable if u.name not in names)
    problems = loose + tuple(p for group in groups for p in group.problems)
    warnings = tuple(replace(w, title=texts.fill(w.title), text=texts.fill(w.text)) for w in texts.wording.warnings
                     if texts.shows(w))
    by_subset = subset_downloads(release, groups)
    return Page(release, texts.wording.links, subset_cuts(texts), tuple(groups), by_subset,
                warnings, recall, recall_plots, site_url, problems, loose, editions, place,
                quick_start(release, by_subset))


def quick_start(release: Release, by_subset: tuple[SubsetDownloads, ...]) -> QuickStart | None:
    """The subset a newcomer starts with: of those whose block of the first representation holds a
    gold standard and can all be fetched, the one of fewest known rows (a development subset)."""
    blocks = {downloads.label: downloads.blocks[0] for downloads in by_subset if downloads.blocks}
    fit = [spec for spec in release.subsets if spec.label in blocks and not blocks[spec.label].left_out
           and any(row.group in {kind.id for kind in release.kinds_of(GOLD)} for row in blocks[spec.label].rows)]
    if not fit:
        return None
    chosen = min(fit, key=lambda spec: (spec.known_rows is None, spec.known_rows or 0))
    return QuickStart(chosen.label, blocks[chosen.label])


def _with_problems(row: PageRow, more: list[CellProblem]) -> PageRow:
    return replace(row, cell_problems=row.cell_problems + tuple(more)) if more else row

