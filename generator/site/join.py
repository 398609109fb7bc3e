"""The join of the release's published bundles × manifests (× produced artifacts) into the rows
of the datasets page.

Pure: every input is already read. Each problem SPEC §4 lists (a missing URL, size or md5;
a name with two different values; an artifact that disagrees with the manifest or with the
layout of the release) is attached to its row with the file and line a maintainer should
look at.
"""
from __future__ import annotations

from dataclasses import replace

from generator.errors import Problem
from generator.manifests.model import ManifestSet, Size
from generator.release.model import Bundle, Release
from generator.release.recall import RecallTable
from generator.release.wording import Texts
from generator.site.model import (DESCRIPTION, LAYOUT, MD5, SIZE, URL, ArtifactFacts, CellProblem, DatasetFacts,
                                  FileLayout, Page, PageGroup, PageRow, SubsetCut)

# A human-readable size (`147G`) is rounded; an artifact within this share of it agrees.
APPROXIMATE_SIZE_TOLERANCE = 0.05


def release_layout(bundle: Bundle) -> FileLayout:
    datasets = tuple(DatasetFacts(d.key, d.dtype, f"{bundle.rows_text} × {d.cols:,}")
                     for d in bundle.layout.datasets)
    return FileLayout(datasets=datasets, columns=bundle.layout.columns, source="release")


def size_disagrees(stated: Size, actual_bytes: int) -> bool:
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
    elif bundle.rows is not None:
        shapes = {d.shape for d in artifact.layout.datasets} - {d.shape for d in expected.datasets}
        if shapes:
            problems.append(problem(LAYOUT, f"has shape {', '.join(sorted(shapes))}, the release says "
                                            f"{expected.datasets[0].shape}"))
    if artifact.layout.columns != expected.columns:
        problems.append(problem(LAYOUT, f"has columns {list(artifact.layout.columns)}, "
                                        f"the release says {list(expected.columns)}"))
    if md5 is not None and artifact.md5 != md5:
        problems.append(problem(MD5, f"has md5 {artifact.md5}, the md5 manifest says {md5}"))
    if size is not None and size_disagrees(size, artifact.bytes):
        problems.append(problem(SIZE, f"has {artifact.bytes:,} bytes, the size manifest says {size.text}"))
    return problems


def _cols(shape: str) -> str:
    return shape.rsplit(" × ", 1)[-1]


def _shown(datasets: list[tuple[str, str, str]]) -> str:
    return ", ".join(f"{key} {dtype} (… × {cols})" for key, dtype, cols in datasets) or "none"


# The cell of each manifest's values (Manifest.kind).
_MANIFEST_FIELDS = {"url": URL, "size": SIZE, "md5": MD5}


def page_row(bundle: Bundle, description: str | None, manifests: ManifestSet,
             artifact: ArtifactFacts | None) -> PageRow:
    name = bundle.name
    url, size, md5 = manifests.urls.get(name), manifests.size_of(name), manifests.md5s.get(name)
    problems = [CellProblem(_MANIFEST_FIELDS[manifest.kind], f"not in {manifest.path}",
                            Problem(bundle.kind.origin, f"'{name}' is not in {manifest.path}"))
                for entry, manifest in ((url, manifests.urls), (size, manifests.sizes), (md5, manifests.md5s))
                if entry is None]
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
    return PageRow(name, bundle.subset, description or "", url.value if url else None, size_value, md5_value,
                   layout, tuple(problems))


def subset_cuts(texts: Texts) -> tuple[SubsetCut, ...]:
    release = texts.release
    cuts = [SubsetCut(s.label, texts.subset_phrase(s)) for s in release.subsets]
    return tuple(cuts) + (SubsetCut(release.queries.label, texts.queries_phrase()),)


def build_page(release: Release, texts: Texts, manifests: ManifestSet, recall: RecallTable,
               artifacts: dict[str, ArtifactFacts] | None = None, recall_plot: str | None = None) -> Page:
    artifacts = artifacts or {}
    groups = []
    for kind in release.kinds:
        bundles = [bundle for bundle in release.published() if bundle.kind == kind]
        if not bundles:
            continue
        wording = texts.wording.groups.get(kind.id)
        title, intro = (texts.fill(wording.title), texts.fill(wording.intro)) if wording else (kind.id, "")
        rows = tuple(page_row(bundle, texts.description(bundle) if wording else None,
                              manifests, artifacts.get(bundle.name)) for bundle in bundles)
        groups.append(PageGroup(kind.id, title, intro, rows))
    problems = tuple(p for group in groups for p in group.problems)
    warnings = tuple(replace(w, title=texts.fill(w.title), text=texts.fill(w.text)) for w in texts.wording.warnings)
    return Page(release, subset_cuts(texts), tuple(groups), warnings, recall, recall_plot, problems)

