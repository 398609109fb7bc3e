"""Records of the datasets page: what the template renders, joined from the release, its
wording, the manifests and (where present) the produced artifacts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from generator.errors import Problem
from generator.manifests.index import INDEX_FILE
from generator.manifests.model import SIZE_UNITS, Size, human_total
from generator.release.model import Admonition, Links, Release
from generator.release.recall import RecallTable


@dataclass(frozen=True)
class DatasetFacts:
    """One dataset of an HDF5 file: its shape (None: a dimension known only once it is built) and
    the shape as the page shows it (`10,120,191 × 768`, `≈102M × 768`)."""

    key: str
    dtype: str
    shape: tuple[int | None, ...]
    shape_text: str


@dataclass(frozen=True)
class FileLayout:
    """A file's layout and where it was learnt: `release` or `artifact` (read from the file)."""

    datasets: tuple[DatasetFacts, ...]
    columns: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class ArtifactFacts:
    """What a produced file says about itself: its layout, byte size and md5."""

    path: str
    layout: FileLayout
    bytes: int
    md5: str


# The cells of a download row a problem can concern.
URL, DESCRIPTION, SIZE, MD5, LAYOUT = "url", "description", "size", "md5", "layout"


@dataclass(frozen=True)
class CellProblem:
    """A problem shown in one cell of a row (`field`), with its short reason."""

    field: str
    reason: str
    problem: Problem


@dataclass(frozen=True)
class PageRow:
    name: str
    group: str
    subset: str
    description: str
    url: str | None
    size: Size | None
    md5: str | None
    layout: FileLayout
    cell_problems: tuple[CellProblem, ...]
    source: str = "built"
    from_edition: str = ""
    queries: str | None = None

    @property
    def problems(self) -> tuple[Problem, ...]:
        return tuple(cell.problem for cell in self.cell_problems)

    def reasons(self, field: str) -> list[str]:
        """Why the cell `field` is marked ⚠ (empty when it is not)."""
        return [cell.reason for cell in self.cell_problems if cell.field == field]

    def certain(self, field: str) -> Any:
        """The value of cell `field` when nothing is wrong with it, else None: what download
        commands and the published index may rely on (a text, or a Size for SIZE)."""
        value = {URL: self.url, SIZE: self.size, MD5: self.md5}[field]
        return None if self.reasons(field) else value

    @property
    def left_out(self) -> str | None:
        """Why download commands cannot fetch and check this file, or None when they can."""
        for field in (URL, MD5):
            if self.certain(field) is None:
                return f"{field}: " + ("; ".join(self.reasons(field)) or "unknown")
        return None


def total_size_text(rows: Sequence[PageRow]) -> str:
    """The size of some files together: `≈` when a size is approximate, `at least` when a size is
    unknown."""
    sizes = [row.size for row in rows if row.size]
    if not sizes:
        return "size unknown"
    total = ("" if all(size.exact for size in sizes) else "≈ ") + human_total(sum(size.bytes for size in sizes))
    return total if len(sizes) == len(rows) else f"at least {total}"


@dataclass(frozen=True)
class PageGroup:
    id: str
    title: str
    intro: str
    rows: tuple[PageRow, ...]

    @property
    def total_text(self) -> str:
        return total_size_text(self.rows)

    @property
    def problems(self) -> tuple[Problem, ...]:
        return tuple(p for row in self.rows for p in row.problems)


@dataclass(frozen=True)
class DownloadBlock:
    """Files fetched by one command block: `label` names its tab, `title` what it holds."""

    label: str
    title: str
    rows: tuple[PageRow, ...]

    @property
    def ready(self) -> tuple[PageRow, ...]:
        return tuple(row for row in self.rows if row.left_out is None)

    @property
    def left_out(self) -> tuple[PageRow, ...]:
        return tuple(row for row in self.rows if row.left_out is not None)

    @property
    def total_text(self) -> str:
        return total_size_text(self.ready)


@dataclass(frozen=True)
class SubsetDownloads:
    """The blocks of one subset (or the query set), one per representation."""

    label: str
    blocks: tuple[DownloadBlock, ...]


@dataclass(frozen=True)
class QuickStart:
    """The page's first steps: the smallest subset with a gold standard, in its first
    representation (its file, its queries' file and its gold standards: `block`)."""

    label: str
    block: DownloadBlock


@dataclass(frozen=True)
class SubsetCut:
    """How one subset (or the query set) is cut, as section 2 of the page tells it."""

    label: str
    text: str


@dataclass(frozen=True)
class EditionLink:
    """Another edition's page, for the links between editions: its id, name and the page's path
    relative to this one."""

    edition: str
    name: str
    href: str
    newest: bool


@dataclass(frozen=True)
class PagePlace:
    """Where a page sits in the site: `files` is the folder of its published files relative to the
    page ("2024/" for the default page), `root` the site's root relative to it ("../" in an
    edition's folder), `folder` the files' folder relative to the site's root."""

    files: str = ""
    root: str = ""
    folder: str = ""


@dataclass(frozen=True)
class Page:
    """Everything the datasets page shows. `problems` are all of them, `loose_problems` those
    tied to no row (a stale or nameless manifest line, a missing manifest); `recall_plots` the
    light and dark plot, as links; `site_url` where the site is published."""

    release: Release
    links: Links
    cuts: tuple[SubsetCut, ...]
    groups: tuple[PageGroup, ...]
    by_subset: tuple[SubsetDownloads, ...]
    warnings: tuple[Admonition, ...]
    recall: RecallTable
    recall_plots: tuple[str, str] | None
    site_url: str
    problems: tuple[Problem, ...]
    loose_problems: tuple[Problem, ...]
    editions: tuple[EditionLink, ...] = ()
    place: PagePlace = PagePlace()
    quick_start: QuickStart | None = None

    def published_url(self, name: str) -> str:
        """The URL of a file published with the page (the index, a manifest), in its edition's folder."""
        return f"{self.site_url.rstrip('/')}/{self.place.folder}{name}"

    @property
    def size_units(self) -> str:
        return SIZE_UNITS

    @property
    def page_url(self) -> str:
        """The address of this page: the default datasets page, or its edition's under its folder."""
        return f"{self.site_url.rstrip('/')}/{'' if self.is_newest else self.place.folder}datasets.html"

    @property
    def newest(self) -> EditionLink | None:
        return next((link for link in self.editions if link.newest), None)

    @property
    def is_newest(self) -> bool:
        return self.newest is None or self.newest.edition == self.release.edition

    @property
    def index_url(self) -> str:
        return self.published_url(INDEX_FILE)

    @property
    def by_group(self) -> tuple[DownloadBlock, ...]:
        return tuple(DownloadBlock(group.id, group.title, group.rows) for group in self.groups)
