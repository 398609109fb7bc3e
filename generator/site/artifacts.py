"""Reader of produced artifacts: the layout, size and md5 of an HDF5 bundle or TSV table."""
from __future__ import annotations

from pathlib import Path

import h5py

from generator.errors import InputError
from generator.inputs.h5 import open_h5
from generator.models.page import ArtifactFacts, DatasetFacts, FileLayout
from generator.work.checksums import file_md5


def shape_text(shape: tuple) -> str:
    return " × ".join(f"{n:,}" if isinstance(n, int) else str(n) for n in shape)


def read_layout(path: Path) -> FileLayout:
    """Datasets of an HDF5 file (key, dtype, shape), or the header columns of a TSV table."""
    path = Path(path)
    if path.suffix == ".tsv":
        with open(path, encoding="utf-8", newline="\n") as stream:
            header = stream.readline().rstrip("\n")
        return FileLayout(datasets=(), columns=tuple(header.split("\t")), source="artifact")
    with open_h5(path) as h5:
        datasets = tuple(DatasetFacts(key, str(item.dtype), shape_text(item.shape))
                         for key, item in h5.items() if isinstance(item, h5py.Dataset))
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
