"""Reader of produced artifacts: the layout, size and md5 of an HDF5 bundle or TSV table."""
from __future__ import annotations

from pathlib import Path

from generator.errors import InputError
from generator.io.checksums import file_md5
from generator.io.h5 import h5_datasets
from generator.io.text import read_first_line
from generator.site.model import ArtifactFacts, DatasetFacts, FileLayout


def shape_text(shape: tuple[int, ...]) -> str:
    return " × ".join(f"{n:,}" if isinstance(n, int) else str(n) for n in shape)


def read_layout(path: Path) -> FileLayout:
    """Datasets of an HDF5 file (key, dtype, shape), or the header columns of a TSV table."""
    path = Path(path)
    if path.suffix == ".tsv":
        return FileLayout(datasets=(), columns=tuple(read_first_line(path).split("\t")), source="artifact")
    datasets = tuple(DatasetFacts(key, str(dtype), tuple(shape), shape_text(shape))
                     for key, dtype, shape in h5_datasets(path))
    return FileLayout(datasets=datasets, columns=(), source="artifact")


def read_artifact(path: Path) -> ArtifactFacts:
    path = Path(path)
    return ArtifactFacts(str(path), read_layout(path), path.stat().st_size, file_md5(path))


def read_artifacts(folder: Path, names: list[str]) -> dict[str, ArtifactFacts]:
    """Facts of each named file present in `folder`; absent files are simply not described."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError.at(folder, "the artifacts folder does not exist")
    return {name: read_artifact(folder / name) for name in names if (folder / name).is_file()}
