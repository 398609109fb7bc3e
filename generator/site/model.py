"""Records of the datasets page: what the template renders, joined from the release, its
wording, the manifests and (where present) the produced artifacts."""
from __future__ import annotations

from dataclasses import dataclass

from generator.errors import Problem
from generator.manifests.model import Size, human_size
from generator.release.model import Admonition, Release
from generator.release.recall import RecallTable


@dataclass(frozen=True)
class DatasetFacts:
    """One dataset of an HDF5 file as the page shows it; `shape` is display text."""

    key: str
    dtype: str
    shape: str


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
    subset: str
    description: str
    url: str | None
    size: Size | None
    md5: str | None
    layout: FileLayout
    cell_problems: tuple[CellProblem, ...]

    @property
    def problems(self) -> tuple[Problem, ...]:
        return tuple(cell.problem for cell in self.cell_problems)

    def reasons(self, field: str) -> list[str]:
        """Why the cell `field` is marked ⚠ (empty when it is not)."""
        return [cell.reason for cell in self.cell_problems if cell.field == field]


@dataclass(frozen=True)
class PageGroup:
    id: str
    title: str
    intro: str
    rows: tuple[PageRow, ...]

    @property
    def total_bytes(self) -> int:
        return sum(row.size.bytes for row in self.rows if row.size)

    @property
    def total_text(self) -> str:
        exact = all(row.size and row.size.exact for row in self.rows)
        return ("" if exact else "≈ ") + human_size(self.total_bytes)

    @property
    def problems(self) -> tuple[Problem, ...]:
        return tuple(p for row in self.rows for p in row.problems)


@dataclass(frozen=True)
class SubsetCut:
    """How one subset (or the query set) is cut, as section 2 of the page tells it."""

    label: str
    text: str


@dataclass(frozen=True)
class Page:
    release: Release
    cuts: tuple[SubsetCut, ...]
    groups: tuple[PageGroup, ...]
    warnings: tuple[Admonition, ...]
    recall: RecallTable
    recall_plot: str | None
    problems: tuple[Problem, ...]
