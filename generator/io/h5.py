"""Readers of HDF5 files: opening with a clear error, shapes and row ranges of one dataset (SPEC §2)."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from generator.errors import InputError


def _dataset(file: h5py.File, path: Path, key: str) -> h5py.Dataset:
    if key not in file or not isinstance(file[key], h5py.Dataset):
        raise InputError.at(path, f"has no dataset '{key}' (holds: {', '.join(file.keys()) or 'nothing'})")
    return file[key]


def h5_shape(path: Path, key: str) -> tuple[int, ...]:
    with open_h5(path) as file:
        return _dataset(file, path, key).shape


def read_h5(path: Path, key: str, start: int = 0, stop: int | None = None) -> np.ndarray:
    with open_h5(path) as file:
        return _dataset(file, path, key)[start:stop]


def open_h5(path: Path) -> h5py.File:
    """An HDF5 file opened for reading; a file that is not one is an InputError naming it."""
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise InputError.at(path, f"cannot be read as HDF5 ({exc})") from None
