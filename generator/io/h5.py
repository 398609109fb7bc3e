"""HDF5 in and out (docs/design/data.md#bundle-layouts): opening with a clear error, datasets and row ranges,
and crash-safe, byte-deterministic writing.

A file is written under a temporary name and renamed when complete. Datasets are
contiguous, carry no attributes and no modification times, so the same content gives
the same bytes (and md5) on every run.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

import h5py
import numpy as np
from numpy.typing import DTypeLike

from generator.errors import InputError
from generator.io.files import atomic_output


def open_h5(path: Path) -> h5py.File:
    """An HDF5 file opened for reading; a file that is not one is an InputError naming it."""
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise InputError.at(path, f"cannot be read as HDF5 ({exc})") from None


def _dataset(file: h5py.File, path: Path, key: str) -> h5py.Dataset:
    if key not in file or not isinstance(file[key], h5py.Dataset):
        raise InputError.at(path, f"has no dataset '{key}' (holds: {', '.join(file.keys()) or 'nothing'})")
    return file[key]


def h5_shape(path: Path, key: str) -> tuple[int, ...]:
    with open_h5(path) as file:
        return tuple(int(n) for n in _dataset(file, path, key).shape)


def read_h5(path: Path, key: str, start: int = 0, stop: int | None = None) -> np.ndarray:
    with open_h5(path) as file:
        return np.asarray(_dataset(file, path, key)[start:stop])


def h5_datasets(path: Path) -> list[tuple[str, np.dtype, tuple[int, ...]]]:
    """(key, dtype, shape) of every dataset at the root of an HDF5 file, in stored order."""
    with open_h5(path) as file:
        return [(key, item.dtype, item.shape) for key, item in file.items() if isinstance(item, h5py.Dataset)]


@contextmanager
def h5_output(final: Path, layout: Mapping[str, tuple[tuple[int, ...], DTypeLike]]
              ) -> Iterator[dict[str, h5py.Dataset]]:
    """Yields preallocated datasets {key: (shape, dtype)} to fill in slices."""
    with atomic_output(Path(final)) as temporary:
        with h5py.File(temporary, "w", libver="earliest") as file:
            yield {key: file.create_dataset(key, shape=shape, dtype=dtype, track_times=False)
                   for key, (shape, dtype) in layout.items()}


def write_h5(final: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Writes whole arrays (small files: queries, gold standards, models)."""
    with h5_output(final, {key: (array.shape, array.dtype) for key, array in arrays.items()}) as datasets:
        for key, array in arrays.items():
            datasets[key][...] = array
