"""Records of the datasets page: what the templates render, joined from catalog and manifests."""
from __future__ import annotations

from dataclasses import dataclass

from generator.errors import Problem
from generator.models.catalog import Admonition
from generator.models.manifests import Size, human_size


@dataclass(frozen=True)
class DatasetFacts:
    """One dataset of an HDF5 file as the page shows it; `shape` is display text."""

    key: str
    dtype: str
    shape: str


@dataclass(frozen=True)
class FileLayout:
    """A file's layout and where it was learnt: `catalog` or `artifact` (read from the file)."""

    datasets: tuple[DatasetFacts, ...]
    columns: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class PageRow:
    name: str
    description: str
    url: str | None
    size: Size | None
    md5: str | None
    layout: FileLayout
    problems: tuple[Problem, ...]


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
class RecallRow:
    """One line of the projection recall CSV (columns data,size,algo,buildtime,querytime,params,recall)."""

    data: str
    size: str
    algo: str
    buildtime: float
    querytime: float
    params: str
    recall: float


@dataclass(frozen=True)
class RecallTable:
    path: str
    rows: tuple[RecallRow, ...]

    def projections(self) -> list[str]:
        return list(dict.fromkeys(row.data for row in self.rows))

    def subsets(self) -> list[str]:
        return list(dict.fromkeys(row.size for row in self.rows))

    def cell(self, projection: str, subset: str) -> RecallRow | None:
        return next((r for r in self.rows if r.data == projection and r.size == subset), None)


@dataclass(frozen=True)
class Page:
    groups: tuple[PageGroup, ...]
    warnings: tuple[Admonition, ...]
    recall: RecallTable
    recall_plot: str | None
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class ArtifactFacts:
    """What a produced file says about itself: its layout, byte size and md5."""

    path: str
    layout: FileLayout
    bytes: int
    md5: str
