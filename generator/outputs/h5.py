"""Crash-safe, byte-deterministic HDF5 writing (SPEC §2 layouts, SPEC §6).

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

from generator.outputs.files import atomic_output


@contextmanager
def h5_output(final: Path, layout: Mapping[str, tuple[tuple[int, ...], np.dtype]]
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
