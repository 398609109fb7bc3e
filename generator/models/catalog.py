"""Records of the catalog: file kinds, subsets, groups of files, warnings."""
from __future__ import annotations

from dataclasses import dataclass

from generator.errors import Origin


@dataclass(frozen=True)
class DatasetLayout:
    """One HDF5 dataset of a file kind: key, dtype and second dimension."""

    key: str
    dtype: str
    cols: int


@dataclass(frozen=True)
class FileKind:
    """The layout shared by files of one kind: HDF5 datasets or TSV columns."""

    id: str
    datasets: tuple[DatasetLayout, ...] = ()
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class SubsetRows:
    """How many rows a subset has: exact, or only an approximate label."""

    label: str
    rows: int | None = None
    about: str | None = None

    @property
    def text(self) -> str:
        return f"{self.rows:,}" if self.rows is not None else f"≈{self.about}"


@dataclass(frozen=True)
class CatalogFile:
    name: str
    description: str
    kind: FileKind
    rows: SubsetRows
    origin: Origin


@dataclass(frozen=True)
class Group:
    id: str
    title: str
    intro: str
    files: tuple[CatalogFile, ...]
    origin: Origin


@dataclass(frozen=True)
class Admonition:
    id: str
    level: str
    title: str
    text: str


@dataclass(frozen=True)
class Catalog:
    path: str
    subsets: dict[str, SubsetRows]
    kinds: dict[str, FileKind]
    warnings: tuple[Admonition, ...]
    groups: tuple[Group, ...]

    def files(self) -> list[CatalogFile]:
        return [f for group in self.groups for f in group.files]
