"""The join of catalog × manifests (× produced artifacts) into the rows of the datasets page.

Pure: every input is already read. Each problem SPEC §4 lists (a missing URL, size or
md5; a name with two different values; an artifact that disagrees with the manifest)
is attached to its row with the file and line a maintainer should look at.
"""
from __future__ import annotations

from generator.errors import Problem
from generator.models.catalog import Catalog, CatalogFile
from generator.models.manifests import ManifestSet, Size
from generator.models.page import (ArtifactFacts, DatasetFacts, FileLayout, Page, PageGroup, PageRow,
                                   RecallTable)

# A human-readable size (`147G`) is rounded; an artifact within this share of it agrees.
APPROXIMATE_SIZE_TOLERANCE = 0.05


def catalog_layout(file: CatalogFile) -> FileLayout:
    rows = file.rows.text
    datasets = tuple(DatasetFacts(d.key, d.dtype, f"{rows} × {d.cols:,}") for d in file.kind.datasets)
    return FileLayout(datasets=datasets, columns=file.kind.columns, source="catalog")


def size_disagrees(stated: Size, actual_bytes: int) -> bool:
    if stated.exact:
        return actual_bytes != stated.bytes
    return abs(actual_bytes - stated.bytes) > APPROXIMATE_SIZE_TOLERANCE * max(stated.bytes, 1)


def artifact_problems(file: CatalogFile, size: Size | None, md5: str | None,
                      artifact: ArtifactFacts) -> list[Problem]:
    """How a produced file disagrees with the catalog's layout and the manifests' size and md5."""
    def problem(message: str) -> Problem:
        return Problem(file.origin, f"'{file.name}': {artifact.path} {message}")

    problems = []
    expected = sorted((d.key, d.dtype) for d in file.kind.datasets)
    found = sorted((d.key, d.dtype) for d in artifact.layout.datasets)
    if expected != found:
        problems.append(problem(f"holds datasets {found}, kind '{file.kind.id}' of the catalog says {expected}"))
    if artifact.layout.columns != file.kind.columns:
        problems.append(problem(f"has columns {list(artifact.layout.columns)}, "
                                f"the catalog says {list(file.kind.columns)}"))
    if md5 is not None and artifact.md5 != md5:
        problems.append(problem(f"has md5 {artifact.md5}, the md5 manifest says {md5}"))
    if size is not None and size_disagrees(size, artifact.bytes):
        problems.append(problem(f"has {artifact.bytes:,} bytes, the size manifest says {size.text}"))
    return problems


def page_row(file: CatalogFile, manifests: ManifestSet, artifact: ArtifactFacts | None) -> PageRow:
    url, size, md5 = (manifests.urls.get(file.name), manifests.size_of(file.name), manifests.md5s.get(file.name))
    problems = [Problem(file.origin, f"'{file.name}' is not in {manifest.path}")
                for entry, manifest in ((url, manifests.urls), (size, manifests.sizes), (md5, manifests.md5s))
                if entry is None]
    problems += manifests.conflicts(file.name)
    size_value = size.value if size else None
    md5_value = md5.value if md5 else None
    layout = catalog_layout(file)
    if artifact is not None:
        problems += artifact_problems(file, size_value, md5_value, artifact)
        layout = artifact.layout
    return PageRow(file.name, file.description, url.value if url else None, size_value, md5_value,
                   layout, tuple(problems))


def build_page(catalog: Catalog, manifests: ManifestSet, recall: RecallTable,
               artifacts: dict[str, ArtifactFacts] | None = None, recall_plot: str | None = None) -> Page:
    artifacts = artifacts or {}
    groups = tuple(PageGroup(group.id, group.title, group.intro,
                             tuple(page_row(f, manifests, artifacts.get(f.name)) for f in group.files))
                   for group in catalog.groups)
    problems = tuple(p for group in groups for p in group.problems)
    return Page(groups, catalog.warnings, recall, recall_plot, problems)
